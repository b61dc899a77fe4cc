#!/usr/bin/env bats
# completions/snapctl.bash: verbs, options per verb, VM names from the store,
# snapshot names from <store>/<vm>/snapshots/*.xml.

load helpers

COMPLETION=$BATS_TEST_DIRNAME/../../completions/snapctl.bash
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
ALL_VERBS="create list show current apply undo delete rename describe export import prune du"

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
		_snapctl snapctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		echo "${COMPREPLY[*]}"
	' "$COMPLETION" "$@"
}

# comp_lines WORD...: as comp, one candidate a line
comp_lines() {
	bash -c '
		if [ -z "${NOBC:-}" ] && [ -r "$BASH_COMPLETION" ]; then
			. "$BASH_COMPLETION"
		fi
		. "$0" || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_snapctl snapctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' "$COMPLETION" "$@"
}

sorted() {
	tr ' ' '\n' | sed '/^$/d' | sort | paste -sd ' ' -
}

# verbs: the commands `snapctl --help` lists
verbs() {
	snapctl --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | paste -sd ' ' -
}

has() {
	local words=" $1 " w
	shift
	for w in "$@"; do
		[[ $words == *" $w "* ]] || { echo "'$w' not offered in: $words" >&2; return 1; }
	done
}

# vm NAME: a stopped VM with one disk (never started: the kernel is a stand-in)
vm() {
	mkdir -p "$W/disks"
	[ -e "$W/k" ] || echo "not a kernel" > "$W/k"
	vhdtool create -b 64K "$W/disks/$1.vhd" 1M >/dev/null
	vmctl create "$1" --memory 64M --kernel "$W/k" --disk "$W/disks/$1.vhd" >/dev/null
}

export BASH_COMPLETION

@test "snapctl completion: the file registers _snapctl for snapctl" {
	run bash -c '. "$0" && complete -p snapctl' "$COMPLETION"
	assert_success
	assert_output 'complete -F _snapctl snapctl'
}

@test "snapctl completion: the verbs, each a command of snapctl --help" {
	local v
	assert_equal "$(comp snapctl '')" "$ALL_VERBS help"
	[ -n "$(verbs)" ]
	for v in $ALL_VERBS; do
		has "$(verbs)" "$v"
	done
	assert_equal "$(comp snapctl c)" "create current"
	assert_equal "$(comp snapctl de)" "delete describe"
	assert_equal "$(comp snapctl help '')" "$ALL_VERBS"
	assert_equal "$(comp snapctl help re)" rename
	assert_equal "$(comp snapctl help list '')" ""
	assert_equal "$(comp snapctl nosuchverb '')" ""
}

@test "snapctl completion: global options before the verb, verbs after them" {
	has "$(comp snapctl -)" -q --quiet -v --verbose --root --help --usage --version -V
	assert_equal "$(comp snapctl -q --root /tmp '')" "$ALL_VERBS help"
	assert_equal "$(comp snapctl --root = /tmp a)" apply
}

@test "snapctl completion: every verb offers exactly the options of its --help" {
	local v want got
	for v in $ALL_VERBS; do
		want=$(snapctl "$v" --help | grep -E '^ +-' | sed -E 's/^ +//; s/ {2,}.*//' |
			grep -oE -- '--?[A-Za-z][A-Za-z-]*' | sorted)
		got=$(comp snapctl "$v" - | sorted)
		assert_equal "$v: $got" "$v: $want"
	done
	assert_equal "$(comp snapctl apply --s)" "--save-current --stopped"
	assert_equal "$(comp snapctl delete --d)" --dry-run
	assert_equal "$(comp snapctl rename --)" "--wait --quiet --verbose --root --help --usage"
}

@test "snapctl completion: VM names from \$VMCTL_ROOT, --root DIR and --root=DIR" {
	vm web
	vm db
	mkdir "$VMCTL_ROOT/notavm" "$VMCTL_ROOT/.hidden"
	touch "$VMCTL_ROOT/.hidden/vm.xml"
	local v
	for v in $ALL_VERBS; do
		[ "$v" = import ] && continue   # import takes a stream file, not a VM
		assert_equal "$v: $(comp snapctl "$v" '' | sorted)" "$v: db web"
	done
	[[ " $(comp snapctl import '') " == *' - '* ]]   # stdin
	assert_equal "$(comp snapctl list --tree w)" web
	assert_equal "$(comp snapctl create -d 'a description' '' | sorted)" "db web"
	assert_equal "$(comp snapctl create --description = x '' | sorted)" "db web"
	assert_equal "$(comp snapctl apply --save-current = mine -y '' | sorted)" "db web"
	assert_equal "$(comp snapctl undo --wait '' | sorted)" "db web"
	assert_equal "$(comp snapctl undo --wait = 5 '' | sorted)" "db web"
	# after the VM: nothing for VM-only verbs, nothing for a new name
	assert_equal "$(comp snapctl list web '')" ""
	assert_equal "$(comp snapctl current web '')" ""
	assert_equal "$(comp snapctl undo web '')" ""
	assert_equal "$(comp snapctl create web '')" ""
	# another store
	VMCTL_ROOT=$W/other vm other
	assert_equal "$(comp snapctl --root "$W/other" list '')" other
	assert_equal "$(comp snapctl --root = "$W/other" show '')" other
	assert_equal "$(comp snapctl list --root "$W/other" '')" other
	VMCTL_ROOT=$W/other
	assert_equal "$(comp snapctl current '')" other
	VMCTL_ROOT=$W/none
	assert_equal "$(comp snapctl current '')" ""
}

