#!/usr/bin/env bats
# snapctl du: allocated bytes (st_blocks * 512) each snapshot uses alone
# (files only it names) and shared (files several name); the layers now
# writes to (and a managed save) are the current state; layers only reached
# as parents are base layers.

load helpers
load snapctl-helpers

# mkvm, src, put, holds, uuid: snapctl-helpers.bash

# frozen VM SNAP: the layer a snapshot froze
frozen() { snapctl show --json "$1" "$2" | jq -r '.disks[0].file'; }

# age VM SNAP SECS: the snapshot was taken SECS seconds ago (its XML says so)
age() {
	sed -i "s|<creationTime>[0-9]*</creationTime>|<creationTime>$(($(date +%s) - $3))</creationTime>|" \
		"$VMCTL_ROOT/$1/snapshots/$(uuid "$1" "$2").xml"
}

# alloc FILE...: allocated bytes, st_blocks * 512, summed
alloc() {
	local n=0 f
	for f in "$@"; do n=$((n + $(stat -c %b "$f") * 512)); done
	echo "$n"
}

# row JSON NAME: "exclusive shared" of snapshot NAME in du --json output
row() { jq -r --arg n "$2" '.snapshots[] | select(.name == $n) | "\(.exclusive_bytes) \(.shared_bytes)"' <<<"$1"; }

teardown() {
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	true
}
# ---- end of the shared part ----

@test "du: each snapshot's frozen layer is its own, now is the current state; allocated bytes" {
	requires jq
	mkvm
	put 1 0 262144
	snapctl create v S1 >/dev/null
	put 2 262144 65536
	snapctl create v S2 >/dev/null
	snapctl apply -y v S1 >/dev/null
	put 3 524288 131072
	snapctl create v S3 >/dev/null
	put 4 0 4096
	age v S1 300
	age v S2 200
	age v S3 100
	run_tool 0 snapctl du --json v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" \
		'["vm","snapshots","current_state","files","base_bytes","total_bytes"]'
	assert_equal "$(jq -c '.snapshots[0] | keys_unsorted' <<<"$stdout")" \
		'["name","uuid","current","exclusive_bytes","shared_bytes"]'
	assert_equal "$(jq -c '.files[0] | keys_unsorted' <<<"$stdout")" '["file","bytes","snapshots","current_state"]'
	assert_equal "$(jq -r '[.snapshots[] | .name + ":" + (.current | tostring)] | join(" ")' <<<"$stdout")" \
		"S1:false S2:false S3:true"
	for s in S1 S2 S3; do
		assert_equal "$(row "$stdout" $s)" "$(alloc "$(frozen v $s)") 0"
		assert_equal "$(jq -r --arg n $s '.snapshots[] | select(.name == $n) | .uuid' <<<"$stdout")" "$(uuid v $s)"
	done
	[ "$(alloc "$(frozen v S1)")" -gt 262144 ]   # the data written before S1 is S1's alone
	assert_equal "$(jq -r '.current_state | "\(.exclusive_bytes) \(.shared_bytes)"' <<<"$stdout")" \
		"$(alloc "$(src)") 0"
	assert_equal "$(jq -r .base_bytes <<<"$stdout")" 0
	assert_equal "$(jq -r .total_bytes <<<"$stdout")" "$(alloc disks/*)"
	assert_equal "$(jq -r '.files[] | .file' <<<"$stdout" | sort | paste -sd' ' -)" \
		"$(ls "$W"/disks/* | sort | paste -sd' ' -)"
	assert_equal "$(jq -r --arg f "$(src)" '.files[] | select(.file == $f) | [(.snapshots | length), .current_state] | map(tostring) | join(" ")' <<<"$stdout")" \
		"0 true"
	# text: a table with the current state last; -H: the rows alone
	run_tool 0 snapctl du v
	assert_equal "${lines[0]}" "vm:          v"
	[[ ${lines[2]} =~ ^\ \ NAME\ +UUID\ +EXCLUSIVE\ BYTES\ +SHARED\ BYTES$ ]]
	[[ ${lines[6]} =~ ^\ \ \(current\ state\)\ +-\ + ]]
	assert_output --partial "total bytes: "
	run_tool 0 snapctl du -H v
	assert_equal "$(cut -f1,2 <<<"$stdout" | paste -sd' ' -)" \
		"S1	$(uuid v S1) S2	$(uuid v S2) S3	$(uuid v S3) (current state)	-"
	assert_equal "$(sed -n 1p <<<"$stdout" | cut -f3,4)" "$(alloc "$(frozen v S1)")	0"
}

