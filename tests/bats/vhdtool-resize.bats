#!/usr/bin/env bats
# vhdtool resize: grow and shrink fixed, dynamic and differencing disks against
# a raw model; BAT growth in place and by moving it; refusals; kill -9 at each step.

load helpers
load modify-helpers

# chs FILE: "cylinders/heads/sectors"
chs() { vhdtool info --json "$1" | jq -r '"\(.cylinders)/\(.heads)/\(.sectors_per_track)"'; }

# grown_like FILE RAW SIZE: the disk is SIZE bytes, reads as RAW extended with
# zeros, has the geometry a fresh disk of that size gets, and checks clean
grown_like() {
	local file=$1 raw=$2 size=$3
	truncate -s "$size" "$raw"
	same_as "$file" "$raw"
	clean "$file"
	vhdtool create -t fixed geo.vhd "$size" --force
	assert_equal "$(chs "$file")" "$(chs geo.vhd)"
	[ "$(vhdtool info --json "$file" | jq -r .virtual_size)" -eq "$size" ]
}

# block_at FILE N: file offset of block N's bitmap (BAT at 1536)
block_at() { echo $((0x$(bat_entry "$1" "$2") * 512)); }

@test "dynamic grow inside the table's padding, then past it (footer moved), then moved" {
	vhdtool create -b 64K d.vhd 1M
	truncate -s 1M raw
	put d.vhd raw 0 300000 1
	put d.vhd raw 800000 5000 2
	run_vhdtool 0 resize --json d.vhd 3M
	assert_equal "$(jqv '"\(.changed) \(.bat) \(.bat_entries_before) \(.bat_entries_after)"')" \
		"true extended 16 48"
	grown_like d.vhd raw 3145728
	# a fresh disk: the table is the last structure, it grows over the footer's place
	vhdtool create -b 64K e.vhd 1M
	run_vhdtool 0 resize --json e.vhd 16M
	assert_equal "$(jqv '"\(.bat) \(.table_offset) \(.bat_entries_after)"')" "extended 1536 256"
	[ "$(stat -c %s e.vhd)" -eq $((1536 + 1024 + 512)) ]
	truncate -s 0 eraw
	grown_like e.vhd eraw 16777216
	put e.vhd eraw 16000000 70000 3
	same_as e.vhd eraw
	clean e.vhd
	# blocks right after the table (room for 512 entries): a new table at the end
	vhdtool create -b 4K g.vhd 1M
	truncate -s 1M graw
	put g.vhd graw 0 30000 4
	before=$(stat -c %s g.vhd)
	run_vhdtool 0 resize --json g.vhd 4M
	assert_equal "$(jqv '"\(.bat) \(.table_offset) \(.bat_entries_after)"')" \
		"moved $((before - 512)) 1024"      # where the footer was
	grown_like g.vhd graw 4194304
	put g.vhd graw 4000000 100000 5
	scribble g.vhd graw 6 10 10000
	same_as g.vhd graw
	clean g.vhd
}

@test "resize --json and -H: the documented keys" {
	vhdtool create -b 64K d.vhd 1M
	run_vhdtool 0 resize --json d.vhd 2M
	assert_equal "$(jq -c 'keys_unsorted' <<<"$stdout")" \
		'["file","type","changed","size_before","size_after","file_size_before","file_size_after","bat_entries_before","bat_entries_after","bat","table_offset"]'
	run_vhdtool 0 resize -H d.vhd 3M
	assert_line $'size_after\t3145728'
	vhdtool create -t fixed f.vhd 1M
	run_vhdtool 0 resize --json f.vhd 2M
	assert_equal "$(jq -c 'keys_unsorted' <<<"$stdout")" \
		'["file","type","changed","size_before","size_after","file_size_before","file_size_after"]'
	# same size: nothing written
	before=$(sha d.vhd)
	run_vhdtool 0 resize --json d.vhd 3M
	assert_equal "$(jqv .changed)" false
	[ "$(sha d.vhd)" = "$before" ]
}

