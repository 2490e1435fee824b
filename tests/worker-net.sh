#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# worker-net.sh - workers reach nothing of the node (etc/nftables/
# steel-orchestrator.nft.in, OPERATIONS.md "What a worker can reach").
#
# Everything runs in two network namespaces this test makes and removes:
# "node" (the rules, a redis-server on 127.0.0.1, ::1 and its veth
# addresses) and "net" (the rest of the world, a redis-server of its own),
# joined by a veth pair.  The rules are loaded for the uid of nobody (the
# worker).  As the worker: no TCP connection and no UDP datagram reaches
# 127.0.0.1, ::1 (nor ::ffff:127.0.0.1) or the node's veth addresses, IPv4
# or IPv6; "net" is reached.  As another uid (root, and an unprivileged
# one): everything is reached.  A listener of the worker's (the worker
# emulator, a redis-server on ::1) still takes connections from root and
# answers: the orchestrator reaches the worker.  Loading the file twice
# replaces the table; nft delete table leaves nothing, and the worker
# reaches the node again.  Root only; skipped (77) without nft, ip or
# setpriv, or when a namespace cannot be made.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: network namespaces and nftables need root"
    exit 77
fi
for p in nft ip setpriv redis-server redis-cli curl timeout; do
    command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
done
EMU=$top_builddir/tester/steel-browser-emu
[ -x "$EMU" ] || { echo "SKIP: $EMU is not built (run make)"; exit 77; }
lib_init
# The worker (nobody) runs the emulator and Redis from here.
chmod 711 "$T"

NODE=steel-wn-$$
NET=steel-wn-$$-net
VA=swn$$a
VB=swn$$b
SUB=10.$((200 + RANDOM % 50)).$((RANDOM % 256))
NODE4=$SUB.1
NET4=$SUB.2
NODE6=fd5e:$(printf %x $$)::1
NET6=fd5e:$(printf %x $$)::2
WUID=$(id -u nobody) || { echo "SKIP: no user nobody"; exit 77; }
OTHER=$((WUID - 1))
TABLE=steel_orchestrator

netns_down() {
    ip netns del "$NODE" 2>/dev/null
    ip netns del "$NET" 2>/dev/null
    return 0
}
trap 'rc=$?; (exit $rc); lib_cleanup; netns_down' EXIT
if ! { ip netns add "$NODE" && ip netns add "$NET" &&
    ip -n "$NODE" link add "$VA" type veth peer name "$VB" netns "$NET" &&
    ip -n "$NODE" link set lo up && ip -n "$NET" link set lo up &&
    ip -n "$NODE" addr add "$NODE4/30" dev "$VA" &&
    ip -n "$NODE" addr add "$NODE6/64" dev "$VA" nodad &&
    ip -n "$NODE" link set "$VA" up &&
    ip -n "$NET" addr add "$NET4/30" dev "$VB" &&
    ip -n "$NET" addr add "$NET6/64" dev "$VB" nodad &&
    ip -n "$NET" link set "$VB" up; } 2>"$T/netns.err"; then
    echo "SKIP: cannot make the network namespaces: $(head -n 1 "$T/netns.err")"
    exit 77
fi

in_node() {
    ip netns exec "$NODE" "$@"
}
# as UID CMD... - CMD in the node's namespace with that uid and gid, no
# groups and no capabilities, in a clean environment.
as() {
    local uid=$1
    shift
    ip netns exec "$NODE" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
        --inh-caps=-all env -i PATH=/usr/bin:/bin "$@"
}

# The rules as make writes them, for the worker's uid: the same file, only
# the user differs.
sed -e "s|@nft_table@|$TABLE|g" -e 's|@worker_uids@|nobody|g' \
    "$top_srcdir/etc/nftables/steel-orchestrator.nft.in" >"$T/rules.nft"
check "nft checks the rules" nft -c -f "$T/rules.nft"
check "the rules load in the node" in_node nft -f "$T/rules.nft"
check "they load again (the table is replaced, not doubled)" in_node nft -f "$T/rules.nft"
check_eq "one table of that name" 1 "$(in_node nft list tables | grep -c " $TABLE\$")"
check "the set holds the worker's uid" \
    bash -c "ip netns exec '$NODE' nft list set inet $TABLE worker_uids | grep -qw '$WUID'"

# Counters of the UDP datagrams that arrive, in each namespace: a table of
# the test's own, at input.
UDP_PORT=9999
for ns in "$NODE" "$NET"; do
    ip netns exec "$ns" nft -f - <<NFT || not_ok "the test's counter table loads in $ns"
table inet wntest {
	chain input {
		type filter hook input priority filter; policy accept;
		udp dport $UDP_PORT counter
	}
}
NFT
done
udp_count() {
    ip netns exec "$1" nft list chain inet wntest input |
        sed -n 's/.*counter packets \([0-9]*\).*/\1/p'
}

# Listeners as root: Redis in the node on loopback and on its veth
# addresses, Redis in "net".
RP=6379
start_bg node-redis ip netns exec "$NODE" redis-server --port "$RP" \
    --bind "127.0.0.1 ::1 $NODE4 $NODE6" --protected-mode no --save "" \
    --appendonly no --dir "$T"
