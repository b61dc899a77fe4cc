/* stream_import.c — import of an export stream (stream.h): read and verify
 * every member into a temporary folder, then build (stream_build.c) and
 * commit. */
#include "stream_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashpoint.h"
#include "safeio.h"

/* The stream's reader: as archive_read_open_fd(), but a signal (EINTR) asks
 * the progress callback whether to stop instead of retrying blindly. */
struct rd {
	struct imp *p;
	int fd;
	uint8_t buf[65536];
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

int stream_bad(struct imp *p, struct error *err, const char *fmt, ...)
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

const uint8_t *stream_snap_uuid(struct imp *p, const uint8_t u[16])
{
	const uint8_t *t = p->o->new_id ? map_uuid(p, u, false) : NULL;

	return t ? t : u;
}

struct im *stream_find_member(struct imp *p, const char *name)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->m[i].name, name))
			return &p->m[i];
	return NULL;
}

static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (stream_exists(to)) {  /* a file system without RENAME_NOREPLACE */
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
	if (stream_exists(p->vmdir))
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
		if (o->dest && stream_exists(m->final))
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
		return stream_oom(err);
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
		case M_KERNEL:
		case M_INITRD:
			/* <vm>/boot/<name>: inside the VM folder, renamed with it */
			snprintf(m->file, sizeof(m->file), "%s/" BOOT_DIR "/%s", p->tmpvm,
				 m->name + BOOT_PREFIX);
			snprintf(m->final, sizeof(m->final), "%s/" BOOT_DIR "/%s", p->vmdir,
				 m->name + BOOT_PREFIX);
			if (!p->nboot++) {
				char dir[4400];
				snprintf(dir, sizeof(dir), "%s/" BOOT_DIR, p->tmpvm);
				if (store_mkdir(dir, err) < 0)
					return -1;
			}
			break;
		case M_SAVED_STATE:
		case M_SAVED_MEMORY:
			snprintf(m->file, sizeof(m->file), "%s/%s", p->tmpvm, m->name);
			break;
		case M_SNAP_STATE:
		case M_SNAP_MEMORY:
			snprintf(m->file, sizeof(m->file), "%s/snapshots/%s.%s", p->tmpvm,
				 uuid_format(stream_snap_uuid(p, m->uuid), u), m->type == M_SNAP_STATE ? "vsv" : "bin");
			break;
		case M_DISK:
			snprintf(m->file, sizeof(m->file), "%s/%s", p->disktmp, io_basename(m->final));
			break;
		default:
			if (!(m->buf = calloc(1, (size_t)m->size + 1)))
				return stream_oom(err);
		}
	}
	return 0;
}

/* Read one member's data, checking offsets, size and SHA-256. */
static int extract(struct imp *p, struct archive *a, struct im *m, struct error *err)
{
	EVP_MD_CTX *h = stream_sha_new(err);
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
			stream_bad(p, err, "member '%s': %s (truncated or damaged stream)", m->name,
				   archive_error_string(a) ? archive_error_string(a)
							   : "unexpected end of the stream");
			goto out;
		}
		if (off < 0 || (uint64_t)off < pos || (uint64_t)off > m->size || n > m->size - (uint64_t)off) {
			stream_bad(p, err, "member '%s' holds more bytes than the MANIFEST says (%llu)",
				   m->name, (unsigned long long)m->size);
			goto out;
		}
		if (stream_sha_zeros(h, (uint64_t)off - pos) < 0 || EVP_DigestUpdate(h, buf, n) != 1) {
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
		if (stream_progress(p->o->progress, p->o->ctx, "reading", p->done, p->total, err) < 0)
			goto out;
	}
	p->done += m->size - pos;
	if (stream_sha_zeros(h, m->size - pos) < 0) {
		error_set(err, EXIT_FAIL, "SHA-256 failed");
		goto out;
	}
	if (fd >= 0 && (ftruncate(fd, (off_t)m->size) < 0 || fdatasync(fd) < 0)) {
		error_errno(err, errno, "cannot write '%s'", m->file);
		goto out;
	}
	rc = 0;
