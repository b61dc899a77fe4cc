/*
 * vhd_merge.h — merge a differencing child (and any layers between) into an
 * ancestor, Merge-VHD style, crash-safe and restartable.
 *
 *   struct vhd_merge m;
 *   vhd_merge_init(&m);
 *   if (vhd_merge_prepare(&m, "c.avhd", NULL, 0, &err) < 0) ...   plan + checks
 *   m.bytes_to_write, m.conflicts ...                             (dry run stops here)
 *   if (vhd_merge_run(&m, keep, &err) < 0) ...
 *   vhd_merge_release(&m);
 *
 * The target only changes where a source layer holds data, so the chain's
 * view through the child never changes while the merge runs: a kill at any
 * point loses nothing. A journal beside the target (".<name>.merge") records
 * the plan and the phase; rerunning the same merge finishes it, also when the
 * child was already removed (vhd_merge_resume_orphan()).
 */
#ifndef VMSNAP_VHD_MERGE_H
#define VMSNAP_VHD_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "vhd.h"

#define VHD_MERGE_MAX_CONFLICTS 16

struct vhd_merge {
	struct vhd *chain;          /* opened from the child, read-only */
	struct vhd *target;         /* the layer in `chain` that receives data */
	int nsources;               /* layers above target, child first */
	struct vhd *sources[VHD_MAX_DEPTH];
	char journal[4200];
	bool resumed;               /* an unfinished merge is being completed */
	bool copy_done;             /* journal says the data is already in target */
	uint64_t bytes_to_write;    /* sector data the sources hold */
	uint64_t bytes_freed;       /* size of the files removed (without --keep) */
	uint64_t bytes_written;
	int nconflicts;
	char *conflicts[VHD_MERGE_MAX_CONFLICTS]; /* "x.avhd depends on y.vhd" */
	char *removed[VHD_MAX_DEPTH];
	int nremoved;
};

void vhd_merge_init(struct vhd_merge *m);
/*
 * Open the chain from `child`, pick the target (immediate parent, or the
 * ancestor `into` names), compute the plan and find files outside the chain
 * that depend on a layer the merge changes or removes (m->conflicts).
 * flags: DISK_FORCE (parent checks, and conflicts are then not fatal in run).
 */
int vhd_merge_prepare(struct vhd_merge *m, const char *child, const char *into,
		      unsigned flags, bool keep, struct error *err);
/* Refuses conflicts unless DISK_FORCE was given; copies, syncs, removes. */
int vhd_merge_run(struct vhd_merge *m, bool keep, unsigned flags, struct error *err);
void vhd_merge_release(struct vhd_merge *m);

/*
 * `child` is gone: finish a merge whose journal (in child's folder) lists it
 * as a source and had already copied its data. 1 if one was finished, 0 if
 * there is none, -1 on error. Sets m->removed / m->bytes_freed.
 */
int vhd_merge_resume_orphan(struct vhd_merge *m, const char *child, struct error *err);

#endif
