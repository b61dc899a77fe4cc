#!/usr/bin/env bats
# vhdtool compact: zero blocks dropped, the file packed and cut, byte for byte
# against a raw model; differencing rules; kill -9 at every step and at N-th hits.

load helpers
load modify-helpers

STRIDE=$((69632))   # a 64 KiB block, its bitmap, data 4 KiB aligned

# mk2m FILE RAW: 2 MiB dynamic disk, 64 KiB blocks, all 32 written; then blocks
# 2, 5, 6, 11, 17 and 20 zeroed whole (droppable), block 9 zeroed but one byte
mk2m() {
	vhdtool create -b 64K "$1" 2M
	truncate -s 2M "$2"
	put "$1" "$2" 0 2097152 1
	for b in 2 5 6 11 17 20; do put "$1" "$2" $((b * 65536)) 65536 zero; done
	put "$1" "$2" $((9 * 65536)) 65535 zero
}

# clearbm FILE BLOCK: clear the sector bitmap of an allocated block (BAT at 1536)
clearbm() {
	test-tool poke "$1" $((0x$(bat_entry "$1" "$2") * 512)) 00000000000000000000000000000000
}

@test "dynamic: zero blocks dropped, blocks from the end moved into their slots, file cut" {
	mk2m d.vhd raw
	size=$(stat -c %s d.vhd)
	run_vhdtool 0 compact --json d.vhd
	assert_equal "$(jq -c 'keys_unsorted' <<<"$stdout")" \
		'["file","type","dry_run","rule","blocks_before","blocks_freed","blocks_moved","blocks_after","file_size_before","file_size_after","bytes_reclaimed"]'
	assert_equal "$(jqv '"\(.rule) \(.blocks_before) \(.blocks_freed) \(.blocks_moved) \(.blocks_after)"')" \
		"zero_data 32 6 6 26"
	assert_equal "$(jqv .bytes_reclaimed)" $((6 * STRIDE))
	assert_equal "$(jqv .file_size_after)" $((size - 6 * STRIDE))
	[ "$(stat -c %s d.vhd)" -eq $((size - 6 * STRIDE)) ]
	same_as d.vhd raw
	clean d.vhd
	assert_equal "$(vhdtool info --json d.vhd | jq -r .allocated_blocks)" 26
	# nothing left to do: nothing written
	before=$(sha d.vhd)
	run_vhdtool 0 compact -H d.vhd
	assert_line $'blocks_freed\t0'
	assert_line $'bytes_reclaimed\t0'
	[ "$(sha d.vhd)" = "$before" ]
	# the disk stays writable: new blocks go after the packed ones
	put d.vhd raw $((5 * 65536)) 1000 7
	scribble d.vhd raw 8 30
	same_as d.vhd raw
	clean d.vhd
}

@test "--dry-run reports the same and changes nothing" {
	mk2m d.vhd raw
	before=$(sha d.vhd)
	run_vhdtool 0 compact --dry-run --json d.vhd
	assert_equal "$(jqv '"\(.dry_run) \(.blocks_freed) \(.blocks_moved) \(.bytes_reclaimed)"')" \
		"true 6 6 $((6 * STRIDE))"
	[ "$(sha d.vhd)" = "$before" ]
	run_vhdtool 0 compact --dry-run d.vhd
	assert_output --partial "dry run:          true"
	[ "$(sha d.vhd)" = "$before" ]
}

@test "scribbled disk with zeroed ranges: compact equals the raw model" {
	vhdtool create -b 64K d.vhd 3M
	truncate -s 3M raw
	scribble d.vhd raw 11 60
	for off in 0 655360 1310720 2883584; do put d.vhd raw $off 131072 zero; done
	run_vhdtool 0 compact --json d.vhd
	[ "$(jqv .blocks_freed)" -ge 4 ]
	same_as d.vhd raw
	clean d.vhd
	scribble d.vhd raw 12 20
	same_as d.vhd raw
	clean d.vhd
}

@test "differencing: only blocks with an all-clear bitmap go; a block of zeros hides the parent and stays" {
	vhdtool create -b 64K base.vhd 1M
	truncate -s 1M raw
	put base.vhd raw 0 1048576 1
	vhdtool create -p base.vhd c.avhd
	put c.avhd raw $((2 * 65536)) 65536 zero       # zeros over parent data
	put c.avhd raw $((5 * 65536)) 65536 2
	put c.avhd raw $((14 * 65536)) 65536 3
	clearbm c.avhd 5                                # block 5 holds nothing now
	vhdtool cat -o before.raw c.avhd
	# the parent shows through block 5 again
	cmp <(head -c $((6 * 65536)) before.raw | tail -c 65536) \
	    <(vhdtool cat base.vhd | head -c $((6 * 65536)) | tail -c 65536)
	run_vhdtool 0 compact --json c.avhd
	assert_equal "$(jqv '"\(.rule) \(.blocks_freed) \(.blocks_moved) \(.blocks_after)"')" \
		"clear_bitmap 1 1 2"
	cmp <(vhdtool cat c.avhd) before.raw
	clean --chain c.avhd
	run_vhdtool 0 compact c.avhd
	assert_output --partial "note: differencing disk: only blocks whose sector bitmap is all clear"
	# a Windows-made child: every allocated block has bits set, nothing to drop
	f=$(fixture dfvfs-fat-differential.vhd)
	before=$(sha "$f")
	run_vhdtool 0 compact --json "$f"
	assert_equal "$(jqv .blocks_freed)" 0
	[ "$(sha "$f")" = "$before" ]
}

