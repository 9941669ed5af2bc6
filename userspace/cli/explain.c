// SPDX-License-Identifier: GPL-2.0-only
/*
 * `explain`: evaluates the compiled policy for one subject with the same
 * tables and algorithm as the BPF programs (dg_image_evaluate), and names
 * the deciding rule.
 */
#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "relay/judge.h"
#include "kernel/listeners.h"
#include "docker/docker.h"
#include "util/escape.h"
#include "kernel/kernel.h"
#include "util/util.h"

#define MAX_EXPLAIN_GROUPS 1024

static int parse_id(const char *s, bool user, uint32_t *id)
{
	uint64_t v;

	if (parse_u64(s, 0, UINT32_MAX - 1, &v) == 0) {
		*id = (uint32_t)v;
		return 0;
	}
	if (user) {
		struct passwd *pw = getpwnam(s);
		if (!pw)
			return -ENOENT;
		*id = pw->pw_uid;
	} else {
		struct group *gr = getgrnam(s);
		if (!gr)
			return -ENOENT;
		*id = gr->gr_gid;
	}
	return 0;
}

/* The policy of the loaded state, or -c, or the default file. */
static char *explain_policy_path(const struct dg_cli *cli)
{
	if (cli->config)
		return xstrdup(cli->config);

	struct dg_kernel_state st;
	struct dg_err err;
	char *path = NULL;
	if (dg_kernel_read_state(cli->bpffs, &st, &err) == 0 && st.loaded && st.meta_json) {
		json_t *meta = json_loads(st.meta_json, 0, NULL);
		const char *file = json_string_value(json_object_get(meta, "file"));
		if (file)
			path = xstrdup(file);
		json_decref(meta);
	}
	dg_kernel_state_free(&st);
	return path ? path : xstrdup(DG_DEFAULT_CONFIG);
}

static void print_rule_source(const struct dg_rule *rule)
{
	char *text = dg_rule_source(rule, 200);

	if (*text)
		printf("    %s\n", text);
	free(text);
}

/* " api (tcp:127.0.0.1:2375, tcp:[::1]:2375), sock (unix:/run/docker.sock)" */
static void print_endpoints(const struct dg_policy *pol)
{
	char buf[160];

	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		printf("%s %s (", e ? "," : "", ep->name);
		for (size_t a = 0; a < ep->n_addrs; a++)
			printf("%s%s", a ? ", " : "",
			       dg_addr_format_sep(&ep->addrs[a], ':', buf, sizeof(buf)));
		printf(")");
	}
	if (!pol->n_endpoints)
		printf(" none");
}

/*
 * The API verdict on `request` ("METHOD TARGET") for a caller that rule
 * `rule` admits to a relay: as the relay judges it. Exit status: 0 forwarded
 * (allowed or audited), 1 refused (also 400).
 */
static int explain_request(const struct dg_policy *pol, uint32_t rule, const char *request)
{
	const char *sp = strchr(request, ' ');
	struct dg_target t;
	struct dg_api_decision d;
	const char *why;
	size_t profile = rule < DG_MAX_RULES ? pol->rules[rule].api_profile : DG_API_NO_PARENT;
	char method[16];

	if (!sp || (size_t)(sp - request) >= sizeof(method)) {
		dg_cli_error("--request '%s': write 'METHOD TARGET', e.g. 'GET /v1.41/containers/json'",
			     request);
		return DG_EXIT_USAGE;
	}
	snprintf(method, sizeof(method), "%.*s", (int)(sp - request), request);
	while (*sp == ' ')
		sp++;
	if (dg_target_parse(sp, &t, &why)) {
		printf("request: 400 %s %s: %s\n", method, sp, why);
		return DG_EXIT_INVALID;
	}
	if (t.versioned && (t.major < pol->api_min_major ||
			    (t.major == pol->api_min_major && t.minor < pol->api_min_minor))) {
		printf("request: 400 %s %s: API version %u.%u is below the minimum %u.%u\n", method,
		       t.path, t.major, t.minor, pol->api_min_major, pol->api_min_minor);
		dg_target_free(&t);
		return DG_EXIT_INVALID;
	}
	dg_api_judge(pol, profile, method, &t, &d);
	printf("request: %s %s %s", d.verdict == DG_API_ALLOWED ? "allow"
				    : d.verdict == DG_API_AUDITED ? "audit (forwarded and logged)"
								   : "deny (403)", method, t.path);
	if (profile != DG_API_NO_PARENT)
		printf(" (profile %s)", pol->apis[profile].name);
	printf("\n");
	if (d.rule) {
		printf("api rule: %s:%u%s%s\n", d.rule->loc.file ? d.rule->loc.file->name : "?",
		       d.rule->loc.line, d.profile != &pol->apis[profile] ? ", from profile " : "",
		       d.profile != &pol->apis[profile] ? d.profile->name : "");
	} else if (d.verdict == DG_API_AUDITED) {
		printf("api rule: none of the profile's rules matches (learning mode: audit)\n");
	} else if (profile != DG_API_NO_PARENT && pol->apis[profile].audit) {
		const struct dg_api_profile *a = &pol->apis[profile];
		printf("api rule: none of the profile's rules matches (its learning mode, %s:%u, has "
		       "ended)\n", a->audit_loc.file ? a->audit_loc.file->name : "?", a->audit_loc.line);
	} else {
		printf("api rule: none of the profile's rules matches (set api-default deny)\n");
	}
	dg_target_free(&t);
	return d.verdict == DG_API_DENIED ? DG_EXIT_INVALID : DG_EXIT_OK;
}

