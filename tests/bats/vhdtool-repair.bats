#!/usr/bin/env bats
# vhdtool repair: damaged fixtures and images damaged with test-tool poke and
# truncate; each repaired file checks clean (or leak-only) and reads as before.

load helpers
load modify-helpers

# mkd FILE RAW: 1 MiB dynamic disk, 64 KiB blocks, blocks 0-4 written
mkd() {
	vhdtool create -b 64K "$1" 1M
	truncate -s 1M "$2"
	put "$1" "$2" 0 300000 1
}

kinds() { jq -r '[.fixes[].kind] | join(" ")' <<<"$stdout"; }

@test "dfvfs-image.vhd: the footer checksum (wrong in both copies) is recomputed" {
	f=$(fixture dfvfs-image.vhd)
	vhdtool cat --force -o before.raw "$f" 2>/dev/null
	run_vhdtool 0 repair --json "$f"
	assert_equal "$(jq -c 'keys_unsorted' <<<"$stdout")" \
		'["file","type","dry_run","fixes","remaining","result"]'
	assert_equal "$(kinds)" "footer_checksum head_footer tail_footer"
	assert_equal "$(jqv '.fixes[0].message')" \
		"footer checksum recomputed (stored 0xfffff683, now 0xffffef25)"
	assert_equal "$(jqv '"\(.dry_run) \(.result) \(.remaining | length)"')" "false repaired 0"
	clean "$f"
	vhdtool cat -o after.raw "$f"        # no --force needed any more
	cmp before.raw after.raw
	run_vhdtool 0 repair --json "$f"
	assert_equal "$(jqv '"\(.result) \(.fixes | length)"')" "nothing_to_do 0"
}

@test "dfvfs-image-differential.vhd: footer and dynamic header checksums" {
	f=$(fixture dfvfs-image-differential.vhd)
	run_vhdtool 0 repair --json "$f"
	assert_equal "$(kinds)" "footer_checksum header_checksum head_footer tail_footer"
	assert_equal "$(jqv '.fixes[1].message')" \
		"dynamic header checksum recomputed (stored 0xfffff476, now 0xffffe9a5)"
	clean "$f"
	run_vhdtool 66 info --json "$f"        # its parent is not here; the rest is fine
	assert_equal "$(jqv '"\(.footer_checksum_ok) \(.header_checksum_ok) \(.footer_copies_equal)"')" \
		"true true true"
}

@test "--dry-run lists the fixes and changes nothing; text and -H output" {
	f=$(fixture dfvfs-image-differential.vhd)
	before=$(sha "$f")
	run_vhdtool 0 repair --dry-run --json "$f"
	assert_equal "$(jqv '"\(.dry_run) \(.result) \(.remaining)"')" "true would_repair null"
	assert_equal "$(kinds)" "footer_checksum header_checksum head_footer tail_footer"
	run_vhdtool 0 repair --dry-run "$f"
	assert_output --partial "header_checksum  dynamic header checksum recomputed"
	run_vhdtool 0 repair --dry-run -H "$f"
	assert_line $'footer_checksum\tfooter checksum recomputed (stored 0xfffff683, now 0xffffeeb6)'
	[ "$(sha "$f")" = "$before" ]
}

@test "clean images: nothing to do, nothing written" {
	for f in $(fixture dfvfs-ext2.vhd) $(fixture dfvfs-fat-differential.vhd) \
		 $(fixture local-qemu-fixed-forcesize.vhd); do
		before=$(sha "$f")
		run_vhdtool 0 repair --json "$f"
		assert_equal "$(jqv .result)" nothing_to_do
		[ "$(sha "$f")" = "$before" ]
	done
}

@test "not a VHD (65), missing (66), busy (75): untouched" {
	head -c 100000 /dev/zero > zeros.vhd
	before=$(sha zeros.vhd)
	run_vhdtool 65 repair zeros.vhd
	assert_output --partial "cannot repair: 'zeros.vhd' is not a VHD"
	[ "$(sha zeros.vhd)" = "$before" ]
	head -c 100 /dev/urandom > tiny.vhd
	run_vhdtool 65 repair --dry-run tiny.vhd
	# a VHD whose block table lies past end of file cannot be rebuilt
	mkd d.vhd raw
	head -c 1560 d.vhd > cut.vhd
	before=$(sha cut.vhd)
	run_vhdtool 65 repair cut.vhd
	assert_output --partial "block table"
	[ "$(sha cut.vhd)" = "$before" ]
	run_vhdtool 66 repair nope.vhd
	exec 9<>d.vhd
	flock -s 9
	run_vhdtool 75 repair d.vhd
	exec 9>&-
}

@test "truncated inside a block: its entry is dropped, the footer goes after the last whole block" {
	mkd d.vhd raw
	truncate -s 200000 d.vhd
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(kinds)" "bat_entry bat_entry bat_entry tail_footer truncate"
	assert_equal "$(jqv '.fixes[0].message')" \
		"block 2: entry dropped, its data at offset 142848 lies past end of file (it now reads as zeros)"
	clean d.vhd
	# blocks 0 and 1 intact; 2-4 (cut off) read as zeros
	head -c 131072 raw > model
	truncate -s 1M model
	same_as d.vhd model
	printf 'again' | vhdtool write d.vhd 140000
	clean d.vhd
}

