#!/usr/bin/env bats
# snapctl undo: apply --save-current snapshots "now" first; undo goes back to
# it (disk contents, configuration, layer files) and drops it unless --keep.

load helpers

load snapctl-helpers

@test "apply --save-current, then undo: exactly the state before the apply" {
	mkvm
	put 1 0 65536
	cp v.model mA
	snapctl create v A
	a=$(uuid v A)
	put 2 4096 8192
	vmctl set v --memory 96M --cpus 2
	cp "$VMCTL_ROOT/v/vm.xml" before.xml
	cp v.model before.model
	files=$(layers) now=$(src)
	run_tool 0 snapctl apply --json --save-current v A
	s=$(jq -r .saved_current <<<"$stdout")
	assert_equal "$(jq -r '[.applied, .state] | join(" ")' <<<"$stdout")" "$a stopped"
	assert_equal "$(cat "$VMCTL_ROOT/v/undo")" "$s"
	name=$(snapctl show --json v "$s" | jq -r .name)
	[[ $name =~ ^Before\ applying\ \'A\'\ \([0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}\)$ ]] || { echo "name: $name"; false; }
	assert_equal "$(snapctl show --json v "$s" | jq -r '[.parent, .type] | join(" ")')" "A offline"
	holds "$(src)" mA
	assert_equal "$(vmctl dumpxml v | grep -c '<vcpu placement="static">1</vcpu>')" 1
	sound
	run_tool 0 snapctl undo --json v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","applied","saved_current","state"]'
	assert_equal "$(jq -r '[.vm, .applied, .saved_current, .state] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v $s null stopped"
	cmp before.xml "$VMCTL_ROOT/v/vm.xml"
	assert_equal "$(layers)" "$files"
	assert_equal "$(src)" "$now"
	holds "$(src)" before.model
	# the automatic snapshot is gone, A is current again, nothing left to undo
	assert_equal "$(snapctl list -H v | cut -f1)" A
	assert_equal "$(snapctl current v | cut -f1)" A
	[ ! -e "$VMCTL_ROOT/v/undo" ]
	run_tool 66 snapctl undo v
	assert_output "snapctl: VM 'v' has nothing to undo (no apply --save-current)"
	sound
}

@test "undo --keep keeps the snapshot --save-current=NAME made; undo after other applies" {
	mkvm
	put 1 0 4096
	snapctl create v A
	put 2 0 4096
	snapctl create v B
	put 3 0 4096
	cp v.model mine
	run_tool 0 snapctl apply --save-current=Mine v A
	assert_line --partial "saved the current state as snapshot $(uuid v Mine) (undo returns to it)"
	snapctl apply -y v B # not --save-current: undo still returns to Mine
	run_tool 0 snapctl undo --keep v
	assert_output "returned to snapshot $(uuid v Mine) to VM 'v': stopped"
	holds "$(src)" mine
	assert_equal "$(snapctl current v | cut -f1)" Mine
	assert_equal "$(snapctl show --json v Mine | jq -r .parent)" B
	assert_equal "$(snapctl list -H v | cut -f1 | sort | paste -sd' ' -)" "A B Mine"
	run_tool 66 snapctl undo v
	sound
}

@test "undo: unknown VM 66, bad arguments 64, busy 75, its snapshot deleted 66" {
	mkvm
	snapctl create v A
	put 1 0 4096
	snapctl apply --save-current=S v A
	run_tool 66 snapctl undo nope
	run_tool 64 snapctl undo
	run_tool 64 snapctl undo v A
	run_tool 64 snapctl undo --json -H v
	run_tool 64 snapctl undo --wait=-1 v
	busy v
	run_tool 75 snapctl undo v
	assert_output "$(BUSY_MSG v)"
	[ -e "$VMCTL_ROOT/v/undo" ]
	kill "$HOLDER"
	busy v 0.3
	run_tool 0 snapctl undo --keep --wait=30 v
	snapctl apply --save-current=T v A
	snapctl delete v T
	run_tool 66 snapctl undo v
	assert_output --partial "no snapshot '"
	sound
}

@test "apply --save-current of a running VM saves it online; undo resumes it" {
	requires_kvm
	mkvm
	snapctl create v A
	guest_start v
	gput v 1 0 16
	guest v fill 3 4 >/dev/null
	c0=$(guest_value v counter)
	run_tool 0 snapctl apply --json --save-current v A
	assert_equal "$(jq -r .state <<<"$stdout")" stopped # A is offline
	s=$(jq -r .saved_current <<<"$stdout")
	assert_equal "$(snapctl show --json v "$s" | jq -r .type)" online
	assert_equal "$(vmctl status --json v | jq -r .state)" stopped
	run_tool 0 snapctl undo v
	assert_output --partial ": running"
	assert_equal "$(guest v verify 3 4)" ok
	[ "$(guest_value v counter)" -ge "$c0" ]
	assert_equal "$(guest_value v blk sum 0 16)" "$(head -c 8192 v.model | test-tool fnv -)"
	run_tool 0 vmctl stop --force v
	[ ! -e "$VMCTL_ROOT/v/snapshots/$s.bin" ] && [ ! -e "$VMCTL_ROOT/v/snapshots/$s.vsv" ]
	holds "$(src)" v.model
	sound
}
