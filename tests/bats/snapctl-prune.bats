#!/usr/bin/env bats
# snapctl prune: retention for cron. --keep-last N, --older-than DURATION,
# --match GLOB, --dry-run, VM or --all; never the current snapshot; deletes
# through snapops_delete (layers merge, every remaining state is kept).

load helpers
load snapctl-helpers

# mkvm, src, put, holds, uuid: snapctl-helpers.bash

# frozen VM SNAP: the layer a snapshot froze
frozen() { snapctl show --json "$1" "$2" | jq -r '.disks[0].file'; }

# age VM SNAP SECS: the snapshot was taken SECS seconds ago (its XML says so)
age() {
	sed -i "s|<creationTime>[0-9]*</creationTime>|<creationTime>$(($(date +%s) - $3))</creationTime>|" \
		"$VMCTL_ROOT/$1/snapshots/$(uuid "$1" "$2").xml"
}

# names [VM]: the snapshot names, oldest first
names() { snapctl list --json "${1:-v}" | jq -r '.snapshots | sort_by(.created) | .[].name' | paste -sd' ' -; }

# series VM AGE...: snapshots n1, n2, ... of VM, one per AGE (seconds ago, oldest
# first), each after a write of its own; $W/VM.nK is the disk as nK froze it
series() {
	local vm=$1 i=0 a
	shift
	for a in "$@"; do
		i=$((i + 1))
		put "$i" $((i * 65536)) 4096 "$vm"
		cp "$vm.model" "$vm.n$i"
		snapctl create "$vm" "n$i" >/dev/null
		age "$vm" "n$i" "$a"
	done
	put 99 0 512 "$vm"
}

# sound [VM]: every chain (now and each snapshot's) checks clean, each
# snapshot still holds its disk, now holds the model, no journal, no stray layer
sound() {
	local vm=${1:-v} s n
	vhdtool check --chain "$(src "$vm")" >/dev/null || return 1
	holds "$(src "$vm")" "$vm.model" || { echo "now lost its data" >&2; return 1; }
	for s in $(names "$vm"); do
		vhdtool check --chain "$(frozen "$vm" "$s")" >/dev/null || return 1
		holds "$(frozen "$vm" "$s")" "$vm.$s" || { echo "$s lost its data" >&2; return 1; }
	done
	[ ! -e "$VMCTL_ROOT/$vm/journal" ] || { echo "journal left" >&2; return 1; }
	# the layers left: one per snapshot and now (every merge removed one)
	n=$(ls "$W/disks" | grep -c "^$vm[._]")
	[ "$n" -eq $(($(snapctl list -H "$vm" | wc -l) + 1)) ] ||
		{ echo "$n layers for $(snapctl list -H "$vm" | wc -l) snapshots" >&2; ls "$W/disks" >&2; return 1; }
}

# busy VM: a background process holds VM's op.lock, as a snapctl command would
busy() {
	local lock=$VMCTL_ROOT/$1/op.lock ready=$BATS_TEST_TMPDIR/held.$RANDOM
	(
		exec 8>>"$lock"
		flock -x 8
		printf '%s 1 snapctl delete 2026-11-26T03:00:12Z\n' "$BASHPID" > "$lock"
		: > "$ready"
		exec sleep 60
	) 3>&- >/dev/null 2>&1 &
	HOLDER=$!
	while [ ! -e "$ready" ]; do sleep 0.02; done
}

# fingerprint: sha256 of every file in the store and the disk folder (but op.lock)
fingerprint() {
	(cd "$W" && find "$VMCTL_ROOT" disks -type f ! -name op.lock -print0 | sort -z | xargs -0 sha256sum)
}

teardown() {
	[ -z "${HOLDER-}" ] || kill "$HOLDER" 2>/dev/null || true
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	true
}
# ---- end of the shared part ----

D=86400

@test "prune --keep-last N: the N newest stay, the rest are deleted (layers merge, data kept)" {
	requires jq
	mkvm
	series v $((6 * D)) $((5 * D)) $((4 * D)) $((3 * D)) $((2 * D)) $((1 * D))
	assert_equal "$(snapctl current v | cut -f1)" n6
	sound
	for i in 1 2 3; do
		c[i]=$(snapctl show --json v "n$i" | jq -r .created)
	done
	run_tool 0 snapctl prune --keep-last 3 v
	assert_equal "$(sed '$d' <<<"$stdout")" "v: deleted 'n3' (${c[3]})
v: deleted 'n2' (${c[2]})
v: deleted 'n1' (${c[1]})"
	[[ ${lines[3]} =~ ^v:\ freed\ [0-9.]+\ (B|KiB|MiB)$ ]]
	assert_equal "$(names)" "n4 n5 n6"
	assert_equal "$(snapctl current v | cut -f1)" n6
	sound
	# again: nothing more to do
	run_tool 0 snapctl prune --keep-last 3 v
	assert_output ""
	run_tool 0 snapctl prune -k 1 v
	assert_equal "$(names)" n6
	sound
}

