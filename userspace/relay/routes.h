/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dockerd's routes (API 1.41), as path patterns of the policy language:
 * what `dockguard suggest` turns a request it saw into (an id or a name in
 * the path becomes `*`, an image or plugin name, which may hold '/', `**`),
 * and which of them are root-equivalent until request bodies are judged.
 */
#ifndef DOCKGUARD_RELAY_ROUTES_H
#define DOCKGUARD_RELAY_ROUTES_H

#include <stdbool.h>

struct dg_api_route {
	const char *pattern;		/* in the policy language: a `*` segment for an id */
	const char *root_methods;	/* methods for which it is root-equivalent ("POST"), or NULL */
};

/* The route `path` (canonical, without the version prefix) takes, NULL for
 * none dockerd 1.41 has. */
const struct dg_api_route *dg_api_route_of(const char *path);

/* Whether `method` on `route` is root-equivalent (creates a container,
 * execs, builds, commits, installs a plugin, changes the swarm, writes
 * into a container...). */
bool dg_api_route_root_equivalent(const struct dg_api_route *route, const char *method);

#endif
