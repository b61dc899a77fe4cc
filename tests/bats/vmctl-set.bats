#!/usr/bin/env bats
# vmctl set: memory and vCPUs of a stopped VM.

load helpers
load vmctl-helpers

@test "set: changes memory and vCPUs; vm.xml stays valid" {
	mkvm web
	run_vmctl 0 set --memory 2G --cpus 4 web
	assert_output ""
	valid_xml "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 0 status --json web
	assert_equal "$(jq -c '[.memory_bytes, .vcpus]' <<<"$stdout")" '[2147483648,4]'
	run_vmctl 0 -v set -m 16M web
	assert_output "vmctl: VM 'web': memory 16 MiB, 4 vCPUs"
	run_vmctl 0 set -c 1 web
	run_vmctl 0 set -m 1T -c 64 web
	valid_xml "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 0 list --all -H
	assert_output $'web\tstopped\t64\t1099511627776'
	[ "$(stat -c %a "$VMCTL_ROOT/web/vm.xml")" = 600 ]
	# other settings are kept
	run_vmctl 0 dumpxml web
	assert_output --partial "<kernel>$W/vmlinuz</kernel>"
}

@test "set: bad values exit 64 and leave vm.xml alone" {
	mkvm web
	before=$(sha "$VMCTL_ROOT/web/vm.xml")
	run_vmctl 64 set web
	assert_output --partial "nothing to set"
	run_vmctl 64 set -m 0 web
	assert_output "vmctl: memory 0 is below the minimum of 16 MiB"
	run_vmctl 64 set -m 10T web
	assert_output "vmctl: memory 10 TiB is above the maximum of 1 TiB"
	run_vmctl 64 set -m 1000000000 web
	assert_output --partial "is not a multiple of 4 KiB"
	run_vmctl 64 set -c 0 web
	run_vmctl 64 set -c 65 web
	run_vmctl 64 set -c two web
	run_vmctl 64 set -m 1G
	run_vmctl 64 set -m 1G web extra
	[ "$(sha "$VMCTL_ROOT/web/vm.xml")" = "$before" ]
	run_vmctl 66 set -m 1G nope
}

@test "set: refuses a running or paused VM with 75" {
	mkvm web
	before=$(sha "$VMCTL_ROOT/web/vm.xml")
	run_as_vmm web
	run_vmctl 75 set --memory 1G web
	assert_output "vmctl: VM 'web' is running: memory and vCPUs change only while it is stopped"
	echo paused > "$VMCTL_ROOT/web/run/state"
	run_vmctl 75 set --cpus 2 web
	assert_output --partial "VM 'web' is paused"
	[ "$(sha "$VMCTL_ROOT/web/vm.xml")" = "$before" ]
	release
	rm -r "$VMCTL_ROOT/web/run"
	run_vmctl 0 set --cpus 2 web
}

@test "set: a held op.lock gives 75 with the holder; --wait waits for it" {
	mkvm web
	busy web
	run_vmctl 75 set -m 1G web
	assert_output "vmctl: VM 'web' $BUSY_MSG"
	release
	hold_for 1 "$VMCTL_ROOT/web/op.lock"
	run_vmctl 75 set -m 1G web
	assert_output --partial "VM 'web' is busy: pid "
	assert_output --partial "since "
	run_vmctl 0 set --wait -m 1G web
	hold_for 1 "$VMCTL_ROOT/web/op.lock"
	run_vmctl 0 set --wait=10 -c 3 web
	run_vmctl 0 list --all -H
	assert_output $'web\tstopped\t3\t1073741824'
}

@test "set --wait: waiters queue behind the holder and neither change is lost" {
	mkvm web
	hold_for 1 "$VMCTL_ROOT/web/op.lock"
	vmctl set --wait -m 64M web 3>&- &
	bg=$!
	run_vmctl 0 set --wait=10 -c 2 web
	wait "$bg"
	# each reloads vm.xml once it holds the lock
	run_vmctl 0 list --all -H
	assert_output $'web\tstopped\t2\t67108864'
	valid_xml "$VMCTL_ROOT/web/vm.xml"
}

@test "set: a VM with a saved state is refused" {
	mkvm web
	touch "$VMCTL_ROOT/web/saved.vsv"
	run_vmctl 1 set -m 1G web
	assert_output --partial "VM 'web' has a saved state"
}
