#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# status-page.sh - the operator status page (/status.html, served by the
# lighttpd snippet) in headless Chromium against a live stack: lighttpd
# serves it as HTML with a Content-Security-Policy that allows nothing from
# elsewhere; once its scripts ran, every figure it renders (sessions,
# waiting creates, idle workers, capacity, available, degraded, workers by
# state in all, and per node from /workers, the node's pool state) equals
# /status and /workers read with curl just before and after; it refreshed
# on its own.  /metrics shows the node's pool state, spawner report age
# and reaper passes; a worker killed by a signal counts as crashed, one
# that hangs as a hang kill and a killed worker, and the page lists both.
# While creates run, its creates chart has bars (the page in real time).  With api_token and
# admin_token set, the page without them says so, and with them (given in
# its address fragment) renders /status and /workers again.  It saves a
# screenshot ($T/status-page.png; STEEL_SCREENSHOT=file copies it there,
# as docs/status-page.png was made).  Skipped without chromium.

# shellcheck disable=SC2317 # functions run through check
# shellcheck disable=SC2119 # stack_up takes no TTL here
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/stack.sh
. "$top_srcdir/tests/stack.sh"

CHROMIUM=
for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null; then
        CHROMIUM=$c
        break
    fi
done
if [ -z "$CHROMIUM" ]; then
    echo "status-page: chromium is not installed (Debian: apt-get install chromium): skipped"
    exit 77
fi
lib_init

HTTP_PORT=$(free_port)
cat >"$T/sp.conf" <<CONF
pool_idle_target = 2
pool_max_workers = 6
probe_timeout_ms = 300
probe_failures = 2
admin_token = sp-admin
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; stack_down >/dev/null 2>&1; (exit $rc); lib_cleanup' EXIT
STEEL_CONF=$T/sp.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)

# ---- how lighttpd serves it ------------------------------------------------
code=$(curl -s -m 10 -o "$T/page.html" -D "$T/page.h" -w '%{http_code}' "$U/status.html")
check_eq "GET /status.html -> 200" 200 "$code"
check "  as text/html" grep -qi '^Content-Type: text/html' "$T/page.h"
check "  with a Content-Security-Policy that loads nothing from elsewhere" \
    grep -qi "^Content-Security-Policy: default-src 'none'.*connect-src 'self'" "$T/page.h"
check "  the file of the tree, unchanged" cmp -s "$T/page.html" "$top_srcdir/etc/lighttpd/status.html"
check "  which names no other origin" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' '$T/page.html'"

# ---- a state to show: two live sessions, the pool settled ----------------
create() {
    curl -s -m 20 -X POST -H 'Content-Type: application/json' -d '{"user":"sp"}' "$U/sessions" |
        sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p'
}
s1=$(create)
s2=$(create)
check "two sessions created" test -n "$s1" -a -n "$s2"

# status - /status without the heartbeat ages (they change every second).
status() {
    curl -s -m 10 "$U/status" | sed 's/,"heartbeat_age_ms":[0-9]*//g'
}
# num JSON KEY - the first number after "KEY": in JSON.
num() {
    sed -n "s/.*\"$2\":\([0-9-]*\).*/\1/p" <<<"$1" | head -1
}
settled() {
    local s
    s=$(status)
    [ "$(num "$s" starting)" = 0 ] && [ "$(num "$s" creating)" = 0 ] &&
        [ "$(num "$s" releasing)" = 0 ] && [ "$(num "$s" idle)" -ge 2 ]
}
check_eventually "the pool settles (2 idle, none starting)" 20 settled

# dom URL OUT - the page's DOM after its scripts ran (virtual time: the
# refresh timer fires without waiting, the fetches are real).
dom() {
    timeout -k 5 60 "$CHROMIUM" --headless --disable-gpu --no-sandbox \
        --no-first-run --disable-extensions --user-data-dir="$T/chromium" \
        --virtual-time-budget="${3:-4000}" --dump-dom "$1" \
        >"$2" 2>>"$T/chromium.log"
}

compared=0
for attempt in 1 2 3; do
    before=$(status)
    workers=$(curl -s -m 10 -H 'Authorization: Bearer sp-admin' "$U/workers")
    dom "$U/status.html?refresh=1#admin=sp-admin" "$T/dom.html"
    after=$(status)
    if [ "$before" = "$after" ]; then
        compared=1
        break
    fi
    echo "# /status changed while the page loaded (attempt $attempt); again"
