#!/usr/bin/env bats
# vhdtool check, and hostile/damaged input everywhere: a clear message, the
# documented exit code, and the file left exactly as it was.

load helpers

# one allocated block in a 4 MiB dynamic disk (BAT at 1536)
mkdyn() {
	vhdtool create "$1" 4M
	printf 'data' | vhdtool write "$1" 0
}

# expect_refused CODE FILE MESSAGE: info/cat/write refuse it, check says corrupt
expect_refused() {
	local code=$1 f=$2 msg=$3 before
	before=$(sha "$f")
	run_vhdtool "$code" info "$f"
	assert_output --partial "$msg"
	run_vhdtool "$code" cat -o /dev/null "$f"
	printf 'x' > one
	run_vhdtool "$code" write -i one "$f" 0
	[ "$(sha "$f")" = "$before" ]
}

@test "check: clean images exit 0, --json has the documented keys" {
	mkdyn d.vhd
	run_vhdtool 0 check d.vhd
	assert_output --partial "no errors found"
	run_vhdtool 0 check --json d.vhd
	assert_equal "$(jq -r .result <<<"$stdout")" clean
	assert_equal "$(jq -r '.errors, .leaks' <<<"$stdout" | tr '\n' ' ')" "0 0 "
	assert_equal "$(jq -r '.layers[0].type' <<<"$stdout")" dynamic
	run_vhdtool 0 check -H d.vhd
	assert_line $'result\tclean'
}

@test "zero-length and tiny files are not VHDs (65)" {
	: > empty.vhd
	expect_refused 65 empty.vhd "'empty.vhd' is not a VHD: 0 bytes is too small"
	run_vhdtool 65 check empty.vhd
	head -c 100 /dev/urandom > tiny.vhd
	expect_refused 65 tiny.vhd "is not a VHD"
	head -c 100000 /dev/zero > zeros.vhd
	expect_refused 65 zeros.vhd "no 'conectix' footer"
}

@test "footer-only file: header lies past end of file (65, check 2)" {
	mkdyn d.vhd
	tail -c 512 d.vhd > foot.vhd
	expect_refused 65 foot.vhd "dynamic header at offset 512 lies past end of file"
	run_vhdtool 2 check foot.vhd
	assert_output --partial "corrupt"
}

@test "truncated dynamic disk: the block past EOF is named (65, check 2)" {
	mkdyn d.vhd
	truncate -s 100000 d.vhd
	expect_refused 65 d.vhd "block 0 at offset"
	assert_output --partial "lies past end of file"
	run_vhdtool 2 check d.vhd
}

@test "truncated fixed disk (65)" {
	vhdtool create -t fixed f.vhd 1M
	cp f.vhd g.vhd
	truncate -s 600000 f.vhd
	expect_refused 65 f.vhd "not a VHD"
	# truncated but the footer moved to the end: size contradicts it
	tail -c 512 g.vhd > foot && head -c 4096 g.vhd > h.vhd && cat foot >> h.vhd
	expect_refused 65 h.vhd "is truncated: a fixed disk of 1048576 bytes"
}

@test "BAT entry pointing past EOF (65, check 2)" {
	mkdyn d.vhd
	test-tool poke d.vhd 1540 00100000          # entry 1 -> 512 MiB
	expect_refused 65 d.vhd "block 1 at offset 536870912 lies past end of file"
	run_vhdtool 2 check d.vhd
}

@test "block size 0 or not a power of two (65)" {
	mkdyn d.vhd
	test-tool poke d.vhd $((512 + 32)) 00000000
	test-tool vhd-resum d.vhd
	expect_refused 65 d.vhd "block size 0 is not a power of two"
	mkdyn e.vhd
	test-tool poke e.vhd $((512 + 32)) 00300000
	test-tool vhd-resum e.vhd
	expect_refused 65 e.vhd "block size 3145728 is not a power of two"
	run_vhdtool 2 check e.vhd
}

@test "size over 2040 GiB (65)" {
	mkdyn d.vhd
	for at in 48 $(( $(stat -c %s d.vhd) - 512 + 48 )); do
		test-tool poke d.vhd "$at" 0000020000000000  # 2 TiB
	done
	test-tool vhd-resum d.vhd
	expect_refused 65 d.vhd "exceeds the VHD maximum of 2040 GiB"
}

