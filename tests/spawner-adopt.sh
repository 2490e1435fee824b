#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-adopt.sh - a spawner killed with SIGKILL and started again adopts
# the live workers Redis knows (same pids; a session on one keeps working),
# removes the records it cannot vouch for (their sessions answer 404),
# kills worker processes of its node that Redis does not know, notices
# when an adopted worker (not its child) dies, and stops adopted workers
# on SIGTERM like its own.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init
spawner_setup

write_conf pool_idle_target=3 pool_max_workers=10 worker_bin="$EMU"
start_spawner first
check_eventually "3 idle workers" 10 idle_is 3

# One worker holds a session, one will die while no spawner runs.
make_session || echo "could not make a session" >&2
keep_id=$S_WID keep_sid=$S_ID keep_port=$S_PORT
check_eventually "back to 3 idle besides the busy one" 5 idle_is 3
lost_id=$(first_idle)
lost_pid=$(whash "$lost_id" pid)
make_session || echo "could not make a second session" >&2
lost_sid=$S_ID
# make_session claimed the head of P:idle: the one we noted.
check_eq "second session is on the worker that will die" "$lost_id" "$S_WID"
check_eventually "3 idle besides the two busy ones" 5 idle_is 3
before=$(for id in $(rcli_raw smembers "$PFX:node:$NODE"); do
    echo "$id $(whash "$id" pid)"
done | sort)

kill -KILL "$SP_PID"
wait "$SP_PID" 2>/dev/null
check "workers survive the spawner's SIGKILL" test -n "$(ours)"
kill -KILL "$lost_pid"
wait_for 3 dead "$lost_pid"
# A worker process of ours that Redis does not know: as root, one in a
# worker group of the node (cgroups decide); else one with a worker's
# environment (worker_cgroup = off).
uport=$((PORT_MAX))
setsid env PORT="$uport" STEEL_WORKER_ID=999999 STEEL_NODE="$NODE" \
    STEEL_PREFIX="$PFX" "$EMU" >>"$T/unknown.log" 2>&1 &
unknown=$!
disown "$unknown"
track_pid "$unknown"
if [ "$(id -u)" = 0 ]; then
    worker_group_add 999999 "$unknown" || echo "cannot move it into a group" >&2
fi
wait_for 10 curl -sf "http://127.0.0.1:$uport/health"
# And one of another node, which is not ours to touch.
oport=$((PORT_MAX - 1))
setsid env PORT="$oport" STEEL_WORKER_ID=999998 STEEL_NODE="other-$NODE" \
    STEEL_PREFIX="$PFX" "$EMU" >>"$T/other.log" 2>&1 &
other=$!
disown "$other"
track_pid "$other"
wait_for 10 curl -sf "http://127.0.0.1:$oport/health"

start_spawner second
check_eventually "adoption logged" 5 log_has 1 "adopted [0-9]* workers" second
check "the live workers were adopted" \
    grep -q "adopted $(($(echo "$before" | wc -l) - 1)) workers, removed 1 records, killed 1 unknown" \
    "$T/second.log"
after=$(for id in $(rcli_raw smembers "$PFX:node:$NODE"); do
    echo "$id $(whash "$id" pid)"
done | sort)
survivors=$(echo "$before" | grep -v "^$lost_id ")
missing=$(comm -23 <(echo "$survivors") <(echo "$after"))
check_eq "adopted workers keep their ids and pids" "" "$missing"
check_eq "the session on an adopted worker is still there" 1 \
    "$(rcli exists "$PFX:session:$keep_sid")"
check_eq "its worker is still busy with it" "busy $keep_sid" \
    "$(whash "$keep_id" state) $(whash "$keep_id" session)"
check "the adopted worker still answers for the session" \
    curl -sf -m 2 "http://127.0.0.1:$keep_port/sessions/$keep_sid" -o /dev/null
check "the dead worker's record was removed" record_gone "$lost_id"
check_eq "its session answers 404 (key gone)" 0 \
    "$(rcli exists "$PFX:session:$lost_sid")"
check "the dead worker's removal was logged" \
    grep -q "worker $lost_id (pid $lost_pid, port [0-9]*): not adopted: its process is gone" \
    "$T/second.log"
check_eventually "the unknown worker process was killed" 2 dead "$unknown"
check "another node's worker was left alone" alive "$other"
kill -KILL "$other"
check_eventually "the pool is refilled to 3 idle" 5 idle_is 3

# An adopted worker is not our child: its death is still noticed.
ad_id=$(for id in $(rcli_raw lrange "$PFX:idle" 0 -1); do
    grep -q "^$id " <<<"$survivors" && echo "$id"
done | head -n 1)
ad_pid=$(whash "$ad_id" pid)
check "an idle adopted worker to kill" test -n "$ad_id"
kill -KILL "$ad_pid"
t0=$(now_ms)
while ! record_gone "$ad_id" && [ $(($(now_ms) - t0)) -lt 3000 ]; do
    :
done
took=$(($(now_ms) - t0))
echo "# adopted worker's record gone after ${took} ms"
check "death of an adopted worker noticed within 500 ms (${took} ms)" \
    test "$took" -lt 500
check_eventually "and it is replaced" 5 idle_is 3

# The busy adopted worker dies: its session goes at once.
kill -KILL "$(whash "$keep_id" pid)"
check_eventually "session of a dead adopted worker answers 404" 1 \
    key_gone "$PFX:session:$keep_sid"

# SIGTERM stops adopted workers too.
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
check "no worker process left, adopted ones included" no_ours
check_eq "no worker record left" 0 "$(node_count)"
lib_finish
