#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# redis-acl.sh - each program talks to Redis as its own ACL user
# (etc/redis/steel-orchestrator-users.conf, loaded by the local stack): the
# three users are the ones connected; none of them, steel-fcgi above all,
# may run CONFIG SET, FLUSHALL, SHUTDOWN, DEBUG, KEYS, MODULE (nor EVAL,
# SCAN, ACL, FLUSHDB) or touch a key outside the stack's prefix; and the
# whole life of a session (create, GET, DELETE, expiry and the reaper's
# recycling, /status, /workers, /metrics, the session list) runs under
# them without a single NOPERM in Redis's ACL LOG.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
lib_init

HTTP_PORT=$(free_port)
cat >"$T/acl.conf" <<CONF
session_ttl = 2
pool_idle_target = 2
pool_max_workers = 4
pool_idle_grace = 1
create_wait = 5
reap_interval = 1
fcgi_threads = 4
fcgi_create_threads = 4
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
trap 'stack_down >/dev/null 2>&1; lib_cleanup' EXIT
STEEL_CONF=$T/acl.conf stack_up || { not_ok "stack starts"; lib_finish; }
U=$(stack_url)
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT
ADMIN=()
[ -n "${STACK_ADMIN_TOKEN:-}" ] && ADMIN=(-H "Authorization: Bearer $STACK_ADMIN_TOKEN")

# as USER PASSWORD CMD... - redis-cli as that ACL user.
as() {
    local user=$1 pw=$2
    shift 2
    REDISCLI_AUTH= redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" \
        --user "$user" --pass "$pw" "$@" 2>&1
}
# noperm USER PASSWORD CMD... - Redis's ACL refuses CMD to USER: ACL
# DRYRUN (which runs nothing: a SHUTDOWN allowed by mistake would not stop
# the test's Redis), then, for the harmless ones, the command itself.
noperm() {
    local user=$1 pw=$2 out
    shift 2
    out=$(rcli_raw ACL DRYRUN "$user" "$@")
    grep -q 'no permissions' <<<"$out" || { echo "# ACL DRYRUN $user $*: $out"; return 1; }
    case $1 in SHUTDOWN | DEBUG | FLUSHALL | FLUSHDB) return 0 ;; esac
    out=$(as "$user" "$pw" "$@")
    grep -q '^NOPERM' <<<"$out" || { echo "# $user: $*: $out"; return 1; }
}

CONF=$T/run/steel-orchestrator.conf
check "the stack's configuration names the three users" \
    grep -qx 'redis_user_fcgi = steel-fcgi' "$CONF"
clients=$(rcli_raw CLIENT LIST | sed -n 's/.* user=\([^ ]*\) .*/\1/p' | sort -u | paste -sd' ')
for u in steel-fcgi steel-spawner steel-reaper; do
    check "$u is connected as its own user ($clients)" grep -qw -- "$u" <<<"$clients"
done

declare -A PW=([steel-fcgi]=$STACK_REDIS_PW_FCGI [steel-spawner]=$STACK_REDIS_PW_SPAWNER
    [steel-reaper]=$STACK_REDIS_PW_REAPER)
for u in steel-fcgi steel-spawner steel-reaper; do
    pw=${PW[$u]}
    check_eq "$u: reads a key of the prefix as its user" 1 "$(as "$u" "$pw" EXISTS "$P:workers")"
    check "$u: CONFIG SET is refused" noperm "$u" "$pw" CONFIG SET maxmemory 1
    check "$u: CONFIG GET is refused" noperm "$u" "$pw" CONFIG GET requirepass
    check "$u: FLUSHALL is refused" noperm "$u" "$pw" FLUSHALL
    check "$u: FLUSHDB is refused" noperm "$u" "$pw" FLUSHDB
    check "$u: SHUTDOWN is refused" noperm "$u" "$pw" SHUTDOWN NOSAVE
    check "$u: DEBUG is refused" noperm "$u" "$pw" DEBUG SLEEP 0
    check "$u: KEYS is refused" noperm "$u" "$pw" KEYS '*'
    check "$u: MODULE is refused" noperm "$u" "$pw" MODULE LIST
    check "$u: SCAN is refused" noperm "$u" "$pw" SCAN 0
    check "$u: EVAL is refused" noperm "$u" "$pw" EVAL 'return 1' 0
    check "$u: ACL is refused" noperm "$u" "$pw" ACL SETUSER "$u" '+@all'
    check "$u: a key outside its prefix is refused" noperm "$u" "$pw" HGET "other:worker:1" state
done
check_eq "Redis still runs after those refusals" PONG "$(rcli PING)"

# ---- the API under the three users --------------------------------------------
rcli ACL LOG RESET >/dev/null
sid_of() { sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$1"; }
code() { curl -s -m 10 -o "$T/out" -w '%{http_code}' "$@"; }
create() { code -X POST -H 'Content-Type: application/json' -d '{"acl":1}' "$U/sessions"; }
check_eq "POST /sessions" 201 "$(create)"
A=$(sid_of "$T/out")
check_eq "GET /sessions/A" 200 "$(code "$U/sessions/$A")"
check_eq "DELETE /sessions/A" 204 "$(code -X DELETE "$U/sessions/$A")"
check_eq "POST /sessions again" 201 "$(create)"
B=$(sid_of "$T/out")
# No GET before the deadline: a GET is activity.
sleep 4
check_eq "session B expired (session_ttl 2)" 404 "$(code "$U/sessions/$B")"

check_eq "GET /status" 200 "$(code "$U/status")"
check_eq "GET /workers" 200 "$(code "${ADMIN[@]}" "$U/workers")"
check_eq "GET /metrics" 200 "$(code "${ADMIN[@]}" "$U/metrics")"
check_eq "GET /sessions (the list)" 200 "$(code "${ADMIN[@]}" "$U/sessions")"
check_eq "GET /health" 200 "$(code "$U/health")"
# A few reaper passes and spawner reports under their users.
sleep 3
log=$(rcli_raw ACL LOG 100)
check_eq "no NOPERM in Redis's ACL LOG" "" "$log"
[ -z "$log" ] || rcli_raw ACL LOG 20 | head -n 60
for name in spawner reaper; do
    check "steel-$name logged no NOPERM" bash -c "! grep -q NOPERM '$T/run/$name.log'"
done
check "steel-fcgi logged no NOPERM" bash -c "! grep -qs NOPERM '$T/run/steel-fcgi.log'"

lib_finish