done
check "/status held still while the page loaded" test "$compared" = 1
check "the page rendered (chromium dumped its DOM)" grep -q 'id="sessions"' "$T/dom.html"

# attr SELECTOR-REGEX ATTR - the value of ATTR on the element whose tag
# matches the regex (first one) in the dumped DOM.
attr() {
    grep -o "<[^>]*$1[^>]*>" "$T/dom.html" | head -1 |
        sed -n "s/.* $2=\"\([^\"]*\)\".*/\1/p"
}
# cell NODE STATE - the figure in the row of NODE, column STATE.
cell() {
    tr '\n' ' ' <"$T/dom.html" | grep -o "<tr data-node=\"$1\">.*" |
        sed 's|</tr>.*||' | grep -o "<td data-state=\"$2\">[^<]*</td>" |
        sed 's/<[^>]*>//g'
}
total_cell() {
    grep -o "<td data-state-total=\"$1\">[^<]*</td>" "$T/dom.html" | sed 's/<[^>]*>//g'
}

# figure DESC WANT GOT - check_eq that also fails on an empty WANT (a
# figure /status did not give must not match a figure the page lacks).
figure() {
    if [ -z "$2" ]; then not_ok "$1 (no figure from /status or /workers)"; else check_eq "$@"; fi
}

check_eq "the page updated without error" 1 "$(attr 'id="updated"' data-ok)"
refreshed=$(attr 'id="updated"' data-refreshes)
check "it refreshed on its own (refreshes: ${refreshed:-none})" test "${refreshed:-0}" -ge 2
figure "sessions = /status" "$(num "$after" sessions)" "$(attr 'id="sessions"' data-value)"
figure "waiting creates = /status" "$(num "$after" waiting_creates)" "$(attr 'id="waiting"' data-value)"
figure "idle workers = /status" "$(num "$after" idle)" "$(attr 'id="idle"' data-value)"
figure "capacity = /status" "$(num "$after" capacity)" "$(attr 'id="capacity"' data-value)"
want_avail=$(sed -n 's/.*"available":\(true\|false\).*/\1/p' <<<"$after")
[ "$want_avail" = true ] && want_avail=yes || want_avail=no
figure "available = /status" "$want_avail" "$(attr 'id="available"' data-value)"
want_deg=$(sed -n 's/.*"degraded":\(true\|false\).*/\1/p' <<<"$after")
[ "$want_deg" = true ] && want_deg=yes || want_deg=no
figure "degraded = /status" "$want_deg" "$(attr 'id="degraded"' data-value)"
for s in starting idle creating busy releasing dead; do
    figure "workers $s (all nodes) = /status" "$(num "$after" "$s")" "$(total_cell "$s")"
done

node=$(sed -n 's/.*"nodes":{"\([^"]*\)".*/\1/p' <<<"$after")
check "/status names this stack's node" test -n "$node"
for s in idle busy; do
    want=$(grep -o "\"node\":\"$node\",[^}]*\"state\":\"$s\"" <<<"$workers" | wc -l)
    figure "node $node: $s workers = /workers" "$want" "$(cell "$node" "$s")"
done
check_eq "node $node: busy workers = the two sessions" 2 "$(cell "$node" busy)"
figure "node $node: pool state = /status" \
    "$(sed -n "s/.*\"$node\":{\"state\":\"\([a-z]*\)\".*/\1/p" <<<"$after")" \
    "$(grep -o '<td [^>]*data-pool="[a-z]*"' "$T/dom.html" | head -1 | sed 's/.*data-pool="//; s/"//')"

# ---- failures: a worker that crashes, one that hangs ----------------------
# metric NAME{LABELS} - its value in /metrics, or nothing.
metric() {
    curl -s -m 10 -H 'Authorization: Bearer sp-admin' "$U/metrics" | grep -F "$1 " | head -1 | sed 's/.* //'
}
metric_is() {
    [ "$(metric "$1")" = "$2" ]
}
check "/metrics: node $node's pool state ok" \
    metric_is "steel_pool_state{node=\"$node\",state=\"ok\"}" 1
age=$(metric "steel_spawner_heartbeat_age_seconds{node=\"$node\"}")
check "/metrics: node $node's spawner reported ${age:-never} s ago (< 5)" \
    awk -v a="${age:-x}" 'BEGIN { exit !(a ~ /^[0-9.]+$/ && a < 5) }'
passes=$(metric "steel_reaper_node_passes_total{node=\"$node\"}")
check "/metrics: node $node's reaper passes counted (${passes:-none})" \
    test "${passes:-0}" -ge 1