start_bg net-redis ip netns exec "$NET" redis-server --port "$RP" \
    --bind "$NET4 $NET6" --protected-mode no --save "" --appendonly no --dir "$T"
ping_from() {
    local ns=$1 host=$2
    [ "$(ip netns exec "$ns" redis-cli -h "$host" -p "$RP" ping 2>/dev/null)" = PONG ]
}
wait_for 10 ping_from "$NODE" 127.0.0.1 && wait_for 10 ping_from "$NODE" "$NODE6" &&
    wait_for 10 ping_from "$NET" "$NET4" ||
    { not_ok "the Redis servers start"; lib_finish; }

# tcp UID HOST PORT - a TCP connection as UID succeeds.
tcp() {
    as "$1" timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}
# no CMD... - CMD fails.
no() {
    ! "$@"
}
# redis_ping UID HOST [PORT] - a PING as UID gets PONG.
redis_ping() {
    [ "$(as "$1" timeout 5 redis-cli -h "$2" -p "${3:-$RP}" ping 2>/dev/null)" = PONG ]
}
# udp UID NS HOST - one datagram as UID to HOST; prints how many arrived
# at namespace NS (0 or 1).
udp() {
    local before after
    before=$(udp_count "$2")
    as "$1" timeout 5 bash -c "echo x >/dev/udp/$3/$UDP_PORT" 2>/dev/null
    after=$(udp_count "$2")
    echo $((after - before))
}

# ---- the worker reaches nothing of the node -----------------------------
for h in 127.0.0.1 ::1 "$NODE4" "$NODE6" 127.0.0.2 ::ffff:127.0.0.1; do
    check "worker: no TCP connection to $h" no tcp "$WUID" "$h" "$RP"
done
for h in 127.0.0.1 "$NODE4" "$NODE6"; do
    check "worker: Redis at $h does not answer PING" no redis_ping "$WUID" "$h"
done
for h in 127.0.0.1 ::1 "$NODE4" "$NODE6"; do
    check_eq "worker: no UDP datagram arrives at $h" 0 "$(udp "$WUID" "$NODE" "$h")"
done
check "the refusals are counted in the table" \
    bash -c "ip netns exec '$NODE' nft list chain inet $TABLE worker_out | grep -q 'counter packets [1-9]'"

# ---- the rest of the world stays open to it -----------------------------
for h in "$NET4" "$NET6"; do
    check "worker: Redis in the other namespace ($h) answers PING" redis_ping "$WUID" "$h"
    check_eq "worker: a UDP datagram arrives at $h" 1 "$(udp "$WUID" "$NET" "$h")"
done

# ---- other uids reach the node ------------------------------------------
for uid in 0 "$OTHER"; do
    for h in 127.0.0.1 ::1 "$NODE4" "$NODE6"; do
        check "uid $uid: Redis at $h answers PING" redis_ping "$uid" "$h"
    done
    check_eq "uid $uid: a UDP datagram arrives at 127.0.0.1" 1 "$(udp "$uid" "$NODE" 127.0.0.1)"
done

# ---- the orchestrator reaches the worker --------------------------------
WP=20001
start_bg worker-emu ip netns exec "$NODE" setpriv --reuid="$WUID" --regid="$WUID" \
    --clear-groups --inh-caps=-all env -i PATH=/usr/bin:/bin PORT=$WP "$EMU"
start_bg worker-redis ip netns exec "$NODE" setpriv --reuid="$WUID" --regid="$WUID" \
    --clear-groups --inh-caps=-all redis-server --port $((RP + 1)) --bind ::1 \
    --protected-mode no --save "" --appendonly no --dir "$T"
health() {
    in_node curl -s -m 5 -f -o /dev/null "http://127.0.0.1:$WP/health"
}
check_eventually "root reaches the worker's HTTP port on 127.0.0.1 and gets /health" 10 health
check_eq "the worker's listener is the worker's uid" "$WUID" \
    "$(ps -o uid= -p "$(cat "$T/worker-emu.pid")" | tr -d " ")"
check_eventually "root reaches the worker's Redis on ::1 and gets PONG" 10 \
    bash -c "[ \"\$(ip netns exec '$NODE' redis-cli -h ::1 -p $((RP + 1)) ping)\" = PONG ]"
check "a request with a body: POST /sessions of the emulator answers" \
    in_node curl -s -m 5 -f -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d '{"worker-net": 1}' "http://127.0.0.1:$WP/sessions"
check "the worker's own Redis is out of its reach too (::1)" \
    no redis_ping "$WUID" ::1 $((RP + 1))

# ---- removal ---------------------------------------------------------------
check "nft delete table inet $TABLE" in_node nft delete table inet "$TABLE"
in_node nft delete table inet wntest
check_eq "nothing is left in the node's ruleset" "" "$(in_node nft list ruleset)"
check "without the table the worker reaches the node's Redis again" redis_ping "$WUID" 127.0.0.1

netns_down
check "the namespaces are gone" bash -c "! ip netns list | grep -qw -e '$NODE' -e '$NET'"
lib_finish
