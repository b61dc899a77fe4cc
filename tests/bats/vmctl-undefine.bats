#!/usr/bin/env bats
# vmctl undefine: removes a stopped VM; refuses running, busy, snapshotted.

load helpers
load vmctl-helpers

@test "undefine: removes the VM folder, keeps its disks" {
	vhdtool create d.vhd 1M
	mkvm web -d d.vhd
	mkdir -p "$VMCTL_ROOT/web/run"   # left by a crashed VMM: not running
	echo log > "$VMCTL_ROOT/web/console.log"
	touch "$VMCTL_ROOT/web/saved.vsv" "$VMCTL_ROOT/web/saved.bin"
	run_vmctl 0 undefine web
	assert_output ""
	[ ! -e "$VMCTL_ROOT/web" ]
	[ -z "$(ls -A "$VMCTL_ROOT")" ]   # no hidden leftovers either
	[ -f d.vhd ]
	run_vmctl 66 status web
	# the name is free again
	mkvm web
	valid_xml "$VMCTL_ROOT/web/vm.xml"
}

@test "undefine --remove-disks: deletes the disks vm.xml names, not shared ones" {
	vhdtool create base.vhd 4M
	vhdtool create --parent base.vhd a.avhd
	vhdtool create --parent base.vhd b.avhd
	vhdtool create own.vhd 1M
	mkvm a -d a.avhd
	mkvm b -d b.avhd -d own.vhd -d base.vhd
	run_vmctl 0 -v undefine --remove-disks b
	assert_line "vmctl: warning: disk '$W/base.vhd' is kept: VM 'a' uses it"
	assert_line "vmctl: removed disk '$W/b.avhd'"
	assert_line "vmctl: removed disk '$W/own.vhd'"
	assert_line "vmctl: undefined VM 'b'"
	[ ! -e b.avhd ] && [ ! -e own.vhd ] && [ -f base.vhd ] && [ -f a.avhd ]
	# a disk that is already gone is a warning
	vhdtool create gone.vhd 1M
	mkvm c -d gone.vhd
	rm gone.vhd
	run_vmctl 0 undefine --remove-disks c
	assert_output "vmctl: warning: disk '$W/gone.vhd' was already gone"
	run_vmctl 0 list --all -H
	assert_output $'a\tstopped\t1\t536870912'
}

@test "undefine: refuses a running or paused VM with 75" {
	mkvm web
	run_as_vmm web
	run_vmctl 75 undefine web
	assert_output "vmctl: VM 'web' is running: stop it before undefining it"
	echo paused > "$VMCTL_ROOT/web/run/state"
	run_vmctl 75 undefine --remove-disks web
	assert_output "vmctl: VM 'web' is paused: stop it before undefining it"
	release
	run_vmctl 0 undefine web
}

@test "undefine: a held op.lock gives 75 naming the holder; --wait waits" {
	mkvm web
	busy web
	run_vmctl 75 undefine web
	assert_output "vmctl: VM 'web' $BUSY_MSG"
	run_vmctl 75 undefine --wait=1 web
	assert_output "vmctl: VM 'web' $BUSY_MSG (gave up after 1 s)"
	release
	[ -f "$VMCTL_ROOT/web/vm.xml" ]
	hold_for 1 "$VMCTL_ROOT/web/op.lock"
	run_vmctl 75 undefine web
	run_vmctl 0 undefine --wait web
	[ ! -e "$VMCTL_ROOT/web" ]
}

@test "undefine: refuses a VM with snapshots, or with an unreadable journal" {
	mkvm web
	mkdir "$VMCTL_ROOT/web/snapshots"
	touch "$VMCTL_ROOT/web/snapshots/6f1c9a4e-0000-4000-8000-000000000001.xml"
	run_vmctl 1 undefine web
	assert_output "vmctl: VM 'web' has 1 snapshot: delete it with snapctl first"
	rm "$VMCTL_ROOT/web/snapshots/"*
	echo garbage > "$VMCTL_ROOT/web/journal"
	run_vmctl 65 undefine web
	assert_output "vmctl: VM 'web': cannot finish an interrupted snapshot operation: '$VMCTL_ROOT/web/journal' is not a vmsnap journal"
	[ -f "$VMCTL_ROOT/web/vm.xml" ]
	rm "$VMCTL_ROOT/web/journal"
	run_vmctl 0 undefine web
}

@test "undefine: a symlink planted as op.lock is refused (77), never followed" {
	mkvm web
	rm "$VMCTL_ROOT/web/op.lock"
	ln -s "$W/victim" "$VMCTL_ROOT/web/op.lock"
	run_vmctl 77 undefine web
	assert_output "vmctl: '$VMCTL_ROOT/web/op.lock' is a symbolic link: refused"
	[ ! -e "$W/victim" ]
	[ -f "$VMCTL_ROOT/web/vm.xml" ]
}

@test "undefine: unknown VM 66, bad name or arguments 64" {
	run_vmctl 66 undefine nope
	assert_output "vmctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_vmctl 64 undefine ../etc
	assert_output --partial "invalid VM name '../etc'"
	run_vmctl 64 undefine
	run_vmctl 64 undefine a b
	run_vmctl 64 undefine --wait=-3 a
}
