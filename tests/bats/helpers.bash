# helpers.bash — shared set-up for every bats suite.
#
# Each test gets a private work folder ($W) and VM store ($VMCTL_ROOT), the
# binaries under test from $BUILD, and wrappers that run a tool and assert
# its exit code:   run_vhdtool 65 info bad.vhd
# After the call, $status, $output (stdout+stderr) and $stdout are set.

bats_load_library bats-support
bats_load_library bats-assert

BUILD=${BUILD:-$BATS_TEST_DIRNAME/../../build}
FIXTURES=$BATS_TEST_DIRNAME/../fixtures

setup() {
	W=$BATS_TEST_TMPDIR/w
	mkdir -p "$W"
	cd "$W" || return 1
	export VMCTL_ROOT=$BATS_TEST_TMPDIR/root
	export PATH="$BUILD:$PATH"
	unset NO_COLOR
}

# run_tool EXPECTED TOOL ARGS...: run, keep stdout apart, assert the exit code
run_tool() {
	local expected=$1
	shift
	local errf=$BATS_TEST_TMPDIR/stderr
	stdout=$("$@" 2>"$errf") && status=0 || status=$?
	stderr=$(cat "$errf")
	output="$stdout${stdout:+${stderr:+$'\n'}}$stderr"
	mapfile -t lines <<<"$output"
	if [ "$status" -ne "$expected" ]; then
		printf 'expected exit %s, got %s from: %s\n--- stdout\n%s\n--- stderr\n%s\n' \
			"$expected" "$status" "$*" "$stdout" "$stderr" >&2
		return 1
	fi
}
run_vhdtool() { local e=$1; shift; run_tool "$e" vhdtool "$@"; }

# fixture NAME: unpack tests/fixtures/vhd/NAME.gz into $W, print its path
fixture() {
	gunzip -c "$FIXTURES/vhd/$1.gz" > "$W/$1" && echo "$W/$1"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# requires CMD...: skip (saying why) when a peer tool is missing
requires() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "needs $c (make deps installs it)"
	done
}

# ---- the test guest (tests/guest/README.md) ----
GUEST=$BUILD/guest.elf

# requires_kvm: skip, saying why, when this host cannot run VMs
requires_kvm() {
	[ -e /dev/kvm ] || skip "no /dev/kvm on this host"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not accessible to $(id -un)"
	[ -x "$GUEST" ] || skip "test guest not built ($GUEST)"
}

# guest_vm NAME [VCPUS] [DISK...]: define a VM that boots the test guest
guest_vm() {
	local name=$1 cpus=${2:-1} args=()
	shift 2 || shift $#
	for d in "$@"; do args+=(--disk "$d"); done
	vmctl create "$name" --memory 128M --cpus "$cpus" --kernel "$GUEST" \
		--cmdline "idle hz=250" "${args[@]}"
}

# wait_console VM TEXT [SECS]: wait until the guest has printed TEXT
wait_console() {
	local vm=$1 text=$2 secs=${3:-30} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -qF -- "$text" "$VMCTL_ROOT/$vm/console.log" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "'$text' did not appear on $vm's console within ${secs}s; console:" >&2
	tail -5 "$VMCTL_ROOT/$vm/console.log" >&2
	return 1
}

# guest VM COMMAND...: send one command, print the guest's "ok ..." line
guest() {
	local vm=$1
	shift
	local out
	out=$(printf '%s\n' "$*" | vmctl console --until "ok" --timeout 60 "$vm") || {
		echo "guest command '$*' on $vm failed: $out" >&2
		return 1
	}
	printf '%s\n' "$out" | grep -m1 '^ok' | tr -d '\r'
}

# guest_value VM COMMAND...: the value after "ok "
guest_value() { guest "$@" | sed 's/^ok //'; }

# guest_start VM: start and wait for the banner
guest_start() {
	vmctl start "$1"
	wait_console "$1" "vmsnap-guest 1 ready" 30
}

# stop every VM this test started (teardown)
stop_all_vms() {
	local d
	for d in "$VMCTL_ROOT"/*/; do
		[ -f "$d/vm.xml" ] || continue
		vmctl stop --force "$(basename "$d")" >/dev/null 2>&1 || true
	done
}

teardown() {
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	true
}
