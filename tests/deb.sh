#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# deb.sh - the Debian package, on this machine.  ./dev deb builds
# steel-orchestrator_*.deb from the tree (dpkg-buildpackage, make check
# skipped) and lintian finds no error or warning; apt installs it: the two
# system users, the programs, the man pages, the conffiles, the lighttpd
# snippet in conf-available/, the units (neither enabled nor started), the
# tmpfiles, logrotate and cron files, and every file of etc/.  Then the
# INSTALLED programs run together - steel-spawner and steel-reaper with the
# installed configuration (workers as the package's steel-worker user), a
# lighttpd of the test's own on a free port with the installed snippet
# (only its paths moved into the test's directory), a redis-server of its
# own, closed as OPERATIONS.md says: the package's Redis users included
# and a password for the default user - and pass the installed
# "steel-tester --only core" with the api_token the package generated
# (secrets.conf: both tokens set, different, long, root:steel 0640, out of
# the workers' reach).  An upgrade (apt reinstall) keeps the running
# spawner, a live session, the operator's edit of the configuration and
# the secrets.  Removal disables the lighttpd
# snippet; purge leaves nothing: no file, directory, user or group.
#
# Runs only as root (exit 77 otherwise), and skips with the reason when
# dpkg-buildpackage or a build dependency is missing, or when anything the
# package would own is already on the machine (an installed
# steel-orchestrator, a steel user, a make install): it never replaces or
# purges what it did not install.  No system service is started: the
# package starts none, its upgrade hooks act only on an active
# steel-spawner.service under systemd or an enabled lighttpd module, and a
# policy-rc.d that forbids every action is in place while it runs.

# shellcheck disable=SC2317 # functions run through check
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}

if [ "${STEEL_IN_PACKAGE_BUILD:-0}" = 1 ]; then
    skip "make check inside the package's own build (debian/rules)"
fi
[ "$(id -u)" = 0 ] || skip "installing a package needs root"
for p in dpkg-buildpackage dpkg-checkbuilddeps dh apt-get lintian; do
    command -v "$p" >/dev/null ||
        skip "$p is not installed (./dev deps installs it)"
done
if ! out=$(cd "$top_srcdir" && dpkg-checkbuilddeps -Pnocheck 2>&1); then
    skip "build dependencies missing: $out"
fi
PKG=steel-orchestrator
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
    skip "$PKG is installed on this machine; the test would replace and purge it"
fi
for u in steel steel-worker; do
    if getent passwd "$u" >/dev/null || getent group "$u" >/dev/null; then
        skip "user or group $u exists; purging the package would delete it"
    fi
done
OWNED="/etc/steel-orchestrator /etc/lighttpd/conf-available/50-steel-orchestrator.conf
/etc/lighttpd/conf-enabled/50-steel-orchestrator.conf /etc/logrotate.d/steel-orchestrator
/var/log/steel-orchestrator /run/steel-orchestrator /var/lib/steel-orchestrator
/var/lib/steel-worker"
for f in $OWNED; do
    if [ -e "$f" ] || [ -h "$f" ]; then
        skip "$f exists (a make install?); the package would take it over"
    fi
done

lib_init

PFX=steel-deb$$
# Processes whose environment carries our key prefix: the workers.
workers_of_ours() {
    local f pid
    [ -n "${PFX:-}" ] || return 0
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        grep -qzxF "STEEL_PREFIX=$PFX" "$f" 2>/dev/null && echo "$pid"
    done
}
exited() {
    local st
    st=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$st" = Z ] || [ "$st" = X ]
}
# stop_stack - as systemd would: lighttpd, the reaper, the spawner (which
# stops its workers); true when each exited 0.
stop_stack() {
    local name pid rc=0 st
    for name in lighttpd reaper spawner; do
        [ -f "$T/$name.pid" ] || continue
        pid=$(cat "$T/$name.pid")
        kill -TERM "$pid" 2>/dev/null || continue
        wait_for 20 exited "$pid" || kill -KILL "$pid" 2>/dev/null
        st=0
        wait "$pid" 2>/dev/null || st=$?
        [ "$st" = 0 ] || { echo "$name exited $st"; rc=1; }
        rm -f "$T/$name.pid"
    done
    return "$rc"
}

