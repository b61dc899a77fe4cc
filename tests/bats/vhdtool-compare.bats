#!/usr/bin/env bats
# vhdtool compare: verdicts checked against cmp(1) on the raw models, sizes
# (qemu-img rules), strict mode, --json/-H, exit 2 for every error.

load helpers
load image-helpers

# same_as_cmp A B RAW_A RAW_B [OPTIONS...]: vhdtool compare A B agrees with
# cmp on the raw images: same verdict, and the first difference at the byte
# cmp names (cmp counts from 1)
same_as_cmp() {
	local a=$1 b=$2 ra=$3 rb=$4 want at
	shift 4
	if cmp -s "$ra" "$rb"; then want=0; else want=1; fi
	run_vhdtool "$want" compare "$@" "$a" "$b"
	if [ "$want" -eq 1 ]; then
		at=$(cmp "$ra" "$rb" 2>&1 | sed -n 's/.* differ: byte \([0-9]*\),.*/\1/p')
		[ -n "$at" ]
		assert_output "Content mismatch at offset $((at - 1))!"
		run_vhdtool 1 compare --json "$@" "$a" "$b"
		assert_equal "$(jq -r .first_difference <<<"$stdout")" $((at - 1))
		assert_equal "$(jq -r .identical <<<"$stdout")" false
	else
		assert_output "Images are identical."
	fi
}

@test "compare: the same content as raw, dynamic, fixed and chain is identical" {
	make_chain raw
	vhdtool convert -O raw c3.avhd flat.raw
	vhdtool convert -t fixed c3.avhd fixed.vhd
	vhdtool convert -b 4K c3.avhd small.vhd
	for x in flat.raw fixed.vhd small.vhd c3.avhd; do
		same_as_cmp c3.avhd "$x" raw raw
		same_as_cmp "$x" raw raw raw
	done
	run_vhdtool 0 compare --json c3.avhd fixed.vhd
	assert_equal "$(jq -r .identical <<<"$stdout")" true
	assert_equal "$(jq -r .first_difference <<<"$stdout")" null
	assert_equal "$(jq -r .size_mismatch <<<"$stdout")" false
	assert_equal "$(jq -r .format_a <<<"$stdout")" vpc
	assert_equal "$(jq -r .size_b <<<"$stdout")" 2097152
	# layers of the chain differ from each other exactly where cmp says
	same_as_cmp c3.avhd c1.avhd raw raw1
	same_as_cmp c1.avhd c2.avhd raw1 raw1
	same_as_cmp base.vhd c1.avhd raw0 raw1
}

@test "compare: single-byte differences anywhere, allocated or not, found at the byte" {
	run_vhdtool 0 create -b 64K d.vhd 4M
	truncate -s 4M raw
	scribble d.vhd raw 21 12 30000
	# offsets in and out of allocated blocks, first and last byte included
	for off in 0 1 511 4097 65535 65536 200000 1048577 3000000 4194303; do
		cp raw other.raw
		printf '\x5a' | dd of=other.raw bs=1 seek="$off" conv=notrunc status=none
		cmp -s raw other.raw || same_as_cmp d.vhd other.raw raw other.raw
		same_as_cmp other.raw d.vhd other.raw raw
		# and as a VHD on both sides (an unallocated block against an allocated one)
		vhdtool convert -b 64K other.raw other.vhd
		same_as_cmp d.vhd other.vhd raw other.raw
		rm other.vhd
	done
}

@test "compare: two independent seeded images agree with cmp" {
	for seed in 31 32 33; do
		truncate -s 3M ra rb
		raw_scribble ra "$seed" 8 20000
		raw_scribble rb $((seed + 100)) 8 20000
		vhdtool convert -b 64K ra a.vhd
		vhdtool convert -b 64K rb b.vhd
		same_as_cmp a.vhd b.vhd ra rb
		same_as_cmp a.vhd rb ra rb -s
		rm ra rb a.vhd b.vhd
	done
}

