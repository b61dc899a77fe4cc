#!/usr/bin/env bats
# The seed's story end to end: offline and online snapshots of a running
# test guest, configuration changes, apply, undo, branches, delete + merge.

load helpers

src() { vmctl dumpxml "$1" | sed -n 's/.*source file="\([^"]*\)".*/\1/p' | head -1; }
chain_len() { vhdtool info --chain --json "$1" | jq '.chain | length'; }
A() { vhdtool read "$1" 0 32768 | cmp -s - <(test-tool pattern 1 32768); }
B() { vhdtool read "$1" 512000 32768 | cmp -s - <(test-tool pattern 2 32768); }

@test "story: S1 offline, A, S2 online, B, memory change, apply S1/S2, save-current + undo, tree, delete" {
	requires_kvm
	vhdtool create web.vhd 64M
	vmctl create web --memory 512M --cpus 1 --kernel "$GUEST" --cmdline "idle hz=250" \
		--disk "$W/web.vhd"
	run_tool 0 snapctl create web S1                       # offline
	guest_start web
	guest web blk write 1 0 64 >/dev/null                  # pattern A
	guest web blk flush >/dev/null
	guest web fill 77 16 >/dev/null
	c_s2=$(guest_value web counter)
	run_tool 0 snapctl create --json web S2                # online
	assert_equal "$(jq -r .type <<<"$stdout")" online
	guest web blk write 2 1000 64 >/dev/null               # pattern B
	guest web blk flush >/dev/null
	run_tool 0 vmctl stop --force web
	A "$(src web)" && B "$(src web)"
	run_tool 0 vmctl set web --memory 1G
	assert_equal "$(vmctl status --json web | jq .memory_bytes)" 1073741824

	# apply S1: 512 MiB again, neither A nor B
	run_tool 0 snapctl apply -y web S1
	assert_equal "$(vmctl status --json web | jq -r .state)" stopped
	assert_equal "$(vmctl status --json web | jq .memory_bytes)" 536870912
	! A "$(src web)" && ! B "$(src web)"

	# apply S2: the guest resumes where it was; A but not B
	run_tool 0 snapctl apply -y web S2
	assert_equal "$(vmctl status --json web | jq -r .state)" running
	[ "$(guest_value web counter)" -ge "$c_s2" ]
	assert_equal "$(guest web verify 77 16)" ok
	run_tool 0 vmctl stop --force web
	A "$(src web)" && ! B "$(src web)"

	# apply --save-current, then undo: exactly the state before the apply
	printf 'before undo' | vhdtool write "$(src web)" 2000000
	vhdtool cat "$(src web)" > pre.raw
	cp "$VMCTL_ROOT/web/vm.xml" pre.xml
	run_tool 0 snapctl apply --save-current web S1
	! A "$(src web)"
	run_tool 0 snapctl undo web
	vhdtool cat "$(src web)" | cmp - pre.raw
	diff <(grep -v "source file" pre.xml) <(grep -v "source file" "$VMCTL_ROOT/web/vm.xml")
	run_tool 0 snapctl list --json web
	[ "$(jq '.snapshots | length' <<<"$stdout")" -eq 2 ]      # the automatic one is gone

	# branches: a snapshot on this branch, then back to S1 and another one
	run_tool 0 snapctl create web S3
	run_tool 0 snapctl apply -y web S1
	run_tool 0 snapctl create web S4
	run_tool 0 snapctl list --tree web
	assert_output --partial "├─ S2"
	assert_output --partial "└─ S4"
	assert_line --partial "Now"

	# delete S1: its layer merges with its only remaining child, contents unchanged
	snapctl apply -y web S3
	vhdtool cat "$(src web)" > now.raw
	before=$(chain_len "$(src web)")
	run_tool 0 snapctl delete web S4
	run_tool 0 snapctl delete web S1
	after=$(chain_len "$(src web)")
	[ "$after" -eq $((before - 1)) ] || { echo "chain $before -> $after"; false; }
	vhdtool cat "$(src web)" | cmp - now.raw
	run_tool 0 vhdtool check --chain "$(src web)"
	for f in "$VMCTL_ROOT"/web/snapshots/*.xml; do
		xmllint --noout --relaxng /usr/share/libvirt/schemas/domainsnapshot.rng "$f" 2>/dev/null
	done
	xmllint --noout --relaxng /usr/share/libvirt/schemas/domain.rng "$VMCTL_ROOT/web/vm.xml" 2>/dev/null
}
