#!/usr/bin/env bats
# snapctl apply: "now" gets a fresh child of the snapshot's frozen layers and
# the snapshot's configuration; the old now-layer is discarded; online
# snapshots resume; --running/--paused/--stopped; failures.

load helpers

load snapctl-helpers

@test "apply: now is a fresh child of the snapshot's frozen layer; the old now-layer goes" {
	mkvm
	put 1 0 65536
	cp v.model m1
	snapctl create v S1
	put 2 65536 65536
	cp v.model m2
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	put 3 0 4096 # now, after S2: nothing froze it
	vmctl set v --memory 96M
	run_tool 0 snapctl apply --json -y v S1
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","applied","saved_current","state"]'
	assert_equal "$(jq -r '[.vm, .applied, .saved_current, .state] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v $u1 null stopped"
	n=$(basename "$(src)")
	[[ $n =~ ^v_[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.avhd$ ]]
	[ "$n" != "v_$u1.avhd" ] && [ "$n" != "v_$u2.avhd" ]
	assert_equal "$(dirname "$(src)")" "$(cd disks && pwd -P)"
	assert_equal "$(chain "$(src)")" "$n v.vhd"
	assert_equal "$(vhdtool info --json "$(src)" | jq .allocated_blocks)" 0
	# the frozen layers stay, the discarded now-layer v_<u2> is gone
	assert_equal "$(layers)" "$(printf '%s\n' v.vhd "v_$u1.avhd" "$n" | sort | paste -sd' ' -)"
	holds "$(src)" m1
	holds "disks/v_$u1.avhd" m2
	# the configuration is the snapshot's
	assert_equal "$(vmctl dumpxml v | grep -c '<memory unit="MiB">64</memory>')" 1
	assert_equal "$(cat "$VMCTL_ROOT/v/current")" "$u1"
	sound
	# to S2 by UUID: again a fresh layer; the branch of S1 that nothing froze goes
	put 4 0 4096
	run_tool 0 snapctl apply -y v "$u2"
	assert_output "applied snapshot $u2 to VM 'v': stopped"
	n2=$(basename "$(src)")
	assert_equal "$(chain "$(src)")" "$n2 v_$u1.avhd v.vhd"
	assert_equal "$(layers)" "$(printf '%s\n' v.vhd "v_$u1.avhd" "$n2" | sort | paste -sd' ' -)"
	holds "$(src)" m2
	# @current throws away what changed since: a revert
	put 5 0 65536
	run_tool 0 snapctl apply -y v @current
	holds "$(src)" m2
	assert_equal "$(layers | wc -w)" 3
	sound
}

@test "apply: layers other snapshots froze are kept, whichever branch now is on" {
	mkvm
	put 1 0 4096
	cp v.model m1
	snapctl create v S1
	put 2 4096 4096
	snapctl create v S2
	snapctl apply -y v S1
	cp m1 v.model
	put 3 8192 4096
	cp v.model m3
	snapctl create v S3
	u3=$(uuid v S3)
	snapctl apply -y v S2
	snapctl apply -y v S3
	holds "$(src)" m3
	assert_equal "$(chain "$(src)" | wc -w)" 3
	# every snapshot still reads what it froze
	for s in S1 S2 S3; do
		f=$(snapctl show --json v $s | jq -r '.disks[0].file')
		[ -e "$f" ]
		run_tool 0 vhdtool check --chain "$f"
	done
	assert_equal "$(layers | wc -w)" 4 # v.vhd, S2's and S3's frozen layers, now
	sound
}

@test "apply: unknown VM 66, unknown snapshot 66, bad arguments 64, busy 75; nothing changes" {
	mkvm
	put 1 0 4096
	snapctl create v S1
	put 2 0 4096
	before=$(fingerprint)
	run_tool 66 snapctl apply -y nope S1
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 66 snapctl apply -y v S2
	assert_output "snapctl: no snapshot 'S2'"
	run_tool 66 snapctl apply -y --save-current v S2
	run_tool 64 snapctl apply -y v
	run_tool 64 snapctl apply -y v S1 S1
	run_tool 64 snapctl apply -y --running --paused v S1
	assert_output --partial "--running, --paused and --stopped exclude each other"
	run_tool 64 snapctl apply -y --stopped --running v S1
	run_tool 64 snapctl apply --wait=x -y v S1
	run_tool 73 snapctl apply --save-current=S1 v S1
	assert_output "snapctl: VM 'v' already has a snapshot named 'S1'"
	run_tool 64 snapctl apply --save-current=a/b v S1
	busy v
	run_tool 75 snapctl apply -y v S1
	assert_output "$(BUSY_MSG v)"
	run_tool 75 snapctl apply --save-current v S1
	assert_equal "$(fingerprint)" "$before"
	kill "$HOLDER"
	busy v 0.3
	run_tool 0 snapctl apply --wait=30 -y v S1
	holds "$(src)" <(test-tool pattern 1 4096; head -c $((4096 * 1023)) /dev/zero)
}

@test "apply asks first on a terminal (not with -y or --save-current); no is exit 1, nothing changes" {
	requires script
	mkvm
	snapctl create v A
	put 1 0 4096
	before=$(fingerprint)
	run bash -c 'echo n | script -qec "snapctl apply v A" /dev/null'
	assert_equal "$status" 1
	assert_output --partial "Applying 'A' discards what VM 'v' changed since its current snapshot. Apply? [y/N]"
	assert_output --partial "snapctl: not applied"
	assert_equal "$(fingerprint)" "$before"
	run bash -c 'echo y | script -qec "snapctl apply v A" /dev/null'
	assert_equal "$status" 0
	assert_output --partial "applied snapshot $(uuid v A)"
	holds "$(src)" <(head -c 4194304 /dev/zero)
	# on a terminal too, no question with -y or with --save-current (and
	# without a terminal never)
	put 2 0 4096
	run bash -c 'script -qec "snapctl apply -y v A" /dev/null < /dev/null'
	assert_equal "$status" 0
	refute_output --partial "Apply?"
	run bash -c 'script -qec "snapctl apply --save-current=B v A" /dev/null < /dev/null'
	assert_equal "$status" 0
	refute_output --partial "Apply?"
	sound
}

@test "apply of an online snapshot resumes the guest: RAM, counter, disk; --paused, --stopped, --running" {
	requires_kvm
	mkvm
	guest_start v
	gput v 1 0 16
	guest v fill 7 8 >/dev/null
	cp v.model m1
	c0=$(guest_value v counter)
	snapctl create v On
	u=$(uuid v On)
	# change RAM and disk after the snapshot
	guest v fill 8 8 >/dev/null
	gput v 2 0 16
	run_tool 0 snapctl apply --json -y v On
	assert_equal "$(jq -r '[.applied, .state] | join(" ")' <<<"$stdout")" "$u running"
	assert_equal "$(vmctl status --json v | jq -r .state)" running
	assert_equal "$(guest v verify 7 8)" ok
	[ "$(guest_value v counter)" -ge "$c0" ]
	assert_equal "$(guest_value v blk sum 0 16)" "$(head -c 8192 m1 | test-tool fnv -)"
	assert_equal "$(grep -c 'vmsnap-guest 1 ready' "$VMCTL_ROOT/v/console.log")" 1 # resumed, not booted
	# --paused: resumed into a paused VM
	run_tool 0 snapctl apply -y --paused v On
	assert_output --partial ": paused"
	assert_equal "$(vmctl status --json v | jq -r .state)" paused
	vmctl resume v
	assert_equal "$(guest v verify 7 8)" ok
	# --stopped: disks and configuration only
	run_tool 0 snapctl apply -y --stopped v On
	assert_output --partial ": stopped"
	assert_equal "$(vmctl status --json v | jq -r .state)" stopped
	holds "$(src)" m1
	# an offline snapshot stays stopped unless --running, which boots it
	snapctl create v Off
	run_tool 0 snapctl apply -y v Off
	assert_equal "$(vmctl status --json v | jq -r .state)" stopped
	run_tool 0 snapctl apply -y --running v Off
	wait_console v "vmsnap-guest 1 ready" 30
	assert_equal "$(grep -c 'vmsnap-guest 1 ready' "$VMCTL_ROOT/v/console.log")" 2
	assert_equal "$(guest_value v blk sum 0 16)" "$(head -c 8192 m1 | test-tool fnv -)"
	run_tool 0 vmctl stop --force v
	sound
}

# Hyper-V: applying a checkpoint to a VM in the saved state replaces that
# saved state. Here the managed save (saved.vsv/.bin of `vmctl save`) of the
# state apply discarded stays, and the next start resumes that RAM on top of
# the applied snapshot's disk.
@test "apply to a VM with a managed save: the save of the discarded state is not resumed" {
	requires_kvm
	mkvm
	snapctl create v S0
	guest_start v
	guest v fill 9 4 >/dev/null
	gput v 3 0 16
	vmctl save v
	run_tool 0 snapctl apply -y v S0
	assert_equal "$(vmctl status --json v | jq -r .state)" stopped
	[ ! -e "$VMCTL_ROOT/v/saved.vsv" ] && [ ! -e "$VMCTL_ROOT/v/saved.bin" ]
	vmctl start v
	wait_console v "vmsnap-guest 1 ready" 30
	assert_equal "$(grep -c 'vmsnap-guest 1 ready' "$VMCTL_ROOT/v/console.log")" 2
	run_tool 0 vmctl stop --force v
}

# --help shows "-s, --save-current[=NAME]" and a bare --save-current before the
# VM works (apply.c rewrites it to "--save-current="), but a bare -s does not
# get that treatment: popt takes the VM as its NAME, and apply exits 64
# "missing argument".
@test "apply -s VM SNAP: the short --save-current without a name" {
	mkvm
	snapctl create v A
	put 1 0 4096
	run_tool 0 snapctl apply -s v A
	assert_output --partial "saved the current state as snapshot"
	assert_equal "$(snapctl list -H v | wc -l)" 2
	run_tool 0 snapctl undo v
	holds "$(src)" v.model
}
