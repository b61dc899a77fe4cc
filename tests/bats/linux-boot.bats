#!/usr/bin/env bats
# Linux guest. (a) The zero page vmctl builds for Debian's real bzImage — setup
# header, e820, command line, initrd placement — checked through
# `test-tool zeropage` without running anything. (b) A boot of that kernel with
# tests/guest/linux's busybox initramfs to a shell with a virtio disk, on hosts
# with real VMX/SVM only; elsewhere it skips and says why (it never waits for a
# boot that cannot happen).
# The kernel and initramfs come from tests/guest/linux/build.sh into
# $BUILD/linux, built once and reused by later runs.

load helpers

LINUX=$BUILD/linux
MiB=$((1 << 20))
GiB=$((1 << 30))

setup_file() {
	mkdir -p "$LINUX"
	"$BATS_TEST_DIRNAME/../guest/linux/build.sh" "$LINUX" > "$LINUX/build.log" 2>&1 || true
}

teardown() {
	[ -z "${VM_STARTED:-}" ] || vmctl stop --force lx >/dev/null 2>&1 || true
}

# need KERNEL|INITRAMFS: skip with build.sh's last words when it could not make it
need() {
	local f=$LINUX/vmlinuz
	[ "$1" = initramfs ] && f=$LINUX/initramfs.cpio.gz
	[ -s "$f" ] || skip "no $1 in $LINUX: build.sh says: $(grep '^build.sh:' "$LINUX/build.log" | tail -n 1 | cut -c11-)"
}

# zeropage MEM INITRD_LEN [EXIT] [CMDLINE]: the zero page for the Debian kernel;
# its key=value lines are kept in $ZP, `val KEY` prints one value
zeropage() {
	run_tool "${3:-0}" test-tool zeropage "$LINUX/vmlinuz" "$1" "${4-console=ttyS0 panic=-1}" "$2"
	ZP=$stdout
}
val() { sed -n "s/^$1=//p" <<<"$ZP"; }

# e820_check MEM: the map a MEM-byte guest gets
e820_check() {
	local mem=$1 low=$1 ram=0 i a s t
	((low < 3 * GiB)) || low=$((3 * GiB))
	zeropage "$mem" 0
	assert_equal "$(val e820.0)" 0x0:0x9fc00:1                # base memory up to the MP table
	assert_equal "$(val e820.1)" 0x9fc00:0x400:2              # the MP table, reserved
	assert_equal "$(val e820.2)" 0xf0000:0x10000:2            # BIOS area, reserved
	assert_equal "$(val e820.3)" "$(printf '0x100000:0x%x:1' $((low - MiB)))"
	if ((mem > low)); then                                    # 3..4 GiB is the PCI hole
		assert_equal "$(val e820_entries)" 5
		assert_equal "$(val e820.4)" "$(printf '0x100000000:0x%x:1' $((mem - low)))"
	else
		assert_equal "$(val e820_entries)" 4
	fi
	for ((i = 0; i < $(val e820_entries); i++)); do
		IFS=: read -r a s t <<<"$(val "e820.$i")"
		((t != 1)) || ram=$((ram + s))
		((a + s <= 3 * GiB || a >= 4 * GiB)) || fail "e820.$i overlaps the PCI hole"
	done
	assert_equal "$ram" $((mem - 0x60400))                    # all RAM but 640K..1M
}

# initrd_check MEM LEN: placed page aligned, as high as it can, above the kernel's
# whole footprint (it runs at max(load address, pref_address) for init_size bytes),
# below initrd_addr_max and the end of low RAM
initrd_check() {
	local mem=$1 len=$2 img top lim kernel
	zeropage "$mem" "$len"
	img=$(val ramdisk_image) lim=$(val initrd_addr_max)
	top=$mem
	((top < 3 * GiB)) || top=$((3 * GiB))
	((lim + 1 >= top)) || top=$((lim + 1))
	kernel=$(($(val kernel_load) > $(val pref_address) ? $(val kernel_load) : $(val pref_address)))
	kernel=$((kernel + $(val init_size)))
	assert_equal "$(val ramdisk_size)" "$len"
	((img % 4096 == 0)) || fail "initrd at $img is not page aligned"
	((img >= kernel)) || fail "initrd at $img overlaps the kernel (ends at $kernel)"
	((img + len <= top)) || fail "initrd at $img+$len passes $top"
	((img + len + 4096 > top)) || fail "initrd at $img is not the highest page below $top"
}

