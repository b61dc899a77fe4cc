#!/usr/bin/env bats
# I/O faults: every write, sync and rename of a command made to fail in turn
# (the 1st, then the 2nd, ... until the command no longer reaches that many)
# by an LD_PRELOAD interposer, $BUILD/faultinj.so (tests/faultinj/faultinj.c).
# After each injected fault the command must exit 74 with a message naming a
# file and the error, and leave the previous state: files as they were (or,
# for in-place writes, every block old or new), check clean, no temporary
# file, the snapshot tree unchanged. The last run, which the fault no longer
# reaches, must succeed. Complements enospc.bats (a real full file system).

load helpers
load snapctl-helpers

FI=$BUILD/faultinj.so
FAULT_LOG=

eval "helpers_$(declare -f setup)"        # helpers.bash's set-up, then ours
setup() {
	helpers_setup || return 1
	[ -e "$FI" ] || skip "no $FI (make check builds it)"
	FAULT_LOG=$BATS_TEST_TMPDIR/fault.log
}

# snapshot_files: every file (name and sha256) under $W and the store
snapshot_files() {
	(find "$W" "$VMCTL_ROOT" -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum)
}
remember() { snapshot_files > "$BATS_TEST_TMPDIR/before"; }
unchanged() {
	snapshot_files > "$BATS_TEST_TMPDIR/after"
	diff "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after" >&2 ||
		{ echo "$1: files changed (< before, > after)" >&2; return 1; }
}

# faults KIND CHECK CMD...: run CMD with its Nth KIND operation failing for
# N = 1, 2, ...; after each failure expect 74 + a message, then run CHECK
# "<what failed>"; stop at the first run the fault does not reach, which
# must succeed. A snapshot verb whose journal could not be removed after it
# was done exits 0 with a warning: then CHECK "<what>" done (it verifies the
# new state and puts the old one back). Counts the faults in $INJECTED.
INJECTED=0
faults() {
	local kind=$1 check=$2 n=1
	shift 2
	while :; do
		rm -f "$FAULT_LOG"
		# op.lock's holder line is best effort by design (a lock without it
		# still locks): its write is not counted
		run env LD_PRELOAD="$FI" VMSNAP_FAULT="$kind:$n" VMSNAP_FAULT_LOG="$FAULT_LOG" \
			VMSNAP_FAULT_SKIP=op.lock \
			ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
		if [ ! -s "$FAULT_LOG" ]; then
			[ "$status" -eq 0 ] || { echo "$kind #$n not reached, yet exit $status: $output" >&2; return 1; }
			break
		fi
		local what
		what=$(head -n 1 "$FAULT_LOG")
		if [ "$status" -eq 0 ] && [[ $output == *"(done; the next command removes the journal)"* ]]; then
			# the fault hit the removal of a snapshot journal after the
			# operation was complete and durable: done, with a warning
			"$check" "$what" done || return 1
			n=$((n + 1))
			continue
		fi
		[ "$status" -eq 74 ] || { echo "$what: exit $status (want 74): $output" >&2; return 1; }
		[[ $output == *"Input/output error"* ]] ||
			{ echo "$what: no error text: $output" >&2; return 1; }
		[[ $output == *"'"*"'"* ]] || { echo "$what: names no file: $output" >&2; return 1; }
		"$check" "$what" || return 1
		n=$((n + 1))
		[ "$n" -le 400 ] || { echo "more than 400 $kind operations?" >&2; return 1; }
	done
	INJECTED=$((INJECTED + n - 1))
	echo "# $kind: $((n - 1)) faults injected into: $*" >&3
}

no_temps() {
	local left
	left=$(find "$W" "$VMCTL_ROOT" -name '.*' -type f 2>/dev/null | grep -v '/\.\?fault' || true)
	[ -z "$left" ] || { echo "$1: left behind: $left" >&2; return 1; }
}
intact() { unchanged "$1" && no_temps "$1"; }

@test "create (dynamic, differencing, fixed) and convert: every fault leaves no file" {
	vhdtool create -q -b 64K base.vhd 1M
	test-tool pattern 1 1048576 | vhdtool write base.vhd 0
	remember
	for kind in write sync rename; do
		faults $kind intact vhdtool create -b 64K d.vhd 4M
		rm d.vhd
		faults $kind intact vhdtool create -p base.vhd c.avhd
		rm c.avhd
		faults $kind intact vhdtool create --type fixed f.vhd 1M
		rm f.vhd
		faults $kind intact vhdtool convert -b 64K base.vhd out.vhd
		cmp <(vhdtool cat out.vhd) <(vhdtool cat base.vhd)
		rm out.vhd
		faults $kind intact vhdtool convert -O raw base.vhd out.raw
		cmp out.raw <(vhdtool cat base.vhd)
		rm out.raw
	done
	[ "$INJECTED" -ge 40 ]
}

