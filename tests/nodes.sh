#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# nodes.sh - several nodes on one Redis, on this machine: nodes a and b
# (spawner and reaper each; b's workers on 127.0.0.2) and a reaper of a
# third node c.  Checks node identity at start (a node_name in use here or
# on another host, a loopback worker_host among other nodes, a worker_host
# that is no address of this host), waiting creates started by the node
# that queued them, and the death of node b: no claim hands out its idle
# workers once its heartbeat is stale, and after node_gone_after one
# reaper (of the two that race) removes its workers, sessions and pool
# entry.
top_builddir=${top_builddir:-.}
. "${srcdir:-.}/tests/lib.sh"
lib_init
. "${srcdir:-.}/tests/spawner-lib.sh"
REAPER=$top_builddir/reaper/steel-reaper
[ -x "$REAPER" ] || { echo "missing $REAPER" >&2; exit 1; }
spawner_setup

STALE_MS=2000
# node_gone_after leaves the checks between "stale" and "gone" (claims
# skip b's idle worker, which stays idle) 8 s: 30 claims, each a process,
# took more than the 2 s of node_gone_after=4 on a busy machine.
GONE_S=10
PORT_B=$((PORT_BASE + 50))
# conf_for NAME NODE HOST PORTS [KEY=VALUE]... - $T/NAME.conf
conf_for() {
    local name=$1 node=$2 host=$3 ports=$4
    shift 4
    write_conf "node_name=$node" "worker_host=$host" \
        "worker_port_range=$ports" "pool_idle_target=2" \
        "pool_max_workers=10" "node_stale_ms=$STALE_MS" \
        "node_gone_after=$GONE_S" "reap_interval=1" "worker_bin=$EMU" "$@"
    mv "$T/steel.conf" "$T/$name.conf"
}
conf_for a "$NODE-a" 127.0.0.1 "$PORT_BASE-$((PORT_B - 1))"
conf_for b "$NODE-b" 127.0.0.2 "$PORT_B-$PORT_MAX"
conf_for c "$NODE-c" 127.0.0.3 "$PORT_B-$PORT_MAX"
fixa() { "$FIXTURE" "$T/a.conf" "$@"; }

start_bg spa "$SPAWNER" -d -f "$T/a.conf"
start_bg spb env STEEL_EMU_BIND=127.0.0.2 "$SPAWNER" -d -f "$T/b.conf"
SPB=$(cat "$T/spb.pid")
start_bg rpa "$REAPER" -d -f "$T/a.conf"
start_bg rpc "$REAPER" -d -f "$T/c.conf"

count_of() { rcli scard "$PFX:node:$NODE-$1"; }
idle_of() {
    local n=0 id
    for id in $(rcli_raw smembers "$PFX:node:$NODE-$1"); do
        [ "$(whash "$id" state)" = idle ] && n=$((n + 1))
    done
    echo "$n"
}
idle_of_is() { [ "$(idle_of "$1")" = "$2" ]; }
check_eventually "both nodes have 2 idle workers" 15 \
    eval 'idle_of_is a 2 && idle_of_is b 2'
check_eq "node b registered its host and worker_host" "127.0.0.2" \
    "$(rcli_raw hget "$PFX:pool:$NODE-b" worker_host)"
HOSTID=$(rcli_raw hget "$PFX:pool:$NODE-a" hostid)
check "node a registered this host's identity" \
    test -n "$HOSTID"
check_eq "P:nodes lists both" "2" "$(rcli scard "$PFX:nodes")"

# ---- identity at start ---------------------------------------------------

# exits_with NAME CONF PATTERN [ENV]... - a spawner that must refuse to
# start: it exits non-zero within 10 s and logs PATTERN.
exits_with() {
    local name=$1 conf=$2 pat=$3 pid rc=124 i
    shift 3
    env "$@" "$SPAWNER" -f "$conf" >"$T/$name.log" 2>&1 &
    pid=$!
    for i in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    [ "$rc" != 0 ] && grep -q -- "$pat" "$T/$name.log"
}
check "a second spawner with node a's name refuses to start" \
    exits_with dup "$T/a.conf" "in use by steel-spawner pid $(cat "$T/spa.pid") on this host"
check_eq "node a's record still names its own spawner" "$(cat "$T/spa.pid")" \
    "$(rcli_raw hget "$PFX:pool:$NODE-a" pid)"
NOW=$(now_ms)
rcli hset "$PFX:pool:$NODE-x" heartbeat "$NOW" state ok hostid other-host \
    pid 4242 worker_host 127.0.0.1 >/dev/null
rcli sadd "$PFX:nodes" "$NODE-x" >/dev/null
conf_for x "$NODE-x" 127.0.0.1 "$PORT_B-$PORT_MAX"
check "a node_name heartbeating from another host is refused" \
    exits_with otherhost "$T/x.conf" "node_name $NODE-x is in use by another host (host other-host"
# Out of P:nodes first: a node listed with no heartbeat is one a reaper
# removes (and counts), the count checked below.
rcli srem "$PFX:nodes" "$NODE-x" >/dev/null
rcli del "$PFX:pool:$NODE-x" >/dev/null
conf_for y "$NODE-y" 192.0.2.1 "$PORT_B-$PORT_MAX"
check "a worker_host that is no address of this host is refused" \
    exits_with notlocal "$T/y.conf" "worker_host 192.0.2.1 is not an address of this host"
