# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# stack.sh - the whole local stack (Redis, steel-spawner, steel-reaper,
# lighttpd with steel-fcgi) in one run directory on loopback ports.  Sourced
# by ./dev and by the integration tests; it defines functions only.  Its
# configuration files are written by tests/stack-conf.sh, its Redis started
# by tests/stack-redis.sh (both sourced here).
#
#   stack_init RUN_DIR [HTTP_PORT [REDIS_PORT]]
#       Chooses the run directory and ports.  Values left out come from
#       RUN_DIR/stack.env (written by stack_up), else HTTP_PORT is 8080 and
#       REDIS_PORT a free port.
#   stack_up [SESSION_TTL]     writes the configuration, starts what is not
#                              running yet, returns 0 once POST /sessions
#                              works (STACK_READY_TIMEOUT seconds, 30); a
#                              TTL given once is kept for the run directory
#   stack_down                 stops everything this run directory started
#   stack_status               what runs, ports, worker counts
#   stack_logs [LINES]         the tail of every log
#
# Environment:
#   top_srcdir, top_builddir   source and build trees (default: this repo)
#   STEEL_CONF                 a steel-orchestrator.conf to start from
#                              instead of the generated one; redis,
#                              key_prefix, worker_log_dir and node_token_dir are always
#                              replaced by the run's own values
#   STEEL_BROWSER_BIN          the worker executable (default: the emulator
#                              tester/steel-browser-emu)
#   STEEL_SESSION_TTL          session_ttl when stack_up gets none
#   STEEL_API_TOKEN            bearer token the readiness probe sends (when
#                              the configuration sets api_token)
#   STEEL_WORKER_USER, STEEL_WORKER_UIDS
#                              worker_user and worker_uid_range, when the
#                              configuration sets no worker_user
#                              (./dev up as root: tests/stack-isolate.sh);
#                              worker_home_dir is then RUN_DIR/homes
#   STEEL_WORKER_PORTS         worker_port_range LOW-HIGH (default: 100
#                              ports below 32000 derived from HTTP_PORT)
#   STEEL_BACKEND_TIMEOUT      seconds lighttpd waits for steel-fcgi (30)
#   STEEL_LIGHTTPD_EXTRA       lines appended to the stack's lighttpd.conf
#                              (e.g. a second listener on another address)
#
# Redis asks for a password generated when it starts (requirepass in
# redis/redis.conf; STACK_REDIS_PASSWORD in stack.env and redis_password in
# the configuration, all owner-only); stack_init and stack_up export it as
# REDISCLI_AUTH, so redis-cli -p STACK_REDIS_PORT works as before.  The
# programs do not use it: each has its own ACL user from
# etc/redis/steel-orchestrator-users.conf (steel-fcgi, steel-spawner,
# steel-reaper, on the keys of the stack's prefix only), with a password
# generated with the other (STACK_REDIS_PW_<PROGRAM> in stack.env,
# redis_user_<program> and redis_password_<program> in the configuration).
#
# The operator routes (/workers, /metrics, the session list) need
# admin_token: stack_up generates one per run directory
# (STACK_ADMIN_TOKEN in stack.env; a STEEL_CONF that sets admin_token keeps
# its own, which STACK_ADMIN_TOKEN then names).  The session API stays
# open (STEEL_API_TOKEN closes it).
#
# Layout of RUN_DIR: steel-orchestrator.conf, lighttpd.conf and the
# lighttpd snippet; NAME.pid and NAME.log for redis, spawner, reaper and
# lighttpd; steel-fcgi.log (the handlers' stderr), lighttpd-error.log,
# workers/ (one log per worker port), redis/ (Redis's directory).
#
# Every process started here carries STEEL_STACK=RUN_DIR in its
# environment (workers, whose environment the spawner cleans, carry
# STEEL_PREFIX=<key_prefix> instead; worker_env = STEEL_EMU_* lets the
# emulator's knobs through); after stopping the recorded pids, stack_down kills whatever
# still carries either, and counts it in STACK_LEFTOVERS.  Processes of
# other run directories are never touched.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
# shellcheck source=tests/portclaim.sh
. "$top_srcdir/tests/portclaim.sh"
# shellcheck source=tests/stack-cgroup.sh
. "$top_srcdir/tests/stack-cgroup.sh"
# shellcheck source=tests/stack-isolate.sh
. "$top_srcdir/tests/stack-isolate.sh"
# shellcheck source=tests/stack-conf.sh
. "$top_srcdir/tests/stack-conf.sh"
# shellcheck source=tests/stack-redis.sh
. "$top_srcdir/tests/stack-redis.sh"

