#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# hostile-worker.sh - a compromised worker reaches nothing, kills nothing
# and outlives nothing (ARCHITECTURE.md invariant 10; NOTES.md section 6).
#
# A real stack (tests/stack.sh) as root: workers run as a user of this
# test's own (worker_user) with one uid per slot (worker_uid_range, 16
# uids no account uses), in cgroups of their own with
# worker_cgroup_memory_mb and worker_cgroup_pids, behind the shipped
# nftables rules loaded for those uids (a table of the test's own, removed
# at the end), Redis with its password, ACL users and a root-only unix
# socket, the operator routes behind admin_token.  The worker is a wrapper
# ($T/browser) that takes one attack plan, if one is left, and runs it
# from the worker's position (its uid, its cgroup) beside the real worker,
# the emulator, which it execs (tests/hostile-attack.py has the attacks):
#
#   probe   escape (setsid env -i, and a double fork into a new session
#           with an empty environment) into processes that wait for the
#           worker's end and then act on another session; read another
#           worker's /proc/<pid>/mem (read, and open read-write) and
#           environ, signal it; its /status and session on its port; the
#           session API (GET, DELETE, create) and the operator routes
#           (/workers, the session list, /metrics) through lighttpd on
#           loopback; Redis by TCP and by unix socket: a write and a forged
#           worker record; then bind every free port of the range and hold
#           them.  The worker is then hung (SIGSTOP): the reaper's hang
#           kill must end its whole group, escapes included, and nothing
#           acts after; the pool refills once the ports are free.
#   fork    a fork bomb: it stops at worker_cgroup_pids; the node, the
#           other workers and their sessions go on.
#   hog     the worker's main process allocates past
#           worker_cgroup_memory_mb: the worker ends with reason oom (the
#           spawner's log, steel_worker_exits_total{kind="oom"} in
#           /metrics); no other session is touched.
#
# Each outcome is a line in a file of the worker's own (a sticky directory
# that the test reads).  Before the attacks, the same probe and escape run
# as the test's root outside every worker group (with the Redis password
# and the admin token it holds), on sessions of their own: there each must
# succeed, so that a broken attack is never taken for a protection.  The
# fork bomb and the hog show theirs by their own figures (the forks fill
# the group; the hog's memory reaches the limit).
#
# Reading another worker's memory or environment and signalling it are
# refused by the uid per slot; programs without worker_uid_range (one
# worker_user for all) would let them through, and the test then prints
# those outcomes as known open ("# OPEN") without counting them.  A forged record that the test itself writes is
# tests/reaper-forged.sh's and tests/cgroup-worker.sh's (the reaper
# signals nothing outside a worker group); here the check is that a worker
# cannot write one at all.
#
# At the end: every other session still answers GET 200 with its data,
# the stack still creates, and after stack_down no process of the worker
# users and no worker group is left.  Root only (77 otherwise, or without
# useradd, setpriv, nft or /usr/bin/python3).

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"
. "$top_srcdir/tests/hostile-lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: worker users, cgroups and nftables need root"
    exit 77
fi
for p in useradd userdel setpriv nft curl ps /usr/bin/python3; do
    command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
done
EMU=$top_builddir/tester/steel-browser-emu
[ -x "$EMU" ] || { echo "SKIP: $EMU is not built (run make)"; exit 77; }
lib_init

WU=sth$$
TABLE=steel_hw$$
PS_UIDS=
cleanup() {
    local rc=$?
    if [ "$rc" != 0 ] || [ "$LIB_FAILED" != 0 ]; then
        [ -n "$STACK_RUN" ] && stack_logs 30
    fi
    stack_down >/dev/null 2>&1
    (exit $rc)
    lib_cleanup
    # What a worker uid still runs after a failure (a stopped worker
    # included) is the test's: by pid, before its user goes.
    for p in $(hl_uid_pids "$PS_UIDS"); do
        kill -KILL "$p" 2>/dev/null
    done
    hl_fw_down "$TABLE"
    # Users go last: userdel refuses while a process of theirs runs.
    hl_deluser "$WU"
}
trap cleanup EXIT
hl_mkuser "$WU" || { not_ok "the worker user is created"; lib_finish; }
WUID=$(id -u "$WU")
# One uid per worker slot (worker_uid_range) where the programs have it:
# 16 uids that no account and no /etc/subuid line uses, away from
# tests/worker-uid.sh's.  Without it every worker is worker_user.
free_range() { # LO HI
    local u
    for u in $(seq "$1" "$2"); do
        getent passwd "$u" >/dev/null && return 1
    done
    ! awk -F: -v lo="$1" -v hi="$2" \
        'NF >= 3 && $2 <= hi && lo <= $2 + $3 - 1 { f = 1 } END { exit !f }' \
        /etc/subuid 2>/dev/null
}
PER_SLOT=0 UID_LO=
if grep -q '"worker_uid_range"' "$top_srcdir/common/conf.c"; then
    for try in 1 2 3 4 5 6 7 8; do
        lo=$((110000 + (($$ + try * 7919) % 5000) * 16))
        if free_range "$lo" $((lo + 15)); then UID_LO=$lo; break; fi
    done
    [ -n "$UID_LO" ] || { echo "SKIP: no free uid range found"; exit 77; }
    PER_SLOT=1
