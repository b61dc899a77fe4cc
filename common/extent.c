/* extent.c — allocation maps of raw files and VHD chains. */
#include "extent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safeio.h"
#include "vhd.h"

struct extent_map {
	struct disk *d;
	struct vhd *v;       /* the chain, NULL for a raw file */
	int raw_fd;          /* raw only: our own descriptor for lseek and pread */
	int layers;
	/* the last data/hole run found with lseek (raw files, fixed layers) */
	bool c_valid;
	int c_fd;
	uint64_t c_start, c_end;
	bool c_data;
};

static const uint8_t zero_page[4096];

bool mem_is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n >= sizeof(zero_page)) {
		if (memcmp(b, zero_page, sizeof(zero_page)))
			return false;
		b += sizeof(zero_page);
		n -= sizeof(zero_page);
	}
	return memcmp(b, zero_page, n) == 0;
}

size_t mem_first_nonzero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i = 0;

	while (n - i >= sizeof(zero_page) && memcmp(b + i, zero_page, sizeof(zero_page)) == 0)
		i += sizeof(zero_page);
	while (i < n && b[i] == 0)
		i++;
	return i;
}

size_t mem_first_diff(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	size_t i = 0;

	while (n - i >= 4096 && memcmp(x + i, y + i, 4096) == 0)
		i += 4096;
	while (i < n && x[i] == y[i])
		i++;
	return i;
}

struct extent_map *extent_map_new(struct disk *d, struct error *err)
{
	struct extent_map *m = calloc(1, sizeof(*m));

	if (!m) {
		error_set(err, EXIT_FAIL, "out of memory");
		return NULL;
	}
	m->d = d;
	m->raw_fd = -1;
	m->layers = 1;
	if (strcmp(d->format, "vpc") == 0) {
		m->v = (struct vhd *)d; /* a struct vhd starts with its struct disk */
		for (struct vhd *l = m->v->parent; l; l = l->parent)
			m->layers++;
		return m;
	}
	m->raw_fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (m->raw_fd < 0) {
		error_errno(err, errno, "cannot open '%s'", d->path);
		free(m);
		return NULL;
	}
	posix_fadvise(m->raw_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return m;
}

void extent_map_free(struct extent_map *m)
{
	if (!m)
		return;
	if (m->raw_fd >= 0)
		close(m->raw_fd);
	free(m);
}

int extent_map_layers(const struct extent_map *m)
{
	return m->layers;
}

/*
 * Data or hole at file offset pos of a flat file (raw, fixed VHD) and how
 * far that run goes. File systems without SEEK_DATA: all data.
 */
static int seek_run(struct extent_map *m, int fd, const char *path, uint64_t pos, bool *data,
		    uint64_t *end, struct error *err)
{
	off_t d, h;

	if (m->c_valid && m->c_fd == fd && pos >= m->c_start && pos < m->c_end)
		goto out;
	m->c_valid = true;
	m->c_fd = fd;
	m->c_start = pos;
	d = lseek(fd, (off_t)pos, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO) {           /* nothing but hole up to end of file */
			m->c_data = false;
			m->c_end = UINT64_MAX;
		} else if (errno == EINVAL || errno == EOPNOTSUPP) {
			m->c_data = true;
			m->c_end = UINT64_MAX;
		} else {
			m->c_valid = false;
			return error_errno(err, errno, "cannot map '%s'", path);
		}
	} else if ((uint64_t)d > pos) {
		m->c_data = false;
		m->c_end = (uint64_t)d;
	} else {
		h = lseek(fd, (off_t)pos, SEEK_HOLE);
		m->c_data = true;
		if (h < 0 && errno != ENXIO && errno != EINVAL && errno != EOPNOTSUPP) {
			m->c_valid = false;
			return error_errno(err, errno, "cannot map '%s'", path);
		}
		m->c_end = (h < 0 || (uint64_t)h <= pos) ? UINT64_MAX : (uint64_t)h;
	}
out:
	*data = m->c_data;
	*end = m->c_end;
	return 0;
}

int extent_get(struct extent_map *m, uint64_t off, uint64_t max_len, struct extent *e,
	       struct error *err)
{
	uint64_t len = max_len, foff, run_end;
	struct vhd *layer;
	bool data;

	if (off >= m->d->size || max_len == 0)
		return error_set(err, EXIT_FAIL, "'%s': no extent at offset %llu (size %llu)",
				 m->d->path, (unsigned long long)off,
				 (unsigned long long)m->d->size);
	if (len > m->d->size - off)
		len = m->d->size - off;
	memset(e, 0, sizeof(*e));
	e->start = off;
	e->fd = -1;
	if (!m->v) {
		if (seek_run(m, m->raw_fd, m->d->path, off, &data, &run_end, err) < 0)
			return -1;
		if (run_end - off < len)
			len = run_end - off;
		e->length = len;
		e->present = true;
		e->data = data;
		e->depth = 0;
		e->file = m->d->path;
		e->offset = off;
		e->fd = m->raw_fd;
		return 0;
	}
	if (vhd_map_range(m->v, off, &len, &layer, &foff, err) < 0)
		return -1;
	e->length = len;
	if (!layer) {
		e->depth = m->layers;
		return 0;
	}
	e->present = true;
	e->data = true;
	e->depth = layer->depth;
	e->file = layer->path;
	e->offset = foff;
	e->fd = layer->fd;
	if (layer->footer.type == VHD_TYPE_FIXED) {
		if (seek_run(m, layer->fd, layer->path, foff, &data, &run_end, err) < 0)
			return -1;
		if (run_end - foff < e->length)
			e->length = run_end - foff;
		e->data = data;
	}
	if (e->length == 0) /* never loop forever on a map that makes no progress */
		return error_set(err, EXIT_FAIL, "'%s': empty extent at offset %llu",
				 m->d->path, (unsigned long long)off);
	return 0;
}

int extent_read(struct extent_map *m, const struct extent *e, void *buf, struct error *err)
{
	ssize_t n;

	if (!e->data) {
		memset(buf, 0, e->length);
		return 0;
	}
	n = io_pread_full(e->fd, buf, e->length, e->offset);
	if (n < 0)
		return error_errno(err, errno, "cannot read '%s'", e->file);
	if ((uint64_t)n < e->length) /* a hole at the end of a sparse file */
		memset((uint8_t *)buf + n, 0, e->length - (uint64_t)n);
	return 0;
}
