#include "uuid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int uuid_generate(uint8_t out[16])
{
	size_t done = 0;

	while (done < 16) {
		ssize_t n = getrandom(out + done, 16 - done, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	out[6] = (out[6] & 0x0f) | 0x40;
	out[8] = (out[8] & 0x3f) | 0x80;
	return 0;
}

char *uuid_format(const uint8_t u[16], char *buf)
{
	snprintf(buf, UUID_STR_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int uuid_parse(const char *s, uint8_t out[16])
{
	int i = 0;

	if (strlen(s) != 36)
		return -1;
	for (const char *p = s; *p; ) {
		int pos = (int)(p - s);
		if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
			if (*p != '-')
				return -1;
			p++;
			continue;
		}
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || i >= 16)
			return -1;
		out[i++] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	return i == 16 ? 0 : -1;
}

bool uuid_is_null(const uint8_t u[16])
{
	for (int i = 0; i < 16; i++)
		if (u[i])
			return false;
	return true;
}
