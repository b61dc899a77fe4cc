#include "crashpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void crashpoint(const char *name)
{
	static const char *spec;
	static int checked, hits;
	size_t n;

	if (!checked) {
		spec = getenv("VMSNAP_CRASHPOINT");
		checked = 1;
	}
	if (!spec)
		return;
	n = strlen(name);
	if (strncmp(spec, name, n) != 0 || (spec[n] != '\0' && spec[n] != ':'))
		return;
	hits++;
	if (spec[n] == '\0' || strtol(spec + n + 1, NULL, 10) == hits)
		raise(SIGKILL);
}