@test "prune --older-than DURATION: 2w, 7d, 1d12h, 12h, 30m; the current one even when older" {
	requires jq
	mkvm
	series v $((20 * D)) $((10 * D)) $((3 * D)) $((13 * 3600)) $((2 * 3600)) 600
	run_tool 0 snapctl prune --older-than 2w v
	assert_equal "$(names)" "n2 n3 n4 n5 n6"
	run_tool 0 snapctl prune --older-than 7d v
	assert_equal "$(names)" "n3 n4 n5 n6"
	run_tool 0 snapctl prune --older-than 1d12h v
	assert_equal "$(names)" "n4 n5 n6"
	run_tool 0 snapctl prune --older-than 12h v
	assert_equal "$(names)" "n5 n6"
	run_tool 0 snapctl prune --older-than 30m v
	assert_equal "$(names)" n6
	sound
	# the current snapshot stays whatever its age
	age v n6 $((100 * D))
	run_tool 0 snapctl prune --older-than 1s --keep-last 0 v
	assert_equal "$(names)" n6
	sound
	for bad in 7 7x d -1d 1.5d "" 1d-2h 99999999999999999999d; do
		run_tool 64 snapctl prune --older-than "$bad" v
		assert_output --partial "invalid duration '$bad' (use e.g. 30m, 12h, 7d, 2w, 1d12h)"
	done
}

@test "prune: --keep-last and --older-than together delete only what both let go" {
	requires jq
	mkvm
	series v $((9 * D)) $((8 * D)) $((7 * D)) $((2 * D)) $((1 * D))
	# older than 5 days: n1 n2 n3; of those, the newest 4 (n2..n5) are kept
	run_tool 0 snapctl prune --keep-last 4 --older-than 5d v
	assert_equal "$(names)" "n2 n3 n4 n5"
	run_tool 0 snapctl prune --keep-last 1 --older-than 5d v
	assert_equal "$(names)" "n4 n5"
	sound
}

@test "prune --match GLOB: only matching snapshots count and go" {
	requires jq
	mkvm
	i=0
	for n in nightly-1 weekly-1 nightly-2 nightly-3 weekly-2 manual nightly-4; do
		i=$((i + 1))
		put "$i" $((i * 65536)) 4096
		cp v.model "v.$n"
		snapctl create v "$n" >/dev/null
		age v "$n" $(((10 - i) * D))
	done
	run_tool 0 snapctl prune --match 'nightly-*' --keep-last 1 v
	assert_equal "$(names)" "weekly-1 weekly-2 manual nightly-4"
	run_tool 0 snapctl prune --match 'week*' --older-than 6d v
	assert_equal "$(names)" "weekly-2 manual nightly-4"
	run_tool 0 snapctl prune --match '[mn]*' --keep-last 0 v
	assert_equal "$(names)" "weekly-2 nightly-4"   # nightly-4 is current
	sound
}

