#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# ops-recipes.sh - the redis-cli recipes of OPERATIONS.md work.  Each
# ```sh block tagged recipe:<name> is taken from OPERATIONS.md and run as
# written against a live stack (tests/stack.sh: Redis, steel-spawner,
# steel-reaper, lighttpd + steel-fcgi, emulator workers); only the key
# prefix "steel:" becomes the stack's, and redis-cli reaches the stack's
# Redis through a wrapper first in PATH.  Each recipe's effect is checked,
# and every recipe of the document must be run here.  What the daemons do
# after a loss of Redis's data is tests/redis-loss.sh.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"

lib_init
trap 'rc=$?; [ -n "$STACK_RUN" ] && stack_down; (exit $rc); lib_cleanup' EXIT

DOC=$top_srcdir/OPERATIONS.md
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

# redis-cli as the recipes call it, reaching the stack's Redis (also from
# xargs, hence a program, not a function).
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec %s -h 127.0.0.1 -p %s "$@"\n' "$(command -v redis-cli)" \
    "$REDIS_PORT" >"$T/bin/redis-cli"
chmod +x "$T/bin/redis-cli"

RAN=
S='' W=''
# run NAME - runs recipe NAME with S, W and NODE set; output in OUT.
run() {
    local text
    text=$(awk -v want="\`\`\`sh recipe:$1" '
        $0 == want { on = 1; next }
        on && /^```/ { exit }
        on { print }' "$DOC")
    RAN="$RAN $1"
    if [ -z "$text" ]; then
        OUT=
        not_ok "OPERATIONS.md has recipe:$1"
        return 1
    fi
    # shellcheck disable=SC2001 # \b: a word boundary
    text=$(sed "s/\\bsteel:/$P:/g" <<<"$text")
    OUT=$(PATH="$T/bin:$PATH" S="$S" W="$W" NODE="$NODE" bash -c "$text" 2>&1)
}

has() {
    grep -qE -- "$1" <<<"$OUT"
}

# create - a new session; prints its id.
create() {
    curl -s -m 15 -X POST -H 'Content-Type: application/json' \
        -d '{"ops": "recipe"}' "$URL/sessions" |
        sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

http_code() {
    curl -s -m 15 -o /dev/null -w '%{http_code}' "$@"
}

idle_count() {
    rcli LLEN "$P:idle"
}

# At least N idle workers and none starting: the pool is settled.  (The
# stack's readiness probe may have made the spawner start more than the
# target, so the count is not exact.)
pool_settled() {
    [ "$(idle_count)" -ge "$1" ] && [ "$(state_count starting)" = 0 ]
}

# state_count STATE - workers in STATE, from the records.
state_count() {
    local id n=0
    for id in $(rcli_raw SMEMBERS "$P:workers"); do
        [ "$(rcli_raw HGET "$P:worker:$id" state)" = "$1" ] && n=$((n + 1))
    done
    echo "$n"
}

state_of() {
    rcli HGET "$P:worker:$1" state
}

state_is() {
    [ "$(state_of "$1")" = "$2" ]
}

pid_gone() {
    ! stack_pid_live "$1"
}

check_within "the pool has settled with 4 idle workers or more" 20 pool_settled 4

# ---- reading ---------------------------------------------------------------

run workers-by-state
check "workers-by-state counts the idle workers" has "^ *$(state_count idle) idle\$"
check_eq "workers-by-state prints one line per state present (idle only)" 1 "$(grep -c . <<<"$OUT")"

run list-workers
check_eq "list-workers prints one line per worker" \
    "$(rcli SCARD "$P:workers")" "$(grep -c . <<<"$OUT")"
check "list-workers shows node, state, host and port" \
    has "^[0-9]+ $NODE idle 127\\.0\\.0\\.1 [0-9]+ [0-9]+ ?$"

run idle-list
check_eq "idle-list prints the idle ids, then the waiting creates" \
    "$(rcli_raw LRANGE "$P:idle" 0 -1; echo 0)" "$OUT"

S1=$(create) S2=$(create) S3=$(create)
check "three sessions created" test -n "$S1" -a -n "$S2" -a -n "$S3"

S=$S1
run find-session
W1=$(rcli HGET "$P:session:$S1" worker)
port=$(rcli HGET "$P:worker:$W1" port)
check "find-session names the session's worker" has "^worker $W1\$"
check "find-session shows it busy" has "^busy\$"
check "find-session shows its session" has "^$S1\$"
check "find-session shows its port" has "^$port\$"
check "the worker on that port holds the session (its own /status)" \
    bash -c "curl -s -m 2 http://127.0.0.1:$port/status | grep -q '$S1'"

run count-sessions
check_eq "count-sessions: the index and the scan both count 3" "3 3" \
    "$(sed -n '1p;2p' <<<"$OUT" | tr -d ' ' | paste -sd ' ')"
check "count-sessions lists the sessions" has "^$S3\$"

run session-ttl
ttl=$(head -n 1 <<<"$OUT")
check "session-ttl shows the time left, at most session_ttl ($ttl ms)" \
    test "$ttl" -gt 0 -a "$ttl" -le 30000

run node-pool
check "node-pool shows this node's spawner ok" bash -c "grep -A1 -x state <<<'$OUT' | grep -qx ok"
check "node-pool shows a heartbeat" has '^heartbeat$'

run stats
check "stats shows sessions_created" has '^sessions_created$'

# ---- changing --------------------------------------------------------------

S=$S1
run expire-session
check_eq "expire-session: the session answers 404 at once" 404 "$(http_code "$URL/sessions/$S1")"
check_eventually "... and its worker is idle again after a reaper pass" 10 state_is "$W1" idle

# drain: an idle worker is killed and replaced; a busy one is left alone.
W=$(rcli LINDEX "$P:idle" 0)
wpid=$(rcli HGET "$P:worker:$W" pid)
run drain-worker
check_eq "drain-worker drains an idle worker (1)" 1 "$OUT"
check "... which leaves the idle list at once" \
    bash -c "! redis-cli -p $REDIS_PORT LRANGE $P:idle 0 -1 | grep -qx '$W'"
check_eventually "... and its process is killed" 10 pid_gone "$wpid"
check_within "... and the pool has 4 idle workers or more again" 15 pool_settled 4
W2=$(rcli HGET "$P:session:$S2" worker)
W=$W2
run drain-worker
check_eq "drain-worker leaves a busy worker alone (0)" 0 "$OUT"
check_eq "... whose session still answers" 200 "$(http_code "$URL/sessions/$S2")"

# kill: a busy worker, its session ends at once.
wpid=$(rcli HGET "$P:worker:$W2" pid)
run kill-worker
check_eq "kill-worker takes a busy worker out (1)" 1 "$OUT"
check_eq "... its session answers 404 at once" 404 "$(http_code "$URL/sessions/$S2")"
check_eq "... and has left the session index" "" "$(rcli_raw ZSCORE "$P:sessions" "$S2")"
check_eventually "... and its process is killed" 10 pid_gone "$wpid"
run kill-worker
check_eq "kill-worker again: already gone or dead (0)" 0 "$OUT"

# forget-node: records of a node that no longer runs.
gone=gone-vm-$$
rcli HSET "$P:worker:900001" id 900001 node "$gone" host 10.9.9.9 port 1 pid 0 \
    state idle session "" >/dev/null
rcli HSET "$P:worker:900002" id 900002 node "$gone" host 10.9.9.9 port 2 pid 0 \
    state busy session ghost-session >/dev/null
rcli HSET "$P:session:ghost-session" worker 900002 >/dev/null
rcli ZADD "$P:sessions" 1 ghost-session >/dev/null
rcli SADD "$P:workers" 900001 900002 >/dev/null
rcli SADD "$P:node:$gone" 900001 900002 >/dev/null
rcli HSET "$P:pool:$gone" state ok >/dev/null
ours_before=$(rcli SCARD "$P:node:$NODE")
NODE=$gone
run forget-node
NODE=$(hostname)
check_eq "forget-node removes the node's 2 records" 2 "$OUT"
check_eq "... its worker hashes, node set, pool report and sessions" 0 \
    "$(rcli EXISTS "$P:worker:900001" "$P:worker:900002" "$P:node:$gone" \
        "$P:pool:$gone" "$P:session:ghost-session")"
check_eq "... and its ids from the worker set and the session index" "0 " \
    "$(rcli_raw SMISMEMBER "$P:workers" 900001 900002 | sort -u | paste -sd ' ') $(rcli_raw ZSCORE "$P:sessions" ghost-session)"
check_eq "... and leaves this node's workers alone" "$ours_before" "$(rcli SCARD "$P:node:$NODE")"

# wipe: with the daemons stopped, so that its effect alone is seen (what
# the spawner then does is tests/redis-loss.sh's subject).
stack_stop reaper 10
stack_stop spawner 15
check "a deployment has keys to wipe" test -n "$(redis-cli -p "$REDIS_PORT" --scan --pattern "$P:*")"
run wipe-state
# steel-fcgi still runs: its once-a-second flush of the counts it holds
# may write $P:stats again right after the wipe.
check_eq "wipe-state leaves no key of the deployment" "" \
    "$(redis-cli -p "$REDIS_PORT" --scan --pattern "$P:*" | grep -vx "$P:stats")"
check_eq "... and no other key" "" \
    "$(redis-cli -p "$REDIS_PORT" --scan | grep -vx "$P:stats")"
check_eq "S3 (lost with the data) answers 404" 404 "$(http_code "$URL/sessions/$S3")"

# ---- every recipe of the document was run ------------------------------------

documented=$(sed -n 's/^```sh recipe:\([a-z-]*\)$/\1/p' "$DOC" | sort -u | paste -sd ' ')
ran=$(tr ' ' '\n' <<<"$RAN" | sed '/^$/d' | sort -u | paste -sd ' ')
check_eq "every recipe in OPERATIONS.md is run by this test" "$documented" "$ran"

stack_down
check_eq "the stack stops without leftovers" 0 "$STACK_LEFTOVERS"
STACK_RUN=
lib_finish