# Every action of invoke-rc.d and deb-systemd-invoke is refused while the
# test runs, unless the machine already has a policy of its own.
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=
APT_LOG=$T/apt.log
cleanup() {
    local rc=$?
    # A failure half-way: stop our processes (lib_cleanup) first, then
    # take the package away again.
    for p in $(workers_of_ours); do track_pid "$p"; done
    if [ -n "$T" ] && dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null |
        grep -qv '^not-installed$'; then
        echo "deb.sh: purging $PKG (left installed by a failure)"
        stop_stack
        apt-get purge -y -q "$PKG" >>"$APT_LOG" 2>&1 </dev/null
    fi
    if [ -n "$OUR_POLICY" ]; then rm -f "$POLICY"; fi
    (exit "$rc")
    lib_cleanup
}
trap cleanup EXIT
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# tests/deb.sh of steel-orchestrator (pid %s): no service actions\nexit 101\n' \
        $$ >"$POLICY"
    chmod 755 "$POLICY"
    OUR_POLICY=1
fi

# What exists before, to compare after the purge: every name of the
# package, its programs and its users where a package or its programs put
# things (not just "steel": other tests make /run/netns/steel-... meanwhile).
footprint() {
    find /etc /lib/systemd /usr/bin /usr/sbin /usr/libexec /usr/lib/tmpfiles.d \
        /usr/share/doc /usr/share/man /usr/share/steel-orchestrator /var/lib/dpkg/info \
        /var/lib/systemd /var/log /var/lib /run -maxdepth 3 \
        \( -name 'steel-orchestrator*' -o -name '*-steel-orchestrator*' \
        -o -name 'steel-spawner*' -o -name 'steel-reaper*' -o -name 'steel-fcgi*' \
        -o -name 'steel-tester*' -o -name 'steel-browser-emu*' -o -name 'steel-worker*' \
        -o -name steel \) 2>/dev/null | sort
}
footprint >"$T/before.files"

# ---- build ---------------------------------------------------------------

start=$SECONDS
if STEEL_NO_DEPS=1 "$top_srcdir/dev" deb "$T/out" >"$T/build.log" 2>&1; then
    ok "./dev deb builds the package and lintian reports no error or warning ($((SECONDS - start)) s)"
else
    not_ok "./dev deb builds the package and lintian reports no error or warning"
    tail -n 40 "$T/build.log"
fi
DEB=$(find "$T/out" -maxdepth 1 -name "${PKG}_*.deb" | head -n 1)
if [ -z "$DEB" ]; then
    not_ok "a ${PKG}_*.deb was built"
    lib_finish
fi
ver=$(dpkg-deb -f "$DEB" Version)
check_eq "the package's version is configure.ac's" \
    "$(sed -n 's/^AC_INIT(\[steel-orchestrator\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")" "$ver"
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^$' >"$T/deb.paths"
# The directories of the package that exist already (/etc, /usr/bin...)
# stay after the purge; all else must go.
while read -r p; do
    if [ -e "$p" ]; then echo "$p"; fi
done <"$T/deb.paths" >"$T/deb.preexisting"

# ---- install ---------------------------------------------------------------

start=$SECONDS
if apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
    "$DEB" >"$APT_LOG" 2>&1 </dev/null; then
    ok "apt install ./$(basename "$DEB") ($((SECONDS - start)) s)"
else
    not_ok "apt install ./$(basename "$DEB")"
    tail -n 30 "$APT_LOG"
    lib_finish
fi

for u in steel steel-worker; do
    check "the system user $u exists" bash -c "getent passwd $u >/dev/null"
    check "... with a group of its own" bash -c "getent group $u >/dev/null"
    check_eq "... and a home of its own" "$u" "$(stat -c %U "$(getent passwd "$u" | cut -d: -f6)" 2>/dev/null)"
done
check "steel and steel-worker are different users" \
    test "$(id -u steel)" != "$(id -u steel-worker)"
check "steel-worker is in no group of steel" \
    bash -c '! id -nG steel-worker | tr " " "\n" | grep -qx steel'
check_eq "steel-worker has no login shell" /usr/sbin/nologin "$(getent passwd steel-worker | cut -d: -f7)"
check_eq "the configuration is root:steel 0640" "root:steel 640" \
    "$(stat -c '%U:%G %a' /etc/steel-orchestrator/steel-orchestrator.conf)"
