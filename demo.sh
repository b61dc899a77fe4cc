#!/usr/bin/env bash
# make demo: the whole suite in a minute, on the bundled test guest (a tiny
# kernel that answers commands on its serial port; tests/guest/README.md).
# Define a VM on a dynamic VHD, start it, take an offline and an online
# snapshot, write through the guest, apply, undo, draw the tree, and show
# the disk chain — every step printed. Runs in a temporary store.
set -eu
BUILD=${BUILD:-$(cd "$(dirname "$0")" && pwd)/build}
export PATH="$BUILD:$PATH"
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmsnap-demo.XXXXXX")
export VMCTL_ROOT=$dir/store
trap 'vmctl stop --force web >/dev/null 2>&1; vmctl --root "$dir/other" stop --force web >/dev/null 2>&1; rm -rf "$dir"' EXIT
cd "$dir"
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then b=$'\033[1m' n=$'\033[0m'; else b= n=; fi
say() {
	local shown="" a
	for a in "$@"; do
		case $a in *[[:space:]]*) shown+=" '$a'" ;; *) shown+=" $a" ;; esac
	done
	printf '\n%s$%s%s\n' "$b" "$shown" "$n"
	"$@"
}
note() { printf '\n# %s\n' "$*"; }
# guest CMD: one command on the guest's serial console, its answer
guest() { printf '%s\n' "$*" | vmctl console --until ok --timeout 60 web | grep -m1 '^ok'; }

note "a 64 MiB dynamic disk and a VM that boots the test guest"
say vhdtool create --type dynamic web.vhd 64M
say vmctl create web --memory 256M --cpus 2 --kernel "$BUILD/guest.elf" \
	--cmdline "idle hz=250" --disk "$dir/web.vhd"
say snapctl create -d "clean install" web S1
say vmctl start web
for _ in $(seq 200); do grep -q ready "$VMCTL_ROOT/web/console.log" && break; sleep 0.05; done
say vmctl console --log web
note "the guest writes pattern A to its disk and fills 16 MiB of RAM"
printf '$ guest: blk write 1 0 64  → '; guest blk write 1 0 64
printf '$ guest: fill 7 16        → '; guest fill 7 16
printf '$ guest: counter          → '; guest counter
note "an online snapshot: RAM and CPU state saved while the guest runs on"
say snapctl create -d "pattern A written" web S2
printf '$ guest: blk write 2 1000 64 (pattern B) → '; guest blk write 2 1000 64
say vmctl stop --force web
note "back to S1: the disk holds neither pattern"
say snapctl apply -y web S1
say snapctl list --tree web
note "back to S2: the guest resumes where it was, RAM and counter included"
say snapctl apply --save-current web S2
printf '$ guest: verify 7 16 → '; guest verify 7 16
printf '$ guest: counter     → '; guest counter
say vmctl status web
note "undo returns to the state saved before that apply"
say snapctl undo web
say snapctl list web
disk=$(vmctl dumpxml web | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | head -1)
say vhdtool map "$disk"
say vhdtool check --chain "$disk"
note "export the VM with its snapshots, import it into a second store through a pipe"
mkdir other
printf '\n%s$ snapctl export -o - web | snapctl --root other import --new-id -%s\n' "$b" "$n"
snapctl export -o - web | snapctl --root "$dir/other" import --new-id -
say snapctl --root "$dir/other" list --tree web
note "the imported online snapshot resumes there too"
say snapctl --root "$dir/other" apply -y web S2
printf '$ guest: verify 7 16 → '; printf 'verify 7 16\n' |
	vmctl --root "$dir/other" console --until ok --timeout 60 web | grep -m1 '^ok'
vmctl --root "$dir/other" stop --force web
echo; echo "demo done"
