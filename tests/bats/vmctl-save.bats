#!/usr/bin/env bats
# vmctl save and resume: RAM, CPU, timer and device state survive a trip
# through <vm>/saved.vsv + saved.bin (and --from-state files).

load helpers

@test "save, then start resumes: RAM pattern, counters, ticks, disk, console, both vCPUs" {
	requires_kvm
	vhdtool create d.vhd 32M
	guest_vm g 2 "$W/d.vhd"
	guest_start g
	guest g fill 42 64 >/dev/null
	c0=$(guest_value g counter)
	a0=$(guest_value g cpu1)
	t0=$(guest_value g ticks)
	run_tool 0 vmctl save g
	assert_equal "$(vmctl status --json g | jq -r .state)" saved
	[ -f "$VMCTL_ROOT/g/saved.vsv" ] && [ -f "$VMCTL_ROOT/g/saved.bin" ]
	# RAM image: sparse (the 64 MiB pattern plus what the guest touched)
	[ "$(stat -c %s "$VMCTL_ROOT/g/saved.bin")" -eq 134217728 ]
	[ "$(du -k "$VMCTL_ROOT/g/saved.bin" | cut -f1)" -lt $((100 * 1024)) ]
	run_tool 0 vmctl start g
	assert_equal "$(guest g verify 42 64)" "ok"
	[ "$(guest_value g counter)" -ge "$c0" ]
	[ "$(guest_value g cpu1)" -ge "$a0" ]
	t1=$(guest_value g ticks)
	sleep 0.3
	[ "$(guest_value g ticks)" -gt "$t1" ] && [ "$t1" -ge "$t0" ]
	assert_equal "$(guest g ping)" "ok pong"
	guest g blk write 5 64 8 >/dev/null
	guest g blk flush >/dev/null
	[ ! -e "$VMCTL_ROOT/g/saved.vsv" ]   # a managed save is used up
	run_tool 0 vmctl stop --force g
	cmp <(vhdtool read d.vhd 32768 4096) <(test-tool pattern 5 4096)
}

@test "20 save/resume cycles in a row, through --from-state files" {
	requires_kvm
	guest_vm g 1
	guest_start g
	guest g fill 3 8 >/dev/null
	prev=0
	for i in $(seq 1 20); do
		c=$(guest_value g counter)
		[ "$c" -ge "$prev" ] || { echo "cycle $i: counter went back from $prev to $c"; false; }
		prev=$c
		vmctl save g
		mv "$VMCTL_ROOT/g/saved.vsv" "$W/s$i.vsv"
		mv "$VMCTL_ROOT/g/saved.bin" "$W/s$i.bin"
		vmctl start --from-state "$W/s$i.vsv" g
		rm -f "$W/s$i.vsv" "$W/s$i.bin"
	done
	assert_equal "$(guest g verify 3 8)" "ok"
	[ "$(guest_value g counter)" -ge "$prev" ]
	run_tool 0 vmctl stop --force g
}

@test "start --fresh boots anew and drops the managed save" {
	requires_kvm
	guest_vm g 1
	guest_start g
	run_tool 0 vmctl save g
	run_tool 0 vmctl start --fresh g
	wait_console g "vmsnap-guest 1 ready" 30
	[ ! -e "$VMCTL_ROOT/g/saved.vsv" ] && [ ! -e "$VMCTL_ROOT/g/saved.bin" ]
	assert_equal "$(guest g verify 1 1)" "err mismatch at 0x1000000" || true
	run_tool 0 vmctl stop --force g
}

# make_state: a saved state of VM g in $W/st.vsv + $W/st.bin
make_state() {
	guest_vm g 1
	guest_start g
	vmctl save g
	mv "$VMCTL_ROOT/g/saved.vsv" "$W/st.vsv"
	mv "$VMCTL_ROOT/g/saved.bin" "$W/st.bin"
}

