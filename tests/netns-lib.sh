# SPDX-License-Identifier: BSD-2-Clause
# netns-lib.sh - a cluster of nodes on one Redis, each node in a network
# namespace of its own, for bench/cluster.  Source it after tests/lib.sh
# and tests/stack.sh (lib_init done), then:
#
#   nn_init NAME K        names: a hub namespace and K node namespaces,
#                         a private 10.x.y.0/24, a Redis password
#   nn_net                the hub's bridge (SUB.1) and a veth per node
#                         (SUB.11, SUB.12, ...)
#   nn_redis              in the hub: Redis master (6379) and replica
#                         (6380), three Sentinels (26379-26381)
#   nn_start_node I       node I (0-based): spawner, reaper and lighttpd
#                         with steel-fcgi, configured by nn_node_conf;
#                         NN_EXTRA_CONF is appended to every node's file
#   nn_cleanup            stops every process in the namespaces (by the
#                         namespaces' pid lists) and removes them
#
# Everything runs inside the namespaces this file creates: clients in the
# hub (nn_hub CMD...), nodes in theirs (nn_in I CMD...).  Needs root and
# iproute2; nn_net returns 1 when a namespace cannot be made.

NN_HUB=
NN_NODES=()
NN_ADDR=()
NN_SUB=
NN_PREFIX=
NN_PW=
NN_WORKER_BIN=${NN_WORKER_BIN:-$top_builddir/tests/steel-browser-lite}
NN_ADMIN=nn-admin

nn_init() { # NAME K
    local i
    NN_HUB=$1-hub
    NN_NODES=()
    NN_ADDR=()
    NN_SUB=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
    for ((i = 0; i < $2; i++)); do
        NN_NODES+=("$1-n$i")
        NN_ADDR+=("$NN_SUB.$((11 + i))")
    done
    NN_PREFIX=$1
    NN_PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
}

nn_hub() { ip netns exec "$NN_HUB" "$@"; }
nn_in() { local i=$1; shift; ip netns exec "${NN_NODES[i]}" "$@"; }

nn_cleanup() {
    local ns pid
    for ns in "${NN_NODES[@]}" "$NN_HUB"; do
        ip netns list 2>/dev/null | grep -qw "$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
    done
    sleep 1
    for ns in "${NN_NODES[@]}" "$NN_HUB"; do
        ip netns list 2>/dev/null | grep -qw "$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -CONT "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        done
        ip netns del "$ns" 2>/dev/null
    done
}

nn_net() {
    local i
    ip netns add "$NN_HUB" 2>/dev/null || return 1
    nn_hub ip link set lo up &&
        nn_hub ip link add br0 type bridge &&
        nn_hub ip addr add "$NN_SUB.1/24" dev br0 &&
        nn_hub ip link set br0 up || return 1
    for i in "${!NN_NODES[@]}"; do
        ip netns add "${NN_NODES[i]}" &&
            nn_in "$i" ip link set lo up &&
            nn_hub ip link add "v$i" type veth peer name eth0 netns "${NN_NODES[i]}" &&
            nn_hub ip link set "v$i" master br0 up &&
            nn_in "$i" ip addr add "${NN_ADDR[i]}/24" dev eth0 &&
            nn_in "$i" ip link set eth0 up || return 1
    done
}

# nn_rcli PORT ARGS... - redis-cli to the hub's Redis (or a Sentinel).
nn_rcli() {
    local port=$1
    shift
    nn_hub env REDISCLI_AUTH="$NN_PW" redis-cli --no-auth-warning -h "$NN_SUB.1" -p "$port" "$@" 2>/dev/null
}
nn_master_port() { nn_rcli 26379 SENTINEL get-master-addr-by-name steel | sed -n 2p; }

nn_redis_node() { # NAME PORT [extra...]
    local name=$1 port=$2
    shift 2
    mkdir -p "$T/$name"
    start_bg "$name" ip netns exec "$NN_HUB" redis-server --port "$port" --bind "$NN_SUB.1" \
        --save "" --appendonly no --dir "$T/$name" --maxclients 20000 \
        --user steel on ">$NN_PW" '~*' '&*' '+@all' --requirepass "$NN_PW" \
        --masterauth "$NN_PW" --repl-diskless-sync-delay 0 "$@"
}

