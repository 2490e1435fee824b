#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# systemd.sh - the Debian package under a real systemd.  A Debian 12 root
# made by mmdebstrap from this machine's own apt sources, booted with
# "systemd-nspawn --register=no --keep-unit -b" in a network namespace of
# its own (loopback only: every request of the test stays inside it).
# Inside, as an operator following OPERATIONS.md would:
#   - "apt install ./steel-orchestrator_*.deb" starts and enables nothing;
#   - the package generated the tokens and a Redis user per program;
#   - Redis on its unix socket with those users, the configuration, "systemctl enable --now
#     steel-spawner steel-reaper", the lighttpd module: all units active,
#     the daemons as steel with exactly the capabilities the units grant,
#     workers as the slots' uids (65600-65855, steel-worker's group) with
#     none, in the spawner's cgroup;
#   - "steel-tester --only core" passes through lighttpd;
#   - systemd-tmpfiles recreates /run/steel-orchestrator from the package's
#     file; LogsDirectory= made the worker log directory;
#   - "systemctl reload" reaches each daemon (and a broken file fails the
#     reload and changes nothing);
#   - the journal keeps each daemon's lines with their level: a warning is
#     at priority warning, "journalctl -p warning" shows no info line;
#   - "systemctl kill -s KILL --kill-whom=main steel-spawner" keeps a live
#     session (the new spawner adopts its worker), while "systemctl restart
#     steel-spawner" ends it: both as OPERATIONS.md promises;
#   - the reaper's timer runs passes when the resident reaper is stopped;
#   - "systemd-analyze security" (online, on the running units) scores the
#     spawner and the reaper at most 2.5;
#   - steel-worker-firewall.service comes up with the spawner: as
#     steel-worker or a slot's uid, the node's lighttpd is refused;
#   - "systemctl stop" leaves no worker process and an empty cgroup;
#   - "apt purge" leaves no unit, user, configuration or log directory.
#
# Runs as root only, and skips (exit 77) with the reason when mmdebstrap,
# systemd-nspawn or the package build tools are missing, inside the
# package's own build, or when this machine cannot make or boot the root.
# STEEL_DEB=file uses that .deb instead of building one.  The container is
# stopped (SIGTERM to systemd-nspawn, then SIGKILL) and its root removed,
# failure included.

# shellcheck disable=SC2317 # functions run through check
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

skip() {
    echo "systemd: skipped: $*"
    exit 77
}

if [ "${STEEL_IN_PACKAGE_BUILD:-0}" = 1 ]; then
    skip "make check inside the package's own build (debian/rules)"
fi
[ "$(id -u)" = 0 ] || skip "booting a container needs root"
for p in mmdebstrap systemd-nspawn nsenter dpkg-deb; do
    command -v "$p" >/dev/null || skip "$p is not installed (./dev deps installs it)"
done
if [ -z "${STEEL_DEB:-}" ]; then
    for p in dpkg-buildpackage dpkg-checkbuilddeps dh; do
        command -v "$p" >/dev/null || skip "$p is not installed (./dev deps installs it)"
    done
    if ! out=$(cd "$top_srcdir" && dpkg-checkbuilddeps -Pnocheck 2>&1); then
        skip "build dependencies missing: $out"
    fi
