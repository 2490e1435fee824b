#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# cgroup-limits.sh - as root, a worker's cgroup limits hold: a worker
# whose process tree grows past worker_cgroup_memory_mb is ended by the
# kernel's OOM killer with reason oom (the spawner's log, and
# worker_exits:oom in P:stats, which /metrics shows as
# steel_worker_exits_total{kind="oom"}); its session goes, the other
# worker's session stays.  A worker that forks without end stops at
# worker_cgroup_pids (it may die of it), and the node and the other
# workers go on.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init

if [ "$(id -u)" != 0 ]; then
    echo "not root: skipped"
    exit 77
fi
spawner_setup

# The worker: the emulator, and beside it, in its group, what a trigger
# file for its port asks for: "hog" allocates memory without end, "fork"
# tries 200 forks (each child sleeps).  The worker ends when the emulator or the hog does.
wrap=$T/browser
cat >"$wrap" <<EOS
#!/bin/bash
"$EMU" &
emu=\$!
(
    while [ ! -e "$T/trigger.\$PORT" ]; do sleep 0.1; done
    case \$(cat "$T/trigger.\$PORT") in
    hog) exec python3 -c 'a = []
while True: a.append(bytearray(8 << 20))' ;;
    fork) exec python3 -c 'import os, time
for i in range(200):
    try:
        if os.fork() == 0:
            time.sleep(1000)
            os._exit(0)
    except OSError:
        pass
time.sleep(1000)' ;;
    esac
) &
wait -n
kill "\$emu" 2>/dev/null
exit 1
EOS
chmod +x "$wrap"

write_conf pool_idle_target=2 pool_max_workers=4 worker_bin="$wrap" \
    worker_cgroup_memory_mb=64 worker_cgroup_pids=40
start_spawner
check_eventually "2 idle workers registered" 10 idle_is 2

make_session || echo "could not make a session" >&2
a_id=$S_WID a_sid=$S_ID a_port=$S_PORT
make_session || echo "could not make a second session" >&2
b_id=$S_WID b_sid=$S_ID b_port=$S_PORT

# ---- memory ------------------------------------------------------------------
if log_has 1 "no memory controller"; then
    echo "# no memory controller on this host: the OOM part is skipped"
else
    echo hog >"$T/trigger.$a_port"
    check_eventually "the hog's worker ends with reason oom" 20 \
        grep -q "worker $a_id .*oom: over worker_cgroup_memory_mb (64 MiB)" \
        "$T/spawner.log"
    check_eq "worker_exits:oom counted (steel_worker_exits_total{kind=\"oom\"})" 1 \
        "$(rcli hget "$PFX:stats" worker_exits:oom)"
    check_eventually "its session is gone (404)" 5 key_gone "$PFX:session:$a_sid"
    check_eq "the other session stays" 1 "$(rcli exists "$PFX:session:$b_sid")"
    check "its worker still answers for it" \
        curl -sf -m 2 "http://127.0.0.1:$b_port/sessions/$b_sid" -o /dev/null
fi

# ---- processes -----------------------------------------------------------------
PIDS=/sys/fs/cgroup/pids/steel-test/$PFX/$NODE/workers/w$b_id
[ -d "$PIDS" ] || PIDS=$(cgroup_main)/steel-test/$PFX/$NODE/workers/w$b_id
if [ ! -e "$PIDS/pids.max" ]; then
    echo "# no pids controller on this host: the fork part is skipped"
else
    check_eventually "the pool is back to 2 idle workers" 20 idle_is 2
    make_session || echo "could not make a third session" >&2
    c_sid=$S_ID c_port=$S_PORT
    echo fork >"$T/trigger.$b_port"
    filled() { [ "$(cat "$PIDS/pids.current")" -ge 38 ]; }
    check_eventually "the forks fill the group up to pids.max" 10 filled
    sleep 1
    echo "# $PIDS: pids.current $(cat "$PIDS/pids.current"), pids.max $(cat "$PIDS/pids.max"), $(cat "$PIDS/pids.events")"
    check "and never past worker_cgroup_pids (40)" \
        test "$(cat "$PIDS/pids.current")" -le 40
    check "the kernel refused forks (pids.events max)" \
        test "$(sed -n 's/^max //p' "$PIDS/pids.events")" -gt 0
    # The fork bomb's own worker may die of it (the Go emulator cannot
    # start a thread at pids.max); what must hold is that its session
    # answers at once either way and that no other worker is touched.
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$b_port/sessions/$b_sid")
    check "the bomb's worker answers for its session or is gone, never hangs ($code)" \
        test "$code" = 200 -o "$code" = 000
    check "another worker's session is untouched" \
        curl -sf -m 5 "http://127.0.0.1:$c_port/sessions/$c_sid" -o /dev/null
    check_eventually "the pool still has 2 idle workers" 20 idle_is 2
fi

# leftovers - live (not zombie) processes of this test's worker groups.
leftovers() {
    local f p
    grep -l "steel-test/$PFX/$NODE/workers" /proc/[0-9]*/cgroup 2>/dev/null |
        while read -r f; do
            p=${f#/proc/}
            p=${p%/cgroup}
            [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] &&
                echo "$p"
        done
}
stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
none_left() { test -z "$(leftovers)"; }
check_eventually "nothing of the fork bomb survives the stop" 10 none_left

for p in $(leftovers); do echo "# left: $p $(cat "/proc/$p/comm" 2>/dev/null)"; done
lib_finish
