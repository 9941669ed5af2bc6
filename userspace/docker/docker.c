// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Docker Engine API client (docker.h).
 *
 * Layers, bottom up:
 *   endpoint  `unix:///path` or `tcp://host:port`, parsed once;
 *   http      one GET per connection (Connection: close) on a non-blocking
 *             socket watched by libevent: status line, headers, then a body
 *             framed by Content-Length, chunked encoding or EOF. A request
 *             has a deadline (timer) for its whole life, except a streaming
 *             request (/events) whose deadline ends with its headers; its
 *             body goes to a callback as it comes, and only its lines are
 *             bounded. Writes use send(MSG_NOSIGNAL): a peer that hangs up
 *             never raises SIGPIPE in the caller;
 *   lister    /info, /containers/json?all=1, then /containers/{id}/json for
 *             each (a few at once) into a dg_container_set;
 *   follower  /events first, then the lister (so nothing that happens while
 *             listing is missed), then one inspect per container event.
 *
 * Callback discipline: a completion callback (http, lister) is the last
 * thing its caller does, so the callee may free the object that called it.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "docker/docker.h"
#include "http/http.h"
#include "util/util.h"

#define API_VERSION		"/v1.41"
#define MAX_HEAD		(64 * 1024)	/* all the headers of a response */
#define MAX_ERROR_BODY		(64 * 1024)	/* body of an error answer */
#define MAX_EVENT_LINE		(1024 * 1024)	/* one event of the stream */
#define READ_CHUNK		65536
#define INSPECT_WINDOW		8		/* inspects in flight while listing */
#define ANNOUNCE_EVERY		32		/* changes batched at most, then `changed` */

/* What one container may hold; beyond these, a field or item is left out. */
#define MAX_NAME		256
#define MAX_STRING		4096		/* image, label value, mount path */
#define MAX_LABEL_KEY		256
#define MAX_LABELS		256
#define MAX_LABEL_BYTES		(32 * 1024)
#define MAX_MOUNTS		64
#define MAX_MOUNT_BYTES		(32 * 1024)

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		30000
#define STABLE_MS		30000		/* up this long: the next retry starts at 1 s */

#define SERVICE_LABEL		"com.docker.swarm.service.name"
#define TASK_LABEL		"com.docker.swarm.task.id"
#define IMAGE_CACHE		64
#define HINT_HOST		"(set docker-host in the policy)"

static char proc_root[256] = "/proc";

void dg_docker_set_proc_root(const char *dir)
{
	snprintf(proc_root, sizeof(proc_root), "%s", dir ? dir : "/proc");
}

/* ---- endpoint ----------------------------------------------------------- */

struct endpoint {
	char *url;			/* as given, for messages */
	bool is_unix;
	struct sockaddr_un sun;		/* unix */
	char *host, *port;		/* tcp: host without brackets */
	char *host_header;
};

static void endpoint_free(struct endpoint *ep)
{
	free(ep->url);
	free(ep->host);
	free(ep->port);
	free(ep->host_header);
	memset(ep, 0, sizeof(*ep));
}

static int endpoint_parse(const char *s, struct endpoint *ep, char *err, size_t errlen)
{
	memset(ep, 0, sizeof(*ep));
	if (!s || !*s) {
		snprintf(err, errlen, "no Docker API address; set docker-host in the policy "
			 "(unix:///var/run/docker.sock or tcp://HOST:PORT)");
		return -EINVAL;
	}
	if (!strncmp(s, "unix://", 7)) {
		const char *path = s + 7;
		if (path[0] != '/' || strlen(path) >= sizeof(ep->sun.sun_path)) {
			snprintf(err, errlen,
				 "'%s' is not a usable Docker API address: the socket path must be "
				 "absolute and at most %zu bytes; use unix:///var/run/docker.sock",
				 s, sizeof(ep->sun.sun_path) - 1);
			return -EINVAL;
		}
		ep->is_unix = true;
		ep->sun.sun_family = AF_UNIX;
		memcpy(ep->sun.sun_path, path, strlen(path) + 1);
		ep->host_header = xstrdup("docker");
		ep->url = xstrdup(s);
		return 0;
	}

	const char *rest = NULL;
	if (!strncmp(s, "tcp://", 6))
		rest = s + 6;
	else if (!strncmp(s, "http://", 7))
		rest = s + 7;
	if (!rest || !*rest)
		goto bad;

	size_t n = strlen(rest);
	while (n && rest[n - 1] == '/')
		n--;
	char *hp = xstrndup(rest, n);
	char *port = NULL;
	if (hp[0] == '[') {
		char *rb = strchr(hp, ']');
		if (!rb || (rb[1] && rb[1] != ':')) {
			free(hp);
			goto bad;
		}
		*rb = '\0';
		ep->host = xstrdup(hp + 1);
		port = rb[1] ? rb + 2 : NULL;
	} else {
		char *colon = strrchr(hp, ':');
		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
		ep->host = xstrdup(hp);
	}
	uint64_t v = 2375;
	if (port && parse_u64(port, 1, 65535, &v) != 0) {
		free(hp);
		endpoint_free(ep);
		goto bad;
	}
	free(hp);
	if (!ep->host[0] || strchr(ep->host, '/') || strchr(ep->host, ' ')) {
		endpoint_free(ep);
		goto bad;
	}
	ep->port = xasprintf("%u", (unsigned int)v);
	ep->host_header = strchr(ep->host, ':') ? xasprintf("[%s]:%s", ep->host, ep->port)
						  : xasprintf("%s:%s", ep->host, ep->port);
	ep->url = xstrdup(s);
	return 0;
bad:
	snprintf(err, errlen,
		 "'%s' is not a Docker API address; write unix:///PATH or tcp://HOST:PORT "
		 "(set docker-host in the policy)", s);
	return -EINVAL;
}

/*
 * Starts a non-blocking connect. Returns the socket, with *in_progress set
 * when the connect completes later, or -errno with `err` set.
 */
static int endpoint_connect(const struct endpoint *ep, bool *in_progress, char *err, size_t errlen)
{
	*in_progress = false;
	if (ep->is_unix) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			int e = -errno;
			snprintf(err, errlen, "cannot create a socket for the Docker API: %s",
				 strerror(-e));
			return e;
		}
		if (connect(fd, (const struct sockaddr *)&ep->sun, sizeof(ep->sun)) == 0)
			return fd;
		int e = errno;
		if (e == EINPROGRESS) {
			*in_progress = true;
			return fd;
		}
		close(fd);
		if (e == EAGAIN)
			snprintf(err, errlen,
				 "the Docker API at %s accepts no more connections (listen backlog "
				 "full); is dockerd overloaded or stuck?", ep->url);
		else
			snprintf(err, errlen,
				 "cannot reach the Docker API at %s: %s; is dockerd running? "
				 HINT_HOST, ep->url, strerror(e));
		return -e;
	}

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(ep->host, ep->port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "cannot resolve the Docker API host in %s: %s " HINT_HOST,
			 ep->url, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	int e = ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		int c = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (c == 0 || errno == EINPROGRESS) {
			*in_progress = c != 0;
			freeaddrinfo(res);
			return fd;
		}
		e = errno;
		close(fd);
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "cannot reach the Docker API at %s: %s; is dockerd running and "
		 "listening there? " HINT_HOST, ep->url, strerror(e));
	return -e;
}

/* ---- http: one GET, one connection ---------------------------------------- */

