#!/usr/bin/env bats
# snapctl list: the table, --json (stable keys), -H rows, --tree with
# branches and "Now" under the current snapshot; failures.

load helpers

# ---- shared by the snapctl-*.bats suites (each file carries its own copy) ----
SNAP_RNG=/usr/share/libvirt/schemas/domainsnapshot.rng
DOMAIN_RNG=/usr/share/libvirt/schemas/domain.rng

# mkvm [VM]: a VM of the test guest (64 MiB, 1 vCPU, idle) with one 4 MiB
# disk $W/disks/VM.vhd (64 KiB blocks), and $W/VM.model, the bytes that disk
# holds (zeros so far). It stays stopped unless started.
mkvm() {
	local vm=${1:-v} k=$GUEST
	[ -e "$k" ] || { k=$W/vmlinuz; echo "a stopped VM never runs it" > "$k"; }
	mkdir -p "$W/disks"
	vhdtool create -b 64K "$W/disks/$vm.vhd" 4M >/dev/null
	truncate -s 4M "$W/$vm.model"
	vmctl create "$vm" --memory 64M --cpus 1 --kernel "$k" --cmdline "idle hz=100" \
		--disk "$W/disks/$vm.vhd" >/dev/null
}

# gput VM SEED LBA COUNT: the running guest writes COUNT sectors of the seeded
# stream at LBA (and flushes); the model follows
gput() {
	local p=$BATS_TEST_TMPDIR/put
	guest "$1" blk write "$2" "$3" "$4" >/dev/null
	guest "$1" blk flush >/dev/null
	test-tool pattern "$2" $(($4 * 512)) > "$p"
	dd if="$p" of="$W/$1.model" bs=64K oflag=seek_bytes seek=$(($3 * 512)) conv=notrunc status=none
}

# src [VM]: the layer "now" writes to (the file vm.xml names)
src() { vmctl dumpxml "${1:-v}" | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | head -n 1; }

# put SEED OFFSET LEN [VM]: write `test-tool pattern SEED LEN` at OFFSET into
# now (through vhdtool) and into the model
put() {
	local vm=${4:-v} p=$BATS_TEST_TMPDIR/put
	test-tool pattern "$1" "$3" > "$p"
	vhdtool write -i "$p" "$(src "$vm")" "$2"
	dd if="$p" of="$W/$vm.model" bs=64K oflag=seek_bytes seek="$2" conv=notrunc status=none
}

# holds FILE MODEL: the disk FILE, read through its chain, is exactly MODEL
holds() { cmp <(vhdtool cat "$1") "$2"; }

# chain FILE: base names of the layers of FILE's chain, top first
chain() { vhdtool info --chain --json "$1" | jq -r '.chain[].file' | xargs -n1 basename | paste -sd' ' -; }

# layers: the files in $W/disks, sorted
layers() { ls "$W/disks" | paste -sd' ' -; }

# uuid VM SNAP: a snapshot's UUID
uuid() { snapctl show --json "$1" "$2" | jq -r .uuid; }

# sound [VM]: every snapshot file validates against domainsnapshot.rng and
# vm.xml against domain.rng; the chains of now and of every frozen layer check
# clean; no journal is left
sound() {
	local vm=${1:-v} f rng
	requires xmllint jq
	[ -r "$SNAP_RNG" ] && [ -r "$DOMAIN_RNG" ] || skip "needs libvirt's schemas (make deps)"
	set -- "$VMCTL_ROOT/$vm"/snapshots/*.xml
	[ -e "$1" ] || set --
	for rng in "$SNAP_RNG" "$DOMAIN_RNG"; do
		[ "$rng" = "$DOMAIN_RNG" ] && set -- "$VMCTL_ROOT/$vm/vm.xml"
		[ $# -eq 0 ] || xmllint --noout --relaxng "$rng" "$@" 2>"$BATS_TEST_TMPDIR/xmllint" ||
			{ cat "$BATS_TEST_TMPDIR/xmllint" >&2; return 1; }
	done
	for f in $( (src "$vm"; sed -n 's/.*source file="\([^"]*\)".*/\1/p' \
		"$VMCTL_ROOT/$vm"/snapshots/*.xml 2>/dev/null) | sort -u); do
		vhdtool check --chain "$f" >/dev/null || { echo "check --chain $f failed" >&2; return 1; }
	done
	[ ! -e "$VMCTL_ROOT/$vm/journal" ] || { echo "journal left behind" >&2; return 1; }
}