@test "linux: Debian bzImage: boot protocol >= 2.12, 64-bit entry, setup header copied" {
	need kernel
	K=$LINUX/vmlinuz
	zeropage $((512 * MiB)) 0
	(($(val version) >= 0x20c)) || fail "boot protocol $(val version)"
	(($(val xloadflags) & 1)) || fail "no XLF_KERNEL_64 in xloadflags $(val xloadflags)"
	assert_equal "$(val header_copy)" ok
	# the values are the file's own, read back from the zero page
	run_tool 0 test-tool peek "$K" 0x206 2
	assert_equal "$(val version)" "0x${stdout:2:2}${stdout:0:2}"
	run_tool 0 test-tool peek "$K" 0x1f1 1
	assert_equal "$(val setup_sects)" $((0x$stdout))
	assert_equal "$(val setup_len)" $(((0x$stdout + 1) * 512))
	# what the loader sets: type_of_loader "undefined", LOADED_HIGH | CAN_USE_HEAP
	assert_equal "$(val type_of_loader)" 0xff
	((($(val loadflags) & 0x81) == 0x81)) || fail "loadflags $(val loadflags)"
	assert_equal "$(val heap_end_ptr)" 0xfe00
	(($(val initrd_addr_max) > 0))
	(($(val cmdline_size) >= 255))
	(($(val init_size) > 0))
}

@test "linux: e820 for 16 MiB, 512 MiB, 3 GiB (no RAM in the hole) and 5 GiB (RAM above 4 GiB)" {
	need kernel
	e820_check $((16 * MiB))
	e820_check $((512 * MiB))
	e820_check $((3 * GiB))
	e820_check $((5 * GiB))
}

@test "linux: command line pointer and size; one byte over cmdline_size is refused (64)" {
	need kernel
	zeropage $((512 * MiB)) 0 0 "console=ttyS0 root=/dev/vda1 panic=-1"
	assert_equal "$(val cmd_line_ptr)" 0x20000
	assert_equal "$(val cmdline_len)" 37
	size=$(val cmdline_size)
	long=$(printf '%*s' "$size" '' | tr ' ' x)
	zeropage $((512 * MiB)) 0 0 "$long"
	assert_equal "$(val cmdline_len)" "$size"
	zeropage $((512 * MiB)) 0 64 "${long}x"
	assert_output --partial "error=command line of $((size + 1)) bytes is too long"
	zeropage $((512 * MiB)) 0 0 ""
	assert_equal "$(val cmd_line_ptr)" 0x20000
	assert_equal "$(val cmdline_len)" 0
}

@test "linux: initrd placement for several memory and initrd sizes" {
	need kernel
	sizes="4096 $((1 * MiB)) $((20 * MiB + 123))"
	[ -s "$LINUX/initramfs.cpio.gz" ] && sizes="$sizes $(stat -c %s "$LINUX/initramfs.cpio.gz")"
	for mem in $((128 * MiB)) $((512 * MiB)) $((2 * GiB)) $((3 * GiB)) $((5 * GiB)); do
		for len in $sizes; do
			initrd_check "$mem" "$len"
		done
	done
	# big ones: up to initrd_addr_max (2 GiB) however much RAM there is
	initrd_check $((5 * GiB)) $((1 * GiB))
	initrd_check $((2 * GiB)) $((1 * GiB))
	zeropage $((5 * GiB)) 4096
	assert_equal "$(val initrd_limit)" "$(printf '0x%x' $(($(val initrd_addr_max) + 1)))"
	# no initrd: nothing in the zero page
	zeropage $((512 * MiB)) 0
	assert_equal "$(val ramdisk_image)" 0x0
	assert_equal "$(val ramdisk_size)" 0
}