fi
# The worker uids: a comma-separated list for ps and the nftables set.
UIDS=$WUID${UID_LO:+,$UID_LO-$((UID_LO + 15))}
PS_UIDS=$WUID${UID_LO:+,$(seq -s, "$UID_LO" $((UID_LO + 15)))}

# The worker traverses $T (it cannot list it) to the wrapper, the attack
# script, its plan and its outcome directory.
chmod 711 "$T"
mkdir -m 0777 "$T/plans" && mkdir "$T/out" && chmod 1733 "$T/out" ||
    { not_ok "the plan and outcome directories"; lib_finish; }
install -m 0755 "$top_srcdir/tests/hostile-attack.py" "$T/attack.py"
ATTACK=$T/attack.py
cat >"$T/browser" <<EOS
#!/bin/sh
# The first plan left is this worker's: it runs beside the real worker
# (the hog as the worker's main process, the emulator its child).
for plan in probe fork hog; do
    if mv "$T/plans/\$plan" "$T/plans/\$plan.\$PORT" 2>/dev/null; then
        if [ "\$plan" = hog ]; then
            "$EMU" &
            exec /usr/bin/python3 "$ATTACK" hog "$T/plans/info" "$T/out/hog.\$PORT"
        fi
        /usr/bin/python3 "$ATTACK" "\$plan" "$T/plans/info" "$T/out/\$plan.\$PORT" </dev/null &
        break
    fi
done
exec "$EMU"
EOS
chmod 755 "$T/browser"

check "the node's rules load for the worker's uid (table $TABLE)" \
    hl_fw_up "$TABLE" "$UIDS"

