#!/usr/bin/env bats
# ENOSPC: every write path of vhdtool, snapctl and vmctl against a small
# tmpfs (48 MiB, mounted for each test) filled to the brim or almost. tmpfs
# counts space in whole pages with no reserve, so "fill" is exact and every
# run hits the same wall (an ext4 loop mount kept a few KiB of slack that
# varied from run to run). Each command must fail with exit 74 and a message
# that names what could not be written, leave what was there intact (same
# sha256, check clean, same snapshot list) and leave no temporary file
# behind; where a step cannot be undone (a merge that wrote into its
# target), it must say how to finish and the next command must finish it.

load helpers

MNT=
setup() {
	W=$BATS_TEST_TMPDIR/w
	mkdir -p "$W"
	export PATH="$BUILD:$PATH"
	unset NO_COLOR
	[ "$(id -u)" = 0 ] || skip "mounting a small tmpfs needs root"
	requires mount umount
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	local err
	err=$(mount -t tmpfs -o size=48m,mode=0700 vmsnap-enospc "$MNT" 2>&1) || {
		MNT=
		skip "cannot mount a small tmpfs here: $err"
	}
	export VMCTL_ROOT=$MNT/root
	cd "$MNT" || return 1
}

teardown() {
	[ -n "$MNT" ] || return 0
	rm -f "$MNT/fill"                   # a full file system cannot even take a stop request
	stop_all_vms
	cd /
	local i
	for i in 1 2 3 4 5; do
		umount "$MNT" 2>/dev/null && return 0
		sleep 0.2
	done
	umount -l "$MNT"
}

# fill [LEAVE_KIB]: fill the file system but LEAVE_KIB (default 0)
fill() {
	rm -f "$MNT/fill"
	sync
	dd if=/dev/zero of="$MNT/fill" bs=1M status=none 2>/dev/null || true
	dd if=/dev/zero of="$MNT/fill" bs=4K oflag=append conv=notrunc status=none 2>/dev/null || true
	sync
	if [ "${1:-0}" -gt 0 ]; then
		truncate -s $(($(stat -c %s "$MNT/fill") - $1 * 1024)) "$MNT/fill"
		sync
	fi
}
room() { rm -f "$MNT/fill"; sync; }

# remember: what is on the file system now (file names and sha256, but fill)
remember() {
	(cd "$MNT" && find . -path ./fill -prune -o -path ./lost+found -prune -o -type f -print0 |
		sort -z | xargs -0 -r sha256sum) > "$BATS_TEST_TMPDIR/before"
}
# unchanged: every file as remembered, no file more, no file less
unchanged() {
	(cd "$MNT" && find . -path ./fill -prune -o -path ./lost+found -prune -o -type f -print0 |
		sort -z | xargs -0 -r sha256sum) > "$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" || {
		echo "the files changed (< before, > after)"
		return 1
	}
}
# no_temps: no hidden file (temporary, journal) anywhere
no_temps() {
	local left
	left=$(find "$MNT" -path "$MNT/lost+found" -prune -o -name '.*' -type f -print)
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
	[ ! -e "$VMCTL_ROOT/v/journal" ] || { echo "left behind: $VMCTL_ROOT/v/journal"; return 1; }
}
# nospace EXPECTED_NAME: the last command said what it could not write, and why
nospace() {
	assert_output --partial "No space left on device"
	assert_output --partial "$1"
}
clean() { run_vhdtool 0 check --chain "$1"; }
holds() { cmp <(vhdtool cat "$1") "$2"; }

# disk FILE: a 4 MiB dynamic disk (64 KiB blocks) with 1 MiB of data at 0; FILE.model
disk() {
	vhdtool create -q -b 64K "$1" 4M
	truncate -s 4M "$1.model"
	test-tool pattern 1 1048576 > "$BATS_TEST_TMPDIR/data"
	vhdtool write -i "$BATS_TEST_TMPDIR/data" "$1" 0
	dd if="$BATS_TEST_TMPDIR/data" of="$1.model" conv=notrunc status=none
	mv "$1.model" "$BATS_TEST_TMPDIR/"
}
model() { echo "$BATS_TEST_TMPDIR/$(basename "$1").model"; }