@test "bad dynamic header checksum (65) and footer copy damage" {
	mkdyn d.vhd
	test-tool poke d.vhd $((512 + 800)) 01         # reserved byte, checksummed
	expect_refused 65 d.vhd "dynamic header checksum mismatch"
	run_vhdtool 2 check d.vhd
	mkdyn e.vhd
	test-tool poke e.vhd 100 01                     # the copy at offset 0
	run_vhdtool 0 info --json e.vhd
	assert_equal "$(jq -r .footer_copies_equal <<<"$stdout")" false
	run_vhdtool 2 check e.vhd
	assert_output --partial "footer copy at offset 0 has a bad checksum"
}

@test "a parent cycle is detected (65)" {
	vhdtool create base.vhd 1M
	vhdtool create -p base.vhd a.avhd
	vhdtool create -p a.avhd b.avhd
	# make base.vhd a child of b.avhd: b's bytes under base's name, and a's
	# expected parent UUID pointed at it
	cp b.avhd base.vhd
	buuid=$(vhdtool info --json b.avhd | jq -r .uuid)
	test-tool poke a.avhd $((512 + 40)) "${buuid//-/}"
	test-tool vhd-resum a.avhd
	before=$(sha a.avhd)
	run_vhdtool 65 info --chain a.avhd
	assert_output --partial "parent chain loops back to"
	run_vhdtool 65 cat -o /dev/null a.avhd
	assert_output --partial "loops back to"
	[ "$(sha a.avhd)" = "$before" ]
}

@test "a parent locator pointing at a non-file is never opened" {
	vhdtool create base.vhd 1M
	vhdtool create -p base.vhd c.avhd
	rm base.vhd
	mkfifo base.vhd
	run timeout 10 vhdtool cat -o /dev/null c.avhd
	[ "$status" -eq 65 ]
	assert_output --partial "is not a regular file"
}

@test "chain depth is bounded" {
	vhdtool create l0.vhd 1M
	for i in $(seq 1 63); do vhdtool create -p l$((i - 1)).vhd l$i.vhd; done
	run_vhdtool 0 cat -o /dev/null l63.vhd          # 64 layers: the limit
	run_vhdtool 1 create -p l63.vhd l64.vhd
	assert_output --partial "would make a chain of 65 layers; the limit is 64"
	[ ! -e l64.vhd ]
	# a 65-layer chain made elsewhere is refused when opened: put one more
	# layer under l0 (l0 becomes a child of x0; l1 expects the new l0)
	vhdtool create x0.vhd 1M
	vhdtool create -p x0.vhd x1.vhd
	mv x1.vhd l0.vhd
	u=$(vhdtool info --json l0.vhd | jq -r .uuid)
	test-tool poke l1.vhd $((512 + 40)) "${u//-/}"
	test-tool vhd-resum l1.vhd
	run_vhdtool 0 cat -o /dev/null l62.vhd
	run_vhdtool 65 cat -o /dev/null l63.vhd
	assert_output --partial "chain deeper than 64 layers"
}

@test "check: unreferenced block space is a leak (3)" {
	vhdtool create -b 64K d.vhd 1M
	head -c 200000 /dev/urandom | vhdtool write d.vhd 0
	test-tool poke d.vhd 1540 ffffffff            # drop block 1's entry
	run_vhdtool 3 check d.vhd
	assert_output --partial "leaks only"
	run_vhdtool 3 check --json d.vhd
	assert_equal "$(jq -r .result <<<"$stdout")" leaks
}

@test "check: overlapping blocks are corruption (2)" {
	vhdtool create -b 64K d.vhd 1M
	head -c 200000 /dev/urandom | vhdtool write d.vhd 0
	test-tool poke d.vhd 1540 "$(test-tool peek d.vhd 1536 4)"
	run_vhdtool 2 check d.vhd
	assert_output --partial "overlaps"
}

@test "check: a missing trailing footer is reported; the next writer restores it" {
	mkdyn d.vhd
	truncate -s -512 d.vhd
	run_vhdtool 0 cat -o /dev/null d.vhd
	assert_output --partial "no footer at end of file"
	run_vhdtool 2 check d.vhd
	printf 'more' | vhdtool write d.vhd 4
	run_vhdtool 0 check d.vhd
	[ "$(vhdtool read d.vhd 0 8)" = datamore ]
}

