/* stream.c — export and import of a VM as a tar (pax) stream (stream.h). */
#include "stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <limits.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "crashpoint.h"
#include "endian.h"
#include "safeio.h"
#include "snapshot.h"
#include "units.h"
#include "vhd.h"
#include "vhd_modify.h"
#include "vsv.h"

#define CHUNK (1u << 20)
#define SMALL_MAX (16u << 20)   /* XML and current members are read into memory */
#define MAX_EXTENTS 65536

enum mtype { M_MANIFEST, M_CONFIG, M_CURRENT, M_SAVED_STATE, M_SAVED_MEMORY, M_SNAPSHOT,
	     M_SNAP_STATE, M_SNAP_MEMORY, M_DISK, M_NTYPES };
static const char *const mtype_name[M_NTYPES] = {
	"manifest", "config", "current", "saved_state", "saved_memory", "snapshot",
	"snapshot_state", "snapshot_memory", "disk",
};

static const uint8_t zeros[CHUNK];

/* ---- shared: names, hashing, small helpers ---- */

static bool disk_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
				   (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *s))
			return false;
	return true;
}

/* Type of member `name` (uuid set for snapshots/), or -1 with the reason. */
static int member_type(const char *name, uint8_t uuid[16], const char **why)
{
	char u[UUID_STR_LEN];
	const char *p = name;

	if (!*name) {
		*why = "an empty name";
		return -1;
	}
	if (name[0] == '/') {
		*why = "an absolute path";
		return -1;
	}
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		if (*c < 0x20 || *c == 0x7f) {
			*why = "a name with control characters";
			return -1;
		}
	while (*p) {
		size_t l = strcspn(p, "/");
		if (l == 2 && !strncmp(p, "..", 2)) {
			*why = "a path leading out of the stream ('..')";
			return -1;
		}
		if (l == 0 || (l == 1 && *p == '.')) {
			*why = "not a plain relative path";
			return -1;
		}
		p += l + (p[l] == '/');
	}
	if (!strcmp(name, "MANIFEST"))
		return M_MANIFEST;
	if (!strcmp(name, "vm.xml"))
		return M_CONFIG;
	if (!strcmp(name, "current"))
		return M_CURRENT;
	if (!strcmp(name, "saved.vsv"))
		return M_SAVED_STATE;
	if (!strcmp(name, "saved.bin"))
		return M_SAVED_MEMORY;
	if (!strncmp(name, "snapshots/", 10) && strlen(name) == 10 + 36 + 4) {
		snprintf(u, sizeof(u), "%.36s", name + 10);
		/* the canonical (lower-case) form only: one name per snapshot */
		if (uuid_parse(u, uuid) == 0 && !strncmp(name + 10, uuid_format(uuid, u), 36)) {
			if (!strcmp(name + 46, ".xml"))
				return M_SNAPSHOT;
			if (!strcmp(name + 46, ".vsv"))
				return M_SNAP_STATE;
			if (!strcmp(name + 46, ".bin"))
				return M_SNAP_MEMORY;
		}
	}
	if (!strncmp(name, "disks/", 6) && disk_name_ok(name + 6))
		return M_DISK;
	*why = "not a member an export stream has";
	return -1;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int hexval(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p = c ? strchr(digits, c) : NULL;

	return p ? (int)(p - digits) : -1;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static EVP_MD_CTX *sha_new(struct error *err)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();

	if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h);
		error_set(err, EXIT_FAIL, "cannot set up SHA-256 (libcrypto)");
		return NULL;
	}
	return h;
}

static void sha_end(EVP_MD_CTX *h, uint8_t out[32])
{
	unsigned n = 32;

	EVP_DigestFinal_ex(h, out, &n);
	EVP_MD_CTX_free(h);
}

static int sha_zeros(EVP_MD_CTX *h, uint64_t n)
{
	while (n) {
		size_t k = n > CHUNK ? CHUNK : (size_t)n;
		if (EVP_DigestUpdate(h, zeros, k) != 1)
			return -1;
		n -= k;
	}
	return 0;
}

static int oom(struct error *err)
{
	return error_set(err, EXIT_FAIL, "out of memory");
}

static int strv_add(char ***v, int *n, const char *s)
{
	char **nv = realloc(*v, (size_t)(*n + 1) * sizeof(*nv));

	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

static void strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The store root itself (flock on the folder), held while a temporary
 * folder is made or swept, so a sweep never takes one being set up. */
static int root_lock(const char *root, struct error *err)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return error_errno(err, errno, "cannot open VM store '%s'", root);
	if (flock(fd, LOCK_EX) < 0) {
		close(fd);
		return error_errno(err, errno, "cannot lock VM store '%s'", root);
	}
	return fd;
}

/* A temporary folder "<dir>/<prefix>XXXXXX" locked (flock on the folder)
 * for as long as *lockfd stays open. */
