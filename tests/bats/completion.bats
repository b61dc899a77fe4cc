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
	assert_equal "$(comp vhdtool '')" "create info check read write cat help"
}

@test "completion: every verb offered is a command of vhdtool --help" {
	local v
	[ -n "$(verbs)" ]
	for v in $(comp vhdtool ''); do
		[ "$v" = help ] || has "$(verbs)" "$v"
	done
}

@test "completion: 'vhdtool cr' gives create" {
	assert_equal "$(comp vhdtool cr)" create
}

@test "completion: verbs after global options, global options before the verb" {
	assert_equal "$(comp vhdtool -q --root /tmp '')" "create info check read write cat help"
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
	assert_equal "$(comp vhdtool help '')" "create info check read write cat"
	assert_equal "$(comp vhdtool help ch)" check
	assert_equal "$(comp vhdtool help check '')" ""
}

@test "completion: every verb offers exactly the options of its --help" {
	local v want got
	for v in $(comp vhdtool help ''); do
		want=$(vhdtool "$v" --help | grep -E '^ +-' | sed -E 's/^ +//; s/ {2,}.*//' |
			grep -oE -- '--?[A-Za-z][A-Za-z-]*' | sorted)
		got=$(comp vhdtool "$v" - | sorted)
		assert_equal "$v: $got" "$v: $want"
	done
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
	assert_equal "$(comp vhdtool '')" "create info check read write cat help"
	assert_equal "$(comp vhdtool create --type '')" "fixed dynamic"
	assert_equal "$(comp vhdtool cat '')" a.vhd
	assert_equal "$(comp vhdtool cat -o n)" notes.txt
}
