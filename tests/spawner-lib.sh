# SPDX-License-Identifier: BSD-2-Clause
# spawner-lib.sh - what the spawner's shell tests share: a private Redis, a
# generated configuration, the spawner under test, and ways to find the
# worker processes it started (by STEEL_PREFIX in their environment).
# Source after tests/lib.sh and lib_init.

EMU=$top_builddir/tester/steel-browser-emu
SPAWNER=$top_builddir/spawner/steel-spawner
FIXTURE=$top_builddir/tests/reaper-fixture
NODE=sp-node-$$
PFX=sp$$r$RANDOM
# A port range of our own below the kernel's ephemeral ports, claimed
# (tests/portclaim.sh) so that no parallel test's workers share it.
SP_PORTS=$(worker_ports 100) || exit 1
PORT_BASE=${SP_PORTS%-*}
PORT_MAX=${SP_PORTS#*-}
SP_PID=

# spawner_setup - checks the programs, starts Redis, makes the test kill
# every worker of $PFX on exit even when the spawner is gone.
spawner_setup() {
    local f
    for f in "$EMU" "$SPAWNER" "$FIXTURE"; do
        [ -x "$f" ] || { echo "missing $f (run make and make check)" >&2; exit 1; }
    done
    # A port that free_port found may be taken by a parallel test before
    # Redis binds it: try again on another one.
    start_redis || start_redis || exit 1
    trap 'st=$?; (exit $st); lib_cleanup; kill_ours; cgroups_remove; exit $st' EXIT
}

# cgroups_remove - the test's (empty) cgroups, deepest first.
cgroups_remove() {
    local mnt
    for mnt in $(awk '{ for (i = 7; i < NF; i++) if ($i == "-") break
            if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5 }' \
        /proc/self/mountinfo); do
        [ -d "$mnt/steel-test/$PFX" ] || continue
        find "$mnt/steel-test/$PFX" -depth -type d -exec rmdir {} \; 2>/dev/null
        rmdir "$mnt/steel-test" 2>/dev/null
    done
    return 0
}

# cgroup_main - the mount point of the main cgroup hierarchy (cgroup2:
# the unified one of a hybrid layout, else the whole tree).
cgroup_main() {
    if [ -d /sys/fs/cgroup/unified ]; then
        echo /sys/fs/cgroup/unified
    else
        echo /sys/fs/cgroup
    fi
}

# worker_group_add ID PID - as root, moves PID into the group of worker ID
# in the subtree of node $NODE (what makes a process a worker of it).
worker_group_add() {
    local g
    g=$(cgroup_main)/steel-test/$PFX/$NODE/workers/w$1
    mkdir -p "$g" && echo "$2" >"$g/cgroup.procs"
}

# write_conf [KEY=VALUE]... - $T/steel.conf: test defaults, each unless
# overridden, then the overrides.
write_conf() {
    local kv key skip d
    local defaults=(
        "redis=127.0.0.1:$REDIS_PORT"
        "redis_timeout_ms=1000"
        "key_prefix=$PFX"
        "node_name=$NODE"
        "worker_port_range=$PORT_BASE-$PORT_MAX"
        "worker_log_dir=$T/workers"
        "node_token_dir=$T"
        "worker_start_timeout_ms=3000"
        "restart_backoff_min_ms=100"
        "restart_backoff_max_ms=1000"
        "pool_idle_grace=1"
        "probe_timeout_ms=1000"
        "worker_env=STEEL_EMU_*"
    )
    # As root: a cgroup subtree of this test's own, one per node (a
    # spawner refuses a subtree another holds); else no cgroups (a user
    # has no delegated subtree outside systemd).
    local node=$NODE
    for kv in "$@"; do
        [ "${kv%%=*}" = node_name ] && node=${kv#*=}
    done
    if [ "$(id -u)" = 0 ]; then
        defaults+=("cgroup_root=/steel-test/$PFX/$node")
    else
        defaults+=("worker_cgroup=off")
    fi
    {
        for d in "${defaults[@]}"; do
            key=${d%%=*}
            skip=0
            for kv in "$@"; do
                [ "${kv%%=*}" = "$key" ] && skip=1
            done
            [ "$skip" = 1 ] || echo "$key = ${d#*=}"
        done
        for kv in "$@"; do
            echo "${kv%%=*} = ${kv#*=}"
        done
    } >"$T/steel.conf.tmp"
    mv "$T/steel.conf.tmp" "$T/steel.conf"
}

# start_spawner [NAME] - runs the spawner with debug logging in
# $T/NAME.log (default spawner); sets SP_PID.
start_spawner() {
    local name=${1:-spawner}
    start_bg "$name" "$SPAWNER" -d -f "$T/steel.conf"
    SP_PID=$(cat "$T/$name.pid")
}

# stop_spawner - SIGTERM and wait; sets SP_RC to its exit status, or 124
# when it was still running after 10 s.
stop_spawner() {
    local i
    kill -TERM "$SP_PID" 2>/dev/null
    SP_RC=124
    for i in $(seq 1 200); do
        if ! kill -0 "$SP_PID" 2>/dev/null; then
            wait "$SP_PID" 2>/dev/null
            SP_RC=$?
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# ours - pids of live processes whose environment has STEEL_PREFIX=$PFX.
ours() {
    local d pid
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        grep -qzx "STEEL_PREFIX=$PFX" "$d/environ" 2>/dev/null && echo "$pid"
    done
    return 0
}

kill_ours() {
    local pid
    for pid in $(ours); do
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
}

no_ours() {
    [ -z "$(ours)" ]
}

# alive PID - the process exists and is no zombie.
alive() {
    local s
    s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$s" ] && [ "${s:0:1}" != Z ]
}

dead() {
    ! alive "$1"
}

# zombies_of PID - child processes of PID that are zombies.
zombies_of() {
    ps -o pid=,stat= --ppid "$1" 2>/dev/null | awk '$2 ~ /^Z/ {print $1}'
}

idle_count() {
    rcli llen "$PFX:idle"
}

idle_is() {
    [ "$(idle_count)" = "$1" ]
}

idle_at_least() {
    [ "$(idle_count)" -ge "$1" ]
}

# node_count - worker records of our node.
node_count() {
    rcli scard "$PFX:node:$NODE"
}

node_is() {
    [ "$(node_count)" = "$1" ]
}

node_at_least() {
    [ "$(node_count)" -ge "$1" ]
}

# whash ID FIELD - a field of a worker record.
whash() {
    rcli_raw hget "$PFX:worker:$1" "$2"
}

pool_field() {
    rcli_raw hget "$PFX:pool:$NODE" "$1"
}

pool_state_is() {
    [ "$(pool_field state)" = "$1" ]
}

record_gone() {
    [ "$(rcli exists "$PFX:worker:$1")" = 0 ]
}

key_gone() {
    [ "$(rcli exists "$1")" = 0 ]
}

# first_idle - the id at the head of P:idle.
first_idle() {
    rcli_raw lindex "$PFX:idle" 0
}

fix() {
    "$FIXTURE" "$T/steel.conf" "$@"
}

# make_session - claims an idle worker through the real scripts, creates a
# session on it with POST /sessions and binds it.  Sets S_ID (session),
# S_WID (worker id), S_PORT.
make_session() {
    local claim body
    claim=$(fix claim) || { echo "claim failed" >&2; return 1; }
    S_WID=${claim%% *}
    S_PORT=${claim##* }
    body=$(curl -sf -m 5 -X POST -H 'Content-Type: application/json' \
        -d '{"t":1}' "http://127.0.0.1:$S_PORT/sessions") || return 1
    S_ID=$(printf '%s' "$body" | sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p')
    [ -n "$S_ID" ] || return 1
    fix bind "$S_WID" "$S_ID" 60000
}

# log_count PATTERN [LOG] - lines of the spawner log matching PATTERN.
log_count() {
    grep -c -- "$1" "$T/${2:-spawner}.log" 2>/dev/null
}

# log_has N PATTERN [LOG] - the log has exactly N lines matching PATTERN
# (a command, so check_eventually evaluates it on every try).
log_has() {
    [ "$(log_count "$2" "${3:-spawner}")" = "$1" ]
}

now_ms() {
    date +%s%3N
}
