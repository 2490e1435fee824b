#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# alerts.sh - the Prometheus rules of etc/prometheus/ are valid (promtool
# check rules, both the template and the file make writes), their unit
# tests pass (promtool test rules: every alert silent, firing, silent
# again), every alert has a summary and a runbook_url whose anchor is a
# section of OPERATIONS.md, and every metric the rules read is one that
# steel-fcgi renders (or steel_node_up, which node liveness will add).

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init

if ! command -v promtool >/dev/null; then
    echo "promtool is not installed (Debian: apt-get install prometheus): skipped"
    exit 77
fi

RULES_IN=$top_srcdir/etc/prometheus/steel-orchestrator.rules.yml.in
BUILT=$top_builddir/etc/prometheus/steel-orchestrator.rules.yml

# The unit tests expect the runbook base "OPERATIONS.md".
sed -e 's|@runbook_base[@]|OPERATIONS.md|g' \
    -e 's|@prometheusrulesdir[@]|/usr/share/steel-orchestrator/prometheus|g' \
    "$RULES_IN" >"$T/steel-orchestrator.rules.yml"
cp "$top_srcdir/etc/prometheus/tests/"*.yml "$T/"

check "promtool check rules (template, runbook base OPERATIONS.md)" \
    promtool check rules "$T/steel-orchestrator.rules.yml"
if [ -f "$BUILT" ]; then
    check "promtool check rules $BUILT" promtool check rules "$BUILT"
    check "no @marker@ left in $BUILT" \
        bash -c "! grep -n '@[a-z_]*@' '$BUILT'"
else
    not_ok "$BUILT was not built (make)"
fi

for t in "$T"/*.test.yml; do
    if (cd "$T" && promtool test rules "$(basename "$t")") >"$T/promtool-test.log" 2>&1; then
        ok "promtool test rules $(basename "$t")"
    else
        not_ok "promtool test rules $(basename "$t")"
        cat "$T/promtool-test.log"
    fi
done

# Every alert: a summary, a runbook anchor that OPERATIONS.md has, and at
# least one firing case in the unit tests.
alerts=$(sed -n 's/^ *- alert: *//p' "$RULES_IN")
check "the rules hold alerts" test -n "$alerts"
anchors=$(sed -n 's/^### Alert: \(Steel[A-Za-z0-9]*\)$/alert-\1/p' \
    "$top_srcdir/OPERATIONS.md" | tr '[:upper:]' '[:lower:]')
for a in $alerts; do
    block=$(awk -v a="$a" '/^ *- alert: / { on = ($3 == a) } on' "$RULES_IN")
    lower=$(tr '[:upper:]' '[:lower:]' <<<"$a")
    check "$a has a summary" grep -q 'summary:' <<<"$block"
    check "$a links its runbook #alert-$lower" \
        grep -q "runbook_url: \"@runbook_base@#alert-$lower\"" <<<"$block"
    check "OPERATIONS.md has the section of $a" grep -qx "alert-$lower" <<<"$anchors"
    # shellcheck disable=SC2016 # an awk program
    check "$a fires in a unit test" \
        awk -v a="$a" '$1 == "alertname:" && $2 == a { want = 1; next }
            want && /exp_alerts: *\[\]/ { want = 0 }
            want && /exp_labels:/ { found = 1 } END { exit !found }' \
        "$top_srcdir"/etc/prometheus/tests/*.yml
done

# The metrics the rules read exist in /metrics (metrics.c, or the P:stats
# counters the programs write), except steel_node_up, still to come.
while read -r m; do
    case $m in
    steel_node_up) continue ;;
    esac
    base=${m%_total}
    base=${base#steel_}
    if grep -rqF -e "\"$m" -e "$base" "$top_srcdir/fcgi/metrics.c" \
        "$top_srcdir/fcgi/admin.c" "$top_srcdir/common" "$top_srcdir/spawner" \
        "$top_srcdir/reaper"; then
        ok "the rules' $m is rendered"
    else
        not_ok "the rules read $m, which /metrics does not render"
    fi
done < <(grep -o 'steel_[a-z_]*' "$RULES_IN" | sort -u)

lib_finish
