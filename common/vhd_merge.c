/* vhd_merge.c — fold differencing layers into an ancestor (see vhd_merge.h). */
#include "vhd_merge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashpoint.h"
#include "safeio.h"
#include "uuid.h"

#define MERGE_CHUNK (4u << 20)
#define JOURNAL_MAGIC "vhdtool-merge 1"

struct journal {
	char phase[16];
	int keep;
	char target_uuid[UUID_STR_LEN];
	char target[PATH_MAX];
	int nsources;
	char source_uuid[VHD_MAX_DEPTH][UUID_STR_LEN];
	char source[VHD_MAX_DEPTH][PATH_MAX];
};

void vhd_merge_init(struct vhd_merge *m)
{
	memset(m, 0, sizeof(*m));
}

void vhd_merge_release(struct vhd_merge *m)
{
	vhd_close(m->chain);
	for (int i = 0; i < m->nconflicts; i++)
		free(m->conflicts[i]);
	for (int i = 0; i < m->nremoved; i++)
		free(m->removed[i]);
	vhd_merge_init(m);
}

static void journal_path_for(const char *target, char *out, size_t size)
{
	char dir[PATH_MAX];

	snprintf(out, size, "%s/.%s.merge", io_dirname(target, dir, sizeof(dir)),
		 io_basename(target));
}

/* Absolute form of a path whose file may no longer exist. */
static int abs_path(const char *p, char *out, size_t size)
{
	char dir[PATH_MAX], rdir[PATH_MAX];

	if (realpath(p, out))
		return 0;
	if (!realpath(io_dirname(p, dir, sizeof(dir)), rdir))
		return -1;
	snprintf(out, size, "%s/%s", rdir, io_basename(p));
	return 0;
}

static int read_journal(const char *path, struct journal *j, struct error *err)
{
	char line[PATH_MAX + 128];
	FILE *fp = fopen(path, "re");
	int ok = 0;

	if (!fp)
		return error_errno(err, errno, "cannot read merge journal '%s'", path);
	memset(j, 0, sizeof(*j));
	if (!fgets(line, sizeof(line), fp) || strncmp(line, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)))
		goto bad;
	while (fgets(line, sizeof(line), fp)) {
		char *nl = strchr(line, '\n'), u[64];
		int n = 0;
		if (nl)
			*nl = '\0';
		if (sscanf(line, "phase %15s", j->phase) == 1)
			continue;
		if (strncmp(line, "keep ", 5) == 0) {
			char *end;
			long k = strtol(line + 5, &end, 10);
			if (end == line + 5 || *end || k < 0 || k > 1)
				goto bad;
			j->keep = (int)k;
			continue;
		}
		if (sscanf(line, "target %63s %n", u, &n) == 1 && n > 0) {
			snprintf(j->target_uuid, sizeof(j->target_uuid), "%s", u);
			snprintf(j->target, sizeof(j->target), "%s", line + n);
			ok |= 1;
		} else if (sscanf(line, "source %63s %n", u, &n) == 1 && n > 0 &&
			   j->nsources < VHD_MAX_DEPTH) {
			snprintf(j->source_uuid[j->nsources], UUID_STR_LEN, "%s", u);
			snprintf(j->source[j->nsources], PATH_MAX, "%s", line + n);
			j->nsources++;
		} else {
			goto bad;
		}
	}
	fclose(fp);
	if (ok && j->nsources > 0 && j->phase[0])
		return 0;
	return error_set(err, EXIT_DATAERR, "merge journal '%s' is incomplete", path);
bad:
	fclose(fp);
	return error_set(err, EXIT_DATAERR, "'%s' is not a vhdtool merge journal", path);
}

static int write_journal(struct vhd_merge *m, const char *phase, bool keep, struct error *err)
{
	char buf[VHD_MAX_DEPTH * (PATH_MAX / 8) + 1024], *p = buf, path[PATH_MAX], u[UUID_STR_LEN];
	size_t left = sizeof(buf);
	int n;

	if (abs_path(m->target->path, path, sizeof(path)) < 0)
		return error_errno(err, errno, "cannot resolve '%s'", m->target->path);
	n = snprintf(p, left, "%s\nphase %s\nkeep %d\ntarget %s %s\n", JOURNAL_MAGIC, phase,
		     keep ? 1 : 0, uuid_format(m->target->footer.uuid, u), path);
	p += n;
	left -= (size_t)n;
	for (int i = 0; i < m->nsources; i++) {
		if (abs_path(m->sources[i]->path, path, sizeof(path)) < 0)
			return error_errno(err, errno, "cannot resolve '%s'", m->sources[i]->path);
		n = snprintf(p, left, "source %s %s\n", uuid_format(m->sources[i]->footer.uuid, u),
			     path);
		if (n < 0 || (size_t)n >= left)
			return error_set(err, EXIT_FAIL, "merge journal too large");
		p += n;
		left -= (size_t)n;
	}
	return io_atomic_write(m->journal, buf, (size_t)(p - buf), 0600, err);
}

