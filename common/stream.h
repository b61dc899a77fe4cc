/*
 * stream.h — export and import of a VM as one stream (DESIGN §5).
 *
 * The stream is a tar (pax) stream of regular files only, with relative
 * member names:
 *   MANIFEST                    first: JSON listing every other member with
 *                               its size and SHA-256 (see below)
 *   vm.xml                      the VM's configuration
 *   current                     UUID of the current snapshot (when there is one)
 *   saved.vsv, saved.bin        a managed save (vmctl save), when there is one
 *   snapshots/<uuid>.xml        each snapshot's <domainsnapshot>
 *   snapshots/<uuid>.vsv/.bin   state and RAM of online snapshots
 *   kernel/<name>, initrd/<name>  the direct-kernel-boot files vm.xml and the
 *                               snapshots name (<os><kernel>, <os><initrd>);
 *                               the <name>s differ between the two folders
 *   disks/<name>                every disk layer: those vm.xml and the
 *                               snapshots name and their parents down to the
 *                               base; differencing layers carry a relative
 *                               parent locator (W2ru ".\<parent>") and the
 *                               parent's file name, so the folder disks/ is a
 *                               self-contained set of chains
 * Files with holes (RAM images, sparse disks) are stored sparse (pax
 * GNU.sparse 1.0); sizes and checksums are those of the whole file.
 *
 * MANIFEST (a stable contract):
 *   { "format": "vmsnap-export", "version": 1,
 *     "kind": "vm" | "snapshot",          snapshot: one snapshot as a standalone VM
 *     "vm": NAME, "uuid": UUID,           as in vm.xml
 *     "snapshot": { "name", "uuid" } | null,
 *     "created": RFC 3339 UTC, "generator": "snapctl VERSION",
 *     "members": [ { "name", "type", "size", "sha256",
 *                    disks only: "parent": member | null,
 *                    disks, kernels and initrds: "source": [paths] } ] }
 * types: config, current, saved_state, saved_memory, snapshot, snapshot_state,
 * snapshot_memory, disk, kernel, initrd. "source" lists the absolute paths
 * the XML members use for that file on the exporting host; import maps them
 * to the new locations. Streams from before kernel and initrd members (same
 * version) import as before: their boot paths stay as they are, with a
 * warning for each file missing on this host.
 *
 * Export (read-only; the caller holds the VM's op.lock):
 *   struct stream_export *x;
 *   stream_export_prepare(&x, vmdir, vm, &opts, &err);  plan, open, hash (pass 1)
 *   stream_export_write(x, fd, &info, &err);             the stream (pass 2, re-hashed)
 *   stream_export_free(x);                               closes, removes temporaries
 *
 * Import:
 *   stream_recover(&store, &err);            clean up after interrupted imports
 *   stream_import(&store, fd, "web.tar", &opts, &info, &err);
 * Everything lands in a temporary folder under the store root (disks with
 * --dest in a temporary folder inside DEST); every member is checked (name,
 * type, size, SHA-256) while it is read; then the XML is parsed, disk chains
 * relinked (vhd_set_parent), kernel and initrd placed in <vm>/boot/, paths
 * and identities rewritten, and the VM is
 * registered by renaming its folder into place as the last step. A refused
 * or interrupted import leaves nothing behind.
 *
 * Errors (DESIGN §7): 65 bad stream (naming the member), 66 missing input,
 * 73 name, UUID or disk file already present, 74 I/O, 75 busy, 1 interrupted.
 */
#ifndef VMSNAP_STREAM_H
#define VMSNAP_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "statedir.h"
#include "uuid.h"
#include "vmconfig.h"

#define STREAM_FORMAT "vmsnap-export"
#define STREAM_VERSION 1
#define STREAM_MAX_MEMBERS 4096
#define STREAM_MAX_MANIFEST (4u << 20)

/* Called as work proceeds; a nonzero return stops the operation (it then
 * fails with EXIT_FAIL "interrupted" and removes what it created). */
typedef int (*stream_progress_fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);

struct stream_export_opts {
	const char *snapshot;       /* NULL: the whole VM; else that snapshot (name, UUID,
				       @current) as a standalone VM with flattened disks */
	const char *tmp_dir;        /* where flattened disks are built (the store root) */
	stream_progress_fn progress;
	void *ctx;
};

struct stream_export_info {
	char kind[16];              /* "vm" or "snapshot" */
	char snapshot[UUID_STR_LEN];  /* UUID of the exported snapshot, "" for kind vm */
	char snapshot_name[256];
	int nsnapshots;             /* snapshots in the stream */
	int ndisks;                 /* disk members */
	int nboot;                  /* kernel and initrd members */
	int nwarnings;              /* boot files left out (error_warn) */
	int nmembers;               /* members, MANIFEST included */
	uint64_t payload_bytes;     /* sum of member sizes (MANIFEST included) */
	uint64_t stream_bytes;      /* bytes of the tar stream written */
};

struct stream_export;

/*
 * Plan the stream of VM `vm` in `vmdir`, open every file (disk layers with a
 * shared flock: 75 when a writer holds one), flatten the disks for a
 * snapshot export and hash everything. A kernel or initrd that is missing or
 * unreadable is left out with a warning (error_warn); its path stays in the
 * XML as it was. Refuses a running VM's full export
 * (75: its disks change under us).
 */
int stream_export_prepare(struct stream_export **xp, const char *vmdir, const char *vm,
			  const struct stream_export_opts *o, struct error *err);
/* Write the stream to fd. Data are hashed again as they go; a file that
 * changed since prepare fails the export (74). */
int stream_export_write(struct stream_export *x, int fd, struct stream_export_info *info,
			struct error *err);
void stream_export_free(struct stream_export *x);

struct stream_import_opts {
	const char *name;           /* register under this name (default: the stream's) */
	bool new_id;                /* new VM UUID and new snapshot UUIDs */
	const char *dest;           /* folder for the disks (default <root>/<vm>/disks) */
	stream_progress_fn progress;
	void *ctx;
};

struct stream_import_info {
	char name[VMCONFIG_NAME_MAX + 1];
	char uuid[UUID_STR_LEN];
	char kind[16];
	char vmdir[4096];
	char diskdir[4096];
	int nsnapshots;
	int ndisks;
	int nboot;                  /* kernel and initrd files placed in <vm>/boot/ */
	uint64_t bytes;             /* member bytes read and verified */
	int nwarnings;              /* e.g. a kernel missing on this host (error_warn) */
};

int stream_import(const struct store *st, int fd, const char *what,
		  const struct stream_import_opts *o, struct stream_import_info *info,
		  struct error *err);

/* Remove temporary folders of exports and imports that nobody holds any more;
 * an import interrupted half-way through registration is rolled back. */
int stream_recover(const struct store *st, struct error *err);

#endif
