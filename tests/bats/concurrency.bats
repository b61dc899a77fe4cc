#!/usr/bin/env bats
# Concurrency: 8 mutators (snapctl create/delete, vmctl set, vmctl start)
# released at the same instant on one VM and across two VMs. Without --wait
# each exits 0 or 75, and a 75 names the holder (a pid of the same storm,
# running a mutating verb on that VM); with --wait all succeed in turn.
# Afterwards: every create that exited 0 is listed, the snapshot tree is a
# line (serialised creates never make siblings), no orphan layer, no
# journal or temporary file, vm.xml and the snapshot XMLs validate, and
# every chain checks clean.

load helpers

DOMAIN_RNG=/usr/share/libvirt/schemas/domain.rng
SNAP_RNG=/usr/share/libvirt/schemas/domainsnapshot.rng

# vm NAME: a stopped VM with two disks in $W/disks (a stand-in kernel: it
# never boots)
vm() {
	mkdir -p "$W/disks"
	[ -e "$W/vmlinuz" ] || echo "never booted" > "$W/vmlinuz"
	vhdtool create -q -b 64K "$W/disks/$1-0.vhd" 4M
	vhdtool create -q -b 64K "$W/disks/$1-1.vhd" 4M
	test-tool pattern 1 65536 | vhdtool write "$W/disks/$1-0.vhd" 0
	vmctl create -q "$1" --memory 64M --kernel "$W/vmlinuz" \
		--disk "$W/disks/$1-0.vhd" --disk "$W/disks/$1-1.vhd"
}