static bool same_file(const struct vhd *v, const struct stat *st)
{
	return v->dev == st->st_dev && v->ino == st->st_ino;
}

static void add_conflict(struct vhd_merge *m, const char *file, const struct vhd *on,
			 const char *why)
{
	char buf[2048];

	if (m->nconflicts >= VHD_MERGE_MAX_CONFLICTS)
		return;
	snprintf(buf, sizeof(buf), "'%s' depends on '%s', which the merge %s", file, on->path, why);
	m->conflicts[m->nconflicts] = strdup(buf);
	if (m->conflicts[m->nconflicts])
		m->nconflicts++;
}

/* Files outside the chain, in the layers' folders, whose parent would change. */
static void scan_dependents(struct vhd_merge *m, bool keep)
{
	char dirs[VHD_MAX_DEPTH + 1][PATH_MAX];
	int ndirs = 0;

	for (int i = 0; i <= m->nsources; i++) {
		const struct vhd *l = i < m->nsources ? m->sources[i] : m->target;
		char d[PATH_MAX];
		bool seen = false;
		io_dirname(l->path, d, sizeof(d));
		for (int k = 0; k < ndirs; k++)
			seen |= strcmp(dirs[k], d) == 0;
		if (!seen)
			snprintf(dirs[ndirs++], PATH_MAX, "%s", d);
	}
	for (int k = 0; k < ndirs; k++) {
		DIR *dp = opendir(dirs[k]);
		struct dirent *de;
		if (!dp)
			continue;
		while ((de = readdir(dp))) {
			char path[PATH_MAX + 256];
			struct stat st;
			struct error e;
			bool ours = false;
			if (de->d_name[0] == '.')
				continue;
			if (strcmp(dirs[k], ".") == 0)
				snprintf(path, sizeof(path), "%s", de->d_name);
			else
				snprintf(path, sizeof(path), "%s/%s", dirs[k], de->d_name);
			if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			for (const struct vhd *l = m->chain; l; l = l->parent)
				ours |= same_file(l, &st);
			if (ours || vhd_probe(path, &e) != 1)
				continue;
			struct vhd *o = vhd_open(path, DISK_RDONLY | DISK_NOLOCK | VHD_NOPARENT |
						 VHD_LENIENT, &e);
			if (!o)
				continue;
			if (o->footer.type == VHD_TYPE_DIFF) {
				const uint8_t *pu = o->header.parent_uuid;
				if (!memcmp(pu, m->target->footer.uuid, 16))
					add_conflict(m, path, m->target, "changes");
				for (int i = 1; i < m->nsources; i++)
					if (!memcmp(pu, m->sources[i]->footer.uuid, 16))
						add_conflict(m, path, m->sources[i],
							     keep ? "changes" : "removes");
				if (!keep && !memcmp(pu, m->sources[0]->footer.uuid, 16))
					add_conflict(m, path, m->sources[0], "removes");
			}
			vhd_close(o);
		}
		closedir(dp);
	}
}

/* Walk the disk by runs; for runs a source layer holds, call fn. */
static int for_each_source_run(struct vhd_merge *m,
			       int (*fn)(struct vhd_merge *, struct vhd *, uint64_t, uint64_t,
					 uint64_t, void *, struct error *),
			       void *ctx, struct error *err)
{
	uint64_t off = 0, size = m->chain->disk.size;

	while (off < size) {
		uint64_t len = size - off < MERGE_CHUNK ? size - off : MERGE_CHUNK, foff;
		struct vhd *layer;
		if (vhd_map_range(m->chain, off, &len, &layer, &foff, err) < 0)
			return -1;
		if (layer && layer->depth < m->target->depth && fn(m, layer, off, len, foff, ctx, err) < 0)
			return -1;
		off += len;
	}
	return 0;
}

static int count_run(struct vhd_merge *m, struct vhd *layer, uint64_t off, uint64_t len,
		     uint64_t foff, void *ctx, struct error *err)
{
	m->bytes_to_write += len;
	return 0;
}

struct copy_ctx {
	struct vhd *dst;
};

static int copy_run(struct vhd_merge *m, struct vhd *layer, uint64_t off, uint64_t len,
		    uint64_t foff, void *vctx, struct error *err)
{
	struct copy_ctx *c = vctx;

	if (vhd_write_from_fd(c->dst, layer->fd, foff, (size_t)len, off, err) < 0)
		return -1;
	m->bytes_written += len;
	crashpoint("merge-copy");
	return 0;
}

