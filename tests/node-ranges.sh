#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# node-ranges.sh - three nodes sharing one Redis, each with a
# worker_port_range of its own (21000-21099, 22000-22099, 23000-23099),
# each listing the others in worker_hosts with their ranges
# (HOST:LOW-HIGH).  Creates round-robin over the three front doors all
# answer 201 whichever node's worker they get, every session answers 200
# through every front door, no handler refuses a worker's address, and no
# worker is declared dead.
#
# STEEL_NN_OLD_BUILD=1 (top_builddir a build before HOST:LOW-HIGH was
# understood) lists the other nodes' hosts without their ranges, as such
# a build needs them: that is how the test shows the defect on such a build (a
# handler then refuses every worker outside its own node's range).
#
# Needs root, iproute2, unshare; without them it exits 77 (SKIP).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
. "$top_srcdir/tests/netns-lib.sh"

nn_init
RANGES=(21000-21099 22000-22099 23000-23099)
for i in 0 1 2; do nn_ns "$i" || nn_skip "cannot build the nodes' network (veth, bridge)"; done
hosts=
for i in 0 1 2; do
    if [ "${STEEL_NN_OLD_BUILD:-0}" = 1 ]; then
        hosts="$hosts $(nn_addr "$i")"
    else
        hosts="$hosts $(nn_addr "$i"):${RANGES[i]}"
    fi
done
for i in 0 1 2; do
    nn_conf "$i" "node$((i + 1))" "$T/n$i" "${RANGES[i]}" "$hosts"
    nn_node "$i" "$T/n$i"
    nn_lighttpd "$i" "$T/n$i" || not_ok "node $((i + 1)): lighttpd configured"
done
# Each node's pool is full (idle_target 3) before the creates, so the
# idle list holds workers of all three.
full() {
    local i
    for i in 1 2 3; do
        [ "$(nn_rcli HGET "$NN_PREFIX:pool:node$i" idle)" = 3 ] || return 1
    done
}
check_eventually "the three nodes report 3 idle workers each" 60 full
for i in 0 1 2; do
    check_eventually "node $((i + 1)) creates sessions" 40 nn_ready "$i"
done

# 12 creates round-robin over the front doors.
SIDS=()
codes=
for k in $(seq 0 11); do
    i=$((k % 3))
    out=$(nn_curl -X POST -H 'Content-Type: application/json' -d '{"nn":1}' \
        -w '\n%{http_code}' "http://$(nn_addr "$i"):8080/sessions")
    codes="$codes $(echo "$out" | tail -n 1)"
    s=$(echo "$out" | sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    [ -n "$s" ] && SIDS+=("$s")
done
echo "# creates answered:$codes"
check_eq "12 creates round-robin over the 3 front doors answer 201" 12 \
    "$(echo "$codes" | tr ' ' '\n' | grep -c '^201$')"
ports=$(for s in "${SIDS[@]}"; do
    w=$(nn_rcli HGET "$NN_PREFIX:session:$s" worker)
    nn_rcli HGET "$NN_PREFIX:worker:$w" port
done | cut -c1-2 | sort -u | tr '\n' ' ')
echo "# the sessions' workers are in the ranges starting: $ports"
check "the sessions are on workers of at least two nodes' ranges" \
    test "$(echo "$ports" | wc -w)" -ge 2
n=0
for s in "${SIDS[@]}"; do
    for i in 0 1 2; do
        [ "$(nn_code "http://$(nn_addr "$i"):8080/sessions/$s")" = 200 ] && n=$((n + 1))
    done
done
check_eq "every session answers 200 through every front door" $((3 * ${#SIDS[@]})) "$n"
check_eq "no handler refused a worker's address" "" \
    "$(cat "$T"/n*/steel-fcgi.log | grep 'outside worker_host' | head -n 3)"
check_eq "no handler marked a worker dead" 0 \
    "$(cat "$T"/n*/steel-fcgi.log | grep -c 'marked dead')"
check_eq "no spawner stopped a worker that a handler marked dead" 0 \
    "$(cat "$T"/n*/spawner.log | grep -c 'marked dead in redis')"
check_eq "the ${#SIDS[@]} sessions still answer 200 through node 1" "${#SIDS[@]}" \
    "$(for s in "${SIDS[@]}"; do nn_code "http://$(nn_addr 0):8080/sessions/$s"; echo; done | grep -c '^200$')"
# /status shows each node's range; a fourth node that the others'
# worker_hosts do not list is named in their spawners' logs.
st=$(nn_status 0)
check "/status shows node2's worker_port_range" \
    grep -q '"worker_port_range":"22000-22099"' <<<"$st"
if [ "${STEEL_NN_OLD_BUILD:-0}" != 1 ]; then
    nn_ns 3 || not_ok "node 4: namespace"
    nn_conf 3 node4 "$T/n3" 24000-24099 "$hosts"
    nn_node 3 "$T/n3"
    named() {
        local i
        for i in 0 1 2; do
            grep -q "node node4: its workers at $(nn_addr 3):24000-24099 are outside" \
                "$T/n$i/spawner.log" || return 1
        done
    }
    check_eventually "the three spawners name node4, which their worker_hosts refuse" 30 named
    check_eq "... and nobody else" 0 \
        "$(cat "$T"/n[012]/spawner.log | grep 'are outside worker_host' | grep -vc 'node node4')"
fi
lib_finish