check "steel-worker cannot read the configuration" \
    bash -c '! setpriv --reuid=steel-worker --regid=steel-worker --clear-groups cat /etc/steel-orchestrator/steel-orchestrator.conf >/dev/null 2>&1'
if getent passwd www-data >/dev/null; then
    check "www-data (steel-fcgi under lighttpd) is in group steel" \
        bash -c 'id -nG www-data | tr " " "\n" | grep -qx steel'
fi

for f in /usr/sbin/steel-spawner /usr/sbin/steel-reaper /usr/bin/steel-tester \
    /usr/libexec/steel-orchestrator/steel-fcgi /usr/libexec/steel-orchestrator/steel-browser-emu; do
    check "installed and executable: $f" test -x "$f"
done
for f in /usr/share/man/man8/steel-spawner.8.gz /usr/share/man/man8/steel-reaper.8.gz \
    /usr/share/man/man8/steel-fcgi.8.gz /usr/share/man/man1/steel-tester.1.gz \
    /usr/share/man/man5/steel-orchestrator.conf.5.gz \
    /lib/systemd/system/steel-spawner.service /lib/systemd/system/steel-reaper.service \
    /lib/systemd/system/steel-reaper.timer /lib/systemd/system/steel-reaper-once.service \
    /usr/lib/tmpfiles.d/steel-orchestrator.conf \
    /usr/share/steel-orchestrator/cron.d/steel-reaper \
    /usr/share/steel-orchestrator/lighttpd-errors/503.html \
    /usr/share/steel-orchestrator/redis/steel-orchestrator.conf; do
    check "installed: $f" test -f "$f"
done
conffiles=$(dpkg-query -W -f='${Conffiles}\n' "$PKG" | awk 'NF {print $1}')
for f in /etc/steel-orchestrator/steel-orchestrator.conf \
    /etc/lighttpd/conf-available/50-steel-orchestrator.conf \
    /etc/logrotate.d/steel-orchestrator; do
    check "a conffile: $f" grep -qxF "$f" <<<"$conffiles"
done
check "the configuration runs workers as steel-worker" \
    grep -qx 'worker_user = steel-worker' /etc/steel-orchestrator/steel-orchestrator.conf
check "... one uid per worker slot" \
    grep -qx 'worker_uid_range = 65600-65855' /etc/steel-orchestrator/steel-orchestrator.conf
# lighty-enable-mod steel-orchestrator links conf-available/NN-<name>.conf.
check_eq "the snippet is the module lighty-enable-mod calls steel-orchestrator" \
    /etc/lighttpd/conf-available/50-steel-orchestrator.conf \
    "$(ls /etc/lighttpd/conf-available/[0-9]*-steel-orchestrator.conf 2>/dev/null)"
check "the snippet starts the installed steel-fcgi" \
    grep -qxF 'var.steel_fcgi_bin = "/usr/libexec/steel-orchestrator/steel-fcgi"' \
    /etc/lighttpd/conf-available/50-steel-orchestrator.conf
check "the units start the installed daemons with the installed configuration" \
    grep -qxF 'ExecStart=/usr/sbin/steel-spawner -f /etc/steel-orchestrator/steel-orchestrator.conf' \
    /lib/systemd/system/steel-spawner.service
check "no unit is enabled" \
    bash -c '! find /etc/systemd/system -name "steel-*" | grep -q .'
# Under systemd (not here): an upgrade must not stop steel-spawner.  The
# only stop is prerm's, on removal; no preinst stops anything.
check_eq "an upgrade stops nothing: one stop in prerm, in its remove branch" "1 1" \
    "$(grep -c 'deb-systemd-invoke stop' /var/lib/dpkg/info/$PKG.prerm) \
$(sed -n '/^remove)/,/;;/p' /var/lib/dpkg/info/$PKG.prerm | grep -c 'deb-systemd-invoke stop')"
check "... no preinst stops a unit" \
    bash -c "! grep -qs 'deb-systemd-invoke stop' /var/lib/dpkg/info/$PKG.preinst"
check "... and postinst kills only its main process" \
    grep -q 'systemctl kill --signal=KILL --kill-whom=main steel-spawner.service' \
    /var/lib/dpkg/info/steel-orchestrator.postinst