static int make_tmpdir(const char *lockroot, const char *dir, const char *prefix, char *out,
		       size_t size, int *lockfd, struct error *err)
{
	int rl = root_lock(lockroot, err), rc = -1;

	if (rl < 0)
		return -1;
	if (snprintf(out, size, "%s/%sXXXXXX", dir, prefix) >= (int)size) {
		error_set(err, EXIT_USAGE, "path too long: '%s'", dir);
	} else if (!mkdtemp(out)) {
		error_errno(err, errno, "cannot create a temporary folder in '%s'", dir);
	} else if ((*lockfd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		   flock(*lockfd, LOCK_EX) < 0) {
		error_errno(err, errno, "cannot lock '%s'", out);
		if (*lockfd >= 0)
			close(*lockfd);
		*lockfd = -1;
		rmdir(out);
	} else {
		rc = 0;
	}
	close(rl);
	return rc;
}

static int progress(stream_progress_fn fn, void *ctx, const char *phase, uint64_t done,
		    uint64_t total, struct error *err)
{
	if (fn && fn(ctx, phase, done, total))
		return error_set(err, EXIT_FAIL, "interrupted");
	return 0;
}

/* ---- export ---- */

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
	dev_t dev;                 /* disks */
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

static struct xm *add_member(struct stream_export *x, const char *name, enum mtype type,
			     struct error *err)
{
	struct xm *nm = realloc(x->m, (size_t)(x->n + 1) * sizeof(*nm));

	if (!nm || x->n >= STREAM_MAX_MEMBERS) {
		if (nm)
			x->m = nm;
		error_set(err, EXIT_FAIL, nm ? "too many files to export" : "out of memory");
		return NULL;
	}
	x->m = nm;
	memset(&nm[x->n], 0, sizeof(*nm));
	snprintf(nm[x->n].name, sizeof(nm->name), "%s", name);
	nm[x->n].type = type;
	nm[x->n].fd = -1;
	nm[x->n].parent = -1;
	return &nm[x->n++];
}

static int add_buffer(struct stream_export *x, const char *name, enum mtype type, char *buf,
		      struct error *err)
{
	struct xm *m = buf ? add_member(x, name, type, err) : NULL;

	if (!m) {
		free(buf);
		return -1;
	}
	m->buf = buf;
	m->size = strlen(buf);
	return 0;
}

static int ext_cmp(const void *a, const void *b)
{
	const struct ext *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Sort and merge touching ranges (holes stay as the file system reports
 * them, so an import allocates what the original did); NULL when that
 * leaves one range over the whole file, or too many ranges. */
static void ext_normalize(struct xm *m)
{
	int k = 0;

	if (!m->ext)
		return;
	qsort(m->ext, (size_t)m->next, sizeof(*m->ext), ext_cmp);
	for (int i = 0; i < m->next; i++) {
		if (k && m->ext[i].off <= m->ext[k - 1].off + m->ext[k - 1].len) {
			uint64_t e = m->ext[i].off + m->ext[i].len;
			if (e > m->ext[k - 1].off + m->ext[k - 1].len)
				m->ext[k - 1].len = e - m->ext[k - 1].off;
		} else {
			m->ext[k++] = m->ext[i];
		}
	}
	m->next = k;
	if (k > MAX_EXTENTS || (k == 1 && m->ext[0].off == 0 && m->ext[0].len >= m->size)) {
		free(m->ext);
		m->ext = NULL;
		m->next = 0;
	}
}

static int ext_add(struct xm *m, uint64_t off, uint64_t len)
{
	struct ext *ne = realloc(m->ext, (size_t)(m->next + 1) * sizeof(*ne));

	if (!ne)
		return -1;
	m->ext = ne;
	ne[m->next].off = off;
	ne[m->next++].len = len;
	return 0;
}

/* Data ranges of an open file from SEEK_DATA / SEEK_HOLE. */
static int file_extents(struct xm *m, struct error *err)
{
	uint64_t off = 0;

	while (off < m->size) {
		off_t d = lseek(m->fd, (off_t)off, SEEK_DATA), h;
		if (d < 0) {
			if (errno == ENXIO)
				break;
			free(m->ext);  /* no SEEK_DATA here: all data */
			m->ext = NULL;
			m->next = 0;
			return 0;
		}
		h = lseek(m->fd, d, SEEK_HOLE);
		if (h < 0 || (uint64_t)h > m->size)
			h = (off_t)m->size;
		if (h > d && ext_add(m, (uint64_t)d, (uint64_t)(h - d)) < 0)
			return oom(err);
		if (m->next > 4 * MAX_EXTENTS) {
			free(m->ext);
			m->ext = NULL;
			m->next = 0;
			return 0;
		}
		off = (uint64_t)h > off ? (uint64_t)h : off + 1;
	}
	if (!m->ext && ext_add(m, 0, 0) < 0)  /* all holes: one empty range */
		return oom(err);
	return 0;
}

/* Open path as member `name` (regular file, never a symlink in the store). */
static struct xm *add_file(struct stream_export *x, const char *name, enum mtype type,
			   const char *path, bool shared_lock, struct error *err)
{
	struct stat st;
	struct xm *m = add_member(x, name, type, err);

	if (!m)
		return NULL;
	if (!(m->path = strdup(path))) {
		oom(err);
		return NULL;
	}
	m->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (m->fd < 0) {
		error_errno(err, errno, "cannot open '%s'", path);
		return NULL;
	}
	if (fstat(m->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(err, EXIT_DATAERR, "'%s' is not a regular file", path);
		return NULL;
	}
	if (shared_lock && flock(m->fd, LOCK_SH | LOCK_NB) < 0) {
		error_set(err, EXIT_TEMPFAIL, "'%s' is in use by another process (a running VM or "
			  "vhdtool writing to it)", path);
		return NULL;
	}
	m->size = (uint64_t)st.st_size;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return file_extents(m, err) < 0 ? NULL : m;
}

/* disks/<name>: the file name made safe and unique among the members. */
static void disk_member_name(struct stream_export *x, const char *path, char *out, size_t size)
{
	char base[160], stem[160];
	const char *b = io_basename(path), *dot;
	size_t k = 0;

	for (const char *p = b; *p && k < sizeof(base) - 2; p++)   /* room for a 'd' in front */
		base[k++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-",
				   *p) ? *p : '_';
	base[k] = '\0';
	if (!k || !disk_name_ok(base)) {
		memmove(base + 1, base, k + 1);
		base[0] = 'd';
	}
	dot = strrchr(base, '.');
	snprintf(stem, sizeof(stem), "%.*s", (int)(dot && dot != base ? dot - base : (long)strlen(base)),
		 base);
	for (int n = 1;; n++) {
		bool used = false;
		if (n == 1)
			snprintf(out, size, "disks/%s", base);
		else
			snprintf(out, size, "disks/%s-%d%s", stem, n, dot && dot != base ? dot : "");
		for (int i = 0; i < x->n && !used; i++)
			used = !strcmp(x->m[i].name, out);
		if (!used)
			return;
	}
}

static int find_disk(struct stream_export *x, dev_t dev, ino_t ino)
{
	for (int i = 0; i < x->n; i++)
		if (x->m[i].type == M_DISK && x->m[i].dev == dev && x->m[i].ino == ino)
			return i;
	return -1;
}

static int add_source(struct xm *m, const char *path, struct error *err)
{
	for (int i = 0; i < m->nsrc; i++)
		if (!strcmp(m->src[i], path))
			return 0;
	if (strchr(path, '\n') || strv_add(&m->src, &m->nsrc, path) < 0)
		return strchr(path, '\n') ? error_set(err, EXIT_DATAERR, "disk path '%s' holds a "
						       "newline", path) : oom(err);
	return 0;
}

/* A disk file as a member, deduplicated by inode; returns its index. */
static int add_layer(struct stream_export *x, const char *path, int parent, bool vhd,
		     struct error *err)
{
	char real[PATH_MAX], name[256];
	struct stat st;
	int i;

	if (!realpath(path, real))
		return error_errno(err, errno, "cannot resolve disk '%s'", path);
	if (stat(real, &st) < 0)
		return error_errno(err, errno, "cannot open disk '%s'", real);
	if ((i = find_disk(x, st.st_dev, st.st_ino)) >= 0) {
		if (x->m[i].parent != parent)
			return error_set(err, EXIT_DATAERR, "disk '%s' is seen with two different "
					 "parents", real);
		return i;
	}
	disk_member_name(x, real, name, sizeof(name));
	struct xm *m = add_file(x, name, M_DISK, real, true, err);
	if (!m)
		return -1;
	m->parent = parent;
	m->vhd = vhd;
	return (int)(m - x->m);
}

/* Every layer of the chain topped by `path`; path becomes a source of the top. */
static int add_chain(struct stream_export *x, const char *path, struct error *err)
{
	struct vhd *v, *layers[VHD_MAX_DEPTH + 1];
	int n = 0, idx = -1, probe = vhd_probe(path, err);

	if (probe < 0)
		return -1;
	if (probe == 0) {
		idx = add_layer(x, path, -1, false, err);
	} else {
		v = vhd_open(path, DISK_RDONLY | DISK_NOLOCK, err);
		if (!v)
			return -1;
		for (struct vhd *l = v; l && n <= VHD_MAX_DEPTH; l = l->parent)
			layers[n++] = l;
		for (int k = n - 1; k >= 0; k--) {
			idx = add_layer(x, layers[k]->path, idx, true, err);
			if (idx < 0)
				break;
			if (add_source(&x->m[idx], x->m[idx].path, err) < 0) {
				idx = -1;
				break;
			}
		}
		vhd_close(v);
	}
	return idx < 0 ? -1 : add_source(&x->m[idx], path, err);
}

/*
 * Relative parent locators for a differencing layer: the parent name field
 * becomes the parent member's file name and every W2ru locator ".\<it>"
 * (inside the locator's existing data, never past it), header checksum
 * recomputed. W2ku keeps the exporting host's absolute path.
 */
static int relative_locators(struct stream_export *x, struct xm *m, struct error *err)
{
	const char *pname = x->m[m->parent].name + 6;
	char rel[300];
	uint8_t *hb;
	struct vhd *v = vhd_open(m->path, DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT, err);

	if (!v)
		return -1;
	if (v->footer.type != VHD_TYPE_DIFF) {
		vhd_close(v);
		return 0;
	}
	hb = calloc(1, VHD_HEADER_SIZE);
	if (!hb) {
		vhd_close(v);
		return oom(err);
	}
	m->patch[0].off = v->footer.data_offset;
	m->patch[0].len = VHD_HEADER_SIZE;
	m->patch[0].data = hb;
	m->npatch = 1;
	if (io_pread_full(m->fd, hb, VHD_HEADER_SIZE, v->footer.data_offset) != VHD_HEADER_SIZE) {
		vhd_close(v);
		return error_errno(err, errno ? errno : EIO, "cannot read '%s'", m->path);
	}
	memset(hb + 64, 0, 512);
	vhd_utf8_to_utf16(pname, true, hb + 64, 512);
	snprintf(rel, sizeof(rel), ".\\%s", pname);
	for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
		const struct vhd_locator *l = &v->header.loc[i];
		uint64_t space = vhd_locator_space_bytes(l), old = l->length ? l->length : 1;
		uint64_t room = (old + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
		struct patch *p = &m->patch[m->npatch];
		int len;
		if (l->code != VHD_PLAT_W2RU)
			continue;
		if (room > space)
			room = space;
		if (room > 65536 || l->offset >= m->size || room > m->size - l->offset)
			continue;
		if (!(p->data = calloc(1, room > 1024 ? room : 1024))) {
			vhd_close(v);
			return oom(err);
		}
		len = vhd_utf8_to_utf16(rel, false, p->data, room);
		if (len <= 0) {             /* no room: the parent name still finds it */
			free(p->data);
			p->data = NULL;
			continue;
		}
		p->off = l->offset;
		p->len = (uint32_t)room;
		put_be32(hb + 576 + 24 * i + 8, (uint32_t)len);
		m->npatch++;
		if (m->ext && ext_add(m, p->off, p->len) < 0) {
			vhd_close(v);
			return oom(err);
		}
	}
	put_be32(hb + 36, vhd_checksum(hb, VHD_HEADER_SIZE, 36));
	vhd_close(v);
	if (m->ext && ext_add(m, m->patch[0].off, m->patch[0].len) < 0)
		return oom(err);
	return 0;
}

typedef int (*sink_fn)(void *ctx, const void *buf, size_t n, struct error *err);

/* The member's bytes (holes as zeros, patches applied) into the hash and sink. */
static int feed(struct stream_export *x, struct xm *m, const char *phase, uint8_t sha[32],
		sink_fn sink, void *sctx, struct error *err)
{
	EVP_MD_CTX *h = sha_new(err);
	uint8_t *buf = NULL;
	uint64_t off = 0;
	int e = 0, rc = -1;

	if (!h)
		return -1;
	if (m->buf) {
		if (EVP_DigestUpdate(h, m->buf, m->size) != 1 ||
		    (sink && sink(sctx, m->buf, m->size, err) < 0))
			goto out;
		x->done += m->size;
		rc = progress(x->progress, x->ctx, phase, x->done, x->total, err);
		goto out;
	}
	if (!(buf = malloc(CHUNK))) {
		oom(err);
		goto out;
	}
	while (off < m->size) {
		uint64_t ds = off, de = m->size, n;
		const void *p = buf;
		if (m->ext) {
			while (e < m->next && m->ext[e].off + m->ext[e].len <= off)
				e++;
			ds = e < m->next ? (m->ext[e].off > off ? m->ext[e].off : off) : m->size;
			de = e < m->next ? m->ext[e].off + m->ext[e].len : m->size;
			if (de > m->size)
				de = m->size;
		}
		if (ds > off) {                       /* a hole */
			n = ds - off > CHUNK ? CHUNK : ds - off;
			p = zeros;
		} else {
			n = de - off > CHUNK ? CHUNK : de - off;
			ssize_t r = io_pread_full(m->fd, buf, (size_t)n, off);
			if (r != (ssize_t)n) {
				error_set(err, EXIT_IOERR, "cannot read '%s': %s", m->path,
					  r < 0 ? strerror(errno) : "shorter than when the export began");
				goto out;
			}
			for (int k = 0; k < m->npatch; k++) {
				const struct patch *pt = &m->patch[k];
				uint64_t a = pt->off > off ? pt->off : off;
				uint64_t b = pt->off + pt->len < off + n ? pt->off + pt->len : off + n;
				if (a < b)
					memcpy(buf + (a - off), pt->data + (a - pt->off), (size_t)(b - a));
			}
		}
		if (EVP_DigestUpdate(h, p, (size_t)n) != 1 || (sink && sink(sctx, p, (size_t)n, err) < 0))
			goto out;
		off += n;
		x->done += n;
		if (progress(x->progress, x->ctx, phase, x->done, x->total, err) < 0)
			goto out;
	}
	rc = 0;
out:
	sha_end(h, sha);
	free(buf);
	return rc;
}

/* Disk paths of a configuration made absolute (relative ones are relative
 * to the VM folder). */
static int absolute_disks(struct vmconfig *c, const char *vmdir, struct error *err)
{
	for (int i = 0; i < c->ndisks; i++) {
		char *p = vmconfig_disk_path(c, i, vmdir);
		if (!p || vmconfig_set_str(&c->disks[i].path, p, err) < 0) {
			free(p);
			return p ? -1 : oom(err);
		}
		free(p);
	}
	return 0;
}

static int by_created(const void *a, const void *b)
{
	const struct snapshot *x = *(struct snapshot *const *)a, *y = *(struct snapshot *const *)b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return memcmp(x->uuid, y->uuid, 16);
}

static int plan_vm(struct stream_export *x, const char *vmdir, struct error *err)
{
	char path[4200], u[UUID_STR_LEN], name[64];
	struct snaptree t;
	struct vmconfig *c;
	int rc = -1;

	if (vm_running(vmdir) == 1)
		return error_set(err, EXIT_TEMPFAIL, "VM '%s' is running: stop it, or export one "
				 "snapshot as a standalone VM with --snapshot", x->vm);
	snprintf(path, sizeof(path), "%s/vm.xml", vmdir);
	if (!(c = vmconfig_load(path, err)))
		return -1;
	memcpy(x->uuid, c->uuid, 16);
	if (absolute_disks(c, vmdir, err) < 0 ||
	    add_buffer(x, "vm.xml", M_CONFIG, vmconfig_format(c, err), err) < 0 ||
	    snaptree_load(&t, vmdir, err) < 0) {
		vmconfig_free(c);
		return -1;
	}
	if (t.n > 1)
		qsort(t.v, (size_t)t.n, sizeof(*t.v), by_created); /* NOLINT(bugprone-sizeof-expression) */
	if (t.has_current) {
		char *cur = malloc(UUID_STR_LEN + 1);
		if (cur)
			snprintf(cur, UUID_STR_LEN + 1, "%s\n", uuid_format(t.current, u));
		if (add_buffer(x, "current", M_CURRENT, cur, err) < 0)
			goto out;
	}
	snprintf(path, sizeof(path), "%s/saved.vsv", vmdir);
	if (exists(path)) {
		if (!add_file(x, "saved.vsv", M_SAVED_STATE, path, false, err))
			goto out;
		snprintf(path, sizeof(path), "%s/saved.bin", vmdir);
		if (!add_file(x, "saved.bin", M_SAVED_MEMORY, path, false, err))
			goto out;
	}
	for (int i = 0; i < t.n; i++) {
		struct snapshot *s = t.v[i];
		snprintf(name, sizeof(name), "snapshots/%s.xml", uuid_format(s->uuid, u));
		if (absolute_disks(s->domain, vmdir, err) < 0 ||
		    add_buffer(x, name, M_SNAPSHOT, snapshot_format(s, err), err) < 0)
			goto out;
		if (s->online) {
			char *vsv = snapshot_path(vmdir, s->uuid, ".vsv");
			snprintf(name, sizeof(name), "snapshots/%s.vsv", u);
			struct xm *m = vsv ? add_file(x, name, M_SNAP_STATE, vsv, false, err) : NULL;
			free(vsv);
			snprintf(name, sizeof(name), "snapshots/%s.bin", u);
			if (!m || !add_file(x, name, M_SNAP_MEMORY, s->memory, false, err))
				goto out;
		}
		x->info.nsnapshots++;
	}
	/* disks: what vm.xml and every snapshot use, with their chains */
	for (int i = 0; i < c->ndisks; i++)
		if (add_chain(x, c->disks[i].path, err) < 0)
			goto out;
	for (int i = 0; i < t.n; i++) {
		for (int d = 0; d < t.v[i]->ndisks; d++)
			if (add_chain(x, t.v[i]->disks[d].file, err) < 0)
				goto out;
		for (int d = 0; d < t.v[i]->domain->ndisks; d++)
			if (add_chain(x, t.v[i]->domain->disks[d].path, err) < 0)
				goto out;
	}
	for (int i = 0; i < x->n; i++)
		if (x->m[i].type == M_DISK && x->m[i].parent >= 0 && x->m[i].vhd &&
		    relative_locators(x, &x->m[i], err) < 0)
			goto out;
	rc = 0;
out:
	snaptree_release(&t);
	vmconfig_free(c);
	return rc;
}

static int flatten_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct stream_export *x = ctx;

	return x->progress ? x->progress(x->ctx, "flattening", done, total) : 0;
}

/* One snapshot as a standalone VM: its configuration, flattened disks and,
 * for an online snapshot, its state as a managed save. */
static int plan_snapshot(struct stream_export *x, const char *vmdir, const char *spec,
			 const char *tmp_root, struct error *err)
{
	struct snaptree t;
	struct snapshot *s;
	struct vmconfig *c = NULL;
	char u[UUID_STR_LEN];
	int rc = -1, cfg;

	if (snaptree_load(&t, vmdir, err) < 0)
		return -1;
	if (!(s = snaptree_find(&t, spec, err)) || !(c = vmconfig_dup(s->domain, err)))
		goto out;
	memcpy(x->uuid, c->uuid, 16);
	snprintf(x->info.snapshot, sizeof(x->info.snapshot), "%s", uuid_format(s->uuid, u));
	snprintf(x->info.snapshot_name, sizeof(x->info.snapshot_name), "%s", s->name);
	if (make_tmpdir(tmp_root, tmp_root, ".export-", x->tmpdir, sizeof(x->tmpdir), &x->tmplock,
			err) < 0 || !add_member(x, "vm.xml", M_CONFIG, err))
		goto out;
	cfg = x->n - 1;   /* vm.xml comes first; its text once the disks are known */
	for (int i = 0; i < c->ndisks; i++) {
		char *src = vmconfig_disk_path(c, i, vmdir), name[256], dst[4500], stem[200];
		const char *b = src ? io_basename(src) : "", *dot = strrchr(b, '.');
		size_t l = dot && dot != b ? (size_t)(dot - b) : strlen(b);
		uint8_t tmp[16];
		if (!src || vmconfig_set_str(&c->disks[i].path, src, err) < 0) {
			free(src);
			if (!src)
				oom(err);
			goto out;
		}
		/* web_<uuid>.avhd flattens to web.vhd */
		snprintf(stem, sizeof(stem), "%.*s", (int)(l < 190 ? l : 190), b);
		l = strlen(stem);
		if (l > 37 && stem[l - 37] == '_' && uuid_parse(stem + l - 36, tmp) == 0)
			stem[l - 37] = '\0';
		snprintf(dst, sizeof(dst), "%s.vhd", stem);
		disk_member_name(x, dst, name, sizeof(name));
		snprintf(dst, sizeof(dst), "%s/%s", x->tmpdir, name + 6);
		struct disk *d = disk_open(src, DISK_RDONLY, err);
		struct convert_opts co = { .format = CONVERT_VHD, .type = VHD_TYPE_DYNAMIC,
					   .progress = flatten_progress, .ctx = x };
		struct convert_stats cs;
		int r = d ? convert_disk(d, dst, &co, &cs, err) : -1;
		if (d)
			disk_close(d);
		struct xm *m = r == 0 ? add_file(x, name, M_DISK, dst, false, err) : NULL;
		if (!m || add_source(m, src, err) < 0) {
			free(src);
			goto out;
		}
		m->vhd = true;
		free(src);
	}
	if (!(x->m[cfg].buf = vmconfig_format(c, err)))
		goto out;
	x->m[cfg].size = strlen(x->m[cfg].buf);
	if (s->online) {
		char *vsv = snapshot_path(vmdir, s->uuid, ".vsv");
		struct xm *m = vsv ? add_file(x, "saved.vsv", M_SAVED_STATE, vsv, false, err) : NULL;
		free(vsv);
		if (!m || !add_file(x, "saved.bin", M_SAVED_MEMORY, s->memory, false, err))
			goto out;
	}
	rc = 0;
out:
	vmconfig_free(c);
	snaptree_release(&t);
	return rc;
}

static char *manifest_json(struct stream_export *x, struct error *err)
{
	json_object *r = json_object_new_object(), *ms = json_object_new_array(), *o;
	char u[UUID_STR_LEN], ts[40], sha[65];
	char *out = NULL;

	if (!r || !ms) {
		json_object_put(r);
		json_object_put(ms);
		oom(err);
		return NULL;
	}
	json_object_object_add(r, "format", json_object_new_string(STREAM_FORMAT));
	json_object_object_add(r, "version", json_object_new_int(STREAM_VERSION));
	json_object_object_add(r, "kind", json_object_new_string(x->info.kind));
	json_object_object_add(r, "vm", json_object_new_string(x->vm));
	json_object_object_add(r, "uuid", json_object_new_string(uuid_format(x->uuid, u)));
	if (x->info.snapshot[0]) {
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(x->info.snapshot_name));
		json_object_object_add(o, "uuid", json_object_new_string(x->info.snapshot));
		json_object_object_add(r, "snapshot", o);
	} else {
		json_object_object_add(r, "snapshot", NULL);
	}
	json_object_object_add(r, "created",
			       json_object_new_string(units_format_time(x->created, ts, sizeof(ts))));
	json_object_object_add(r, "generator", json_object_new_string("snapctl " VMSNAP_VERSION));
	for (int i = 1; i < x->n; i++) {
		const struct xm *m = &x->m[i];
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "type", json_object_new_string(mtype_name[m->type]));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)m->size));
		hex(m->sha, 32, sha);
		json_object_object_add(o, "sha256", json_object_new_string(sha));
		if (m->type == M_DISK) {
			json_object *src = json_object_new_array();
			json_object_object_add(o, "parent", m->parent >= 0 ?
					       json_object_new_string(x->m[m->parent].name) : NULL);
			for (int k = 0; k < m->nsrc; k++)
				json_object_array_add(src, json_object_new_string(m->src[k]));
			json_object_object_add(o, "source", src);
		}
		json_object_array_add(ms, o);
	}
	json_object_object_add(r, "members", ms);
	const char *s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || !(out = malloc(strlen(s) + 2)))
		oom(err);
	else
		sprintf(out, "%s\n", s);
	json_object_put(r);
	return out;
}

