// SPDX-License-Identifier: GPL-2.0-only
/* `status [--json]`: what is enforced, where, and how often each rule decided. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "kernel/kernel.h"
#include "util/util.h"

/* The daemon's own status line, or NULL when no daemon answers. */
static json_t *daemon_status(const char *run_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", run_dir);
	size_t len = 0, cap = 65536;
	char *buf;

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, "status\n", 7) != 7) {
		close(fd);
		return NULL;
	}
	/* one line of JSON; relays with many rules make it long */
	buf = xmalloc(cap);
	for (ssize_t r; (r = read(fd, buf + len, cap - 1 - len)) > 0;) {
		len += (size_t)r;
		if (len == cap - 1) {
			if (cap >= 16 * 1024 * 1024)
				break;
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	close(fd);
	buf[len] = '\0';
	json_t *o = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	free(buf);
	return o ? o : json_object();	/* it answered, if not with JSON */
}

/* Whether the loaded policy names a unix socket (from its description). */
static bool policy_has_unix(json_t *meta)
{
	json_t *e, *d;
	size_t i, j;

	json_array_foreach(json_object_get(meta, "endpoints"), i, e)
		json_array_foreach(json_object_get(e, "dests"), j, d)
			if (!strncmp(json_string_value(d) ? json_string_value(d) : "", "unix:", 5))
				return true;
	return false;
}

/* The loaded policy as its files read now, when they are still what was
 * compiled (the same sha256): for the rules' text. NULL otherwise. */
static struct dg_policy *loaded_policy_source(json_t *meta)
{
	const char *file = json_string_value(json_object_get(meta, "file"));
	const char *sha = json_string_value(json_object_get(meta, "sha256"));
	struct dg_diag diag;

	if (!file || !sha)
		return NULL;
	dg_diag_init(&diag);
	struct dg_policy *pol = dg_policy_parse_file(file, &diag);
	dg_diag_fini(&diag);
	if (pol && strcmp(pol->sha256, sha)) {
		dg_policy_free(pol);
		return NULL;
	}
	return pol;
}

/* A rule's counts: since the first load (the rule known by what it says,
 * across reloads and container swaps), and of this generation alone. */
static void set_counts(json_t *o, const struct dg_kernel_state *st, uint32_t r)
{
	json_object_set_new(o, "allowed", json_integer((json_int_t)st->totals[r].allowed));
	json_object_set_new(o, "denied", json_integer((json_int_t)st->totals[r].denied));
	json_object_set_new(o, "this_generation", json_pack("{s:I,s:I}",
						       "allowed", (json_int_t)st->stats[r].allowed,
						       "denied", (json_int_t)st->stats[r].denied));
}

static json_t *status_json(const struct dg_cli *cli, const struct dg_kernel_state *st,
			   const struct dg_features *f, json_t *meta, json_t *ds)
{
	json_t *root = json_object(), *hooks = json_array(), *rules = json_array();

	json_object_set_new(root, "enforcing", json_boolean(st->loaded));
	json_object_set_new(root, "bpffs", json_string(cli->bpffs));
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		if (!st->hooks[h].attached)
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "hook", json_string(dg_hook_name((enum dg_hook)h)));
		json_object_set_new(o, "link_id", json_integer(st->hooks[h].link_id));
		json_object_set_new(o, "prog_id", json_integer(st->hooks[h].prog_id));
		json_object_set_new(o, "cgroup_id", json_integer((json_int_t)st->hooks[h].cgroup_id));
		json_array_append_new(hooks, o);
	}
	json_object_set_new(root, "hooks", hooks);
	bool attached[DG_HOOK_COUNT];
	for (int h = 0; h < DG_HOOK_COUNT; h++)
		attached[h] = st->hooks[h].attached;
	if (meta) {
		json_object_set(root, "cgroup", json_object_get(meta, "cgroup"));
		json_object_set(root, "policy", json_object_get(meta, "file"));
		json_object_set(root, "sha256", json_object_get(meta, "sha256"));
		json_object_set(root, "loaded_at", json_object_get(meta, "loaded_at"));
		json_object_set(root, "default", json_object_get(meta, "default"));
		json_object_set(root, "endpoints", json_object_get(meta, "endpoints"));
	}
	/* what the kernel does now, not what the loader expected */
	enum dg_unix_by by = dg_unix_by(attached, st->unix_by_lsm);
	json_object_set_new(root, "unix_enforcement", json_string(dg_unix_by_key(by)));
	json_object_set_new(root, "unix_enforced", json_boolean(by != DG_UNIX_BY_NONE &&
								 policy_has_unix(meta)));
	json_object_set_new(root, "generation", json_integer((json_int_t)st->hdr.generation));

	json_t *mrules = meta ? json_object_get(meta, "rules") : NULL;
	json_t *files = meta ? json_object_get(meta, "files") : NULL;
	size_t n = json_array_size(mrules);
	struct dg_policy *source = meta ? loaded_policy_source(meta) : NULL;
	if (source && source->n_rules != n) {
		dg_policy_free(source);
		source = NULL;
	}
	if (meta && !source)
		json_object_set_new(root, "rule_text",
				    json_string("unknown: the policy files changed since the load"));
	for (size_t r = 0; r < n && r < DG_MAX_RULES; r++) {
		json_t *o = json_object();
		json_t *mr = json_array_get(mrules, r);
		const char *file = json_string_value(
			json_array_get(files, (size_t)json_integer_value(json_array_get(mr, 0))));
		char *loc = xasprintf("%s:%lld", file ? file : "?",
				      (long long)json_integer_value(json_array_get(mr, 1)));
		json_object_set_new(o, "rule", json_string(loc));
		free(loc);
		json_object_set(o, "action", json_array_get(mr, 2));
		set_counts(o, st, r);
		if (source) {
			char *text = dg_rule_source(&source->rules[r], 60);
			json_object_set_new(o, "text", json_string(text));
			free(text);
		}
		json_array_append_new(rules, o);
	}
	json_t *dflt = json_object();
	json_object_set_new(dflt, "rule", json_string("default"));
	json_object_set(dflt, "action", meta ? json_object_get(meta, "default") : json_null());
	set_counts(dflt, st, DG_RULE_DEFAULT);
	json_array_append_new(rules, dflt);
	json_object_set_new(root, "rules", rules);
	dg_policy_free(source);

	/* what units, `remapped` and container subjects stood for at the load */
	json_t *resolved = json_array(), *mr;
	size_t i;
	json_array_foreach(meta ? json_object_get(meta, "resolved") : NULL, i, mr) {
		const char *file = json_string_value(
			json_array_get(files, (size_t)json_integer_value(json_array_get(mr, 0))));
		char *loc = xasprintf("%s:%lld", file ? file : "?",
				      (long long)json_integer_value(json_array_get(mr, 1)));
		json_array_append_new(resolved, json_pack("{s:s,s:O}", "at", loc, "what",
							  json_array_get(mr, 2)));
		free(loc);
	}
	json_object_set_new(root, "resolved", resolved);
	if (meta && json_integer_value(json_object_get(meta, "resolved_left_out")))
		json_object_set(root, "resolved_left_out", json_object_get(meta, "resolved_left_out"));

	json_t *ev = json_object();
	json_object_set_new(ev, "reported", json_integer((json_int_t)st->counters.events));
	json_object_set_new(ev, "suppressed", json_integer((json_int_t)st->counters.suppressed));
	json_object_set_new(ev, "dropped", json_integer((json_int_t)st->counters.dropped));
	json_object_set_new(ev, "handshakes_dropped",
			    json_integer((json_int_t)st->counters.handshakes));
	json_object_set_new(root, "events", ev);

	json_t *kf = json_object();
	json_object_set_new(kf, "connect_unix", json_boolean(f->connect_unix));
	json_object_set_new(kf, "bpf_lsm", json_boolean(f->lsm));
	json_object_set_new(root, "kernel", kf);
	char why[256];
	json_object_set_new(root, "listeners",
			    dg_listeners_report(json_object_get(root, "endpoints"), why, sizeof(why)));
	if (why[0])
		json_object_set_new(root, "listeners_error", json_string(why));
	json_object_set_new(root, "engine",
			    dg_engine_audit(json_object_get(root, "endpoints"),
						json_string_value(json_object_get(meta, "docker_host")),
						by != DG_UNIX_BY_NONE));
	json_object_set_new(root, "daemon", json_boolean(ds != NULL));
	if (ds && json_object_get(ds, "docker"))
		json_object_set(root, "docker", json_object_get(ds, "docker"));
	if (ds && json_object_get(ds, "relay"))
		json_object_set(root, "relay", json_object_get(ds, "relay"));
	if (ds && json_object_get(ds, "loads"))
		json_object_set(root, "loads", json_object_get(ds, "loads"));
	if (ds && json_is_object(json_object_get(ds, "fleet")))
		json_object_set(root, "fleet", json_object_get(ds, "fleet"));
	return root;
}

