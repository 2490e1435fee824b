#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# port-squat.sh - ports of worker_port_range held by something else never
# stop the pool, and a squatter never gets a session:
#   - a process that listens on every port of a small range: the spawner
#     starts nobody, logs each held port once (not once per try), and
#     refills the pool once the ports are free again;
#   - an impostor that answers /health on the port of a worker that never
#     listens: the worker is not registered idle (the listening socket is
#     not in the worker's process tree, common/portown.h), it is stopped
#     without counting as a start failure, the impostor receives nothing
#     but /health, and the pool reaches its target on the other ports.

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spawner-lib.sh"
lib_init
spawner_setup

PORT_MAX=$((PORT_BASE + 9))

# A worker_bin that, the first time a flag file exists, becomes a worker
# that never listens and names its port for the impostor.
cat >"$T/worker.sh" <<EOS
#!/bin/sh
if mv "$T/impostor-once" "$T/impostor-port" 2>/dev/null; then
    echo "\$PORT" >"$T/impostor-port.tmp" && mv "$T/impostor-port.tmp" "$T/impostor-at"
    exec sleep 60
fi
exec "$EMU"
EOS
chmod +x "$T/worker.sh"
write_conf pool_idle_target=3 pool_max_workers=6 worker_bin="$T/worker.sh" \
    worker_port_range="$PORT_BASE-$PORT_MAX"

# ---- a squatter on every port of the range -----------------------------
start_bg squatter python3 -c '
import socket, sys, time
socks = []
for p in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    s = socket.socket()
    # A connection of an earlier test left in TIME_WAIT must not stop it.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p))
    s.listen(4)
    socks.append(s)
open(sys.argv[3], "w").write("ok\n")
time.sleep(3600)
' "$PORT_BASE" "$PORT_MAX" "$T/squatting"
check_eventually "the squatter holds the whole range" 5 test -s "$T/squatting"

start_spawner
check_eventually "the spawner logs the held ports" 5 \
    grep -q "port $PORT_BASE of worker_port_range is held" "$T/spawner.log"
sleep 12 # past POOL_PORT_COOL_MS: every port was tried twice
check_eq "no worker started on a held port" 0 "$(idle_count)"
check_eq "each held port is logged once" 10 \
    "$(grep -c 'of worker_port_range is held by another process' "$T/spawner.log")"
check "the spawner still runs" kill -0 "$SP_PID"

# ---- the ports free up; one worker's port is taken by an impostor ------
start_bg impostor python3 -c '
import http.server, os, socket, sys, time
T = sys.argv[1]
while not os.path.exists(T + "/impostor-at"):
    time.sleep(0.005)
port = int(open(T + "/impostor-at").read())
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def answer(self):
        if self.path != "/health":
            with open(T + "/impostor-requests", "a") as f:
                f.write(self.command + " " + self.path + "\n")
        body = b"{\"status\":\"ok\"}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_DELETE = answer
http.server.HTTPServer.allow_reuse_address = True
srv = http.server.HTTPServer(("127.0.0.1", port), H)
open(T + "/impostor-listening", "w").write("%d\n" % port)
srv.serve_forever()
' "$T"
touch "$T/impostor-once"
kill "$(cat "$T/squatter.pid")"
check_eventually "the pool reaches its idle target once ports are free" 25 \
    idle_at_least 3
check "the impostor listened on a worker's port" test -s "$T/impostor-listening"
IMP_PORT=$(cat "$T/impostor-listening" 2>/dev/null)
check "the worker whose /health the impostor answered was stopped" \
    grep -q "port $IMP_PORT: /health answered by a process that is not the worker" \
    "$T/spawner.log"
check "the held port is logged once, then free again" \
    grep -q "port .* of worker_port_range is free again" "$T/spawner.log"
IDLE_PORTS=$(for id in $(rcli lrange "$PFX:idle" 0 -1); do
    rcli hget "$PFX:worker:$id" port
done)
check "no idle worker is on the impostor's port" \
    sh -c "! echo '$IDLE_PORTS' | grep -qx '$IMP_PORT'"
check_eq "the impostor received nothing but /health" "" \
    "$(cat "$T/impostor-requests" 2>/dev/null)"
check "the pool is not degraded" sh -c "! grep -q degraded '$T/spawner.log'"

# ---- the stack keeps serving: a session on an idle worker --------------
W=$(rcli lindex "$PFX:idle" 0)
WP=$(rcli hget "$PFX:worker:$W" port)
check "an idle worker serves" curl -sf -m 2 "http://127.0.0.1:$WP/health"

stop_spawner
check_eq "the spawner stopped cleanly" 0 "$SP_RC"
kill "$(cat "$T/impostor.pid")" 2>/dev/null
lib_finish
