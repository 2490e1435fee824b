#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# units.sh - every installed systemd service unit (etc/systemd/*.service,
# as make writes them from their .in) scores at most 2.5 in
# "systemd-analyze security --offline=true": the hardening of the units is
# checked, not only written down.  Skipped (exit 77) without
# systemd-analyze (Debian package systemd; it needs no running systemd).

. "$(dirname "$0")/lib.sh"

MAX=2.5
if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
    exit 77
fi
lib_init

units=0
for in in "$top_srcdir"/etc/systemd/*.service.in; do
    name=$(basename "$in" .in)
    unit=$top_builddir/etc/systemd/$name
    if [ ! -f "$unit" ]; then
        not_ok "$name: not generated (run make)"
        continue
    fi
    units=$((units + 1))
    # The unit file must keep its name: systemd-analyze reads the type
    # from it.
    systemd-analyze security --offline=true --no-pager "$unit" \
        >"$T/$name.out" 2>&1
    score=$(sed -n 's/^.*Overall exposure level for [^:]*: \([0-9.]*\) .*$/\1/p' \
        "$T/$name.out")
    if [ -z "$score" ]; then
        not_ok "$name: no score from systemd-analyze"
        cat "$T/$name.out"
        continue
    fi
    if awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s <= m) }'; then
        ok "$name scores $score (at most $MAX)"
    else
        not_ok "$name scores $score, more than $MAX; what counts:"
        grep '✗' "$T/$name.out"
    fi
done
check "the four service units were checked" test "$units" = 4
lib_finish