@test "linux: an initrd too large for the RAM above the kernel gets no address (vmctl exits 64)" {
	need kernel
	zeropage $((512 * MiB)) $((480 * MiB)) 64
	assert_equal "$(val ramdisk_image)" 0x0
	assert_output --partial "error=initrd of $((480 * MiB)) bytes does not fit"
	zeropage $((5 * GiB)) $((2 * GiB)) 64                   # above initrd_addr_max
	assert_equal "$(val ramdisk_image)" 0x0
	zeropage $((512 * MiB)) $((600 * MiB)) 64               # more than the RAM
	assert_equal "$(val ramdisk_image)" 0x0
}

@test "linux: small guest: the initrd stays clear of the kernel's decompression buffer" {
	# startup_64 of a relocatable kernel loaded at 1 MiB runs from
	# max(align_up(1 MiB, kernel_alignment), LOAD_PHYSICAL_ADDR = pref_address) for
	# init_size bytes and copies itself to the top of that range first, so an initrd
	# must not start below pref_address + init_size (16 MiB + ~64 MiB for Debian's).
	need kernel
	# 96 MiB: the kernel needs up to ~80 MiB, 20 MiB more do not fit: refused
	zeropage $((96 * MiB)) $((20 * MiB)) 64
	assert_equal "$(val ramdisk_image)" 0x0
	# 128 MiB: placed above the decompression buffer
	zeropage $((128 * MiB)) $((20 * MiB))
	img=$(($(val ramdisk_image))) need=$(($(val pref_address) + $(val init_size)))
	((img >= need)) || { echo "initrd at $(val ramdisk_image), below $(printf 0x%x $need)"; false; }
}

# linux_host_or_skip: only a host with hardware virtualization boots stock Linux usefully
linux_host_or_skip() {
	if [ -d /sys/module/kvm_pvm ]; then
		skip "host hypervisor is kvm_pvm (nested, emulates guest ring 0): stock Linux does not boot in useful time here — see shared/notes/KVM-HOST.md"
	fi
	[ -e /dev/kvm ] || skip "no /dev/kvm on this host: KVM is not loaded or not available"
	grep -qwE 'vmx|svm' /proc/cpuinfo ||
		skip "no vmx/svm flag in /proc/cpuinfo and no kvm_pvm: no hardware virtualization for KVM here"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not readable and writable by $(id -un)"
}

@test "linux: Debian kernel + busybox initramfs reach a shell with the virtio disk (real KVM only)" {
	linux_host_or_skip
	need kernel
	need initramfs
	[ -x "$BUILD/vmctl" ] || skip "vmctl is not built in $BUILD"
	run_vhdtool 0 create "$W/d.vhd" 64M
	run_tool 0 vmctl create lx --memory 512M --cpus 1 --kernel "$LINUX/vmlinuz" \
		--initrd "$LINUX/initramfs.cpio.gz" --cmdline "console=ttyS0 panic=-1" --disk "$W/d.vhd"
	run_tool 0 vmctl start lx
	VM_STARTED=1
	# a console sees output from when it connects; console.log has all of it
	run_tool 0 vmctl console --until 'vmsnap-linux ready' --timeout 120 lx ||
		fail "no 'vmsnap-linux ready'; console.log ends with: $(vmctl console --log lx | tail -n 40)"
	run_tool 0 vmctl console --log lx
	assert_output --partial 'vmsnap-linux disk vda size 131072'          # 64 MiB in sectors
	# the shell answers on ttyS0; $((6*7)) keeps the echoed command from matching
	run_tool 0 vmctl console --until 'vmsnap-42' --timeout 60 lx \
		<<<'cat /sys/block/vda/size; echo vmsnap-$((6*7))'
	grep -q '^131072' <<<"$stdout" || fail "no '131072' line from the shell: $stdout"
	run_tool 0 vmctl stop --force lx
	VM_STARTED=
}
