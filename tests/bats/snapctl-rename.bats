#!/usr/bin/env bats
# snapctl rename: a new name for a snapshot (its UUID, files and layers stay;
# its children record the new parent name); failures.

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
