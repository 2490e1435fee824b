#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# install.sh - the installed system works.  make install DESTDIR=$T/dest,
# then: every file is where it belongs, the units and the lighttpd snippet
# name the installed paths, and the INSTALLED programs run together -
# steel-spawner and steel-reaper from sbindir, lighttpd with the installed
# snippet (only its paths rewritten), the installed steel-fcgi, the
# installed emulator as worker_bin - and pass "steel-tester --only core"
# (the installed one).  Then make install keeps an edited configuration,
# make uninstall keeps it too and removes everything else, and once the
# configuration is the sample again nothing is left.

# shellcheck disable=SC2317 # functions run through check
# shellcheck disable=SC2154 # the directories are set by an eval
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init

DEST=$T/dest
PFX=steel-inst$$
HTTP_PORT=
SPAWNER_PID=

# Processes whose environment carries our key prefix: the workers.
workers_of_ours() {
    local f pid
    for f in /proc/[0-9]*/environ; do
        pid=${f#/proc/}
        pid=${pid%/environ}
        grep -qzxF "STEEL_PREFIX=$PFX" "$f" 2>/dev/null && echo "$pid"
    done
}

# Before lib.sh stops the daemons, remember the workers so that they are
# killed too, whatever happened.
trap 'rc=$?; for p in $(workers_of_ours); do track_pid "$p"; done; (exit $rc); lib_cleanup' EXIT

# mk TARGET... - make in the build tree.  The Go programs are built already
# (make check built them); GO=: keeps make from running go build again,
# which rewrites them in place while other tests may be running them.
mk() {
    make -C "$top_builddir" GO=: DESTDIR="$DEST" "$@"
}
for f in tester/steel-tester tester/steel-browser-emu; do
    if [ ! -x "$top_builddir/$f" ]; then
        not_ok "$f is built (run make first)"
        lib_finish
    fi
done

# The configured directories, from the Makefile itself.
cat >"$T/dirs.mk" <<'EOF'
steel-print-dirs:
	@echo "prefix='$(prefix)' bindir='$(bindir)' sbindir='$(sbindir)'"
	@echo "pkglibexecdir='$(pkglibexecdir)' pkgsysconfdir='$(pkgsysconfdir)'"
	@echo "pkgdatadir='$(pkgdatadir)' lighttpdconfdir='$(lighttpdconfdir)'"
	@echo "systemdunitdir='$(systemdunitdir)' tmpfilesdir='$(tmpfilesdir)'"
	@echo "logrotatedir='$(logrotatedir)' cronexampledir='$(cronexampledir)'"
	@echo "mandir='$(mandir)' localstatedir='$(localstatedir)' runstatedir='$(runstatedir)'"
	@echo "prometheusrulesdir='$(prometheusrulesdir)' statuspagedir='$(statuspagedir)' docdir='$(docdir)'"
EOF
# Only the assignment lines: a make that first regenerates its Makefile
# (Makefile.am newer than Makefile.in) prints configure's output too.
if ! dirs=$(make -s --no-print-directory -C "$top_builddir" -f Makefile -f "$T/dirs.mk" \
    steel-print-dirs | grep -E "^[a-z]+='"); then
    not_ok "the configured directories can be read from the Makefile"
    lib_finish
fi
eval "$dirs"
D_SBIN=$DEST$sbindir D_LIBEXEC=$DEST$pkglibexecdir D_CONF=$DEST$pkgsysconfdir

# ---- make install ---------------------------------------------------------

if ! mk install >"$T/install.log" 2>&1; then
    not_ok "make install DESTDIR=... succeeds"
    tail -n 30 "$T/install.log"
    lib_finish
fi
ok "make install DESTDIR=... succeeds"

for f in "$D_SBIN/steel-spawner" "$D_SBIN/steel-reaper" \
    "$D_LIBEXEC/steel-fcgi" "$D_LIBEXEC/steel-browser-emu" \
    "$DEST$bindir/steel-tester"; do
    check "installed and executable: ${f#"$DEST"}" test -x "$f"
done
for f in "$D_CONF/steel-orchestrator.conf" \
    "$DEST$pkgdatadir/steel-orchestrator.conf" \
    "$DEST$lighttpdconfdir/50-steel-orchestrator.conf" \
    "$DEST$pkgdatadir/lighttpd-errors/503.html" \
    "$DEST$systemdunitdir/steel-spawner.service" \
    "$DEST$systemdunitdir/steel-reaper.service" \
    "$DEST$systemdunitdir/steel-reaper-once.service" \
    "$DEST$systemdunitdir/steel-reaper.timer" \
    "$DEST$systemdunitdir/steel-worker-firewall.service" \
    "$D_CONF/steel-orchestrator.nft" \
    "$DEST$tmpfilesdir/steel-orchestrator.conf" \
    "$DEST$logrotatedir/steel-orchestrator" \
    "$DEST$cronexampledir/steel-reaper" \
    "$DEST$mandir/man1/steel-tester.1" "$DEST$mandir/man5/steel-orchestrator.conf.5" \
    "$DEST$mandir/man8/steel-fcgi.8" "$DEST$mandir/man8/steel-spawner.8" \
    "$DEST$mandir/man8/steel-reaper.8" \
    "$DEST$prometheusrulesdir/steel-orchestrator.rules.yml" \
    "$DEST$statuspagedir/status.html" "$DEST$docdir/OPERATIONS.md"; do
    check "installed: ${f#"$DEST"}" test -f "$f"
done
check "the rules link their runbooks in the installed OPERATIONS.md" \
    grep -q "runbook_url: \"file://$docdir/OPERATIONS.md#alert-" \
    "$DEST$prometheusrulesdir/steel-orchestrator.rules.yml"
if command -v promtool >/dev/null; then
    check "promtool accepts the installed rules" \
        promtool check rules "$DEST$prometheusrulesdir/steel-orchestrator.rules.yml"
fi
check_eq "the configuration is the shipped sample" "" \
    "$(cmp "$D_CONF/steel-orchestrator.conf" "$top_srcdir/etc/steel-orchestrator.conf" 2>&1)"

# lighty-enable-mod steel-orchestrator finds conf-available/NN-<name>.conf.
snippet_name=$(basename "$lighttpdconfdir/50-steel-orchestrator.conf" |
    sed -n 's/^[0-9][0-9]*-\([A-Za-z0-9_.-]*\)\.conf$/\1/p')
check_eq "the snippet is the module lighty-enable-mod calls steel-orchestrator" \
    steel-orchestrator "$snippet_name"

# Generated files carry the installed paths, nothing left to substitute.
unit=$DEST$systemdunitdir/steel-spawner.service
check "steel-spawner.service starts the installed spawner with the installed configuration" \
    grep -qxF "ExecStart=$sbindir/steel-spawner -f $pkgsysconfdir/steel-orchestrator.conf" "$unit"
check "steel-spawner.service checks the file (-n) before SIGHUP on reload" \
    bash -c "grep '^ExecReload=' '$unit' | head -n 1 | grep -q -- ' -n -f '"
check "steel-reaper.service starts the installed reaper" \
    grep -qxF "ExecStart=$sbindir/steel-reaper -f $pkgsysconfdir/steel-orchestrator.conf" \
    "$DEST$systemdunitdir/steel-reaper.service"
check "the cron example runs the installed reaper once" \
    grep -qF "$sbindir/steel-reaper --once -f $pkgsysconfdir/steel-orchestrator.conf" \
    "$DEST$cronexampledir/steel-reaper"
check "the snippet starts the installed steel-fcgi" \
    grep -qxF "var.steel_fcgi_bin = \"$pkglibexecdir/steel-fcgi\"" \
    "$DEST$lighttpdconfdir/50-steel-orchestrator.conf"
check "no @dir@ marker is left in the installed text files" \
    bash -c "! grep -rl '@[a-z_]*dir@\|@steel_[a-z]*@\|@lighttpd_[a-z]*@' '$DEST$systemdunitdir' \
        '$DEST$tmpfilesdir' '$DEST$logrotatedir' '$DEST$cronexampledir' \
        '$DEST$lighttpdconfdir' '$DEST$mandir'"

# systemd's own parser, on copies whose paths point into $DEST.
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$T/units"
    for f in "$DEST$systemdunitdir"/steel-*; do
        sed "s|$prefix/|$DEST$prefix/|g" "$f" >"$T/units/${f##*/}"
    done
    out=$(cd "$T/units" && systemd-analyze verify --man=no ./steel-spawner.service \
        ./steel-reaper.service ./steel-reaper-once.service ./steel-reaper.timer 2>&1)
    check_eq "systemd-analyze verify accepts the units" "" "$out"
fi

# ---- run the installed programs ----------------------------------------

start_redis || { not_ok "redis starts"; lib_finish; }
HTTP_PORT=$(free_port)
# Worker ports from a claimed block below the kernel's ephemeral range.
WBASE=$(worker_ports 100) || exit 1
WBASE=${WBASE%-*}
mkdir -p "$T/log" "$T/www"
CONF=$T/steel-orchestrator.conf
{
    cat "$D_CONF/steel-orchestrator.conf"
    echo "# ---- the test's own settings (tests/install.sh)"
    echo "redis = 127.0.0.1:$REDIS_PORT"
    echo "key_prefix = $PFX"
    echo "session_ttl = 3"
    echo "pool_idle_target = 3"
    echo "pool_max_workers = 12"
    echo "worker_port_range = $WBASE-$((WBASE + 39))"
    echo "worker_bin = $D_LIBEXEC/steel-browser-emu"
    echo "worker_log_dir = $T/log/workers"
    echo "node_token_dir = $T/run"
    echo "fcgi_threads = 8"
} >"$CONF"

check_eq "the installed steel-spawner accepts the configuration (-n)" \
    "configuration OK" "$("$D_SBIN/steel-spawner" -n -f "$CONF" 2>&1)"
check_eq "the installed steel-reaper accepts the configuration (-n)" \
    "configuration OK" "$("$D_SBIN/steel-reaper" -n -f "$CONF" 2>&1)"
start_bg spawner "$D_SBIN/steel-spawner" -f "$CONF"
SPAWNER_PID=$(cat "$T/spawner.pid")
start_bg reaper "$D_SBIN/steel-reaper" -f "$CONF"

# The installed snippet: only the var.steel_* paths change.
sed -e "s|^var\.steel_fcgi_bin = \"$pkglibexecdir/|var.steel_fcgi_bin = \"$DEST$pkglibexecdir/|" \
    -e "s|^var\.steel_conf = .*|var.steel_conf = \"$CONF\"|" \
    -e "s|^var\.steel_socket = .*|var.steel_socket = \"$T/fcgi.socket\"|" \
    -e "s|^var\.steel_fcgi_log = .*|var.steel_fcgi_log = \"$T/steel-fcgi.log\"|" \
    -e "s|^var\.steel_errordocs = \"$pkgdatadir/|var.steel_errordocs = \"$DEST$pkgdatadir/|" \
    -e "s|^var\.steel_status_page = \"$statuspagedir/|var.steel_status_page = \"$DEST$statuspagedir/|" \
    "$DEST$lighttpdconfdir/50-steel-orchestrator.conf" >"$T/50-steel-orchestrator.conf"
for v in fcgi_bin conf socket fcgi_log errordocs status_page; do
    check "the snippet's var.steel_$v now points into the test's tree" \
        grep -q "^var\.steel_$v = \"$T/" "$T/50-steel-orchestrator.conf"
done
cat >"$T/lighttpd.conf" <<EOF
server.bind = "127.0.0.1"
server.port = $HTTP_PORT
server.document-root = "$T/www"
server.errorlog = "$T/lighttpd-error.log"
include "$T/50-steel-orchestrator.conf"
EOF
check "lighttpd accepts the installed snippet (-tt)" \
    lighttpd -tt -f "$T/lighttpd.conf"
start_bg lighttpd lighttpd -D -f "$T/lighttpd.conf"
URL=http://127.0.0.1:$HTTP_PORT

create_works() {
    local code
    code=$(curl -s -m 5 -o "$T/probe.out" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -d '{"probe": 1}' "$URL/sessions")
    [ "$code" = 201 ] || [ "$code" = 200 ]
}
check_eventually "POST /sessions works through the installed stack" 30 create_works
check_eventually "steel-fcgi logs to the snippet's server.breakagelog" 5 \
    grep -q '^steel-fcgi: serving with 8 accept and [0-9]* create threads' "$T/steel-fcgi.log"

code=$(curl -s -m 10 -o "$T/status.html" -D "$T/status.h" -w '%{http_code}' "$URL/status.html")
check_eq "the installed snippet serves the installed status page" 200 "$code"
check "... as text/html, the installed file" bash -c \
    "grep -qi '^Content-Type: text/html' '$T/status.h' && cmp -s '$T/status.html' '$DEST$statuspagedir/status.html'"

# An error lighttpd answers itself comes from the installed JSON files.
head -c 1100000 /dev/zero | tr '\0' 'x' >"$T/big"
code=$(curl -s -m 10 -o "$T/big.out" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data-binary @"$T/big" "$URL/sessions")
check_eq "a body over server.max-request-size gets lighttpd's 413" 413 "$code"
check "... with the installed JSON error document" grep -q '"error"' "$T/big.out"

if "$DEST$bindir/steel-tester" --url "$URL" --ttl 3 --only core --no-color \
    >"$T/tester.log" 2>&1; then
    ok "the installed steel-tester --only core passes ($(tail -n 1 "$T/tester.log"))"
else
    not_ok "the installed steel-tester --only core passes"
    cat "$T/tester.log"
fi

# What ExecReload does: check the file, then SIGHUP.
"$D_SBIN/steel-spawner" -n -f "$CONF" >/dev/null && kill -HUP "$SPAWNER_PID"
check_eventually "the spawner reloads on SIGHUP" 5 \
    grep -q 'configuration reloaded' "$T/spawner.log"

# Stop as systemd would: lighttpd, the reaper, then the spawner (SIGTERM).
# exited PID - true once our child PID has exited (a zombie until waited).
exited() {
    local st
    st=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$st" = Z ] || [ "$st" = X ]
}
for name in lighttpd reaper spawner; do
    pid=$(cat "$T/$name.pid")
    kill -TERM "$pid" 2>/dev/null
    wait_for 20 exited "$pid" || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    check_eq "$name exits 0 on SIGTERM" 0 "$?"
done
check_eq "no worker process outlives the spawner" "" "$(workers_of_ours)"

# ---- configuration kept, uninstall ------------------------------------------

echo "# edited by the operator" >>"$D_CONF/steel-orchestrator.conf"
mk install >"$T/install2.log" 2>&1
check "make install again keeps an edited configuration" \
    grep -qx '# edited by the operator' "$D_CONF/steel-orchestrator.conf"
check "... and says so" grep -q "keeping .*steel-orchestrator.conf" "$T/install2.log"

# What lighty-enable-mod leaves: a link to the snippet.
mkdir -p "$DEST$lighttpdconfdir/../conf-enabled"
ln -s ../conf-available/50-steel-orchestrator.conf \
    "$DEST$lighttpdconfdir/../conf-enabled/50-steel-orchestrator.conf"
mk uninstall >"$T/uninstall.log" 2>&1
check_eq "make uninstall leaves only the edited configuration" \
    "$D_CONF/steel-orchestrator.conf" "$(find "$DEST" ! -type d)"

cp "$top_srcdir/etc/steel-orchestrator.conf" "$D_CONF/steel-orchestrator.conf"
mk uninstall >"$T/uninstall2.log" 2>&1
check_eq "make uninstall removes the unchanged configuration: nothing left" \
    "" "$(find "$DEST" ! -type d)"

lib_finish
