// SPDX-License-Identifier: GPL-2.0-only
/* `check`, `load` and `unload`. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "kernel/kernel.h"
#include "policy/resolve.h"
#include "util/util.h"

/* The rules the files hold (not the implicit ones a relay brings). */
static size_t written_rules(const struct dg_policy *pol)
{
	size_t n = 0;

	for (size_t r = 0; r < pol->n_rules; r++)
		n += !pol->rules[r].implicit;
	return n;
}

int do_check(struct dg_cli *cli)
{
	const char *path = dg_cli_policy_path(cli);
	struct dg_loaded_policy lp;
	int ret = dg_cli_compile(cli, path, false, true, &lp);

	if (ret)
		return ret;
	printf("%s: ok (%zu endpoints, %zu rules)\n", path, lp.policy->n_endpoints,
	       written_rules(lp.policy));
	if (cli->host) {
		/* what on this host is root-equivalent, and whether this policy
		 * protects it: nothing is loaded */
		struct dg_features f;
		dg_kernel_probe(&f);
		json_t *eps = dg_policy_endpoints_json(lp.policy);
		json_t *engine = dg_engine_audit(eps, lp.policy->docker_host,
						     f.connect_unix || f.lsm);
		if (cli->json) {
			json_dumpf(engine, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			dg_engine_print(stdout, engine);
		}
		size_t bad = dg_engine_unprotected(engine);
		bool unknown = json_object_get(engine, "error") != NULL;
		json_decref(engine);
		json_decref(eps);
		dg_cli_policy_free(&lp);
		if (unknown) {
			dg_cli_error("check --host: the engine's listeners could not be examined");
			return DG_EXIT_INVALID;
		}
		if (bad) {
			dg_cli_error("check --host: %zu root-equivalent listener%s NOT PROTECTED by "
				     "this policy", bad, bad == 1 ? " is" : "s are");
			return DG_EXIT_INVALID;
		}
		return DG_EXIT_OK;
	}
	dg_cli_policy_free(&lp);
	return DG_EXIT_OK;
}

static char *iso_time(time_t t)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

/* The index of `file` (made absolute) in the description's file table,
 * added when new. */
static size_t file_index(json_t *files, const char *file)
{
	char file_abs[PATH_MAX];
	const char *abs = realpath(file, file_abs) ? file_abs : file;
	size_t f = 0, nf = json_array_size(files);

	while (f < nf && strcmp(json_string_value(json_array_get(files, f)), abs))
		f++;
	if (f == nf)
		json_array_append_new(files, json_string(abs));
	return f;
}

/* What `status`, `explain` and events need to name things, stored with the
 * policy in the kernel. */
static char *policy_meta(const char *path, const struct dg_loaded_policy *lp, const char *cgroup,
			 bool unix_enforced)
{
	json_t *root = json_object();
	json_t *eps = json_array(), *rules = json_array();
	char abs[PATH_MAX];
	char *now = iso_time(time(NULL));

	json_object_set_new(root, "file", json_string(realpath(path, abs) ? abs : path));
	json_object_set_new(root, "sha256", json_string(lp->sha256));
	json_object_set_new(root, "loaded_at", json_string(now));
	json_object_set_new(root, "cgroup", json_string(cgroup));
	json_object_set_new(root, "unix_enforced", json_boolean(unix_enforced));
	json_object_set_new(root, "container_rules", json_boolean(lp->image->has_container_rules));
	json_object_set_new(root, "docker_host", json_string(lp->policy->docker_host
								     ? lp->policy->docker_host
								     : DG_DEFAULT_DOCKER_HOST));
	free(now);
	json_decref(eps);
	eps = dg_policy_endpoints_json(lp->policy);
	/* Compact, to fit 4096 rules: [file index, line, action]. */
	json_t *files = json_array();
	for (size_t r = 0; r < lp->image->n_rules; r++) {
		const struct dg_rule_origin *o = &lp->image->origins[r];
		json_array_append_new(rules, json_pack("[iis]", (json_int_t)file_index(files, o->file),
						       (json_int_t)o->line, dg_action_name(o->action)));
	}
	/* What units, `remapped` and container subjects stood for, for status:
	 * [file index, line, text], within a budget of the kept description
	 * (the rules must fit; DG_META_CHUNK * DG_META_CHUNKS in all). */
	json_t *resolved = json_array();
	size_t budget = 32 * 1024, left_out = lp->image->resolutions_left_out;
	for (size_t i = 0; i < lp->image->n_resolutions; i++) {
		const struct dg_resolution *res = &lp->image->resolutions[i];
		size_t len = strlen(res->text) + 16;
		if (len > budget) {
			left_out += lp->image->n_resolutions - i;
			break;
		}
		budget -= len;
		json_array_append_new(resolved, json_pack("[iis]", (json_int_t)file_index(files, res->file),
							   (json_int_t)res->line, res->text));
	}
	json_object_set_new(root, "resolved", resolved);
	json_object_set_new(root, "resolved_left_out", json_integer((json_int_t)left_out));
	json_object_set_new(root, "files", files);
	json_object_set_new(root, "endpoints", eps);
	json_object_set_new(root, "rules", rules);
	json_object_set_new(root, "default", json_string(lp->policy->default_action ==
							 DG_DEFAULT_AUDIT ? "audit" : "deny"));
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* The first allowing rule that names a user and a unit or cgroup, or NULL. */
static const struct dg_rule *rule_with_user_and_place(const struct dg_policy *pol)
{
	for (size_t r = 0; r < pol->n_rules; r++) {
		const struct dg_rule *rule = &pol->rules[r];
		bool user = false, place = false;
		if (rule->action == DG_ACTION_DENY)
			continue;
		for (size_t i = 0; i < rule->n_subjects; i++) {
			user |= rule->subjects[i].kind == DG_SUBJ_USER;
			place |= rule->subjects[i].kind == DG_SUBJ_UNIT ||
				 rule->subjects[i].kind == DG_SUBJ_CGROUP;
		}
		if (user && place)
			return rule;
	}
	return NULL;
}

/*
 * `unit X user U` means X's processes of uid U, but any process of uid U may
 * ptrace them (same uid) and connect through them, unless Yama's
 * ptrace_scope is 1 or more (then only their ancestors may, and systemd is).
 */
static void warn_same_uid_ptrace(const struct dg_policy *pol)
{
	const struct dg_rule *rule = rule_with_user_and_place(pol);
	char *text = NULL;
	size_t len;

	if (!rule)
		return;
	int r = read_file("/proc/sys/kernel/yama/ptrace_scope", 64, &text, &len);
	int scope = r == 0 ? atoi(text) : -1;
	free(text);
	if (scope >= 1)
		return;
	fprintf(stderr,
		"dockguard: warning: %s:%u: this rule names a user and a unit or cgroup, but %s: "
		"any process of that user may ptrace the unit's processes and connect through "
		"them; set kernel.yama.ptrace_scope = 1 (sysctl), see docs/security.md\n",
		rule->loc.file ? rule->loc.file->name : pol->path, rule->loc.line,
		scope < 0 ? "Yama is not active here (no kernel.yama.ptrace_scope)"
			  : "kernel.yama.ptrace_scope is 0");
}

#define DG_SLOW_CONTAINER_SWAP_MS 50

/* Loads a compiled policy: the end of dg_cli_load() and dg_cli_reapply(). */
static int load_compiled(const struct dg_cli *cli, const char *path, FILE *out,
			 const struct dg_loaded_policy *lp, struct dg_err *err)
{
	struct dg_features f;
	char cgroup_buf[4096];
	const char *cgroup = cli->cgroup;
	int ret;

	if (!cgroup) {
		if (dg_cgroup2_root(cgroup_buf, sizeof(cgroup_buf))) {
			dg_err_set(err, "no cgroup v2 filesystem is mounted (see /proc/self/mounts); "
				   "mount one or give --cgroup DIR");
			return DG_EXIT_SYSTEM;
		}
		cgroup = cgroup_buf;
	}

	dg_kernel_probe(&f);
	/* as expected; `status` says what the kernel really did */
	char *meta = policy_meta(path, lp, cgroup,
				 (f.connect_unix || f.lsm) && lp->image->has_unix);
	/* Without `out`, this is the daemon recompiling for containers: the
	 * listener state is its own to keep (it syncs as the host changes), and
	 * the host audit is for loads someone reads. */
	struct dg_load_opts opts = { .bpffs = cli->bpffs, .cgroup = cgroup, .meta_json = meta,
				     .sync_listeners = out != NULL };
	struct dg_load_result res;

	ret = dg_kernel_load(&opts, lp->image, &res, err);
	if (ret) {
		free(meta);
		return DG_EXIT_SYSTEM;
	}
	json_t *meta_json = out ? json_loads(meta, 0, NULL) : NULL;
	char why[256] = "";
	json_t *listeners = out ? dg_listeners_report(json_object_get(meta_json, "endpoints"), why,
						      sizeof(why))
				: json_array();
	json_t *engine = out ? dg_engine_audit(json_object_get(meta_json, "endpoints"),
					       lp->policy->docker_host,
					       dg_unix_by(res.hooks, res.unix_by_lsm) != DG_UNIX_BY_NONE)
			     : json_object();
	json_decref(meta_json);
	free(meta);
	/* the daemon swaps for every burst of containers: say when one is slow */
	if (!out && res.swap_ms > DG_SLOW_CONTAINER_SWAP_MS)
		fprintf(stderr, "dockguard: warning: swapping in the containers took %.1f ms "
			"(over %d ms): a container waits that long to be judged as itself\n",
			res.swap_ms, DG_SLOW_CONTAINER_SWAP_MS);

	if (out) {
		fprintf(out, "%s: loaded (%zu endpoints, %zu rules), generation %llu, sha256 %.12s, "
			"swapped in %.1f ms\n", path, lp->policy->n_endpoints, written_rules(lp->policy),
			(unsigned long long)res.generation, lp->sha256, res.swap_ms);
		fprintf(out, "hooks %s at %s:", res.attached_now ? "attached" : "in place", cgroup);
		for (int h = 0; h < DG_HOOK_COUNT; h++)
			if (res.hooks[h])
				fprintf(out, " %s", dg_hook_name((enum dg_hook)h));
		fprintf(out, "\n");
		if (res.replaced_build)
			fprintf(out, "programs: moved from another dockguard build's to this one's, link by link, "
				"never unenforced (%u state maps kept)\n",
				res.shared_maps);
		if (lp->image->has_unix)
			fprintf(out, "unix endpoints: %s\n",
				dg_unix_by_text(dg_unix_by(res.hooks, res.unix_by_lsm)));
		dg_listeners_print(out, listeners);
		fflush(out);
	}
	dg_listeners_warn(listeners);
	dg_engine_warn(engine);
	json_decref(engine);
	json_decref(listeners);
	if (why[0])
		fprintf(stderr, "dockguard: warning: %s\n", why);
	else if (res.listen_warning[0])
		fprintf(stderr, "dockguard: warning: %s\n", res.listen_warning);
	if (res.lsm_warning[0])
		fprintf(stderr, "dockguard: warning: %s\n", res.lsm_warning);
	if (lp->image->aliases_left_out)
		fprintf(stderr,
			"dockguard: warning: %zu names at which containers bind-mount the socket of an "
			"endpoint are not judged as it (more than %d in one container, or %d in "
			"all): in those containers only the socket file's permissions (and the "
			"BPF LSM, where it runs) guard them\n",
			lp->image->aliases_left_out, DG_MAX_ALIASES_PER_CONTAINER,
			DG_MAX_UNIX_ALIASES / DG_SLOTS);
	if (lp->image->has_unix && dg_unix_by(res.hooks, res.unix_by_lsm) == DG_UNIX_BY_NONE)
		fprintf(stderr,
			"dockguard: WARNING: unix endpoints are NOT enforced: this kernel has no "
			"cgroup/connect_unix hook (Linux 6.7+); the socket's file permissions are "
			"the only control\n");
	if (out)
		warn_same_uid_ptrace(lp->policy);
	if (lp->image->has_container_rules && !cli->containers && !cli->daemon)
		fprintf(stderr,
			"dockguard: warning: container rules were resolved for the %zu containers "
			"that exist now; containers created later are matched only while "
			"`dockguard run` follows Docker\n",
			lp->containers_owned ? lp->containers_owned->n : 0);
	return DG_EXIT_OK;
}

int dg_cli_load(const struct dg_cli *cli, const char *path, FILE *out, struct dg_policy **keep,
		struct dg_err *err)
{
	struct dg_loaded_policy lp;
	int ret = dg_cli_compile(cli, path, true, true, &lp);

	if (ret) {
		dg_err_set(err, "%s is not a valid policy; the policy in force is unchanged", path);
		return ret;
	}
	ret = load_compiled(cli, path, out, &lp, err);
	if (ret == DG_EXIT_OK && keep) {
		*keep = lp.policy;	/* the caller's now */
		lp.policy = NULL;
	}
	dg_cli_policy_free(&lp);
	return ret;
}

int dg_cli_reapply(const struct dg_cli *cli, struct dg_err *err)
{
	struct dg_loaded_policy lp;
	int ret = dg_cli_compile_parsed(cli, cli->policy, &lp);

	if (ret) {
		dg_err_set(err, "%s no longer compiles for the containers there are now; the "
			   "policy in force is unchanged", cli->policy->path);
		return ret;
	}
	ret = load_compiled(cli, cli->policy->path, NULL, &lp, err);
	dg_cli_policy_free(&lp);
	return ret;
}

int do_load(struct dg_cli *cli)
{
	struct dg_err err = { "" };
	int ret = dg_cli_load(cli, dg_cli_policy_path(cli), stdout, NULL, &err);

	if (ret == DG_EXIT_SYSTEM)
		dg_cli_error("load failed: %s", err.msg);
	return ret;
}

int do_unload(struct dg_cli *cli)
{
	struct dg_err err = { "" };

	if (dg_kernel_unload(cli->bpffs, &err)) {
		dg_cli_error("unload: %s", err.msg);
		return DG_EXIT_SYSTEM;
	}
	printf("dockguard: unloaded (%s)\n", cli->bpffs);
	return DG_EXIT_OK;
}
