/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay's sockets: its listen addresses bound (unix paths, TCP
 * addresses, which may not exist yet: docker0's gateway before dockerd
 * starts), and the upstream's address built.
 */
#ifndef DOCKGUARD_RELAY_SOCKETS_H
#define DOCKGUARD_RELAY_SOCKETS_H
#include <stdbool.h>
#include <sys/socket.h>
#include "kernel/kernel.h"	/* struct dg_err */
#include "policy/policy.h"

/*
 * A listening socket for listen address `a` (nonblocking, close-on-exec):
 * its fd, or -errno with `err`. A unix path: a stale socket file there is
 * replaced, mode 0666 (the hooks and the policy judge who may connect).
 * A TCP address: exactly that address (IPv6 only for an IPv6 one), or every
 * address of both families for `*`. -EADDRNOTAVAIL: no interface has the
 * address yet; try again later.
 */
int dg_relay_bind(const struct dg_addr *a, struct dg_err *err);
/* The same, for a unix path. */
int dg_relay_bind_unix(const char *path, struct dg_err *err);
/* "unix PATH" or "tcp ADDRESS:PORT": one listen address, as a key and for messages. */
char *dg_relay_addr_text(const struct dg_addr *a);
/* The socket address of upstream `a` into *ss; false for an address that
 * cannot be an upstream (`*`, a path too long). */
bool dg_relay_sockaddr(const struct dg_addr *a, struct sockaddr_storage *ss, socklen_t *len);
/* Whether a relay of the policy listens on a TCP address. */
bool dg_relay_policy_on_tcp(const struct dg_policy *pol);
#endif
