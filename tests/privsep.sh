#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# privsep.sh - workers run as worker_user, with real users of this machine:
# a worker has that user and group, no supplementary groups, no
# capabilities, the clean environment and the limits; as that user nothing
# reads the configuration, reaches Redis (socket or TCP) or signals the
# spawner; the stack still serves create, GET and DELETE and the reaper
# still kills a hung worker.  The spawner and the reaper refuse a
# worker_user they cannot manage.  Creates two users and removes them.
# Skipped (exit 77) when not run as root or without useradd and setpriv.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: creating test users needs root"
    exit 77
fi
for p in useradd userdel setpriv; do
    command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
done
lib_init

# Worker and daemon users of this test only (names of at most 32 bytes).
WU=stw$$
DU=std$$
users_del() {
    userdel "$WU" >/dev/null 2>&1
    userdel "$DU" >/dev/null 2>&1
    getent group "$WU" >/dev/null && groupdel "$WU" >/dev/null 2>&1
    getent group "$DU" >/dev/null && groupdel "$DU" >/dev/null 2>&1
}
mkuser() {
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$1"
}
# Users go last: userdel refuses while a process of theirs runs.
trap 'stack_down >/dev/null 2>&1; lib_cleanup; users_del' EXIT
mkuser "$WU" && mkuser "$DU" || { not_ok "test users created"; lib_finish; }
WUID=$(id -u "$WU")
WGID=$(id -g "$WU")
# as_worker CMD... - CMD with the worker's credentials and nothing else: a
# compromised worker.
as_worker() {
    env -i PATH=/usr/bin:/bin setpriv --reuid="$WU" --regid="$WU" \
        --clear-groups --inh-caps=-all "$@"
}

HTTP_PORT=$(free_port)
cat >"$T/privsep.conf" <<CONF
session_ttl = 30
pool_idle_target = 2
pool_max_workers = 4
reap_interval = 1
probe_timeout_ms = 500
probe_failures = 2
fcgi_threads = 4
fcgi_create_threads = 4
worker_user = $WU
worker_nproc = 300
worker_core_mb = 0
worker_env = STEEL_EMU_* TZ=UTC
CONF
export STEEL_BROWSER_BIN="$top_builddir/tester/steel-browser-emu"
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
# Through worker_env: STEEL_EMU_*; not through: the rest.
export STEEL_EMU_SEED=5 PRIVSEP_SECRET=do-not-leak
# The worker may traverse to the run directory (not read it): what keeps it
# out of the files is their modes, as on an installed host.
chmod 711 "$T"
stack_init "$T/run" "$HTTP_PORT"
chmod 711 "$T/run"
STEEL_CONF=$T/privsep.conf stack_up || { not_ok "stack starts"; lib_finish; }
CONF_FILE=$T/run/steel-orchestrator.conf
U=$(stack_url)
SP_PID=$(stack_pid spawner)
check "the spawner logs whom workers run as" \
    grep -q "workers run as $WU (uid $WUID, gid $WGID)" "$T/run/spawner.log"

# ---- a worker's identity, environment and limits ---------------------------

# Conditions polled by wait_for must be evaluated on every try.
workers_at_least() { test "$(stack_worker_pids | wc -l)" -ge "$1"; }
wait_for 10 workers_at_least 1
pid=$(stack_worker_pids | head -n 1)
status=$(cat "/proc/$pid/status")
check_eq "the worker's uids are worker_user's" "$WUID $WUID $WUID $WUID" \
    "$(awk '/^Uid:/ {print $2, $3, $4, $5}' <<<"$status")"
check_eq "the worker's gids are its group's" "$WGID $WGID $WGID $WGID" \
    "$(awk '/^Gid:/ {print $2, $3, $4, $5}' <<<"$status")"
check_eq "no supplementary groups" "" \
    "$(awk '/^Groups:/ {$1 = ""; print}' <<<"$status" | tr -d ' ')"
check_eq "no capabilities (permitted, effective, ambient)" \
    "0000000000000000 0000000000000000 0000000000000000" \
    "$(awk '/^CapPrm:|^CapEff:|^CapAmb:/ {printf "%s ", $2}' <<<"$status" | sed 's/ $//')"
names=$(tr '\0' '\n' <"/proc/$pid/environ" | sed 's/=.*//' | sort | tr '\n' ' ')
check_eq "the environment is the clean one plus worker_env" \
    "HOME LANG PATH PORT STEEL_EMU_SEED STEEL_NODE STEEL_PREFIX STEEL_WORKER_ID TZ " \
    "$names"
env=$(tr '\0' '\n' <"/proc/$pid/environ")
check "HOME is the worker user's" grep -qxF "HOME=/nonexistent" <<<"$env"
check "worker_env's pair and copy arrive" \
    bash -c 'grep -qx "TZ=UTC" <<<"$1" && grep -qx "STEEL_EMU_SEED=5" <<<"$1"' _ "$env"
