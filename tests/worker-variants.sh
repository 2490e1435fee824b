#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# worker-variants.sh - the parts of the worker's API nobody documented
# (../worker-facts.md) do not matter: for each variant of the emulator a
# real binary may resemble, a whole stack runs "steel-tester --only core"
# (created_at byte-identical in POST and GET, 404 after the TTL, routing,
# DELETE) and a Redis that loses its data rebuilds the sessions from the
# workers with the worker's own created_at as their start.
#   - a create answered 200, not 201, created_at an RFC 3339 string, a
#     start-up of 300 ms (about what the real binary takes);
#   - created_at in epoch milliseconds and creates that take 400 ms.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"

lib_init
trap 'rc=$?; [ -n "${STACK_RUN:-}" ] && stack_down >/dev/null 2>&1; (exit $rc); lib_cleanup' EXIT

TTL=3
unset STEEL_SESSION_TTL STEEL_WORKER_PORTS
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"

# A session's start as the rebuild restored it: P:session:<id>'s
# "created" field (epoch ms), or empty.
started_ms() { rcli_raw HGET "$P:session:$1" created; }

# variant NAME CONF-LINES ENV... - one stack with those workers.
variant() {
    local name=$1 conf=$2 sid body code t0 created_w started
    shift 2
    echo "# ---- $name"
    printf 'pool_idle_target = 4\nsession_max_lifetime = 3600\n%s\n' "$conf" >"$T/$name.conf"
    stack_init "$T/$name" "$(stack_free_port)" || exit 1
    local kv
    for kv in "$@" "STEEL_CONF=$T/$name.conf"; do export "${kv?}"; done
    if ! stack_up "$TTL"; then
        not_ok "$name: the stack starts"
        return
    fi
    # The workers took their environment when the spawner started them.
    for kv in "$@" "STEEL_CONF=$T/$name.conf"; do unset "${kv%%=*}"; done
    U=$(stack_url)
    P=$(sed -n 's/^key_prefix = //p' "$STACK_RUN/steel-orchestrator.conf")
    REDIS_PORT=$STACK_REDIS_PORT
    if timeout 120 "$top_builddir/tester/steel-tester" --url "$U" --ttl "$TTL" \
        --only core --no-color --token "$STACK_ADMIN_TOKEN" >"$T/$name.tester" 2>&1; then
        ok "$name: steel-tester --only core"
    else
        not_ok "$name: steel-tester --only core"
        sed 's/^/    /' "$T/$name.tester"
    fi

    # One session through a Redis that loses everything.
    body=$(curl -s -m 15 -X POST -H 'Content-Type: application/json' \
        -d '{"v":1}' "$U/sessions")
    sid=$(printf '%s' "$body" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    created_w=$(printf '%s' "$body" | sed -n 's/.*"created_at"[[:space:]]*:[[:space:]]*\("[^"]*"\|[0-9.]*\).*/\1/p')
    check "$name: a session to rebuild ($sid, created_at $created_w)" test -n "$sid"
    rcli_raw FLUSHALL >/dev/null
    t0=$(date +%s%3N)
    code=000
    for _ in $(seq 1 40); do
        code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$U/sessions/$sid")
        [ "$code" = 200 ] && break
        sleep 0.1
    done
    check_eq "$name: the session answers 200 after Redis lost it ($(($(date +%s%3N) - t0)) ms)" 200 "$code"
    started=$(started_ms "$sid")
    # The worker's created_at is in the past (at most the test's length);
    # the rebuild's own clock would be after t0.
    check "$name: its start is the worker's created_at (${started:-none} < $t0)" \
        test -n "$started" -a "${started:-0}" -lt "$t0" -a "${started:-0}" -gt $((t0 - 300000))
    stack_down >/dev/null
    check_eq "$name: nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
    STACK_RUN=
}

variant post200-iso "" STEEL_EMU_POST_STATUS=200 STEEL_EMU_CREATED_AT=iso \
    STEEL_EMU_START_DELAY_MS=300
variant epochms-slow "create_hedge_min_ms = 1000" STEEL_EMU_CREATED_AT=epoch_ms \
    STEEL_EMU_POST_DELAY_MS=400

lib_finish
