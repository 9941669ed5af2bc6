// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host audit: every listening socket of the Docker engine the policy
 * follows, and of its containerd, with what protects each one. Whoever
 * reaches one of them is root on the host, so `status`, `load`, `run` and
 * `check --host` name those that no endpoint protects.
 *
 * Everything comes from the kernel: the engine is the process that holds the
 * listening socket of the policy's Docker host (else the one of
 * /var/run/docker.pid, else a process named dockerd); its listeners are the
 * listening sockets among its open files (sock_diag), whatever started them
 * (-H flags, daemon.json "hosts", systemd's fd://).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "docker/docker.h"
#include "kernel/listeners.h"
#include "util/util.h"

#define DG_DOCKER_PIDFILE "/var/run/docker.pid"

struct engine_view {
	struct dg_listener *tcp;
	size_t n_tcp;
	struct dg_unix_listener *ux;
	size_t n_ux;
	json_t *endpoints;
	bool unix_enforced;
};

static pid_t owner_of(uint32_t inode)
{
	struct dg_sock_owner o;

	return dg_socket_owners(&inode, 1, &o) == 0 ? o.pid : 0;
}

/* The engine: who holds the policy's Docker host socket, else the pidfile's
 * process, else a process named dockerd. *how says which. */
static pid_t find_dockerd(const struct engine_view *v, const char *docker_host, const char **how)
{
	struct dg_process *ps;
	size_t n;
	pid_t pid = 0;

	if (!strncmp(docker_host, "unix://", 7)) {
		struct stat st;
		if (stat(docker_host + 7, &st) == 0)
			for (size_t i = 0; i < v->n_ux && !pid; i++)
				if (v->ux[i].file_ino == st.st_ino && v->ux[i].file_dev == st.st_dev)
					pid = owner_of(v->ux[i].inode);
	} else if (!strncmp(docker_host, "tcp://", 6)) {
		char dest[300];
		struct dg_tcp_key key;
		char path[8];
		bool is_unix;
		snprintf(dest, sizeof(dest), "tcp:%s", docker_host + 6);
		if (!dg_parse_dest(dest, &key, path, sizeof(path), &is_unix) && !is_unix)
			for (size_t i = 0; i < v->n_tcp && !pid; i++)
				if (v->tcp[i].port == key.port &&
				    (!memcmp(v->tcp[i].addr, key.addr, 16) ||
				     (v->tcp[i].families &
				      (dg_addr_is_v4(key.addr) ? DG_WILD_V4 : DG_WILD_V6))))
					pid = owner_of(v->tcp[i].inode);
	}
	if (pid) {
		*how = "holds the Docker host socket of the policy";
		return pid;
	}
	char *text = NULL;
	size_t len;
	if (read_file(DG_DOCKER_PIDFILE, 64, &text, &len) == 0) {
		pid = (pid_t)atoi(text);
		free(text);
		struct dg_process *p;
		if (pid > 0 && dg_processes_named("dockerd", &p, &n) == 0) {
			bool alive = false;
			for (size_t i = 0; i < n; i++)
				alive |= p[i].pid == pid;
			free(p);
			if (alive) {
				*how = "from " DG_DOCKER_PIDFILE;
				return pid;
			}
		}
		pid = 0;
	}
	if (dg_processes_named("dockerd", &ps, &n) == 0 && n) {
		pid = ps[0].pid;
		*how = n > 1 ? "the first of several processes named dockerd" : "the process named dockerd";
	}
	free(ps);
	return pid;
}

static void set_state(json_t *row, const char *state, const char *endpoint, const char *why)
{
	json_object_set_new(row, "state", json_string(state));
	if (endpoint)
		json_object_set_new(row, "endpoint", json_string(endpoint));
	if (why)
		json_object_set_new(row, "why", json_string(why));
}

static void judge_tcp(const struct engine_view *v, const struct dg_listener *l, json_t *row)
{
	json_t *e, *d;
	size_t i, j;
	const char *wide = NULL;
	char buf[128];

	json_array_foreach(v->endpoints, i, e)
		json_array_foreach(json_object_get(e, "dests"), j, d) {
			const char *t = json_string_value(d), *name;
			struct dg_tcp_key key;
			char path[8];
			bool is_unix;

			name = json_string_value(json_object_get(e, "name"));
			if (!t || strncmp(t, "tcp:", 4))
				continue;
			if (!strncmp(t, "tcp:*:", 6)) {
				if (atoi(t + 6) == l->port) {
					set_state(row, "protected", name, "judged on every address");
					return;
				}
				continue;
			}
			if (dg_parse_dest(t, &key, path, sizeof(path), &is_unix) || is_unix ||
			    key.port != l->port)
				continue;
			if (!memcmp(key.addr, l->addr, 16)) {
				snprintf(buf, sizeof(buf), "judged on %s", t + 4);
				set_state(row, "protected", name, buf);
				return;
			}
			if (!wide)
				wide = name;
		}
	if (wide && l->families) {
		set_state(row, "protected", wide,
			  "judged on every local address: the listener takes them all, wider than "
			  "the endpoint (see listeners)");
		return;
	}
	set_state(row, "NOT PROTECTED", NULL,
		  "no endpoint names it; whoever reaches it is root on the host");
}

static void judge_unix(struct engine_view *v, const struct dg_unix_listener *l, json_t *row)
{
	const char *slash = strrchr(l->path, '/');
	const char *file = slash ? slash + 1 : l->path;
	json_t *e, *d;
	size_t i, j;
	char buf[256];
	struct stat st;

	if (l->path[0] == '@') {
		set_state(row, "NOT PROTECTED", NULL,
			  "an abstract socket: every process in this network namespace may connect");
		return;
	}
	json_array_foreach(v->endpoints, i, e)
		json_array_foreach(json_object_get(e, "dests"), j, d) {
			const char *t = json_string_value(d), *ts;
			if (!t || strncmp(t, "unix:", 5))
				continue;
			ts = strrchr(t + 5, '/');
			if (strcmp(ts ? ts + 1 : t + 5, file))
				continue;
			const char *name = json_string_value(json_object_get(e, "name"));
			if (v->unix_enforced) {
				set_state(row, "protected", name, NULL);
			} else {
				snprintf(buf, sizeof(buf), "endpoint %s names it, but this kernel judges no "
					 "unix connect (needs Linux 6.7+ or the BPF LSM)", name);
				set_state(row, "NOT PROTECTED", name, buf);
			}
			return;
		}
	if (stat(l->path, &st) < 0) {
		set_state(row, "NOT PROTECTED", NULL,
			  "no endpoint names it, and its file cannot be examined");
		return;
	}
	/* connecting to a unix socket takes write permission on its file */
	if (st.st_mode & S_IWOTH) {
		snprintf(buf, sizeof(buf), "no endpoint names it, and its mode %04o lets every user "
			 "connect", (unsigned)(st.st_mode & 07777));
		set_state(row, "NOT PROTECTED", NULL, buf);
		return;
	}
	pid_t in_ct = 0;
	if (dg_mounted_in_container(l->path, &st, &in_ct)) {
		if (in_ct)
			snprintf(buf, sizeof(buf), "no endpoint names it, and a container mounts it "
				 "(pid %d sees it)", (int)in_ct);
		else
			snprintf(buf, sizeof(buf), "no endpoint names it, and whether a container "
				 "mounts it cannot be told (/proc)");
		set_state(row, "NOT PROTECTED", NULL, buf);
		return;
	}
	snprintf(buf, sizeof(buf), "mode %04o uid %u gid %u keeps others out; no container mounts it",
		 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid);
	set_state(row, "not reachable from containers", NULL, buf);
}

/* One row per listening socket that process `pid` holds. */
static void audit_process(struct engine_view *v, const char *what, pid_t pid, json_t *rows)
{
	uint32_t *inodes;
	size_t n;
	char buf[160];

	if (dg_process_sockets(pid, &inodes, &n))
		return;
	for (size_t k = 0; k < n; k++) {
		for (size_t i = 0; i < v->n_tcp; i++) {
			if (v->tcp[i].inode != inodes[k])
				continue;
			json_t *row = json_object();
			json_object_set_new(row, "process", json_string(what));
			json_object_set_new(row, "pid", json_integer(pid));
			snprintf(buf, sizeof(buf), "tcp:");
			dg_inet_format(v->tcp[i].addr, v->tcp[i].port, buf + 4, sizeof(buf) - 4);
			json_object_set_new(row, "listener", json_string(buf));
			judge_tcp(v, &v->tcp[i], row);
			json_array_append_new(rows, row);
		}
		for (size_t i = 0; i < v->n_ux; i++) {
			if (v->ux[i].inode != inodes[k] || !v->ux[i].path[0])
				continue;
			json_t *row = json_object();
			json_object_set_new(row, "process", json_string(what));
			json_object_set_new(row, "pid", json_integer(pid));
			snprintf(buf, sizeof(buf), "unix:%s", v->ux[i].path);
			json_object_set_new(row, "listener", json_string(buf));
			judge_unix(v, &v->ux[i], row);
			json_array_append_new(rows, row);
		}
	}
	free(inodes);
}

json_t *dg_engine_audit(json_t *endpoints, const char *docker_host, bool unix_enforced)
{
	struct engine_view v = { .endpoints = endpoints, .unix_enforced = unix_enforced };
	json_t *audit = json_object(), *rows = json_array();
	const char *how = NULL;
	int ret;

	json_object_set_new(audit, "listeners", rows);
	if (!docker_host)
		docker_host = DG_DEFAULT_DOCKER_HOST;
	if ((ret = dg_listeners_scan(&v.tcp, &v.n_tcp)) ||
	    (ret = dg_unix_listeners_scan(&v.ux, &v.n_ux))) {
		char *why = xasprintf("cannot list the listening sockets of this host (sock_diag): %s; "
				      "modprobe inet_diag tcp_diag unix_diag", strerror(-ret));
		json_object_set_new(audit, "error", json_string(why));
		free(why);
		goto out;
	}
	pid_t dockerd = find_dockerd(&v, docker_host, &how);
	if (!dockerd) {
		/* nothing listens for Docker now: nothing open, nothing to audit */
		json_object_set_new(audit, "dockerd_pid", json_null());
		goto out;
	}
	json_object_set_new(audit, "dockerd_pid", json_integer(dockerd));
	json_object_set_new(audit, "found_by", json_string(how));
	audit_process(&v, "dockerd", dockerd, rows);

	/* its containerd: a child it started, else the host's containerd */
	struct dg_process *cs;
	size_t n_cs;
	if (dg_processes_named("containerd", &cs, &n_cs) == 0) {
		bool child = false;
		for (size_t i = 0; i < n_cs; i++)
			child |= cs[i].ppid == dockerd;
		for (size_t i = 0; i < n_cs; i++)
			if (!child || cs[i].ppid == dockerd)
				audit_process(&v, "containerd", cs[i].pid, rows);
		free(cs);
	}
out:
	free(v.tcp);
	free(v.ux);
	return audit;
}

static bool not_protected(json_t *row)
{
	return !strcmp(json_string_value(json_object_get(row, "state")), "NOT PROTECTED");
}

void dg_engine_print(FILE *out, json_t *audit)
{
	json_t *row;
	size_t i;

	if (json_object_get(audit, "error")) {
		fprintf(out, "engine:      unknown: %s\n",
			json_string_value(json_object_get(audit, "error")));
		return;
	}
	if (json_is_null(json_object_get(audit, "dockerd_pid"))) {
		fprintf(out, "engine:      no Docker engine running (no process holds the Docker host "
			"socket of the policy or is named dockerd)\n");
		return;
	}
	fprintf(out, "engine:      dockerd pid %lld (%s)\n",
		(long long)json_integer_value(json_object_get(audit, "dockerd_pid")),
		json_string_value(json_object_get(audit, "found_by")));
	json_array_foreach(json_object_get(audit, "listeners"), i, row) {
		const char *state = json_string_value(json_object_get(row, "state"));
		const char *ep = json_string_value(json_object_get(row, "endpoint"));
		const char *why = json_string_value(json_object_get(row, "why"));

		fprintf(out, "  %-10s %-40s ", json_string_value(json_object_get(row, "process")),
			json_string_value(json_object_get(row, "listener")));
		if (!strcmp(state, "protected"))
			fprintf(out, "protected by %s%s%s%s\n", ep, why ? " (" : "", why ? why : "",
				why ? ")" : "");
		else
			fprintf(out, "%s%s%s\n", state, why ? ": " : "", why ? why : "");
	}
}

size_t dg_engine_warn(json_t *audit)
{
	json_t *row;
	size_t i, n = 0;

	json_array_foreach(json_object_get(audit, "listeners"), i, row) {
		if (!not_protected(row))
			continue;
		n++;
		dg_cli_error("WARNING: %s (pid %lld) listens on %s, NOT PROTECTED: %s; add it to an "
			     "endpoint of the policy, or remove it from the -H / \"hosts\" of the engine",
			     json_string_value(json_object_get(row, "process")),
			     (long long)json_integer_value(json_object_get(row, "pid")),
			     json_string_value(json_object_get(row, "listener")),
			     json_string_value(json_object_get(row, "why")));
	}
	return n;
}

size_t dg_engine_unprotected(json_t *audit)
{
	json_t *row;
	size_t i, n = 0;

	json_array_foreach(json_object_get(audit, "listeners"), i, row)
		n += not_protected(row);
	return n;
}
