# SPDX-License-Identifier: BSD-2-Clause
# netns-lib.sh - nodes that share one Redis, each in network, PID and mount
# namespaces of its own, for tests/node-ranges.sh and
# tests/node-identity.sh.  Source it after lib.sh and stack.sh, then call
# nn_init.
#
# A hub namespace holds a bridge (SUB.1) and Redis (SUB.1:6379, a password);
# nn_ns I adds namespace I at SUB.(11+I) on the bridge.  nn_node I NAME
# starts in it, under a PID namespace of its own (unshare --pid, with /proc
# and cgroup2 mounted in its mount namespace): sh as PID 1, then
# steel-spawner and steel-reaper, so two nodes started alike have the
# same pids, as containers built from one image do; NN_MACHINE_ID names a
# file bind-mounted over /etc/machine-id.  Their exit statuses land in
# DIR/spawner.rc and DIR/reaper.rc.  nn_lighttpd I starts the front door
# (lighttpd and steel-fcgi) on SUB.(11+I):8080.
#
# Everything is stopped by pid and every namespace removed on exit, and
# the exit status of the test is kept, so a failure (a timeout's SIGTERM
# too) prints the logs, those under node directories included.
# STEEL_NN_OLD_BUILD=1: the configurations leave out what a build before
# node_token_dir refuses (top_builddir pointing at such a build).

. "$top_srcdir/tests/hub-lib.sh"

nn_skip() {
    echo "SKIP: $*"
    exit 77
}

nn_init() {
    local p
    [ "$(id -u)" = 0 ] || nn_skip "needs root to create namespaces"
    for p in ip redis-server lighttpd curl unshare mount; do
        command -v "$p" >/dev/null || nn_skip "$p is not installed"
    done
    lib_init
    NN_ID=$$
    NN_HUB=steel-nn$NN_ID-hub
    NN_SUB=$HUB_SUB
    NN_PREFIX=steel-nn$NN_ID
    NN_PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    NN_CG=/steel-nn$NN_ID
    trap 'nn_rc=$?; nn_cleanup; (exit $nn_rc); lib_cleanup' EXIT
    hub_init "$NN_HUB" || nn_skip "cannot build the hub's namespace and bridge"
    mkdir -p "$T/redis"
    start_bg redis ip netns exec "$NN_HUB" redis-server --port 6379 \
        --bind "$NN_SUB.1" --save "" --appendonly no --dir "$T/redis" \
        --requirepass "$NN_PW"
    wait_for 20 nn_rcli PING || {
        not_ok "redis answers in the hub"
        lib_finish
    }
}

# The processes and namespaces go (hub_cleanup), then the workers'
# cgroups.
nn_cleanup() {
    hub_cleanup
    # The workers' cgroups (cgroup_root below $NN_CG), deepest first.
    ip netns add "$NN_HUB-cg" 2>/dev/null &&
        ip netns exec "$NN_HUB-cg" sh -c "mountpoint -q /sys/fs/cgroup ||
            mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 0
            [ -d /sys/fs/cgroup$NN_CG ] &&
            find /sys/fs/cgroup$NN_CG -depth -type d -exec rmdir {} + 2>/dev/null
            exit 0"
    ip netns del "$NN_HUB-cg" 2>/dev/null
}

nn_rcli() {
    ip netns exec "$NN_HUB" env REDISCLI_AUTH="$NN_PW" redis-cli --raw \
        -h "$NN_SUB.1" -p 6379 "$@" 2>/dev/null
}

nn_addr() { hub_addr "$1"; }
nn_nsname() { echo "steel-nn$NN_ID-n$1"; }

# nn_ns I - namespace I on the bridge at SUB.(11+I).
nn_ns() { hub_node "$(nn_nsname "$1")" "$1"; }

