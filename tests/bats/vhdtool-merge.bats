#!/usr/bin/env bats
# vhdtool merge: results against a raw-file model, dependents, dry run, and
# kill -9 at many points followed by a rerun.

load helpers

# scribble FILE RAW SEED COUNT: the same seeded writes into image and model
scribble() {
	local file=$1 raw=$2 seed=$3 count=$4 size off len s
	size=$(stat -c %s "$raw")
	while read -r off len s; do
		test-tool pattern "$s" "$len" > chunk
		vhdtool write "$file" "$off" < chunk
		dd if=chunk of="$raw" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
	done < <(test-tool scribble "$seed" "$count" 40000 "$size")
}

# base <- c1 <- c2 with seeded data; model.raw is c2's view, m1.raw c1's
mkchain() {
	vhdtool create -b 64K base.vhd 1M
	truncate -s 1M model.raw
	scribble base.vhd model.raw 1 15
	cp model.raw m0.raw
	vhdtool create -p base.vhd c1.avhd
	scribble c1.avhd model.raw 2 15
	cp model.raw m1.raw
	vhdtool create -p c1.avhd c2.avhd
	scribble c2.avhd model.raw 3 15
}

@test "merge a child into its parent: content kept, child removed, check clean" {
	mkchain
	run_vhdtool 0 merge c2.avhd
	assert_output --partial "merged 1 layer into 'c1.avhd'"
	[ ! -e c2.avhd ]
	vhdtool cat c1.avhd | cmp - model.raw
	vhdtool cat base.vhd | cmp - m0.raw
	run_vhdtool 0 check --chain c1.avhd
	[ -z "$(ls -A | grep '\.merge$')" ]
}

@test "merge --into an ancestor folds every layer between" {
	mkchain
	run_vhdtool 0 merge --into base.vhd --json c2.avhd
	assert_equal "$(jq -r '.sources | join(",")' <<<"$stdout")" "c2.avhd,c1.avhd"
	assert_equal "$(jq -r '.removed | length' <<<"$stdout")" 2
	[ ! -e c1.avhd ] && [ ! -e c2.avhd ]
	vhdtool cat base.vhd | cmp - model.raw
	run_vhdtool 0 check base.vhd
}

@test "merge --keep keeps the child, whose view is unchanged" {
	mkchain
	run_vhdtool 0 merge --keep c2.avhd
	[ -e c2.avhd ]
	vhdtool cat c2.avhd | cmp - model.raw
	vhdtool cat c1.avhd | cmp - model.raw
	run_vhdtool 0 check --chain c2.avhd
}

@test "merge into a fixed parent" {
	vhdtool create -t fixed f.vhd 1M
	truncate -s 1M model.raw
	scribble f.vhd model.raw 4 10
	vhdtool create -p f.vhd c.avhd
	scribble c.avhd model.raw 5 10
	run_vhdtool 0 merge c.avhd
	vhdtool cat f.vhd | cmp - model.raw
}

@test "merge --dry-run reports and changes nothing" {
	mkchain
	b=$(sha c1.avhd) c=$(sha c2.avhd)
	run_vhdtool 0 merge --dry-run --json c2.avhd
	assert_equal "$(jq -r .dry_run <<<"$stdout")" true
	[ "$(jq -r .bytes_to_write <<<"$stdout")" -gt 0 ]
	assert_equal "$(jq -r .bytes_freed <<<"$stdout")" "$(stat -c %s c2.avhd)"
	assert_equal "$(jq -r '.would_remove[0]' <<<"$stdout")" c2.avhd
	[ "$(sha c1.avhd)" = "$b" ] && [ "$(sha c2.avhd)" = "$c" ]
	[ -z "$(ls -A | grep '\.merge$')" ]
}

@test "merge refuses when another file depends on the target (1), --force merges" {
	mkchain
	vhdtool create -p c1.avhd sibling.avhd
	b=$(sha c1.avhd)
	run_vhdtool 1 merge c2.avhd
	assert_output --partial "'sibling.avhd' depends on 'c1.avhd', which the merge changes"
	[ "$(sha c1.avhd)" = "$b" ] && [ -e c2.avhd ]
	run_vhdtool 1 merge --dry-run c2.avhd
	run_vhdtool 0 merge --force c2.avhd
	vhdtool cat c1.avhd | cmp - model.raw
}