@test "damaged state files are refused and left as they were" {
	requires_kvm
	make_state
	cp st.vsv flip.vsv; cp st.bin flip.bin
	size=$(stat -c %s flip.vsv)
	printf '\x5a' | dd of=flip.vsv bs=1 seek=$((size / 2)) conv=notrunc status=none
	before=$(sha flip.vsv)
	run_tool 65 vmctl start --from-state flip.vsv g
	assert_output --partial "CRC mismatch"
	[ "$(sha flip.vsv)" = "$before" ]
	cp st.vsv trunc.vsv; cp st.bin trunc.bin
	truncate -s 1M trunc.bin
	run_tool 65 vmctl start --from-state trunc.vsv g
	assert_output --partial "truncated or another VM's"
	cp st.vsv future.vsv; cp st.bin future.bin
	printf '\x02' | dd of=future.vsv bs=1 seek=8 conv=notrunc status=none
	run_tool 65 vmctl start --from-state future.vsv g
	assert_output --partial "state format version 2.0"
	assert_equal "$(vmctl status --json g | jq -r .state)" stopped
	# the state of another VM (another UUID) is not this VM's
	guest_vm h 1
	cp st.vsv other.vsv; cp st.bin other.bin
	run_tool 65 vmctl start --from-state other.vsv h
	assert_output --partial "is the state of another VM"
	# and of another configuration of the same VM (memory changed)
	vmctl set g --memory 256M
	run_tool 65 vmctl start --from-state st.vsv g
	vmctl set g --memory 128M
	run_tool 0 vmctl start --from-state st.vsv g
	assert_equal "$(guest g ping)" "ok pong"
	run_tool 0 vmctl stop --force g
}

@test "save of a stopped VM and of an unknown one" {
	requires_kvm
	guest_vm g 1
	run_tool 1 vmctl save g
	assert_output --partial "is not running"
	run_tool 66 vmctl save nope
	run_tool 66 vmctl start --from-state /nonexistent.vsv g
}

@test "kill -9 of the monitor at each step of a save: a complete saved state or none, never a broken one" {
	requires_kvm
	vhdtool create -q -b 64K d.vhd 16M
	guest_vm g 1 "$W/d.vhd"
	local point state saved
	for point in vmm-save-begin vmm-save-ram vmm-save-bin vmm-save-state; do
		rm -f "$VMCTL_ROOT/g/console.log"
		VMSNAP_CRASHPOINT=$point vmctl start g
		wait_console g "vmsnap-guest 1 ready" 30
		guest g fill 9 16 >/dev/null
		run vmctl save g
		[ "$status" -ne 0 ] || { echo "$point: save exited 0: $output"; false; }
		for _ in $(seq 50); do [ "$(vmctl status --json g | jq -r .state)" != running ] && break; sleep 0.1; done
		state=$(vmctl status --json g | jq -r .state)
		# the monitor died: crashed, whatever it had written (a saved state
		# does not hide a crash); the state file is written last, so only a
		# kill after it leaves a saved state, which start then resumes
		[ "$state" = crashed ] || { echo "$point: $state"; false; }
		saved=no
		[ -e "$VMCTL_ROOT/g/saved.vsv" ] && saved=yes
		case $point in
		vmm-save-state) [ $saved = yes ] || { echo "$point: no saved.vsv"; false; } ;;
		*) [ $saved = no ] || { echo "$point: a saved.vsv"; false; } ;;
		esac
		run_tool 0 vmctl start g                      # takes the lock: sweeps what the kill left
		run ls -A "$VMCTL_ROOT/g"
		refute_output --partial .saved.bin.tmp
		refute_output --partial saved.vsv
		refute_output --partial saved.bin
		if [ $saved = yes ]; then
			[ "$(guest g verify 9 16)" = ok ] || { echo "$point: RAM not resumed"; false; }
		else
			wait_console g "vmsnap-guest 1 ready" 30    # booted afresh
		fi
		run_tool 0 vmctl stop --force g
		vmctl wait --timeout 20 g
		run_tool 0 vhdtool check d.vhd
	done
}
