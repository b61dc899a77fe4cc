#!/usr/bin/env bats
# snapctl export: the whole VM (vm.xml, snapshots, every disk layer down to
# the base) or one snapshot as a standalone VM, as a tar (pax) stream with
# MANIFEST first; round trips through a file and a pipe into another store.

load helpers

# ---- shared by the snapctl-*.bats suites (each file carries its own copy) ----

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

# src [VM] [ROOT]: the layer "now" writes to (the file vm.xml names)
src() {
	vmctl --root "${2:-$VMCTL_ROOT}" dumpxml "${1:-v}" |
		sed -n 's/.*source file="\([^"]*\)".*/\1/p' | head -n 1
}

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

# uuid VM SNAP [ROOT]: a snapshot's UUID
uuid() { snapctl --root "${3:-$VMCTL_ROOT}" show --json "$1" "$2" | jq -r .uuid; }

# frozen VM SNAP [ROOT]: the layer a snapshot froze
frozen() { snapctl --root "${3:-$VMCTL_ROOT}" show --json "$1" "$2" | jq -r '.disks[0].file'; }

# age VM SNAP SECS: the snapshot was taken SECS seconds ago (its XML says so)
age() {
	sed -i "s|<creationTime>[0-9]*</creationTime>|<creationTime>$(($(date +%s) - $3))</creationTime>|" \
		"$VMCTL_ROOT/$1/snapshots/$(uuid "$1" "$2").xml"
}

# mktree: VM v with S1 (m1) ─ S2 (m2), and S3 (m3) on a branch from S1 after
# `apply S1`; now holds v.model, different from all of them
# (taken 300, 200 and 100 seconds ago: lists sort by time)
mktree() {
	mkvm
	put 1 0 65536
	cp v.model m1
	snapctl create v S1 >/dev/null
	put 2 65536 65536
	cp v.model m2
	snapctl create v S2 >/dev/null
	snapctl apply -y v S1 >/dev/null
	cp m1 v.model
	put 3 131072 4096
	cp v.model m3
	snapctl create -d "the branch" v S3 >/dev/null
	put 4 0 512
	age v S1 300
	age v S2 200
	age v S3 100
}

# fingerprint: sha256 of every file in the store and in the disk folder (but
# op.lock, whose line names its holder)
fingerprint() {
	(cd "$W" && find "$VMCTL_ROOT" disks -type f ! -name op.lock -print0 | sort -z | xargs -0 sha256sum)
}

# running VM: a background process holds VM's run.lock, as a VMM does
running() {
	local ready=$BATS_TEST_TMPDIR/run.$RANDOM
	( exec 8>>"$VMCTL_ROOT/$1/run.lock"; flock -x 8; : > "$ready"; exec sleep 60 ) \
		3>&- >/dev/null 2>&1 &
	HOLDER=$!
	while [ ! -e "$ready" ]; do sleep 0.02; done
}

# busy VM: a background process holds VM's op.lock, as a snapctl command would
busy() {
	local lock=$VMCTL_ROOT/$1/op.lock ready=$BATS_TEST_TMPDIR/held.$RANDOM
	(
		exec 8>>"$lock"
		flock -x 8
		printf '%s 1 snapctl delete 2026-11-26T03:00:12Z\n' "$BASHPID" > "$lock"
		: > "$ready"
		exec sleep 60
	) 3>&- >/dev/null 2>&1 &
	HOLDER=$!
	while [ ! -e "$ready" ]; do sleep 0.02; done
}

# members TAR: the member names, in stream order
members() { tar -tf "$1" | paste -sd' ' -; }

# kernel [VM] [ROOT]: the kernel path vm.xml names
kernel() {
	vmctl --root "${2:-$VMCTL_ROOT}" dumpxml "${1:-v}" | sed -n 's:.*<kernel>\(.*\)</kernel>.*:\1:p'
}
# initrd [VM] [ROOT]: the initrd path vm.xml names
initrd() {
	vmctl --root "${2:-$VMCTL_ROOT}" dumpxml "${1:-v}" | sed -n 's:.*<initrd>\(.*\)</initrd>.*:\1:p'
}

