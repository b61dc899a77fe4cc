#!/usr/bin/env bats
# completions/vhdtool.bash: what TAB offers, with and without bash-completion.

load helpers

COMPLETION=$BATS_TEST_DIRNAME/../../completions/vhdtool.bash
BASH_COMPLETION=/usr/share/bash-completion/bash_completion

# comp WORD...: complete the last WORD of the command line WORD... (the last
# one may be empty) in a fresh bash; prints COMPREPLY space-separated.
# NOBC=1 leaves the bash-completion package out.
comp() {
	bash -c '
		if [ -z "${NOBC:-}" ] && [ -r "$BASH_COMPLETION" ]; then
			. "$BASH_COMPLETION"
		fi
		. "$0" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		_vhdtool vhdtool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		echo "${COMPREPLY[*]}"
	' "$COMPLETION" "$@"
}

# sorted: the words of stdin sorted, space-separated
sorted() {
	tr ' ' '\n' | sed '/^$/d' | sort | paste -sd ' ' -
}

# every verb, in the order of `vhdtool --help`
ALL_VERBS="create info check read write cat merge convert compare map set-parent resize compact repair"

# verbs: the commands `vhdtool --help` lists
verbs() {
	vhdtool --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | paste -sd ' ' -
}

# has WORDS WORD...: every WORD is one of WORDS
has() {
	local words=" $1 " w
	shift
	for w in "$@"; do
		[[ $words == *" $w "* ]] || { echo "'$w' not offered in: $words" >&2; return 1; }
	done
}

export BASH_COMPLETION

@test "completion: the file registers _vhdtool for vhdtool" {
	run bash -c '. "$0" && complete -p vhdtool' "$COMPLETION"
	assert_success
	assert_output 'complete -F _vhdtool vhdtool'
}

@test "completion: verbs after 'vhdtool '" {
	assert_equal "$(comp vhdtool '')" "$ALL_VERBS help"
}

@test "completion: the verbs offered are exactly the commands of vhdtool --help" {
	[ -n "$(verbs)" ]
	assert_equal "$(comp vhdtool help '')" "$(verbs)"
	assert_equal "$(verbs)" "$ALL_VERBS"
}

@test "completion: 'vhdtool cr' gives create" {
	assert_equal "$(comp vhdtool cr)" create
}

@test "completion: verbs after global options, global options before the verb" {
	assert_equal "$(comp vhdtool -q --root /tmp '')" "$ALL_VERBS help"
	has "$(comp vhdtool -)" -q --quiet -v --verbose --root --help --usage --version
	has "$(comp vhdtool --root = /tmp i)" info
}

@test "completion: 'vhdtool create --t' gives --type" {
	assert_equal "$(comp vhdtool create --t)" --type
}

@test "completion: 'vhdtool create --type ' gives fixed dynamic" {
	assert_equal "$(comp vhdtool create --type '')" "fixed dynamic"
	assert_equal "$(comp vhdtool create -t d)" dynamic
	# --type=<TAB>: bash splits the word at '='
	assert_equal "$(comp vhdtool create --type = '')" "fixed dynamic"
	assert_equal "$(comp vhdtool create --type = f)" fixed
}

@test "completion: 'vhdtool info --' includes --json and --chain" {
	has "$(comp vhdtool info --)" --json --chain --force --help
}

@test "completion: 'vhdtool help ' gives the verbs" {
	assert_equal "$(comp vhdtool help '')" "$ALL_VERBS"
	assert_equal "$(comp vhdtool help ch)" check
	assert_equal "$(comp vhdtool help co)" "convert compare compact"
	assert_equal "$(comp vhdtool help check '')" ""
}

@test "completion: every verb offers exactly the options of its --help" {
	local v want got n=0
	# the verbs of vhdtool --help, so a verb the completion lacks fails here too
	for v in $(verbs); do
		want=$(vhdtool "$v" --help | grep -E '^ +-' | sed -E 's/^ +//; s/ {2,}.*//' |
			grep -oE -- '--?[A-Za-z][A-Za-z-]*' | sorted)
		[ -n "$want" ]
		got=$(comp vhdtool "$v" - | sorted)
		assert_equal "$v: $got" "$v: $want"
		n=$((n + 1))
	done
	[ "$n" -eq 14 ]
}