enum hstate { H_CONNECTING, H_SENDING, H_READING, H_DONE };

struct http;
/* A streaming request's 200 headers arrived. */
typedef void (*http_head_fn)(struct http *h, void *arg);
/* A piece of a streaming body; a negative errno (with h->msg set) aborts. */
typedef int (*http_data_fn)(struct http *h, const char *data, size_t len, void *arg);
/*
 * The end: err 0 with h->status and h->body (a complete answer of any status),
 * or -errno with `msg`. The callee may free `h`; copy `msg` first.
 */
typedef void (*http_done_fn)(struct http *h, int err, const char *msg, void *arg);

struct http {
	const struct endpoint *ep;
	char path[256];
	char *req;
	size_t req_len, req_off;
	int fd;
	int timeout_ms;
	struct event *io, *timer;
	enum hstate st;
	int status;
	bool stream;
	struct dg_http parser;		/* the answer (http/http.h) */
	struct evbuffer *in, *body;
	size_t body_max;
	int early_err;			/* a failure to report from the timer */
	char msg[768];
	http_head_fn on_head;
	http_data_fn on_data;
	http_done_fn on_done;
	void *arg;
};

static void http_free(struct http *h)
{
	if (!h)
		return;
	if (h->io)
		event_free(h->io);
	if (h->timer)
		event_free(h->timer);
	if (h->fd >= 0)
		close(h->fd);
	if (h->in)
		evbuffer_free(h->in);
	if (h->body)
		evbuffer_free(h->body);
	dg_http_fini(&h->parser);
	free(h->req);
	free(h);
}

/* Ends the request with an error: the last thing any caller does. */
__attribute__((format(printf, 3, 4)))
static void http_fail(struct http *h, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
	va_end(ap);
	h->st = H_DONE;
	if (h->io)
		event_del(h->io);
	if (h->timer)
		event_del(h->timer);
	h->on_done(h, err, h->msg, h->arg);
}

static void http_succeed(struct http *h)
{
	h->st = H_DONE;
	event_del(h->io);
	event_del(h->timer);
	h->on_done(h, 0, NULL, h->arg);
}

static void http_bad(struct http *h, const char *what)
{
	http_fail(h, -EPROTO,
		  "the Docker API at %s sent an invalid HTTP answer to GET %s (%s); is that "
		  "address really the Docker API? " HINT_HOST, h->ep->url, h->path, what);
}

static void http_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	(void)fd;
	(void)what;
	if (h->early_err) {
		h->st = H_DONE;
		h->on_done(h, h->early_err, h->msg, h->arg);
		return;
	}
	http_fail(h, -ETIMEDOUT,
		  "the Docker API at %s did not answer GET %s within %d ms; is dockerd stuck or "
		  "overloaded? (check `systemctl status docker`)", h->ep->url, h->path,
		  h->timeout_ms);
}

static int body_add(struct http *h, const char *data, size_t n)
{
	if (h->stream)
		return h->on_data(h, data, n, h->arg);
	if (evbuffer_get_length(h->body) + n > h->body_max)
		return -EFBIG;
	evbuffer_add(h->body, data, n);
	return 0;
}

static void http_too_large(struct http *h)
{
	http_fail(h, -EFBIG,
		  "the Docker API at %s sent more than %zu bytes for GET %s; refused (a hostile "
		  "or broken API? " HINT_HOST ")", h->ep->url, h->body_max, h->path);
}

/* The answer's head: its status, and a stream's start. */
static int http_on_head(void *arg, const struct dg_http_head *head)
{
	struct http *h = arg;

	h->status = head->status;
	if (h->stream && h->status != 200) {
		/* An error answer: read it whole, for its message. */
		h->stream = false;
		h->body_max = MAX_ERROR_BODY;
	}
	if (h->stream) {
		event_del(h->timer);	/* events may be quiet for hours */
		h->on_head(h, h->arg);
	}
	if (!h->stream && head->has_length && head->content_length > h->body_max)
		return -EFBIG;
	return 0;
}

static int http_on_body(void *arg, const char *data, size_t len)
{
	return body_add(arg, data, len);
}

static const struct dg_http_callbacks http_answer_callbacks = {
	.on_head = http_on_head,
	.on_body = http_on_body,
};

/* An error from the parser or a callback ends `h`. */
static void http_parse_failed(struct http *h, long r)
{
	if (r == -EFBIG) {
		http_too_large(h);
	} else if (r == -EBADMSG || r == -E2BIG) {
		http_bad(h, dg_http_error(&h->parser));
	} else {
		h->st = H_DONE;
		event_del(h->io);
		event_del(h->timer);
		h->on_done(h, (int)r, h->msg, h->arg);
	}
}

/* Consumes what `in` holds; `eof`: the API closed. Returns false when `h` ended. */
static bool http_parse(struct http *h, bool eof)
{
	size_t avail = evbuffer_get_length(h->in);

	if (avail) {
		long r = dg_http_feed(&h->parser, (const char *)evbuffer_pullup(h->in, -1), avail);
		/* all of it: after the answer, nothing more is read (Connection: close) */
		evbuffer_drain(h->in, avail);
		if (r < 0) {
			http_parse_failed(h, r);
			return false;
		}
	}
	if (eof && !dg_http_done(&h->parser)) {
		long r = dg_http_feed(&h->parser, NULL, 0);	/* a body that ran to the close */
		if (r < 0 && r != -EBADMSG) {
			http_parse_failed(h, r);
			return false;
		}
	}
	if (dg_http_done(&h->parser)) {
		http_succeed(h);
		return false;
	}
	if (!eof)
		return true;
	if (!dg_http_started(&h->parser))
		http_fail(h, -ECONNRESET,
			  "the Docker API at %s closed the connection without answering GET %s; "
			  "is dockerd shutting down?", h->ep->url, h->path);
	else if (h->stream && h->status)
		http_fail(h, -ECONNRESET, "the Docker API at %s ended the event stream",
			  h->ep->url);
	else
		http_fail(h, -ECONNRESET,
			  "the Docker API at %s closed the connection in the middle of its answer "
			  "to GET %s", h->ep->url, h->path);
	return false;
}

static void http_io(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	(void)what;

	if (h->st == H_CONNECTING) {
		int e = 0;
		socklen_t len = sizeof(e);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e) {
			http_fail(h, -e,
				  "cannot reach the Docker API at %s: %s; is dockerd running? "
				  HINT_HOST, h->ep->url, strerror(e));
			return;
		}
		h->st = H_SENDING;
	}
	if (h->st == H_SENDING) {
		while (h->req_off < h->req_len) {
			ssize_t n = send(fd, h->req + h->req_off, h->req_len - h->req_off,
					 MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				int e = errno;
				http_fail(h, -e, "cannot send GET %s to the Docker API at %s: %s",
					  h->path, h->ep->url, strerror(e));
				return;
			}
			h->req_off += (size_t)n;
		}
		event_del(h->io);
		event_assign(h->io, event_get_base(h->io), fd, EV_READ | EV_PERSIST, http_io, h);
		event_add(h->io, NULL);
		h->st = H_READING;
		return;
	}

	int n = evbuffer_read(h->in, fd, READ_CHUNK);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		int e = errno;
		http_fail(h, -e, "cannot read the answer of the Docker API at %s to GET %s: %s",
			  h->ep->url, h->path, strerror(e));
		return;
	}
	http_parse(h, n == 0);
}

