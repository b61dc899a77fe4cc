#include "vhd_format.h"

#include <stdio.h>
#include <string.h>

#include "endian.h"

uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t csum_off)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += buf[i];
	return ~sum;
}

void vhd_footer_decode(struct vhd_footer *f, const uint8_t b[VHD_FOOTER_SIZE])
{
	memcpy(f->cookie, b + 0, 8);
	f->features = get_be32(b + 8);
	f->version = get_be32(b + 12);
	f->data_offset = get_be64(b + 16);
	f->timestamp = get_be32(b + 24);
	memcpy(f->creator_app, b + 28, 4);
	f->creator_version = get_be32(b + 32);
	memcpy(f->creator_os, b + 36, 4);
	f->original_size = get_be64(b + 40);
	f->current_size = get_be64(b + 48);
	f->cylinders = get_be16(b + 56);
	f->heads = b[58];
	f->sectors = b[59];
	f->type = get_be32(b + 60);
	f->checksum = get_be32(b + 64);
	memcpy(f->uuid, b + 68, 16);
	f->saved_state = b[84];
}

void vhd_footer_encode(struct vhd_footer *f, uint8_t b[VHD_FOOTER_SIZE])
{
	memset(b, 0, VHD_FOOTER_SIZE);
	memcpy(b + 0, f->cookie, 8);
	put_be32(b + 8, f->features);
	put_be32(b + 12, f->version);
	put_be64(b + 16, f->data_offset);
	put_be32(b + 24, f->timestamp);
	memcpy(b + 28, f->creator_app, 4);
	put_be32(b + 32, f->creator_version);
	memcpy(b + 36, f->creator_os, 4);
	put_be64(b + 40, f->original_size);
	put_be64(b + 48, f->current_size);
	put_be16(b + 56, f->cylinders);
	b[58] = f->heads;
	b[59] = f->sectors;
	put_be32(b + 60, f->type);
	memcpy(b + 68, f->uuid, 16);
	b[84] = f->saved_state;
	f->checksum = vhd_checksum(b, VHD_FOOTER_SIZE, 64);
	put_be32(b + 64, f->checksum);
}

void vhd_header_decode(struct vhd_header *h, const uint8_t b[VHD_HEADER_SIZE])
{
	memcpy(h->cookie, b + 0, 8);
	h->data_offset = get_be64(b + 8);
	h->table_offset = get_be64(b + 16);
	h->version = get_be32(b + 24);
	h->max_entries = get_be32(b + 28);
	h->block_size = get_be32(b + 32);
	h->checksum = get_be32(b + 36);
	memcpy(h->parent_uuid, b + 40, 16);
	h->parent_timestamp = get_be32(b + 56);
	memcpy(h->parent_name, b + 64, 512);
	for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
		const uint8_t *l = b + 576 + 24 * i;
		h->loc[i].code = get_be32(l);
		h->loc[i].space = get_be32(l + 4);
		h->loc[i].length = get_be32(l + 8);
		h->loc[i].offset = get_be64(l + 16);
	}
}

void vhd_header_encode(struct vhd_header *h, uint8_t b[VHD_HEADER_SIZE])
{
	memset(b, 0, VHD_HEADER_SIZE);
	memcpy(b + 0, h->cookie, 8);
	put_be64(b + 8, h->data_offset);
	put_be64(b + 16, h->table_offset);
	put_be32(b + 24, h->version);
	put_be32(b + 28, h->max_entries);
	put_be32(b + 32, h->block_size);
	memcpy(b + 40, h->parent_uuid, 16);
	put_be32(b + 56, h->parent_timestamp);
	memcpy(b + 64, h->parent_name, 512);
	for (int i = 0; i < VHD_NUM_LOCATORS; i++) {
		uint8_t *l = b + 576 + 24 * i;
		put_be32(l, h->loc[i].code);
		put_be32(l + 4, h->loc[i].space);
		put_be32(l + 8, h->loc[i].length);
		put_be64(l + 16, h->loc[i].offset);
	}
	h->checksum = vhd_checksum(b, VHD_HEADER_SIZE, 36);
	put_be32(b + 36, h->checksum);
}

bool vhd_footer_cookie_ok(const uint8_t b[VHD_FOOTER_SIZE])
{
	return memcmp(b, "conectix", 8) == 0;
}

