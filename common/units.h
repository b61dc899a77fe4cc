/* units.h — sizes and times as users write and read them. */
#ifndef VMSNAP_UNITS_H
#define VMSNAP_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/*
 * Parse "1048576", "512K", "4M", "4G", "1T", "4GiB", "4g": binary multiples,
 * integers only. Returns 0, or -1 (EXIT_USAGE) for junk or overflow.
 */
int units_parse_size(const char *s, uint64_t *out, struct error *err);
/* Parse a plain unsigned integer (decimal or 0x hex) with overflow check. */
int units_parse_u64(const char *s, uint64_t *out, struct error *err);

/* "4 MiB" / "1.5 GiB" / "512 B" into buf; returns buf. */
char *units_format_size(uint64_t bytes, char *buf, size_t size);

/* RFC 3339 UTC, "2026-11-26T03:00:12Z"; returns buf. */
char *units_format_time(time_t t, char *buf, size_t size);

#endif
