#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-fail.sh - workers that cannot start: a binary that exits at once
# (backoff, then a degraded pool with one log line and no fork storm), a
# missing or non-executable binary (degraded with the precise reason), a
# worker that never answers /health (killed with its process group after
# worker_start_timeout_ms), and the recovery after SIGHUP.

. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init
spawner_setup

starts() {
    local n
    n=$(rcli_raw hget "$PFX:stats" worker_starts)
    echo "${n:-0}"
}

reason_has() {
    pool_field reason | grep -qF -- "$1"
}

# ---- a crash loop -------------------------------------------------------------

printf '#!/bin/sh\necho "crash-loop worker on $PORT"\nexit 1\n' >"$T/crash.sh"
chmod +x "$T/crash.sh"
write_conf pool_idle_target=4 pool_max_workers=8 worker_bin="$T/crash.sh"
t0=$(now_ms)
start_spawner
# Five start failures in a row: the first four starts, and one of the
# next four after the backoff (100 ms doubling).
check_eventually "crash loop: pool degraded within 2 s" 2 pool_state_is degraded
echo "# crash loop: degraded after $(($(now_ms) - t0)) ms"
sleep "$(awk -v ms=$((3000 - ($(now_ms) - t0))) 'BEGIN { print (ms > 0 ? ms / 1000 : 0) }')"
n=$(starts)
echo "# crash loop: $n spawns in 3 s"
# A tight loop makes hundreds; the backoff from the second failure and
# then one attempt per cool-down make about a dozen.
check "crash loop: few spawns in 3 s ($n)" test "$n" -ge 5 -a "$n" -le 20
check "crash loop: reason names the binary and the exit" \
    reason_has "$T/crash.sh: exited 1 before answering /health"
check_eq "crash loop: one 'pool degraded' line" 1 "$(log_count "pool degraded")"
# The port of the first start: PORT_BASE, unless another process on the
# machine holds it (the spawner skips it then).
first_port=$(find "$T/workers" -maxdepth 1 -name 'worker-*.log' -printf '%f\n' 2>/dev/null |
    sed 's/^worker-\([0-9]*\)\.log$/\1/' | sort -n | head -n 1)
check "crash loop: its output is in the worker log (port ${first_port:-none})" \
    grep -qs "crash-loop worker on ${first_port:-none}\$" "$T/workers/worker-${first_port:-none}.log"
n1=$(starts)
sleep 2
n2=$(starts)
check "degraded: about one attempt per second ($((n2 - n1)) in 2 s)" \
    test $((n2 - n1)) -ge 1 -a $((n2 - n1)) -le 3
check_eq "degraded: still one 'pool degraded' line" 1 "$(log_count "pool degraded")"
# A record exists while an attempt is under way (one a second): a loaded
# host may be in one at any given look, so look until between two.
node_empty() { [ "$(node_count)" = 0 ]; }
check_eventually "no worker record left behind" 3 node_empty

# ---- missing and non-executable binaries --------------------------------------

write_conf pool_idle_target=4 pool_max_workers=8 worker_bin="$T/missing"
kill -HUP "$SP_PID"
check_eventually "missing binary: precise reason" 4 \
    reason_has "cannot execute $T/missing: No such file or directory"
chmod -x "$T/crash.sh"
write_conf pool_idle_target=4 pool_max_workers=8 worker_bin="$T/crash.sh"
kill -HUP "$SP_PID"
check_eventually "non-executable binary: precise reason" 4 \
    reason_has "cannot execute $T/crash.sh: Permission denied"
check_eq "still one 'pool degraded' line" 1 "$(log_count "pool degraded")"

# ---- recovery -----------------------------------------------------------------

write_conf pool_idle_target=4 pool_max_workers=8 worker_bin="$EMU"
kill -HUP "$SP_PID"
check_eventually "fixed binary: 4 idle workers" 6 idle_is 4
check_eventually "fixed binary: pool ok" 3 pool_state_is ok
check_eq "one 'pool ok again' line" 1 "$(log_count "pool ok again")"
check_eq "reason cleared" "" "$(pool_field reason)"
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
check "no worker left" no_ours

# ---- a worker that never answers /health --------------------------------------

# It starts a child of its own (same process group) and never listens.
printf '#!/bin/sh\nsleep 300 &\necho $! >"%s/child-$STEEL_WORKER_ID"\nwait\n' \
    "$T" >"$T/mute.sh"
chmod +x "$T/mute.sh"
# The start timeout leaves a loaded host time to start the child and
# this test time to see it before the group is killed.
write_conf pool_idle_target=1 pool_max_workers=2 worker_bin="$T/mute.sh" \
    worker_start_timeout_ms=2500
start_spawner slow
check_eventually "a worker is starting" 3 node_at_least 1
id=$(rcli_raw smembers "$PFX:node:$NODE" | head -n 1)
pid=$(whash "$id" pid)
check_eq "it is registered as starting" starting "$(whash "$id" state)"
wait_for 2 test -s "$T/child-$id"
child=$(cat "$T/child-$id" 2>/dev/null)
check "its child runs" alive "${child:-0}"
check_eventually "killed after worker_start_timeout_ms" 5 dead "$pid"
check_eventually "its whole process group is killed" 2 dead "${child:-0}"
check_eventually "its record is removed" 2 record_gone "$id"
check_eventually "the timeout is logged" 2 \
    log_has 1 "worker $id (pid $pid, port [0-9]*): no answer to /health within 2500 ms" slow
check_eq "nothing ever went idle" 0 "$(idle_count)"
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
check "no worker left" no_ours
lib_finish
