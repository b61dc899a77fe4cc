/* uuid.h — 16-byte UUIDs as stored in VHD files (byte order as printed). */
#ifndef VMSNAP_UUID_H
#define VMSNAP_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UUID_STR_LEN 37

/* Random version-4 UUID from getrandom(); 0 or -1 with errno. */
int uuid_generate(uint8_t out[16]);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; buf must hold UUID_STR_LEN. */
char *uuid_format(const uint8_t u[16], char *buf);
/* Parse the canonical form; 0 or -1. */
int uuid_parse(const char *s, uint8_t out[16]);
bool uuid_is_null(const uint8_t u[16]);

#endif
