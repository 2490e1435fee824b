#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# auth.sh - api_token and admin_token through lighttpd against a live
# stack: 401 with a JSON body and WWW-Authenticate without the right
# token, /health open to all, the admin routes on their own token, and the
# challenge's checks passing for a client that sends the token.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/auth.conf" <<CONF
session_ttl = 3
pool_idle_target = 2
pool_max_workers = 16
api_token = s3cret-api
admin_token = s3cret-admin
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
export STEEL_API_TOKEN=s3cret-api
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/auth.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)

# req METHOD PATH [TOKEN] - prints the status; body in $T/r, headers $T/r.h
req() {
    local auth=()
    [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
    curl -s -m 10 -o "$T/r" -D "$T/r.h" -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' "${auth[@]}" \
        $([ "$1" = POST ] && echo "-d {}") "$U$2"
}
unauthorized() {
    grep -q '"error": "unauthorized"' "$T/r" &&
        grep -qi '^WWW-Authenticate: Bearer' "$T/r.h" &&
        grep -qi '^Content-Type: application/json' "$T/r.h"
}

check_eq "POST /sessions without a token -> 401" 401 "$(req POST /sessions)"
check "  JSON unauthorized with WWW-Authenticate" unauthorized
check_eq "POST /sessions with a wrong token -> 401" 401 "$(req POST /sessions wrong)"
check_eq "POST /sessions with the admin token -> 401" 401 "$(req POST /sessions s3cret-admin)"
code=$(req POST /sessions s3cret-api)
check "POST /sessions with the token succeeds ($code)" test "${code:0:1}" = 2
sid=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$T/r")
check_eq "GET of it without a token -> 401" 401 "$(req GET "/sessions/$sid")"
check_eq "GET of it with the token -> 200" 200 "$(req GET "/sessions/$sid" s3cret-api)"
check_eq "GET /health needs no token" 200 "$(req GET /health)"
check_eq "GET /status with the API token" 200 "$(req GET /status s3cret-api)"
check_eq "GET /metrics with the API token -> 401" 401 "$(req GET /metrics s3cret-api)"
check_eq "GET /metrics with the admin token" 200 "$(req GET /metrics s3cret-admin)"
check_eq "GET /workers with the admin token" 200 "$(req GET /workers s3cret-admin)"
check_eq "GET /workers without a token -> 401" 401 "$(req GET /workers)"
check_eq "GET /sessions (the list) with the API token -> 401" 401 "$(req GET /sessions s3cret-api)"
check_eq "GET /sessions (the list) with the admin token" 200 "$(req GET /sessions s3cret-admin)"
check_eq "DELETE with the token -> 204" 204 "$(req DELETE "/sessions/$sid" s3cret-api)"

"$top_builddir/tester/steel-tester" --url "$U" --ttl 3 --only core \
    --token s3cret-api --no-color >"$T/tester.out" 2>&1
rc=$?
check_eq "steel-tester --only core with the token passes" 0 "$rc"
[ "$rc" = 0 ] || cat "$T/tester.out"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
