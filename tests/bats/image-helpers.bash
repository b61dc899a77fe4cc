# image-helpers.bash — seeded test images for the convert, compare and map
# suites, built next to a raw-file model of the same content.
# Load after helpers.bash:   load helpers; load image-helpers

# scribble FILE RAW SEED COUNT [MAXLEN]: the same seeded writes into the image
# (through vhdtool write) and into the raw model (through dd)
scribble() {
	local file=$1 raw=$2 seed=$3 count=$4 max=${5:-70000} size off len s
	size=$(stat -c %s "$raw")
	while read -r off len s; do
		test-tool pattern "$s" "$len" > chunk
		vhdtool write "$file" "$off" < chunk
		dd if=chunk of="$raw" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
	done < <(test-tool scribble "$seed" "$count" "$max" "$size")
	rm -f chunk
}

# raw_scribble RAW SEED COUNT [MAXLEN]: the same writes into a raw file only
raw_scribble() {
	local raw=$1 seed=$2 count=$3 max=${4:-70000} size off len s
	size=$(stat -c %s "$raw")
	while read -r off len s; do
		test-tool pattern "$s" "$len" |
			dd of="$raw" bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
	done < <(test-tool scribble "$seed" "$count" "$max" "$size")
}

# make_chain RAW: base.vhd (64 KiB blocks, 2 MiB) <- c1.avhd <- c2.avhd <-
# c3.avhd, seeded writes into base, c1 and c3 (c2 holds nothing); RAW is the
# model of c3 (the whole chain), raw0 of base and raw1 of c1 and c2
make_chain() {
	local raw=$1
	vhdtool create -b 64K base.vhd 2M
	truncate -s 2M "$raw"
	scribble base.vhd "$raw" 3 30
	cp "$raw" raw0
	vhdtool create -p base.vhd c1.avhd
	scribble c1.avhd "$raw" 4 30
	cp "$raw" raw1
	vhdtool create -p c1.avhd c2.avhd
	vhdtool create -p c2.avhd c3.avhd
	scribble c3.avhd "$raw" 5 30
}

# no_temp_files: nothing left behind by an atomic writer in $W
no_temp_files() {
	local left
	left=$(find "$W" -maxdepth 1 -name '.*' ! -name . | head -5)
	if [ -n "$left" ]; then
		echo "temporary files left: $left" >&2
		return 1
	fi
}

# allocated_bytes FILE: bytes the file system holds for FILE
allocated_bytes() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }
