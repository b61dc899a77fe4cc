/* vhdtool.h — verbs of vhdtool (one file each once past ~100 lines). */
#ifndef VHDTOOL_H
#define VHDTOOL_H

#include "cli.h"

int cmd_create(struct cli *cli, int argc, const char **argv);
int cmd_info(struct cli *cli, int argc, const char **argv);
int cmd_check(struct cli *cli, int argc, const char **argv);
int cmd_read(struct cli *cli, int argc, const char **argv);
int cmd_write(struct cli *cli, int argc, const char **argv);
int cmd_cat(struct cli *cli, int argc, const char **argv);
int cmd_merge(struct cli *cli, int argc, const char **argv);
int cmd_convert(struct cli *cli, int argc, const char **argv);
int cmd_compare(struct cli *cli, int argc, const char **argv);
int cmd_map(struct cli *cli, int argc, const char **argv);
int cmd_set_parent(struct cli *cli, int argc, const char **argv);
int cmd_resize(struct cli *cli, int argc, const char **argv);
int cmd_compact(struct cli *cli, int argc, const char **argv);
int cmd_repair(struct cli *cli, int argc, const char **argv);

#endif
