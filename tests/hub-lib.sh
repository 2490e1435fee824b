# SPDX-License-Identifier: BSD-2-Clause
# hub-lib.sh - the network of every test with more than one node: a hub
# network namespace with a bridge, node namespaces on it, and their
# removal with everything still running in them.  Used by netns-lib.sh,
# cluster-lib.sh, multinode.sh and node-lost-create.sh.
#
#   HUB_SUB            a random private 10.x.y, chosen when this file is
#                      sourced: the bridge is HUB_SUB.1
#   hub_init NS        namespace NS with lo up and the bridge br0 at
#                      HUB_SUB.1/24
#   hub_node NS I      namespace NS with lo up and eth0 at hub_addr I,
#                      its peer vI on the bridge
#   hub_addr I         HUB_SUB.(11+I)
#   hub_cleanup        TERM every process in the namespaces made here, up
#                      to 10 s for them to go (a busy machine), CONT and
#                      KILL the rest, then remove the namespaces
#
# hub_init and hub_node return 1 when a namespace or a link cannot be
# made (no root, no iproute2, a kernel without veth or bridges); what they
# made is still removed by hub_cleanup.  Processes still in the
# namespaces at hub_cleanup were started by the test: nothing else runs
# there.

HUB_SUB=10.$((100 + RANDOM % 100)).$((RANDOM % 250))
HUB_NS=   # the hub's namespace
HUB_ALL=() # every namespace made here, the hub first

hub_init() { # NS
    ip netns add "$1" 2>/dev/null || return 1
    HUB_NS=$1
    HUB_ALL+=("$1")
    ip netns exec "$1" ip link set lo up &&
        ip netns exec "$1" ip link add br0 type bridge &&
        ip netns exec "$1" ip addr add "$HUB_SUB.1/24" dev br0 &&
        ip netns exec "$1" ip link set br0 up
}

hub_addr() { echo "$HUB_SUB.$((11 + $1))"; }

hub_node() { # NS I
    local ns=$1 i=$2
    ip netns add "$ns" 2>/dev/null || return 1
    HUB_ALL+=("$ns")
    ip netns exec "$ns" ip link set lo up &&
        ip netns exec "$HUB_NS" ip link add "v$i" type veth peer name eth0 netns "$ns" &&
        ip netns exec "$HUB_NS" ip link set "v$i" master br0 up &&
        ip netns exec "$ns" ip addr add "$(hub_addr "$i")/24" dev eth0 &&
        ip netns exec "$ns" ip link set eth0 up
}

# hub_pids - the pids of every process in the namespaces made here.
hub_pids() {
    local ns
    for ns in "${HUB_ALL[@]}"; do
        ip netns pids "$ns" 2>/dev/null
    done
}

# hub_wait_gone TENTHS - 0 once no process is left, 1 after TENTHS/10 s.
hub_wait_gone() {
    local i
    for ((i = 0; i < $1; i++)); do
        [ -z "$(hub_pids)" ] && return 0
        sleep 0.1
    done
    [ -z "$(hub_pids)" ]
}

hub_cleanup() {
    local pid ns
    for pid in $(hub_pids); do kill -TERM "$pid" 2>/dev/null; done
    if ! hub_wait_gone 100; then
        for pid in $(hub_pids); do
            kill -CONT "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
        done
        hub_wait_gone 50
    fi
    for ns in "${HUB_ALL[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    HUB_ALL=()
}
