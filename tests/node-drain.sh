#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# node-drain.sh - node_drain takes a node out of service without a restart.
# Two nodes on one Redis, each with its own front door: node a is the
# local stack (tests/stack.sh), node b a second spawner (workers on
# 127.0.0.2) and a second lighttpd with steel-fcgi.  With sessions on b's
# workers, b is drained (node_drain = yes, SIGHUP):
#   - /status (through either front door) shows b "draining", capacity 0,
#     and /metrics steel_pool_state says so;
#   - b's idle workers are stopped at once (pool_idle_grace is 60 s here),
#     it starts none, and every create, through a's or b's front door,
#     lands on a worker of node a;
#   - b's live sessions still answer 200 and are deleted with 204; their
#     workers are then stopped instead of going back to idle, so b is left
#     with no worker;
# then node_drain = no and SIGHUP bring b's idle pool back.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_A=$(free_port)
HTTP_B=$(free_port)
cat >"$T/a.conf" <<CONF
node_name = drain-a
session_ttl = 60
pool_idle_target = 2
pool_max_workers = 8
pool_idle_grace = 60
create_wait = 5
reap_interval = 1
fcgi_threads = 2
fcgi_create_threads = 4
worker_hosts = 127.0.0.2
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
# One range for both nodes (the handlers check it): a spawner's test bind
# on the wildcard address skips the ports the other node's workers hold.
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_A"

B_PIDS=()
stop_b() {
    local pid i
    for pid in "${B_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for i in $(seq 1 100); do
        local alive=0
        for pid in "${B_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${B_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
}
trap 'stop_b; stack_down >/dev/null 2>&1; lib_cleanup' EXIT

STEEL_CONF=$T/a.conf stack_up || { not_ok "node a's stack starts"; lib_finish; }
REDIS_PORT=$STACK_REDIS_PORT
P=$STACK_PREFIX
A=http://127.0.0.1:$HTTP_A
B=http://127.0.0.1:$HTTP_B

# ---- node b: a spawner and a front door of its own on the same Redis ------

BC=$T/b.conf
cp "$STACK_RUN/steel-orchestrator.conf" "$BC"
stack_conf_set "$BC" node_name drain-b
stack_conf_set "$BC" worker_host 127.0.0.2
stack_conf_set "$BC" worker_hosts 127.0.0.1
stack_conf_set "$BC" worker_log_dir "$T/b-workers"
stack_conf_set "$BC" node_token_dir "$T"
# A cgroup subtree of its own: a spawner refuses one another holds.
if grep -q '^cgroup_root' "$BC"; then
    stack_conf_set "$BC" cgroup_root "$(stack_cgroup_root)-b"
fi
sed -e "s|^var\.steel_conf = .*|var.steel_conf = \"$BC\"|" \
    -e "s|^var\.steel_socket = .*|var.steel_socket = \"$T/b-fcgi.socket\"|" \
    -e "s|^var\.steel_fcgi_log = .*|var.steel_fcgi_log = \"$T/b-fcgi.log\"|" \
    "$STACK_RUN/50-steel-orchestrator.conf" >"$T/b-snippet.conf"
sed -e "s|^server\.port = .*|server.port = $HTTP_B|" \
    -e "s|^server\.errorlog = .*|server.errorlog = \"$T/b-lighttpd-error.log\"|" \
    -e "s|^include .*|include \"$T/b-snippet.conf\"|" \
    "$STACK_RUN/lighttpd.conf" >"$T/b-lighttpd.conf"
start_bg b-spawner env STEEL_STACK="$STACK_RUN" STEEL_EMU_BIND=127.0.0.2 \
    "$top_builddir/spawner/steel-spawner" -f "$BC"
SPB=$(cat "$T/b-spawner.pid")
B_PIDS+=("$SPB")
start_bg b-lighttpd env STEEL_STACK="$STACK_RUN" lighttpd -D -f "$T/b-lighttpd.conf"
B_PIDS+=("$(cat "$T/b-lighttpd.pid")")

# ---- helpers ---------------------------------------------------------------

# workers_of NODE [STATE] - how many workers node has (in state).
workers_of() {
    local n=0 id
    for id in $(rcli_raw smembers "$P:node:drain-$1"); do
        [ -z "${2:-}" ] || [ "$(rcli_raw hget "$P:worker:$id" state)" = "$2" ] &&
            n=$((n + 1))
    done
    echo "$n"
}
workers_are() { [ "$(workers_of "$1" "${3:-}")" = "$2" ]; }
# node_of SID - the node whose worker holds session SID.
node_of() {
    rcli_raw hget "$P:worker:$(rcli_raw hget "$P:session:$1" worker)" node
}
# create URL - POST /sessions; prints the session id.
create() {
    curl -s -m 15 -X POST -H 'Content-Type: application/json' -d '{}' \
        "$1/sessions" | jq -r '.id // empty'
}
code_of() { curl -s -m 10 -o /dev/null -w '%{http_code}' "$@"; }
# status_of URL NODE FIELD - that field of /status for node drain-NODE.
status_of() { curl -s -m 5 "$1/status" | jq -r ".nodes[\"drain-$2\"].$3"; }
status_is() { [ "$(status_of "$1" "$2" "$3")" = "$4" ]; }

