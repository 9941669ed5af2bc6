/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `guard create` (spec §9, docs/guards.md): what a request would create,
 * judged from its JSON body as dockerd will decode it, before it is
 * forwarded. A guard is an allowlist over the engine's request structs of
 * API 1.41: a field it does not know is refused, and so is every field that
 * reaches the host (privileged, host namespaces, capabilities, devices,
 * security options, cgroup parent, runtime, sysctls, masked paths, host
 * binds outside the listed paths, volume driver options that bind one).
 *
 * Decoding as Go's encoding/json does: object keys match field names
 * case-insensitively (ASCII case, and the two non-ASCII letters that fold
 * to ASCII ones: U+017F to s, U+212A to k), `\u` escapes are decoded before
 * that. Where Go and this reader could differ, the body is refused: two keys
 * that fold alike (Go takes the last), text after the JSON value, invalid
 * UTF-8, NUL in strings, numbers out of range.
 */
#ifndef DOCKGUARD_RELAY_GUARD_H
#define DOCKGUARD_RELAY_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "relay/target.h"

/* The most of a body the relay reads to judge it: a larger one is refused
 * whole (never half inspected). dockerd's own create bodies are a few KiB. */
#define DG_GUARD_MAX_BODY	(1024 * 1024)

enum dg_guard_route {
	DG_GUARD_NONE,			/* nothing a guard judges */
	DG_GUARD_CONTAINER_CREATE,	/* POST /containers/create */
	DG_GUARD_CONTAINER_UPDATE,	/* POST /containers/{id}/update */
	DG_GUARD_CONTAINER_START,	/* POST /containers/{id}/start (a HostConfig before 1.24) */
	DG_GUARD_EXEC_CREATE,		/* POST /containers/{id}/exec */
	DG_GUARD_SERVICE_CREATE,	/* POST /services/create */
	DG_GUARD_SERVICE_UPDATE,	/* POST /services/{id}/update */
	DG_GUARD_VOLUME_CREATE,		/* POST /volumes/create */
	DG_GUARD_BUILD,			/* POST /build: its query */
};

/* The route `method` `path` (decoded, version-less) is, for a guard. */
enum dg_guard_route dg_guard_route(const char *method, const char *path);

/* Whether the route's body is judged (all but DG_GUARD_BUILD). */
bool dg_guard_reads_body(enum dg_guard_route route);

/* The host paths a guard lets binds and bind volumes name: patterns as API
 * paths are written (`*` one segment, `**` last: the rest, or nothing). */
struct dg_guard {
	char *const *binds;
	size_t n_binds;
};

enum dg_guard_result {
	DG_GUARD_PASS,
	DG_GUARD_REFUSE,		/* a field reaches the host: `why` names it */
	DG_GUARD_UNDECIDABLE,		/* the body cannot be decoded as dockerd would */
};

/*
 * Judges body[0..len) of `route` under guard `g`. `why` gets the field and
 * the reason ("HostConfig.Privileged is true") on anything but PASS.
 * `resolve_links`: also judge where an existing host path's symlinks lead
 * (the relay, on the host; off for the fuzzer).
 */
enum dg_guard_result dg_guard_judge_body(enum dg_guard_route route, const char *body, size_t len,
					 const struct dg_guard *g, bool resolve_links, char *why,
					 size_t why_len);

/* Judges the query of a route whose query creates (DG_GUARD_BUILD). */
enum dg_guard_result dg_guard_judge_query(enum dg_guard_route route, const struct dg_target *t,
					  char *why, size_t why_len);

#endif