@test "qemu-made disk: a block overwritten with zeros is dropped, the file shrinks to its metadata" {
	f=$(fixture local-qemu-dynamic.vhd)
	before=$(sha "$f")
	run_vhdtool 0 compact --json "$f"
	assert_equal "$(jqv .blocks_freed)" 0
	[ "$(sha "$f")" = "$before" ]
	head -c 65536 /dev/zero | vhdtool write "$f" 0
	run_vhdtool 0 compact --json "$f"
	assert_equal "$(jqv '"\(.blocks_freed) \(.file_size_after)"')" "1 2560"
	[ "$(stat -c %s "$f")" -eq 2560 ]
	clean "$f"
	cmp <(vhdtool cat "$f") <(head -c 4212736 /dev/zero)
}

@test "refusals: fixed (65), not a VHD (65), missing (66), damaged (65), busy (75)" {
	vhdtool create -t fixed f.vhd 1M
	before=$(sha f.vhd)
	run_vhdtool 65 compact f.vhd
	assert_output --partial "'f.vhd' is a fixed disk: compact applies to dynamic and differencing disks"
	[ "$(sha f.vhd)" = "$before" ]
	head -c 100000 /dev/urandom > junk.vhd
	before=$(sha junk.vhd)
	run_vhdtool 65 compact junk.vhd
	[ "$(sha junk.vhd)" = "$before" ]
	run_vhdtool 66 compact nope.vhd
	f=$(fixture dfvfs-image.vhd)
	before=$(sha "$f")
	run_vhdtool 65 compact "$f"
	assert_output --partial "footer checksum mismatch (stored 0xfffff683, computed 0xffffef25) (vhdtool repair fixes it)"
	[ "$(sha "$f")" = "$before" ]
	run_vhdtool 64 compact
	mk2m d.vhd raw
	exec 9<>d.vhd
	flock -s 9
	run_vhdtool 75 compact d.vhd
	run_vhdtool 0 compact --dry-run d.vhd   # a dry run only reads
	exec 9>&-
}

# crash_at POINT TEMPLATE RAW FINAL_SIZE: kill compact at POINT, then the disk
# reads as the model and checks clean or leak-only; rerunning compact packs it
# to exactly what an uninterrupted compact gives
crash_at() {
	local point=$1 tpl=$2 raw=$3 final=$4
	cp "$tpl" d.vhd
	run env VMSNAP_CRASHPOINT="$point" vhdtool compact d.vhd
	[ "$status" -eq 137 ] || { echo "$point: exit $status, no kill" >&2; return 1; }
	clean_or_leak d.vhd || { echo "after a kill at $point" >&2; return 1; }
	same_as d.vhd "$raw" || { echo "content after a kill at $point" >&2; return 1; }
	run_vhdtool 0 compact d.vhd
	clean d.vhd
	same_as d.vhd "$raw" || { echo "content after rerun ($point)" >&2; return 1; }
	[ "$(stat -c %s d.vhd)" -eq "$final" ] || { echo "size after rerun ($point)" >&2; return 1; }
}

@test "kill -9 at every compact step and at every N-th hit, then rerun: content and check hold" {
	mk2m t.vhd raw
	cp t.vhd ref.vhd
	vhdtool compact ref.vhd > /dev/null
	final=$(stat -c %s ref.vhd)
	n=0
	for point in compact-drop compact-copy compact-bat compact-footer; do
		crash_at $point t.vhd raw "$final"
		n=$((n + 1))
	done
	for k in 2 3 4 5 6; do
		for point in compact-drop compact-copy compact-bat; do
			crash_at $point:$k t.vhd raw "$final"
			n=$((n + 1))
		done
	done
	# and some random ones (printed when one fails)
	for i in 1 2 3 4 5 6; do
		point=$(printf '%s\n' compact-drop compact-copy compact-bat | shuf -n 1):$((RANDOM % 6 + 1))
		echo "random point $point"
		crash_at "$point" t.vhd raw "$final"
		n=$((n + 1))
	done
	[ "$n" -ge 25 ]
}

@test "kill -9 while compacting a differencing child, then rerun" {
	vhdtool create -b 64K base.vhd 1M
	truncate -s 1M raw
	put base.vhd raw 0 1048576 1
	vhdtool create -p base.vhd t.avhd
	for b in 1 3 4 6 8 10 12 13 15; do put t.avhd raw $((b * 65536)) 40000 $((b + 10)); done
	for b in 3 6 10; do clearbm t.avhd $b; done
	vhdtool cat -o craw t.avhd
	cp t.avhd ref.avhd
	vhdtool compact ref.avhd > /dev/null
	final=$(stat -c %s ref.avhd)
	for point in compact-drop:1 compact-drop:3 compact-copy:1 compact-bat:2 compact-copy:3 \
		     compact-bat:3 compact-footer; do
		cp t.avhd d.avhd
		run env VMSNAP_CRASHPOINT=$point vhdtool compact d.avhd
		crashed
		clean_or_leak d.avhd
		cmp <(vhdtool cat d.avhd) craw
		run_vhdtool 0 compact d.avhd
		clean --chain d.avhd
		cmp <(vhdtool cat d.avhd) craw
		[ "$(stat -c %s d.avhd)" -eq "$final" ]
	done
}
