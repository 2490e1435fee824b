#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# integration.sh - the whole stack end to end: Redis, steel-spawner,
# steel-reaper and lighttpd with steel-fcgi (tests/stack.sh) on free
# loopback ports under a temporary directory, workers from the emulator,
# session_ttl = 3.  Checks the HTTP API with curl and with
# "steel-tester --only core", that stack_up starts only what is missing, and
# that stack_down leaves no process behind.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"

lib_init
# Stop the stack before lib.sh removes $T; lib_cleanup reads the exit code.
trap 'rc=$?; [ -n "$STACK_RUN" ] && stack_down; (exit $rc); lib_cleanup' EXIT

TTL=3
unset STEEL_CONF STEEL_SESSION_TTL STEEL_WORKER_PORTS
stack_init "$T" "$(stack_free_port)" || exit 1
URL=$(stack_url)

if ! stack_up "$TTL"; then
    not_ok "the stack starts and POST /sessions works"
    lib_finish
fi
ok "the stack starts and POST /sessions works"

# http METHOD PATH [BODY] - sets CODE, BODY, CTYPE.
http() {
    local args=(-s -m 15 -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$1")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}" "$URL$2") || CODE=curl-failed
    BODY=$(cat "$T/body" 2>/dev/null)
    CTYPE=$(sed -n 's/^[Cc]ontent-[Tt]ype:[[:space:]]*\([^;[:space:]]*\).*/\1/p' "$T/headers")
}

has_files() {
    compgen -G "$1" >/dev/null
}

runs() {
    stack_pid "$1" >/dev/null
}

not_listening() {
    ! stack_port_busy "$1"
}

json_error() {
    [ "$CTYPE" = application/json ] && [[ $BODY == *'"error"'* ]]
}

# ---- the API with curl -------------------------------------------------------

http POST /sessions '{"user": "alice"}'
check "create answers 200 or 201 (got $CODE)" test "$CODE" = 200 -o "$CODE" = 201
ID=$(printf '%s' "$BODY" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
check "create returns an id ($BODY)" test -n "$ID"
check "create echoes the data" grep -q '"alice"' "$T/body"

http GET "/sessions/$ID"
check_eq "get answers 200" 200 "$CODE"
check "get returns the same id" grep -q "\"$ID\"" "$T/body"
check "get returns the data" grep -q '"alice"' "$T/body"

http DELETE "/sessions/$ID"
check_eq "delete answers 204" 204 "$CODE"
http GET "/sessions/$ID"
check_eq "get after delete answers 404" 404 "$CODE"

http POST /sessions '{"user":'
check_eq "bad JSON answers 400" 400 "$CODE"
check "bad JSON gets a JSON error body ($CTYPE: $BODY)" json_error

http GET /sessions/no-such-session
check_eq "a missing session answers 404" 404 "$CODE"
check "a missing session gets a JSON error body ($CTYPE: $BODY)" json_error

http GET /no-such-path
check_eq "an unknown path answers 404" 404 "$CODE"
check "an unknown path gets a JSON error body ($CTYPE: $BODY)" json_error

http GET "/sessions/abc%00def"
check "a NUL in the path answers 400 or 404 (got $CODE)" test "$CODE" = 400 -o "$CODE" = 404
check "... with a JSON error body ($CTYPE: $BODY)" json_error

http GET /health
check_eq "GET /health answers 200" 200 "$CODE"

# Over max_body (64 KiB): steel-fcgi's own 413.  Over lighttpd's
# server.max-request-size (1 MiB): lighttpd's 413 from etc/lighttpd/errors.
head -c 100000 /dev/zero | tr '\0' 'a' | sed 's/^/{"a":"/; s/$/"}/' >"$T/big.json"
http POST /sessions "@$T/big.json"
check_eq "a body over max_body answers 413" 413 "$CODE"
check "... with a JSON error body ($CTYPE)" json_error
head -c 2000000 /dev/zero | tr '\0' 'a' >"$T/huge.json"
http POST /sessions "@$T/huge.json"
check_eq "a body over lighttpd's limit answers 413" 413 "$CODE"
check "... with lighttpd's JSON error body ($CTYPE: $BODY)" json_error

# ---- logs --------------------------------------------------------------

check "steel-fcgi's stderr reaches the breakage log" test -s "$T/steel-fcgi.log"
check "workers log to worker_log_dir" has_files "$T/workers/*.log"

# ---- the black-box suite -------------------------------------------------

if timeout 120 "$top_builddir/tester/steel-tester" --url "$URL" --ttl "$TTL" \
    --only core --no-color >"$T/steel-tester.out" 2>&1; then
    ok "steel-tester --only core --ttl $TTL"
else
    not_ok "steel-tester --only core --ttl $TTL"
fi
sed 's/^/    /' "$T/steel-tester.out"

# ---- stack_up starts only what is missing --------------------------------

before=$(for n in redis spawner lighttpd; do stack_pid "$n"; done)
reaper=$(stack_pid reaper)
kill -TERM "$reaper" 2>/dev/null
wait "$reaper" 2>/dev/null
check "stack_up again succeeds" stack_up
after=$(for n in redis spawner lighttpd; do stack_pid "$n"; done)
check_eq "running parts keep their pids" "$before" "$after"
check "the stopped reaper runs again" runs reaper

# ---- down --------------------------------------------------------------

stack_down
check_eq "stack_down needs no leftover kill (all stopped in order)" 0 "$STACK_LEFTOVERS"
check_eq "no process of the stack is left" "" "$(stack_marked_pids)"
check "nothing listens on the HTTP port" not_listening "$STACK_HTTP_PORT"
check "pid files are removed" test -z "$(compgen -G "$T/*.pid")"
STACK_RUN=

lib_finish
