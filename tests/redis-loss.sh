#!/bin/bash
# redis-loss.sh - what OPERATIONS.md ("When Redis restarts") says happens
# when Redis goes away and comes back, on a live stack (tests/stack.sh):
#   - while it is down, creates and /health answer 503 (redis_unavailable,
#     Retry-After);
#   - back with the same data (an RDB snapshot): the session and its worker
#     carry on, nothing is killed;
#   - back with no data: every session answers 404, the spawner kills the
#     workers whose records vanished and starts new ones, creates work
#     again, and processes and records agree - without the spawner dying
#     (P:seq:worker went back: new workers must not get the ids of the
#     ones it is still stopping).

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"

lib_init
trap 'rc=$?; [ -n "$STACK_RUN" ] && stack_down; (exit $rc); lib_cleanup' EXIT

unset STEEL_CONF STEEL_SESSION_TTL STEEL_WORKER_PORTS
stack_init "$T" "$(stack_free_port)" || exit 1
if ! stack_up 30; then
    not_ok "the stack starts"
    lib_finish
fi
ok "the stack starts"
URL=$(stack_url)
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT
NODE=$(hostname)

# create [SECONDS] - a new session; prints its id.
create() {
    curl -s -m "${1:-15}" -X POST -H 'Content-Type: application/json' \
        -d '{"redis": "loss"}' "$URL/sessions" |
        sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

code_is() {
    [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/sessions/$1")" = "$2" ]
}

all_gone() {
    local p
    for p in "$@"; do
        stack_pid_live "$p" && return 1
    done
    return 0
}

# ---- down, then back with the same data --------------------------------------

# settled - no worker starting and the idle target met: nothing changes
# in Redis until the next session.
settled() {
    local id n=0
    for id in $(rcli_raw SMEMBERS "$P:workers"); do
        [ "$(rcli_raw HGET "$P:worker:$id" state)" = starting ] && return 1
    done
    [ "$(rcli LLEN "$P:idle")" -ge 4 ]
}

S1=$(create)
check "a session is created" test -n "$S1"
W1=$(rcli HGET "$P:session:$S1" worker)
pid1=$(rcli HGET "$P:worker:$W1" pid)
# The snapshot must hold every worker, or the ones missing from it are
# (rightly) killed after the restart.
check_within "the pool settles after the create" 15 settled
rcli SAVE >/dev/null
stack_stop redis 10

curl -s -m 15 -o "$T/down.out" -D "$T/down.headers" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d '{}' "$URL/sessions" >"$T/down.code"
check_eq "while Redis is down a create answers 503" 503 "$(cat "$T/down.code")"
check "... with the error redis_unavailable" grep -q '"redis_unavailable"' "$T/down.out"
check "... and Retry-After" grep -qi '^retry-after:' "$T/down.headers"
check_eq "... and /health answers 503" 503 \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/health")"
check "the worker keeps running meanwhile" stack_pid_live "$pid1"

stack_start_redis || not_ok "redis starts again"
check_within "back with the same data: the session answers again" 15 code_is "$S1" 200
check_eq "... on the same worker process" "$pid1" "$(rcli HGET "$P:worker:$W1" pid)"
check "... which was never killed" stack_pid_live "$pid1"
check "the spawner saw no record vanish" \
    bash -c "! grep -q 'record disappeared' '$STACK_RUN/spawner.log'"

# ---- down, then back with no data ---------------------------------------------

old_pids=$(stack_worker_pids)
stack_stop redis 10
rm -f "$STACK_RUN/redis/"*.rdb
stack_start_redis || not_ok "redis starts again"
check_within "back with no data: the session answers 404" 15 code_is "$S1" 404
# shellcheck disable=SC2086 # a list of pids
check_within "the spawner kills the workers whose records vanished" 15 all_gone $old_pids
sleep 2
if stack_pid spawner >/dev/null; then
    ok "the spawner survives the loss of its records"
    create_works() {
        [ -n "$(create 5)" ]
    }
    check_within "creates work again" 30 create_works
    procs_match_records() {
        local n
        n=$(stack_worker_pids | wc -l)
        [ "$n" -gt 0 ] && [ "$n" = "$(rcli SCARD "$P:node:$NODE")" ]
    }
    check_within "worker processes and Redis records agree again" 20 procs_match_records
else
    # Nothing below can work without a spawner.
    not_ok "the spawner survives the loss of its records"
    tail -n 5 "$STACK_RUN/spawner.log"
fi

stack_down
check_eq "the stack stops without leftovers" 0 "$STACK_LEFTOVERS"
STACK_RUN=
lib_finish
