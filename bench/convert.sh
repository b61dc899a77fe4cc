#!/usr/bin/env bash
# bench/convert.sh — vhdtool convert against qemu-img convert, both directions,
# on a 1 GiB raw file whose first half is random and second half zeros
# (written zeros, allocated: BENCH_SPARSE=1 makes it a hole instead):
#   raw -> dynamic VHD:  vhdtool convert -O vhd   vs  qemu-img convert -f raw -O vpc
#   dynamic VHD -> raw:  vhdtool convert -O raw   vs  qemu-img convert -f vpc -O raw
# (the VHD input is made by qemu-img, so both read the same file). Prints the
# ratio ours/qemu of the mean wall times (issue target: <= 0.67).
#
# vhdtool's output is durable (fsync before the rename); qemu-img convert's
# default cache mode is "unsafe" (it never syncs), so a third column times
# qemu-img convert -t writeback, which syncs at the end as we do.
# Every timed run starts with no dirty data (hyperfine --prepare: rm + sync).
#
# Environment: BENCH_DIR (default: a temporary folder under /var/tmp; not a
# tmpfs if avoidable), RUNS (5), SIZE_MB (1024), BUILD (../build), BENCH_SPARSE.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$here/build}
[ -x "$B/vhdtool" ] || (cd "$here" && make -s "$B/vhdtool")
V=$B/vhdtool
for t in qemu-img hyperfine jq; do
	command -v "$t" >/dev/null || { echo "bench/convert.sh: needs $t (make deps)" >&2; exit 69; }
done
RUNS=${RUNS:-5} SIZE_MB=${SIZE_MB:-1024}
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-convert.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fs=$(stat -f -c %T .)
if [ "$fs" = tmpfs ]; then
	echo "warning: $dir is on tmpfs: fsync costs nothing there; set BENCH_DIR to a disk" >&2
fi
echo "# $dir on $fs ($(df -h --output=source . | tail -1)), $(nproc) CPUs, $("$V" --version), $(qemu-img --version | head -1)"

half=$((SIZE_MB / 2))
head -c $((half << 20)) /dev/urandom > in.raw
if [ "${BENCH_SPARSE:-}" ]; then
	truncate -s $((SIZE_MB << 20)) in.raw
else
	head -c $(((SIZE_MB - half) << 20)) /dev/zero >> in.raw
fi
qemu-img convert -f raw -O vpc in.raw in.vhd
# the outputs must be right before they are timed
"$V" convert -q in.raw ours.vhd
qemu-img compare -q -f raw -F vpc in.raw ours.vhd
"$V" check ours.vhd > /dev/null
"$V" convert -q -O raw in.vhd ours.raw
qemu-img convert -f vpc -O raw in.vhd qemu.raw
cmp ours.raw qemu.raw
rm -f ours.vhd ours.raw qemu.raw
sync

prep="rm -f $dir/out.vhd $dir/out.raw; sync"
bench() { # NAME OURS QEMU QEMU-SYNCED
	hyperfine -N --style basic --runs "$RUNS" --warmup 1 --prepare "sh -c '$prep'" \
		--export-json "$1.json" -n ours "$2" -n qemu "$3" -n qemu-writeback "$4" >&2
}
bench raw2vpc "$V convert -q -O vhd in.raw out.vhd" \
	"qemu-img convert -f raw -O vpc in.raw out.vhd" \
	"qemu-img convert -t writeback -f raw -O vpc in.raw out.vhd"
bench vpc2raw "$V convert -q -O raw in.vhd out.raw" \
	"qemu-img convert -f vpc -O raw in.vhd out.raw" \
	"qemu-img convert -t writeback -f vpc -O raw in.vhd out.raw"

echo
printf '%-22s %10s %10s %16s %12s %18s\n' direction ours_s qemu_s qemu_writeback_s ours/qemu ours/qemu_writeback
for n in raw2vpc vpc2raw; do
	m() { jq -r --arg c "$1" '.results[] | select(.command == $c) | .mean' "$n.json"; }
	o=$(m ours) q=$(m qemu) w=$(m qemu-writeback)
	printf '%-22s %10.3f %10.3f %16.3f %12.2f %18.2f\n' "$n (${SIZE_MB} MiB)" "$o" "$q" "$w" \
		"$(echo "$o / $q" | bc -l)" "$(echo "$o / $w" | bc -l)"
done
echo "(target ours/qemu <= 0.67; ours syncs its output, qemu-img's default does not)"
echo
printf '%-22s %12s %12s %22s\n' "cpu (user+sys)" ours_cpu_s qemu_cpu_s qemu_writeback_cpu_s
for n in raw2vpc vpc2raw; do
	c() { jq -r --arg c "$1" '.results[] | select(.command == $c) | .user + .system' "$n.json"; }
	printf '%-22s %12.3f %12.3f %22.3f\n' "$n" "$(c ours)" "$(c qemu)" "$(c qemu-writeback)"
done
