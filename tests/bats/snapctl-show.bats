#!/usr/bin/env bats
# snapctl show: everything a snapshot recorded (--json keys, -H, --xml),
# found by name, UUID or @current; failures.

load helpers

load snapctl-helpers

@test "show --json: the keys and what the snapshot recorded" {
	mkvm
	put 1 0 65536
	snapctl create -d "a description" v S1
	u1=$(uuid v S1)
	snapctl create v S2
	vmctl set v --memory 96M --cpus 2 # after S2: not in it
	run_tool 0 snapctl show --json v S2
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" \
		'["vm","name","uuid","parent","created","type","current","size_bytes","description","disks","memory_file","state_file","config"]'
	assert_equal "$(jq -c '.config | keys_unsorted' <<<"$stdout")" \
		'["name","memory_bytes","vcpus","kernel","initrd","cmdline"]'
	assert_equal "$(jq -c '.disks[0] | keys_unsorted' <<<"$stdout")" '["target","file"]'
	assert_equal "$(jq -r '[.vm, .name, .parent, .type, .current, .description, .memory_file, .state_file] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v S2 S1 offline true null null null"
	assert_equal "$(jq -r '.disks | length' <<<"$stdout")" 1
	assert_equal "$(jq -r '.disks[0].target' <<<"$stdout")" vda
	assert_equal "$(jq -r '.disks[0].file' <<<"$stdout")" "$(cd disks && pwd -P)/v_$u1.avhd"
	assert_equal "$(jq -r '[.config.name, .config.memory_bytes, .config.vcpus, .config.initrd, .config.cmdline] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v 67108864 1 null idle hz=100"
	assert_equal "$(jq -r .config.kernel <<<"$stdout")" "$(vmctl dumpxml v | sed -n 's:.*<kernel>\(.*\)</kernel>.*:\1:p')"
	assert_equal "$(jq -r .size_bytes <<<"$stdout")" "$(($(stat -c '%b * %B' "disks/v_$u1.avhd")))"
	# the same as list has for it
	assert_equal "$(jq -c 'del(.vm, .disks, .memory_file, .state_file, .config)' <<<"$stdout")" \
		"$(snapctl list --json v | jq -c '.snapshots[] | select(.name == "S2")')"
	run_tool 0 snapctl show --json v S1
	assert_equal "$(jq -r '[.parent, .current, .description, .uuid] | map(tostring) | join(" ")' <<<"$stdout")" \
		"null false a description $u1"
}

@test "show: by name, by UUID and @current; -H and text" {
	mkvm
	snapctl create v S1
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	assert_equal "$(snapctl show --json v "$u1" | jq -r .name)" S1
	assert_equal "$(snapctl show --json v @current | jq -r .name)" S2
	# a name that looks like another snapshot's UUID: the name wins
	snapctl rename v S1 "$u2"
	assert_equal "$(snapctl show --json v "$u2" | jq -r .uuid)" "$u1"
	run_tool 0 snapctl show -H v S2
	assert_line "name	S2"
	assert_line "uuid	$u2"
	assert_line "parent	$u2"
	assert_line "description	-"
	assert_line "disks.0.target	vda"
	assert_line "config.memory_bytes	67108864"
	assert_line "memory_file	-"
	run_tool 0 snapctl show v S2
	assert_output --partial "S2"
	assert_output --partial "$u2"
}

@test "show --xml: the stored <domainsnapshot>, valid against domainsnapshot.rng" {
	requires xmllint
	[ -r "$SNAP_RNG" ] || skip "needs $SNAP_RNG"
	mkvm
	snapctl create -d 'tom & "jerry"' v S1
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	run_tool 0 snapctl show --xml v S2
	cmp <(printf '%s\n' "$stdout") "$VMCTL_ROOT/v/snapshots/$u2.xml"
	snapctl show -x v S1 > s1.xml
	xmllint --noout --relaxng "$SNAP_RNG" s1.xml
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/name)' s1.xml)" S1
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/description)' s1.xml)" 'tom & "jerry"'
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/state)' s1.xml)" shutoff
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/disks/disk/@name)' s1.xml)" vda
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/disks/disk/source/@file)' s1.xml | xargs basename)" v.vhd
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/domain/name)' s1.xml)" v
	assert_equal "$(xmllint --xpath 'count(/domainsnapshot/parent)' s1.xml)" 0
	snapctl show --xml v S2 > s2.xml
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/parent/name)' s2.xml)" S1
	assert_equal "$(xmllint --xpath 'string(/domainsnapshot/creationTime)' s2.xml)" \
		"$(date -d "$(snapctl show --json v S2 | jq -r .created)" +%s)"
}

@test "show: unknown VM 66, unknown snapshot 66, bad arguments 64; no lock needed" {
	mkvm
	run_tool 66 snapctl show v @current
	assert_output "snapctl: the VM has no current snapshot"
	snapctl create v S1
	run_tool 66 snapctl show nope S1
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 66 snapctl show v S2
	assert_output "snapctl: no snapshot 'S2'"
	run_tool 66 snapctl show v 00000000-0000-4000-8000-000000000000
	run_tool 64 snapctl show v
	run_tool 64 snapctl show v S1 S1
	run_tool 64 snapctl show --json -H v S1
	run_tool 64 snapctl show --bogus v S1
	run_tool 64 snapctl show v/x S1
	busy v
	run_tool 0 snapctl show --json v S1
	run_tool 0 snapctl show --xml v S1
}
