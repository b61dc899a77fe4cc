#!/usr/bin/env bats
# vhdtool cat: the whole disk; interop with qemu-img/qemu-io and libvhdi (vhdimount).

load helpers

@test "cat refuses a terminal, writes to a pipe and to -o" {
	run_vhdtool 0 create d.vhd 1M
	run_vhdtool 0 cat -o whole d.vhd
	[ "$(stat -c %s whole)" -eq 1048576 ]
	if command -v script >/dev/null; then
		run script -qec "vhdtool cat d.vhd" /dev/null
		assert_output --partial "refusing to write disk data to a terminal"
	fi
}

@test "interop: qemu-img sees our fixed and dynamic images byte for byte" {
	requires qemu-img
	for t in fixed dynamic; do
		run_vhdtool 0 create -t $t $t.vhd 5000K     # not a CHS product
		test-tool pattern 11 300000 | vhdtool write $t.vhd 77777
		qemu-img convert -f vpc -O raw $t.vhd q.raw
		vhdtool cat $t.vhd > o.raw
		cmp q.raw o.raw
		[ "$(qemu-img info -f vpc --output=json $t.vhd | jq '."virtual-size"')" -eq 5120000 ]
	done
}

@test "interop: our cat of a qemu-img image written by qemu-io equals qemu's view" {
	requires qemu-img qemu-io
	qemu-img create -q -f vpc q.vhd 6M
	qemu-io -f vpc -c 'write -P 0x5a 0 64k' -c 'write -P 0x33 3M 100k' q.vhd >/dev/null
	qemu-img convert -f vpc -O raw q.vhd q.raw
	vhdtool cat q.vhd | cmp - q.raw
	# and the other way: qemu reads what we wrote into its image
	test-tool pattern 3 100000 | vhdtool write q.vhd 5000000
	run qemu-io -f vpc -c 'read -P 0x5a 0 64k' q.vhd
	assert_success
	refute_output --partial "verification failed"
	qemu-img convert -f vpc -O raw q.vhd q2.raw
	vhdtool cat q.vhd | cmp - q2.raw
	cmp <(tail -c +5000001 q2.raw | head -c 100000) <(test-tool pattern 3 100000)
}

@test "interop: libvhdi (vhdimount) reads our chains like we do" {
	requires vhdimount
	[ -e /dev/fuse ] || skip "no /dev/fuse: vhdimount cannot mount here"
	run_vhdtool 0 create -b 512K base.vhd 4M
	test-tool pattern 5 4194304 | vhdtool write base.vhd 0
	run_vhdtool 0 create -p base.vhd c1.avhd
	# whole 4 KiB runs: bitmap bytes fully set (libvhdi mis-reads partial bytes)
	test-tool pattern 6 1048576 | vhdtool write c1.avhd 524288
	run_vhdtool 0 create -p c1.avhd c2.avhd
	test-tool pattern 7 65536 | vhdtool write c2.avhd 1048576
	mkdir mnt
	vhdimount c2.avhd mnt >/dev/null
	ok=0
	vhdtool cat c2.avhd | cmp - mnt/vhdi3 && ok=1
	umount mnt
	[ "$ok" -eq 1 ]
}
