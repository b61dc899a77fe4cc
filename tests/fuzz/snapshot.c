/*
 * snapshot.c — fuzz target: snapshot_parse() on <domainsnapshot> text.
 *
 * Invariant: a snapshot that parses formats (snapshot_format) to XML that
 * parses again and formats to the same text.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	struct snapshot *s = snapshot_parse((const char *)data, size, "fuzz.xml", &e);

	if (!s)
		return 0;
	char *x1 = snapshot_format(s, &e);
	FUZZ_ASSERT(x1 != NULL);
	struct snapshot *s2 = snapshot_parse(x1, strlen(x1), "formatted.xml", &e);
	FUZZ_ASSERT(s2 != NULL);
	char *x2 = snapshot_format(s2, &e);
	FUZZ_ASSERT(x2 != NULL && strcmp(x1, x2) == 0);
	(void)snapshot_name_ok(s->name);
	free(x1);
	free(x2);
	snapshot_free(s2);
	snapshot_free(s);
	return 0;
}
