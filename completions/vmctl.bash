# bash completion for vmctl(1)                               -*- shell-script -*-
#
# Install as $(BASHCOMPDIR)/vmctl, or source it. Works with or without the
# bash-completion package (uses its _filedir when present). Keep the verb and
# option lists in step with the verb table in cmd/vmctl/main.c and the popt
# tables of cmd/vmctl/*.c (tests/bats/vmctl-completion.bats checks them
# against `vmctl VERB --help`). An option already on the line is not offered
# again (but --disk), nor one it excludes (--from-state/--fresh, --json/-H).

_vmctl_verbs='define create undefine set dumpxml list status start stop pause resume save console wait'

# options every verb accepts (common_opts in common/cli.c)
_vmctl_common='-q --quiet -v --verbose --root -h --help --usage'

# _vmctl_options VERB: that verb's options (long and short)
_vmctl_options()
{
	case $1 in
	define) echo "--wait" ;;
	create) echo "-m --memory -c --cpus -k --kernel -i --initrd --cmdline -d --disk --wait" ;;
	undefine) echo "--remove-disks --wait" ;;
	set) echo "-m --memory -c --cpus --wait" ;;
	list) echo "-a --all --json -H" ;;
	status) echo "--json -H" ;;
	start) echo "-c --console -p --paused -s --from-state --fresh --wait" ;;
	stop) echo "-f --force -t --timeout --no-wait --wait" ;;
	pause | resume | save) echo "--wait" ;;
	console) echo "-l --log -u --until -t --timeout --linger" ;;
	wait) echo "-t --timeout" ;;
	esac
}

# _vmctl_long VERB OPTION: OPTION's long form for VERB (-c is --cpus for
# create and set, --console for start); a value after '=' is dropped
_vmctl_long()
{
	local o=${2%%=*}
	case $o in
	-q) o=--quiet ;;
	-v) o=--verbose ;;
	-h) o=--help ;;
	-m) o=--memory ;;
	-c) [[ $1 == start ]] && o=--console || o=--cpus ;;
	-k) o=--kernel ;;
	-i) o=--initrd ;;
	-d) o=--disk ;;
	-a) o=--all ;;
	-p) o=--paused ;;
	-s) o=--from-state ;;
	-f) o=--force ;;
	-t) o=--timeout ;;
	-l) o=--log ;;
	-u) o=--until ;;
	esac
	printf '%s\n' "$o"
}

# _vmctl_offer VERB GIVEN: VERB's options without those in GIVEN (long
# forms, space-separated and padded) and those they exclude; --disk repeats
_vmctl_offer()
{
	local verb=$1 given=$2 o l out=()
	for o in $(_vmctl_options "$verb") $_vmctl_common; do
		l=$(_vmctl_long "$verb" "$o")
		[[ $l != --disk && $given == *" $l "* ]] && continue
		case $l in
		--fresh) [[ $given == *" --from-state "* ]] && continue ;;
		--from-state) [[ $given == *" --fresh "* ]] && continue ;;
		--json) [[ $given == *" -H "* ]] && continue ;;
		-H) [[ $given == *" --json "* ]] && continue ;;
		esac
		out+=("$o")
	done
	printf '%s\n' "${out[*]}"
}

# _vmctl_takes_arg VERB OPTION: does OPTION of VERB take a separate value?
# (--wait takes one only as --wait=SECS)
_vmctl_takes_arg()
{
	case $2 in
	--root) return 0 ;;
	-m | --memory | -c | --cpus) [[ $1 == create || $1 == set ]] ;;
	-k | --kernel | -i | --initrd | --cmdline | -d | --disk) [[ $1 == create ]] ;;
	-s | --from-state) [[ $1 == start ]] ;;
	-t | --timeout) [[ $1 == stop || $1 == console || $1 == wait ]] ;;
	-u | --until | --linger) [[ $1 == console ]] ;;
	*) return 1 ;;
	esac
}

# _vmctl_add CMD...: append CMD's output lines to COMPREPLY
_vmctl_add()
{
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <("$@")
}

