// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the Docker Engine API client (userspace/docker.c) as the
 * daemon runs it, against an API that answers with fuzzed bytes. This is
 * dockguard's hostile-input surface on the network side: HTTP framing
 * (status line, headers, Content-Length, chunked encoding), the JSON of
 * /info, /containers/json and inspect answers, and the /events stream. Every
 * input must end with the follower reporting the API lost, never in a crash,
 * a hang or a leak.
 *
 * The input is up to four raw HTTP responses separated by the line
 * "=====\n":
 *
 *   0  the answer to GET /v1.41/info
 *   1  the answer to GET /v1.41/containers/json?all=1
 *   2  the answer to every GET /v1.41/containers/ID/json; "@ID@" in it is
 *      replaced by the ID asked for, so that answers can name the right
 *      container
 *   3  the answer to GET /v1.41/events?... (the stream; its connection stays
 *      open until the client has been idle for a moment, then closes)
 *
 * A missing response is a connection closed without an answer.
 *
 * The fake API runs in the follower's own event loop (one thread): no
 * timing between threads, so an input replays the same way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "docker/docker.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP		"\n=====\n"
#define N_SEGS		4
#define SEG_INFO	0
#define SEG_LIST	1
#define SEG_INSPECT	2
#define SEG_EVENTS	3
#define MAX_CONNS	64
#define MAX_REQUEST	8192
#define IDLE_MS		2	/* the client did nothing this long: end the stream */
#define LIMIT_MS	8000	/* per input: longer is a hang */

struct conn {
	int fd;
	struct event *ev;
	char req[MAX_REQUEST];
	size_t req_len;
	char *out;		/* the answer, being sent */
	size_t out_len, out_off;
	bool answering, events;
};

struct run {
	struct event_base *base;
	struct event *accept_ev, *idle, *limit;
	const uint8_t *seg[N_SEGS];
	size_t seg_len[N_SEGS];
	struct conn *conns[MAX_CONNS];
	bool over;
	size_t containers;
};

static char sock_path[108];
static int listen_fd = -1;
static bool verbose;	/* FUZZ_DOCKER_VERBOSE=1: what the follower saw, on stderr */

static void conn_close(struct run *r, struct conn *c)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (r->conns[i] == c)
			r->conns[i] = NULL;
	if (c->ev)
		event_free(c->ev);
	close(c->fd);
	free(c->out);
	free(c);
}

static void touch(struct run *r)
{
	struct timeval tv = { 0, IDLE_MS * 1000 };
	evtimer_add(r->idle, &tv);
}

/* The answer for `path`: its segment, with @ID@ filled in for inspects;
 * an image inspect gets the inspect segment (its labels parsed the same). */
static void answer_for(struct run *r, const char *path, struct conn *c)
{
	int seg = SEG_INSPECT;
	const char *id = "";
	if (strstr(path, "/events"))
		seg = SEG_EVENTS;
	else if (strstr(path, "/info"))
		seg = SEG_INFO;
	else if (strstr(path, "/containers/json"))
		seg = SEG_LIST;
	else if ((id = strstr(path, "/containers/")))
		id += strlen("/containers/");
	else
		id = "";	/* an image's inspect: the same fuzzed answer, no id */
	c->events = seg == SEG_EVENTS;

	size_t idlen = strcspn(id, "/");
	const uint8_t *s = r->seg[seg];
	size_t n = r->seg_len[seg];
	c->out = malloc(n * (idlen > 4 ? idlen / 4 + 1 : 1) + 1);
	if (!c->out)
		abort();
	for (size_t i = 0; i < n;) {
		if (seg == SEG_INSPECT && i + 4 <= n && !memcmp(s + i, "@ID@", 4)) {
			memcpy(c->out + c->out_len, id, idlen);
			c->out_len += idlen;
			i += 4;
		} else {
			c->out[c->out_len++] = (char)s[i++];
		}
	}
}

static void conn_io(evutil_socket_t fd, short what, void *arg);

static void conn_send(struct run *r, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_del(c->ev);
			event_assign(c->ev, r->base, c->fd, EV_WRITE | EV_PERSIST, conn_io, c);
			event_add(c->ev, NULL);
			return;
		}
		if (n <= 0) {		/* the client went away: fine */
			conn_close(r, c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (!c->events) {
		conn_close(r, c);	/* Connection: close */
		return;
	}
	/* the stream: keep it open, ignore what comes */
	event_del(c->ev);
	event_assign(c->ev, r->base, c->fd, EV_READ | EV_PERSIST, conn_io, c);
	event_add(c->ev, NULL);
}

static struct run *current;

static void conn_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct run *r = current;
	touch(r);
	if (what & EV_WRITE) {
		conn_send(r, c);
		return;
	}
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(r, c);
		return;
	}
	if (c->answering)
		return;
	size_t take = (size_t)n < sizeof(c->req) - 1 - c->req_len ? (size_t)n
								      : sizeof(c->req) - 1 - c->req_len;
	memcpy(c->req + c->req_len, buf, take);
	c->req_len += take;
	c->req[c->req_len] = '\0';
	if (!strstr(c->req, "\r\n\r\n")) {
		if (c->req_len == sizeof(c->req) - 1)
			conn_close(r, c);
		return;
	}
	/* "GET PATH HTTP/1.1" */
	char path[1024] = "";
	sscanf(c->req, "GET %1023s", path);
	c->answering = true;
	answer_for(r, path, c);
	conn_send(r, c);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)what;
	touch(r);
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	size_t slot = 0;
	while (slot < MAX_CONNS && r->conns[slot])
		slot++;
	if (slot == MAX_CONNS) {
		close(cfd);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->fd = cfd;
	c->ev = event_new(r->base, cfd, EV_READ | EV_PERSIST, conn_io, c);
	event_add(c->ev, NULL);
	r->conns[slot] = c;
}

