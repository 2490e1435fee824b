#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# node-identity.sh - one node_name claimed twice, on one Redis.
#
# node-c runs (its own machine id) and holds sessions.  Then:
#   1. another host (another machine id) starts a spawner and a reaper
#      with node_name node-c: both are refused and exit non-zero, and
#      node-c's sessions answer 200 all along;
#   2. a clone of node-c's host (node-c's machine id bind-mounted, its
#      spawner the same pid in a PID namespace of its own, as containers
#      built from one image) does the same: refused, both exit non-zero,
#      node-c's sessions and workers untouched, /status keeps node-c's
#      address;
#   3. /status shows the conflict under node-c, /metrics counts it;
#   4. node-c's spawner, killed with SIGKILL and started again in its
#      namespaces, takes its node back at once (its previous token in
#      node_token_dir) and adopts its workers: the sessions answer 200;
#   5. a second spawner of node-c on node-c's host is refused and leaves
#      the host's token file as it was: node-c's reaper runs on.
#
# Needs root, iproute2, unshare; without them it exits 77 (SKIP).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
. "$top_srcdir/tests/netns-lib.sh"

nn_init
for i in 0 1 2; do nn_ns "$i" || nn_skip "cannot build the nodes' network (veth, bridge)"; done
hosts="$(nn_addr 0) $(nn_addr 1) $(nn_addr 2)"
for i in 0 1 2; do
    od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$T/machine-id-$i"
    echo >>"$T/machine-id-$i"
done

# node-c in namespace 0.
nn_conf 0 node-c "$T/c" 20000-20099 "$hosts"
NN_MACHINE_ID=$T/machine-id-0 nn_node 0 "$T/c"
nn_lighttpd 0 "$T/c" || not_ok "node-c: lighttpd configured"
check_eventually "node-c creates sessions" 40 nn_ready 0
SIDS=()
for k in 1 2 3 4; do
    s=$(nn_create 0)
    [ -n "$s" ] && SIDS+=("$s")
done
check_eq "node-c holds 4 sessions" 4 "${#SIDS[@]}"
# node-c's pool settles (3 idle beside the sessions, none starting)
# before its workers are noted.
settled() {
    [ "$(nn_rcli HGET "$NN_PREFIX:pool:node-c" idle)" = 3 ] &&
        [ "$(nn_rcli HGET "$NN_PREFIX:pool:node-c" starting)" = 0 ] &&
        [ "$(nn_rcli SCARD "$NN_PREFIX:node:node-c")" = \
            "$(nn_rcli HGET "$NN_PREFIX:pool:node-c" workers)" ]
}
check_eventually "node-c's pool settles" 30 settled
workers_before=$(nn_rcli SMEMBERS "$NN_PREFIX:node:node-c" | sort | tr '\n' ' ')

# GETs of node-c's sessions until FILE appears; each answer a line in OUT.
watch_gets() { # OUT STOPFILE
    while [ ! -e "$2" ]; do
        for s in "${SIDS[@]}"; do
            echo "$(nn_code "http://$(nn_addr 0):8080/sessions/$s")" >>"$1"
        done
    done
}
exited() { [ -s "$1" ]; }
nonzero() { [ -s "$1" ] && [ "$(cat "$1")" != 0 ]; }

# claimant NAME I MACHINE_ID - a second node-c in namespace I; checks that
# both its programs exit non-zero while node-c's sessions keep answering.
claimant() {
    local name=$1 i=$2 d=$T/$1 gets=$T/$1-gets
    : >"$gets"
    watch_gets "$gets" "$T/$name-stop" &
    local watcher=$!
    nn_conf "$i" node-c "$d" 20000-20099 "$hosts"
    NN_MACHINE_ID=$3 nn_node "$i" "$d"
    check_eventually "$name: its spawner exits" 30 exited "$d/spawner.rc"
    check "$name: ... non-zero ($(cat "$d/spawner.rc" 2>/dev/null))" nonzero "$d/spawner.rc"
    check "$name: ... and says node_name node-c is in use" \
        grep -q "node_name node-c is in use" "$d/spawner.log"
    check_eventually "$name: its reaper exits" 30 exited "$d/reaper.rc"
    check "$name: ... non-zero ($(cat "$d/reaper.rc" 2>/dev/null))" nonzero "$d/reaper.rc"
    check "$name: ... and says it stops for node_name node-c" \
        grep -q "node_name node-c is held by .*this reaper stops" "$d/reaper.log"
    check_eq "$name: its reaper removed no record of node-c" 0 \
        "$(grep -c 'record removed\|removed its' "$d/reaper.log")"
    # Three more rounds of GETs after both stopped, then the watcher ends.
    local n0
    n0=$(wc -l <"$gets")
    wait_for 30 bash -c "[ \$(wc -l <'$gets') -ge $((n0 + 3 * ${#SIDS[@]})) ]"
    touch "$T/$name-stop"
    wait "$watcher"
    echo "# $name: node-c's sessions answered $(sort "$gets" | uniq -c | tr '\n' ' ')"
    check_eq "$name: every GET of node-c's sessions answered 200" 0 \
        "$(grep -vc '^200$' "$gets")"
    check_eq "$name: node-c's workers are the same" "$workers_before" \
        "$(nn_rcli SMEMBERS "$NN_PREFIX:node:node-c" | sort | tr '\n' ' ')"
    check_eq "$name: node-c's record keeps its address" "$(nn_addr 0)" \
        "$(nn_rcli HGET "$NN_PREFIX:pool:node-c" worker_host)"
}