@test "snapctl completion: the default store when neither is set (as snapctl)" {
	unset VMCTL_ROOT
	root_of() {
		bash -c '. "$0"; root=$1; _snapctl_root' "$COMPLETION" "${1-}"
	}
	if [ "$(id -u)" -eq 0 ]; then
		assert_equal "$(root_of)" /var/lib/vmctl
	else
		assert_equal "$(XDG_DATA_HOME=/x/share root_of)" /x/share/vmctl
		assert_equal "$(XDG_DATA_HOME= HOME=/h root_of)" /h/.local/share/vmctl
		export XDG_DATA_HOME=$W/xdg
		vm mine
		assert_equal "$(comp snapctl list '')" mine
	fi
	assert_equal "$(HOME=/h root_of '~/vms')" /h/vms
	assert_equal "$(VMCTL_ROOT=/env root_of)" /env
	assert_equal "$(VMCTL_ROOT=/env root_of /opt)" /opt
}

@test "snapctl completion: snapshot names of the VM named before, quoted for the shell" {
	vm web
	vm db
	snapctl create web S1
	snapctl create web 'Clean install'
	snapctl create web 'a<b & "c"'
	snapctl create db D1
	snapctl describe -d 'not <name>S9</name>' web S1
	assert_equal "$(comp_lines snapctl show web '' | sort)" "$(printf '%s\n' 'Clean\ install' 'S1' 'a\<b\ \&\ \"c\"' | sort)"
	assert_equal "$(comp snapctl show db '')" D1
	assert_equal "$(comp snapctl apply -y web S)" S1
	assert_equal "$(comp snapctl apply --save-current web C)" 'Clean\ install'
	assert_equal "$(comp snapctl apply --running web "'Cl")" 'Clean\ install'
	assert_equal "$(comp snapctl describe -d text web S)" S1
	assert_equal "$(comp snapctl rename web S)" S1
	assert_equal "$(comp snapctl show web @)" @current
	assert_equal "$(comp snapctl --root = "$VMCTL_ROOT" show db '')" D1
	# delete takes several; rename's new name, a second snapshot of show: nothing
	assert_equal "$(comp snapctl delete -r web S1 C)" 'Clean\ install'
	assert_equal "$(comp snapctl rename web S1 '')" ""
	assert_equal "$(comp snapctl show web S1 '')" ""
	# an unknown VM, a VM without snapshots
	assert_equal "$(comp snapctl show nope '')" ""
	vm empty
	assert_equal "$(comp snapctl show empty '')" ""
	# the names come from the XML files themselves (no snapctl run needed)
	mkdir -p "$W/r/x/snapshots"
	touch "$W/r/x/vm.xml"
	printf '<domainsnapshot>\n  <name>from file</name>\n  <parent>\n    <name>P</name>\n  </parent>\n</domainsnapshot>\n' \
		> "$W/r/x/snapshots/00000000-0000-4000-8000-000000000001.xml"
	assert_equal "$(comp snapctl --root "$W/r" show x '')" 'from\ file'
}

@test "snapctl completion: option values: descriptions none, --root folders" {
	mkdir sub
	touch file
	assert_equal "$(comp snapctl create -d '')" ""
	assert_equal "$(comp snapctl describe --description '')" ""
	assert_equal "$(comp snapctl --root '')" sub
	assert_equal "$(comp snapctl list --root = '')" sub
}

@test "snapctl completion: works without the bash-completion package" {
	vm web
	snapctl create web S1
	mkdir sub
	export NOBC=1
	assert_equal "$(comp snapctl '')" "$ALL_VERBS help"
	assert_equal "$(comp snapctl show '')" web
	assert_equal "$(comp snapctl show web '')" S1
	assert_equal "$(comp snapctl --root '' | sorted)" "disks sub"
}
