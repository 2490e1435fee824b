#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# man.sh - the man pages agree with the programs: the SYNOPSIS of
# steel-fcgi(8), steel-spawner(8) and steel-reaper(8) is the usage line of
# their -h, steel-tester(1) lists exactly the flags of its -h,
# steel-orchestrator.conf(5) documents every directive of common/conf.c's
# table and every key the code builds, and every page renders without
# groff warnings or unsubstituted @dir@ markers.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init

if ! command -v groff >/dev/null; then
    echo "groff is not installed: skipped"
    exit 77
fi

MAN=$top_builddir/man
# render PAGE - the page as plain text, 80 columns, no overstriking.
render() {
    groff -mdoc -Tascii -P-cbu -rLL=78n "$MAN/$1" 2>/dev/null
}
# section TEXT NAME - the lines of one section of a rendered page.
section() {
    awk -v want="$2" '/^[A-Z][A-Z ]*$/ { on = ($0 == want); next } on' <<<"$1"
}
squeeze() {
    tr -s ' \n' '  ' | sed 's/^ //; s/ $//'
}

for page in steel-fcgi.8 steel-spawner.8 steel-reaper.8 steel-tester.1 \
    steel-orchestrator.conf.5; do
    if [ ! -f "$MAN/$page" ]; then
        not_ok "$page was generated (run make)"
        continue
    fi
    # Long installed paths (make distcheck's) may not break: not a defect.
    warn=$(groff -mdoc -ww -Wbreak -z -Tutf8 "$MAN/$page" 2>&1)
    check_eq "$page renders without groff warnings" "" "$warn"
    check "$page has no unsubstituted @...@ marker" \
        bash -c "! grep -n '@[a-zA-Z_]*@' '$MAN/$page'"
done

# ---- SYNOPSIS = the usage line of -h ----------------------------------------

for prog in fcgi/steel-fcgi spawner/steel-spawner reaper/steel-reaper; do
    name=${prog#*/}
    usage=$("$top_builddir/$prog" -h | sed -n 's/^usage: //p' | squeeze)
    synopsis=$(section "$(render "$name.8")" SYNOPSIS | squeeze)
    check_eq "$name(8) SYNOPSIS is its -h usage line" "$usage" "$synopsis"
done

# steel-tester's -h lists one "-flag" per line; the page writes "--flag".
flags_help=$("$top_builddir/tester/steel-tester" -h 2>&1 |
    sed -n 's/^  -\([a-z][a-z-]*\).*/--\1/p' | sort -u)
flags_man=$(section "$(render steel-tester.1)" SYNOPSIS |
    grep -o -- '--[a-z][a-z-]*' | sort -u)
check "steel-tester -h lists flags" test -n "$flags_help"
check_eq "steel-tester(1) SYNOPSIS lists exactly the flags of -h" \
    "${flags_help//$'\n'/ }" "${flags_man//$'\n'/ }"
options_man=$(section "$(render steel-tester.1)" OPTIONS |
    grep -o -- '^     --[a-z][a-z-]*' | tr -d ' ' | sort -u)
check_eq "steel-tester(1) OPTIONS describes every flag of -h" \
    "${flags_help//$'\n'/ }" "${options_man//$'\n'/ }"

# ---- steel-orchestrator.conf(5): directives and keys ---------------------------

conf5=$(render steel-orchestrator.conf.5)
directives=$(sed -n 's/^[[:space:]]*\(STRD\|LONGD\)(\([a-z_]*\),.*/\2/p; s/^[[:space:]]*{"\([a-z_]*\)", CONF_.*/\1/p' \
    "$top_srcdir/common/conf.c")
n=0 missing=
for d in $directives; do
    n=$((n + 1))
    grep -q "^     $d = " <<<"$conf5" || missing="$missing $d"
done
check "common/conf.c's table has directives (found $n)" test "$n" -ge 30
check_eq "steel-orchestrator.conf(5) documents every directive" "" "$missing"

# Every key family: the KEY_ formats of keys.h, which C and the Lua
# scripts of the store alike build their key names from.
keys=$(sed -n 's/^#define KEY_[A-Z_]*[[:space:]]*"%s:\([a-z]*\).*/\1/p' \
    "$top_srcdir/common/keys.h" | sort -u)
n=0 missing=
for k in $keys; do
    n=$((n + 1))
    grep -q "P:$k\\b" <<<"$(section "$conf5" 'REDIS KEYS')" || missing="$missing P:$k"
done
check "keys.h names key families (found $n)" test "$n" -ge 12
check_eq "steel-orchestrator.conf(5) REDIS KEYS names every key family" "" "$missing"

lib_finish
