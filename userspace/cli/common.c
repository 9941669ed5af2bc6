// SPDX-License-Identifier: GPL-2.0-only
/* Steps several commands share: find, parse and compile the policy file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "docker/docker.h"
#include "policy/resolve.h"
#include "util/util.h"

void dg_cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dockguard: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *dg_cli_policy_path(const struct dg_cli *cli)
{
	if (cli->n_args > 0)
		return cli->args[0];
	return cli->config ? cli->config : DG_DEFAULT_CONFIG;
}

/* Lists the containers when the policy names any or has a unix endpoint
 * (which containers may bind-mount). Docker unreachable: a warning. */
static void list_containers(const struct dg_policy *pol, struct dg_loaded_policy *out)
{
	bool needed = dg_policy_names_containers(pol);

	for (size_t e = 0; e < pol->n_endpoints && !needed; e++)
		for (size_t a = 0; a < pol->endpoints[e].n_addrs; a++)
			needed |= pol->endpoints[e].addrs[a].kind == DG_ADDR_UNIX;
	if (!needed)
		return;

	const char *host = pol->docker_host ? pol->docker_host : DG_DEFAULT_DOCKER_HOST;
	char err[512];
	struct dg_container_set *set = xcalloc(1, sizeof(*set));
	if (dg_docker_list(host, 3000, set, err, sizeof(err)) == 0) {
		out->containers_owned = set;
		return;
	}
	free(set);
	out->docker_unreachable = dg_policy_names_containers(pol);
	if (out->docker_unreachable)
		fprintf(stderr, "dockguard: warning: %s; container rules match no container until "
			"Docker answers (allow rules fail closed)\n", err);
}

/* Compiles out->policy for this host (and its containers) into out->image. */
static int compile_policy(const struct dg_cli *cli, bool ask_docker, bool warnings,
			  struct dg_diag *diag, struct dg_loaded_policy *out)
{
	struct dg_remap remap;
	struct dg_compile_env env = { 0 };

	if (out->policy) {
		if (dg_cgroup2_root(out->cgroup_root, sizeof(out->cgroup_root)) == 0)
			env.cgroup_root = out->cgroup_root;
		dg_resolve_remap(&remap);
		env.have_remap_range = remap.have_range;
		env.remap_lo = remap.uid_lo;
		env.remap_hi = remap.uid_hi;
		env.remap_ranges = remap.uids;
		env.n_remap_ranges = remap.n_uids;
		env.remap_user = remap.user;
		env.remap_why = remap.why;
		out->remap.enabled = remap.enabled;
		out->remap.have_range = remap.have_range;
		snprintf(out->remap.user, sizeof(out->remap.user), "%s", remap.user);
		out->remap.lo = remap.uid_lo;
		out->remap.hi = remap.uid_hi;
		env.resolutions = cli && cli->verbose;
		if (cli && cli->containers)
			env.containers = cli->containers;
		else if (ask_docker)
			list_containers(out->policy, out);
		if (out->containers_owned)
			env.containers = out->containers_owned;
		out->image = dg_compile(out->policy, &env, diag);
	}
	if (warnings)
		dg_diag_print(diag, stderr, 1);
	else
		dg_diag_print_errors(diag, stderr, 1);
	int failed = diag->n_errors > 0 || !out->image;
	dg_diag_fini(diag);
	if (failed) {
		dg_cli_policy_free(out);
		return DG_EXIT_INVALID;
	}
	/* the bytes compiled, includes included: not a second read of the file */
	snprintf(out->sha256, sizeof(out->sha256), "%s", out->policy->sha256);
	return DG_EXIT_OK;
}

int dg_cli_compile(const struct dg_cli *cli, const char *path, bool ask_docker, bool warnings,
		   struct dg_loaded_policy *out)
{
	struct dg_diag diag;

	memset(out, 0, sizeof(*out));
	dg_diag_init(&diag);
	out->policy = dg_policy_parse_file(path, &diag);
	return compile_policy(cli, ask_docker, warnings, &diag, out);
}

int dg_cli_compile_parsed(const struct dg_cli *cli, const struct dg_policy *policy,
			  struct dg_loaded_policy *out)
{
	struct dg_diag diag;

	memset(out, 0, sizeof(*out));
	dg_diag_init(&diag);
	/* not ours: the caller keeps it (dg_cli_policy_free leaves it) */
	out->policy = (struct dg_policy *)policy;
	out->policy_borrowed = true;
	return compile_policy(cli, false, false, &diag, out);
}

void dg_cli_policy_free(struct dg_loaded_policy *lp)
{
	dg_image_free(lp->image);
	if (!lp->policy_borrowed)
		dg_policy_free(lp->policy);
	if (lp->containers_owned) {
		dg_container_set_free(lp->containers_owned);
		free(lp->containers_owned);
	}
	lp->image = NULL;
	lp->policy = NULL;
	lp->containers_owned = NULL;
}

json_t *dg_policy_endpoints_json(const struct dg_policy *policy)
{
	json_t *eps = json_array();

	for (size_t e = 0; e < policy->n_endpoints; e++) {
		const struct dg_endpoint *ep = &policy->endpoints[e];
		json_t *o = json_object(), *dests = json_array();
		json_object_set_new(o, "id", json_integer((json_int_t)e + 1));
		json_object_set_new(o, "name", json_string(ep->name));
		for (size_t a = 0; a < ep->n_addrs; a++) {
			char t[DG_UNIX_PATH_MAX + 64];
			json_array_append_new(dests, json_string(dg_addr_format_sep(&ep->addrs[a], ':',
										       t, sizeof(t))));
		}
		json_object_set_new(o, "dests", dests);
		json_array_append_new(eps, o);
	}
	return eps;
}
