#!/usr/bin/env bats
# vhdtool set-parent: relink a child after its parent moved (Set-VHD -ParentPath).

load helpers
load modify-helpers

# a 1 MiB base with seeded data in a/, a child with its own writes; model in raw
prepare() {
	mkdir -p a b
	vhdtool create -b 64K a/base.vhd 1M
	truncate -s 1M raw
	put a/base.vhd raw 0 1048576 1
	vhdtool create -p a/base.vhd c.avhd
	put c.avhd raw 70000 100000 2
	put c.avhd raw 900000 512 3
}

utf16le() { printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE | od -An -v -tx1 | tr -d ' \n'; }

@test "relink after the parent moved: locators, name, timestamp; data through the chain" {
	prepare
	mv a/base.vhd b/moved.vhd
	run_vhdtool 66 cat -o /dev/null c.avhd
	run_vhdtool 0 set-parent c.avhd b/moved.vhd
	same_as c.avhd raw
	clean --chain c.avhd
	assert_output --partial "2 layers checked"
	run_vhdtool 0 info --json c.avhd
	abs=$(realpath b/moved.vhd)
	assert_equal "$(jqv .parent_name)" "$abs"
	assert_equal "$(jqv .parent_path)" b/moved.vhd
	assert_equal "$(jqv '.locators[] | select(.platform=="W2ku") | .path')" "$abs"
	assert_equal "$(jqv '.locators[] | select(.platform=="W2ru") | .path')" ./b/moved.vhd
	assert_equal "$(jqv .parent_timestamp)" "$(date -u -d @"$(stat -c %Y b/moved.vhd)" +%Y-%m-%dT%H:%M:%SZ)"
	# W2ru is stored as vhd_create writes it: ".\b\moved.vhd", UTF-16LE, space in bytes
	off=$(jqv '.locators[] | select(.platform=="W2ru") | .data_offset')
	len=$(jqv '.locators[] | select(.platform=="W2ru") | .data_length')
	assert_equal "$(test-tool peek c.avhd "$off" "$len")" "$(utf16le '.\b\moved.vhd')"
	off=$(jqv '.locators[] | select(.platform=="W2ku") | .data_offset')
	assert_equal "$(test-tool peek c.avhd "$off" $((2 * ${#abs})))" "$(utf16le "$abs")"
	# the parent name field is UTF-16BE at header offset 64
	assert_equal "$(test-tool peek c.avhd $((512 + 64)) $((2 * ${#abs} + 2)))" \
		"$(printf '%s' "$abs" | iconv -f UTF-8 -t UTF-16BE | od -An -v -tx1 | tr -d ' \n')0000"
	# relative paths upwards use "..\", as vhd_create writes them
	mkdir -p deep/er
	mv c.avhd deep/er/c.avhd
	run_vhdtool 0 set-parent --json deep/er/c.avhd b/moved.vhd
	assert_equal "$(jqv '.locators[] | select(.platform=="W2ru") | .path')" '..\..\b\moved.vhd'
	same_as deep/er/c.avhd raw
}

@test "set-parent --json has the documented keys; -H is tab separated" {
	prepare
	run_vhdtool 0 set-parent --json c.avhd a/base.vhd
	assert_equal "$(jq -c 'keys_unsorted' <<<"$stdout")" \
		'["file","parent","parent_path","parent_uuid","previous_parent_uuid","uuid_changed","parent_name","parent_timestamp","virtual_size","parent_virtual_size","locators"]'
	assert_equal "$(jq -c '.locators[0] | keys_unsorted' <<<"$stdout")" \
		'["index","platform","path","data_length","data_space","data_offset"]'
	assert_equal "$(jqv .uuid_changed)" false
	assert_equal "$(jqv .parent_uuid)" "$(vhdtool info --json a/base.vhd | jq -r .uuid)"
	assert_equal "$(jqv '[.locators[].data_space] | join(" ")')" "4096 4096"
	run_vhdtool 0 set-parent -H c.avhd a/base.vhd
	assert_line $'uuid_changed\tfalse'
	same_as c.avhd raw
}

