#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The whole test suite, as CI runs it:
#   1. gcc build with -Werror: unit, integration, client (childwatchctl, libchildwatch),
#      fuzz corpus, lint, docs (man pages, every shell example), stress (a small load run),
#      benchmark smoke
#   2. the C tests under valgrind (the bus-activated daemon too)
#   3. an ASan+UBSan build (its own build dir) running the same tests
#   4. a clang build with -Werror running the unit tests and short libFuzzer runs
# Every test binary of every run counts once; a skip counts as a failure.
# The last line is "N passed, N failed".
#
# Usage: tests/run-all.sh [--quick]   (--quick: step 1 only)
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
quick=false
[ "${1:-}" = "--quick" ] && quick=true

passed=0
failed=0
suites=(--suite unit --suite integration --suite client --suite fuzz --suite lint --suite docs --suite stress)
# Under valgrind: the C test programs (the docs and stress drivers are Python or long-running
# load generators that valgrind would only slow down; the service under test is the same).
valgrind_suites=(--suite unit --suite integration --suite client --suite fuzz)

tally() { # BUILDDIR LOGNAME: count the results of the last meson test run
        local counts
        counts=$(python3 - "$1/meson-logs/$2" <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    else:
        bad += 1
        print(f"   {r}: {json.loads(line)['name']}", file=sys.stderr)
print(ok, bad)
PY
) || counts="0 1"
        read -r ok bad <<< "$counts"
        passed=$((passed + ok))
        failed=$((failed + bad))
}

step() { # NAME COMMAND...: a build step counts as one test
        echo "== $1"
        shift
        if "$@"; then passed=$((passed + 1)); return 0; fi
        failed=$((failed + 1))
        echo "   FAILED: $*"
        return 1
}

# 1. gcc, -Werror
if step "build (gcc, -Werror)" sh -c \
        '{ [ -d build ] || meson setup build -Dwerror=true; } && meson configure build -Dwerror=true && ninja -C build'; then
        meson test -C build --print-errorlogs "${suites[@]}"
        tally build testlog.json
        # A smoke run of the benchmarks, so they keep working (numbers, no assertions).
        meson test -C build --benchmark --suite bench-quick
        tally build testlog.json
fi

if ! $quick; then
        # 2. valgrind
        if [ -d build ] && command -v valgrind >/dev/null; then
                echo "== valgrind"
                meson test -C build --setup=valgrind --print-errorlogs "${valgrind_suites[@]}"
                tally build testlog-valgrind.json
        else
                echo "== valgrind: not available"; failed=$((failed + 1))
        fi

        # 3. ASan + UBSan
        if step "build (ASan+UBSan)" sh -c \
                '{ [ -d build-asan ] || meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; } && ninja -C build-asan'; then
                meson test -C build-asan --setup=asan --print-errorlogs "${suites[@]}"
                tally build-asan testlog-asan.json
        fi

        # 4. clang, -Werror, with the libFuzzer targets: the unit tests, and the fuzz suite, which
        #    replays the seed corpora and fuzzes each target for a short while (tests/fuzz)
        if step "build (clang, -Werror, libFuzzer)" sh -c \
                '{ [ -d build-clang ] || CC=clang meson setup build-clang -Dwerror=true -Dfuzzing=true -Db_lundef=false; } &&
                 meson configure build-clang -Dfuzzing=true -Db_lundef=false && ninja -C build-clang'; then
                meson test -C build-clang --print-errorlogs --suite unit --suite fuzz
                tally build-clang testlog.json
        fi
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
