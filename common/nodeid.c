/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nodeid.c - the identity of this host and the checks of a node's
 * worker_host (nodeid.h).
 *
 * Invariants: an identity is read from files of this host only, never
 * from the configuration, so two hosts with one configuration still
 * differ; an address is this host's when a socket can bind to it, with
 * no packet sent and no netlink socket; a name (not a numeric address) is
 * resolved once, at start, through the system resolver.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nodeid.h"

/* Copies the first 32 hex digits of file path into out (33 bytes).
 * Returns 0, or -1 when the file cannot be read or holds fewer. */
static int read_hex_id(const char *path, char *out)
{
    char buf[128];
    size_t i, n = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    for (i = 0; buf[i] != '\0' && n < 32; i++) {
        if (isxdigit((unsigned char)buf[i]))
            out[n++] = (char)tolower((unsigned char)buf[i]);
    }
    out[n] = '\0';
    return n == 32 ? 0 : -1;
}

int nodeid_host(char *out, size_t size)
{
    char machine[33], boot[33], host[256] = "";
    int n;

    if (read_hex_id("/etc/machine-id", machine) < 0 &&
        read_hex_id("/var/lib/dbus/machine-id", machine) < 0)
        machine[0] = '\0';
    if (read_hex_id("/proc/sys/kernel/random/boot_id", boot) < 0)
        boot[0] = '\0';
    if ((machine[0] == '\0' || boot[0] == '\0') &&
        gethostname(host, sizeof(host) - 1) < 0)
        return -1;
    n = snprintf(out, size, "%s%s:%s%s", machine[0] ? "" : "host-",
                 machine[0] ? machine : host, boot[0] ? "" : "host-",
                 boot[0] ? boot : host);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int nodeid_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* Whether addr (family af, 4 or 16 bytes) is an address of this host:
 * a socket binds to it (port 0, so nothing is taken) only when an
 * interface has it, or, for 127.0.0.0/8, while the loopback interface is
 * up.  No packet is sent and no netlink socket is needed, so this works
 * in a unit whose RestrictAddressFamilies= leaves out AF_NETLINK.
 * Returns 1, 0 (not local), or -1 with errno (no socket of that family). */
static int addr_bindable(int af, const unsigned char *addr)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    const struct sockaddr *sa;
    socklen_t len;
    int fd, rc;

    if (af == AF_INET) {
        memset(&a4, 0, sizeof(a4));
        a4.sin_family = AF_INET;
        memcpy(&a4.sin_addr, addr, 4);
        sa = (const struct sockaddr *)(const void *)&a4;
        len = sizeof(a4);
    } else {
        memset(&a6, 0, sizeof(a6));
        a6.sin6_family = AF_INET6;
        memcpy(&a6.sin6_addr, addr, 16);
        sa = (const struct sockaddr *)(const void *)&a6;
        len = sizeof(a6);
    }
    fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    rc = bind(fd, sa, len);
    close(fd);
    return rc == 0 ? 1 : 0;
}

int nodeid_local_addr(const char *host, char *err, size_t errsize)
{
    unsigned char addr[16];
    int af;

    if (inet_pton(AF_INET, host, addr) == 1)
        af = AF_INET;
    else if (inet_pton(AF_INET6, host, addr) == 1)
        af = AF_INET6;
    else {
        snprintf(err, errsize, "worker_host %s is not a numeric address",
                 host);
        return -1;
    }
    if ((af == AF_INET && memcmp(addr, "\0\0\0\0", 4) == 0) ||
        (af == AF_INET6 &&
         IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)(void *)addr))) {
        snprintf(err, errsize,
                 "worker_host %s is a wildcard, not an address other "
                 "nodes can reach",
                 host);
        return -1;
    }
    switch (addr_bindable(af, addr)) {
    case 1:
        return 0;
    case 0:
        snprintf(err, errsize,
                 "worker_host %s is not an address of this host (no "
                 "interface has it)",
                 host);
        return -1;
    default:
        snprintf(err, errsize, "worker_host %s: cannot open a socket: %s",
                 host, strerror(errno));
        return -1;
    }
}

int nodeid_check_local(const char *host, char *err, size_t errsize)
{
    struct addrinfo hints, *res = NULL, *a;
    int rc = -1, gai;

    if (strcmp(host, "localhost") == 0)
        return 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        snprintf(err, errsize, "worker_host %s: %s", host, gai_strerror(gai));
        return -1;
    }
    snprintf(err, errsize, "worker_host %s: no address", host);
    for (a = res; a != NULL && rc < 0; a = a->ai_next) {
        char num[INET6_ADDRSTRLEN] = "";
        char why[256];

        if (getnameinfo(a->ai_addr, a->ai_addrlen, num, sizeof(num), NULL, 0,
                        NI_NUMERICHOST) != 0)
            continue;
        rc = nodeid_local_addr(num, why, sizeof(why));
        if (rc < 0 && a == res)
            snprintf(err, errsize, "%s", why);
    }
    freeaddrinfo(res);
    return rc;
}
