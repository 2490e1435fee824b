#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lite-worker.sh - tests/steel-browser-lite, the worker emulator of scale
# runs, answers as tester/steel-browser-emu does (the same requests to both
# give the same status, type and body, ids and times aside), honours the
# same knobs (crash, hang, garbage, delays, created_at, post status, bad
# values), keeps connections alive and pipelined requests in order, stays
# under 1 MB resident, and serves a real stack.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

LITE=$top_builddir/tests/steel-browser-lite
EMU=$top_builddir/tester/steel-browser-emu
[ -x "$LITE" ] || { echo "$LITE not built" >&2; exit 99; }

# run NAME BIN [VAR=VALUE...] - one worker on a free port; sets PORT_<NAME>.
run() {
    local name=$1 bin=$2 port
    shift 2
    port=$(free_port) || return 1
    start_bg "$name" env "$@" PORT="$port" "$bin"
    printf -v "PORT_$name" %s "$port"
    wait_for 10 curl -sf -m 1 "http://127.0.0.1:$port/health"
}

# norm - an answer with ids and times replaced, header names lower case,
# only status, content type, Allow and body kept.
norm() {
    tr -d '\r' | sed -E \
        -e 's/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/ID/g' \
        -e 's/"created_at":[0-9]+/"created_at":T/' |
        awk 'BEGIN{h=1} /^---$/ {h=1; print; next}
             h && /^$/ {h=0; next}
             h && /^HTTP/ {print $2; next}
             h {l=tolower($0); if (l ~ /^(content-type|allow):/) print l; next}
             {print}'
}

# script PORT - the same requests in the same order; prints each answer.
script() {
    local u=http://127.0.0.1:$1 id
    c() { curl -s -i -m 5 "$@"; echo; echo ---; }
    c "$u/health"
    c "$u/status"
    c -X POST -H 'Content-Type: application/json' -d '{"a":[1,2.5e3,"\u00e9",{"b":null}]}' "$u/sessions"
    id=$(curl -s -m 5 "$u/status" | sed -n 's/.*"session_id":"\([^"]*\)".*/\1/p')
    c "$u/sessions/$id"
    c "$u/sessions/$id?x=1"
    c "$u/status"
    c -X POST -d '{bad' "$u/sessions"
    c -X POST -d '[1,]' "$u/sessions"
    c -X POST -d '"\x01"' "$u/sessions"
    c -X PUT "$u/sessions"
    c -X POST "$u/sessions/$id"
    c "$u/sessions/other"
    c "$u/sessions/"
    c "$u/sessions/a/b"
    c -X DELETE "$u/sessions/$id"
    c -X DELETE "$u/sessions/$id"
    c "$u/nope"
    c -X POST -d '   ' "$u/sessions"
    c -X POST -d ' {"k": "v"} ' "$u/sessions"
}

run go "$EMU" || { not_ok "the Go emulator starts"; lib_finish; }
run lite "$LITE" || { not_ok "steel-browser-lite starts"; lib_finish; }
script "$PORT_go" | norm >"$T/go.out"
script "$PORT_lite" | norm >"$T/lite.out"
check "the same requests get the same answers as the Go emulator" \
    diff -u "$T/go.out" "$T/lite.out"
check "  (19 answers compared)" test "$(grep -c -- '^---$' "$T/lite.out")" = 19

# Keep-alive and pipelining: two requests in one write, answered in order
# on one connection.
pipelined() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT_lite" || return 1
    printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
    timeout 5 cat <&3 >"$T/pipe.out"
    exec 3<&-
    test "$(grep -o 'HTTP/1.1 200' "$T/pipe.out" | wc -l)" = 2 &&
        grep -q '^ok' "$T/pipe.out" && grep -q '"available"' "$T/pipe.out"
}
check "two pipelined requests answered in order on one connection" pipelined
reuse() {
    curl -s -m 5 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
        "http://127.0.0.1:$PORT_lite/health" "http://127.0.0.1:$PORT_lite/status" |
        paste -sd' ' | grep -qx '1 0'
}
check "curl reuses the connection for a second request" reuse
big=$(head -c 2000000 /dev/zero | tr '\0' a)
printf '{"big":"%s"}' "$big" >"$T/big.json"
code=$(curl -s -m 10 -o "$T/big.out" -w '%{http_code}' -X POST --data-binary @"$T/big.json" \
    "http://127.0.0.1:$PORT_lite/sessions")
check_eq "a 2 MB body makes a session" 201 "$code"
check "  and comes back byte for byte" grep -q "\"data\":$(head -c 40 "$T/big.json")" "$T/big.out"
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
    -d '{}' "http://127.0.0.1:$PORT_lite/sessions")
check_eq "a chunked body answers 411" 411 "$code"

# Memory: 2,000 requests on kept-alive connections, then VmRSS.
urls=()
for i in $(seq 1 500); do urls+=("http://127.0.0.1:$PORT_lite/status"); done
for j in 1 2 3 4; do curl -s -m 30 "${urls[@]}" >/dev/null; done
curl -s -m 5 -o /dev/null -X POST -d '{"small":1}' "http://127.0.0.1:$PORT_lite/sessions"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$(cat "$T/lite.pid")/status")
if ldd "$LITE" >/dev/null 2>&1; then
    ok "# skip: VmRSS $rss kB (dynamically linked: sanitizers or no static libc)"
