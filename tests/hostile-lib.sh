# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# hostile-lib.sh - helpers of tests/hostile-worker.sh: the worker users,
# the node's firewall for them, sessions with data, and where a worker
# and its cgroup are.  Sourced after lib.sh and stack.sh; functions only.

# ---- users and firewall --------------------------------------------------

# hl_mkuser NAME - a system user of its own group, no home, no shell.
hl_mkuser() {
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$1"
}

# hl_deluser NAME - the user and its group, if they exist.
hl_deluser() {
    userdel "$1" >/dev/null 2>&1
    getent group "$1" >/dev/null && groupdel "$1" >/dev/null 2>&1
    return 0
}

# hl_fw_up TABLE UIDS - the shipped rules (etc/nftables/), as make writes
# them, in table TABLE for the uids UIDS (a comma-separated nft set).
hl_fw_up() {
    sed -e "s|@nft_table@|$1|g" -e "s|@worker_uids@|$2|g" \
        "$top_srcdir/etc/nftables/steel-orchestrator.nft.in" >"$T/rules.nft" &&
        nft -f "$T/rules.nft"
}

hl_fw_down() {
    nft delete table inet "$1" 2>/dev/null
    return 0
}

# ---- sessions --------------------------------------------------------------

# hl_create NAME - a session whose data holds "NAME-<pid of the test>"; its
# id in $T/sid.NAME, its worker's in $T/wid.NAME.  Fails unless the create answers 200 or 201.
hl_create() {
    local name=$1 code id
    code=$(curl -s -m 15 -o "$T/c.$name" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' -d "{\"secret\":\"$name-$$\"}" \
        "$(stack_url)/sessions")
    case $code in 200 | 201) ;; *) return 1 ;; esac
    id=$(sed -n 's/.*"id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$T/c.$name")
    [ -n "$id" ] && echo "$id" >"$T/sid.$name" &&
        rcli_raw HGET "$STACK_PREFIX:session:$id" worker >"$T/wid.$name"
}

# hl_wid NAME - the worker NAME's session was created on.
hl_wid() {
    cat "$T/wid.$1" 2>/dev/null
}

hl_sid() {
    cat "$T/sid.$1" 2>/dev/null
}

# hl_has_data NAME - GET through lighttpd answers 200 with NAME's data.
hl_has_data() {
    local code
    code=$(curl -s -m 10 -o "$T/g.$1" -w '%{http_code}' \
        "$(stack_url)/sessions/$(hl_sid "$1")")
    [ "$code" = 200 ] && grep -q "\"$1-$$\"" "$T/g.$1"
}

# hl_code NAME - the status of a GET of NAME's session through lighttpd.
hl_code() {
    curl -s -m 10 -o /dev/null -w '%{http_code}' "$(stack_url)/sessions/$(hl_sid "$1")"
}

# ---- workers -----------------------------------------------------------------

# hl_worker_of NAME - the id of the worker that holds NAME's session.
hl_worker_of() {
    rcli_raw HGET "$STACK_PREFIX:session:$(hl_sid "$1")" worker
}

# hl_whash ID FIELD - a field of worker ID's record; empty when missing.
hl_whash() {
    rcli_raw HGET "$STACK_PREFIX:worker:$1" "$2"
}

# hl_worker_at PORT - the id of the live worker record on PORT.
hl_worker_at() {
    local id
    for id in $(rcli_raw SMEMBERS "$STACK_PREFIX:workers"); do
        if [ "$(hl_whash "$id" port)" = "$1" ]; then
            case $(hl_whash "$id" state) in
            idle | creating | busy | releasing) echo "$id"; return 0 ;;
            esac
        fi
    done
    return 1
}

# hl_group PID - the cgroup2 path of PID (the worker's identity).
hl_group() {
    sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null
}

# hl_cg2 - where cgroup2 is mounted (hybrid hosts: unified).
hl_cg2() {
    if [ -d /sys/fs/cgroup/unified ]; then
        echo /sys/fs/cgroup/unified
    else
        echo /sys/fs/cgroup
    fi
}

# hl_pids_dir GROUP - the group in the pids controller's hierarchy.
hl_pids_dir() {
    if [ -e "/sys/fs/cgroup/pids$1/pids.max" ]; then
        echo "/sys/fs/cgroup/pids$1"
    elif [ -e "$(hl_cg2)$1/pids.max" ]; then
        echo "$(hl_cg2)$1"
    fi
}

# hl_alive PID... - true when any of PIDs is a live process.
hl_alive() {
    local p
    for p in "$@"; do
        stack_pid_live "$p" && return 0
    done
    return 1
}

# hl_uid_pids UIDS - live processes of these uids (real uid; a
# comma-separated list).
hl_uid_pids() {
    ps -o pid=,stat= -U "$1" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'
}

# ---- attack outcomes -----------------------------------------------------

# hl_outcome FILE NAME - the lines of attack NAME in an outcome file.
hl_outcome() {
    grep "^$2 " "$1" 2>/dev/null
}

# hl_all FILE NAME WORD - NAME has at least one line, all of them WORD
# (done or denied); prints them as a comment.
hl_all() {
    local lines
    lines=$(hl_outcome "$1" "$2")
    sed 's/^/# /' <<<"$lines"
    [ -n "$lines" ] && ! grep -qv "^$2 $3 " <<<"$lines"
}