/*
 * Starts `GET path`. Failures, even immediate ones, come through on_done,
 * never from inside this call. `on_head`/`on_data` make it a streaming
 * request; `body_max` bounds the body of the others.
 */
static struct http *http_get(struct event_base *base, const struct endpoint *ep,
			     const char *path, int timeout_ms, size_t body_max,
			     http_head_fn on_head, http_data_fn on_data, http_done_fn on_done,
			     void *arg)
{
	struct http *h = xcalloc(1, sizeof(*h));
	h->ep = ep;
	h->fd = -1;
	snprintf(h->path, sizeof(h->path), "%s", path);
	h->timeout_ms = timeout_ms;
	h->body_max = body_max;
	h->stream = on_data != NULL;
	h->on_head = on_head;
	h->on_data = on_data;
	h->on_done = on_done;
	h->arg = arg;
	h->in = evbuffer_new();
	h->body = evbuffer_new();
	dg_http_init(&h->parser, DG_HTTP_RESPONSE, MAX_HEAD, &http_answer_callbacks, h);
	h->timer = evtimer_new(base, http_timeout, h);
	if (!h->in || !h->body || !h->timer) {
		fprintf(stderr, "dockguard: out of memory\n");
		exit(3);
	}
	h->req = xasprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dockguard\r\n"
			   "Accept: application/json\r\nConnection: close\r\n\r\n",
			   path, ep->host_header);
	h->req_len = strlen(h->req);

	bool in_progress;
	h->fd = endpoint_connect(ep, &in_progress, h->msg, sizeof(h->msg));
	if (h->fd < 0) {
		h->early_err = h->fd;
		h->fd = -1;
		event_active(h->timer, EV_TIMEOUT, 1);
		return h;
	}
	if (h->stream && !ep->is_unix) {
		/* No idle timeout on the stream, but a dead peer is noticed. */
		int one = 1, idle = 60, intvl = 10, cnt = 6;
		setsockopt(h->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(h->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(h->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(h->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	h->st = in_progress ? H_CONNECTING : H_SENDING;
	h->io = event_new(base, h->fd, EV_WRITE | EV_PERSIST, http_io, h);
	if (!h->io) {
		fprintf(stderr, "dockguard: out of memory\n");
		exit(3);
	}
	event_add(h->io, NULL);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	event_add(h->timer, &tv);
	return h;
}

/* The `message` of an error answer, or a piece of its body. */
static void http_error_text(struct http *h, char *buf, size_t len)
{
	size_t n = evbuffer_get_length(h->body);
	const char *body = n ? (const char *)evbuffer_pullup(h->body, -1) : "";
	json_t *j = json_loadb(body, n, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));
	if (m) {
		snprintf(buf, len, "%s", m);
	} else {
		size_t k = 0;
		for (size_t i = 0; i < n && k + 1 < len && k < 200; i++)
			buf[k++] = (body[i] >= 0x20 && body[i] < 0x7f) ? body[i] : '?';
		buf[k] = '\0';
	}
	json_decref(j);
}

/* A complete 200 answer as JSON; else -errno with `err` set. */
static int http_json(struct http *h, json_t **out, char *err, size_t errlen)
{
	*out = NULL;
	if (h->status != 200) {
		char text[256];
		http_error_text(h, text, sizeof(text));
		snprintf(err, errlen, "the Docker API at %s answered GET %s with HTTP %d: %s%s",
			 h->ep->url, h->path, h->status, text,
			 strstr(text, "too new") ? " (dockguard needs Docker 20.10 or later)" : "");
		return h->status == 404 ? -ENOENT : -EIO;
	}
	size_t n = evbuffer_get_length(h->body);
	const char *body = n ? (const char *)evbuffer_pullup(h->body, -1) : "";
	json_error_t je;
	json_t *j = json_loadb(body, n, 0, &je);
	if (!j) {
		snprintf(err, errlen,
			 "the Docker API at %s sent malformed JSON for GET %s: %s at byte %d; is "
			 "that address really the Docker API? " HINT_HOST,
			 h->ep->url, h->path, je.text, je.position);
		return -EPROTO;
	}
	*out = j;
	return 0;
}

/* ---- containers --------------------------------------------------------- */

static bool valid_id(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static void container_free(struct dg_container *c)
{
	free(c->name);
	free(c->image);
	free(c->service);
	free(c->image_ref);
	for (size_t i = 0; i < c->n_labels; i++) {
		free(c->labels[i].key);
		free(c->labels[i].value);
	}
	free(c->labels);
	free(c->cgroup);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].source);
		free(c->mounts[i].destination);
	}
	free(c->mounts);
	memset(c, 0, sizeof(*c));
}

void dg_container_set_free(struct dg_container_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		container_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool container_equal(const struct dg_container *a, const struct dg_container *b)
{
	if (strcmp(a->id, b->id) || a->provisional != b->provisional ||
	    !str_eq(a->name, b->name) || !str_eq(a->image, b->image) ||
	    !str_eq(a->service, b->service) || !str_eq(a->cgroup, b->cgroup) ||
	    a->pid != b->pid || a->n_labels != b->n_labels || a->n_mounts != b->n_mounts)
		return false;
	for (size_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i].key, b->labels[i].key) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return false;
	for (size_t i = 0; i < a->n_mounts; i++)
		if (strcmp(a->mounts[i].source, b->mounts[i].source) ||
		    strcmp(a->mounts[i].destination, b->mounts[i].destination))
			return false;
	return true;
}

/* A string member no longer than `max`, or NULL. */
static const char *json_str(json_t *obj, const char *key, size_t max)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (!s || strlen(s) > max)
		return NULL;
	return s;
}

/* "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" -> "" (the root). */
static char *slice_path(const char *slice)
{
	size_t n = strlen(slice);
	if (n < 6 || strcmp(slice + n - 6, ".slice") != 0) {
		/* Not a slice name: dockerd refuses those; use it as a path. */
		return xasprintf("%s%s", slice[0] == '/' ? "" : "/", slice);
	}
	if (!strcmp(slice, "-.slice"))
		return xstrdup("");
	size_t stem = n - 6;
	char *out = xstrdup("");
	for (size_t i = 0; i <= stem; i++) {
		if (i < stem && slice[i] != '-')
			continue;
		if (i == 0 || (i < stem && slice[i - 1] == '-'))
			continue;	/* empty component: leave it to the full name */
		char *next = i == stem ? xasprintf("%s/%s", out, slice)
				       : xasprintf("%s/%.*s.slice", out, (int)i, slice);
		free(out);
		out = next;
	}
	return out;
}

static char *computed_cgroup(const char *driver, const char *parent, const char *id)
{
	if (!strcmp(driver, "systemd")) {
		char *slice = slice_path(parent && *parent ? parent : "system.slice");
		char *path = xasprintf("%s/docker-%s.scope", slice, id);
		free(slice);
		return path;
	}
	const char *p = parent && *parent ? parent : "/docker";
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return xasprintf("%s%.*s/%s", p[0] == '/' ? "" : "/", (int)n, p, id);
}

/* The "0::" path of a running container's process, if it names the container. */
static char *proc_cgroup(int pid, const char *id)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid);
	char *text;
	size_t len;
	if (read_file(path, 64 * 1024, &text, &len) != 0)
		return NULL;
	char *found = NULL;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		/* A reused pid, or another pid namespace, would name another cgroup. */
		if (strstr(line + 3, id) && strlen(line + 3) < MAX_STRING)
			found = xstrdup(line + 3);
		break;
	}
	free(text);
	return found;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dg_label *)a)->key, ((const struct dg_label *)b)->key);
}

