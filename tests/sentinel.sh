#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# sentinel.sh - the stack finds its Redis through Sentinel and follows a
# fail-over, authenticated as an ACL user.
#
# On loopback ports: the stack's Redis as master, one replica, three
# Sentinels watching them (quorum 2); the stack's configuration names only
# the Sentinels (redis_sentinels, redis_master_name) and the ACL user
# steel (redis_user; the default user keeps a password only the test
# knows).  Under a load of creates, GETs and DELETEs the test asks for a
# fail-over (SENTINEL FAILOVER); then the sessions made before answer
# 200, 30 sequential create/GET/DELETE cycles succeed, every program
# logged the move, and the new master serves the user steel.  It prints
# the client errors the load saw (the figure NOTES.md quotes).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

for p in redis-sentinel redis-server; do
    if ! command -v "$p" >/dev/null; then
        echo "SKIP: $p is not installed (apt-get install redis-sentinel)"
        exit 77
    fi
done

HTTP_PORT=$(free_port)
MASTER_PORT=$(free_port)
REPLICA_PORT=$(free_port)
SPORTS=()
for i in 1 2 3; do SPORTS+=("$(free_port)"); done
PW=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
# stack.sh gives its Redis and the programs one password: requirepass of
# the default user (replication, the Sentinels, redis-cli) and, here, the
# password of the ACL user steel as well.
ADMIN_PW=$PW
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS

# Every Redis of the test knows the ACL user steel (password PW); the
# default user, which replication and the Sentinels use, has ADMIN_PW.
# The stack's Redis gets it through a redis-server first on PATH.
mkdir -p "$T/bin" "$T/run" "$T/replica"
cat >"$T/bin/redis-server" <<EOF
#!/bin/sh
exec $(command -v redis-server) "\$@" --user steel on '>$PW' '~*' '&*' '+@all' \\
    --masterauth '$ADMIN_PW'
EOF
chmod 755 "$T/bin/redis-server"
export PATH="$T/bin:$PATH"
(
    umask 077
    printf 'STACK_HTTP_PORT=%s\nSTACK_REDIS_PORT=%s\nSTACK_REDIS_PASSWORD=%s\n' \
        "$HTTP_PORT" "$MASTER_PORT" "$ADMIN_PW" >"$T/run/stack.env"
)
sentinel_list=
for p in "${SPORTS[@]}"; do sentinel_list+="${sentinel_list:+,}127.0.0.1:$p"; done
cat >"$T/steel.conf" <<EOF
session_ttl = 120
pool_idle_target = 4
pool_max_workers = 32
create_wait = 10
reap_interval = 1
fcgi_threads = 4
fcgi_create_threads = 8
redis_timeout_ms = 1000
worker_env = STEEL_EMU_*
redis_sentinels = $sentinel_list
redis_master_name = steel
redis_user = steel
EOF
export STEEL_CONF=$T/steel.conf

# The replica and the Sentinels first: the stack's programs ask the
# Sentinels from their first command.
start_bg replica redis-server --port "$REPLICA_PORT" --bind 127.0.0.1 \
    --save "" --appendonly no --dir "$T/replica" --requirepass "$ADMIN_PW" \
    --replicaof 127.0.0.1 "$MASTER_PORT"
for i in 0 1 2; do
    mkdir -p "$T/s$i"
    cat >"$T/s$i/sentinel.conf" <<EOF
port ${SPORTS[i]}
bind 127.0.0.1
daemonize no
dir $T/s$i
sentinel monitor steel 127.0.0.1 $MASTER_PORT 2
sentinel auth-pass steel $ADMIN_PW
sentinel down-after-milliseconds steel 1000
sentinel failover-timeout steel 10000
sentinel parallel-syncs steel 1
EOF
    start_bg "sentinel$i" redis-sentinel "$T/s$i/sentinel.conf"
done

stack_init "$T/run" "$HTTP_PORT" "$MASTER_PORT"
trap 'stop_load; stack_down >/dev/null 2>&1; lib_cleanup' EXIT
LOAD_PIDS=()
stop_load() {
    local p
    for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    LOAD_PIDS=()
}
stack_up 120 || { not_ok "the stack starts with Redis found through Sentinel"; lib_finish; }
U=$(stack_url)
scli() { redis-cli -h 127.0.0.1 -p "${SPORTS[0]}" "$@" 2>/dev/null; }
master_port() { scli SENTINEL get-master-addr-by-name steel | sed -n 2p; }
code() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
create() {
    curl -s -m 15 -X POST -H 'Content-Type: application/json' -d '{"s":1}' \
        "$U/sessions" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}

