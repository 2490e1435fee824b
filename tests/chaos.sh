#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# chaos.sh - the short form of the chaos run: a private stack whose workers
# crash (2 %) or hang for good (1 %) on any request they get, probes
# included; steel-chaos runs 200 create -> GET -> DELETE flows, 10 at a
# time, and asserts that every answer comes within its deadline (a create
# within create_wait + worker_timeout + 2 s, a GET or DELETE within
# worker_timeout + 2 s), that no 5xx but a create's 503 or 502 and a GET's
# 504 is seen, that at least 99 % of the creates get a session, and that
# the pool never turns degraded.  (A create answers 502 worker_failed when
# create_attempts workers in a row crash or hang under it, which at these
# rates happens about once in many thousand creates; the limit keeps a
# poison request from killing the pool.)  Once the system has
# settled: no session is left, Redis's worker records and the worker
# processes agree, no process of the stack is a zombie, and stack_down
# leaves nothing behind.
#
# The long form, with figures for the notes, is bench/chaos.
#
# Workers take CHAOS_START_DELAY_MS (200) to start, as the real one does.
# CHAOS_GARBAGE_PROB (0) adds garbage replies (200 with cut-off JSON) on
# any request; a GET may then also answer 502 (tests/chaos-garbage.sh).
# CHAOS_CRASH_PROB (0.02), CHAOS_HANG_PROB (0.01), CHAOS_FLOWS (200),
# CHAOS_PARALLEL (10), CHAOS_ALLOW_5XX (more STAGE:CODE entries allowed)
# and CHAOS_MIN_CREATE_OK (the percentage of creates that must answer 2xx,
# 99)
# set up heavier runs (tests/chaos-heavy.sh).

# shellcheck disable=SC2317 # functions run through check_within
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"
lib_init

CHAOS=$top_builddir/tester/steel-chaos
FLOWS=${CHAOS_FLOWS:-200}
PARALLEL=${CHAOS_PARALLEL:-10}
TTL=15
CREATE_WAIT=10
WORKER_TIMEOUT_MS=5000
MARGIN_MS=2000

if [ ! -x "$CHAOS" ]; then
    not_ok "$CHAOS is built (run make)"
    lib_finish
fi

cat >"$T/chaos.conf" <<CONF
session_ttl = $TTL
pool_idle_target = 8
pool_max_workers = 32
fcgi_threads = 8
create_wait = $CREATE_WAIT
worker_timeout_ms = $WORKER_TIMEOUT_MS
reap_interval = 1
CONF

HTTP_PORT=$(free_port) || exit 1
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
# The spawner hands its environment to every worker it starts.
export STEEL_EMU_CRASH_PROB=${CHAOS_CRASH_PROB:-0.02}
export STEEL_EMU_HANG_PROB=${CHAOS_HANG_PROB:-0.01}
export STEEL_EMU_START_DELAY_MS=${CHAOS_START_DELAY_MS:-200}
export STEEL_EMU_GARBAGE_PROB=${CHAOS_GARBAGE_PROB:-0}
ALLOW_5XX=create:503,create:502,get:504
[ "$STEEL_EMU_GARBAGE_PROB" != 0 ] && ALLOW_5XX=$ALLOW_5XX,get:502
[ -n "${CHAOS_ALLOW_5XX:-}" ] && ALLOW_5XX=$ALLOW_5XX,$CHAOS_ALLOW_5XX
MIN_OK=(--min-create-ok "${CHAOS_MIN_CREATE_OK:-99}")
unset STEEL_SESSION_TTL STEEL_API_TOKEN

stack_init "$T/run" "$HTTP_PORT"
# Stop the stack before lib.sh removes $T; show its logs when a check
# failed (lib_cleanup only shows $T/*.log).
trap 'rc=$?; [ "$LIB_FAILED" != 0 ] && stack_logs 30; stack_down >/dev/null 2>&1; (exit $rc); lib_cleanup' EXIT
# shellcheck disable=SC2119 # stack_up takes an optional TTL, not our $1
echo "# workers crash on $STEEL_EMU_CRASH_PROB and hang on $STEEL_EMU_HANG_PROB of their requests; $FLOWS flows, $PARALLEL at a time"
if ! STEEL_CONF=$T/chaos.conf stack_up; then
    not_ok "the stack starts with crashing and hanging workers"
    lib_finish
fi
ok "the stack starts with crashing and hanging workers"
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT

# ---- the load ------------------------------------------------------------------

# A hard bound on the run in case steel-chaos itself misbehaves; SIGINT
# still gets its report printed.
# The stack's admin_token: steel-chaos reads GET /workers (the session
# API is open, so the token passes there too).
timeout -k 10 -s INT 110 "$CHAOS" --url "$(stack_url)" --token "$STACK_ADMIN_TOKEN" \
    --flows "$FLOWS" --parallel "$PARALLEL" --timeout 20 \
    --max-create-ms $((CREATE_WAIT * 1000 + WORKER_TIMEOUT_MS + MARGIN_MS)) \
    --max-get-ms $((WORKER_TIMEOUT_MS + MARGIN_MS)) \
    --max-delete-ms $((WORKER_TIMEOUT_MS + MARGIN_MS)) \
    --allow-5xx "$ALLOW_5XX" \
    "${MIN_OK[@]}" --no-degraded --json "$T/chaos.json" \
    >"$T/chaos.out" 2>"$T/chaos-progress.log"
