#!/usr/bin/env bats
# vhdtool write: round trips against a raw-file model, allocation rules, refusals.

load helpers

# scribble FILE RAW SEED COUNT: the same seeded writes into the image (through
# vhdtool write) and into a raw model file (through dd)
scribble() {
	local file=$1 raw=$2 seed=$3 count=$4 size off len s
	size=$(stat -c %s "$raw")
	while read -r off len s; do
		test-tool pattern "$s" "$len" > chunk
		vhdtool write "$file" "$off" < chunk
		dd if=chunk of="$raw" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
	done < <(test-tool scribble "$seed" "$count" 70000 "$size")
}

@test "round trip: fixed disk equals the raw model" {
	run_vhdtool 0 create -t fixed f.vhd 3M
	truncate -s 3M raw
	scribble f.vhd raw 1 60
	vhdtool cat f.vhd | cmp - raw
	run_vhdtool 0 check f.vhd
}

@test "round trip: dynamic disk (small blocks, many) equals the raw model" {
	run_vhdtool 0 create -b 64K d.vhd 3M
	truncate -s 3M raw
	scribble d.vhd raw 2 80
	vhdtool cat d.vhd | cmp - raw
	run_vhdtool 0 check d.vhd
}

@test "round trip: 3-deep differencing chain equals the raw model at every level" {
	run_vhdtool 0 create -b 64K base.vhd 2M
	truncate -s 2M raw
	scribble base.vhd raw 3 40
	cp raw raw0
	run_vhdtool 0 create -p base.vhd c1.avhd
	scribble c1.avhd raw 4 40
	cp raw raw1
	run_vhdtool 0 create -p c1.avhd c2.avhd
	run_vhdtool 0 create -p c2.avhd c3.avhd
	scribble c3.avhd raw 5 40
	vhdtool cat c3.avhd | cmp - raw
	vhdtool cat c2.avhd | cmp - raw1   # frozen layers unchanged
	vhdtool cat c1.avhd | cmp - raw1
	vhdtool cat base.vhd | cmp - raw0
	run_vhdtool 0 check --chain c3.avhd
	assert_output --partial "4 layers checked"
}

@test "partial bitmap bytes: single sectors and odd bytes in a child" {
	run_vhdtool 0 create base.vhd 1M
	test-tool pattern 9 1048576 > raw
	vhdtool write base.vhd 0 < raw
	run_vhdtool 0 create -p base.vhd c.avhd
	for off in 512 1537 4096 9000; do
		printf 'Z%.0s' $(seq 1 $((off % 7 + 1))) > chunk
		vhdtool write c.avhd "$off" < chunk
		dd if=chunk of=raw bs=1 seek="$off" conv=notrunc status=none
	done
	vhdtool cat c.avhd | cmp - raw
	# sectors 1, 3, 8 and 17 hold data: MSB-first bitmap bytes 50 80 40
	[ "$(vhdtool info --json c.avhd | jq -r .allocated_blocks)" -eq 1 ]
	bat0=$((0x$(test-tool peek c.avhd 1536 4) * 512))
	assert_equal "$(test-tool peek c.avhd "$bat0" 4)" 50804000
}

@test "write of zeros to an unallocated dynamic block allocates nothing" {
	run_vhdtool 0 create d.vhd 8M
	before=$(stat -c %s d.vhd)
	head -c 2097152 /dev/zero | vhdtool write d.vhd 2097152
	[ "$(stat -c %s d.vhd)" -eq "$before" ]
	run_vhdtool 0 info -H d.vhd
	assert_line $'allocated_blocks\t0'
}

@test "write: past the end is refused before anything is written" {
	run_vhdtool 0 create d.vhd 1M
	before=$(sha d.vhd)
	head -c 4096 /dev/urandom > chunk
	run_vhdtool 64 write -i chunk d.vhd 1046528
	assert_output --partial "outside the disk"
	[ "$(sha d.vhd)" = "$before" ]
	run_vhdtool 66 write -i nope d.vhd 0
}

@test "write into a child never changes its parent" {
	run_vhdtool 0 create base.vhd 1M
	head -c 65536 /dev/urandom | vhdtool write base.vhd 0
	run_vhdtool 0 create -p base.vhd c.avhd
	before=$(sha base.vhd)
	head -c 300000 /dev/urandom | vhdtool write c.avhd 1000
	[ "$(sha base.vhd)" = "$before" ]
}

@test "a disk in use by a writer is busy (75) for other writers" {
	run_vhdtool 0 create d.vhd 1M
	exec 9<>d.vhd
	flock -x 9
	run_vhdtool 75 write -i /dev/null d.vhd 0
	assert_output --partial "'d.vhd' is in use by another process"
	run_vhdtool 75 cat -o /dev/null d.vhd
	run_vhdtool 0 info d.vhd     # info takes no lock
	exec 9>&-
}

