#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The bash completion of childwatchctl, without a bus: a shell function stands in for
# childwatchctl (functions win over commands) and records how it was called.
#
# Usage: test-ctl-completion.sh COMPLETION-FILE
set -u

# shellcheck source=/dev/null
source "$1" || exit 1

calls=$(mktemp)
trap 'rm -f "$calls"' EXIT
# shellcheck disable=SC2317 # called by the completion
childwatchctl() {
        printf '%s\n' "$*" >>"$calls"
        [[ " $* " == *" list --no-legend "* ]] && printf '3 100 running a\n17 200 exited b c\n'
        return 0
}

failed=0
n=0

# As bash sets it by default: "=" and ":" break words.
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'

# complete WORD... : what the completion offers for the last word (the cursor at its end),
# sorted, space-separated. It sees the line as bash passes it (COMP_LINE, COMP_POINT).
complete_words() {
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        _childwatchctl
        ((${#COMPREPLY[@]})) && printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' '
        return 0
}

expect() { # WANT WORD...
        local want=$1 got
        shift
        got=$(complete_words "$@")
        n=$((n + 1))
        if [[ $got == "$want" ]]; then
                echo "ok $n - $* -> $want"
        else
                echo "not ok $n - $*: got '$got', want '$want'"
                failed=1
        fi
}

expect_has() { # WORD-WANTED WORD...
        local want=$1 got
        shift
        got=$(complete_words "$@")
        n=$((n + 1))
        if [[ " $got " == *" $want "* ]]; then
                echo "ok $n - $* offers $want"
        else
                echo "not ok $n - $*: '$want' not in '$got'"
                failed=1
        fi
}

expect "run " childwatchctl ru
expect "signal status " childwatchctl s
expect "--system " childwatchctl --sy
expect "--address= " childwatchctl --addr
expect "17 3 " childwatchctl status ""
expect "17 " childwatchctl --json wait 1
expect "" childwatchctl status 3 ""
expect "--no-legend " childwatchctl list --no
expect "--json " childwatchctl list --js
expect "--timeout= " childwatchctl kill --ti
expect "TERM TRAP TSTP TTIN TTOU " childwatchctl signal 3 T
expect "17 3 " childwatchctl signal --group ""
expect "--wait --watch-bus " childwatchctl run --wa
expect "--pty --pty-size= " childwatchctl run --pt
expect "KILL " childwatchctl run --kill-signal KI
# Bash replaces only what follows "=" (a word break character).
expect "KILL " childwatchctl run --kill-signal=KI
COMP_WORDBREAKS=$' \t\n'
expect "--kill-signal=KILL " childwatchctl run --kill-signal=KI
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
expect "monitor " childwatchctl help mon
expect_has echo childwatchctl run --wait -- ech
expect_has echo childwatchctl run -E A=1 ech
expect_has "$1" childwatchctl run -- true "$(dirname "$1")/"

# The bus options of the command line reach the listing.
: >"$calls"
complete_words childwatchctl --system status "" >/dev/null
n=$((n + 1))
if grep -qx -- "--system list --no-legend" "$calls"; then
        echo "ok $n - --system is passed on"
else
        echo "not ok $n - --system is passed on: $(cat "$calls")"
        failed=1
fi
: >"$calls"
complete_words childwatchctl --address=unix:path=/x release "" >/dev/null
n=$((n + 1))
if grep -qx -- "--address=unix:path=/x list --no-legend" "$calls"; then
        echo "ok $n - --address= is passed on"
else
        echo "not ok $n - --address= is passed on: $(cat "$calls")"
        failed=1
fi

echo "1..$n"
exit $failed
