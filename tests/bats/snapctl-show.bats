#!/usr/bin/env bats
# snapctl show: everything a snapshot recorded (--json keys, -H, --xml),
# found by name, UUID or @current; failures.

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
