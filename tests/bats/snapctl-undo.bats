#!/usr/bin/env bats
# snapctl undo: apply --save-current snapshots "now" first; undo goes back to
# it (disk contents, configuration, layer files) and drops it unless --keep.

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

@test "apply --save-current, then undo: exactly the state before the apply" {
	mkvm
	put 1 0 65536
	cp v.model mA
	snapctl create v A
	a=$(uuid v A)
	put 2 4096 8192
	vmctl set v --memory 96M --cpus 2
	cp "$VMCTL_ROOT/v/vm.xml" before.xml
	cp v.model before.model
	files=$(layers) now=$(src)
	run_tool 0 snapctl apply --json --save-current v A
	s=$(jq -r .saved_current <<<"$stdout")
	assert_equal "$(jq -r '[.applied, .state] | join(" ")' <<<"$stdout")" "$a stopped"
	assert_equal "$(cat "$VMCTL_ROOT/v/undo")" "$s"
	name=$(snapctl show --json v "$s" | jq -r .name)
	[[ $name =~ ^Before\ applying\ \'A\'\ \([0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}\)$ ]] || { echo "name: $name"; false; }
	assert_equal "$(snapctl show --json v "$s" | jq -r '[.parent, .type] | join(" ")')" "A offline"
	holds "$(src)" mA
	assert_equal "$(vmctl dumpxml v | grep -c '<vcpu placement="static">1</vcpu>')" 1
	sound
	run_tool 0 snapctl undo --json v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","applied","saved_current","state"]'
	assert_equal "$(jq -r '[.vm, .applied, .saved_current, .state] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v $s null stopped"
	cmp before.xml "$VMCTL_ROOT/v/vm.xml"
	assert_equal "$(layers)" "$files"
	assert_equal "$(src)" "$now"
	holds "$(src)" before.model
	# the automatic snapshot is gone, A is current again, nothing left to undo
	assert_equal "$(snapctl list -H v | cut -f1)" A
	assert_equal "$(snapctl current v | cut -f1)" A
	[ ! -e "$VMCTL_ROOT/v/undo" ]
	run_tool 66 snapctl undo v
	assert_output "snapctl: VM 'v' has nothing to undo (no apply --save-current)"
	sound
}

@test "undo --keep keeps the snapshot --save-current=NAME made; undo after other applies" {
	mkvm
	put 1 0 4096
	snapctl create v A
	put 2 0 4096
	snapctl create v B
	put 3 0 4096
	cp v.model mine
	run_tool 0 snapctl apply --save-current=Mine v A
	assert_line --partial "saved the current state as snapshot $(uuid v Mine) (undo returns to it)"
	snapctl apply -y v B # not --save-current: undo still returns to Mine
	run_tool 0 snapctl undo --keep v
	assert_output "returned to snapshot $(uuid v Mine) to VM 'v': stopped"
	holds "$(src)" mine
	assert_equal "$(snapctl current v | cut -f1)" Mine
	assert_equal "$(snapctl show --json v Mine | jq -r .parent)" B
	assert_equal "$(snapctl list -H v | cut -f1 | sort | paste -sd' ' -)" "A B Mine"
	run_tool 66 snapctl undo v
	sound
}

@test "undo: unknown VM 66, bad arguments 64, busy 75, its snapshot deleted 66" {
	mkvm
	snapctl create v A
	put 1 0 4096
	snapctl apply --save-current=S v A
	run_tool 66 snapctl undo nope
	run_tool 64 snapctl undo
	run_tool 64 snapctl undo v A
	run_tool 64 snapctl undo --json -H v
	run_tool 64 snapctl undo --wait=-1 v
	busy v
	run_tool 75 snapctl undo v
	assert_output "$(BUSY_MSG v)"
	[ -e "$VMCTL_ROOT/v/undo" ]
	kill "$HOLDER"
	busy v 0.3
	run_tool 0 snapctl undo --keep --wait=30 v
	snapctl apply --save-current=T v A
	snapctl delete v T
	run_tool 66 snapctl undo v
	assert_output --partial "no snapshot '"
	sound
}

@test "apply --save-current of a running VM saves it online; undo resumes it" {
	requires_kvm
	mkvm
	snapctl create v A
	guest_start v
	gput v 1 0 16
	guest v fill 3 4 >/dev/null
	c0=$(guest_value v counter)
	run_tool 0 snapctl apply --json --save-current v A
	assert_equal "$(jq -r .state <<<"$stdout")" stopped # A is offline
	s=$(jq -r .saved_current <<<"$stdout")
	assert_equal "$(snapctl show --json v "$s" | jq -r .type)" online
	assert_equal "$(vmctl status --json v | jq -r .state)" stopped
	run_tool 0 snapctl undo v
	assert_output --partial ": running"
	assert_equal "$(guest v verify 3 4)" ok
	[ "$(guest_value v counter)" -ge "$c0" ]
	assert_equal "$(guest_value v blk sum 0 16)" "$(head -c 8192 v.model | test-tool fnv -)"
	run_tool 0 vmctl stop --force v
	[ ! -e "$VMCTL_ROOT/v/snapshots/$s.bin" ] && [ ! -e "$VMCTL_ROOT/v/snapshots/$s.vsv" ]
	holds "$(src)" v.model
	sound
}
