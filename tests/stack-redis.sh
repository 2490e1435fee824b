# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# stack-redis.sh - the Redis of a local stack (tests/stack.sh sources it):
# its unix socket, REDISCLI_AUTH for redis-cli, start-up with requirepass
# and the programs' ACL users (etc/redis/steel-orchestrator-users.conf
# filled in with the stack's prefix and password hashes), and what
# stack_status asks it.  Functions only.

# The unix socket of the stack's Redis (sun_path holds 107 bytes).
stack_redis_socket() {
    local sock=$STACK_RUN/redis/redis.sock
    if [ ${#sock} -gt 100 ]; then
        sock=${TMPDIR:-/tmp}/steel-redis-$STACK_PREFIX-$(id -u).sock
    fi
    echo "$sock"
}

# redis-cli (the tests', the recipes') authenticates through REDISCLI_AUTH.
stack_export_auth() {
    if [ -n "$STACK_REDIS_PASSWORD" ]; then
        export REDISCLI_AUTH=$STACK_REDIS_PASSWORD
    else
        unset REDISCLI_AUTH
    fi
}

stack_start_redis() {
    local pid rconf=$STACK_RUN/redis/redis.conf
    # The programs reach Redis through its unix socket (no TCP stack on
    # every command, owner-only); the TCP port is for redis-cli and the
    # tests.  Both need the password (requirepass, in a file of the
    # owner's, not on the command line), so a process of another user on
    # this host - a worker - reaches neither.
    (
        umask 077
        printf 'include %s\nrequirepass %s\n' \
            "$top_srcdir/etc/redis/steel-orchestrator.conf" \
            "$STACK_REDIS_PASSWORD" >"$rconf" &&
            stack_redis_users >>"$rconf"
    ) || return 1
    # Persistence as the shipped fragment has it (AOF, appendfsync
    # everysec); STEEL_REDIS_PERSIST=none runs Redis with nothing on disk.
    local persist=(--appendonly yes --appendfsync everysec --save "")
    [ "${STEEL_REDIS_PERSIST:-aof}" = none ] && persist=(--save "" --appendonly no)
    stack_spawn redis redis-server "$rconf" \
        --port "$STACK_REDIS_PORT" --bind 127.0.0.1 "${persist[@]}" \
        --unixsocket "$(stack_redis_socket)" --unixsocketperm 700 \
        --dir "$STACK_RUN/redis" --logfile "" --daemonize no
    read -r pid <"$STACK_RUN/redis.pid"
    for _ in $(seq 1 100); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
            return 0
        fi
        stack_pid_live "$pid" || break
        sleep 0.1
    done
    stack_log "redis did not answer PING on 127.0.0.1:$STACK_REDIS_PORT"
    stack_show_log redis
    return 1
}

# The ACL users of the programs, etc/redis/steel-orchestrator-users.conf
# filled in with the stack's prefix and passwords (as SHA-256 hashes).
stack_redis_users() {
    [ -n "$STACK_REDIS_PW_FCGI" ] || return 0
    local f s r
    f=$(printf '%s' "$STACK_REDIS_PW_FCGI" | sha256sum | cut -d' ' -f1) &&
        s=$(printf '%s' "$STACK_REDIS_PW_SPAWNER" | sha256sum | cut -d' ' -f1) &&
        r=$(printf '%s' "$STACK_REDIS_PW_REAPER" | sha256sum | cut -d' ' -f1) &&
        sed -e "s|@PREFIX@|$STACK_PREFIX|g" -e "s|@PASSWORD_FCGI@|#$f|" \
            -e "s|@PASSWORD_SPAWNER@|#$s|" -e "s|@PASSWORD_REAPER@|#$r|" \
            "$top_srcdir/etc/redis/steel-orchestrator-users.conf"
}

stack_rcli() {
    redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" "$@" 2>/dev/null
}

# Counts of this run's workers by state, "idle=4 busy=1", from Redis.
stack_worker_counts() {
    # shellcheck disable=SC2016
    stack_rcli --raw EVAL '
        local n = {}
        for _, id in ipairs(redis.call("SMEMBERS", KEYS[1])) do
            local s = redis.call("HGET", ARGV[1] .. ":worker:" .. id, "state") or "gone"
            n[s] = (n[s] or 0) + 1
        end
        local out = {}
        for s, c in pairs(n) do out[#out + 1] = s .. "=" .. c end
        table.sort(out)
        return table.concat(out, " ")' 1 "$STACK_PREFIX:workers" "$STACK_PREFIX"
}
