/*
 * safeio.h — I/O that finishes what it starts.
 *
 * io_pread_full/io_pwrite_full loop over short transfers and EINTR.
 * io_atomic_write replaces a file crash-safely: write a temporary in the same
 * folder, fsync it, rename it over the target, fsync the folder.
 */
#ifndef VMSNAP_SAFEIO_H
#define VMSNAP_SAFEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Bytes read (short only at end of file), or -1 with errno set. */
ssize_t io_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* 0 when all of len was written, or -1 with errno set. */
int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* Sequential read of up to len bytes (short only at EOF); -1 with errno. */
ssize_t io_read_full(int fd, void *buf, size_t len);
/* 0 or -1 with errno. */
int io_write_full(int fd, const void *buf, size_t len);

/* fsync the folder holding `path`; 0 or -1 with errno. */
int io_fsync_parent_dir(const char *path);

/* Crash-safe replace of `path` with `len` bytes of `data`, created `mode`. */
int io_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
		    struct error *err);

/* Directory part of path into buf ("." when none); returns buf. */
char *io_dirname(const char *path, char *buf, size_t size);
/* Pointer into path after its last '/'. */
const char *io_basename(const char *path);

#endif
