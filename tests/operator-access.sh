#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# operator-access.sh - operator routes (the session list, /workers,
# /metrics) through lighttpd from a client that is not on loopback: a
# network namespace joined to this host by a veth pair, both made and
# removed by this test.  With no admin_token they are closed, to loopback
# clients too (workers on the host reach loopback): 403 with a JSON body
# that says to set admin_token; with it, they answer its bearer from
# anywhere.  The status page (/status.html, static in
# the lighttpd snippet) answers loopback clients only.  The session API,
# /status and /health answer the other host as before.  Skipped (77)
# without root, iproute2 or network namespaces.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "operator-access: skipped: needs root and iproute2 (ip netns)"
    exit 77
fi
lib_init

NS=steel-oa-$$
VA=soa$$a
VB=soa$$b
NET=10.$((200 + RANDOM % 50)).$((RANDOM % 256))
HOST_IP=$NET.1
PEER_IP=$NET.2
netns_down() {
    ip link del "$VA" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    return 0
}
if ! { ip netns add "$NS" &&
    ip link add "$VA" type veth peer name "$VB" &&
    ip link set "$VB" netns "$NS" &&
    ip addr add "$HOST_IP/30" dev "$VA" && ip link set "$VA" up &&
    ip -n "$NS" addr add "$PEER_IP/30" dev "$VB" &&
    ip -n "$NS" link set "$VB" up; } 2>"$T/netns.err"; then
    echo "operator-access: skipped: cannot make a network namespace: $(head -1 "$T/netns.err")"
    netns_down
    exit 77
fi

HTTP_PORT=$(free_port)
cat >"$T/oa.conf" <<CONF
pool_idle_target = 1
pool_max_workers = 4
admin_token =
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
export STEEL_LIGHTTPD_EXTRA="\$SERVER[\"socket\"] == \"$HOST_IP:$HTTP_PORT\" { }"
stack_init "$T/run" "$HTTP_PORT"
trap 'rc=$?; stack_down >/dev/null 2>&1; netns_down; (exit $rc); lib_cleanup' EXIT
STEEL_CONF=$T/oa.conf stack_up || { not_ok "stack starts"; lib_finish; }
LOCAL=$(stack_url)
REMOTE=http://$HOST_IP:$HTTP_PORT

# from WHERE METHOD PATH [TOKEN] - the status of a request from loopback
# (WHERE local) or from the namespace (remote); body in $T/r.
from() {
    local where=$1 method=$2 path=$3 token=${4:-} base=$LOCAL run=()
    local auth=() data=()
    [ "$where" = remote ] && base=$REMOTE run=(ip netns exec "$NS")
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    [ "$method" = POST ] && data=(-H 'Content-Type: application/json' -d '{}')
    "${run[@]}" curl -s -m 10 -o "$T/r" -w '%{http_code}' -X "$method" \
        "${auth[@]}" "${data[@]}" "$base$path"
}
forbidden_json() {
    grep -q '"error": "forbidden"' "$T/r" && grep -q 'set admin_token' "$T/r"
}

check_eq "the namespace reaches lighttpd (/health from $PEER_IP)" 200 \
    "$(from remote GET /health)"

# ---- no admin_token: closed, loopback included ---------------------------
for p in /sessions '/sessions?limit=5' /workers /metrics; do
    check_eq "GET $p from another host -> 403" 403 "$(from remote GET "$p")"
    check "  JSON forbidden that says to set admin_token" forbidden_json
    check_eq "GET $p from loopback -> 403" 403 "$(from local GET "$p")"
    check "  JSON forbidden that says to set admin_token" forbidden_json
done
check_eq "GET /status.html (the status page) from another host -> 403" 403 \
    "$(from remote GET /status.html)"
check_eq "GET /status.html from loopback -> 200" 200 "$(from local GET /status.html)"
check "  the page itself" grep -q '<title>steel-orchestrator status</title>' "$T/r"
check_eq "POST /sessions from another host -> 2xx" 1 \
    "$(from remote POST /sessions | grep -c '^20[01]$')"
sid=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$T/r")
check_eq "GET of its session from another host -> 200" 200 \
    "$(from remote GET "/sessions/$sid")"
check_eq "GET /status from another host -> 200" 200 "$(from remote GET /status)"
check_eq "DELETE of its session from another host -> 204" 204 \
    "$(from remote DELETE "/sessions/$sid")"

# ---- admin_token set: its bearer from anywhere, nobody without it ---------
stack_conf_set "$T/oa.conf" admin_token s3cret-admin
pid=$(stack_pid lighttpd) && kill -TERM "$pid" && stack_wait_exit "$pid" 10
STEEL_CONF=$T/oa.conf stack_up || { not_ok "stack restarts"; lib_finish; }
check_eq "GET /workers from another host with admin_token -> 200" 200 \
    "$(from remote GET /workers s3cret-admin)"
check_eq "GET /sessions from another host with admin_token -> 200" 200 \
    "$(from remote GET /sessions s3cret-admin)"
check_eq "GET /workers from another host without it -> 401" 401 \
    "$(from remote GET /workers)"
check_eq "GET /metrics from loopback without it -> 401" 401 \
    "$(from local GET /metrics)"
check_eq "GET /metrics from loopback with it -> 200" 200 \
    "$(from local GET /metrics s3cret-admin)"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
netns_down
check "the namespace is gone" sh -c "! ip netns list | grep -qw '$NS'"
lib_finish
