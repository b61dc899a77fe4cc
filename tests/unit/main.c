/* Runs every registered unit test; TAP-like lines, then "unit: N passed, N failed". */
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#define MAX_TESTS 256

static struct { const char *name; unit_fn fn; } tests[MAX_TESTS];
static int ntests;
int unit_failed_checks;
static char tmpdir[256];

void unit_register(const char *name, unit_fn fn)
{
	if (ntests < MAX_TESTS) {
		tests[ntests].name = name;
		tests[ntests].fn = fn;
		ntests++;
	}
}

const char *unit_tmpdir(void)
{
	return tmpdir;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char cmd[512];

	for (int i = 0; i < ntests; i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		snprintf(tmpdir, sizeof(tmpdir), "%s/unit.XXXXXX", base);
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			return 1;
		}
		int before = unit_failed_checks;
		tests[i].fn();
		if (unit_failed_checks == before) {
			printf("ok %d - %s\n", i + 1, tests[i].name);
			passed++;
		} else {
			printf("not ok %d - %s\n", i + 1, tests[i].name);
			failed++;
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", tmpdir);
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
