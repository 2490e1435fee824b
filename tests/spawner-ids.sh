#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-ids.sh - worker ids after P:seq:worker went back (Redis lost its
# data): store_worker_add registers above the caller's floor and never over
# an existing record; store_worker_gone and the spawner's own marks touch a
# record only while its node and pid are the ones the caller knows; a
# spawner whose records vanished (FLUSHALL) survives, kills none of its
# workers but registers them again under their own ids and pids
# (spawner/rebuild.c), raising the counter past them, and notes its node
# in P:gen.

# shellcheck disable=SC2317,SC2119 # functions run through check
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init
spawner_setup

write_conf pool_idle_target=4 pool_max_workers=16 worker_bin="$EMU"

# fix_rc VERB ARGS... - the fixture's exit status.
fix_rc() {
    fix "$@" >/dev/null 2>&1
    echo $?
}

# ---- the scripts: floor, existing records, conditional removal --------------

rcli set "$PFX:seq:worker" 2 >/dev/null
check_eq "add with floor 10 after the counter went back to 2: id 11" 11 \
    "$(fix add 127.0.0.1 1 10)"
check_eq "... and the counter follows" 11 "$(rcli get "$PFX:seq:worker")"
check_eq "add without floor: the next id" 12 "$(fix add 127.0.0.1 1)"
check_eq "add with a floor below the counter: the next id" 13 \
    "$(fix add 127.0.0.1 1 5)"
rcli hset "$PFX:worker:14" id 14 node "other-$NODE" pid 4242 state idle >/dev/null
check_eq "add never takes the id of an existing record" 15 \
    "$(fix add 127.0.0.1 1)"
check_eq "... which is left as it was" "other-$NODE 4242" \
    "$(whash 14 node) $(whash 14 pid)"

check_eq "gone: a record of another node is not ours (3)" 3 "$(fix_rc gone 14)"
check_eq "... and stays" 1 "$(rcli exists "$PFX:worker:14")"
rcli hset "$PFX:worker:13" pid 111 >/dev/null
check_eq "gone: a record of our node with another pid is kept (3)" 3 \
    "$(fix_rc gone 13 222)"
check_eq "... and stays" 1 "$(rcli exists "$PFX:worker:13")"
check_eq "gone: node and pid match: removed (0)" 0 "$(fix_rc gone 13 111)"
check_eq "... record gone" 0 "$(rcli exists "$PFX:worker:13")"
check_eq "... and out of the node's set" 0 \
    "$(rcli sismember "$PFX:node:$NODE" 13)"
check_eq "gone: pid 0 matches any pid of our node (0)" 0 "$(fix_rc gone 12)"
check_eq "gone: the other node may remove its own (0)" 0 \
    "$(fix_rc gone 14 4242 "other-$NODE")"
rcli flushall >/dev/null

# ---- a spawner whose records vanish -----------------------------------------

start_spawner
check_eventually "4 idle workers" 10 idle_is 4
old_ids=$(rcli_raw smembers "$PFX:node:$NODE" | sort -n)
old_max=$(tail -n 1 <<<"$old_ids")
old_pids=$(for id in $old_ids; do whash "$id" pid; done)
rcli flushall >/dev/null
same_again() {
    [ "$(rcli_raw smembers "$PFX:node:$NODE" | sort -n)" = "$old_ids" ] &&
        [ "$(for id in $old_ids; do whash "$id" pid; done)" = "$old_pids" ]
}
check_eventually "FLUSHALL: the same workers are registered again (ids, pids)" 3 same_again
check_eventually "... and are idle" 5 idle_is 4
check_eq "... none of them was killed" 0 "$(log_count "killing it")"
check "... the counter is past their ids" \
    test "$(rcli get "$PFX:seq:worker")" -ge "$old_max"
check_eq "... the node is noted in P:gen" 1 "$(rcli hexists "$PFX:gen" "$NODE")"
sleep 0.5
check "the spawner survives" alive "$SP_PID"
id_new=$(fix add 127.0.0.1 1)
check "a new id ($id_new) is above the ones it still holds ($old_max)" \
    test "${id_new:-0}" -gt "$old_max"
rcli del "$PFX:worker:$id_new" >/dev/null
rcli srem "$PFX:workers" "$id_new" >/dev/null
rcli srem "$PFX:node:$NODE" "$id_new" >/dev/null
check_eq "no abort in its log" 0 "$(log_count "double free\|free()\|Aborted")"
check_eq "the loss of records is no failure" 0 "$(log_count "pool degraded")"
fails_is_0() {
    [ "$(pool_field fails)" = 0 ]
}
check_eventually "... and counts none" 3 fails_is_0

# ---- removal and marks only while node and pid match ------------------------

# A process that stands in for the worker another spawner registered under
# an id of ours.
start_bg decoy sleep 300
decoy=$(cat "$T/decoy.pid")

# Its pid in our record changes: the exit of our process must not remove
# the record that now describes another process.
id=$(first_idle)
pid=$(whash "$id" pid)
rcli hset "$PFX:worker:$id" pid "$decoy" >/dev/null
kill -KILL "$pid"
check_eventually "exit of worker $id is logged" 3 \
    log_has 1 "worker $id (pid $pid, port [0-9]*): killed by signal 9"
sleep 0.3
check_eq "... and the record with another pid is left alone" "$decoy" \
    "$(whash "$id" pid)"

# Its node changes: the same for another node's record.
check_eventually "back to 4 idle workers" 5 idle_at_least 4
id2=$(rcli_raw lrange "$PFX:idle" 0 -1 | grep -vx "$id" | head -n 1)
pid2=$(whash "$id2" pid)
rcli hset "$PFX:worker:$id2" node "other-$NODE" >/dev/null
kill -KILL "$pid2"
check_eventually "exit of worker $id2 is logged" 3 \
    log_has 1 "worker $id2 (pid $pid2, port [0-9]*): killed by signal 9"
sleep 0.3
check_eq "... and another node's record is left alone" "other-$NODE" \
    "$(whash "$id2" node)"

# SIGTERM: the spawner marks its workers dead and removes them, but not a
# record that another process took over meanwhile.
check_eventually "back to 4 idle workers besides the two" 5 idle_at_least 6
id3=$(rcli_raw lrange "$PFX:idle" 0 -1 | grep -vx "$id\|$id2" | head -n 1)
rcli hset "$PFX:worker:$id3" pid "$decoy" >/dev/null
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
check_eq "a record with another pid is neither marked dead nor removed" \
    "idle $decoy" "$(whash "$id3" state) $(whash "$id3" pid)"
check "no worker process left" no_ours
lib_finish
