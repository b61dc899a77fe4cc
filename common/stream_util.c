/* stream_util.c — member names and types, SHA-256, temporary folders and small
 * helpers shared by export and import (stream_int.h). */
#include "stream_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const stream_mtype_name[M_NTYPES] = {
	"manifest", "config", "current", "saved_state", "saved_memory", "snapshot",
	"snapshot_state", "snapshot_memory", "disk", "kernel", "initrd",
};

const uint8_t stream_zeros[CHUNK];

bool stream_disk_name_ok(const char *s)
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

int stream_member_type(const char *name, uint8_t uuid[16], const char **why)
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
	if (!strncmp(name, "disks/", 6) && stream_disk_name_ok(name + 6))
		return M_DISK;
	if (!strncmp(name, "kernel/", 7) && stream_disk_name_ok(name + 7))
		return M_KERNEL;
	if (!strncmp(name, "initrd/", 7) && stream_disk_name_ok(name + 7))
		return M_INITRD;
	*why = "not a member an export stream has";
	return -1;
}

void stream_hex(const uint8_t *b, size_t n, char *out)
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

int stream_unhex(const char *s, uint8_t *out, size_t n)
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

EVP_MD_CTX *stream_sha_new(struct error *err)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();

	if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h);
		error_set(err, EXIT_FAIL, "cannot set up SHA-256 (libcrypto)");
		return NULL;
	}
	return h;
}

void stream_sha_end(EVP_MD_CTX *h, uint8_t out[32])
{
	unsigned n = 32;

	EVP_DigestFinal_ex(h, out, &n);
	EVP_MD_CTX_free(h);
}

int stream_sha_zeros(EVP_MD_CTX *h, uint64_t n)
{
	while (n) {
		size_t k = n > CHUNK ? CHUNK : (size_t)n;
		if (EVP_DigestUpdate(h, stream_zeros, k) != 1)
			return -1;
		n -= k;
	}
	return 0;
}

int stream_oom(struct error *err)
{
	return error_set(err, EXIT_FAIL, "out of memory");
}

int stream_strv_add(char ***v, int *n, const char *s)
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

void stream_strv_free(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

bool stream_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int stream_root_lock(const char *root, struct error *err)
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

int stream_make_tmpdir(const char *lockroot, const char *dir, const char *prefix, char *out,
		       size_t size, int *lockfd, struct error *err)
{
	int rl = stream_root_lock(lockroot, err), rc = -1;

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

int stream_progress(stream_progress_fn fn, void *ctx, const char *phase, uint64_t done,
		    uint64_t total, struct error *err)
{
	if (fn && fn(ctx, phase, done, total))
		return error_set(err, EXIT_FAIL, "interrupted");
	return 0;
}
