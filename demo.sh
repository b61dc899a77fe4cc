#!/usr/bin/env bash
# make demo: the main job on an embedded default — a dynamic base disk, a
# differencing child (a snapshot layer, as Hyper-V's .avhd), writes through
# the chain, read back, inspect and check. Runs in a temporary folder.
set -eu
BUILD=${BUILD:-$(dirname "$0")/build}
export PATH="$BUILD:$PATH"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsnap-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then b=$'\033[1m' n=$'\033[0m'; else b= n=; fi
say() { printf '\n%s$ %s%s\n' "$b" "$*" "$n"; "$@"; }

say vhdtool create --type dynamic base.vhd 64M
printf 'written into the base disk\n' > a.txt
say vhdtool write -i a.txt base.vhd 0
say vhdtool create --parent base.vhd base_snap1.avhd
printf 'written after the snapshot \n' > b.txt
say vhdtool write -i b.txt base_snap1.avhd 1048576
echo; echo "# the child reads the base's data through the chain, and its own:"
say vhdtool read base_snap1.avhd 0 27
say vhdtool read base_snap1.avhd 1048576 28
echo "# the base (the frozen layer) did not change:"
say vhdtool read base.vhd 1048576 28 | od -c | head -2
say vhdtool info --chain base_snap1.avhd
say vhdtool check --chain base_snap1.avhd
if command -v qemu-img >/dev/null; then
	echo "# qemu-img sees the base disk's exact size:"
	say qemu-img info -f vpc base.vhd
fi
echo; echo "demo done (files were in $dir)"
