/*
 * vmconfig.h — the VM definition: vm.xml, a subset of libvirt's domain XML
 * (DESIGN.md §4). One struct owns what a parse produced; vmconfig_free()
 * frees it.
 *
 *   struct vmconfig *c = vmconfig_load("/root/web/vm.xml", &err);   parse + validate
 *   c->memory_bytes, c->vcpus, c->disks[i].path ...
 *   vmconfig_save(c, "/root/web/vm.xml", &err);                      atomic replace
 *   vmconfig_free(c);
 *
 * Parsing uses XML_PARSE_NONET, never XML_PARSE_NOENT, loads no DTD and
 * refuses a DOCTYPE. Errors are EXIT_DATAERR with "file:line: problem";
 * unknown elements and attributes are errors naming them.
 */
#ifndef VMSNAP_VMCONFIG_H
#define VMSNAP_VMCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define VMCONFIG_MAX_DISKS 16
#define VMCONFIG_NAME_MAX 64
#define VMCONFIG_MIN_MEMORY (16ULL << 20)   /* 16 MiB */
#define VMCONFIG_MAX_MEMORY (1ULL << 40)    /* 1 TiB */
#define VMCONFIG_MAX_VCPUS 64

enum vm_lifecycle_action { VM_ACTION_DESTROY, VM_ACTION_RESTART, VM_ACTION_PRESERVE };

struct vm_disk {
	char *path;        /* <source file=...>, as written (may be relative to the VM folder) */
	char target[16];   /* <target dev='vda'> */
	bool readonly;     /* <readonly/> */
};

struct vmconfig {
	char name[VMCONFIG_NAME_MAX + 1];    /* [A-Za-z0-9][A-Za-z0-9._-]{0,63} */
	uint8_t uuid[16];
	uint64_t memory_bytes;               /* <memory unit='MiB'> (any libvirt unit accepted) */
	unsigned vcpus;                      /* <vcpu> */
	char *kernel;                        /* <os><kernel> */
	char *initrd;                        /* <os><initrd>, NULL if none */
	char *cmdline;                       /* <os><cmdline>, NULL if none */
	enum vm_lifecycle_action on_poweroff; /* default destroy */
	enum vm_lifecycle_action on_reboot;   /* default restart */
	int ndisks;
	struct vm_disk disks[VMCONFIG_MAX_DISKS];
	char *description;                   /* <description>, NULL if none */
};

/* Valid VM name? */
bool vmconfig_name_ok(const char *name);

/* Parse and validate a file / a memory buffer (`what` names it in messages). */
struct vmconfig *vmconfig_load(const char *path, struct error *err);
struct vmconfig *vmconfig_parse(const char *buf, size_t len, const char *what,
				struct error *err);
/* A new config with a fresh UUID and defaults (1 vCPU, 512 MiB, destroy/restart). */
struct vmconfig *vmconfig_new(const char *name, struct error *err);
struct vmconfig *vmconfig_dup(const struct vmconfig *c, struct error *err);
void vmconfig_free(struct vmconfig *c);

/* Serialize (libvirt domain XML that validates against domain.rng). malloc'ed. */
char *vmconfig_format(const struct vmconfig *c, struct error *err);
/* Atomic replace of path with vmconfig_format(c), mode 0600. */
int vmconfig_save(const struct vmconfig *c, const char *path, struct error *err);

/* Set fields with validation (EXIT_USAGE on bad values). */
int vmconfig_set_memory(struct vmconfig *c, uint64_t bytes, struct error *err);
int vmconfig_set_vcpus(struct vmconfig *c, unsigned n, struct error *err);
int vmconfig_add_disk(struct vmconfig *c, const char *path, bool readonly, struct error *err);
int vmconfig_set_str(char **field, const char *value, struct error *err);

/* Absolute path of disk i (relative paths are relative to vmdir). malloc'ed. */
char *vmconfig_disk_path(const struct vmconfig *c, int i, const char *vmdir);

/*
 * Additions (vmconfig.c):
 * vmconfig_load() refuses a symbolic link (O_NOFOLLOW: it reads files of the
 * store, EXIT_NOPERM); vmconfig_load_ex(path, VMCONFIG_FOLLOW, err) reads a
 * file the user named. Files over 1 MiB are refused (EXIT_DATAERR).
 */
#define VMCONFIG_FOLLOW 0x1u
struct vmconfig *vmconfig_load_ex(const char *path, unsigned flags, struct error *err);
/* The checks parse applies, for a config built in memory (EXIT_DATAERR):
 * name, UUID not null, memory/vcpu ranges, kernel set, disk paths and
 * targets (vdX, unique), text valid UTF-8 without control characters.
 * vmconfig_format() and vmconfig_save() call it. */
int vmconfig_validate(const struct vmconfig *c, struct error *err);
/* path if absolute, else "<vmdir>/<path>" (kernel, initrd, disks). malloc'ed. */
char *vmconfig_resolve(const char *path, const char *vmdir);

#endif
