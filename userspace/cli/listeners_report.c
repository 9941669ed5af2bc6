// SPDX-License-Identifier: GPL-2.0-only
/*
 * The listeners behind each TCP endpoint, for `load`, `run` and `status`:
 * which socket serves the endpoint's address (address, pid, comm, unit or
 * container), whether it takes more addresses than the endpoint names (then
 * those are judged as the endpoint too), and whether a loopback endpoint's
 * listener is reachable from other hosts, where no hook of this host judges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compile/compile.h"
#include "util/escape.h"
#include "kernel/listeners.h"
#include "util/util.h"

struct host_view {
	struct dg_listener *ls;
	size_t n_ls;
	struct dg_local_addr *local;
	size_t n_local;
	struct dg_sock_owner *owners;	/* per listener */
};

/* The unit or container a cgroup path names, from its last component. */
static void describe_cgroup(json_t *o, const char *cgroup)
{
	const char *last = strrchr(cgroup, '/');
	size_t len;

	last = last ? last + 1 : cgroup;
	len = strlen(last);
	if (!strncmp(cgroup, "/docker/", 8) && strlen(cgroup + 8) == 64) {
		json_object_set_new(o, "container", json_stringn(cgroup + 8, 12));
		return;
	}
	if (!strncmp(last, "docker-", 7) && len == 7 + 64 + 6 && !strcmp(last + len - 6, ".scope")) {
		json_object_set_new(o, "container", json_stringn(last + 7, 12));
		return;
	}
	static const char *const suffixes[] = { ".service", ".scope", ".socket", ".slice" };
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);
		if (len > sl && !strcmp(last + len - sl, suffixes[i])) {
			json_object_set_new(o, "unit", json_string(last));
			return;
		}
	}
}

/* Does listener `l` receive connects to `key` (port already equal)? A
 * listener bound to the address itself takes precedence over wildcards. */
static bool serves(const struct dg_listener *l, const uint8_t addr[16], bool exact_exists)
{
	if (!memcmp(l->addr, addr, 16))
		return true;
	if (exact_exists)
		return false;
	return l->families & (dg_addr_is_v4(addr) ? DG_WILD_V4 : DG_WILD_V6);
}

/* The endpoint that judges the other addresses of `port` (the compiler's
 * wide_ep): the first with an address of its own on that port. */
static const char *wide_endpoint_name(json_t *endpoints, uint16_t port)
{
	json_t *e, *d;
	size_t i, j;

	json_array_foreach(endpoints, i, e)
		json_array_foreach(json_object_get(e, "dests"), j, d) {
			const char *t = json_string_value(d);
			const char *colon = t ? strrchr(t, ':') : NULL;
			if (t && !strncmp(t, "tcp:", 4) && strncmp(t, "tcp:*:", 6) && colon &&
			    atoi(colon + 1) == port)
				return json_string_value(json_object_get(e, "name"));
		}
	return NULL;
}

