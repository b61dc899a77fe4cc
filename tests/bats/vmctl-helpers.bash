# vmctl-helpers.bash — shared by the vmctl-*.bats suites.
# Load after helpers.bash:   load helpers; load vmctl-helpers
#
# The store is $VMCTL_ROOT (private to each test, from helpers.bash). A VM is
# "running" while its run.lock is locked: the suites hold it themselves with
# flock(1) on a file descriptor of the test shell (hold / release), since
# these verbs never need a real VMM.

DOMAIN_RNG=/usr/share/libvirt/schemas/domain.rng

run_vmctl() { local e=$1; shift; run_tool "$e" vmctl "$@"; }

# valid_xml FILE...: each FILE validates against libvirt 9.0's domain.rng
valid_xml() {
	local f
	requires xmllint
	[ -r "$DOMAIN_RNG" ] || skip "needs $DOMAIN_RNG (make deps installs libvirt0)"
	for f in "$@"; do
		xmllint --noout --relaxng "$DOMAIN_RNG" "$f" 2>"$BATS_TEST_TMPDIR/xmllint.err" || {
			cat "$BATS_TEST_TMPDIR/xmllint.err" >&2
			return 1
		}
	done
}

# kernel: a stand-in kernel file in $W (define and create only record it)
kernel() {
	[ -e "$W/vmlinuz" ] || printf 'not really a kernel\n' > "$W/vmlinuz"
	echo "$W/vmlinuz"
}

# mkvm NAME [vmctl create options]: a VM with a dummy kernel
mkvm() {
	local name=$1
	shift
	vmctl create --kernel "$(kernel)" "$@" "$name"
}

# domain_xml NAME [DEVICES_XML]: a valid definition on stdout
domain_xml() {
	cat <<EOF
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>$(kernel)</kernel>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <devices>
${2:-    <serial type='pty'/>}
  </devices>
</domain>
EOF
}

# hold FILE: lock FILE exclusively (flock) until release; creates FILE
hold() {
	exec {HELD_FD}>>"$1"
	flock -x "$HELD_FD"
}
release() {
	exec {HELD_FD}>&-
}

# run_as_vmm NAME [STATE]: make VM NAME look running (or paused): hold its
# run.lock and write run/pid, run/state, run/started as the VMM does
run_as_vmm() {
	local d=$VMCTL_ROOT/$1
	hold "$d/run.lock"
	mkdir -p "$d/run"
	echo $$ > "$d/run/pid"
	echo "${2:-running}" > "$d/run/state"
	echo $(($(date +%s) - 5)) > "$d/run/started"
}

# busy NAME: another command holds VM NAME's op.lock (as pid 4711)
busy() {
	printf '4711 12345 snapctl delete 2026-11-26T03:00:12Z\n' > "$VMCTL_ROOT/$1/op.lock"
	hold "$VMCTL_ROOT/$1/op.lock"
}
BUSY_MSG="is busy: pid 4711 (snapctl delete) since 2026-11-26T03:00:12Z"

# hold_for SECS FILE: a background process locks FILE for SECS seconds (a
# waiting vmctl must not inherit the lock, so not the test shell itself)
hold_for() {
	local ready=$BATS_TEST_TMPDIR/held.$RANDOM
	( flock -x 8 && : > "$ready" && exec sleep "$1" ) 8>>"$2" 3>&- >/dev/null 2>&1 &
	HELD_PIDS+=("$!")
	while [ ! -e "$ready" ]; do sleep 0.05; done
}

HELD_PIDS=()
# teardown: the lock holders, then what helpers.bash's teardown does
teardown() {
	local p
	for p in "${HELD_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	[ -d "${VMCTL_ROOT:-/nonexistent}" ] && stop_all_vms
	true
}
