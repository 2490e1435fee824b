#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# reaper-forged.sh - steel-reaper takes no orders from forged worker
# records:
#   - a record whose address is outside worker_port_range (a local
#     listener the test counts connections on) is never probed: no
#     connection reaches the listener, the warning is logged once, and the
#     failed probes mark the worker dead as HACKING.md's table says;
#   - records in state dead, starting past its deadline or idle that name
#     a process that is not a worker of this node (a root `sleep`, another
#     user's `sleep` when run as root, an emulator of another node) never
#     get it signalled; the records go as "no process".

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reaper-lib.sh"
lib_init
reaper_setup
echo "worker_port_range = 20000-29999" >>"$T/steel.conf"

# ---- a listener outside the range that counts its connections ----------
OUT_PORT=$(free_port) || exit 1 # 61000-64999
start_bg listener python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
n = 0
open(sys.argv[2], "w").write("0\n")
while True:
    c, _ = s.accept()
    n += 1
    open(sys.argv[2], "w").write("%d\n" % n)
    c.close()
' "$OUT_PORT" "$T/accepted"
check_eventually "the listener runs" 5 test -s "$T/accepted"
# One connection of our own shows that it counts.
(exec 3<>"/dev/tcp/127.0.0.1/$OUT_PORT") 2>/dev/null
check_eventually "the listener counts connections" 5 grep -qx 1 "$T/accepted"
BASE=1

# A real worker of this node whose record is rewritten to the listener.
spawn_worker; A_ID=$W_ID A_PID=$W_PID
fix ready "$A_ID"
rcli HSET "$PFX:worker:$A_ID" port "$OUT_PORT" >/dev/null

# ---- processes that are not workers of this node ----------------------
sleep 300 &
ROOT_SLEEP=$!
track_pid "$ROOT_SLEEP"
OTHER_SLEEP=""
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 300 &
    OTHER_SLEEP=$!
    track_pid "$OTHER_SLEEP"
fi
start_foreign other-node "$PFX"
FOREIGN=$F_PID

# forge STATE PID - a record of this node naming PID in STATE, made long
# ago; prints its id.
forge() {
    local id port
    port=$(worker_port) || exit 1
    id=$(fix add 127.0.0.1 "$port") || exit 1
    fix setpid "$id" "$2" || exit 1
    rcli HSET "$PFX:worker:$id" state "$1" since $(($(now_ms) - 600000)) \
        started $(($(now_ms) - 600000)) >/dev/null
    echo "$id"
}
sleep 0.2
R1=$(forge dead "$ROOT_SLEEP")
R2=$(forge starting "$ROOT_SLEEP")
R3=$(forge idle "$ROOT_SLEEP")
R4=$(forge dead "$FOREIGN")
R5=$(forge dead 1)
if [ -n "$OTHER_SLEEP" ]; then
    O1=$(forge dead "$OTHER_SLEEP")
    O2=$(forge starting "$OTHER_SLEEP")
fi

start_bg reaper "$REAPER" -d -f "$T/steel.conf"
check_eventually "reaper runs passes" 5 grep -q "pass done" "$T/reaper.log"

# ---- the forged address ------------------------------------------------
check_eventually "the worker with a forged address is marked dead" 8 \
    bash -c "[ \"\$(redis-cli -p $REDIS_PORT HGET $PFX:worker:$A_ID state)\" != idle ]"
sleep 2
check_eq "no connection reached the address outside the range" \
    "$BASE" "$(cat "$T/accepted")"
check_eq "the forged address is logged once" 1 \
    "$(grep -c "address 127.0.0.1:$OUT_PORT is outside" "$T/reaper.log")"
check "the failures are refused probes, nothing sent" \
    grep -q "worker $A_ID .*probe failed.*refused (address" "$T/reaper.log"

# ---- the forged pids ---------------------------------------------------
for r in $R1 $R2 $R3 $R4 $R5 ${O1:-} ${O2:-}; do
    check_eventually "forged record $r removed" 8 record_gone "$r"
done
check "the test's own sleep was not signalled" alive "$ROOT_SLEEP"
check "the other node's emulator was not signalled" alive "$FOREIGN"
check "pid 1 still runs" alive 1
if [ -n "$OTHER_SLEEP" ]; then
    check "another user's sleep was not signalled" alive "$OTHER_SLEEP"
fi
check "the reaper says the records name no worker" \
    grep -q "not a worker of node $NODE; taken as gone" "$T/reaper.log"

kill "$ROOT_SLEEP" ${OTHER_SLEEP:+"$OTHER_SLEEP"} 2>/dev/null
lib_finish