nn_redis() {
    local i
    nn_redis_node master 6379
    nn_redis_node replica 6380 --replicaof "$NN_SUB.1" 6379
    for i in 0 1 2; do
        mkdir -p "$T/s$i"
        cat >"$T/s$i/sentinel.conf" <<EOF
port $((26379 + i))
bind $NN_SUB.1
daemonize no
dir $T/s$i
sentinel monitor steel $NN_SUB.1 6379 2
sentinel auth-pass steel $NN_PW
sentinel down-after-milliseconds steel 3000
sentinel failover-timeout steel 10000
EOF
        start_bg "sentinel$i" ip netns exec "$NN_HUB" redis-sentinel "$T/s$i/sentinel.conf"
    done
    wait_for 10 bash -c "[ \"\$(REDISCLI_AUTH=$NN_PW ip netns exec $NN_HUB redis-cli --no-auth-warning -h $NN_SUB.1 -p 6379 ping)\" = PONG ]" ||
        return 1
    wait_for 25 bash -c "ip netns exec $NN_HUB redis-cli -h $NN_SUB.1 -p 26379 SENTINEL replicas steel | grep -qx slave"
}

# nn_node_conf I IDLE MAX - node I's steel-orchestrator.conf.
nn_node_conf() {
    local i=$1 d=$T/n$1
    mkdir -p "$d/www" "$d/tmp" "$d/workers"
    (
        umask 077
        cat >"$d/steel-orchestrator.conf" <<EOF
key_prefix = $NN_PREFIX
node_name = node$i
redis = 127.0.0.1:1
redis_sentinels = $NN_SUB.1:26379,$NN_SUB.1:26380,$NN_SUB.1:26381
redis_master_name = steel
redis_user = steel
redis_password = $NN_PW
redis_timeout_ms = 2000
session_ttl = 3600
pool_idle_target = $2
pool_max_workers = $3
create_wait = 20
reap_interval = 1
worker_bin = $NN_WORKER_BIN
worker_host = ${NN_ADDR[i]}
worker_hosts = ${NN_ADDR[*]}
worker_port_range = 20000-29999
worker_env = STEEL_EMU_*
worker_log_dir = $d/workers
log_level = warn
admin_token = $NN_ADMIN
${NN_EXTRA_CONF:-}
EOF
    )
}

# nn_cg I CMD... - CMD in node I's namespace with cgroup2 mounted there
# (ip netns exec brings a sysfs of its own without the cgroup mounts).
nn_cg() {
    ip netns exec "${NN_NODES[$1]}" sh -c 'mountpoint -q /sys/fs/cgroup ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1; exec "$@"' sh "${@:2}"
}

nn_start_node() { # I IDLE MAX
    local i=$1 d=$T/n$1
    nn_node_conf "$i" "$2" "$3"
    STACK_RUN=$d STACK_PREFIX=$NN_PREFIX-n$i STACK_HTTP_PORT=8080 \
        STEEL_LIGHTTPD_EXTRA="\$SERVER[\"socket\"] == \"${NN_ADDR[i]}:8080\" { }" \
        stack_write_lighttpd || return 1
    start_bg "n$i-spawner" nn_cg "$i" env STEEL_EMU_BIND="${NN_ADDR[i]}" \
        "$top_builddir/spawner/steel-spawner" -f "$d/steel-orchestrator.conf"
    start_bg "n$i-reaper" nn_cg "$i" "$top_builddir/reaper/steel-reaper" \
        -f "$d/steel-orchestrator.conf"
    start_bg "n$i-lighttpd" ip netns exec "${NN_NODES[i]}" lighttpd -D -f "$d/lighttpd.conf"
}

# nn_set_pool I IDLE MAX - rewrite node I's pool sizes and reload its
# spawner (SIGHUP).
nn_set_pool() {
    local f=$T/n$1/steel-orchestrator.conf
    sed -i -e "s/^pool_idle_target = .*/pool_idle_target = $2/" \
        -e "s/^pool_max_workers = .*/pool_max_workers = $3/" "$f"
    kill -HUP "$(nn_pid "$1" steel-spawner)" 2>/dev/null
}

# nn_pid I COMM - the first pid in node I's namespace whose comm is COMM.
nn_pid() {
    local pid
    for pid in $(ip netns pids "${NN_NODES[$1]}" 2>/dev/null); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && { echo "$pid"; return 0; }
    done
    return 1
}

# nn_cpu_ns NS COMM... - nanoseconds of CPU (every thread) of the
# processes in namespace NS whose comm is one of COMM.
nn_cpu_ns() {
    local ns=$1 pid c total=0 t
    shift
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        c=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
        case " $* " in *" $c "*) ;; *) continue ;; esac
        for t in /proc/"$pid"/task/*/schedstat; do
            read -r ns_run _ <"$t" 2>/dev/null && total=$((total + ns_run))
        done
    done
    echo "$total"
}