int stream_export_prepare(struct stream_export **xp, const char *vmdir, const char *vm,
			  const struct stream_export_opts *o, struct error *err)
{
	struct stream_export *x = calloc(1, sizeof(*x));
	int rc;

	*xp = x;
	if (!x)
		return oom(err);
	x->tmplock = -1;
	x->progress = o->progress;
	x->ctx = o->ctx;
	x->created = time(NULL);
	snprintf(x->vm, sizeof(x->vm), "%s", vm);
	snprintf(x->info.kind, sizeof(x->info.kind), "%s", o->snapshot ? "snapshot" : "vm");
	/* member 0 is the MANIFEST, filled in last */
	if (!add_member(x, "MANIFEST", M_MANIFEST, err))
		return -1;
	rc = o->snapshot ? plan_snapshot(x, vmdir, o->snapshot, o->tmp_dir, err)
			 : plan_vm(x, vmdir, err);
	if (rc < 0)
		return -1;
	for (int i = 1; i < x->n; i++) {
		ext_normalize(&x->m[i]);
		x->total += x->m[i].size;
		x->info.ndisks += x->m[i].type == M_DISK;
	}
	for (int i = 1; i < x->n; i++)
		if (feed(x, &x->m[i], "hashing", x->m[i].sha, NULL, NULL, err) < 0)
			return -1;
	if (!(x->m[0].buf = manifest_json(x, err)))
		return -1;
	x->m[0].size = strlen(x->m[0].buf);
	x->info.nmembers = x->n;
	for (int i = 0; i < x->n; i++)
		x->info.payload_bytes += x->m[i].size;
	return 0;
}

