#!/usr/bin/env bats
# The random crash torture (tests/torture/run) in its short form, a self-test
# of its checks, and replays of the failures it found (known bugs: skipped
# unless VMSNAP_KNOWN_BUGS=1). The long form is for people:
#     tests/torture/run --trials 1000 [--seed S] [--next mix] [--keep-going]

load helpers

TORTURE=$BATS_TEST_DIRNAME/../torture/run

# known_bug WHY: the assertions after this line fail today (reported); run
# them with VMSNAP_KNOWN_BUGS=1
known_bug() {
	[ "${VMSNAP_KNOWN_BUGS:-}" = 1 ] || skip "known bug (issue 7 report): $1"
}

@test "torture: 30 (TORTURE_TRIALS) random operations killed with kill -9, reruns recover: 0 corrupt, 0 lost" {
	local n=${TORTURE_TRIALS:-30}
	# a fixed seed keeps make check repeatable (TORTURE_SEED=random for a new one)
	local seed=${TORTURE_SEED:-20261126}
	[ "$seed" = random ] && seed=$((RANDOM * 32768 + RANDOM))
	run "$TORTURE" --trials "$n" --seed "$seed" --dir "$BATS_TEST_TMPDIR/t"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$n trials, 0 corrupt, 0 lost" ]
	assert_output --regexp "killed [1-9][0-9]* times"
}

@test "torture: its checks see a write that is not in the model, and a broken layer" {
	run env TORTURE_SABOTAGE=lose "$TORTURE" --trials 3 --seed 1 --dir "$BATS_TEST_TMPDIR/a"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "2 trials, 0 corrupt, 1 lost" ]
	assert_output --partial "lost: now disk 0"
	run env TORTURE_SABOTAGE=corrupt "$TORTURE" --trials 3 --seed 1 --dir "$BATS_TEST_TMPDIR/b"
	[ "$status" -eq 1 ]
	[ "${lines[-1]}" = "2 trials, 1 corrupt, 0 lost" ]
	assert_output --partial "corrupt: the chain: check --chain"
	run "$TORTURE" --trials x
	[ "$status" -eq 64 ]
}

# ---- replays of what the torture found ----

now() { sed -n 's/.*source file="\([^"]*\)".*/\1/p' "$VMCTL_ROOT/$1/vm.xml" | head -n 1; }

@test "replay: delete keeps every layer another layer depends on (unreferenced middle layers too)" {
	vhdtool create -q -b 64K d0.vhd 4M
	echo stand-in > vmlinuz
	vmctl create -q v --memory 64M --kernel "$W/vmlinuz" --disk "$W/d0.vhd"
	snapctl create -q v A
	snapctl create -q v B
	printf data | vhdtool write "$(now v)" 0
	snapctl create -q v D
	snapctl apply -q -y v D
	snapctl create -q v E
	snapctl apply -q -y v D
	# D's frozen layer stays (two layers depend on it), referenced by no
	# snapshot and not by vm.xml: a middle layer only
	snapctl delete -q v D
	run_vhdtool 0 check --chain "$(now v)"
	cp -a "$W" "$BATS_TEST_TMPDIR/saved"
	run_tool 0 snapctl delete v A
	run vhdtool check --chain "$(now v)"
	local after_a=$status
	known_bug "snapctl delete counts and relinks only layers named by a snapshot or vm.xml: deleting A merges B's layer into d0.vhd and removes it, though D's kept middle layer still names it as parent; now and E no longer open (check exit 66, apply E exit 66). Deleting B instead removes B's layer ('nothing depends on it') with the same result"
	[ "$after_a" -eq 0 ]
	run_tool 0 snapctl apply -y v E
	[ "$(vhdtool read "$(now v)" 0 4)" = data ]
}

@test "replay: a delete killed in its merge, then another command: the snapshot keeps its data" {
	vhdtool create -q -b 64K d0.vhd 4M
	echo stand-in > vmlinuz
	vmctl create -q v --memory 64M --kernel "$W/vmlinuz" --disk "$W/d0.vhd"
	snapctl create -q v S1
	vhdtool cat d0.vhd > s1.model
	local o
	for o in 0 1048576 2097152 3145728; do
		test-tool pattern $((o + 1)) 65536 | vhdtool write "$(now v)" "$o"
	done
	run env VMSNAP_CRASHPOINT=merge-copy:2 snapctl delete v S1
	[ "$status" -eq 137 ]
	run_tool 0 snapctl create v S2                     # not the rerun: recovery, then create
	run_tool 0 snapctl list -H v
	assert_output --partial "S1"                       # the delete did not happen...
	run cmp <(vhdtool cat d0.vhd) s1.model
	local intact=$status
	known_bug "recovery of a 'delete' journal only removes unreferenced files and drops the journal: S1 stays listed while its frozen layer d0.vhd is already half merged with now's data (and .d0.vhd.merge stays); apply S1 then gives the wrong disk. The same happens when delete fails with ENOSPC (enospc.bats)"
	[ "$intact" -eq 0 ]                                # ...so S1 must be as it was
	[ ! -e .d0.vhd.merge ]
}

@test "replay: a merge killed after its copy, a write into the child, the rerun: the write stays" {
	vhdtool create -q -b 64K base.vhd 1M
	vhdtool create -q -p base.vhd c.avhd
	printf AAAA | vhdtool write c.avhd 0
	run env VMSNAP_CRASHPOINT=merge-copied vhdtool merge c.avhd
	[ "$status" -eq 137 ]
	run vhdtool write c.avhd 4096 < <(printf BBBB)     # the child is still there
	local wrote=$status
	run_vhdtool 0 merge c.avhd                         # the rerun finishes the merge
	[ "$(vhdtool read base.vhd 0 4)" = AAAA ]
	known_bug "vhdtool write accepts (exit 0) a write into a child whose merge journal (phase delete) says its data is already copied; the rerun then removes the child without copying again, and the acknowledged write is lost"
	[ "$wrote" -ne 0 ] || [ "$(vhdtool read base.vhd 4096 4)" = BBBB ]
}
