#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# reaper-scan.sh - what a reaper pass reads of /proc, and that strays are
# still found within the documented bound (reaper/reaper.h).
#
# A pass reads the stat of its recorded pids and the environ of the
# children of the node's spawner (the pid in P:pool:<node>; here the test
# shell stands in for the spawner: the workers are its children); only a
# full scan, every stray_scan_interval seconds and on a reaper's first
# pass, reads the environ of every process on the host.  Shown with strace
# on a reaper looping beside 100 unrelated processes: the first pass opens
# all their environs, the later passes none.  Then the bounds: a stray
# child of the spawner is killed by the next pass (reap_interval + the 1 s
# age guard), an orphan stray (no parent of ours) by the next full scan,
# at most stray_scan_interval + reap_interval + 1 s after it appears.
# Skipped (77) without strace or when ptrace is not allowed.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reaper-lib.sh"

if ! command -v strace >/dev/null || ! strace -qq -o /dev/null true 2>/dev/null; then
    echo "strace missing or not permitted: skipped"
    exit 77
fi
lib_init
reaper_setup
SLACK_MS=1500
NUNRELATED=100

# ---- a reaper under strace beside unrelated processes ---------------------
echo "stray_scan_interval = 3600" >>"$T/steel.conf"

# Unrelated processes, orphaned (not children of the "spawner").
(
    for _ in $(seq 1 $NUNRELATED); do
        sleep 300 </dev/null >/dev/null 2>&1 &
        echo $!
    done
) >"$T/unrelated.pids"
while read -r p; do track_pid "$p"; done <"$T/unrelated.pids"
check_eq "$NUNRELATED unrelated processes run" $NUNRELATED "$(wc -l <"$T/unrelated.pids")"

spawn_worker; fix ready "$W_ID"; A_PID=$W_PID
spawn_worker; fix ready "$W_ID"; B_PID=$W_PID
# The test shell is the workers' parent: it stands in for the spawner.
rcli HSET "$PFX:pool:$NODE" pid $$ >/dev/null

start_bg strace strace -f -qq -s 200 -e trace=openat,write -e signal=none \
    -o "$T/trace" "$REAPER" -d -f "$T/steel.conf"
STRACE_PID=$(cat "$T/strace.pid")
wait_for 5 pgrep -P "$STRACE_PID" -x steel-reaper
REAPER_PID=$(pgrep -P "$STRACE_PID" -x steel-reaper)
track_pid "$REAPER_PID"
passes_at_least() { [ "$(grep -c 'pass done' "$T/strace.log")" -ge "$1" ]; }
check_eventually "four passes under strace" 15 passes_at_least 4

# A stray child of the spawner: its record goes, the next pass kills it.
spawn_worker; fix ready "$W_ID"; S_ID=$W_ID S_PID=$W_PID
sleep 1 # older than the 1 s guard
rcli DEL "$PFX:worker:$S_ID" >/dev/null
rcli SREM "$PFX:workers" "$S_ID" >/dev/null
rcli SREM "$PFX:node:$NODE" "$S_ID" >/dev/null
rcli LREM "$PFX:idle" 0 "$S_ID" >/dev/null
# As every script that changes a record does (keys.h): the passes read
# the records again only when P:ver:<node> moved (or every 5 s).
rcli INCR "$PFX:ver:$NODE" >/dev/null
t0=$(now_ms)
if wait_for 6 gone "$S_PID"; then
    el=$(($(now_ms) - t0))
    ok "stray child of the spawner killed after ${el} ms"
    check "within one interval (1000 ms + ${SLACK_MS} ms)" [ "$el" -le $((1000 + SLACK_MS)) ]
else
    not_ok "stray child of the spawner killed"
fi
# The pass that killed it ends with its own "pass done" line.
check "it was killed by a pass without a full scan" \
    sh -c "sed -n '/killed (stray)/,\$p' '$T/strace.log' | grep -m1 'pass done' | grep -q \"spawner's children\""

kill -TERM "$REAPER_PID"
wait "$STRACE_PID"
check_eq "the reaper under strace stopped cleanly" 0 "$?"

# The trace, cut at each "pass done" line: environs opened per pass.
awk -v pids="$(tr '\n' ' ' <"$T/unrelated.pids")" -v a="$A_PID" -v b="$B_PID" '
    BEGIN { n = split(pids, u, " "); for (i = 1; i <= n; i++) unrel[u[i]] = 1; pass = 1 }
    /openat\(.*"\/proc\/[0-9]+\/environ"/ {
        match($0, /\/proc\/[0-9]+\/environ/)
        pid = substr($0, RSTART + 6, RLENGTH - 14)
        if (pid in unrel) nu[pass]++
        else if (pid == a || pid == b) nw[pass]++
        all[pass]++
    }
    /write\(2, .*pass done/ { pass++ }
    END { for (p = 1; p < pass; p++) printf "%d %d %d %d\n", p, nu[p] + 0, nw[p] + 0, all[p] + 0 }
' "$T/trace" >"$T/per-pass"
sed 's/^/    pass, unrelated environs, worker environs, all environs: /' "$T/per-pass"
read -r _ u1 w1 _ < <(head -n 1 "$T/per-pass")
check "the first pass (a full scan) read every unrelated environ" [ "${u1:-0}" -ge $NUNRELATED ]
check "and found the workers" [ "${w1:-0}" -ge 2 ]
check "later passes read no unrelated environ" \
    awk 'NR > 1 && NR <= 4 { n++; if ($2 != 0) exit 1 } END { exit n < 3 }' "$T/per-pass"
# The test shell's children are the 2 workers, the stray, redis-server,
# strace and at times a helper (sleep, curl): a handful of environs a pass,
# whatever else runs on the host.
check "later passes read only the spawner's children (at most 8 environs)" \
    awk 'NR > 1 { if ($3 < 2 || $4 > 8) exit 1 }' "$T/per-pass"

# ---- an orphan stray: found by the next full scan --------------------------
sed -i 's/^stray_scan_interval = .*/stray_scan_interval = 2/' "$T/steel.conf"
start_bg reaper "$REAPER" -d -f "$T/steel.conf"
check_eventually "the reaper runs passes" 5 grep -q "pass done" "$T/reaper.log"
(
    setsid env PORT="$(worker_port)" STEEL_WORKER_ID=999998 STEEL_NODE="$NODE" \
        STEEL_PREFIX="$PFX" "$EMU" >>"$T/orphan.log" 2>&1 &
    echo $!
) >"$T/orphan.pid"
O_PID=$(cat "$T/orphan.pid")
track_pid "$O_PID"
t0=$(now_ms)
# Bound: stray_scan_interval 2 s + reap_interval 1 s + the 1 s guard.
if wait_for 10 gone "$O_PID"; then
    el=$(($(now_ms) - t0))
    ok "orphan stray killed after ${el} ms"
    check "within the bound (4000 ms + ${SLACK_MS} ms)" [ "$el" -le $((4000 + SLACK_MS)) ]
else
    not_ok "orphan stray killed"
fi
check "by a full scan" \
    sh -c "sed -n '/worker 999998.*killed (stray)/,\$p' '$T/reaper.log' | grep -m1 'pass done' | grep -q 'full scan'"
check "the workers were left alone" alive "$A_PID"
check "and so was worker B" alive "$B_PID"
check_eq "unrelated processes untouched" 0 \
    "$(while read -r p; do alive "$p" || echo "$p"; done <"$T/unrelated.pids" | wc -l)"
check_eq "two strays counted" 2 "$(stat_of repairs:stray)"
lib_finish