@test "a parent with another UUID is refused (65) unless --force, which takes its UUID" {
	prepare
	vhdtool create -b 64K other.vhd 1M
	before=$(sha c.avhd)
	run_vhdtool 65 set-parent c.avhd other.vhd
	assert_output --partial "'other.vhd' has UUID"
	assert_output --partial "expects its parent to be"
	[ "$(sha c.avhd)" = "$before" ]
	run_vhdtool 0 set-parent --force --json c.avhd other.vhd
	assert_equal "$(jqv .uuid_changed)" true
	uuid=$(vhdtool info --json other.vhd | jq -r .uuid)
	assert_equal "$(jqv .parent_uuid)" "$uuid"
	assert_output --partial "now expects parent UUID $uuid"
	assert_equal "$(vhdtool info --json c.avhd | jq -r .parent_uuid)" "$uuid"
	# the child's own sectors over the new (empty) parent, no --force needed now
	# (whole sectors: the partial ones were filled from the old parent)
	truncate -s 1M raw2
	dd if=raw of=raw2 bs=512 skip=136 seek=136 count=197 conv=notrunc status=none
	dd if=raw of=raw2 bs=512 skip=1757 seek=1757 count=2 conv=notrunc status=none
	same_as c.avhd raw2
	clean --chain c.avhd
}

@test "Windows-made child: locators rewritten in their 4096 and 65536 byte spaces, nothing else touched" {
	f=$(fixture dfvfs-fat-differential.vhd)
	cp "$f" orig.vhd
	mkdir p
	# a stand-in parent carrying the UUID the child expects
	vhdtool create -t fixed p/fat-parent.vhd 4M
	test-tool pattern 7 4194304 > praw
	vhdtool write p/fat-parent.vhd 0 < praw
	test-tool poke p/fat-parent.vhd $((4194304 + 68)) 5fa21a55f394aa4d99581951a67d5540
	test-tool vhd-resum p/fat-parent.vhd
	run_vhdtool 0 set-parent --json "$f" p/fat-parent.vhd
	assert_equal "$(jqv .uuid_changed)" false
	assert_equal "$(jqv '[.locators[] | "\(.platform):\(.data_space):\(.data_offset)"] | join(" ")')" \
		"W2ku:4096:4096 W2ru:65536:12288"
	assert_equal "$(jqv '.locators[] | select(.platform=="W2ru") | .path')" '.\p\fat-parent.vhd'
	clean --chain "$f"
	# the child's block 0 covers the first 2 MiB; the rest is the parent's
	vhdtool cat -o out.raw "$f"
	cmp <(tail -c +2097153 out.raw) <(tail -c +2097153 praw)
	# outside the header and the two locator spaces every byte is as it was
	cmp <(head -c 512 orig.vhd) <(head -c 512 "$f")
	cmp <(head -c 4096 orig.vhd | tail -c +1537) <(head -c 4096 "$f" | tail -c +1537)
	cmp <(head -c 12288 orig.vhd | tail -c +8193) <(head -c 12288 "$f" | tail -c +8193)
	cmp <(tail -c +77825 orig.vhd) <(tail -c +77825 "$f")
	# the header's reserved bytes survive the patching
	cmp <(head -c 1536 orig.vhd | tail -c 256) <(head -c 1536 "$f" | tail -c 256)
}

@test "a new path longer than the locator space is refused (1), naming needed and available bytes" {
	f=$(fixture dfvfs-fat-differential.vhd)
	long=$W
	for i in 1 2 3 4 5 6 7 8 9; do long=$long/$(printf 'd%.0s' $(seq 1 240)); done
	mkdir -p "$long"
	vhdtool create -t fixed "$long/fat-parent.vhd" 4M
	test-tool poke "$long/fat-parent.vhd" $((4194304 + 68)) 5fa21a55f394aa4d99581951a67d5540
	test-tool vhd-resum "$long/fat-parent.vhd"
	before=$(sha "$f")
	run_vhdtool 1 set-parent "$f" "$long/fat-parent.vhd"
	assert_output --regexp "the new W2ku parent locator needs [0-9]+ bytes, its data space at offset 4096 holds 4096; nothing changed"
	[ "$(sha "$f")" = "$before" ]
}