# nn_conf I NAME DIR RANGE HOSTS - DIR/steel-orchestrator.conf of a node
# in namespace I named NAME with worker_port_range RANGE and worker_hosts
# HOSTS; its cgroups under $NN_CG/<DIR's name>, its instance token in DIR.
nn_conf() {
    local i=$1 name=$2 d=$3
    mkdir -p "$d/workers" "$d/www" "$d/tmp"
    (
        umask 077
        cat >"$d/steel-orchestrator.conf" <<EOF
key_prefix = $NN_PREFIX
node_name = $name
redis = $NN_SUB.1:6379
redis_password = $NN_PW
redis_timeout_ms = 1000
session_ttl = 120
pool_idle_target = 3
pool_max_workers = 20
create_wait = 10
reap_interval = 1
node_stale_ms = 3000
node_gone_after = 10
fcgi_threads = 4
fcgi_create_threads = 4
worker_bin = $top_builddir/tester/steel-browser-emu
worker_host = $(nn_addr "$i")
worker_hosts = $5
worker_port_range = $4
worker_env = STEEL_EMU_*
worker_log_dir = $d/workers
node_token_dir = $d
cgroup_root = $NN_CG/$(basename "$d")
log_level = info
admin_token = nn-admin
EOF
    )
    # A build before node_token_dir (to show a defect there) refuses it.
    if [ "${STEEL_NN_OLD_BUILD:-0}" = 1 ]; then
        sed -i '/^node_token_dir/d' "$d/steel-orchestrator.conf"
    fi
}

# nn_node I DIR - steel-spawner and steel-reaper of the
# configuration in DIR, in namespace I and a PID namespace of their own;
# NN_MACHINE_ID: a file bind-mounted over /etc/machine-id.
nn_node() {
    local i=$1 d=$2 ns
    ns=$(nn_nsname "$i")
    start_bg "$(basename "$d")-pidns" ip netns exec "$ns" \
        unshare --pid --fork --mount --mount-proc \
        env STEEL_EMU_BIND="$(nn_addr "$i")" sh -c '
        d=$1 mid=$2 b=$3
        mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 1
        [ -z "$mid" ] || mount --bind "$mid" /etc/machine-id || exit 1
        "$b/spawner/steel-spawner" -f "$d/steel-orchestrator.conf" >"$d/spawner.log" 2>&1 &
        sp=$!
        "$b/reaper/steel-reaper" -f "$d/steel-orchestrator.conf" >"$d/reaper.log" 2>&1 &
        rp=$!
        echo "$sp $rp" >"$d/pids"
        wait "$sp"
        echo $? >"$d/spawner.rc"
        wait "$rp"
        echo $? >"$d/reaper.rc"' sh "$d" "${NN_MACHINE_ID:-}" "$top_builddir"
}

# nn_lighttpd I DIR - the front door of the node in DIR on SUB.(11+I):8080.
nn_lighttpd() {
    local i=$1 d=$2 ns
    ns=$(nn_nsname "$i")
    STACK_RUN=$d STACK_PREFIX=$NN_PREFIX-$(basename "$d") STACK_HTTP_PORT=8080 \
        STEEL_LIGHTTPD_EXTRA="\$SERVER[\"socket\"] == \"$(nn_addr "$i"):8080\" { }" \
        stack_write_lighttpd || return 1
    start_bg "$(basename "$d")-lighttpd" ip netns exec "$ns" lighttpd -D -f "$d/lighttpd.conf"
}

# From the hub (a client outside every node).
nn_curl() { ip netns exec "$NN_HUB" curl -s -m 30 "$@"; }
nn_code() { nn_curl -o /dev/null -w '%{http_code}' "$@"; }
# nn_create I - a session through node I's front door: its id, or "".
nn_create() {
    nn_curl -X POST -H 'Content-Type: application/json' -d '{"nn":1}' \
        "http://$(nn_addr "$1"):8080/sessions" |
        sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}
nn_ready() { [ -n "$(nn_create "$1")" ]; }
# nn_status I - /status through node I.
nn_status() {
    nn_curl -H 'Authorization: Bearer nn-admin' "http://$(nn_addr "$1"):8080/status"
}
