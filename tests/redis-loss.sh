#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# redis-loss.sh - what OPERATIONS.md ("When Redis restarts") says happens
# when Redis goes away and comes back, on a live stack (tests/stack.sh),
# under GET load on live sessions:
#   - while it is down, creates and /health answer 503 (redis_unavailable,
#     Retry-After);
#   - restarted by SIGTERM and by SIGKILL, with the append-only file and
#     with nothing on disk (it comes back empty): no worker is killed,
#     every session whose worker lives answers 200 within 2 s of Redis
#     answering, no GET of them ever answers 404, and none answers 503
#     once Redis answers (spawner/rebuild.c registers the workers again
#     with the sessions their /status names);
#   - the spawner killed and Redis back empty, then the spawner started
#     again: it adopts its node's worker processes although Redis knows
#     none, and every session answers 200 again, no worker killed;
#   - a session deleted just before the loss does not come back: its 204
#     waits until the worker forgot it (a stopped worker holds the 204);
#   - a rebuild that does not come holds at most half of each process's
#     accept threads: the GETs beyond answer 503 at once.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"

lib_init
LOAD_PIDS=()
stop_load() {
    local p
    for p in "${LOAD_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    LOAD_PIDS=()
}
trap 'rc=$?; stop_load; [ -n "$STACK_RUN" ] && stack_down; (exit $rc); lib_cleanup' EXIT

unset STEEL_CONF STEEL_SESSION_TTL STEEL_WORKER_PORTS STEEL_REDIS_PERSIST
stack_init "$T" "$(stack_free_port)" || exit 1
if ! stack_up 30; then
    not_ok "the stack starts"
    lib_finish
fi
ok "the stack starts"
URL=$(stack_url)
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT

now_ms() { date +%s%3N; }

# create - a new session; prints its id.
create() {
    curl -s -m 15 -X POST -H 'Content-Type: application/json' \
        -d '{"redis": "loss"}' "$URL/sessions" |
        sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

code_of() {
    curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/sessions/$1"
}
all_200() {
    local s
    for s in "${SESSIONS[@]}"; do
        [ "$(code_of "$s")" = 200 ] || return 1
    done
}

SESSIONS=()
for _ in 1 2 3 4; do
    s=$(create)
    [ -n "$s" ] && SESSIONS+=("$s")
done
check_eq "four sessions are created" 4 "${#SESSIONS[@]}"
PIDS_BEFORE=$(stack_worker_pids | sort)

# load FILE - two clients GET every session in turn until stopped; each
# line of FILE is "ms code".
load() {
    local _
    for _ in 1 2; do
        (
            while :; do
                for s in "${SESSIONS[@]}"; do
                    printf '%s %s\n' "$(now_ms)" \
                        "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/sessions/$s")"
                done
            done
        ) >>"$1" &
        LOAD_PIDS+=($!)
    done
}

# round NAME SIGNAL PERSIST - Redis stopped by SIGNAL under load, started
# again with PERSIST (aof: as it was; none: empty).
round() {
    local name=$1 sig=$2 mode=$3 pid up f=$T/load-$1
    load "$f"
    sleep 1
    pid=$(stack_pid redis)
    kill "-$sig" "$pid"
    stack_wait_exit "$pid" 10
    wait "$pid" 2>/dev/null
    rm -f "$STACK_RUN/redis.pid"
    if [ "$mode" = none ]; then
        rm -rf "$STACK_RUN/redis/appendonlydir" "$STACK_RUN/redis/"*.rdb
    fi
    sleep 1
    STEEL_REDIS_PERSIST=$mode stack_start_redis || not_ok "$name: redis starts again"
    up=$(now_ms)
    local t0=$SECONDS
    while ! all_200 && [ $((SECONDS - t0)) -lt 10 ]; do
        sleep 0.1
    done
    local el=$(($(now_ms) - up))
    check "$name: every session answers 200 within 2 s of Redis answering (${el} ms)" \
        [ "$el" -le 2000 ]
    sleep 2
    stop_load
    check_eq "$name: no GET answered 404" 0 "$(awk '$2 == 404' "$f" | wc -l)"
    check_eq "$name: no GET answered 503 once Redis answered" 0 \
        "$(awk -v up="$up" '$1 > up + 200 && $2 == 503' "$f" | wc -l)"
    awk -v up="$up" '$1 > up && $2 != 200 { n[$2]++ } END { for (c in n) printf "# %s after restart: %d x %s\n", name, n[c], c }' name="$name" "$f"
    echo "# $name: $(wc -l <"$f") GETs"
    check_eq "$name: no worker process was killed or replaced" "$PIDS_BEFORE" \
        "$(stack_worker_pids | sort | grep -xF "$PIDS_BEFORE" | sort)"
}

