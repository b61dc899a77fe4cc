#!/usr/bin/env bats
# snapctl delete: a frozen layer merges with its only child (one layer fewer,
# same contents), a layer with several children stays, --dry-run changes
# nothing, --subtree, several at once, a running VM's pending merge; failures.

load helpers

load snapctl-helpers

# two snapshots in a row: S1 froze v.vhd (m1), S2 froze v_<u1>.avhd (m2), now
# is v_<u2>.avhd (v.model)
two() {
	mkvm
	put 1 0 65536
	cp v.model m1
	snapctl create v S1
	put 2 65536 65536
	cp v.model m2
	snapctl create v S2
	put 3 0 4096
	u1=$(uuid v S1) u2=$(uuid v S2)
	D=$(cd disks && pwd -P)
}

@test "delete: the frozen layer merges with its only child; one layer fewer, same contents" {
	two
	assert_equal "$(chain "$(src)")" "v_$u2.avhd v_$u1.avhd v.vhd"
	size=$(($(stat -c '%b * %B' "disks/v_$u1.avhd")))  # allocated bytes
	run_tool 0 snapctl delete --json v S1
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","dry_run","plan","bytes_freed"]'
	assert_equal "$(jq -r '[.vm, .dry_run, .bytes_freed] | map(tostring) | join(" ")' <<<"$stdout")" "v false $size"
	assert_equal "$(jq -r '.plan[]' <<<"$stdout")" "$(printf '%s\n' "remove snapshot 'S1' ($u1)" \
		"merge '$D/v_$u1.avhd' into '$D/v.vhd', then remove it" "snapshot 'S2' moves up to the root")"
	assert_equal "$(layers)" "v.vhd v_$u2.avhd"
	assert_equal "$(chain "$(src)")" "v_$u2.avhd v.vhd"
	holds "$(src)" v.model
	holds disks/v.vhd m2
	# S2 now names the merged layer and has no parent
	assert_equal "$(snapctl show --json v S2 | jq -r '[.disks[0].file, .parent] | map(tostring) | join(" ")')" "$D/v.vhd null"
	! grep -q '<parent>' "$VMCTL_ROOT/v/snapshots/$u2.xml"
	[ ! -e "$VMCTL_ROOT/v/snapshots/$u1.xml" ]
	sound
	run_tool 0 snapctl list --tree v
	assert_equal "$(sed 's/ (.*//' <<<"$stdout")" "$(printf '%s\n' S2 '└─ Now')"
}

@test "delete the current snapshot: its layer merges with now's; its parent becomes current" {
	two
	run_tool 0 snapctl delete v S2
	assert_line "merge '$D/v_$u2.avhd' into '$D/v_$u1.avhd', then remove it"
	assert_line "the current snapshot becomes S1"
	assert_equal "$(src)" "$D/v_$u1.avhd"
	assert_equal "$(layers)" "v.vhd v_$u1.avhd"
	assert_equal "$(chain "$(src)")" "v_$u1.avhd v.vhd"
	holds "$(src)" v.model
	holds disks/v.vhd m1
	assert_equal "$(snapctl current v | cut -f1)" S1
	sound
	# and the last one: now ends up in the base disk
	run_tool 0 snapctl delete v S1
	assert_line "the current snapshot becomes none"
	assert_equal "$(src)" "$D/v.vhd"
	assert_equal "$(layers)" v.vhd
	holds disks/v.vhd v.model
	[ ! -e "$VMCTL_ROOT/v/current" ]
	assert_equal "$(snapctl list -H v)" ""
	sound
}

@test "delete: a layer with several children stays until one remains" {
	two
	snapctl apply -y v S1
	cp m1 v.model
	put 4 8192 4096
	cp v.model m3
	snapctl create v S3
	u3=$(uuid v S3)
	b=$(basename "$(snapctl show --json v S3 | jq -r '.disks[0].file')")
	put 5 0 4096
	disks=$(cd disks && sha256sum *)
	run_tool 0 snapctl delete v S1
	assert_line "keep '$D/v.vhd' (2 layers depend on it)"
	assert_equal "$(cd disks && sha256sum *)" "$disks"
	assert_equal "$(snapctl list --tree v | sed 's/ (.*//')" "$(printf '%s\n' S2 S3 '└─ Now')"
	sound
	# S2's layer has no child left (its now was discarded by the apply): it goes
	run_tool 0 snapctl delete v S2
	assert_line "remove '$D/v_$u1.avhd' (nothing depends on it)"
	assert_equal "$(layers)" "$(printf '%s\n' v.vhd "$b" "$(basename "$(src)")" | sort | paste -sd' ' -)"
	holds "$(src)" v.model
	holds "$D/$b" m3
	# the last snapshot: its layer and now's merge
	run_tool 0 snapctl delete v S3
	assert_equal "$(layers)" "v.vhd $b"
	assert_equal "$(chain "$(src)")" "$b v.vhd"
	holds "$(src)" v.model
	sound
}