@test "create, create --parent, --preallocate and convert on a full file system: 74, nothing left" {
	disk base.vhd
	vhdtool convert -q base.vhd old.vhd
	remember
	fill
	run_vhdtool 74 create d.vhd 1M
	nospace d.vhd
	run_vhdtool 74 create -p base.vhd c.avhd
	nospace c.avhd
	run_vhdtool 74 create --type fixed --preallocate f.vhd 8M
	nospace f.vhd
	run_vhdtool 74 convert base.vhd out.vhd
	nospace out.vhd
	run_vhdtool 74 convert -O raw base.vhd out.raw
	nospace out.raw
	run_vhdtool 74 convert --force base.vhd old.vhd
	nospace old.vhd
	unchanged
	no_temps
	# almost full: the data does not fit, the temporary file goes
	fill 256
	run_vhdtool 74 create --type fixed --preallocate f.vhd 8M
	nospace f.vhd
	run_vhdtool 74 convert -b 4K base.vhd out.vhd
	nospace out.vhd
	run_vhdtool 74 convert -O raw base.vhd out.raw
	nospace out.raw
	run_vhdtool 74 convert --force --type fixed base.vhd old.vhd
	nospace old.vhd
	unchanged
	no_temps
	clean old.vhd
	clean base.vhd
}

@test "write, resize and merge on a full file system: 74, every file as it was" {
	disk base.vhd
	vhdtool create -q -p base.vhd c.avhd
	test-tool pattern 2 1048576 > new
	vhdtool write -i new c.avhd 1048576
	remember
	fill
	run_vhdtool 74 write -i new base.vhd 2097152          # a new block
	nospace base.vhd
	run_vhdtool 74 write -i new c.avhd 0                  # a new block in a child
	nospace c.avhd
	run_vhdtool 74 resize base.vhd 2G                     # a longer block table
	nospace base.vhd
	run_vhdtool 74 merge c.avhd                           # new blocks in base.vhd
	assert_output --partial "No space left on device"
	unchanged
	no_temps
	clean c.avhd
}

@test "write that runs out of space after its first step: 74, data intact, the next writer reclaims" {
	disk d.vhd
	remember
	fill 64
	test-tool pattern 2 1048576 > "$BATS_TEST_TMPDIR/new"
	run_vhdtool 74 write -i "$BATS_TEST_TMPDIR/new" d.vhd 2097152
	nospace d.vhd
	# nothing acknowledged is lost: outside the failed write the disk is as it
	# was; inside it (16 blocks of 64 KiB, no atomicity across blocks, as on
	# any disk) each block holds either its old or its new data
	vhdtool cat d.vhd > "$BATS_TEST_TMPDIR/now"
	cmp <(head -c 2097152 "$BATS_TEST_TMPDIR/now") <(head -c 2097152 "$(model d.vhd)")
	cmp <(tail -c +3145729 "$BATS_TEST_TMPDIR/now") <(tail -c +3145729 "$(model d.vhd)")
	local b
	for ((b = 0; b < 16; b++)); do
		local got old new
		got=$(dd if="$BATS_TEST_TMPDIR/now" bs=64K skip=$((32 + b)) count=1 status=none | sha256sum)
		old=$(dd if="$(model d.vhd)" bs=64K skip=$((32 + b)) count=1 status=none | sha256sum)
		new=$(dd if="$BATS_TEST_TMPDIR/new" bs=64K skip=$b count=1 status=none | sha256sum)
		[ "$got" = "$old" ] || [ "$got" = "$new" ] || { echo "block $b is neither"; false; }
	done
	run vhdtool check d.vhd
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ]            # a leak at most
	local checked=$status
	no_temps
	cp d.vhd "$BATS_TEST_TMPDIR/failed.vhd"
	room
	run_vhdtool 0 write d.vhd 0 </dev/null                # the next writer reclaims
	clean d.vhd
	holds d.vhd "$(model d.vhd)"

	[ "$checked" -eq 0 ]
	cp "$BATS_TEST_TMPDIR/failed.vhd" d.vhd
	unchanged
}

