#!/usr/bin/env bats
# vhdtool map: data ranges against qemu-img map, chain layers checked byte for
# byte against the raw model, raw holes, text/--json/-H, refusals.

load helpers
load image-helpers

# data ranges of a qemu-img map style array on stdin, adjacent ones (in the
# disk and in the file) merged: qemu splits them where the file has holes
DATA_RANGES='[.[] | select(.data)] | reduce .[] as $e ([];
	if length > 0 and .[-1].start + .[-1].length == $e.start
	   and .[-1].offset + .[-1].length == $e.offset
	then .[-1].length += $e.length
	else . + [{start: $e.start, length: $e.length, offset: $e.offset}] end)'

# check_map FILE MODEL LAYERS...: the map of FILE covers the disk once, in
# order; every range a layer serves holds, at that offset of that layer's
# file, the model's bytes; every range no layer holds is zeros in the model;
# depth k names the k-th of LAYERS (top first), no layer = depth ${#LAYERS}
check_map() {
	local file=$1 model=$2 next=0 start length depth present zero data offset f
	shift 2
	local layers=("$@")
	vhdtool map -H "$file" > map.tsv
	[ -s map.tsv ]
	while IFS=$'\t' read -r start length depth present zero data offset f; do
		[ "$start" -eq "$next" ]
		[ "$length" -gt 0 ]
		next=$((start + length))
		head -c "$length" < <(tail -c +$((start + 1)) "$model") > want
		if [ "$present" = true ]; then
			[ "$(basename "$f")" = "$(basename "${layers[$depth]}")" ]
			[ "$zero" = "$([ "$data" = true ] && echo false || echo true)" ]
			head -c "$length" < <(tail -c +$((offset + 1)) "$f") | cmp - want
			# a hole of a raw file or fixed image: zeros
			[ "$data" = true ] || head -c "$length" /dev/zero | cmp - want
		else
			[ "$depth" -eq "${#layers[@]}" ]
			[ "$offset" = - ]
			[ "$f" = - ]
			[ "$zero" = true ]
			[ "$data" = false ]
			head -c "$length" /dev/zero | cmp - want
		fi
		echo "$depth" >> depths
	done < map.tsv
	[ "$next" -eq "$(stat -c %s "$model")" ]
}

@test "map: a dynamic image's data ranges are the ones qemu-img map reports" {
	requires qemu-img
	run_vhdtool 0 create -b 64K d.vhd 4M
	truncate -s 4M raw
	scribble d.vhd raw 61 15 40000
	run_vhdtool 0 map --json d.vhd
	ours=$(jq -c ".map | $DATA_RANGES" <<<"$stdout")
	theirs=$(qemu-img map -f vpc --output=json d.vhd | jq -c "$DATA_RANGES")
	[ "$ours" != "[]" ]
	assert_equal "$ours" "$theirs"
	check_map d.vhd raw d.vhd
	# and on an image qemu-img wrote, with its own layout
	qemu-img convert -f raw -O vpc -o force_size=on raw q.vhd
	ours=$(vhdtool map --json q.vhd | jq -c ".map | $DATA_RANGES")
	theirs=$(qemu-img map -f vpc --output=json q.vhd | jq -c "$DATA_RANGES")
	assert_equal "$ours" "$theirs"
	check_map q.vhd raw q.vhd
}

@test "map: a 3-deep chain: each range comes from the layer the model says" {
	make_chain raw
	rm -f depths
	check_map c3.avhd raw c3.avhd c2.avhd c1.avhd base.vhd
	# data from the top, the middle and the base layer, and ranges no layer holds
	grep -qx 0 depths
	grep -qx 2 depths
	grep -qx 3 depths
	grep -qx 4 depths
	[ "$(grep -cx 1 depths)" -eq 0 ]     # c2 holds nothing
	# a middle layer alone maps its own view (the layers below it)
	rm -f depths
	check_map c1.avhd raw1 c1.avhd base.vhd
	[ "$(grep -cx 3 depths)" -eq 0 ]
	# known ranges: the top layer overwrites one sector of what the middle wrote
	vhdtool create -b 64K b.vhd 2M
	vhdtool create -p b.vhd m.avhd
	vhdtool create -p m.avhd t.avhd
	printf 'A%.0s' $(seq 1 4096) | vhdtool write m.avhd 1048576
	printf 'B%.0s' $(seq 1 512) | vhdtool write t.avhd 1049088
	run_vhdtool 0 map --json t.avhd
	at() { jq -c --argjson o "$1" '.map[] | select(.start <= $o and $o < .start + .length) | [.start, .length, .depth, .file]' <<<"$stdout"; }
	assert_equal "$(at 0)" '[0,1048576,3,null]'
	assert_equal "$(at 1048576)" '[1048576,512,1,"m.avhd"]'
	assert_equal "$(at 1049088)" '[1049088,512,0,"t.avhd"]'
	assert_equal "$(at 1049600)" '[1049600,3072,1,"m.avhd"]'
	assert_equal "$(at 1052672)" '[1052672,1044480,3,null]'
}

