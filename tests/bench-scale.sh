#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-scale.sh - the short form of bench/scale (10 and 100 live sessions,
# a few seconds each).  It checks only that the benchmark ran to its end
# and reported every size with numbers (time to N idle, GET req/s and
# latencies, non-2xx count, reaper CPU per pass, spawner CPU at rest,
# Redis bytes per session), never a figure: CI machines are shared and
# their timings mean nothing.  Skipped (exit 77) when wrk is not installed.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"

if ! command -v wrk >/dev/null; then
    echo "wrk is not installed (Debian: apt-get install wrk, or ./dev deps): skipped"
    exit 77
fi
lib_init

# bench/scale stops what it started itself (its own EXIT trap); bound it
# in case it hangs, with SIGINT first so that trap runs.
timeout -k 20 -s INT 170 "$top_srcdir/bench/scale" --short >"$T/out" 2>"$T/bench.log"
rc=$?
sed 's/^/    /' "$T/out"
check_eq "bench/scale --short ran to its end" 0 "$rc"

NUM='[0-9]+(\.[0-9]+)?'
# size_row N - the row of size N has N and 10 numbers.
size_row() {
    local fields i
    read -r -a fields <<<"$(awk -v n="$1" '$1 == n' "$T/out")" || return 1
    [ ${#fields[@]} = 11 ] || { echo "N=$1: ${#fields[@]} fields, want 11"; return 1; }
    for i in $(seq 1 9); do
        [[ ${fields[i]} =~ ^$NUM$ ]] || { echo "N=$1: field $((i + 1)) is '${fields[i]}'"; return 1; }
    done
    # Redis's bytes per session are a difference of two readings: at small
    # N on a busy machine Redis's own churn between them may outweigh the
    # sessions, and the figure may be negative.
    [[ ${fields[10]} =~ ^-?$NUM$ ]] || { echo "N=$1: field 11 is '${fields[10]}'"; return 1; }
    [ "${fields[6]}" = 0 ] || { echo "N=$1: ${fields[6]} GETs were not 2xx"; return 1; }
    [ "${fields[8]}" -ge 1 ] || { echo "N=$1: no reaper pass in the rest window"; return 1; }
}
check "the header names the load" grep -q '^bench/scale: N live sessions on N workers; GET: wrk' "$T/out"
check "the column heads are printed" grep -Eq '^ *sessions +to N idle +GET/s +p50 ms +p99 ms' "$T/out"
for n in 10 100; do
    check "N=$n: every figure is a number, every GET answered 2xx, passes counted" size_row "$n"
done
check "no leftover processes" sh -c "! grep -q 'leftover' '$T/bench.log'"
lib_finish
