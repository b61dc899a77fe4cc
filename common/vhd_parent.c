/* vhd_parent.c — find, check and open the parent of a differencing layer. */
#include "vhd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safeio.h"
#include "uuid.h"

struct vhd *vhd_open_layer_internal(const char *path, unsigned flags, int depth,
				    struct error *err);

static void backslashes_to_slashes(char *s)
{
	for (; *s; s++)
		if (*s == '\\')
			*s = '/';
}

int vhd_locator_path(struct vhd *v, int idx, char *out, size_t size, struct error *err)
{
	const struct vhd_locator *l = &v->header.loc[idx];
	uint8_t *buf;
	ssize_t n;
	int rc;

	if (l->length == 0 || l->length > 65536 || l->offset > v->file_size ||
	    v->file_size - l->offset < l->length)
		return error_set(err, EXIT_DATAERR, "'%s': parent locator %d is empty or lies "
				 "outside the file", v->path, idx);
	buf = malloc(l->length);
	if (!buf)
		return error_set(err, EXIT_FAIL, "out of memory");
	n = io_pread_full(v->fd, buf, l->length, l->offset);
	if (n != (ssize_t)l->length) {
		free(buf);
		return error_errno(err, n < 0 ? errno : EIO, "cannot read '%s'", v->path);
	}
	if (l->code == VHD_PLAT_MACX || l->code == VHD_PLAT_WI2R || l->code == VHD_PLAT_WI2K) {
		/* UTF-8 / ANSI: copy, stop at NUL */
		size_t k = 0;
		while (k < l->length && buf[k] && k + 1 < size) {
			out[k] = (char)buf[k];
			k++;
		}
		out[k] = '\0';
		rc = 0;
		if (l->code == VHD_PLAT_MACX && strncmp(out, "file://", 7) == 0)
			memmove(out, out + 7, strlen(out + 7) + 1);
	} else {
		rc = vhd_utf16_to_utf8(buf, l->length, false, out, size) < 0 ? -1 : 0;
	}
	free(buf);
	if (rc < 0)
		return error_set(err, EXIT_DATAERR, "'%s': parent locator %d is not valid UTF-16",
				 v->path, idx);
	backslashes_to_slashes(out);
	return 0;
}

int vhd_parent_name(const struct vhd *v, char *out, size_t size)
{
	return vhd_utf16_to_utf8(v->header.parent_name, sizeof(v->header.parent_name), true, out,
				 size);
}

static int add_candidate(struct vhd_parent_candidate *c, int *n, const char *dir, const char *p,
			 const char *how)
{
	if (*n >= VHD_MAX_PARENT_CANDIDATES || !*p)
		return 0;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (p[0] == '/' || !dir || strcmp(dir, ".") == 0)
		snprintf(c[*n].path, sizeof(c[*n].path), "%s", p);
	else
		snprintf(c[*n].path, sizeof(c[*n].path), "%s/%s", dir, p);
	for (int i = 0; i < *n; i++)
		if (strcmp(c[i].path, c[*n].path) == 0)
			return 0;
	c[*n].how = how;
	(*n)++;
	return 0;
}

int vhd_parent_candidates(struct vhd *v, struct vhd_parent_candidate *c)
{
	char dir[4096], tmp[4096];
	struct error sub;
	int n = 0, i;

	io_dirname(v->path, dir, sizeof(dir));
	for (i = 0; i < VHD_NUM_LOCATORS; i++)
		if (v->header.loc[i].code == VHD_PLAT_W2RU &&
		    vhd_locator_path(v, i, tmp, sizeof(tmp), &sub) == 0)
			add_candidate(c, &n, dir, tmp, "W2ru");
	for (i = 0; i < VHD_NUM_LOCATORS; i++)
		if ((v->header.loc[i].code == VHD_PLAT_W2KU || v->header.loc[i].code == VHD_PLAT_MACX ||
		     v->header.loc[i].code == VHD_PLAT_WI2K) &&
		    vhd_locator_path(v, i, tmp, sizeof(tmp), &sub) == 0)
			add_candidate(c, &n, NULL, tmp, "W2ku");
	for (i = 0; i < VHD_NUM_LOCATORS; i++)
		if (v->header.loc[i].code == VHD_PLAT_WI2R &&
		    vhd_locator_path(v, i, tmp, sizeof(tmp), &sub) == 0)
			add_candidate(c, &n, dir, tmp, "Wi2r");
	if (vhd_parent_name(v, tmp, sizeof(tmp)) > 0) {
		backslashes_to_slashes(tmp);
		add_candidate(c, &n, dir, io_basename(tmp), "parent name");
	}
	return n;
}

