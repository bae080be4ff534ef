# bash completion for secret-agent(1). Installed as
# /usr/share/bash-completion/completions/secret-agent.

_secret_agent_sources()
{
	local cur=$1
	case $cur in
	env:*)
		COMPREPLY=($(compgen -P env: -e -- "${cur#env:}"))
		;;
	cred:*)
		if [[ -n ${CREDENTIALS_DIRECTORY-} && -d $CREDENTIALS_DIRECTORY ]]; then
			local names
			names=$(cd "$CREDENTIALS_DIRECTORY" && compgen -f -- "${cur#cred:}")
			COMPREPLY=($(compgen -P cred: -W "$names" -- "${cur#cred:}"))
		fi
		;;
	file:*)
		COMPREPLY=($(compgen -P file: -f -- "${cur#file:}"))
		;;
	*)
		COMPREPLY=($(compgen -W 'env: file: cred: -' -- "$cur") $(compgen -f -- "$cur"))
		compopt -o nospace 2>/dev/null
		;;
	esac
}

_secret_agent()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands='run materialize watch validate check-config status'
	local common='--config --secret --user --group --require-env --require-dir --wait-tcp
		--wait-any-tcp --timeout --on-change --debounce --poll-interval --grace --kill-after
		--hook-timeout --signal-group --privileged-watcher --log-format --log-level
		--status-listen --ready-file --warn-days --help'

	local cmd='' i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--)
			# After `run ... --` the service's command line begins: complete commands.
			if [[ $cmd == run ]]; then
				if ((i == cword - 1)); then
					COMPREPLY=($(compgen -c -- "$cur"))
				else
					COMPREPLY=($(compgen -f -- "$cur"))
				fi
				return
			fi
			;;
		-*) ;;
		*)
			if [[ -z $cmd ]] && [[ " $commands " == *" ${words[i]} "* ]]; then
				cmd=${words[i]}
			fi
			;;
		esac
	done

	case $prev in
	--config | --notify-pidfile | --ready-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--require-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--require-env)
		COMPREPLY=($(compgen -e -- "$cur"))
		return
		;;
	--user)
		COMPREPLY=($(compgen -u -- "$cur"))
		return
		;;
	--group)
		COMPREPLY=($(compgen -g -- "$cur"))
		return
		;;
	--on-change)
		COMPREPLY=($(compgen -W 'signal:SIGHUP signal:SIGUSR1 signal:SIGUSR2 restart exec: none' -- "$cur"))
		return
		;;
	--log-format)
		COMPREPLY=($(compgen -W 'text json' -- "$cur"))
		return
		;;
	--log-level)
		COMPREPLY=($(compgen -W 'debug info warn error' -- "$cur"))
		return
		;;
	--type)
		COMPREPLY=($(compgen -W 'auto ed25519 x509 tls-cert tls-key' -- "$cur"))
		return
		;;
	--cert | --ca)
		_secret_agent_sources "$cur"
		return
		;;
	--secret | --wait-tcp | --wait-any-tcp | --timeout | --debounce | --poll-interval | \
		--grace | --kill-after | --hook-timeout | --domain | --key-id | --warn-days | \
		--status-listen)
		return
		;;
	esac

	case $cmd in
	'')
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		;;
	run | materialize)
		COMPREPLY=($(compgen -W "$common" -- "$cur"))
		;;
	watch | check-config)
		COMPREPLY=($(compgen -W "$common --notify-pidfile" -- "$cur"))
		;;
	status)
		COMPREPLY=($(compgen -W '--status-listen --config --json --help' -- "$cur"))
		;;
	validate)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--type --domain --key-id --cert --ca --warn-days --json --help' -- "$cur"))
		else
			_secret_agent_sources "$cur"
		fi
		;;
	esac
} &&
	complete -F _secret_agent secret-agent
