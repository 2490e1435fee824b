#!/usr/bin/env bash
# redis-blip.sh - a Redis restart costs no request that comes after it.
# Every steel-fcgi thread keeps its own Redis connection; after a restart
# each of them is dead.  A connection that was idle is checked before its
# next command and replaced, so the first request of every thread after
# the restart is answered like any other (no 503 redis_unavailable), and
# so are the sessions that survived the restart.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
base=$((20000 + (HTTP_PORT % 120) * 100))
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
export STEEL_WORKER_PORTS="$base-$((base + 99))"
unset STEEL_CONF
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
stack_up 30 || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT

code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
THREADS=$(($(sed -n 's/^fcgi_threads = //p' "$STACK_RUN/steel-orchestrator.conf") * 2))

# Every accept thread of both processes has used its connection.
for i in $(seq 1 $((THREADS * 4))); do code "$U/health" >/dev/null; done
S=$(curl -s -m 15 -X POST -H 'Content-Type: application/json' -d '{"blip":1}' \
    "$U/sessions" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
check "a session is created" test -n "$S"

# A restart with the data kept (SAVE, then the same directory).
rcli SAVE >/dev/null
stack_stop redis 10
stack_start_redis || not_ok "redis starts again"

: >"$T/after"
for i in $(seq 1 $((THREADS * 3))); do code "$U/health" >>"$T/after"; echo >>"$T/after"; done
n503=$(grep -c '^503$' "$T/after")
n200=$(grep -c '^200$' "$T/after")
echo "# after the restart: $n200 x 200, $n503 x 503 of $((THREADS * 3)) /health"
check_eq "no /health after the restart answered 503" 0 "$n503"
check_eq "every /health after the restart answered 200" $((THREADS * 3)) "$n200"
: >"$T/gets"
for i in $(seq 1 "$THREADS"); do code "$U/sessions/$S" >>"$T/gets"; echo >>"$T/gets"; done
check_eq "the session answers 200 on every thread" "$THREADS" "$(grep -c '^200$' "$T/gets")"
check "the handlers logged the reconnects, not failures" \
    bash -c "! grep -q 'redis_unavailable\|health: redis' '$STACK_RUN/steel-fcgi.log'"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