STACK_RUN=
STACK_HTTP_PORT=
STACK_REDIS_PORT=
STACK_PREFIX=
STACK_TTL=
STACK_REDIS_FIXED=0
STACK_REDIS_PASSWORD=
STACK_REDIS_PW_FCGI= STACK_REDIS_PW_SPAWNER= STACK_REDIS_PW_REAPER=
STACK_ADMIN_TOKEN=
STACK_LEFTOVERS=0
STACK_COMPONENTS="redis spawner reaper lighttpd"

stack_log() {
    echo "stack: $*" >&2
}

# ---- processes ---------------------------------------------------------

# True when pid is a live process (not a zombie).
stack_pid_live() {
    local state
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

stack_cmdline() {
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null
}

# What the command line of each component contains, so that a pid file
# pointing at a reused pid is never believed.
stack_cmd_matches() {
    local name=$1 cmd=$2
    case $name in
    redis) [[ $cmd == *redis-server*":$STACK_REDIS_PORT"* ]] ;;
    spawner) [[ $cmd == *steel-spawner*"$STACK_RUN/steel-orchestrator.conf"* ]] ;;
    reaper) [[ $cmd == *steel-reaper*"$STACK_RUN/steel-orchestrator.conf"* ]] ;;
    lighttpd) [[ $cmd == *lighttpd*"$STACK_RUN/lighttpd.conf"* ]] ;;
    *) return 1 ;;
    esac
}

# Prints the pid of component NAME when it runs, else fails.
stack_pid() {
    local name=$1 pid
    [ -f "$STACK_RUN/$name.pid" ] || return 1
    read -r pid <"$STACK_RUN/$name.pid" || return 1
    stack_pid_live "$pid" || return 1
    stack_cmd_matches "$name" "$(stack_cmdline "$pid")" || return 1
    echo "$pid"
}

# stack_spawn NAME CMD... - runs CMD in a session of its own (so a closing
# terminal does not stop it), output in NAME.log, pid in NAME.pid.
stack_spawn() {
    local name=$1 pid
    shift
    env -u STEEL_CONF STEEL_STACK="$STACK_RUN" setsid "$@" \
        </dev/null >>"$STACK_RUN/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$STACK_RUN/$name.pid"
    stack_log "$name started (pid $pid)"
}

# stack_wait_exit PID SECONDS - true once PID is gone.
stack_wait_exit() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        stack_pid_live "$pid" || return 0
        sleep 0.1
    done
    ! stack_pid_live "$pid"
}

# Prints the pids of processes whose environment holds STEEL_STACK=<run>
# or STEEL_PREFIX=<key_prefix> (exact entries), this shell excluded.
stack_marked_pids() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
        if grep -qzxF -e "STEEL_STACK=$STACK_RUN" -e "STEEL_PREFIX=$STACK_PREFIX" \
            "$f" 2>/dev/null && stack_pid_live "$pid"; then
            echo "$pid"
        fi
    done
}

# Prints the pids of live worker processes of this stack (STEEL_PREFIX).
stack_worker_pids() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        if grep -qzxF "STEEL_PREFIX=$STACK_PREFIX" "$f" 2>/dev/null &&
            stack_pid_live "$pid"; then
            echo "$pid"
        fi
    done
}

# ---- configuration -----------------------------------------------------

# stack_init RUN_DIR [HTTP_PORT [REDIS_PORT]]
stack_init() {
    local run=$1 http=${2:-} redis=${3:-}
    mkdir -p "$run" || return 1
    STACK_RUN=$(cd "$run" && pwd)
    STACK_HTTP_PORT='' STACK_REDIS_PORT='' STACK_PREFIX='' STACK_TTL=''
    STACK_REDIS_PASSWORD=''
    STACK_REDIS_PW_FCGI='' STACK_REDIS_PW_SPAWNER='' STACK_REDIS_PW_REAPER=''
    STACK_ADMIN_TOKEN=''
    if [ -f "$STACK_RUN/stack.env" ]; then
        # shellcheck disable=SC1091
        . "$STACK_RUN/stack.env"
    fi
    stack_export_auth
    if [ -n "$http" ]; then
        STACK_HTTP_PORT=$http
    fi
    STACK_REDIS_FIXED=0
    if [ -n "$redis" ]; then
        STACK_REDIS_PORT=$redis
        STACK_REDIS_FIXED=1
    fi
    : "${STACK_HTTP_PORT:=8080}"
    # One prefix per HTTP port: two stacks cannot share a port, so they
    # never share a prefix, and a stack restarted on the same port finds
    # (and stops) what an earlier one left behind.
    STACK_PREFIX=steel-p$STACK_HTTP_PORT
    STACK_LEFTOVERS=0
}