/* The client has been idle: end the event stream (once it is all sent). */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)fd;
	(void)what;
	for (size_t i = 0; i < MAX_CONNS; i++) {
		struct conn *c = r->conns[i];
		if (c && (!c->events || c->out_off < c->out_len))
			return;		/* still talking: the client is not idle */
	}
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (r->conns[i])
			conn_close(r, r->conns[i]);
}

static void on_limit(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	(void)fd;
	(void)what;
	r->over = true;
	event_base_loopbreak(r->base);
	/* every request has a 500 ms deadline and the fake API closes the
	 * stream once the client is idle: the follower must have given up */
	fprintf(stderr, "fuzz-docker: the follower still runs after %d ms\n", LIMIT_MS);
	abort();
}

/* What the daemon does with a set: look containers up by cgroup and name. */
static void on_changed(void *ctx, const struct dg_container_set *set)
{
	struct run *r = ctx;
	r->containers = set->n;
	if (verbose) {
		fprintf(stderr, "changed: %zu containers (%s)\n", set->n, set->cgroup_driver);
		for (size_t i = 0; i < set->n; i++)
			fprintf(stderr, "  %.12s name=%s image=%s service=%s cgroup=%s labels=%zu "
				"mounts=%zu\n", set->v[i].id, set->v[i].name, set->v[i].image,
				set->v[i].service ? set->v[i].service : "-", set->v[i].cgroup,
				set->v[i].n_labels, set->v[i].n_mounts);
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct dg_container *c = &set->v[i];
		if (dg_container_by_cgroup(set, c->cgroup) == NULL && c->cgroup && c->cgroup[0] &&
		    strcmp(c->cgroup, "/") != 0)
			abort();	/* a container's own cgroup must find a container */
		(void)dg_container_find(set, c->name);
		(void)dg_container_find(set, c->id);
		for (size_t k = 0; k < c->n_labels; k++)
			if (!c->labels[k].key || !c->labels[k].value)
				abort();
		for (size_t k = 0; k < c->n_mounts; k++)
			if (!c->mounts[k].source || !c->mounts[k].destination)
				abort();
	}
}

static void on_state(void *ctx, bool connected, const char *why)
{
	struct run *r = ctx;
	if (verbose)
		fprintf(stderr, "state: %s%s%s\n", connected ? "connected" : "lost",
			why ? ": " : "", why ? why : "");
	if (!connected) {
		if (!why || !why[0])
			abort();	/* a loss always says why */
		event_base_loopbreak(r->base);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_DOCKER_VERBOSE") != NULL;
	/* Container pids are fuzzed: never read this machine's /proc for them. */
	dg_docker_set_proc_root("/nonexistent-dockguard-fuzz");
	snprintf(sock_path, sizeof(sock_path), "/tmp/dg-fuzz-docker.%d.sock", (int)getpid());
	unlink(sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, MAX_CONNS) < 0) {
		perror("fuzz-docker: cannot listen on a unix socket in /tmp");
		exit(1);
	}
	return 0;
}

static void split(struct run *r, const uint8_t *data, size_t size)
{
	size_t seplen = strlen(SEP);
	const uint8_t *p = data, *end = data + size;
	for (int i = 0; i < N_SEGS; i++) {
		r->seg[i] = p;
		const uint8_t *q = i + 1 < N_SEGS ? memmem(p, (size_t)(end - p), SEP, seplen) : NULL;
		r->seg_len[i] = (size_t)((q ? q : end) - p);
		if (!q) {
			for (int k = i + 1; k < N_SEGS; k++) {
				r->seg[k] = end;
				r->seg_len[k] = 0;
			}
			return;
		}
		p = q + seplen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r = { 0 };
	char host[128];

	split(&r, data, size);
	r.base = event_base_new();
	if (!r.base)
		abort();
	current = &r;
	r.accept_ev = event_new(r.base, listen_fd, EV_READ | EV_PERSIST, on_accept, &r);
	r.idle = evtimer_new(r.base, on_idle, &r);
	r.limit = evtimer_new(r.base, on_limit, &r);
	event_add(r.accept_ev, NULL);
	struct timeval limit = { LIMIT_MS / 1000, (LIMIT_MS % 1000) * 1000 };
	evtimer_add(r.limit, &limit);

	snprintf(host, sizeof(host), "unix://%s", sock_path);
	struct dg_docker *d = dg_docker_follow(r.base, host, on_changed, on_state, &r);
	if (!d)
		abort();
	dg_docker_set_timeout(d, 500);
	event_base_dispatch(r.base);
	dg_docker_free(d);

	for (size_t i = 0; i < MAX_CONNS; i++)
		if (r.conns[i])
			conn_close(&r, r.conns[i]);
	/* connections the client opened that were never accepted */
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		close(fd);
	}
	event_free(r.accept_ev);
	event_free(r.idle);
	event_free(r.limit);
	event_base_free(r.base);
	current = NULL;
	return 0;
}