static void print_text(const json_t *s)
{
	printf("dockguard: enforcing\n");
	printf("policy:      %s\n", json_string_value(json_object_get(s, "policy")));
	printf("sha256:      %s\n", json_string_value(json_object_get(s, "sha256")));
	printf("generation:  %lld, loaded %s\n",
	       (long long)json_integer_value(json_object_get(s, "generation")),
	       json_string_value(json_object_get(s, "loaded_at")));
	printf("hooks:      ");
	json_t *h;
	size_t i;
	json_array_foreach(json_object_get(s, "hooks"), i, h)
		printf(" %s", json_string_value(json_object_get(h, "hook")));
	printf(" at %s\n", json_string_value(json_object_get(s, "cgroup")));
	json_t *k = json_object_get(s, "kernel");
	printf("kernel:      connect_unix %s, bpf lsm %s\n",
	       json_is_true(json_object_get(k, "connect_unix")) ? "yes" : "no",
	       json_is_true(json_object_get(k, "bpf_lsm")) ? "yes" : "no");
	const char *by = json_string_value(json_object_get(s, "unix_enforcement"));
	printf("unix endpoints: %s\n",
	       dg_unix_by_text(by && !strcmp(by, "lsm") ? DG_UNIX_BY_LSM
			       : by && !strcmp(by, "connect_unix") ? DG_UNIX_BY_PATH : DG_UNIX_BY_NONE));
	printf("daemon:      %s\n", json_is_true(json_object_get(s, "daemon")) ? "running" : "not running");
	json_t *dk = json_object_get(s, "docker");
	if (dk)
		printf("docker:      %s, %lld containers known%s%s\n",
		       json_is_true(json_object_get(dk, "connected")) ? "following" : "UNREACHABLE",
		       (long long)json_integer_value(json_object_get(dk, "containers")),
		       json_is_true(json_object_get(dk, "connected")) ? "" : ": ",
		       json_is_true(json_object_get(dk, "connected"))
			       ? ""
			       : json_string_value(json_object_get(dk, "error")));
	json_t *ev = json_object_get(s, "events");
	printf("events:      %lld reported, %lld suppressed by the rate limit, %lld dropped "
	       "(ring buffer full)\n",
	       (long long)json_integer_value(json_object_get(ev, "reported")),
	       (long long)json_integer_value(json_object_get(ev, "suppressed")),
	       (long long)json_integer_value(json_object_get(ev, "dropped")));
	printf("handshakes:  %lld SYNs dropped that no connect() was judged for (raw sockets)\n",
	       (long long)json_integer_value(json_object_get(ev, "handshakes_dropped")));
	printf("endpoints:\n");
	json_t *e;
	json_array_foreach(json_object_get(s, "endpoints"), i, e) {
		printf("  %-16s", json_string_value(json_object_get(e, "name")));
		json_t *d;
		size_t j;
		json_array_foreach(json_object_get(e, "dests"), j, d) {
			const char *t = json_string_value(d);
			bool unix_dest = !strncmp(t, "unix:", 5);
			printf(" %s%s", t,
			       unix_dest && !json_is_true(json_object_get(s, "unix_enforced"))
				       ? " (NOT ENFORCED: no connect_unix hook)"
				       : "");
		}
		printf("\n");
	}
	dg_listeners_print(stdout, json_object_get(s, "listeners"));
	if (json_object_get(s, "listeners_error"))
		printf("listeners:   unknown: %s\n",
		       json_string_value(json_object_get(s, "listeners_error")));
	dg_engine_print(stdout, json_object_get(s, "engine"));
	json_t *relay = json_object_get(s, "relay");
	if (relay) {
		long long pid = (long long)json_integer_value(json_object_get(relay, "pid"));
		printf("relay:       %s%lld, %lld connections open, %lld draining process(es)\n",
		       pid ? "process " : "NOT RUNNING ", pid,
		       (long long)json_integer_value(json_object_get(relay, "connections")),
		       (long long)json_integer_value(json_object_get(relay, "draining")));
		json_t *rr, *la;
		size_t ri, li;
		json_array_foreach(json_object_get(relay, "relays"), ri, rr) {
			json_array_foreach(json_object_get(rr, "listen"), li, la)
				printf("  %-12s listen %s: %s\n", json_string_value(json_object_get(rr, "name")),
				       json_string_value(json_object_get(la, "address")),
				       !strcmp(json_string_value(json_object_get(la, "state")), "bound")
					       ? "bound" : "WAITING for the address to appear");
			printf("  %-12s upstream %s: %s\n", json_string_value(json_object_get(rr, "name")),
			       json_string_value(json_object_get(rr, "upstream")),
			       json_is_true(json_object_get(rr, "upstream_reachable")) ? "reachable"
										: "NOT REACHABLE");
		}
		json_array_foreach(json_object_get(relay, "rules"), ri, rr)
			printf("  %-12s %-40s %9lld allowed %9lld denied\n",
			       json_string_value(json_object_get(rr, "relay")),
			       json_string_value(json_object_get(rr, "api_rule")),
			       (long long)json_integer_value(json_object_get(rr, "allowed")),
			       (long long)json_integer_value(json_object_get(rr, "denied")));
		json_array_foreach(json_object_get(relay, "learning"), ri, rr) {
			const char *prof = json_string_value(json_object_get(rr, "profile"));
			const char *until = json_string_value(json_object_get(rr, "until"));
			if (prof && !strcmp(prof, "*"))
				printf("  learning:  every profile (set api-default audit): requests no rule "
				       "matches are forwarded and logged\n");
			else if (json_is_true(json_object_get(rr, "ended")))
				printf("  learning:  profile %s ended on %s: requests no rule matches are "
				       "refused\n", prof ? prof : "?", until ? until : "?");
			else
				printf("  learning:  profile %s%s%s: requests no rule matches are forwarded "
				       "and logged\n", prof ? prof : "?", until ? " until " : "", until ? until : "");
		}
	}
	json_t *fleet = json_object_get(s, "fleet");
	if (fleet) {
		const char *state = json_string_value(json_object_get(fleet, "state"));
		printf("fleet:       %s, bundle serial %lld%s%.12s, %lld denials since it was applied%s%s\n",
		       state ? state : "?", (long long)json_integer_value(json_object_get(fleet, "serial")),
		       json_string_length(json_object_get(fleet, "bundle")) ? " " : "",
		       json_string_value(json_object_get(fleet, "bundle")),
		       (long long)json_integer_value(json_object_get(fleet, "denials")),
		       json_string_length(json_object_get(fleet, "reason")) ? "; last bundle rejected: " : "",
		       json_string_value(json_object_get(fleet, "reason")));
	}
	json_t *res = json_object_get(s, "resolved");
	if (json_array_size(res)) {
		printf("resolved:    when generation %lld was compiled\n",
		       (long long)json_integer_value(json_object_get(s, "generation")));
		json_t *one;
		json_array_foreach(res, i, one)
			printf("  %s  %s\n", json_string_value(json_object_get(one, "at")),
			       json_string_value(json_object_get(one, "what")));
		if (json_object_get(s, "resolved_left_out"))
			printf("  (%lld more not kept)\n",
			       (long long)json_integer_value(json_object_get(s, "resolved_left_out")));
	}
	printf("rules (counts since the first load; GEN: generation %lld alone):\n"
	       "  %-40s %-7s %9s %9s %9s %9s  %s\n",
	       (long long)json_integer_value(json_object_get(s, "generation")), "RULE", "ACTION",
	       "ALLOWED", "DENIED", "GEN-ALLOW", "GEN-DENY", "TEXT");
	json_t *r;
	json_array_foreach(json_object_get(s, "rules"), i, r) {
		const char *action = json_string_value(json_object_get(r, "action"));
		const char *text = json_string_value(json_object_get(r, "text"));
		json_t *gen = json_object_get(r, "this_generation");
		printf("  %-40s %-7s %9lld %9lld %9lld %9lld  %s\n",
		       json_string_value(json_object_get(r, "rule")), action ? action : "-",
		       (long long)json_integer_value(json_object_get(r, "allowed")),
		       (long long)json_integer_value(json_object_get(r, "denied")),
		       (long long)json_integer_value(json_object_get(gen, "allowed")),
		       (long long)json_integer_value(json_object_get(gen, "denied")),
		       text ? text : "");
	}
	if (json_object_get(s, "rule_text"))
		printf("  (rule text %s)\n", json_string_value(json_object_get(s, "rule_text")));
}

