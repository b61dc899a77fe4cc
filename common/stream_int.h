/*
 * stream_int.h — internals shared by the stream modules; the API is stream.h.
 *
 *   stream_util.c      member names and types, SHA-256, temporary folders,
 *                      small helpers
 *   stream_manifest.c  the MANIFEST: written by export, parsed by import
 *   stream_plan.c      export: what the stream holds (the whole VM or one
 *                      snapshot as a standalone VM)
 *   stream_export.c    export: members, hashing, the tar (pax) stream
 *   stream_import.c    import: read and verify the stream, plan, commit
 *   stream_build.c     import: check and relink the disks, rewrite the XML
 *                      for the new place, write the VM folder
 *   stream_recover.c   clean-up after interrupted exports and imports
 *
 * Helpers return -1 with err set, as the rest of common/.
 */
#ifndef VMSNAP_STREAM_INT_H
#define VMSNAP_STREAM_INT_H

#include <json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "stream.h"
#include "vhd.h"

#define CHUNK (1u << 20)
#define SMALL_MAX (16u << 20)   /* XML and current members are read into memory */
#define MAX_EXTENTS 65536

enum mtype { M_MANIFEST, M_CONFIG, M_CURRENT, M_SAVED_STATE, M_SAVED_MEMORY, M_SNAPSHOT,
	     M_SNAP_STATE, M_SNAP_MEMORY, M_DISK, M_KERNEL, M_INITRD, M_NTYPES };
/* kernel/<name>, initrd/<name> ("kernel/" and "initrd/" are both 7 bytes);
 * an import puts them into <vm>/boot/<name> */
#define M_IS_BOOT(t) ((t) == M_KERNEL || (t) == M_INITRD)
#define BOOT_PREFIX 7
#define BOOT_DIR "boot"
extern const char *const stream_mtype_name[M_NTYPES];

extern const uint8_t stream_zeros[CHUNK];

/* ---- export (stream_export.c) ---- */

struct ext {
	uint64_t off, len;
};

struct patch {
	uint64_t off;
	uint32_t len;
	uint8_t *data;
};

struct xm {
	char name[256];
	enum mtype type;
	char *buf;                 /* content in memory, or */
	int fd;                    /* the open file */
	char *path;
	uint64_t size;
	uint8_t sha[32];
	struct ext *ext;           /* data ranges; NULL: all data */
	int next;
	struct patch patch[VHD_NUM_LOCATORS + 1];
	int npatch;
	dev_t dev;                 /* disks, kernels, initrds */
	ino_t ino;
	int parent;
	char **src;
	int nsrc;
	bool vhd;
};

struct stream_export {
	struct xm *m;
	int n;
	char tmpdir[4200];
	int tmplock;
	stream_progress_fn progress;
	void *ctx;
	uint64_t total, done;
	time_t created;
	struct stream_export_info info;
	char vm[VMCONFIG_NAME_MAX + 1];
	uint8_t uuid[16];
};

/* ---- import (stream_import.c, stream_build.c) ---- */

struct im {
	char name[256];
	enum mtype type;
	uint8_t uuid[16];          /* snapshot members: the UUID of their name */
	uint64_t size;
	uint8_t sha[32];
	int parent;                /* disks: member index, -1 */
	char **src;
	int nsrc;
	bool seen;
	char *buf;                 /* small members: the content */
	char file[4400];           /* where the member was extracted */
	char final[4400];          /* disks, kernels, initrds: where it ends up */
};

struct uuidmap {
	uint8_t from[16], to[16];
};

struct imp {
	const struct stream_import_opts *o;
	const char *what;
	struct im *m;
	int n;
	char kind[16];
	char vm[VMCONFIG_NAME_MAX + 1], name[VMCONFIG_NAME_MAX + 1];
	uint8_t uuid[16], new_uuid[16];
	char tmp[4200], tmpvm[4300], disktmp[4300], dest[4200], vmdir[4200];
	int lockfd, destlock;
	bool desttmp;              /* disks extracted into DEST/.vmsnap-import-* */
	uint64_t total, done;
	struct uuidmap *map;
	int nmap;
	int nwarn;
	int nboot;                 /* kernel and initrd members */
	bool interrupted;          /* a signal stopped the reading */
};