/*
 * An inspect answer into `c`. Fields over their bounds are left out (a name
 * that no rule could match rather than a cut one that might).
 */
static int container_from_json(json_t *j, const char *want_id, const char *driver,
			       struct dg_container *c)
{
	memset(c, 0, sizeof(*c));
	const char *id = json_string_value(json_object_get(j, "Id"));
	if (!json_is_object(j) || !valid_id(id) || strcmp(id, want_id) != 0)
		return -EPROTO;
	memcpy(c->id, id, 65);

	const char *name = json_str(j, "Name", MAX_NAME);
	c->name = xstrdup(name ? name + (name[0] == '/') : "");

	json_t *config = json_object_get(j, "Config");
	const char *image = json_str(config, "Image", MAX_STRING);
	c->image = xstrdup(image ? image : "");
	const char *image_id = json_str(j, "Image", MAX_STRING);
	if (image_id && *image_id)
		c->image_ref = xstrdup(image_id);
	else if (image && *image)
		c->image_ref = xstrdup(image);

	json_t *labels = json_object_get(config, "Labels");
	if (json_is_object(labels)) {
		size_t cap = json_object_size(labels), bytes = 0;
		if (cap > MAX_LABELS)
			cap = MAX_LABELS;
		c->labels = cap ? xcalloc(cap, sizeof(*c->labels)) : NULL;
		const char *key;
		json_t *val;
		json_object_foreach(labels, key, val) {
			const char *v = json_string_value(val);
			if (c->n_labels == cap)
				break;
			if (!v || strlen(key) > MAX_LABEL_KEY || strlen(v) > MAX_STRING ||
			    bytes + strlen(key) + strlen(v) > MAX_LABEL_BYTES)
				continue;
			bytes += strlen(key) + strlen(v);
			c->labels[c->n_labels].key = xstrdup(key);
			c->labels[c->n_labels].value = xstrdup(v);
			c->n_labels++;
		}
		if (c->n_labels > 1)
			qsort(c->labels, c->n_labels, sizeof(*c->labels), label_cmp);
	}

	json_t *state = json_object_get(j, "State");
	json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
	c->pid = pid > 0 && pid <= INT32_MAX ? (int)pid : 0;

	if (c->pid > 0)
		c->cgroup = proc_cgroup(c->pid, c->id);
	if (!c->cgroup) {
		const char *parent = json_str(json_object_get(j, "HostConfig"), "CgroupParent",
					      MAX_STRING);
		c->cgroup = computed_cgroup(driver, parent, c->id);
	}

	json_t *mounts = json_object_get(j, "Mounts");
	size_t i, bytes = 0;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));
		const char *src = json_str(m, "Source", MAX_STRING);
		const char *dst = json_str(m, "Destination", MAX_STRING);
		if (!type || strcmp(type, "bind") != 0 || !src || !dst)
			continue;
		if (c->n_mounts == MAX_MOUNTS || bytes + strlen(src) + strlen(dst) > MAX_MOUNT_BYTES)
			break;
		bytes += strlen(src) + strlen(dst);
		c->mounts = xreallocarray(c->mounts, c->n_mounts + 1, sizeof(*c->mounts));
		c->mounts[c->n_mounts].source = xstrdup(src);
		c->mounts[c->n_mounts].destination = xstrdup(dst);
		c->n_mounts++;
	}
	return 0;
}

/*
 * Leaves out of c->labels those the container inherited from its image
 * (`image`: the image inspect answer, NULL when it could not be had: then
 * every label, since none can be told from the image's), and names the swarm
 * service only of a task container (task id and service name both given at
 * create). An image author chooses the image's labels; a rule must never
 * trust them as if the operator had set them.
 */
static void keep_create_labels(struct dg_container *c, json_t *image)
{
	json_t *img_labels = image ? json_object_get(json_object_get(image, "Config"), "Labels")
				   : NULL;
	size_t kept = 0;
	bool task = false;
	const char *service = NULL;

	for (size_t i = 0; i < c->n_labels; i++) {
		struct dg_label *l = &c->labels[i];
		const char *iv = json_string_value(json_object_get(img_labels, l->key));
		if (!image || (iv && !strcmp(iv, l->value))) {
			free(l->key);
			free(l->value);
			continue;
		}
		c->labels[kept++] = *l;
	}
	c->n_labels = kept;
	for (size_t i = 0; i < c->n_labels; i++) {
		task |= !strcmp(c->labels[i].key, TASK_LABEL);
		if (!strcmp(c->labels[i].key, SERVICE_LABEL))
			service = c->labels[i].value;
	}
	free(c->service);
	c->service = task && service ? xstrdup(service) : NULL;
}

/* The API path of an image's inspect, or NULL for a reference that is not
 * plainly a name or an id (then its labels cannot be read). */
static char *image_path(const struct dg_container *c)
{
	if (!c->image_ref || !*c->image_ref ||
	    strspn(c->image_ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				 "._-/:@") != strlen(c->image_ref))
		return NULL;
	return xasprintf(API_VERSION "/images/%s/json", c->image_ref);
}

/*
 * What telling c's labels from its image's takes: NULL when that is settled
 * now (no labels; `known`, the image's answer, at hand; or no image
 * reference to read), else the API path of the image to read (malloc'd).
 */
static char *labels_image_path(struct dg_container *c, json_t *known)
{
	char *ipath;

	if (!c->n_labels)
		return NULL;
	ipath = known ? NULL : image_path(c);
	if (!ipath)
		keep_create_labels(c, known);
	return ipath;
}

/* A request's answer as JSON into *j (NULL on error), or its error, with
 * the message in `buf`: the transport's, or what http_json() says (-ENOENT
 * for a 404). */
static int answer_json(struct http *h, int err, const char *msg, json_t **j, char *buf,
		       size_t len)
{
	*j = NULL;
	if (!err)
		return http_json(h, j, buf, len);
	snprintf(buf, len, "%s", msg);
	return err;
}

static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(path, dir, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && dir[0] == '/');
}

const struct dg_container *dg_container_by_cgroup(const struct dg_container_set *set,
						  const char *cgroup)
{
	const struct dg_container *best = NULL;
	size_t best_len = 0;
	if (!set || !cgroup)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		const struct dg_container *c = &set->v[i];
		/* A container's cgroup is never the root: "/" would claim every task. */
		if (!c->cgroup || !c->cgroup[0] || !strcmp(c->cgroup, "/"))
			continue;
		size_t n = strlen(c->cgroup);
		if (n > best_len && path_within(cgroup, c->cgroup)) {
			best = c;
			best_len = n;
		}
	}
	return best;
}

const struct dg_container *dg_container_find(const struct dg_container_set *set,
					     const char *name)
{
	if (!set || !name)
		return NULL;
	if (name[0] == '/')
		name++;
	if (!name[0])
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].name && !strcmp(set->v[i].name, name))
			return &set->v[i];
	/* An id or a prefix of one, as the docker CLI takes it: unique or nothing. */
	size_t n = strlen(name);
	const struct dg_container *found = NULL;
	for (size_t i = 0; i < set->n; i++) {
		if (strncmp(set->v[i].id, name, n) != 0)
			continue;
		if (n == 64)
			return &set->v[i];
		if (found)
			return NULL;
		found = &set->v[i];
	}
	return found;
}

