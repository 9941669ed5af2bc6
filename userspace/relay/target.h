/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A Docker API request target in the one form the relay judges and dockerd
 * routes (docs/relay.md, "What is refused"): the API version prefix apart,
 * the path percent-decoded exactly once (as Go's net/http gives it to
 * dockerd's router), the query parsed as Go's url.ParseQuery does. Anything
 * that two readers could take two ways is refused, with the reason, for a
 * 400: absolute-form and asterisk-form targets, fragments, bytes that are not
 * printable ASCII, bad or encoded '/' and NUL escapes, '.' and '..' and empty
 * segments, a malformed version, and a query with ';', a bad escape, an
 * empty or repeated key.
 */
#ifndef DOCKGUARD_RELAY_TARGET_H
#define DOCKGUARD_RELAY_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#define DG_TARGET_MAX		8192	/* bytes of a request target */
#define DG_TARGET_MAX_PARAMS	64	/* query parameters */

struct dg_query_param {
	char *key;			/* decoded */
	char *value;			/* decoded; "" when absent */
};

struct dg_target {
	bool versioned;			/* had a /vMAJOR.MINOR prefix */
	unsigned int major, minor;
	char *path;			/* decoded, without the version prefix: "/containers/json" */
	struct dg_query_param *params;	/* in the order sent */
	size_t n_params;
};

/*
 * Parses `raw` (the request target as sent). Returns 0, or -EINVAL with
 * `why` set to what is wrong (for the 400 answer and the event).
 */
int dg_target_parse(const char *raw, struct dg_target *out, const char **why);
void dg_target_free(struct dg_target *t);

/* The value of query parameter `key`, or NULL when absent. */
const char *dg_target_param(const struct dg_target *t, const char *key);

#endif