out:
	stream_sha_end(h, sha);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && memcmp(sha, m->sha, 32)) {
		char a1[65], a2[65];
		stream_hex(m->sha, 32, a1);
		stream_hex(sha, 32, a2);
		rc = stream_bad(p, err, "member '%s': SHA-256 mismatch (the MANIFEST says %s, the "
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
			return stream_bad(p, err, "after member '%s': %s (truncated or damaged stream)",
					  last, archive_error_string(a) ? archive_error_string(a)
									: "unexpected end of the stream");
		name = archive_entry_pathname(e);
		if (!name)
			return stream_bad(p, err, "a member has a name that cannot be read");
		if (stream_member_type(name, u, &why) < 0)
			return stream_bad(p, err, "member '%s': %s: refused", name, why);
		if (archive_entry_hardlink(e))
			return stream_bad(p, err, "member '%s' is a hard link: refused", name);
		if (archive_entry_filetype(e) != AE_IFREG)
			return stream_bad(p, err, "member '%s' is %s: only regular files are accepted",
					  name, archive_entry_filetype(e) == AE_IFLNK ? "a symbolic link"
					  : archive_entry_filetype(e) == AE_IFDIR ? "a folder"
					  : "a device node, FIFO or socket");
		if (!strcmp(name, "MANIFEST"))
			return stream_bad(p, err, "member 'MANIFEST' appears twice");
		if (!(m = stream_find_member(p, name)))
			return stream_bad(p, err, "member '%s' is not in the MANIFEST", name);
		if (m->seen)
			return stream_bad(p, err, "member '%s' appears twice", name);
		if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
		    (uint64_t)archive_entry_size(e) != m->size)
			return stream_bad(p, err, "member '%s' holds %lld bytes, the MANIFEST says %llu",
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
			return stream_bad(p, err, "the stream ends before member '%s' (truncated?)",
					  p->m[i].name);
	return 0;
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
	if (sync_dir(sub, err) < 0 || sync_dir(p->disktmp, err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s/" BOOT_DIR, p->tmpvm);
	if (sync_dir(sub, err) < 0 || sync_dir(p->tmpvm, err) < 0)   /* no boot/: nothing */
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
		stream_strv_free(p->m[i].src, p->m[i].nsrc);
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
		return stream_oom(err);
	}
	rd->p = &p;
	rd->fd = fd;
	if (stream_make_tmpdir(st->root, st->root, ".import-", p.tmp, sizeof(p.tmp), &p.lockfd, err) < 0)
		goto out;
	snprintf(p.tmpvm, sizeof(p.tmpvm), "%s/vm", p.tmp);
	if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
	    archive_read_open(a, rd, NULL, rd_read, NULL) != ARCHIVE_OK) {
		stream_bad(&p, err, "not an export stream (%s)", archive_error_string(a));
		goto out;
	}
	/* the MANIFEST first */
	r = archive_read_next_header(a, &e);
	if (r == ARCHIVE_EOF) {
		stream_bad(&p, err, "the stream is empty");
		goto out;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		stream_bad(&p, err, "not an export stream (%s)", archive_error_string(a));
		goto out;
	}
	if (!archive_entry_pathname(e) || strcmp(archive_entry_pathname(e), "MANIFEST") ||
	    archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) {
		stream_bad(&p, err, "the stream does not start with MANIFEST (its first member is "
			   "'%s')", archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
		goto out;
	}
	if (archive_entry_size(e) <= 0 || archive_entry_size(e) > STREAM_MAX_MANIFEST) {
		stream_bad(&p, err, "member 'MANIFEST' has an impossible size");
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
				stream_bad(&p, err, "member 'MANIFEST' is truncated");
			else
				stream_oom(err);
			free(buf);
			goto out;
		}
		buf[len] = '\0';
		r = stream_manifest_parse(&p, buf, len, err);
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
		if (stream_make_tmpdir(st->root, p.dest, ".vmsnap-import-", p.disktmp, sizeof(p.disktmp),
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
	if (stream_relink(&p, false, err) < 0 || stream_build_vm(&p, info, err) < 0)
		goto out;
	crashpoint("import-built");
	if (oplock_acquire(&lk, p.tmpvm, "snapctl", "import", 0, err) < 0 || commit(&p, err) < 0)
		goto out;
	committed = true;
	/* registered; absolute locators now name the final places (W2ru, relative,
	 * already does, so a failure here is only worth a warning) */
	if (stream_relink(&p, true, &e2) < 0) {
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
	info->nboot = p.nboot;
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
