/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * nodeid.c - the identity of this host and the checks of a node's
 * worker_host (nodeid.h).
 *
 * Invariants: an identity is read from files of this host only, never
 * from the configuration, so two hosts with one configuration still
 * differ; an address is judged against the interfaces as getifaddrs
 * lists them, with no packet sent; a name (not a numeric address) is
 * resolved once, at start, through the system resolver.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <net/if.h>
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

/* 1 when sa holds the address of family af in addr (4 or 16 bytes). */
static int sa_is(const struct sockaddr *sa, int af, const void *addr)
{
    if (sa == NULL || sa->sa_family != af)
        return 0;
    if (af == AF_INET)
        return memcmp(&((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      addr, 4) == 0;
    return memcmp(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                  addr, 16) == 0;
}

int nodeid_local_addr(const char *host, const struct ifaddrs *ifs, char *err,
                      size_t errsize)
{
    unsigned char addr[16];
    const struct ifaddrs *i;
    int af, lo_up = 0;

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
    for (i = ifs; i != NULL; i = i->ifa_next) {
        if ((i->ifa_flags & IFF_UP) && (i->ifa_flags & IFF_LOOPBACK) &&
            i->ifa_addr != NULL && i->ifa_addr->sa_family == af)
            lo_up = 1;
        if (sa_is(i->ifa_addr, af, addr))
            return 0;
    }
    if (lo_up && nodeid_loopback(host))
        return 0; /* the whole of 127.0.0.0/8 is this host's */
    snprintf(err, errsize,
             "worker_host %s is not an address of this host (no interface "
             "has it)",
             host);
    return -1;
}

int nodeid_check_local(const char *host, char *err, size_t errsize)
{
    struct addrinfo hints, *res = NULL, *a;
    struct ifaddrs *ifs = NULL;
    int rc = -1, gai;

    if (strcmp(host, "localhost") == 0)
        return 0;
    if (getifaddrs(&ifs) < 0) {
        snprintf(err, errsize, "getifaddrs: cannot list this host's "
                               "addresses");
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        snprintf(err, errsize, "worker_host %s: %s", host, gai_strerror(gai));
        freeifaddrs(ifs);
        return -1;
    }
    snprintf(err, errsize, "worker_host %s: no address", host);
    for (a = res; a != NULL && rc < 0; a = a->ai_next) {
        char num[INET6_ADDRSTRLEN] = "";
        char why[256];

        if (getnameinfo(a->ai_addr, a->ai_addrlen, num, sizeof(num), NULL, 0,
                        NI_NUMERICHOST) != 0)
            continue;
        rc = nodeid_local_addr(num, ifs, why, sizeof(why));
        if (rc < 0 && a == res)
            snprintf(err, errsize, "%s", why);
    }
    freeaddrinfo(res);
    freeifaddrs(ifs);
    return rc;
}
