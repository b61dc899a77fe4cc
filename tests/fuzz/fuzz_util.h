/*
 * fuzz_util.h — helpers shared by the libFuzzer targets (tests/fuzz/<target>.c).
 *
 * Every target defines LLVMFuzzerTestOneInput(); `make fuzz` links it with
 * libFuzzer (clang -fsanitize=fuzzer,address,undefined), and `make check`
 * links the same file with replay_main.c into $(BUILD)/fuzz-replay/<target>,
 * which runs it once per file named on its command line (regressions).
 */
#ifndef VMSNAP_FUZZ_UTIL_H
#define VMSNAP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private temporary folder for this process (created on first use in
 * $FUZZ_TMPDIR, else /dev/shm, else $TMPDIR or /tmp; removed at exit).
 * Never returns NULL: it aborts if it cannot make one. */
const char *fuzz_tmpdir(void);
/* "<fuzz_tmpdir()>/<name>" in buf; returns buf. */
char *fuzz_path(char *buf, size_t size, const char *name);
/* Replace file `path` with len bytes of data (aborts on I/O errors). */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* Fail loudly on a broken invariant (a crash libFuzzer reports). */
#define FUZZ_ASSERT(cond)                                                        \
	do {                                                                     \
		if (!(cond))                                                     \
			fuzz_fail(__FILE__, __LINE__, #cond);                    \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