# Prints a free port from 32000-32767: above the worker port ranges
# (20000-31999, see stack_write_conf), below the kernel's ephemeral ports,
# and not one whose worker range is that of a stack on port 8080.
stack_free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((32000 + RANDOM % 768))
        [ $((p % 120)) = $((8080 % 120)) ] && continue
        if port_claim "$p" && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    stack_log "no free port found"
    return 1
}

stack_port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stack_url() {
    echo "http://127.0.0.1:$STACK_HTTP_PORT"
}

# ---- up ------------------------------------------------------------------

stack_check_programs() {
    local p missing=0
    for p in "$top_builddir/fcgi/steel-fcgi" "$top_builddir/spawner/steel-spawner" \
        "$top_builddir/reaper/steel-reaper"; do
        if [ ! -x "$p" ]; then
            stack_log "$p is missing (run make)"
            missing=1
        fi
    done
    for p in redis-server redis-cli lighttpd curl setsid; do
        if ! command -v "$p" >/dev/null; then
            stack_log "$p is not installed"
            missing=1
        fi
    done
    return $missing
}

# Prints the last lines of component NAME's log, for a failure message.
stack_show_log() {
    local f=$STACK_RUN/$1.log
    [ -f "$f" ] || return 0
    echo "--- $f (last ${2:-20} lines)" >&2
    tail -n "${2:-20}" "$f" >&2
}

stack_start_daemon() {
    local name=$1 pid
    if ! "$top_builddir/$name/steel-$name" -n -f "$STACK_RUN/steel-orchestrator.conf" \
        >>"$STACK_RUN/$name.log" 2>&1; then
        stack_log "steel-$name rejects $STACK_RUN/steel-orchestrator.conf"
        stack_show_log "$name" 5
        return 1
    fi
    stack_spawn "$name" "$top_builddir/$name/steel-$name" -f "$STACK_RUN/steel-orchestrator.conf"
}

stack_start_lighttpd() {
    if ! lighttpd -tt -f "$STACK_RUN/lighttpd.conf" >>"$STACK_RUN/lighttpd.log" 2>&1; then
        stack_log "lighttpd rejects $STACK_RUN/lighttpd.conf"
        stack_show_log lighttpd 10
        return 1
    fi
    stack_spawn lighttpd lighttpd -D -f "$STACK_RUN/lighttpd.conf"
}

# stack_create_probe SECONDS - one POST /sessions; on success deletes the
# session again and returns 0.
stack_create_probe() {
    local url body code id limit=$1
    url=$(stack_url)
    body=$STACK_RUN/ready.out
    local auth=()
    [ -n "${STEEL_API_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $STEEL_API_TOKEN")
    code=$(curl -s -m "$limit" -o "$body" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -d '{"stack":"ready"}' \
        "${auth[@]}" "$url/sessions" 2>/dev/null) || return 1
    case $code in
    200 | 201) ;;
    *) return 1 ;;
    esac
    id=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$body")
    [ -n "$id" ] || return 1
    curl -s -m 12 -o /dev/null -X DELETE "${auth[@]}" "$url/sessions/$id" 2>/dev/null
    return 0
}

# stack_wait_ready SECONDS - until POST /sessions works, or a component
# died, or the deadline passed.
stack_wait_ready() {
    local deadline=$((SECONDS + $1)) name left
    while [ "$SECONDS" -lt "$deadline" ]; do
        left=$((deadline - SECONDS))
        [ "$left" -gt 12 ] && left=12
        stack_create_probe "$left" && return 0
        for name in $STACK_COMPONENTS; do
            if ! stack_pid "$name" >/dev/null; then
                stack_log "$name exited during start-up"
                stack_show_log "$name"
                [ "$name" = lighttpd ] && stack_show_log lighttpd-error
                return 1
            fi
        done
        sleep 0.3
    done
    stack_log "POST $(stack_url)/sessions did not succeed within $1 s; last answer:"
    cat "$STACK_RUN/ready.out" >&2 2>/dev/null
    echo >&2
    stack_show_log lighttpd-error
    stack_show_log steel-fcgi
    stack_show_log spawner
    return 1
}

