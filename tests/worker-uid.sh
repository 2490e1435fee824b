#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# worker-uid.sh - one uid per worker slot (worker_uid_range, common/
# privsep.h), with the real spawner and emulator workers behind a
# STEEL_BROWSER_BIN wrapper that, as the worker, attacks the other worker
# before it execs the emulator:
#   - the two workers run as two uids of the range, in worker_user's group;
#   - worker A cannot read /proc/<B>/environ, open /proc/<B>/mem (read or
#     read-write) or signal B, and the other way round;
#   - a slot's home (<worker_home_dir>/<uid>) is HOME, TMPDIR and the
#     working directory; its uid may write it, the other slot's uid and
#     worker_user may not enter it, and its uid cannot open it to them;
#     it is empty for the slot's next worker: what the last one left (a
#     file, a directory it locked, mode 000) is gone; and it is emptied
#     when its worker ends, even when no worker takes the slot;
#   - the stack serves create, GET and DELETE;
#   - a new spawner adopts the workers with their slots: a slot held by
#     an adopted worker is not handed out again;
#   - the spawner refuses a range smaller than pool_max_workers, or one
#     that holds an account's uid.
# Creates a user and removes it.  Skipped (exit 77) when not run as root or
# without useradd or setpriv.

. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/stack.sh"

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: worker uids need root (setuid to the slots' uids)"
    exit 77
fi
for p in useradd userdel setpriv curl; do
    command -v "$p" >/dev/null || { echo "SKIP: $p is not installed"; exit 77; }
done
EMU=$top_builddir/tester/steel-browser-emu
[ -x "$EMU" ] || { echo "SKIP: $EMU is not built (run make)"; exit 77; }
lib_init

WU=stu$$
users_del() {
    userdel "$WU" >/dev/null 2>&1
    getent group "$WU" >/dev/null && groupdel "$WU" >/dev/null 2>&1
    return 0
}
trap 'stack_down >/dev/null 2>&1; lib_cleanup; users_del' EXIT
useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$WU" || { not_ok "test user created"; lib_finish; }
WGID=$(id -g "$WU")

# Two uids no account and no /etc/subuid line uses.
free_range() { # LO HI
    local u
    for u in $(seq "$1" "$2"); do
        getent passwd "$u" >/dev/null && return 1
    done
    ! awk -F: -v lo="$1" -v hi="$2" \
        'NF >= 3 && $2 <= hi && lo <= $2 + $3 - 1 { f = 1 } END { exit !f }' \
        /etc/subuid 2>/dev/null
}
LO=
for try in 1 2 3 4 5 6 7 8; do
    lo=$((70000 + (($$ + try * 7919) % 20000) * 2))
    if free_range "$lo" $((lo + 1)); then LO=$lo; break; fi
done
[ -n "$LO" ] || { echo "SKIP: no free uid range found"; exit 77; }
HI=$((LO + 1))

# The worker may traverse to the run directory, its wrapper and its home.
chmod 711 "$T"
mkdir -m 1777 "$T/out"
cat >"$T/wrap.sh" <<EOS
#!/bin/bash
# As the worker: what its home holds, then an attack on the other slot's
# worker, in the background, then the emulator in its place.
out=$T/out/\$(id -u).\$\$
{
    echo "uid \$(id -u)"
    echo "gid \$(id -g)"
    echo "groups \$(id -G)"
    echo "home \$HOME"
    echo "tmpdir \${TMPDIR:-}"
    echo "cwd \$(pwd)"
    echo "entries \$(ls -A "\$HOME" | wc -l)"
} >"\$out.tmp" && mv "\$out.tmp" "\$out.start"
echo "session data of \$\$" >"\$HOME/secret-\$\$"
mkdir -p "\$HOME/locked/sub" && echo x >"\$HOME/locked/sub/f" && chmod 000 "\$HOME/locked"
(
    me=\$(id -u)
    for i in \$(seq 1 600); do
        for s in /proc/[0-9]*/status; do
            u=
            while read -r k v _; do
                [ "\$k" = Uid: ] && { u=\$v; break; }
            done <"\$s" 2>/dev/null
            [ -n "\$u" ] && [ "\$u" != "\$me" ] && [ "\$u" -ge $LO ] && [ "\$u" -le $HI ] || continue
            p=\${s#/proc/}
            p=\${p%/status}
            env=denied mem=denied memrw=denied sig=denied
            cat "/proc/\$p/environ" >/dev/null 2>&1 && env=READ
            (exec 3<"/proc/\$p/mem") 2>/dev/null && mem=OPENED
            (exec 3<>"/proc/\$p/mem") 2>/dev/null && memrw=OPENED
            kill -0 "\$p" 2>/dev/null && sig=SENT
            echo "victim \$p uid \$u environ \$env mem \$mem memrw \$memrw signal \$sig" >"\$out.atk.tmp"
            mv "\$out.atk.tmp" "\$out.attack"
            exit 0
        done
        sleep 0.05
    done
) </dev/null >/dev/null 2>&1 &
exec "$EMU"
EOS
chmod 755 "$T/wrap.sh"

HTTP_PORT=$(free_port)
cat >"$T/uid.conf" <<CONF
session_ttl = 30
pool_idle_target = 2
pool_max_workers = 2
reap_interval = 1
fcgi_threads = 4
fcgi_create_threads = 4
worker_user = $WU
worker_uid_range = $LO-$HI
worker_home_dir = $T/homes
worker_env = STEEL_EMU_*
CONF
export STEEL_BROWSER_BIN=$T/wrap.sh
STEEL_WORKER_PORTS=$(worker_ports 100) || exit 1
export STEEL_WORKER_PORTS
stack_init "$T/run" "$HTTP_PORT"
chmod 711 "$T/run"
STEEL_CONF=$T/uid.conf stack_up || { not_ok "stack starts"; stack_logs 20; lib_finish; }
U=$(stack_url)
check "the spawner logs the slots' uids" \
    grep -q "workers run as one uid per slot, $LO-$HI (gid $WGID of $WU)" "$T/run/spawner.log"
check "no isolation warning" bash -c '! grep -q "NOT ISOLATED" "$1"' _ "$T/run/spawner.log"

# ---- two workers, two uids, and what each could do to the other ------------

two_started() {
    [ -n "$(ls "$T/out/$LO".*.start 2>/dev/null)" ] &&
        [ -n "$(ls "$T/out/$HI".*.start 2>/dev/null)" ]
}
check_eventually "a worker started in each slot" 20 two_started
uids=$(for p in $(stack_worker_pids); do
    awk '/^Uid:/ {print $2}' "/proc/$p/status" 2>/dev/null
done | sort -u | tr '\n' ' ')
check_eq "the workers run as the two uids of the range" "$LO $HI " "$uids"
for u in $LO $HI; do
    f=$(ls "$T/out/$u".*.start | head -n 1)
    check_eq "slot $u: uid and gid" "uid $u gid $WGID groups $WGID" \
        "$(grep -E '^(uid|gid|groups) ' "$f" | paste -sd' ')"
    check "slot $u: HOME, TMPDIR and cwd are its home" \
        bash -c 'grep -qx "home $2" "$1" && grep -qx "tmpdir $2" "$1" && grep -qx "cwd $2" "$1"' \
        _ "$f" "$T/homes/$u"
done
# as_uid UID CMD... - CMD as UID in the workers' group, no capabilities.
as_uid() {
    local u=$1
    shift
    env -i PATH=/usr/bin:/bin setpriv --reuid="$u" --regid="$WGID" \
        --clear-groups --inh-caps=-all "$@"
}
fails_as() { # fails_as UID CMD... - CMD as UID fails
    ! as_uid "$@" >/dev/null 2>&1
}
for u in $LO $HI; do
    other=$((LO + HI - u))
    check "slot $u: its uid may write its home" \
        as_uid "$u" touch "$T/homes/$u/.probe"
    check "slot $u: the other slot's uid cannot list or enter it" \
        fails_as "$other" ls "$T/homes/$u"
    check "slot $u: nor read a file in it" \
        fails_as "$other" cat "$T/homes/$u/.probe"
    check "slot $u: worker_user cannot list it either" \
        fails_as "$(id -u "$WU")" ls "$T/homes/$u"
    check "slot $u: its uid cannot open its home to others (not its owner)" \
        fails_as "$u" chmod 777 "$T/homes/$u"
done

attacked() {
    [ -n "$(ls "$T/out/$LO".*.attack 2>/dev/null)" ] &&
        [ -n "$(ls "$T/out/$HI".*.attack 2>/dev/null)" ]
}
check_eventually "each worker attacked the other" 30 attacked
for u in $LO $HI; do
    other=$((LO + HI - u))
    f=$(ls "$T/out/$u".*.attack | head -n 1)
    check "worker $u found a process of $other" grep -q "uid $other " "$f"
    check_eq "worker $u cannot read, open nor signal the other's process" \
        "environ denied mem denied memrw denied signal denied" \
        "$(sed 's/.* environ /environ /' "$f")"
done

# ---- the stack serves ---------------------------------------------------------

code=$(curl -s -m 15 -o "$T/c.out" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d '{"p":1}' "$U/sessions")
check "create answers 201 or 200" bash -c '[ "$1" = 201 ] || [ "$1" = 200 ]' _ "$code"
id=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$T/c.out")
check_eq "GET answers 200" 200 \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$U/sessions/$id")"
check_eq "DELETE answers 204" 204 \
    "$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X DELETE "$U/sessions/$id")"

# ---- a slot's home is fresh for its next worker --------------------------------

first=$(ls "$T/out/$LO".*.start | head -n 1)
old=${first#"$T/out/$LO."}
old=${old%.start}
check "the first worker of slot $LO left its files" \
    test -e "$T/homes/$LO/secret-$old" -a -d "$T/homes/$LO/locked"
kill -KILL "$old"
next_started() {
    local f
    for f in "$T/out/$LO".*.start; do
        [ "$f" != "$first" ] && [ -e "$f" ] && return 0
    done
    return 1
}
# The range has two uids for two workers: the replacement takes the slot.
check_eventually "a new worker started in slot $LO" 30 next_started
f=$(for g in "$T/out/$LO".*.start; do [ "$g" != "$first" ] && echo "$g"; done | head -n 1)
check_eq "its home was empty when it started" "entries 0" "$(grep '^entries ' "$f")"
check "the last worker's file is gone" test ! -e "$T/homes/$LO/secret-$old"
check "the other slot's uid still cannot enter it" fails_as "$HI" ls "$T/homes/$LO"
other=$(basename "$(ls "$T/out/$HI".*.start | head -n 1)" | cut -d. -f2)
check "the other slot's worker still runs" kill -0 "$other"

# ---- a new spawner adopts the workers with their slots ---------------------------

newest=$(basename "$f" | cut -d. -f2)
kill -KILL "$(stack_pid spawner)"
STEEL_CONF=$T/uid.conf stack_up >/dev/null 2>&1 || not_ok "the spawner starts again"
check "both workers survive the spawner's restart" kill -0 "$other" "$newest"
# The adopted worker of slot HI leaves; its slot is the only free one,
# whatever the new spawner would try first.
kill -KILL "$other"
again() {
    [ "$(ls "$T/out/$HI".*.start | wc -l)" -ge 2 ]
}
check_eventually "a new worker started in slot $HI, the adopted one's" 30 again
check "no worker started in slot $LO, held by the adopted worker" \
    test "$(ls "$T/out/$LO".*.start | wc -l)" = 2
stack_down >/dev/null 2>&1

# ---- a slot's home is emptied when its worker ends ---------------------------------

# One worker and two slots: the replacement of a worker takes the other
# slot, and the first slot's home is emptied all the same.
starts() {
    ls "$T/out/"*.start 2>/dev/null | wc -l
}
before=$(starts)
stack_conf_set "$T/uid.conf" pool_max_workers 1
stack_conf_set "$T/uid.conf" pool_idle_target 1
STEEL_CONF=$T/uid.conf stack_up >/dev/null 2>&1 || not_ok "the stack starts with one worker"
more_starts() {
    [ "$(starts)" -gt "$1" ]
}
check_eventually "one worker started" 20 more_starts "$before"
f=$(ls -t "$T/out/"*.start | head -n 1)
u=$(basename "$f" | cut -d. -f1)
p=$(basename "$f" | cut -d. -f2)
has_secret() {
    test -e "$T/homes/$u/secret-$p"
}
check_eventually "it wrote to its home" 10 has_secret
before=$(starts)
kill -KILL "$p"
check_eventually "its replacement started" 20 more_starts "$before"
g=$(ls -t "$T/out/"*.start | head -n 1)
check "the replacement took the other slot" \
    test "$(basename "$g" | cut -d. -f1)" = $((LO + HI - u))
home_empty() {
    [ -z "$(ls -A "$T/homes/$u")" ]
}
check_eventually "the ended worker's home was emptied" 10 home_empty
stack_down >/dev/null 2>&1
check "after the spawner's stop every slot's home is empty" \
    test -z "$(find "$T/homes/$LO" "$T/homes/$HI" -mindepth 1)"

# ---- refusals --------------------------------------------------------------------

refuses() { # refuses NAME PATTERN CMD...
    local name=$1 pat=$2
    shift 2
    if timeout 10 "$@" >"$T/$name.out" 2>&1; then
        return 1
    fi
    grep -q -- "$pat" "$T/$name.out"
}
cp "$T/run/steel-orchestrator.conf" "$T/refuse.conf"
stack_conf_set "$T/refuse.conf" pool_max_workers 3
check "a range smaller than pool_max_workers is refused" \
    refuses small "has fewer uids than pool_max_workers (3)" \
    "$top_builddir/spawner/steel-spawner" -n -f "$T/refuse.conf"
stack_conf_set "$T/refuse.conf" pool_max_workers 2
WUID=$(id -u "$WU")
stack_conf_set "$T/refuse.conf" worker_uid_range "$WUID-$((WUID + 1))"
check "a range holding worker_user's uid is refused" \
    refuses own "holds the uid of worker_user" \
    "$top_builddir/spawner/steel-spawner" -f "$T/refuse.conf"
NB=$(id -u nobody 2>/dev/null || echo 65534)
stack_conf_set "$T/refuse.conf" worker_uid_range "$((NB - 1))-$NB"
check "a range holding an account's uid is refused" \
    refuses account "holds uid $NB of user" \
    "$top_builddir/spawner/steel-spawner" -f "$T/refuse.conf"
check "so is the reaper" refuses reaper "holds uid $NB of user" \
    "$top_builddir/reaper/steel-reaper" --once -f "$T/refuse.conf"
lib_finish
