#!/usr/bin/env bash
# bench/merge.sh — `vhdtool merge` of a fully written 256 MiB child into its
# parent, against `dd conv=fsync` writing the same bytes on the same
# filesystem. Prints both times and the ratio (target: merge ≤ 1.3× dd).
# BENCH_DIR (default: a folder under /var/tmp), SIZE_MB (default 256), RUNS (3).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
VHDTOOL=${VHDTOOL:-$here/build/vhdtool}
SIZE_MB=${SIZE_MB:-256}
RUNS=${RUNS:-3}
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-merge.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
[ -x "$VHDTOOL" ] || (cd "$here" && make -s)

head -c $((SIZE_MB << 20)) /dev/urandom > data.raw
now() { date +%s.%N; }
best_merge=999999 best_dd=999999
for r in $(seq 1 "$RUNS"); do
	rm -f base.vhd child.avhd out.raw
	"$VHDTOOL" create base.vhd "${SIZE_MB}M"
	"$VHDTOOL" create -p base.vhd child.avhd
	"$VHDTOOL" write -i data.raw child.avhd 0
	sync
	t0=$(now); "$VHDTOOL" merge child.avhd >/dev/null; t1=$(now)
	m=$(echo "$t1 - $t0" | bc -l)
	"$VHDTOOL" cat base.vhd | cmp - data.raw
	t0=$(now); dd if=data.raw of=out.raw bs=4M conv=fsync status=none; t1=$(now)
	d=$(echo "$t1 - $t0" | bc -l)
	printf 'run %d: merge %.3f s, dd conv=fsync %.3f s\n' "$r" "$m" "$d"
	best_merge=$(echo "if ($m < $best_merge) $m else $best_merge" | bc -l)
	best_dd=$(echo "if ($d < $best_dd) $d else $best_dd" | bc -l)
done
printf 'merge %d MiB: best %.3f s; dd conv=fsync: best %.3f s; ratio merge/dd = %.2f (target <= 1.3)\n' \
	"$SIZE_MB" "$best_merge" "$best_dd" "$(echo "$best_merge / $best_dd" | bc -l)"