HTTP_PORT=$(free_port)
WPORTS=$(worker_ports 100) || exit 1
PORT_LO=${WPORTS%-*} PORT_HI=${WPORTS#*-}
MEM_MB=128 PIDS_MAX=48
cat >"$T/hostile.conf" <<CONF
session_ttl = 120
pool_idle_target = 3
pool_max_workers = 14
create_wait = 15
reap_interval = 1
probe_timeout_ms = 1000
probe_failures = 2
stray_scan_interval = 1
fcgi_threads = 4
fcgi_create_threads = 4
worker_user = $WU
worker_cgroup_memory_mb = $MEM_MB
worker_cgroup_pids = $PIDS_MAX
CONF
if [ "$PER_SLOT" = 1 ]; then
    printf 'worker_uid_range = %s\nworker_home_dir = %s\n' \
        "$UID_LO-$((UID_LO + 15))" "$T/homes" >>"$T/hostile.conf"
fi
export STEEL_BROWSER_BIN=$T/browser
export STEEL_WORKER_PORTS="$PORT_LO-$PORT_HI"
stack_init "$T/run" "$HTTP_PORT"
chmod 711 "$T/run"
STEEL_CONF=$T/hostile.conf stack_up || { not_ok "the stack starts"; lib_finish; }
P=$STACK_PREFIX
REDIS_PORT=$STACK_REDIS_PORT
U=$(stack_url)
ADMIN=(-H "Authorization: Bearer $STACK_ADMIN_TOKEN")
idle_pid() {
    pid=$(hl_whash "$(rcli_raw LINDEX "$P:idle" 0)" pid)
    [ -n "$pid" ]
}
wait_for 10 idle_pid
idle_pid
check "workers run as a worker uid" \
    bash -c '[[ ,$1, == *,$2,* ]]' _ "$PS_UIDS" "$(ps -o uid= -p "$pid" | tr -d ' ')"
check "workers run in a worker group" \
    bash -c '[[ $(sed -n "s/^0:://p" /proc/$1/cgroup) == */workers/w* ]]' _ "$pid"

# ---- sessions: victims, and sacrificial ones for the root run --------------
for s in v1 v2 s1 s2 s3; do
    check "session $s is created" hl_create "$s"
done
# info NAME PAIRS... - the attack plan's facts, one KEY=VALUE a line.
info() {
    local f=$1
    shift
    {
        echo "HTTP_PORT=$HTTP_PORT"
        echo "REDIS_PORT=$REDIS_PORT"
        echo "REDIS_SOCK=$(stack_redis_socket)"
        echo "PREFIX=$P"
        echo "PORT_LO=$PORT_LO"
        echo "PORT_HI=$PORT_HI"
        printf '%s\n' "$@"
    } >"$f" && chmod 644 "$f"
}
# at NAME - "pid:port:sid" of NAME's worker and session.
at() {
    local w
    w=$(hl_worker_of "$1")
    echo "$(hl_whash "$w" pid):$(hl_whash "$w" port):$(hl_sid "$1")"
}
port_of() {
    hl_whash "$(hl_worker_of "$1")" port
}

# ---- the attacks work: the same code as root, outside every group ----------
mkdir -m 0700 "$T/root-out"
touch "$T/root-after"
info "$T/root.info" "VICTIMS=$(at v1)" \
    "DEL_PORT=$(port_of s1)" "DEL_SID=$(hl_sid s1)" "API_DEL_SID=$(hl_sid s2)" \
    "AGENT_PORT=$(port_of s3)" "AGENT_SID=$(hl_sid s3)" "AFTER=$T/root-after" \
    "TOKEN=$STACK_ADMIN_TOKEN" "REDIS_PASS=$STACK_REDIS_PASSWORD" ESCAPE=1 SQUAT=0
check "the probe runs as root" \
    timeout 60 /usr/bin/python3 "$ATTACK" probe "$T/root.info" "$T/root-out/probe"
root_agents() {
    [ "$(cat "$T"/root-out/agent.* 2>/dev/null | grep -c '^agent-acted ')" = 2 ]
}
check_eventually "as root, both escapes act" 15 root_agents
for f in "$T"/root-out/agent.*; do
    track_pid "${f##*.}"
done
ROOT=$T/root-out/probe
for a in mem-read mem-open-rw environ signal worker-status worker-get api-get \
    worker-delete api-delete op-workers op-list op-metrics api-create \
    redis-tcp-connect redis-tcp-write redis-tcp-forge \
    redis-unix-connect redis-unix-write redis-unix-forge; do
    check "as root the attack works: $a" hl_all "$ROOT" "$a" "done"
done
for a in agent-acted-get agent-acted-delete; do
    check "as root an escape acts: $a" \
        bash -c 'cat "$1"/root-out/agent.* | grep -q "^$2 done "' _ "$T" "$a"
done
for s in s1 s2 s3; do
    check_eq "the root run ended session $s" 404 "$(hl_code "$s")"
done
rcli DEL "$P:hostile" "$P:worker:hostile-forged" >/dev/null
for s in v1 v2; do
    check "session $s still has its data" hl_has_data "$s"
done

# ---- the attackers -------------------------------------------------------------
V1=$(at v1) V2=$(at v2)
info "$T/plans/info" "VICTIMS=$V1 $V2" \
    "DEL_PORT=$(port_of v2)" "DEL_SID=$(hl_sid v2)" "API_DEL_SID=$(hl_sid v1)" \
    "AGENT_PORT=$(port_of v1)" "AGENT_SID=$(hl_sid v1)" "AFTER=$T/after" \
    ESCAPE=1 SQUAT=1 "GO_PROBE=$T/go-probe" "GO_FORK=$T/go-fork" "GO_HOG=$T/go-hog"
# The next three workers to start take a plan each; creates make room.
touch "$T/plans/probe" "$T/plans/fork" "$T/plans/hog"
left() {
    local f n=0
    for f in probe fork hog; do
        [ -e "$T/plans/$f" ] && n=$((n + 1))
    done
    echo "$n"
}
taken() {
    [ "$(left)" = 0 ]
}
fewer() {
    [ "$(left)" -lt "$1" ]
}
# A create that leaves fewer idle workers than the target starts one: a
# create, then a short wait for a plan to go, until all three went.
OTHERS="v1 v2"
end=$((SECONDS + 40))
for i in 1 2 3 4 5 6 7 8 9 10 11; do
    n=$(left)
    [ "$n" = 0 ] || [ "$SECONDS" -ge "$end" ] && break
    hl_create "a$i" && OTHERS="$OTHERS a$i"
    wait_for 2 fewer "$n"
done
wait_for 10 taken
check "three new workers took the plans" taken
plan_port() {
    local f
    for f in "$T/plans/$1".*; do
        [ -e "$f" ] && echo "${f##*.}"
    done
}
PPORT=$(plan_port probe) FPORT=$(plan_port fork) HPORT=$(plan_port hog)
registered() {
    hl_worker_at "$PPORT" && hl_worker_at "$FPORT" && hl_worker_at "$HPORT"
}
check_eventually "the three attackers are registered workers" 20 registered
PW=$(hl_worker_at "$PPORT") FW=$(hl_worker_at "$FPORT") HW=$(hl_worker_at "$HPORT")
[ -n "$PW" ] && [ -n "$FW" ] && [ -n "$HW" ] || lib_finish
echo "# attackers: probe worker $PW (port $PPORT), fork $FW ($FPORT), hog $HW ($HPORT)"
# others - the sessions of OTHERS on no attacker (a session on one may go
# with it, as the fork bomb's may: a Go worker cannot start a thread at
# pids.max).
others() {
    local s
    for s in $OTHERS; do
        case " $PW $FW $HW " in *" $(hl_wid "$s") "*) ;; *) echo "$s" ;; esac
    done
}