@test "prune --dry-run: says what would go, changes nothing; --json keys" {
	requires jq
	mkvm
	series v $((3 * D)) $((2 * D)) $((1 * D))
	before=$(fingerprint)
	run_tool 0 snapctl prune --dry-run --keep-last 1 v
	assert_equal "$(sed -n 1,2p <<<"$stdout" | cut -d"'" -f1,2)" "v: would delete 'n2
v: would delete 'n1"
	[[ ${lines[-1]} =~ ^v:\ would\ free\ [0-9.]+\ (B|KiB|MiB)$ ]]
	assert_equal "$(fingerprint)" "$before"
	run_tool 0 snapctl prune -n --json --keep-last 1 v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["dry_run","vms","deleted","bytes_to_free"]'
	assert_equal "$(jq -c '.vms[0] | keys_unsorted' <<<"$stdout")" \
		'["vm","snapshots","deleted","bytes_to_free","error"]'
	assert_equal "$(jq -c '.vms[0].snapshots[0] | keys_unsorted' <<<"$stdout")" \
		'["name","uuid","created","action","reason"]'
	assert_equal "$(jq -r '[.dry_run, .deleted, .vms[0].vm, .vms[0].deleted, .vms[0].error] | map(tostring) | join(" ")' <<<"$stdout")" \
		"true 2 v 2 null"
	assert_equal "$(jq -r '.vms[0].snapshots[] | [.name, .action, (.reason // "-")] | join(":")' <<<"$stdout" | paste -sd' ' -)" \
		"n3:keep:current n2:delete:- n1:delete:-"
	assert_equal "$(jq -r '.vms[0].snapshots[0].uuid' <<<"$stdout")" "$(uuid v n3)"
	[ "$(jq -r .bytes_to_free <<<"$stdout")" -gt 0 ]
	assert_equal "$(fingerprint)" "$before"
	run_tool 0 snapctl prune --json --keep-last 1 v
	assert_equal "$(jq -r '[.dry_run, .deleted] | map(tostring) | join(" ")' <<<"$stdout")" "false 2"
	[ "$(jq -r .bytes_freed <<<"$stdout")" -gt 0 ]
	assert_equal "$(names)" n3
	# -v also says what stays and why
	run_tool 0 snapctl prune -v --keep-last 1 v
	assert_output --partial "snapctl: v: keep 'n3' ("
	assert_output --partial "): the current snapshot"
}

@test "prune never deletes the current snapshot (what now depends on), even the oldest with --keep-last 0" {
	requires jq
	mkvm
	series v $((5 * D)) $((4 * D)) $((3 * D)) $((2 * D))
	run_tool 0 snapctl apply -y v n1
	cp v.n1 v.model
	put 50 8192 4096
	run_tool 0 snapctl prune --json --keep-last 0 --older-than 1s v
	assert_equal "$(jq -r '.vms[0].snapshots[] | select(.name == "n1") | .reason' <<<"$stdout")" current
	assert_equal "$(names)" n1
	assert_equal "$(snapctl current v | cut -f1)" n1
	sound
	run_tool 0 snapctl apply -y v n1
	cp v.n1 v.model
	holds "$(src)" v.model
}

@test "prune --all: every VM; a busy one fails (75) and the others are pruned" {
	requires jq
	for vm in a b c; do
		mkvm $vm
		series $vm $((3 * D)) $((2 * D)) $((1 * D))
	done
	busy b
	before=$(find "$VMCTL_ROOT/b" -type f ! -name op.lock -print0 | sort -z | xargs -0 sha256sum)
	run_tool 75 snapctl prune --all --keep-last 1
	assert_output --partial "snapctl: VM 'b' is busy: pid $HOLDER (snapctl delete) since 2026-11-26T03:00:12Z"
	assert_equal "$(names a)" n3
	assert_equal "$(names b)" "n1 n2 n3"
	assert_equal "$(names c)" n3
	assert_equal "$(find "$VMCTL_ROOT/b" -type f ! -name op.lock -print0 | sort -z | xargs -0 sha256sum)" "$before"
	sound a
	sound c
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || true
	run_tool 0 snapctl prune --all --keep-last 1 --json
	assert_equal "$(jq -r '[.vms[] | .vm + ":" + (.deleted | tostring)] | join(" ")' <<<"$stdout")" "a:0 b:2 c:0"
	sound b
	# --wait waits for the holder
	busy a
	(sleep 0.5; kill "$HOLDER") &
	run_tool 0 snapctl prune --wait=10 --keep-last 1 a
}

@test "prune: a VM or --all (64), something to keep (64), bad N (64), unknown VM (66)" {
	mkvm
	series v $D
	run_tool 64 snapctl prune --keep-last 1
	assert_output --partial "give a VM or --all"
	run_tool 64 snapctl prune --all --keep-last 1 v
	assert_output --partial "give a VM or --all, not both"
	run_tool 64 snapctl prune v
	assert_output --partial "say what to keep: --keep-last N and/or --older-than DURATION"
	run_tool 64 snapctl prune --match '*' --dry-run v
	for n in -1 x 1.5 ""; do
		run_tool 64 snapctl prune --keep-last "$n" v
	done
	run_tool 64 snapctl prune --keep-last 1 v w
	run_tool 66 snapctl prune --keep-last 1 nope
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	assert_equal "$(names)" n1
}