/* ---- lister: info, containers, inspect each ------------------------------- */

struct lister;
typedef void (*lister_done_fn)(struct lister *l, int err, const char *msg, void *arg);

struct lister {
	struct event_base *base;
	const struct endpoint *ep;
	int timeout_ms;
	struct http *req;			/* info or list */
	struct http *insp[INSPECT_WINDOW];
	size_t insp_idx[INSPECT_WINDOW];
	char (*ids)[65];
	size_t n_ids, next;
	struct dg_container *slots;		/* by id index */
	bool *have;
	struct dg_container_set set;
	lister_done_fn done;
	void *arg;
	char err[768];
};

static void lister_free(struct lister *l)
{
	if (!l)
		return;
	http_free(l->req);
	for (size_t i = 0; i < INSPECT_WINDOW; i++)
		http_free(l->insp[i]);
	for (size_t i = 0; i < l->n_ids; i++)
		if (l->have && l->have[i])
			container_free(&l->slots[i]);
	free(l->slots);
	free(l->have);
	free(l->ids);
	dg_container_set_free(&l->set);
	free(l);
}

/* The last thing a lister callback does. */
static void lister_end(struct lister *l, int err)
{
	l->done(l, err, err ? l->err : NULL, l->arg);
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A listed container, for choosing which to follow when there are more
 * than DG_DOCKER_MAX_CONTAINERS: running ones first, they can connect. */
struct listed_id {
	int stopped;
	char id[65];
};

static int listed_cmp(const void *a, const void *b)
{
	const struct listed_id *x = a, *y = b;

	if (x->stopped != y->stopped)
		return x->stopped - y->stopped;
	return strcmp(x->id, y->id);
}

static void lister_pump(struct lister *l);
static void lister_image(struct http *h, int err, const char *msg, void *arg);

/* The container index an inspect window request is for; the window slot is
 * free again. SIZE_MAX (and `h` freed) for a request that is not ours. */
static size_t lister_release(struct lister *l, struct http *h)
{
	size_t w = 0;
	while (w < INSPECT_WINDOW && l->insp[w] != h)
		w++;
	if (w == INSPECT_WINDOW) {	/* not ours: cannot happen */
		http_free(h);
		return SIZE_MAX;
	}
	l->insp[w] = NULL;
	return l->insp_idx[w];
}

static void lister_inspected(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	size_t idx = lister_release(l, h);
	if (idx == SIZE_MAX)
		return;

	json_t *j;
	err = answer_json(h, err, msg, &j, l->err, sizeof(l->err));
	if (err == -ENOENT)
		err = 0;	/* removed since it was listed: j stays NULL */
	if (!err && j) {
		if (container_from_json(j, l->ids[idx], l->set.cgroup_driver, &l->slots[idx]) == 0) {
			l->have[idx] = true;
			char *ipath = labels_image_path(&l->slots[idx], NULL);
			if (ipath) {
				/* which of its labels the image gave it, in the
				 * window slot the inspect just freed */
				size_t w = 0;
				while (l->insp[w])
					w++;
				l->insp_idx[w] = idx;
				l->insp[w] = http_get(l->base, l->ep, ipath, l->timeout_ms,
						      DG_DOCKER_MAX_RESPONSE, NULL, NULL,
						      lister_image, l);
				free(ipath);
				json_decref(j);
				http_free(h);
				lister_pump(l);
				return;
			}
		} else {
			snprintf(l->err, sizeof(l->err),
				 "the Docker API at %s sent an inspect answer for %.12s without "
				 "its Id; is that address really the Docker API? " HINT_HOST,
				 l->ep->url, l->ids[idx]);
			err = -EPROTO;
		}
	}
	json_decref(j);
	http_free(h);
	if (err) {
		lister_end(l, err);
		return;
	}
	lister_pump(l);
}

static void lister_image(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	size_t idx = lister_release(l, h);
	if (idx == SIZE_MAX)
		return;

	json_t *j;
	err = answer_json(h, err, msg, &j, l->err, sizeof(l->err));
	if (err == -ENOENT)
		err = 0;	/* the image is gone: no label can be told from its */
	http_free(h);
	if (err) {
		json_decref(j);
		lister_end(l, err);
		return;
	}
	keep_create_labels(&l->slots[idx], j);
	json_decref(j);
	lister_pump(l);
}

static void lister_pump(struct lister *l)
{
	size_t busy = 0;
	for (size_t w = 0; w < INSPECT_WINDOW; w++) {
		if (!l->insp[w] && l->next < l->n_ids) {
			char path[128];
			snprintf(path, sizeof(path), API_VERSION "/containers/%s/json",
				 l->ids[l->next]);
			l->insp_idx[w] = l->next++;
			l->insp[w] = http_get(l->base, l->ep, path, l->timeout_ms,
					      DG_DOCKER_MAX_RESPONSE, NULL, NULL, lister_inspected, l);
		}
		if (l->insp[w])
			busy++;
	}
	if (busy)
		return;
	/* Every inspect answered: compact the slots into the set. */
	size_t n = 0;
	for (size_t i = 0; i < l->n_ids; i++)
		n += l->have[i];
	l->set.v = n ? xcalloc(n, sizeof(*l->set.v)) : NULL;
	for (size_t i = 0; i < l->n_ids; i++) {
		if (!l->have[i])
			continue;
		l->set.v[l->set.n++] = l->slots[i];
		l->have[i] = false;
	}
	lister_end(l, 0);
}

/* A lister's answer as JSON, or the error (in l->err) that ended it. */
static int lister_answer(struct lister *l, struct http *h, int err, const char *msg, json_t **j)
{
	l->req = NULL;
	return answer_json(h, err, msg, j, l->err, sizeof(l->err));
}

static void lister_listed(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	json_t *j;
	err = lister_answer(l, h, err, msg, &j);
	if (!err && !json_is_array(j)) {
		snprintf(l->err, sizeof(l->err),
			 "the Docker API at %s answered GET %s with something else than a list "
			 "of containers; is that address really the Docker API? " HINT_HOST,
			 l->ep->url, h->path);
		err = -EPROTO;
	}
	http_free(h);
	if (err) {
		json_decref(j);
		lister_end(l, err);
		return;
	}
	size_t n = json_array_size(j), n_listed = 0;
	struct listed_id *listed = xcalloc(n ? n : 1, sizeof(*listed));
	size_t i;
	json_t *item;
	json_array_foreach(j, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		const char *state = json_string_value(json_object_get(item, "State"));
		if (!valid_id(id))
			continue;
		listed[n_listed].stopped = !state || strcmp(state, "running") != 0;
		memcpy(listed[n_listed++].id, id, 65);
	}
	json_decref(j);
	/* Beyond the cap, stopped containers are left out first: a running
	 * container left out would be judged as no container at all. */
	qsort(listed, n_listed, sizeof(*listed), listed_cmp);
	l->ids = xcalloc(n_listed ? n_listed : 1, sizeof(*l->ids));
	for (i = 0; i < n_listed && l->n_ids < DG_DOCKER_MAX_CONTAINERS; i++) {
		bool dup = i > 0 && listed[i].stopped == listed[i - 1].stopped &&
			   !strcmp(listed[i].id, listed[i - 1].id);
		if (!dup)
			memcpy(l->ids[l->n_ids++], listed[i].id, 65);
	}
	free(listed);
	qsort(l->ids, l->n_ids, sizeof(*l->ids), id_cmp);
	l->slots = xcalloc(l->n_ids ? l->n_ids : 1, sizeof(*l->slots));
	l->have = xcalloc(l->n_ids ? l->n_ids : 1, sizeof(*l->have));
	lister_pump(l);
}

static void lister_info(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	json_t *j;
	err = lister_answer(l, h, err, msg, &j);
	http_free(h);
	if (err) {
		lister_end(l, err);
		return;
	}
	const char *driver = json_string_value(json_object_get(j, "CgroupDriver"));
	snprintf(l->set.cgroup_driver, sizeof(l->set.cgroup_driver), "%s",
		 driver && *driver ? driver : "cgroupfs");
	json_decref(j);
	l->req = http_get(l->base, l->ep, API_VERSION "/containers/json?all=1", l->timeout_ms,
			  DG_DOCKER_MAX_RESPONSE, NULL, NULL, lister_listed, l);
}

static struct lister *lister_start(struct event_base *base, const struct endpoint *ep,
				   int timeout_ms, lister_done_fn done, void *arg)
{
	struct lister *l = xcalloc(1, sizeof(*l));
	l->base = base;
	l->ep = ep;
	l->timeout_ms = timeout_ms;
	l->done = done;
	l->arg = arg;
	l->req = http_get(base, ep, API_VERSION "/info", timeout_ms, DG_DOCKER_MAX_RESPONSE,
			  NULL, NULL, lister_info, l);
	return l;
}

/* ---- dg_docker_list ------------------------------------------------------- */

struct list_result {
	struct event_base *base;
	bool done;
	int err;
	struct dg_container_set set;
	char *errbuf;
	size_t errlen;
};

static void list_done(struct lister *l, int err, const char *msg, void *arg)
{
	struct list_result *r = arg;
	r->done = true;
	r->err = err;
	if (err) {
		snprintf(r->errbuf, r->errlen, "%s", msg);
	} else {
		r->set = l->set;
		memset(&l->set, 0, sizeof(l->set));
	}
	lister_free(l);
	event_base_loopbreak(r->base);
}

int dg_docker_list(const char *docker_host, int timeout_ms, struct dg_container_set *out,
		   char *err, size_t errlen)
{
	struct endpoint ep;
	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	int r = endpoint_parse(docker_host, &ep, err, errlen);
	if (r)
		return r;
	if (timeout_ms <= 0)
		timeout_ms = DG_DOCKER_TIMEOUT_MS;

	struct event_base *base = event_base_new();
	if (!base) {
		endpoint_free(&ep);
		snprintf(err, errlen, "cannot create an event loop to reach the Docker API");
		return -ENOMEM;
	}
	struct list_result res = { .base = base, .errbuf = err, .errlen = errlen };
	struct lister *l = lister_start(base, &ep, timeout_ms, list_done, &res);
	event_base_dispatch(base);
	if (!res.done) {
		lister_free(l);
		res.err = -EIO;
		snprintf(err, errlen, "the event loop failed while listing containers");
	}
	event_base_free(base);
	endpoint_free(&ep);
	if (res.err)
		return res.err;
	*out = res.set;
	return 0;
}

/* ---- the follower ----------------------------------------------------------- */

struct dg_docker {
	struct event_base *base;
	struct endpoint ep;
	bool bad_endpoint;
	char ep_err[512];
	int timeout_ms;
	dg_docker_changed_fn changed;
	dg_docker_state_fn state;
	void *ctx;

	struct dg_container_set set;	/* what `changed` was last given */
	struct http *stream;		/* GET /events */
	struct lister *lister;
	bool listed;			/* the set is current for this connection */
	struct http *inspect;
	char inspect_id[65];
	struct dg_container pending;	/* inspected, its image's labels awaited */
	bool have_pending;
	/* Images' inspect answers, for telling a container's labels from its
	 * image's: a created container's are told at once when its image is
	 * known (an image read does not wait on the container's lock, which
	 * dockerd holds while dockguard-runc waits for the container's identity). */
	struct { char *ref; json_t *image; } images[IMAGE_CACHE];
	size_t n_images, next_image;
	struct http *image_req;		/* for the provisional containers' image */
	char *image_req_ref;
	char (*queue)[65];		/* ids to inspect again, in order, once each */
	size_t nq;
	struct evbuffer *line;		/* a partial event */
	unsigned int unannounced;	/* changes since the last `changed` */

	struct event *retry;
	int backoff_ms;
	struct timespec up_since;
	bool up;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Only immutable references are cached: an image id. A name (a tag) may be
 * moved to another image with other labels at any time. */
static bool image_ref_immutable(const char *ref)
{
	return ref && !strncmp(ref, "sha256:", 7);
}

static json_t *image_cached(const struct dg_docker *d, const char *ref)
{
	if (!image_ref_immutable(ref))
		return NULL;
	for (size_t i = 0; i < d->n_images; i++)
		if (!strcmp(d->images[i].ref, ref))
			return d->images[i].image;
	return NULL;
}

/* Keeps `image` (a reference taken) as the answer for `ref`, replacing the
 * oldest entry when full. An image's labels never change: no expiry. */
static void image_remember(struct dg_docker *d, const char *ref, json_t *image)
{
	size_t i;

	if (!image_ref_immutable(ref) || image_cached(d, ref))
		return;
	if (d->n_images < IMAGE_CACHE) {
		i = d->n_images++;
	} else {
		i = d->next_image;
		d->next_image = (d->next_image + 1) % IMAGE_CACHE;
		free(d->images[i].ref);
		json_decref(d->images[i].image);
	}
	d->images[i].ref = xstrdup(ref);
	d->images[i].image = json_incref(image);
}

static void follow_teardown(struct dg_docker *d)
{
	http_free(d->stream);
	d->stream = NULL;
	lister_free(d->lister);
	d->lister = NULL;
	http_free(d->inspect);
	d->inspect = NULL;
	if (d->have_pending)
		container_free(&d->pending);
	d->have_pending = false;
	http_free(d->image_req);
	d->image_req = NULL;
	free(d->image_req_ref);
	d->image_req_ref = NULL;
	d->nq = 0;
	d->listed = false;
	if (d->line)
		evbuffer_drain(d->line, evbuffer_get_length(d->line));
}

static void follow_schedule(struct dg_docker *d, int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
	evtimer_add(d->retry, &tv);
}

/* The connection failed: say so, and try again later. */
static void follow_fail(struct dg_docker *d, const char *why)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", why);	/* `why` may live in what we free */
	long long up_for = d->up ? now_ms() - ((long long)d->up_since.tv_sec * 1000 +
					      d->up_since.tv_nsec / 1000000) : 0;
	bool was_up = d->up;
	d->up = false;
	follow_teardown(d);
	if (was_up && up_for >= STABLE_MS)
		d->backoff_ms = BACKOFF_MIN_MS;
	int delay = d->backoff_ms;
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	follow_schedule(d, delay);
	d->state(d->ctx, false, msg);
}

static void follow_announce(struct dg_docker *d)
{
	if (!d->unannounced)
		return;
	d->unannounced = 0;
	d->changed(d->ctx, &d->set);
}

static struct dg_container *set_lookup(struct dg_container_set *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].id, id))
			return &set->v[i];
	return NULL;
}

