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
	{ NULL, NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	return cli_main("snapctl", verbs, argc, argv);
}
