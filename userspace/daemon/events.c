// SPDX-License-Identifier: GPL-2.0-only
/*
 * Turning a struct dg_event into something an operator reads: the endpoint
 * and rule come from the description pinned with the policy that decided
 * (looked up by generation), the cgroup path from the cgroup id through
 * open_by_handle_at(), the time from CLOCK_BOOTTIME to wall-clock.
 */
#include "daemon/events.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "docker/docker.h"
#include "kernel/kernel.h"
#include "policy/resolve.h"
#include "util/escape.h"
#include "util/util.h"


#define META_CACHE 4
#define CGROUP_CACHE 256

struct cgroup_name {
	uint64_t id;
	char *path;
};

struct dg_namer {
	char *bpffs;
	struct {
		uint64_t generation;
		json_t *meta;
	} meta[META_CACHE];
	unsigned int meta_next;
	char cgroup_root[4096];
	int cgroup_fd;
	struct cgroup_name cgroups[CGROUP_CACHE];
	unsigned int cgroup_next;
	struct dg_remap remap;
	const struct dg_container_set *containers;
};

void dg_namer_set_containers(struct dg_namer *n, const struct dg_container_set *set)
{
	n->containers = set;
}

struct dg_namer *dg_namer_new(const char *bpffs)
{
	struct dg_namer *n = xcalloc(1, sizeof(*n));