# stack_up [SESSION_TTL]
stack_up() {
    local name pid old_sum
    # An explicit TTL is remembered for later stack_up calls of this run.
    STACK_TTL=${1:-${STEEL_SESSION_TTL:-$STACK_TTL}}
    [ -n "$STACK_RUN" ] || { stack_log "stack_init first"; return 1; }
    stack_check_programs || return 1
    mkdir -p "$STACK_RUN/www" "$STACK_RUN/tmp" "$STACK_RUN/redis" \
        "$STACK_RUN/workers" || return 1

    if ! stack_pid redis >/dev/null; then
        # A port only recorded by an earlier run may be taken by now.
        if [ -n "$STACK_REDIS_PORT" ] && [ "$STACK_REDIS_FIXED" = 0 ] &&
            stack_port_busy "$STACK_REDIS_PORT"; then
            STACK_REDIS_PORT=
        fi
        [ -n "$STACK_REDIS_PORT" ] || STACK_REDIS_PORT=$(stack_free_port) || return 1
        if stack_port_busy "$STACK_REDIS_PORT"; then
            stack_log "port $STACK_REDIS_PORT (Redis) is in use"
            return 1
        fi
    fi
    if ! stack_pid lighttpd >/dev/null && stack_port_busy "$STACK_HTTP_PORT"; then
        stack_log "port $STACK_HTTP_PORT is in use by another program"
        return 1
    fi
    # A run directory keeps its password (programs still running know it);
    # a Redis started by an older stack.sh, without one, keeps running
    # without.
    if [ -z "$STACK_REDIS_PASSWORD" ] && ! stack_pid redis >/dev/null; then
        STACK_REDIS_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n') ||
            return 1
    fi
    if [ -z "$STACK_ADMIN_TOKEN" ]; then
        STACK_ADMIN_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n') || return 1
    fi
    if [ -z "$STACK_REDIS_PW_FCGI" ] && ! stack_pid redis >/dev/null; then
        STACK_REDIS_PW_FCGI=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n') &&
            STACK_REDIS_PW_SPAWNER=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n') &&
            STACK_REDIS_PW_REAPER=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n') ||
            return 1
    fi
    stack_export_auth
    (
        umask 077
        rm -f "$STACK_RUN/stack.env"
        {
            echo "STACK_HTTP_PORT=$STACK_HTTP_PORT"
            echo "STACK_REDIS_PORT=$STACK_REDIS_PORT"
            echo "STACK_TTL=$STACK_TTL"
            echo "STACK_REDIS_PASSWORD=$STACK_REDIS_PASSWORD"
            echo "STACK_REDIS_PW_FCGI=$STACK_REDIS_PW_FCGI"
            echo "STACK_REDIS_PW_SPAWNER=$STACK_REDIS_PW_SPAWNER"
            echo "STACK_REDIS_PW_REAPER=$STACK_REDIS_PW_REAPER"
            echo "STACK_ADMIN_TOKEN=$STACK_ADMIN_TOKEN"
        } >"$STACK_RUN/stack.env"
    ) || return 1
    old_sum=$(stack_conf_sum)
    stack_write_conf "$STACK_TTL" && stack_write_lighttpd || return 1
    if [ "$old_sum" != "$(stack_conf_sum)" ]; then
        for name in $STACK_COMPONENTS; do
            stack_pid "$name" >/dev/null || continue
            stack_log "the configuration changed; parts already running keep the old one until stack_down"
            break
        done
    fi

    for name in $STACK_COMPONENTS; do
        if pid=$(stack_pid "$name"); then
            stack_log "$name already runs (pid $pid)"
            continue
        fi
        case $name in
        redis) stack_start_redis ;;
        spawner | reaper) stack_start_daemon "$name" ;;
        lighttpd) stack_start_lighttpd ;;
        esac || return 1
    done
    stack_wait_ready "${STACK_READY_TIMEOUT:-30}" || return 1
    stack_log "ready: $(stack_url) (redis 127.0.0.1:$STACK_REDIS_PORT, key prefix $STACK_PREFIX)"
}