fi
# The apt sources of this machine, pasted into the root's (mmdebstrap takes
# a file as a mirror).
SOURCES=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && grep -qv '^[[:space:]]*\(#\|$\)' "$f" && SOURCES+=("$f")
done
[ ${#SOURCES[@]} -gt 0 ] || skip "this machine has no apt sources for mmdebstrap"

lib_init
NSPAWN_PID=
ROOT=$T/root
MACHINE=steel-systemd-$$

stop_container() {
    local i
    [ -n "$NSPAWN_PID" ] || return 0
    # systemd-nspawn turns SIGTERM into a clean shutdown of the container.
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for i in $(seq 1 150); do
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID=
}
cleanup() {
    local rc=$?
    stop_container
    if [ -d "$ROOT" ] && [ "${STEEL_KEEP_TMP:-0}" != 1 ]; then
        rm -rf --one-file-system "$ROOT"
    fi
    (exit "$rc")
    lib_cleanup
}
trap cleanup EXIT

# ---- the package -------------------------------------------------------------

start=$SECONDS
if [ -n "${STEEL_DEB:-}" ]; then
    DEB=$STEEL_DEB
elif STEEL_NO_DEPS=1 "$top_srcdir/dev" deb "$T/out" >"$T/build.log" 2>&1; then
    DEB=$(find "$T/out" -maxdepth 1 -name 'steel-orchestrator_*.deb' | head -n 1)
else
    not_ok "./dev deb builds the package"
    tail -n 30 "$T/build.log"
    lib_finish
fi
[ -f "$DEB" ] || { not_ok "a steel-orchestrator_*.deb exists ($DEB)"; lib_finish; }
ok "the package: $(basename "$DEB") ($((SECONDS - start)) s)"

# ---- the root and its boot --------------------------------------------------

# What the package needs (so that apt installs it without a network), what
# it recommends (lighttpd, Redis), and a booting systemd.
deps=$(dpkg-deb -f "$DEB" Depends Recommends | sed 's/^[A-Za-z-]*: //' | tr ',' '\n' |
    sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd, -)
start=$SECONDS
if ! mmdebstrap --variant=minbase --include="systemd,systemd-sysv,dbus,curl,procps,$deps" \
    bookworm "$ROOT" "${SOURCES[@]}" >"$T/mmdebstrap.log" 2>&1 </dev/null; then
    tail -n 20 "$T/mmdebstrap.log"
    skip "mmdebstrap cannot make a Debian 12 root here (see above)"
fi
ok "mmdebstrap made a Debian 12 root ($((SECONDS - start)) s)"
echo "$MACHINE" >"$ROOT/etc/hostname"
cp "$DEB" "$ROOT/root/"
DEB_IN=/root/$(basename "$DEB")

start=$SECONDS
systemd-nspawn --register=no --keep-unit -b -D "$ROOT" -M "$MACHINE" \
    --private-network --console=passive >"$T/nspawn.log" 2>&1 </dev/null &
NSPAWN_PID=$!
# The container's init is systemd-nspawn's child, once that child has
# become systemd (before, it is systemd-nspawn setting up the namespaces).
LEADER=
for i in $(seq 1 300); do
    LEADER=$(pgrep -P "$NSPAWN_PID" | head -n 1)
    [ -n "$LEADER" ] && [ "$(cat "/proc/$LEADER/comm" 2>/dev/null)" = systemd ] && break
    LEADER=
    kill -0 "$NSPAWN_PID" 2>/dev/null || break
    sleep 0.1
done
[ -n "$LEADER" ] || { cat "$T/nspawn.log"; skip "systemd-nspawn cannot boot a container here"; }

# inside [SECONDS] CMD... - CMD in the container, as root, with a clean
# environment, bounded (30 s unless given).
inside() {
    local limit=30
    case $1 in [0-9]*) limit=$1; shift ;; esac
    timeout -k 5 "$limit" nsenter -t "$LEADER" -a -- \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}
# fails CMD... - true when CMD fails (its output is dropped).
fails() { ! "$@" >/dev/null 2>&1; }
# in_sh [SECONDS] SCRIPT - a bash script in the container.
in_sh() {
    local limit=30
    case $1 in [0-9]*) limit=$1; shift ;; esac
    inside "$limit" bash -c "$1"
}

# Until systemd answers on its bus, systemctl says "offline".
state=
end=$((SECONDS + 120))
while [ "$SECONDS" -lt "$end" ]; do
    state=$(inside 120 systemctl is-system-running --wait 2>/dev/null)
    case $state in offline | "") sleep 0.5 ;; *) break ;; esac
done
case $state in
running | degraded) ok "the container booted: $state ($((SECONDS - start)) s)" ;;
*)
    tail -n 20 "$T/nspawn.log"
    skip "the container did not finish booting (state '$state')"
    ;;
esac
if [ "$state" = degraded ]; then
    echo "# failed units before the package: $(inside systemctl --failed --no-legend | paste -sd' ' -)"
fi

# ---- install -----------------------------------------------------------------

if in_sh 120 "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    $DEB_IN >/root/apt.log 2>&1"; then
    ok "apt install ./$(basename "$DEB")"
else
    not_ok "apt install ./$(basename "$DEB")"
    inside tail -n 30 /root/apt.log
    lib_finish
fi
for u in steel-spawner.service steel-reaper.service steel-reaper.timer; do
    check_eq "$u is not enabled by the package" disabled "$(inside systemctl is-enabled "$u" 2>/dev/null)"
    check_eq "... nor started" inactive "$(inside systemctl is-active "$u" 2>/dev/null)"