rcli hset "$PFX:pool:$NODE-v" heartbeat "$(now_ms)" state ok hostid h-v \
    pid 1 worker_host 10.9.9.9 >/dev/null
rcli sadd "$PFX:nodes" "$NODE-v" >/dev/null
conf_for z "$NODE-z" 127.0.0.3 "$PORT_B-$PORT_MAX"
check "a loopback worker_host is refused among nodes with other addresses" \
    exits_with loopback "$T/z.conf" "worker_host 127.0.0.3 is a loopback address, but node $NODE-v (worker_host 10.9.9.9)"
rcli srem "$PFX:nodes" "$NODE-v" >/dev/null
rcli del "$PFX:pool:$NODE-v" >/dev/null

# ---- demand: the node that queued the creates starts their workers -------

for i in 1 2 3 4 5; do
    rcli zadd "$PFX:waiters" "$(($(now_ms) + 60000))" "$NODE-a/tok$i" >/dev/null
done
check_eventually "node a starts a worker per create it queued" 15 \
    eval '[ "$(count_of a)" -ge 7 ]'
sleep 1
check_eq "node b starts none for them" "2" "$(count_of b)"
A_COUNT=$(count_of a)
check "node a started no more than its waiters ask ($A_COUNT <= 7)" \
    test "$A_COUNT" -le 7
rcli del "$PFX:waiters" >/dev/null

# ---- node b dies ---------------------------------------------------------

# A session on one of b's workers.
B_IDS=$(rcli_raw smembers "$PFX:node:$NODE-b")
B_PIDS=
wid=
for id in $B_IDS; do
    B_PIDS="$B_PIDS $(whash "$id" pid)"
done
HELD=
for i in $(seq 1 30); do
    claim=$(fixa claim) || break
    wid=${claim%% *}
    if [ "$(whash "$wid" node)" = "$NODE-b" ]; then
        fixa bind "$wid" sess-b 600000 >/dev/null
        break
    fi
    HELD="$HELD $wid"
done
for id in $HELD; do fixa unclaim "$id" >/dev/null; done
SESS_W=$(rcli_raw hget "$PFX:session:sess-b" worker)
check "a session lives on node b" \
    test -n "$SESS_W" -a "$(whash "$SESS_W" node)" = "$NODE-b"

T0=$(now_ms)
kill -KILL "$SPB"
for p in $B_PIDS; do kill -KILL "$p" 2>/dev/null; done
wait "$SPB" 2>/dev/null
# Once stale, no claim hands out b's idle worker.
sleep $((STALE_MS / 1000 + 1))
BAD=0
HELD=
for i in $(seq 1 30); do
    claim=$(fixa claim) || break
    wid=${claim%% *}
    [ "$(whash "$wid" node)" = "$NODE-b" ] && BAD=$((BAD + 1))
    HELD="$HELD $wid"
done
check "claims took node a's idle workers" test -n "$HELD"
for id in $HELD; do fixa unclaim "$id" >/dev/null; done
check_eq "claims skip the stale node's idle worker" 0 "$BAD"
B_IDLE=$(idle_of b)
echo "# stale checks done $(($(now_ms) - T0)) ms after node b died (node_gone_after ${GONE_S} s)"
check "its idle worker is kept aside, still idle ($B_IDLE)" test "$B_IDLE" -ge 1

gone_done() {
    [ "$(rcli exists "$PFX:pool:$NODE-b")" = 0 ] &&
        [ "$(rcli exists "$PFX:session:sess-b")" = 0 ] &&
        [ "$(count_of b)" = 0 ]
}
check_eventually "node b's records are removed after node_gone_after" \
    $((GONE_S + 10)) gone_done
T1=$(now_ms)
echo "# node b dead to records removed: $((T1 - T0)) ms (node_gone_after ${GONE_S} s, reap_interval 1 s)"
# The heartbeat was up to a second old when the node died.
check "no earlier than node_gone_after less one heartbeat" \
    test $((T1 - T0)) -ge $((GONE_S * 1000 - 1200))
ORPHANS=0
for id in $B_IDS; do
    [ "$(rcli exists "$PFX:worker:$id")" = 1 ] && ORPHANS=$((ORPHANS + 1))
    [ "$(rcli sismember "$PFX:workers" "$id")" = 1 ] && ORPHANS=$((ORPHANS + 1))
done
check_eq "none of its worker records is left" 0 "$ORPHANS"
check_eq "it left P:nodes" 0 "$(rcli sismember "$PFX:nodes" "$NODE-b")"
sleep 1.5
N=$(cat "$T/rpa.log" "$T/rpc.log" | grep -c "node $NODE-b: gone")
check_eq "exactly one of the two reapers removed it" 1 "$N"
check_eq "counted once" 1 "$(rcli_raw hget "$PFX:stats" repairs:node-gone)"
check_eq "node a is untouched" 1 "$(rcli exists "$PFX:pool:$NODE-a")"
check "node a still has idle workers" eval '[ "$(idle_of a)" -ge 2 ]'

lib_finish