# ---- down ------------------------------------------------------------------

# stack_stop NAME SECONDS - SIGTERM, wait, SIGKILL.
stack_stop() {
    local name=$1 limit=$2 pid
    if pid=$(stack_pid "$name"); then
        kill -TERM "$pid" 2>/dev/null
        if ! stack_wait_exit "$pid" "$limit"; then
            stack_log "$name (pid $pid) did not stop within $limit s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            stack_wait_exit "$pid" 5
        fi
        wait "$pid" 2>/dev/null
        stack_log "$name stopped (pid $pid)"
    fi
    rm -f "$STACK_RUN/$name.pid"
}

stack_down() {
    local pid pids
    [ -n "$STACK_RUN" ] || { stack_log "stack_init first"; return 1; }
    STACK_LEFTOVERS=0
    # The front door first, Redis last: the spawner records its workers'
    # ends there while it stops them.
    stack_stop lighttpd 10
    stack_stop reaper 10
    stack_stop spawner 15
    stack_stop redis 10
    pids=$(stack_marked_pids)
    if [ -n "$pids" ]; then
        for pid in $pids; do
            stack_log "leftover process $pid ($(stack_cmdline "$pid")): SIGKILL"
            kill -CONT "$pid" 2>/dev/null
            kill -KILL "$pid" 2>/dev/null
            STACK_LEFTOVERS=$((STACK_LEFTOVERS + 1))
        done
        for pid in $pids; do
            stack_wait_exit "$pid" 5 || stack_log "process $pid survived SIGKILL"
        done
    fi
    rm -f "${TMPDIR:-/tmp}/steel-fcgi-$STACK_PREFIX-$(id -u).socket"-* 2>/dev/null
    stack_cgroup_remove
    return 0
}

# ---- status and logs ---------------------------------------------------------

stack_status() {
    local name pid running=0 counts
    [ -n "$STACK_RUN" ] || { stack_log "stack_init first"; return 1; }
    echo "run directory: $STACK_RUN"
    for name in $STACK_COMPONENTS; do
        if pid=$(stack_pid "$name"); then
            printf '  %-9s running, pid %s\n' "$name" "$pid"
            running=$((running + 1))
        elif [ -f "$STACK_RUN/$name.pid" ]; then
            printf '  %-9s not running (stale %s.pid)\n' "$name" "$name"
        else
            printf '  %-9s not running\n' "$name"
        fi
    done
    if pid=$(stack_pid lighttpd); then
        printf '  %-9s %s\n' steel-fcgi "pids $(pgrep -d, -P "$pid" 2>/dev/null || echo none)"
    fi
    echo "http:  $(stack_url)"
    echo "redis: 127.0.0.1:${STACK_REDIS_PORT:-?} (key prefix $STACK_PREFIX)"
    if [ -n "$STACK_REDIS_PORT" ] && stack_pid redis >/dev/null; then
        counts=$(stack_worker_counts)
        echo "workers: ${counts:-none} (idle list: $(stack_rcli LLEN "$STACK_PREFIX:idle"))"
        echo "sessions: $(stack_rcli ZCARD "$STACK_PREFIX:sessions")"
    fi
    echo "worker processes: $(stack_worker_pids | wc -w)"
    [ "$running" -gt 0 ]
}

stack_logs() {
    local lines=${1:-20} f n
    [ -n "$STACK_RUN" ] || { stack_log "stack_init first"; return 1; }
    for f in redis spawner reaper lighttpd lighttpd-error steel-fcgi; do
        [ -f "$STACK_RUN/$f.log" ] || continue
        echo "==> $STACK_RUN/$f.log <=="
        tail -n "$lines" "$STACK_RUN/$f.log"
        echo
    done
    n=$(find "$STACK_RUN/workers" -name '*.log' 2>/dev/null | wc -l)
    echo "==> $STACK_RUN/workers/ ($n worker logs; the 3 newest) <=="
    find "$STACK_RUN/workers" -name '*.log' -printf '%T@ %p\n' 2>/dev/null |
        sort -rn | head -n 3 | while read -r _ f; do
        echo "--- $f"
        tail -n 5 "$f"
    done
}