@test "delete --dry-run changes nothing (sha256 of every file) and plans what delete does" {
	two
	before=$(fingerprint)
	lock=$(sha "$VMCTL_ROOT/v/op.lock")
	run_tool 0 snapctl delete --dry-run --json v S1
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","dry_run","plan","bytes_to_free"]'
	assert_equal "$(jq -r .dry_run <<<"$stdout")" true
	plan=$(jq -c .plan <<<"$stdout") bytes=$(jq .bytes_to_free <<<"$stdout")
	[ "$bytes" -gt 0 ]
	run_tool 0 snapctl delete -n v S1
	assert_line --index 0 "dry run, nothing changes:"
	assert_line "  remove snapshot 'S1' ($u1)"
	assert_line --partial "would free "
	run_tool 0 snapctl delete -n --subtree v S2
	assert_line "  remove snapshot 'S2' ($u2)"
	run_tool 0 snapctl delete --dry-run -H v S2 S1
	run_tool 0 snapctl delete --dry-run --json v @current
	assert_equal "$(fingerprint)" "$before"
	assert_equal "$(sha "$VMCTL_ROOT/v/op.lock")" "$lock"
	run_tool 0 snapctl delete --json v S1
	assert_equal "$(jq -c .plan <<<"$stdout")" "$plan"
	assert_equal "$(jq .bytes_freed <<<"$stdout")" "$bytes"
}

@test "delete --subtree: a snapshot and its descendants; refused while the current one is below" {
	two
	snapctl create v S3
	snapctl apply -y v S2
	before=$(fingerprint)
	run_tool 1 snapctl delete --subtree v S1
	assert_output "snapctl: the current snapshot is below 'S1': apply another snapshot first"
	assert_equal "$(fingerprint)" "$before"
	snapctl apply -y v S1
	run_tool 0 snapctl delete -r --json v S2
	assert_equal "$(jq -r '.plan[] | select(startswith("remove snapshot")) | split("\u0027")[1]' <<<"$stdout" | paste -sd' ' -)" "S3 S2"
	assert_equal "$(snapctl list -H v | cut -f1)" S1
	assert_equal "$(layers)" "v.vhd $(basename "$(src)")"
	holds "$(src)" m1
	sound
	# the current snapshot itself may go with its subtree
	snapctl create v S4
	snapctl apply -y v S1
	run_tool 0 snapctl delete --subtree v S1
	assert_equal "$(snapctl list -H v)" ""
	assert_equal "$(layers)" v.vhd
	holds disks/v.vhd m1
	sound
}

@test "delete several at once; one unknown snapshot deletes none" {
	two
	snapctl create v S3
	before=$(fingerprint)
	run_tool 66 snapctl delete v S1 nope S3
	assert_output "snapctl: no snapshot 'nope'"
	assert_equal "$(fingerprint)" "$before"
	run_tool 0 snapctl delete v S1 "$(uuid v S3)"
	assert_equal "$(snapctl list -H v | cut -f1)" S2
	holds "$(src)" v.model
	sound
}

@test "delete: unknown VM 66, bad arguments 64, busy 75; nothing changes" {
	two
	before=$(fingerprint)
	run_tool 66 snapctl delete nope S1
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 66 snapctl delete v @nope
	run_tool 64 snapctl delete v
	run_tool 64 snapctl delete
	run_tool 64 snapctl delete 'v v' S1
	run_tool 64 snapctl delete --json -H v S1
	run_tool 64 snapctl delete --wait=1x v S1
	busy v
	run_tool 75 snapctl delete v S1
	assert_output "$(BUSY_MSG v)"
	run_tool 75 snapctl delete --dry-run v S1
	run_tool 75 snapctl delete --wait=1 v S1
	assert_output --partial "(gave up after 1 s)"
	assert_equal "$(fingerprint)" "$before"
	kill "$HOLDER"
	busy v 0.3
	run_tool 0 snapctl delete --wait=30 v S1
}

# The arguments are resolved before anything is deleted ("nothing is deleted
# if one is wrong"), but a snapshot named twice -- or named and also inside a
# --subtree named before it -- is deleted the first time and then not found:
# exit 66 after a partial delete. Either outcome below is fine; that one is not.
@test "delete: a snapshot named twice (or also in a --subtree) is not a partial failure" {
	two
	snapctl create v S3
	snapctl apply -y v S1
	before=$(fingerprint)
	run snapctl delete v S2 S2
	if [ "$status" -eq 0 ]; then
		assert_equal "$(snapctl list -H v | cut -f1 | sort | paste -sd' ' -)" "S1 S3"
	else
		assert_equal "$(fingerprint)" "$before"
	fi
	before=$(fingerprint)
	run snapctl delete --subtree v "$(snapctl list -H v | cut -f1 | grep -v S1 | head -1)" S3
	if [ "$status" -eq 0 ]; then
		assert_equal "$(snapctl list -H v | cut -f1)" S1
	else
		assert_equal "$(fingerprint)" "$before"
	fi
	sound
}

