#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# redis-blip.sh - a Redis restart costs no request that comes after it.
# Every steel-fcgi thread keeps its own Redis connection; after a restart
# each of them is dead.  A connection that was idle is checked before its
# next command and replaced, and a command whose connection breaks is
# sent once more when that is safe (rconn.h), so once Redis answers again
# no route answers 503 redis_unavailable, and the sessions that survived
# the restart answer 200.
#
# Redis is restarted twice under a load of reads (GET of a session,
# /health, /status), once with SIGTERM and once with SIGKILL, on the same
# socket and port with the data of a SAVE just before; then every route
# gets 100 sequential requests: POST, GET and DELETE /sessions, /health,
# /status, /metrics, /workers and the session list.  It prints the 503s
# the load saw while Redis was away (the figure NOTES.md quotes).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
unset STEEL_CONF
stack_init "$T/run" "$HTTP_PORT"
LOAD_PIDS=()
stop_load() {
    local p
    for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    LOAD_PIDS=()
}
trap 'stop_load; stack_down >/dev/null 2>&1; lib_cleanup' EXIT
stack_up 120 || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
REDIS_PORT=$STACK_REDIS_PORT

code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
create() {
    curl -s -m 15 -X POST -H 'Content-Type: application/json' -d '{"blip":1}' \
        "$U/sessions" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}
THREADS=$(($(sed -n 's/^fcgi_threads = //p' "$STACK_RUN/steel-orchestrator.conf") * 2))

# Every accept thread of both processes has used its connection.
for i in $(seq 1 $((THREADS * 4))); do code "$U/health" >/dev/null; done
S=$(create)
check "a session is created" test -n "$S"

# load FILE URL... - GETs the URLs in turn until killed, one status a line.
load() {
    local out=$1 u
    shift
    while :; do
        for u in "$@"; do
            code "$u" >>"$out"
            echo >>"$out"
        done
    done
}

# every_route N TAG - N sequential requests to each route; prints the
# statuses by route in $T/TAG.codes, one "route status" a line.
every_route() {
    local n=$1 out=$T/$2.codes i id c
    : >"$out"
    for i in $(seq 1 "$n"); do
        id=$(create)
        if [ -z "$id" ]; then
            echo "post fail" >>"$out"
            continue
        fi
        echo "post ok" >>"$out"
        echo "get $(code "$U/sessions/$id")" >>"$out"
        echo "delete $(code -X DELETE "$U/sessions/$id")" >>"$out"
    done
    for route in health status metrics workers sessions; do
        for i in $(seq 1 "$n"); do
            c=$(code -H "Authorization: Bearer $STACK_ADMIN_TOKEN" "$U/$route")
            echo "$route $c" >>"$out"
        done
    done
}

# blip SIGNAL - restarts Redis with SIGNAL under load, then checks.
blip() {
    local sig=$1 pid n503 nall bad
    rcli SAVE >/dev/null
    : >"$T/load-$sig"
    load "$T/load-$sig" "$U/sessions/$S" "$U/health" "$U/status" &
    LOAD_PIDS+=($!)
    sleep 1
    pid=$(stack_pid redis)
    kill "-$sig" "$pid"
    stack_wait_exit "$pid" 10
    wait "$pid" 2>/dev/null
    rm -f "$STACK_RUN/redis.pid"
    stack_start_redis || not_ok "redis starts again after SIG$sig"
    sleep 1
    stop_load
    n503=$(grep -c '^503$' "$T/load-$sig")
    nall=$(grep -c . "$T/load-$sig")
    echo "# SIG$sig: the load saw $n503 x 503 of $nall requests while Redis restarted"

    every_route 100 "$sig"
    bad=$(grep -v ' 200$\| 204$\| ok$' "$T/$sig.codes" | sort | uniq -c | tr '\n' ' ')
    check_eq "SIG$sig: no request failed" "" "$bad"
    check_eq "SIG$sig: 100 sequential requests to each of 8 routes answered" 800 \
        "$(grep -c ' 200$\| 204$\| ok$' "$T/$sig.codes")"
    check_eq "SIG$sig: 100 creates" 100 "$(grep -c '^post ok$' "$T/$sig.codes")"
    check_eq "SIG$sig: the session from before answers 200" 200 "$(code "$U/sessions/$S")"
}

blip TERM
blip KILL

: >"$T/gets"
for i in $(seq 1 "$THREADS"); do code "$U/sessions/$S" >>"$T/gets"; echo >>"$T/gets"; done
check_eq "the session answers 200 on every thread" "$THREADS" "$(grep -c '^200$' "$T/gets")"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
