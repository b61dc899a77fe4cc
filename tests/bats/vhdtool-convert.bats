#!/usr/bin/env bats
# vhdtool convert: round trips against raw models, chains flattened, zero runs
# left unallocated, sparse raw output, qemu-img as an oracle, refusals.

load helpers
load image-helpers

@test "convert: raw -> dynamic -> raw round trip equals the input" {
	truncate -s $((5 * 1048576 + 1536)) raw      # last block partly inside the disk
	raw_scribble raw 11 40
	run_vhdtool 0 convert -b 64K raw d.vhd
	vhdtool cat d.vhd | cmp - raw
	run_vhdtool 0 check d.vhd
	run_vhdtool 0 info --json d.vhd
	assert_equal "$(jq -r .type <<<"$stdout")" dynamic
	assert_equal "$(jq -r .virtual_size <<<"$stdout")" $((5 * 1048576 + 1536))
	assert_equal "$(jq -r .block_size <<<"$stdout")" 65536
	assert_equal "$(jq -r .creator_app <<<"$stdout")" "win "
	run_vhdtool 0 convert -O raw d.vhd back.raw
	cmp raw back.raw
	no_temp_files
}

@test "convert: qemu-img reads our dynamic and fixed output as the model" {
	requires qemu-img
	truncate -s 3M raw
	raw_scribble raw 12 30
	run_vhdtool 0 convert raw d.vhd
	run_vhdtool 0 convert --type fixed raw f.vhd
	run_vhdtool 0 check f.vhd
	assert_equal "$(vhdtool info --json f.vhd | jq -r .type)" fixed
	qemu-img compare -q -f raw -F vpc raw d.vhd
	qemu-img convert -f vpc -O raw d.vhd q.raw
	cmp q.raw raw
	qemu-img convert -f vpc -O raw f.vhd qf.raw
	cmp qf.raw raw
	[ "$(qemu-img info -f vpc --output=json d.vhd | jq -r '."virtual-size"')" -eq 3145728 ]
}

@test "convert: a 3-deep chain is flattened into one image equal to the model" {
	make_chain raw
	before=$(cat base.vhd c1.avhd c2.avhd c3.avhd | sha256sum)
	run_vhdtool 0 convert c3.avhd flat.vhd
	vhdtool cat flat.vhd | cmp - raw
	run_vhdtool 0 info --json flat.vhd
	assert_equal "$(jq -r .type <<<"$stdout")" dynamic
	assert_equal "$(jq -r .parent_uuid <<<"$stdout")" null
	assert_equal "$(jq -r .block_size <<<"$stdout")" 2097152
	run_vhdtool 0 check flat.vhd
	run_vhdtool 0 convert -O raw c3.avhd flat.raw
	cmp flat.raw raw
	run_vhdtool 0 convert -t fixed c3.avhd fixed.vhd
	vhdtool cat fixed.vhd | cmp - raw
	run_vhdtool 0 convert -O raw c1.avhd mid.raw   # a middle layer: its own view
	cmp mid.raw raw1
	[ "$(cat base.vhd c1.avhd c2.avhd c3.avhd | sha256sum)" = "$before" ]
}

@test "convert: zero runs are not allocated in dynamic output" {
	head -c 16M /dev/zero > raw                    # zeros written, not holes
	test-tool pattern 1 10000 | dd of=raw bs=1 seek=$((2 * 1048576 + 4096)) conv=notrunc status=none
	test-tool pattern 2 512 | dd of=raw bs=1 seek=$((13 * 1048576)) conv=notrunc status=none
	run_vhdtool 0 convert raw d.vhd
	assert_equal "$(vhdtool info --json d.vhd | jq -r .allocated_blocks)" 2
	vhdtool cat d.vhd | cmp - raw
	# the two blocks that hold data, and only they
	assert_equal "$(vhdtool map --json d.vhd | jq -c '[.map[] | select(.data) | .start]')" \
		"[2097152,12582912]"
	# all zeros, written or as a hole: nothing allocated, a small file
	head -c 8M /dev/zero > zeros.raw
	truncate -s 8M holes.raw
	for f in zeros.raw holes.raw; do
		run_vhdtool 0 convert "$f" "$f.vhd"
		assert_equal "$(vhdtool info --json "$f.vhd" | jq -r .allocated_blocks)" 0
		[ "$(stat -c %s "$f.vhd")" -lt 65536 ]
		vhdtool cat "$f.vhd" | cmp - "$f"
	done
}

