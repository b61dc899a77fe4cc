#!/usr/bin/env bats
# Crash safety of VHD writes: the process is killed (SIGKILL) at each ordered
# step of a block allocation, of a bitmap update and of create; afterwards
# nothing acknowledged is lost, check finds no corruption, and the next
# writer recovers.

load helpers

# prepare: a chain whose acknowledged content is in model.raw
prepare() {
	vhdtool create -b 64K base.vhd 1M
	test-tool pattern 1 1048576 > model.raw
	vhdtool write base.vhd 0 < model.raw
	vhdtool create -p base.vhd c.avhd
	test-tool pattern 2 70000 > ack
	vhdtool write c.avhd 100000 < ack           # acknowledged
	dd if=ack of=model.raw bs=1 seek=100000 conv=notrunc status=none
}

# after_crash: no corruption, acknowledged data intact, writer recovers
after_crash() {
	run_vhdtool 0 cat -o now.raw c.avhd
	cmp <(head -c 100000 now.raw) <(head -c 100000 model.raw)
	cmp <(tail -c +100001 now.raw | head -c 70000) ack
	run vhdtool check c.avhd
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ]     # clean, or a leak only
	refute_output --partial "error:"
	printf 'after' | vhdtool write c.avhd 900000
	dd if=<(printf 'after') of=model.raw bs=1 seek=900000 conv=notrunc status=none
	run vhdtool check c.avhd
	[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
	refute_output --partial "error:"
}

@test "kill -9 at each step of a block allocation in a child" {
	for point in alloc-footer alloc-data alloc-bitmap alloc-bat; do
		rm -f base.vhd c.avhd
		prepare
		test-tool pattern 3 4096 > new
		run env VMSNAP_CRASHPOINT=$point vhdtool write -i new c.avhd 600064
		[ "$status" -eq 137 ] || { echo "$point: status $status"; false; }
		after_crash
		# an aligned write inside one block is wholly there or wholly absent
		got=$(vhdtool read c.avhd 600064 4096 | sha256sum | cut -c1-64)
		old=$(head -c 604160 model.raw | tail -c 4096 | sha256sum | cut -c1-64)
		[ "$got" = "$(sha new)" ] || [ "$got" = "$old" ]
		run_vhdtool 0 check c.avhd                 # the writer above reclaimed any leak
	done
}

@test "kill -9 between data and bitmap of an allocated block keeps the parent's data" {
	prepare
	test-tool pattern 4 512 > new
	# block 2 is allocated (the acknowledged write) but this sector is not
	run env VMSNAP_CRASHPOINT=bitmap-data vhdtool write -i new c.avhd 180224
	[ "$status" -eq 137 ]
	# the bitmap was never set: the sector still reads from the parent
	cmp <(vhdtool read c.avhd 180224 512) <(head -c 180736 model.raw | tail -c 512)
	after_crash
}

@test "kill -9 during a block allocation in a dynamic disk" {
	vhdtool create -b 64K d.vhd 1M
	printf 'first' | vhdtool write d.vhd 0
	for point in alloc-footer alloc-data alloc-bitmap alloc-bat; do
		run env VMSNAP_CRASHPOINT=$point vhdtool write -i <(printf 'second') d.vhd 500000
		[ "$status" -eq 137 ]
		[ "$(vhdtool read d.vhd 0 5)" = first ]
		run vhdtool check d.vhd
		[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
	done
	printf 'second' | vhdtool write d.vhd 500000
	[ "$(vhdtool read d.vhd 500000 6)" = second ]
	run_vhdtool 0 check d.vhd
}

@test "kill -9 during create leaves no file and no half-written image" {
	run env VMSNAP_CRASHPOINT=create-temp vhdtool create d.vhd 1M
	[ "$status" -eq 137 ]
	[ ! -e d.vhd ]
	run_vhdtool 0 create d.vhd 1M
	run_vhdtool 0 check d.vhd
}

@test "kill -9 at a random moment of a long write: acknowledged data survives" {
	vhdtool create -b 64K d.vhd 64M
	test-tool pattern 8 1048576 > ack
	vhdtool write d.vhd 0 < ack
	for trial in 1 2 3; do
		test-tool pattern $trial 33554432 > big
		vhdtool write -i big d.vhd 8388608 &
		pid=$!
		sleep 0.0$((RANDOM % 9 + 1))
		kill -9 $pid 2>/dev/null || true
		wait $pid || true
		cmp <(vhdtool read d.vhd 0 1048576) ack
		run vhdtool check d.vhd
		[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
		refute_output --partial "error:"
	done
}

@test "temporary files a killed create, convert or merge left are swept by the next one" {
	vhdtool create -q -b 64K base.vhd 1M
	printf data | vhdtool write base.vhd 0
	# create: its temporary is complete but never renamed
	run env VMSNAP_CRASHPOINT=create-temp vhdtool create -b 64K d.vhd 1M
	[ "$status" -eq 137 ]
	# convert: its own temporary and the one vhd_create made inside it
	run env VMSNAP_CRASHPOINT=create-temp vhdtool convert base.vhd out.vhd
	[ "$status" -eq 137 ]
	# merge: a journal replaced through a temporary
	vhdtool create -q -p base.vhd c.avhd
	printf more | vhdtool write c.avhd 65536
	run env VMSNAP_CRASHPOINT=atomic-write vhdtool merge c.avhd
	[ "$status" -eq 137 ]
	run ls -A
	assert_output --regexp '\.d\.vhd\.[A-Za-z0-9]{6}'
	assert_output --regexp '\.out\.vhd\.[A-Za-z0-9]{6}'
	# a writer still alive holds its temporary locked: never taken
	: > .out.vhd.LIVE01
	flock -o .out.vhd.LIVE01 sleep 20 &       # -o: flock itself holds it, not sleep
	local holder=$!
	# fresh leftovers are left alone for 2 s (a writer locks its file right
	# after making it); age them rather than wait
	touch -d '-1 min' .??*
	run_vhdtool 0 create -b 64K d.vhd 1M
	run_vhdtool 0 convert base.vhd out.vhd
	run_vhdtool 0 merge c.avhd                            # resumes, then replaces its journal
	run ls -A
	assert_output "$(printf '%s\n' .out.vhd.LIVE01 base.vhd d.vhd out.vhd)"
	kill "$holder"
	wait "$holder" || true
	run_vhdtool 0 convert --force base.vhd out.vhd
	run ls -A
	assert_output "$(printf '%s\n' base.vhd d.vhd out.vhd)"
	[ "$(vhdtool read base.vhd 65536 4)" = more ]
}
