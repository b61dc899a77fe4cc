# modify-helpers.bash — shared by the set-parent, resize, compact and repair
# suites (load after helpers): seeded writes into an image and a raw model,
# and the checks every in-place change must pass.

# scribble FILE RAW SEED COUNT [MAXLEN]: the same seeded writes into the image
# (vhdtool write) and into the raw model (dd), as in vhdtool-write.bats
scribble() {
	local file=$1 raw=$2 seed=$3 count=$4 maxlen=${5:-70000} size off len s
	size=$(stat -c %s "$raw")
	while read -r off len s; do
		test-tool pattern "$s" "$len" > chunk
		vhdtool write "$file" "$off" < chunk
		dd if=chunk of="$raw" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
	done < <(test-tool scribble "$seed" "$count" "$maxlen" "$size")
}

# put FILE RAW OFFSET LENGTH SEED|zero: one write into both
put() {
	local file=$1 raw=$2 off=$3 len=$4 seed=$5
	if [ "$seed" = zero ]; then
		head -c "$len" /dev/zero > chunk
	else
		test-tool pattern "$seed" "$len" > chunk
	fi
	vhdtool write "$file" "$off" < chunk
	dd if=chunk of="$raw" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
}

# same_as FILE RAW: the disk reads exactly as the raw model
same_as() {
	vhdtool cat -o "$BATS_TEST_TMPDIR/now.raw" "$1" || return 1
	cmp "$BATS_TEST_TMPDIR/now.raw" "$2"
}

# clean FILE: check exits 0
clean() {
	run_vhdtool 0 check "$@"
}

# clean_or_leak FILE: check exits 0 or 3 and finds no error
clean_or_leak() {
	run vhdtool check "$@"
	if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
		printf 'check %s: exit %s\n%s\n' "$*" "$status" "$output" >&2
		return 1
	fi
}

# jqv KEY: a key of the last run's JSON stdout
jqv() { jq -r "$1" <<<"$stdout"; }

# bat_entry FILE N: the N-th BAT entry (hex) of a disk whose BAT is at 1536
bat_entry() { test-tool peek "$1" $((1536 + 4 * $2)) 4; }

# crashed: the last `run` ended by SIGKILL
crashed() {
	[ "$status" -eq 137 ] || { echo "expected a kill (137), got $status: $output" >&2; return 1; }
}
