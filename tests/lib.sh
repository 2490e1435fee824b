# SPDX-License-Identifier: BSD-2-Clause
# lib.sh - shared harness of the shell integration tests.  Source it, then
# call lib_init.  It gives a private temporary directory ($T), free loopback
# ports, background processes that are always stopped by pid on exit
# (failure included), a Redis of the test's own, and assertions that end in
# one "N passed, N failed" line.
#
# Environment: STEEL_KEEP_TMP=1 keeps $T after the test for inspection.

set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/portclaim.sh
. "$top_srcdir/tests/portclaim.sh"
: "${top_builddir:=$top_srcdir}"

LIB_PASSED=0
LIB_FAILED=0
LIB_PIDS=()
T=

lib_cleanup() {
    local rc=$? pid i
    # Stop everything we started, newest first: SIGTERM, then SIGKILL.
    for ((i = ${#LIB_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${LIB_PIDS[i]}
        kill -TERM "$pid" 2>/dev/null
    done
    for i in $(seq 1 50); do
        local alive=0
        for pid in "${LIB_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${LIB_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    # Workers a daemon under test may have left behind are ours too.
    if [ -n "$T" ] && [ -f "$T/extra-pids" ]; then
        while read -r pid; do
            kill -CONT "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        done <"$T/extra-pids"
    fi
    for pid in "${LIB_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "$rc" != 0 ] || [ "$LIB_FAILED" != 0 ]; then
            echo "--- logs of the failed test ($T) ---"
            for f in "$T"/*.log "$T"/*/*.log; do
                [ -f "$f" ] || continue
                echo "--- $f (last 40 lines)"
                tail -n 40 "$f"
            done
        fi
        [ "${STEEL_KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
    fi
}

lib_init() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/steel-test.XXXXXX")
    trap lib_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.  It is drawn from
# 61000-64999: above Linux's ephemeral range (32768-60999), so an outgoing
# connection cannot take it between the check and its use, and away from
# the worker port ranges the tests configure.  The claim comes before the
# connect that checks the port: a port another test claimed is never
# connected to, so a listener that counts its connections counts only its
# own test's.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((61000 + RANDOM % 4000))
        if port_claim "$p" && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# start_bg NAME CMD... - runs CMD in the background with stdout and stderr
# in $T/NAME.log; its pid is remembered for cleanup and printed in
# $T/NAME.pid.
start_bg() {
    local name=$1
    shift
    "$@" >"$T/$name.log" 2>&1 &
    local pid=$!
    LIB_PIDS+=("$pid")
    echo "$pid" >"$T/$name.pid"
}

# Remembers a pid that is not our child (a worker) for cleanup.
track_pid() {
    echo "$1" >>"$T/extra-pids"
}

# wait_for SECONDS CMD... - runs CMD every 0.05 s until it succeeds.
wait_for() {
    local limit=$1 i
    shift
    for i in $(seq 1 $((limit * 20))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# start_redis - a private redis-server on a free port; sets REDIS_PORT and
# defines rcli to talk to it.
start_redis() {
    REDIS_PORT=$(free_port) || return 1
    start_bg redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save "" --appendonly no --dir "$T" --protected-mode yes
    wait_for 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping ||
        { echo "redis did not start" >&2; return 1; }
}

rcli() {
    redis-cli --no-raw -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>/dev/null | sed 's/^(integer) //; s/^"\(.*\)"$/\1/'
}

rcli_raw() {
    redis-cli --raw -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>/dev/null
}

# ---- assertions --------------------------------------------------------

ok() {
    LIB_PASSED=$((LIB_PASSED + 1))
    echo "ok - $*"
}

not_ok() {
    LIB_FAILED=$((LIB_FAILED + 1))
    echo "not ok - $*"
}

# check DESC CMD... - passes when CMD succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# check_eq DESC WANT GOT
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (want '$2', got '$3')"; fi
}

# check_eventually DESC SECONDS CMD... - passes when CMD succeeds in time.
check_eventually() {
    local desc=$1 limit=$2
    shift 2
    if wait_for "$limit" "$@"; then ok "$desc"; else not_ok "$desc (not within ${limit}s)"; fi
}

# check_within DESC SECONDS CMD... - passes when CMD succeeds before the
# deadline; unlike check_eventually it counts wall-clock seconds, so it
# suits commands that themselves take a while (a curl, a redis-cli EVAL).
check_within() {
    local desc=$1 end=$((SECONDS + $2))
    shift 2
    while [ "$SECONDS" -lt "$end" ]; do
        if "$@" >/dev/null 2>&1; then
            ok "$desc"
            return 0
        fi
        sleep 0.2
    done
    not_ok "$desc (not within the deadline)"
    return 1
}

# Prints the summary line and exits 0 only when nothing failed.
lib_finish() {
    echo "$LIB_PASSED passed, $LIB_FAILED failed"
    [ "$LIB_FAILED" = 0 ]
    exit $?
}
