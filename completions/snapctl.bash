# bash completion for snapctl(1)                             -*- shell-script -*-
#
# Install as $(BASHCOMPDIR)/snapctl, or source it. Works with or without the
# bash-completion package (uses its _filedir when present). Keep the verb and
# option lists in step with the verb table in cmd/snapctl/main.c and the popt
# tables of cmd/snapctl/*.c (tests/bats/snapctl-completion.bats checks them
# against `snapctl VERB --help`).
#
# VM names are the folders of the store (--root, else $VMCTL_ROOT, else the
# default store) that hold a vm.xml; snapshot names are the <name> of each
# <store>/<vm>/snapshots/<uuid>.xml, read with sed (no XML tools needed).

# The verbs.
_snapctl_verbs='create list show current apply undo delete rename describe export import prune du'

# options every verb accepts (common_opts in common/cli.c)
_snapctl_common='-q --quiet -v --verbose --root -h --help --usage'

# _snapctl_options VERB: that verb's options (long and short)
_snapctl_options()
{
	case $1 in
	create) echo "-d --description --disk-only --wait --json -H" ;;
	list) echo "-t --tree --json -H" ;;
	show) echo "-x --xml --json -H" ;;
	current) echo "--json -H" ;;
	apply) echo "-s --save-current --running --paused --stopped -y --yes --wait --json -H" ;;
	undo) echo "-k --keep --wait --json -H" ;;
	delete) echo "-r --subtree -n --dry-run --wait --json -H" ;;
	rename) echo "--wait" ;;
	describe) echo "-d --description --wait" ;;
	export) echo "-s --snapshot -o --output -f --force --wait --json -H" ;;
	import) echo "-n --name --new-id -d --dest --json -H" ;;
	prune) echo "-k --keep-last -o --older-than -m --match -a --all -n --dry-run --wait --json -H" ;;
	du) echo "--json -H" ;;
	esac
}

# _snapctl_takes_arg VERB OPTION: does OPTION of VERB take a separate value?
# (--wait and --save-current take one only as --wait=SECS, --save-current=NAME)
_snapctl_takes_arg()
{
	case $2 in
	--root) return 0 ;;
	-d | --description) [[ $1 == create || $1 == describe || $1 == import ]] ;;
	--dest | --name) [[ $1 == import ]] ;;
	-n) [[ $1 == import ]] ;; # delete/prune -n is --dry-run
	-s | --snapshot | --output) [[ $1 == export ]] ;;
	-o) [[ $1 == export || $1 == prune ]] ;;
	-k | --keep-last | --older-than | -m | --match) [[ $1 == prune ]] ;;
	*) return 1 ;;
	esac
}

# _snapctl_add CMD...: append CMD's output lines to COMPREPLY
_snapctl_add()
{
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <("$@")
}

_snapctl_dirs()
{
	if declare -F _filedir >/dev/null; then
		_filedir -d
		return
	fi
	compopt -o filenames 2>/dev/null
	_snapctl_add compgen -d -- "$cur"
}

