# SPDX-License-Identifier: BSD-2-Clause
# reaper-lib.sh - what the reaper's shell tests share: a configuration, a
# private Redis, and emulated workers registered through the real store.h
# scripts (tests/reaper-fixture) the way the spawner registers them.
# Source after tests/lib.sh and lib_init.

EMU=$top_builddir/tester/steel-browser-emu
REAPER=$top_builddir/reaper/steel-reaper
FIXTURE=$top_builddir/tests/reaper-fixture
NODE=reaper-test
PFX=rt$$

# reaper_setup - Redis and $T/steel.conf with short deadlines:
# a pass every 1 s, probes of 300 ms, a kill after 2 failed probes.
reaper_setup() {
    for f in "$EMU" "$REAPER" "$FIXTURE"; do
        [ -x "$f" ] || { echo "missing $f (run make and make check)" >&2; exit 1; }
    done
    start_redis || exit 1
    RP_LO=$(worker_ports 100 20000 29999) || exit 1
    RP_LO=${RP_LO%-*}
    cat >"$T/steel.conf" <<EOF
redis = 127.0.0.1:$REDIS_PORT
redis_timeout_ms = 1000
key_prefix = $PFX
node_name = $NODE
session_ttl = 60
create_wait = 1
worker_connect_timeout_ms = 200
worker_timeout_ms = 1000
worker_start_timeout_ms = 1000
reap_interval = 1
probe_timeout_ms = 300
probe_failures = 2
worker_cgroup = off
EOF
    # What a spawner of $NODE notes once its workers are in Redis
    # (spawner/rebuild.c); without it the reaper kills no stray.
    rcli HSET "$PFX:gen" "$NODE" 1 >/dev/null
}

fix() {
    "$FIXTURE" "$T/steel.conf" "$@"
}

# now_ms - wall clock in ms.
now_ms() {
    date +%s%3N
}

# worker_port - a free port of the test's own block of worker_port_range's
# default (20000-29999, the reaper probes no record outside it), claimed
# at setup (tests/portclaim.sh) so that no parallel test's workers use it.
worker_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((RP_LO + RANDOM % 100))
        if port_claim "$p" && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "worker_port: no free port" >&2
    return 1
}

# spawn_worker - registers a worker (starting, placeholder pid), starts an
# emulator in its own session with the spawner's environment, fills in its
# pid, waits for /health and makes it idle.  Sets W_ID, W_PID, W_PORT.  A
# port taken by someone else between free_port and bind means another try.
spawn_worker() {
    local port id pid try
    for try in 1 2 3; do
        port=$(worker_port) || exit 1
        id=$(fix add 127.0.0.1 "$port") || exit 1
        setsid env PORT="$port" STEEL_WORKER_ID="$id" STEEL_NODE="$NODE" \
            STEEL_PREFIX="$PFX" "$EMU" >>"$T/worker-$id.log" 2>&1 &
        pid=$!
        disown "$pid" # bash still reaps it, without a job notice
        track_pid "$pid"
        if fix setpid "$id" "$pid" 2>/dev/null &&
            wait_until_listening "$port" "$pid"; then
            W_ID=$id W_PID=$pid W_PORT=$port
            return 0
        fi
        kill -KILL "$pid" 2>/dev/null
        fix gone "$id"
    done
    echo "no worker could start" >&2
    exit 1
}

# wait_until_listening PORT PID - /health answers, or PID exited (1).
wait_until_listening() {
    local i
    for i in $(seq 1 200); do
        curl -sf -m 1 "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
        alive "$2" || return 1
        sleep 0.05
    done
    return 1
}

# start_foreign NODE PREFIX - an emulator that carries another node's or
# prefix's identity; sets F_PID.
start_foreign() {
    local port try
    for try in 1 2 3; do
        port=$(worker_port) || exit 1
        setsid env PORT="$port" STEEL_WORKER_ID=999999 STEEL_NODE="$1" \
            STEEL_PREFIX="$2" "$EMU" >>"$T/foreign-$port.log" 2>&1 &
        F_PID=$!
        disown "$F_PID"
        track_pid "$F_PID"
        wait_until_listening "$port" "$F_PID" && return 0
        kill -KILL "$F_PID" 2>/dev/null
    done
    echo "no foreign worker could start" >&2
    exit 1
}

# alive PID - the process exists and is no zombie.
alive() {
    local s
    s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$s" ] && [ "${s:0:1}" != Z ]
}

gone() {
    ! alive "$1"
}

wstate() {
    rcli HGET "$PFX:worker:$1" state
}

state_is() {
    [ "$(wstate "$1")" = "$2" ]
}

in_idle() {
    rcli_raw LRANGE "$PFX:idle" 0 -1 | grep -qx "$1"
}

not_in_idle() {
    ! in_idle "$1"
}

record_gone() {
    [ "$(rcli EXISTS "$PFX:worker:$1")" = 0 ] &&
        ! rcli_raw SMEMBERS "$PFX:node:$NODE" | grep -qx "$1" &&
        not_in_idle "$1"
}

stat_of() {
    local v
    v=$(rcli_raw HGET "$PFX:stats" "$1")
    echo "${v:-0}"
}

# new_session PORT - POSTs a session on an emulator; prints its id.
new_session() {
    curl -sf -X POST -H 'Content-Type: application/json' -d '{"t":1}' \
        "http://127.0.0.1:$1/sessions" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}

# worker_status PORT - the emulator's /status body.
worker_status() {
    curl -s -m 2 "http://127.0.0.1:$1/status"
}

worker_available() {
    [ "$(worker_status "$1")" = '{"available":true,"session_id":null}' ]
}

# claim_busy TTL_MS - claims the oldest idle worker, creates a session on
# it and binds it.  Sets CL_ID, CL_PORT, CL_SID.
claim_busy() {
    local line
    line=$(fix claim) || { echo "nothing to claim" >&2; return 1; }
    CL_ID=${line%% *}
    CL_PORT=${line##* }
    CL_SID=$(new_session "$CL_PORT")
    [ -n "$CL_SID" ] || { echo "create on $CL_PORT failed" >&2; return 1; }
    fix bind "$CL_ID" "$CL_SID" "$1"
}