@test "resize that runs out of space: 74, data intact, check finds at most a leak" {
	disk d.vhd
	remember
	fill 64
	run_vhdtool 74 resize d.vhd 2G
	nospace d.vhd
	[ "$(vhdtool info -H d.vhd | awk '$1 == "virtual_size" { print $2 }')" = 4194304 ]
	holds d.vhd "$(model d.vhd)"
	run vhdtool check d.vhd
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
	local checked=$status
	no_temps

	[ "$checked" -eq 0 ]
	unchanged
}

@test "merge that runs out of space: 74, the chain reads the same, the rerun finishes it" {
	disk base.vhd
	vhdtool create -q -p base.vhd c.avhd
	test-tool pattern 2 1048576 > "$BATS_TEST_TMPDIR/new"
	vhdtool write -i "$BATS_TEST_TMPDIR/new" c.avhd 2097152
	vhdtool cat c.avhd > "$BATS_TEST_TMPDIR/chain"
	remember
	fill 64
	run_vhdtool 74 merge c.avhd
	assert_output --partial "No space left on device"
	# a merge cannot be undone once it wrote into base.vhd: it says so and
	# how to finish, keeps its journal, and the child reads as before
	assert_output --partial "'base.vhd' is partly merged"
	assert_output --partial "rerun the merge to finish it"
	holds c.avhd "$BATS_TEST_TMPDIR/chain"                # the child still shows the same disk
	run_vhdtool 0 check --chain c.avhd                    # no leak: the failed block was undone
	[ -e .base.vhd.merge ]
	room
	run_vhdtool 0 merge c.avhd                           # resumes or starts over
	holds base.vhd "$BATS_TEST_TMPDIR/chain"
	clean base.vhd
	[ ! -e c.avhd ]
	run ls -a
	refute_output --partial ".merge"
}

@test "compact and repair on a full file system: done in place or 74, never worse" {
	disk d.vhd
	head -c 524288 /dev/zero | vhdtool write d.vhd 0        # blocks that hold nothing
	dd if=/dev/zero of="$(model d.vhd)" bs=64K count=8 conv=notrunc status=none
	vhdtool create -q -b 64K r.vhd 4M
	printf data | vhdtool write r.vhd 0
	truncate -s -512 r.vhd                                 # the footer at the end is gone
	remember
	fill
	run vhdtool compact d.vhd                              # needs no new space
	[ "$status" -eq 0 ] || [ "$status" -eq 74 ]
	[ "$status" -eq 0 ] || assert_output --partial "No space left on device"
	clean d.vhd
	holds d.vhd "$(model d.vhd)"
	fill                                                   # compact may have freed some
	run_vhdtool 74 repair r.vhd                            # the footer needs a new block
	nospace r.vhd
	[ "$(sha r.vhd)" = "$(grep ' ./r.vhd$' "$BATS_TEST_TMPDIR/before" | cut -d' ' -f1)" ]
	no_temps
	room
	run_vhdtool 0 repair r.vhd
	clean r.vhd
	[ "$(vhdtool read r.vhd 0 4)" = data ]
}

# the store and the disks on the small file system: a VM 'v' with two disks
snapvm() {
	mkdir -p disks
	disk disks/d0.vhd
	disk disks/d1.vhd
	vmctl create -q v --memory 64M --kernel "$GUEST" --disk "$MNT/disks/d0.vhd" --disk "$MNT/disks/d1.vhd"
}
# kernel: GUEST is the test guest, or a stand-in (these VMs never boot)
kernel() { [ -e "$GUEST" ] || { GUEST=$BATS_TEST_TMPDIR/vmlinuz; echo stand-in > "$GUEST"; }; }
now() { sed -n 's/.*source file="\([^"]*\)".*/\1/p' "$VMCTL_ROOT/v/vm.xml" | sed -n "$((${1:-0} + 1))p"; }
# tree_same: snapctl list -H is as remembered in $BATS_TEST_TMPDIR/list
tree_same() { diff "$BATS_TEST_TMPDIR/list" <(snapctl list -H v); }

