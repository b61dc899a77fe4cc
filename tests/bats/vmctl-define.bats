#!/usr/bin/env bats
# vmctl define: a VM from a libvirt <domain> file; refusals name file:line.

load helpers
load vmctl-helpers

@test "define: stores a valid vm.xml (0600 in a 0700 folder) and lists the VM" {
	domain_xml web > web.xml
	run_vmctl 0 define web.xml
	assert_output ""
	valid_xml "$VMCTL_ROOT/web/vm.xml"
	[ "$(stat -c %a "$VMCTL_ROOT/web")" = 700 ]
	[ "$(stat -c %a "$VMCTL_ROOT/web/vm.xml")" = 600 ]
	[ "$(stat -c %a "$VMCTL_ROOT")" = 700 ]
	run_vmctl 0 list --all -H
	assert_output $'web\tstopped\t2\t268435456'
	# a UUID was given to it, and dumpxml shows what is stored
	run_vmctl 0 dumpxml web
	assert_output --regexp '<uuid>[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}</uuid>'
	cmp <(vmctl dumpxml web) "$VMCTL_ROOT/web/vm.xml"
	# no temporary files left in the VM folder
	[ "$(ls -A "$VMCTL_ROOT/web" | sort | paste -sd ' ')" = "op.lock vm.xml" ]
}

@test "define: keeps the UUID, description, disks and actions it is given" {
	vhdtool create d.vhd 1M
	domain_xml db "    <disk type='file' device='disk'>
      <driver name='vmctl' type='vpc'/>
      <source file='$W/d.vhd'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>" |
		sed "s|<name>db</name>|&<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid><description>db \\&amp; co</description>|; s|restart</on_reboot>|preserve</on_reboot>|" > db.xml
	run_vmctl 0 -v define db.xml
	assert_output --partial "defined VM 'db'"
	valid_xml "$VMCTL_ROOT/db/vm.xml"
	run_vmctl 0 status --json db
	assert_equal "$(jq -r .uuid <<<"$stdout")" 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
	assert_equal "$(jq -c '.disks[] | [.target, .file, .readonly]' <<<"$stdout")" \
		"[\"vdb\",\"$W/d.vhd\",true]"
	run_vmctl 0 dumpxml db
	assert_output --partial "<description>db &amp; co</description>"
	assert_output --partial "<on_reboot>preserve</on_reboot>"
	assert_output --partial "<readonly/>"
}

@test "define: reads standard input with '-', follows a symlinked FILE" {
	domain_xml a | vmctl define -
	valid_xml "$VMCTL_ROOT/a/vm.xml"
	domain_xml b > b.xml
	ln -s b.xml link.xml
	run_vmctl 0 define link.xml
	run_vmctl 0 list --all -H
	assert_equal "$(cut -f1 <<<"$stdout" | paste -sd ' ')" "a b"
}

@test "define: refuses an existing name or UUID with 73 and changes nothing" {
	domain_xml web | sed 's|<name>web</name>|&<uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>|' > web.xml
	run_vmctl 0 define web.xml
	before=$(sha "$VMCTL_ROOT/web/vm.xml")
	sed 's|<vcpu>2|<vcpu>4|' web.xml > web-again.xml
	run_vmctl 73 define web-again.xml
	assert_output "vmctl: VM 'web' already exists in '$VMCTL_ROOT'"
	sed 's|<name>web<|<name>web2<|' web.xml > web2.xml
	run_vmctl 73 define web2.xml
	assert_output "vmctl: UUID 4dea22b3-1d52-d8f3-2516-782e98ab3fa0 is already used by VM 'web'"
	[ "$(sha "$VMCTL_ROOT/web/vm.xml")" = "$before" ]
	[ ! -e "$VMCTL_ROOT/web2" ]
}

