/* vmconfig_int.h — checks shared by vmconfig.c and vmconfig_parse.c. */
#ifndef VMSNAP_VMCONFIG_INT_H
#define VMSNAP_VMCONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmconfig.h"

#define VMCONFIG_MAX_FILE (1 << 20) /* a definition is at most 1 MiB */
#define NAME_RULE "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

/* Each returns NULL when the value is fine, else a message in buf. */
const char *vmconfig_memory_problem(uint64_t bytes, char *buf, size_t size);
const char *vmconfig_vcpus_problem(uint64_t n, char *buf, size_t size);
/* Text XML 1.0 can carry: valid UTF-8 without control characters. */
const char *vmconfig_text_problem(const char *s);
/* vda .. vdzzz */
bool vmconfig_target_ok(const char *t);
/* destroy | restart | preserve; 0 or -1 */
int vmconfig_action_parse(const char *s, enum vm_lifecycle_action *a);

#endif
