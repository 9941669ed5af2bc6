// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockerd's routes (API 1.41: api/server/router/ in moby 20.10), literal
 * ones before those with a variable where both could match a path.
 */
#include <string.h>

#include "relay/judge.h"
#include "relay/routes.h"
#include "util/util.h"

static const struct dg_api_route routes[] = {
	{ "/_ping", NULL }, { "/version", NULL }, { "/info", NULL }, { "/events", NULL },
	{ "/system/df", NULL }, { "/auth", NULL },
	/* containers */
	{ "/containers/json", NULL }, { "/containers/create", "POST" }, { "/containers/prune", NULL },
	{ "/containers/*/json", NULL }, { "/containers/*/top", NULL }, { "/containers/*/logs", NULL },
	{ "/containers/*/stats", NULL }, { "/containers/*/changes", NULL },
	{ "/containers/*/export", NULL }, { "/containers/*/archive", "PUT" },
	{ "/containers/*/attach/ws", NULL }, { "/containers/*/attach", NULL },
	{ "/containers/*/exec", "POST" }, { "/containers/*/start", NULL }, { "/containers/*/stop", NULL },
	{ "/containers/*/restart", NULL }, { "/containers/*/kill", NULL }, { "/containers/*/pause", NULL },
	{ "/containers/*/unpause", NULL }, { "/containers/*/wait", NULL }, { "/containers/*/resize", NULL },
	{ "/containers/*/rename", NULL }, { "/containers/*/update", NULL }, { "/containers/*", NULL },
	{ "/exec/*/json", NULL }, { "/exec/*/start", "POST" }, { "/exec/*/resize", NULL },
	/* images (names may hold '/') */
	{ "/images/json", NULL }, { "/images/search", NULL }, { "/images/get", NULL },
	{ "/images/create", NULL }, { "/images/load", "POST" }, { "/images/prune", NULL },
	{ "/images/**/json", NULL }, { "/images/**/history", NULL }, { "/images/**/get", NULL },
	{ "/images/**/push", NULL }, { "/images/**/tag", NULL }, { "/images/**", NULL },
	{ "/build/prune", NULL }, { "/build/cancel", NULL }, { "/build", "POST" },
	{ "/session", "POST" }, { "/grpc", "POST" }, { "/commit", "POST" },
	{ "/distribution/**/json", NULL },
	/* volumes and networks */
	{ "/volumes/create", NULL }, { "/volumes/prune", NULL }, { "/volumes/*", NULL }, { "/volumes", NULL },
	{ "/networks/create", NULL }, { "/networks/prune", NULL }, { "/networks/*/connect", NULL },
	{ "/networks/*/disconnect", NULL }, { "/networks/*", NULL }, { "/networks", NULL },
	/* swarm */
	{ "/swarm/unlockkey", NULL }, { "/swarm/*", "POST" }, { "/swarm", NULL },
	{ "/services/create", "POST" }, { "/services/*/update", "POST" }, { "/services/*/logs", NULL },
	{ "/services/*", NULL }, { "/services", NULL },
	{ "/nodes/*/update", "POST" }, { "/nodes/*", NULL }, { "/nodes", NULL },
	{ "/tasks/*/logs", NULL }, { "/tasks/*", NULL }, { "/tasks", NULL },
	{ "/secrets/create", NULL }, { "/secrets/*/update", NULL }, { "/secrets/*", NULL }, { "/secrets", NULL },
	{ "/configs/create", NULL }, { "/configs/*/update", NULL }, { "/configs/*", NULL }, { "/configs", NULL },
	/* plugins: installing one runs its code as root */
	{ "/plugins/privileges", NULL }, { "/plugins/pull", "POST" }, { "/plugins/create", "POST" },
	{ "/plugins/**/json", NULL }, { "/plugins/**", "POST" }, { "/plugins", NULL },
};

const struct dg_api_route *dg_api_route_of(const char *path)
{
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (dg_api_pattern_matches(routes[i].pattern, path))
			return &routes[i];
	return NULL;
}

bool dg_api_route_root_equivalent(const struct dg_api_route *route, const char *method)
{
	return route && route->root_methods && !strcmp(route->root_methods, method);
}