# idle_pids - pids of idle workers, from /workers.
idle_pids() {
    curl -s -m 10 -H 'Authorization: Bearer sp-admin' "$U/workers" | grep -o '"pid":[0-9]*,[^}]*"state":"idle"' |
        sed 's/"pid":\([0-9]*\).*/\1/'
}
read -r crash_pid hang_pid <<<"$(idle_pids | head -2 | tr '\n' ' ')"
check "two idle workers to break" test -n "$crash_pid" -a -n "$hang_pid"
track_pid "$crash_pid"
track_pid "$hang_pid"
kill -KILL "$crash_pid"
check_eventually "a killed idle worker counts as crashed in /metrics" 10 \
    metric_is 'steel_worker_exits_total{kind="crashed"}' 1
kill -STOP "$hang_pid"
check_eventually "a stopped worker is killed as hung" 20 \
    metric_is 'steel_repairs_total{kind="hung"}' 1
check_eventually "... and its exit counts as killed, not crashed" 10 \
    metric_is 'steel_worker_exits_total{kind="killed"}' 1
check_eq "crashes still 1" 1 "$(metric 'steel_worker_exits_total{kind="crashed"}')"
check_eventually "the pool settles again" 20 settled
dom "$U/status.html?refresh=1#admin=sp-admin" "$T/dom3.html"
failure_total() {
    grep -o "<li data-kind=\"$1\" data-total=\"[0-9]*\"" "$T/dom3.html" |
        sed 's/.*data-total="//; s/"//'
}
figure "the page lists 1 worker crash" 1 "$(failure_total "worker crashed")"
figure "the page lists 1 hang kill" 1 "$(failure_total "hang kill")"
figure "the page lists 1 worker killed" 1 "$(failure_total "worker killed")"