if command -v systemd-tmpfiles >/dev/null; then
    check_eq "tmpfiles: the socket directory is lighttpd's" www-data \
        "$(stat -c %U /run/steel-orchestrator 2>/dev/null)"
    check_eq "tmpfiles: the worker log directory is steel's" steel \
        "$(stat -c %U /var/log/steel-orchestrator/workers 2>/dev/null)"
fi
# Every file of the tree's etc/ is in the package (X.in as X): the
# Prometheus rules of etc/prometheus/ and the status page included, once
# they are in the tree.  Their unit tests are not installed.
dpkg -L "$PKG" >"$T/installed.list"
while read -r f; do
    name=$(basename "$f" .in)
    case $name in *test*) continue ;; esac
    # A file make generated from X.in in this tree: X.in is checked.
    if [ -f "$f.in" ]; then continue; fi
    check "etc/${f#"$top_srcdir/etc/"} is installed" grep -q "/$name\$" "$T/installed.list"
done < <(find "$top_srcdir/etc" -type f | sort)

SECRETS=/etc/steel-orchestrator/secrets.conf
secret() { sed -n "s/^$1 = //p" "$SECRETS"; }
API_TOKEN=$(secret api_token)
ADMIN_TOKEN=$(secret admin_token)
check_eq "the secrets are root:steel 0640" "root:steel 640" \
    "$(stat -c '%U:%G %a' "$SECRETS" 2>/dev/null)"
check "steel-worker cannot read the secrets" \
    bash -c "! setpriv --reuid=steel-worker --regid=steel-worker --clear-groups cat '$SECRETS' >/dev/null 2>&1"
check "api_token is generated (64 hex digits)" grep -qE '^[0-9a-f]{64}$' <<<"$API_TOKEN"
check "admin_token is generated (64 hex digits)" grep -qE '^[0-9a-f]{64}$' <<<"$ADMIN_TOKEN"
check "... and the two differ" test "$API_TOKEN" != "$ADMIN_TOKEN"
check "the configuration includes the secrets" \
    grep -qx "include = $SECRETS" /etc/steel-orchestrator/steel-orchestrator.conf
for p in fcgi spawner reaper; do
    check "steel-$p has a Redis user and password" \
        bash -c "grep -qx 'redis_user_$p = steel-$p' '$SECRETS' && grep -qE '^redis_password_$p = [0-9a-f]{64}\$' '$SECRETS'"
    check "... named in redis-users.conf by its hash only" \
        bash -c "grep -q '^user steel-$p .*#$(secret redis_password_$p | tr -d '\n' | sha256sum | cut -d' ' -f1) ' /etc/steel-orchestrator/redis-users.conf && ! grep -qF '$(secret redis_password_$p)' /etc/steel-orchestrator/redis-users.conf"
done
cp "$SECRETS" "$T/secrets.before"

check_eq "the installed steel-spawner accepts the installed configuration (-n)" \
    "configuration OK" "$(/usr/sbin/steel-spawner -n 2>&1)"
check_eq "the installed steel-reaper accepts the installed configuration (-n)" \
    "configuration OK" "$(/usr/sbin/steel-reaper -n 2>&1)"

# ---- run the installed programs ---------------------------------------------

# Redis as OPERATIONS.md sets it up: the package's users (their key
# pattern moved to the test's prefix) and a password for the default user.
REDIS_PORT=$(free_port)
export REDISCLI_AUTH=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
(
    umask 077
    echo "requirepass $REDISCLI_AUTH"
    sed "s|~steel:\*|~$PFX:*|" /etc/steel-orchestrator/redis-users.conf
) >"$T/redis.conf"
start_bg redis redis-server "$T/redis.conf" --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save "" --appendonly no --dir "$T"
wait_for 10 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping || { not_ok "redis starts"; lib_finish; }
HTTP_PORT=$(free_port)
WBASE=$(worker_ports 100) || exit 1
WBASE=${WBASE%-*}
mkdir -p "$T/log" "$T/www"
CONF=$T/steel-orchestrator.conf
{
    cat /etc/steel-orchestrator/steel-orchestrator.conf
    echo "# ---- the test's own settings (tests/deb.sh)"
    echo "redis = 127.0.0.1:$REDIS_PORT"
    echo "key_prefix = $PFX"
    echo "session_ttl = 3"
    echo "pool_idle_target = 3"
    echo "pool_max_workers = 12"
    echo "worker_port_range = $WBASE-$((WBASE + 39))"
    echo "worker_bin = /usr/libexec/steel-orchestrator/steel-browser-emu"
    echo "worker_log_dir = $T/log/workers"
    echo "node_token_dir = $T/run"
    echo "fcgi_threads = 8"
} >"$CONF"
start_bg spawner /usr/sbin/steel-spawner -f "$CONF"
start_bg reaper /usr/sbin/steel-reaper -f "$CONF"
SPAWNER_PID=$(cat "$T/spawner.pid")