teardown() {
	[ -z "${HOLDER-}" ] || kill "$HOLDER" 2>/dev/null || true
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	[ -d "${R2:-/nonexistent}" ] && VMCTL_ROOT=$R2 stop_all_vms
	[ -d "${R3:-/nonexistent}" ] && VMCTL_ROOT=$R3 stop_all_vms
	true
}
# ---- end of the shared part ----

@test "export: round trip into another store; same list, same disks, apply works there" {
	requires jq
	mktree
	before=$(fingerprint)
	run_tool 0 snapctl export -o v.tar v
	assert_output --regexp "^exported VM 'v' with 3 snapshots \(4 disk files\) to 'v.tar': [0-9.]+ KiB$"
	assert_equal "$(fingerprint)" "$before"   # export changes nothing
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 snapctl --root "$R2" import v.tar
	assert_output --regexp "^imported VM 'v' \([0-9a-f-]{36}\) with 3 snapshots and 4 disk files \(.* verified\) into '$R2/v'$"
	assert_equal "$(ls -A "$R2")" v
	# same snapshots (UUIDs, names, parents, times, current, sizes), same config
	assert_equal "$(snapctl --root "$R2" list --json v)" "$(snapctl list --json v)"
	assert_equal "$(snapctl --root "$R2" current v)" "$(snapctl current v)"
	assert_equal "$(snapctl --root "$R2" show --json v S3 | jq -r .description)" "the branch"
	assert_equal "$(vmctl --root "$R2" dumpxml v | grep -v 'source file\|<kernel>')" \
		"$(vmctl dumpxml v | grep -v 'source file\|<kernel>')"
	# the kernel came along, into the VM folder
	assert_equal "$(kernel v "$R2")" "$R2/v/boot/$(basename "$(kernel)")"
	cmp "$(kernel v "$R2")" "$(kernel)"
	# the same layers, each identical, now in <root>/v/disks
	assert_equal "$(ls "$R2/v/disks" | paste -sd' ' -)" "$(ls disks | paste -sd' ' -)"
	for f in disks/*; do
		run_tool 0 vhdtool compare "$f" "$R2/v/disks/${f#disks/}"
		run_tool 0 vhdtool check --chain "$R2/v/disks/${f#disks/}"
	done
	assert_equal "$(src v "$R2")" "$R2/v/disks/$(basename "$(src)")"
	holds "$(src v "$R2")" v.model
	for s in 1 2 3; do
		assert_equal "$(frozen v S$s "$R2")" "$R2/v/disks/$(basename "$(frozen v S$s)")"
		holds "$(frozen v S$s "$R2")" m$s
	done
	# the chains link to the new places (absolute and relative locators)
	f=$R2/v/disks/$(basename "$(frozen v S2)")
	assert_equal "$(vhdtool info --json "$f" | jq -r '.parent_name')" "$R2/v/disks/v.vhd"
	assert_equal "$(vhdtool info --json "$f" | jq -r '.locators[] | .platform + " " + .path' | sort | paste -sd'|' -)" \
		"W2ku $R2/v/disks/v.vhd|W2ru ./v.vhd"
	# apply works in the imported VM
	run_tool 0 snapctl --root "$R2" apply -y v S2
	holds "$(src v "$R2")" m2
	assert_equal "$(snapctl --root "$R2" list --tree v)" "S1 (offline, $(snapctl list --json v | jq -r '.snapshots[] | select(.name=="S1") | .created'))
├─ S2 (offline, $(snapctl list --json v | jq -r '.snapshots[] | select(.name=="S2") | .created'))
│  └─ Now
└─ S3 (offline, $(snapctl list --json v | jq -r '.snapshots[] | select(.name=="S3") | .created'))"
	# and the original is as it was
	assert_equal "$(fingerprint)" "$before"
	holds "$(src)" v.model
}

@test "export: the stream is MANIFEST first, relative names, sizes and SHA-256 of every member" {
	requires jq
	mktree
	run_tool 0 snapctl export -o v.tar v
	u1=$(uuid v S1) u2=$(uuid v S2) u3=$(uuid v S3)
	assert_equal "$(tar -tf v.tar | head -n 1)" MANIFEST
	tar -tf v.tar | while read -r m; do
		[[ $m =~ ^(MANIFEST|vm\.xml|current|snapshots/[0-9a-f-]{36}\.xml|(disks|kernel)/[A-Za-z0-9._+-]+)$ ]] ||
			{ echo "unexpected member name '$m'"; false; }
	done
	tar -xOf v.tar MANIFEST > manifest.json
	assert_equal "$(jq -c 'keys_unsorted' manifest.json)" \
		'["format","version","kind","vm","uuid","snapshot","created","generator","members"]'
	assert_equal "$(jq -r '[.format, .version, .kind, .vm, .snapshot] | map(tostring) | join(" ")' manifest.json)" \
		"vmsnap-export 1 vm v null"
	assert_equal "$(jq -r .uuid manifest.json)" "$(vmctl dumpxml v | sed -n 's:.*<uuid>\(.*\)</uuid>.*:\1:p')"
	[[ $(jq -r .created manifest.json) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
	# the MANIFEST lists the other members in stream order
	assert_equal "MANIFEST $(jq -r '.members[].name' manifest.json | paste -sd' ' -)" "$(members v.tar)"
	assert_equal "$(jq -r '.members[] | select(.type != "disk") | .name + "=" + .type' manifest.json | sort | paste -sd' ' -)" \
		"$(printf '%s\n' current=current "snapshots/$u1.xml=snapshot" "snapshots/$u2.xml=snapshot" \
			"snapshots/$u3.xml=snapshot" vm.xml=config "kernel/$(basename "$(kernel)")=kernel" |
			sort | paste -sd' ' -)"
	# every disk layer: vm.xml's, each snapshot's, down to the base
	assert_equal "$(jq -r '.members[] | select(.type == "disk") | .name' manifest.json | sort | paste -sd' ' -)" \
		"$(ls disks | sed 's:^:disks/:' | sort | paste -sd' ' -)"
	# sizes and checksums are those of the members as stored
	jq -r '.members[] | [.name, .size, .sha256] | @tsv' manifest.json | while IFS=$'\t' read -r m size sum; do
		assert_equal "$(tar -xOf v.tar "$m" | wc -c)" "$size"
		assert_equal "$(tar -xOf v.tar "$m" | sha256sum | cut -d' ' -f1)" "$sum"
	done
	# parents and sources name the layers
	assert_equal "$(jq -r --arg m "disks/$(basename "$(frozen v S2)")" '.members[] | select(.name == $m) | .parent' manifest.json)" \
		disks/v.vhd
	assert_equal "$(jq -r '.members[] | select(.name == "disks/v.vhd") | [.parent, .source[0]] | map(tostring) | join(" ")' manifest.json)" \
		"null $W/disks/v.vhd"
	# the XML in the stream names the disks as the source paths do
	assert_equal "$(tar -xOf v.tar vm.xml | sed -n 's/.*source file="\([^"]*\)".*/\1/p')" "$(src)"
	# extracted anywhere, disks/ is a self-contained set of chains: relative parent locators
	mkdir x
	tar -xf v.tar -C x
	for f in x/disks/*.avhd; do
		p=$(jq -r --arg m "disks/${f##*/}" '.members[] | select(.name == $m) | .parent' manifest.json)
		assert_equal "$(vhdtool info --json "$f" | jq -r '.locators[] | select(.platform == "W2ru") | .path')" "./${p#disks/}"
		assert_equal "$(vhdtool info --json "$f" | jq -r .parent_name)" "${p#disks/}"
	done
	n=$(basename "$(src)")
	assert_equal "$(vhdtool info --chain --json "x/disks/$n" | jq -r '.chain[].file' | xargs -n1 dirname | sort -u)" \
		"x/disks"
	holds "x/disks/$n" v.model
	run_tool 0 vhdtool check --chain "x/disks/$n"
}

