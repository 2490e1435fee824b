# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# stack-isolate.sh - the workers of ./dev up isolated as in production
# (ARCHITECTURE.md invariant 10, OPERATIONS.md "Users and capabilities" and
# "What a worker can reach"), unless the developer opts out.  Sourced by
# tests/stack.sh; it defines functions only.
#
#   isolate_up RUN_DIR HTTP_PORT   before stack_up: as root, a user for
#       the workers (STEEL_WORKER_USER, default steel-dev-worker, made
#       when missing: a system user, no home, no login) and one uid per
#       worker slot (STEEL_WORKER_UIDS, default 65900-65963: uids that no
#       account and no /etc/subuid line uses, one per pool_max_workers),
#       exported for stack_write_conf (worker_user, worker_uid_range,
#       worker_home_dir RUN_DIR/homes); then the workers' firewall, the
#       package's nftables rules for that user and range in a table of the
#       run's own (inet steel_orchestrator_dev_<port>).  RUN_DIR is 0711
#       and what the stack writes in it owner-only (umask 077), so a
#       worker reads no log of another.  Redis is out of
#       their reach three times over: its socket is the stack's user's,
#       its TCP port asks for a password, and the firewall refuses them
#       every address of the host.
#   isolate_down RUN_DIR           deletes the table isolate_up loaded.
#   isolate_conf FILE RUN_DIR      (stack_write_conf) unless FILE names a
#       worker_user: STEEL_WORKER_USER and STEEL_WORKER_UIDS, when set,
#       as worker_user and worker_uid_range; with a worker_uid_range and
#       no worker_home_dir, RUN_DIR/homes.
#
# A STEEL_CONF that sets worker_user keeps its own user (and range, if it
# has one); the firewall follows it.  Opting out: STEEL_INSECURE_WORKERS=1
# (or not being root) runs the workers as the stack's user, without
# firewall; this says so, and steel-spawner logs "WORKERS NOT ISOLATED".

: "${STEEL_DEV_WORKER_USER:=steel-dev-worker}"
: "${STEEL_DEV_WORKER_UIDS:=65900-65963}"

isolate_say() {
    echo "dev: $*" >&2
}

# isolate_conf_value KEY - KEY's value in STEEL_CONF, empty when unset.
isolate_conf_value() {
    [ -n "${STEEL_CONF:-}" ] && [ -r "$STEEL_CONF" ] || return 0
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p" \
        "$STEEL_CONF" | tail -n 1
}

# isolate_range_free LO HI - no account and no /etc/subuid line uses a uid
# of LO..HI (steel-spawner refuses such a range; this says which).
isolate_range_free() {
    local taken
    taken=$(getent passwd | awk -F: -v lo="$1" -v hi="$2" \
        '$3 >= lo && $3 <= hi { printf "%s(%s) ", $1, $3 }')
    if [ -n "$taken" ]; then
        isolate_say "STEEL_WORKER_UIDS $1-$2 holds the uids of $taken: choose another range"
        return 1
    fi
    if [ -s /etc/subuid ] && awk -F: -v lo="$1" -v hi="$2" \
        'NF >= 3 && $2 <= hi && lo <= $2 + $3 - 1 { f = 1 } END { exit !f }' \
        /etc/subuid; then
        isolate_say "STEEL_WORKER_UIDS $1-$2 overlaps /etc/subuid: choose another range"
        return 1
    fi
}

# isolate_user - makes the workers' user when missing.
isolate_user() {
    local user=$1
    getent passwd "$user" >/dev/null && return 0
    if ! command -v useradd >/dev/null; then
        isolate_say "useradd is missing: cannot make the workers' user $user"
        return 1
    fi
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$user" || return 1
    isolate_say "made the workers' user $user (userdel $user removes it)"
}

# isolate_fw RUN_DIR HTTP_PORT ELEMENTS - the firewall for ELEMENTS (the
# nft set's: "user", LO-HI).
isolate_fw() {
    local file=$1/worker-firewall.nft table=steel_orchestrator_dev_$2
    if ! command -v nft >/dev/null; then
        isolate_say "nft is not installed (apt-get install nftables): the workers' firewall is NOT applied; workers reach this host"
        return 0
    fi
    mkdir -p "$1" &&
        sed -e "s|@nft_table@|$table|g" -e "s|@worker_uids@|$3|g" \
            "$top_srcdir/etc/nftables/steel-orchestrator.nft.in" >"$file" || return 1
    if ! nft -f "$file"; then
        isolate_say "the workers' firewall ($file) did not load"
        return 1
    fi
    isolate_say "workers' firewall: nft list table inet $table (workers as $3 reach nothing of this host)"
}

isolate_up() {
    local run=$1 port=$2 user range lo hi
    if [ "${STEEL_INSECURE_WORKERS:-0}" = 1 ]; then
        isolate_say "STEEL_INSECURE_WORKERS=1: workers are NOT isolated (they run as the stack's user, may signal and read each other and reach Redis, lighttpd and the operator routes)"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        isolate_say "not root: workers are NOT isolated (they run as you, without firewall); run ./dev up as root for the production set-up"
        return 0
    fi
    user=$(isolate_conf_value worker_user)
    if [ -n "$user" ]; then
        range=$(isolate_conf_value worker_uid_range)
    else
        user=${STEEL_WORKER_USER:-$STEEL_DEV_WORKER_USER}
        range=${STEEL_WORKER_UIDS:-$STEEL_DEV_WORKER_UIDS}
        case $range in
        [0-9]*-[0-9]*) ;;
        *) isolate_say "STEEL_WORKER_UIDS must be LOW-HIGH, not $range"; return 1 ;;
        esac
        lo=${range%-*}
        hi=${range#*-}
        isolate_range_free "$lo" "$hi" && isolate_user "$user" || return 1
        export STEEL_WORKER_USER=$user STEEL_WORKER_UIDS=$range
        isolate_say "workers run in $user's group, one uid of $range per slot"
    fi
    # The run directory as an installed node's: workers may traverse it
    # (to their homes), nothing more; what the stack writes there (logs,
    # worker logs) is for root only, as the unit's UMask=0077 makes it.
    mkdir -p "$run" && chmod 711 "$run" || return 1
    find "$run" -mindepth 1 -maxdepth 1 ! -name homes -exec chmod go-rwx {} + || return 1
    umask 077
    isolate_fw "$run" "$port" "\"$user\"${range:+, $range}"
}

isolate_conf() {
    local file=$1
    if [ -n "${STEEL_WORKER_USER:-}" ] && [ -n "${STEEL_WORKER_UIDS:-}" ] &&
        ! grep -q '^[[:space:]]*worker_user[[:space:]]*=' "$file"; then
        stack_conf_set "$file" worker_user "$STEEL_WORKER_USER" &&
            stack_conf_set "$file" worker_uid_range "$STEEL_WORKER_UIDS" ||
            return 1
    fi
    if grep -q '^[[:space:]]*worker_uid_range[[:space:]]*=' "$file" &&
        ! grep -q '^[[:space:]]*worker_home_dir[[:space:]]*=' "$file"; then
        stack_conf_set "$file" worker_home_dir "$2/homes" || return 1
    fi
}

isolate_down() {
    local file=$1/worker-firewall.nft table
    [ -f "$file" ] || return 0
    table=$(sed -n 's/^table inet \([A-Za-z0-9_]*\)$/\1/p' "$file" | head -n 1)
    if [ -n "$table" ] && nft list table inet "$table" >/dev/null 2>&1; then
        nft delete table inet "$table" && isolate_say "workers' firewall removed (table inet $table)"
    fi
    rm -f "$file"
}
