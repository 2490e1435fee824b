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
