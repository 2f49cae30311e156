#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A short live demo of childwatchd from a build tree: on the session bus when
# there is one, else on a private bus that this script starts. Everything it
# starts is stopped at the end.
#
# Usage: docs/demo.sh [BUILD_DIR]
set -euo pipefail

build=${1:-build}
daemon=$build/src/childwatchd
[ -x "$daemon" ] || { echo "No $daemon: build first (meson setup $build && ninja -C $build)." >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT

if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] && busctl --user list >/dev/null 2>&1; then
        address=$DBUS_SESSION_BUS_ADDRESS
        echo "== Using your session bus"
else
        address=unix:path=$tmp/bus
        dbus-daemon --session --address="$address" --nofork --nopidfile --nosyslog 2>/dev/null &
        pids+=($!)
        echo "== No session bus: started a private one at $address"
fi
bus() { busctl --address="$address" "$@"; }
# Bounded wait for the bus socket / daemon.
for _ in $(seq 50); do bus list >/dev/null 2>&1 && break; sleep 0.1; done

if bus status org.childwatch.ChildWatch1 >/dev/null 2>&1; then
        echo "== org.childwatch.ChildWatch1 is already running there; using it"
else
        "$daemon" --address="$address" --idle-timeout=0 &
        pids+=($!)
        for _ in $(seq 50); do bus status org.childwatch.ChildWatch1 >/dev/null 2>&1 && break; sleep 0.1; done
        echo "== Started $daemon (pid ${pids[-1]})"
fi

M=(org.childwatch.ChildWatch1 /org/childwatch/ChildWatch1 org.childwatch.ChildWatch1.Manager)
P=org.childwatch.ChildWatch1.Process

# Every state change becomes a StateChanged signal; show them as they come.
timeout 10 gdbus monitor --address "$address" --dest org.childwatch.ChildWatch1 > "$tmp/monitor" 2>&1 &
pids+=($!)
# Bounded wait until the monitor has subscribed (it then names the owner).
for _ in $(seq 50); do grep -q "is owned by" "$tmp/monitor" && break; sleep 0.1; done

echo; echo "== Spawn: sleep 30"
read -r _ sleeper pid < <(bus call "${M[@]}" Spawn 'asa{sv}' 2 sleep 30 1 description s "a sleeper")
sleeper=${sleeper//\"/}
echo "   object $sleeper, pid $pid"

echo; echo "== Spawn: sh -c 'exit 3', then Wait for it"
read -r _ quitter _ < <(bus call -- "${M[@]}" Spawn 'asa{sv}' 3 sh -c 'exit 3' 0)
quitter=${quitter//\"/}
echo "   Wait -> $(bus call org.childwatch.ChildWatch1 "$quitter" $P Wait)"

echo; echo "== ListProcesses"
bus call "${M[@]}" ListProcesses

echo; echo "== Stop and continue the sleeper, then Kill it (SIGTERM, SIGKILL after 1 s)"
bus call org.childwatch.ChildWatch1 "$sleeper" $P SendSignal ib 19 false
bus call org.childwatch.ChildWatch1 "$sleeper" $P SendSignal ib 18 false
echo "   Kill -> $(bus call org.childwatch.ChildWatch1 "$sleeper" $P Kill t 1000000)"
echo "   State: $(bus get-property org.childwatch.ChildWatch1 "$sleeper" $P State)," \
     "ExitStatus: $(bus get-property org.childwatch.ChildWatch1 "$sleeper" $P ExitStatus)"

echo; echo "== Release both objects"
bus call org.childwatch.ChildWatch1 "$sleeper" $P Release
bus call org.childwatch.ChildWatch1 "$quitter" $P Release
bus call "${M[@]}" ListProcesses

# Bounded wait for the last of them, the sleeper's end.
for _ in $(seq 50); do grep -q "'killed'" "$tmp/monitor" && break; sleep 0.1; done
echo; echo "== StateChanged signals, as 'gdbus monitor' saw them:"
grep StateChanged "$tmp/monitor" | sed 's/^/   /'
echo; echo "== Done."