# ---- down: 503s --------------------------------------------------------------
stack_stop redis 10
curl -s -m 15 -o "$T/down.out" -D "$T/down.headers" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d '{}' "$URL/sessions" >"$T/down.code"
check_eq "while Redis is down a create answers 503" 503 "$(cat "$T/down.code")"
check "... with the error redis_unavailable" grep -q '"redis_unavailable"' "$T/down.out"
check "... and Retry-After" grep -qi '^retry-after:' "$T/down.headers"
check_eq "... and /health answers 503" 503 \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/health")"
stack_start_redis || not_ok "redis starts again"
check_within "back with its AOF: the sessions answer again" 10 all_200

round sigterm-aof TERM aof
round sigkill-aof KILL aof
round sigterm-empty TERM none
round sigkill-empty KILL none
check "the spawner killed no worker because its record vanished" \
    bash -c "! grep -q 'disappeared.*killing it' '$STACK_RUN/spawner.log'"
check "the spawner registered workers again" \
    grep -q 'registered again' "$STACK_RUN/spawner.log"

# kill_component NAME - SIGKILL one component of the stack and wait for it.
kill_component() {
    local pid
    pid=$(stack_pid "$1")
    kill -KILL "$pid"
    stack_wait_exit "$pid" 10
    wait "$pid" 2>/dev/null
    rm -f "$STACK_RUN/$1.pid"
}
# redis_wiped - Redis SIGKILLed and started again with nothing on disk.
redis_wiped() {
    kill_component redis
    rm -rf "$STACK_RUN/redis/appendonlydir" "$STACK_RUN/redis/"*.rdb
    STEEL_REDIS_PERSIST=none stack_start_redis
}

# ---- the spawner and Redis's data lost at once ----------------------------------
# The spawner is killed, Redis comes back empty, then the spawner starts
# again: with no records to adopt from, it adopts its node's worker
# processes (their environment names the node) and registers them again
# with their sessions.  The spawner starts again 1 s after Redis, as
# systemd's RestartSec=1 in its unit starts it; GETs that miss meanwhile
# wait for the rebuild (REBUILD_WAIT_MS, fcgi/sessions.c).
f=$T/load-spawner
load "$f"
sleep 0.5
kill_component spawner
redis_wiped || not_ok "spawner lost: redis starts again"
up=$(now_ms)
sleep 1
check "spawner lost: the stack starts the spawner again" stack_up
t0=$SECONDS
while ! all_200 && [ $((SECONDS - t0)) -lt 15 ]; do
    sleep 0.1
done
el=$(($(now_ms) - up))
check "spawner lost: every session answers 200 again (${el} ms after Redis)" all_200
sleep 1
stop_load
awk -v up="$up" '$1 > up && $2 != 200 { n[$2]++ } END { for (c in n) printf "# spawner lost, after restart: %d x %s\n", n[c], c }' "$f"
check_eq "spawner lost: no GET answered 404" 0 "$(awk '$2 == 404' "$f" | wc -l)"
check_eq "spawner lost: no worker process was killed or replaced" "$PIDS_BEFORE" \
    "$(stack_worker_pids | sort | grep -xF "$PIDS_BEFORE" | sort)"
check "spawner lost: the spawner adopted the workers Redis lost" \
    grep -q 'redis lost the records of node' "$STACK_RUN/spawner.log"

