/* opening an image of a given or detected format */
#include "image.h"

#include <string.h>

#include "vhd.h"

struct disk *vhdtool_open_image(const char *path, const char *fmt, struct error *err)
{
	struct vhd *v;

	if (!fmt)
		return disk_open(path, DISK_RDONLY, err);
	if (strcmp(fmt, "raw") == 0)
		return disk_open(path, DISK_RDONLY | DISK_RAW, err);
	if (strcmp(fmt, "vhd") == 0 || strcmp(fmt, "vpc") == 0) {
		v = vhd_open(path, DISK_RDONLY, err);
		return v ? &v->disk : NULL;
	}
	error_set(err, EXIT_USAGE, "unknown image format '%s': use raw or vhd", fmt);
	return NULL;
}

int vhdtool_check_format(struct cli *cli, const char *option, const char *fmt)
{
	if (!fmt || strcmp(fmt, "raw") == 0 || strcmp(fmt, "vhd") == 0 || strcmp(fmt, "vpc") == 0)
		return CLI_CONTINUE;
	return cli_usage_error(cli, "unknown %s '%s': use raw or vhd", option, fmt);
}
