/* compare.c — content comparison of two disks. */
#include "compare.h"

#include <stdlib.h>

#include "extent.h"

#define CHUNK (2u << 20)

struct side {
	struct disk *d;
	struct extent_map *m;
	uint8_t *buf;
};

static int side_open(struct side *s, struct disk *d, struct error *err)
{
	s->d = d;
	s->m = extent_map_new(d, err);
	if (!s->m)
		return -1;
	if (posix_memalign((void **)&s->buf, 4096, CHUNK)) {
		s->buf = NULL;
		return error_set(err, EXIT_FAIL, "out of memory");
	}
	return 0;
}

static void side_close(struct side *s)
{
	extent_map_free(s->m);
	free(s->buf);
}

/* Offset (from `off`, up to `end`) of the first nonzero byte of s, or end. */
static int first_nonzero(struct side *s, uint64_t off, uint64_t end, uint64_t total,
			 compare_progress_fn progress, void *ctx, uint64_t *at, struct error *err)
{
	struct extent e;
	size_t i;

	while (off < end) {
		uint64_t lim = CHUNK - off % CHUNK;
		if (lim > end - off)
			lim = end - off;
		if (extent_get(s->m, off, lim, &e, err) < 0)
			return -1;
		if (e.data) {
			if (extent_read(s->m, &e, s->buf, err) < 0)
				return -1;
			i = mem_first_nonzero(s->buf, (size_t)e.length);
			if (i < e.length) {
				*at = off + i;
				return 0;
			}
		}
		off += e.length;
		if (progress && progress(ctx, off, total))
			return error_set(err, EXIT_FAIL, "interrupted");
	}
	*at = end;
	return 0;
}

/* First offset below end where a and b differ, or end. */
static int first_diff(struct side *a, struct side *b, uint64_t end, uint64_t total,
		      compare_progress_fn progress, void *ctx, uint64_t *at, struct error *err)
{
	struct extent ea, eb;
	uint64_t off = 0, n;
	size_t i;

	while (off < end) {
		uint64_t lim = CHUNK - off % CHUNK;
		if (lim > end - off)
			lim = end - off;
		if (extent_get(a->m, off, lim, &ea, err) < 0 ||
		    extent_get(b->m, off, ea.length, &eb, err) < 0)
			return -1;
		n = eb.length;     /* <= ea.length */
		ea.length = n;
		i = (size_t)n;
		if (ea.data && eb.data) {
			if (extent_read(a->m, &ea, a->buf, err) < 0 ||
			    extent_read(b->m, &eb, b->buf, err) < 0)
				return -1;
			i = mem_first_diff(a->buf, b->buf, (size_t)n);
		} else if (ea.data || eb.data) {
			struct side *s = ea.data ? a : b;
			if (extent_read(s->m, ea.data ? &ea : &eb, s->buf, err) < 0)
				return -1;
			i = mem_first_nonzero(s->buf, (size_t)n);
		}
		if (i < n) {
			*at = off + i;
			return 0;
		}
		off += n;
		if (progress && progress(ctx, off, total))
			return error_set(err, EXIT_FAIL, "interrupted");
	}
	*at = end;
	return 0;
}

int compare_disks(struct disk *a, struct disk *b, bool strict, compare_progress_fn progress,
		  void *ctx, struct compare_result *r, struct error *err)
{
	struct side sa = { 0 }, sb = { 0 };
	uint64_t common = a->size < b->size ? a->size : b->size;
	uint64_t total = a->size < b->size ? b->size : a->size, at = 0;
	int rc = -1;

	r->identical = true;
	r->first_difference = 0;
	r->size_mismatch = a->size != b->size;
	if (side_open(&sa, a, err) < 0 || side_open(&sb, b, err) < 0)
		goto out;
	if (first_diff(&sa, &sb, common, total, progress, ctx, &at, err) < 0)
		goto out;
	if (at == common && r->size_mismatch && !strict) {
		/* the larger disk's extra part must be zeros */
		struct side *big = a->size > b->size ? &sa : &sb;
		if (first_nonzero(big, common, total, total, progress, ctx, &at, err) < 0)
			goto out;
		r->identical = at == total;
	} else {
		/* strict: equal up to the smaller size still differs at its end */
		r->identical = at == common && !r->size_mismatch;
	}
	if (!r->identical)
		r->first_difference = at;
	rc = 0;
out:
	side_close(&sa);
	side_close(&sb);
	return rc;
}