# storm CMD...: run every CMD (a string) at once: each waits at a gate
# (a shared flock on a file the test holds exclusively) and the gate opens
# for all together. Sets PIDS[i], ST[i] and OUT[i] (stdout+stderr).
storm() {
	local i gate=$BATS_TEST_TMPDIR/gate G
	: > "$gate"
	exec {G}>"$gate"
	flock -x "$G"
	PIDS=() ST=() OUT=()
	for ((i = 1; i <= $#; i++)); do
		( exec {G}>&- && flock -s 9 && exec 9<&- && eval "exec ${!i}" ) 9<"$gate" \
			>"$BATS_TEST_TMPDIR/out.$i" 2>&1 &
		PIDS[i]=$!
	done
	sleep 0.3                       # let them all reach the gate
	exec {G}>&-                     # open it
	for ((i = 1; i <= $#; i++)); do
		wait "${PIDS[i]}" && ST[i]=0 || ST[i]=$?
		OUT[i]=$(cat "$BATS_TEST_TMPDIR/out.$i")
	done
}

# busy_ok VM I: command I exited 75 saying VM is busy, naming as holder
# another command of the storm (a pid of PIDS) and its verb
busy_ok() {
	local vm=$1 i=$2 re holder p found=0
	re="VM '$vm' is busy: pid ([0-9]+) \((snapctl|vmctl) (create|delete|set|start)\) since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"
	[[ ${OUT[i]} =~ $re ]] || { echo "command $i: '${OUT[i]}' is not the busy message for $vm"; return 1; }
	holder=${BASH_REMATCH[1]}
	[ "$holder" != "${PIDS[i]}" ] || { echo "command $i names itself as the holder"; return 1; }
	for p in "${PIDS[@]}"; do [ "$p" = "$holder" ] && found=1; done
	[ $found = 1 ] || { echo "command $i names pid $holder, not one of this storm (${PIDS[*]})"; return 1; }
}

# line VM: the snapshot tree is one line (one root, no two with one parent)
line() {
	local roots parents dups
	snapctl list -H "$1" > "$BATS_TEST_TMPDIR/list"
	roots=$(awk -F'\t' '$3 == "-"' "$BATS_TEST_TMPDIR/list" | wc -l)
	dups=$(awk -F'\t' '$3 != "-" { print $3 }' "$BATS_TEST_TMPDIR/list" | sort | uniq -d)
	parents=$(awk -F'\t' 'NR == FNR { n[$1] = 1; next } $3 != "-" && !($3 in n)' \
		"$BATS_TEST_TMPDIR/list" "$BATS_TEST_TMPDIR/list")
	[ -s "$BATS_TEST_TMPDIR/list" ] || return 0
	[ "$roots" -eq 1 ] || { echo "$1: $roots roots"; cat "$BATS_TEST_TMPDIR/list"; return 1; }
	[ -z "$dups" ] || { echo "$1: siblings under $dups (two creates at once?)"; cat "$BATS_TEST_TMPDIR/list"; return 1; }
	[ -z "$parents" ] || { echo "$1: a parent that is not listed: $parents"; return 1; }
}

# listed VM NAME...: exactly these snapshots
listed() {
	local vm=$1
	shift
	diff <(printf '%s\n' "$@" | sort) <(snapctl list -H "$vm" | cut -f1 | sort)
}

# sound VM: no journal or temporary file; vm.xml and snapshot XMLs validate;
# the chain of now and of every frozen layer checks clean; every layer file
# of the VM in $W/disks is in one of those chains
sound() {
	local vm=$1 d=$VMCTL_ROOT/$1 f n k v
	declare -A used=()
	[ ! -e "$d/journal" ] || { echo "$vm: journal left"; return 1; }
	run find "$d" "$W" -name '.*' -type f
	[ -z "$output" ] || { echo "$vm: left behind: $output"; return 1; }
	requires xmllint
	[ -r "$DOMAIN_RNG" ] && [ -r "$SNAP_RNG" ] || skip "needs the libvirt schemas (make deps)"
	xmllint --noout --relaxng "$DOMAIN_RNG" "$d/vm.xml" 2>"$BATS_TEST_TMPDIR/xml" ||
		{ cat "$BATS_TEST_TMPDIR/xml"; return 1; }
	for f in "$d"/snapshots/*.xml; do
		[ -e "$f" ] || continue
		xmllint --noout --relaxng "$SNAP_RNG" "$f" 2>"$BATS_TEST_TMPDIR/xml" ||
			{ cat "$BATS_TEST_TMPDIR/xml"; return 1; }
	done
	{
		sed -n 's/.*source file="\([^"]*\)".*/\1/p' "$d/vm.xml"
		for n in $(snapctl list -H "$vm" | cut -f1); do
			snapctl show -H "$vm" "$n" | awk -F'\t' '$1 ~ /^disks\.[0-9]+\.file$/ { print $2 }'
		done
	} | sort -u > "$BATS_TEST_TMPDIR/layers"
	while IFS= read -r f; do
		vhdtool check --chain -H "$f" > "$BATS_TEST_TMPDIR/check" ||
			{ echo "$vm: check --chain '$f' failed"; vhdtool check --chain "$f"; return 1; }
		while IFS=$'\t' read -r k v; do
			[[ $k == layers.*.file ]] && used[$v]=1
		done < "$BATS_TEST_TMPDIR/check"
	done < "$BATS_TEST_TMPDIR/layers"
	# the VM's disk files: $W/disks/VM-N.vhd, $W/VM.vhd and their layers
	while IFS= read -r f; do
		[ -n "${used[$f]:-}" ] || { echo "$vm: orphan layer $f"; return 1; }
	done < <(find "$W" -type f \( -name "$vm-*" -o -name "$vm.*" -o -name "${vm}_*" \) -name '*vhd')
}

@test "8 snapctl create at once on one VM: 0 or 75 naming the holder; none lost, the tree is a line" {
	vm v
	storm "snapctl create v c1" "snapctl create v c2" "snapctl create v c3" "snapctl create v c4" \
		"snapctl create v c5" "snapctl create v c6" "snapctl create v c7" "snapctl create v c8"
	local ok=() busy=0 i
	for i in 1 2 3 4 5 6 7 8; do
		case ${ST[i]} in
		0) ok+=(c$i) ;;
		75) busy_ok v $i; busy=$((busy + 1)) ;;
		*) echo "command $i exited ${ST[i]}: ${OUT[i]}"; false ;;
		esac
	done
	[ ${#ok[@]} -ge 1 ]
	[ $busy -ge 1 ]                                     # they did collide
	listed v "${ok[@]}"
	line v
	sound v
}

@test "8 mutators at once on one VM (create, delete, vmctl set): one at a time, the rest 75" {
	vm v
	snapctl create -q v p1
	snapctl create -q v p2
	snapctl create -q v p3
	storm "snapctl create v c1" "snapctl create v c2" "snapctl create v c3" \
		"snapctl delete v p1" "snapctl delete v p2" \
		"vmctl set v --memory 96M" "vmctl set v --memory 128M" "vmctl set v --cpus 2"
	local names=(p1 p2 p3) keep=() i n
	for i in 1 2 3 4 5 6 7 8; do
		[ "${ST[i]}" = 0 ] || [ "${ST[i]}" = 75 ] || { echo "command $i exited ${ST[i]}: ${OUT[i]}"; false; }
		[ "${ST[i]}" = 0 ] || busy_ok v $i
	done
	for i in 1 2 3; do [ "${ST[i]}" = 0 ] && names+=(c$i); done
	for n in "${names[@]}"; do
		[ "$n" = p1 ] && [ "${ST[4]}" = 0 ] && continue
		[ "$n" = p2 ] && [ "${ST[5]}" = 0 ] && continue
		keep+=("$n")
	done
	listed v "${keep[@]}"
	line v
	sound v
	# vm.xml holds what the sets that succeeded wrote (or the defaults)
	local mem cpus
	mem=$(sed -n 's/.*<memory unit="MiB">\([0-9]*\)<.*/\1/p' "$VMCTL_ROOT/v/vm.xml")
	cpus=$(sed -n 's/.*<vcpu[^>]*>\([0-9]*\)<.*/\1/p' "$VMCTL_ROOT/v/vm.xml")
	case $mem in
	64) [ "${ST[6]}" != 0 ] && [ "${ST[7]}" != 0 ] ;;
	96) [ "${ST[6]}" = 0 ] ;;
	128) [ "${ST[7]}" = 0 ] ;;
	*) false ;;
	esac
	if [ "${ST[8]}" = 0 ]; then [ "$cpus" = 2 ]; else [ "$cpus" = 1 ]; fi
}