int vhd_merge_prepare(struct vhd_merge *m, const char *child, const char *into,
		      unsigned flags, bool keep, struct error *err)
{
	struct vhd *l;

	m->chain = vhd_open(child, DISK_RDONLY | DISK_NOLOCK | (flags & DISK_FORCE), err);
	if (!m->chain)
		return -1;
	if (m->chain->footer.type != VHD_TYPE_DIFF)
		return error_set(err, EXIT_FAIL, "'%s' is a %s disk: only a differencing disk "
				 "merges into a parent", child, vhd_type_name(m->chain->footer.type));
	if (into) {
		struct stat st;
		if (stat(into, &st) < 0)
			return error_errno(err, errno, "cannot open '%s'", into);
		for (l = m->chain->parent; l && !same_file(l, &st); l = l->parent)
			;
		if (!l)
			return error_set(err, EXIT_USAGE, "'%s' is not an ancestor of '%s'", into,
					 child);
		m->target = l;
	} else {
		m->target = m->chain->parent;
	}
	for (l = m->chain; l != m->target; l = l->parent)
		m->sources[m->nsources++] = l;
	if (m->chain->disk.size > m->target->disk.size)
		return error_set(err, EXIT_FAIL, "'%s' (%llu bytes) is larger than '%s' (%llu "
				 "bytes): resize the target first", child,
				 (unsigned long long)m->chain->disk.size, m->target->path,
				 (unsigned long long)m->target->disk.size);
	journal_path_for(m->target->path, m->journal, sizeof(m->journal));
	if (access(m->journal, F_OK) == 0) {
		struct journal j;
		char u[UUID_STR_LEN];
		bool match;
		if (read_journal(m->journal, &j, err) < 0)
			return -1;
		match = j.nsources == m->nsources &&
			!strcmp(j.target_uuid, uuid_format(m->target->footer.uuid, u));
		for (int i = 0; match && i < m->nsources; i++)
			match = !strcmp(j.source_uuid[i], uuid_format(m->sources[i]->footer.uuid, u));
		if (!match)
			return error_set(err, EXIT_TEMPFAIL, "an unfinished merge of '%s' into '%s' "
					 "is pending (journal '%s'): rerun that merge first",
					 j.source[0], j.target, m->journal);
		m->resumed = true;
		/* the child is still here: copy again (idempotent), as it may have
		 * been written to since the interrupted merge copied it */
		m->copy_done = false;
	}
	if (for_each_source_run(m, count_run, NULL, err) < 0)
		return -1;
	if (!keep)
		for (int i = 0; i < m->nsources; i++)
			m->bytes_freed += m->sources[i]->file_size;
	scan_dependents(m, keep);
	return 0;
}

static int remove_file(struct vhd_merge *m, const char *path, struct error *err)
{
	struct stat st;

	if (lstat(path, &st) == 0) {
		if (unlink(path) < 0)
			return error_errno(err, errno, "cannot remove '%s'", path);
		if (io_fsync_parent_dir(path) < 0)
			return error_errno(err, errno, "cannot sync the folder of '%s'", path);
	}
	if (m->nremoved < VHD_MAX_DEPTH)
		m->removed[m->nremoved++] = strdup(path);
	return 0;
}

/* Beside the child, a pointer to the journal (which lives beside the target,
 * maybe in another folder): a rerun naming a child already removed finds it. */
static void pointer_path_for(const char *child_abs, char *out, size_t size)
{
	char dir[PATH_MAX];

	snprintf(out, size, "%s/.%s.merge-journal", io_dirname(child_abs, dir, sizeof(dir)),
		 io_basename(child_abs));
}

static int finish_journal(const char *journal, struct error *err)
{
	if (unlink(journal) < 0 && errno != ENOENT)
		return error_errno(err, errno, "cannot remove merge journal '%s'", journal);
	if (io_fsync_parent_dir(journal) < 0)
		return error_errno(err, errno, "cannot sync the folder of '%s'", journal);
	return 0;
}

/* The target may hold part of the merge now: say so, and how to finish. */
static void partly_merged(const struct vhd_merge *m, struct error *err)
{
	size_t l = strlen(err->msg);

	snprintf(err->msg + l, sizeof(err->msg) - l,
		 "; '%s' is partly merged (journal '%s'): '%s' still reads as before, "
		 "rerun the merge to finish it", m->target->path, m->journal,
		 m->sources[0]->path);
}

