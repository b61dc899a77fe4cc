#!/usr/bin/env bats
# kill -9 of snapctl at every step of create, apply and delete (20+ points
# each): the next command rolls the journal forward or back, and afterwards
# the chain checks clean, snapshot list and layer files agree, and "now"
# holds exactly the data it should.

load helpers

# src VM [N]: the file of disk N (default 0) in vm.xml
src() {
	vmctl dumpxml "$1" | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | sed -n "$((${2:-0} + 1))p"
}

# a VM with N (default 3) disks, data in each, model files m0.. of what "now" holds
mkvm() {
	mkdir -p disks
	local args=() n=${1:-3}
	NDISKS=$n
	for ((i = 0; i < n; i++)); do
		vhdtool create -b 64K "disks/d$i.vhd" 2M
		test-tool pattern $((i + 1)) 2097152 > "m$i"
		vhdtool write -i "m$i" "disks/d$i.vhd" 0
		args+=(--disk "$W/disks/d$i.vhd")
	done
	vmctl create v --memory 64M --kernel "$W/m0" "${args[@]}"
}

# consistent STATE_NAME: chain clean, content = models, no orphan layer
consistent() {
	local f i
	for ((i = 0; i < NDISKS; i++)); do
		f=$(src v $i)
		vhdtool check --chain "$f" >/dev/null || { echo "$1: check failed for $f"; return 1; }
		cmp <(vhdtool cat "$f") "m$i" || { echo "$1: disk $i content differs"; return 1; }
	done
	snapctl list --json v > list.json || { echo "$1: list failed"; return 1; }
	[ ! -e "$VMCTL_ROOT/v/journal" ] || { echo "$1: journal left"; return 1; }
	# no temporary file (.<name>.XXXXXX) a killed command left: the rerun swept it
	local left
	left=$(find "$VMCTL_ROOT/v" disks -regextype posix-extended -regex '.*/\.[^/]+\.[A-Za-z0-9]{6}' 2>/dev/null)
	[ -z "$left" ] || { echo "$1: temporary files left: $left"; return 1; }
	# every layer file is in use: by vm.xml or by a snapshot
	for f in disks/*.avhd; do
		[ -e "$f" ] || continue
		grep -qF "$(basename "$f")" "$VMCTL_ROOT"/v/vm.xml "$VMCTL_ROOT"/v/snapshots/*.xml 2>/dev/null ||
			{ echo "$1: orphan layer $f"; return 1; }
	done
}

# crash POINT CMD...: run CMD with a crash at POINT; expect a kill (or no hit)
crash() {
	local point=$1
	shift
	run env VMSNAP_CRASHPOINT="$point" "$@"
	[ "$status" -eq 137 ] || [ "$status" -eq 0 ] || { echo "$point: exit $status: $output"; return 1; }
	# what the killed command left is swept only once older than the grace
	# (2 s; a live writer holds a lock on it anyway): age it, not the test
	find "$VMCTL_ROOT/v" disks -name '.*' -type f -exec touch -d '-1 min' {} + 2>/dev/null || true
}

@test "kill -9 at 20+ points of snapshot create; the rerun recovers" {
	mkvm 6
	points="snap-create-journal snap-create-meta snap-create-commit"
	for n in 1 2 3 4 5 6; do
		points="$points snap-create-layer:$n create-temp:$n create-written:$n"
	done
	for n in 1 2 3 4; do points="$points atomic-write:$n"; done
	k=0 kills=0
	for p in $points; do
		k=$((k + 1))
		crash "$p" snapctl create v "s$k"
		[ "$status" -eq 137 ] && kills=$((kills + 1))
		# the next mutating command finishes or undoes what was left
		run snapctl create v "s$k"
		[ "$status" -eq 0 ] || [ "$status" -eq 73 ] || { echo "$p: rerun exit $status: $output"; false; }
		consistent "$p"
		[ "$(jq "[.snapshots[] | select(.name == \"s$k\")] | length" list.json)" -eq 1 ]
	done
	[ "$kills" -ge 20 ] || { echo "only $kills kills"; false; }
}

@test "kill -9 at 20+ points of apply; now is the snapshot's or the old one, never a mix" {
	mkvm
	snapctl create v base
	for i in 0 1 2; do test-tool pattern $((i + 10)) 4096 | vhdtool write "$(src v $i)" 8192; done
	for i in 0 1 2; do cp "m$i" "base$i"; dd if=<(test-tool pattern $((i + 10)) 4096) of="m$i" bs=1 seek=8192 conv=notrunc status=none; cp "m$i" "later$i"; done
	snapctl create v later
	points="snap-apply-journal snap-apply-layer:1 snap-apply-layer:2 snap-apply-layer:3
		snap-apply-commit create-temp:1 create-temp:2 create-temp:3"
	for n in 1 2 3 4 5; do points="$points atomic-write:$n"; done
	kills=0
	for p in $points; do
		for target in base later; do
			crash "$p" snapctl apply -y v "$target"
			[ "$status" -eq 137 ] && kills=$((kills + 1))
			run snapctl apply -y v "$target"   # the rerun
			[ "$status" -eq 0 ] || { echo "$p: rerun: $output"; false; }
			for i in 0 1 2; do cp "$target$i" "m$i"; done
			consistent "$p $target"
		done
	done
	[ "$kills" -ge 20 ] || { echo "only $kills kills"; false; }
}

@test "kill -9 at 20+ points of delete with merge; the rerun finishes it" {
	mkvm
	snapctl create v s1
	# a bigger child: many merge steps
	for i in 0 1 2; do
		test-tool pattern $((i + 20)) 1048576 > part
		vhdtool write -i part "$(src v $i)" 65536
		dd if=part of="m$i" bs=64K seek=1 conv=notrunc status=none
	done
	mkdir orig
	cp -a disks "$VMCTL_ROOT/v" orig/
	points="snap-delete-journal snap-delete-merge:1 snap-delete-merge:2 snap-delete-meta
		merge-journal:1 merge-synced:1 merge-copied:2 atomic-write:1 atomic-write:3"
	for n in 1 3 5 7 9 11 13 15 17 19 21 25 30; do points="$points merge-copy:$n"; done
	k=0 kills=0
	for p in $points; do
		k=$((k + 1))
		rm -rf disks "$VMCTL_ROOT/v"
		cp -a orig/disks .
		cp -a orig/v "$VMCTL_ROOT/"
		crash "$p" snapctl delete v s1
		[ "$status" -eq 137 ] && kills=$((kills + 1))
		run snapctl delete v s1
		[ "$status" -eq 0 ] || [ "$status" -eq 66 ] || { echo "$p: rerun exit $status: $output"; false; }
		consistent "$p"
		[ "$(jq '.snapshots | length' list.json)" -eq 0 ]
		# one layer shorter: each disk is its base again
		[ "$(src v 0)" = "$W/disks/d0.vhd" ]
	done
	[ "$kills" -ge 20 ] || { echo "only $kills kills"; false; }
}
