/*
 * vmconfig.c — fuzz target: vmconfig_parse() on vm.xml text.
 *
 * Invariant: a definition that parses formats (vmconfig_format) to XML that
 * parses again and formats to the same text (the round trip vmctl set and
 * snapctl apply rely on); vmconfig_dup of it formats the same too.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "vmconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error e;
	struct vmconfig *c = vmconfig_parse((const char *)data, size, "fuzz.xml", &e);

	if (!c)
		return 0;
	char *x1 = vmconfig_format(c, &e);
	FUZZ_ASSERT(x1 != NULL);
	struct vmconfig *c2 = vmconfig_parse(x1, strlen(x1), "formatted.xml", &e);
	FUZZ_ASSERT(c2 != NULL);
	char *x2 = vmconfig_format(c2, &e);
	FUZZ_ASSERT(x2 != NULL && strcmp(x1, x2) == 0);
	struct vmconfig *d = vmconfig_dup(c, &e);
	FUZZ_ASSERT(d != NULL);
	char *x3 = vmconfig_format(d, &e);
	FUZZ_ASSERT(x3 != NULL && strcmp(x1, x3) == 0);
	for (int i = 0; i < c->ndisks; i++)
		free(vmconfig_disk_path(c, i, "/vm"));
	free(x1);
	free(x2);
	free(x3);
	vmconfig_free(d);
	vmconfig_free(c2);
	vmconfig_free(c);
	return 0;
}
