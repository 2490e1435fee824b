#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# multinode.sh - the whole deployment: three nodes sharing one Redis
# through Sentinel, each in a network namespace of its own.
#
# The test builds, and removes on every exit: a hub namespace with a bridge
# (SUB.1) holding the Redis master (6379), its replica (6380) and three
# Sentinels (26379-26381); three node namespaces (SUB.11-13), each joined
# to the bridge by a veth pair and running lighttpd (8080 on loopback and
# on its address), steel-fcgi, steel-spawner, steel-reaper and emulator
# workers bound to the node's address (STEEL_EMU_BIND, worker_host; the
# other nodes in worker_hosts).  All traffic stays inside these
# namespaces.  Every node uses key_prefix steel-mn<pid>, one deployment.
#
# Checks: cross-node routing; steel-tester (create, get, delete, missing,
# concurrent) against each front door; a Redis restart under load; a
# Sentinel fail-over (SIGKILL of the master) under load, sessions made
# before answering 200 afterwards.  The checks that need node liveness
# (a lost node, a duplicate node_name, a burst to one node) run only when
# /status shows per-node liveness, and otherwise say SKIP and why.
#
# Needs root, iproute2 and redis-sentinel; without them it exits 77
# (SKIP) and says why.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
. "$top_srcdir/tests/hub-lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
for p in ip redis-server redis-sentinel lighttpd curl; do
    command -v "$p" >/dev/null || skip "$p is not installed"
done

lib_init
ID=$$
HUB=steel-mn$ID-hub
NODES=(steel-mn$ID-n1 steel-mn$ID-n2 steel-mn$ID-n3)
SUB=$HUB_SUB
ADDR=("$(hub_addr 0)" "$(hub_addr 1)" "$(hub_addr 2)")
PREFIX=steel-mn$ID
PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
LOAD_PIDS=()

# Everything still running in our namespaces was started by this test
# (hub_cleanup, tests/hub-lib.sh).
mn_cleanup() {
    local p
    for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    hub_cleanup
}
# The test's exit status reaches lib_cleanup, which prints the logs (the
# nodes' directories too) when it is not 0: a run ended by a signal (a CI
# timeout) or a failed command no longer loses them.
trap 'mn_rc=$?; mn_cleanup; (exit $mn_rc); lib_cleanup' EXIT

inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- the network -----------------------------------------------------
setup_net() {
    local i
    hub_init "$HUB" || return 1
    for i in 0 1 2; do
        hub_node "${NODES[i]}" "$i" || return 1
    done
}
setup_net || skip "cannot build the namespaces' network (veth, bridge)"

# ---- Redis: master, replica, three Sentinels in the hub ----------------
start_redis_node() { hub_redis_node "$1" "$2" "$PW"; }
check "Redis (master and replica) and three Sentinels answer" hub_redis_ha "$PW"
rc() { inns "$HUB" env REDISCLI_AUTH="$PW" redis-cli -h "$SUB.1" -p "$@" 2>/dev/null; }
master_port() { rc 26379 SENTINEL get-master-addr-by-name steel | sed -n 2p; }