static json_t *listener_json(const struct host_view *hv, size_t i, const uint8_t ep_addr[16],
			     bool any_dest, const char *judged_as)
{
	const struct dg_listener *l = &hv->ls[i];
	const struct dg_sock_owner *ow = &hv->owners[i];
	json_t *o = json_object();
	char buf[128];
	bool wider = l->families && !any_dest, reachable = false;

	json_object_set_new(o, "address", json_string(dg_inet_format(l->addr, l->port, buf,
									   sizeof(buf))));
	if (ow->pid) {
		/* the task's and its cgroup's names are anyone's bytes: escape.h */
		char *comm = dg_escape(ow->comm, strlen(ow->comm), NULL);
		char *cgroup = dg_escape(ow->cgroup, strlen(ow->cgroup), NULL);
		json_object_set_new(o, "pid", json_integer(ow->pid));
		json_object_set_new(o, "comm", json_string(comm));
		json_object_set_new(o, "cgroup", json_string(cgroup));
		describe_cgroup(o, cgroup);
		free(comm);
		free(cgroup);
	}
	json_object_set_new(o, "wider", json_boolean(wider));
	if (wider) {
		json_t *on = json_array();
		for (size_t a = 0; a < hv->n_local; a++) {
			const struct dg_local_addr *la = &hv->local[a];
			uint32_t fam = dg_addr_is_v4(la->addr) ? DG_WILD_V4 : DG_WILD_V6;
			static const uint8_t zero[16];
			if (!(l->families & fam) || !memcmp(la->addr, ep_addr, 16) ||
			    (la->prefixlen == 128 && (!memcmp(la->addr, zero, 16) ||
						      (fam == DG_WILD_V4 && !memcmp(la->addr + 12, zero, 4)))))
				continue;
			json_array_append_new(on, json_string(dg_prefix_format(la->addr, la->prefixlen,
										buf, sizeof(buf))));
			reachable |= !la->host_only;
		}
		json_object_set_new(o, "judged_on", on);
		json_object_set_new(o, "judged_as", json_string(judged_as ? judged_as : "?"));
	}
	/* only a loopback endpoint promises "this host only" */
	json_object_set_new(o, "network_reachable",
			    json_boolean(reachable && !any_dest && dg_addr_is_loopback(ep_addr)));
	return o;
}

json_t *dg_listeners_report(json_t *endpoints, char *why, size_t why_len)
{
	struct host_view hv = { 0 };
	json_t *report = json_array(), *e;
	size_t i;
	int ret;

	if (why_len)
		why[0] = '\0';
	if ((ret = dg_listeners_scan(&hv.ls, &hv.n_ls))) {
		snprintf(why, why_len, "cannot list the TCP listeners (sock_diag): %s; modprobe "
			 "inet_diag tcp_diag", strerror(-ret));
		return report;
	}
	if (dg_local_addrs_scan(&hv.local, &hv.n_local))
		hv.n_local = 0;
	uint32_t *inodes = xcalloc(hv.n_ls + 1, sizeof(*inodes));
	for (size_t l = 0; l < hv.n_ls; l++)
		inodes[l] = hv.ls[l].inode;
	hv.owners = xcalloc(hv.n_ls + 1, sizeof(*hv.owners));

	/* which listeners matter: those on the endpoints' ports */
	bool *wanted = xcalloc(hv.n_ls + 1, sizeof(*wanted));
	json_array_foreach(endpoints, i, e) {
		json_t *d;
		size_t j;
		json_array_foreach(json_object_get(e, "dests"), j, d) {
			const char *t = json_string_value(d);
			const char *colon = t ? strrchr(t, ':') : NULL;
			if (!t || strncmp(t, "tcp:", 4) || !colon)
				continue;
			for (size_t l = 0; l < hv.n_ls; l++)
				wanted[l] |= hv.ls[l].port == (uint16_t)atoi(colon + 1);
		}
	}
	size_t n_wanted = 0;
	for (size_t l = 0; l < hv.n_ls; l++)
		if (wanted[l])
			inodes[n_wanted++] = hv.ls[l].inode;
	struct dg_sock_owner *found = xcalloc(n_wanted + 1, sizeof(*found));
	dg_socket_owners(inodes, n_wanted, found);
	for (size_t l = 0, k = 0; l < hv.n_ls; l++)
		if (wanted[l])
			hv.owners[l] = found[k++];
	free(found);

	json_array_foreach(endpoints, i, e) {
		json_t *d;
		size_t j;
		json_array_foreach(json_object_get(e, "dests"), j, d) {
			const char *t = json_string_value(d);
			struct dg_tcp_key key;
			char path[8];
			bool is_unix = false, any_dest = false;
			uint16_t port;

			if (!t || strncmp(t, "tcp:", 4))
				continue;
			if (!strncmp(t, "tcp:*:", 6)) {
				any_dest = true;
				memset(&key, 0, sizeof(key));
				port = (uint16_t)atoi(t + 6);
			} else if (dg_parse_dest(t, &key, path, sizeof(path), &is_unix) || is_unix) {
				continue;
			} else {
				port = key.port;
			}
			bool exact_exists = false;
			for (size_t l = 0; l < hv.n_ls && !any_dest; l++)
				exact_exists |= hv.ls[l].port == port && !memcmp(hv.ls[l].addr, key.addr, 16);
			json_t *row = json_object(), *ls = json_array();
			json_object_set(row, "endpoint", json_object_get(e, "name"));
			json_object_set_new(row, "dest", json_string(t));
			for (size_t l = 0; l < hv.n_ls; l++)
				if (hv.ls[l].port == port && (any_dest || serves(&hv.ls[l], key.addr,
										exact_exists)))
					json_array_append_new(ls, listener_json(
						&hv, l, key.addr, any_dest,
						wide_endpoint_name(endpoints, port)));
			json_object_set_new(row, "listeners", ls);
			json_array_append_new(report, row);
		}
	}
	free(wanted);
	free(inodes);
	free(hv.owners);
	free(hv.ls);
	free(hv.local);
	return report;
}