/* ---- stream_util.c ---- */

bool stream_disk_name_ok(const char *s);
/* Type of member `name` (uuid set for snapshots/), or -1 with the reason. */
int stream_member_type(const char *name, uint8_t uuid[16], const char **why);
void stream_hex(const uint8_t *b, size_t n, char *out);
int stream_unhex(const char *s, uint8_t *out, size_t n);
EVP_MD_CTX *stream_sha_new(struct error *err);
void stream_sha_end(EVP_MD_CTX *h, uint8_t out[32]);
int stream_sha_zeros(EVP_MD_CTX *h, uint64_t n);
int stream_oom(struct error *err);
int stream_strv_add(char ***v, int *n, const char *s);
void stream_strv_free(char **v, int n);
bool stream_exists(const char *path);
/* The store root itself (flock on the folder), held while a temporary
 * folder is made or swept, so a sweep never takes one being set up. */
int stream_root_lock(const char *root, struct error *err);
/* A temporary folder "<dir>/<prefix>XXXXXX" locked (flock on the folder)
 * for as long as *lockfd stays open. */
int stream_make_tmpdir(const char *lockroot, const char *dir, const char *prefix, char *out,
		       size_t size, int *lockfd, struct error *err);
int stream_progress(stream_progress_fn fn, void *ctx, const char *phase, uint64_t done,
		    uint64_t total, struct error *err);

/* ---- stream_export.c: members of an export ---- */

struct xm *stream_add_member(struct stream_export *x, const char *name, enum mtype type,
			     struct error *err);
/* A member held in memory (buf malloc'ed, taken over; NULL: out of memory). */
int stream_add_buffer(struct stream_export *x, const char *name, enum mtype type, char *buf,
		      struct error *err);
/* Open path as member `name` (regular file, never a symlink in the store). */
struct xm *stream_add_file(struct stream_export *x, const char *name, enum mtype type,
			   const char *path, bool shared_lock, struct error *err);
/* <folder>/<name>: the file name of path made safe, and unique among the
 * members in `folder` and, when given, `also` (a second folder). */
void stream_member_name(struct stream_export *x, const char *folder, const char *also,
			const char *path, char *out, size_t size);
/* disks/<name>: the file name of path made safe and unique among the members. */
void stream_disk_member_name(struct stream_export *x, const char *path, char *out, size_t size);
/* path (absolute) becomes one of the paths the XML uses for member m. */
int stream_add_source(struct xm *m, const char *path, struct error *err);
/* Every layer of the chain topped by `path`; path becomes a source of the top. */
int stream_add_chain(struct stream_export *x, const char *path, struct error *err);
/* Relative parent locators for a differencing layer's member. */
int stream_relative_locators(struct stream_export *x, struct xm *m, struct error *err);

/* ---- stream_plan.c ---- */

int stream_plan_vm(struct stream_export *x, const char *vmdir, struct error *err);
int stream_plan_snapshot(struct stream_export *x, const char *vmdir, const char *spec,
			 const char *tmp_root, struct error *err);

/* ---- stream_manifest.c ---- */

/* The MANIFEST of x (members 1.. hashed), JSON text ending in a newline. */
char *stream_manifest_format(struct stream_export *x, struct error *err);
/* Parse and check a MANIFEST of len bytes into p->m, p->n and the VM fields. */
int stream_manifest_parse(struct imp *p, const char *buf, size_t len, struct error *err);

/* ---- stream_import.c ---- */

/* A refused stream: 65 with the stream's name, or "interrupted" (1) when a
 * signal stopped the reading. */
int stream_bad(struct imp *p, struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct im *stream_find_member(struct imp *p, const char *name);
/* The UUID a snapshot has after the import. */
const uint8_t *stream_snap_uuid(struct imp *p, const uint8_t u[16]);

/* ---- stream_build.c ---- */

/* Every disk member is a sound image; differencing layers are relinked to
 * their parents where they now lie (final: their final places). */
int stream_relink(struct imp *p, bool final, struct error *err);
/* Parse what was read, rewrite it for the new place, write the VM folder. */
int stream_build_vm(struct imp *p, struct stream_import_info *info, struct error *err);

#endif
