# snapctl-helpers.bash — shared by the snapctl-*.bats suites (load it after helpers)
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
