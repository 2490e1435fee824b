#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cgroup-worker.sh - as root, every worker runs in a cgroup of its own
# (common/cgroup.h): a worker whose wrapper leaves a "setsid env -i sleep"
# and a double-forked sleep behind (new session, no STEEL_* variable)
# takes them along when it is killed (SIGKILL to the worker, the spawner's
# stop), its group carries the limits, and its group goes with it.

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
BASE=$CG/steel-test/$PFX

wrap=$T/browser
cat >"$wrap" <<EOS
#!/bin/sh
setsid env -i sleep 1000 &
( ( sleep 1001 & ) & )
exec "$EMU"
EOS
chmod +x "$wrap"

write_conf pool_idle_target=2 pool_max_workers=4 worker_bin="$wrap" \
    worker_cgroup=required worker_cgroup_pids=64
start_spawner
check_eventually "2 idle workers registered" 10 idle_is 2

id=$(first_idle)
pid=$(whash "$id" pid)
check_eq "the worker's cgroup is its group" "0::/steel-test/$PFX/workers/w$id" \
    "$(grep '^0::' "/proc/$pid/cgroup")"
members() { cat "$BASE/workers/w$1/cgroup.procs" 2>/dev/null; }
check "its setsid and double-forked children are in its group" \
    test "$(members "$id" | wc -l)" -ge 3
sleepers=$(for p in $(members "$id"); do
    grep -q '^sleep' "/proc/$p/comm" 2>/dev/null && echo "$p"; done)
if [ -d /sys/fs/cgroup/pids/steel-test/$PFX ]; then
    check_eq "pids.max is worker_cgroup_pids" 64 \
        "$(cat "/sys/fs/cgroup/pids/steel-test/$PFX/workers/w$id/pids.max")"
fi

# A hang kill: SIGSTOP, then what the reaper and the handlers do (marked
# dead; the spawner kills it).
kill -STOP "$pid"
rcli hset "$PFX:w:$id" state dead >/dev/null 2>&1
kill -KILL "$pid"
gone() { for p in $sleepers; do [ -d "/proc/$p" ] && return 1; done; return 0; }
check_eventually "nothing the worker started survives it" 5 gone
check_eventually "its group is removed" 5 test ! -d "$BASE/workers/w$id"

id2=$(first_idle)
pid2=$(whash "$id2" pid)
sleepers=$(for p in $(members "$id2"); do
    grep -q '^sleep' "/proc/$p/comm" 2>/dev/null && echo "$p"; done)
stop_spawner
check_eventually "after the spawner's stop nothing of its workers is left" 5 gone
check "no worker group is left" bash -c "! ls -d $BASE/workers/w* 2>/dev/null"

lib_finish