/* The stream's writer: as archive_write_open_fd(), but a signal (EINTR)
 * asks the progress callback whether to stop instead of retrying blindly. */
struct wr {
	struct stream_export *x;
	int fd;
};

static la_ssize_t wr_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct wr *w = ctx;

	for (;;) {
		ssize_t k = write(w->fd, buf, n);
		if (k >= 0)
			return k;
		if (errno != EINTR || (w->x->progress &&
				       w->x->progress(w->x->ctx, "writing", w->x->done, w->x->total))) {
			archive_set_error(a, errno, "%s", errno == EINTR ? "interrupted" : strerror(errno));
			return -1;
		}
	}
}

static int ar_sink(void *ctx, const void *buf, size_t n, struct error *err)
{
	struct archive *a = ctx;
	la_ssize_t w = archive_write_data(a, buf, n);

	if (w < 0 || (size_t)w != n)
		return error_set(err, EXIT_IOERR, "cannot write the stream: %s",
				 archive_error_string(a) ? archive_error_string(a) : strerror(EIO));
	return 0;
}

int stream_export_write(struct stream_export *x, int fd, struct stream_export_info *info,
			struct error *err)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct wr w = { .x = x, .fd = fd };
	int rc = -1;

	if (!a || !e) {
		oom(err);
		goto out;
	}
	x->done = 0;
	x->total = x->info.payload_bytes;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open(a, &w, NULL, wr_write, NULL) != ARCHIVE_OK) {
		error_set(err, EXIT_IOERR, "cannot start the stream: %s", archive_error_string(a));
		goto out;
	}
	for (int i = 0; i < x->n; i++) {
		struct xm *m = &x->m[i];
		uint8_t sha[32];
		archive_entry_clear(e);
		archive_entry_set_pathname(e, m->name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0600);
		archive_entry_set_size(e, (la_int64_t)m->size);
		archive_entry_set_mtime(e, x->created, 0);
		for (int k = 0; m->ext && k < m->next; k++)
			if (m->ext[k].len)
				archive_entry_sparse_add_entry(e, (la_int64_t)m->ext[k].off,
							       (la_int64_t)m->ext[k].len);
		if (archive_write_header(a, e) != ARCHIVE_OK) {
			error_set(err, EXIT_IOERR, "cannot write the stream: %s", archive_error_string(a));
			goto out;
		}
		if (feed(x, m, "writing", sha, ar_sink, a, err) < 0)
			goto out;
		if (i > 0 && memcmp(sha, m->sha, 32) != 0) {
			error_set(err, EXIT_IOERR, "'%s' changed during the export", m->path ? m->path : m->name);
			goto out;
		}
		if (archive_write_finish_entry(a) != ARCHIVE_OK) {
			error_set(err, EXIT_IOERR, "cannot write the stream: %s", archive_error_string(a));
			goto out;
		}
		crashpoint("export-member");
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		error_set(err, EXIT_IOERR, "cannot write the stream: %s", archive_error_string(a));
		goto out;
	}
	x->info.stream_bytes = (uint64_t)archive_filter_bytes(a, -1);
	if (info)
		*info = x->info;
	rc = 0;
out:
	archive_entry_free(e);
	if (a)
		archive_write_free(a);
	return rc;
}

void stream_export_free(struct stream_export *x)
{
	struct error e;

	if (!x)
		return;
	for (int i = 0; i < x->n; i++) {
		struct xm *m = &x->m[i];
		free(m->buf);
		free(m->path);
		free(m->ext);
		if (m->fd >= 0)
			close(m->fd);
		for (int k = 0; k < m->npatch; k++)
			free(m->patch[k].data);
		strv_free(m->src, m->nsrc);
	}
	free(x->m);
	if (x->tmpdir[0])
		store_remove_tree(x->tmpdir, &e);
	if (x->tmplock >= 0)
		close(x->tmplock);
	free(x);
}

/* ---- import ---- */

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
	char final[4400];          /* disks: where it ends up */
};

struct uuidmap {
	uint8_t from[16], to[16];
};

struct imp;

/* The stream's reader: as archive_read_open_fd(), but a signal (EINTR) asks
 * the progress callback whether to stop instead of retrying blindly. */
struct rd {
	struct imp *p;
	int fd;
	uint8_t buf[65536];
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
	bool interrupted;          /* a signal stopped the reading */
};

static la_ssize_t rd_read(struct archive *a, void *ctx, const void **out)
{
	struct rd *r = ctx;
	const struct stream_import_opts *o = r->p->o;

	for (;;) {
		ssize_t n = read(r->fd, r->buf, sizeof(r->buf));
		if (n >= 0) {
			*out = r->buf;
			return n;
		}
		if (errno != EINTR ||
		    (o->progress && o->progress(o->ctx, "reading", r->p->done, r->p->total))) {
			r->p->interrupted = errno == EINTR;
			archive_set_error(a, errno, "%s", errno == EINTR ? "interrupted" : strerror(errno));
			return -1;
		}
	}
}

static int bad_stream(struct imp *p, struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad_stream(struct imp *p, struct error *err, const char *fmt, ...)
{
	char m[900];
	va_list ap;

	if (p->interrupted)
		return error_set(err, EXIT_FAIL, "interrupted");
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	return error_set(err, EXIT_DATAERR, "'%s': %s", p->what, m);
}

static const uint8_t *map_uuid(struct imp *p, const uint8_t from[16], bool create)
{
	struct uuidmap *nm;

	for (int i = 0; i < p->nmap; i++)
		if (!memcmp(p->map[i].from, from, 16))
			return p->map[i].to;
	if (!create || !(nm = realloc(p->map, (size_t)(p->nmap + 1) * sizeof(*nm))))
		return NULL;
	p->map = nm;
	memcpy(nm[p->nmap].from, from, 16);
	if (uuid_generate(nm[p->nmap].to) < 0)
		return NULL;
	return nm[p->nmap++].to;
}

/* The UUID a snapshot has after the import. */
static const uint8_t *snap_uuid(struct imp *p, const uint8_t u[16])
{
	const uint8_t *t = p->o->new_id ? map_uuid(p, u, false) : NULL;

	return t ? t : u;
}

static struct im *find_member(struct imp *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->m[i].name, name))
			return &p->m[i];
	return NULL;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

