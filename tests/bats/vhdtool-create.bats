#!/usr/bin/env bats
# vhdtool create: fixed, dynamic, differencing; refusals.

load helpers

@test "create dynamic: exact size, spec CHS, creator win, both footers equal" {
	run_vhdtool 0 create d.vhd 4M
	run_vhdtool 0 info --json d.vhd
	assert_equal "$(jq -r .type <<<"$stdout")" dynamic
	assert_equal "$(jq -r .virtual_size <<<"$stdout")" 4194304
	assert_equal "$(jq -r '"\(.cylinders)/\(.heads)/\(.sectors_per_track)"' <<<"$stdout")" 120/4/17
	assert_equal "$(jq -r .creator_app <<<"$stdout")" "win "
	assert_equal "$(jq -r .footer_copies_equal <<<"$stdout")" true
	assert_equal "$(jq -r .block_size <<<"$stdout")" 2097152
	assert_equal "$(jq -r .allocated_blocks <<<"$stdout")" 0
	# footer copy at 0 is byte-identical to the one at EOF
	cmp <(head -c 512 d.vhd) <(tail -c 512 d.vhd)
	[ "$(stat -c %a d.vhd)" = 600 ]
}

@test "create fixed: file is size + 512, data_offset all ones" {
	run_vhdtool 0 create --type fixed f.vhd 1M
	[ "$(stat -c %s f.vhd)" -eq $((1048576 + 512)) ]
	assert_equal "$(test-tool peek f.vhd $((1048576 + 16)) 8)" ffffffffffffffff
	run_vhdtool 0 info -H f.vhd
	assert_line --partial $'type\tfixed'
	run_vhdtool 0 check f.vhd
}

@test "create --preallocate allocates a fixed disk's data area" {
	run_vhdtool 0 create --type fixed --preallocate f.vhd 2M
	[ "$(du -k f.vhd | cut -f1)" -ge 2048 ]
	run_vhdtool 64 create --preallocate d.vhd 2M
}

@test "create with block sizes and unit suffixes" {
	run_vhdtool 0 create -b 512K a.vhd 3M
	run_vhdtool 0 info --json a.vhd
	assert_equal "$(jq .block_size <<<"$stdout")" 524288
	assert_equal "$(jq .bat_entries <<<"$stdout")" 6
	run_vhdtool 0 create b.vhd 1048576
	run_vhdtool 0 create c.vhd 1GiB
	run_vhdtool 0 info -H c.vhd
	assert_line $'virtual_size\t1073741824'
}

@test "create refuses an existing file (73) unless --force" {
	echo keep > x.vhd
	before=$(sha x.vhd)
	run_vhdtool 73 create x.vhd 1M
	assert_output --partial "'x.vhd' already exists"
	[ "$(sha x.vhd)" = "$before" ]
	run_vhdtool 0 create --force x.vhd 1M
	run_vhdtool 0 check x.vhd
}

@test "create rejects bad sizes and options with exit 64" {
	run_vhdtool 64 create a.vhd 1000
	assert_output --partial "multiple of 512"
	run_vhdtool 64 create a.vhd 0
	run_vhdtool 64 create a.vhd 2041G
	assert_output --partial "2040 GiB"
	run_vhdtool 64 create a.vhd 4X
	assert_output --partial "invalid size '4X'"
	run_vhdtool 64 create --type sparse a.vhd 4M
	run_vhdtool 64 create -b 3M a.vhd 4M
	assert_output --partial "power of two"
	run_vhdtool 64 create -t fixed -b 2M a.vhd 4M
	run_vhdtool 64 create a.vhd
	run_vhdtool 64 create --bogus a.vhd 1M
	assert_output --partial "--bogus"
	[ ! -e a.vhd ]
	# no temporary files left behind
	[ -z "$(ls -A)" ]
}

@test "create accepts the maximum size 2040 GiB" {
	run_vhdtool 0 create big.vhd 2040G
	run_vhdtool 0 info -H big.vhd
	assert_line $'virtual_size\t2190433320960'
	assert_line $'cylinders\t65535'
}

@test "create --parent writes locators as Windows does" {
	run_vhdtool 0 create base.vhd 8M
	run_vhdtool 0 create --parent base.vhd child.avhd
	run_vhdtool 0 info --json child.avhd
	assert_equal "$(jq -r .type <<<"$stdout")" differencing
	assert_equal "$(jq -r .virtual_size <<<"$stdout")" 8388608
	assert_equal "$(jq -r .parent_name <<<"$stdout")" "$W/base.vhd"
	assert_equal "$(jq -r '.locators[0].platform' <<<"$stdout")" W2ku
	assert_equal "$(jq -r '.locators[0].path' <<<"$stdout")" "$W/base.vhd"
	assert_equal "$(jq -r '.locators[1].platform' <<<"$stdout")" W2ru
	assert_equal "$(jq -r '.locators[1].path' <<<"$stdout")" "./base.vhd"
	assert_equal "$(jq -r '.locators[1].data_space' <<<"$stdout")" 4096
	base_uuid=$(vhdtool info --json base.vhd | jq -r .uuid)
	assert_equal "$(jq -r .parent_uuid <<<"$stdout")" "$base_uuid"
	# W2ru data is UTF-16LE ".\base.vhd" (backslash, as Windows writes it)
	off=$(jq -r '.locators[1].data_offset' <<<"$stdout")
	assert_equal "$(test-tool peek child.avhd "$off" 4)" 2e005c00
	# parent name field is UTF-16BE
	assert_equal "$(test-tool peek child.avhd $((512 + 64)) 2)" 002f
}

@test "create --parent in another folder writes a relative W2ru" {
	mkdir -p base sub/deeper
	run_vhdtool 0 create base/b.vhd 1M
	run_vhdtool 0 create --parent base/b.vhd sub/deeper/c.avhd
	run_vhdtool 0 info --json sub/deeper/c.avhd
	assert_equal "$(jq -r '.locators[1].path' <<<"$stdout")" "../../base/b.vhd"
	assert_equal "$(jq -r '.parent_path' <<<"$stdout")" "sub/deeper/../../base/b.vhd"
}

@test "create --parent refuses a missing or bad parent and creates nothing" {
	run_vhdtool 66 create --parent nope.vhd c.avhd
	assert_output --partial "cannot open 'nope.vhd': No such file or directory"
	echo junk > junk.vhd
	run_vhdtool 65 create --parent junk.vhd c.avhd
	assert_output --partial "not a VHD"
	[ ! -e c.avhd ]
	run_vhdtool 0 create p.vhd 1M
	run_vhdtool 64 create --parent p.vhd c.avhd 1M
	run_vhdtool 64 create --parent p.vhd -t fixed c.avhd
}
