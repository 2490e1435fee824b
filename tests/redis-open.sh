#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# redis-open.sh - with worker_user set, steel-fcgi, steel-spawner and
# steel-reaper refuse to start against a Redis that answers on TCP without
# authentication (a worker on the host could use it too), with a message
# that says what to do; redis_allow_unauthenticated = yes starts them with
# a warning; a Redis that asks for a password passes, and without
# worker_user nothing is checked.

. "$(dirname "$0")/lib.sh"
lib_init

start_redis || { not_ok "redis starts"; lib_finish; }
CONF=$T/open.conf
cat >"$CONF" <<CONF
redis = 127.0.0.1:$REDIS_PORT
key_prefix = open-$$
worker_user = nobody
worker_log_dir = $T/workers
node_token_dir = $T
CONF
BIN_fcgi=$top_builddir/fcgi/steel-fcgi
BIN_spawner=$top_builddir/spawner/steel-spawner
BIN_reaper=$top_builddir/reaper/steel-reaper
REFUSAL='connect: answers without authentication, and workers run on this host'
WARNING='used because redis_allow_unauthenticated = yes'

# run PROGRAM - starts it (stdin not a FastCGI socket: steel-fcgi stops
# right after its start-up checks; the daemons are stopped after 2 s);
# the output in $T/PROGRAM.out, the exit status printed.
run() {
    local bin=BIN_$1 rc=0
    timeout -s TERM 2 "${!bin}" -f "$CONF" </dev/null >"$T/$1.out" 2>&1 || rc=$?
    echo "$rc"
}
has() { grep -qF -- "$2" "$T/$1.out"; }

for p in fcgi spawner reaper; do
    rc=$(run $p)
    check "steel-$p refuses an open Redis on TCP (exit $rc)" \
        test "$rc" != 0 -a "$rc" != 124
    check "... and says why and what to do" has $p "$REFUSAL"
    check "... naming redis_allow_unauthenticated" has $p "redis_allow_unauthenticated = yes accepts it"
done
[ -s "$T/fcgi.out" ] && sed 's/^/# /' "$T/fcgi.out" | head -n 3

echo "redis_allow_unauthenticated = yes" >>"$CONF"
for p in fcgi reaper; do
    run $p >/dev/null
    check "redis_allow_unauthenticated = yes: steel-$p starts, with a warning" has $p "$WARNING"
    check "... and no refusal" bash -c "! grep -qF -- '$REFUSAL' '$T/$p.out'"
done

# A Redis that asks for a password: no refusal, no warning.
rcli CONFIG SET requirepass open-test-pw >/dev/null
export REDISCLI_AUTH=open-test-pw
sed -i '/^redis_allow_unauthenticated/d' "$CONF"
echo "redis_password = open-test-pw" >>"$CONF"
run fcgi >/dev/null
check "a Redis with a password passes the check" \
    bash -c "! grep -qF -e '$REFUSAL' -e '$WARNING' '$T/fcgi.out'"
check "... (steel-fcgi went on to its FastCGI check)" has fcgi "not started by a FastCGI server"

# Without worker_user nothing is checked, as before.
rcli CONFIG SET requirepass "" >/dev/null
unset REDISCLI_AUTH
sed -i '/^redis_password/d; /^worker_user/d' "$CONF"
run fcgi >/dev/null
check "without worker_user an open Redis is not refused" \
    bash -c "! grep -qF -e '$REFUSAL' -e '$WARNING' '$T/fcgi.out'"
lib_finish
