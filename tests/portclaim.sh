# SPDX-License-Identifier: BSD-2-Clause
# portclaim.sh - sourced by tests/lib.sh and tests/stack.sh: a loopback
# port that looked free is claimed before it is used, so two tests that
# run at once (make -j2 check, ./dev test beside a package build) never
# pick the same one between the check and the bind.  A claim is a
# symlink ${TMPDIR:-/tmp}/steel-ports-<uid>/<port> to /proc/<pid> of the
# claiming shell: it holds while that shell runs, and a dangling one (its
# shell ended) is taken over.  Nothing needs releasing.

# port_claim PORT - 0 when PORT is now this shell's (or already was).
port_claim() {
    local dir=${TMPDIR:-/tmp}/steel-ports-$(id -u) link
    link=$dir/$1
    mkdir -p "$dir" 2>/dev/null || return 0 # no claims possible: as before
    [ "$(readlink "$link" 2>/dev/null)" = "/proc/$$" ] && return 0
    ln -s "/proc/$$" "$link" 2>/dev/null && return 0
    # Taken: by a shell that still runs, or left by one that ended.
    [ -e "$link" ] && return 1
    rm -f "$link"
    ln -s "/proc/$$" "$link" 2>/dev/null
}

# worker_ports COUNT [FIRST LAST] - prints LO-HI, COUNT consecutive ports
# for a test's worker_port_range, in whole blocks of 100 between FIRST and
# LAST (default 10000-31999, below the ephemeral range), that this shell
# now holds and on which nothing listens.  A block is claimed like a port,
# under the name w<LO/100>, so two tests never share worker ports.
worker_ports() {
    local n=$1 first=${2:-10000} last=${3:-31999} nb span lo hi i k got
    nb=$(((n + 99) / 100))
    span=$(((last + 1 - first) / 100 - nb + 1))
    for i in $(seq 1 100); do
        lo=$((first + (RANDOM % span) * 100))
        hi=$((lo + n - 1))
        got=1
        for ((k = 0; k < nb; k++)); do
            port_claim "w$((lo / 100 + k))" || { got=0; break; }
        done
        [ "$got" = 1 ] || continue
        if command -v ss >/dev/null &&
            ss -Hltn "sport >= :$lo and sport <= :$hi" 2>/dev/null | grep -q .; then
            continue
        fi
        echo "$lo-$hi"
        return 0
    done
    echo "worker_ports: no free block of $n ports" >&2
    return 1
}
