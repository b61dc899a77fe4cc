/*
 * snapshot.h — snapshot metadata and the snapshot tree of one VM
 * (DESIGN §2, §4). A snapshot is <vm>/snapshots/<uuid>.xml, a libvirt
 * <domainsnapshot>: name, description, state (running = online, with
 * <uuid>.vsv/.bin beside it; shutoff = offline), creationTime, the frozen
 * disk layer of every disk (<disks><disk name='vda'><source file=.../>), the
 * parent's name and the <domain> as it was. Our own identity (the snapshot's
 * UUID and its parent's) lives in <cookie><vmsnap:snapshot .../></cookie>, so
 * a rename never breaks a link. <vm>/current holds the current snapshot's
 * UUID (the parent of "now"); absent when there is none.
 *
 *   struct snaptree t;
 *   snaptree_load(&t, vmdir, &err);
 *   struct snapshot *s = snaptree_find(&t, "S1", &err);   name, UUID or @current
 *   ...
 *   snaptree_release(&t);
 */
#ifndef VMSNAP_SNAPSHOT_H
#define VMSNAP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "vmconfig.h"

#define SNAP_NAME_MAX 200
#define SNAP_NS "urn:vmsnap:snapshot:1"

struct snap_disk {
	char target[16];
	char *file;          /* the frozen layer (absolute path) */
};

struct snapshot {
	uint8_t uuid[16];
	char *name;
	char *description;   /* may be NULL */
	time_t created;
	bool online;         /* RAM and state saved (<uuid>.bin, <uuid>.vsv) */
	bool has_parent;
	uint8_t parent[16];
	char *parent_name;   /* as recorded (display; links go by UUID) */
	struct vmconfig *domain;
	int ndisks;
	struct snap_disk disks[VMCONFIG_MAX_DISKS];
	char *memory;        /* absolute path of the .bin when online */
};

struct snapshot *snapshot_new(const char *name, struct error *err);
struct snapshot *snapshot_parse(const char *buf, size_t len, const char *what,
				struct error *err);
/* <domainsnapshot> that validates against libvirt's domainsnapshot.rng. */
char *snapshot_format(const struct snapshot *s, struct error *err);
void snapshot_free(struct snapshot *s);
/* Valid snapshot name: 1..200 bytes of UTF-8 without control characters or '/'. */
bool snapshot_name_ok(const char *name);

/* "<vmdir>/snapshots/<uuid><ext>" (malloc'ed); ext ".xml", ".vsv", ".bin". */
char *snapshot_path(const char *vmdir, const uint8_t uuid[16], const char *ext);
/* Atomic write of snapshots/<uuid>.xml (folder created 0700). */
int snapshot_write(const char *vmdir, const struct snapshot *s, struct error *err);

struct snaptree {
	char *vmdir;
	struct snapshot **v;
	int n;
	bool has_current;
	uint8_t current[16];
};

/* Read every snapshots/<uuid>.xml (bad ones are an error naming the file) and current. */
int snaptree_load(struct snaptree *t, const char *vmdir, struct error *err);
void snaptree_release(struct snaptree *t);
/* By name, UUID, or "@current"; EXIT_NOINPUT "no snapshot 'x' of VM ..." if none. */
struct snapshot *snaptree_find(struct snaptree *t, const char *spec, struct error *err);
struct snapshot *snaptree_by_uuid(struct snaptree *t, const uint8_t uuid[16]);
struct snapshot *snaptree_by_name(struct snaptree *t, const char *name);
/* Children of s (NULL: the roots), sorted by creation time; returns the count. */
int snaptree_children(struct snaptree *t, const struct snapshot *s, struct snapshot **out,
		      int max);
/* Write (uuid) or remove (NULL) <vmdir>/current atomically. */
int snaptree_set_current(const char *vmdir, const uint8_t *uuid, struct error *err);

#endif
