/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bytes from outside made safe to print: a task's name, a socket path, a
 * cgroup's or a container's name go into one-line events, the journal, JSON
 * and the operator's terminal, and may hold anything.
 */
#ifndef DOCKGUARD_ESCAPE_H
#define DOCKGUARD_ESCAPE_H

#include <stddef.h>

/*
 * The first `len` bytes of `s` (fewer when a NUL comes first) as valid UTF-8
 * with nothing that moves the cursor, starts a line or turns the text
 * around: control characters (C0, DEL, C1), line and paragraph separators,
 * bidirectional controls and bytes that are not UTF-8 become `\xNN`, one
 * per byte; so do the ASCII characters in `also` (NULL for none), for a
 * place where they would end a field. A backslash stays as it is, so that
 * systemd's escaped unit names (`foo\x2dbar.service`) read as systemd
 * writes them: a name that holds the text `\x0a` reads like one that held a
 * newline, and neither can start a line. Caller frees.
 */
char *dg_escape(const char *s, size_t len, const char *also);

#endif
