#!/usr/bin/env bash
# bench/chain-read.sh — reads through an 8-deep differencing chain against a
# flat dynamic disk holding the same data: sequential (vhdtool cat) and 4 KiB
# random reads (test-tool randread, in one process). Prints the ratios
# flat/chain (target: chain >= 0.9x flat, i.e. ratio >= 0.9).
# BENCH_DIR (default under /var/tmp), SIZE_MB (256), DEPTH (8), RANDOM_READS (100000).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$here/build}
[ -x "$B/vhdtool" ] && [ -x "$B/test-tool" ] || (cd "$here" && make -s "$B/vhdtool" "$B/test-tool")
SIZE_MB=${SIZE_MB:-256} DEPTH=${DEPTH:-8} N=${RANDOM_READS:-100000}
dir=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-chain.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
V=$B/vhdtool
size=$((SIZE_MB << 20))
# layer k holds every DEPTH-th 1 MiB stripe, k-th offset: reads hit every depth
$V create flat.vhd "${SIZE_MB}M"
$V create l0.vhd "${SIZE_MB}M"
top=l0.vhd
for k in $(seq 0 $((DEPTH - 1))); do
	if [ "$k" -gt 0 ]; then $V create -p "$top" "l$k.avhd"; top=l$k.avhd; fi
	for ((mb = k; mb < SIZE_MB; mb += DEPTH)); do
		"$B/test-tool" pattern $((mb + 1)) 1048576 > stripe
		$V write -i stripe "$top" $((mb << 20))
		$V write -i stripe flat.vhd $((mb << 20))
	done
done
cmp <($V cat "$top") <($V cat flat.vhd)
now() { date +%s.%N; }
best() { # best of 5 wall times of "$@"
	local b=999999 t0 t1 t
	for _ in 1 2 3 4 5; do
		t0=$(now); "$@" > /dev/null; t1=$(now)
		t=$(echo "$t1 - $t0" | bc -l)
		b=$(echo "if ($t < $b) $t else $b" | bc -l)
	done
	echo "$b"
}
sf=$(best $V cat flat.vhd); sc=$(best $V cat "$top")
printf 'sequential %d MiB: flat %.3f s, %d-deep chain %.3f s, flat/chain = %.2f (target >= 0.9)\n' \
	"$SIZE_MB" "$sf" "$DEPTH" "$sc" "$(echo "$sf / $sc" | bc -l)"
rb() { local b=999999 t; for _ in 1 2 3 4 5; do t=$("$B/test-tool" randread "$1" 7 "$N" | cut -d' ' -f1); b=$(echo "if ($t < $b) $t else $b" | bc -l); done; echo "$b"; }
rf=$(rb flat.vhd); rc=$(rb "$top")
printf 'random 4 KiB x %d: flat %.3f s, %d-deep chain %.3f s, flat/chain = %.2f (target >= 0.9)\n' \
	"$N" "$rf" "$DEPTH" "$rc" "$(echo "$rf / $rc" | bc -l)"
