// SPDX-License-Identifier: GPL-2.0-only
/*
 * The relay's own GET to the upstream: HTTP/1.0 with Connection: close (the
 * answer is not chunked and ends with the connection), read by the same
 * HTTP parser as every answer, bounded (8 MiB, 10 s).
 */
#include "relay/lookup.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/util.h"

#define LOOKUP_MAX_ANSWER	(8u << 20)
#define LOOKUP_SECONDS		10

struct dg_lookup {
	struct bufferevent *bev;
	struct dg_http parser;
	struct evbuffer *body;
	int status;
	bool failed;
	dg_lookup_fn done;
	void *arg;
};

static int on_header(void *arg, const char *n, const char *v)
{
	(void)arg, (void)n, (void)v;
	return 0;
}

static int on_head(void *arg, const struct dg_http_head *h)
{
	struct dg_lookup *l = arg;

	l->status = h->status;
	return 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
	struct dg_lookup *l = arg;

	if (evbuffer_get_length(l->body) + len > LOOKUP_MAX_ANSWER) {
		l->failed = true;
		return -1;
	}
	return evbuffer_add(l->body, data, len);
}

static const struct dg_http_callbacks callbacks = { on_header, on_head, on_body };

static void lookup_free(struct dg_lookup *l)
{
	bufferevent_free(l->bev);
	dg_http_fini(&l->parser);
	evbuffer_free(l->body);
	free(l);
}

static void finish(struct dg_lookup *l, bool ok)
{
	size_t len = evbuffer_get_length(l->body);
	const char *body = len ? (const char *)evbuffer_pullup(l->body, -1) : "";

	l->done(l->arg, ok && !l->failed ? l->status : 0, body, len);
	lookup_free(l);
}

static void lookup_read(struct bufferevent *bev, void *arg)
{
	struct dg_lookup *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n = evbuffer_get_length(in);

	if (!n)
		return;
	const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
	long r = dg_http_feed(&l->parser, data, n);
	evbuffer_drain(in, n);
	if (r < 0) {
		finish(l, false);
		return;
	}
	if (dg_http_done(&l->parser))
		finish(l, true);
}

static void lookup_event(struct bufferevent *bev, short what, void *arg)
{
	struct dg_lookup *l = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF) {
		/* the end of an answer that runs until the close */
		dg_http_feed(&l->parser, NULL, 0);
		finish(l, dg_http_done(&l->parser));
		return;
	}
	finish(l, false);	/* an error or the timeout */
}

struct dg_lookup *dg_lookup_start(struct event_base *base, const struct sockaddr *addr,
				  socklen_t addr_len, const char *path, dg_lookup_fn done,
				  void *arg)
{
	struct dg_lookup *l = xcalloc(1, sizeof(*l));
	struct timeval tv = { LOOKUP_SECONDS, 0 };

	l->done = done;
	l->arg = arg;
	l->body = evbuffer_new();
	l->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!l->body || !l->bev) {
		if (l->bev)
			bufferevent_free(l->bev);
		if (l->body)
			evbuffer_free(l->body);
		free(l);
		return NULL;
	}
	dg_http_init(&l->parser, DG_HTTP_RESPONSE, 64 * 1024, &callbacks, l);
	bufferevent_setcb(l->bev, lookup_read, NULL, lookup_event, l);
	bufferevent_set_timeouts(l->bev, &tv, &tv);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(l->bev),
			    "GET %s HTTP/1.0\r\nHost: docker\r\nUser-Agent: dockguard-relay\r\n"
			    "Connection: close\r\n\r\n", path);
	if (bufferevent_socket_connect(l->bev, addr, (int)addr_len) < 0) {
		lookup_free(l);
		return NULL;
	}
	return l;
}

void dg_lookup_cancel(struct dg_lookup *l)
{
	if (l)
		lookup_free(l);
}
