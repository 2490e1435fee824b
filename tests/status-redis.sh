#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# status-redis.sh - /status and /metrics answer whole or not at all: when
# Redis refuses one of the reads behind them (here an ACL that denies
# HMGET, which only the read of the nodes' states uses), the answer is 503 redis_unavailable
# with a JSON body and Retry-After, not a 200 with the nodes missing; once
# Redis answers again, so do they.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/sr.conf" <<CONF
pool_idle_target = 1
pool_max_workers = 2
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/sr.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
r() { redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" "$@"; }
get() {
    curl -s -m 10 -o "$T/r" -D "$T/r.h" -w '%{http_code}' \
        -H "Authorization: Bearer $STACK_ADMIN_TOKEN" "$U$1"
}
unavailable() {
    grep -q '"error": "redis_unavailable"' "$T/r" &&
        grep -qi '^Retry-After:' "$T/r.h"
}

check_eq "GET /status -> 200" 200 "$(get /status)"
check "  with this node's pool state" grep -q '"nodes":{"[^"]' "$T/r"
check_eq "Redis denies HMGET to steel-fcgi" OK "$(r ACL SETUSER steel-fcgi -hmget)"
check_eq "GET /status -> 503" 503 "$(get /status)"
check "  JSON redis_unavailable with Retry-After" unavailable
check_eq "GET /metrics -> 503" 503 "$(get /metrics)"
check "  JSON redis_unavailable with Retry-After" unavailable
check_eq "Redis allows HMGET again" OK "$(r ACL SETUSER steel-fcgi +hmget)"
check_eq "GET /status -> 200 again" 200 "$(get /status)"
check_eq "GET /metrics -> 200 again" 200 "$(get /metrics)"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
