#!/usr/bin/env bash
# build.sh OUTDIR — a Linux guest for vmctl from Debian packages (README.md):
#   OUTDIR/vmlinuz             the newest plain linux-image-*-amd64-unsigned kernel
#   OUTDIR/initramfs.cpio.gz   busybox-static, the virtio-blk modules, an /init that
#                              prints "vmsnap-linux ready" and starts sh on ttyS0
#   OUTDIR/debs/               the downloaded packages (reused when present)
# Idempotent: a second run with the same packages and script does nothing.
# Exit 0; 64 usage; 69 a tool or a package cannot be had (the message says which);
# 65 the kernel package lacks what the guest needs. vmlinuz is written before the
# initramfs, so the zero-page tests can use it even when cpio is missing.
set -euo pipefail

die() { local code=$1; shift; echo "build.sh: $*" >&2; exit "$code"; }
[ $# -eq 1 ] || die 64 "usage: build.sh OUTDIR"
mkdir -p "$1/debs" || die 73 "cannot create '$1/debs'"
out=$(cd "$1" && pwd)
debs=$out/debs

for t in apt-get apt-cache dpkg-deb tar; do
	command -v "$t" >/dev/null || die 69 "needs $t (a Debian system)"
done

# The plain amd64 flavour only (not -cloud-, -rt-): linux-image-6.1.0-47-amd64-unsigned.
KPAT='linux-image-[0-9][0-9.]*-[0-9]+-amd64-unsigned'
APT_OPTS=()
[ "$(id -u)" -ne 0 ] || APT_OPTS=(-o APT::Sandbox::User=root)  # no "_apt cannot access" noise

newest_deb() { # REGEX: the newest OUTDIR/debs/*.deb whose package name matches
	(cd "$debs" && ls -1) | grep -E "^($1)_.*_amd64\.deb\$" | sort -V | tail -n 1 || true
}

newest_kernel_pkg() {
	apt-cache search --names-only "^${KPAT}\$" 2>/dev/null | cut -d' ' -f1 |
		grep -E "^${KPAT}\$" | sort -V | tail -n 1 || true
}

apt_update() {
	echo "build.sh: apt-get update" >&2
	apt-get update -qq >&2
}

download() { # PKG: apt-get download into OUTDIR/debs (atomically), updating lists once on failure
	local tmp
	tmp=$(mktemp -d "$debs/.dl.XXXXXX")
	if ! (cd "$tmp" && apt-get download -q "${APT_OPTS[@]}" "$1" >&2); then
		if ! apt_update || ! (cd "$tmp" && apt-get download -q "${APT_OPTS[@]}" "$1" >&2); then
			rm -rf "$tmp"
			die 69 "cannot download $1 with apt-get (no network or no Debian mirror?)"
		fi
	fi
	mv "$tmp"/*.deb "$debs/"
	rmdir "$tmp"
}

# ---- the packages ----
kdeb=$(newest_deb "$KPAT")
if [ -z "$kdeb" ]; then
	kpkg=$(newest_kernel_pkg)
	if [ -z "$kpkg" ]; then
		apt_update || die 69 "apt-cache knows no $KPAT package and apt-get update failed"
		kpkg=$(newest_kernel_pkg)
	fi
	[ -n "$kpkg" ] || die 69 "apt-cache knows no package matching $KPAT"
	echo "build.sh: downloading $kpkg" >&2
	download "$kpkg"
	kdeb=$(newest_deb "$KPAT")
fi
bdeb=$(newest_deb busybox-static)
if [ -z "$bdeb" ]; then
	echo "build.sh: downloading busybox-static" >&2
	download busybox-static
	bdeb=$(newest_deb busybox-static)
fi
if [ -z "$kdeb" ] || [ -z "$bdeb" ]; then
	die 69 "downloads did not leave the .deb files in $debs"
fi

stamp="$kdeb $bdeb $(cksum < "$0" | cut -d' ' -f1)"
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ] &&
	[ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
	exit 0
fi
rm -f "$out/.stamp"

# ---- unpack: busybox whole; from the kernel (400 MB unpacked) only boot/ and the
# module folders the guest can need ----
x=$out/.unpack
rm -rf "$x" && mkdir -p "$x/kernel" "$x/busybox"
dpkg -x "$debs/$bdeb" "$x/busybox"
dpkg-deb --fsys-tarfile "$debs/$kdeb" | tar -x -C "$x/kernel" --wildcards \
	'./boot/vmlinuz-*' './boot/config-*' './lib/modules/*/modules.*' \
	'./lib/modules/*/kernel/drivers/virtio/*' './lib/modules/*/kernel/drivers/block/*'
vmlinuz=$(find "$x/kernel/boot" -name 'vmlinuz-*' -print -quit 2>/dev/null || true)
[ -n "$vmlinuz" ] || die 65 "$kdeb has no boot/vmlinuz-*"
kver=${vmlinuz##*/vmlinuz-}
moddir=$x/kernel/lib/modules/$kver
cp "$vmlinuz" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "build.sh: kernel $kver from $kdeb" >&2

for t in cpio gzip xz; do
	command -v "$t" >/dev/null || die 69 "needs $t for the initramfs (make deps installs it)"
done

# ---- initramfs tree ----
root=$x/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,lib/modules}
busybox=$x/busybox/bin/busybox
[ -x "$busybox" ] || die 65 "$bdeb has no bin/busybox"
cp "$busybox" "$root/bin/busybox"