done

# The package made the secrets: tokens and a Redis user per program.
SECRETS=/etc/steel-orchestrator/secrets.conf
check_eq "the package generated $SECRETS, root:steel 0640" "root:steel 640" \
    "$(inside stat -c '%U:%G %a' "$SECRETS" 2>&1)"
API=$(inside sed -n 's/^api_token *= *//p' "$SECRETS")
ADMIN=$(inside sed -n 's/^admin_token *= *//p' "$SECRETS")
check "... with an api_token and an admin_token of 64 hex digits, not equal" \
    bash -c "[[ '$API' =~ ^[0-9a-f]{64}$ && '$ADMIN' =~ ^[0-9a-f]{64}$ && '$API' != '$ADMIN' ]]"

# The steps of OPERATIONS.md ("Redis, the configuration and the units"):
# the recommended settings, the unix socket, the package's ACL users and a
# password for everyone else.
CONF=/etc/steel-orchestrator/steel-orchestrator.conf
in_sh 60 "
set -e
echo 'include /usr/share/steel-orchestrator/redis/steel-orchestrator.conf' >>/etc/redis/redis.conf
printf 'unixsocket /run/redis/redis-server.sock\nunixsocketperm 770\n' >>/etc/redis/redis.conf
echo 'include /etc/steel-orchestrator/redis-users.conf' >>/etc/redis/redis.conf
od -An -tx1 -N16 /dev/urandom | tr -d ' \\n' >/root/redis.pass
echo \"requirepass \$(cat /root/redis.pass)\" >>/etc/redis/redis.conf
adduser --quiet steel redis
adduser --quiet www-data redis
systemctl restart redis-server
sed -i 's|^#* *redis = .*|redis = /run/redis/redis-server.sock|' $CONF
sed -i 's|^#* *worker_bin = .*|worker_bin = /usr/libexec/steel-orchestrator/steel-browser-emu|' $CONF
" >"$T/setup.log" 2>&1 || { not_ok "Redis and the configuration are set up"; cat "$T/setup.log"; }
check_eq "steel-spawner -n accepts the configuration" "configuration OK" \
    "$(inside steel-spawner -n 2>&1 | tail -n 1)"
check "systemctl enable --now steel-spawner steel-reaper" \
    inside 60 systemctl enable --quiet --now steel-spawner steel-reaper
# lighttpd runs from the boot, before the package put www-data in group
# steel: it must restart (a reload keeps its old groups).
check "lighty-enable-mod steel-orchestrator, systemctl restart lighttpd" \
    in_sh 60 'lighty-enable-mod steel-orchestrator >/dev/null && systemctl restart lighttpd'

up() { [ "$(in_sh 'curl -s -m 2 http://127.0.0.1/health')" = ok ]; }
check_within "GET /health through lighttpd answers ok" 30 up
for u in steel-spawner steel-reaper lighttpd redis-server; do
    check_eq "$u is active" active "$(inside systemctl is-active "$u")"
done
idle() {
    [ "$(in_sh "curl -s -m 2 -H 'Authorization: Bearer $API' http://127.0.0.1/status" |
        sed -n 's/.*"idle": *\([0-9]*\).*/\1/p' | head -n 1)" -ge "${1:-1}" ] 2>/dev/null
}
if ! check_within "the pool has idle workers" 30 idle 2; then
    inside journalctl --no-pager -q -o cat -u steel-spawner -u steel-reaper -u redis-server -n 30
fi

# The workers' firewall (OPERATIONS.md, "What a worker can reach"): the
# spawner pulled its unit in; steel-worker reaches nothing of the node.
check_eq "steel-worker-firewall is active (steel-spawner wants it)" active \
    "$(inside systemctl is-active steel-worker-firewall)"
check "its table holds steel-worker's uid" \
    in_sh 'nft list set inet steel_orchestrator worker_uids | grep -qw "$(id -u steel-worker)"'
check "... and the slots' uids" \
    in_sh 'nft list set inet steel_orchestrator worker_uids | grep -qw "65600-65855"'
check "as steel-worker, lighttpd on 127.0.0.1 is refused" \
    in_sh '! setpriv --reuid=steel-worker --regid=steel-worker --clear-groups curl -s -m 3 -o /dev/null http://127.0.0.1/health'
check "as a slot's uid, too" \
    in_sh '! setpriv --reuid=65600 --regid=steel-worker --clear-groups curl -s -m 3 -o /dev/null http://127.0.0.1/health'
