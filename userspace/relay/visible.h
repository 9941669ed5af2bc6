/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a caller sees (spec §9, docs/guards.md "visible"): `visible label
 * K=V | name GLOB` filters the answers that list containers, services,
 * tasks, networks and volumes, `/system/df` and `/events`; an object a
 * request names is looked up first and, hidden, answered with dockerd's own
 * 404 (relay.c). `own` keeps others' objects out of `/events`; `redact`
 * takes Env and the swarm's join tokens out of answers.
 *
 * Everything here reads dockerd's answers: an answer that is not what
 * dockerd sends cannot be filtered, and is refused (502), never passed.
 */
#ifndef DOCKGUARD_RELAY_VISIBLE_H
#define DOCKGUARD_RELAY_VISIBLE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "policy/policy.h"
#include "relay/own.h"
#include "relay/target.h"

/* The most of an answer that is read whole to be filtered (a larger one
 * is refused with 502, not passed unfiltered). */
#define DG_VIEW_MAX_ANSWER	(64u * 1024 * 1024)
/* The most one event of /events may take. */
#define DG_VIEW_MAX_EVENT	(1024u * 1024)

/* How an answer is rewritten before the client gets it. */
enum dg_answer_kind {
	DG_ANSWER_AS_IS,	/* copied as it comes */
	DG_ANSWER_CONTAINERS,	/* GET /containers/json */
	DG_ANSWER_SERVICES,	/* GET /services */
	DG_ANSWER_TASKS,	/* GET /tasks: the tasks of visible services */
	DG_ANSWER_NETWORKS,	/* GET /networks */
	DG_ANSWER_VOLUMES,	/* GET /volumes */
	DG_ANSWER_DF,		/* GET /system/df: its containers and volumes */
	DG_ANSWER_CONTAINER,	/* GET /containers/{id}/json: Env */
	DG_ANSWER_SERVICE,	/* GET /services/{id}: Env */
	DG_ANSWER_TASK,		/* GET /tasks/{id}: Env */
	DG_ANSWER_SWARM,	/* GET /swarm: the join tokens */
	DG_ANSWER_EVENTS,	/* GET /events: a stream, judged event by event */
};

/* What the callers of one profile chain see. */
struct dg_view {
	const struct dg_policy *pol;
	size_t profile;			/* the chain's first; DG_API_NO_PARENT: none */
	bool visible;			/* a profile of the chain says `visible` */
	const struct dg_visible_clause *first;	/* the first such clause, for messages */
	const struct dg_api_profile *first_profile;
	const char *key;		/* the caller's owner key (relay/own.h), or NULL */
	const char *owner;		/* `own`: that key (events of its objects only) */
	bool redact_env, redact_join_tokens;
	char **services;		/* DG_ANSWER_TASKS: ids of the visible services */
	size_t n_services;
};

/* The view of `profile`'s chain for a caller whose owner key is `key` (not
 * copied; needed when the chain says `own` or `visible own`). */
void dg_view_init(struct dg_view *v, const struct dg_policy *pol, size_t profile,
		  const char *key);

/* Whether the callers of `profile`'s chain have an owner key: it says
 * `own` or `visible own`. */
bool dg_view_needs_key(const struct dg_policy *pol, size_t profile);
void dg_view_fini(struct dg_view *v);

/* How the answer to `method` on `t` is rewritten for this view. */
enum dg_answer_kind dg_view_answer(const struct dg_view *v, const char *method,
				   const struct dg_target *t);

/* Whether an object with `labels` (a JSON object, or NULL) and `name`
 * (without a leading '/'; NULL: none) is visible. */
bool dg_view_matches(const struct dg_view *v, const json_t *labels, const char *name);

/*
 * Whether the object of dockerd's inspect answer `json` (a container,
 * service, network or volume) is visible; false also when the answer
 * cannot be read.
 */
bool dg_view_object(const struct dg_view *v, enum dg_own_kind kind, const char *json, size_t len);

/* Takes the ids of the visible services from dockerd's answer to GET
 * /services, for a DG_ANSWER_TASKS; false when it cannot be read. */
bool dg_view_set_services(struct dg_view *v, const char *json, size_t len);

/*
 * The answer body `in` rewritten for the view (kind other than AS_IS and
 * EVENTS): malloc'd into *out. false with `why` when it is not what dockerd
 * sends for that route.
 */
bool dg_view_rewrite(const struct dg_view *v, enum dg_answer_kind kind, const char *in,
		     size_t len, char **out, size_t *out_len, char *why, size_t why_len);

/* Whether the caller sees one event of /events (one JSON object); an
 * event that cannot be read is left out. */
bool dg_view_event(const struct dg_view *v, const char *json, size_t len);

#endif