@test "convert: raw output is sparse, fixed output too" {
	run_vhdtool 0 create -b 64K d.vhd 32M
	truncate -s 32M raw
	scribble d.vhd raw 13 10 20000
	head -c 1M /dev/zero | vhdtool write d.vhd 4194304   # allocated zeros
	run_vhdtool 0 convert -O raw d.vhd out.raw
	cmp out.raw raw
	[ "$(stat -c %s out.raw)" -eq 33554432 ]
	[ "$(allocated_bytes out.raw)" -lt 4194304 ]
	# a raw input of written zeros becomes holes
	head -c 32M /dev/zero > z.raw
	raw_scribble z.raw 14 5
	run_vhdtool 0 convert -O raw z.raw z2.raw
	cmp z.raw z2.raw
	[ "$(allocated_bytes z2.raw)" -lt 4194304 ]
	run_vhdtool 0 convert -t fixed z.raw zf.vhd
	vhdtool cat zf.vhd | cmp - z.raw
	[ "$(allocated_bytes zf.vhd)" -lt 4194304 ]
}

@test "convert: qemu-made dynamic, force_size and fixed images" {
	requires qemu-img
	truncate -s 3M raw
	raw_scribble raw 15 30
	qemu-img convert -f raw -O vpc raw q.vhd                  # size rounded up to CHS
	qemu-img convert -f raw -O vpc -o force_size=on raw qf.vhd
	qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on raw qx.vhd
	qsize=$(vhdtool info --json q.vhd | jq -r .virtual_size)
	[ "$qsize" -ge 3145728 ]
	cp raw padded && truncate -s "$qsize" padded
	run_vhdtool 0 convert -O raw q.vhd q.raw
	cmp q.raw padded
	run_vhdtool 0 convert -O raw qf.vhd qf.raw
	cmp qf.raw raw
	run_vhdtool 0 convert -f vhd -O raw qx.vhd qx.raw
	cmp qx.raw raw
	# and into our VHD
	run_vhdtool 0 convert q.vhd ours.vhd
	vhdtool cat ours.vhd | cmp - padded
	f=$(fixture local-qemu-dynamic.vhd)
	run_vhdtool 0 convert -O raw "$f" fix.raw
	qemu-img convert -f vpc -O raw "$f" fixq.raw
	cmp fix.raw fixq.raw
}

@test "convert: -f raw takes a VHD file as raw bytes" {
	run_vhdtool 0 create -b 64K d.vhd 1M
	head -c 70000 /dev/urandom | vhdtool write d.vhd 1000
	run_vhdtool 0 convert -f raw -O raw d.vhd bytes.raw
	cmp bytes.raw d.vhd
	truncate -s 1M r
	run_vhdtool 65 convert -f vhd r x.vhd
	assert_output --partial "'r' is not a VHD"
	[ ! -e x.vhd ]
}

@test "convert: odd-sized raw input is padded to whole sectors in a VHD" {
	head -c 1000 /dev/urandom > odd.raw
	run_vhdtool 0 convert odd.raw odd.vhd
	assert_output --partial "padded with zeros to 1024 bytes"
	cp odd.raw padded && truncate -s 1024 padded
	vhdtool cat odd.vhd | cmp - padded
	run_vhdtool 0 -q convert odd.raw odd2.vhd
	refute_output
	: > empty.raw
	run_vhdtool 65 convert empty.raw e.vhd
	assert_output --partial "'empty.raw' is empty"
	run_vhdtool 0 convert -O raw empty.raw e.raw
	[ "$(stat -c %s e.raw)" -eq 0 ]
	no_temp_files
}