check "systemctl reload steel-worker-firewall replaces the table" \
    in_sh 'systemctl reload steel-worker-firewall && [ "$(nft list tables | grep -c steel_orchestrator)" = 1 ]'

# ---- users, capabilities, cgroup, directories --------------------------------

mainpid() { inside systemctl show -p MainPID --value "$1"; }
capeff() { inside sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$1/status"; }
SP=$(mainpid steel-spawner)
RP=$(mainpid steel-reaper)
check_eq "steel-spawner runs as steel" steel "$(inside ps -o user= -p "$SP" | tr -d ' ')"
check_eq "steel-reaper runs as steel" steel "$(inside ps -o user= -p "$RP" | tr -d ' ')"
# CAP_KILL 5, CAP_SETGID 6, CAP_SETUID 7, CAP_SYS_PTRACE 19.
check_eq "the spawner holds CAP_KILL CAP_SETGID CAP_SETUID CAP_SYS_PTRACE only" \
    00000000000800e0 "$(capeff "$SP")"
check_eq "the reaper holds CAP_KILL CAP_SYS_PTRACE only" 0000000000080020 "$(capeff "$RP")"
workers=$(inside ps -eo pid=,uid= | awk '$2 >= 65600 && $2 <= 65855 { printf "%s ", $1 }')
check "workers run as the slots' uids (65600-65855)" test -n "$workers"
check_eq "... two workers, two uids" 2 \
    "$(inside ps -eo uid= | awk '$1 >= 65600 && $1 <= 65855' | sort -u | head -n 2 | wc -l)"
w=${workers%% *}
check_eq "a worker holds no capability" 0000000000000000 "$(capeff "$w")"
check_eq "... cannot gain one (no_new_privs)" 1 \
    "$(inside sed -n 's/^NoNewPrivs:[[:space:]]*//p' "/proc/$w/status")"
check "... and runs in steel-spawner.service's cgroup" \
    in_sh "grep -q 'steel-spawner.service' /proc/$w/cgroup"
# The unit's cgroup, for the checks after its stop (an inactive unit has
# none).
UNIT_CG=$(inside systemctl show -p ControlGroup --value steel-spawner)
# wgroup PID - the worker group a process sits in (cgroup2 line), or "-".
wgroup() {
    inside sed -n 's#^0::.*/steel-spawner\.service/workers/\(w[0-9]*\)$#\1#p' \
        "/proc/$1/cgroup" | grep . || echo -
}
groups=$(for p in $workers; do wgroup "$p"; done | sort -u)
check "every worker process sits in a worker group of the unit ($(echo $groups))" \
    bash -c "! grep -qx -- - <<<'$groups'"
check "each worker in a group of its own (at least 2 groups)" \
    test "$(grep -c . <<<"$groups")" -ge 2
check "the spawner sits in <unit>/spawner" \
    in_sh "grep -q '^0::.*/steel-spawner.service/spawner\$' /proc/$SP/cgroup"
check "the spawner logged its cgroup layout" \
    in_sh "journalctl -u steel-spawner --no-pager | grep -q 'workers run in cgroups'"
check_eq "LogsDirectory= made the worker log directory, owned by steel" "steel 750" \
    "$(inside stat -c '%U %a' /var/log/steel-orchestrator/workers)"
check "systemd-tmpfiles recreates /run/steel-orchestrator from the package's file" \
    in_sh 'mv /run/steel-orchestrator /run/steel-orchestrator.old &&
        systemd-tmpfiles --create steel-orchestrator.conf &&
        [ "$(stat -c %U /run/steel-orchestrator)" = www-data ] &&
        rmdir /run/steel-orchestrator && mv /run/steel-orchestrator.old /run/steel-orchestrator'

# ---- the API -------------------------------------------------------------------

check_eq "without the api_token, a create is refused" 401 \
    "$(in_sh "curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST -d '{}' http://127.0.0.1/sessions")"
check_eq "with the api_token but not the admin_token, /workers is refused, loopback or not" 401 \
    "$(in_sh "curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $API' http://127.0.0.1/workers")"
check_eq "with it, /workers answers" 200 \
    "$(in_sh "curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ADMIN' http://127.0.0.1/workers")"
# (Not CLIENT LIST: the programs' ACL users may not run CLIENT.)
check "each program has its own Redis user and password" \
    in_sh "redis-cli -s /run/redis/redis-server.sock --user steel-spawner \
        --pass \"\$(sed -n 's/^redis_password_spawner *= *//p' $SECRETS)\" --no-auth-warning ROLE |
        grep -qx master &&
        ! redis-cli -s /run/redis/redis-server.sock --user steel-reaper \
        --pass \"\$(sed -n 's/^redis_password_spawner *= *//p' $SECRETS)\" --no-auth-warning ROLE 2>&1 |
        grep -qx master"
for u in steel-spawner steel-reaper; do
    check "$u is connected to Redis as its own user" \
        in_sh "redis-cli -s /run/redis/redis-server.sock -a \"\$(cat /root/redis.pass)\" \
            --no-auth-warning CLIENT LIST | grep -q 'user=$u '"
done
if inside 180 steel-tester --url http://127.0.0.1 --token "$API" --ttl 60 --only core --skip ttl >"$T/tester.log" 2>&1; then
    ok "steel-tester --only core through the packaged lighttpd snippet: $(tail -n 1 "$T/tester.log")"
else
    not_ok "steel-tester --only core through the packaged lighttpd snippet"
    tail -n 30 "$T/tester.log"
fi

# ---- reload ----------------------------------------------------------------------

mark=$(inside date '+%Y-%m-%d %H:%M:%S')
check "systemctl reload steel-spawner" inside systemctl reload steel-spawner
check "systemctl reload steel-reaper" inside systemctl reload steel-reaper
check "systemctl reload lighttpd" inside systemctl reload lighttpd
check_within "the spawner logged its reload" 10 \
    in_sh "journalctl -q -o cat -u steel-spawner --since '$mark' | grep -q 'pool: idle target'"
check_within "the reaper logged its reload" 10 \
    in_sh "journalctl -q -o cat -u steel-reaper --since '$mark' | grep -q 'configuration reloaded'"
check_eq "the daemons kept their pids through the reload" "$SP $RP" \
    "$(mainpid steel-spawner) $(mainpid steel-reaper)"
# A file that does not parse fails "systemctl reload" (ExecReload runs -n
# first) and leaves the running daemon as it was.
inside cp "$CONF" /root/conf.good
in_sh "echo 'no_such_directive = 1' >>$CONF"
check "a broken configuration fails systemctl reload steel-spawner" \
    fails inside systemctl reload steel-spawner
check_eq "... and the spawner keeps running" "active $SP" \
    "$(inside systemctl is-active steel-spawner) $(mainpid steel-spawner)"

# ---- the journal and log levels --------------------------------------------------

# A SIGHUP that bypasses ExecReload= reaches the spawner with the broken
# file: it keeps its configuration and says so as a warning.
mark=$(inside date '+%Y-%m-%d %H:%M:%S')
inside systemctl kill -s HUP --kill-whom=main steel-spawner
sleep 1
check_within "the spawner warned that it kept its configuration" 10 \
    in_sh "journalctl -q -o cat -u steel-spawner -p warning --since '$mark' | grep -q 'reload refused.*no_such_directive'"
inside cp /root/conf.good "$CONF"
# steel-fcgi reads the same file whenever lighttpd starts it: wait until the
# restored file serves again.
check_within "with the file restored, the API serves again" 30 up
check "journalctl -u steel-spawner shows its lines" \
    in_sh "journalctl -q -o cat -u steel-spawner | grep -q '^steel-spawner: '"
check "journalctl -u steel-reaper shows its lines" \
    in_sh "journalctl -q -o cat -u steel-reaper | grep -q '^steel-reaper: '"
check "journalctl -p warning shows none of the spawner's info lines" \
    in_sh "! journalctl -q -o cat -u steel-spawner -p warning | grep -q 'pool idle target'"
check "journalctl -p info shows them" \
    in_sh "journalctl -q -o cat -u steel-spawner -p info | grep -q 'pool idle target'"
check "no line keeps a raw <N> priority prefix" \
    in_sh "! journalctl -q -o cat -u steel-spawner -u steel-reaper | grep -q '^<[0-7]>'"

# ---- restarts, as OPERATIONS.md promises them --------------------------------------

# create - prints the id of a new session; the answer is kept in
# $T/create.body.
create() {
    in_sh "curl -s -m 20 -X POST -H 'Content-Type: application/json' -d '{\"t\":1}' \
        -H 'Authorization: Bearer $API' http://127.0.0.1/sessions" >"$T/create.body"
    sed -n 's/^{"id":"\([^"]*\)".*/\1/p' "$T/create.body"
}
code_of() {
    in_sh "curl -s -m 10 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $API' \
        http://127.0.0.1/sessions/$1"
}
sid=$(create)
check "a session is created" test -n "$sid"
[ -n "$sid" ] || cat "$T/create.body"
inside systemctl kill -s KILL --kill-whom=main steel-spawner
new_spawner() { p=$(mainpid steel-spawner) && [ "$p" != 0 ] && [ "$p" != "$SP" ]; }
check_within "killing the spawner's main process: systemd starts a new one" 15 new_spawner
if ! check_within "... which adopts the live workers" 15 \
    in_sh "journalctl -q -o cat -u steel-spawner | grep -q 'adopted [1-9][0-9]* workers'"; then
    inside journalctl --no-pager -q -o cat -u steel-spawner -n 30
fi
check_eq "... and the session lives on" 200 "$(code_of "$sid")"
SP=$(mainpid steel-spawner)
before=$(inside ps -eo pid=,uid= | awk '$2 >= 65600 && $2 <= 65855 { printf "%s ", $1 }')
check "systemctl restart steel-spawner" inside 60 systemctl restart steel-spawner
check_eq "... ends the live session (its worker is stopped)" 404 "$(code_of "$sid")"
gone=1
for p in $before; do inside kill -0 "$p" 2>/dev/null && gone=0; done
check_eq "... and every worker of the old spawner" 1 "$gone"
check_within "... and the new spawner fills the pool" 30 idle 2
sid=$(create)
check_eq "a new session after the restart answers" 200 "$(code_of "$sid")"

# ---- the reaper's timer --------------------------------------------------------------

mark=$(inside date '+%Y-%m-%d %H:%M:%S')
check "the resident reaper stops, its timer starts" \
    inside systemctl stop steel-reaper
inside systemctl start steel-reaper.timer
check_within "steel-reaper.timer runs passes of steel-reaper-once.service" 20 \
    in_sh "journalctl -q -u steel-reaper-once --since '$mark' | grep -q ."
inside systemctl stop steel-reaper.timer steel-reaper-once.service

# ---- the hardening, measured on the running units ------------------------------------

inside systemctl start steel-reaper
for u in steel-spawner steel-reaper; do
    score=$(inside systemd-analyze security --no-pager "$u.service" 2>/dev/null |
        sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\) .*$/\1/p')
    check "systemd-analyze security $u: at most 2.5 (${score:-none})" \
        awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.5) }'
