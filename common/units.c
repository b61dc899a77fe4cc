#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int units_parse_u64(const char *s, uint64_t *out, struct error *err)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return error_set(err, EXIT_USAGE, "invalid number '%s'", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return error_set(err, EXIT_USAGE, "invalid number '%s'", s);
	*out = v;
	return 0;
}

int units_parse_size(const char *s, uint64_t *out, struct error *err)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "b", 0 }, { "k", 10 }, { "kib", 10 }, { "m", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gib", 30 }, { "t", 40 }, { "tib", 40 },
	};
	char *end;
	unsigned long long v;
	size_t i;

	if (!s || !isdigit((unsigned char)*s))
		return error_set(err, EXIT_USAGE, "invalid size '%s'", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return error_set(err, EXIT_USAGE, "invalid size '%s': too large", s);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
				return error_set(err, EXIT_USAGE, "invalid size '%s': too large", s);
			*out = (uint64_t)v << units[i].shift;
			return 0;
		}
	}
	return error_set(err, EXIT_USAGE,
			 "invalid size '%s': use a number of bytes or a K, M, G or T suffix", s);
}

char *units_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned i = 0;
	uint64_t div = 1;

	while (i < 6 && bytes / div >= 1024) {
		div *= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else if (bytes % div == 0)
		snprintf(buf, size, "%llu %s", (unsigned long long)(bytes / div), names[i]);
	else
		snprintf(buf, size, "%.1f %s", (double)bytes / (double)div, names[i]);
	return buf;
}

char *units_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "invalid");
	return buf;
}