@test "shrink: needs --shrink, refused while a block or data lies past the new end" {
	vhdtool create -b 64K d.vhd 1M
	truncate -s 1M raw
	put d.vhd raw 0 524288 1
	put d.vhd raw 590000 1000 2
	put d.vhd raw 700000 100000 3
	before=$(sha d.vhd)
	run_vhdtool 64 resize d.vhd 512K
	assert_output --partial "'d.vhd' is 1048576 bytes; making it smaller needs --shrink"
	run_vhdtool 1 resize --shrink d.vhd 640K
	assert_output --partial "cannot shrink 'd.vhd' to 655360 bytes: block 10 (disk offset 655360) past the new end is allocated"
	[ "$(sha d.vhd)" = "$before" ]
	# zeros over the far data, compact drops its blocks
	put d.vhd raw 700000 100000 zero
	vhdtool compact d.vhd > /dev/null
	# block 9 is cut: its sectors past the new end hold data
	before=$(sha d.vhd)
	run_vhdtool 1 resize --shrink d.vhd 590336
	assert_output --partial "block 9 holds data past the new end (disk offset 590336)"
	[ "$(sha d.vhd)" = "$before" ]
	run_vhdtool 0 resize --shrink d.vhd 593920
	head -c 593920 raw > small
	same_as d.vhd small
	clean d.vhd
	[ "$(chs d.vhd)" = "$(vhdtool create -t fixed g.vhd 593920 && chs g.vhd)" ]
}

@test "grow after shrink: what a dynamic block held past the old end reads as zeros" {
	vhdtool create -b 64K d.vhd 1M
	truncate -s 1M raw
	put d.vhd raw 0 593920 1
	run_vhdtool 0 resize --shrink d.vhd 593920
	# stale data past the end inside block 9 (as a foreign tool might leave it)
	test-tool poke d.vhd $(( $(block_at d.vhd 9) + 512 + 20 * 512 )) deadbeefdeadbeef
	truncate -s 593920 raw
	run_vhdtool 0 resize d.vhd 1M
	grown_like d.vhd raw 1048576
}

@test "differencing: grow past the parent reads zeros there; stale bitmap bits past the end are cleared" {
	vhdtool create -b 64K base.vhd 1M
	truncate -s 1M raw
	put base.vhd raw 0 1048576 1
	vhdtool create -p base.vhd c.avhd
	put c.avhd raw 590000 1000 2
	run_vhdtool 0 resize --shrink c.avhd 593920
	# a set bit and data past the end in the cut block 9 (sector 20 of it)
	b9=$(block_at c.avhd 9)
	test-tool poke c.avhd $((b9 + 2)) 08
	test-tool poke c.avhd $((b9 + 512 + 20 * 512)) deadbeefdeadbeef
	run_vhdtool 0 resize --json c.avhd 2M
	assert_equal "$(jqv '"\(.parent_size) \(.beyond_parent)"')" "1048576 1048576"
	run_vhdtool 0 resize c.avhd 2M     # already that size: a no-op
	# below the parent's end: the parent's data again; past it: zeros
	truncate -s 2M raw
	same_as c.avhd raw
	clean --chain c.avhd
	put c.avhd raw 1500000 100000 3
	same_as c.avhd raw
	run_vhdtool 0 resize c.avhd 3M
	assert_output --partial "past the parent's end (1048576 bytes) they read as zeros"
	truncate -s 3M raw
	same_as c.avhd raw
	clean --chain c.avhd
}

@test "fixed: grow, shrink over zeros, refuse shrinking over data" {
	vhdtool create -t fixed f.vhd 1M
	truncate -s 1M raw
	put f.vhd raw 0 300000 1
	run_vhdtool 0 resize f.vhd 3M
	[ "$(stat -c %s f.vhd)" -eq $((3145728 + 512)) ]
	grown_like f.vhd raw 3145728
	put f.vhd raw 3000000 1000 2
	before=$(sha f.vhd)
	run_vhdtool 1 resize --shrink f.vhd 2M
	assert_output --partial "cannot shrink 'f.vhd' to 2097152 bytes: disk offset 3000000 past the new end holds data"
	[ "$(sha f.vhd)" = "$before" ]
	put f.vhd raw 3000000 1000 zero
	run_vhdtool 0 resize --shrink f.vhd 2M
	[ "$(stat -c %s f.vhd)" -eq $((2097152 + 512)) ]
	head -c 2M raw > small
	same_as f.vhd small
	clean f.vhd
	# a sparse disk stays sparse, a preallocated one stays preallocated
	[ $(( $(stat -c %b f.vhd) * 512 )) -lt 1572864 ]
	vhdtool create -t fixed --preallocate p.vhd 1M
	run_vhdtool 0 resize p.vhd 3M
	[ $(( $(stat -c %b p.vhd) * 512 )) -ge 3145728 ]
	clean p.vhd
	# qemu's fixed disk (creator qem2, CHS 65535/16/255) gets the spec geometry
	f=$(fixture local-qemu-fixed-forcesize.vhd)
	vhdtool cat -o q.raw "$f"
	run_vhdtool 0 resize "$f" 2M
	grown_like "$f" q.raw 2097152
}

