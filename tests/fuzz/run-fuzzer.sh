#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A time-bounded libFuzzer run from the seed corpus, as a test: new inputs go to a temporary
# directory (never into the source tree), and a crash input is kept in $MESON_BUILD_ROOT or the
# current directory and printed (libFuzzer also prints it in base64).
#
# Usage: run-fuzzer.sh FUZZER SECONDS SEED_DIR
#   -print_funcs=0: printing newly covered functions starts llvm-symbolizer as a child
#   process, which fuzz-bus-handlers would take for an orphan of the service under test.
set -euo pipefail
fuzzer=$1 seconds=$2 seeds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${MESON_BUILD_ROOT:-$PWD}/fuzz-artifacts
mkdir -p "$work/corpus" "$artifacts"
# libFuzzer's own exit code for a crash, 77, would read as a skip to meson.
"$fuzzer" -print_funcs=0 -max_total_time="$seconds" -timeout=30 -error_exitcode=1 -timeout_exitcode=1 \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$work/corpus" "$seeds"
