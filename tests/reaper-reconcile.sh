#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# reaper-reconcile.sh - steel-reaper --once against drift between Redis,
# the process table and the workers' /status: records without a process,
# processes without a record, workers holding sessions Redis does not map,
# stuck transitional states, stale index entries; and the pass lock: a
# held lock skips the pass with exit 0, two passes at once act once.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reaper-lib.sh"
lib_init
reaper_setup

N_ONCE=0
# once [ARGS] - one pass; its log in $T/once-N.log; returns its status.
once() {
    N_ONCE=$((N_ONCE + 1))
    "$REAPER" -f "$T/steel.conf" --once "$@" >"$T/once-$N_ONCE.log" 2>&1
}

# Makes the record of $1 look as if it entered its state long ago.
age_record() {
    rcli HSET "$PFX:worker:$1" since 1 >/dev/null
}

# ---- --once on an empty node ----------------------------------------------
once -d
check_eq "--once exits 0" 0 "$?"
check_eq "one pass counted" 1 "$(stat_of reaper_passes)"
check_eq "lock released after the pass" 0 "$(rcli EXISTS "$PFX:lock:reaper:$NODE")"

# ---- a record whose process is gone -> record removed ---------------------
spawn_worker; fix ready "$W_ID"; G_ID=$W_ID G_PID=$W_PID
kill -KILL "$G_PID"
wait_for 5 gone "$G_PID"
once
check "record without a process removed" record_gone "$G_ID"
check_eq "counted as no-process" 1 "$(stat_of repairs:no-process)"

# ---- a worker process whose record was deleted -> killed ------------------
spawn_worker; fix ready "$W_ID"; S_ID=$W_ID S_PID=$W_PID
start_foreign other-node "$PFX"; FN_PID=$F_PID
start_foreign "$NODE" other-prefix; FP_PID=$F_PID
rcli DEL "$PFX:worker:$S_ID" >/dev/null
rcli SREM "$PFX:workers" "$S_ID" >/dev/null
rcli SREM "$PFX:node:$NODE" "$S_ID" >/dev/null
rcli LREM "$PFX:idle" 0 "$S_ID" >/dev/null
sleep 1.1 # processes younger than 1 s are left alone
# A Redis that lost its data: until the node's spawner noted in P:gen that
# it registered its workers again, they only look like strays.
rcli HDEL "$PFX:gen" "$NODE" >/dev/null
once
check "not in P:gen: the process unknown to Redis is left alone" alive "$S_PID"
rcli HSET "$PFX:gen" "$NODE" 1 >/dev/null
once
check_eventually "process unknown to Redis killed" 2 gone "$S_PID"
check_eq "counted as stray" 1 "$(stat_of repairs:stray)"
check "another node's worker left alone" alive "$FN_PID"
check "another prefix's worker left alone" alive "$FP_PID"

# ---- an idle worker that holds a session -> DELETE on the worker ----------
spawn_worker; fix ready "$W_ID"; I_ID=$W_ID I_PID=$W_PID I_PORT=$W_PORT
T_SID=$(new_session "$I_PORT")
once
check "idle worker's stray session deleted" worker_available "$I_PORT"
check_eq "worker idle again" idle "$(wstate "$I_ID")"
check "worker back in P:idle" in_idle "$I_ID"
check "worker kept alive" alive "$I_PID"
check_eq "counted as idle-session" 1 "$(stat_of repairs:idle-session)"

# ---- a busy worker that lost its session -> dead and killed ---------------
spawn_worker; fix ready "$W_ID"
rcli LREM "$PFX:idle" 0 "$I_ID" >/dev/null # claim the new one
claim_busy 60000
L_ID=$CL_ID L_SID=$CL_SID L_PORT=$CL_PORT
L_PID=$(rcli HGET "$PFX:worker:$L_ID" pid)
rcli RPUSH "$PFX:idle" "$I_ID" >/dev/null
curl -s -X DELETE "http://127.0.0.1:$L_PORT/sessions/$L_SID" >/dev/null
once
check_eq "worker that lost its session marked dead" dead "$(wstate "$L_ID")"
check_eventually "and killed" 2 gone "$L_PID"
check_eq "its session key removed (404 from now on)" 0 "$(rcli EXISTS "$PFX:session:$L_SID")"
check_eq "counted as session-lost" 1 "$(stat_of repairs:session-lost)"
once
check "dead record removed on the next pass" record_gone "$L_ID"

# ---- stuck starting workers ------------------------------------------------
P_ID=$(fix add 127.0.0.1 1) # placeholder pid, never started
age_record "$P_ID"
spawn_worker; K_ID=$W_ID K_PID=$W_PID # started, never made ready
age_record "$K_ID"
spawn_worker; Y_ID=$W_ID Y_PID=$W_PID # starting within its deadline
once
check "starting record with no process removed" record_gone "$P_ID"
check_eq "starting worker past its deadline marked dead" dead "$(wstate "$K_ID")"
check_eventually "and killed" 2 gone "$K_PID"
check_eq "counted as starting-stuck" 2 "$(stat_of repairs:starting-stuck)"
check_eq "young starting worker left alone" starting "$(wstate "$Y_ID")"
check "and its process too" alive "$Y_PID"
fix ready "$Y_ID"

# ---- a dead record whose process outlived the grace -> killed -------------
spawn_worker; fix ready "$W_ID"; Z_ID=$W_ID Z_PID=$W_PID
rcli LREM "$PFX:idle" 0 "$Z_ID" >/dev/null
rcli HSET "$PFX:worker:$Z_ID" state dead since 1 >/dev/null
once
check_eventually "dead worker still running killed" 2 gone "$Z_PID"
check_eq "counted as dead-alive" 1 "$(stat_of repairs:dead-alive)"

# ---- a release whose handler died -> finished after the grace -------------
spawn_worker; fix ready "$W_ID"
for id in $(rcli_raw LRANGE "$PFX:idle" 0 -1); do
    [ "$id" = "$W_ID" ] || rcli LREM "$PFX:idle" 0 "$id" >/dev/null
done
claim_busy 60000
R_ID=$CL_ID R_SID=$CL_SID R_PORT=$CL_PORT
rcli RPUSH "$PFX:idle" "$I_ID" >/dev/null
rcli RPUSH "$PFX:idle" "$Y_ID" >/dev/null
fix end "$R_SID"
once
check_eq "a fresh release is the handler's" releasing "$(wstate "$R_ID")"
age_record "$R_ID"
once
check_eq "an old release is finished by the reaper" idle "$(wstate "$R_ID")"
check "the worker no longer holds the session" worker_available "$R_PORT"

# ---- stale entries of the session index -----------------------------------
rcli ZADD "$PFX:sessions" 1 ghost-session >/dev/null
once
check_eq "stale P:sessions entry removed" "" "$(rcli_raw ZSCORE "$PFX:sessions" ghost-session)"
check_eq "counted as session-index" 1 "$(stat_of repairs:session-index)"

# ---- the pass lock ---------------------------------------------------------
claim_busy 300
X_ID=$CL_ID X_PORT=$CL_PORT
sleep 0.5 # the session has expired
rcli SET "$PFX:lock:reaper:$NODE" someone-else PX 60000 >/dev/null
expired0=$(stat_of sessions_expired)
passes0=$(stat_of reaper_passes)
once -d
check_eq "--once exits 0 when the lock is held" 0 "$?"
check "the skip is logged at debug" grep -q "pass skipped: lock reaper:$NODE held" "$T/once-$N_ONCE.log"
check_eq "a skipped pass changes nothing" busy "$(wstate "$X_ID")"
check_eq "a skipped pass is not counted" "$passes0" "$(stat_of reaper_passes)"
rcli DEL "$PFX:lock:reaper:$NODE" >/dev/null

# Two passes at once: a hung worker makes each pass last one probe
# deadline, so they overlap; only one may act.
spawn_worker; fix ready "$W_ID"; H_ID=$W_ID H_PID=$W_PID
kill -STOP "$H_PID"
"$REAPER" -d -f "$T/steel.conf" --once >"$T/par-1.log" 2>&1 &
p1=$!
"$REAPER" -d -f "$T/steel.conf" --once >"$T/par-2.log" 2>&1 &
p2=$!
wait "$p1"; rc1=$?
wait "$p2"; rc2=$?
check_eq "both --once exit 0" "0 0" "$rc1 $rc2"
check_eq "exactly one of them skipped" 1 "$(cat "$T/par-1.log" "$T/par-2.log" | grep -c 'pass skipped')"
check_eq "the expired session was expired once" $((expired0 + 1)) "$(stat_of sessions_expired)"
check_eq "and its worker reclaimed" idle "$(wstate "$X_ID")"
check "the emulator shows it available" worker_available "$X_PORT"
check_eq "the hung worker's probe failure recorded once" 1 "$(rcli_raw HGET "$PFX:worker:$H_ID" fails)"
check "the hung idle worker left P:idle" not_in_idle "$H_ID"
kill -CONT "$H_PID"
once
check_eq "a worker that answers again returns to idle" idle "$(wstate "$H_ID")"
check_eq "its failure count reset" 0 "$(rcli_raw HGET "$PFX:worker:$H_ID" fails)"

# ---- probing 1000 workers takes one probe deadline -------------------------
# One hung worker stands in for 1000 (the kernel accepts the connections,
# nothing answers).  Probed one after the other they would take 1000 s, in
# batches of 100 10 s; all at once they take one deadline, plus slack for
# a loaded machine.
spawn_worker; B_PID=$W_PID B_PORT=$W_PORT
kill -STOP "$B_PID"
out=$(fix probe-bench 1000 127.0.0.1 "$B_PORT" 1000)
kill -CONT "$B_PID"
el=${out% *}
check_eq "1000 probes of a hung worker all time out" 1000 "${out#* }"
check "1000 probes took one deadline (${el} ms for 1000 ms)" [ "${el:-99999}" -lt 2000 ]

check "no --once run failed" [ "$(cat "$T"/once-*.log | grep -c 'pass failed')" = 0 ]
lib_finish