# ---- the nodes ---------------------------------------------------------
EMU=$top_builddir/tester/steel-browser-emu
# pool_max_workers leaves room for the sessions the Redis restart and the
# fail-over leave behind: a create whose answer was lost in the move (its
# client saw an error) may still have made a session, which lives until
# its TTL (120 s here), as NOTES.md and OPERATIONS.md say of a fail-over.
node_conf() { # I NODE_NAME [DIR]
    local i=$1 d=${3:-$T/n$1} others
    others=$(printf '%s ' "${ADDR[@]}")
    mkdir -p "$d/www" "$d/tmp" "$d/workers"
    (
        umask 077
        cat >"$d/steel-orchestrator.conf" <<EOF
key_prefix = $PREFIX
node_name = $2
redis = 127.0.0.1:1
redis_sentinels = $SUB.1:26379,$SUB.1:26380,$SUB.1:26381
redis_master_name = steel
redis_user = steel
redis_password = $PW
redis_timeout_ms = 1000
session_ttl = 120
pool_idle_target = 3
pool_max_workers = 40
create_wait = 10
reap_interval = 1
node_stale_ms = 3000
node_gone_after = 10
fcgi_threads = 4
fcgi_create_threads = 8
worker_bin = $EMU
worker_host = ${ADDR[i]}
worker_hosts = $others
worker_port_range = 20000-20099
worker_env = STEEL_EMU_*
worker_log_dir = $d/workers
node_token_dir = $d
log_level = info
admin_token = mn-admin
EOF
    )
}
# cgns NS CMD... - CMD in NS with cgroup2 mounted: ip netns exec mounts a
# sysfs of the namespace's own, without the cgroup mounts, and the
# spawner and the reaper need the cgroup2 hierarchy (workers' groups).
cgns() {
    ip netns exec "$1" sh -c 'mountpoint -q /sys/fs/cgroup ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1; exec "$@"' sh "${@:2}"
}
start_node() { # I [NODE_NAME]
    local i=$1 d=$T/n$1 ns=${NODES[$1]}
    node_conf "$i" "${2:-node$((i + 1))}"
    STACK_RUN=$d STACK_PREFIX=$PREFIX-n$i STACK_HTTP_PORT=8080 \
        STEEL_LIGHTTPD_EXTRA="\$SERVER[\"socket\"] == \"${ADDR[i]}:8080\" { }" \
        stack_write_lighttpd || return 1
    start_bg "n$i-spawner" cgns "$ns" env STEEL_EMU_BIND="${ADDR[i]}" \
        "$top_builddir/spawner/steel-spawner" -f "$d/steel-orchestrator.conf"
    start_bg "n$i-reaper" cgns "$ns" "$top_builddir/reaper/steel-reaper" \
        -f "$d/steel-orchestrator.conf"
    start_bg "n$i-lighttpd" ip netns exec "$ns" lighttpd -D -f "$d/lighttpd.conf"
}
for i in 0 1 2; do start_node "$i" || not_ok "node $((i + 1)) configured"; done
# From the hub (a client outside every node) to a node's front door.
# Longer than a create may take (create_wait 10 s + worker_timeout_ms):
# lighttpd does not tell steel-fcgi when a client gives up, so a create
# whose client left still makes a session, which then lives until its TTL.
hcurl() { inns "$HUB" curl -s -m 30 "$@"; }
code() { hcurl -o /dev/null -w '%{http_code}' "$@"; }
create() { # NODE_INDEX
    hcurl -X POST -H 'Content-Type: application/json' -d '{"mn":1}' \
        "http://${ADDR[$1]}:8080/sessions" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}
ready() { [ -n "$(create "$1")" ]; }
for i in 0 1 2; do
    check_eventually "node $((i + 1)) creates sessions" 40 ready "$i"
done

# ---- cross-node routing ------------------------------------------------
declare -A OWNER
SIDS=()
for i in 0 1 2; do
    for k in 1 2 3 4; do
        s=$(create "$i")
        [ -n "$s" ] && SIDS+=("$s") && OWNER[$s]=$i
    done