@test "convert: an existing DST is refused (73) and left untouched; --force replaces it" {
	truncate -s 1M raw
	raw_scribble raw 16 5
	echo precious > out.vhd
	before=$(sha out.vhd)
	run_vhdtool 73 convert raw out.vhd
	assert_output --partial "'out.vhd' already exists (--force replaces it)"
	[ "$(sha out.vhd)" = "$before" ]
	run_vhdtool 73 convert -O raw raw out.vhd
	[ "$(sha out.vhd)" = "$before" ]
	ln -s nowhere dangling
	run_vhdtool 73 convert raw dangling
	run_vhdtool 0 convert --force raw out.vhd
	vhdtool cat out.vhd | cmp - raw
	no_temp_files
}

@test "convert: missing, unreadable and bad inputs (66, 65) create nothing" {
	run_vhdtool 66 convert nope.raw out.vhd
	assert_output --partial "cannot open 'nope.raw': No such file or directory"
	run_vhdtool 0 create d.vhd 1M
	cp d.vhd bad.vhd
	test-tool poke bad.vhd $(($(stat -c %s bad.vhd) - 512 + 64)) 00000000
	test-tool poke bad.vhd 64 00000000
	run_vhdtool 65 convert bad.vhd out.vhd
	assert_output --partial "checksum"
	run_vhdtool 0 create -p d.vhd c.avhd
	rm d.vhd
	run_vhdtool 66 convert c.avhd out.vhd
	assert_output --partial "not found"
	truncate -s 1M raw
	run_vhdtool 66 convert raw no/such/dir/out.vhd
	assert_output --partial "cannot create 'no/such/dir/out.vhd'"
	[ ! -e out.vhd ]
	no_temp_files
}

@test "convert: bad arguments are usage errors (64)" {
	truncate -s 1M raw
	run_vhdtool 64 convert -O qcow2 raw o
	assert_output --partial "unknown output format 'qcow2'"
	run_vhdtool 64 convert --type sparse raw o
	run_vhdtool 64 convert -O raw --type fixed raw o
	run_vhdtool 64 convert -t fixed -b 64K raw o
	run_vhdtool 64 convert -O raw -b 64K raw o
	run_vhdtool 64 convert -b 3000 raw o
	assert_output --partial "not a power of two"
	run_vhdtool 64 convert -b 512M raw o
	run_vhdtool 64 convert -b junk raw o
	run_vhdtool 64 convert -f qcow2 raw o
	run_vhdtool 64 convert raw
	run_vhdtool 64 convert raw o extra
	run_vhdtool 64 convert --bogus raw o
	[ ! -e o ]
	run_vhdtool 0 convert --help
	assert_output --partial "--output-format"
}

@test "convert: progress with -p (and on a terminal), none with -q or on a pipe" {
	truncate -s 4M raw
	raw_scribble raw 17 5
	run_vhdtool 0 convert -p raw a.vhd
	[[ "$stderr" == *"converting: 100% (4 MiB of 4 MiB)"* ]]
	run_vhdtool 0 convert raw b.vhd
	refute_output
	run_vhdtool 0 convert -q -p raw c.vhd
	refute_output
	requires script
	script -qec "vhdtool convert raw d.vhd" /dev/null > tty.out
	grep -q "converting: 100%" tty.out
	vhdtool cat d.vhd | cmp - raw
}

@test "convert: a TERM signal stops it cleanly: no DST, no temporary file" {
	test-tool pattern 18 $((192 << 20)) > big.raw
	vhdtool convert -p big.raw out.vhd 2> err &
	pid=$!
	for _ in $(seq 1 1000); do
		grep -q '%' err 2>/dev/null && break
		sleep 0.01
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" && st=0 || st=$?
	if [ "$st" -eq 143 ]; then
		[ ! -e out.vhd ]
	else
		# it finished before the signal came: then it is complete
		[ "$st" -eq 0 ]
		vhdtool cat out.vhd | cmp - big.raw
	fi
	no_temp_files
}
