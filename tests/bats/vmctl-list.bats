#!/usr/bin/env bats
# vmctl list: running and paused VMs, every VM with --all; text, JSON, -H.

load helpers
load vmctl-helpers

# four VMs, one in each state but crashed: run (running), pau (paused),
# sav (saved), off (stopped)
four() {
	mkvm off
	mkvm sav -m 1G
	touch "$VMCTL_ROOT/sav/saved.vsv"
	mkvm pau -c 2
	mkvm run -c 4 -m 256M
	run_as_vmm run
	# a second holder for pau: a background flock on its run.lock
	mkdir -p "$VMCTL_ROOT/pau/run"
	echo paused > "$VMCTL_ROOT/pau/run/state"
	hold_for 30 "$VMCTL_ROOT/pau/run.lock"
}

@test "list: an empty store" {
	run_vmctl 0 list --json
	assert_equal "$(jq -c . <<<"$stdout")" '{"vms":[]}'
	run_vmctl 0 list -H
	assert_output ""
	run_vmctl 0 list --all
	assert_output --partial "(none)"
}

@test "list: only running and paused VMs by default, sorted by name" {
	four
	run_vmctl 0 list -H
	assert_output $'pau\tpaused\t2\t536870912\nrun\trunning\t4\t268435456'
	run_vmctl 0 list --json
	assert_equal "$(jq -c '.vms[]' <<<"$stdout" | paste -sd ' ')" \
		'{"name":"pau","state":"paused","vcpus":2,"memory_bytes":536870912} {"name":"run","state":"running","vcpus":4,"memory_bytes":268435456}'
}

@test "list --all: every VM and its state" {
	four
	mkvm dead
	mkdir "$VMCTL_ROOT/dead/run"
	run_vmctl 0 list --all -H
	assert_output "$(printf '%s\t%s\t%s\t%s\n' \
		dead crashed 1 536870912 \
		off stopped 1 536870912 \
		pau paused 2 536870912 \
		run running 4 268435456 \
		sav saved 1 1073741824)"
	run_vmctl 0 list -a --json
	assert_equal "$(jq -r '[.vms[] | keys_unsorted | join(",")] | unique | .[]' <<<"$stdout")" \
		"name,state,vcpus,memory_bytes"
	assert_equal "$(jq -r '[.vms[].state] | join(" ")' <<<"$stdout")" \
		"crashed stopped paused running saved"
	run_vmctl 0 list --all
	assert_line --index 1 --regexp '^  NAME +STATE +VCPUS +MEMORY$'
	assert_line --index 5 --regexp '^  run +running +4 +256 MiB$'
}

@test "list: a broken vm.xml is listed with nulls and a warning" {
	mkvm good
	mkvm bad
	echo '<domain' > "$VMCTL_ROOT/bad/vm.xml"
	run_vmctl 0 list --all --json
	assert_equal "$(jq -c '.vms[0]' <<<"$stdout")" \
		'{"name":"bad","state":"stopped","vcpus":null,"memory_bytes":null}'
	assert_equal "$(jq -r '.vms[1].name' <<<"$stdout")" good
	assert_output --partial "vmctl: warning: VM 'bad': $VMCTL_ROOT/bad/vm.xml:2: not well-formed XML"
	run_vmctl 0 -q list --all -H
	assert_output $'bad\tstopped\t-\t-\ngood\tstopped\t1\t536870912'
}

@test "list: folders that are not VMs are skipped" {
	mkvm web
	mkdir "$VMCTL_ROOT/empty" "$VMCTL_ROOT/.hidden"
	cp "$VMCTL_ROOT/web/vm.xml" "$VMCTL_ROOT/.hidden/"
	ln -s web "$VMCTL_ROOT/link"
	touch "$VMCTL_ROOT/file"
	run_vmctl 0 list --all -H
	assert_output $'web\tstopped\t1\t536870912'
}

@test "list: --root wins over \$VMCTL_ROOT; usage errors 64" {
	mkvm web
	run_vmctl 0 --root "$W/other" list --all -H
	assert_output ""
	run_vmctl 0 list --root "$W/other" --all -H
	assert_output ""
	[ -d "$W/other" ]
	run_vmctl 64 list extra
	run_vmctl 64 list --json -H
	run_vmctl 64 list --bogus
	echo x > notadir
	run_vmctl 64 --root "$W/notadir" list
	assert_output --partial "is not a folder"
}