@test "a locator space that claims more than is free is cut at the next structure" {
	prepare
	# W2ku (slot 0, at 4096) claims 1 MiB: it would run over W2ru and the blocks
	test-tool poke c.avhd $((512 + 576 + 4)) 00100000
	test-tool vhd-resum c.avhd
	long=$W
	for i in 1 2 3 4 5 6 7 8 9; do long=$long/$(printf 'e%.0s' $(seq 1 240)); done
	mkdir -p "$long"
	cp a/base.vhd "$long/base.vhd"
	before=$(sha c.avhd)
	run_vhdtool 1 set-parent c.avhd "$long/base.vhd"
	assert_output --partial "its data space at offset 4096 holds 4096"
	[ "$(sha c.avhd)" = "$before" ]
	# a path that fits: written, the space recorded as what is really free
	run_vhdtool 0 set-parent --json c.avhd a/base.vhd
	assert_equal "$(jqv '.locators[] | select(.platform=="W2ku") | .data_space')" 4096
	same_as c.avhd raw
	clean --chain c.avhd
}

@test "refusals: not a child, missing files, itself, a loop, no locators, damaged child" {
	prepare
	vhdtool create -b 64K d.vhd 1M
	before=$(sha d.vhd)
	run_vhdtool 65 set-parent d.vhd a/base.vhd
	assert_output --partial "'d.vhd' is a dynamic disk, not a differencing child"
	[ "$(sha d.vhd)" = "$before" ]
	before=$(sha c.avhd)
	run_vhdtool 66 set-parent c.avhd nope.vhd
	assert_output --partial "cannot open 'nope.vhd'"
	run_vhdtool 66 set-parent nope.avhd a/base.vhd
	run_vhdtool 65 set-parent c.avhd c.avhd
	assert_output --partial "it is the same file"
	vhdtool create -p c.avhd g.avhd
	run_vhdtool 65 set-parent c.avhd g.avhd
	assert_output --partial "it lies below it (a loop)"
	[ "$(sha c.avhd)" = "$before" ]
	run_vhdtool 64 set-parent c.avhd
	# a child without W2ku/W2ru locators (repaired first: its checksums are bad)
	f=$(fixture dfvfs-image-differential.vhd)
	before=$(sha "$f")
	run_vhdtool 65 set-parent "$f" a/base.vhd
	assert_output --partial "checksum mismatch"
	assert_output --partial "(vhdtool repair fixes it)"
	[ "$(sha "$f")" = "$before" ]
	vhdtool repair "$f" > /dev/null
	before=$(sha "$f")
	run_vhdtool 1 set-parent --force "$f" a/base.vhd
	assert_output --partial "has no W2ku parent locator"
	[ "$(sha "$f")" = "$before" ]
}

@test "a child in use is busy (75)" {
	prepare
	exec 9<>c.avhd
	flock -s 9
	run_vhdtool 75 set-parent c.avhd a/base.vhd
	assert_output --partial "'c.avhd' is in use by another process"
	exec 9>&-
}

@test "kill -9 at each step: the child stays valid, rerunning finishes the relink" {
	for point in setparent-locator:1 setparent-locator:2 setparent-header; do
		rm -rf a b c.avhd raw
		prepare
		mv a/base.vhd b/moved.vhd
		run env VMSNAP_CRASHPOINT=$point vhdtool set-parent c.avhd b/moved.vhd
		crashed
		clean c.avhd
		run_vhdtool 0 set-parent c.avhd b/moved.vhd
		same_as c.avhd raw
		clean --chain c.avhd
	done
}