# _vmctl_files [EXT]: complete $cur as files (only *.EXT when given) and
# folders
_vmctl_files()
{
	if declare -F _filedir >/dev/null; then
		_filedir "$@"
		return
	fi
	local reset
	reset=$(shopt -p extglob)
	shopt -s extglob
	compopt -o filenames 2>/dev/null
	if [[ $1 ]]; then
		_vmctl_add compgen -d -- "$cur"
		_vmctl_add compgen -f -X "!*.@($1|${1^^})" -- "$cur"
	else
		_vmctl_add compgen -f -- "$cur"
	fi
	eval "$reset"
}

_vmctl_dirs()
{
	if declare -F _filedir >/dev/null; then
		_filedir -d
		return
	fi
	compopt -o filenames 2>/dev/null
	_vmctl_add compgen -d -- "$cur"
}

# _vmctl_root: the store vmctl would use: --root, $VMCTL_ROOT, the default
_vmctl_root()
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

# _vmctl_vms: names of the VMs in the store (folders holding a vm.xml)
_vmctl_vms()
{
	local r d n
	r=$(_vmctl_root)
	[[ -d $r ]] || return 0
	for d in "$r"/*/; do
		n=${d%/}
		n=${n##*/}
		[[ $n == [A-Za-z0-9]* && -e $d/vm.xml ]] && printf '%s\n' "$n"
	done
}

_vmctl()
{
	local cw=${COMP_CWORD:-0}
	local cur=${COMP_WORDS[cw]-} prev=
	local verb='' npos=0 endopts='' root='' given=' ' i w

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
	# verb's options and positional arguments. --root is noted wherever.
	for ((i = 1; i < cw; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == = ]]; then
			((i++)) # "--opt" "=" "value": skip the value
			continue
		fi
		if [[ $w == --root && -z $endopts ]] && ((i + 1 < cw)); then
			given+='--root '
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
			-*) given+="$(_vmctl_long '' "$w") " ;;
			*) verb=$w ;;
			esac
			continue
		fi
		if [[ -z $endopts && $w == -- ]]; then
			endopts=1
		elif [[ -z $endopts && $w == -?* ]]; then
			given+="$(_vmctl_long "$verb" "$w") "
			if _vmctl_takes_arg "$verb" "$w" && [[ ${COMP_WORDS[i + 1]-} != = ]]; then
				((i++))
			fi
		else
			((npos++))
		fi
	done

	# before the verb: global options or the verb
	if [[ -z $verb ]]; then
		if [[ $prev == --root ]]; then
			_vmctl_dirs
		elif [[ $cur == -* ]]; then
			_vmctl_add compgen -W '-q --quiet -v --verbose --root -h --help
				--usage -V --version' -- "$cur"
		else
			_vmctl_add compgen -W "$_vmctl_verbs help" -- "$cur"
		fi
		return 0
	fi

	if [[ $verb == help ]]; then
		((npos == 0)) && _vmctl_add compgen -W "$_vmctl_verbs" -- "$cur"
		return 0
	fi
	[[ " $_vmctl_verbs " == *" $verb "* ]] || return 0

	# the value of an option
	if [[ -z $endopts ]] && _vmctl_takes_arg "$verb" "$prev"; then
		case $prev in
		--root) _vmctl_dirs ;;
		-k | --kernel | -i | --initrd) _vmctl_files ;;
		-d | --disk) _vmctl_files 'vhd|avhd' ;;
		-s | --from-state) _vmctl_files vsv ;;
		esac
		return 0 # sizes, counts, seconds, text: nothing to offer
	fi

	if [[ -z $endopts && $cur == -* ]]; then
		_vmctl_add compgen -W "$(_vmctl_offer "$verb" "$given")" -- "$cur"
		return 0
	fi

	# one positional argument: a file for define, a new name for create,
	# none for list, else the name of a VM of the store
	((npos == 0)) || return 0
	case $verb in
	define) _vmctl_files xml ;;
	create | list) ;;
	*) _vmctl_add compgen -W "$(_vmctl_vms)" -- "$cur" ;;
	esac
	return 0
}

complete -F _vmctl vmctl