# ---- the charts, under traffic, and the screenshot -----------------------
# The charts show how much each counter rose between two refreshes, and
# steel-fcgi adds its counts to /metrics once a second: the page must run
# in real time here.  Under virtual time (dom) its refreshes come
# milliseconds apart, and whether a flush falls between two of them is
# luck.  rt_eval opens the page in Chromium without virtual time and
# evaluates a JavaScript expression in it through the DevTools protocol
# on --remote-debugging-pipe (fd 3 in, fd 4 out, messages ending in NUL).
RT_FIFOS=$T/cdp
RT_PID=
# cdp_call ID METHOD PARAMS [SESSION] - one request; prints its answer.
cdp_call() {
    local r
    # A Chromium that died makes this a write error, not a SIGPIPE.
    (
        trap '' PIPE
        printf '{"id":%s,"method":"%s","params":%s%s}\0' "$1" "$2" "$3" \
            "${4:+,\"sessionId\":\"$4\"}" >&5
    ) 2>/dev/null || return 1
    while IFS= read -r -t 30 -d '' r <&6; do
        case $r in *'"id":'"$1"','* | *'"id":'"$1"'}'*) echo "$r"; return 0 ;; esac
    done
    return 1
}
rt_open() {
    rm -rf "$RT_FIFOS"
    mkdir -p "$RT_FIFOS"
    mkfifo "$RT_FIFOS/in" "$RT_FIFOS/out"
    "$CHROMIUM" --headless --disable-gpu --no-sandbox --no-first-run \
        --disable-extensions --user-data-dir="$T/chromium-rt" \
        --remote-debugging-pipe "$1" \
        3<"$RT_FIFOS/in" 4>"$RT_FIFOS/out" >>"$T/chromium.log" 2>&1 &
    RT_PID=$!
    LIB_PIDS+=("$RT_PID")
    exec 5>"$RT_FIFOS/in" 6<"$RT_FIFOS/out"
    RT_SESSION=$(cdp_call 1 Target.getTargets '{}' |
        grep -o '"targetId":"[^"]*","type":"page"' | head -n 1 |
        sed 's/"targetId":"\([^"]*\)".*/\1/')
    [ -n "$RT_SESSION" ] &&
        RT_SESSION=$(cdp_call 2 Target.attachToTarget \
            "{\"targetId\":\"$RT_SESSION\",\"flatten\":true}" |
            sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p')
    [ -n "$RT_SESSION" ]
}
# rt_eval EXPR - the value of the JavaScript EXPR (no double quotes) in
# the page, a string without its quotes.
rt_eval() {
    cdp_call $((100 + RANDOM)) Runtime.evaluate \
        "{\"expression\":\"String($1)\",\"returnByValue\":true}" "$RT_SESSION" |
        sed -n 's/.*"result":{"type":"string","value":"\([^"]*\)".*/\1/p'
}
rt_close() {
    (
        trap '' PIPE
        printf '{"id":1,"method":"Browser.close","params":{}}\0' >&5
    ) 2>/dev/null
    exec 5>&- 6<&-
    wait_for 10 bash -c "! kill -0 $RT_PID" || kill -KILL "$RT_PID" 2>/dev/null
    wait "$RT_PID" 2>/dev/null
}

# Create + delete in a loop, until the charts are read (at most 120 s).
# shellcheck disable=SC2016 # the loop expands in its own shell
start_bg traffic bash -c '
    end=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$end" ]; do
        id=$(curl -s -m 20 -X POST -H "Content-Type: application/json" -d "{}" "$1/sessions" |
            sed -n "s/.*\"id\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p")
        [ -n "$id" ] && curl -s -m 10 -o /dev/null -X DELETE "$1/sessions/$id"
        sleep 0.1
    done' traffic "$U"
traffic_pid=$(cat "$T/traffic.pid")
# Six refreshes a second apart span five flushes of the counts.
refreshes_rt() {
    [ "$(rt_eval "document.getElementById('updated').getAttribute('data-refreshes')")" -ge 6 ] 2>/dev/null
}
bars=none
if rt_open "$U/status.html?refresh=1#admin=sp-admin"; then
    check_within "in real time the page refreshed 6 times" 60 refreshes_rt
    bars=$(rt_eval "document.querySelectorAll('#chart-creates rect').length")
else
    not_ok "Chromium opens the page in real time (DevTools protocol)"
fi
rt_close
check "under traffic the creates chart has bars (${bars:-none})" test "${bars:-0}" -ge 1 2>/dev/null
timeout -k 5 60 "$CHROMIUM" --headless --disable-gpu --no-sandbox \
    --no-first-run --disable-extensions --user-data-dir="$T/chromium" \
    --hide-scrollbars --window-size=1280,860 --virtual-time-budget=120000 \
    --screenshot="$T/status-page.png" "$U/status.html?refresh=1#admin=sp-admin" \
    >>"$T/chromium.log" 2>&1
kill "$traffic_pid" 2>/dev/null
check "a screenshot was saved" test -s "$T/status-page.png"
if [ -n "${STEEL_SCREENSHOT:-}" ] && [ -s "$T/status-page.png" ]; then
    cp "$T/status-page.png" "$STEEL_SCREENSHOT"
fi

for s in "$s1" "$s2"; do
    curl -s -m 10 -o /dev/null -X DELETE "$U/sessions/$s"
done

# ---- with api_token and admin_token set ------------------------------------
printf 'api_token = sp-api\n' >>"$T/sp.conf"
pid=$(stack_pid lighttpd) && kill -TERM "$pid" && stack_wait_exit "$pid" 10
STEEL_API_TOKEN=sp-api STEEL_CONF=$T/sp.conf stack_up >/dev/null 2>&1 ||
    { not_ok "the stack restarts with tokens"; lib_finish; }
dom "$U/status.html?refresh=1" "$T/dom4.html"
check_eq "without tokens the page says it is not up to date" 0 \
    "$(grep -o '<span id="updated"[^>]*>' "$T/dom4.html" | sed -n 's/.*data-ok="\([0-9]*\)".*/\1/p')"
check "  and asks for the API token" grep -q 'answered 401 (give the API token above)' "$T/dom4.html"
dom "$U/status.html?refresh=1#api=sp-api&admin=sp-admin" "$T/dom.html"
after=$(curl -s -m 10 -H 'Authorization: Bearer sp-api' "$U/status")
workers=$(curl -s -m 10 -H 'Authorization: Bearer sp-admin' "$U/workers")
check_eq "with the tokens in its fragment the page updates" 1 "$(attr 'id="updated"' data-ok)"
figure "  sessions = /status" "$(num "$after" sessions)" "$(attr 'id="sessions"' data-value)"
want=$(grep -o "\"node\":\"$node\",[^}]*\"state\":\"idle\"" <<<"$workers" | wc -l)
figure "  node $node: idle workers = /workers (the admin token reached it)" \
    "$want" "$(cell "$node" idle)"

stack_down >/dev/null
check_eq "nothing of the stack is left" 0 "${STACK_LEFTOVERS:-0}"
lib_finish
