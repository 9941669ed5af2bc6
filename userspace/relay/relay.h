/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay server (docs/relay.md): listeners for a policy's relays, one
 * connection to the upstream Docker API per client connection, every
 * request judged by the caller's kernel-attested identity and its profile,
 * then forwarded as judged. Single-threaded, on a libevent base.
 */
#ifndef DOCKGUARD_RELAY_RELAY_H
#define DOCKGUARD_RELAY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <jansson.h>

#include "compile/compile.h"
#include "policy/policy.h"
#include "relay/caller.h"
#include "kernel/kernel.h"	/* struct dg_err */

#define DG_RELAY_MAX_CONNS		4096	/* in all */
#define DG_RELAY_MAX_CONNS_PER_CALLER	256	/* per uid and cgroup */
#define DG_RELAY_HEAD_SECONDS		30	/* from a head's first byte to its end */

struct dg_container;

/* What a judged request came to (an event when logged). */
struct dg_relay_event {
	const char *relay;		/* its name */
	const struct dg_caller *caller;
	const struct dg_container *container;	/* the caller's, when it is one */
	const char *method;
	const char *path;		/* canonical, or the target as sent when refused unread */
	int status;			/* 403, 400, 429, 502; 0: forwarded */
	bool audit;			/* forwarded by learning mode */
	char rule[300];			/* "FILE:LINE" of the deciding rule, or "default" */
	const char *reason;		/* for 400 and 502 */
};

typedef void (*dg_relay_event_fn)(void *arg, const struct dg_relay_event *ev);

/*
 * The event base a relay runs on: epoll with its change list, so that the
 * write interest a bufferevent adds and drops around each answer costs no
 * epoll_ctl when both happen in one loop turn (every request writes twice).
 */
struct event_base *dg_relay_base_new(void);

struct dg_relay;

struct dg_relay *dg_relay_new(struct event_base *base, dg_relay_event_fn fn, void *arg);

/*
 * The policy and its compiled image that judge from now on (both must
 * outlive their use: until the next call or dg_relay_free). Connections
 * already open keep their identity; each next request is judged anew.
 */
void dg_relay_set_policy(struct dg_relay *r, const struct dg_policy *pol,
			 const struct dg_image *img);

/* The same policy compiled anew (for other containers): the image that
 * judges from now on; what the policy keeps (rate budgets) is kept. */
void dg_relay_set_image(struct dg_relay *r, const struct dg_image *img);

/* The containers (by cgroup) that callers are named after in messages and
 * events: the daemon's list as of the policy served; NULL for none. */
struct dg_container_set;
void dg_relay_set_containers(struct dg_relay *r, const struct dg_container_set *set);

/* Serves the listen addresses of every relay of the policy (binds them:
 * relay/sockets.h); a TCP address that no interface has yet is tried each
 * second and served once it exists. 0, or -errno with `err`. */
int dg_relay_listen(struct dg_relay *r, struct dg_err *err);

/* The hooks' relay_callers map (dg_kernel_open_relay_callers), which names
 * the callers on TCP listeners; without it (-1, the default) every TCP
 * caller is refused. Not taken: the caller closes it. */
void dg_relay_set_callers(struct dg_relay *r, int map_fd);

/* Serves listening socket `fd` (taken) as endpoint `endpoint` of the policy;
 * `path` names the address in messages. */
int dg_relay_adopt(struct dg_relay *r, size_t endpoint, const char *path, int fd,
		   struct dg_err *err);

/* Stops accepting; open connections finish what they do now (streams and
 * pipes run on), idle ones close, none takes another request; the event
 * loop ends when the last one closes. For a relay of a replaced policy. */
void dg_relay_drain(struct dg_relay *r);

/* One line for an event: "relay NAME: refused 403 GET /path for uid ...",
 * malloc'd, no newline; and printed, with one. */
char *dg_relay_event_text(const struct dg_relay_event *ev);
void dg_relay_print_event(FILE *out, const struct dg_relay_event *ev);

/* The event as `tail --json` prints it: spec §5's fields with "op":"api",
 * "method", "path", "status" (of a refusal), "api_rule". */
json_t *dg_relay_event_json(const struct dg_relay_event *ev);

/* The event loop the relay runs on. */
struct event_base *dg_relay_base(const struct dg_relay *r);

/* {"pid", "connections", "rules": [{"relay", "api_rule", "allowed", "denied"}]}:
 * the requests each API rule decided (forwarded or refused with 403) since
 * this relay started; *changed: since the last call. */
json_t *dg_relay_counts_json(struct dg_relay *r, bool *changed);

/*
 * What callers asked since the last call, for `dockguard suggest`: up to
 * `max` objects {relay, subject, method, route, known, root, count} from
 * entry *from on (advanced; call again while it returns some), each count
 * reset as it is reported.
 */
json_t *dg_relay_seen_json(struct dg_relay *r, size_t *from, size_t max);

/*
 * The requests still running on this relay's connections (streams, and
 * pipes after a 101), for the daemon to judge again after a policy change:
 * [{id, relay, uid, gid, groups, cgroup, method, target (as sent)}].
 */
json_t *dg_relay_open_requests_json(const struct dg_relay *r);
/* Ends connection `id` (the new policy denies what it runs), with an event
 * naming `rule` and `why`; nothing when it has ended already. */
void dg_relay_close(struct dg_relay *r, uint64_t id, const char *rule, const char *why);
/* Open connections (for status and tests). */
size_t dg_relay_connections(const struct dg_relay *r);

void dg_relay_free(struct dg_relay *r);

#endif