# busy VM [SECS]: a background process holds VM's op.lock (for SECS seconds,
# default 60) with a holder line naming it, as a snapctl command would;
# $HOLDER is its pid
busy() {
	local lock=$VMCTL_ROOT/$1/op.lock ready=$BATS_TEST_TMPDIR/held.$RANDOM
	(
		exec 8>>"$lock"
		flock -x 8
		printf '%s 1 snapctl delete 2026-11-26T03:00:12Z\n' "$BASHPID" > "$lock"
		: > "$ready"
		exec sleep "${2:-60}"
	) 3>&- >/dev/null 2>&1 &
	HOLDER=$!
	while [ ! -e "$ready" ]; do sleep 0.02; done
}
BUSY_MSG() { echo "snapctl: VM '$1' is busy: pid $HOLDER (snapctl delete) since 2026-11-26T03:00:12Z"; }

# fingerprint: sha256 of every file in the VM folder (but op.lock, whose line
# names its holder) and in the disk folder
fingerprint() {
	(cd "$W" && find "$VMCTL_ROOT" disks -type f ! -name op.lock -print0 | sort -z | xargs -0 sha256sum)
}

teardown() {
	[ -z "${HOLDER-}" ] || kill "$HOLDER" 2>/dev/null || true
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	true
}
# ---- end of the shared part ----

# tree VM: `list --tree` without the creation times
tree() { snapctl list --tree "${1:-v}" | sed -E 's/ \((offline|online), [^)]*\)$/ (\1)/'; }

@test "list: a VM without snapshots" {
	mkvm
	run_tool 0 snapctl list --json v
	assert_equal "$(jq -c . <<<"$stdout")" '{"vm":"v","snapshots":[]}'
	run_tool 0 snapctl list -H v
	assert_output ""
	run_tool 0 snapctl list --tree v
	assert_output "Now"
	run_tool 0 snapctl list v
	refute_output --partial "offline"
}