# The installed snippet, its paths moved into $T: the configuration, the
# socket and the log.  The program and the error pages stay the installed
# ones.
sed -e "s|^var\.steel_conf = .*|var.steel_conf = \"$CONF\"|" \
    -e "s|^var\.steel_socket = .*|var.steel_socket = \"$T/fcgi.socket\"|" \
    -e "s|^var\.steel_fcgi_log = .*|var.steel_fcgi_log = \"$T/steel-fcgi.log\"|" \
    /etc/lighttpd/conf-available/50-steel-orchestrator.conf >"$T/50-steel-orchestrator.conf"
cat >"$T/lighttpd.conf" <<EOF
server.bind = "127.0.0.1"
server.port = $HTTP_PORT
server.document-root = "$T/www"
server.errorlog = "$T/lighttpd-error.log"
include "$T/50-steel-orchestrator.conf"
EOF
check "lighttpd accepts the installed snippet (-tt)" lighttpd -tt -f "$T/lighttpd.conf"
start_bg lighttpd lighttpd -D -f "$T/lighttpd.conf"
URL=http://127.0.0.1:$HTTP_PORT

create_works() {
    local code
    code=$(curl -s -m 5 -o "$T/probe.out" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer $API_TOKEN" \
        -H 'Content-Type: application/json' -d '{"probe": 1}' "$URL/sessions")
    [ "$code" = 201 ] || [ "$code" = 200 ]
}
check_eventually "POST /sessions works through the installed programs" 30 create_works
worker_pid=$(workers_of_ours | head -n 1)
wuid=$(ps -o uid= -p "${worker_pid:-1}" 2>/dev/null | tr -d ' ')
check "workers run as a slot's uid of the package's range, 65600-65855" \
    test "${wuid:-0}" -ge 65600 -a "${wuid:-0}" -le 65855
check_eq "... in steel-worker's group" steel-worker \
    "$(ps -o group= -p "${worker_pid:-1}" 2>/dev/null | tr -d ' ')"

check_eq "without the api_token the API answers 401" 401 \
    "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -d '{}' "$URL/sessions")"
check "the daemons use their own Redis users" \
    bash -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT CLIENT LIST | grep -q 'user=steel-spawner' && redis-cli -h 127.0.0.1 -p $REDIS_PORT CLIENT LIST | grep -q 'user=steel-fcgi'"
if /usr/bin/steel-tester --url "$URL" --ttl 3 --only core --no-color --token "$API_TOKEN" \
    >"$T/tester.log" 2>&1; then
    ok "the installed steel-tester --only core passes ($(tail -n 1 "$T/tester.log"))"
else
    not_ok "the installed steel-tester --only core passes"
    cat "$T/tester.log"
fi

# ---- upgrade: nothing running is stopped, the configuration is kept ---------

# A session that must outlive the upgrade (the TTL is 3 s: GET it again
# right after).
curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '{"deb": 1}' \
    -H "Authorization: Bearer $API_TOKEN" "$URL/sessions" >"$T/session.json"
sid=$(sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p' "$T/session.json")
check "a session is created before the upgrade" test -n "$sid"
echo "# edited by the operator (tests/deb.sh)" >>/etc/steel-orchestrator/steel-orchestrator.conf
# Keep the session alive while apt runs.
(while sleep 1; do
    curl -s -m 2 -o /dev/null -H "Authorization: Bearer $API_TOKEN" "$URL/sessions/$sid"
done) &
TOUCHER=$!
LIB_PIDS+=("$TOUCHER")
if apt-get install -y -q --reinstall --no-install-recommends -o DPkg::Lock::Timeout=120 \
    "$DEB" >>"$APT_LOG" 2>&1 </dev/null; then
    ok "apt reinstall (prerm upgrade, postinst configure $ver)"
else
    not_ok "apt reinstall (prerm upgrade, postinst configure $ver)"
    tail -n 30 "$APT_LOG"
fi
kill "$TOUCHER" 2>/dev/null
wait "$TOUCHER" 2>/dev/null
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $API_TOKEN" \
    "$URL/sessions/$sid")
check_eq "the live session answers after the upgrade" 200 "$code"
check "the upgrade keeps the secrets (tokens, Redis passwords)" cmp -s "$T/secrets.before" "$SECRETS"
check_eq "... and their mode" "root:steel 640" "$(stat -c '%U:%G %a' "$SECRETS" 2>/dev/null)"
check "the spawner was not stopped by the upgrade" kill -0 "$SPAWNER_PID"
check "the operator's edit of the configuration is kept" \
    grep -qx '# edited by the operator (tests/deb.sh)' /etc/steel-orchestrator/steel-orchestrator.conf

check "lighttpd, the reaper and the spawner exit 0 on SIGTERM" stop_stack
check_eq "no worker outlives the spawner" "" "$(workers_of_ours)"

# ---- remove, purge -----------------------------------------------------------

# What lighty-enable-mod makes (only our link, not the fastcgi one it adds
# too), unless a lighttpd of the system runs and might reload meanwhile.
link=/etc/lighttpd/conf-enabled/50-steel-orchestrator.conf
sys_lighttpd=0
if [ -f /run/lighttpd.pid ] && kill -0 "$(cat /run/lighttpd.pid)" 2>/dev/null; then
    sys_lighttpd=1
fi
if [ -d /etc/lighttpd/conf-enabled ] && [ "$sys_lighttpd" = 0 ]; then
    ln -s ../conf-available/50-steel-orchestrator.conf "$link"
fi
if apt-get remove -y -q -o DPkg::Lock::Timeout=120 "$PKG" >>"$APT_LOG" 2>&1 </dev/null; then
    ok "apt remove"
else
    not_ok "apt remove"
    tail -n 30 "$APT_LOG"
fi
if [ -d /etc/lighttpd/conf-enabled ] && [ "$sys_lighttpd" = 0 ]; then
    check "removal disables the lighttpd module (its link would dangle)" \
        bash -c "! test -h '$link'"
fi
check "removal keeps the configuration" test -f /etc/steel-orchestrator/steel-orchestrator.conf
check "removal keeps the secrets" test -f "$SECRETS"
check "removal keeps the users" bash -c "getent passwd steel-worker >/dev/null"
rm -f "$link"

if apt-get purge -y -q -o DPkg::Lock::Timeout=120 "$PKG" >>"$APT_LOG" 2>&1 </dev/null; then
    ok "apt purge"
else
    not_ok "apt purge"
    tail -n 30 "$APT_LOG"
fi
check_eq "dpkg knows nothing of the package" "" \
    "$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -v '^not-installed$')"
while read -r p; do
    if [ -e "$p" ] || [ -h "$p" ]; then echo "$p"; fi
done <"$T/deb.paths" | grep -vxF -f "$T/deb.preexisting" >"$T/left.paths" || true
check_eq "no file or directory of the package is left" "" "$(cat "$T/left.paths")"
footprint >"$T/after.files"
check_eq "nothing of the package's names is left where it wrote" "" \
    "$(comm -13 "$T/before.files" "$T/after.files")"
for u in steel steel-worker; do
    check "the user $u is gone" bash -c "! getent passwd $u"
    check "the group $u is gone" bash -c "! getent group $u"
done
check "purge removes the secrets and the Redis users file" \
    bash -c "! test -e '$SECRETS' && ! test -e /etc/steel-orchestrator/redis-users.conf"
check "no dpkg-statoverride of the configuration is left" \
    bash -c '! dpkg-statoverride --list /etc/steel-orchestrator/steel-orchestrator.conf'

check_eq "no user is left with a home of the package" "" \
    "$(getent passwd | cut -d: -f1,6 | grep ':/var/lib/steel-')"
for f in $OWNED; do
    check "gone: $f" bash -c "! test -e '$f' && ! test -h '$f'"
done

lib_finish
