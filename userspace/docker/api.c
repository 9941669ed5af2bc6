// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Docker Engine API's address, and one GET per connection: see
 * docker.c's layers (docker/internal.h).
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "docker/internal.h"
#include "util/util.h"

/* ---- endpoint ----------------------------------------------------------- */


void endpoint_free(struct endpoint *ep)
{
	free(ep->url);
	free(ep->host);
	free(ep->port);
	free(ep->host_header);
	memset(ep, 0, sizeof(*ep));
}

int endpoint_parse(const char *s, struct endpoint *ep, char *err, size_t errlen)
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


void http_free(struct http *h)
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
		  "the Docker API at %s sent an invalid HTTP answer to %s (%s); is that "
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
		  "the Docker API at %s did not answer %s within %d ms; is dockerd stuck or "
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
		  "the Docker API at %s sent more than %zu bytes for %s; refused (a hostile "
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
			  "the Docker API at %s closed the connection without answering %s; "
			  "is dockerd shutting down?", h->ep->url, h->path);
	else if (h->stream && h->status)
		http_fail(h, -ECONNRESET, "the Docker API at %s ended the event stream",
			  h->ep->url);
	else
		http_fail(h, -ECONNRESET,
			  "the Docker API at %s closed the connection in the middle of its answer "
			  "to %s", h->ep->url, h->path);
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
				http_fail(h, -e, "cannot send %s to the Docker API at %s: %s",
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
		http_fail(h, -e, "cannot read the answer of the Docker API at %s to %s: %s",
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
struct http *http_request(struct event_base *base, const struct endpoint *ep, const char *method,
			  const char *path, const char *body, size_t body_len,
			  const char *content_type, int timeout_ms, size_t body_max,
			  http_head_fn on_head, http_data_fn on_data, http_done_fn on_done, void *arg)
{
	struct http *h = xcalloc(1, sizeof(*h));
	h->ep = ep;
	h->fd = -1;
	/* "METHOD path", as messages name the request */
	snprintf(h->path, sizeof(h->path), "%s %s", method, path);
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
	char *head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dockguard\r\n"
			       "Accept: application/json\r\nConnection: close\r\n", method, path,
			       ep->host_header);
	size_t hl = strlen(head);
	char clen[96] = "\r\n";
	if (body)
		snprintf(clen, sizeof(clen), "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			 content_type ? content_type : "application/json", body_len);
	size_t cl = strlen(clen);
	h->req = xmalloc(hl + cl + (body ? body_len : 0) + 1);
	memcpy(h->req, head, hl);
	memcpy(h->req + hl, clen, cl);
	if (body)
		memcpy(h->req + hl + cl, body, body_len);
	h->req_len = hl + cl + (body ? body_len : 0);
	free(head);

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

struct http *http_get(struct event_base *base, const struct endpoint *ep, const char *path,
		      int timeout_ms, size_t body_max, http_head_fn on_head, http_data_fn on_data,
		      http_done_fn on_done, void *arg)
{
	return http_request(base, ep, "GET", path, NULL, 0, NULL, timeout_ms, body_max, on_head,
			    on_data, on_done, arg);
}

int private_loop(const char *docker_host, struct endpoint *ep, int *timeout_ms,
		 struct event_base **base, char *err, size_t errlen)
{
	int r;

	if (errlen)
		err[0] = '\0';
	if ((r = endpoint_parse(docker_host, ep, err, errlen)))
		return r;
	if (*timeout_ms <= 0)
		*timeout_ms = DG_DOCKER_TIMEOUT_MS;
	*base = event_base_new();
	if (!*base) {
		endpoint_free(ep);
		snprintf(err, errlen, "cannot create an event loop to reach the Docker API");
		return -ENOMEM;
	}
	return 0;
}

/* The `message` of an error answer, or a piece of its body. */
void http_error_text(struct http *h, char *buf, size_t len)
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
int http_json(struct http *h, json_t **out, char *err, size_t errlen)
{
	*out = NULL;
	if (h->status != 200) {
		char text[256];
		http_error_text(h, text, sizeof(text));
		snprintf(err, errlen, "the Docker API at %s answered %s with HTTP %d: %s%s",
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
			 "the Docker API at %s sent malformed JSON for %s: %s at byte %d; is "
			 "that address really the Docker API? " HINT_HOST,
			 h->ep->url, h->path, je.text, je.position);
		return -EPROTO;
	}
	*out = j;
	return 0;
}