	n->bpffs = xstrdup(bpffs);
	n->cgroup_fd = -1;
	if (dg_cgroup2_root(n->cgroup_root, sizeof(n->cgroup_root)) == 0)
		n->cgroup_fd = open(n->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dg_resolve_remap(&n->remap);
	return n;
}

void dg_namer_reset(struct dg_namer *n)
{
	for (unsigned int i = 0; i < META_CACHE; i++) {
		json_decref(n->meta[i].meta);
		n->meta[i].meta = NULL;
		n->meta[i].generation = 0;
	}
}

void dg_namer_free(struct dg_namer *n)
{
	if (!n)
		return;
	dg_namer_reset(n);
	for (unsigned int i = 0; i < CGROUP_CACHE; i++)
		free(n->cgroups[i].path);
	if (n->cgroup_fd >= 0)
		close(n->cgroup_fd);
	free(n->bpffs);
	free(n);
}

/* The description of the policy that made generation `gen`'s decisions. */
static json_t *meta_for(struct dg_namer *n, uint64_t gen, uint32_t slot)
{
	for (unsigned int i = 0; i < META_CACHE; i++)
		if (n->meta[i].meta && n->meta[i].generation == gen)
			return n->meta[i].meta;

	uint64_t slot_gen;
	char *text;
	if (dg_kernel_read_meta(n->bpffs, slot, &slot_gen, &text))
		return NULL;
	json_t *meta = slot_gen == gen ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (!meta)
		return NULL;	/* that policy has been replaced twice since */
	unsigned int i = n->meta_next++ % META_CACHE;
	json_decref(n->meta[i].meta);
	n->meta[i].meta = meta;
	n->meta[i].generation = gen;
	return meta;
}

/* "/docker/<id>" for a cgroup id, or NULL when the cgroup is gone. */
static const char *cgroup_path(struct dg_namer *n, uint64_t id)
{
	for (unsigned int i = 0; i < CGROUP_CACHE; i++)
		if (n->cgroups[i].path && n->cgroups[i].id == id)
			return n->cgroups[i].path;
	char path[4096];
	if (n->cgroup_fd < 0 ||
	    dg_cgroup_path_at(n->cgroup_fd, n->cgroup_root, id, path, sizeof(path)))
		return NULL;
	unsigned int i = n->cgroup_next++ % CGROUP_CACHE;
	free(n->cgroups[i].path);
	n->cgroups[i].id = id;
	n->cgroups[i].path = xstrdup(path);
	return n->cgroups[i].path;
}

/* 2026-11-22T10:48:11.123456Z */
static void event_time(const struct dg_event *ev, char *buf, size_t len)
{
	struct timespec boot, real;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	int64_t boot_ns = (int64_t)boot.tv_sec * 1000000000 + boot.tv_nsec;
	int64_t real_ns = (int64_t)real.tv_sec * 1000000000 + real.tv_nsec;
	int64_t t = real_ns - (boot_ns - (int64_t)ev->time_ns);
	time_t sec = (time_t)(t / 1000000000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", date, (long)(t % 1000000000) / 1000);
}

static void tcp_address(uint32_t family, const uint8_t addr[16], unsigned port, char *buf,
			size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (family == DG_FAMILY_INET) {
		inet_ntop(AF_INET, addr + 12, a, sizeof(a));
		snprintf(buf, len, "tcp:%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(buf, len, "tcp:[%s]:%u", a, port);
	}
}

/* Where a handshake no connect() judged came from (DG_OP_HANDSHAKE). */
static void event_source(const struct dg_event *ev, char *buf, size_t len)
{
	tcp_address(ev->family, ev->peer.addr, ev->peer.port, buf, len);
}

/* The destination, `tcp:ADDR:PORT` or `unix:PATH` (escaped, and also the
 * characters in `also`). Caller frees. */
static char *event_dest(const struct dg_event *ev, const char *also)
{
	char buf[160];

	if (ev->family == DG_FAMILY_INET || ev->family == DG_FAMILY_INET6) {
		tcp_address(ev->family, ev->addr, ev->port, buf, sizeof(buf));
		return xstrdup(buf);
	}
	char *path = dg_escape(ev->path, sizeof(ev->path), also);
	char *dest = xasprintf("unix:%s", path);
	free(path);
	return dest;
}

/* Names from the pinned description: endpoint and rule FILE:LINE. */
struct event_names {
	const char *endpoint;
	char rule[4200];
};

static void event_names(struct dg_namer *n, const struct dg_event *ev, struct event_names *out)
{
	json_t *meta = meta_for(n, ev->generation, ev->slot);

	out->endpoint = NULL;
	if (ev->rule >= DG_MAX_RULES)
		snprintf(out->rule, sizeof(out->rule), "default");
	else
		snprintf(out->rule, sizeof(out->rule), "#%u (generation %llu)", ev->rule + 1,
			 (unsigned long long)ev->generation);
	if (!meta)
		return;
	json_t *ep = json_array_get(json_object_get(meta, "endpoints"), (size_t)ev->ep - 1);
	out->endpoint = json_string_value(json_object_get(ep, "name"));
	if (ev->rule < DG_MAX_RULES) {
		json_t *r = json_array_get(json_object_get(meta, "rules"), ev->rule);
		const char *file = json_string_value(json_array_get(
			json_object_get(meta, "files"), (size_t)json_integer_value(json_array_get(r, 0))));
		if (file) {
			char *f = dg_escape(file, strlen(file), NULL);
			snprintf(out->rule, sizeof(out->rule), "%s:%lld", f,
				 (long long)json_integer_value(json_array_get(r, 1)));
			free(f);
		}
	}
}

static bool remapped(const struct dg_namer *n, uint32_t uid)
{
	return dg_remap_container_uid(&n->remap, uid) >= 0;
}

static const char *op_name(const struct dg_event *ev)
{
	switch (ev->op) {
	case DG_OP_BIND:
		return "bind";
	case DG_OP_HANDSHAKE:
		return "handshake";
	default:
		return "connect";
	}
}

static const char *verdict_name(const struct dg_event *ev)
{
	return ev->verdict == DG_ACT_ALLOW ? "allow" : ev->verdict == DG_ACT_AUDIT ? "audit" : "deny";
}

/* The strings of an event that come from outside (a task's name, a socket
 * path, cgroup and container names), escaped for any output (escape.h).
 * For the human line, also what would end their field there: a space, and
 * in the task's name, written in parentheses, a `)`. */
struct event_strings {
	char when[48];
	char *dest, *comm, *cgroup, *remap_user;
	char *ct_id, *ct_name, *ct_image, *ct_service;	/* NULL: no container */
	struct event_names names;
};

static char *escape_or_null(const char *s, const char *also)
{
	return s ? dg_escape(s, strlen(s), also) : NULL;
}

static void event_strings(struct dg_namer *n, const struct dg_event *ev, bool line,
			  struct event_strings *es)
{
	const char *cg = cgroup_path(n, ev->cgroup_id);
	const struct dg_container *ct = cg && n->containers ? dg_container_by_cgroup(n->containers, cg)
							   : NULL;
	const char *space = line ? " " : NULL;

	memset(es, 0, sizeof(*es));
	event_time(ev, es->when, sizeof(es->when));
	event_names(n, ev, &es->names);
	es->dest = event_dest(ev, space);
	es->comm = dg_escape(ev->comm, sizeof(ev->comm), line ? ")" : NULL);
	es->cgroup = escape_or_null(cg, space);
	es->remap_user = remapped(n, ev->uid) ? escape_or_null(n->remap.user, space) : NULL;
	if (ct) {
		es->ct_id = escape_or_null(ct->id, space);
		es->ct_name = escape_or_null(ct->name, space);
		es->ct_image = escape_or_null(ct->image, space);
		es->ct_service = escape_or_null(ct->service, space);
	}
}

static void event_strings_free(struct event_strings *es)
{
	free(es->dest);
	free(es->comm);
	free(es->cgroup);
	free(es->remap_user);
	free(es->ct_id);
	free(es->ct_name);
	free(es->ct_image);
	free(es->ct_service);
}

json_t *dg_event_json(struct dg_namer *n, const struct dg_event *ev)
{
	struct event_strings es;
	json_t *o = json_object();

	event_strings(n, ev, false, &es);
	json_object_set_new(o, "time", json_string(es.when));
	json_object_set_new(o, "verdict", json_string(verdict_name(ev)));
	if (es.names.endpoint)
		json_object_set_new(o, "endpoint", json_string(es.names.endpoint));
	json_object_set_new(o, "dest", json_string(es.dest));
	json_object_set_new(o, "op", json_string(op_name(ev)));
	json_object_set_new(o, "rule", json_string(es.names.rule));
	if (ev->op == DG_OP_HANDSHAKE) {
		/* a SYN handed in without connect(): no process to name */
		char src[160];
		event_source(ev, src, sizeof(src));
		json_object_set_new(o, "source", json_string(src));
		json_object_set_new(o, "suppressed", json_integer(ev->suppressed));
		event_strings_free(&es);
		return o;
	}
	json_object_set_new(o, "pid", json_integer(ev->pid));
	json_object_set_new(o, "comm", json_string(es.comm));
	json_object_set_new(o, "uid", json_integer(ev->uid));
	json_object_set_new(o, "gid", json_integer(ev->gid));
	if (es.cgroup)
		json_object_set_new(o, "cgroup", json_string(es.cgroup));
	if (es.ct_id) {
		json_t *c = json_object();
		json_object_set_new(c, "id", json_string(es.ct_id));
		if (es.ct_name)
			json_object_set_new(c, "name", json_string(es.ct_name));
		if (es.ct_image)
			json_object_set_new(c, "image", json_string(es.ct_image));
		if (es.ct_service)
			json_object_set_new(c, "service", json_string(es.ct_service));
		json_object_set_new(o, "container", c);
	}
	if (es.remap_user) {
		json_t *r = json_object();
		json_object_set_new(r, "user", json_string(es.remap_user));
		json_object_set_new(r, "uid", json_integer(dg_remap_container_uid(&n->remap, ev->uid)));
		json_object_set_new(o, "remap", r);
	}
	json_object_set_new(o, "suppressed", json_integer(ev->suppressed));
	event_strings_free(&es);
	return o;
}

static char *event_line(struct dg_namer *n, const struct dg_event *ev,
			const struct event_strings *es)
{
	char suppressed[48] = "";
	const char *endpoint = es->names.endpoint ? es->names.endpoint : "?";

	if (ev->suppressed)
		snprintf(suppressed, sizeof(suppressed), " (+%u suppressed)", ev->suppressed);
	if (ev->op == DG_OP_HANDSHAKE) {
		char src[160];
		event_source(ev, src, sizeof(src));
		return xasprintf("%s %s %s %s handshake from %s: a SYN no connect() was judged for "
				 "(a raw or packet socket)%s",
				 es->when, verdict_name(ev), endpoint, es->dest, src, suppressed);
	}
	char *remap = es->remap_user
			      ? xasprintf(" (%s, uid %lld in the container)", es->remap_user,
					  (long long)dg_remap_container_uid(&n->remap, ev->uid))
			      : xstrdup("");
	char *container = es->ct_id ? xasprintf(" container %s (%.12s)",
						es->ct_name ? es->ct_name : "?", es->ct_id)
				    : xstrdup("");
	char *line = xasprintf("%s %s %s %s %s pid %u (%s) uid %u%s gid %u%s cgroup %s rule %s%s",
			       es->when, verdict_name(ev), endpoint, es->dest, op_name(ev), ev->pid,
			       es->comm, ev->uid, remap, ev->gid, container,
			       es->cgroup ? es->cgroup : "?", es->names.rule, suppressed);
	free(remap);
	free(container);
	return line;
}

char *dg_event_text(struct dg_namer *n, const struct dg_event *ev)
{
	struct event_strings es;

	event_strings(n, ev, true, &es);
	char *line = event_line(n, ev, &es);
	event_strings_free(&es);
	return line;
}

int dg_event_journal(struct dg_namer *n, const struct dg_event *ev)
{
	struct event_strings es;

	event_strings(n, ev, false, &es);
	char *text = dg_event_text(n, ev);
	/* deny is a warning, an audited allow is information */
	int ret = sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", ev->verdict == DG_ACT_ALLOW ? 6 : ev->verdict == DG_ACT_AUDIT ? 5 : 4,
				  "SYSLOG_IDENTIFIER=dockguard", "DOCKGUARD_VERDICT=%s", verdict_name(ev),
				  "DOCKGUARD_ENDPOINT=%s", es.names.endpoint ? es.names.endpoint : "",
				  "DOCKGUARD_DEST=%s", es.dest, "DOCKGUARD_OP=%s", op_name(ev),
				  "DOCKGUARD_RULE=%s", es.names.rule, "DOCKGUARD_PID=%u", ev->pid,
				  "DOCKGUARD_COMM=%s", es.comm,
				  "DOCKGUARD_UID=%u", ev->uid, "DOCKGUARD_GID=%u", ev->gid,
				  "DOCKGUARD_CGROUP=%s", es.cgroup ? es.cgroup : "",
				  "DOCKGUARD_SUPPRESSED=%u", ev->suppressed, NULL);
	free(text);
	event_strings_free(&es);
	return ret;
}