check_within "node b's front door answers" 20 \
    eval '[ "$(code_of "$B/health")" = 200 ]'
check_within "both nodes have 2 idle workers" 20 \
    eval '[ "$(workers_of a idle)" -ge 2 ] && workers_are b 2 idle' ||
    echo "# a: $(workers_of a) workers, $(workers_of a idle) idle; b: $(workers_of b) workers, $(workers_of b idle) idle"

# ---- sessions on node b ------------------------------------------------------

ON_B=()
for i in $(seq 1 12); do
    [ "${#ON_B[@]}" -ge 2 ] && break
    sid=$(create "$A")
    [ -n "$sid" ] || continue
    if [ "$(node_of "$sid")" = drain-b ]; then
        ON_B+=("$sid")
    else
        curl -s -m 10 -o /dev/null -X DELETE "$A/sessions/$sid"
    fi
    sleep 0.3 # lets both pools refill, so creates spread over both
done
check_eq "two sessions live on node b's workers" 2 "${#ON_B[@]}"
[ "${#ON_B[@]}" = 2 ] || { for id in $(rcli_raw smembers "$P:workers"); do echo "# $id $(rcli_raw hmget "$P:worker:$id" node state host port session reason | paste -sd' ')"; done; }
[ "${#ON_B[@]}" = 2 ] || lib_finish

# ---- drain node b --------------------------------------------------------------

stack_conf_set "$BC" node_drain yes
T0=$(date +%s%N)
kill -HUP "$SPB"
check_within "/status (through a) shows node b draining" 3 \
    status_is "$A" b state draining
check_within "b's idle workers are stopped at once" 3 \
    eval 'workers_are b 2 && workers_are b 0 idle'
echo "# b's idle pool was gone $((($(date +%s%N) - T0) / 1000000)) ms after SIGHUP"
check_eq "/status (through b) shows node b draining" draining "$(status_of "$B" b state)"
check_eq "a draining node's capacity is 0" 0 "$(status_of "$A" b capacity)"
check "/metrics: steel_pool_state says draining" \
    grep -q 'steel_pool_state{node="drain-b",state="draining"} 1' \
    <(curl -s -m 5 -H "Authorization: Bearer $STACK_ADMIN_TOKEN" "$A/metrics")
check "the spawner logged the drain" \
    grep -q "node drain-b: draining" "$T/b-spawner.log"

NEW=()
bad=0
for i in 1 2 3 4 5 6; do
    door=$A
    [ $((i % 2)) = 0 ] && door=$B
    sid=$(create "$door")
    if [ -z "$sid" ] || [ "$(node_of "$sid")" != drain-a ]; then
        bad=$((bad + 1))
    fi
    [ -n "$sid" ] && NEW+=("$sid")
done
check_eq "6 creates through both front doors all land on node a" 0 "$bad"
for sid in "${NEW[@]}"; do curl -s -m 10 -o /dev/null -X DELETE "$A/sessions/$sid"; done
check_eq "node b started no worker" 0 "$(workers_of b starting)"
check_eq "node b still has its 2 busy workers" 2 "$(workers_of b busy)"

check_eq "b's first session answers 200 through a" 200 \
    "$(code_of "$A/sessions/${ON_B[0]}")"
check_eq "b's second session answers 200 through b" 200 \
    "$(code_of "$B/sessions/${ON_B[1]}")"
check_eq "b's first session is deleted through b" 204 \
    "$(code_of -X DELETE "$B/sessions/${ON_B[0]}")"
check_within "its worker is stopped, not handed back" 5 workers_are b 1
check_eq "b's second session still answers 200" 200 \
    "$(code_of "$A/sessions/${ON_B[1]}")"
check_eq "b's second session is deleted through a" 204 \
    "$(code_of -X DELETE "$A/sessions/${ON_B[1]}")"
check_within "node b has no worker left" 5 workers_are b 0
check_eq "/status still shows b draining, heartbeat fresh" draining \
    "$(status_of "$A" b state)"
check "b's workers retired (spawner log)" \
    grep -q "idle, node draining; stopping it" "$T/b-spawner.log"

# ---- undrain ------------------------------------------------------------------------

stack_conf_set "$BC" node_drain no
kill -HUP "$SPB"
check_within "/status shows node b ok again" 3 status_is "$A" b state ok
check_within "b's idle pool is back" 15 workers_are b 2 idle
check "b's capacity counts again" \
    test "$(status_of "$A" b capacity)" -gt 0

lib_finish
