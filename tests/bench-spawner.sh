#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-spawner.sh - how long steel-spawner takes to bring N emulated
# workers from nothing to idle and registered, its own memory at that
# size, and how long a SIGTERM takes to stop them all.  Not a test (not in
# TESTS): it prints figures for the notes.
#
#   tests/bench-spawner.sh [N...]        default: 200 1000
#
# Needs about 10 MB of memory per emulated worker and ports 61000-64999
# (above the kernel's ephemeral range).

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init
spawner_setup

# The spawner raises its own soft limit to the hard one; ask for more when
# the hard limit allows it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200 1000)

vmrss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

for n in "${sizes[@]}"; do
    rcli flushall >/dev/null
    PORT_BASE=61000 PORT_MAX=64999
    write_conf pool_idle_target="$n" pool_max_workers="$n" \
        worker_bin="$EMU" worker_start_timeout_ms=60000 log_level=info
    t0=$(now_ms)
    start_spawner "bench-$n"
    if ! wait_for 600 idle_is "$n"; then
        echo "N=$n: only $(idle_count) idle after 600 s" >&2
        stop_spawner
        continue
    fi
    t1=$(now_ms)
    rss=$(vmrss_kb "$SP_PID")
    fds=$(ls "/proc/$SP_PID/fd" | wc -l)
    sleep 2 # settle, then look again: no busy loop at rest
    cpu0=$(awk '{print $14 + $15}' "/proc/$SP_PID/stat")
    sleep 5
    cpu1=$(awk '{print $14 + $15}' "/proc/$SP_PID/stat")
    hz=$(getconf CLK_TCK)
    t2=$(now_ms)
    stop_spawner
    t3=$(now_ms)
    left=$(ours | wc -l)
    echo "N=$n: all idle and registered after $((t1 - t0)) ms" \
        "($(((t1 - t0) * 1000 / n)) us per worker);" \
        "spawner VmRSS ${rss} kB, ${fds} fds;" \
        "CPU at rest $(((cpu1 - cpu0) * 1000 / hz / 5)) ms/s;" \
        "SIGTERM stop $((t3 - t2)) ms (exit $SP_RC), $left processes left"
done
lib_finish