static int parse_member(struct imp *p, json_object *o, int idx, struct error *err)
{
	struct im *m = &p->m[idx];
	const char *name = jstr(o, "name"), *type = jstr(o, "type"), *sha = jstr(o, "sha256");
	const char *why = "";
	json_object *size, *src;
	int t;

	m->parent = -1;
	if (!name || strlen(name) >= sizeof(m->name))
		return bad_stream(p, err, "MANIFEST: member %d has no valid name", idx + 1);
	snprintf(m->name, sizeof(m->name), "%s", name);
	if ((t = member_type(name, m->uuid, &why)) < 0 || t == M_MANIFEST)
		return bad_stream(p, err, "MANIFEST lists member '%s': %s", name,
				  t < 0 ? why : "the MANIFEST itself");
	m->type = (enum mtype)t;
	if (!type || strcmp(type, mtype_name[t]))
		return bad_stream(p, err, "MANIFEST: member '%s' should have type '%s'", name,
				  mtype_name[t]);
	if (!json_object_object_get_ex(o, "size", &size) || !json_object_is_type(size, json_type_int) ||
	    json_object_get_int64(size) < 0)
		return bad_stream(p, err, "MANIFEST: member '%s' has no valid size", name);
	m->size = (uint64_t)json_object_get_int64(size);
	if ((t == M_CONFIG || t == M_SNAPSHOT) && m->size > SMALL_MAX)
		return bad_stream(p, err, "MANIFEST: member '%s' is too large (%llu bytes)", name,
				  (unsigned long long)m->size);
	if (t == M_CURRENT && m->size > 64)
		return bad_stream(p, err, "MANIFEST: member 'current' is too large");
	if (!sha || unhex(sha, m->sha, 32) < 0)
		return bad_stream(p, err, "MANIFEST: member '%s' has no valid sha256", name);
	if (find_member(p, name) != m)
		return bad_stream(p, err, "MANIFEST lists member '%s' twice", name);
	if (t != M_DISK)
		return 0;
	if (json_object_object_get_ex(o, "source", &src) && json_object_is_type(src, json_type_array))
		for (size_t k = 0; k < json_object_array_length(src); k++) {
			json_object *s = json_object_array_get_idx(src, k);
			const char *sp = json_object_is_type(s, json_type_string) ? json_object_get_string(s)
										   : NULL;
			if (!sp || sp[0] != '/')
				return bad_stream(p, err, "MANIFEST: member '%s' has a source that is not "
						  "an absolute path", name);
			if (strv_add(&m->src, &m->nsrc, sp) < 0)
				return oom(err);
		}
	return 0;
}

