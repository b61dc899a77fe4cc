/* snapctl — the snapshot tree of a VM: create, list, apply/undo, delete, … */
#include "snapctl.h"

static const struct cli_verb verbs[] = {
	{ "create", cmd_create, "[-d DESC] [--disk-only] [--wait[=SECS]] [--json] VM [NAME]",
	  "take a snapshot (online with RAM and state when the VM runs)" },
	{ "list", cmd_list, "[--tree] [--json|-H] VM", "list the snapshots (--tree draws branches)" },
	{ "show", cmd_show, "[--json|--xml] VM SNAP", "everything a snapshot recorded" },
	{ "current", cmd_current, "[--json|-H] VM", "the current snapshot (the parent of now)" },
	{ "apply", cmd_apply,
	  "[--save-current[=NAME]] [--running|--paused|--stopped] [-y] [--wait[=SECS]] VM SNAP",
	  "go back to a snapshot (now gets fresh layers; online snapshots resume)" },
	{ "undo", cmd_undo, "[--keep] [--wait[=SECS]] VM",
	  "return to the state the last apply --save-current saved" },
	{ "delete", cmd_delete, "[--subtree] [--dry-run] [--wait[=SECS]] [--json] VM SNAP...",
	  "remove snapshots; disk layers merge where one child remains" },
	{ "rename", cmd_rename, "[--wait[=SECS]] VM SNAP NEWNAME", "rename a snapshot" },
	{ "describe", cmd_describe, "-d TEXT [--wait[=SECS]] VM SNAP", "set a snapshot's description" },
	{ "export", cmd_export, "[--snapshot SNAP] [-o FILE|-] [--force] [--wait[=SECS]] [--json] VM",
	  "write the VM with all snapshots (or one snapshot as a standalone VM) as a tar stream" },
	{ "import", cmd_import, "[--name NEW] [--new-id] [--dest DIR] [--json] FILE|-",
	  "register a VM from an export stream, verifying every checksum first" },
	{ "prune", cmd_prune,
	  "[--keep-last N] [--older-than DURATION] [--match GLOB] [--dry-run] [--wait[=SECS]] [--json] VM|--all",
	  "delete old snapshots (never the current one); for cron" },
	{ "du", cmd_du, "[--json|-H] VM", "disk space of each snapshot: exclusive and shared bytes" },
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	return cli_main("snapctl", verbs, argc, argv);
}