static void set_remove(struct dg_docker *d, const char *id)
{
	struct dg_container *c = set_lookup(&d->set, id);
	if (!c)
		return;
	size_t i = (size_t)(c - d->set.v);
	container_free(c);
	memmove(&d->set.v[i], &d->set.v[i + 1], (d->set.n - i - 1) * sizeof(*d->set.v));
	d->set.n--;
	d->unannounced++;
}

/* Takes `c` (its contents). */
static void set_upsert(struct dg_docker *d, struct dg_container *c)
{
	struct dg_container *old = set_lookup(&d->set, c->id);
	if (old) {
		if (container_equal(old, c)) {
			container_free(c);
			return;
		}
		container_free(old);
		*old = *c;
	} else if (d->set.n < DG_DOCKER_MAX_CONTAINERS) {
		d->set.v = xreallocarray(d->set.v, d->set.n + 1, sizeof(*d->set.v));
		d->set.v[d->set.n++] = *c;
	} else {
		container_free(c);
		return;
	}
	d->unannounced++;
}

static void follow_pump(struct dg_docker *d);
static void follow_image(struct http *h, int err, const char *msg, void *arg);

static void follow_inspected(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char errbuf[768];
	json_t *j = NULL;

	d->inspect = NULL;
	err = answer_json(h, err, msg, &j, errbuf, sizeof(errbuf));
	bool gone = err == -ENOENT;
	http_free(h);
	if (gone) {
		err = 0;
		set_remove(d, d->inspect_id);
	} else if (!err) {
		struct dg_container c;
		if (container_from_json(j, d->inspect_id, d->set.cgroup_driver, &c) == 0) {
			char *ipath = labels_image_path(&c, image_cached(d, c.image_ref));
			if (ipath) {
				/* which of its labels the image gave it, then upsert */
				d->pending = c;
				d->have_pending = true;
				d->inspect = http_get(d->base, &d->ep, ipath, d->timeout_ms,
						      DG_DOCKER_MAX_RESPONSE, NULL, NULL, follow_image, d);
				free(ipath);
				json_decref(j);
				return;
			}
			set_upsert(d, &c);
		} else {
			snprintf(errbuf, sizeof(errbuf),
				 "the Docker API at %s sent an inspect answer for %.12s without "
				 "its Id", d->ep.url, d->inspect_id);
			err = -EPROTO;
		}
	}
	json_decref(j);
	if (err) {
		follow_fail(d, errbuf);
		return;
	}
	if (!d->nq || d->unannounced >= ANNOUNCE_EVERY)
		follow_announce(d);
	follow_pump(d);
}