static int parse_manifest(struct imp *p, const char *buf, size_t len, struct error *err)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *r = NULL, *ms, *v;
	const char *s;
	int rc = -1, nconfig = 0;

	if (!tok)
		return oom(err);
	if (memchr(buf, '\0', len)) {
		bad_stream(p, err, "MANIFEST is not JSON text");
		goto out;
	}
	r = json_tokener_parse_ex(tok, buf, (int)len);
	if (!r || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(r, json_type_object)) {
		bad_stream(p, err, "MANIFEST is not a JSON object: %s",
			   json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	for (size_t k = json_tokener_get_parse_end(tok); k < len; k++)
		if (!strchr(" \t\r\n", buf[k])) {
			bad_stream(p, err, "MANIFEST has data after its JSON object");
			goto out;
		}
	if (!(s = jstr(r, "format")) || strcmp(s, STREAM_FORMAT)) {
		bad_stream(p, err, "MANIFEST is not a %s manifest", STREAM_FORMAT);
		goto out;
	}
	if (!json_object_object_get_ex(r, "version", &v) || json_object_get_int(v) != STREAM_VERSION) {
		bad_stream(p, err, "MANIFEST has version %s; this snapctl reads version %d",
			   v ? json_object_get_string(v) : "(none)", STREAM_VERSION);
		goto out;
	}
	s = jstr(r, "kind");
	if (!s || (strcmp(s, "vm") && strcmp(s, "snapshot"))) {
		bad_stream(p, err, "MANIFEST: kind must be \"vm\" or \"snapshot\"");
		goto out;
	}
	snprintf(p->kind, sizeof(p->kind), "%s", s);
	if (!(s = jstr(r, "vm")) || !vmconfig_name_ok(s)) {
		bad_stream(p, err, "MANIFEST: no valid VM name");
		goto out;
	}
	snprintf(p->vm, sizeof(p->vm), "%s", s);
	if (!(s = jstr(r, "uuid")) || uuid_parse(s, p->uuid) < 0) {
		bad_stream(p, err, "MANIFEST: no valid VM UUID");
		goto out;
	}
	if (!json_object_object_get_ex(r, "members", &ms) || !json_object_is_type(ms, json_type_array) ||
	    json_object_array_length(ms) > STREAM_MAX_MEMBERS) {
		bad_stream(p, err, "MANIFEST: no valid member list");
		goto out;
	}
	p->n = (int)json_object_array_length(ms);
	if (!(p->m = calloc((size_t)p->n + 1, sizeof(*p->m)))) {
		oom(err);
		goto out;
	}
	for (int i = 0; i < p->n; i++) {
		json_object *o = json_object_array_get_idx(ms, (size_t)i);
		if (!json_object_is_type(o, json_type_object)) {
			bad_stream(p, err, "MANIFEST: member %d is not an object", i + 1);
			goto out;
		}
		if (parse_member(p, o, i, err) < 0)
			goto out;
		p->total += p->m[i].size;
		nconfig += p->m[i].type == M_CONFIG;
	}
	/* parents: disk members, no loops */
	for (int i = 0; i < p->n; i++) {
		json_object *o = json_object_array_get_idx(ms, (size_t)i);
		struct im *pm;
		if (p->m[i].type != M_DISK || !(s = jstr(o, "parent")))
			continue;
		if (!(pm = find_member(p, s)) || pm->type != M_DISK || pm == &p->m[i]) {
			bad_stream(p, err, "MANIFEST: the parent of '%s' is not a disk member of the stream",
				   p->m[i].name);
			goto out;
		}
		p->m[i].parent = (int)(pm - p->m);
	}
	for (int i = 0; i < p->n; i++) {
		int k = 0;
		for (int j = p->m[i].parent; j >= 0; j = p->m[j].parent)
			if (++k > VHD_MAX_DEPTH) {
				bad_stream(p, err, "MANIFEST: the parents of '%s' form a loop or a chain "
					   "deeper than %d", p->m[i].name, VHD_MAX_DEPTH);
				goto out;
			}
	}
	if (nconfig != 1) {
		bad_stream(p, err, "MANIFEST lists no vm.xml");
		goto out;
	}
	for (int i = 0; i < p->n; i++) {
		struct im *m = &p->m[i];
		char want[64], u[UUID_STR_LEN];
		if (!strcmp(p->kind, "snapshot") && (m->type == M_SNAPSHOT || m->type == M_CURRENT)) {
			bad_stream(p, err, "MANIFEST: a standalone snapshot export has no member '%s'",
				   m->name);
			goto out;
		}
		want[0] = '\0';
		if (m->type == M_SNAP_STATE || m->type == M_SNAP_MEMORY)
			snprintf(want, sizeof(want), "snapshots/%s.xml", uuid_format(m->uuid, u));
		else if (m->type == M_SAVED_STATE || m->type == M_SAVED_MEMORY)
			snprintf(want, sizeof(want), "saved.%s", m->type == M_SAVED_STATE ? "bin" : "vsv");
		if (want[0] && !find_member(p, want)) {
			bad_stream(p, err, "MANIFEST lists '%s' without '%s'", m->name, want);
			goto out;
		}
	}
	rc = 0;
out:
	json_object_put(r);
	json_tokener_free(tok);
	return rc;
}

static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (exists(to)) {  /* a file system without RENAME_NOREPLACE */
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

/* Where everything goes; refuses names, UUIDs and files already present. */
static int plan_import(struct imp *p, const struct store *st, struct error *err)
{
	const struct stream_import_opts *o = p->o;
	char **names;
	int nn;

	snprintf(p->name, sizeof(p->name), "%s", o->name ? o->name : p->vm);
	if (!vmconfig_name_ok(p->name))
		return error_set(err, EXIT_USAGE, "invalid VM name '%s'", p->name);
	snprintf(p->vmdir, sizeof(p->vmdir), "%s/%s", st->root, p->name);
	if (exists(p->vmdir))
		return error_set(err, EXIT_CANTCREAT, "VM '%s' exists already in '%s' (import it "
				 "under another name with --name)", p->name, st->root);
	if (o->new_id) {
		if (uuid_generate(p->new_uuid) < 0)
			return error_errno(err, errno, "cannot generate a UUID");
		for (int i = 0; i < p->n; i++)
			if (p->m[i].type == M_SNAPSHOT && !map_uuid(p, p->m[i].uuid, true))
				return error_errno(err, errno, "cannot generate a UUID");
	} else {
		memcpy(p->new_uuid, p->uuid, 16);
		if (!(names = store_list(st, &nn, err)))
			return -1;
		for (int i = 0; i < nn; i++) {
			char path[4400], u[UUID_STR_LEN];
			struct error e;
			snprintf(path, sizeof(path), "%s/%s/vm.xml", st->root, names[i]);
			struct vmconfig *c = vmconfig_load(path, &e);
			bool same = c && !memcmp(c->uuid, p->uuid, 16);
			vmconfig_free(c);
			if (same) {
				error_set(err, EXIT_CANTCREAT, "VM '%s' in '%s' has UUID %s already "
					  "(import a copy with --new-id)", names[i], st->root,
					  uuid_format(p->uuid, u));
				store_names_free(names, nn);
				return -1;
			}
		}
		store_names_free(names, nn);
	}
	if (o->dest) {
		struct stat sb;
		if (!realpath(o->dest, p->dest))
			return error_errno(err, errno, "cannot use --dest '%s'", o->dest);
		if (stat(p->dest, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return error_set(err, EXIT_USAGE, "--dest '%s' is not a folder", o->dest);
	} else {
		snprintf(p->dest, sizeof(p->dest), "%s/disks", p->vmdir);
	}
	if (strpbrk(p->dest, "\t\n") || strpbrk(st->root, "\t\n"))
		return error_set(err, EXIT_USAGE, "paths with tabs or newlines are not supported");
	/* disk file names (--new-id: layers named after snapshots get the new UUIDs) */
	for (int i = 0; i < p->n; i++) {
		struct im *m = &p->m[i];
		const char *base = m->name + 6, *dot = strrchr(base, '.');
		size_t l = dot ? (size_t)(dot - base) : strlen(base);
		char u[UUID_STR_LEN], file[256];
		uint8_t old[16];
		const uint8_t *nu;
		if (m->type != M_DISK)
			continue;
		snprintf(file, sizeof(file), "%s", base);
		if (o->new_id && l > 37 && base[l - 37] == '_') {
			snprintf(u, sizeof(u), "%.36s", base + l - 36);
			if (uuid_parse(u, old) == 0 && (nu = map_uuid(p, old, true)))
				snprintf(file, sizeof(file), "%.*s_%s%s", (int)(l - 37), base,
					 uuid_format(nu, u), dot ? dot : "");
		}
		snprintf(m->final, sizeof(m->final), "%s/%s", p->dest, file);
		if (o->dest && exists(m->final))
			return error_set(err, EXIT_CANTCREAT, "'%s' exists already (import the disks "
					 "into another folder with --dest)", m->final);
	}
	return 0;
}

static int write_journal(struct imp *p, bool full, struct error *err)
{
	size_t cap = 256 + (size_t)(p->n + 3) * 9000, k = 0;
	char *buf = malloc(cap), path[4300];
	int rc;

	if (!buf)
		return oom(err);
	k += (size_t)snprintf(buf, cap, "vmsnap-import 1\n");
	if (p->desttmp)
		k += (size_t)snprintf(buf + k, cap - k, "desttmp %s\n", p->disktmp);
	if (full) {
		for (int i = 0; i < p->n; i++)
			if (p->m[i].type == M_DISK && p->desttmp)
				k += (size_t)snprintf(buf + k, cap - k, "disk %s\t%s\n", p->m[i].file,
						      p->m[i].final);
		k += (size_t)snprintf(buf + k, cap - k, "vm %s\t%s\n", p->tmpvm, p->vmdir);
		for (int i = 0; i < p->n; i++)
			if (p->m[i].type == M_DISK && p->m[i].parent >= 0)
				k += (size_t)snprintf(buf + k, cap - k, "relink %s\t%s\n", p->m[i].final,
						      p->m[p->m[i].parent].final);
	}
	snprintf(path, sizeof(path), "%s/journal", p->tmp);
	rc = io_atomic_write(path, buf, k, 0600, err);
	free(buf);
	return rc;
}

static int set_targets(struct imp *p, struct error *err)
{
	for (int i = 0; i < p->n; i++) {
		struct im *m = &p->m[i];
		char u[UUID_STR_LEN];
		switch (m->type) {
		case M_SAVED_STATE:
		case M_SAVED_MEMORY:
			snprintf(m->file, sizeof(m->file), "%s/%s", p->tmpvm, m->name);
			break;
		case M_SNAP_STATE:
		case M_SNAP_MEMORY:
			snprintf(m->file, sizeof(m->file), "%s/snapshots/%s.%s", p->tmpvm,
				 uuid_format(snap_uuid(p, m->uuid), u), m->type == M_SNAP_STATE ? "vsv" : "bin");
			break;
		case M_DISK:
			snprintf(m->file, sizeof(m->file), "%s/%s", p->disktmp, io_basename(m->final));
			break;
		default:
			if (!(m->buf = calloc(1, (size_t)m->size + 1)))
				return oom(err);
		}
	}
	return 0;
}

/* Read one member's data, checking offsets, size and SHA-256. */
static int extract(struct imp *p, struct archive *a, struct im *m, struct error *err)
{
	EVP_MD_CTX *h = sha_new(err);
	uint64_t pos = 0;
	uint8_t sha[32];
	int fd = -1, rc = -1, r;

	if (!h)
		return -1;
	if (!m->buf) {
		fd = open(m->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			error_errno(err, errno, "cannot create '%s'", m->file);
			goto out;
		}
	}
	for (;;) {
		const void *buf;
		size_t n;
		la_int64_t off;
		r = archive_read_data_block(a, &buf, &n, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			bad_stream(p, err, "member '%s': %s (truncated or damaged stream)", m->name,
				   archive_error_string(a) ? archive_error_string(a)
							   : "unexpected end of the stream");
			goto out;
		}
		if (off < 0 || (uint64_t)off < pos || (uint64_t)off > m->size || n > m->size - (uint64_t)off) {
			bad_stream(p, err, "member '%s' holds more bytes than the MANIFEST says (%llu)",
				   m->name, (unsigned long long)m->size);
			goto out;
		}
		if (sha_zeros(h, (uint64_t)off - pos) < 0 || EVP_DigestUpdate(h, buf, n) != 1) {
			error_set(err, EXIT_FAIL, "SHA-256 failed");
			goto out;
		}
		if (m->buf && n)
			memcpy(m->buf + off, buf, n);
		else if (n && io_pwrite_full(fd, buf, n, (uint64_t)off) < 0) {
			error_errno(err, errno, "cannot write '%s'", m->file);
			goto out;
		}
		p->done += (uint64_t)off + n - pos;
		pos = (uint64_t)off + n;
		if (progress(p->o->progress, p->o->ctx, "reading", p->done, p->total, err) < 0)
			goto out;
	}
	p->done += m->size - pos;
	if (sha_zeros(h, m->size - pos) < 0) {
		error_set(err, EXIT_FAIL, "SHA-256 failed");
		goto out;
	}
	if (fd >= 0 && (ftruncate(fd, (off_t)m->size) < 0 || fdatasync(fd) < 0)) {
		error_errno(err, errno, "cannot write '%s'", m->file);
		goto out;
	}
	rc = 0;
out:
	sha_end(h, sha);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && memcmp(sha, m->sha, 32)) {
		char a1[65], a2[65];
		hex(m->sha, 32, a1);
		hex(sha, 32, a2);
		rc = bad_stream(p, err, "member '%s': SHA-256 mismatch (the MANIFEST says %s, the "
				"data hash to %s)", m->name, a1, a2);
	}
	return rc;
}

static int read_members(struct imp *p, struct archive *a, struct error *err)
{
	struct archive_entry *e;
	const char *last = "MANIFEST";
	int r;

	for (;;) {
		const char *name, *why = "";
		uint8_t u[16];
		struct im *m;
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return bad_stream(p, err, "after member '%s': %s (truncated or damaged stream)",
					  last, archive_error_string(a) ? archive_error_string(a)
									: "unexpected end of the stream");
		name = archive_entry_pathname(e);
		if (!name)
			return bad_stream(p, err, "a member has a name that cannot be read");
		if (member_type(name, u, &why) < 0)
			return bad_stream(p, err, "member '%s': %s: refused", name, why);
		if (archive_entry_hardlink(e))
			return bad_stream(p, err, "member '%s' is a hard link: refused", name);
		if (archive_entry_filetype(e) != AE_IFREG)
			return bad_stream(p, err, "member '%s' is %s: only regular files are accepted",
					  name, archive_entry_filetype(e) == AE_IFLNK ? "a symbolic link"
					  : archive_entry_filetype(e) == AE_IFDIR ? "a folder"
					  : "a device node, FIFO or socket");
		if (!strcmp(name, "MANIFEST"))
			return bad_stream(p, err, "member 'MANIFEST' appears twice");
		if (!(m = find_member(p, name)))
			return bad_stream(p, err, "member '%s' is not in the MANIFEST", name);
		if (m->seen)
			return bad_stream(p, err, "member '%s' appears twice", name);
		if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
		    (uint64_t)archive_entry_size(e) != m->size)
			return bad_stream(p, err, "member '%s' holds %lld bytes, the MANIFEST says %llu",
					  name, (long long)archive_entry_size(e),
					  (unsigned long long)m->size);
		m->seen = true;
		last = m->name;
		if (extract(p, a, m, err) < 0)
			return -1;
		crashpoint("import-member");
	}
	for (int i = 0; i < p->n; i++)
		if (!p->m[i].seen)
			return bad_stream(p, err, "the stream ends before member '%s' (truncated?)",
					  p->m[i].name);
	return 0;
}

/* Every disk member is a sound image; differencing layers are relinked to
 * their parents where they now lie (parents first). */
static int relink(struct imp *p, bool final, struct error *err)
{
	for (int depth = 0; depth <= VHD_MAX_DEPTH; depth++) {
		bool more = false;
		for (int i = 0; i < p->n; i++) {
			struct im *m = &p->m[i], *pm;
			struct vhd_setparent_result r;
			int d = 0;
			if (m->type != M_DISK)
				continue;
			for (int j = m->parent; j >= 0; j = p->m[j].parent)
				d++;
			more |= d > depth;
			if (d != depth)
				continue;
			if (!final) {
				int probe = vhd_probe(m->file, err);
				struct vhd *v = probe > 0 ? vhd_open(m->file, DISK_RDONLY | DISK_NOLOCK |
								     VHD_NOPARENT, err) : NULL;
				bool diff = v && v->footer.type == VHD_TYPE_DIFF;
				vhd_close(v);
				if (probe < 0 || (probe > 0 && !v))
					return error_prefix(err, "member '%s'", m->name);
				if (diff != (m->parent >= 0))
					return bad_stream(p, err, "member '%s' is %s, but the MANIFEST says it "
							  "%s", m->name, diff ? "a differencing disk"
							  : "not a differencing disk", diff ? "has no parent"
							  : "has one");
			}
			if (m->parent < 0)
				continue;
			pm = &p->m[m->parent];
			if (vhd_set_parent(final ? m->final : m->file, final ? pm->final : pm->file, false,
					   &r, err) < 0)
				return error_prefix(err, "member '%s'", m->name);
		}
		if (!more)
			break;
	}
	return 0;
}

/* The disk member the stream's XML meant by `path` → its new location. */
static const char *new_disk_path(struct imp *p, const char *path)
{
	for (int i = 0; i < p->n; i++)
		for (int k = 0; p->m[i].type == M_DISK && k < p->m[i].nsrc; k++)
			if (!strcmp(p->m[i].src[k], path))
				return p->m[i].final;
	return NULL;
}

/* A configuration of this VM (vm.xml or a snapshot's) moved to its new
 * name, identity and disk locations. */
static int rewrite_config(struct imp *p, struct vmconfig *c, const char *what, struct error *err)
{
	char u[UUID_STR_LEN];

	if (memcmp(c->uuid, p->uuid, 16))
		return bad_stream(p, err, "%s belongs to VM %s, the MANIFEST says %s", what,
				  uuid_format(c->uuid, u), uuid_format(p->uuid, (char[UUID_STR_LEN]){ 0 }));
	snprintf(c->name, sizeof(c->name), "%s", p->name);
	memcpy(c->uuid, p->new_uuid, 16);
	for (int i = 0; i < c->ndisks; i++) {
		const char *np = new_disk_path(p, c->disks[i].path);
		if (!np)
			return bad_stream(p, err, "%s uses disk '%s', which the stream does not hold", what,
					  c->disks[i].path);
		if (vmconfig_set_str(&c->disks[i].path, np, err) < 0)
			return -1;
	}
	return 0;
}

/* --new-id: a saved state names the VM it belongs to (VSV_CONFIG "uuid=..."). */
static int vsv_new_identity(struct imp *p, const char *path, struct error *err)
{
	struct vsv_reader *r = vsv_load(path, err);
	struct vsv_writer w;
	char old[UUID_STR_LEN + 8], nu[UUID_STR_LEN], *cfg = NULL;
	int rc;

	if (!r)
		return error_prefix(err, "the state in '%s'", p->what);
	vsv_writer_init(&w, r->creator);
	snprintf(old, sizeof(old), "uuid=%s\n", uuid_format(p->uuid, nu));
	uuid_format(p->new_uuid, nu);
	for (int i = 0; i < r->nsec; i++) {
		const struct vsv_section *s = &r->sec[i];
		char *at;
		if (s->type == VSV_END)
			continue;
		if (s->type == VSV_CONFIG && (cfg = strndup((const char *)s->data, s->len)) &&
		    (at = strstr(cfg, old))) {
			memcpy(at + 5, nu, 36);
			vsv_put(&w, s->type, s->instance, cfg, s->len);
		} else {
			vsv_put(&w, s->type, s->instance, s->data, s->len);
		}
		free(cfg);
		cfg = NULL;
	}
	rc = vsv_writer_save(&w, path, err);
	vsv_writer_release(&w);
	vsv_free(r);
	return rc;
}

static void warn_missing(struct imp *p, const struct vmconfig *c)
{
	const char *f[2] = { c->kernel, c->initrd };

	for (int i = 0; i < 2; i++)
		if (f[i] && f[i][0] == '/' && !exists(f[i])) {
			error_warn("VM '%s' boots '%s', which is not on this host", p->name, f[i]);
			p->nwarn++;
		}
}

/* Parse what was read, rewrite it for the new place, write the VM folder. */
static int build_vm(struct imp *p, struct stream_import_info *info, struct error *err)
{
	struct vmconfig *c = NULL;
	struct im *cfgm = find_member(p, "vm.xml"), *cur = find_member(p, "current");
	char what[300], path[4400];
	int rc = -1;

	c = vmconfig_parse(cfgm->buf, (size_t)cfgm->size, "member 'vm.xml'", err);
	if (!c)
		return -1;
	if (strcmp(c->name, p->vm)) {
		bad_stream(p, err, "vm.xml names VM '%s', the MANIFEST '%s'", c->name, p->vm);
		goto out;
	}
	if (rewrite_config(p, c, "vm.xml", err) < 0)
		goto out;
	warn_missing(p, c);
	snprintf(path, sizeof(path), "%s/vm.xml", p->tmpvm);
	if (vmconfig_save(c, path, err) < 0)
		goto out;
	for (int i = 0; i < p->n; i++) {
		struct im *m = &p->m[i];
		char vsvname[64], binname[64], u[UUID_STR_LEN];
		struct snapshot *s;
		if (m->type != M_SNAPSHOT)
			continue;
		snprintf(what, sizeof(what), "member '%s'", m->name);
		if (!(s = snapshot_parse(m->buf, (size_t)m->size, what, err)))
			goto out;
		snprintf(vsvname, sizeof(vsvname), "snapshots/%s.vsv", uuid_format(m->uuid, u));
		snprintf(binname, sizeof(binname), "snapshots/%s.bin", u);
		if (memcmp(s->uuid, m->uuid, 16))
			rc = bad_stream(p, err, "%s holds another snapshot", what);
		else if (s->online != (find_member(p, vsvname) && find_member(p, binname)))
			rc = bad_stream(p, err, "%s is %s snapshot, but the stream %s its state and RAM",
					what, s->online ? "an online" : "an offline",
					s->online ? "lacks" : "holds");
		else if (rewrite_config(p, s->domain, what, err) == 0)
			rc = 0;
		for (int d = 0; rc == 0 && d < s->ndisks; d++) {
			const char *np = new_disk_path(p, s->disks[d].file);
			if (!np) {
				rc = bad_stream(p, err, "%s uses disk '%s', which the stream does not hold",
						what, s->disks[d].file);
				break;
			}
			free(s->disks[d].file);
			if (!(s->disks[d].file = strdup(np)))
				rc = oom(err);
		}
		if (rc == 0) {
			memcpy(s->uuid, snap_uuid(p, s->uuid), 16);
			if (s->has_parent)
				memcpy(s->parent, snap_uuid(p, s->parent), 16);
			free(s->memory);
			s->memory = s->online ? snapshot_path(p->vmdir, s->uuid, ".bin") : NULL;
			if (s->online && !s->memory)
				rc = oom(err);
		}
		if (rc == 0)
			rc = snapshot_write(p->tmpvm, s, err);
		snapshot_free(s);
		if (rc < 0)
			goto out;
		rc = -1;
		info->nsnapshots++;
	}
	if (cur) {
		char u[UUID_STR_LEN];
		uint8_t cu[16];
		snprintf(u, sizeof(u), "%.36s", cur->buf);
		snprintf(what, sizeof(what), "snapshots/%s.xml", u);
		if (uuid_parse(u, cu) < 0 || strspn(cur->buf + 36, "\n") != cur->size - 36 ||
		    !find_member(p, what)) {
			bad_stream(p, err, "member 'current' does not name a snapshot of the stream");
			goto out;
		}
		if (snaptree_set_current(p->tmpvm, snap_uuid(p, cu), err) < 0)
			goto out;
	}
	for (int i = 0; p->o->new_id && i < p->n; i++)
		if ((p->m[i].type == M_SNAP_STATE || p->m[i].type == M_SAVED_STATE) &&
		    vsv_new_identity(p, p->m[i].file, err) < 0)
			goto out;
	for (int i = 0; i < p->n; i++)
		if (p->m[i].type == M_SNAP_MEMORY || p->m[i].type == M_SAVED_MEMORY)
			chmod(p->m[i].file, 0400);   /* as the VMM leaves RAM images */
	rc = 0;
out:
	vmconfig_free(c);
	return rc;
}

static int sync_dir(const char *path, struct error *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return error_errno(err, e, "cannot sync '%s'", path);
	}
	close(fd);
	return 0;
}

/* The last steps: disks into DEST (journaled), then the VM folder into the
 * store — the commit point. */
static int commit(struct imp *p, struct error *err)
{
	char sub[4400];
	int moved = 0;

	snprintf(sub, sizeof(sub), "%s/snapshots", p->tmpvm);
	if (sync_dir(sub, err) < 0 || sync_dir(p->disktmp, err) < 0 || sync_dir(p->tmpvm, err) < 0)
		return -1;
	if (write_journal(p, true, err) < 0)
		return -1;
	crashpoint("import-journal");
	if (p->desttmp) {
		for (int i = 0; i < p->n; i++) {
			if (p->m[i].type != M_DISK)
				continue;
			if (rename_noreplace(p->m[i].file, p->m[i].final) < 0) {
				error_errno(err, errno, "cannot move '%s' to '%s'", p->m[i].file,
					    p->m[i].final);
				goto undo;
			}
			moved = i + 1;
			crashpoint("import-disk-moved");
		}
		if (sync_dir(p->dest, err) < 0)
			goto undo;
	}
	if (rename_noreplace(p->tmpvm, p->vmdir) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			error_set(err, EXIT_CANTCREAT, "VM '%s' exists already", p->name);
		else
			error_errno(err, errno, "cannot move the imported VM to '%s'", p->vmdir);
		goto undo;
	}
	io_fsync_parent_dir(p->vmdir);
	crashpoint("import-committed");
	return 0;
undo:
	for (int i = 0; i < moved; i++)
		if (p->m[i].type == M_DISK)
			rename(p->m[i].final, p->m[i].file);
	return -1;
}

static void import_release(struct imp *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->m[i].buf);
		strv_free(p->m[i].src, p->m[i].nsrc);
	}
	free(p->m);
	free(p->map);
}

