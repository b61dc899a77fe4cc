#!/usr/bin/env bats
# vmctl status: state, pid, uptime, memory, vCPUs, disk chains, last log.

load helpers
load vmctl-helpers

@test "status --json: the keys of a stopped VM, and its disk chains" {
	vhdtool create base.vhd 4M
	vhdtool create --parent base.vhd mid.avhd
	vhdtool create --parent mid.avhd top.avhd
	vhdtool create data.vhd 1M
	mkvm web -m 1G -c 2 -d top.avhd -d data.vhd
	run_vmctl 0 status --json web
	assert_equal "$(jq -r 'keys_unsorted | join(",")' <<<"$stdout")" \
		"name,uuid,state,pid,uptime_s,started,memory_bytes,vcpus,disks"
	assert_equal "$(jq -c '[.name, .state, .pid, .uptime_s, .started, .memory_bytes, .vcpus]' <<<"$stdout")" \
		'["web","stopped",null,null,null,1073741824,2]'
	assert_equal "$(jq -r .uuid <<<"$stdout")" \
		"$(vmctl dumpxml web | sed -n 's|.*<uuid>\(.*\)</uuid>|\1|p')"
	assert_equal "$(jq -c '.disks[0]' <<<"$stdout")" \
		"{\"target\":\"vda\",\"file\":\"$W/top.avhd\",\"readonly\":false,\"chain\":[\"$W/top.avhd\",\"$W/mid.avhd\",\"$W/base.vhd\"],\"error\":null}"
	assert_equal "$(jq -c '.disks[1].chain' <<<"$stdout")" "[\"$W/data.vhd\"]"
}

@test "status: running and paused VMs show pid, uptime and start time" {
	mkvm web
	run_as_vmm web
	run_vmctl 0 status --json web
	assert_equal "$(jq -r .state <<<"$stdout")" running
	assert_equal "$(jq -r .pid <<<"$stdout")" $$
	up=$(jq -r .uptime_s <<<"$stdout")
	[ "$up" -ge 5 ] && [ "$up" -lt 60 ]
	assert_equal "$(jq -r .started <<<"$stdout")" \
		"$(date -u -d "@$(cat "$VMCTL_ROOT/web/run/started")" +%Y-%m-%dT%H:%M:%SZ)"
	run_vmctl 0 status web
	assert_line "state:   running"
	assert_line "pid:     $$"
	assert_line --regexp '^uptime: +[0-9]+s$'
	echo paused > "$VMCTL_ROOT/web/run/state"
	run_vmctl 0 status -H web
	assert_line $'state\tpaused'
	assert_line $'pid\t'$$
	# run.lock held but the VMM has not written run/ yet
	rm -r "$VMCTL_ROOT/web/run"
	run_vmctl 0 status --json web
	assert_equal "$(jq -c '[.state, .pid, .uptime_s]' <<<"$stdout")" '["running",null,null]'
	release
	run_vmctl 0 status --json web
	assert_equal "$(jq -r .state <<<"$stdout")" stopped
}

@test "status: crashed (run/ left, no lock) shows the last 10 lines of run/log" {
	mkvm web
	mkdir "$VMCTL_ROOT/web/run"
	echo 4711 > "$VMCTL_ROOT/web/run/pid"
	for i in $(seq 1 25); do echo "guest line $i"; done > "$VMCTL_ROOT/web/run/log"
	printf 'bad \001 byte \377\n' >> "$VMCTL_ROOT/web/run/log"
	run_vmctl 0 status --json web
	assert_equal "$(jq -c '[.state, .pid]' <<<"$stdout")" '["crashed",null]'
	assert_equal "$(jq -r '.last_log | length' <<<"$stdout")" 10
	assert_equal "$(jq -r '.last_log[0]' <<<"$stdout")" "guest line 17"
	assert_equal "$(jq -r '.last_log[9]' <<<"$stdout")" "bad ? byte ?"
	run_vmctl 0 status web
	assert_line "state:   crashed"
	assert_line "last log:"
	assert_line "  guest line 25"
	# no log at all
	rm "$VMCTL_ROOT/web/run/log"
	run_vmctl 0 status --json web
	assert_equal "$(jq -c .last_log <<<"$stdout")" "[]"
	# a saved state does not hide a crash; without run/ it is "saved"
	touch "$VMCTL_ROOT/web/saved.vsv"
	run_vmctl 0 status --json web
	assert_equal "$(jq -r .state <<<"$stdout")" crashed
	rm -r "$VMCTL_ROOT/web/run"
	run_vmctl 0 status --json web
	assert_equal "$(jq -r .state <<<"$stdout")" saved
	assert_equal "$(jq -r 'has("last_log")' <<<"$stdout")" false
}

@test "status: a missing disk or parent is reported, not fatal" {
	vhdtool create base.vhd 4M
	vhdtool create --parent base.vhd top.avhd
	vhdtool create gone.vhd 1M
	mkvm web -d top.avhd -d gone.vhd
	rm gone.vhd
	mv base.vhd moved.vhd
	run_vmctl 0 status --json web
	assert_equal "$(jq -c '.disks[0].chain' <<<"$stdout")" "[\"$W/top.avhd\"]"
	assert_equal "$(jq -r '.disks[0].error' <<<"$stdout")" \
		"parent '$W/base.vhd' of '$W/top.avhd' not found (tried '$W/base.vhd')"
	assert_equal "$(jq -c '.disks[1].chain' <<<"$stdout")" "[]"
	assert_equal "$(jq -r '.disks[1].error' <<<"$stdout")" \
		"cannot open '$W/gone.vhd': No such file or directory"
	run_vmctl 0 status web
	assert_line "    error:    cannot open '$W/gone.vhd': No such file or directory"
}

@test "status: unknown VM 66, broken vm.xml 65, usage 64" {
	run_vmctl 66 status web
	assert_output "vmctl: no VM named 'web' in '$VMCTL_ROOT'"
	mkvm web
	sed -i 's|<vcpu placement="static">1|<vcpu placement="static">0|' "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 65 status web
	assert_output "vmctl: $VMCTL_ROOT/web/vm.xml:6: vCPU count 0: at least 1 is needed"
	run_vmctl 64 status
	run_vmctl 64 status a b
	run_vmctl 64 status --json -H web
}