@test "merge refuses to remove a child others depend on, unless --keep" {
	mkchain
	vhdtool create -p c2.avhd grandchild.avhd
	run_vhdtool 1 merge c2.avhd
	assert_output --partial "which the merge removes"
	run_vhdtool 0 merge --keep c2.avhd
	vhdtool cat grandchild.avhd | cmp - model.raw
}

@test "merge: bad arguments and bad images" {
	mkchain
	run_vhdtool 1 merge base.vhd
	assert_output --partial "only a differencing disk merges"
	vhdtool create other.vhd 1M
	run_vhdtool 64 merge --into other.vhd c2.avhd
	assert_output --partial "is not an ancestor of"
	run_vhdtool 66 merge nope.avhd
	run_vhdtool 64 merge
	echo junk > junk.avhd
	run_vhdtool 65 merge junk.avhd
}

@test "merge of a child in use is busy (75)" {
	mkchain
	exec 9<>c2.avhd
	flock -x 9
	run_vhdtool 75 merge c2.avhd
	exec 9>&-
	[ -z "$(ls -A | grep '\.merge$')" ] || true
	run_vhdtool 0 merge c2.avhd
	vhdtool cat c1.avhd | cmp - model.raw
}

@test "kill -9 at 25 points of a merge, then rerun: content equals the model" {
	mkchain
	mkdir orig && cp base.vhd c1.avhd c2.avhd orig/
	points="merge-journal merge-synced merge-copied merge-remove:1 merge-remove:2"
	for n in $(seq 1 20); do points="$points merge-copy:$n"; done
	for p in $points; do
		cp orig/base.vhd orig/c1.avhd orig/c2.avhd .
		run env VMSNAP_CRASHPOINT=$p vhdtool merge --into base.vhd c2.avhd
		[ "$status" -eq 137 ] || { echo "$p: exit $status: $output"; false; }
		# until the rerun the chain still reads as before
		if [ -e c2.avhd ] && [ -e c1.avhd ]; then vhdtool cat c2.avhd | cmp - model.raw; fi
		run_vhdtool 0 merge --into base.vhd c2.avhd
		vhdtool cat base.vhd | cmp - model.raw || { echo "after $p"; false; }
		[ ! -e c1.avhd ] && [ ! -e c2.avhd ]
		run_vhdtool 0 check base.vhd
		[ -z "$(ls -A | grep '\.merge$')" ]
	done
}

@test "a pending merge of other layers blocks a new one (75)" {
	mkchain
	run env VMSNAP_CRASHPOINT=merge-journal vhdtool merge c2.avhd
	[ "$status" -eq 137 ]
	vhdtool create -p c1.avhd other.avhd
	run_vhdtool 75 merge --force other.avhd
	assert_output --partial "an unfinished merge of"
	run_vhdtool 0 merge --force c2.avhd
}

@test "a merge into a target in another folder, killed after the child is removed, finishes on rerun" {
	mkdir base sub
	vhdtool create -b 64K base/b.vhd 1M
	truncate -s 1M model.raw
	scribble base/b.vhd model.raw 6 10
	vhdtool create -p base/b.vhd sub/c.avhd
	scribble sub/c.avhd model.raw 7 10
	run env VMSNAP_CRASHPOINT=merge-remove:1 vhdtool merge sub/c.avhd
	[ "$status" -eq 137 ]
	[ ! -e sub/c.avhd ]
	run_vhdtool 0 merge sub/c.avhd
	assert_output --partial "finished an interrupted merge"
	[ -z "$(ls -A base sub | grep '\.merge')" ]
	vhdtool cat base/b.vhd | cmp - model.raw
	vhdtool create -p base/b.vhd sub/d.avhd
	run_vhdtool 0 merge sub/d.avhd                  # nothing pending any more
}