int vhd_merge_run(struct vhd_merge *m, bool keep, unsigned flags, struct error *err)
{
	struct copy_ctx c = { 0 };
	char paths[VHD_MAX_DEPTH][PATH_MAX];
	int rc = -1;

	if (m->nconflicts && !(flags & DISK_FORCE))
		return error_set(err, EXIT_FAIL, "refusing to merge: %s (--force merges anyway)",
				 m->conflicts[0]);
	for (int i = 0; i < m->nsources; i++) {
		if (flock(m->sources[i]->fd, LOCK_EX | LOCK_NB) < 0)
			return error_set(err, EXIT_TEMPFAIL, "'%s' is in use by another process",
					 m->sources[i]->path);
		if (abs_path(m->sources[i]->path, paths[i], PATH_MAX) < 0)
			return error_errno(err, errno, "cannot resolve '%s'", m->sources[i]->path);
	}
	if (!m->copy_done) {
		c.dst = vhd_open(m->target->path, VHD_NOPARENT | DISK_NOSYNC | (flags & DISK_FORCE),
				 err);
		if (!c.dst)
			return -1;
		if (!m->resumed && write_journal(m, "copy", keep, err) < 0) {
			(void)finish_journal(m->journal, &(struct error){ 0 }); /* nothing copied */
			goto out;
		}
		if (!m->resumed) {
			char ptr[PATH_MAX + 32];
			pointer_path_for(paths[0], ptr, sizeof(ptr));
			if (io_atomic_write(ptr, m->journal, strlen(m->journal), 0600, err) < 0) {
				(void)finish_journal(m->journal, &(struct error){ 0 }); /* nothing copied */
				goto out;
			}
		}
		crashpoint("merge-journal");
		if (for_each_source_run(m, copy_run, &c, err) < 0 || vhd_flush(c.dst, err) < 0) {
			partly_merged(m, err);
			goto out;
		}
		crashpoint("merge-synced");
		if (write_journal(m, "delete", keep, err) < 0) {
			partly_merged(m, err);
			goto out;
		}
		vhd_close(c.dst);
		c.dst = NULL;
	}
	crashpoint("merge-copied");
	if (!keep) {
		for (int i = 0; i < m->nsources; i++) {
			if (remove_file(m, paths[i], err) < 0)
				goto out;
			crashpoint("merge-remove");
		}
	}
	rc = finish_journal(m->journal, err);
	if (rc == 0) {
		char ptr[PATH_MAX + 32];
		pointer_path_for(paths[0], ptr, sizeof(ptr));
		unlink(ptr);
	}
out:
	vhd_close(c.dst);
	return rc;
}

/* Finish the merge of journal `jp` if it lists `want` as a source and had
 * copied its data: 1 done, 0 not this one, -1 error. */
static int resume_journal(struct vhd_merge *m, const char *jp, const char *want,
			  struct error *err)
{
	struct journal j;
	struct error e;
	bool listed = false;

	snprintf(m->journal, sizeof(m->journal), "%s", jp);
	if (read_journal(m->journal, &j, &e) < 0 || strcmp(j.phase, "delete"))
		return 0;
	for (int i = 0; i < j.nsources && !listed; i++)
		listed = !strcmp(j.source[i], want);
	if (!listed)
		return 0;
	m->resumed = true;
	for (int i = 0; i < j.nsources; i++) {
		struct stat st;
		if (!j.keep && stat(j.source[i], &st) == 0)
			m->bytes_freed += (uint64_t)st.st_size;
		if (!j.keep && remove_file(m, j.source[i], err) < 0)
			return -1;
	}
	return finish_journal(m->journal, err) < 0 ? -1 : 1;
}

int vhd_merge_resume_orphan(struct vhd_merge *m, const char *child, struct error *err)
{
	char dir[PATH_MAX], want[PATH_MAX];
	struct dirent *de;
	DIR *dp;
	int found = 0;

	if (abs_path(child, want, sizeof(want)) < 0)
		return 0;
	{
		char ptr[PATH_MAX + 32], jp[PATH_MAX] = { 0 };
		int fd;
		pointer_path_for(want, ptr, sizeof(ptr));
		fd = open(ptr, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			ssize_t n = read(fd, jp, sizeof(jp) - 1);
			close(fd);
			if (n > 0) {
				int r = resume_journal(m, jp, want, err);
				if (r != 0) {
					if (r > 0)
						unlink(ptr);
					return r;
				}
			}
			unlink(ptr); /* stale: its merge is over */
		}
	}
	dp = opendir(io_dirname(want, dir, sizeof(dir)));
	if (!dp)
		return 0;
	while (!found && (de = readdir(dp))) {
		size_t n = strlen(de->d_name);
		char jp[PATH_MAX + 300];
		if (de->d_name[0] != '.' || n < 7 || strcmp(de->d_name + n - 6, ".merge"))
			continue;
		snprintf(jp, sizeof(jp), "%s/%s", dir, de->d_name);
		found = resume_journal(m, jp, want, err);
		if (found < 0) {
			closedir(dp);
			return -1;
		}
	}
	closedir(dp);
	return found;
}