# _snapctl_root: the store snapctl would use: --root, $VMCTL_ROOT, the default
_snapctl_root()
{
	local r=$root
	[[ -z $r ]] && r=${VMCTL_ROOT-}
	if [[ -z $r ]]; then
		if ((EUID == 0)); then
			r=/var/lib/vmctl
		elif [[ ${XDG_DATA_HOME-} == /* ]]; then
			r=$XDG_DATA_HOME/vmctl
		else
			r=$HOME/.local/share/vmctl
		fi
	fi
	[[ $r == "~" || $r == "~/"* ]] && r=$HOME${r:1}
	printf '%s\n' "$r"
}

# _snapctl_vms: names of the VMs in the store (folders holding a vm.xml)
_snapctl_vms()
{
	local r d n
	r=$(_snapctl_root)
	[[ -d $r ]] || return 0
	for d in "$r"/*/; do
		n=${d%/}
		n=${n##*/}
		[[ $n == [A-Za-z0-9]* && -e $d/vm.xml ]] && printf '%s\n' "$n"
	done
}

# _snapctl_snaps VM: the names of VM's snapshots, one a line: the first
# <name> of each snapshots/<uuid>.xml (the snapshot's own; <parent> and
# <domain> come after it), with the XML escapes undone
_snapctl_snaps()
{
	local dir f
	[[ $1 == [A-Za-z0-9]* && $1 != */* ]] || return 0
	dir=$(_snapctl_root)/$1/snapshots
	[[ -d $dir ]] || return 0
	for f in "$dir"/*.xml; do
		[[ -f $f ]] || continue
		sed -n '/<name>/{s:.*<name>\(.*\)</name>.*:\1:;s/&lt;/</g;s/&gt;/>/g;s/&quot;/"/g;s/&apos;/'"'"'/g;s/&amp;/\&/g;p;q;}' "$f"
	done
}

# _snapctl_snap_words VM: COMPREPLY gets the snapshot names that start with
# $cur (quotes typed so far are ignored), quoted for the shell; @current when
# $cur starts with '@'
_snapctl_snap_words()
{
	local want=$cur n
	want=${want#[\'\"]}
	want=${want//\\/}
	if [[ $want == @* ]]; then
		[[ @current == "$want"* ]] && COMPREPLY+=(@current)
		return
	fi
	while IFS= read -r n; do
		[[ -n $n && $n == "$want"* ]] || continue
		COMPREPLY+=("$(printf '%q' "$n")")
	done < <(_snapctl_snaps "$1")
}

_snapctl()
{
	local cw=${COMP_CWORD:-0}
	local cur=${COMP_WORDS[cw]-} prev=
	local verb='' vm='' npos=0 endopts='' root='' i w

	COMPREPLY=()
	# COMP_WORDBREAKS splits "--root=/x" into "--root" "=" "/x"
	if [[ $cur == = ]]; then
		cur=
		((cw > 0)) && prev=${COMP_WORDS[cw - 1]}
	elif ((cw > 1)) && [[ ${COMP_WORDS[cw - 1]} == = ]]; then
		prev=${COMP_WORDS[cw - 2]}
	elif ((cw > 0)); then
		prev=${COMP_WORDS[cw - 1]}
	fi

	# Walk the words before the cursor: global options, the verb, then the
	# verb's options and positional arguments (the first one is the VM).
	# --root is noted wherever it is.
	for ((i = 1; i < cw; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == = ]]; then
			((i++)) # "--opt" "=" "value": skip the value
			continue
		fi
		if [[ $w == --root && -z $endopts ]] && ((i + 1 < cw)); then
			if [[ ${COMP_WORDS[i + 1]} == = ]]; then
				((i + 2 < cw)) && root=${COMP_WORDS[i + 2]}
				((i += 2))
			else
				root=${COMP_WORDS[i + 1]}
				((i++))
			fi
			continue
		fi
		if [[ -z $verb ]]; then
			case $w in
			-*) ;;
			*) verb=$w ;;
			esac
			continue
		fi
		if [[ -z $endopts && $w == -- ]]; then
			endopts=1
		elif [[ -z $endopts && $w == -?* ]]; then
			if _snapctl_takes_arg "$verb" "$w" && [[ ${COMP_WORDS[i + 1]-} != = ]]; then
				((i++))
			fi
		else
			((npos == 0)) && vm=$w
			((npos++))
		fi
	done

	# before the verb: global options or the verb
	if [[ -z $verb ]]; then
		if [[ $prev == --root ]]; then
			_snapctl_dirs
		elif [[ $cur == -* ]]; then
			_snapctl_add compgen -W '-q --quiet -v --verbose --root -h --help
				--usage -V --version' -- "$cur"
		else
			_snapctl_add compgen -W "$_snapctl_verbs help" -- "$cur"
		fi
		return 0
	fi

	if [[ $verb == help ]]; then
		((npos == 0)) && _snapctl_add compgen -W "$_snapctl_verbs" -- "$cur"
		return 0
	fi
	[[ " $_snapctl_verbs " == *" $verb "* ]] || return 0

	# the value of an option
	if [[ -z $endopts ]] && _snapctl_takes_arg "$verb" "$prev"; then
		case $verb:$prev in
		*:--root | import:-d | import:--dest) _snapctl_dirs ;;
		export:-o | export:--output)
			compopt -o filenames 2>/dev/null
			_snapctl_add compgen -f -- "$cur" ;;
		export:-s | export:--snapshot) [[ -n $vm ]] && _snapctl_snap_words "$vm" ;;
		esac
		return 0 # a description, a name, a number: nothing to offer
	fi

	if [[ -z $endopts && $cur == -* ]]; then
		_snapctl_add compgen -W "$(_snapctl_options "$verb") $_snapctl_common" -- "$cur"
		return 0
	fi

	# positional arguments: the VM, then snapshots as the verb takes them
	if [[ $verb == import ]]; then
		((npos == 0)) || return 0
		compopt -o filenames 2>/dev/null
		_snapctl_add compgen -f -- "$cur"
		[[ - == "$cur"* ]] && COMPREPLY+=(-)
		return 0
	fi
	if ((npos == 0)); then
		_snapctl_add compgen -W "$(_snapctl_vms)" -- "$cur"
		return 0
	fi
	case $verb in
	show | apply | rename | describe) ((npos == 1)) && _snapctl_snap_words "$vm" ;;
	delete) _snapctl_snap_words "$vm" ;;
	esac
	return 0 # create's NAME and rename's NEWNAME are new: nothing to offer
}

complete -F _snapctl snapctl
