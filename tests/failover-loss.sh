#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# failover-loss.sh - a Redis fail-over under a loop of creates loses no
# session a client was given and fails no create, and a session a client
# was told is gone stays gone.
#
# On loopback ports: the stack's Redis as master, two replicas, three
# Sentinels (quorum 2, down-after 1 s); the stack finds the master through
# them (redis_wait_replicas is left at auto: 1 with Sentinels).  Two moves,
# each under a loop of creates (about FAILOVER_RATE a second, 20 by
# default, each its own curl in the background; pool_idle_target
# FAILOVER_IDLE, 3 x the rate by default; bench/failover runs it at 50):
#
#   1. SENTINEL FAILOVER (the old master keeps accepting writes until
#      Sentinel turns it into a replica);
#   2. SIGKILL of the master of the moment (no master until Sentinel
#      promotes a replica).
#
# The loop runs from 1 s before the move until 1 s after Sentinel names
# the new master.  Then: every create answered 201; every session they
# made answers 200 (none lost with the old master's last writes); then
# all are deleted, and 3 s later (spawner rebuilds, reaper passes) every
# one still answers 404 (none restored by "registered again").  Prints,
# per move, the creates, their rate, and p50, p99 and max of their
# latency: the figures OPERATIONS.md "What a fail-over loses" quotes.

# As root, in a network namespace of its own (unshare: lo only, gone
# with the test's last process), so that the 400 worker ports and the
# Sentinels meet no other test's listeners.
if [ "$(id -u)" = 0 ] && [ -z "${FAILOVER_NETNS:-}" ] && command -v unshare >/dev/null &&
    unshare --net true 2>/dev/null; then
    exec unshare --net env FAILOVER_NETNS=1 bash -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

for p in redis-sentinel redis-server curl; do
    if ! command -v "$p" >/dev/null; then
        echo "SKIP: $p is not installed"
        exit 77
    fi
done

RATE=${FAILOVER_RATE:-20}
IDLE=${FAILOVER_IDLE:-$((RATE * 3))}
HTTP_PORT=$(free_port)
MASTER_PORT=$(free_port)
R1_PORT=$(free_port)
R2_PORT=$(free_port)
SPORTS=()
for i in 1 2 3; do SPORTS+=("$(free_port)"); done
PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 400) || exit 1
export STEEL_WORKER_PORTS

# Every Redis of the test knows the ACL user steel; replication and the
# Sentinels use the default user, with the same password.
mkdir -p "$T/bin" "$T/run" "$T/r1" "$T/r2"
cat >"$T/bin/redis-server" <<EOF
#!/bin/sh
exec $(command -v redis-server) "\$@" --user steel on '>$PW' '~*' '&*' '+@all' \\
    --masterauth '$PW' --repl-diskless-sync-delay 0
EOF
chmod 755 "$T/bin/redis-server"
export PATH="$T/bin:$PATH"
(
    umask 077
    printf 'STACK_HTTP_PORT=%s\nSTACK_REDIS_PORT=%s\nSTACK_REDIS_PASSWORD=%s\n' \
        "$HTTP_PORT" "$MASTER_PORT" "$PW" >"$T/run/stack.env"
)
sentinel_list=
for p in "${SPORTS[@]}"; do sentinel_list+="${sentinel_list:+,}127.0.0.1:$p"; done
cat >"$T/steel.conf" <<EOF
session_ttl = 300
pool_idle_target = $IDLE
pool_max_workers = 400
create_wait = 20
reap_interval = 1
fcgi_threads = 4
fcgi_create_threads = 64
redis_timeout_ms = 1000
worker_env = STEEL_EMU_*
redis_sentinels = $sentinel_list
redis_master_name = steel
redis_user = steel
EOF
export STEEL_CONF=$T/steel.conf

for r in 1 2; do
    port=R${r}_PORT
    start_bg "replica$r" redis-server --port "${!port}" --bind 127.0.0.1 \
        --save "" --appendonly no --dir "$T/r$r" --requirepass "$PW" \
        --replicaof 127.0.0.1 "$MASTER_PORT"
done
for i in 0 1 2; do
    mkdir -p "$T/s$i"
    cat >"$T/s$i/sentinel.conf" <<EOF
port ${SPORTS[i]}
bind 127.0.0.1
daemonize no
dir $T/s$i
sentinel monitor steel 127.0.0.1 $MASTER_PORT 2
sentinel auth-pass steel $PW
sentinel down-after-milliseconds steel 1000
sentinel failover-timeout steel 10000
sentinel parallel-syncs steel 2
EOF
    start_bg "sentinel$i" redis-sentinel "$T/s$i/sentinel.conf"
done

LOAD_PID=
stop_load() {
    [ -n "$LOAD_PID" ] || return 0
    touch "$T/stop"
    wait "$LOAD_PID" 2>/dev/null
    LOAD_PID=
}
stack_init "$T/run" "$HTTP_PORT" "$MASTER_PORT"
trap 'stop_load; stack_down >/dev/null 2>&1; lib_cleanup' EXIT
stack_up 300 || { not_ok "the stack starts with Redis found through Sentinel"; lib_finish; }
U=$(stack_url)
scli() { redis-cli -h 127.0.0.1 -p "${SPORTS[0]}" "$@" 2>/dev/null; }
rc() { REDISCLI_AUTH=$PW redis-cli -h 127.0.0.1 -p "$@" 2>/dev/null; }
master_port() { scli SENTINEL get-master-addr-by-name steel | sed -n 2p; }
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }

