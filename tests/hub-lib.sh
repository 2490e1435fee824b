# SPDX-License-Identifier: BSD-2-Clause
# hub-lib.sh - the network of every test with more than one node: a hub
# network namespace with a bridge, node namespaces on it, and their
# removal with everything still running in them.  Used by netns-lib.sh,
# cluster-lib.sh, multinode.sh and node-lost-create.sh.
#
#   HUB_SUB            a random private 10.x.y, chosen when this file is
#                      sourced: the bridge is HUB_SUB.1
#   hub_init NS        namespace NS with lo up and the bridge br0 at
#                      HUB_SUB.1/24
#   hub_node NS I      namespace NS with lo up and eth0 at hub_addr I,
#                      its peer vI on the bridge
#   hub_addr I         HUB_SUB.(11+I)
#   hub_cleanup        TERM every process in the namespaces made here, up
#                      to 10 s for them to go (a busy machine), CONT and
#                      KILL the rest, then remove the namespaces
#   hub_redis_node NAME PORT PW [ARG...]
#                      redis-server NAME in the hub on HUB_SUB.1:PORT
#                      (start_bg of lib.sh), its directory $T/NAME, nothing
#                      persisted; user steel and the default user with
#                      password PW
#   hub_redis_ha PW [ARG...]
#                      master (6379) and replica (6380), ARG to both, and
#                      three Sentinels (26379-26381) that watch the master
#                      as "steel"; returns 1 when the master does not answer
#                      within 10 s or the Sentinels do not know the replica
#                      within 25 s
#
# hub_init and hub_node return 1 when a namespace or a link cannot be
# made (no root, no iproute2, a kernel without veth or bridges); what they
# made is still removed by hub_cleanup.  Processes still in the
# namespaces at hub_cleanup were started by the test: nothing else runs
# there.

HUB_SUB=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
HUB_NS=   # the hub's namespace
HUB_ALL=() # every namespace made here, the hub first

hub_init() { # NS
    ip netns add "$1" 2>/dev/null || return 1
    HUB_NS=$1
    HUB_ALL+=("$1")
    ip netns exec "$1" ip link set lo up &&
        ip netns exec "$1" ip link add br0 type bridge &&
        ip netns exec "$1" ip addr add "$HUB_SUB.1/24" dev br0 &&
        ip netns exec "$1" ip link set br0 up
}

hub_addr() { echo "$HUB_SUB.$((11 + $1))"; }

hub_node() { # NS I
    local ns=$1 i=$2
    ip netns add "$ns" 2>/dev/null || return 1
    HUB_ALL+=("$ns")
    ip netns exec "$ns" ip link set lo up &&
        ip netns exec "$HUB_NS" ip link add "v$i" type veth peer name eth0 netns "$ns" &&
        ip netns exec "$HUB_NS" ip link set "v$i" master br0 up &&
        ip netns exec "$ns" ip addr add "$(hub_addr "$i")/24" dev eth0 &&
        ip netns exec "$ns" ip link set eth0 up
}

# A replica's full sync starts at once (Redis 7 waits 5 s for other
# replicas by default, and a fail-over in that window promotes stale data).
hub_redis_node() { # NAME PORT PW [ARG...]
    local name=$1 port=$2 pw=$3
    shift 3
    mkdir -p "$T/$name"
    start_bg "$name" ip netns exec "$HUB_NS" redis-server --port "$port" \
        --bind "$HUB_SUB.1" --save "" --appendonly no --dir "$T/$name" \
        --user steel on ">$pw" '~*' '&*' '+@all' --requirepass "$pw" \
        --masterauth "$pw" --repl-diskless-sync-delay 0 "$@"
}

hub_redis_ha() { # PW [ARG...]
    local pw=$1 i
    shift
    hub_redis_node master 6379 "$pw" "$@"
    hub_redis_node replica 6380 "$pw" --replicaof "$HUB_SUB.1" 6379 "$@"
    for i in 0 1 2; do
        mkdir -p "$T/s$i"
        cat >"$T/s$i/sentinel.conf" <<EOF
port $((26379 + i))
bind $HUB_SUB.1
daemonize no
dir $T/s$i
sentinel monitor steel $HUB_SUB.1 6379 2
sentinel auth-pass steel $pw
sentinel down-after-milliseconds steel 3000
sentinel failover-timeout steel 10000
EOF
        start_bg "sentinel$i" ip netns exec "$HUB_NS" redis-sentinel "$T/s$i/sentinel.conf"
    done
    wait_for 10 bash -c "[ \"\$(REDISCLI_AUTH=$pw ip netns exec $HUB_NS redis-cli --no-auth-warning -h $HUB_SUB.1 -p 6379 ping)\" = PONG ]" ||
        return 1
    wait_for 25 bash -c "ip netns exec $HUB_NS redis-cli -h $HUB_SUB.1 -p 26379 SENTINEL replicas steel | grep -qx slave"
}

# hub_pids - the pids of every process in the namespaces made here.
hub_pids() {
    local ns
    for ns in "${HUB_ALL[@]}"; do
        ip netns pids "$ns" 2>/dev/null
    done
}

# hub_wait_gone SECONDS - 0 once no process is left, 1 after SECONDS (a
# deadline, not a count of looks: with thousands of processes one look
# at every namespace takes a while).
hub_wait_gone() {
    local end=$((${EPOCHREALTIME/./} + $1 * 1000000))
    while [ -n "$(hub_pids)" ]; do
        [ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
        sleep 0.1
    done
}

hub_cleanup() {
    local pid ns
    for pid in $(hub_pids); do kill -TERM "$pid" 2>/dev/null; done
    if ! hub_wait_gone 10; then
        for pid in $(hub_pids); do
            kill -CONT "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        done
        hub_wait_gone 5
    fi
    for ns in "${HUB_ALL[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    HUB_ALL=()
}
