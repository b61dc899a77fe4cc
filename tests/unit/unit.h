/* unit.h — a very small C test harness: TEST() registers, CHECK() records. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

typedef void (*unit_fn)(void);
void unit_register(const char *name, unit_fn fn);
extern int unit_failed_checks;

#define TEST(name)                                                           \
	static void test_##name(void);                                       \
	__attribute__((constructor)) static void reg_##name(void)            \
	{                                                                    \
		unit_register(#name, test_##name);                           \
	}                                                                    \
	static void test_##name(void)

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "#   %s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                            \
			unit_failed_checks++;                                \
		}                                                            \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                   \
	do {                                                                 \
		unsigned long long a_ = (unsigned long long)(a),             \
				   b_ = (unsigned long long)(b);             \
		if (a_ != b_) {                                              \
			fprintf(stderr, "#   %s:%d: %s == %llu, expected %llu\n", \
				__FILE__, __LINE__, #a, a_, b_);             \
			unit_failed_checks++;                                \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *a_ = (a), *b_ = (b);                             \
		if (!a_ || strcmp(a_, b_) != 0) {                            \
			fprintf(stderr, "#   %s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_); \
			unit_failed_checks++;                                \
		}                                                            \
	} while (0)

/* A fresh temporary folder for this test (removed at exit). */
const char *unit_tmpdir(void);

#endif