static void follow_image(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char errbuf[768];
	json_t *j = NULL;

	d->inspect = NULL;
	err = answer_json(h, err, msg, &j, errbuf, sizeof(errbuf));
	if (err == -ENOENT)
		err = 0;	/* the image is gone: no label can be told from its */
	http_free(h);
	if (err) {
		json_decref(j);
		follow_fail(d, errbuf);
		return;
	}
	if (j)
		image_remember(d, d->pending.image_ref, j);
	keep_create_labels(&d->pending, j);
	json_decref(j);
	d->have_pending = false;
	set_upsert(d, &d->pending);
	memset(&d->pending, 0, sizeof(d->pending));
	if (!d->nq || d->unannounced >= ANNOUNCE_EVERY)
		follow_announce(d);
	follow_pump(d);
}

/* Inspects the next queued container, one at a time. */
static void follow_pump(struct dg_docker *d)
{
	if (!d->listed || d->inspect || !d->nq)
		return;
	memcpy(d->inspect_id, d->queue[0], 65);
	memmove(d->queue[0], d->queue[1], (d->nq - 1) * sizeof(*d->queue));
	d->nq--;
	char path[128];
	snprintf(path, sizeof(path), API_VERSION "/containers/%s/json", d->inspect_id);
	d->inspect = http_get(d->base, &d->ep, path, d->timeout_ms, DG_DOCKER_MAX_RESPONSE, NULL,
			      NULL, follow_inspected, d);
}

static void queue_remove(struct dg_docker *d, const char *id)
{
	for (size_t i = 0; i < d->nq; i++) {
		if (strcmp(d->queue[i], id) != 0)
			continue;
		memmove(d->queue[i], d->queue[i + 1], (d->nq - i - 1) * sizeof(*d->queue));
		d->nq--;
		return;
	}
}

/* Returns -ENOBUFS when the queue is full (then the follower lists again).
 * `first`: ahead of the others (a created container, whose start waits in
 * dockguard-runc until it is inspected). */
static int queue_add(struct dg_docker *d, const char *id, bool first)
{
	for (size_t i = 0; i < d->nq; i++)
		if (!strcmp(d->queue[i], id))
			return 0;
	if (d->nq == DG_DOCKER_MAX_CONTAINERS)
		return -ENOBUFS;
	if (first) {
		memmove(d->queue[1], d->queue[0], d->nq * sizeof(*d->queue));
		memcpy(d->queue[0], id, 65);
		d->nq++;
	} else {
		memcpy(d->queue[d->nq++], id, 65);
	}
	return 0;
}

/* Actions after which what a policy can name about a container may differ. */
static bool relevant_action(const char *action)
{
	static const char *const actions[] = {
		"create", "start", "restart", "rename", "die", "stop", "destroy", "update",
	};
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (!strcmp(action, actions[i]))
			return true;
	return false;
}

/*
 * A create event carries what a policy can name (name, image, labels, in
 * Actor.Attributes): the container goes into the set at once, without the
 * inspect round trip, because its first connect may follow within
 * milliseconds. The inspect queued after it fills in the rest (bind mounts,
 * a custom cgroup parent).
 */
static void follow_image_read(struct http *h, int err, const char *msg, void *arg);

/* Reads the image of a provisional container, one image at a time. */
static void follow_images(struct dg_docker *d)
{
	if (d->image_req)
		return;
	for (size_t i = 0; i < d->set.n; i++) {
		struct dg_container *c = &d->set.v[i];
		char *ipath;
		if (!c->provisional)
			continue;
		if (!(ipath = image_path(c))) {
			keep_create_labels(c, NULL);	/* no image to tell them by */
			c->provisional = false;
			d->unannounced++;
			continue;
		}
		d->image_req_ref = xstrdup(c->image_ref);
		d->image_req = http_get(d->base, &d->ep, ipath, d->timeout_ms,
					DG_DOCKER_MAX_RESPONSE, NULL, NULL, follow_image_read, d);
		free(ipath);
		return;
	}
	follow_announce(d);
}

/* The image of provisional containers: their labels told apart now. */
static void follow_image_read(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char errbuf[768];
	json_t *j = NULL;
	char *ref = d->image_req_ref;

	d->image_req = NULL;
	d->image_req_ref = NULL;
	err = answer_json(h, err, msg, &j, errbuf, sizeof(errbuf));
	http_free(h);
	/* -ENOENT: the image is gone, no label can be told from its; another
	 * error leaves them provisional, for the inspect to settle */
	if (!err || err == -ENOENT) {
		if (j)
			image_remember(d, ref, j);
		for (size_t i = 0; i < d->set.n; i++) {
			struct dg_container *c = &d->set.v[i];
			if (!c->provisional || !c->image_ref || strcmp(c->image_ref, ref))
				continue;
			keep_create_labels(c, j);
			c->provisional = false;
			d->unannounced++;
		}
	}
	json_decref(j);
	free(ref);
	if (err && err != -ENOENT)
		return;
	follow_images(d);
}