@test "Windows-made child without its parent: grows in place before its W2ru locator" {
	f=$(fixture dfvfs-fat-differential.vhd)
	run_vhdtool 0 resize --json "$f" 8M
	assert_equal "$(jqv '"\(.bat) \(.table_offset) \(.bat_entries_after) \(.parent_size)"')" \
		"extended 8192 4 null"
	clean "$f"
	assert_equal "$(vhdtool info --json "$f" | jq -r .virtual_size)" 8388608
	run_vhdtool 0 resize --shrink "$f" 4M
	clean "$f"
}

@test "bad sizes (64), bad files (65/66), a damaged disk (65), a busy disk (75)" {
	vhdtool create d.vhd 1M
	before=$(sha d.vhd)
	run_vhdtool 64 resize d.vhd 0
	assert_output --partial "not a positive multiple of 512"
	run_vhdtool 64 resize d.vhd 1000
	run_vhdtool 64 resize d.vhd 2041G
	assert_output --partial "exceeds the VHD maximum of 2040 GiB"
	run_vhdtool 64 resize d.vhd lots
	run_vhdtool 64 resize d.vhd
	[ "$(sha d.vhd)" = "$before" ]
	run_vhdtool 66 resize nope.vhd 2M
	head -c 100000 /dev/zero > z.vhd
	run_vhdtool 65 resize z.vhd 2M
	assert_output --partial "is not a VHD"
	test-tool poke d.vhd $((512 + 800)) 01
	before=$(sha d.vhd)
	run_vhdtool 65 resize d.vhd 2M
	assert_output --partial "dynamic header checksum mismatch"
	assert_output --partial "(vhdtool repair fixes it)"
	[ "$(sha d.vhd)" = "$before" ]
	vhdtool create e.vhd 1M
	exec 9<>e.vhd
	flock -s 9
	run_vhdtool 75 resize e.vhd 2M
	exec 9>&-
}

# after_kill FILE OLDRAW NEWRAW: valid, reads as the old or the new model
after_kill() {
	local file=$1 old=$2 new=$3
	vhdtool cat -o now.raw "$file"
	cmp -s now.raw "$old" || cmp now.raw "$new"
}

@test "kill -9 at each step of a dynamic grow (table moved), then rerun" {
	vhdtool create -b 4K t.vhd 1046528
	truncate -s 1046528 traw
	put t.vhd traw 0 100000 1
	put t.vhd traw 1040000 6528 2
	# stale data past the end of the cut block 255, so every step has work
	test-tool poke t.vhd $(( $(block_at t.vhd 255) + 512 + 3000 )) 0123456789abcdef
	cp traw new.raw
	truncate -s 4M new.raw
	for point in resize-block-tail resize-bat-footer resize-bat-copy resize-header \
		     resize-footer resize-head; do
		cp t.vhd d.vhd
		run env VMSNAP_CRASHPOINT=$point vhdtool resize d.vhd 4M
		crashed
		after_kill d.vhd traw new.raw
		if [ "$point" = resize-footer ]; then
			# the two footer copies differ; the one at the end (new size) is used
			run_vhdtool 2 check d.vhd
			assert_output --partial "footer copies at offset 0 and end of file differ"
		else
			clean_or_leak d.vhd
		fi
		run_vhdtool 0 resize d.vhd 4M
		same_as d.vhd new.raw
		clean d.vhd
	done
	# a kill between the footers: repair finishes it too (the end's footer wins)
	cp t.vhd d.vhd
	run env VMSNAP_CRASHPOINT=resize-footer vhdtool resize d.vhd 4M
	crashed
	run_vhdtool 0 repair d.vhd
	same_as d.vhd new.raw
	clean d.vhd
}

@test "kill -9 at each step of a dynamic grow (table extended over the footer), then rerun" {
	vhdtool create -b 4K t.vhd 1M          # 1024 bytes of table, then the footer
	truncate -s 1M traw
	truncate -s 2M new.raw
	for point in resize-bat-footer resize-bat-extend resize-header resize-footer resize-head; do
		cp t.vhd d.vhd
		run env VMSNAP_CRASHPOINT=$point vhdtool resize d.vhd 2M
		crashed
		after_kill d.vhd traw new.raw
		[ "$point" = resize-footer ] || clean_or_leak d.vhd
		run_vhdtool 0 resize --json d.vhd 2M
		same_as d.vhd new.raw
		clean d.vhd
		assert_equal "$(vhdtool info --json d.vhd | jq -r .bat_entries)" 512
		put d.vhd new.raw 2000000 4096 9     # the grown table takes new blocks
		same_as d.vhd new.raw
		truncate -s 0 new.raw && truncate -s 2M new.raw
	done
}

