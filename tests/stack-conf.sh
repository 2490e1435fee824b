# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# stack-conf.sh - the configuration files of a local stack's run directory
# (tests/stack.sh sources it): steel-orchestrator.conf, generated or taken
# from STEEL_CONF with the run's own Redis, key prefix, ports, users and
# tokens written over it; the repository's lighttpd snippet with its
# var.steel_* lines rewritten, and a lighttpd.conf around it; the checksum
# stack_up compares to tell that they changed.  Functions only.

# conf_set FILE KEY VALUE - replaces every "KEY = ..." line by one.
stack_conf_set() {
    local file=$1 key=$2 value=$3
    sed -i -e "/^[[:space:]]*${key}[[:space:]]*=/d" "$file" &&
        printf '%s = %s\n' "$key" "$value" >>"$file"
}

stack_worker_bin() {
    local bin=${STEEL_BROWSER_BIN:-$top_builddir/tester/steel-browser-emu}
    case $bin in
    /*) ;;
    */*) bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin") ;;
    *) bin=$(command -v "$bin") || { stack_log "$STEEL_BROWSER_BIN: not found"; return 1; } ;;
    esac
    if [ ! -x "$bin" ]; then
        stack_log "worker binary $bin is not executable (run make, or set STEEL_BROWSER_BIN)"
        return 1
    fi
    echo "$bin"
}

