/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A GET of the relay's own to the upstream (for `own`: who created the
 * object a request writes to), on a connection of its own, without
 * blocking the event loop: `done` is called once with the answer's status
 * and body (status 0: the upstream could not be asked or its answer not
 * read).
 */
#ifndef DOCKGUARD_RELAY_LOOKUP_H
#define DOCKGUARD_RELAY_LOOKUP_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct dg_lookup;

typedef void (*dg_lookup_fn)(void *arg, int status, const char *body, size_t len);

/* Starts GET `path` at `addr`; NULL when the connect cannot even start. */
struct dg_lookup *dg_lookup_start(struct event_base *base, const struct sockaddr *addr,
				  socklen_t addr_len, const char *path, dg_lookup_fn done,
				  void *arg);

/* Abandons a lookup (the client went away); `done` is not called. */
void dg_lookup_cancel(struct dg_lookup *l);

#endif