known() { # every Sentinel knows both replicas
    local p
    for p in "${SPORTS[@]}"; do
        [ "$(redis-cli -p "$p" SENTINEL replicas steel | grep -cx name)" = 2 ] || return 1
    done
}
check_eventually "the Sentinels know both replicas" 30 known
check_eventually "the pool has $IDLE idle workers" 90 bash -c \
    "[ \"\$(REDISCLI_AUTH=$PW redis-cli -p $MASTER_PORT LLEN $STACK_PREFIX:idle)\" -ge $IDLE ]"

# load DIR - RATE creates a second (RATE/10 every 100 ms, on the clock),
# each its own curl, until $T/stop.
load() {
    local d=$1 n=0 k t0 due now
    mkdir -p "$d"
    t0=${EPOCHREALTIME/./}
    while [ ! -e "$T/stop" ]; do
        for k in $(seq 1 $((RATE / 10))); do
            n=$((n + 1))
            curl -s -m 40 -o "$d/$n.body" -w '%{http_code} %{time_total}\n' \
                -X POST -H 'Content-Type: application/json' -d '{"f":1}' \
                "$U/sessions" >"$d/$n.code" 2>/dev/null &
        done
        due=$((t0 + n * 1000000 / RATE))
        now=${EPOCHREALTIME/./}
        [ "$now" -lt "$due" ] && sleep "$(printf '0.%06d' $((due - now)))"
    done
    wait
}
# The ids of the sessions the creates of DIR were given.
ids_of() {
    awk 'FNR == 1 && match($0, /"id"[ \t]*:[ \t]*"[^"]*"/) {
        v = substr($0, RSTART, RLENGTH); sub(/^"id"[ \t]*:[ \t]*"/, "", v)
        sub(/"$/, "", v); print v }' "$1"/*.body 2>/dev/null
}
# p50, p99 and max of the latencies (s) in the second column of DIR/*.code.
latency() {
    cat "$1"/*.code | awk '{ print int($2 * 1000) }' | sort -n |
        awk '{ a[NR] = $1 } END {
            if (NR == 0) exit
            i = int(NR * 0.5) + 1; if (i > NR) i = NR
            j = int(NR * 0.99) + 1; if (j > NR) j = NR
            printf "p50 %d p99 %d max %d", a[i], a[j], a[NR] }'
}
# GETs every id on stdin, 8 at a time; prints "<code> <id>" lines.
get_all() { xargs -r -P 8 -I{} sh -c "printf '%s %s\n' \$(curl -s -m 10 -o /dev/null -w '%{http_code}' '$U/sessions/{}') {}"; }
del_all() { xargs -r -P 8 -I{} curl -s -m 10 -o /dev/null -X DELETE "$U/sessions/{}"; }
synced() { # every replica of the master acknowledges its writes
    local mp
    mp=$(master_port)
    [ "$(rc "$mp" WAIT 2 1000)" = 2 ]
}

# move SLUG NAME CMD... - CMD makes the master move; the loop runs
# around it.
move() {
    local slug=$1 name=$2 d=$T/load-$1 old t0 t1 n created failed lost back
    shift 2
    old=$(master_port)
    check_within "$name: both replicas in sync before" 20 synced
    rm -f "$T/stop"
    t1=${EPOCHREALTIME/./}
    load "$d" &
    LOAD_PID=$!
    sleep 1
    t0=$(date +%s%N)
    "$@" "$old"
    check_eventually "$name: the Sentinels name a new master" 30 \
        bash -c "p=\$(redis-cli -p ${SPORTS[0]} SENTINEL get-master-addr-by-name steel | sed -n 2p); [ -n \"\$p\" ] && [ \"\$p\" != $old ]"
    echo "# $name: new master after $((($(date +%s%N) - t0) / 1000000)) ms"
    sleep 1
    touch "$T/stop"
    t1=$(((${EPOCHREALTIME/./} - t1) / 1000))
    stop_load
    n=$(find "$d" -name '*.code' | wc -l)
    created=$(ids_of "$d" | wc -l)
    failed=$(cat "$d"/*.code | awk '$1 != 201' | wc -l)
    echo "# $name: $n creates in $t1 ms ($((n * 1000 / t1))/s), answers: $(cat "$d"/*.code | awk '{ print $1 }' | sort | uniq -c | tr '\n' ' ')"
    echo "# $name: create latency ms: $(latency "$d")"
    check_eq "$name: no create failed" 0 "$failed"
    lost=$(ids_of "$d" | get_all | awk '$1 != 200' | tee "$T/lost-$slug" | wc -l)
    check_eq "$name: all $created sessions given to clients answer 200 after the move" 0 "$lost"
    [ "$lost" = 0 ] || head -5 "$T/lost-$slug"
    ids_of "$d" | del_all
    sleep 3
    back=$(ids_of "$d" | get_all | awk '$1 != 404' | tee "$T/back-$slug" | wc -l)
    check_eq "$name: none of them answers again after its DELETE" 0 "$back"
    [ "$back" = 0 ] || head -5 "$T/back-$slug"
}
sentinel_failover() { scli SENTINEL FAILOVER steel >/dev/null; }
kill_master() { # PORT - SIGKILL of the server on PORT (the test's own)
    local pid
    pid=$(rc "$1" INFO server | tr -d '\r' | sed -n 's/^process_id://p')
    [ -n "$pid" ] && kill -KILL "$pid"
}
move failover "SENTINEL FAILOVER" sentinel_failover
move sigkill "SIGKILL of the master" kill_master

stop_load
stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