check "neither the Redis password nor other variables leak" \
    bash -c '! grep -qe "do-not-leak" -e "$2" <<<"$1"' _ "$env" "$STACK_REDIS_PASSWORD"
check "RLIMIT_NPROC is worker_nproc" \
    grep -Eq "^Max processes +300 +300 " "/proc/$pid/limits"
check "RLIMIT_CORE is 0" grep -Eq "^Max core file size +0 +0 " "/proc/$pid/limits"

# ---- what the worker's user cannot do --------------------------------------

# denied WHY CMD... - CMD as the worker user fails, saying WHY.
denied() {
    local why=$1 out
    shift
    out=$(as_worker "$@" 2>&1) && return 1
    grep -q -- "$why" <<<"$out"
}
check "the worker user cannot read the configuration" \
    denied "Permission denied" cat "$CONF_FILE"
check "the worker user cannot use Redis's unix socket" \
    denied "Permission denied" redis-cli -s "$(stack_redis_socket)" ping
check "the worker user gets NOAUTH on Redis's TCP port" \
    bash -c 'out=$(env -i setpriv --reuid="$1" --regid="$1" --clear-groups \
        /usr/bin/redis-cli -h 127.0.0.1 -p "$2" ping 2>&1); grep -q NOAUTH <<<"$out"' \
    _ "$WU" "$STACK_REDIS_PORT"
check "the worker user cannot signal the spawner" \
    denied "Operation not permitted" kill -0 "$SP_PID"
check "the spawner still runs" stack_pid_live "$SP_PID"

# ---- the stack serves, the reaper kills a hung worker ------------------------

code=$(curl -s -m 15 -o "$T/c.out" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d '{"p":1}' "$U/sessions")
check "create answers 201 or 200" bash -c '[ "$1" = 201 ] || [ "$1" = 200 ]' _ "$code"
id=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$T/c.out")
check_eq "GET answers 200" 200 \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$U/sessions/$id")"
check_eq "DELETE answers 204" 204 \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE "$U/sessions/$id")"

wait_for 10 workers_at_least 2
victim=$(stack_worker_pids | head -n 1)
kill -STOP "$victim"
gone() {
    ! stack_pid_live "$1"
}
check_eventually "the reaper kills a hung worker of another user" 15 gone "$victim"
check "the reaper logged the kill" grep -q "pid $victim.*killed (hung)" "$T/run/reaper.log"
stack_down >/dev/null 2>&1

# ---- refusals ------------------------------------------------------------------

refuses() { # refuses NAME LOGFILE PATTERN CMD...
    local name=$1 pat=$2
    shift 2
    if timeout 10 "$@" >"$T/$name.out" 2>&1; then
        return 1
    fi
    grep -q -- "$pat" "$T/$name.out"
}
cp "$CONF_FILE" "$T/refuse.conf"
chmod 644 "$T/refuse.conf"
for bin in spawner reaper; do
    check "steel-$bin as $DU without capabilities refuses worker_user" \
        refuses "$bin-nocaps" "lacks CAP_KILL CAP_SYS_PTRACE" \
        setpriv --reuid="$DU" --regid="$DU" --clear-groups --inh-caps=-all \
        "$top_builddir/$bin/steel-$bin" -f "$T/refuse.conf"
done
stack_conf_set "$T/refuse.conf" worker_user "$DU"
check "steel-spawner refuses its own user as worker_user" \
    refuses same "must be neither root nor the user" \
    setpriv --reuid="$DU" --regid="$DU" --clear-groups \
    "$top_builddir/spawner/steel-spawner" -f "$T/refuse.conf"
stack_conf_set "$T/refuse.conf" worker_user root
check "steel-spawner refuses root as worker_user" \
    refuses root "must be neither root" \
    "$top_builddir/spawner/steel-spawner" -f "$T/refuse.conf"
stack_conf_set "$T/refuse.conf" worker_user "nosuch$$"
check "steel-spawner refuses an unknown worker_user" \
    refuses nosuch "no such user" \
    "$top_builddir/spawner/steel-spawner" -f "$T/refuse.conf"
# With the capabilities (as the unit grants them) it passes the check.
stack_conf_set "$T/refuse.conf" worker_user "$WU"
start_bg capspawner setpriv --reuid="$DU" --regid="$DU" --clear-groups \
    --inh-caps=+kill,+sys_ptrace,+setuid,+setgid \
    --ambient-caps=+kill,+sys_ptrace,+setuid,+setgid \
    "$top_builddir/spawner/steel-spawner" -f "$T/refuse.conf"
check_eventually "steel-spawner as $DU with the unit's capabilities starts" 5 \
    grep -q "workers run as $WU" "$T/capspawner.log"
lib_finish