@test "missing trailing footer; garbage after the last block; a leaked block before the footer" {
	mkd d.vhd raw
	cp d.vhd orig.vhd
	truncate -s -512 d.vhd
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(kinds)" tail_footer
	assert_equal "$(jqv '.fixes[0].message')" \
		"footer at end of file was missing: written after the last block"
	cmp d.vhd orig.vhd
	# a crash inside a block allocation leaves a block's worth before the footer
	run env VMSNAP_CRASHPOINT=alloc-footer vhdtool write -i <(printf x) d.vhd 900000
	crashed
	run_vhdtool 3 check d.vhd
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(kinds)" "tail_footer truncate"
	cmp d.vhd orig.vhd
	clean d.vhd
}

@test "footer copy at offset 0: damaged, missing, or different from the end's" {
	mkd d.vhd raw
	cp d.vhd orig.vhd
	test-tool poke d.vhd 100 01
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(jqv '.fixes[0].message')" \
		"footer copy at offset 0 had a bad checksum: rewritten from the good footer"
	cmp d.vhd orig.vhd
	test-tool poke d.vhd 0 0000000000000000
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(kinds)" head_footer
	cmp d.vhd orig.vhd
	# both copies valid but different (timestamp of the copy at 0): the end wins
	test-tool poke d.vhd 24 00000001
	test-tool vhd-resum d.vhd
	run_vhdtool 2 check d.vhd
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(jqv '.fixes[0].message')" \
		"footer copy at offset 0 differed from the footer at end of file: rewritten from the good footer"
	cmp d.vhd orig.vhd
	# the end's footer damaged, the copy at 0 good
	test-tool poke d.vhd $(( $(stat -c %s d.vhd) - 512 + 100 )) 01
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(kinds)" tail_footer
	cmp d.vhd orig.vhd
	same_as d.vhd raw
}

@test "header: data offset field and checksum; a block entry pointing into the headers" {
	mkd d.vhd raw
	cp d.vhd orig.vhd
	test-tool poke d.vhd $((512 + 8)) 0000000000000000
	test-tool vhd-resum d.vhd
	run_vhdtool 65 info d.vhd
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(kinds)" header_data_offset
	cmp d.vhd orig.vhd
	test-tool poke d.vhd $((1536 + 4 * 7)) 00000001      # block 7 -> offset 512
	run_vhdtool 65 info d.vhd
	run_vhdtool 0 repair --json d.vhd
	assert_equal "$(jqv '.fixes[0].message')" \
		"block 7: entry dropped, its data at offset 512 overlaps the headers (it now reads as zeros)"
	cmp d.vhd orig.vhd
}

@test "fixed disk: bad checksum, footer not at the end of the data" {
	vhdtool create -t fixed f.vhd 1M
	truncate -s 1M raw
	put f.vhd raw 0 1048576 1
	cp f.vhd orig.vhd
	test-tool poke f.vhd $((1048576 + 30)) 41
	run_vhdtool 0 repair --json f.vhd
	assert_equal "$(kinds)" footer_checksum
	clean f.vhd
	same_as f.vhd raw
	# 4 KiB of junk between the data and the footer
	{ head -c 1048576 orig.vhd; head -c 4096 /dev/urandom; tail -c 512 orig.vhd; } > g.vhd
	run_vhdtool 65 info g.vhd
	run_vhdtool 0 repair --json g.vhd
	assert_equal "$(kinds)" tail_footer
	cmp g.vhd orig.vhd
	clean g.vhd
}

@test "what repair cannot decide stays reported (exit 2): overlapping blocks" {
	mkd d.vhd raw
	test-tool poke d.vhd $((1536 + 4)) "$(bat_entry d.vhd 0)"
	before=$(sha d.vhd)
	run_vhdtool 2 repair --json d.vhd
	assert_equal "$(jqv '"\(.result) \(.fixes | length)"')" "corrupt 0"
	assert_output --partial "overlaps the structure before it"
	[ "$(sha d.vhd)" = "$before" ]
}

@test "kill -9 at each repair step, then rerun: the file ends clean and reads as before" {
	f=$(fixture dfvfs-image-differential.vhd)
	mkd t.vhd raw
	cp "$f" tf.vhd
	# damage for every step: header checksum, a block cut off, both footers
	test-tool poke t.vhd $((512 + 800)) 01
	test-tool poke t.vhd 100 01
	truncate -s 250000 t.vhd
	head -c 196608 raw > model
	truncate -s 1M model
	for point in repair-header repair-bat repair-bat:2 repair-head repair-tail; do
		cp t.vhd d.vhd
		run env VMSNAP_CRASHPOINT=$point vhdtool repair d.vhd
		crashed
		run_vhdtool 0 repair d.vhd
		clean d.vhd
		same_as d.vhd model
		cp tf.vhd e.vhd
		run env VMSNAP_CRASHPOINT=${point%:2} vhdtool repair e.vhd
		[ "$status" -eq 137 ] || [ "$point" = repair-bat ] || [ "$point" = repair-bat:2 ]
		run_vhdtool 0 repair e.vhd
		clean e.vhd
	done
}
