#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# api.sh - the API's promises under pressure, through lighttpd against a
# live stack: 503 with Retry-After when pool_max_workers is reached and
# success once a session is deleted, the bounded create queue, a client
# that gives up while queued, the session lifetime cap, bearer tokens, and
# the error shape of the edge cases.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/api.conf" <<CONF
session_ttl = 30
session_max_lifetime = 20
pool_idle_target = 1
pool_max_workers = 2
pool_idle_grace = 1
create_wait = 2
create_queue_max = 1
reap_interval = 1
fcgi_threads = 8
CONF

export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
# Set before stack_up: a start that fails halfway is stopped too.
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/api.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
P=$(sed -n 's/^key_prefix = //p' "$T/run/steel-orchestrator.conf")
REDIS_PORT=$STACK_REDIS_PORT

# create OUTFILE [curl args...] - prints the status code.
create() {
    local out=$1
    shift
    curl -s -m 15 -D "$out.h" -o "$out" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -d '{"t":1}' "$@" "$U/sessions"
}
sid_of() { sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }
idle_count() { rcli LLEN "$P:idle"; }
json_error_is() { # FILE CODE[|CODE...]
    grep -Eq "\"error\": \"($2)\"" "$1" && grep -q '"message": "' "$1"
}
# Conditions polled by check_eventually must be evaluated on every try.
waiters_are() { test "$(rcli ZCARD "$P:waiters")" = "$1"; }
idle_at_least() { test "$(idle_count)" -ge "$1"; }

# ---- pool exhaustion, Retry-After, queue bound ------------------------------
check_eventually "one worker idle before the test" 10 idle_at_least 1
a=$(create "$T/a") && A=$(sid_of "$T/a")
b=$(create "$T/b") && B=$(sid_of "$T/b")
check "two creates fill pool_max_workers = 2 ($a $b)" \
    test -n "$A" -a -n "$B" -a "${a:0:1}" = 2 -a "${b:0:1}" = 2
B_AT=$SECONDS

t0=$(date +%s%N)
c=$(create "$T/c")
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "a third create answers 503 once create_wait has passed" 503 "$c"
check "  after about create_wait (2 s), not much sooner or later ($ms ms)" \
    test "$ms" -ge 1900 -a "$ms" -le 4000
check "  with a JSON no_worker error" json_error_is "$T/c" no_worker
ra=$(sed -n 's/^Retry-After: *\([0-9]*\).*/\1/ip' "$T/c.h" | tr -d '\r')
check "  and a Retry-After of at least 1 s ($ra)" test "${ra:-0}" -ge 1

# One create waits (create_queue_max = 1); the next is refused at once.
create "$T/w" >"$T/w.code" &
waiter=$!
check_eventually "the first extra create is queued" 3 waiters_are 1
t0=$(date +%s%N)
q=$(create "$T/q")
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "a create beyond create_queue_max is refused" 503 "$q"
check "  at once ($ms ms)" test "$ms" -lt 1000
check "  with a JSON queue_full error" json_error_is "$T/q" queue_full
check "  and a Retry-After" grep -qi '^Retry-After: [0-9]' "$T/q.h"
wait "$waiter"

# Deleting a session frees its worker for the next create.
d=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE "$U/sessions/$A")
check_eq "DELETE of the first session" 204 "$d"
e=$(create "$T/e")
check "a create after the delete succeeds ($e)" test "${e:0:1}" = 2
E=$(sid_of "$T/e")

# The session list prints each session's time left in milliseconds
# ("expires_in":55.779), never a double's noise (55.779000000000003).
l=$(curl -s -m 5 -o "$T/l" -w '%{http_code}' -H "Authorization: Bearer $STACK_ADMIN_TOKEN" "$U/sessions")
check_eq "GET /sessions lists the sessions" 200 "$l"
check "  expires_in with three decimals" \
    grep -Eq '"expires_in": ?[0-9]+\.[0-9]{3}[,}]' "$T/l"
