#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-served.sh - a worker that served a session made a healthy start,
# whatever ends it afterwards.  Through a whole stack, every worker crashes
# on the DELETE of its first session, well within a second of its start
# under this load: 40 create -> DELETE flows, 4 at a time, all get a
# session, the spawner never logs "pool degraded", and /status never says
# degraded.  (Counted as start failures, five of these deaths in a row
# would degrade the pool: one start at a time, creates answered 503.)

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/served.conf" <<CONF
session_ttl = 60
pool_idle_target = 4
pool_max_workers = 16
create_wait = 5
worker_timeout_ms = 2000
reap_interval = 1
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
export STEEL_EMU_CRASH_PROB=1 STEEL_EMU_CRASH_ON=delete
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
U=$(stack_url)
STEEL_CONF=$T/served.conf stack_up || { not_ok "stack starts"; lib_finish; }
P=$(sed -n 's/^key_prefix = //p' "$T/run/steel-orchestrator.conf")
REDIS_PORT=$STACK_REDIS_PORT
idle_at_least() { test "$(rcli LLEN "$P:idle")" -ge "$1"; }
check_eventually "four workers idle" 15 idle_at_least 4

# One create -> DELETE flow; its create's status goes to $T/codes.
flow() {
    local b id
    b=$(mktemp "$T/f.XXXXXX")
    curl -s -m 20 -o "$b" -w '%{http_code}\n' -X POST \
        -H 'Content-Type: application/json' -d '{}' "$U/sessions" >>"$T/codes"
    id=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$b")
    [ -n "$id" ] && curl -s -m 20 -o /dev/null -X DELETE "$U/sessions/$id"
    rm -f "$b"
}
: >"$T/codes"
: >"$T/status"
(
    while :; do
        curl -s -m 2 "$U/status" | grep -o '"degraded": *[a-z]*' | head -1 >>"$T/status"
        sleep 0.1
    done
) &
sampler=$!
track_pid "$sampler"
for round in $(seq 1 10); do
    pids=()
    for _ in 1 2 3 4; do
        flow &
        pids+=($!)
    done
    wait "${pids[@]}"
done
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null

crashes=$(grep -c 'crashing during' "$T"/run/workers/*.log 2>/dev/null | awk -F: '{s+=$2} END {print s+0}')
ok_n=$(grep -c '^20[01]$' "$T/codes")
echo "# 40 flows: $ok_n created; $crashes workers crashed on their DELETE;" \
    "$(rcli_raw HGET "$P:stats" worker_starts) worker starts"
check_eq "every create got a session" 40 "$ok_n"
check "workers did crash on their DELETE ($crashes)" test "$crashes" -ge 20
check_eq "the spawner never logged 'pool degraded'" 0 \
    "$(grep -c 'pool degraded' "$T/run/spawner.log")"
check "/status was read during the load ($(wc -l <"$T/status") times)" \
    test "$(wc -l <"$T/status")" -ge 1
check_eq "/status never said degraded" 0 "$(grep -c true "$T/status")"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