@test "kill -9 during a fixed grow and shrink" {
	vhdtool create -t fixed t.vhd 1M
	truncate -s 1M traw
	put t.vhd traw 0 1048576 1
	cp traw new.raw
	truncate -s 3M new.raw
	# grow, killed after the zeroing: exactly the new disk
	cp t.vhd f.vhd
	run env VMSNAP_CRASHPOINT=resize-fixed-zero vhdtool resize f.vhd 3M
	crashed
	same_as f.vhd new.raw
	clean f.vhd
	# grow, killed between the new footer and the zeroing: the old footer's
	# bytes are still in the file at the old end, but the disk is the new one
	# with zeros there (the new footer marks that sector until it is zeroed)
	cp t.vhd f.vhd
	run env VMSNAP_CRASHPOINT=resize-fixed-footer vhdtool resize f.vhd 3M
	crashed
	cmp <(head -c 1049088 f.vhd | tail -c 512) <(tail -c 512 t.vhd)
	same_as f.vhd new.raw
	run_vhdtool 0 check f.vhd
	assert_output --partial "warning: 'f.vhd': a resize was interrupted before the footer bytes at offset 1048576 were zeroed"
	[ "$(stat -c %s f.vhd)" -eq $((3145728 + 512)) ]
	# readers that map the disk see the zeros too
	run_vhdtool 0 convert -O raw f.vhd conv.raw
	cmp conv.raw new.raw
	run_vhdtool 0 map --json f.vhd
	run_vhdtool 0 compare f.vhd new.raw -F raw
	# read-only opens change nothing; the rerun finishes the grow
	cmp <(head -c 1049088 f.vhd | tail -c 512) <(tail -c 512 t.vhd)
	run_vhdtool 0 resize f.vhd 3M
	cmp <(head -c 1049088 f.vhd | tail -c 512) <(head -c 512 /dev/zero)
	same_as f.vhd new.raw
	clean f.vhd
	refute_output --partial "interrupted"
	# every kill point of the grow, then any writer (repair, a write, resize):
	# the old disk or the new disk, never the old footer's bytes inside it
	for point in resize-fixed-footer resize-fixed-zero resize-fixed-unmark; do
		for finish in "repair f.vhd" "write f.vhd 0" "resize f.vhd 3M"; do
			cp t.vhd f.vhd
			run env VMSNAP_CRASHPOINT=$point vhdtool resize f.vhd 3M
			crashed
			same_as f.vhd new.raw
			clean f.vhd
			# shellcheck disable=SC2086
			head -c 512 traw | vhdtool $finish
			same_as f.vhd new.raw
			clean f.vhd
			refute_output --partial "interrupted"
			cmp <(head -c 1049088 f.vhd | tail -c 512) <(head -c 512 /dev/zero)
			[ "$(tail -c 512 f.vhd | head -c 8)" = conectix ]
			cmp <(tail -c 32 f.vhd) <(head -c 32 /dev/zero)    # the mark is gone
		done
	done
	# killed while a writer finishes it (after its zeros): still the new disk
	cp t.vhd f.vhd
	run env VMSNAP_CRASHPOINT=resize-fixed-footer vhdtool resize f.vhd 3M
	crashed
	run env VMSNAP_CRASHPOINT=grow-finish-zero vhdtool repair f.vhd
	crashed
	same_as f.vhd new.raw
	run_vhdtool 0 repair f.vhd
	same_as f.vhd new.raw
	clean f.vhd
	refute_output --partial "interrupted"
	# shrink, killed before the truncation: still the old disk, which reads
	# the new footer's bytes (written past the new end) as the zeros it held;
	# the rerun or a repair zeroes them, the rerun finishes
	cp t.vhd f.vhd
	put f.vhd traw 524288 524288 zero
	cp f.vhd g.vhd
	head -c 524288 traw > small
	for point in resize-fixed-mark resize-fixed-footer; do
		for finish in "resize --shrink f.vhd 512K" "repair f.vhd"; do
			cp g.vhd f.vhd
			run env VMSNAP_CRASHPOINT=$point vhdtool resize --shrink f.vhd 512K
			crashed
			same_as f.vhd traw
			clean f.vhd
			# shellcheck disable=SC2086
			run_vhdtool 0 $finish
			if [ "$finish" = "repair f.vhd" ]; then   # the old disk, zeros in the file
				cmp <(head -c 525312 f.vhd | tail -c 1024) <(head -c 1024 /dev/zero)
				same_as f.vhd traw
			fi
			run_vhdtool 0 resize --shrink f.vhd 512K
			same_as f.vhd small
			clean f.vhd
			refute_output --partial "interrupted"
			[ "$(stat -c %s f.vhd)" -eq $((524288 + 512)) ]
		done
	done
}