bool vhd_footer_checksum_ok(const uint8_t b[VHD_FOOTER_SIZE])
{
	return get_be32(b + 64) == vhd_checksum(b, VHD_FOOTER_SIZE, 64);
}

bool vhd_header_checksum_ok(const uint8_t b[VHD_HEADER_SIZE])
{
	return get_be32(b + 36) == vhd_checksum(b, VHD_HEADER_SIZE, 36);
}

const char *vhd_type_name(uint32_t type)
{
	switch (type) {
	case VHD_TYPE_FIXED: return "fixed";
	case VHD_TYPE_DYNAMIC: return "dynamic";
	case VHD_TYPE_DIFF: return "differencing";
	default: return "unknown";
	}
}

int vhd_footer_validate(const struct vhd_footer *f, const char *what, struct error *err)
{
	if (memcmp(f->cookie, "conectix", 8) != 0)
		return error_set(err, EXIT_DATAERR, "'%s' is not a VHD: no 'conectix' footer", what);
	if ((f->version >> 16) != 1)
		return error_set(err, EXIT_DATAERR, "'%s': unsupported VHD version %u.%u", what,
				 f->version >> 16, f->version & 0xffff);
	if (f->type != VHD_TYPE_FIXED && f->type != VHD_TYPE_DYNAMIC && f->type != VHD_TYPE_DIFF)
		return error_set(err, EXIT_DATAERR, "'%s': unknown disk type %u", what, f->type);
	if (f->current_size > VHD_MAX_SIZE)
		return error_set(err, EXIT_DATAERR,
				 "'%s': size %llu bytes exceeds the VHD maximum of 2040 GiB", what,
				 (unsigned long long)f->current_size);
	if (f->current_size % VHD_SECTOR)
		return error_set(err, EXIT_DATAERR, "'%s': size %llu is not a multiple of 512",
				 what, (unsigned long long)f->current_size);
	if (f->type == VHD_TYPE_FIXED) {
		if (f->data_offset != VHD_NO_OFFSET)
			return error_set(err, EXIT_DATAERR,
					 "'%s': fixed disk footer has data offset 0x%llx, not all ones",
					 what, (unsigned long long)f->data_offset);
	} else if (f->data_offset == VHD_NO_OFFSET || f->data_offset % VHD_SECTOR ||
		   f->data_offset < VHD_FOOTER_SIZE) {
		return error_set(err, EXIT_DATAERR, "'%s': bad dynamic header offset 0x%llx", what,
				 (unsigned long long)f->data_offset);
	}
	return 0;
}

int vhd_header_validate(const struct vhd_header *h, uint64_t disk_size, const char *what,
			struct error *err)
{
	uint64_t need;

	if (memcmp(h->cookie, "cxsparse", 8) != 0)
		return error_set(err, EXIT_DATAERR, "'%s': dynamic header has no 'cxsparse' cookie",
				 what);
	if ((h->version >> 16) != 1)
		return error_set(err, EXIT_DATAERR, "'%s': unsupported dynamic header version %u.%u",
				 what, h->version >> 16, h->version & 0xffff);
	if (h->block_size == 0 || (h->block_size & (h->block_size - 1)) ||
	    h->block_size < VHD_MIN_BLOCK || h->block_size > VHD_MAX_BLOCK)
		return error_set(err, EXIT_DATAERR,
				 "'%s': block size %u is not a power of two between 4 KiB and 256 MiB",
				 what, h->block_size);
	need = (disk_size + h->block_size - 1) / h->block_size;
	if (h->max_entries < need)
		return error_set(err, EXIT_DATAERR,
				 "'%s': block table has %u entries, the disk size needs %llu", what,
				 h->max_entries, (unsigned long long)need);
	if (h->max_entries > VHD_MAX_SIZE / VHD_MIN_BLOCK)
		return error_set(err, EXIT_DATAERR, "'%s': block table of %u entries is too large",
				 what, h->max_entries);
	if (h->table_offset % VHD_SECTOR || h->table_offset == VHD_NO_OFFSET)
		return error_set(err, EXIT_DATAERR, "'%s': bad block table offset 0x%llx", what,
				 (unsigned long long)h->table_offset);
	return 0;
}

