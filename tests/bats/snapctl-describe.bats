#!/usr/bin/env bats
# snapctl describe: set, replace or clear ('') a snapshot's description;
# failures.

load helpers

load snapctl-helpers

@test "describe: set, replace, clear; the XML stays valid" {
	mkvm
	snapctl create v S1
	u=$(uuid v S1)
	f=$VMCTL_ROOT/v/snapshots/$u.xml
	! grep -q '<description>' "$f"
	run_tool 0 snapctl describe -d "before the <kernel> & \"driver\" update" v S1
	assert_output ""
	assert_equal "$(snapctl show --json v S1 | jq -r .description)" "before the <kernel> & \"driver\" update"
	grep -qF '<description>before the &lt;kernel&gt; &amp; "driver" update</description>' "$f"
	sound
	multi=$'line one\nline two — ✓'
	run_tool 0 snapctl describe --description="$multi" v "$u"
	assert_equal "$(snapctl list --json v | jq -r '.snapshots[0].description')" "$multi"
	# -H keeps one line per snapshot: control characters become blanks
	assert_equal "$(snapctl list -H v | wc -l)" 1
	assert_equal "$(snapctl list -H v | cut -f8)" "line one line two — ✓"
	sound
	# '' clears it
	run_tool 0 snapctl describe -d '' v @current
	assert_equal "$(snapctl show --json v S1 | jq -c .description)" null
	! grep -q '<description>' "$f"
	assert_equal "$(snapctl list -H v | cut -f8)" -
	# nothing else changes
	assert_equal "$(snapctl show --json v S1 | jq -r '[.name, .uuid, .current] | map(tostring) | join(" ")')" "S1 $u true"
	sound
}

@test "describe: missing -d 64, unknown VM or snapshot 66, busy 75; nothing changes" {
	mkvm
	snapctl create -d old v S1
	before=$(fingerprint)
	run_tool 64 snapctl describe v S1
	assert_output --partial "snapctl describe: missing -d TEXT"
	run_tool 64 snapctl describe -d x v
	run_tool 64 snapctl describe -d x v S1 S1
	run_tool 64 snapctl describe -d
	run_tool 64 snapctl describe --json -d x v S1
	run_tool 66 snapctl describe -d x nope S1
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 66 snapctl describe -d x v S2
	assert_output "snapctl: no snapshot 'S2'"
	busy v
	run_tool 75 snapctl describe -d x v S1
	assert_output "$(BUSY_MSG v)"
	assert_equal "$(fingerprint)" "$before"
	kill "$HOLDER"
	busy v 0.3
	run_tool 0 snapctl describe --wait=30 -d new v S1
	assert_equal "$(snapctl show --json v S1 | jq -r .description)" new
}
