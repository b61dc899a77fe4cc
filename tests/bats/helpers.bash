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
