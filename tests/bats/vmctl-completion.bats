#!/usr/bin/env bats
# completions/vmctl.bash: verbs, options, and VM names from the store.

load helpers
load vmctl-helpers

COMPLETION=$BATS_TEST_DIRNAME/../../completions/vmctl.bash
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
ALL_VERBS="define create undefine set dumpxml list status start stop pause resume save console wait"

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
		_vmctl vmctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		echo "${COMPREPLY[*]}"
	' "$COMPLETION" "$@"
}

sorted() {
	tr ' ' '\n' | sed '/^$/d' | sort | paste -sd ' ' -
}

# verbs: the commands `vmctl --help` lists
verbs() {
	vmctl --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | paste -sd ' ' -
}

has() {
	local words=" $1 " w
	shift
	for w in "$@"; do
		[[ $words == *" $w "* ]] || { echo "'$w' not offered in: $words" >&2; return 1; }
	done
}

export BASH_COMPLETION

@test "vmctl completion: the file registers _vmctl for vmctl" {
	run bash -c '. "$0" && complete -p vmctl' "$COMPLETION"
	assert_success
	assert_output 'complete -F _vmctl vmctl'
}

@test "vmctl completion: the verbs are exactly those of vmctl --help" {
	assert_equal "$(comp vmctl '' | sorted)" "$( (verbs; echo help) | tr ' ' '\n' | sorted)"
	assert_equal "$(comp vmctl '')" "$ALL_VERBS help"
	assert_equal "$(comp vmctl un)" undefine
	assert_equal "$(comp vmctl s)" "set status start stop save"
	assert_equal "$(comp vmctl help '')" "$ALL_VERBS"
	assert_equal "$(comp vmctl help st)" "status start stop"
	assert_equal "$(comp vmctl help status '')" ""
}

@test "vmctl completion: global options before the verb, verbs after them" {
	has "$(comp vmctl -)" -q --quiet -v --verbose --root --help --usage --version
	assert_equal "$(comp vmctl -q --root /tmp '')" "$ALL_VERBS help"
	assert_equal "$(comp vmctl --root = /tmp d)" "define dumpxml"
}

@test "vmctl completion: every verb offers exactly the options of its --help" {
	local v want got
	for v in $(verbs); do
		want=$(vmctl "$v" --help | grep -E '^ +-' | sed -E 's/^ +//; s/ {2,}.*//' |
			grep -oE -- '--?[A-Za-z][A-Za-z-]*' | sorted)
		got=$(comp vmctl "$v" - | sorted)
		assert_equal "$v: $got" "$v: $want"
	done
}

@test "vmctl completion: VM names from \$VMCTL_ROOT, --root DIR and --root=DIR" {
	mkvm web
	mkvm db
	mkdir "$VMCTL_ROOT/notavm" "$VMCTL_ROOT/.hidden"
	touch "$VMCTL_ROOT/.hidden/vm.xml"
	assert_equal "$(comp vmctl status '' | sorted)" "db web"
	assert_equal "$(comp vmctl undefine --remove-disks w)" web
	assert_equal "$(comp vmctl set -m 1G '' | sorted)" "db web"
	assert_equal "$(comp vmctl start --wait '' | sorted)" "db web"
	assert_equal "$(comp vmctl start --wait = 5 '' | sorted)" "db web"
	# one VM only: nothing after it
	assert_equal "$(comp vmctl status web '')" ""
	# list and create take no VM name
	assert_equal "$(comp vmctl list '')" ""
	assert_equal "$(comp vmctl create '')" ""
	# another store
	VMCTL_ROOT=$W/other mkvm other
	assert_equal "$(comp vmctl --root "$W/other" status '')" other
	assert_equal "$(comp vmctl --root = "$W/other" dumpxml '')" other
	assert_equal "$(comp vmctl status --root "$W/other" '')" other
	VMCTL_ROOT=$W/other
	assert_equal "$(comp vmctl pause '')" other
	VMCTL_ROOT=$W/none
	assert_equal "$(comp vmctl pause '')" ""
}

@test "vmctl completion: the default store when neither is set (as vmctl)" {
	unset VMCTL_ROOT
	root_of() {
		bash -c '. "$0"; root=$1; _vmctl_root' "$COMPLETION" "${1-}"
	}
	if [ "$(id -u)" -eq 0 ]; then
		assert_equal "$(root_of)" /var/lib/vmctl
	else
		assert_equal "$(XDG_DATA_HOME=/x/share root_of)" /x/share/vmctl
		assert_equal "$(XDG_DATA_HOME= HOME=/h root_of)" /h/.local/share/vmctl
	fi
	# the store vmctl itself resolves is the same
	if [ "$(id -u)" -ne 0 ]; then
		export XDG_DATA_HOME=$W/xdg
		vmctl create -k "$(kernel)" mine
		assert_equal "$(comp vmctl status '')" mine
	fi
	assert_equal "$(HOME=/h root_of '~/vms')" /h/vms
	assert_equal "$(VMCTL_ROOT=/env root_of)" /env
	assert_equal "$(VMCTL_ROOT=/env root_of /opt)" /opt
}

@test "vmctl completion: option values: files, disks, states, folders, none" {
	touch a.vhd b.avhd notes.txt web.xml s.vsv
	mkdir sub
	assert_equal "$(comp vmctl define '' | sorted)" "sub web.xml"
	assert_equal "$(comp vmctl create -d '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vmctl create --disk = '' | sorted)" "a.vhd b.avhd sub"
	assert_equal "$(comp vmctl create --kernel '' | sorted)" "a.vhd b.avhd notes.txt s.vsv sub web.xml"
	assert_equal "$(comp vmctl start --from-state '' | sorted)" "s.vsv sub"
	assert_equal "$(comp vmctl --root '' | sorted)" "sub"
	assert_equal "$(comp vmctl create -m '')" ""
	assert_equal "$(comp vmctl stop -t '')" ""
	assert_equal "$(comp vmctl list --)" "--all --json --quiet --verbose --root --help --usage"
}

