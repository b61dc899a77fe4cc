#!/usr/bin/env bats
# Deleting a snapshot whose merge touches the running VM's write layer: the
# merge is recorded as pending and done by the first command after the stop.

load helpers

src() { vmctl dumpxml "$1" | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | head -1; }

@test "delete while running: pending merge, done after the stop, contents kept" {
	requires_kvm
	vhdtool create d.vhd 32M
	guest_vm g 1 "$W/d.vhd"
	guest_start g
	guest g blk write 3 0 32 >/dev/null
	run_tool 0 snapctl create g S1
	guest g blk write 4 100 32 >/dev/null
	guest g blk flush >/dev/null
	layer=$(src g)
	run_tool 0 snapctl delete g S1
	assert_output --partial "pending: merge '$layer' into '$W/d.vhd'"
	[ -f "$VMCTL_ROOT/g/pending-merges" ] && [ -f "$layer" ]
	run_tool 0 snapctl list --json g
	assert_equal "$(jq '.snapshots | length' <<<"$stdout")" 0
	run_tool 0 vmctl stop --force g
	# the next command that locks the VM does the merge
	run_tool 0 vmctl set g --cpus 1
	[ ! -e "$VMCTL_ROOT/g/pending-merges" ] && [ ! -e "$layer" ]
	assert_equal "$(src g)" "$W/d.vhd"
	cmp <(vhdtool read d.vhd 0 16384) <(test-tool pattern 3 16384)
	cmp <(vhdtool read d.vhd 51200 16384) <(test-tool pattern 4 16384)
	run_tool 0 vhdtool check d.vhd
}