int stream_import(const struct store *st, int fd, const char *what,
		  const struct stream_import_opts *o, struct stream_import_info *info,
		  struct error *err)
{
	struct imp p = { .o = o, .what = what, .lockfd = -1, .destlock = -1 };
	struct rd *rd = malloc(sizeof(*rd));
	struct archive *a = rd ? archive_read_new() : NULL;
	struct archive_entry *e;
	struct oplock lk = { .fd = -1 };
	struct error e2;
	bool committed = false;
	char u[UUID_STR_LEN];
	int rc = -1, r;

	memset(info, 0, sizeof(*info));
	if (!a) {
		free(rd);
		return oom(err);
	}
	rd->p = &p;
	rd->fd = fd;
	if (make_tmpdir(st->root, st->root, ".import-", p.tmp, sizeof(p.tmp), &p.lockfd, err) < 0)
		goto out;
	snprintf(p.tmpvm, sizeof(p.tmpvm), "%s/vm", p.tmp);
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, rd, NULL, rd_read, NULL) != ARCHIVE_OK) {
		bad_stream(&p, err, "not an export stream (%s)", archive_error_string(a));
		goto out;
	}
	/* the MANIFEST first */
	r = archive_read_next_header(a, &e);
	if (r == ARCHIVE_EOF) {
		bad_stream(&p, err, "the stream is empty");
		goto out;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		bad_stream(&p, err, "not an export stream (%s)", archive_error_string(a));
		goto out;
	}
	if (!archive_entry_pathname(e) || strcmp(archive_entry_pathname(e), "MANIFEST") ||
	    archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) {
		bad_stream(&p, err, "the stream does not start with MANIFEST (its first member is "
			   "'%s')", archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
		goto out;
	}
	if (archive_entry_size(e) <= 0 || archive_entry_size(e) > STREAM_MAX_MANIFEST) {
		bad_stream(&p, err, "member 'MANIFEST' has an impossible size");
		goto out;
	}
	{
		size_t len = (size_t)archive_entry_size(e), got = 0;
		char *buf = malloc(len + 1);
		la_ssize_t n = 1;
		while (buf && got < len && (n = archive_read_data(a, buf + got, len - got)) > 0)
			got += (size_t)n;
		if (!buf || got != len) {
			if (buf)
				bad_stream(&p, err, "member 'MANIFEST' is truncated");
			else
				oom(err);
			free(buf);
			goto out;
		}
		buf[len] = '\0';
		r = parse_manifest(&p, buf, len, err);
		free(buf);
		if (r < 0)
			goto out;
	}
	if (plan_import(&p, st, err) < 0 || store_mkdir(p.tmpvm, err) < 0)
		goto out;
	{
		char sub[4400];
		snprintf(sub, sizeof(sub), "%s/snapshots", p.tmpvm);
		if (store_mkdir(sub, err) < 0)
			goto out;
	}
	if (o->dest) {
		if (make_tmpdir(st->root, p.dest, ".vmsnap-import-", p.disktmp, sizeof(p.disktmp),
				&p.destlock, err) < 0)
			goto out;
		p.desttmp = true;
		if (write_journal(&p, false, err) < 0)
			goto out;
	} else {
		snprintf(p.disktmp, sizeof(p.disktmp), "%s/disks", p.tmpvm);
		if (store_mkdir(p.disktmp, err) < 0)
			goto out;
	}
	if (set_targets(&p, err) < 0 || read_members(&p, a, err) < 0)
		goto out;
	info->bytes = p.done;
	/* everything is verified: check the content, relink, rewrite */
	if (relink(&p, false, err) < 0 || build_vm(&p, info, err) < 0)
		goto out;
	crashpoint("import-built");
	if (oplock_acquire(&lk, p.tmpvm, "snapctl", "import", 0, err) < 0 || commit(&p, err) < 0)
		goto out;
	committed = true;
	/* registered; absolute locators now name the final places (W2ru, relative,
	 * already does, so a failure here is only worth a warning) */
	if (relink(&p, true, &e2) < 0) {
		error_warn("%s", e2.msg);
		p.nwarn++;
	}
	snprintf(info->name, sizeof(info->name), "%s", p.name);
	snprintf(info->uuid, sizeof(info->uuid), "%s", uuid_format(p.new_uuid, u));
	snprintf(info->kind, sizeof(info->kind), "%s", p.kind);
	snprintf(info->vmdir, sizeof(info->vmdir), "%s", p.vmdir);
	snprintf(info->diskdir, sizeof(info->diskdir), "%s", p.dest);
	for (int i = 0; i < p.n; i++)
		info->ndisks += p.m[i].type == M_DISK;
	info->nwarnings = p.nwarn;
	rc = 0;
out:
	if (lk.fd >= 0)
		oplock_release(&lk);
	archive_read_free(a);
	free(rd);
	if (p.desttmp) {
		if (store_remove_tree(p.disktmp, &e2) < 0 && committed) {
			error_warn("%s", e2.msg);
		}
		close(p.destlock);
	}
	if (p.tmp[0]) {
		store_remove_tree(p.tmp, &e2);
		close(p.lockfd);
	}
	import_release(&p);
	return rc;
}