@test "define: bad XML exits 65 naming file:line, and stores nothing" {
	domain_xml bad "    <serial type='pty'/>
    <foo/>" > unknown.xml
	run_vmctl 65 define unknown.xml
	assert_output "vmctl: unknown.xml:14: unknown element <foo> in <devices>"
	domain_xml bad "    <disk type='file' device='disk'>
      <target dev='vda' bus='virtio'/>
    </disk>" > nosource.xml
	run_vmctl 65 define nosource.xml
	assert_output "vmctl: nosource.xml:13: <disk> has no <source file='...'/>"
	domain_xml bad "    <disk type='file' device='disk'>
      <source file='x.vhd'/>
    </disk>" > notarget.xml
	run_vmctl 65 define notarget.xml
	assert_output "vmctl: notarget.xml:13: <disk> has no <target dev='vdX'/>"
	domain_xml bad | sed "s|<memory unit='MiB'>256|<memory unit='MiB'>0|" > zero.xml
	run_vmctl 65 define zero.xml
	assert_output "vmctl: zero.xml:3: memory 0 is below the minimum of 16 MiB"
	domain_xml bad | sed "s|<memory unit='MiB'>256|<memory unit='TiB'>10|" > huge.xml
	run_vmctl 65 define huge.xml
	assert_output "vmctl: huge.xml:3: memory 10 TiB is above the maximum of 1 TiB"
	domain_xml bad | sed "s|<vcpu>2|<vcpu>65|" > cpus.xml
	run_vmctl 65 define cpus.xml
	assert_output "vmctl: cpus.xml:4: vCPU count 65 is above the maximum of 64"
	domain_xml bad | sed "s|<name>bad|<name>no/slash|" > name.xml
	run_vmctl 65 define name.xml
	assert_output --partial "name.xml:2: invalid name 'no/slash'"
	domain_xml bad | sed "/<kernel>/d" > nokernel.xml
	run_vmctl 65 define nokernel.xml
	assert_output "vmctl: nokernel.xml:5: <os> has no <kernel>"
	domain_xml bad | sed "s|<vcpu>|<vcpu cpuset='1'>|" > attr.xml
	run_vmctl 65 define attr.xml
	assert_output "vmctl: attr.xml:4: unknown attribute 'cpuset' on <vcpu>"
	domain_xml bad | sed '$d' > cut.xml
	run_vmctl 65 define cut.xml
	assert_output --partial "cut.xml:"
	assert_output --partial "not well-formed XML"
	printf '<domain type="kvm">' | vmctl define - 2>err || [ $? -eq 65 ]
	grep -q "<stdin>:1: not well-formed XML" err
	[ ! -e "$VMCTL_ROOT/bad" ]
	[ -z "$(ls -A "$VMCTL_ROOT" 2>/dev/null)" ]
}

@test "define: a DOCTYPE is refused before any entity is read (XXE, billion laughs)" {
	echo "secret-content-4711" > secret.txt
	{
		echo "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file://$W/secret.txt'>]>"
		domain_xml bad | sed 's|<name>bad</name>|<name>bad</name><description>\&x;</description>|'
	} > xxe.xml
	run_vmctl 65 define xxe.xml
	assert_output "vmctl: xxe.xml:1: DOCTYPE declarations are not allowed (no DTDs or entities in a VM definition)"
	refute_output --partial secret-content
	{
		echo '<!DOCTYPE lolz ['
		echo ' <!ENTITY l0 "lol">'
		for i in $(seq 1 12); do
			printf ' <!ENTITY l%d "%s">\n' "$i" "$(printf '&l%d;' $(yes $((i - 1)) | head -10))"
		done
		echo ']>'
		domain_xml bad | sed 's|<name>bad</name>|<name>bad</name><description>\&l12;</description>|'
	} > lol.xml
	start=$(date +%s%N)
	run_vmctl 65 define lol.xml
	assert_output --partial "lol.xml:1: DOCTYPE declarations are not allowed"
	[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ]
	[ ! -e "$VMCTL_ROOT/bad" ]
}

@test "define: a missing file exits 66, usage errors 64" {
	run_vmctl 66 define nope.xml
	assert_output "vmctl: cannot open 'nope.xml': No such file or directory"
	run_vmctl 64 define
	assert_output --partial "missing argument"
	domain_xml a > a.xml
	run_vmctl 64 define a.xml b.xml
	run_vmctl 64 define --wait=soon a.xml
	assert_output --partial "invalid number of seconds 'soon'"
	mkdir dir.xml
	run_vmctl 65 define dir.xml
	assert_output --partial "not a regular file"
	[ ! -e "$VMCTL_ROOT/a" ]
}

@test "define: --wait and --root" {
	domain_xml a > a.xml
	run_vmctl 0 define --wait a.xml
	run_vmctl 0 --root "$W/other" define --wait=3 a.xml
	valid_xml "$W/other/a/vm.xml" "$VMCTL_ROOT/a/vm.xml"
	VMCTL_ROOT=$W/third run_vmctl 0 define a.xml
	[ -f "$W/third/a/vm.xml" ]
}