@test "list --json: the stable keys and their values" {
	mkvm
	put 1 0 131072
	snapctl create -d first v S1
	u1=$(uuid v S1)
	put 2 0 65536
	snapctl create v S2
	u2=$(uuid v S2)
	run_tool 0 snapctl list --json v
	assert_equal "$(jq -c keys_unsorted <<<"$stdout")" '["vm","snapshots"]'
	assert_equal "$(jq -r .vm <<<"$stdout")" v
	assert_equal "$(jq -c '[.snapshots[] | keys_unsorted] | unique' <<<"$stdout")" \
		'[["name","uuid","parent","created","type","current","size_bytes","description"]]'
	s1=$(jq -c '.snapshots[] | select(.name == "S1")' <<<"$stdout")
	s2=$(jq -c '.snapshots[] | select(.name == "S2")' <<<"$stdout")
	assert_equal "$(jq -r '[.uuid, .parent, .type, .current, .description] | map(tostring) | join(" ")' <<<"$s1")" \
		"$u1 null offline false first"
	assert_equal "$(jq -r '[.uuid, .parent, .type, .current, .description] | map(tostring) | join(" ")' <<<"$s2")" \
		"$u2 S1 offline true null"
	# created: RFC 3339 UTC, now-ish
	created=$(jq -r .created <<<"$s1")
	[[ $created =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]
	[ $(($(date +%s) - $(date -d "$created" +%s))) -lt 60 ]
	# size_bytes: what the frozen layers take on disk (allocated bytes)
	assert_equal "$(jq -r .size_bytes <<<"$s1")" "$(($(stat -c '%b * %B' disks/v.vhd)))"
	assert_equal "$(jq -r .size_bytes <<<"$s2")" "$(($(stat -c '%b * %B' "disks/v_$u1.avhd")))"
	[ "$(jq -r .size_bytes <<<"$s1")" -ge 131072 ]
	# sorted by creation time
	assert_equal "$(jq -r '[.snapshots[].created] | (. == sort)' <<<"$stdout")" true
}

@test "list -H: one tab-separated row per snapshot, no header; the text table marks the current" {
	mkvm
	snapctl create -d "the first one" v S1
	snapctl create v S2
	u1=$(uuid v S1) u2=$(uuid v S2)
	run_tool 0 snapctl list -H v
	[ "${#lines[@]}" -eq 2 ]
	row1=$(grep "^S1	" <<<"$stdout")
	row2=$(grep "^S2	" <<<"$stdout")
	c1=$(snapctl show --json v S1 | jq -r .created) z1=$(snapctl show --json v S1 | jq -r .size_bytes)
	c2=$(snapctl show --json v S2 | jq -r .created) z2=$(snapctl show --json v S2 | jq -r .size_bytes)
	assert_equal "$row1" "S1	$u1	-	$c1	offline	false	$z1	the first one"
	assert_equal "$row2" "S2	$u2	S1	$c2	offline	true	$z2	-"
	run_tool 0 snapctl list v
	assert_line --regexp '^ *NAME +UUID +PARENT +CREATED +TYPE +CURRENT'
	assert_line --regexp "^ *S2 +$u2 +S1 .* offline +\* "
	assert_line --regexp "^ *S1 +$u1 +- .* offline +[0-9]"
}

@test "list --tree: branches after applying an older snapshot, Now under the current one" {
	mkvm
	snapctl create v S1
	snapctl create v S2
	run_tool 0 snapctl list --tree v
	[[ ${lines[0]} =~ ^S1\ \(offline,\ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)$ ]]
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '└─ S2 (offline)' '   └─ Now')"
	snapctl apply -y v S1
	snapctl create v S3
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '├─ S2 (offline)' '└─ S3 (offline)' \
		'   └─ Now')"
	snapctl apply -y v S2
	snapctl create v S4
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '├─ S2 (offline)' '│  └─ S4 (offline)' \
		'│     └─ Now' '└─ S3 (offline)')"
	# Now beside the current snapshot's children
	snapctl apply -y v S2
	assert_equal "$(tree)" "$(printf '%s\n' 'S1 (offline)' '├─ S2 (offline)' '│  ├─ S4 (offline)' \
		'│  └─ Now' '└─ S3 (offline)')"
	# a root with two children goes: two roots
	snapctl delete v S1
	assert_equal "$(tree)" "$(printf '%s\n' 'S2 (offline)' '├─ S4 (offline)' '└─ Now' 'S3 (offline)')"
	# --json and -H are not drawn
	assert_equal "$(snapctl list --tree --json v | jq -r '[.snapshots[].name] | sort | join(" ")')" "S2 S3 S4"
	assert_equal "$(snapctl list --tree -H v | wc -l)" 3
	snapctl delete v S2 S3 S4
	assert_equal "$(tree)" "Now"
	sound
}

@test "list: unknown VM 66, bad arguments 64, a damaged snapshot file 65; no lock needed" {
	mkvm
	snapctl create v S1
	run_tool 66 snapctl list nope
	assert_output "snapctl: no VM named 'nope' in '$VMCTL_ROOT'"
	run_tool 64 snapctl list 'bad name'
	run_tool 64 snapctl list
	run_tool 64 snapctl list v v
	run_tool 64 snapctl list --json -H v
	run_tool 64 snapctl list --wait v
	# readers take no lock
	busy v
	run_tool 0 snapctl list --json v
	run_tool 0 snapctl list --tree v
	kill "$HOLDER"
	# a snapshot file that does not parse is named
	u=$(uuid v S1)
	f=$VMCTL_ROOT/v/snapshots/$u.xml
	cp "$f" saved.xml
	printf '<domainsnapshot><name>S1</name><bogus/></domainsnapshot>\n' > "$f"
	run_tool 65 snapctl list v
	assert_output --partial "$f:1: unknown element <bogus>"
	echo "not xml" > "$f"
	run_tool 65 snapctl list --json v
	assert_output --partial "$f"
	cp saved.xml "$f"
	echo "not-a-uuid" > "$VMCTL_ROOT/v/current"
	run_tool 65 snapctl list v
	assert_output --partial "does not hold a snapshot UUID"
	echo "$u" > "$VMCTL_ROOT/v/current"
	run_tool 0 snapctl list v
}
