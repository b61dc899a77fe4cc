# bash completion for vhdtool(1)                             -*- shell-script -*-
#
# Install as $(BASHCOMPDIR)/vhdtool, or source it. Works with or without the
# bash-completion package (uses its _filedir when present). Keep the option
# lists in step with the popt tables in cmd/vhdtool/*.c and common/cli.c.

_vhdtool_verbs='create info check read write cat merge convert compare map'
_vhdtool_verbs+=' set-parent resize compact repair'

# options every verb accepts (common_opts in common/cli.c)
_vhdtool_common='-q --quiet -v --verbose --root -h --help --usage'

# _vhdtool_options VERB: that verb's options (long and short)
_vhdtool_options()
{
	case $1 in
	create) echo "-t --type -b --block-size -p --parent -f --force --preallocate" ;;
	info) echo "-c --chain -f --force --json -H" ;;
	check) echo "-c --chain --json -H" ;;
	read | cat) echo "-o --output -f --force" ;;
	write) echo "-i --input" ;;
	merge) echo "--into -k --keep -n --dry-run -f --force --json -H" ;;
	convert) echo "-O --output-format -f --source-format -t --type -b --block-size --force
		-p --progress" ;;
	compare) echo "-s --strict -f --format-a -F --format-b -p --progress --json -H" ;;
	map) echo "-f --format --json -H" ;;
	set-parent) echo "-f --force --json -H" ;;
	resize) echo "--shrink --json -H" ;;
	compact | repair) echo "-n --dry-run --json -H" ;;
	esac
}

# _vhdtool_takes_arg VERB OPTION: does OPTION of VERB take a separate value?
# (-f is --force for most verbs but a format for convert, compare and map;
# -p is --parent for create but --progress for convert and compare)
_vhdtool_takes_arg()
{
	case $2 in
	--root) return 0 ;;
	-t | --type | -b | --block-size) [[ $1 == create || $1 == convert ]] ;;
	-p | --parent) [[ $1 == create ]] ;;
	-o | --output) [[ $1 == read || $1 == cat ]] ;;
	-i | --input) [[ $1 == write ]] ;;
	-f) [[ $1 == convert || $1 == compare || $1 == map ]] ;;
	-O | --output-format | --source-format) [[ $1 == convert ]] ;;
	-F | --format-a | --format-b) [[ $1 == compare ]] ;;
	--format) [[ $1 == map ]] ;;
	--into) [[ $1 == merge ]] ;;
	*) return 1 ;;
	esac
}

# _vhdtool_add CMD...: append CMD's output lines to COMPREPLY
_vhdtool_add()
{
	mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <("$@")
}

# _vhdtool_files [EXT]: complete $cur as files (only *.EXT when given) and
# directories
_vhdtool_files()
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
		_vhdtool_add compgen -d -- "$cur"
		_vhdtool_add compgen -f -X "!*.@($1|${1^^})" -- "$cur"
	else
		_vhdtool_add compgen -f -- "$cur"
	fi
	eval "$reset"
}

_vhdtool_dirs()
{
	if declare -F _filedir >/dev/null; then
		_filedir -d
		return
	fi
	compopt -o filenames 2>/dev/null
	_vhdtool_add compgen -d -- "$cur"
}

_vhdtool()
{
	local cw=${COMP_CWORD:-0}
	local cur=${COMP_WORDS[cw]-} prev=
	local verb='' npos=0 endopts='' i w

	COMPREPLY=()
	# COMP_WORDBREAKS splits "--type=fi" into "--type" "=" "fi"
	if [[ $cur == = ]]; then
		cur=
		((cw > 0)) && prev=${COMP_WORDS[cw - 1]}
	elif ((cw > 1)) && [[ ${COMP_WORDS[cw - 1]} == = ]]; then
		prev=${COMP_WORDS[cw - 2]}
	elif ((cw > 0)); then
		prev=${COMP_WORDS[cw - 1]}
	fi

	# Walk the words before the cursor: global options, the verb, then the
	# verb's options and positional arguments.
	for ((i = 1; i < cw; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == = ]]; then
			((i++)) # "--opt" "=" "value": skip the value
			continue
		fi
		if [[ -z $verb ]]; then
			case $w in
			--root) [[ ${COMP_WORDS[i + 1]-} == = ]] || ((i++)) ;;
			-*) ;;
			*) verb=$w ;;
			esac
			continue
		fi
		if [[ -z $endopts && $w == -- ]]; then
			endopts=1
		elif [[ -z $endopts && $w == -?* ]]; then
			if _vhdtool_takes_arg "$verb" "$w" && [[ ${COMP_WORDS[i + 1]-} != = ]]; then
				((i++))
			fi
		else
			((npos++))
		fi
	done

	# before the verb: global options or the verb
	if [[ -z $verb ]]; then
		if [[ $prev == --root ]]; then
			_vhdtool_dirs
		elif [[ $cur == -* ]]; then
			_vhdtool_add compgen -W '-q --quiet -v --verbose --root -h --help
				--usage -V --version' -- "$cur"
		else
			_vhdtool_add compgen -W "$_vhdtool_verbs help" -- "$cur"
		fi
		return 0
	fi

	if [[ $verb == help ]]; then
		((npos == 0)) && _vhdtool_add compgen -W "$_vhdtool_verbs" -- "$cur"
		return 0
	fi
	[[ " $_vhdtool_verbs " == *" $verb "* ]] || return 0

	# the value of an option
	if [[ -z $endopts ]] && _vhdtool_takes_arg "$verb" "$prev"; then
		case $prev in
		--root) _vhdtool_dirs ;;
		-t | --type) _vhdtool_add compgen -W 'fixed dynamic' -- "$cur" ;;
		-O | --output-format) _vhdtool_add compgen -W 'vhd raw' -- "$cur" ;;
		-f | -F | --source-format | --format-a | --format-b | --format)
			_vhdtool_add compgen -W 'raw vhd vpc' -- "$cur" ;;
		-p | --parent | --into) _vhdtool_files 'vhd|avhd' ;;
		-o | --output | -i | --input) _vhdtool_files ;;
		esac
		return 0 # -b/--block-size: a size, nothing to offer
	fi

	if [[ -z $endopts && $cur == -* ]]; then
		_vhdtool_add compgen -W "$(_vhdtool_options "$verb") $_vhdtool_common" -- "$cur"
		return 0
	fi

	# positional arguments: images, any file where raw files are taken too;
	# SIZE, OFFSET and LENGTH are numbers: nothing to offer
	case $verb in
	convert | compare) ((npos < 2)) && _vhdtool_files ;;
	map) ((npos == 0)) && _vhdtool_files ;;
	set-parent) ((npos < 2)) && _vhdtool_files 'vhd|avhd' ;;
	*) ((npos == 0)) && _vhdtool_files 'vhd|avhd' ;;
	esac
	return 0
}

complete -F _vhdtool vhdtool
