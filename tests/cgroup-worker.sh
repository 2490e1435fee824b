#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cgroup-worker.sh - as root, every worker runs in a cgroup of its own
# (common/cgroup.h): a worker whose wrapper leaves a "setsid env -i sleep"
# and a double-forked sleep behind (new session, no STEEL_* variable)
# takes them along when it is killed (the reaper's hang kill, the
# spawner's stop), its group carries the limits, and its group goes with
# it.  A process that carries a worker's STEEL_* environment outside the
# worker groups is never taken for a worker (neither by the reaper's stray
# scan, nor for a forged record, nor by the spawner's adoption).

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init

if [ "$(id -u)" != 0 ]; then
    echo "not root: skipped"
    exit 77
fi
spawner_setup
CG=/sys/fs/cgroup/unified
[ -d "$CG" ] || CG=/sys/fs/cgroup
BASE=$CG/steel-test/$PFX/$NODE

wrap=$T/browser
cat >"$wrap" <<EOS
#!/bin/sh
setsid env -i sleep 1000 &
( ( sleep 1001 & ) & )
exec "$EMU"
EOS
chmod +x "$wrap"

write_conf pool_idle_target=2 pool_max_workers=4 worker_bin="$wrap" \
    worker_cgroup=required worker_cgroup_pids=64 reap_interval=1 \
    probe_timeout_ms=300 probe_failures=2 stray_scan_interval=1
start_spawner

# A forged worker: the environment of one, outside every worker group.
env STEEL_PREFIX="$PFX" STEEL_NODE="$NODE" STEEL_WORKER_ID=999 PORT=29999 \
    sleep 1000 &
FORGED=$!
track_pid "$FORGED"
check_eventually "2 idle workers registered" 10 idle_is 2

id=$(first_idle)
pid=$(whash "$id" pid)
check_eq "the worker's cgroup is its group" "0::/steel-test/$PFX/$NODE/workers/w$id" \
    "$(grep '^0::' "/proc/$pid/cgroup")"
members() { cat "$BASE/workers/w$1/cgroup.procs" 2>/dev/null; }
check "its setsid and double-forked children are in its group" \
    test "$(members "$id" | wc -l)" -ge 3
sleepers=$(for p in $(members "$id"); do
    grep -q '^sleep' "/proc/$p/comm" 2>/dev/null && echo "$p"; done)
if [ -d "/sys/fs/cgroup/pids/steel-test/$PFX/$NODE" ]; then
    check_eq "pids.max is worker_cgroup_pids" 64 \
        "$(cat "/sys/fs/cgroup/pids/steel-test/$PFX/$NODE/workers/w$id/pids.max")"
fi

# A hang kill by the reaper: SIGSTOP, failed probes, dead, its group
# killed.
start_bg reaper "$top_builddir/reaper/steel-reaper" -d -f "$T/steel.conf"
check_eventually "the reaper runs passes" 10 grep -q "pass done" "$T/reaper.log"
kill -STOP "$pid"
gone() { for p in $sleepers; do [ -d "/proc/$p" ] && return 1; done; return 0; }
check_eventually "nothing the hung worker started survives the reaper" 15 gone
check "the reaper killed it" grep -q "worker $id .*kill" "$T/reaper.log"
check_eventually "its group is removed" 5 test ! -d "$BASE/workers/w$id"

# The forged environment: the reaper's full scans saw only the groups.
check "the reaper took no forged process for a stray" \
    bash -c "! grep -q 'worker 999 .*stray' '$T/reaper.log'"
# A forged record naming it, dead: removed, the process not signalled.
# The hand edit moves P:ver:<node> as the scripts do; without it the
# reaper's view could have read the record as starting between setpid and
# the edit, and sees the edit only at its next whole read (30 s).
fid=$(fix add 127.0.0.1 29998) && fix setpid "$fid" "$FORGED" &&
    rcli hset "$PFX:worker:$fid" state dead >/dev/null &&
    rcli incr "$PFX:ver:$NODE" >/dev/null
check_eventually "the forged record is removed" 10 record_gone "$fid"
check "the forged process was not signalled" kill -0 "$FORGED"

id2=$(first_idle)
pid2=$(whash "$id2" pid)
sleepers=$(for p in $(members "$id2"); do
    grep -q '^sleep' "/proc/$p/comm" 2>/dev/null && echo "$p"; done)
stop_spawner
check_eventually "after the spawner's stop nothing of its workers is left" 5 gone
check "no worker group is left" bash -c "! ls -d $BASE/workers/w* 2>/dev/null"

# A new spawner's adoption scan: the forged process is no orphan of ours.
start_spawner spawner2
check_eventually "the new spawner starts its workers" 10 idle_is 2
check "the new spawner left the forged process alone" kill -0 "$FORGED"
check "and took it for no worker" \
    bash -c "! grep -q 'process $FORGED' '$T/spawner2.log'"
stop_spawner

lib_finish
