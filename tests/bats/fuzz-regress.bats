#!/usr/bin/env bats
# Fuzz regressions: every input a fuzzer once crashed on (tests/fixtures/fuzz/
# <target>/) and every seed (tests/fuzz/corpus/<target>/) runs through the
# target's code again, without libFuzzer, in this build (so under ASan/UBSan
# with SANITIZE=address,undefined). The targets are in tests/fuzz/.

load helpers

REPLAY=$BUILD/fuzz-replay
ROOT=$BATS_TEST_DIRNAME/../..

replay() { # TARGET: run the replay binary on its saved crashes and seeds
	local t=$1 dirs=()
	[ -x "$REPLAY/$t" ] || skip "$REPLAY/$t not built (make check builds it)"
	for d in "$ROOT/tests/fixtures/fuzz/$t" "$ROOT/tests/fuzz/corpus/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -gt 0 ] || skip "no inputs for $t"
	run_tool 0 "$REPLAY/$t" "${dirs[@]}"
	[[ $stdout == *replayed* ]]
}

@test "fuzz regressions: vhd_chain (VHD chains opened, read, checked, mapped)" {
	replay vhd_chain
}

@test "fuzz regressions: vmconfig (vm.xml parse/format round trip)" {
	replay vmconfig
}

@test "fuzz regressions: snapshot (<domainsnapshot> parse/format round trip)" {
	replay snapshot
}

@test "fuzz regressions: vsv (state files and the device state decoders)" {
	replay vsv
}

@test "fuzz regressions: virtio_blk (guest-driven queue against fake RAM)" {
	replay virtio_blk
}

@test "fuzz regressions: stream (export streams imported into a private store)" {
	replay stream
}

@test "fuzz regressions: kvm_state (vCPU state decoded from a .vsv, re-encoded)" {
	replay kvm_state
}
