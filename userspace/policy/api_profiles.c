// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard's built-in API profiles, written in the policy language and read
 * before every policy (so `api NAME extends read-only` works anywhere).
 * docs/api-profiles.md lists them request by request, with the reasons.
 *
 * Routes are dockerd's (API 1.24 to 1.41), matched on the path without the
 * version prefix. An image name may hold '/' ("traefik/whoami"), so image
 * routes put a `**` segment before their last one. Each client profile lists what that
 * client's own code calls (docs/api-profiles.md names the source files).
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
	"    allow GET /images/json /images/**/json /images/**/history\n"
	"    allow GET /networks /networks/* /volumes /volumes/*\n"
	"    allow GET /nodes /nodes/* /services /services/* /services/*/logs\n"
	"    allow GET /tasks /tasks/* /tasks/*/logs /plugins /plugins/*/json\n"
	"}\n"
	/* Traefik's docker and swarm providers (pkg/provider/docker): the
	 * version, containers and their inspect, container events; services,
	 * swarm-scoped networks, a service's running tasks, a task's node */
	"api traefik {\n"
	"    allow GET,HEAD /_ping\n"
	"    allow GET /version\n"
	"    allow GET /containers/json /containers/*/json /events\n"
	"    allow GET /services /networks /tasks /nodes/*\n"
	"}\n"
	/* Watchtower (pkg/container/client.go): list and inspect containers
	 * and their images, pull, then stop (kill), remove, create, reconnect
	 * networks, start, rename itself, remove old images. The guard keeps
	 * what it creates inside its container: a container it would recreate
	 * privileged, in a host namespace or with a host bind is refused
	 * (403). No exec: its lifecycle hooks would run commands in any
	 * container, a privileged one too (a profile of your own may add them:
	 * docs/api-profiles.md) */
	"api watchtower {\n"
	"    allow GET,HEAD /_ping\n"
	"    allow GET /version\n"
	"    allow GET /containers/json /containers/*/json /images/**/json\n"
	"    allow POST /images/create query fromImage=* !fromSrc\n"
	"    allow POST /containers/*/kill /containers/*/start /containers/*/rename\n"
	"    allow DELETE /containers/* /images/*\n"
	"    allow POST /containers/create\n"
	"    allow POST /networks/*/connect /networks/*/disconnect\n"
	"    guard create\n"
	"}\n"
	/* The Portainer agent forwards whatever the Portainer server asks
	 * (docker/ and http/proxy in its tree): the whole API, as `full` */
	"api portainer-agent {\n"
	"    allow GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS /**\n"
	"}\n"
	/* A CI job's docker CLI: build, run, exec, cp, logs, pull, push, tag,
	 * login, and the networks and volumes compose makes. No swarm, no
	 * plugins, no image import from a URL. The guard refuses privileged
	 * containers and execs, host namespaces, capabilities, devices, host
	 * binds (extend it with `guard create binds PATTERN...` in a profile
	 * of your own) and builds in the host's network; `own` keeps its
	 * exec, cp, start and rm to the containers it created */
	"api ci {\n"
	"    allow GET,HEAD /_ping\n"
	"    allow GET /version /info /events\n"
	"    allow POST /auth\n"
	"    allow GET /containers/json /containers/*/json /containers/*/logs\n"
	"    allow GET /containers/*/top /containers/*/stats\n"
	"    allow POST /containers/create /containers/*/start /containers/*/stop\n"
	"    allow POST /containers/*/kill /containers/*/wait /containers/*/attach\n"
	"    allow POST /containers/*/resize /containers/*/restart\n"
	"    allow DELETE /containers/*\n"
	"    allow POST /containers/*/exec /exec/*/start /exec/*/resize\n"
	"    allow GET /exec/*/json\n"
	"    allow GET,HEAD,PUT /containers/*/archive\n"
	"    allow GET /images/json /images/**/json /images/**/history\n"
	"    allow POST /images/create query !fromSrc\n"
	"    allow POST /images/**/tag /images/**/push /build\n"
	"    allow DELETE /images/**\n"
	"    allow GET /networks /networks/* /volumes /volumes/*\n"
	"    allow POST /networks/create /networks/*/connect /networks/*/disconnect\n"
	"    allow POST /volumes/create\n"
	"    allow DELETE /networks/* /volumes/*\n"
	"    guard create\n"
	"    own\n"
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
