#!/usr/bin/env bats
# snapctl list: the table, --json (stable keys), -H rows, --tree with
# branches and "Now" under the current snapshot; failures.

load helpers

load snapctl-helpers

# tree VM: `list --tree` without the creation times
tree() { snapctl list --tree "${1:-v}" | sed -E 's/ \((offline|online), [^)]*\)$/ (\1)/'; }

@test "list: a VM without snapshots" {
	mkvm
	run_tool 0 snapctl list --json v
	assert_equal "$(jq -c . <<<"$stdout")" '{"vm":"v","snapshots":[]}'
	run_tool 0 snapctl list -H v
	assert_output ""
	run_tool 0 snapctl list --tree v
	assert_output "Now"
	run_tool 0 snapctl list v
	refute_output --partial "offline"
}

@test "list --json: the stable keys and their values" {
	mkvm
	put 1 0 131072
	snapctl create -d first v S1
	u1=$(uuid v S1)
	put 2 0 65536
	snapctl create v S2
	u2=$(uuid v S2)
	run_tool 0 snapctl list --json v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","snapshots"]'
	assert_equal "$(jq -r .vm <<<"$stdout")" v
	assert_equal "$(jq -c '[.snapshots[] | keys_unsorted] | unique' <<<"$stdout")" \
		'[["name","uuid","parent","created","type","current","size_bytes","description"]]'
	s1=$(jq -c '.snapshots[] | select(.name == "S1")' <<<"$stdout")
	s2=$(jq -c '.snapshots[] | select(.name == "S2")' <<<"$stdout")
	assert_equal "$(jq -r '[.uuid, .parent, .type, .current, .description] | map(tostring) | join(" ")' <<<"$s1")" \
		"$u1 null offline false first"
	assert_equal "$(jq -r '[.uuid, .parent, .type, .current, .description] | map(tostring) | join(" ")' <<<"$s2")" \
		"$u2 S1 offline true null"
	# created: RFC 3339 UTC, now-ish
	created=$(jq -r .created <<<"$s1")
	[[ $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
	[ $(($(date +%s) - $(date -d "$created" +%s))) -lt 60 ]
	# size_bytes: what the frozen layers take on disk (allocated bytes)
	assert_equal "$(jq -r .size_bytes <<<"$s1")" "$(($(stat -c '%b * %B' disks/v.vhd)))"
	assert_equal "$(jq -r .size_bytes <<<"$s2")" "$(($(stat -c '%b * %B' "disks/v_$u1.avhd")))"
	[ "$(jq -r .size_bytes <<<"$s1")" -ge 131072 ]
	# sorted by creation time
	assert_equal "$(jq -r '[.snapshots[].created] | (. == sort)' <<<"$stdout")" true
}

@test "list -H: one tab-separated row per snapshot, no header; the text table marks the current" {
	mkvm
	snapctl create -d "the first one" v S1
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	run_tool 0 snapctl list -H v
	[ "${#lines[@]}" -eq 2 ]
	row1=$(grep "^S1	" <<<"$stdout")
	row2=$(grep "^S2	" <<<"$stdout")
	c1=$(snapctl show --json v S1 | jq -r .created) z1=$(snapctl show --json v S1 | jq -r .size_bytes)
	c2=$(snapctl show --json v S2 | jq -r .created) z2=$(snapctl show --json v S2 | jq -r .size_bytes)
	assert_equal "$row1" "S1	$u1	-	$c1	offline	false	$z1	the first one"
	assert_equal "$row2" "S2	$u2	S1	$c2	offline	true	$z2	-"
	run_tool 0 snapctl list v
	assert_line --regexp '^ *NAME +UUID +PARENT +CREATED +TYPE +CURRENT'
	assert_line --regexp "^ *S2 +$u2 +S1 .* offline +\* "
	assert_line --regexp "^ *S1 +$u1 +- .* offline +[0-9]"
}

@test "list --tree: branches after applying an older snapshot, Now under the current one" {
	mkvm
	snapctl create v S1
	snapctl create v S2
	run_tool 0 snapctl list --tree v
	[[ ${lines[0]} =~ ^S1\ \(offline,\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)$ ]]
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '└─ S2 (offline)' '   └─ Now')"
	snapctl apply -y v S1
	snapctl create v S3
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '├─ S2 (offline)' '└─ S3 (offline)' \
		'   └─ Now')"
	snapctl apply -y v S2
	snapctl create v S4
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '├─ S2 (offline)' '│  └─ S4 (offline)' \
		'│     └─ Now' '└─ S3 (offline)')"
	# Now beside the current snapshot's children
	snapctl apply -y v S2
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '├─ S2 (offline)' '│  ├─ S4 (offline)' \
		'│  └─ Now' '└─ S3 (offline)')"
	# a root with two children goes: two roots
	snapctl delete v S1
	assert_equal "$(tree)" "$(printf '%s\n' 'S2 (offline)' '├─ S4 (offline)' '└─ Now' 'S3 (offline)')"
	# --json and -H are not drawn
	assert_equal "$(snapctl list --tree --json v | jq -r '[.snapshots[].name] | sort | join(" ")')" "S2 S3 S4"
	assert_equal "$(snapctl list --tree -H v | wc -l)" 3
	snapctl delete v S2 S3 S4
	assert_equal "$(tree)" "Now"
	sound
}

@test "list: unknown VM 66, bad arguments 64, a damaged snapshot file 65; no lock needed" {
	mkvm
	snapctl create v S1
	run_tool 66 snapctl list nope
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 64 snapctl list 'bad name'
	run_tool 64 snapctl list
	run_tool 64 snapctl list v v
	run_tool 64 snapctl list --json -H v
	run_tool 64 snapctl list --wait v
	# readers take no lock
	busy v
	run_tool 0 snapctl list --json v
	run_tool 0 snapctl list --tree v
	kill "$HOLDER"
	# a snapshot file that does not parse is named
	u=$(uuid v S1)
	f=$VMCTL_ROOT/v/snapshots/$u.xml
	cp "$f" saved.xml
	printf '<domainsnapshot><name>S1</name><bogus/></domainsnapshot>\n' > "$f"
	run_tool 65 snapctl list v
	assert_output --partial "$f:1: unknown element <bogus>"
	echo "not xml" > "$f"
	run_tool 65 snapctl list --json v
	assert_output --partial "$f"
	cp saved.xml "$f"
	echo "not-a-uuid" > "$VMCTL_ROOT/v/current"
	run_tool 65 snapctl list v
	assert_output --partial "does not hold a snapshot UUID"
	echo "$u" > "$VMCTL_ROOT/v/current"
	run_tool 0 snapctl list v
}