check_eq "the Sentinels name the stack's Redis as master" "$MASTER_PORT" "$(master_port)"
check "the programs are clients of the master as user steel" \
    bash -c "REDISCLI_AUTH=$ADMIN_PW redis-cli -p $MASTER_PORT CLIENT LIST | grep -q 'user=steel'"

check_eventually "the Sentinels know the replica" 25 bash -c \
    "redis-cli -p ${SPORTS[0]} SENTINEL replicas steel | grep -qx 'slave'"
SIDS=()
for i in 1 2 3 4 5; do SIDS+=("$(create)"); done
check_eq "5 sessions before the fail-over" 5 "$(printf '%s\n' "${SIDS[@]}" | grep -c .)"
# The replica has them (asynchronous replication, given a moment).
check_eventually "the replica caught up" 10 bash -c \
    "[ \"\$(REDISCLI_AUTH=$ADMIN_PW redis-cli -p $REPLICA_PORT DBSIZE)\" = \"\$(REDISCLI_AUTH=$ADMIN_PW redis-cli -p $MASTER_PORT DBSIZE)\" ]"

# load OUT - create, GET and DELETE in a loop, one "op status" a line.
load() {
    local out=$1 id
    while :; do
        id=$(create)
        if [ -z "$id" ]; then echo "post fail" >>"$out"; continue; fi
        echo "get $(code "$U/sessions/$id")" >>"$out"
        echo "delete $(code -X DELETE "$U/sessions/$id")" >>"$out"
        echo "health $(code "$U/health")" >>"$out"
    done
}
: >"$T/load"
load "$T/load" &
LOAD_PIDS+=($!)
sleep 1
t0=$SECONDS
scli SENTINEL FAILOVER steel >/dev/null
check_eventually "the Sentinels name the replica as master" 20 \
    bash -c "[ \"\$(redis-cli -p ${SPORTS[0]} SENTINEL get-master-addr-by-name steel | sed -n 2p)\" = $REPLICA_PORT ]"
echo "# the fail-over took about $((SECONDS - t0)) s"
sleep 3
stop_load
nerr=$(grep -cv ' 200$\| 204$' "$T/load")
nall=$(grep -c . "$T/load")
echo "# during the fail-over the load saw $nerr failed of $nall requests:" \
    "$(grep -v ' 200$\| 204$' "$T/load" | sort | uniq -c | tr '\n' ' ')"

ok=0
for s in "${SIDS[@]}"; do [ "$(code "$U/sessions/$s")" = 200 ] && ok=$((ok + 1)); done
check_eq "the 5 sessions made before the fail-over answer 200" 5 "$ok"
: >"$T/after"
for i in $(seq 1 30); do
    id=$(create)
    if [ -z "$id" ]; then echo "post fail" >>"$T/after"; continue; fi
    echo "get $(code "$U/sessions/$id")" >>"$T/after"
    echo "delete $(code -X DELETE "$U/sessions/$id")" >>"$T/after"
    echo "status $(code "$U/status")" >>"$T/after"
done
check_eq "30 create/GET/DELETE/status cycles after the fail-over: all answered" 90 \
    "$(grep -c ' 200$\| 204$' "$T/after")"
check_eq "... and none failed" "" "$(grep -v ' 200$\| 204$' "$T/after" | sort | uniq -c | tr '\n' ' ')"
check "the programs are clients of the new master as user steel" \
    bash -c "REDISCLI_AUTH=$ADMIN_PW redis-cli -p $REPLICA_PORT CLIENT LIST | grep -q 'user=steel'"
for f in spawner reaper steel-fcgi; do
    check "$f logged the move to the new master" \
        grep -q "redis master steel moved from 127.0.0.1:$MASTER_PORT to 127.0.0.1:$REPLICA_PORT" \
        "$STACK_RUN/$f.log"
done

stop_load
stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