@test "completion: format, type and output-format values of convert, compare, map" {
	assert_equal "$(comp vhdtool convert -O '')" "vhd raw"
	assert_equal "$(comp vhdtool convert --output-format = r)" raw
	assert_equal "$(comp vhdtool convert -f '')" "raw vhd vpc"
	assert_equal "$(comp vhdtool convert --source-format v)" "vhd vpc"
	assert_equal "$(comp vhdtool convert --type '')" "fixed dynamic"
	assert_equal "$(comp vhdtool convert -t f)" fixed
	assert_equal "$(comp vhdtool convert -b '')" ""
	assert_equal "$(comp vhdtool compare -f '')" "raw vhd vpc"
	assert_equal "$(comp vhdtool compare -F r)" raw
	assert_equal "$(comp vhdtool compare --format-b = '')" "raw vhd vpc"
	assert_equal "$(comp vhdtool map -f '')" "raw vhd vpc"
	assert_equal "$(comp vhdtool map --format v)" "vhd vpc"
	assert_equal "$(comp vhdtool convert --o)" --output-format
	assert_equal "$(comp vhdtool compare --format)" "--format-a --format-b"
}

@test "completion: -f and -p take no value where they are --force and --progress" {
	touch a.vhd b.avhd notes.txt
	mkdir sub
	# merge and set-parent: -f is --force, so FILE follows
	assert_equal "$(comp vhdtool merge -f '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool set-parent -f '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool info -f '' | sorted)" "a.vhd b.avhd sub"
	# convert and compare: -p is --progress; -f takes a format, then SRC
	assert_equal "$(comp vhdtool convert -p '' | sorted)" "a.vhd b.avhd notes.txt sub"
	assert_equal "$(comp vhdtool compare -p -f raw '' | sorted)" "a.vhd b.avhd notes.txt sub"
	assert_equal "$(comp vhdtool convert -f raw --type fixed n)" notes.txt
}

@test "completion: --into and the images of merge, set-parent, resize, compact, repair" {
	touch a.vhd b.avhd notes.txt
	mkdir sub
	assert_equal "$(comp vhdtool merge --into '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool merge --into = '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool merge --into a.vhd '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool merge --into a.vhd b.avhd '')" ""
	assert_equal "$(comp vhdtool set-parent b.avhd '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool set-parent b.avhd a.vhd '')" ""
	assert_equal "$(comp vhdtool resize '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool resize --shrink a.vhd '')" ""
	assert_equal "$(comp vhdtool compact -n '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool repair --dry-run --json '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool merge --d)" --dry-run
	assert_equal "$(comp vhdtool resize --s)" --shrink
}

@test "completion: convert, compare and map take raw files too" {
	touch a.vhd disk.img
	mkdir sub
	assert_equal "$(comp vhdtool convert '' | sorted)" "a.vhd disk.img sub"
	assert_equal "$(comp vhdtool convert disk.img '' | sorted)" "a.vhd disk.img sub"
	assert_equal "$(comp vhdtool convert disk.img a.vhd '')" ""
	assert_equal "$(comp vhdtool compare -s a.vhd '' | sorted)" "a.vhd disk.img sub"
	assert_equal "$(comp vhdtool compare a.vhd disk.img '')" ""
	assert_equal "$(comp vhdtool map --json '' | sorted)" "a.vhd disk.img sub"
	assert_equal "$(comp vhdtool map a.vhd '')" ""
}

@test "completion: FILE offers images and folders, -o any file, --parent images" {
	touch a.vhd b.avhd notes.txt
	mkdir sub
	assert_equal "$(comp vhdtool info '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool create -p '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vhdtool read -o '' | sorted)" "a.vhd b.avhd notes.txt sub"
	assert_equal "$(comp vhdtool write -i '' | sorted)" "a.vhd b.avhd notes.txt sub"
	# after FILE come numbers: nothing to offer
	assert_equal "$(comp vhdtool read a.vhd '')" ""
	assert_equal "$(comp vhdtool create -b '')" ""
}

@test "completion: works without the bash-completion package" {
	touch a.vhd notes.txt
	export NOBC=1
	assert_equal "$(comp vhdtool '')" "$ALL_VERBS help"
	assert_equal "$(comp vhdtool create --type '')" "fixed dynamic"
	assert_equal "$(comp vhdtool convert -O '')" "vhd raw"
	assert_equal "$(comp vhdtool merge --into '')" a.vhd
	assert_equal "$(comp vhdtool map n)" notes.txt
	assert_equal "$(comp vhdtool cat '')" a.vhd
	assert_equal "$(comp vhdtool cat -o n)" notes.txt
}