/* Is the file st this layer or one of the layers above it? */
static bool in_chain(const struct vhd *v, const struct stat *st)
{
	for (const struct vhd *p = v; p; p = p->child)
		if (p->dev == st->st_dev && p->ino == st->st_ino)
			return true;
	return false;
}

int vhd_open_parent(struct vhd *v, unsigned flags, struct error *err)
{
	struct vhd_parent_candidate c[VHD_MAX_PARENT_CANDIDATES];
	char want[UUID_STR_LEN], got[UUID_STR_LEN], tried[2048];
	struct vhd *found = NULL, *mismatch = NULL;
	struct error sub, first_bad;
	int n, i;
	unsigned pflags;

	if (v->depth + 1 >= VHD_MAX_DEPTH)
		return error_set(err, EXIT_DATAERR, "'%s': chain deeper than %d layers", v->path,
				 VHD_MAX_DEPTH);
	n = vhd_parent_candidates(v, c);
	if (n == 0)
		return error_set(err, EXIT_DATAERR,
				 "'%s' is a differencing disk with no parent locator or name", v->path);

	error_init(&first_bad);
	uuid_format(v->header.parent_uuid, want);
	pflags = (flags & (DISK_FORCE | DISK_NOLOCK | VHD_LENIENT)) | DISK_RDONLY;
	tried[0] = '\0';
	for (i = 0; i < n && !found; i++) {
		struct stat st;
		size_t tl = strlen(tried);
		snprintf(tried + tl, sizeof(tried) - tl, "%s'%s'", tl ? ", " : "", c[i].path);
		if (stat(c[i].path, &st) < 0)
			continue;
		if (!S_ISREG(st.st_mode)) {
			if (!first_bad.code)
				error_set(&first_bad, EXIT_DATAERR, "parent candidate '%s' of '%s' "
					  "is not a regular file", c[i].path, v->path);
			continue;
		}
		if (in_chain(v, &st)) {
			vhd_close(mismatch); /* an earlier candidate with another UUID */
			return error_set(err, EXIT_DATAERR, "'%s': parent chain loops back to '%s'",
					 v->path, c[i].path);
		}
		error_init(&sub);
		struct vhd *p = vhd_open_layer_internal(c[i].path, pflags, v->depth + 1, &sub);
		if (!p) {
			if (!first_bad.code)
				first_bad = sub;
			continue;
		}
		if (memcmp(p->footer.uuid, v->header.parent_uuid, 16) != 0) {
			if (!mismatch)
				mismatch = p;
			else
				vhd_close(p);
			continue;
		}
		found = p;
	}
	if (!found && mismatch) {
		uuid_format(mismatch->footer.uuid, got);
		if (!(flags & DISK_FORCE)) {
			error_set(err, EXIT_DATAERR,
				  "parent '%s' of '%s' has UUID %s, the child expects %s "
				  "(--force uses it anyway)", mismatch->path, v->path, got, want);
			vhd_close(mismatch);
			return -1;
		}
		error_warn("parent '%s' of '%s' has UUID %s, the child expects %s (--force)",
			   mismatch->path, v->path, got, want);
		found = mismatch;
		mismatch = NULL;
	}
	vhd_close(mismatch);
	if (!found) {
		if (first_bad.code) {
			*err = first_bad;
			return -1;
		}
		char name[1024];
		if (vhd_parent_name(v, name, sizeof(name)) <= 0)
			snprintf(name, sizeof(name), "%s", want);
		return error_set(err, EXIT_NOINPUT, "parent '%s' of '%s' not found (tried %s)", name,
				 v->path, tried);
	}
	if (v->header.parent_timestamp != 0 &&
	    v->header.parent_timestamp != vhd_time_from_unix(found->mtime))
		error_warn("parent '%s' of '%s' was modified after the child was made "
			   "(timestamp mismatch)", found->path, v->path);
	v->parent = found;
	found->child = v;
	v->parent_path = strdup(found->path);
	return 0;
}
