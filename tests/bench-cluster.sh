#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# bench-cluster.sh - the short form of bench/cluster: 3 nodes in network
# namespaces on one Redis with a replica and three Sentinels, 150 then 300
# live sessions on steel-browser-lite workers.  It checks that the bench
# ran to its end, that every create answered 201 and every GET 2xx, and
# that each row holds numbers; never a figure, since CI machines are
# shared.  Skipped (77) without root, iproute2, redis-sentinel or wrk.

# shellcheck disable=SC2317 # functions run through check
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=tests/lib.sh
. "$top_srcdir/tests/lib.sh"
lib_init

# bench/cluster stops what it started (its EXIT trap removes its
# namespaces); bound it, SIGINT first so that trap runs.
timeout -k 30 -s INT 400 "$top_srcdir/bench/cluster" --short >"$T/out" 2>"$T/bench.log"
rc=$?
if [ "$rc" = 77 ]; then
    cat "$T/bench.log"
    exit 77
fi
sed 's/^/    /' "$T/out"
check_eq "bench/cluster --short ran to its end" 0 "$rc"
check_eq "  and said nothing went wrong" "" "$(grep -v '^+' "$T/bench.log" | head -5)"

NUM='[0-9]+(\.[0-9]+)?'
PAIR="$NUM/$NUM"
# row N - the row of N sessions: 13 fields, numbers or pairs of numbers.
row() {
    local f i
    read -r -a f <<<"$(awk -v n="$1" '$1 == n' "$T/out")" || return 1
    [ ${#f[@]} = 13 ] || { echo "N=$1: ${#f[@]} fields, want 13"; return 1; }
    for i in 0 1 2 5 6 7 8 10 11; do
        [[ ${f[i]} =~ ^$NUM$ ]] || { echo "N=$1: field $((i + 1)) is '${f[i]}'"; return 1; }
    done
    for i in 3 4 9 12; do
        [[ ${f[i]} =~ ^$PAIR$ ]] || { echo "N=$1: field $((i + 1)) is '${f[i]}'"; return 1; }
    done
}
check "150 sessions on 3 nodes: a row of figures" row 150
check "300 sessions on 3 nodes: a row of figures" row 300
leftover=$(ip netns list 2>/dev/null | grep -c '^steel-bc')
check_eq "no namespace of the bench is left" 0 "$leftover"
lib_finish
