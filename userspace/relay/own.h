/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `own` (spec §9, docs/guards.md "own"): objects created through the relay
 * are labelled io.dockguard.owner=KEY, KEY naming the connect rule that
 * admitted the creator (so a redeployed client keeps its objects); a
 * request that writes to an existing container, exec, service, volume or
 * network passes only when that object carries the caller's KEY. The
 * object is looked up by the name or id prefix the request gives, and the
 * request is forwarded naming it by its full id: what was judged is what
 * dockerd acts on.
 */
#ifndef DOCKGUARD_RELAY_OWN_H
#define DOCKGUARD_RELAY_OWN_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"
#include "relay/target.h"

#define DG_OWN_LABEL	"io.dockguard.owner"
#define DG_OWN_KEY_LEN	16		/* hex digits */

enum dg_own_kind {
	DG_OWN_NONE,
	DG_OWN_CONTAINER,
	DG_OWN_EXEC,
	DG_OWN_SERVICE,
	DG_OWN_VOLUME,
	DG_OWN_NETWORK,
	DG_OWN_TASK,		/* `visible`: a task is its service's */
};

/* What a request does to objects, for `own`. */
struct dg_own_request {
	enum dg_own_kind creates;	/* a create whose body gets the label */
	enum dg_own_kind names;		/* an existing object it names (any method) */
	enum dg_own_kind writes;	/* the same, when the request writes to it */
	char name[256];			/* that object as the request names it */
	size_t segment;			/* its path segment (0-based), or SIZE_MAX: */
	const char *param;		/* ... the query parameter naming it */
	bool refused;			/* touches objects of others by nature (prune) */
	bool too_long;			/* ... or names one too long to look up */
	bool connects;			/* a network (dis)connect: its body names a container */
};

/* Classifies `method` on `t` (also for `visible`: what a read names). */
void dg_own_classify(const char *method, const struct dg_target *t, struct dg_own_request *out);

/* KEY for connect rule `rule`: the first hex digits of the sha256 of its
 * line as written. */
void dg_own_key(const struct dg_rule *rule, char key[DG_OWN_KEY_LEN + 1]);

/* The path that looks an object up ("/v1.41/containers/NAME/json"), malloc'd. */
char *dg_own_lookup_path(enum dg_own_kind kind, const char *name);

/*
 * Reads a lookup's answer: the object's full id, and its owner label ("" when
 * none); for an exec, `parent` gets its container's id (the owner is that
 * container's), for a task its service's. false when the answer is not what
 * dockerd sends.
 */
bool dg_own_read_answer(enum dg_own_kind kind, const char *json, size_t len, char *id,
			size_t id_len, char *owner, size_t owner_len, char *parent,
			size_t parent_len);

/*
 * The body of a create with the owner label added (services: also on their
 * tasks' containers), malloc'd JSON in *out. false with `why` when the body
 * cannot be labelled as dockerd would read it, or sets io.dockguard. labels.
 */
bool dg_own_label_body(enum dg_own_kind kind, const char *body, size_t len, const char *key,
		       char **out, size_t *out_len, char *why, size_t why_len);

/*
 * The container a network connect or disconnect body names ("Container", as
 * Go decodes it: any case, once) into `name`; false with `why` when the body
 * does not name one that way.
 */
bool dg_own_connect_container(const char *body, size_t len, char *name, size_t name_len,
			      char *why, size_t why_len);

/* That body naming the container by `full_id`, malloc'd into *out. */
bool dg_own_connect_with_id(const char *body, size_t len, const char *full_id, char **out,
			    size_t *out_len);

/* The request target naming the object by `full_id` in place of the name
 * it gave (segment or parameter as classified), malloc'd. */
char *dg_own_target_with_id(const struct dg_target *t, const struct dg_own_request *o,
			    const char *full_id);

#endif
