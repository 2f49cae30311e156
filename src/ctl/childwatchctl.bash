# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Bash completion for childwatchctl. It needs nothing from the bash-completion package, so it
# also works when sourced on its own. Process IDs come from `childwatchctl list` on the bus
# that the command line names so far (--user, --system or --address=).

_childwatchctl_ids() {
        local -a bus=("$@")
        childwatchctl "${bus[@]}" list --no-legend 2>/dev/null | while read -r id _; do
                printf '%s\n' "$id"
        done
}

_childwatchctl() {
        # The words up to the cursor, split at white space only: bash splits COMP_WORDS at
        # "=" and ":" too, which would cut --address=unix:path=... into pieces.
        local line=${COMP_LINE:0:COMP_POINT}
        local -a words
        read -ra words <<<"$line"
        [[ -z $line || $line == *[[:space:]] ]] && words+=("")
        local cword=$((${#words[@]} - 1))
        local cur=${words[cword]}
        local prev=""
        ((cword > 0)) && prev=${words[cword - 1]}
        # Bash replaces only what follows the last word break character ("=", ":") of the
        # word; the rest of it stays and must not be part of a reply.
        local breaks="" keep=""
        [[ $COMP_WORDBREAKS == *=* ]] && breaks+="="
        [[ $COMP_WORDBREAKS == *:* ]] && breaks+=":"
        if [[ -n $breaks && $cur == *[$breaks]* ]]; then
                keep=${cur%"${cur##*["$breaks"]}"}
        fi

        _childwatchctl_complete
        local i
        for i in "${!COMPREPLY[@]}"; do
                COMPREPLY[i]=${COMPREPLY[i]#"$keep"}
        done
        [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return 0
}

# Fills COMPREPLY with whole words for cur (the caller trims them to what bash replaces).
_childwatchctl_complete() {
        local i
        local commands="run list status signal kill wait release adopt monitor help"
        local global_opts="--user --system --address= --json --help"
        local signals="HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT
                       CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS"
        local -a bus=()
        local command="" word
        local -i command_at=0 positional=0 after_program=0

        # Find the command, the bus options so far, and how many positional arguments of the
        # command come before the word being completed.
        for ((i = 1; i < cword; i++)); do
                word=${words[i]}
                case $word in
                --user | --system) bus+=("$word") ;;
                --address=*) bus+=("$word") ;;
                esac
                # The value of an option given as a word of its own is no positional argument.
                if ((!after_program)) && [[ $word == @(-C|-E|-u|-d|--cwd|--env|--unset|--description|--pty-size|--kill-timeout|--kill-signal|--timeout|--address) ]]; then
                        [[ $word == --address ]] && bus+=("--address=${words[i + 1]}")
                        ((i++))
                        continue
                fi
                if [[ -z $command ]]; then
                        if [[ $word != -* ]]; then
                                command=$word
                                command_at=i
                        fi
                elif [[ $word == -- && $command == run ]] && ((!after_program && !positional)); then
                        after_program=1
                elif [[ $word != -* ]] || ((after_program)); then
                        positional+=1
                fi
        done

        COMPREPLY=()
        if [[ -z $command ]]; then
                if [[ $cur == -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "$global_opts --version" -- "$cur")
                else
                        mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
                fi
                return 0
        fi

        local opts=""
        case $command in
        run)
                opts="--wait --pty --pty-size= --cwd= --env= --clear-env --unset= --description=
                      --watch-bus --kill-timeout= --kill-signal= --kill-on-release --fd="
                # After the program come its own arguments: files. After "--" comes the program.
                if ((positional > 0)); then
                        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
                        return 0
                fi
                if ((after_program)); then
                        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
                        return 0
                fi
                case $prev in
                -C | --cwd)
                        mapfile -t COMPREPLY < <(compgen -d -- "$cur")
                        return 0
                        ;;
                --kill-signal)
                        mapfile -t COMPREPLY < <(compgen -W "$signals" -- "$cur")
                        return 0
                        ;;
                esac
                case $cur in
                --cwd=*)
                        mapfile -t COMPREPLY < <(compgen -P --cwd= -d -- "${cur#--cwd=}")
                        return 0
                        ;;
                --kill-signal=*)
                        mapfile -t COMPREPLY < <(compgen -P --kill-signal= -W "$signals" -- "${cur#--kill-signal=}")
                        return 0
                        ;;
                -*) ;;
                *)
                        mapfile -t COMPREPLY < <(compgen -c -- "$cur")
                        return 0
                        ;;
                esac
                ;;
        list) opts="--no-legend" ;;
        status | wait | release)
                if [[ $cur != -* ]] && ((positional == 0)); then
                        mapfile -t COMPREPLY < <(compgen -W "$(_childwatchctl_ids "${bus[@]}")" -- "$cur")
                        return 0
                fi
                ;;
        kill)
                opts="--timeout="
                if [[ $cur != -* ]] && ((positional == 0)); then
                        mapfile -t COMPREPLY < <(compgen -W "$(_childwatchctl_ids "${bus[@]}")" -- "$cur")
                        return 0
                fi
                ;;
        signal)
                opts="--group"
                if [[ $cur != -* ]]; then
                        if ((positional == 0)); then
                                mapfile -t COMPREPLY < <(compgen -W "$(_childwatchctl_ids "${bus[@]}")" -- "$cur")
                        elif ((positional == 1)); then
                                mapfile -t COMPREPLY < <(compgen -W "$signals" -- "$cur")
                        fi
                        return 0
                fi
                ;;
        adopt)
                opts="--description= --kill-timeout= --kill-signal= --kill-on-release"
                if [[ $cur != -* ]] && ((positional == 0)); then
                        mapfile -t COMPREPLY < <(compgen -W "$(cd /proc && compgen -G '[0-9]*')" -- "$cur")
                        return 0
                fi
                ;;
        monitor)
                if [[ $cur != -* ]]; then
                        mapfile -t COMPREPLY < <(compgen -W "$(_childwatchctl_ids "${bus[@]}")" -- "$cur")
                        return 0
                fi
                ;;
        help)
                if ((cword == command_at + 1)); then
                        mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
                fi
                return 0
                ;;
        *) return 0 ;;
        esac

        if [[ $cur == -* ]]; then
                mapfile -t COMPREPLY < <(compgen -W "$opts $global_opts" -- "$cur")
        fi
        return 0
}

complete -F _childwatchctl childwatchctl