check "  and no longer fraction" \
    test "$(grep -Eo '[0-9]+\.[0-9]{4,}' "$T/l" | wc -l)" = 0

# ---- a client that gives up while queued ------------------------------------
# The pool is full (B and E).  A client waits 1 s and leaves; its create
# must not stay queued, nor take the worker a later delete frees.
curl -s -m 1 -o /dev/null -X POST -d '{"t":2}' "$U/sessions"
check_eventually "the abandoned create leaves the queue" 3 waiters_are 0
curl -s -m 10 -o /dev/null -X DELETE "$U/sessions/$E"
check_eventually "the freed worker stays idle for the next client" 3 \
    idle_at_least 1
sleep 0.5
check "  and is not claimed by the abandoned create" test "$(idle_count)" -ge 1
check_eq "no worker is left creating" 0 \
    "$(rcli_raw EVAL "local n=0 for _,id in ipairs(redis.call('SMEMBERS',KEYS[1])) do if redis.call('HGET',KEYS[2]..id,'state')=='creating' then n=n+1 end end return n" 2 "$P:workers" "$P:worker:")"

# ---- the lifetime cap ---------------------------------------------------------
# B was created B_AT with session_max_lifetime = 20 (long enough for the
# sections above): activity does not keep it beyond that.
check "the sections above ended before B's lifetime ($((SECONDS - B_AT)) s)" \
    test $((SECONDS - B_AT)) -lt 17
while [ $((SECONDS - B_AT)) -lt 18 ]; do
    g=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$U/sessions/$B")
    [ "$g" = 200 ] || break
    sleep 0.5
done
check_eq "a session is alive before its lifetime ends, GET keeps it" 200 "${g:-none}"
sleep $((21 - (SECONDS - B_AT)))
g=$(curl -s -m 5 -o "$T/g" -w '%{http_code}' "$U/sessions/$B")
check_eq "after session_max_lifetime it answers 404 despite activity" 404 "$g"
check "  with a JSON session_not_found error" json_error_is "$T/g" session_not_found

# ---- error shapes at the edge ---------------------------------------------------
while read -r method path want code; do
    # The admin token: GET /sessions is the (operator) session list.
    got=$(curl -s -m 5 -o "$T/x" -D "$T/x.h" -w '%{http_code}' -X "$method" \
        -H "Authorization: Bearer $STACK_ADMIN_TOKEN" --path-as-is "$U$path")
    check_eq "$method $path -> $want" "$want" "$got"
    check "  error $code as JSON" json_error_is "$T/x" "$code"
    check "  Content-Type is application/json" \
        grep -qi '^Content-Type: application/json' "$T/x.h"
done <<'CASES'
GET /nope 404 not_found
GET /sessions/../etc/passwd 404 not_found
GET /sessions/..%2F..%2Fetc 400 invalid_session_id
GET /sessions/a%00b 400 invalid_session_id|bad_request
GET /sessions/a%0D%0Ab 400 invalid_session_id|bad_request
PUT /sessions 405 method_not_allowed
DELETE /status 405 method_not_allowed
GET /sessions?limit=0 400 bad_request
CASES
check "405 carries Allow" bash -c "curl -s -m 5 -D - -o /dev/null -X PUT '$U/sessions' | grep -qi '^Allow: POST, GET'"
long=$(head -c 3000 /dev/zero | tr '\0' a)
got=$(curl -s -m 5 -o "$T/x" -w '%{http_code}' "$U/sessions/$long")
check_eq "a 3000-character id -> 400" 400 "$got"
check "  as JSON" json_error_is "$T/x" invalid_session_id

# ---- request counts reach Redis on their own, about once a second -------------
health_count() { v=$(rcli_raw HGET "$P:stats" lat_count:health); echo "${v:-0}"; }
h0=$(health_count)
for i in 1 2 3; do curl -s -m 5 -o /dev/null "$U/health"; done
health_counted() { test "$(health_count)" -ge $((h0 + 3)); }
check_eventually "three /health requests are counted in P:stats within 3 s, with no request after them" 3 health_counted

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
