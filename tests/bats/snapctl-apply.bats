#!/usr/bin/env bats
# snapctl apply: "now" gets a fresh child of the snapshot's frozen layers and
# the snapshot's configuration; the old now-layer is discarded; online
# snapshots resume; --running/--paused/--stopped; failures.

load helpers

# ---- shared by the snapctl-*.bats suites (each file carries its own copy) ----
SNAP_RNG=/usr/share/libvirt/schemas/domainsnapshot.rng
DOMAIN_RNG=/usr/share/libvirt/schemas/domain.rng

# mkvm [VM]: a VM of the test guest (64 MiB, 1 vCPU, idle) with one 4 MiB
# disk $W/disks/VM.vhd (64 KiB blocks), and $W/VM.model, the bytes that disk
# holds (zeros so far). It stays stopped unless started.
mkvm() {
	local vm=${1:-v} k=$GUEST
	[ -e "$k" ] || { k=$W/vmlinuz; echo "a stopped VM never runs it" > "$k"; }
	mkdir -p "$W/disks"
	vhdtool create -b 64K "$W/disks/$vm.vhd" 4M >/dev/null
	truncate -s 4M "$W/$vm.model"
	vmctl create "$vm" --memory 64M --cpus 1 --kernel "$k" --cmdline "idle hz=100" \
		--disk "$W/disks/$vm.vhd" >/dev/null
}

# gput VM SEED LBA COUNT: the running guest writes COUNT sectors of the seeded
# stream at LBA (and flushes); the model follows
gput() {
	local p=$BATS_TEST_TMPDIR/put
	guest "$1" blk write "$2" "$3" "$4" >/dev/null
	guest "$1" blk flush >/dev/null
	test-tool pattern "$2" $(($4 * 512)) > "$p"
	dd if="$p" of="$W/$1.model" bs=64K oflag=seek_bytes seek=$(($3 * 512)) conv=notrunc status=none
}

# src [VM]: the layer "now" writes to (the file vm.xml names)
src() { vmctl dumpxml "${1:-v}" | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | head -n 1; }

# put SEED OFFSET LEN [VM]: write `test-tool pattern SEED LEN` at OFFSET into
# now (through vhdtool) and into the model
put() {
	local vm=${4:-v} p=$BATS_TEST_TMPDIR/put
	test-tool pattern "$1" "$3" > "$p"
	vhdtool write -i "$p" "$(src "$vm")" "$2"
	dd if="$p" of="$W/$vm.model" bs=64K oflag=seek_bytes seek="$2" conv=notrunc status=none
}

# holds FILE MODEL: the disk FILE, read through its chain, is exactly MODEL
holds() { cmp <(vhdtool cat "$1") "$2"; }

# chain FILE: base names of the layers of FILE's chain, top first
chain() { vhdtool info --chain --json "$1" | jq -r '.chain[].file' | xargs -n1 basename | paste -sd' ' -; }

# layers: the files in $W/disks, sorted
layers() { ls "$W/disks" | paste -sd' ' -; }

# uuid VM SNAP: a snapshot's UUID
uuid() { snapctl show --json "$1" "$2" | jq -r .uuid; }

# sound [VM]: every snapshot file validates against domainsnapshot.rng and
# vm.xml against domain.rng; the chains of now and of every frozen layer check
# clean; no journal is left
sound() {
	local vm=${1:-v} f rng
	requires xmllint jq
	[ -r "$SNAP_RNG" ] && [ -r "$DOMAIN_RNG" ] || skip "needs libvirt's schemas (make deps)"
	set -- "$VMCTL_ROOT/$vm"/snapshots/*.xml
	[ -e "$1" ] || set --
	for rng in "$SNAP_RNG" "$DOMAIN_RNG"; do
		[ "$rng" = "$DOMAIN_RNG" ] && set -- "$VMCTL_ROOT/$vm/vm.xml"
		[ $# -eq 0 ] || xmllint --noout --relaxng "$rng" "$@" 2>"$BATS_TEST_TMPDIR/xmllint" ||
			{ cat "$BATS_TEST_TMPDIR/xmllint" >&2; return 1; }
	done
	for f in $( (src "$vm"; sed -n 's/.*source file="\([^"]*\)".*/\1/p' \
		"$VMCTL_ROOT/$vm"/snapshots/*.xml 2>/dev/null) | sort -u); do
		vhdtool check --chain "$f" >/dev/null || { echo "check --chain $f failed" >&2; return 1; }
	done
	[ ! -e "$VMCTL_ROOT/$vm/journal" ] || { echo "journal left behind" >&2; return 1; }
}

# busy VM [SECS]: a background process holds VM's op.lock (for SECS seconds,
# default 60) with a holder line naming it, as a snapctl command would;
# $HOLDER is its pid
busy() {
	local lock=$VMCTL_ROOT/$1/op.lock ready=$BATS_TEST_TMPDIR/held.$RANDOM
	(
		exec 8>>"$lock"
		flock -x 8
		printf '%s 1 snapctl delete 2026-11-26T03:00:12Z\n' "$BASHPID" > "$lock"
		: > "$ready"
		exec sleep "${2:-60}"
	) 3>&- >/dev/null 2>&1 &
	HOLDER=$!
	while [ ! -e "$ready" ]; do sleep 0.02; done
}
BUSY_MSG() { echo "snapctl: VM '$1' is busy: pid $HOLDER (snapctl delete) since 2026-11-26T03:00:12Z"; }

# fingerprint: sha256 of every file in the VM folder (but op.lock, whose line
# names its holder) and in the disk folder
fingerprint() {
	(cd "$W" && find "$VMCTL_ROOT" disks -type f ! -name op.lock -print0 | sort -z | xargs -0 sha256sum)
}

teardown() {
	[ -z "${HOLDER-}" ] || kill "$HOLDER" 2>/dev/null || true
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	true
}
# ---- end of the shared part ----

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
