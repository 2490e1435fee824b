#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-chaos.sh - the restart policy under random faults.  Workers of
# the emulator crash on 5% of their requests (the spawner's /health probes
# and the reaper's included) and hang on 2% of the reaper's /status
# probes, a small load creates sessions that expire, and bursts of SIGKILL
# hit random idle workers for about 10 s, with the shipped backoff
# settings (100 ms doubling to 30 s): the pool is never degraded and the
# idle count is back at the target within 2 s of every burst.  Then a
# binary that answers /health and dies right after, and one that always
# exits at once, still make the pool degraded; a good one ends it.

# shellcheck disable=SC2317 # functions run through check
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init
spawner_setup

REAPER=$top_builddir/reaper/steel-reaper
[ -x "$REAPER" ] || { echo "missing $REAPER (run make)" >&2; exit 1; }
TARGET=4

write_conf pool_idle_target=$TARGET pool_max_workers=16 worker_bin="$EMU" \
    session_ttl=60 reap_interval=1 probe_timeout_ms=300 probe_failures=2 \
    worker_start_timeout_ms=2000 restart_backoff_max_ms=30000

# The spawner's environment is its workers'.
export STEEL_EMU_CRASH_PROB=0.05 STEEL_EMU_HANG_PROB=0.02 \
    STEEL_EMU_HANG_ON=status
start_spawner
start_bg reaper "$REAPER" -d -f "$T/steel.conf"
REAPER_PID=$(cat "$T/reaper.pid")
unset STEEL_EMU_CRASH_PROB STEEL_EMU_HANG_PROB STEEL_EMU_HANG_ON
check_eventually "$TARGET idle workers" 10 idle_at_least $TARGET
check_eventually "pool state ok" 3 pool_state_is ok

# load_once - one create on an idle worker, as a handler makes it, with a
# session of 1.5 s that the reaper reclaims, and two GETs of it.  A worker
# that crashes on a request is a random death like any other.
load_once() {
    local claim wid port body sid
    claim=$(fix claim 2>/dev/null) || return 0
    wid=${claim%% *}
    port=${claim##* }
    body=$(curl -sf -m 2 -X POST -H 'Content-Type: application/json' \
        -d '{"chaos":1}' "http://127.0.0.1:$port/sessions") || return 0
    sid=$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' <<<"$body")
    [ -n "$sid" ] || return 0
    fix bind "$wid" "$sid" 1500 >/dev/null 2>&1
    curl -sf -m 2 -o /dev/null "http://127.0.0.1:$port/sessions/$sid" &&
        curl -sf -m 2 -o /dev/null "http://127.0.0.1:$port/sessions/$sid"
    return 0
}

# kill_burst N - SIGKILL to N random idle workers; prints how many.
kill_burst() {
    local id pid n=0
    for id in $(rcli_raw lrange "$PFX:idle" 0 -1 | shuf -n "$1"); do
        pid=$(whash "$id" pid)
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && n=$((n + 1))
    done
    echo "$n"
}

rounds=0 killed=0 slow=0 worst=0 not_ok=0
end=$((SECONDS + 10))
while [ "$SECONDS" -lt "$end" ]; do
    rounds=$((rounds + 1))
    killed=$((killed + $(kill_burst 2)))
    t0=$(now_ms)
    load_once
    load_once
    load_once
    if wait_for 2 idle_at_least $TARGET; then
        took=$(($(now_ms) - t0))
        [ "$took" -gt "$worst" ] && worst=$took
        [ "$took" -gt 1000 ] && echo "# round $rounds: $TARGET idle after $took ms"
    else
        slow=$((slow + 1))
        echo "# round $rounds: idle $(idle_count) after 2 s"
    fi
    pool_state_is ok || not_ok=$((not_ok + 1))
    sleep 0.3
    pool_state_is ok || not_ok=$((not_ok + 1))
done
crashes=$(log_count "): exited 1")
hung=$(log_count "killed (hung)" reaper)
echo "# $rounds rounds: $killed workers killed, $crashes crashed, $hung hung" \
    "and killed by the reaper; slowest refill to $TARGET idle: $worst ms"
echo "# spawns: $(rcli_raw hget "$PFX:stats" worker_starts)," \
    "start failures in a row now: $(pool_field fails)"
check "the bursts killed workers ($killed)" test "$killed" -ge "$rounds"
check "workers crashed on their own too ($crashes)" test "$crashes" -ge 1
check_eq "every burst: $TARGET idle again within 2 s" 0 "$slow"
check_eq "pool state ok at every look" 0 "$not_ok"
check_eq "no 'pool degraded' line" 0 "$(log_count "pool degraded")"
check "the spawner runs" alive "$SP_PID"
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
kill -TERM "$REAPER_PID"
check_eventually "reaper stops" 5 dead "$REAPER_PID"
check "no worker left" no_ours
rcli flushall >/dev/null

# ---- binaries that cannot produce healthy workers -----------------------------

# Answers /health, then exits 1 after 300 ms: every start dies right after.
printf '#!/bin/sh\n"%s" &\nsleep 0.3\nkill $!\nwait $!\nexit 1\n' "$EMU" \
    >"$T/early.sh"
printf '#!/bin/sh\nexit 1\n' >"$T/crash.sh"
chmod +x "$T/early.sh" "$T/crash.sh"
reason_has() {
    pool_field reason | grep -q -- "$1"
}

write_conf pool_idle_target=$TARGET pool_max_workers=16 worker_bin="$T/early.sh"
start_spawner broken
check_eventually "dies right after /health: pool degraded" 4 pool_state_is degraded
check "the reason says how soon after /health" \
    reason_has "early.sh: exited 1 [0-9]* ms after answering /health"
check_eq "no healthy start" 0 "$(log_count "pool ok again" broken)"

write_conf pool_idle_target=$TARGET pool_max_workers=16 worker_bin="$T/crash.sh"
kill -HUP "$SP_PID"
check_eventually "exits at once: still degraded, with its reason" 4 \
    reason_has "crash.sh: exited 1 before answering /health"
check_eq "one 'pool degraded' line" 1 "$(log_count "pool degraded" broken)"

write_conf pool_idle_target=$TARGET pool_max_workers=16 worker_bin="$EMU"
kill -HUP "$SP_PID"
check_eventually "a good binary: pool ok" 4 pool_state_is ok
check_eventually "... and $TARGET idle" 4 idle_is $TARGET
check_eq "one 'pool ok again' line" 1 "$(log_count "pool ok again" broken)"
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
check "no worker left" no_ours
lib_finish