rc=$?
# The figures, indented; steel-chaos's verdicts become this test's checks.
sed -e '/^ASSERTIONS$/,$d' -e 's/^/    /' "$T/chaos.out"
check "steel-chaos ran to its end (exit $rc: 0 all held, 1 some failed)" \
    test "$rc" = 0 -o "$rc" = 1
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "steel-chaos: ${line#ok - }" ;;
    "not ok - "*) not_ok "steel-chaos: ${line#not ok - }" ;;
    esac
done <"$T/chaos.out"

# ---- after the load: the system settles ----------------------------------------------
# A hung worker is killed after probe_failures (3) probes of a second
# each, one pass per reap_interval; give that a few seconds first.
sleep 4

running() {
    local name
    for name in $STACK_COMPONENTS; do
        stack_pid "$name" >/dev/null || { echo "$name is not running"; return 1; }
    done
}
check "redis, spawner, reaper and lighttpd still run" running

# Sessions whose worker record is missing or dead.
orphan_sessions() {
    # shellcheck disable=SC2016
    rcli_raw EVAL '
        local n = 0
        for _, k in ipairs(redis.call("KEYS", ARGV[1] .. ":session:*")) do
            local w = redis.call("HGET", k, "worker")
            local st = w and redis.call("HGET", ARGV[1] .. ":worker:" .. w, "state")
            if not st or st == "dead" then n = n + 1 end
        end
        return n' 0 "$P"
}
no_orphan_sessions() { [ "$(orphan_sessions)" = 0 ]; }
no_sessions() {
    [ "$(rcli ZCARD "$P:sessions")" = 0 ] &&
        [ -z "$(rcli_raw --scan --pattern "$P:session:*")" ]
}
check_within "no session is left on a dead or missing worker" 10 no_orphan_sessions
# Deleted ones are gone at once; one whose create the client gave up on
# expires after session_ttl.
check_within "no session is left at all (deleted, or expired and cleaned)" \
    $((TTL + 5)) no_sessions

# Every record of this node's workers that is not dead names a live worker
# process of this stack (its environment carries STEEL_PREFIX), and every
# live worker process has a record.  Mismatches go to $T/mismatch.
worker_records() {
    # shellcheck disable=SC2016
    rcli_raw EVAL '
        local out = {}
        for _, id in ipairs(redis.call("SMEMBERS", KEYS[1])) do
            local f = redis.call("HMGET", ARGV[1] .. ":worker:" .. id, "pid", "state")
            out[#out + 1] = id .. " " .. (f[1] or "-") .. " " .. (f[2] or "gone")
        end
        return out' 1 "$P:workers" "$P"
}
is_stack_worker() {
    stack_pid_live "$1" && grep -qzxF "STEEL_PREFIX=$P" "/proc/$1/environ" 2>/dev/null
}
records_match_processes() {
    local id pid state pids=" " bad=0
    : >"$T/mismatch"
    while read -r id pid state; do
        [ -n "$id" ] || continue
        pids="$pids$pid "
        [ "$state" = dead ] && continue
        if ! is_stack_worker "$pid"; then
            echo "worker $id ($state) names pid $pid, which is no live worker" >>"$T/mismatch"
            bad=1
        fi
    done < <(worker_records)
    for pid in $(stack_worker_pids); do
        if [[ $pids != *" $pid "* ]]; then
            echo "worker process $pid ($(stack_cmdline "$pid")) has no record" >>"$T/mismatch"
            bad=1
        fi
    done
    [ "$bad" = 0 ]
}
if ! check_within "redis's worker records and the worker processes agree" 10 \
    records_match_processes; then
    sed 's/^/    /' "$T/mismatch"
fi

# Zombies among the stack's processes, the spawner's children (the
# workers) and steel-fcgi (lighttpd's children).  A zombie's environment
# cannot be read, so it is found by its parent.
zombies() {
    local name pid f rest state ppid
    local -A ours=()
    for name in $STACK_COMPONENTS; do
        pid=$(cat "$STACK_RUN/$name.pid" 2>/dev/null) && [ -n "$pid" ] && ours[$pid]=1
    done
    for pid in $(stack_marked_pids); do ours[$pid]=1; done
    for f in /proc/[0-9]*/stat; do
        rest=$(sed 's/^.*) //' "$f" 2>/dev/null) || continue
        read -r state ppid _ <<<"$rest"
        pid=${f#/proc/}
        pid=${pid%/stat}
        if [ "$state" = Z ] && { [ -n "${ours[$ppid]:-}" ] || [ -n "${ours[$pid]:-}" ]; }; then
            echo "$pid (parent $ppid) is a zombie"
        fi
    done
}
no_zombies() { [ -z "$(zombies)" ]; }
if ! check_within "no process of the stack is a zombie, nor a child of one" 5 no_zombies; then
    zombies | sed 's/^/    /'
fi

# Figures for the log, not checks.
echo "# worker starts (P:stats worker_starts): $(rcli HGET "$P:stats" worker_starts)"
echo "# spawner 'pool degraded' lines: $(grep -c 'pool degraded' "$STACK_RUN/spawner.log")"
echo "# workers by state now: $(stack_worker_counts)"

# ---- down ----------------------------------------------------------------------
stack_down
check_eq "stack_down leaves no process behind" 0 "$STACK_LEFTOVERS"
lib_finish
