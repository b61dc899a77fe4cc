#!/usr/bin/env bats
# snapctl create: offline (stopped VM: the write layer freezes, "now" gets a
# new child <stem>_<uuid>.avhd beside it), online (running VM: RAM and state
# too), --disk-only, names, descriptions, failures and op.lock.

load helpers

load snapctl-helpers

@test "create: the write layer freezes, now writes to a new child <stem>_<uuid>.avhd beside it" {
	mkvm
	put 1 0 65536
	cp v.model m1
	run_tool 0 snapctl create --json v S1
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","name","uuid","type","vmm"]'
	assert_equal "$(jq -r '[.vm, .name, .type, .vmm] | map(tostring) | join("\t")' <<<"$stdout")" "v	S1	offline	null"
	u1=$(jq -r .uuid <<<"$stdout")
	[[ $u1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	assert_equal "$(layers)" "v.vhd v_$u1.avhd"
	assert_equal "$(basename "$(src)")" "v_$u1.avhd"
	assert_equal "$(dirname "$(src)")" "$(cd disks && pwd -P)"
	assert_equal "$(chain "$(src)")" "v_$u1.avhd v.vhd"
	assert_equal "$(cat "$VMCTL_ROOT/v/current")" "$u1"
	# the snapshot names the frozen layer; no RAM, no state
	assert_equal "$(snapctl show --json v S1 | jq -r '.disks[0].file' | xargs basename)" v.vhd
	grep -q '<state>shutoff</state>' "$VMCTL_ROOT/v/snapshots/$u1.xml"
	[ ! -e "$VMCTL_ROOT/v/snapshots/$u1.bin" ] && [ ! -e "$VMCTL_ROOT/v/snapshots/$u1.vsv" ]
	holds "$(src)" v.model
	sound
	# writes after the snapshot land in the new layer; the frozen one keeps S1's data
	put 2 65536 65536
	put 3 4096 4096
	cp v.model m2
	holds "$(src)" v.model
	holds disks/v.vhd m1
	# a second snapshot: the child of v_<u1> is v_<u2> (the stem stays short)
	run_tool 0 snapctl create v S2
	assert_output --partial "created offline snapshot 'S2' ("
	u2=$(uuid v S2)
	assert_output "created offline snapshot 'S2' ($u2)"
	assert_equal "$(layers)" "$(printf '%s\n' v.vhd "v_$u1.avhd" "v_$u2.avhd" | sort | paste -sd' ' -)"
	assert_equal "$(chain "$(src)")" "v_$u2.avhd v_$u1.avhd v.vhd"
	assert_equal "$(snapctl show --json v S2 | jq -r '[.parent, (.disks[0].file | split("/") | last)] | @tsv')" \
		"S1	v_$u1.avhd"
	grep -q '<name>S1</name>' "$VMCTL_ROOT/v/snapshots/$u2.xml"   # <parent><name>
	assert_equal "$(cat "$VMCTL_ROOT/v/current")" "$u2"
	put 4 0 8192
	holds "$(src)" v.model
	holds "disks/v_$u1.avhd" m2
	holds disks/v.vhd m1
	sound
}

@test "create: default name, description, the configuration as it was" {
	mkvm
	run_tool 0 snapctl create -d "before the upgrade <&>" v
	name=$(snapctl list --json v | jq -r '.snapshots[0].name')
	[[ $name =~ ^v\ \([0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\)$ ]] || { echo "default name: $name"; false; }
	assert_equal "$(snapctl show --json v "$name" | jq -r .description)" "before the upgrade <&>"
	grep -qF '<description>before the upgrade &lt;&amp;&gt;</description>' "$VMCTL_ROOT"/v/snapshots/*.xml
	run_tool 0 snapctl create --description=second v S2
	assert_equal "$(snapctl show --json v S2 | jq -r .description)" second
	# the snapshot keeps the configuration of its time
	vmctl set v --memory 96M
	assert_equal "$(snapctl show --json v S2 | jq -r .config.memory_bytes)" 67108864
	assert_equal "$(snapctl show --json v S2 | jq -r .config.vcpus)" 1
	run_tool 0 snapctl create v S3
	assert_equal "$(snapctl show --json v S3 | jq -r .config.memory_bytes)" 100663296
	sound
}

@test "create: two disks in two folders, each new child beside its own parent" {
	mkvm
	mkdir other
	vhdtool create -b 64K other/e.vhd 2M
	test-tool pattern 9 65536 | vhdtool write other/e.vhd 0
	vmctl create w --memory 64M --kernel "$(vmctl dumpxml v | sed -n 's:.*<kernel>\(.*\)</kernel>.*:\1:p')" \
		--disk "$W/disks/v.vhd" --disk "$W/other/e.vhd"
	run_tool 0 snapctl create w S
	u=$(uuid w S)
	[ -f "disks/v_$u.avhd" ] && [ -f "other/e_$u.avhd" ]
	assert_equal "$(vmctl dumpxml w | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | xargs -n1 basename | paste -sd' ' -)" \
		"v_$u.avhd e_$u.avhd"
	assert_equal "$(snapctl show --json w S | jq -r '.disks[] | .target + "=" + (.file | split("/") | last)' | paste -sd' ' -)" \
		"vda=v.vhd vdb=e.vhd"
	cmp <(vhdtool cat "other/e_$u.avhd") <(vhdtool cat other/e.vhd)
	run_tool 0 vhdtool check --chain "other/e_$u.avhd"
	sound w
}

@test "create: a duplicate name exits 73, a bad one 64; nothing changes" {
	mkvm
	snapctl create v S1
	before=$(fingerprint)
	run_tool 73 snapctl create v S1
	assert_output "snapctl: VM 'v' already has a snapshot named 'S1'"
	for n in '' '@current' '@x' a/b $'tab\there' $'new\nline' "$(printf 'n%.0s' {1..201})"; do
		run_tool 64 snapctl create v "$n"
		assert_output --partial "snapctl: invalid snapshot name"
	done
	run_tool 73 snapctl create --disk-only -d x v S1
	assert_equal "$(fingerprint)" "$before"
	assert_equal "$(snapctl list -H v | wc -l)" 1
	# 200 bytes is the longest name; any UTF-8 without control characters or '/'
	run_tool 0 snapctl create v "$(printf 'n%.0s' {1..200})"
	run_tool 0 snapctl create v 'Vor dem Update — “Jan” ✓'
	run_tool 0 snapctl show v 'Vor dem Update — “Jan” ✓'
	sound
}

@test "create: unknown VM 66, bad arguments 64, a VM without disks 64" {
	mkvm
	run_tool 66 snapctl create nope S
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 64 snapctl create ../v S
	assert_output --partial "invalid VM name"
	run_tool 64 snapctl create
	run_tool 64 snapctl create v S extra
	assert_output --partial "unexpected argument 'extra'"
	run_tool 64 snapctl create --bogus v S
	run_tool 64 snapctl create --wait=soon v S
	run_tool 64 snapctl create --json -H v S
	run_tool 64 snapctl create -d
	vmctl create bare --memory 64M --kernel "$W/disks/v.vhd"
	run_tool 64 snapctl create bare S
	assert_output --partial "has no disk to snapshot"
	[ ! -e "$VMCTL_ROOT/v/snapshots" ] || [ -z "$(ls "$VMCTL_ROOT/v/snapshots")" ]
	assert_equal "$(layers)" v.vhd
}

@test "create: a held op.lock exits 75 naming the holder; --wait waits for it" {
	mkvm
	busy v
	run_tool 75 snapctl create v S1
	assert_output "$(BUSY_MSG v)"
	run_tool 75 snapctl create --wait=1 v S1
	assert_output "$(BUSY_MSG v) (gave up after 1 s)"
	assert_equal "$(layers)" v.vhd
	[ ! -e "$VMCTL_ROOT/v/current" ]
	# reading takes no lock
	run_tool 0 snapctl list v
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	busy v 0.3 # lets go after 0.3 s
	run_tool 0 snapctl create --wait=30 v S1
	busy v 0.3
	run_tool 0 snapctl create --wait v S2 # bare --wait: as long as it takes
	assert_equal "$(snapctl list -H v | cut -f1 | sort | paste -sd' ' -)" "S1 S2"
	sound
}

@test "create while running: online (RAM + state), the guest runs on, its writes land in the new layer; --disk-only" {
	requires_kvm
	mkvm
	guest_start v
	gput v 1 0 16
	guest v fill 7 8 >/dev/null
	cp v.model m1
	c0=$(guest_value v counter)
	run_tool 0 snapctl create --json v On
	assert_equal "$(jq -r .type <<<"$stdout")" online
	[[ $(jq -r .vmm <<<"$stdout") == *pause_ms=* ]]
	u=$(jq -r .uuid <<<"$stdout")
	[ -s "$VMCTL_ROOT/v/snapshots/$u.vsv" ]
	assert_equal "$(stat -c %s "$VMCTL_ROOT/v/snapshots/$u.bin")" 67108864
	# the guest runs on, on the new layer
	assert_equal "$(vmctl status --json v | jq -r .state)" running
	assert_equal "$(vmctl status --json v | jq -r '.disks[0].file' | xargs basename)" "v_$u.avhd"
	assert_equal "$(basename "$(src)")" "v_$u.avhd"
	assert_equal "$(guest v verify 7 8)" ok
	[ "$(guest_value v counter)" -gt "$c0" ]
	gput v 2 16 16
	cp v.model m2
	assert_equal "$(snapctl show --json v On | jq -r '[.type, (.memory_file | split("/") | last), (.state_file | split("/") | last)] | @tsv')" \
		"online	$u.bin	$u.vsv"
	# --disk-only: crash-consistent disks and config, no RAM or state
	run_tool 0 snapctl create --disk-only --json v D
	assert_equal "$(jq -r .type <<<"$stdout")" offline
	d=$(jq -r .uuid <<<"$stdout")
	[ ! -e "$VMCTL_ROOT/v/snapshots/$d.bin" ] && [ ! -e "$VMCTL_ROOT/v/snapshots/$d.vsv" ]
	assert_equal "$(snapctl show --json v D | jq -r '[.type, .memory_file, .state_file, .parent] | map(tostring) | join("\t")')" \
		"offline	null	null	On"
	assert_equal "$(guest v ping)" "ok pong"
	gput v 3 32 8
	run_tool 0 vmctl stop --force v
	# each layer holds what the guest had written by its time
	assert_equal "$(basename "$(src)")" "v_$d.avhd"
	assert_equal "$(chain "$(src)")" "v_$d.avhd v_$u.avhd v.vhd"
	holds disks/v.vhd m1
	holds "disks/v_$u.avhd" m2
	holds "$(src)" v.model
	cmp <(vhdtool read disks/v.vhd 8192 8192) <(head -c 8192 /dev/zero)
	sound
}
