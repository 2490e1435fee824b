# SPDX-License-Identifier: BSD-2-Clause
# stack-cgroup.sh - the cgroup subtree of a local stack (tests/stack.sh
# sources it): as root its own cgroup_root, /steel-test/<prefix>, made by
# the spawner and removed at stack_down; as a user worker_cgroup = off.

# The stack's cgroup subtree (cgroup_root), below the root of every
# hierarchy: one per stack, so that stacks side by side never meet.
stack_cgroup_root() {
    echo "/steel-test/$STACK_PREFIX"
}

# stack_cgroup_dirs - the stack's subtree in each cgroup hierarchy mounted.
stack_cgroup_dirs() {
    local mnt
    awk '{ for (i = 7; i < NF; i++) if ($i == "-") break
           if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") print $5 }' \
        /proc/self/mountinfo |
        while read -r mnt; do
            [ -d "$mnt$(stack_cgroup_root)" ] && echo "$mnt$(stack_cgroup_root)"
        done
}

# stack_conf_set_cgroup FILE - unless the file says otherwise: as root,
# the stack's own cgroup_root; as a user (no delegated subtree outside
# systemd), worker_cgroup = off (the spawner warns loudly).
stack_conf_set_cgroup() {
    grep -q '^[[:space:]]*\(cgroup_root\|worker_cgroup\)[[:space:]]*=' "$1" &&
        return 0
    if [ "$(id -u)" = 0 ]; then
        stack_conf_set "$1" cgroup_root "$(stack_cgroup_root)"
    else
        stack_conf_set "$1" worker_cgroup off
    fi
}

# stack_cgroup_remove - removes the stack's (empty) groups, deepest first.
stack_cgroup_remove() {
    local d
    for d in $(stack_cgroup_dirs); do
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
        rmdir "${d%/*}" 2>/dev/null
    done
    return 0
}