/* "pid 812 dockerd, docker.service" */
static void print_owner(FILE *out, json_t *l)
{
	json_t *pid = json_object_get(l, "pid");

	if (!pid) {
		fprintf(out, " (no process found: another namespace's, or gone)");
		return;
	}
	fprintf(out, " pid %lld %s", (long long)json_integer_value(pid),
		json_string_value(json_object_get(l, "comm")));
	if (json_object_get(l, "container"))
		fprintf(out, ", container %s", json_string_value(json_object_get(l, "container")));
	else if (json_object_get(l, "unit"))
		fprintf(out, ", %s", json_string_value(json_object_get(l, "unit")));
	else
		fprintf(out, ", cgroup %s", json_string_value(json_object_get(l, "cgroup")));
}

void dg_listeners_print(FILE *out, json_t *report)
{
	json_t *row;
	size_t i;

	if (!json_array_size(report))
		return;
	fprintf(out, "listeners:\n");
	json_array_foreach(report, i, row) {
		json_t *ls = json_object_get(row, "listeners"), *l;
		size_t j;

		fprintf(out, "  %s %s:", json_string_value(json_object_get(row, "endpoint")),
			json_string_value(json_object_get(row, "dest")));
		if (!json_array_size(ls))
			fprintf(out, " no listener\n");
		json_array_foreach(ls, j, l) {
			fprintf(out, "%s%s", j ? "    " : " ",
				json_string_value(json_object_get(l, "address")));
			print_owner(out, l);
			fprintf(out, "\n");
			if (!json_is_true(json_object_get(l, "wider")))
				continue;
			fprintf(out, "      wider than the endpoint: judged as %s on",
				json_string_value(json_object_get(l, "judged_as")));
			json_t *a;
			size_t k;
			json_array_foreach(json_object_get(l, "judged_on"), k, a)
				fprintf(out, "%s %s", k ? "," : "", json_string_value(a));
			fprintf(out, " too\n");
			if (json_is_true(json_object_get(l, "network_reachable")))
				fprintf(out, "      NETWORK-REACHABLE: other hosts reach this listener "
					"unjudged\n");
		}
	}
}

void dg_listeners_warn(json_t *report)
{
	json_t *row, *l;
	size_t i, j;

	json_array_foreach(report, i, row)
		json_array_foreach(json_object_get(row, "listeners"), j, l) {
			if (!json_is_true(json_object_get(l, "network_reachable")))
				continue;
			const char *addr = json_string_value(json_object_get(l, "address"));
			const char *port = strrchr(addr, ':');
			dg_cli_error("WARNING: endpoint %s names %s, but its listener %s takes every "
				     "address: clients on other hosts reach it and no hook of this "
				     "host judges them (an unauthenticated Docker API on every address "
				     "is the classic compromise); bind it to the address of the endpoint "
				     "(dockerd -H tcp://127.0.0.1%s) or firewall the port",
				     json_string_value(json_object_get(row, "endpoint")),
				     json_string_value(json_object_get(row, "dest")), addr,
				     port ? port : "");
		}
}