claimant other-host 1 "$T/machine-id-1"
claimant clone 2 "$T/machine-id-0"
pid_c=$(cut -d' ' -f1 "$T/c/pids")
pid_d=$(cut -d' ' -f1 "$T/clone/pids")
check_eq "the clone's spawner had node-c's pid in its own PID namespace" "$pid_c" "$pid_d"

# The conflict in /status and /metrics.
st=$(nn_status 0)
check "/status shows a conflict under node-c" grep -q '"conflict"' <<<"$st"
echo "# /status node-c: $(echo "$st" | grep -o '"node-c":{[^}]*}[^}]*}' | head -c 400)"
check "/metrics: steel_node_conflict{node=\"node-c\"} 1" \
    bash -c "ip netns exec $NN_HUB curl -s -m 10 -H 'Authorization: Bearer nn-admin' \
        http://$(nn_addr 0):8080/metrics | grep -qx 'steel_node_conflict{node=\"node-c\"} 1'"

# node-c's spawner crashes and comes back in its namespaces: it takes its
# node back at once and adopts its workers.
ns_pid=$(cat "$T/c-pidns.pid")
sh_pid=$(pgrep -P "$ns_pid" | head -n 1)
host_sp=$(pgrep -P "$sh_pid" -x steel-spawner | head -n 1)
check "node-c's spawner found ($host_sp)" test -n "$host_sp"
kill -KILL "$host_sp"
check_eventually "node-c's killed spawner is reaped" 10 exited "$T/c/spawner.rc"
nsenter -t "$sh_pid" -p -m -n env STEEL_EMU_BIND="$(nn_addr 0)" \
    "$top_builddir/spawner/steel-spawner" -f "$T/c/steel-orchestrator.conf" \
    >"$T/c/spawner2.log" 2>&1 &
restart=$!
LIB_PIDS+=("$restart")
adopted() { grep -q "node node-c: adopted [1-9]" "$T/c/spawner2.log"; }
check_eventually "node-c's new spawner takes its node back and adopts" 15 adopted
check "... without waiting for the old heartbeat to go stale" \
    bash -c "! grep -q 'waiting up to node_stale_ms' '$T/c/spawner2.log'"
n=0
for s in "${SIDS[@]}"; do
    [ "$(nn_code "http://$(nn_addr 0):8080/sessions/$s")" = 200 ] && n=$((n + 1))
done
check_eq "node-c's sessions answer 200 after the restart" "${#SIDS[@]}" "$n"
check "node-c's reaper still runs" test ! -e "$T/c/reaper.rc"

# A second spawner of node-c on node-c's own host: refused, and this
# host's token file keeps naming the holder, so node-c's reaper runs on.
tokfile=$T/c/$NN_PREFIX-node-c.token
tok_before=$(cat "$tokfile")
# (a cgroup subtree of its own, or it is refused for that first)
sed "s|^cgroup_root = .*|cgroup_root = $NN_CG/c3|" "$T/c/steel-orchestrator.conf" >"$T/c/c3.conf"
nsenter -t "$sh_pid" -p -m -n "$top_builddir/spawner/steel-spawner" \
    -f "$T/c/c3.conf" >"$T/c/spawner3.log" 2>&1
rc3=$?
check "a second spawner of node-c on its host is refused (exit $rc3)" test "$rc3" = 1
check "... naming the running one" grep -q "node_name node-c is in use by steel-spawner pid" "$T/c/spawner3.log"
check_eq "... and the token file names the holder still" "$tok_before" "$(cat "$tokfile")"
passes() { nn_rcli HGET "$NN_PREFIX:stats" reaper_node_passes:node-c; }
p0=$(passes)
check_eventually "node-c's reaper makes 3 more passes" 30 bash -c \
    "[ \"\$(ip netns exec $NN_HUB env REDISCLI_AUTH=$NN_PW redis-cli --raw -h $NN_SUB.1 HGET $NN_PREFIX:stats reaper_node_passes:node-c)\" -ge $((p0 + 3)) ]"
check "... and still runs" test ! -e "$T/c/reaper.rc"
lib_finish
