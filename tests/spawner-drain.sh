#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# spawner-drain.sh - a requested stop is no failure: young workers drained
# with OPERATIONS.md's recipe:drain-worker (reason "drained by operator")
# are killed and replaced without backoff and never make the pool
# degraded; and workers a handler marked dead ("create failed") after a
# healthy start died at random: replaced at once, no failure either.

# shellcheck disable=SC2317,SC2119 # functions run through check
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/spawner-lib.sh"
lib_init
spawner_setup

DOC=$top_srcdir/OPERATIONS.md

# redis-cli as the recipe calls it, reaching our Redis.
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec %s -h 127.0.0.1 -p %s "$@"\n' "$(command -v redis-cli)" \
    "$REDIS_PORT" >"$T/bin/redis-cli"
chmod +x "$T/bin/redis-cli"

# The recipe as OPERATIONS.md writes it, on our key prefix.
recipe=$(awk '$0 == "```sh recipe:drain-worker" { on = 1; next }
    on && /^```/ { exit }
    on { print }' "$DOC")
check "OPERATIONS.md has recipe:drain-worker" test -n "$recipe"
# shellcheck disable=SC2001 # \b: a word boundary
recipe=$(sed "s/\\bsteel:/$PFX:/g" <<<"$recipe")

# drain W - runs the recipe on worker W; prints its output.
drain() {
    PATH="$T/bin:$PATH" W="$1" bash -c "$recipe" 2>&1
}

# Young workers: some of them answered /health less than a second ago.
write_conf pool_idle_target=5 pool_max_workers=20 worker_bin="$EMU"
start_spawner
check_eventually "5 idle workers" 10 idle_is 5
check_eventually "pool state ok" 3 pool_state_is ok

# ---- drained: no failure ------------------------------------------------------

ids=$(rcli_raw lrange "$PFX:idle" 0 -1)
pids=$(for id in $ids; do whash "$id" pid; done)
out=
for id in $ids; do
    out="$out$(drain "$id")"
done
check_eq "the recipe drains the 5 idle workers" 11111 "$out"
# What the spawner takes for a drain (spawner/view.c, DRAIN_PREFIX).
check "... with a reason that starts with \"drain\"" \
    grep -q "'reason', 'drain" <<<"$recipe"
all_dead() {
    local p
    for p in $pids; do
        alive "$p" && return 1
    done
    return 0
}
check_eventually "the drained workers are killed" 3 all_dead
check_eventually "... and replaced at once" 3 idle_is 5
check_eventually "the kills are logged with the reason" 2 log_has 5 \
    "marked dead in redis (drained by operator); killed by signal 9"
fails_is() {
    [ "$(pool_field fails)" = "$1" ]
}
check_eventually "no failure counted" 2 fails_is 0
check_eq "pool never degraded" 0 "$(log_count "pool degraded")"
check_eq "pool state ok" ok "$(pool_field state)"

# ---- marked dead by a handler after a healthy start: random deaths -----------

# Past the 1 s after /health that makes a start healthy (POOL_HEALTHY_MS).
sleep 1.5
ids=$(rcli_raw lrange "$PFX:idle" 0 -1)
pids=$(for id in $ids; do whash "$id" pid; done)
# As a handler's script does: the record and the node's version
# (P:ver:<node>, which tells the spawner's view to read the records).
for id in $ids; do
    rcli eval "redis.call('LREM', KEYS[1], 0, ARGV[1]);
        redis.call('HSET', KEYS[2], 'state', 'dead', 'reason', 'create failed');
        redis.call('INCR', KEYS[3])" \
        3 "$PFX:idle" "$PFX:worker:$id" "$PFX:ver:$NODE" "$id" >/dev/null
done
check_eventually "5 workers a handler marked dead are killed" 3 all_dead
check_eventually "... and replaced at once" 2 idle_is 5
check_eventually "... logged with the reason" 2 log_has 5 \
    "marked dead in redis (create failed); killed by signal 9"
check_eq "no start failure counted" 0 "$(pool_field fails)"
check_eq "pool never degraded" 0 "$(log_count "pool degraded")"
check_eq "pool state ok" ok "$(pool_field state)"

stop_spawner
check_eq "spawner exits 0" 0 "$SP_RC"
check "no worker left" no_ours
lib_finish
