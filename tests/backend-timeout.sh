#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# backend-timeout.sh - nothing waits in lighttpd without a bound.  With
# every steel-fcgi process stopped (SIGSTOP: they accept nothing and
# answer nothing), a request gets lighttpd's JSON 504 after the snippet's
# backend timeout (var.steel_backend_timeout, 2 s here), not an endless
# wait; once they run again, so does the API.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/bt.conf" <<CONF
pool_idle_target = 1
pool_max_workers = 4
create_wait = 1
worker_timeout_ms = 500
reap_interval = 1
fcgi_threads = 2
fcgi_create_threads = 2
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
export STEEL_BACKEND_TIMEOUT=2
stack_init "$T/run" "$HTTP_PORT"
FCGI_PIDS=()
resume() {
    local p
    for p in "${FCGI_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; done
}
trap 'resume; stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/bt.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
check "the snippet's backend timeout is the stack's" \
    grep -q 'var.steel_backend_timeout = 2$' "$STACK_RUN/50-steel-orchestrator.conf"

lighttpd_pid=$(stack_pid lighttpd)
for f in /proc/[0-9]*/stat; do
    read -r _ comm _ ppid _ <"$f" 2>/dev/null || continue
    if [ "$ppid" = "$lighttpd_pid" ] && [ "$comm" = "(steel-fcgi)" ]; then
        p=${f#/proc/}
        FCGI_PIDS+=("${p%/stat}")
    fi
done
check "lighttpd runs two steel-fcgi processes (${#FCGI_PIDS[@]})" test "${#FCGI_PIDS[@]}" -eq 2
for p in "${FCGI_PIDS[@]}"; do kill -STOP "$p"; done

t0=$(date +%s%N)
code=$(curl -s -m 20 -o "$T/out" -D "$T/out.h" -w '%{http_code}' "$U/health")
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# with steel-fcgi stopped: $code after $ms ms: $(head -c 200 "$T/out")"
check "a request to a stopped handler is not left waiting ($ms ms)" \
    test "$ms" -ge 1500 -a "$ms" -le 8000
check_eq "it gets lighttpd's 504" 504 "$code"
check "as JSON" grep -q '"error": "gateway_timeout"' "$T/out"
check "with Content-Type application/json" grep -qi '^Content-Type: application/json' "$T/out.h"

resume
health_ok() { test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$U/health")" = 200; }
check_eventually "the API answers again once the handlers run" 10 health_ok

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