void vhd_geometry(uint64_t size, uint16_t *cyl, uint8_t *heads, uint8_t *spt)
{
	uint64_t total = size / VHD_SECTOR, cth;
	unsigned h, s;

	if (total > VHD_MAX_CHS_SECTORS)
		total = VHD_MAX_CHS_SECTORS;
	if (total >= 65535ULL * 16 * 63) {
		s = 255;
		h = 16;
		cth = total / s;
	} else {
		s = 17;
		cth = total / s;
		h = (unsigned)((cth + 1023) / 1024);
		if (h < 4)
			h = 4;
		if (cth >= h * 1024ULL || h > 16) {
			s = 31;
			h = 16;
			cth = total / s;
		}
		if (cth >= h * 1024ULL) {
			s = 63;
			h = 16;
			cth = total / s;
		}
	}
	*cyl = (uint16_t)(cth / h > 65535 ? 65535 : cth / h);
	*heads = (uint8_t)h;
	*spt = (uint8_t)s;
}

time_t vhd_time_to_unix(uint32_t t)
{
	return (time_t)t + VHD_EPOCH;
}

uint32_t vhd_time_from_unix(time_t t)
{
	if (t < VHD_EPOCH)
		return 0;
	if ((uint64_t)(t - VHD_EPOCH) > UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)(t - VHD_EPOCH);
}

uint64_t vhd_locator_space_bytes(const struct vhd_locator *l)
{
	return l->space < 512 ? (uint64_t)l->space * VHD_SECTOR : l->space;
}

char *vhd_platform_name(uint32_t code, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		uint8_t c = (uint8_t)(code >> (24 - 8 * i));
		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[4] = '\0';
	return buf;
}

int vhd_utf16_to_utf8(const uint8_t *in, size_t in_len, bool be, char *out, size_t out_size)
{
	size_t o = 0;

	for (size_t i = 0; i + 1 < in_len; i += 2) {
		uint32_t cp = be ? get_be16(in + i) : get_le16(in + i);
		if (cp == 0)
			break;
		if (cp >= 0xD800 && cp < 0xDC00) {
			if (i + 3 >= in_len)
				return -1;
			uint32_t lo = be ? get_be16(in + i + 2) : get_le16(in + i + 2);
			if (lo < 0xDC00 || lo >= 0xE000)
				return -1;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			i += 2;
		} else if (cp >= 0xDC00 && cp < 0xE000) {
			return -1;
		}
		uint8_t tmp[4];
		size_t n;
		if (cp < 0x80) {
			tmp[0] = (uint8_t)cp;
			n = 1;
		} else if (cp < 0x800) {
			tmp[0] = (uint8_t)(0xC0 | cp >> 6);
			tmp[1] = (uint8_t)(0x80 | (cp & 0x3F));
			n = 2;
		} else if (cp < 0x10000) {
			tmp[0] = (uint8_t)(0xE0 | cp >> 12);
			tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
			tmp[2] = (uint8_t)(0x80 | (cp & 0x3F));
			n = 3;
		} else {
			tmp[0] = (uint8_t)(0xF0 | cp >> 18);
			tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
			tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
			tmp[3] = (uint8_t)(0x80 | (cp & 0x3F));
			n = 4;
		}
		if (o + n + 1 > out_size)
			return -1;
		memcpy(out + o, tmp, n);
		o += n;
	}
	if (o + 1 > out_size)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int vhd_utf8_to_utf16(const char *in, bool be, uint8_t *out, size_t out_size)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t o = 0;

	while (*p) {
		uint32_t cp;
		int extra;
		if (*p < 0x80) {
			cp = *p;
			extra = 0;
		} else if ((*p & 0xE0) == 0xC0) {
			cp = *p & 0x1F;
			extra = 1;
		} else if ((*p & 0xF0) == 0xE0) {
			cp = *p & 0x0F;
			extra = 2;
		} else if ((*p & 0xF8) == 0xF0) {
			cp = *p & 0x07;
			extra = 3;
		} else {
			return -1;
		}
		p++;
		for (int k = 0; k < extra; k++, p++) {
			if ((*p & 0xC0) != 0x80)
				return -1;
			cp = cp << 6 | (*p & 0x3F);
		}
		uint16_t units[2];
		int nu = 1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[0] = (uint16_t)(0xD800 | cp >> 10);
			units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
			nu = 2;
		} else {
			units[0] = (uint16_t)cp;
		}
		for (int k = 0; k < nu; k++) {
			if (o + 2 > out_size)
				return -1;
			if (be)
				put_be16(out + o, units[k]);
			else
				put_le16(out + o, units[k]);
			o += 2;
		}
	}
	return (int)o;
}