# ---- probe: everything the worker reaches, then escapes and a squat -----------
touch "$T/go-probe"
OUT=$T/out/probe.$PPORT
check_eventually "the probe finishes" 30 grep -q '^finished ' "$OUT"
for a in worker-status worker-get api-get worker-delete api-delete \
    op-workers op-list op-metrics api-create \
    redis-tcp-connect redis-tcp-write redis-tcp-forge \
    redis-unix-connect redis-unix-write redis-unix-forge; do
    check "the worker cannot: $a" hl_all "$OUT" "$a" denied
done
for a in mem-read mem-open-rw environ signal; do
    if [ "$PER_SLOT" = 1 ]; then
        check "the worker cannot: $a (one uid per slot)" hl_all "$OUT" "$a" denied
    elif hl_all "$OUT" "$a" denied >/dev/null; then
        echo "# $a: denied even with one uid for all workers"
    else
        echo "# OPEN (one uid for all workers): $(hl_outcome "$OUT" "$a" | head -n 1)"
    fi
done
check "the squat holds ports of the range" hl_all "$OUT" squat "done"
# The squat lasts as long as its worker: meanwhile the spawner skips the
# held ports (tests/port-squat.sh) and cannot start workers on them.
echo "# during the squat: $(rcli LLEN "$P:idle") idle workers"
check_eq "nothing was written to Redis" 0 \
    "$(rcli EXISTS "$P:hostile" "$P:worker:hostile-forged")"
agents() {
    local f
    for f in "$T"/out/agent.*; do
        [ -e "$f" ] && echo "${f##*.}"
    done
}
two_agents() {
    [ "$(agents | wc -l)" = 2 ] && [ "$(cat "$T"/out/agent.* | grep -c '^agent-alive ')" = 2 ]
}
check_eventually "both escapes run" 10 two_agents
PPID_W=$(hl_whash "$PW" pid)
GROUP=$(hl_group "$PPID_W")
check "the probe worker runs in a worker group" test -n "$PPID_W" -a "${GROUP%/w*}" != "$GROUP"
[[ $GROUP == */workers/w* ]] || lib_finish
for a in $(agents); do
    check_eq "escape $a is in the worker's group" "$GROUP" "$(hl_group "$a")"
    line=$(hl_outcome "$T/out/agent.$a" agent-alive)
    echo "# $line"
    check "escape $a left the worker's session" \
        test "$(awk '{ print $6 }' "/proc/$a/stat")" != "$(awk '{ print $6 }' "/proc/$PPID_W/stat")"
    check "escape $a has none of the worker's environment" \
        bash -c '[[ $1 == *" env "* ]] && [[ $1 != *PORT* ]] && [[ $1 != *STEEL_* ]]' _ "$line"
done
MEMBERS=$(cat "$(hl_cg2)$GROUP/cgroup.procs")
echo "# the probe worker's group $GROUP:" $MEMBERS

