#!/usr/bin/env bats
# vmctl dumpxml: prints vm.xml; what it prints defines the same VM again.

load helpers
load vmctl-helpers

@test "dumpxml: prints the stored definition, valid against domain.rng" {
	vhdtool create d.vhd 1M
	mkvm web -m 64M -c 3 --cmdline 'console=ttyS0 a<b&c' -d d.vhd
	run_vmctl 0 dumpxml web
	printf '%s\n' "$stdout" > out.xml
	valid_xml out.xml
	cmp out.xml "$VMCTL_ROOT/web/vm.xml"
	assert_output --partial '<cmdline>console=ttyS0 a&lt;b&amp;c</cmdline>'
	assert_output --partial '<memory unit="MiB">64</memory>'
	assert_output --partial "<source file=\"$W/d.vhd\"/>"
}

@test "dumpxml: round trip through define under another name" {
	mkvm web -m 128M -c 2 --cmdline quiet
	vmctl dumpxml web | sed 's|<name>web<|<name>copy<|; /<uuid>/d' > copy.xml
	run_vmctl 0 define copy.xml
	diff <(vmctl dumpxml web | grep -v -e '<name>' -e '<uuid>') \
		<(vmctl dumpxml copy | grep -v -e '<name>' -e '<uuid>')
	[ "$(vmctl dumpxml web | grep '<uuid>')" != "$(vmctl dumpxml copy | grep '<uuid>')" ]
}

@test "dumpxml: a hand-edited vm.xml is shown normalized; a broken one is 65" {
	mkvm web
	f=$VMCTL_ROOT/web/vm.xml
	sed -i 's|<memory unit="MiB">512</memory>|<memory unit="GiB">1</memory>|; /currentMemory/d' "$f"
	run_vmctl 0 dumpxml web
	assert_output --partial '<memory unit="MiB">1024</memory>'
	assert_output --partial '<currentMemory unit="MiB">1024</currentMemory>'
	sed -i 's|<devices>|<devices><sound model="ich9"/>|' "$f"
	run_vmctl 65 dumpxml web
	assert_output "vmctl: $f:12: unknown element <sound> in <devices>"
}

@test "dumpxml: a symlinked vm.xml is refused (77)" {
	mkvm web
	mv "$VMCTL_ROOT/web/vm.xml" elsewhere.xml
	ln -s "$W/elsewhere.xml" "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 77 dumpxml web
	assert_output "vmctl: '$VMCTL_ROOT/web/vm.xml' is a symbolic link: refused"
}

@test "dumpxml: unknown VM 66, usage 64" {
	run_vmctl 66 dumpxml web
	assert_output "vmctl: no VM named 'web' in '$VMCTL_ROOT'"
	run_vmctl 64 dumpxml
	run_vmctl 64 dumpxml a b
	run_vmctl 64 dumpxml --json web
}

@test "dumpxml: a vm.xml whose name is not its folder's is refused (65)" {
	mkvm web
	sed -i 's|<name>web</name>|<name>other</name>|' "$VMCTL_ROOT/web/vm.xml"
	run_vmctl 65 dumpxml web
	assert_output "vmctl: $VMCTL_ROOT/web/vm.xml: the name is 'other' but the VM's folder is 'web'"
	run_vmctl 65 set -m 1G web
}