@test "8 mutators with --wait on one VM: all succeed in turn" {
	vm v
	snapctl create -q v p1
	snapctl create -q v p2
	storm "snapctl create --wait=60 v c1" "snapctl create --wait=60 v c2" \
		"snapctl create --wait=60 v c3" "snapctl create --wait=60 v c4" \
		"snapctl delete --wait=60 v p1" "snapctl delete --wait=60 v p2" \
		"vmctl set --wait=60 v --memory 96M" "vmctl set --wait=60 v --cpus 2"
	local i
	for i in 1 2 3 4 5 6 7 8; do
		[ "${ST[i]}" = 0 ] || { echo "command $i exited ${ST[i]}: ${OUT[i]}"; false; }
	done
	listed v c1 c2 c3 c4
	line v
	sound v
	grep -q '<memory unit="MiB">96<' "$VMCTL_ROOT/v/vm.xml"
	grep -q '>2</vcpu>' "$VMCTL_ROOT/v/vm.xml"
}

@test "two VMs, 4 mutators each at once: each VM serialises on its own lock" {
	vm a
	vm b
	# odd commands on a, even ones on b; NAME[i]: the snapshot command i makes
	local NAME=(- a1 b1 a2 b2 - - a3 b3) i k vm found oka=() okb=()
	storm "snapctl create a a1" "snapctl create b b1" "snapctl create a a2" "snapctl create b b2" \
		"vmctl set a --memory 96M" "vmctl set b --memory 96M" \
		"snapctl create --wait=60 a a3" "snapctl create --wait=60 b b3"
	for i in 1 2 3 4 5 6 7 8; do
		vm=a
		[ $((i % 2)) = 0 ] && vm=b
		case ${ST[i]} in
		0)
			[ "${NAME[i]}" = - ] && continue
			if [ $vm = a ]; then oka+=("${NAME[i]}"); else okb+=("${NAME[i]}"); fi ;;
		75)
			busy_ok $vm $i
			# the holder is a command on the same VM
			[[ ${OUT[i]} =~ pid\ ([0-9]+) ]]
			found=0
			for ((k = 1; k <= 8; k++)); do
				if [ "${PIDS[k]}" = "${BASH_REMATCH[1]}" ]; then
					[ $((k % 2)) = $((i % 2)) ] || { echo "command $i on $vm names command $k (other VM)"; false; }
					found=1
				fi
			done
			[ $found = 1 ] ;;
		*) echo "command $i exited ${ST[i]}: ${OUT[i]}"; false ;;
		esac
	done
	[ "${ST[7]}" = 0 ] && [ "${ST[8]}" = 0 ]           # --wait got through
	listed a "${oka[@]}"
	listed b "${okb[@]}"
	line a
	line b
	sound a
	sound b
}

@test "vmctl start of one stopped VM 8 times at once: one VMM, the rest 75; then creates --wait on it" {
	requires_kvm
	vhdtool create -q -b 64K "$W/g.vhd" 4M
	guest_vm g 1 "$W/g.vhd"
	storm "vmctl start g" "vmctl start g" "vmctl start g" "vmctl start g" \
		"vmctl start g" "vmctl start g" "vmctl start g" "vmctl start g"
	local i started=0
	for i in 1 2 3 4 5 6 7 8; do
		case ${ST[i]} in
		0) started=$((started + 1)) ;;
		75) [[ ${OUT[i]} == *"VM 'g' is already running"* ]] || busy_ok g $i ;;
		*) echo "command $i exited ${ST[i]}: ${OUT[i]}"; false ;;
		esac
	done
	[ "$started" -eq 1 ]
	wait_console g "vmsnap-guest 1 ready" 30
	[ "$(guest g ping)" = "ok pong" ]
	[ "$(grep -c 'vmsnap-guest 1 ready' "$VMCTL_ROOT/g/console.log")" -eq 1 ]   # one boot
	[ "$(vmctl status --json g | jq -r .state)" = running ]
	# four online snapshots and a set (refused while running) at once, waiting
	storm "snapctl create --wait=60 g s1" "snapctl create --wait=60 g s2" \
		"snapctl create --wait=60 g s3" "snapctl create --wait=60 g s4" \
		"vmctl set --wait=60 g --memory 96M"
	for i in 1 2 3 4; do
		[ "${ST[i]}" = 0 ] || { echo "command $i exited ${ST[i]}: ${OUT[i]}"; false; }
	done
	[ "${ST[5]}" = 75 ]                                    # refused: the VM runs
	[[ ${OUT[5]} == *"VM 'g' is running"* ]]
	listed g s1 s2 s3 s4
	line g
	[ "$(guest g ping)" = "ok pong" ]
	vmctl stop --force g
	vmctl wait g 2>/dev/null || true
	sound g
}
