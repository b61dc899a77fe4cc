/* stream_export.c — export of a VM, or of one snapshot as a standalone VM, as
 * a tar (pax) stream (stream.h). */
#include "stream_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

struct xm *stream_add_member(struct stream_export *x, const char *name, enum mtype type,
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

int stream_add_buffer(struct stream_export *x, const char *name, enum mtype type, char *buf,
		      struct error *err)
{
	struct xm *m = buf ? stream_add_member(x, name, type, err) : NULL;

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
			return stream_oom(err);
		if (m->next > 4 * MAX_EXTENTS) {
			free(m->ext);
			m->ext = NULL;
			m->next = 0;
			return 0;
		}
		off = (uint64_t)h > off ? (uint64_t)h : off + 1;
	}
	if (!m->ext && ext_add(m, 0, 0) < 0)  /* all holes: one empty range */
		return stream_oom(err);
	return 0;
}

/* Open path as member `name` (regular file, never a symlink in the store). */
struct xm *stream_add_file(struct stream_export *x, const char *name, enum mtype type,
			   const char *path, bool shared_lock, struct error *err)
{
	struct stat st;
	struct xm *m = stream_add_member(x, name, type, err);

	if (!m)
		return NULL;
	if (!(m->path = strdup(path))) {
		stream_oom(err);
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

void stream_disk_member_name(struct stream_export *x, const char *path, char *out, size_t size)
{
	stream_member_name(x, "disks", NULL, path, out, size);
}

void stream_member_name(struct stream_export *x, const char *folder, const char *also,
			const char *path, char *out, size_t size)
{
	char base[160], stem[160];
	const char *b = io_basename(path), *dot;
	size_t k = 0;

	for (const char *p = b; *p && k < sizeof(base) - 2; p++)   /* room for a 'd' in front */
		base[k++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-",
				   *p) ? *p : '_';
	base[k] = '\0';
	if (!k || !stream_disk_name_ok(base)) {
		memmove(base + 1, base, k + 1);
		base[0] = 'd';
	}
	dot = strrchr(base, '.');
	snprintf(stem, sizeof(stem), "%.*s", (int)(dot && dot != base ? dot - base : (long)strlen(base)),
		 base);
	for (int n = 1;; n++) {
		size_t fl = strlen(folder) + 1;
		bool used = false;
		if (n == 1)
			snprintf(out, size, "%s/%s", folder, base);
		else
			snprintf(out, size, "%s/%s-%d%s", folder, stem, n, dot && dot != base ? dot : "");
		for (int i = 0; i < x->n && !used; i++) {
			const char *mn = x->m[i].name;
			used = !strcmp(mn, out) ||
			       (also && !strncmp(mn, also, strlen(also)) && mn[strlen(also)] == '/' &&
				!strcmp(mn + strlen(also) + 1, out + fl));
		}
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

int stream_add_source(struct xm *m, const char *path, struct error *err)
{
	for (int i = 0; i < m->nsrc; i++)
		if (!strcmp(m->src[i], path))
			return 0;
	if (strchr(path, '\n') || stream_strv_add(&m->src, &m->nsrc, path) < 0)
		return strchr(path, '\n') ? error_set(err, EXIT_DATAERR, "disk path '%s' holds a "
						       "newline", path) : stream_oom(err);
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
	stream_disk_member_name(x, real, name, sizeof(name));
	struct xm *m = stream_add_file(x, name, M_DISK, real, true, err);
	if (!m)
		return -1;
	m->parent = parent;
	m->vhd = vhd;
	return (int)(m - x->m);
}

/* Every layer of the chain topped by `path`; path becomes a source of the top. */
int stream_add_chain(struct stream_export *x, const char *path, struct error *err)
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
			if (stream_add_source(&x->m[idx], x->m[idx].path, err) < 0) {
				idx = -1;
				break;
			}
		}
		vhd_close(v);
	}
	return idx < 0 ? -1 : stream_add_source(&x->m[idx], path, err);
}

/*
 * Relative parent locators for a differencing layer: the parent name field
 * becomes the parent member's file name and every W2ru locator ".\<it>"
 * (inside the locator's existing data, never past it), header checksum
 * recomputed. W2ku keeps the exporting host's absolute path.
 */
int stream_relative_locators(struct stream_export *x, struct xm *m, struct error *err)
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
		return stream_oom(err);
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
			return stream_oom(err);
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
			return stream_oom(err);
		}
	}
	put_be32(hb + 36, vhd_checksum(hb, VHD_HEADER_SIZE, 36));
	vhd_close(v);
	if (m->ext && ext_add(m, m->patch[0].off, m->patch[0].len) < 0)
		return stream_oom(err);
	return 0;
}

typedef int (*sink_fn)(void *ctx, const void *buf, size_t n, struct error *err);

/* The member's bytes (holes as stream_zeros, patches applied) into the hash and sink. */
static int feed(struct stream_export *x, struct xm *m, const char *phase, uint8_t sha[32],
		sink_fn sink, void *sctx, struct error *err)
{
	EVP_MD_CTX *h = stream_sha_new(err);
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
		rc = stream_progress(x->progress, x->ctx, phase, x->done, x->total, err);
		goto out;
	}
	if (!(buf = malloc(CHUNK))) {
		stream_oom(err);
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
			p = stream_zeros;
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
		if (stream_progress(x->progress, x->ctx, phase, x->done, x->total, err) < 0)
			goto out;
	}
	rc = 0;
out:
	stream_sha_end(h, sha);
	free(buf);
	return rc;
}

int stream_export_prepare(struct stream_export **xp, const char *vmdir, const char *vm,
			  const struct stream_export_opts *o, struct error *err)
{
	struct stream_export *x = calloc(1, sizeof(*x));
	int rc;

	*xp = x;
	if (!x)
		return stream_oom(err);
	x->tmplock = -1;
	x->progress = o->progress;
	x->ctx = o->ctx;
	x->created = time(NULL);
	snprintf(x->vm, sizeof(x->vm), "%s", vm);
	snprintf(x->info.kind, sizeof(x->info.kind), "%s", o->snapshot ? "snapshot" : "vm");
	/* member 0 is the MANIFEST, filled in last */
	if (!stream_add_member(x, "MANIFEST", M_MANIFEST, err))
		return -1;
	rc = o->snapshot ? stream_plan_snapshot(x, vmdir, o->snapshot, o->tmp_dir, err)
			 : stream_plan_vm(x, vmdir, err);
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
	if (!(x->m[0].buf = stream_manifest_format(x, err)))
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
		stream_oom(err);
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
		stream_strv_free(m->src, m->nsrc);
	}
	free(x->m);
	if (x->tmpdir[0])
		store_remove_tree(x->tmpdir, &e);
	if (x->tmplock >= 0)
		close(x->tmplock);
	free(x);
}