@test "check --chain reports a missing parent (66)" {
	f=$(fixture dfvfs-fat-differential.vhd)
	run_vhdtool 0 check "$f"
	run_vhdtool 66 check --chain "$f"
	assert_output --partial "not found"
	# the report says what is wrong, never "no errors found" with exit 66
	refute_output --partial "no errors found"
	assert_line "error: parent 'C:\Projects\dfvfs\test_data\fat-parent.vhd' of '$f' not found (tried '$W/fat-parent.vhd', 'C:/Projects/dfvfs/test_data/fat-parent.vhd')"
	assert_line "  looked for '$W/fat-parent.vhd' (W2ru)"
	assert_line "  looked for 'C:/Projects/dfvfs/test_data/fat-parent.vhd' (W2ku)"
	assert_line "$f: parent missing (1 layer checked, stopped at '$f')"
	run_vhdtool 66 check --chain --json "$f"
	assert_equal "$(jq -r .result <<<"$stdout")" parent_missing
	assert_equal "$(jq -r '.parent_error | .file, .parent, .reason, .exit_status' <<<"$stdout" | tr '\n' '|')" \
		"$f|C:\Projects\dfvfs\test_data\fat-parent.vhd|not_found|66|"
	assert_equal "$(jq -r '.parent_error.looked_for[] | .from + " " + .path' <<<"$stdout" | tr '\n' '|')" \
		"W2ru $W/fat-parent.vhd|W2ku C:/Projects/dfvfs/test_data/fat-parent.vhd|"
	assert_equal "$(jq -r '.errors, (.layers | length)' <<<"$stdout" | tr '\n' ' ')" "0 1 "
	run_vhdtool 66 check --chain -H "$f"
	assert_line $'result\tparent_missing'
	assert_line $'parent_error.reason\tnot_found'
}

@test "check --chain: a grandparent missing is named with the paths tried; a clean chain has parent_error null" {
	vhdtool create -q base.vhd 4M
	mkdir sub
	vhdtool create -q -p base.vhd sub/mid.avhd
	vhdtool create -q -p sub/mid.avhd top.avhd
	run_vhdtool 0 check --chain --json top.avhd
	assert_equal "$(jq -r '.result, .parent_error' <<<"$stdout" | tr '\n' ' ')" "clean null "
	mv base.vhd elsewhere.vhd
	before=$(sha top.avhd)
	run_vhdtool 66 check --chain top.avhd
	refute_output --partial "no errors found"
	assert_output --partial "error: parent '$W/base.vhd' of 'sub/mid.avhd' not found"
	assert_line "  looked for 'sub/../base.vhd' (W2ru)"
	assert_line "  looked for '$W/base.vhd' (W2ku)"
	assert_line "  looked for 'sub/base.vhd' (parent name)"
	assert_line "top.avhd: parent missing (2 layers checked, stopped at 'sub/mid.avhd')"
	run_vhdtool 66 check --chain --json top.avhd
	assert_equal "$(jq -r '.result, .parent_error.file, .parent_error.parent, (.layers | length)' <<<"$stdout" | tr '\n' ' ')" \
		"parent_missing sub/mid.avhd $W/base.vhd 2 "
	assert_equal "$(jq -r '.parent_error.looked_for | length' <<<"$stdout")" 3
	[ "$(sha top.avhd)" = "$before" ]
	# without --chain only the named layer is checked: clean
	run_vhdtool 0 check top.avhd
	assert_output --partial "no errors found"
}

@test "check --chain: a parent with another UUID is reported as unusable (65)" {
	vhdtool create -q base.vhd 2M
	vhdtool create -q -p base.vhd child.avhd
	vhdtool create -q --force base.vhd 2M         # same name, new UUID
	run_vhdtool 65 check --chain child.avhd
	refute_output --partial "no errors found"
	assert_output --partial "error: parent 'base.vhd' of 'child.avhd' has UUID"
	assert_line "child.avhd: parent unusable (1 layer checked, stopped at 'child.avhd')"
	run_vhdtool 65 check --chain --json child.avhd
	assert_equal "$(jq -r '.result, .parent_error.reason, .parent_error.exit_status' <<<"$stdout" | tr '\n' ' ')" \
		"parent_unusable unusable 65 "
}
