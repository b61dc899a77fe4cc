#!/usr/bin/env bats
# snapctl current: the current snapshot (the parent of "now") as create,
# apply and delete move it; --json keys, -H; failures.

load helpers

load snapctl-helpers

@test "current: none yet" {
	mkvm
	run_tool 0 snapctl current v
	assert_output "(none)"
	run_tool 0 snapctl current --json v
	assert_equal "$(jq -c . <<<"$stdout")" '{"vm":"v","current":null}'
	run_tool 0 snapctl current -H v
	assert_output "$(printf 'vm\tv\ncurrent\t-')"
	[ ! -e "$VMCTL_ROOT/v/current" ]
}

@test "current --json: the keys; -H and text" {
	mkvm
	snapctl create -d desc v S1
	u1=$(uuid v S1)
	run_tool 0 snapctl current --json v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","current"]'
	assert_equal "$(jq -c '.current | keys_unsorted' <<<"$stdout")" \
		'["name","uuid","parent","created","type","current","size_bytes","description"]'
	assert_equal "$(jq -c .current <<<"$stdout")" \
		"$(snapctl list --json v | jq -c '.snapshots[] | select(.name == "S1")')"
	assert_equal "$(jq -r '[.vm, .current.name, .current.uuid, .current.current, .current.description] | join(" ")' <<<"$stdout")" \
		"v S1 $u1 true desc"
	run_tool 0 snapctl current v
	assert_output "S1	$u1"
	run_tool 0 snapctl current -H v
	assert_line "current.name	S1"
	assert_line "current.uuid	$u1"
	assert_line "current.parent	-"
}

@test "current follows create, apply and delete; <vm>/current holds its UUID" {
	mkvm
	snapctl create v S1
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	assert_equal "$(snapctl current v)" "S2	$u2"
	assert_equal "$(cat "$VMCTL_ROOT/v/current")" "$u2"
	snapctl apply -y v S1
	assert_equal "$(snapctl current v)" "S1	$u1"
	snapctl create v S3
	assert_equal "$(snapctl current v | cut -f1)" S3
	snapctl apply -y v "$u2"
	assert_equal "$(snapctl current v)" "S2	$u2"
	# deleting the current snapshot makes its parent current
	snapctl delete v S2
	assert_equal "$(snapctl current v)" "S1	$u1"
	assert_equal "$(cat "$VMCTL_ROOT/v/current")" "$u1"
	# deleting a root that is current leaves none
	snapctl delete v S3
	snapctl delete v S1
	assert_equal "$(snapctl current v)" "(none)"
	[ ! -e "$VMCTL_ROOT/v/current" ]
	sound
}

@test "current: unknown VM 66, bad arguments 64; no lock needed" {
	mkvm
	snapctl create v S1
	run_tool 66 snapctl current nope
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 64 snapctl current
	run_tool 64 snapctl current v S1
	run_tool 64 snapctl current --json -H v
	run_tool 64 snapctl current --tree v
	run_tool 64 snapctl current .hidden
	busy v
	run_tool 0 snapctl current v
	assert_output --partial S1
}