@test "map: adjacent ranges of one layer are merged; unallocated ranges have no offset" {
	run_vhdtool 0 create -b 64K d.vhd 1M
	head -c 65536 /dev/urandom | vhdtool write d.vhd 65536
	run_vhdtool 0 map --json d.vhd
	assert_equal "$(jq -c '[.map[] | [.start, .length, .depth, .present, .zero, .data]]' <<<"$stdout")" \
		'[[0,65536,1,false,true,false],[65536,65536,0,true,false,true],[131072,917504,1,false,true,false]]'
	assert_equal "$(jq -c '.map[0] | keys_unsorted' <<<"$stdout")" \
		'["start","length","depth","present","zero","data"]'
	assert_equal "$(jq -c '.map[1] | keys_unsorted' <<<"$stdout")" \
		'["start","length","depth","present","zero","data","offset","file"]'
	assert_equal "$(jq -r '.map[1].file' <<<"$stdout")" d.vhd
}

@test "map: raw files and fixed images: holes and data as qemu-img map reports them" {
	requires qemu-img
	truncate -s 4M h.raw
	printf abc | dd of=h.raw bs=1 seek=1M conv=notrunc status=none
	test-tool pattern 3 100000 | dd of=h.raw bs=1 seek=3000000 conv=notrunc status=none
	run_vhdtool 0 map --json h.raw
	assert_equal "$(jq -c '.map | map(del(.file))' <<<"$stdout")" \
		"$(qemu-img map -f raw --output=json h.raw | jq -c .)"
	assert_equal "$(jq -r '[.map[].file] | unique | .[]' <<<"$stdout")" h.raw
	check_map h.raw h.raw h.raw
	run_vhdtool 0 convert -t fixed h.raw f.vhd
	run_vhdtool 0 map --json f.vhd
	assert_equal "$(jq -c '[.map[] | select(.data) | [.start, .length, .offset]]' <<<"$stdout")" \
		"$(jq -c '[.[] | select(.data) | [.start, .length, .offset]]' < <(qemu-img map -f raw --output=json h.raw))"
	check_map f.vhd h.raw f.vhd
}

@test "map: text is a table of start, length, depth, file; -H has every field" {
	run_vhdtool 0 create -b 64K base.vhd 1M
	head -c 5000 /dev/urandom | vhdtool write base.vhd 0
	run_vhdtool 0 create -p base.vhd c.avhd
	head -c 3000 /dev/urandom | vhdtool write c.avhd 1024
	run_vhdtool 0 map c.avhd
	assert_line --index 0 "map:"
	assert_line --index 1 --regexp '^  START +LENGTH +DEPTH +FILE$'
	assert_line --index 2 --regexp '^  0 +1024 +1 +base.vhd$'
	assert_line --index 3 --regexp '^  1024 +3072 +0 +c.avhd$'
	assert_line --index 4 --regexp '^  4096 +61440 +1 +base.vhd$'
	assert_line --index 5 --regexp '^  65536 +983040 +2 +-$'
	run_vhdtool 0 map -H c.avhd
	assert_line --index 0 --regexp $'^0\t1024\t1\ttrue\tfalse\ttrue\t[0-9]+\tbase.vhd$'
	assert_line --index 3 $'65536\t983040\t2\tfalse\ttrue\tfalse\t-\t-'
	[ "${#lines[@]}" -eq 4 ]
}

@test "map: missing (66), bad (65) and missing-parent (66) images; bad arguments (64)" {
	run_vhdtool 66 map nope.vhd
	assert_output --partial "cannot open 'nope.vhd': No such file or directory"
	run_vhdtool 0 create d.vhd 1M
	cp d.vhd bad.vhd
	test-tool poke bad.vhd $(($(stat -c %s bad.vhd) - 512 + 64)) 00000000
	test-tool poke bad.vhd 64 00000000
	run_vhdtool 65 map bad.vhd
	assert_output --partial "checksum"
	run_vhdtool 0 create -p d.vhd c.avhd
	mv d.vhd gone.vhd
	run_vhdtool 66 map c.avhd
	f=$(fixture dfvfs-fat-differential.vhd)
	run_vhdtool 66 map --json "$f"
	truncate -s 1M r
	run_vhdtool 65 map -f vhd r
	run_vhdtool 64 map
	run_vhdtool 64 map r r
	run_vhdtool 64 map -f qcow2 r
	run_vhdtool 64 map --json -H r
	run_vhdtool 0 map -f raw gone.vhd      # any file maps as raw
	assert_output --partial "gone.vhd"
}