@test "du: a layer several snapshots name is shared; a parent nobody names is a base layer" {
	requires jq
	mkdir -p disks
	vhdtool create -b 64K disks/base.vhd 4M >/dev/null
	test-tool pattern 1 196608 | vhdtool write disks/base.vhd 0
	vhdtool create --parent disks/base.vhd disks/v.avhd >/dev/null
	vmctl create v --memory 64M --kernel "${GUEST:-$W/disks/base.vhd}" --disk "$W/disks/v.avhd" >/dev/null
	test-tool pattern 2 65536 | vhdtool write "$W/disks/v.avhd" 262144
	snapctl create v S1 >/dev/null
	test-tool pattern 3 65536 | vhdtool write "$(src)" 327680
	snapctl create v S2 >/dev/null
	age v S1 200
	age v S2 100
	run_tool 0 snapctl du --json v
	# base.vhd is below every chain and named by no snapshot
	assert_equal "$(jq -r .base_bytes <<<"$stdout")" "$(alloc disks/base.vhd)"
	assert_equal "$(jq -r '.files[] | select(.file | endswith("/base.vhd")) | [(.snapshots | length), .current_state] | map(tostring) | join(" ")' <<<"$stdout")" \
		"0 false"
	assert_equal "$(row "$stdout" S1)" "$(alloc disks/v.avhd) 0"
	assert_equal "$(jq -r .total_bytes <<<"$stdout")" "$(alloc disks/*)"
	# S2 names S1's layer too (as a hand-edited or merged tree may): shared by both
	s2=$(frozen v S2)
	sed -i "s|$s2|$W/disks/v.avhd|g" "$VMCTL_ROOT/v/snapshots/$(uuid v S2).xml"
	run_tool 0 snapctl du --json v
	assert_equal "$(row "$stdout" S1)" "0 $(alloc disks/v.avhd)"
	assert_equal "$(row "$stdout" S2)" "0 $(alloc disks/v.avhd)"
	assert_equal "$(jq -r '.files[] | select(.file | endswith("/v.avhd")) | .snapshots | join(" ")' <<<"$stdout")" "S1 S2"
	# S2's old layer is now only a parent of now: a base layer
	assert_equal "$(jq -r .base_bytes <<<"$stdout")" "$(alloc disks/base.vhd "$s2")"
}

@test "du: an online snapshot's RAM and state are its own; a managed save is the current state" {
	requires_kvm
	requires jq
	mkvm
	guest_start v
	guest v fill 7 8 >/dev/null
	run_tool 0 snapctl create v On
	u=$(uuid v On)
	run_tool 0 vmctl save v
	[ -e "$VMCTL_ROOT/v/saved.bin" ]
	run_tool 0 snapctl du --json v
	assert_equal "$(row "$stdout" On)" \
		"$(alloc "$(frozen v On)" "$VMCTL_ROOT/v/snapshots/$u.bin" "$VMCTL_ROOT/v/snapshots/$u.vsv") 0"
	[ "$(alloc "$VMCTL_ROOT/v/snapshots/$u.bin")" -ge $((8 << 20)) ]
	assert_equal "$(jq -r '.current_state.exclusive_bytes' <<<"$stdout")" \
		"$(alloc "$(src)" "$VMCTL_ROOT/v/saved.bin" "$VMCTL_ROOT/v/saved.vsv")"
}

@test "du: a VM without snapshots; unknown VM 66; bad arguments 64" {
	requires jq
	mkvm
	run_tool 0 snapctl du --json v
	assert_equal "$(jq -c .snapshots <<<"$stdout")" "[]"
	assert_equal "$(jq -r '.current_state.exclusive_bytes' <<<"$stdout")" "$(alloc disks/v.vhd)"
	run_tool 66 snapctl du nope
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 64 snapctl du
	run_tool 64 snapctl du v w
	run_tool 64 snapctl du --json -H v
}