done

# ---- stop and purge ----------------------------------------------------------------------

check "systemctl stop steel-spawner steel-reaper" inside 60 systemctl stop steel-spawner steel-reaper
check "no worker process is left" \
    in_sh '! ps -eo uid= | awk "\$1 >= 65600 && \$1 <= 65855" | grep -q .'
cg=$(inside systemctl show -p ControlGroup --value steel-spawner)
check "steel-spawner.service's cgroup holds no process" \
    in_sh "[ -z '$cg' ] || ! cat /sys/fs/cgroup/unified$cg/cgroup.procs /sys/fs/cgroup$cg/cgroup.procs 2>/dev/null | grep -q ."
check "... and no worker group is left ($UNIT_CG)" \
    in_sh "[ -n '$UNIT_CG' ] && ! ls -d /sys/fs/cgroup/unified$UNIT_CG/workers/w* /sys/fs/cgroup$UNIT_CG/workers/w* 2>/dev/null | grep -q ."
check "apt purge steel-orchestrator" \
    in_sh 120 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q steel-orchestrator >/root/purge.log 2>&1'
check "... leaves no unit" in_sh '! systemctl list-unit-files "steel-*" --no-legend | grep -q .'
check "... no user steel or steel-worker" in_sh '! getent passwd steel && ! getent passwd steel-worker'
check "... no configuration, log or run directory" \
    in_sh '! ls -d /etc/steel-orchestrator /var/log/steel-orchestrator /run/steel-orchestrator 2>/dev/null | grep -q .'
check "... nor the workers' nftables table" \
    in_sh '! nft list table inet steel_orchestrator >/dev/null 2>&1'
check "... and lighttpd still runs without the module" \
    in_sh 'systemctl reload lighttpd && systemctl is-active -q lighttpd'

stop_container
check "the container shut down" test -z "$NSPAWN_PID"
lib_finish
