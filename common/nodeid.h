/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nodeid.h - what makes a node itself: the identity of its host, and
 * whether its worker_host is an address of this host, or a loopback one
 * that only this host can reach.  steel-spawner checks these at start
 * (spawner/node.c) so that two hosts never share a node_name and a node
 * never advertises an address other nodes cannot reach.
 */
#ifndef STEEL_NODEID_H
#define STEEL_NODEID_H

#include <stddef.h>

/* Writes this host's identity into out (size >= 80): "<machine-id>:
 * <boot-id>" from /etc/machine-id (or /var/lib/dbus/machine-id) and
 * /proc/sys/kernel/random/boot_id, each the first 32 hex digits; a part
 * that cannot be read is replaced by "host-<hostname>".  The same host
 * gives the same identity until it reboots.  Returns 0, or -1 when even
 * the host name cannot be read. */
int nodeid_host(char *out, size_t size);

/* 1 when host is a numeric loopback address (127.0.0.0/8, ::1) or
 * "localhost", else 0. */
int nodeid_loopback(const char *host);

/* Checks that host, a numeric IPv4 or IPv6 address, is an address of
 * this host: a socket can bind to it (an interface has it, or it is a
 * loopback address while the loopback interface is up).  Returns 0, or
 * -1 with why in err (not numeric, a wildcard, not on any interface). */
int nodeid_local_addr(const char *host, char *err, size_t errsize);

/* nodeid_local_addr() against this host's interfaces for host or, when
 * it is a name, for the addresses it resolves to (one must be local;
 * "localhost" always is).  Returns 0 or -1 with why in err. */
int nodeid_check_local(const char *host, char *err, size_t errsize);

#endif
