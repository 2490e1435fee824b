#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-layers.sh - the files of spawner/ call each other only downwards:
# each object's undefined symbols, resolved to the spawner/ object that
# defines them (nm), give who calls whom; that graph has no circle, the
# worker table (table.o) and the Redis connection (redis.o) call no other
# spawner/ object, and the picture in spawner/internal.h's opening
# comment ("file.c ...... callees") lists exactly these calls.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
lib_init

if ! command -v nm >/dev/null || ! command -v tsort >/dev/null; then
    echo "nm or tsort is not installed: skipped"
    exit 77
fi
dir=$top_builddir/spawner
shopt -s nullglob
objs=("$dir"/*.o)
if [ ${#objs[@]} -eq 0 ]; then
    echo "no objects in $dir (run make): skipped"
    exit 77
fi

# name OBJ - the source file an object was built from: table.c.
name() {
    local b=${1##*/}
    b=${b%.o}
    echo "${b#*-}.c"
}

defs=$(for o in "${objs[@]}"; do
    nm -g --defined-only "$o" | awk -v f="$(name "$o")" '$2 ~ /^[TDBR]$/ {print $3, f}'
done | sort)
# "caller callee" for every call between two spawner/ files.
edges=$(for o in "${objs[@]}"; do
    nm -u "$o" | awk '{print $2}' | sort -u | join - <(echo "$defs") |
        awk -v f="$(name "$o")" '$2 != f {print f, $2}'
done | sort -u)
check "spawner/ objects call each other" test -n "$edges"

check "the calls between spawner/ files make no circle" \
    bash -c "tsort >/dev/null 2>&1 <<<'$edges'"
for bottom in table.c redis.c; do
    check_eq "$bottom calls no other file of spawner/" "" \
        "$(awk -v b="$bottom" '$1 == b' <<<"$edges")"
done

# The picture: lines " *   file.c ...... callee callee" (callees without
# .c, "-" for none), each file above the files it calls.
drawn=$(sed -n 's/^ \* *\([a-z]*\.c\) \.\.\.* \(.*\)$/\1 \2/p' \
    "$top_srcdir/spawner/internal.h")
picture=$(while read -r file callees; do
    for c in $callees; do
        [ "$c" = - ] || echo "$file $c.c"
    done
done <<<"$drawn" | sort -u)
check "spawner/internal.h draws who calls whom" test -n "$picture"
check_eq "the picture in spawner/internal.h is the calls of the objects" \
    "$edges" "$picture"
# A file's row in the picture: every call goes to a lower row.
upward=$(awk 'NR == FNR { row[$1] = NR; next }
    !($1 in row) || !($2 in row) || row[$1] >= row[$2]' \
    <(awk '{print $1}' <<<"$drawn") <(echo "$edges"))
check_eq "each file of the picture calls only files drawn below it" "" \
    "$upward"

lib_finish
