/* image.h — opening an image of a given or detected format (convert, compare, map). */
#ifndef VHDTOOL_IMAGE_H
#define VHDTOOL_IMAGE_H

#include "cli.h"
#include "disk.h"
#include "error.h"

/*
 * Open path read-only as fmt: "raw", "vhd" (or qemu's name "vpc"), or NULL
 * to detect (a VHD footer at the end or at offset 0 makes it a VHD, chains
 * included). NULL with err set: 66 missing, 65 not a valid VHD, 64 unknown fmt.
 */
struct disk *vhdtool_open_image(const char *path, const char *fmt, struct error *err);

/* CLI_CONTINUE when fmt is NULL or a known format, else a usage error (64)
 * naming the option. */
int vhdtool_check_format(struct cli *cli, const char *option, const char *fmt);

#endif
