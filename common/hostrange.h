/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * hostrange.h - the entries of worker_hosts: "HOST" or "HOST:LOW-HIGH",
 * the addresses of the other nodes' workers that a handler may call.
 */
#ifndef STEEL_HOSTRANGE_H
#define STEEL_HOSTRANGE_H

#include <stddef.h>

/* Splits one entry of len bytes (no blanks).  Returns 1 with the length of
 * its host in *hostlen and its ports in *lo and *hi when it names a range,
 * 0 with *hostlen = len when it names none, -1 when the range is malformed
 * (not LOW-HIGH with 1 <= LOW <= HIGH <= 65535) or the host is empty.  An
 * IPv6 address is an entry without a range: its last group has no '-'. */
int hostrange_parse(const char *entry, size_t len, size_t *hostlen, long *lo,
                    long *hi);

/* Checks every entry of the blank-separated list.  Returns 0, or -1 with
 * the first bad entry named in err. */
int hostrange_list_check(const char *list, char *err, size_t errsize);

/* 1 when an entry of list names host and port lies in that entry's range,
 * or, for an entry without one, in dlo..dhi; else 0. */
int hostrange_allows(const char *list, const char *host, long port, long dlo,
                     long dhi);

#endif