static void follow_created(struct dg_docker *d, const char *id, json_t *attrs)
{
	if (!json_is_object(attrs) || set_lookup(&d->set, id))
		return;
	json_t *labels = json_object(), *v;
	const char *key;
	json_object_foreach(attrs, key, v)
		if (strcmp(key, "name") && strcmp(key, "image"))
			json_object_set(labels, key, v);
	const char *name = json_string_value(json_object_get(attrs, "name"));
	const char *image = json_string_value(json_object_get(attrs, "image"));
	char *slash_name = xasprintf("/%s", name ? name : "");
	json_t *j = json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:i}, s:{}, s:[]}", "Id", id, "Name",
			      slash_name, "Config", "Image", image ? image : "", "Labels", labels,
			      "State", "Pid", 0, "HostConfig", "Mounts");
	free(slash_name);
	struct dg_container c;
	if (j && container_from_json(j, id, d->set.cgroup_driver, &c) == 0) {
		/* the event's labels include the image's: they are told apart
		 * at once when the image is known, else once it is read */
		json_t *known = image_cached(d, c.image_ref);
		if (c.n_labels && known)
			keep_create_labels(&c, known);
		else if (c.n_labels)
			c.provisional = true;
		set_upsert(d, &c);
		follow_announce(d);
		follow_images(d);
	}
	json_decref(j);
}

static int follow_event(struct dg_docker *d, const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return 0;	/* not an event: skip it, keep the stream */
	}
	const char *type = json_string_value(json_object_get(j, "Type"));
	const char *action = json_string_value(json_object_get(j, "Action"));
	const char *id = json_string_value(json_object_get(json_object_get(j, "Actor"), "ID"));
	if (!action)
		action = json_string_value(json_object_get(j, "status"));
	if (!id)
		id = json_string_value(json_object_get(j, "id"));
	int r = 0;
	if ((!type || !strcmp(type, "container")) && action && relevant_action(action) &&
	    valid_id(id)) {
		if (!strcmp(action, "destroy") && d->listed) {
			queue_remove(d, id);
			set_remove(d, id);
			if (!d->nq && !d->inspect)
				follow_announce(d);
		} else {
			if (!strcmp(action, "create") && d->listed)
				follow_created(d, id, json_object_get(json_object_get(j, "Actor"),
								      "Attributes"));
			/* While listing, destroy too: the inspect will find it gone. */
			r = queue_add(d, id, !strcmp(action, "create"));
			follow_pump(d);
		}
	}
	json_decref(j);
	return r;
}

static int follow_data(struct http *h, const char *data, size_t len, void *arg)
{
	struct dg_docker *d = arg;
	evbuffer_add(d->line, data, len);
	for (;;) {
		struct evbuffer_ptr eol = evbuffer_search_eol(d->line, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos < 0)
			break;
		size_t n = (size_t)eol.pos;
		if (n > MAX_EVENT_LINE)
			goto too_long;
		const char *text = (const char *)evbuffer_pullup(d->line, (ssize_t)n + 1);
		int r = follow_event(d, text, n);
		evbuffer_drain(d->line, n + 1);
		if (r == -ENOBUFS) {
			snprintf(h->msg, sizeof(h->msg),
				 "more than %d container events waiting; listing the containers "
				 "again", DG_DOCKER_MAX_CONTAINERS);
			return r;
		}
	}
	if (evbuffer_get_length(d->line) <= MAX_EVENT_LINE)
		return 0;
too_long:
	snprintf(h->msg, sizeof(h->msg),
		 "the Docker API at %s sent an event over %d bytes; is that address really the "
		 "Docker API? " HINT_HOST, d->ep.url, MAX_EVENT_LINE);
	return -EPROTO;
}

static void follow_listed(struct lister *l, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	d->lister = NULL;
	if (err) {
		char why[1024];
		snprintf(why, sizeof(why), "%s", msg);
		lister_free(l);
		follow_fail(d, why);
		return;
	}
	dg_container_set_free(&d->set);
	d->set = l->set;
	memset(&l->set, 0, sizeof(l->set));
	lister_free(l);
	d->listed = true;
	d->up = true;
	clock_gettime(CLOCK_MONOTONIC, &d->up_since);
	d->unannounced = 0;
	d->state(d->ctx, true, NULL);
	d->changed(d->ctx, &d->set);
	follow_pump(d);
}

static void follow_head(struct http *h, void *arg)
{
	struct dg_docker *d = arg;
	(void)h;
	d->lister = lister_start(d->base, &d->ep, d->timeout_ms, follow_listed, d);
}

static void follow_stream_done(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char why[1024];
	if (err) {
		snprintf(why, sizeof(why), "%s", msg);
	} else if (h->status != 200) {
		char text[256];
		http_error_text(h, text, sizeof(text));
		snprintf(why, sizeof(why), "the Docker API at %s answered GET %s with HTTP %d: %s",
			 d->ep.url, h->path, h->status, text);
	} else {
		snprintf(why, sizeof(why), "the Docker API at %s ended the event stream",
			 d->ep.url);
	}
	follow_fail(d, why);	/* frees `h` */
}

static void follow_connect(evutil_socket_t fd, short what, void *arg)
{
	struct dg_docker *d = arg;
	(void)fd;
	(void)what;
	if (d->bad_endpoint) {
		d->state(d->ctx, false, d->ep_err);
		return;
	}
	/* Events first, so that nothing done while listing goes unseen. */
	d->stream = http_get(d->base, &d->ep,
			     API_VERSION "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D",
			     d->timeout_ms, 0, follow_head, follow_data, follow_stream_done, d);
}

struct dg_docker *dg_docker_follow(struct event_base *base, const char *docker_host,
				   dg_docker_changed_fn changed, dg_docker_state_fn state,
				   void *ctx)
{
	struct dg_docker *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->base = base;
	d->changed = changed;
	d->state = state;
	d->ctx = ctx;
	d->timeout_ms = DG_DOCKER_TIMEOUT_MS;
	d->backoff_ms = BACKOFF_MIN_MS;
	snprintf(d->set.cgroup_driver, sizeof(d->set.cgroup_driver), "cgroupfs");
	if (endpoint_parse(docker_host, &d->ep, d->ep_err, sizeof(d->ep_err)) != 0)
		d->bad_endpoint = true;
	d->queue = calloc(DG_DOCKER_MAX_CONTAINERS, sizeof(*d->queue));
	d->line = evbuffer_new();
	d->retry = evtimer_new(base, follow_connect, d);
	if (!d->queue || !d->line || !d->retry) {
		dg_docker_free(d);
		return NULL;
	}
	/* From the loop, so that no callback runs before this returns. */
	follow_schedule(d, 0);
	return d;
}

void dg_docker_set_timeout(struct dg_docker *d, int timeout_ms)
{
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : DG_DOCKER_TIMEOUT_MS;
}

void dg_docker_free(struct dg_docker *d)
{
	if (!d)
		return;
	follow_teardown(d);
	if (d->retry)
		event_free(d->retry);
	if (d->line)
		evbuffer_free(d->line);
	free(d->queue);
	for (size_t i = 0; i < d->n_images; i++) {
		free(d->images[i].ref);
		json_decref(d->images[i].image);
	}
	dg_container_set_free(&d->set);
	endpoint_free(&d->ep);
	free(d);
}
