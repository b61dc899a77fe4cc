#!/usr/bin/env bats
# vhdtool info: real images from Windows and qemu, text/--json/-H, chains.

load helpers

@test "info: qemu dynamic fixture (creator qemu, CHS-sized by qemu)" {
	f=$(fixture dfvfs-ext2.vhd)
	run_vhdtool 0 info --json "$f"
	assert_equal "$(jq -r .type <<<"$stdout")" dynamic
	assert_equal "$(jq -r .virtual_size <<<"$stdout")" 4212736
	assert_equal "$(jq -r .creator_app <<<"$stdout")" qemu
	assert_equal "$(jq -r .creator_os <<<"$stdout")" Wi2k
	assert_equal "$(jq -r .footer_checksum_ok <<<"$stdout")" true
	assert_equal "$(jq -r .header_checksum_ok <<<"$stdout")" true
}

@test "info: qemu fixed force_size fixture is exactly 1 MiB" {
	f=$(fixture local-qemu-fixed-forcesize.vhd)
	run_vhdtool 0 info -H "$f"
	assert_line $'type\tfixed'
	assert_line $'virtual_size\t1048576'
	assert_line $'creator_app\tqem2'
	assert_line $'cylinders\t65535'
	requires qemu-img
	qemu-img convert -f vpc -O raw "$f" q.raw
	[ "$(stat -c %s q.raw)" -eq 1048576 ]
	vhdtool cat "$f" | cmp - q.raw
}

@test "info: qemu-written dynamic fixture reads as qemu reads it" {
	requires qemu-img
	f=$(fixture local-qemu-dynamic.vhd)
	run_vhdtool 0 info --json "$f"
	assert_equal "$(jq -r .allocated_blocks <<<"$stdout")" 1
	qemu-img convert -f vpc -O raw "$f" q.raw
	vhdtool cat "$f" | cmp - q.raw
	[ "$(vhdtool read "$f" 0 65536 | tr -d 'Z' | wc -c)" -eq 0 ]
}

@test "info: Windows differencing fixture shows its locators and a missing parent (66)" {
	f=$(fixture dfvfs-fat-differential.vhd)
	before=$(sha "$f")
	run_vhdtool 66 info --json "$f"
	assert_equal "$(jq -r .type <<<"$stdout")" differencing
	assert_equal "$(jq -r .virtual_size <<<"$stdout")" 4194304
	assert_equal "$(jq -r .chs_size <<<"$stdout")" 4177920
	assert_equal "$(jq -r .creator_app <<<"$stdout")" "win "
	assert_equal "$(jq -r .parent_timestamp <<<"$stdout")" null
	assert_equal "$(jq -r .parent_path <<<"$stdout")" null
	assert_equal "$(jq -r '.locators[] | select(.platform=="W2ku") | .path' <<<"$stdout")" \
		'C:/Projects/dfvfs/test_data/fat-parent.vhd'
	assert_equal "$(jq -r '.locators[] | select(.platform=="W2ku") | .data_space' <<<"$stdout")" 4096
	assert_equal "$(jq -r '.locators[] | select(.platform=="W2ru") | .path' <<<"$stdout")" './fat-parent.vhd'
	assert_equal "$(jq -r '.locators[] | select(.platform=="W2ru") | .data_space' <<<"$stdout")" 65536
	[[ "$stderr" == *"parent 'C:\\Projects\\dfvfs\\test_data\\fat-parent.vhd' of '$f' not found"* ]]
	[[ "$stderr" == *"tried '$W/fat-parent.vhd'"* ]]
	run_vhdtool 66 cat "$f"
	[ "$(sha "$f")" = "$before" ]
}

@test "info: the Windows child finds a parent placed beside it (W2ru)" {
	f=$(fixture dfvfs-fat-differential.vhd)
	puuid=$(vhdtool info --json "$f" 2>/dev/null | jq -r .parent_uuid) || true
	# a stand-in parent with the expected UUID: the child reads through it
	run_vhdtool 0 create -t fixed fat-parent.vhd 4M
	test-tool poke fat-parent.vhd $((4194304 + 68)) "${puuid//-/}"
	test-tool vhd-resum fat-parent.vhd
	run_vhdtool 0 info --chain --json "$f"
	assert_equal "$(jq -r '.chain | length' <<<"$stdout")" 2
	assert_equal "$(jq -r '.chain[0].parent_path' <<<"$stdout")" "$W/fat-parent.vhd"
	run_vhdtool 0 check --chain "$f"
	vhdtool cat "$f" > /dev/null
}