int do_explain(struct dg_cli *cli)
{
	struct dg_subject_id who = { 0 };
	gid_t groups[MAX_EXPLAIN_GROUPS];
	uint32_t groups32[MAX_EXPLAIN_GROUPS];
	int n_groups = 0;
	char *cgroup = NULL;

	if (!cli->to) {
		dg_cli_error("explain needs --to DEST (tcp:127.0.0.1:2375, tcp:[::1]:2375 or "
			     "unix:/var/run/docker.sock)");
		return DG_EXIT_USAGE;
	}
	struct dg_tcp_key tk;
	char upath[DG_UNIX_NAME_LEN + 1];
	bool is_unix = false;
	const char *relay = !strncmp(cli->to, "relay:", 6) ? cli->to + 6 : NULL;
	if (relay && !*relay) {
		dg_cli_error("relay: needs the relay's name (relay:docker-relay)");
		return DG_EXIT_USAGE;
	}
	if (cli->request && !relay) {
		dg_cli_error("--request is for a relay's API: write --to relay:NAME");
		return DG_EXIT_USAGE;
	}
	if (!relay && dg_parse_dest(cli->to, &tk, upath, sizeof(upath), &is_unix)) {
		dg_cli_error("'%s' is not a destination; use tcp:ADDR:PORT, tcp:[ADDR6]:PORT, "
			     "unix:PATH or relay:NAME", cli->to);
		return DG_EXIT_USAGE;
	}
	/* --subject-cgroup, or --cgroup as before it existed (scripts); --cgroup
	 * is also the attach point of load, and both meanings may meet */
	const char *subject_cg = cli->subject_cgroup ? cli->subject_cgroup : cli->cgroup;
	if (!cli->subject_cgroup && cli->cgroup && cli->cgroup_count > 1)
		fprintf(stderr, "dockguard: warning: --cgroup given %d times: explain takes the "
			"last, %s, as the subject's cgroup; write --subject-cgroup PATH for the "
			"subject\n", cli->cgroup_count, cli->cgroup);
	else if (!cli->subject_cgroup && cli->cgroup)
		fprintf(stderr, "dockguard: warning: explain takes --cgroup %s as the subject's "
			"cgroup (for load it is the attach point); write --subject-cgroup PATH\n",
			cli->cgroup);
	if (cli->container && subject_cg) {
		dg_cli_error("give --container or --subject-cgroup, not both: a container is its "
			     "cgroup");
		return DG_EXIT_USAGE;
	}

	who.uid = geteuid();
	who.gid = getegid();
	if (cli->uid && parse_id(cli->uid, true, &who.uid)) {
		dg_cli_error("unknown user '%s'; give a user name or a numeric uid", cli->uid);
		return DG_EXIT_USAGE;
	}
	if (cli->gid) {
		if (parse_id(cli->gid, false, &who.gid)) {
			dg_cli_error("unknown group '%s'; give a group name or a numeric gid", cli->gid);
			return DG_EXIT_USAGE;
		}
	} else if (cli->uid) {
		/* that user's primary and supplementary groups */
		struct passwd *pw = getpwuid(who.uid);
		if (pw) {
			who.gid = pw->pw_gid;
			n_groups = MAX_EXPLAIN_GROUPS;
			if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n_groups) < 0)
				n_groups = 0;
		} else {
			who.gid = who.uid;
		}
	} else {
		n_groups = getgroups(MAX_EXPLAIN_GROUPS, groups);
		if (n_groups < 0)
			n_groups = 0;
	}
	for (int i = 0; i < n_groups; i++)
		groups32[i] = groups[i];
	who.groups = groups32;
	who.n_groups = (size_t)n_groups;
	if (cli->container) {
		cgroup = NULL;	/* from Docker, below */
	} else if (subject_cg) {
		if (subject_cg[0] != '/') {
			dg_cli_error("--subject-cgroup '%s' must be an absolute cgroup v2 path such as "
				     "/system.slice/nginx.service", subject_cg);
			return DG_EXIT_USAGE;
		}
		cgroup = xstrdup(subject_cg);
	} else {
		cgroup = dg_own_cgroup();
	}
	who.cgroup = cgroup;

	char *path = explain_policy_path(cli);
	struct dg_loaded_policy lp;
	int ret = dg_cli_compile(cli, path, true, cli->verbose, &lp);
	if (ret) {
		free(path);
		free(cgroup);
		return DG_EXIT_SYSTEM;
	}

	if (cli->container) {
		struct dg_container_set own = { 0 };
		const struct dg_container_set *set = lp.containers_owned;
		char err[512] = "";
		if (!set) {
			const char *host = lp.policy->docker_host ? lp.policy->docker_host
								  : DG_DEFAULT_DOCKER_HOST;
			if (dg_docker_list(host, 3000, &own, err, sizeof(err)) == 0)
				set = &own;
		}
		const struct dg_container *ct = set ? dg_container_find(set, cli->container) : NULL;
		if (!ct || !ct->cgroup) {
			if (set)
				dg_cli_error("no container '%s' on this host; give its name or id prefix "
					     "as `docker ps -a` shows it", cli->container);
			else
				dg_cli_error("cannot ask Docker about container '%s': %s",
					     cli->container, err);
			dg_container_set_free(&own);
			dg_cli_policy_free(&lp);
			free(path);
			return DG_EXIT_USAGE;
		}
		cgroup = xstrdup(ct->cgroup);
		if (!cli->uid && lp.remap.have_range) {
			/* the container's root, as the host sees it */
			who.uid = lp.remap.lo;
			who.gid = lp.remap.lo;
			who.n_groups = 0;
		} else if (!cli->uid) {
			who.uid = 0;
			who.gid = 0;
			who.n_groups = 0;
		}
		const char *raw_name = ct->name ? ct->name : "?";
		char *name = dg_escape(raw_name, strlen(raw_name), NULL);
		char *cg = dg_escape(ct->cgroup, strlen(ct->cgroup), NULL);
		printf("container %s (%.12s) in cgroup %s\n", name, ct->id, cg);
		free(name);
		free(cg);
		dg_container_set_free(&own);
		who.cgroup = cgroup;
	}

	struct dg_verdict v;
	char wide_listener[64] = "";
	if (relay) {
		/* the relay's listen addresses are its endpoint */
		size_t e = 0;
		while (e < lp.policy->n_endpoints && (!lp.policy->endpoints[e].relay ||
						      strcmp(lp.policy->endpoints[e].name, relay)))
			e++;
		memset(&v, 0, sizeof(v));
		v.rule = DG_RULE_DEFAULT;
		if (e < lp.policy->n_endpoints)
			dg_image_evaluate_endpoint(lp.image, &who, (uint8_t)(e + 1), DG_OP_CONNECT, &v);
	} else {
		dg_image_evaluate(lp.image, &who, cli->to, DG_OP_CONNECT, &v);
	}
	if (!relay && !v.ep && !is_unix) {
		/* another local address of a listener that takes every address:
		 * judged as the endpoint it serves, as the BPF programs do */
		uint8_t wide = dg_image_wide_endpoint(lp.image, tk.port);
		if (wide && dg_reaches_wildcard_listener(tk.addr, tk.port, wide_listener,
							 sizeof(wide_listener)))
			dg_image_evaluate_endpoint(lp.image, &who, wide, DG_OP_CONNECT, &v);
	}
	printf("%s %s", v.allowed ? "allow" : "deny", cli->to);
	if (!v.ep) {
		/* a typo'd destination must not read like a verdict */
		printf(": not a protected endpoint; the policy's endpoints:");
		print_endpoints(lp.policy);
		printf("\n");
	} else {
		printf(" (endpoint %s", lp.image->endpoints[v.ep].name);
		if (wide_listener[0])
			printf(": its listener %s takes this address too", wide_listener);
		printf(")\n");
		if (v.group_overflow) {
			printf("rule: none: the subject's groups hit more than %d distinct group rule "
			       "sets, which dockguard refuses (fail closed)\n", DG_MAX_GROUP_HITS);
		} else if (v.rule < DG_MAX_RULES) {
			const struct dg_rule_origin *o = &lp.image->origins[v.rule];
			printf("rule: %s:%u\n", o->file, o->line);
			print_rule_source(&lp.policy->rules[v.rule]);
		} else {
			printf("rule: default (set default %s): no rule matched\n",
			       lp.policy->default_action == DG_DEFAULT_AUDIT ? "audit" : "deny");
		}
	}
	printf("subject: uid %u gid %u groups", who.uid, who.gid);
	if (!who.n_groups)
		printf(" -");
	for (size_t i = 0; i < who.n_groups; i++)
		printf("%s%u", i ? "," : " ", who.groups[i]);
	printf(" cgroup %s\n", who.cgroup);

	ret = !v.ep ? DG_EXIT_NOT_ENDPOINT : v.allowed ? DG_EXIT_OK : DG_EXIT_INVALID;
	if (relay && v.ep && v.allowed && cli->request)
		ret = explain_request(lp.policy, v.rule, cli->request);
	dg_cli_policy_free(&lp);
	free(path);
	free(cgroup);
	return ret;
}
