#!/usr/bin/env bats
# snapctl rename: a new name for a snapshot (its UUID, files and layers stay;
# its children record the new parent name); failures.

load helpers

load snapctl-helpers

@test "rename: the name changes; UUID, files and layers stay; children name their new parent" {
	mkvm
	put 1 0 4096
	snapctl create -d keep v S1
	snapctl create v S2
	snapctl apply -y v S1
	snapctl create v S3
	u1=$(uuid v S1) u2=$(uuid v S2) u3=$(uuid v S3)
	files=$(cd "$VMCTL_ROOT/v/snapshots" && ls) disks=$(cd disks && sha256sum *)
	run_tool 0 snapctl rename v S1 "Clean install"
	assert_output ""
	assert_equal "$(snapctl show --json v "$u1" | jq -r '[.name, .description] | join(" ")')" "Clean install keep"
	assert_equal "$(snapctl show --json v S2 | jq -r .parent)" "Clean install"
	assert_equal "$(snapctl show --json v S3 | jq -r .parent)" "Clean install"
	grep -q '<name>Clean install</name>' "$VMCTL_ROOT/v/snapshots/$u2.xml"
	grep -q '<name>Clean install</name>' "$VMCTL_ROOT/v/snapshots/$u3.xml"
	assert_equal "$(cd "$VMCTL_ROOT/v/snapshots" && ls)" "$files"
	assert_equal "$(cd disks && sha256sum *)" "$disks"
	assert_equal "$(cat "$VMCTL_ROOT/v/current")" "$u3"
	run_tool 66 snapctl show v S1
	assert_equal "$(snapctl list --tree v | sed 's/ (.*//')" \
		"$(printf '%s\n' 'Clean install' '├─ S2' '└─ S3' '   └─ Now')"
	sound
}

@test "rename by UUID and @current; to its own name; any UTF-8 name" {
	mkvm
	snapctl create v S1
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	run_tool 0 snapctl rename v "$u1" first
	run_tool 0 snapctl rename v @current second
	assert_equal "$(snapctl list --json v | jq -r '[.snapshots[] | .uuid + "=" + .name] | sort | join(" ")')" \
		"$(printf '%s\n' "$u1=first" "$u2=second" | sort | paste -sd' ' -)"
	run_tool 0 snapctl rename v second second
	run_tool 0 snapctl rename v second 'Vor dem Update — “Jan” ✓'
	assert_equal "$(snapctl current v | cut -f1)" 'Vor dem Update — “Jan” ✓'
	run_tool 0 snapctl rename v first "$(printf 'n%.0s' {1..200})"
	sound
}

@test "rename: duplicate 73, bad names 64, unknown VM or snapshot 66, busy 75; nothing changes" {
	mkvm
	snapctl create v S1
	snapctl create v S2
	before=$(fingerprint)
	run_tool 73 snapctl rename v S1 S2
	assert_output "snapctl: VM 'v' already has a snapshot named 'S2'"
	for n in '' @current @x a/b $'tab\there' "$(printf 'n%.0s' {1..201})"; do
		run_tool 64 snapctl rename v S1 "$n"
		assert_output --partial "snapctl: invalid snapshot name"
	done
	run_tool 66 snapctl rename nope S1 S3
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 66 snapctl rename v S3 S4
	assert_output "snapctl: no snapshot 'S3'"
	run_tool 64 snapctl rename v S1
	run_tool 64 snapctl rename v S1 S3 S4
	run_tool 64 snapctl rename --json v S1 S3
	run_tool 64 snapctl rename -d x v S1 S3
	run_tool 64 snapctl rename ../v S1 S3
	busy v
	run_tool 75 snapctl rename v S1 S3
	assert_output "$(BUSY_MSG v)"
	run_tool 75 snapctl rename --wait=1 v S1 S3
	assert_output "$(BUSY_MSG v) (gave up after 1 s)"
	assert_equal "$(fingerprint)" "$before"
	kill "$HOLDER"
	busy v 0.3
	run_tool 0 snapctl rename --wait v S1 S3
	assert_equal "$(snapctl show --json v S3 | jq -r .name)" S3
	sound
}
