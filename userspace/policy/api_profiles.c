// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard's built-in API profiles, written in the policy language and read
 * before every policy (so `api NAME extends read-only` works anywhere).
 * docs/api-profiles.md lists them request by request, with the reasons.
 *
 * Routes are dockerd's (API 1.24 to 1.41), matched on the path without the
 * version prefix. An image name may hold '/' ("traefik/whoami"): `*` matches
 * one segment, so these profiles inspect such images by id only (see
 * docs/api-profiles.md).
 */
#include <string.h>

#include "policy/parser_internal.h"
#include "util/util.h"

static const char builtin_profiles[] =
	/* everything: the whole Docker API, which is root on the host */
	"api full {\n"
	"    allow GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS /**\n"
	"}\n"
	/* look, never touch: no secrets' or configs' data, no exports of
	 * images or containers, no exec, no attach, no archive reads, and no
	 * GET /swarm (its answer holds the join tokens: a manager token is
	 * the cluster) */
	"api read-only {\n"
	"    allow GET,HEAD /_ping\n"
	"    allow GET /version /info /events /system/df\n"
	"    allow GET /containers/json /containers/*/json /containers/*/top\n"
	"    allow GET /containers/*/logs /containers/*/stats /containers/*/changes\n"
	"    allow GET /images/json /images/*/json /images/*/history\n"
	"    allow GET /networks /networks/* /volumes /volumes/*\n"
	"    allow GET /nodes /nodes/* /services /services/* /services/*/logs\n"
	"    allow GET /tasks /tasks/* /tasks/*/logs /plugins /plugins/*/json\n"
	"}\n";

void parse_builtin_profiles(struct parser *p)
{
	struct dg_diag_file *f = dg_diag_files_add(p->pol->files, "built-in", builtin_profiles,
						   sizeof(builtin_profiles) - 1);
	struct dg_lexer lx, *saved = p->lx;

	/* not a file of the policy: not in its sha256, size or file count */
	p->builtin = true;
	dg_lexer_init(&lx, f, builtin_profiles, sizeof(builtin_profiles) - 1, p->diag);
	p->lx = &lx;
	parse_statements(p);
	dg_lexer_fini(&lx);
	p->lx = saved;
	p->builtin = false;
}
