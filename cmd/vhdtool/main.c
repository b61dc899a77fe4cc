/* vhdtool — create, inspect, check and access VHD/AVHD images. */
#include "vhdtool.h"

static const struct cli_verb verbs[] = {
	{ "create", cmd_create,
	  "[--type fixed|dynamic] [--block-size SIZE] [--preallocate] [--force] FILE SIZE | --parent PARENT FILE",
	  "create a fixed, dynamic or differencing (child) image" },
	{ "info", cmd_info, "[--chain] [--force] [--json|-H] FILE",
	  "show what a VHD holds: type, sizes, geometry, creator, parent, locators" },
	{ "check", cmd_check, "[--chain] [--json|-H] FILE",
	  "check an image's structure: 0 clean, 2 corrupt, 3 leaks only" },
	{ "read", cmd_read, "[--force] [-o OUT] FILE OFFSET LENGTH",
	  "write LENGTH bytes at OFFSET of the disk (through its chain) to stdout" },
	{ "write", cmd_write, "[-i IN] FILE OFFSET",
	  "write stdin to the disk at OFFSET (into the top layer)" },
	{ "cat", cmd_cat, "[--force] [-o OUT] FILE",
	  "write the whole disk (through its chain) to stdout" },
	{ "merge", cmd_merge, "[--into ANCESTOR] [--keep] [--dry-run] [--force] [--json|-H] CHILD",
	  "merge a differencing child (and layers between) into its parent or an ancestor" },
	{ "convert", cmd_convert,
	  "[-O vhd|raw] [--type fixed|dynamic] [--block-size SIZE] [-f raw|vhd] [--force] [-p] SRC DST",
	  "copy an image (raw, VHD, chain flattened) into a new VHD or sparse raw file" },
	{ "compare", cmd_compare, "[-s] [-f raw|vhd] [-F raw|vhd] [-p] [--json|-H] A B",
	  "compare two images' content: 0 identical, 1 differ, 2 error" },
	{ "map", cmd_map, "[-f raw|vhd] [--json|-H] FILE",
	  "show the allocated ranges of a disk and which chain layer serves each" },
	{ "set-parent", cmd_set_parent, "[--force] [--json|-H] FILE NEWPARENT",
	  "point a differencing child at its moved or copied parent (locators, name, UUID)" },
	{ "resize", cmd_resize, "[--shrink] [--json|-H] FILE SIZE",
	  "grow a disk, or with --shrink shrink it while nothing lies past the new end" },
	{ "compact", cmd_compact, "[--dry-run] [--json|-H] FILE",
	  "drop blocks that hold nothing of their own and shorten the file" },
	{ "repair", cmd_repair, "[--dry-run] [--json|-H] FILE",
	  "rebuild footers, checksums and the file's end from what is intact" },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	return cli_main("vhdtool", verbs, argc, argv);
}
