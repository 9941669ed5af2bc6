/* SPDX-License-Identifier: GPL-2.0-only */
/* Small helpers: allocation that cannot return NULL, checked number parsing. */
#ifndef DOCKGUARD_UTIL_H
#define DOCKGUARD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Out of memory is not recoverable for a CLI tool; these print and exit(3). */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *ptr, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);
char *xvasprintf(const char *fmt, va_list ap);

/*
 * Parses all of `s` as a decimal number in [min, max]. Returns 0, or
 * -EINVAL (not a number), -ERANGE (out of range).
 */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Reads a whole file of at most `max` bytes. -EFBIG when larger. */
int read_file(const char *path, size_t max, char **text, size_t *len);
/* This process's cgroup v2 path, from /proc/self/cgroup ("0::/path"),
 * malloc'd; "/" when it cannot be read. */
char *dg_own_cgroup(void);
/* The SHA-256 of data[0..len) in lower-case hex, into out (65 bytes). */
void dg_sha256_hex(const void *data, size_t len, char out[65]);

#endif