# The worker hangs: the reaper's hang kill ends its whole group.
kill -STOP "$PPID_W"
none_alive() {
    ! hl_alive "$@"
}
# shellcheck disable=SC2086
check_eventually "nothing of the hung worker's group survives" 30 none_alive $MEMBERS
check "the reaper killed it" grep -q "worker $PW .*kill" "$T/run/reaper.log"
touch "$T/after"
check "no escape acted after the worker's end" \
    bash -c '! cat "$1"/out/agent.* | grep -q "^agent-acted"' _ "$T"
idle_ok() {
    [ "$(rcli LLEN "$P:idle")" -ge 3 ]
}
check_eventually "the pool refills to its idle target once the squat is gone" 30 idle_ok

# ---- fork bomb ---------------------------------------------------------------------
FG=$(hl_group "$(hl_whash "$FW" pid)")
PD=$(hl_pids_dir "$FG")
touch "$T/go-fork"
OUT=$T/out/fork.$FPORT
check_eventually "the fork bomb finishes" 30 grep -q '^finished ' "$OUT"
check "the kernel refused forks" hl_all "$OUT" fork denied
forked=$(sed -n 's/^fork .*forked \([0-9]*\).*/\1/p' "$OUT")
check "the bomb did fork, up to the group's limit (the attack works)" \
    test "${forked:-0}" -ge $((PIDS_MAX / 2))
if [ -n "$PD" ]; then
    check "the group holds at most worker_cgroup_pids ($PIDS_MAX)" \
        test "$(cat "$PD/pids.current" 2>/dev/null || echo 0)" -le "$PIDS_MAX"
    check "the pids controller counted the refusals" \
        test "$(sed -n 's/^max //p' "$PD/pids.events" 2>/dev/null || echo 0)" -gt 0
fi
check "the node still forks" bash -c 'true & wait'
if hl_create f1; then
    ok "the stack creates beside the bomb"
    OTHERS="$OTHERS f1"
else
    not_ok "the stack creates beside the bomb"
fi

# ---- memory hog ----------------------------------------------------------------------
touch "$T/go-hog"
check_eventually "the hog's worker ends with reason oom" 30 \
    grep -q "worker $HW .*oom: over worker_cgroup_memory_mb ($MEM_MB MiB)" \
    "$T/run/spawner.log"
mb=$(hl_outcome "$T/out/hog.$HPORT" hog | tail -n 1 | sed -n 's/.* mb \([0-9]*\).*/\1/p')
echo "# the hog had $mb MiB when it was killed"
check "the hog did allocate (the attack works)" test "${mb:-0}" -ge $((MEM_MB / 2))
oom_counted() {
    [ "$(rcli_raw HGET "$P:stats" worker_exits:oom)" -ge 1 ] 2>/dev/null
}
oom_metric() {
    curl -s -m 10 "${ADMIN[@]}" "$U/metrics" |
        grep -Eq '^steel_worker_exits_total\{kind="oom"\} [1-9]'
}
check_eventually "worker_exits:oom is counted" 10 oom_counted
check_eventually "/metrics shows steel_worker_exits_total{kind=\"oom\"}" 10 oom_metric

# ---- nothing else was touched --------------------------------------------------------
for s in $(others); do
    check "session $s still answers GET 200 with its data" hl_has_data "$s"
done
check "victim v1's worker is the same process" stack_pid_live "${V1%%:*}"
check "victim v2's worker is the same process" stack_pid_live "${V2%%:*}"
check "the stack still creates" hl_create end
check "and serves what it created" hl_has_data end
stray() {
    local p g
    for p in $(hl_uid_pids "$PS_UIDS"); do
        g=$(hl_group "$p")
        [[ $g == */workers/w* ]] || echo "$p (group $g)"
        echo "$g" >>"$T/groups"
    done
    for g in $(sort -u "$T/groups" 2>/dev/null); do
        [[ $g == */workers/w* ]] || continue
        [ -n "$(hl_whash "${g##*/w}" pid)" ] || echo "group $g (no worker)"
    done
}
# A worker that ended (the fork bomb's may) takes its group along within
# the spawner's housekeeping.
no_stray() {
    rm -f "$T/groups"
    [ -z "$(stray)" ]
}
check_eventually "every process of a worker uid is in the group of a live worker" 10 no_stray
stray

stack_down
check_eq "stack_down left nothing behind" 0 "$STACK_LEFTOVERS"
check_eq "no process of a worker uid is left" "" "$(hl_uid_pids "$PS_UIDS")"
check_eq "no worker group is left" "" "$(stack_cgroup_dirs)"
hl_fw_down "$TABLE"
check "the test's table is removed" bash -c "! nft list tables | grep -qw '$TABLE'"
lib_finish