@test "vmctl completion: works without the bash-completion package" {
	touch web.xml notes.txt
	mkvm web
	export NOBC=1
	assert_equal "$(comp vmctl '')" "$ALL_VERBS help"
	assert_equal "$(comp vmctl define '')" web.xml
	assert_equal "$(comp vmctl status '')" web
	assert_equal "$(comp vmctl create -k n)" notes.txt
}

COMMON_LONG="--quiet --verbose --root --help --usage"

@test "vmctl completion: the runtime verbs' options, long and short" {
	assert_equal "$(comp vmctl start --)" "--console --paused --from-state --fresh --wait $COMMON_LONG"
	assert_equal "$(comp vmctl stop --)" "--force --timeout --no-wait --wait $COMMON_LONG"
	assert_equal "$(comp vmctl pause --)" "--wait $COMMON_LONG"
	assert_equal "$(comp vmctl resume --)" "--wait $COMMON_LONG"
	assert_equal "$(comp vmctl save --)" "--wait $COMMON_LONG"
	assert_equal "$(comp vmctl console --)" "--log --until --timeout --linger $COMMON_LONG"
	assert_equal "$(comp vmctl wait --)" "--timeout $COMMON_LONG"
	has "$(comp vmctl start -)" -c -p -s
	has "$(comp vmctl stop -)" -f -t
	has "$(comp vmctl console -)" -l -u -t
	has "$(comp vmctl wait -)" -t
	assert_equal "$(comp vmctl stop --no)" --no-wait
	assert_equal "$(comp vmctl console --l)" "--log --linger"
	assert_equal "$(comp vmctl help con)" console
	assert_equal "$(comp vmctl help w)" wait
	assert_equal "$(comp vmctl pa)" pause
	assert_equal "$(comp vmctl r)" resume
}

@test "vmctl completion: runtime option values, then the VM name" {
	mkvm web
	touch s.vsv other.bin
	mkdir sub
	# options with a value: nothing to offer for seconds and text, .vsv files for a state
	assert_equal "$(comp vmctl start -s '' | sorted)" "s.vsv sub"
	assert_equal "$(comp vmctl stop --timeout '')" ""
	assert_equal "$(comp vmctl console -u '')" ""
	assert_equal "$(comp vmctl console --linger '')" ""
	assert_equal "$(comp vmctl console -t '')" ""
	assert_equal "$(comp vmctl wait -t '')" ""
	# after the value, or after an option without one: the VM
	assert_equal "$(comp vmctl start -s s.vsv '')" web
	assert_equal "$(comp vmctl start --from-state = s.vsv '')" web
	assert_equal "$(comp vmctl start -p --fresh '')" web
	assert_equal "$(comp vmctl stop -t 30 '')" web
	assert_equal "$(comp vmctl stop -f --no-wait '')" web
	assert_equal "$(comp vmctl console --until 'login:' -t 5 --linger 0.5 '')" web
	assert_equal "$(comp vmctl console --until = ready '')" web
	assert_equal "$(comp vmctl console -l '')" web
	assert_equal "$(comp vmctl wait --timeout 2.5 '')" web
	assert_equal "$(comp vmctl save --wait = 10 '')" web
	assert_equal "$(comp vmctl pause '')" web
	assert_equal "$(comp vmctl resume w)" web
	# -c is --console (no value) for start, --cpus for create and set
	assert_equal "$(comp vmctl start -c '')" web
	assert_equal "$(comp vmctl set -c '')" ""
	assert_equal "$(comp vmctl set -c 2 '')" web
	# one VM, then nothing
	assert_equal "$(comp vmctl console web '')" ""
	assert_equal "$(comp vmctl stop --force web '')" ""
}

@test "vmctl completion: an option on the line is not offered again, nor what it excludes" {
	local got
	got=$(comp vmctl start --from-state s.vsv -)
	has "$got" -c --console -p --paused --wait
	[[ " $got " != *" --fresh "* && " $got " != *" --from-state "* && " $got " != *" -s "* ]]
	got=$(comp vmctl start --fresh -)
	[[ " $got " != *" --fresh "* && " $got " != *" --from-state "* && " $got " != *" -s "* ]]
	assert_equal "$(comp vmctl start -s = s.vsv -c --)" "--paused --wait $COMMON_LONG"
	assert_equal "$(comp vmctl stop --force --)" "--timeout --no-wait --wait $COMMON_LONG"
	assert_equal "$(comp vmctl stop -f -t 5 --)" "--no-wait --wait $COMMON_LONG"
	assert_equal "$(comp vmctl console -u x -t 3 --)" "--log --linger $COMMON_LONG"
	assert_equal "$(comp vmctl start --wait=5 --w)" ""
	# global options count too, before or after the verb
	assert_equal "$(comp vmctl -q --root /tmp stop --)" "--force --timeout --no-wait --wait --verbose --help --usage"
	assert_equal "$(comp vmctl wait -v --)" "--timeout --quiet --root --help --usage"
	# --json and -H exclude each other; --disk may repeat
	got=$(comp vmctl status --json -)
	[[ " $got " != *" -H "* && " $got " != *" --json "* ]]
	got=$(comp vmctl list -H -)
	[[ " $got " != *" -H "* && " $got " != *" --json "* ]]
	has "$(comp vmctl list -H -)" -a --all
	assert_equal "$(comp vmctl create -d a.vhd --d)" --disk
}
