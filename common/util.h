/*
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * util.h - small helpers shared by every program: clocks, number parsing,
 * identifiers.
 */
#ifndef STEEL_UTIL_H
#define STEEL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Milliseconds of CLOCK_MONOTONIC: for deadlines and intervals. */
int64_t now_mono_ms(void);
/* Milliseconds since the epoch (CLOCK_REALTIME): for records others read. */
int64_t now_wall_ms(void);
/* Sleeps ms milliseconds; returns early (0) when a signal arrives. */
void sleep_ms(int64_t ms);

/* Parses all of s as a base-10 integer within [min, max].  Returns 0, or -1
 * for empty input, trailing characters, or a value out of range. */
int parse_long(const char *s, long min, long max, long *out);

/* 1 when s (length len) is a session id we route: 1 to SESSION_ID_MAX bytes
 * of [A-Za-z0-9._~-], and not "." or "..". */
#define SESSION_ID_MAX 128
int session_id_valid(const char *s, size_t len);

/* Fills out (size >= 33) with 32 random hex characters from the kernel's
 * generator.  Returns 0 or -1. */
int random_hex(char *out, size_t size);

/* Reads the file at path into buf: at most size bytes, no NUL added (a
 * /proc or cgroupfs file is read whole this way, with EINTR retried).
 * Returns the length read, or -1 when it cannot be opened or read. */
ssize_t read_path(const char *path, char *buf, size_t size);

/* Empties the directory dfd, which the caller may write, and every
 * directory in it up to depth levels down, making each of the caller's
 * 0700 first (an owner may have taken its own rights away); the entries
 * are unlinked by name under dfd, symbolic links never followed.  Reads
 * again from the start until a round removes nothing, as removing entries
 * while reading may skip some.  Only system calls (getdents64, no
 * opendir): async-signal-safe, for a child between fork and exec.
 * Returns 0, or -1 with errno (ELOOP: deeper than depth). */
int dir_empty(int dfd, int depth);

#endif
