#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# idempotency.sh - Idempotency-Key through lighttpd against a live stack:
# a replay of the largest answer a worker may give (max_body 300 KiB, so
# the answer is beyond the 256 KiB buffer replays once had), keys scoped
# per bearer token (the same key and body under another token is another
# session), and a Redis record named after a hash of the token, never the
# token; a client without a token is scoped by the SHA-256 of its
# address, which never appears in the record's name.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/idem.conf" <<CONF
pool_idle_target = 2
pool_max_workers = 6
max_body = 307200
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/idem.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)

# post OUT KEY TOKEN BODYFILE - POST /sessions; prints the status, body in
# OUT, headers in OUT.h.
post() {
    curl -s -m 20 -o "$1" -D "$1.h" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -H "Idempotency-Key: $2" \
        -H "Authorization: Bearer $3" --data-binary @"$4" "$U/sessions"
}

# A body just under max_body: the worker's answer echoes it, so the stored
# answer is about 300 KiB.
{
    printf '{"pad":"'
    head -c 300000 /dev/zero | tr '\0' x
    printf '"}'
} >"$T/big.json"
code=$(post "$T/a1" big-1 tok-a "$T/big.json")
check "a create with a 300 KB body succeeds ($code)" test "${code:0:1}" = 2
size=$(stat -c %s "$T/a1")
check "  its answer is over 256 KiB ($size bytes)" test "$size" -gt 262144
code2=$(post "$T/a2" big-1 tok-a "$T/big.json")
check_eq "its replay has the same status" "$code" "$code2"
check "  marked Idempotent-Replayed" grep -qi '^Idempotent-Replayed: true' "$T/a2.h"
check "  with the same bytes" cmp -s "$T/a1" "$T/a2"

# Scoped per token: the same key and body under another token.
echo '{"n":1}' >"$T/small.json"
code=$(post "$T/b1" k1 tok-a "$T/small.json")
check "token a: create ($code)" test "${code:0:1}" = 2
code=$(post "$T/b2" k1 tok-b "$T/small.json")
check "token b, same key and body: a create of its own ($code)" test "${code:0:1}" = 2
check "  not a replay" sh -c "! grep -qi '^Idempotent-Replayed' '$T/b2.h'"
a=$(grep -o '"id":"[^"]*"' "$T/b1" | head -1)
b=$(grep -o '"id":"[^"]*"' "$T/b2" | head -1)
check "  another session ($a, $b)" test -n "$a" -a -n "$b" -a "$a" != "$b"
post "$T/b3" k1 tok-a "$T/small.json" >/dev/null
check "token a again: its own answer replayed" cmp -s "$T/b1" "$T/b3"

hash_a=$(printf %s tok-a | sha256sum | cut -c1-64)
keys=$(redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" --scan --pattern "$STACK_PREFIX:idem:*")
check "the record is named after the token's SHA-256" \
    grep -qxF "$STACK_PREFIX:idem:t$hash_a:k1" <<<"$keys"
no_token_in() { ! grep -q 'tok-' <<<"$1"; }
check "  and no record names the token" no_token_in "$keys"
check "  nor holds it" sh -c "! redis-cli -h 127.0.0.1 -p $STACK_REDIS_PORT \
    HGETALL '$STACK_PREFIX:idem:t$hash_a:k1' | grep -q 'tok-'"

# Without a token: scoped by the hash of the address (127.0.0.1 here).
code=$(curl -s -m 20 -o "$T/c1" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H 'Idempotency-Key: 1:k3' \
    --data-binary @"$T/small.json" "$U/sessions")
check "no token: create ($code)" test "${code:0:1}" = 2
hash_addr=$(printf %s 127.0.0.1 | sha256sum | cut -c1-64)
keys=$(redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" --scan --pattern "$STACK_PREFIX:idem:*")
check "  the record is named after the address's SHA-256" \
    grep -qxF "$STACK_PREFIX:idem:a$hash_addr:1:k3" <<<"$keys"
no_addr_in() { ! grep -qF 127.0.0.1 <<<"$1"; }
check "  and no record names the address" no_addr_in "$keys"

for f in a1 b1 b2 c1; do
    id=$(grep -o '"id":"[^"]*"' "$T/$f" | head -1 | cut -d'"' -f4)
    [ -n "$id" ] && curl -s -m 10 -o /dev/null -X DELETE "$U/sessions/$id"
done
stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