done
check_eq "12 sessions created, 4 through each node" 12 "${#SIDS[@]}"
n=0
for s in "${SIDS[@]}"; do
    for i in 0 1 2; do [ "$(code "http://${ADDR[i]}:8080/sessions/$s")" = 200 ] && n=$((n + 1)); done
done
check_eq "every session answers 200 through every node (36 GETs)" 36 "$n"
hosts=$(for i in 0 1 2; do inns "${NODES[i]}" curl -s -m 5 -H 'Authorization: Bearer mn-admin' http://127.0.0.1:8080/workers; done |
    grep -o "\"host\"[[:space:]]*:[[:space:]]*\"$SUB\.1[123]\"" | sort -u | wc -l)
check_eq "workers of all three nodes are registered with their own address" 3 "$hosts"
s=${SIDS[0]}
check_eq "a DELETE through another node answers 204" 204 \
    "$(code -X DELETE "http://${ADDR[2]}:8080/sessions/$s")"
check_eq "... and the session then answers 404 through its own" 404 \
    "$(code "http://${ADDR[0]}:8080/sessions/$s")"
SIDS=("${SIDS[@]:1}")

# ---- steel-tester against each front door -------------------------------
for i in 0 1 2; do
    if inns "$HUB" "$top_builddir/tester/steel-tester" --url "http://${ADDR[i]}:8080" \
        --only create,get,delete,missing,concurrent --local off --ttl 120 --no-color \
        >"$T/tester-$i.log" 2>&1; then
        ok "steel-tester against node $((i + 1))"
    else
        not_ok "steel-tester against node $((i + 1))"
        tail -n 15 "$T/tester-$i.log"
    fi
done

# load OUT - create/GET/DELETE round robin over the nodes, one "op code" a line.
load() {
    local out=$1 i=0 id
    while :; do
        i=$(((i + 1) % 3))
        id=$(create "$i")
        if [ -z "$id" ]; then echo "post fail" >>"$out"; continue; fi
        echo "get $(code "http://${ADDR[(i + 1) % 3]}:8080/sessions/$id")" >>"$out"
        echo "delete $(code -X DELETE "http://${ADDR[(i + 2) % 3]}:8080/sessions/$id")" >>"$out"
    done
}
stop_load() {
    local p
    for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    LOAD_PIDS=()
}
alive_count() {
    local s n=0 i=0
    for s in "${SIDS[@]}"; do
        [ "$(code "http://${ADDR[i]}:8080/sessions/$s")" = 200 ] && n=$((n + 1))
        i=$(((i + 1) % 3))
    done
    echo "$n"
}
errors_of() { grep -v ' 200$\| 204$' "$1" | sort | uniq -c | tr '\n' ' '; }
after_ok() { # TAG - 10 create/GET/DELETE cycles through each node, all fine
    local i k id out=$T/after-$1
    : >"$out"
    for i in 0 1 2; do
        for k in $(seq 1 10); do
            id=$(create "$i")
            if [ -z "$id" ]; then echo "post fail" >>"$out"; continue; fi
            echo "get $(code "http://${ADDR[(i + 1) % 3]}:8080/sessions/$id")" >>"$out"
            echo "delete $(code -X DELETE "http://${ADDR[i]}:8080/sessions/$id")" >>"$out"
        done
    done
    check_eq "$1: 30 create/GET/DELETE cycles afterwards all answered" 60 \
        "$(grep -c ' 200$\| 204$' "$out")"
    check_eq "$1: ... none failed" "" "$(errors_of "$out")"
}

# ---- a Redis restart under load ----------------------------------------
rc 6379 SAVE >/dev/null
: >"$T/load-restart"
load "$T/load-restart" &
LOAD_PIDS+=($!)
sleep 1
mpid=$(cat "$T/master.pid")
kill -TERM "$mpid"
wait "$mpid" 2>/dev/null
start_redis_node master 6379
check_eventually "the master answers again on the same port" 10 bash -c "[ \"\$(REDISCLI_AUTH=$PW ip netns exec $HUB redis-cli -h $SUB.1 -p 6379 ping)\" = PONG ]"
sleep 2
stop_load
echo "# Redis restart: the load saw $(errors_of "$T/load-restart")of $(grep -c . "$T/load-restart") requests"
check_eq "Redis restart: no Sentinel fail-over happened" 6379 "$(master_port)"
check_eq "Redis restart: the ${#SIDS[@]} sessions from before answer 200" "${#SIDS[@]}" "$(alive_count)"
after_ok "Redis restart"

# ---- a Sentinel fail-over under load -----------------------------------
# In sync: the link is up and the replica acknowledges every write so far
# (the restarted master has a new replication id: a full sync).
replica_synced() {
    rc 6380 INFO replication | grep -q '^master_link_status:up' &&
        [ "$(rc 6379 WAIT 1 1000)" = 1 ]
}
check_within "the replica caught up" 15 replica_synced
: >"$T/load-failover"
load "$T/load-failover" &
LOAD_PIDS+=($!)
sleep 1
t0=$SECONDS
mpid=$(cat "$T/master.pid")
kill -KILL "$mpid"
wait "$mpid" 2>/dev/null
check_eventually "the Sentinels promote the replica" 30 bash -c \
    "[ \"\$(ip netns exec $HUB redis-cli -h $SUB.1 -p 26379 SENTINEL get-master-addr-by-name steel | sed -n 2p)\" = 6380 ]"
echo "# fail-over: the replica was master after $((SECONDS - t0)) s"
sleep 3
stop_load
echo "# fail-over: the load saw $(errors_of "$T/load-failover")of $(grep -c . "$T/load-failover") requests"
check_eq "fail-over: the ${#SIDS[@]} sessions from before answer 200" "${#SIDS[@]}" "$(alive_count)"
after_ok "fail-over"
for i in 0 1 2; do
    check "fail-over: node $((i + 1))'s handlers logged the move" \
        grep -q "redis master steel moved from $SUB.1:6379 to $SUB.1:6380" "$T/n$i/steel-fcgi.log"
    check "fail-over: node $((i + 1))'s spawner names the new master when Redis answers again" \
        grep -q "redis $SUB.1:6380 answers again" "$T/n$i-spawner.log"
done

# ---- node liveness (needs per-node heartbeat and state in /status) ------
liveness_probe() {
    inns "${NODES[0]}" curl -s -m 5 http://127.0.0.1:8080/status |
        grep -q '"heartbeat_age_ms"[^}]*"state"\|"state"[^}]*"heartbeat_age_ms"'
}
# The node whose worker holds session S ("" when S has no session key).
session_node() { # MASTER_PORT SID
    local w
    w=$(rc "$1" HGET "$PREFIX:session:$2" worker)
    [ -n "$w" ] && rc "$1" HGET "$PREFIX:worker:$w" node
}
# A create goes to whichever node's worker was idle first, whatever the
# front door: a lost node's sessions are those its workers hold.
node_lost() {
    local s lost=() kept=() k=0 t0 mp bound=${STEEL_NODE_GONE_BOUND:-30}
    mp=$(master_port)
    for s in "${SIDS[@]}"; do
        if [ "$(session_node "$mp" "$s")" = node3 ]; then lost+=("$s"); else kept+=("$s"); fi
    done
    for k in $(seq 1 20); do
        [ "${#lost[@]}" -ge 3 ] && break
        s=$(create $((k % 3)))
        [ -n "$s" ] || continue
        if [ "$(session_node "$mp" "$s")" = node3 ]; then
            lost+=("$s")
        else
            code -X DELETE "http://${ADDR[0]}:8080/sessions/$s" >/dev/null
        fi
    done
    check "lost node: node 3's workers hold sessions (${#lost[@]})" test "${#lost[@]}" -ge 1
    # Node 3 vanishes: its processes stop, its address answers nothing.
    for pid in $(ip netns pids "${NODES[2]}"); do kill -KILL "$pid" 2>/dev/null; done
    inns "${NODES[2]}" ip link set eth0 down
    t0=$SECONDS
    check_within "lost node: its ${#lost[@]} sessions answer 404 within ${bound}s" "$bound" bash -c "
        for s in ${lost[*]}; do
            [ \"\$(ip netns exec $HUB curl -s -m 5 -o /dev/null -w '%{http_code}' http://${ADDR[0]}:8080/sessions/\$s)\" = 404 ] || exit 1
        done"
    echo "# lost node: its sessions answered 404 after $((SECONDS - t0)) s"
    k=0
    for s in "${kept[@]}"; do
        [ "$(code "http://${ADDR[k % 2]}:8080/sessions/$s")" = 200 ] && k=$((k + 1))
    done
    check_eq "lost node: the ${#kept[@]} sessions of the other nodes answer 200" "${#kept[@]}" "$k"
    mp=$(master_port)
    check_within "lost node: the survivors' reapers remove its records" 20 bash -c "
        [ \"\$(REDISCLI_AUTH=$PW ip netns exec $HUB redis-cli -h $SUB.1 -p $mp EXISTS $PREFIX:pool:node3)\" = 0 ]"
    echo "# lost node: its records were removed after $((SECONDS - t0)) s"
    echo "# lost node: sessions in Redis now: $(rc "$mp" EVAL "return #redis.call('KEYS', ARGV[1])" 0 "$PREFIX:session:*")"
    k=0
    for i in $(seq 1 10); do
        hcurl -X POST -H 'Content-Type: application/json' -d '{"mn":1}' -o "$T/lost-create" \
            -w '%{http_code}' "http://${ADDR[i % 2]}:8080/sessions" >"$T/lost-code"
        if grep -q "\"id\"" "$T/lost-create"; then
            k=$((k + 1))
        else
            echo "# lost node: create $i through node $((i % 2 + 1)): $(cat "$T/lost-code") $(head -c 300 "$T/lost-create")"
        fi
    done
    check_eq "lost node: 10 creates on the others succeed" 10 "$k"
}
duplicate_name() {
    local d=$T/dup rc
    node_conf 1 node1 "$d"
    cgns "${NODES[1]}" timeout 10 "$top_builddir/spawner/steel-spawner" \
        -f "$d/steel-orchestrator.conf" >"$d/spawner.log" 2>&1
    rc=$?
    check "a second node1 on another host is refused (exit $rc)" \
        test "$rc" != 0 -a "$rc" != 124
    check "... and the error names node_name" grep -q "node_name" "$d/spawner.log"
}
burst() {
    local before after i
    before=$(rc "$(master_port)" GET "$PREFIX:seq:worker")
    local pids=() d=$T/burst
    mkdir -p "$d"
    for i in $(seq 1 30); do
        create 0 >"$d/$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    sleep 3
    after=$(rc "$(master_port)" GET "$PREFIX:seq:worker")
    echo "# burst: 30 creates to node 1 started $((after - before)) workers"
    # 30 for the sessions, and at most each node's idle target (3 x 3)
    # again when a node's view lags the claims and it starts for creates
    # another node already served (seen: 37 on a loaded machine); the
    # surplus is retired at the next view as idle above the target.
    check "burst: at most 30 + 3 x pool_idle_target workers started (39)" \
        test $((after - before)) -le 39
    # Its sessions go: they would hold 30 of the 60 workers the pools allow.
    for i in $(cat "$d"/*); do code -X DELETE "http://${ADDR[0]}:8080/sessions/$i" >/dev/null; done
}
if liveness_probe; then
    burst
    duplicate_name
    node_lost
else
    echo "SKIP: lost node, duplicate node_name, burst: /status shows no per-node heartbeat and state (node liveness is not built)"
fi

stop_load
lib_finish