else
    check "under 1 MB resident after 2,000 requests and a 2 MB session (${rss} kB)" \
        test "$rss" -le 1024
fi
grss=$(awk '/^VmRSS/ {print $2}' "/proc/$(cat "$T/go.pid")/status")
echo "# resident: steel-browser-lite ${rss} kB, steel-browser-emu ${grss} kB"

# ---- knobs -------------------------------------------------------------

run crash "$LITE" STEEL_EMU_CRASH_PROB=1 STEEL_EMU_CRASH_ON=get
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_crash/sessions/x")
check_eq "crash knob: the GET gets no answer" 000 "$code"
crash_pid=$(cat "$T/crash.pid")
check_eventually "  and the worker exits" 5 bash -c "! kill -0 $crash_pid"
wait "$crash_pid"
check_eq "  with status 1" 1 $?
check "  saying why" grep -q 'crashing during GET /sessions/x' "$T/crash.log"

run hang "$LITE" STEEL_EMU_HANG_PROB=1 STEEL_EMU_HANG_ON=status
u=http://127.0.0.1:$PORT_hang
check_eq "hang knob: /status is never answered" 000 \
    "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$u/status")"
check_eq "  nor anything after it" 000 \
    "$(curl -s -m 1 -o /dev/null -w '%{http_code}' "$u/health")"
hang_pid=$(cat "$T/hang.pid")
check "  yet the process lives" kill -0 "$hang_pid"
kill -TERM "$hang_pid"
check_eventually "  and SIGTERM ends it" 5 bash -c "! kill -0 $hang_pid"
wait "$hang_pid"
check_eq "  with status 0" 0 $?

run garbage "$LITE" STEEL_EMU_GARBAGE_PROB=1 STEEL_EMU_GARBAGE_ON=post
curl -s -m 5 -D "$T/g.h" -o "$T/g.body" -X POST -d '{}' "http://127.0.0.1:$PORT_garbage/sessions"
check "garbage knob: 200 with cut-off JSON" grep -q '^HTTP/1.1 200' "$T/g.h"
check "  the body" grep -qF '{"id": "\u00' "$T/g.body"
check_eq "  other endpoints answer" ok "$(curl -s -m 5 "http://127.0.0.1:$PORT_garbage/health")"

run slow "$LITE" STEEL_EMU_POST_DELAY_MS=400 STEEL_EMU_POST_STATUS=200 STEEL_EMU_CREATED_AT=iso
u=http://127.0.0.1:$PORT_slow
curl -s -m 5 -o "$T/slow.body" -w '%{http_code} %{time_total}\n' -X POST -d '{}' "$u/sessions" >"$T/slow.w" &
slow_curl=$!
sleep 0.1
check_eq "post delay: /health answers during a delayed POST" ok "$(curl -s -m 1 "$u/health")"
wait "$slow_curl"
check "  the POST answers 200 (STEEL_EMU_POST_STATUS) after 400 ms ($(cat "$T/slow.w"))" \
    awk '$1 == 200 && $2 >= 0.39 {ok=1} END {exit !ok}' "$T/slow.w"
check "  created_at as an ISO string (STEEL_EMU_CREATED_AT=iso)" \
    grep -qE '"created_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' "$T/slow.body"

port=$(free_port)
start_bg late env PORT="$port" STEEL_EMU_START_DELAY_MS=1000 "$LITE"
check "start delay: nothing listens at first" \
    bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$port/health"
check_eventually "  then /health answers" 10 curl -sf -m 1 "http://127.0.0.1:$port/health"

for bad in "PORT=abc" "PORT=1 STEEL_EMU_CRASH_PROB=2" "PORT=1 STEEL_EMU_HANG_ON=nope" \
    "PORT=1 STEEL_EMU_CREATED_AT=x" "PORT=1 STEEL_EMU_POST_STATUS=204" "PORT=1 STEEL_EMU_SEED=z"; do
    # shellcheck disable=SC2086
    env -i $bad "$LITE" 2>"$T/bad.err"
    rc=$?
    check "bad value $bad: exit 2 naming it ($(head -c 80 "$T/bad.err"))" \
        test "$rc" = 2 -a -s "$T/bad.err"
done
env -i "$LITE" 2>"$T/bad.err"
check "no PORT: exit 2" test $? = 2

# ---- behind a real stack ----------------------------------------------

HTTP_PORT=$(free_port)
cat >"$T/lite.conf" <<CONF
pool_idle_target = 3
pool_max_workers = 6
CONF
export STEEL_BROWSER_BIN=$LITE
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
if STEEL_CONF=$T/lite.conf stack_up; then
    U=$(stack_url)
    body=$(curl -s -m 20 -X POST -H 'Content-Type: application/json' \
        -d '{"lite":true}' "$U/sessions")
    id=$(echo "$body" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
    check "a stack of lite workers creates a session ($body)" test -n "$id"
    check "  GET answers its data" bash -c "curl -s -m 10 '$U/sessions/$id' | grep -q '\"lite\": *true'"
    check_eq "  DELETE answers 204" 204 \
        "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE "$U/sessions/$id")"
    check_eq "  then GET answers 404" 404 \
        "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$U/sessions/$id")"
    stack_down >/dev/null
    check_eq "  nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
else
    not_ok "a stack of lite workers starts"
fi
lib_finish