# Modules in dependency order, from each module's own "depends=" (what depmod puts in
# modules.dep; Debian ships no modules.dep, postinst makes it). Decompressed at build
# time: busybox insmod may not read .ko.xz.
added=" "
find_mod() { # NAME: path of NAME.ko[.xz|.zst|.gz] (file names may use - for _)
	local n=$1 d=${1//_/-}
	find "$moddir" \( -name "$n.ko" -o -name "$n.ko.*" -o -name "$d.ko" -o -name "$d.ko.*" \) \
		-print -quit
}
builtin_mod() { grep -qE "/(${1}|${1//_/-})\.ko\$" "$moddir/modules.builtin" 2>/dev/null; }
add_mod() { # NAME [optional]: put NAME and what it depends on into the initramfs
	local n=$1 f ko deps d
	case "$added" in *" $n "*) return 0 ;; esac
	f=$(find_mod "$n")
	if [ -z "$f" ]; then
		builtin_mod "$n" && { added="$added$n "; return 0; }
		[ "${2:-}" = optional ] && return 0
		die 65 "module $n is neither in $kdeb's $moddir nor built in"
	fi
	ko=$root/lib/modules/$n.ko
	case "$f" in
	*.ko) cp "$f" "$ko" ;;
	*.ko.xz) xz -dc "$f" > "$ko" ;;
	*.ko.gz) gzip -dc "$f" > "$ko" ;;
	*.ko.zst) command -v zstd >/dev/null || die 69 "needs zstd for $f"; zstd -qdc "$f" > "$ko" ;;
	*) die 65 "unknown module file $f" ;;
	esac
	deps=$(tr '\0' '\n' < "$ko" | sed -n '/^depends=/{s///p;q}')
	for d in ${deps//,/ }; do
		add_mod "$d"
	done
	added="$added$n "
	echo "$n" >> "$root/etc/vmsnap-modules"
}
: > "$root/etc/vmsnap-modules"
add_mod virtio
add_mod virtio_ring
add_mod virtio_pci_modern_dev
add_mod virtio_pci_legacy_dev optional
add_mod virtio_pci
add_mod virtio_blk

cat > "$root/init" <<'EOF'
#!/bin/busybox sh
# /init of the vmsnap Linux test guest (tests/guest/linux/build.sh).
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
while read -r m; do
	insmod "/lib/modules/$m.ko" || echo "vmsnap-linux: insmod $m failed"
done < /etc/vmsnap-modules
# virtio-blk registers its disk while insmod probes; allow a moment for slow hosts
i=0
while [ $i -lt 20 ] && ! ls /sys/block/vd* >/dev/null 2>&1; do
	sleep 1
	i=$((i + 1))
done
for d in /sys/block/vd*; do
	[ -e "$d/size" ] && echo "vmsnap-linux disk ${d##*/} size $(cat "$d/size")"
done
echo "vmsnap-linux ready"
while :; do
	setsid cttyhack sh
	echo "vmsnap-linux: shell exited, starting another"
done
EOF
chmod 0755 "$root/init"

# A newc record made by hand: /dev/console must exist in the initramfs (the kernel opens
# it for init's stdio before /init runs) and mknod needs root; the kernel unpacks
# concatenated archives, so this small one follows cpio's.
newc() { # NAME MODE RDEVMAJOR RDEVMINOR
	local ns=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		0 "$2" 0 0 1 0 0 0 0 "$3" "$4" "$ns" 0 "$1"
	head -c $(((4 - (110 + ns) % 4) % 4)) /dev/zero
}
{
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
	newc dev/console $((0020600)) 5 1
	newc TRAILER!!! 0 0 0
} | gzip -9n > "$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
mods=$(tr "\n" " " < "$root/etc/vmsnap-modules")
rm -rf "$x"
echo "$stamp" > "$out/.stamp"
echo "build.sh: $out/vmlinuz ($(stat -c %s "$out/vmlinuz") bytes)," \
	"initramfs.cpio.gz ($(stat -c %s "$out/initramfs.cpio.gz") bytes), modules: $mods" >&2