# in-place writes: outside the written range as before, inside each block
# old or new (a disk gives no atomicity across blocks); check clean (no leak)
WRITE_AT=1048576
block_old_or_new() {
	vhdtool check c.avhd >/dev/null || { echo "$1: check c.avhd: $(vhdtool check c.avhd 2>&1)" >&2; return 1; }
	vhdtool cat c.avhd > now.raw
	cmp <(head -c $WRITE_AT now.raw) <(head -c $WRITE_AT model.raw) ||
		{ echo "$1: data before the write changed" >&2; return 1; }
	cmp <(tail -c +$((WRITE_AT + 262145)) now.raw) <(tail -c +$((WRITE_AT + 262145)) model.raw) ||
		{ echo "$1: data after the write changed" >&2; return 1; }
	local b got old new
	for ((b = 0; b < 4; b++)); do
		got=$(dd if=now.raw bs=64K skip=$((WRITE_AT / 65536 + b)) count=1 status=none | sha256sum)
		old=$(dd if=model.raw bs=64K skip=$((WRITE_AT / 65536 + b)) count=1 status=none | sha256sum)
		new=$(dd if=new.raw bs=64K skip=$b count=1 status=none | sha256sum)
		[ "$got" = "$old" ] || [ "$got" = "$new" ] || { echo "$1: block $b is neither" >&2; return 1; }
	done
	no_temps "$1"
}

@test "write through a chain (new blocks and bitmaps): every fault leaves blocks old or new, check clean" {
	vhdtool create -q -b 64K base.vhd 4M
	test-tool pattern 1 4194304 > model.raw
	vhdtool write -i model.raw base.vhd 0
	vhdtool create -q -p base.vhd c.avhd
	test-tool pattern 2 262144 > new.raw
	for kind in write sync; do
		faults $kind block_old_or_new vhdtool write -i new.raw c.avhd $WRITE_AT
		cmp <(vhdtool cat c.avhd | tail -c +$((WRITE_AT + 1)) | head -c 262144) new.raw
		rm c.avhd
		vhdtool create -q -p base.vhd c.avhd
	done
	[ "$INJECTED" -ge 10 ]
}

@test "resize (a larger block table) and set-parent: every fault leaves the image as it was" {
	vhdtool create -q -b 64K base.vhd 4M
	test-tool pattern 1 1048576 | vhdtool write base.vhd 0
	cp base.vhd other.vhd
	vhdtool create -q -p base.vhd c.avhd
	remember
	checked() { vhdtool check base.vhd >/dev/null && vhdtool check c.avhd >/dev/null && intact "$1"; }
	# resize is several ordered steps (table, header, footers): after a fault
	# the image checks clean, holds the same data and has its old size or its
	# new one (a step that reached the file stays; none leaves it broken)
	old_or_new() {
		vhdtool check base.vhd >/dev/null || { echo "$1: check failed" >&2; return 1; }
		no_temps "$1" || return 1
		local size
		size=$(vhdtool info --json base.vhd | jq .virtual_size)
		[ "$size" -eq 1073741824 ] || [ "$size" -eq 4194304 ] || { echo "$1: size $size" >&2; return 1; }
		cmp <(vhdtool cat base.vhd | head -c 4194304) <(vhdtool cat other.vhd) ||
			{ echo "$1: the data changed" >&2; return 1; }
		vhdtool check c.avhd >/dev/null || { echo "$1: check c.avhd failed" >&2; return 1; }
	}
	faults write old_or_new vhdtool resize base.vhd 1G
	[ "$(vhdtool info --json base.vhd | jq .virtual_size)" -eq 1073741824 ]
	cp other.vhd base.vhd
	remember
	faults sync old_or_new vhdtool resize base.vhd 1G
	[ "$(vhdtool info --json base.vhd | jq .virtual_size)" -eq 1073741824 ]
	cp other.vhd base.vhd
	remember
	# set-parent: the child checks clean, reads the same, and names the old
	# parent or the new one
	either_parent() {
		vhdtool check c.avhd >/dev/null || { echo "$1: check c.avhd failed" >&2; return 1; }
		cmp <(vhdtool cat c.avhd) <(vhdtool cat other.vhd) || { echo "$1: data changed" >&2; return 1; }
		local p
		p=$(vhdtool info --json c.avhd | jq -r .parent_name)
		[[ $p == */base.vhd || $p == */other.vhd || $p == base.vhd || $p == other.vhd ]] ||
			{ echo "$1: parent $p" >&2; return 1; }
		no_temps "$1"
	}
	faults write either_parent vhdtool set-parent c.avhd other.vhd
	faults sync either_parent vhdtool set-parent c.avhd base.vhd
	[ "$INJECTED" -ge 4 ]
}

@test "merge: after every fault the chain reads the same, checks clean, and a journal left is named with how to finish" {
	vhdtool create -q -b 64K base.vhd 4M
	test-tool pattern 1 1048576 | vhdtool write base.vhd 0
	vhdtool create -q -p base.vhd c.avhd
	test-tool pattern 2 262144 | vhdtool write c.avhd 2097152
	vhdtool cat c.avhd > chain.raw
	chain_same() {
		cmp <(vhdtool cat c.avhd) chain.raw || { echo "$1: the chain reads differently" >&2; return 1; }
		vhdtool check --chain c.avhd >/dev/null || { echo "$1: check --chain failed" >&2; return 1; }
		[[ $output == *"partly merged"* ]] || [ ! -e .base.vhd.merge ] ||
			{ echo "$1: a journal left and the message does not say so: $output" >&2; return 1; }
	}
	for kind in write sync rename; do
		faults $kind chain_same vhdtool merge --keep c.avhd
		cmp <(vhdtool cat base.vhd) chain.raw
		run ls -A
		refute_output --partial merge
	done
	[ "$INJECTED" -ge 10 ]
}

