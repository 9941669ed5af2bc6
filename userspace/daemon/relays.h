/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's relays (docs/relay.md): the daemon holds each relay's
 * listening socket, so that the socket file keeps its inode for as long as
 * the daemon runs (containers bind-mount the file), and serves them from a
 * process of its own, so that a relay crash never stops enforcement or
 * events. A relay process that dies is started again; a policy change starts
 * a relay process for the new policy and lets the old one finish what it is
 * doing (open streams and pipes run on) without taking another request.
 */
#ifndef DOCKGUARD_DAEMON_RELAYS_H
#define DOCKGUARD_DAEMON_RELAYS_H

#include <event2/event.h>
#include <jansson.h>

#include "cli/cli.h"
#include "kernel/kernel.h"

struct dg_relays;

/* What a relay process reports: its event as one line and as JSON (which the
 * callee may keep a reference to). */
typedef void (*dg_relays_event_fn)(void *arg, const char *text, json_t *json);

struct dg_relays *dg_relays_new(struct event_base *base, dg_relays_event_fn fn, void *arg);

/*
 * The policy in force is now `pol` (the daemon's, compiled again here for
 * cli->containers): binds its relays' new addresses and serves them from a
 * new relay process. Nothing to serve: stops the relay processes. 0, or
 * -errno with `err` (the relay processes in place keep serving).
 */
int dg_relays_apply(struct dg_relays *r, const struct dg_cli *cli, const struct dg_policy *pol,
		    struct dg_err *err);

/* {"pid", "draining", "connections", "rules": [{"relay", "api_rule",
 * "allowed", "denied"}]}: requests per API rule since the daemon started
 * (every relay process's, as each last reported them, within a second). */
json_t *dg_relays_status(const struct dg_relays *r);

/* {"seen": [{"relay", "subject", "method", "route", "known", "root",
 * "count", "last"}], "dropped"}: what each caller asked of the relays since
 * the daemon started (`dockguard suggest`), a route per method and caller;
 * "last" is when it was last reported (Unix time). */
json_t *dg_relays_seen(const struct dg_relays *r);

/* The current relay process, 0 when none. */
pid_t dg_relays_pid(const struct dg_relays *r);

/* Ends every relay process and closes the listening sockets. */
void dg_relays_free(struct dg_relays *r);

#endif
