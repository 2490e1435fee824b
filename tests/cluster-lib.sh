# SPDX-License-Identifier: BSD-2-Clause
# cluster-lib.sh - a cluster of nodes on one Redis, each node in a network
# namespace of its own, for bench/cluster.  Source it after tests/lib.sh
# and tests/stack.sh (lib_init done), then:
#
#   cl_init NAME K        names: a hub namespace and K node namespaces,
#                         a private 10.x.y.0/24, a Redis password
#   cl_net                the hub's bridge (SUB.1) and a veth per node
#                         (SUB.11, SUB.12, ...)
#   cl_redis              in the hub: Redis master (6379) and replica
#                         (6380), three Sentinels (26379-26381)
#   cl_start_node I       node I (0-based): spawner, reaper and lighttpd
#                         with steel-fcgi, configured by cl_node_conf;
#                         CL_EXTRA_CONF is appended to every node's file
#   cl_cleanup            stops every process in the namespaces (by the
#                         namespaces' pid lists) and removes them
#                         (hub_cleanup, tests/hub-lib.sh)
#
# Everything runs inside the namespaces this file creates: clients in the
# hub (cl_hub CMD...), nodes in theirs (cl_in I CMD...).  Needs root and
# iproute2; cl_net returns 1 when a namespace cannot be made.

. "$top_srcdir/tests/hub-lib.sh"

CL_HUB=
CL_NODES=()
CL_ADDR=()
CL_SUB=
CL_PREFIX=
CL_PW=
CL_WORKER_BIN=${CL_WORKER_BIN:-$top_builddir/tests/steel-browser-lite}
CL_ADMIN=nn-admin

cl_init() { # NAME K
    local i
    CL_HUB=$1-hub
    CL_NODES=()
    CL_ADDR=()
    CL_SUB=$HUB_SUB
    for ((i = 0; i < $2; i++)); do
        CL_NODES+=("$1-n$i")
        CL_ADDR+=("$(hub_addr "$i")")
    done
    CL_PREFIX=$1
    CL_PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
}

cl_hub() { ip netns exec "$CL_HUB" "$@"; }
cl_in() { local i=$1; shift; ip netns exec "${CL_NODES[i]}" "$@"; }

cl_cleanup() { hub_cleanup; }

cl_net() {
    local i
    hub_init "$CL_HUB" || return 1
    for i in "${!CL_NODES[@]}"; do
        hub_node "${CL_NODES[i]}" "$i" || return 1
    done
}

# cl_rcli PORT ARGS... - redis-cli to the hub's Redis (or a Sentinel).
cl_rcli() {
    local port=$1
    shift
    cl_hub env REDISCLI_AUTH="$CL_PW" redis-cli --no-auth-warning -h "$CL_SUB.1" -p "$port" "$@" 2>/dev/null
}
cl_master_port() { cl_rcli 26379 SENTINEL get-master-addr-by-name steel | sed -n 2p; }

cl_redis() { hub_redis_ha "$CL_PW" --maxclients 20000; }

# cl_node_conf I IDLE MAX - node I's steel-orchestrator.conf.
cl_node_conf() {
    local i=$1 d=$T/n$1
    mkdir -p "$d/www" "$d/tmp" "$d/workers"
    (
        umask 077
        cat >"$d/steel-orchestrator.conf" <<EOF
key_prefix = $CL_PREFIX
node_name = node$i
node_token_dir = $d
redis = 127.0.0.1:1
redis_sentinels = $CL_SUB.1:26379,$CL_SUB.1:26380,$CL_SUB.1:26381
redis_master_name = steel
redis_user = steel
redis_password = $CL_PW
redis_timeout_ms = 2000
session_ttl = 3600
pool_idle_target = $2
pool_max_workers = $3
create_wait = 20
reap_interval = 1
worker_bin = $CL_WORKER_BIN
worker_host = ${CL_ADDR[i]}
worker_hosts = ${CL_ADDR[*]}
worker_port_range = 20000-29999
worker_env = STEEL_EMU_*
worker_log_dir = $d/workers
log_level = warn
admin_token = $CL_ADMIN
${CL_EXTRA_CONF:-}
EOF
    )
}

# cl_cg I CMD... - CMD in node I's namespace with cgroup2 mounted there
# (ip netns exec brings a sysfs of its own without the cgroup mounts).
cl_cg() {
    ip netns exec "${CL_NODES[$1]}" sh -c 'mountpoint -q /sys/fs/cgroup ||
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1; exec "$@"' sh "${@:2}"
}

cl_start_node() { # I IDLE MAX
    local i=$1 d=$T/n$1
    cl_node_conf "$i" "$2" "$3"
    STACK_RUN=$d STACK_PREFIX=$CL_PREFIX-n$i STACK_HTTP_PORT=8080 \
        STEEL_LIGHTTPD_EXTRA="\$SERVER[\"socket\"] == \"${CL_ADDR[i]}:8080\" { }" \
        stack_write_lighttpd || return 1
    start_bg "n$i-spawner" cl_cg "$i" env STEEL_EMU_BIND="${CL_ADDR[i]}" \
        "$top_builddir/spawner/steel-spawner" -f "$d/steel-orchestrator.conf"
    start_bg "n$i-reaper" cl_cg "$i" "$top_builddir/reaper/steel-reaper" \
        -f "$d/steel-orchestrator.conf"
    start_bg "n$i-lighttpd" ip netns exec "${CL_NODES[i]}" lighttpd -D -f "$d/lighttpd.conf"
}

# cl_set_pool I IDLE MAX - rewrite node I's pool sizes and reload its
# spawner (SIGHUP).
cl_set_pool() {
    local f=$T/n$1/steel-orchestrator.conf
    sed -i -e "s/^pool_idle_target = .*/pool_idle_target = $2/" \
        -e "s/^pool_max_workers = .*/pool_max_workers = $3/" "$f"
    kill -HUP "$(cl_pid "$1" steel-spawner)" 2>/dev/null
}

# cl_pid I COMM - the first pid in node I's namespace whose comm is COMM.
cl_pid() {
    local pid
    for pid in $(ip netns pids "${CL_NODES[$1]}" 2>/dev/null); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && { echo "$pid"; return 0; }
    done
    return 1
}

# cl_cpu_ns NS COMM... - nanoseconds of CPU (every thread) of the
# processes in namespace NS whose comm is one of COMM.
cl_cpu_ns() {
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