/* ---- recovery ---- */

/* After a commit: the absolute locators name the final places (best effort,
 * under the VM's op.lock; a running VM holds its layers and keeps them). */
static void recover_relinks(FILE *fp, const char *vmdir)
{
	char line[9000];
	struct oplock lk;
	struct error e;

	if (oplock_acquire(&lk, vmdir, "snapctl", "import", 0, &e) < 0)
		return;
	rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		struct vhd_setparent_result r;
		char *tab;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "relink ", 7) && (tab = strchr(line + 7, '\t'))) {
			*tab++ = '\0';
			vhd_set_parent(line + 7, tab, false, &r, &e);
		}
	}
	oplock_release(&lk);
}

/* An import interrupted after its journal: roll back unless the VM folder
 * was renamed into place (then only the leftovers go). */
static void recover_import(const char *tmp)
{
	char path[4400], line[9000], vmtmp[4400] = "", vmdir[4400] = "";
	FILE *fp;
	struct error e;

	snprintf(path, sizeof(path), "%s/journal", tmp);
	fp = fopen(path, "re");
	if (fp && (!fgets(line, sizeof(line), fp) || strcmp(line, "vmsnap-import 1\n"))) {
		fclose(fp);
		fp = NULL;
	}
	/* first pass: was the VM folder renamed into place (committed)? */
	while (fp && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "vm ", 3) && strchr(line, '\t')) {
			snprintf(vmtmp, sizeof(vmtmp), "%.*s", (int)strcspn(line + 3, "\t"), line + 3);
			snprintf(vmdir, sizeof(vmdir), "%s", strchr(line, '\t') + 1);
		}
	}
	bool committed = vmtmp[0] && !exists(vmtmp) && exists(vmdir);
	if (committed)
		recover_relinks(fp, vmdir);
	if (fp)
		rewind(fp);
	while (fp && fgets(line, sizeof(line), fp)) {
		char *tab;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "disk ", 5) && !committed && (tab = strchr(line + 5, '\t'))) {
			*tab++ = '\0';
			if (!exists(line + 5) && exists(tab))
				rename(tab, line + 5);   /* back into the temporary folder */
		}
	}
	if (fp)
		rewind(fp);
	while (fp && fgets(line, sizeof(line), fp)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "desttmp ", 8) && strstr(line, "/.vmsnap-import-"))
			store_remove_tree(line + 8, &e);
	}
	if (fp)
		fclose(fp);
	store_remove_tree(tmp, &e);
}

int stream_recover(const struct store *st, struct error *err)
{
	int rl = root_lock(st->root, err);
	DIR *d;
	struct dirent *de;

	if (rl < 0)
		return -1;
	d = opendir(st->root);
	if (!d) {
		close(rl);
		return error_errno(err, errno, "cannot read VM store '%s'", st->root);
	}
	while ((de = readdir(d))) {
		bool imp = !strncmp(de->d_name, ".import-", 8), exp = !strncmp(de->d_name, ".export-", 8);
		char path[4400];
		int fd;
		if (!imp && !exp)
			continue;
		snprintf(path, sizeof(path), "%s/%s", st->root, de->d_name);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {   /* nobody works in it any more */
			struct error e;
			if (imp)
				recover_import(path);
			else
				store_remove_tree(path, &e);
		}
		close(fd);
	}
	closedir(d);
	close(rl);
	return 0;
}