json_t *dg_status_collect_with(const struct dg_cli *cli, json_t *ds, int *exit_status)
{
	struct dg_kernel_state st;
	struct dg_features f;
	struct dg_err err = { "" };

	if (dg_kernel_read_state(cli->bpffs, &st, &err)) {
		dg_cli_error("status: %s", err.msg);
		*exit_status = DG_EXIT_SYSTEM;
		return NULL;
	}
	dg_kernel_probe(&f);
	if (!st.loaded) {
		json_t *o = json_object();
		json_object_set_new(o, "enforcing", json_false());
		json_object_set_new(o, "bpffs", json_string(cli->bpffs));
		json_object_set_new(o, "daemon", json_boolean(ds != NULL));
		dg_kernel_state_free(&st);
		*exit_status = DG_EXIT_NOT_LOADED;
		return o;
	}
	json_t *meta = st.meta_json ? json_loads(st.meta_json, 0, NULL) : NULL;
	json_t *s = status_json(cli, &st, &f, meta, ds);
	json_decref(meta);
	dg_kernel_state_free(&st);
	*exit_status = DG_EXIT_OK;
	return s;
}

json_t *dg_status_collect(const struct dg_cli *cli, int *exit_status)
{
	json_t *ds = daemon_status(cli->run_dir);
	json_t *s = dg_status_collect_with(cli, ds, exit_status);

	json_decref(ds);
	return s;
}

int do_status(struct dg_cli *cli)
{
	int ret;
	json_t *s = dg_status_collect(cli, &ret);

	if (!s)
		return ret;
	if (cli->json) {
		json_dumpf(s, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (ret == DG_EXIT_NOT_LOADED) {
		printf("dockguard: not loaded (no hooks pinned in %s); run `dockguard load`\n",
		       cli->bpffs);
	} else {
		print_text(s);
	}
	json_decref(s);
	return ret;
}