@test "compare: sizes differ: a zero tail is the same, -s says differ at the smaller size" {
	truncate -s 1M small.raw
	raw_scribble small.raw 41 5
	cp small.raw big.raw && truncate -s 3M big.raw
	vhdtool convert small.raw small.vhd
	vhdtool convert big.raw big.vhd
	# qemu-img's rule: the larger one's extra part is zeros, so identical;
	# cmp agrees once the smaller is padded with zeros to the larger size
	cp small.raw padded.raw && truncate -s 3M padded.raw
	cmp big.raw padded.raw
	run_vhdtool 0 compare small.vhd big.vhd
	assert_output --partial "Images are identical."
	assert_output --partial "image size mismatch"
	run_vhdtool 0 compare -q --json big.raw small.vhd
	assert_equal "$(jq -r .size_mismatch <<<"$stdout")" true
	refute_output --partial "warning"
	# strict: a size difference is a difference, where the smaller one ends (cmp: EOF)
	run_vhdtool 1 compare -s small.vhd big.vhd
	assert_output "Strict mode: Image size mismatch!"
	cmp small.raw big.raw 2>&1 | grep -q "EOF on small.raw after byte 1048576"
	run_vhdtool 1 compare -s --json small.vhd big.raw
	assert_equal "$(jq -r .first_difference <<<"$stdout")" 1048576
	assert_equal "$(jq -r .strict <<<"$stdout")" true
	# a nonzero byte in the extra part is found at its offset, in both modes
	printf 'x' | dd of=big.raw bs=1 seek=2500000 conv=notrunc status=none
	cp small.raw padded.raw && truncate -s 3M padded.raw
	same_as_cmp small.vhd big.raw padded.raw big.raw -q
	same_as_cmp big.raw small.raw big.raw padded.raw -q
	# strict with an earlier content difference reports the content
	printf 'y' | dd of=big.raw bs=1 seek=1000 conv=notrunc status=none
	run_vhdtool 1 compare -s small.raw big.raw
	at=$(cmp small.raw big.raw | sed -n 's/.*byte \([0-9]*\),.*/\1/p')
	assert_output "Content mismatch at offset $((at - 1))!"
}

@test "compare: qemu-made images against our conversions" {
	requires qemu-img
	truncate -s 3M raw
	raw_scribble raw 51 20
	qemu-img convert -f raw -O vpc -o force_size=on raw q.vhd
	vhdtool convert raw ours.vhd
	same_as_cmp q.vhd ours.vhd raw raw
	qemu-img compare -f vpc -F vpc q.vhd ours.vhd
	printf 'z' | dd of=raw bs=1 seek=777777 conv=notrunc status=none
	vhdtool convert --force raw ours.vhd
	qemu-img convert -f vpc -O raw q.vhd q.raw
	same_as_cmp q.vhd ours.vhd q.raw raw
}

@test "compare: -H prints the fields tab-separated" {
	truncate -s 1M a.raw b.raw
	printf 'x' | dd of=b.raw bs=1 seek=4100 conv=notrunc status=none
	run_vhdtool 1 compare -H a.raw b.raw
	assert_line $'identical\tfalse'
	assert_line $'first_difference\t4100'
	assert_line $'size_a\t1048576'
	assert_line $'format_b\traw'
}

@test "compare: every error exits 2 with its message" {
	truncate -s 1M a.raw
	run_vhdtool 2 compare a.raw nope.raw
	assert_output --partial "cannot open 'nope.raw': No such file or directory"
	run_vhdtool 2 compare nope.raw a.raw
	run_vhdtool 0 create d.vhd 1M
	cp d.vhd bad.vhd
	test-tool poke bad.vhd $(($(stat -c %s bad.vhd) - 512 + 64)) 00000000
	test-tool poke bad.vhd 64 00000000
	run_vhdtool 2 compare bad.vhd a.raw
	assert_output --partial "checksum"
	run_vhdtool 2 compare -F vhd a.raw a.raw
	assert_output --partial "'a.raw' is not a VHD"
	run_vhdtool 2 compare a.raw
	run_vhdtool 2 compare a.raw a.raw a.raw
	run_vhdtool 2 compare --bogus a.raw a.raw
	run_vhdtool 2 compare -f qcow2 a.raw a.raw
	run_vhdtool 2 compare --json -H a.raw a.raw
	run_vhdtool 0 compare --help
	assert_output --partial "--strict"
	run_vhdtool 0 compare -f raw -F raw d.vhd d.vhd
}
