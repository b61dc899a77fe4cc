/*
 * vhd_format.h — Microsoft VHD 1.0 on-disk structures: decode/encode pairs.
 *
 * Every field is decoded byte-wise at its named offset; nothing is cast onto
 * file bytes. Decoding never fails: validation is vhd_footer_validate() and
 * vhd_header_validate(), which say exactly what is wrong.
 */
#ifndef VMSNAP_VHD_FORMAT_H
#define VMSNAP_VHD_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

#define VHD_SECTOR 512u
#define VHD_FOOTER_SIZE 512u
#define VHD_HEADER_SIZE 1024u
#define VHD_NO_OFFSET UINT64_MAX
#define VHD_BAT_UNUSED 0xFFFFFFFFu
#define VHD_MAX_SIZE (2040ULL << 30)           /* 2040 GiB */
#define VHD_MIN_BLOCK 4096u                   /* smallest block size we accept */
#define VHD_MAX_BLOCK (256u << 20)
#define VHD_DEFAULT_BLOCK (2u << 20)
#define VHD_EPOCH 946684800                   /* 2000-01-01T00:00:00Z */
#define VHD_NUM_LOCATORS 8
#define VHD_MAX_CHS_SECTORS (65535ULL * 16 * 255)

enum vhd_type { VHD_TYPE_NONE = 0, VHD_TYPE_FIXED = 2, VHD_TYPE_DYNAMIC = 3, VHD_TYPE_DIFF = 4 };

/* platform codes of parent locators */
#define VHD_PLAT_NONE 0u
#define VHD_PLAT_W2RU 0x57327275u /* "W2ru": relative, UTF-16LE */
#define VHD_PLAT_W2KU 0x57326b75u /* "W2ku": absolute, UTF-16LE */
#define VHD_PLAT_WI2R 0x57693272u /* "Wi2r": deprecated relative */
#define VHD_PLAT_WI2K 0x5769326bu /* "Wi2k": deprecated absolute */
#define VHD_PLAT_MAC 0x4d616320u  /* "Mac " */
#define VHD_PLAT_MACX 0x4d616358u /* "MacX": file URL, UTF-8 */

struct vhd_footer {
	char cookie[8];
	uint32_t features;
	uint32_t version;
	uint64_t data_offset;
	uint32_t timestamp;
	char creator_app[4];
	uint32_t creator_version;
	char creator_os[4];
	uint64_t original_size;
	uint64_t current_size;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t type;
	uint32_t checksum;
	uint8_t uuid[16];
	uint8_t saved_state;
};

struct vhd_locator {
	uint32_t code;
	uint32_t space;   /* as stored: bytes (Windows) or sectors (spec) */
	uint32_t length;  /* bytes */
	uint64_t offset;
};

struct vhd_header {
	char cookie[8];
	uint64_t data_offset;
	uint64_t table_offset;
	uint32_t version;
	uint32_t max_entries;
	uint32_t block_size;
	uint32_t checksum;
	uint8_t parent_uuid[16];
	uint32_t parent_timestamp;
	uint8_t parent_name[512]; /* UTF-16BE, as stored */
	struct vhd_locator loc[VHD_NUM_LOCATORS];
};

uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off);

void vhd_footer_decode(struct vhd_footer *f, const uint8_t buf[VHD_FOOTER_SIZE]);
/* Encodes and stores the computed checksum in buf and f->checksum. */
void vhd_footer_encode(struct vhd_footer *f, uint8_t buf[VHD_FOOTER_SIZE]);
void vhd_header_decode(struct vhd_header *h, const uint8_t buf[VHD_HEADER_SIZE]);
void vhd_header_encode(struct vhd_header *h, uint8_t buf[VHD_HEADER_SIZE]);

bool vhd_footer_cookie_ok(const uint8_t buf[VHD_FOOTER_SIZE]);
bool vhd_footer_checksum_ok(const uint8_t buf[VHD_FOOTER_SIZE]);
bool vhd_header_checksum_ok(const uint8_t buf[VHD_HEADER_SIZE]);

/*
 * Field checks that do not need the file: version, type, features, sizes,
 * data_offset all-ones for fixed. `what` names the file in messages.
 * Checksum is not checked here. Returns 0 or -1 (EXIT_DATAERR).
 */
int vhd_footer_validate(const struct vhd_footer *f, const char *what, struct error *err);
int vhd_header_validate(const struct vhd_header *h, uint64_t disk_size, const char *what,
			struct error *err);

/* Geometry by the VHD spec's algorithm (floor, as Windows writes it). */
void vhd_geometry(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt);

time_t vhd_time_to_unix(uint32_t t);
uint32_t vhd_time_from_unix(time_t t);

/* Locator data space in bytes: Windows stores bytes, the spec sectors.
 * Values below 512 are taken as sectors (blktap's rule). */
uint64_t vhd_locator_space_bytes(const struct vhd_locator *l);
/* "W2ru" etc. into buf (5 bytes); returns buf. */
char *vhd_platform_name(uint32_t code, char buf[5]);

/* UTF-16 (le or be) → UTF-8; stops at NUL. -1 on invalid UTF-16. */
int vhd_utf16_to_utf8(const uint8_t *in, size_t in_len, bool big_endian, char *out,
		      size_t out_size);
/* UTF-8 → UTF-16; returns bytes written (no NUL) or -1 if invalid / too long. */
int vhd_utf8_to_utf16(const char *in, bool big_endian, uint8_t *out, size_t out_size);

const char *vhd_type_name(uint32_t type);

#endif