@test "snapctl create and apply on a full or almost full file system: 74, tree and files unchanged" {
	kernel
	snapvm
	snapctl create -q v s1
	test-tool pattern 3 65536 | vhdtool write "$(now 0)" 0
	snapctl list -H v > "$BATS_TEST_TMPDIR/list"
	remember
	# 0: no journal; 8 KiB: the journal but no layer; 32 KiB: one layer of two
	for leave in 0 8 32; do
		fill $leave
		run_tool 74 snapctl create v s2
		assert_output --partial "No space left on device"
		tree_same
		unchanged
		no_temps
		run_tool 74 snapctl apply -y v s1
		assert_output --partial "No space left on device"
		tree_same
		unchanged
		no_temps
	done
	room
	clean "$(now 0)"
	clean "$(now 1)"
	run_tool 0 snapctl create v s2                      # and with room, it works
}

@test "snapctl delete on a full file system: 74, tree and files unchanged" {
	kernel
	snapvm
	snapctl create -q v s1
	test-tool pattern 3 1048576 | vhdtool write "$(now 0)" 2097152
	snapctl list -H v > "$BATS_TEST_TMPDIR/list"
	remember
	fill
	run_tool 74 snapctl delete v s1
	assert_output --partial "No space left on device"
	tree_same
	unchanged
	no_temps
}

@test "snapctl delete that runs out of space: 74, nothing lost, the next command finishes or keeps it" {
	kernel
	snapvm
	snapctl create -q v s1
	vhdtool cat disks/d0.vhd > "$BATS_TEST_TMPDIR/s1.0"
	test-tool pattern 3 1048576 | vhdtool write "$(now 0)" 0   # now overwrites s1's data
	vhdtool cat "$(now 0)" > "$BATS_TEST_TMPDIR/now.0"
	snapctl list -H v > "$BATS_TEST_TMPDIR/list"
	local leave
	for leave in 8 16; do
		snapctl list -H v | grep -q "^s1" || break
		fill $leave
		run_tool 74 snapctl delete v s1
		assert_output --partial "No space left on device"
		tree_same                                           # s1 is still listed
		room
		# a delete cannot be rolled back once it merged into a layer: the
		# next locking command finishes it (snapops_recover); before that,
		# it either kept s1 whole or finished
		vmctl set -q v --memory 64M
		[ ! -e "$VMCTL_ROOT/v/journal" ]
		if snapctl list -H v | grep -q "^s1"; then
			cmp <(vhdtool cat disks/d0.vhd) "$BATS_TEST_TMPDIR/s1.0"
		fi
		cmp <(vhdtool cat "$(now 0)") "$BATS_TEST_TMPDIR/now.0"   # "now" as it was
		clean "$(now 0)"
		run ls -a "$MNT/disks" "$VMCTL_ROOT/v"
		refute_output --partial journal
		refute_output --partial .merge
		refute_output --partial .tmp
	done
}

@test "vmctl create and set on a full file system: 74, vm.xml unchanged" {
	kernel
	snapvm
	remember
	fill
	run_tool 74 vmctl set v --memory 128M
	nospace vm.xml
	run_tool 74 vmctl create w --kernel "$GUEST"
	assert_output --partial "No space left on device"
	unchanged
	no_temps
	[ ! -e "$VMCTL_ROOT/w" ]                               # no empty VM folder either
}

@test "vmctl save of a running guest short of space: 74, the guest runs on, no saved state left" {
	requires_kvm
	vhdtool create -q -b 64K d.vhd 4M
	guest_vm g 1 "$MNT/d.vhd"
	guest_start g
	guest g fill 7 32                                      # 32 MiB the .bin must hold
	for leave in 0 8192; do
		fill $leave
		run_tool 74 vmctl save g
		assert_output --partial "No space left on device"
		[ "$(vmctl status --json g | jq -r .state)" = running ]
		[ ! -e "$VMCTL_ROOT/g/saved.vsv" ] && [ ! -e "$VMCTL_ROOT/g/saved.bin" ]
		run find "$VMCTL_ROOT/g" -maxdepth 1 -name '.*'
		assert_output ""
		room
		[ "$(guest g verify 7 32)" = ok ]                  # RAM as it was
	done
	fill
	run vmctl stop --force g
	local stopped=$status
	room
	[ "$stopped" -eq 0 ]                                  # SIGTERM when no request fits
	vmctl wait --timeout 20 g
}
