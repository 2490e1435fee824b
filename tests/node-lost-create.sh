#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# node-lost-create.sh - a node lost from the network costs the creates on
# the other nodes no failure while it still counts as live.
#
# A hub namespace with a bridge (SUB.1) holds the one Redis; two node
# namespaces (SUB.11, SUB.12) each run lighttpd, steel-fcgi,
# steel-spawner, steel-reaper and emulator workers bound to the node's
# address.  Node b starts first and fills P:idle with 8 idle workers; node
# a then adds 2.  Node b's link goes down: its workers answer no connect,
# and its heartbeat stays fresh enough (node_stale_ms 20 s) for claims to
# hand them out for the whole test.  Then 12 creates through node a's
# front door must all answer 201: a connect that gets no answer within
# worker_connect_timeout_ms uses none of the create's create_attempts (3)
# and sends its next claims to a node that answers (store_claim_from, the
# node marked suspect).  Before, the first creates met three of node b's
# workers in a row and answered 502 after 1.5 s.
#
# Needs root, iproute2, redis-server and lighttpd; else exits 77 (SKIP).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
. "$top_srcdir/tests/hub-lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
for p in ip redis-server lighttpd curl; do
    command -v "$p" >/dev/null || skip "$p is not installed"
done

lib_init
ID=$$
HUB=steel-nl$ID-hub
NODES=(steel-nl$ID-a steel-nl$ID-b)
SUB=$HUB_SUB
ADDR=("$(hub_addr 0)" "$(hub_addr 1)")
PREFIX=steel-nl$ID
PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

# Everything still running in our namespaces was started by this test
# (hub_cleanup, tests/hub-lib.sh).
trap 'nl_rc=$?; hub_cleanup; (exit $nl_rc); lib_cleanup' EXIT

inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
setup_net() {
    local i
    hub_init "$HUB" || return 1
    for i in 0 1; do
        hub_node "${NODES[i]}" "$i" || return 1
    done
}
setup_net || skip "cannot build the namespaces' network (veth, bridge)"

mkdir -p "$T/redis"
start_bg redis ip netns exec "$HUB" redis-server --port 6379 --bind "$SUB.1" \
    --save "" --appendonly no --dir "$T/redis" --requirepass "$PW"
rc() { inns "$HUB" env REDISCLI_AUTH="$PW" redis-cli -h "$SUB.1" -p 6379 "$@" 2>/dev/null; }
check_eventually "Redis answers" 10 bash -c "[ \"\$(REDISCLI_AUTH=$PW ip netns exec $HUB redis-cli -h $SUB.1 ping)\" = PONG ]"

EMU=$top_builddir/tester/steel-browser-emu
node_conf() { # I NAME IDLE_TARGET
    local i=$1 d=$T/n$1
    mkdir -p "$d/www" "$d/tmp" "$d/workers"
    (
        umask 077
        cat >"$d/steel-orchestrator.conf" <<EOF
key_prefix = $PREFIX
node_name = $2
node_token_dir = $d
redis = $SUB.1:6379
redis_password = $PW
redis_timeout_ms = 1000
session_ttl = 120
pool_idle_target = $3
pool_max_workers = 20
create_wait = 10
create_attempts = 3
reap_interval = 1
node_stale_ms = 20000
node_gone_after = 60
worker_connect_timeout_ms = 500
fcgi_threads = 4
fcgi_create_threads = 4
worker_bin = $EMU
worker_host = ${ADDR[i]}
worker_hosts = ${ADDR[*]}
worker_port_range = 20000-20099
worker_env = STEEL_EMU_*
worker_log_dir = $d/workers
log_level = info
EOF
    )
}
# cgns NS CMD... - CMD in NS with cgroup2 mounted (as tests/multinode.sh).
cgns() {
    ip netns exec "$1" sh -c 'mountpoint -q /sys/fs/cgroup ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1; exec "$@"' sh "${@:2}"
}
start_node() { # I NAME IDLE_TARGET
    local i=$1 d=$T/n$1 ns=${NODES[$1]}
    node_conf "$i" "$2" "$3"
    STACK_RUN=$d STACK_PREFIX=$PREFIX-n$i STACK_HTTP_PORT=8080 stack_write_lighttpd || return 1
    start_bg "n$i-spawner" cgns "$ns" env STEEL_EMU_BIND="${ADDR[i]}" \
        "$top_builddir/spawner/steel-spawner" -f "$d/steel-orchestrator.conf"
    start_bg "n$i-reaper" cgns "$ns" "$top_builddir/reaper/steel-reaper" \
        -f "$d/steel-orchestrator.conf"
    start_bg "n$i-lighttpd" ip netns exec "$ns" lighttpd -D -f "$d/lighttpd.conf"
}
# Node b first: its 8 idle workers head P:idle.
start_node 1 b 8 || not_ok "node b configured"
check_eventually "node b has 8 idle workers" 40 bash -c "[ \"\$(REDISCLI_AUTH=$PW ip netns exec $HUB redis-cli -h $SUB.1 EVAL \"local n = 0 for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do if redis.call('HGET', KEYS[2] .. id, 'node') == 'b' then n = n + 1 end end return n\" 2 $PREFIX:idle $PREFIX:worker:)\" -ge 8 ]"
start_node 0 a 2 || not_ok "node a configured"
check_eventually "node a has 2 idle workers" 40 bash -c "[ \"\$(REDISCLI_AUTH=$PW ip netns exec $HUB redis-cli -h $SUB.1 EVAL \"local n = 0 for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do if redis.call('HGET', KEYS[2] .. id, 'node') == 'a' then n = n + 1 end end return n\" 2 $PREFIX:idle $PREFIX:worker:)\" -ge 2 ]"
check_eventually "node a's front door answers" 20 bash -c \
    "[ \"\$(ip netns exec ${NODES[0]} curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/health)\" = 200 ]"
first=$(rc LINDEX "$PREFIX:idle" 0)
check_eq "a worker of node b heads P:idle" b "$(rc HGET "$PREFIX:worker:$first" node)"

# Node b is lost: its address answers nothing from now on.
inns "${NODES[1]}" ip link set eth0 down
t0=$(date +%s%N)
: >"$T/creates"
for k in $(seq 1 12); do
    inns "${NODES[0]}" curl -s -m 30 -o "$T/create-$k" -w '%{http_code} %{time_total}\n' \
        -X POST -H 'Content-Type: application/json' -d '{"nl":1}' \
        http://127.0.0.1:8080/sessions >>"$T/creates"
done
took=$((($(date +%s%N) - t0) / 1000000))
echo "# 12 creates in ${took} ms: $(awk '{print $1 "/" $2 "s"}' "$T/creates" | tr '\n' ' ')"
silent=$(grep -c 'create: unreachable' "$T/n0/steel-fcgi.log")
echo "# connects to node b that got no answer: $silent"
bad=$(awk '$1 != 201' "$T/creates" | wc -l)
for k in $(seq 1 12); do
    grep -q '"id"' "$T/create-$k" || echo "# create $k: $(head -c 200 "$T/create-$k")"
done
check_eq "12 creates through node a while node b is lost: all 201" 0 "$bad"
check "... node b's workers were tried at most twice (its node marked suspect) ($silent)" \
    test "$silent" -le 2
state=$(rc HGET "$PREFIX:pool:b" heartbeat)
now=$(rc TIME | head -1)
check "... all while node b still counted as live (heartbeat younger than node_stale_ms)" \
    test $((now * 1000 - state)) -lt 20000
lib_finish