@test "info: bad footer checksum is refused (65) naming the checksum; --force shows it" {
	for name in dfvfs-image.vhd dfvfs-image-differential.vhd; do
		f=$(fixture $name)
		before=$(sha "$f")
		run_vhdtool 65 info "$f"
		assert_output --partial "footer checksum mismatch (stored 0xfffff683"
		run_vhdtool 65 read "$f" 0 512
		assert_output --partial "checksum mismatch"
		run_vhdtool 65 cat "$f"
		[ "$(sha "$f")" = "$before" ]
	done
	f=$W/dfvfs-image.vhd
	run_vhdtool 0 info --force --json "$f"
	assert_equal "$(jq -r .footer_checksum_ok <<<"$stdout")" false
	assert_output --partial "warning:"
	run_vhdtool 0 read --force "$f" 0 512
}

@test "info: the hand-made qemu differencing fixture finds image.vhd by parent name" {
	fixture dfvfs-image.vhd >/dev/null
	mv dfvfs-image.vhd image.vhd
	f=$(fixture dfvfs-image-differential.vhd)
	run_vhdtool 0 info --force --chain --json "$f"
	assert_equal "$(jq -r '.chain[1].file' <<<"$stdout")" "$W/image.vhd"
	assert_equal "$(jq -r '.chain[0].header_checksum_ok' <<<"$stdout")" false
	run_vhdtool 0 cat --force -o /dev/null "$f"
}

@test "info: text output is readable and -H is key<TAB>value" {
	run_vhdtool 0 create d.vhd 4M
	run_vhdtool 0 info d.vhd
	assert_line --regexp '^virtual size: +4 MiB \(4194304 bytes\)$'
	assert_line --regexp '^type: +dynamic$'
	run_vhdtool 0 info -H d.vhd
	assert_line $'chs_size\t4177920'
	refute_output --partial ' '$'\t'
	run_vhdtool 64 info --json -H d.vhd
}

@test "info --chain walks to the base with depth" {
	run_vhdtool 0 create base.vhd 2M
	run_vhdtool 0 create -p base.vhd a.avhd
	run_vhdtool 0 create -p a.avhd b.avhd
	run_vhdtool 0 info --chain --json b.avhd
	assert_equal "$(jq -r '[.chain[].depth] | join(",")' <<<"$stdout")" 0,1,2
	assert_equal "$(jq -r '.chain[2].type' <<<"$stdout")" dynamic
	assert_equal "$(jq -r '.chain[0].parent_uuid' <<<"$stdout")" "$(jq -r '.chain[1].uuid' <<<"$stdout")"
}

@test "info: a parent with another UUID is refused unless --force" {
	run_vhdtool 0 create base.vhd 2M
	run_vhdtool 0 create -p base.vhd c.avhd
	run_vhdtool 0 create --force base.vhd 2M      # same name, new UUID
	run_vhdtool 65 cat -o /dev/null c.avhd
	assert_output --regexp "parent 'base.vhd' of 'c.avhd' has UUID .*, the child expects"
	run_vhdtool 0 cat --force -o /dev/null c.avhd
	assert_output --partial "warning:"
}

@test "info: parent timestamp mismatch is a warning, not an error" {
	run_vhdtool 0 create base.vhd 2M
	run_vhdtool 0 create -p base.vhd c.avhd
	touch -d '2001-01-01' base.vhd
	run_vhdtool 0 cat -o /dev/null c.avhd
	assert_output --partial "timestamp mismatch"
	run_vhdtool 0 cat -q -o /dev/null c.avhd
	assert_output ""
}

@test "vhdtool: global help, version, unknown verb, verb help" {
	run_vhdtool 0 --help
	assert_output --partial "create"
	assert_output --partial "check"
	run_vhdtool 0 --version
	assert_output --regexp '^vhdtool [0-9]+\.[0-9]+\.[0-9]+$'
	run_vhdtool 64 crea x.vhd 1M                 # no prefix matching
	assert_output --partial "unknown command 'crea'"
	run_vhdtool 64
	run_vhdtool 0 info --help
	assert_output --partial "--chain"
	run_vhdtool 0 help check
	assert_output --partial "--json"
}