# stack_write_conf TTL - RUN/steel-orchestrator.conf.  Workers get
# STEEL_WORKER_PORTS, or a block of 100 ports that nothing listens on,
# claimed for this shell (worker_ports, tests/portclaim.sh).
stack_write_conf() {
    local ttl=$1 conf=$STACK_RUN/steel-orchestrator.conf bin ports
    bin=$(stack_worker_bin) || return 1
    ports=${STEEL_WORKER_PORTS:-}
    [ -n "$ports" ] || ports=$(worker_ports 100) || return 1
    if [ -n "${STEEL_CONF:-}" ]; then
        if [ ! -r "$STEEL_CONF" ]; then
            stack_log "STEEL_CONF=$STEEL_CONF: cannot read it"
            return 1
        fi
        {
            echo "# $STEEL_CONF, with the settings of the local stack in"
            echo "# $STACK_RUN at the end (written by tests/stack.sh)"
            cat "$STEEL_CONF"
        } >"$conf.tmp" || return 1
        [ -n "${STEEL_BROWSER_BIN:-}" ] && stack_conf_set "$conf.tmp" worker_bin "$bin"
        [ -n "$ttl" ] && stack_conf_set "$conf.tmp" session_ttl "$ttl"
        [ -n "${STEEL_WORKER_PORTS:-}" ] && stack_conf_set "$conf.tmp" worker_port_range "$ports"
    else
        cat >"$conf.tmp" <<EOF
# steel-orchestrator.conf of the local stack in $STACK_RUN
# (written by tests/stack.sh; set STEEL_CONF to start from another file)
session_ttl = ${ttl:-60}
pool_idle_target = 8
pool_max_workers = 64
create_wait = 10
worker_bin = $bin
worker_port_range = $ports
reap_interval = 1
fcgi_threads = 8
fcgi_create_threads = 32
log_level = info
EOF
    fi
    # The emulator's knobs (STEEL_EMU_*) reach the workers only through
    # worker_env: the spawner gives them a clean environment.
    grep -q '^[[:space:]]*worker_env[[:space:]]*=' "$conf.tmp" ||
        stack_conf_set "$conf.tmp" worker_env 'STEEL_EMU_*'
    # Workers isolated as in production (tests/stack-isolate.sh).
    isolate_conf "$conf.tmp" "$STACK_RUN" || return 1
    if [ -n "$STACK_REDIS_PASSWORD" ]; then
        stack_conf_set "$conf.tmp" redis_password "$STACK_REDIS_PASSWORD" || return 1
    fi
    # Each program its own ACL user (a Redis of an older stack.sh has none;
    # a STEEL_CONF that names a redis_user keeps it).
    if [ -n "$STACK_REDIS_PW_FCGI" ] &&
        ! grep -q '^[[:space:]]*redis_user[[:space:]]*=' "$conf.tmp"; then
        stack_conf_set "$conf.tmp" redis_user_fcgi steel-fcgi &&
            stack_conf_set "$conf.tmp" redis_password_fcgi "$STACK_REDIS_PW_FCGI" &&
            stack_conf_set "$conf.tmp" redis_user_spawner steel-spawner &&
            stack_conf_set "$conf.tmp" redis_password_spawner "$STACK_REDIS_PW_SPAWNER" &&
            stack_conf_set "$conf.tmp" redis_user_reaper steel-reaper &&
            stack_conf_set "$conf.tmp" redis_password_reaper "$STACK_REDIS_PW_REAPER" ||
            return 1
    fi
    # The operator routes' token: the configuration's own (even empty:
    # the routes are then closed), else the stack's.
    if grep -q '^[[:space:]]*admin_token[[:space:]]*=' "$conf.tmp"; then
        STACK_ADMIN_TOKEN=$(sed -n 's/^[[:space:]]*admin_token[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$conf.tmp" | tail -n 1)
    elif [ -n "$STACK_ADMIN_TOKEN" ]; then
        stack_conf_set "$conf.tmp" admin_token "$STACK_ADMIN_TOKEN" || return 1
    fi
    # It holds the Redis password: the owner's only.
    chmod 600 "$conf.tmp" || return 1
    stack_conf_set "$conf.tmp" redis "unix:$(stack_redis_socket)" &&
        stack_conf_set "$conf.tmp" key_prefix "$STACK_PREFIX" &&
        stack_conf_set "$conf.tmp" worker_log_dir "$STACK_RUN/workers" &&
        stack_conf_set "$conf.tmp" node_token_dir "$STACK_RUN" &&
        stack_conf_set_cgroup "$conf.tmp" &&
        mv "$conf.tmp" "$conf"
}

# The repository's lighttpd snippet with only its var.steel_* lines
# changed (paths, and every URL to steel-fcgi: this lighttpd serves nothing
# else), and a main lighttpd.conf around it.
stack_write_lighttpd() {
    local snippet=$top_srcdir/etc/lighttpd/50-steel-orchestrator.conf.in
    local fcgi=$top_builddir/fcgi/steel-fcgi sock=$STACK_RUN/steel-fcgi.socket
    # lighttpd appends "-N" per process; sun_path holds 107 bytes.
    if [ ${#sock} -gt 96 ]; then
        sock=${TMPDIR:-/tmp}/steel-fcgi-$STACK_PREFIX-$(id -u).socket
    fi
    sed -e "s|^var\.steel_fcgi_bin = .*|var.steel_fcgi_bin = \"$fcgi\"|" \
        -e "s|^var\.steel_conf = .*|var.steel_conf = \"$STACK_RUN/steel-orchestrator.conf\"|" \
        -e "s|^var\.steel_socket = .*|var.steel_socket = \"$sock\"|" \
        -e "s|^var\.steel_fcgi_log = .*|var.steel_fcgi_log = \"$STACK_RUN/steel-fcgi.log\"|" \
        -e "s|^var\.steel_errordocs = .*|var.steel_errordocs = \"$top_srcdir/etc/lighttpd/errors/\"|" \
        -e "s|^var\.steel_status_page = .*|var.steel_status_page = \"$top_srcdir/etc/lighttpd/status.html\"|" \
        -e "s|^var\.steel_url = .*|var.steel_url = \"^/\"|" \
        -e "s|^var\.steel_backend_timeout = .*|var.steel_backend_timeout = ${STEEL_BACKEND_TIMEOUT:-30}|" \
        "$snippet" >"$STACK_RUN/50-steel-orchestrator.conf" || return 1
    if grep -q '^var\.steel_.*@' "$STACK_RUN/50-steel-orchestrator.conf"; then
        stack_log "$snippet: a var.steel_* line was not rewritten"
        return 1
    fi
    cat >"$STACK_RUN/lighttpd.conf" <<EOF
# lighttpd.conf of the local stack in $STACK_RUN (written by tests/stack.sh)
server.bind = "127.0.0.1"
server.port = $STACK_HTTP_PORT
server.document-root = "$STACK_RUN/www"
server.upload-dirs = ( "$STACK_RUN/tmp" )
server.errorlog = "$STACK_RUN/lighttpd-error.log"
# This lighttpd serves only the API: even a request it cannot parse gets
# a JSON error (see the snippet's last section).
server.errorfile-prefix = "$top_srcdir/etc/lighttpd/errors/"
mimetype.assign = ( ".html" => "application/json" )
include "$STACK_RUN/50-steel-orchestrator.conf"
${STEEL_LIGHTTPD_EXTRA:-}
EOF
}

stack_conf_sum() {
    cat "$STACK_RUN/steel-orchestrator.conf" "$STACK_RUN/lighttpd.conf" \
        "$STACK_RUN/50-steel-orchestrator.conf" 2>/dev/null | cksum
}
