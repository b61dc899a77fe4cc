#!/usr/bin/env bats
# vhdtool read: ranges through the chain, -o, refusals.

load helpers

@test "read: a range, -o FILE, and refusals" {
	run_vhdtool 0 create d.vhd 1M
	printf 'hello world' | vhdtool write d.vhd 100
	run_vhdtool 0 read d.vhd 100 11
	assert_output "hello world"
	run_vhdtool 0 read -o out d.vhd 106 5
	[ "$(cat out)" = world ]
	run_vhdtool 64 read d.vhd 1048570 100
	assert_output --partial "outside the disk"
	run_vhdtool 64 read d.vhd abc 1
	run_vhdtool 66 read nope.vhd 0 1
	assert_output --partial "cannot open 'nope.vhd': No such file or directory"
}


@test "read: through a chain, across block and layer boundaries, to -o -" {
	vhdtool create -b 64K base.vhd 1M
	test-tool pattern 21 1048576 > raw
	vhdtool write -i raw base.vhd 0
	vhdtool create -p base.vhd c.avhd
	test-tool pattern 22 100000 > part
	vhdtool write -i part c.avhd 60000
	dd if=part of=raw bs=1 seek=60000 conv=notrunc status=none
	for range in "0 1" "65535 2" "59999 100002" "131071 70000" "1048575 1" "0 1048576"; do
		set -- $range
		cmp <(vhdtool read -o - c.avhd "$1" "$2") <(tail -c +$(($1 + 1)) raw | head -c "$2")
	done
	run_vhdtool 0 read c.avhd 1048576 0     # empty range at the end
	assert_output ""
}

@test "read: a parentless differencing layer cannot be read (66)" {
	vhdtool create base.vhd 1M
	vhdtool create -p base.vhd c.avhd
	mv base.vhd elsewhere.vhd
	run_vhdtool 66 read c.avhd 0 512
	assert_output --partial "parent '$W/base.vhd' of 'c.avhd' not found"
	assert_output --partial "tried 'base.vhd', '$W/base.vhd'"
}
