/*
 * safeio.h — I/O that finishes what it starts.
 *
 * io_pread_full/io_pwrite_full loop over short transfers and EINTR.
 * io_atomic_write replaces a file crash-safely: write a temporary in the same
 * folder, fsync it, rename it over the target, fsync the folder.
 */
#ifndef VMSNAP_SAFEIO_H
#define VMSNAP_SAFEIO_H

#include <stdbool.h>
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

/*
 * Temporary files live beside their target as "<dir>/.<base>.XXXXXX" and are
 * flock()ed by their writer while it lives. io_tmp_open makes one (0600,
 * locked while the fd stays open; the name in tmp) after sweeping those a
 * killed writer left for the same target. io_sweep_temps removes, from dir,
 * such files of `base` (and temporaries of those: "..<base>.XXXXXX.YYYYYY"),
 * or of any name when base is NULL, that nobody holds
 * locked and that are at least IO_TEMP_GRACE seconds old (a writer locks its
 * file right after making it); returns how many, or -1 with errno.
 */
#define IO_TEMP_GRACE 2
int io_tmp_open(const char *path, char *tmp, size_t size, struct error *err);
int io_sweep_temps(const char *dir, const char *base);
/* The same for the temporaries of every target name `want` accepts. */
int io_sweep_temps_if(const char *dir, bool (*want)(const char *target));

/* Directory part of path into buf ("." when none); returns buf. */
char *io_dirname(const char *path, char *buf, size_t size);
/* Pointer into path after its last '/'. */
const char *io_basename(const char *path);

#endif
