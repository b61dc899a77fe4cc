#!/usr/bin/env bats
# vmctl create: a VM from options; paths stored absolute; refusals.

load helpers
load vmctl-helpers

@test "create: defaults (512 MiB, 1 vCPU), valid XML, absolute kernel path" {
	kernel >/dev/null
	run_vmctl 0 create --kernel vmlinuz web
	assert_output ""
	valid_xml "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 0 status --json web
	assert_equal "$(jq -c '[.state, .memory_bytes, .vcpus, .pid, .disks]' <<<"$stdout")" \
		'["stopped",536870912,1,null,[]]'
	run_vmctl 0 dumpxml web
	assert_output --partial "<kernel>$W/vmlinuz</kernel>"
	assert_output --partial '<memory unit="MiB">512</memory>'
	assert_output --partial '<on_poweroff>destroy</on_poweroff>'
	assert_output --partial '<on_reboot>restart</on_reboot>'
	assert_output --partial '<serial type="pty"/>'
	refute_output --partial '<initrd>'
	refute_output --partial '<cmdline>'
	[ "$(stat -c %a "$VMCTL_ROOT/web/vm.xml")" = 600 ]
}

@test "create: every option, disks vda vdb in order, relative paths made absolute" {
	mkdir -p boot disks
	kernel >/dev/null
	mv vmlinuz boot/
	echo initrd > boot/initrd.img
	vhdtool create disks/base.vhd 4M
	vhdtool create --parent disks/base.vhd disks/top.avhd
	vhdtool create disks/data.vhd 1M
	cd boot
	run_vmctl 0 -v create --memory 1G --cpus 4 --kernel vmlinuz --initrd ./initrd.img \
		--cmdline 'console=ttyS0 root=/dev/vda1 quiet' \
		--disk ../disks/top.avhd -d ../disks/data.vhd db
	assert_output --partial "created VM 'db'"
	valid_xml "$VMCTL_ROOT/db/vm.xml"
	run_vmctl 0 dumpxml db
	assert_output --partial "<kernel>$W/boot/vmlinuz</kernel>"
	assert_output --partial "<initrd>$W/boot/initrd.img</initrd>"
	assert_output --partial "<cmdline>console=ttyS0 root=/dev/vda1 quiet</cmdline>"
	assert_output --partial '<vcpu placement="static">4</vcpu>'
	run_vmctl 0 status --json db
	assert_equal "$(jq -c '[.memory_bytes, .vcpus]' <<<"$stdout")" '[1073741824,4]'
	assert_equal "$(jq -r '.disks | map(.target + "=" + .file) | join(" ")' <<<"$stdout")" \
		"vda=$W/disks/top.avhd vdb=$W/disks/data.vhd"
	assert_equal "$(jq -r '.disks[0].chain | join(" ")' <<<"$stdout")" \
		"$W/disks/top.avhd $W/disks/base.vhd"
}

@test "create: a symlinked kernel stays a link (the folder is resolved, not the name)" {
	kernel >/dev/null
	ln -s vmlinuz vmlinuz.link
	run_vmctl 0 create -k vmlinuz.link web
	run_vmctl 0 dumpxml web
	assert_output --partial "<kernel>$W/vmlinuz.link</kernel>"
}

@test "create: a bare --wait before NAME is not taken as its value" {
	run_vmctl 0 create --kernel "$(kernel)" --wait web
	run_vmctl 0 create --kernel "$(kernel)" --wait=2 web2
	run_vmctl 0 list --all -H
	assert_equal "$(cut -f1 <<<"$stdout" | paste -sd ' ')" "web web2"
}

@test "create: refuses bad options with 64, 65, 66, 73 and stores nothing" {
	kernel >/dev/null
	vhdtool create d.vhd 1M
	echo raw > raw.img
	run_vmctl 64 create web
	assert_output --partial "--kernel is required"
	run_vmctl 66 create -k nope web
	assert_output "vmctl: cannot use kernel 'nope': No such file or directory"
	run_vmctl 64 create -k . web
	assert_output --partial "kernel '.' is not a regular file"
	run_vmctl 66 create -k vmlinuz --initrd nope web
	assert_output --partial "cannot use initrd 'nope'"
	run_vmctl 66 create -k vmlinuz -d nope.vhd web
	assert_output --partial "nope.vhd"
	run_vmctl 65 create -k vmlinuz -d raw.img web
	assert_output "vmctl: 'raw.img' is not a VHD image"
	run_vmctl 64 create -k vmlinuz -d d.vhd -d ./d.vhd web
	assert_output --partial "disk './d.vhd' is given twice"
	run_vmctl 64 create -k vmlinuz -m 0 web
	assert_output "vmctl: memory 0 is below the minimum of 16 MiB"
	run_vmctl 64 create -k vmlinuz -m 10T web
	assert_output "vmctl: memory 10 TiB is above the maximum of 1 TiB"
	run_vmctl 64 create -k vmlinuz -m lots web
	assert_output --partial "invalid size 'lots'"
	run_vmctl 64 create -k vmlinuz -c 0 web
	assert_output --partial "vCPU count 0"
	run_vmctl 64 create -k vmlinuz -c 65 web
	assert_output --partial "vCPU count 65 is above the maximum of 64"
	run_vmctl 64 create -k vmlinuz 'bad name'
	assert_output --partial "invalid VM name 'bad name'"
	run_vmctl 64 create -k vmlinuz .hidden
	run_vmctl 64 create -k vmlinuz --cmdline $'a\001b' web
	assert_output --partial "control character"
	run_vmctl 64 create -k vmlinuz
	run_vmctl 64 create -k vmlinuz a b
	run_vmctl 64 create -k vmlinuz --bogus web
	for i in $(seq 1 17); do vhdtool create "d$i.vhd" 1M; done
	run_vmctl 64 create -k vmlinuz $(for i in $(seq 1 17); do echo "-d d$i.vhd"; done) web
	assert_output "vmctl: too many disks: at most 16"
	[ -z "$(ls -A "$VMCTL_ROOT" 2>/dev/null)" ]
	run_vmctl 0 create -k vmlinuz $(for i in $(seq 1 16); do echo "-d d$i.vhd"; done) web
	valid_xml "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 0 status --json web
	assert_equal "$(jq -r '.disks[15].target' <<<"$stdout")" vdp
	before=$(sha "$VMCTL_ROOT/web/vm.xml")
	run_vmctl 73 create -k vmlinuz -m 1G web
	assert_output "vmctl: VM 'web' already exists in '$VMCTL_ROOT'"
	[ "$(sha "$VMCTL_ROOT/web/vm.xml")" = "$before" ]
}

@test "create: a folder without vm.xml (a crash before it was written) is reused" {
	mkdir -p "$VMCTL_ROOT/web"
	run_vmctl 0 create -k "$(kernel)" web
	valid_xml "$VMCTL_ROOT/web/vm.xml"
	# a symlink where the VM folder belongs is refused
	ln -s "$W" "$VMCTL_ROOT/evil"
	run_vmctl 73 create -k "$(kernel)" evil
	assert_output --partial "is not a folder (a symbolic link)"
	[ ! -e "$W/vm.xml" ]
}
