#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench.sh - the short form of bench/run: every load runs 2 s against a
# stack of its own and one emulator worker.  It checks only that the
# benchmark ran to its end and reported every row with numbers (req/s,
# latencies, non-2xx count, CPU per request of each process, memory), never
# a figure: CI machines are shared and their timings mean nothing.
# Skipped (exit 77) when wrk is not installed.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"

if ! command -v wrk >/dev/null; then
    echo "wrk is not installed (Debian: apt-get install wrk, or ./dev deps): skipped"
    exit 77
fi
lib_init

# bench/run stops what it started itself (its own EXIT trap); bound it in
# case it hangs, with SIGINT first so that trap runs.
timeout -k 20 -s INT 170 "$top_srcdir/bench/run" --short >"$T/out" 2>"$T/bench.log"
rc=$?
sed 's/^/    /' "$T/out"
check_eq "bench/run --short ran to its end" 0 "$rc"

NUM='[0-9]+(\.[0-9]+)?'
# row NAME - the fields of the row NAME, the name left out.
row() {
    awk -v name="$1" 'index($0, name) == 1 { print substr($0, length(name) + 1); found = 1 }
        END { exit !found }' "$T/out"
}
# fields_match NAME PATTERN... - the row has exactly these fields.
fields_match() {
    local name=$1 fields i want
    shift
    read -r -a fields <<<"$(row "$name")" || return 1
    [ ${#fields[@]} = $# ] || { echo "$name: ${#fields[@]} fields, want $#"; return 1; }
    i=0
    for want in "$@"; do
        [[ ${fields[i]} =~ ^$want$ ]] || { echo "$name: field $((i + 1)) is '${fields[i]}'"; return 1; }
        i=$((i + 1))
    done
}

# Through the stack: req/s, p50, p99, max, non-2xx, then the CPU of
# lighttpd, steel-fcgi, redis, spawner, reaper, workers, their total, wrk,
# and the others' CPU.
for name in "GET /sessions/:id " "POST+DELETE churn " "GET /health "; do
    check "row '${name% }': req/s, latencies, non-2xx and 9 CPU figures" \
        fields_match "$name" '[0-9]+' "$NUM" "$NUM" "$NUM" '[0-9]+' \
        "$NUM" "$NUM" "$NUM" "$NUM" "$NUM" "$NUM" "$NUM" "$NUM" '[0-9]+'
done
# Straight to one worker: the stack's columns are "-".
for name in "worker GET /sessions/:id " "worker POST+DELETE churn "; do
    check "row '${name% }': req/s, latencies, non-2xx and the worker's CPU" \
        fields_match "$name" '[0-9]+' "$NUM" "$NUM" "$NUM" '[0-9]+' \
        - - - - - "$NUM" "$NUM" "$NUM" '[0-9]+'
done
check "the control plane's RSS is reported" \
    grep -Eq "^control-plane RSS: $NUM MB \(lighttpd $NUM, steel-fcgi $NUM, spawner $NUM, reaper $NUM;" "$T/out"
check "Redis's used_memory is reported" grep -Eq "^redis used_memory: $NUM MB$" "$T/out"
lib_finish
