/* lib.c — the few libc pieces the guest needs (gcc may call mem* itself). */
#include "guest.h"

/* gcc would turn the loops below into calls to themselves */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *a = d;
	const uint8_t *b = s;

	while (n >= 8) {
		uint64_t v;
		__builtin_memcpy(&v, b, 8);
		__builtin_memcpy(a, &v, 8);
		a += 8;
		b += 8;
		n -= 8;
	}
	while (n--)
		*a++ = *b++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	uint8_t *a = d;
	const uint8_t *b = s;

	if (a <= b || a >= b + n)
		return memcpy(d, s, n);
	while (n--)
		a[n] = b[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *a = d;

	while (n--)
		*a++ = (uint8_t)c;
	return d;
}

int memcmp(const void *x, const void *y, size_t n)
{
	const uint8_t *a = x, *b = y;

	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

void l_chr(struct line *l, char c)
{
	if (l->n < sizeof(l->s))
		l->s[l->n++] = c;
}

void l_str(struct line *l, const char *s)
{
	while (*s)
		l_chr(l, *s++);
}

void l_dec(struct line *l, uint64_t v)
{
	char b[20];
	int n = 0;

	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		l_chr(l, b[--n]);
}

void l_hex(struct line *l, uint64_t v, int digits)
{
	int d = digits;

	if (!d)
		for (d = 1; d < 16 && (v >> (4 * d)); d++)
			;
	while (d--)
		l_chr(l, "0123456789abcdef"[(v >> (4 * d)) & 15]);
}

void l_hexbytes(struct line *l, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		l_hex(l, p[i], 2);
}

uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