@test "snapctl create, apply and vmctl set: every fault leaves the tree, vm.xml and layers as they were" {
	mkdir -p disks
	vhdtool create -q -b 64K disks/d0.vhd 2M
	vhdtool create -q -b 64K disks/d1.vhd 2M
	echo stand-in > kernel
	vmctl create -q v --memory 64M --kernel "$W/kernel" --disk "$W/disks/d0.vhd" --disk "$W/disks/d1.vhd"
	snapctl create -q v s1
	snapctl list -H v > list
	remember
	tree_and_files() {
		# done with a warning, or vm.xml replaced but its folder not synced
		# ("the next ... command finishes the create"): recovery rolls forward
		if [ "${2:-}" = done ] || [[ $output == *"command for this VM finishes the"* ]]; then
			vmctl set -q v --memory 64M
			no_temps "$1" || return 1
			[ ! -e "$VMCTL_ROOT/v/journal" ] || { echo "$1: journal left" >&2; return 1; }
			$UNDO
			snapctl list -H v > list
			remember
			return 0
		fi
		diff list <(snapctl list -H v) >&2 || { echo "$1: the tree changed" >&2; return 1; }
		intact "$1"
	}
	# vmctl set replaces vm.xml: after a fault it is the old one or (the
	# rename done, the folder's sync failed) the new one, whole either way
	set_old_or_new() {
		local mem
		mem=$(vmctl status --json v | jq .memory_bytes)
		[ "$mem" = 67108864 ] || [ "$mem" = 134217728 ] || { echo "$1: memory $mem" >&2; return 1; }
		vmctl set -q v --memory 64M
		no_temps "$1" || return 1
		unchanged "$1"
	}
	local kind
	for kind in write sync rename; do
		UNDO="snapctl delete v s2"
		faults $kind tree_and_files snapctl create v s2
		snapctl delete v s2 >/dev/null
		snapctl apply -y v s1 >/dev/null
		snapctl list -H v > list
		remember
		UNDO=:
		faults $kind tree_and_files snapctl apply -y v s1
		snapctl list -H v > list
		remember
		faults $kind set_old_or_new vmctl set v --memory 128M
		vmctl set -q v --memory 64M
		remember
	done
	[ "$INJECTED" -ge 30 ]
}

@test "snapctl delete: every fault keeps the snapshot or finishes the delete on the next command, nothing lost" {
	mkdir -p disks
	vhdtool create -q -b 64K disks/d0.vhd 2M
	echo stand-in > kernel
	vmctl create -q v --memory 64M --kernel "$W/kernel" --disk "$W/disks/d0.vhd"
	test-tool pattern 1 1048576 | vhdtool write disks/d0.vhd 0
	cur() { vmctl dumpxml v | sed -n 's/.*source file="\([^"]*\)".*/\1/p'; }
	# a fresh s1 whose data (s1.raw) "now" then overwrites in part (now.raw)
	fresh_s1() {
		snapctl create v s1 >/dev/null || return 1
		vhdtool cat "$(snapctl show --json v s1 | jq -r '.disks[0].file')" > s1.raw
		test-tool pattern $((RANDOM % 100 + 3)) 65536 | vhdtool write "$(cur)" 0
		vhdtool cat "$(cur)" > now.raw
	}
	kept_or_done() {
		vmctl set -q v --memory 64M || { echo "$1: recovery failed" >&2; return 1; }
		[ ! -e "$VMCTL_ROOT/v/journal" ] || { echo "$1: journal left after recovery" >&2; return 1; }
		cmp <(vhdtool cat "$(cur)") now.raw || { echo "$1: now changed" >&2; return 1; }
		vhdtool check --chain "$(cur)" >/dev/null || { echo "$1: check failed" >&2; return 1; }
		no_temps "$1" || return 1
		if snapctl list -H v | grep -q '^s1'; then
			cmp <(vhdtool cat "$(snapctl show --json v s1 | jq -r '.disks[0].file')") s1.raw ||
				{ echo "$1: s1 lost data" >&2; return 1; }
		else
			DONE_EARLY=$((DONE_EARLY + 1))   # finished by recovery: next round, a new s1
			fresh_s1
		fi
	}
	DONE_EARLY=0
	local kind
	for kind in write sync rename; do
		fresh_s1
		faults $kind kept_or_done snapctl delete v s1
		! snapctl list -H v | grep -q '^s1'
		cmp <(vhdtool cat "$(cur)") now.raw
		vhdtool check --chain "$(cur)"
	done
	echo "# delete: $DONE_EARLY faults after which recovery finished the delete" >&3
	[ "$INJECTED" -ge 3 ]
}