@test "export: through a pipe (export VM - | snapctl --root OTHER import -), and a copy beside the original" {
	requires jq
	mktree
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 bash -c 'set -o pipefail; snapctl export v | snapctl --root "$1" import -' _ "$R2"
	assert_output --partial "imported VM 'v' ("
	assert_equal "$(snapctl --root "$R2" list --json v)" "$(snapctl list --json v)"
	for f in disks/*; do
		run_tool 0 vhdtool compare "$f" "$R2/v/disks/${f#disks/}"
	done
	run_tool 0 snapctl --root "$R2" apply -y v S3
	holds "$(src v "$R2")" m3
	# -o - is standard output too; into the same store as a copy: new name, new ids
	run_tool 0 bash -c 'set -o pipefail; snapctl export -o - v | snapctl import --name w --new-id -'
	assert_equal "$(snapctl list --json w | jq -r '.snapshots[].name' | sort | paste -sd' ' -)" "S1 S2 S3"
	for s in S1 S2 S3; do
		[ "$(uuid w $s)" != "$(uuid v $s)" ]
	done
	run_tool 0 snapctl apply -y w S2
	holds "$(src w)" m2
	holds "$(src)" v.model
}

@test "export --snapshot: one snapshot as a standalone VM, flattened disk, its configuration" {
	requires jq
	mktree
	vmctl set v --memory 96M
	run_tool 0 snapctl export --snapshot S2 -o s2.tar v
	assert_output --regexp "^exported snapshot 'S2' of VM 'v' as a standalone VM \(1 disk file\) to 's2.tar': "
	assert_equal "$(members s2.tar)" "MANIFEST vm.xml kernel/$(basename "$(kernel)") disks/v.vhd"
	tar -xOf s2.tar MANIFEST > manifest.json
	assert_equal "$(jq -r '[.kind, .vm, .snapshot.name, .snapshot.uuid] | join(" ")' manifest.json)" \
		"snapshot v S2 $(uuid v S2)"
	assert_equal "$(jq -r '.members[] | select(.type == "disk") | .parent' manifest.json)" null
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 snapctl --root "$R2" import --json s2.tar
	assert_equal "$(jq -r '[.vm, .kind, .snapshots, .disks] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v snapshot 0 1"
	assert_equal "$(snapctl --root "$R2" list --json v | jq -c .snapshots)" "[]"
	[ ! -e "$R2/v/current" ]
	# the configuration the snapshot recorded, one flat disk with its content
	assert_equal "$(vmctl --root "$R2" dumpxml v | sed -n 's:.*<memory unit="MiB">\(.*\)</memory>.*:\1:p')" 64
	assert_equal "$(src v "$R2")" "$R2/v/disks/v.vhd"
	assert_equal "$(vhdtool info --json "$R2/v/disks/v.vhd" | jq -r .type)" dynamic
	holds "$R2/v/disks/v.vhd" m2
	run_tool 0 vhdtool compare "$R2/v/disks/v.vhd" "$(frozen v S2)"
	# a VM of its own: snapshots work there
	run_tool 0 snapctl --root "$R2" create v T
	run_tool 0 vhdtool check --chain "$(src v "$R2")"
	# no temporary folder is left in the store
	assert_equal "$(ls -A "$VMCTL_ROOT")" v
	# into the same store it needs another name and a new UUID
	run_tool 73 snapctl import s2.tar
	assert_output "snapctl: VM 'v' exists already in '$VMCTL_ROOT' (import it under another name with --name)"
	run_tool 73 snapctl import --name v2 s2.tar
	assert_output --partial "has UUID $(jq -r .uuid manifest.json) already (import a copy with --new-id)"
	run_tool 0 snapctl import --name v2 --new-id s2.tar
	holds "$(src v2)" m2
	# @current and UUIDs name the snapshot too
	run_tool 0 snapctl export --snapshot @current -o s3.tar v
	assert_equal "$(tar -xOf s3.tar MANIFEST | jq -r .snapshot.name)" S3
	run_tool 0 snapctl export --snapshot "$(uuid v S1)" -o s1.tar v
	assert_equal "$(tar -xOf s1.tar MANIFEST | jq -r .snapshot.name)" S1
}

@test "export: a running VM is refused (75); one of its snapshots can be exported" {
	mktree
	running v
	run_tool 75 snapctl export -o v.tar v
	assert_output "snapctl: VM 'v' is running: stop it, or export one snapshot as a standalone VM with --snapshot"
	[ ! -e v.tar ]
	run_tool 0 snapctl export --snapshot S1 -o s1.tar v
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 snapctl --root "$R2" import s1.tar
	holds "$R2/v/disks/v.vhd" m1
}

@test "export: online snapshots carry RAM and state; they resume after import, standalone as a saved VM" {
	requires_kvm
	requires jq
	mkvm
	guest_start v
	guest v fill 7 8 >/dev/null
	run_tool 0 snapctl create v On
	run_tool 0 vmctl stop --force v
	u=$(uuid v On)
	run_tool 0 snapctl export -o v.tar v
	assert_equal "$(members v.tar)" \
		"MANIFEST vm.xml current snapshots/$u.xml snapshots/$u.vsv snapshots/$u.bin kernel/$(basename "$(kernel)") disks/v.vhd disks/v_$u.avhd"
	# 64 MiB of RAM, mostly never touched: stored sparse
	[ "$(stat -c %s v.tar)" -lt $((32 << 20)) ]
	assert_equal "$(tar -xOf v.tar "snapshots/$u.bin" | cmp - "$VMCTL_ROOT/v/snapshots/$u.bin" && echo same)" same
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 snapctl --root "$R2" import v.tar
	assert_equal "$(stat -c %a "$R2/v/snapshots/$u.bin")" 400
	run_tool 0 snapctl --root "$R2" apply v On
	assert_output --partial ": running"
	assert_equal "$(VMCTL_ROOT=$R2 guest v verify 7 8)" ok
	run_tool 0 vmctl --root "$R2" stop --force v
	# a copy with new ids resumes too (the state names the VM it belongs to)
	run_tool 0 snapctl import --name c --new-id v.tar
	run_tool 0 snapctl apply c On
	assert_equal "$(guest c verify 7 8)" ok
	run_tool 0 vmctl stop --force c
	# standalone: the snapshot's state becomes a managed save; start resumes it
	run_tool 0 snapctl export --snapshot On -o on.tar v
	assert_equal "$(members on.tar)" "MANIFEST vm.xml kernel/$(basename "$(kernel)") disks/v.vhd saved.vsv saved.bin"
	R3=$BATS_TEST_TMPDIR/r3
	run_tool 0 snapctl --root "$R3" import on.tar
	assert_equal "$(vmctl --root "$R3" status --json v | jq -r .state)" saved
	run_tool 0 vmctl --root "$R3" start v
	assert_equal "$(VMCTL_ROOT=$R3 guest v verify 7 8)" ok
	run_tool 0 vmctl --root "$R3" stop --force v
}

@test "export: kernel and initrd travel as members; import puts them into the VM folder, vm.xml and snapshots point there" {
	requires jq
	mkdir -p disks k1 k2
	vhdtool create -b 64K disks/v.vhd 4M >/dev/null
	printf 'kernel one\n' > k1/vmlinuz
	head -c 100000 /dev/urandom > k1/initrd.img
	printf 'kernel two, a longer one\n' > k2/vmlinuz
	vmctl create v --memory 64M --kernel "$W/k1/vmlinuz" --initrd "$W/k1/initrd.img" \
		--disk "$W/disks/v.vhd" >/dev/null
	snapctl create v S1 >/dev/null
	# now boots another kernel (same file name), S1 keeps the first
	sed -i "s|$W/k1/vmlinuz|$W/k2/vmlinuz|" "$VMCTL_ROOT/v/vm.xml"
	assert_equal "$(kernel)" "$W/k2/vmlinuz"
	before=$(fingerprint)
	run_tool 0 snapctl export --json -o v.tar v
	assert_equal "$stderr" ""
	assert_equal "$(jq -r '[.members, .disks, .boot_files, .warnings] | map(tostring) | join(" ")' <<<"$stdout")" \
		"9 2 3 0"
	u=$(uuid v S1)
	assert_equal "$(members v.tar)" \
		"MANIFEST vm.xml current snapshots/$u.xml kernel/vmlinuz initrd/initrd.img kernel/vmlinuz-2 disks/v.vhd disks/$(basename "$(src)")"
	# recorded like disks: type, size, SHA-256, the paths the XML uses
	tar -xOf v.tar MANIFEST > manifest.json
	assert_equal "$(jq -r '.members[] | select(.type == "kernel" or .type == "initrd") |
			[.name, .type, .size, .sha256, (.source | join(","))] | map(tostring) | join(" ")' manifest.json)" \
		"kernel/vmlinuz kernel $(stat -c %s k2/vmlinuz) $(sha k2/vmlinuz) $W/k2/vmlinuz
initrd/initrd.img initrd 100000 $(sha k1/initrd.img) $W/k1/initrd.img
kernel/vmlinuz-2 kernel $(stat -c %s k1/vmlinuz) $(sha k1/vmlinuz) $W/k1/vmlinuz"
	assert_equal "$(tar -xOf v.tar kernel/vmlinuz-2 | sha256sum | cut -d' ' -f1)" "$(sha k1/vmlinuz)"
	assert_equal "$(fingerprint)" "$before"
	# import: the files in <vm>/boot/, the same bytes; vm.xml and S1 point at them
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 snapctl --root "$R2" import --json v.tar
	assert_equal "$stderr" ""
	assert_equal "$(jq -r '[.boot_files, .warnings] | map(tostring) | join(" ")' <<<"$stdout")" "3 0"
	assert_equal "$(ls "$R2/v/boot" | paste -sd' ' -)" "initrd.img vmlinuz vmlinuz-2"
	assert_equal "$(sha "$R2/v/boot/vmlinuz")" "$(sha k2/vmlinuz)"
	assert_equal "$(sha "$R2/v/boot/vmlinuz-2")" "$(sha k1/vmlinuz)"
	assert_equal "$(sha "$R2/v/boot/initrd.img")" "$(sha k1/initrd.img)"
	assert_equal "$(kernel v "$R2")" "$R2/v/boot/vmlinuz"
	assert_equal "$(initrd v "$R2")" "$R2/v/boot/initrd.img"
	assert_equal "$(snapctl --root "$R2" show --xml v S1 | sed -n 's:.*<kernel>\(.*\)</kernel>.*:\1:p')" \
		"$R2/v/boot/vmlinuz-2"
	run_tool 0 snapctl --root "$R2" apply -y v S1
	assert_equal "$(kernel v "$R2")" "$R2/v/boot/vmlinuz-2"
	assert_equal "$(initrd v "$R2")" "$R2/v/boot/initrd.img"
	# --new-id copy beside it: its own boot folder
	run_tool 0 snapctl --root "$R2" import --name w --new-id v.tar
	assert_equal "$(kernel w "$R2")" "$R2/w/boot/vmlinuz"
	assert_equal "$(sha "$R2/w/boot/vmlinuz")" "$(sha k2/vmlinuz)"
	# one snapshot as a standalone VM: its own kernel and initrd
	run_tool 0 snapctl export --snapshot S1 -o s1.tar v
	assert_equal "$(members s1.tar)" "MANIFEST vm.xml kernel/vmlinuz initrd/initrd.img disks/v.vhd"
	R3=$BATS_TEST_TMPDIR/r3
	run_tool 0 snapctl --root "$R3" import s1.tar
	assert_equal "$(kernel v "$R3")" "$R3/v/boot/vmlinuz"
	assert_equal "$(sha "$R3/v/boot/vmlinuz")" "$(sha k1/vmlinuz)"
	assert_equal "$(sha "$R3/v/boot/initrd.img")" "$(sha k1/initrd.img)"
	assert_equal "$(fingerprint)" "$before"
}

@test "export: a kernel and an initrd of the same file name get distinct members; a missing one is left out with a warning" {
	requires jq
	mkdir -p disks a b
	vhdtool create disks/v.vhd 1M >/dev/null
	printf 'kernel\n' > a/boot.img
	printf 'initrd\n' > b/boot.img
	vmctl create v --memory 64M --kernel "$W/a/boot.img" --initrd "$W/b/boot.img" \
		--disk "$W/disks/v.vhd" >/dev/null
	run_tool 0 snapctl export -o v.tar v
	assert_equal "$(members v.tar)" "MANIFEST vm.xml kernel/boot.img initrd/boot-2.img disks/v.vhd"
	R2=$BATS_TEST_TMPDIR/r2
	run_tool 0 snapctl --root "$R2" import v.tar
	assert_equal "$(kernel v "$R2")" "$R2/v/boot/boot.img"
	assert_equal "$(initrd v "$R2")" "$R2/v/boot/boot-2.img"
	assert_equal "$(cat "$R2/v/boot/boot.img")" kernel
	assert_equal "$(cat "$R2/v/boot/boot-2.img")" initrd
	# the initrd gone: the export warns and goes without it
	rm b/boot.img
	run_tool 0 snapctl export --json -o w.tar v
	assert_equal "$stderr" "snapctl: warning: VM 'v': initrd '$W/b/boot.img' is left out of the stream: No such file or directory"
	assert_equal "$(jq -r '[.boot_files, .warnings] | map(tostring) | join(" ")' <<<"$stdout")" "1 1"
	assert_equal "$(members w.tar)" "MANIFEST vm.xml kernel/boot.img disks/v.vhd"
	# an unreadable kernel too (not as root, who reads it anyway)
	if [ "$(id -u)" != 0 ]; then
		chmod 000 a/boot.img
		run_tool 0 snapctl export -o x.tar v
		assert_output --partial "snapctl: warning: VM 'v': kernel '$W/a/boot.img' is left out of the stream: Permission denied"
		assert_equal "$(members x.tar)" "MANIFEST vm.xml disks/v.vhd"
		chmod 600 a/boot.img
	fi
}

@test "export -o FILE: never over an existing FILE (73) unless --force; a crash leaves no file" {
	mktree
	echo keep > v.tar
	run_tool 73 snapctl export -o v.tar v
	assert_output "snapctl: 'v.tar' exists already (--force replaces it)"
	assert_equal "$(cat v.tar)" keep
	run_tool 0 snapctl export --force -o v.tar v
	assert_equal "$(tar -tf v.tar | head -n 1)" MANIFEST
	# killed half-way (after the third member): no FILE, no temporary file
	mkdir out
	run env VMSNAP_CRASHPOINT=export-member:3 snapctl export -o out/v.tar v
	assert_equal "$status" 137
	assert_equal "$(ls -A out)" ""
	# and the store is as it was: no lock held, no temporary folder
	assert_equal "$(ls -A "$VMCTL_ROOT")" v
	run_tool 0 snapctl export -o out/v.tar v
	cmp <(tar -xOf out/v.tar vm.xml) <(tar -xOf v.tar vm.xml)
}

@test "export --json: keys; the stream on stdout cannot go with --json" {
	requires jq
	mktree
	run_tool 0 snapctl export --json -o v.tar v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" \
		'["vm","kind","snapshot","file","members","snapshots","disks","boot_files","payload_bytes","stream_bytes","warnings"]'
	assert_equal "$(jq -r '[.vm, .kind, .snapshot, .file, .members, .snapshots, .disks, .boot_files, .warnings] | map(tostring) | join(" ")' <<<"$stdout")" \
		"v vm null v.tar 11 3 4 1 0"
	assert_equal "$(jq -r .stream_bytes <<<"$stdout")" "$(stat -c %s v.tar)"
	assert_equal "$(jq -r .payload_bytes <<<"$stdout")" \
		"$(( $(tar -xOf v.tar MANIFEST | wc -c) + $(tar -xOf v.tar MANIFEST | jq '[.members[].size] | add') ))"
	run_tool 0 snapctl export --json --snapshot S3 -o s.tar v
	assert_equal "$(jq -c .snapshot <<<"$stdout")" "{\"name\":\"S3\",\"uuid\":\"$(uuid v S3)\"}"
	run_tool 64 snapctl export --json v
	assert_output --partial "use -o FILE with --json or -H"
	run_tool 64 snapctl export -H -o - v
}

@test "export: unknown VM or snapshot 66, busy 75 (--wait waits), bad arguments 64" {
	mktree
	run_tool 66 snapctl export -o x.tar nope
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 66 snapctl export --snapshot nope -o x.tar v
	assert_output "snapctl: no snapshot 'nope'"
	run_tool 64 snapctl export -o x.tar
	run_tool 64 snapctl export -o x.tar v w
	run_tool 64 snapctl export --bogus v
	run_tool 64 snapctl export -o x.tar ../v
	[ ! -e x.tar ]
	busy v
	run_tool 75 snapctl export -o x.tar v
	assert_output --partial "snapctl: VM 'v' is busy: pid $HOLDER (snapctl delete)"
	run_tool 75 snapctl export --wait=1 -o x.tar v
	[ ! -e x.tar ]
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	run_tool 0 snapctl export --wait=5 -o x.tar v
	[ -s x.tar ]
}