@test "delete while running: a merge into the layer the VM writes to is pending, done after the stop" {
	requires_kvm
	mkvm
	put 1 0 65536
	guest_start v
	gput v 2 128 16
	snapctl create v On
	u=$(uuid v On)
	D=$(cd disks && pwd -P)
	[ -e "$VMCTL_ROOT/v/snapshots/$u.bin" ]
	gput v 3 256 16
	run_tool 0 snapctl delete --json v On
	line=$(jq -r '.plan[1]' <<<"$stdout")
	[[ $line == "pending: merge '$D/v_$u.avhd' into '$D/v.vhd'"* ]] || { echo "plan: $line"; false; }
	[ -s "$VMCTL_ROOT/v/pending-merges" ]
	[ ! -e "$VMCTL_ROOT/v/snapshots/$u.bin" ] && [ ! -e "$VMCTL_ROOT/v/snapshots/$u.vsv" ]
	assert_equal "$(snapctl list -H v)" ""
	[ ! -e "$VMCTL_ROOT/v/current" ]
	# the VM runs on, on the same chain: nothing was merged behind its back
	assert_equal "$(vmctl status --json v | jq -r .state)" running
	assert_equal "$(vmctl status --json v | jq -r '.disks[0].chain | map(split("/") | last) | join(" ")')" "v_$u.avhd v.vhd"
	gput v 4 384 16
	assert_equal "$(guest_value v blk sum 0 512)" "$(head -c 262144 v.model | test-tool fnv -)"
	run_tool 0 vmctl stop --force v
	# the next command that locks the VM (here: start) merges first
	guest_start v
	assert_equal "$(vmctl status --json v | jq -r '.disks[0].chain | map(split("/") | last) | join(" ")')" v.vhd
	[ ! -e "$VMCTL_ROOT/v/pending-merges" ] && [ ! -e "$D/v_$u.avhd" ]
	assert_equal "$(guest_value v blk sum 0 512)" "$(head -c 262144 v.model | test-tool fnv -)"
	run_tool 0 vmctl stop --force v
	assert_equal "$(src)" "$D/v.vhd"
	assert_equal "$(layers)" v.vhd
	holds "$(src)" v.model
	sound
}

# Off froze v.vhd; its only child is On's frozen layer, which the running VM
# reads (its write layer's parent) but does not write. The plan (and
# --dry-run) says "merge", but the merge cannot lock the layer the VMM holds:
# exit 75 "... is in use by another process", with the journal left behind for
# the next command to clean up. Retrying cannot help while the VM runs.
@test "delete while running: a merge below the write layer is done or pending, as the plan says" {
	requires_kvm
	mkvm
	put 1 0 65536
	snapctl create v Off
	guest_start v
	gput v 2 128 16
	snapctl create v On
	gput v 3 256 16
	plan=$(snapctl delete --dry-run --json v Off | jq -c .plan)
	run_tool 0 snapctl delete --json v Off
	assert_equal "$(jq -c .plan <<<"$stdout")" "$plan"
	[ ! -e "$VMCTL_ROOT/v/journal" ]
	assert_equal "$(snapctl list -H v | cut -f1)" On
	assert_equal "$(guest_value v blk sum 0 512)" "$(head -c 262144 v.model | test-tool fnv -)"
	run_tool 0 vmctl stop --force v
	holds "$(src)" v.model
	sound
}

@test "delete: a middle layer an earlier delete kept goes with the last layer that needed it" {
	mkvm
	put 1 0 65536
	snapctl create v S0 >/dev/null               # froze v.vhd; now X
	put 2 65536 65536
	snapctl create v S1 >/dev/null               # froze X; now Y
	local X Y
	X=$(snapctl show --json v S1 | jq -r '.disks[0].file')
	put 3 0 4096
	snapctl create v S2 >/dev/null               # froze Y
	Y=$(snapctl show --json v S2 | jq -r '.disks[0].file')
	snapctl apply -y v S1 >/dev/null             # now: a new child of X
	run_tool 0 snapctl delete v S1               # X has two children: kept, no snapshot's
	assert_output --partial "keep '$X' (2 layers depend on it)"
	[ -e "$X" ]
	snapctl apply -y v S0 >/dev/null             # X's other child (now) is discarded
	run_tool 0 snapctl delete --dry-run v S2
	assert_output --partial "remove '$Y' (nothing depends on it)"
	assert_output --partial "remove '$X' (only '$Y' depended on it)"
	run_tool 0 snapctl delete v S2
	[ ! -e "$Y" ] && [ ! -e "$X" ]
	# every layer left is in the chain of now or of a snapshot
	local used f
	used=$( { chain "$(src)"; for s in $(snapctl list -H v | cut -f1); do
		chain "$(snapctl show --json v "$s" | jq -r '.disks[0].file')"; done; } | tr ' ' '\n' | sort -u)
	for f in $(ls disks); do
		grep -qx "$f" <<<"$used" || { echo "orphan layer $f"; false; }
	done
	sound
}
