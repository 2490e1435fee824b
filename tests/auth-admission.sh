#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# auth-admission.sh - the token is checked before a create is admitted:
# with api_token set and every create queue of steel-fcgi full, a create
# with no token or a wrong one gets 401, not 503 queue_full, is not counted
# as a failed create, and makes steel-fcgi read nothing from Redis (no
# Retry-After estimate on behalf of a client that did not authenticate).
# An authenticated create still gets 503 queue_full.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
# 2 processes (the snippet's max-procs) x 1 create thread, each with a
# queue of 1: four creates fill steel-fcgi while the two workers are busy.
cat >"$T/aa.conf" <<CONF
session_ttl = 60
pool_idle_target = 2
pool_max_workers = 2
create_wait = 30
create_queue_max = 1000
reap_interval = 1
fcgi_threads = 2
fcgi_create_threads = 1
api_token = s3cret-api
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
export STEEL_API_TOKEN=s3cret-api # for stack_up's own create
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/aa.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
P=$(sed -n 's/^key_prefix = //p' "$T/run/steel-orchestrator.conf")
REDIS_PORT=$STACK_REDIS_PORT

# create OUT [TOKEN] - one POST; OUT gets the body, OUT.h the headers,
# OUT.w the status.
create() {
    local auth=()
    [ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")
    curl -s -m 20 -D "$1.h" -o "$1" -w '%{http_code}\n' -X POST \
        -H 'Content-Type: application/json' "${auth[@]}" -d '{"aa":1}' \
        "$U/sessions" >"$1.w"
}
idle_at_least() { test "$(rcli LLEN "$P:idle")" -ge "$1"; }
waiters_are() { test "$(rcli ZCARD "$P:waiters")" = "$1"; }
queue_full_count() { rcli HGET "$P:stats" create_failures:queue_full; }

check_eventually "two workers idle" 20 idle_at_least 2
create "$T/s1" s3cret-api
create "$T/s2" s3cret-api
check "two sessions hold both workers ($(cat "$T/s1.w") $(cat "$T/s2.w"))" \
    grep -q '^2' "$T/s1.w" "$T/s2.w"

# Eight authenticated creates: each process takes one into its create
# thread (waiting for a worker, in P:waiters) and queues one; the others
# are refused with queue_full at once.
pids=()
for i in $(seq 1 8); do
    create "$T/f$i" s3cret-api &
    pids+=($!)
done
check_eventually "both create threads wait for a worker" 10 waiters_are 2
full_now() { test "$(grep -l '^503' "$T"/f*.w 2>/dev/null | wc -l)" -ge 4; }
check_eventually "the creates beyond the queues got 503" 10 full_now
check "  queue_full" grep -q '"error": "queue_full"' \
    $(grep -l '^503' "$T"/f*.w | sed 's/\.w$//' | head -1)
# The handlers' counts reach P:stats about once a second, later on a busy
# machine: wait until every 503 so far is counted.
refused() { grep -l '^503' "$T"/f*.w 2>/dev/null | wc -l; }
counted() { test "$(queue_full_count)" = "$(refused)"; }
sleep 1
check_eventually "the refused creates are counted" 10 counted
before=$(queue_full_count)

# While the queues are full: creates without the token, or with a wrong
# one.  Redis's MONITOR shows every command steel-fcgi sends meanwhile.
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" MONITOR >"$T/monitor" 2>/dev/null &
mon=$!
check_eventually "  MONITOR is on" 10 grep -q '^OK' "$T/monitor"
for i in 1 2 3 4 5 6; do
    tok=
    [ $((i % 2)) = 0 ] && tok=wrong
    create "$T/u$i" $tok
done
sleep 0.3
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
codes=$(cat "$T"/u*.w | sort | uniq -c | tr -s ' \n' ' ')
check "creates without the right token get 401 with full queues ($codes)" \
    test "$(grep -c '^401$' "$T"/u*.w | awk -F: '{s+=$2} END {print s}')" = 6
check "  as JSON unauthorized with WWW-Authenticate" \
    grep -q '"error": "unauthorized"' "$T/u1"
check "  WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' "$T/u2.h"
# The Retry-After estimate of queue_full reads the oldest session.
est=$(grep -c "\"ZRANGE\" \"$P:sessions\" \"0\" \"0\" \"WITHSCORES\"" "$T/monitor")
check_eq "  no Retry-After estimate read from Redis for them" 0 "$est"

# An authenticated create still meets the full queue.
create "$T/a1" s3cret-api
check "an authenticated create gets 503 queue_full ($(cat "$T/a1.w") $(head -c 200 "$T/a1"))" \
    grep -q '"error": "queue_full"' "$T/a1"
check "  with Retry-After" grep -qi '^Retry-After: [0-9]' "$T/a1.h"
# Its count arriving shows the flushes since; the unauthenticated creates
# added nothing to them.
one_more() { test "$(queue_full_count)" -ge $((before + 1)); }
check_eventually "  it is counted as a queue_full create failure" 10 one_more
sleep 1.5
check_eq "  the creates without the token are not counted" $((before + 1)) \
    "$(queue_full_count)"

# Free the two workers so the waiting creates end now, not at create_wait.
for s in s1 s2; do
    id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$T/$s")
    [ -n "$id" ] && curl -s -m 10 -o /dev/null -X DELETE \
        -H 'Authorization: Bearer s3cret-api' "$U/sessions/$id"
done
wait "${pids[@]}"
stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