# ---- a session deleted just before the loss does not come back -------------
D=$(create)
check "a session to delete is created" test -n "$D"
DW=$(rcli HGET "$P:session:$D" worker)
DPID=$(rcli HGET "$P:worker:$DW" pid)
DPORT=$(rcli HGET "$P:worker:$DW" port)
kill -STOP "$DPID"
curl -s -m 15 -o /dev/null -w '%{http_code}' -X DELETE "$URL/sessions/$D" >"$T/del.code" &
DEL_PID=$!
sleep 0.4
check "the 204 waits while the worker has not forgotten the session" \
    test ! -s "$T/del.code"
kill -CONT "$DPID"
wait "$DEL_PID"
check_eq "... and comes once it has" 204 "$(cat "$T/del.code")"
holds_nothing() {
    curl -s -m 2 "http://127.0.0.1:$DPORT/status" | grep -q '"session_id": *null'
}
check "the worker holds nothing" holds_nothing
redis_wiped || not_ok "redis starts again"
check_within "after the loss the other sessions answer again" 5 all_200
check_eq "the deleted session stays deleted" 404 "$(code_of "$D")"
idle_again() { [ "$(rcli HGET "$P:worker:$DW" state)" = idle ]; }
check_within "... and its worker is registered again idle" 5 idle_again

# ---- a late rebuild holds at most half the accept threads -------------------
# P:gen gone and the spawner stopped, so no rebuild comes: 40 GETs of
# unknown sessions at once.  Each process (2, 16 accept threads each) lets
# 8 wait for the rebuild; the rest answer 503 at once, and /health keeps
# answering.  Once the spawner runs again it notes P:gen and the waiting
# GETs answer 404.
NW=40
SPID=$(stack_pid spawner)
kill -STOP "$SPID"
rcli DEL "$P:gen" >/dev/null
for i in $(seq 1 "$NW"); do
    [ "$i" -gt 1 ] && echo next
    printf 'url = "%s/sessions/nosuchsession%02d"\nmax-time = 20\n' "$URL" "$i"
    printf 'output = "%s/w%d"\ndump-header = "%s/w%d.h"\n' "$T" "$i" "$T" "$i"
    printf 'write-out = "w%d %%{http_code} %%{time_total}\\n"\n' "$i"
done >"$T/wait.cfg"
curl -s -Z --parallel-max "$NW" --parallel-immediate -K "$T/wait.cfg" >"$T/wait.w" &
WAIT_PID=$!
sleep 1.5
hc=$(curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "$URL/health")
kill -CONT "$SPID"
wait "$WAIT_PID"
n503=$(awk '$2 == 503' "$T/wait.w" | wc -l)
n404=$(awk '$2 == 404' "$T/wait.w" | wc -l)
slow503=$(awk '$2 == 503 && $3 > m { m = $3 } END { printf "%d", m * 1000 }' "$T/wait.w")
echo "# $NW GETs while the rebuild was late: $n503 x 503, $n404 x 404; /health $hc"
check "late rebuild: GETs beyond 8 per process answered 503 ($n503)" test "$n503" -ge $((NW - 16))
check "late rebuild: ... at once (slowest $slow503 ms)" test "$slow503" -lt 1000
f503=$(awk '$2 == 503 { print $1; exit }' "$T/wait.w")
check "late rebuild: ... with the error redis_unavailable" grep -q '"redis_unavailable"' "$T/$f503"
check "late rebuild: ... and Retry-After" grep -qi '^retry-after:' "$T/$f503.h"
check "late rebuild: the others waited and answered 404 ($n404)" \
    test "$n404" -ge 1 -a $((n404 + n503)) -eq "$NW"
check "late rebuild: /health answered meanwhile ($hc)" test "${hc%% *}" = 200 -o "${hc%% *}" = 503
check "late rebuild: /health at once ($hc)" awk -v t="${hc#* }" 'BEGIN { exit !(t < 1) }'
gen_back() { [ "$(rcli EXISTS "$P:gen")" = 1 ]; }
check_within "late rebuild: the spawner notes P:gen again" 5 gen_back

stack_down
check_eq "the stack stops without leftovers" 0 "$STACK_LEFTOVERS"
STACK_RUN=
lib_finish
