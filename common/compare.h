/*
 * compare.h — content comparison of two disks (raw files, VHD chains), with
 * qemu-img compare's size rule: the part of the larger disk past the end of
 * the smaller must be all zeros for them to be "identical", unless strict,
 * where any size difference is a difference.
 *
 * Ranges that both sides leave unallocated (or as holes) are not read; a
 * range only one side holds is checked for zeros on that side.
 *
 *   struct compare_result r;
 *   if (compare_disks(a, b, strict, NULL, NULL, &r, &err) < 0) ...
 *   r.identical ? ... : r.first_difference
 */
#ifndef VMSNAP_COMPARE_H
#define VMSNAP_COMPARE_H

#include <stdbool.h>
#include <stdint.h>

#include "disk.h"
#include "error.h"

struct compare_result {
	bool identical;
	uint64_t first_difference;  /* byte offset; valid when !identical */
	bool size_mismatch;         /* the sizes differ (whatever the verdict) */
};

/* Called after each chunk; a nonzero return stops the comparison. */
typedef int (*compare_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * 0 with *r filled, or -1 with err (the code of the failing read; 1 with
 * "interrupted" when progress stopped it). first_difference is exact to the
 * byte; with strict and equal content up to the smaller size it is that size.
 */
int compare_disks(struct disk *a, struct disk *b, bool strict, compare_progress_fn progress,
		  void *ctx, struct compare_result *r, struct error *err);

#endif
