// SPDX-License-Identifier: GPL-2.0-only
/*
 * The relay server (relay.h).
 *
 * A connection reads one request head at a time (strictly: request.c),
 * judges it (caller.c, then judge.c with the profile of the rule that admits
 * the caller now), and either answers it (400, 403, 502) or forwards the head
 * rebuilt from what was judged, then the body as framed, then copies the
 * answer back while reading it just enough to know where it ends. Only then
 * is the next request on the connection read: pipelined requests wait in the
 * input, each judged in turn. A 101 answer to an upgrade request turns the
 * connection into a two-way byte pipe for good, each direction's end carried
 * to the other as a half-close.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <jansson.h>

#include "docker/docker.h"
#include "relay/judge.h"
#include "relay/rate.h"
#include "relay/sockets.h"
#include "relay/routes.h"
#include "relay/relay.h"
#include "relay/climb.h"
#include "relay/guard.h"
#include "relay/lookup.h"
#include "relay/own.h"
#include "relay/request.h"
#include "relay/visible.h"
#include "util/escape.h"
#include "util/util.h"

#define PRESSURE (256 * 1024)	/* bytes buffered for a peer before reading pauses */

enum conn_state {
	S_HEAD,			/* reading a request head */
	S_LOOKUP,		/* `own`, `visible`: asking the upstream about the object first */
	S_GUARD,		/* reading a body a guard judges before anything is forwarded */
	S_FORWARD,		/* a request forwarded: its body and its answer flow */
	S_PIPE,			/* after a 101: bytes both ways */
	S_CLOSING,		/* writing what is left to the client, then closing */
};

struct listener {
	struct dg_relay *relay;
	struct evconnlistener *ev;
	size_t endpoint;		/* index in the policy's endpoints */
	char *name;
	char *path;			/* the address, for messages */
	bool tcp;			/* callers' identity from the hooks' record */
};

/* A TCP listen address that no interface has yet: tried each second. */
struct pending {
	size_t endpoint;
	const struct dg_addr *addr;	/* the policy's */
};

struct conn {
	struct dg_relay *relay;
	struct conn *prev, *next;
	uint64_t id;			/* for dg_relay_open_requests_json / dg_relay_close */
	size_t endpoint;
	char *relay_name;
	struct bufferevent *client, *upstream;
	bool upstream_connected;	/* its connect completed: its fd takes writes */
	struct dg_caller caller;
	enum conn_state state;

	struct dg_request req;		/* the request being forwarded */
	bool have_req;
	struct dg_http body;		/* frames its body */
	bool body_done;
	struct dg_http answer;		/* frames the upstream's answer */
	bool answer_done;
	int answer_status;
	bool answer_keep_alive;
	struct event *head_timer;
	bool client_eof, upstream_eof;	/* S_PIPE: which sides ended */

	/* S_GUARD: the head as judged, and the body as it arrives (unframed) */
	char *guard_head;
	size_t guard_head_len;
	struct evbuffer *guard_body;
	bool guard_too_large;
	enum dg_guard_route guard_route;
	size_t guard_profile;
	char guard_rule[300];		/* the API rule that allowed the request */
	struct dg_own_request own;	/* `own`: what it creates or writes to */
	char owner_key[DG_OWN_KEY_LEN + 1];
	size_t owner_key_rule;		/* the rule it is of, under ... */
	uint64_t owner_key_policy;	/* ... policy number (dg_relay.policies); 0: none */
	struct dg_lookup *lookup;	/* S_LOOKUP */
	enum dg_own_kind lookup_kind;
	char *target_rewritten;		/* naming the object by its full id */
	bool climb;			/* a create or rename: no climbing (relay/climb.h) */
	bool connect_checked;		/* a network (dis)connect: its body's container judged */
	size_t connect_rule;		/* the rule that admitted the caller */

	/* what the caller sees (relay/visible.h), and its answer rewritten */
	struct dg_view view;
	enum dg_answer_kind answer_kind;	/* DG_ANSWER_AS_IS: copied as it comes */
	struct evbuffer *answer_headers;	/* the upstream's, but its framing */
	struct evbuffer *answer_buf;	/* the body; /events: the event being read */
	bool answer_encoded;		/* a Content-Encoding: not readable here */
	bool answer_too_large;
	bool answer_head_sent;		/* /events: the head went out, events follow */
};

struct dg_relay {
	struct event_base *base;
	dg_relay_event_fn fn;
	void *fn_arg;
	const struct dg_policy *pol;
	const struct dg_image *img;
	uint64_t policies;		/* policies set so far: which one a cached key is of */
	struct listener *listeners;
	size_t n_listeners;
	struct conn *conns;
	size_t n_conns;
	bool draining;			/* no new connections or requests; exit when idle */
	const struct dg_container_set *containers;
	struct dg_rate_table rate;	/* `set api-rate`: each caller's budget */
	struct rule_count *counts;	/* requests per relay and API rule */
	size_t n_counts;
	bool counts_changed;
	struct seen *seen;		/* what each caller asked, for `suggest` */
	size_t n_seen;
	int callers_fd;			/* the hooks' relay_callers map, -1: none */
	uint64_t next_id;
	struct pending *pending;	/* dg_relay_listen(): addresses to bind later */
	size_t n_pending;
	struct event *retry;
};

/* Requests of one caller to one route with one method, since the last
 * report (dg_relay_seen_json). */
struct seen {
	const char *relay;		/* a listener's name */
	char *subject;			/* "container NAME" or "uid U cgroup PATH" */
	char method[8];
	char *route;			/* dockerd's route as a pattern, or the path */
	bool known;			/* a route of dockerd 1.41 */
	bool root;			/* root-equivalent (routes.h) */
	uint64_t count;
};

#define DG_RELAY_MAX_SEEN 4096

struct rule_count {
	const char *relay;		/* a listener's name (lives as long as the relay) */
	char rule[300];			/* "FILE:LINE", or "default" */
	uint64_t allowed, denied;
};

/* The most one read takes from a socket: streams (docker cp, logs) go at
 * the pace of the syscalls, and libevent's default is 16 KiB. */
#define DG_RELAY_READ_SIZE (256 * 1024)

static void client_read(struct bufferevent *bev, void *arg);
static void upstream_read(struct bufferevent *bev, void *arg);

/* ---- connections ------------------------------------------------------------ */

static void conn_free(struct conn *c)
{
	struct dg_relay *r = c->relay;

	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->n_conns--;
	if (r->draining && !r->n_conns)
		event_base_loopexit(r->base, NULL);
	if (c->client)
		bufferevent_free(c->client);
	if (c->upstream)
		bufferevent_free(c->upstream);
	if (c->head_timer)
		event_free(c->head_timer);
	if (c->have_req) {
		dg_request_free(&c->req);
		dg_http_fini(&c->body);
		dg_http_fini(&c->answer);
	}
	free(c->guard_head);
	if (c->guard_body)
		evbuffer_free(c->guard_body);
	dg_lookup_cancel(c->lookup);
	free(c->target_rewritten);
	dg_view_fini(&c->view);
	if (c->answer_headers)
		evbuffer_free(c->answer_headers);
	if (c->answer_buf)
		evbuffer_free(c->answer_buf);
	dg_caller_fini(&c->caller);
	free(c);
}

/*
 * A lingering close: once what the client is owed is written, our side
 * ends (FIN), and what the client still sends is read and dropped until it
 * ends too or LINGER_SECONDS pass. Closing with unread bytes would reset the
 * connection, and the client could lose the answer that says why.
 */
#define LINGER_SECONDS 2

static void linger_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void linger_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what;
	conn_free(arg);		/* the client ended, failed or timed out */
}

static void client_flushed(struct bufferevent *bev, void *arg)
{
	struct timeval tv = { LINGER_SECONDS, 0 };

	(void)arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_set_timeouts(bev, &tv, NULL);
}

static void close_after_flush(struct conn *c)
{
	c->state = S_CLOSING;
	if (c->upstream) {
		bufferevent_free(c->upstream);
		c->upstream = NULL;
		c->upstream_connected = false;
	}
	evtimer_del(c->head_timer);
	bufferevent_setcb(c->client, linger_read, client_flushed, linger_event, c);
	bufferevent_setwatermark(c->client, EV_READ, 0, 0);
	bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
	linger_read(c->client, c);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
	client_flushed(c->client, c);
}

/* ---- answers of the relay's own ----------------------------------------------- */

static const struct dg_container *caller_container(const struct conn *c)
{
	return c->relay->containers ? dg_container_by_cgroup(c->relay->containers, c->caller.cgroup)
				    : NULL;
}

static void emit(struct conn *c, const char *method, const char *path, int status, bool audit,
		 const char *rule, const char *reason)
{
	struct dg_relay_event ev = { .relay = c->relay_name, .caller = &c->caller,
				     .container = caller_container(c),
				     .method = method, .path = path, .status = status,
				     .audit = audit, .reason = reason };

	snprintf(ev.rule, sizeof(ev.rule), "%s", rule ? rule : "");
	if (c->relay->fn)
		c->relay->fn(c->relay->fn_arg, &ev);
}

/* `status` with Docker's error body {"message": ...}; a HEAD answer carries
 * it in X-Dockguard-Reason instead. Closes after it when `close`. */
static void answer(struct conn *c, int status, const char *method, const char *message, bool close)
{
	static const char *const texts[] = { [400] = "Bad Request", [403] = "Forbidden",
					     [404] = "Not Found", [413] = "Payload Too Large",
					     [429] = "Too Many Requests", [431] = "Request Header Fields Too Large",
					     [502] = "Bad Gateway", [503] = "Service Unavailable" };
	struct evbuffer *out = bufferevent_get_output(c->client);
	json_t *body = json_pack("{s:s}", "message", message);
	char *text = json_dumps(body, JSON_COMPACT);
	bool head = method && !strcmp(method, "HEAD");

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n", status,
			    status < (int)ARRAY_SIZE(texts) && texts[status] ? texts[status] : "Error");
	if (head)
		evbuffer_add_printf(out, "X-Dockguard-Reason: %s\r\nContent-Length: 0\r\n", message);
	else
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", strlen(text) + 1);
	if (close)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add_printf(out, "\r\n");
	if (!head)
		evbuffer_add_printf(out, "%s\n", text);
	free(text);
	json_decref(body);
	if (close)
		close_after_flush(c);
}

/* The caller in a message: "container traefik (uid 100000)", else
 * "uid 1001 (comm, cgroup /x)". */
static void describe_caller(const struct conn *c, char *buf, size_t len)
{
	const struct dg_caller *k = &c->caller;
	const struct dg_container *ct = caller_container(c);

	if (ct)
		snprintf(buf, len, "container %.200s (uid %" PRIu32 ")", ct->name ? ct->name : ct->id,
			 k->uid);
	else	/* a cgroup path may be long: the message keeps its start */
		snprintf(buf, len, "uid %" PRIu32 " (%s, cgroup %.400s)", k->uid,
			 k->comm[0] ? k->comm : "?", k->cgroup);
}

/* ---- counters -------------------------------------------------------------------- */

/* One more request that `rule` decided on relay `relay` (forwarded or not). */
static void count(struct dg_relay *r, const char *relay, const char *rule, bool forwarded)
{
	struct rule_count *n = NULL;

	for (size_t i = 0; i < r->n_counts && !n; i++)
		if (r->counts[i].relay == relay && !strcmp(r->counts[i].rule, rule))
			n = &r->counts[i];
	if (!n) {
		r->counts = xreallocarray(r->counts, r->n_counts + 1, sizeof(*r->counts));
		n = &r->counts[r->n_counts++];
		memset(n, 0, sizeof(*n));
		n->relay = relay;
		snprintf(n->rule, sizeof(n->rule), "%s", rule);
	}
	if (forwarded)
		n->allowed++;
	else
		n->denied++;
	r->counts_changed = true;
}

/* The caller as `suggest` names it. */
static void subject_label(const struct conn *c, char *buf, size_t len)
{
	const struct dg_container *ct = caller_container(c);

	if (ct && ct->name)
		snprintf(buf, len, "container %s", ct->name[0] == '/' ? ct->name + 1 : ct->name);
	else
		snprintf(buf, len, "uid %" PRIu32 " cgroup %s", c->caller.uid, c->caller.cgroup);
}

/* One more request of this caller with `method` on `path` (canonical). */
static void note_seen(struct conn *c, const char *method, const char *path)
{
	struct dg_relay *r = c->relay;
	const struct dg_api_route *rt = dg_api_route_of(path);
	const char *route = rt ? rt->pattern : path;
	char subject[600];
	struct seen *n = NULL;

	subject_label(c, subject, sizeof(subject));
	for (size_t i = 0; i < r->n_seen && !n; i++)
		if (r->seen[i].relay == c->relay_name && !strcmp(r->seen[i].method, method) &&
		    !strcmp(r->seen[i].route, route) && !strcmp(r->seen[i].subject, subject))
			n = &r->seen[i];
	if (!n) {
		if (r->n_seen >= DG_RELAY_MAX_SEEN || strlen(method) >= sizeof(n->method))
			return;		/* the daemon's table has them; this one reports deltas */
		r->seen = xreallocarray(r->seen, r->n_seen + 1, sizeof(*r->seen));
		n = &r->seen[r->n_seen++];
		*n = (struct seen){ .relay = c->relay_name, .subject = xstrdup(subject),
				    .route = xstrdup(route), .known = rt != NULL,
				    .root = dg_api_route_root_equivalent(rt, method) };
		snprintf(n->method, sizeof(n->method), "%s", method);
	}
	n->count++;
}

json_t *dg_relay_seen_json(struct dg_relay *r, size_t *from, size_t max)
{
	json_t *a = json_array();

	for (; *from < r->n_seen && json_array_size(a) < max; (*from)++) {
		struct seen *n = &r->seen[*from];
		if (!n->count)
			continue;
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:I}", "relay", n->relay,
						   "subject", n->subject, "method", n->method,
						   "route", n->route, "known", n->known, "root", n->root,
						   "count", (json_int_t)n->count));
		n->count = 0;
	}
	return a;
}

json_t *dg_relay_counts_json(struct dg_relay *r, bool *changed)
{
	json_t *rules = json_array();

	for (size_t i = 0; i < r->n_counts; i++)
		json_array_append_new(rules, json_pack("{s:s,s:s,s:I,s:I}", "relay", r->counts[i].relay,
						       "api_rule", r->counts[i].rule,
						       "allowed", (json_int_t)r->counts[i].allowed,
						       "denied", (json_int_t)r->counts[i].denied));
	if (changed)
		*changed = r->counts_changed;
	r->counts_changed = false;
	return json_pack("{s:i,s:I,s:o}", "pid", (int)getpid(), "connections",
			 (json_int_t)r->n_conns, "rules", rules);
}

/* ---- forwarding ------------------------------------------------------------------ */

/* Pauses reading `src` while `dst` holds more than PRESSURE bytes. */
static void apply_pressure(struct bufferevent *src, struct bufferevent *dst)
{
	if (evbuffer_get_length(bufferevent_get_output(dst)) > PRESSURE) {
		bufferevent_disable(src, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, PRESSURE / 2, 0);
	}
}

/* A peer drained below the mark: the other side may read again. */
static void drained(struct conn *c, struct bufferevent *which)
{
	struct bufferevent *other = which == c->client ? c->upstream : c->client;

	if (other && c->state != S_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(which)) <= PRESSURE / 2)
		bufferevent_enable(other, EV_READ);
}

static int body_on_header(void *arg, const char *n, const char *v)
{
	(void)arg, (void)n, (void)v;
	return 0;
}

static int body_on_head(void *arg, const struct dg_http_head *h)
{
	(void)arg, (void)h;
	return 0;
}

/* A piece of the request body, framed for the upstream as judged. */
static int body_on_body(void *arg, const char *data, size_t len)
{
	struct conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(c->upstream);

	if (c->req.body == DG_BODY_CHUNKED) {
		evbuffer_add_printf(out, "%zx\r\n", len);
		evbuffer_add(out, data, len);
		evbuffer_add(out, "\r\n", 2);
	} else {
		evbuffer_add(out, data, len);
	}
	return 0;
}

static const struct dg_http_callbacks body_callbacks = { body_on_header, body_on_head, body_on_body };

/* ---- answers rewritten for the caller's view (relay/visible.h) ------------------- */

/*
 * An answer that `visible`, `own` or `redact` filters is not copied as it
 * comes: its headers are kept but its framing, its body read (a list: whole,
 * up to DG_VIEW_MAX_ANSWER; /events: event by event) and rewritten, and the
 * client gets a head of the relay's with the framing of what it sends.
 */
static bool rewriting(const struct conn *c)
{
	return c->answer_kind != DG_ANSWER_AS_IS;
}

static int answer_on_header(void *arg, const char *name, const char *value)
{
	struct conn *c = arg;

	if (!rewriting(c) || !strcasecmp(name, "Content-Length") ||
	    !strcasecmp(name, "Transfer-Encoding") || !strcasecmp(name, "Connection") ||
	    !strcasecmp(name, "Keep-Alive"))
		return 0;
	if (!strcasecmp(name, "Content-Encoding") && strcasecmp(value, "identity"))
		c->answer_encoded = true;
	return evbuffer_add_printf(c->answer_headers, "%s: %s\r\n", name, value) < 0 ? -ENOMEM : 0;
}

/* Whether the connection ends after this answer. */
static bool answer_closes(const struct conn *c)
{
	return !c->answer_keep_alive || !c->req.keep_alive || c->relay->draining;
}

/* The head for a rewritten answer: `length` bytes of body, or chunked
 * (HTTP/1.1 clients) or until the close (HTTP/1.0) when negative. */
static void rewritten_head(struct conn *c, long long length)
{
	static const char *const texts[] = { [200] = "OK", [304] = "Not Modified",
					     [400] = "Bad Request", [404] = "Not Found",
					     [500] = "Internal Server Error",
					     [503] = "Service Unavailable" };
	struct evbuffer *out = bufferevent_get_output(c->client);
	int st = c->answer_status;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", st,
			    st < (int)ARRAY_SIZE(texts) && texts[st] ? texts[st] : "Status");
	evbuffer_add_buffer(out, c->answer_headers);
	if (length >= 0)
		evbuffer_add_printf(out, "Content-Length: %lld\r\n", length);
	else if (c->req.minor >= 1)
		evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
	if (answer_closes(c) || (length < 0 && c->req.minor < 1))
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add(out, "\r\n", 2);
}

/* Bytes of a chunked (or, to HTTP/1.0, close-delimited) answer. */
static void send_chunk(struct conn *c, const char *data, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->client);

	if (!len)
		return;
	if (c->req.minor >= 1)
		evbuffer_add_printf(out, "%zx\r\n", len);
	evbuffer_add(out, data, len);
	if (c->req.minor >= 1)
		evbuffer_add(out, "\r\n", 2);
}

/* One event of /events: passed on when the caller sees it. */
static void pass_event(struct conn *c, const char *line, size_t len)
{
	size_t n = len;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n && dg_view_event(&c->view, line, n))
		send_chunk(c, line, len);
}

/* /events: the events complete in answer_buf go on, the rest waits. */
static int take_events(struct conn *c)
{
	struct evbuffer *b = c->answer_buf;

	for (;;) {
		struct evbuffer_ptr nl = evbuffer_search(b, "\n", 1, NULL);
		if (nl.pos < 0)
			break;
		size_t len = (size_t)nl.pos + 1;
		pass_event(c, (const char *)evbuffer_pullup(b, (ssize_t)len), len);
		evbuffer_drain(b, len);
	}
	if (evbuffer_get_length(b) > DG_VIEW_MAX_EVENT) {
		c->answer_too_large = true;
		return -EFBIG;
	}
	return 0;
}

static int answer_on_head(void *arg, const struct dg_http_head *h)
{
	struct conn *c = arg;

	c->answer_status = h->status;
	c->answer_keep_alive = h->keep_alive;
	if (c->answer_kind == DG_ANSWER_EVENTS && h->status == 200 && !c->answer_encoded) {
		/* a stream: its head now, its events as they come */
		rewritten_head(c, -1);
		c->answer_head_sent = true;
	}
	return 0;
}

static int answer_on_body(void *arg, const char *data, size_t len)
{
	struct conn *c = arg;

	if (!rewriting(c))
		return 0;	/* the bytes are copied as they are */
	if (!c->answer_head_sent && evbuffer_get_length(c->answer_buf) + len > DG_VIEW_MAX_ANSWER) {
		c->answer_too_large = true;
		return -EFBIG;
	}
	if (evbuffer_add(c->answer_buf, data, len) < 0)
		return -ENOMEM;
	return c->answer_head_sent ? take_events(c) : 0;
}

static const struct dg_http_callbacks answer_callbacks = { answer_on_header, answer_on_head,
							   answer_on_body };

static void rewrite_failed(struct conn *c, const char *why)
{
	char msg[512];

	emit(c, c->req.method, c->req.target.path, 502, false, NULL, why);
	snprintf(msg, sizeof(msg), "dockguard: the answer of the Docker API behind this relay "
		 "cannot be filtered for this caller: %s", why);
	answer(c, 502, c->req.method, msg, true);
}

/* The whole answer arrived: what the caller gets of it. */
static void answer_finish(struct conn *c)
{
	struct evbuffer *b = c->answer_buf;
	size_t len = evbuffer_get_length(b);

	if (c->answer_head_sent) {
		/* /events ended (`until`): a last event without its newline */
		if (len)
			pass_event(c, (const char *)evbuffer_pullup(b, -1), len);
		evbuffer_drain(b, len);
		if (c->req.minor >= 1)
			evbuffer_add(bufferevent_get_output(c->client), "0\r\n\r\n", 5);
		return;
	}
	if (c->answer_status == 200 && c->answer_encoded) {
		rewrite_failed(c, "the answer is compressed");
		return;
	}
	if (c->answer_status != 200 || c->answer_kind == DG_ANSWER_EVENTS) {
		/* an error of dockerd's: its body as it is */
		rewritten_head(c, (long long)len);
		evbuffer_add_buffer(bufferevent_get_output(c->client), b);
		return;
	}
	char *out = NULL, why[200];
	size_t out_len = 0;
	bool ok = dg_view_rewrite(&c->view, c->answer_kind, (const char *)evbuffer_pullup(b, -1),
				  len, &out, &out_len, why, sizeof(why));
	evbuffer_drain(b, len);
	if (!ok) {
		rewrite_failed(c, why);
		return;
	}
	rewritten_head(c, (long long)out_len);
	evbuffer_add(bufferevent_get_output(c->client), out, out_len);
	free(out);
}

/* The request and its answer are over: the next request, or the end. */
static void request_done(struct conn *c)
{
	/* draining: the next request belongs to the relay of the new policy */
	bool again = c->req.keep_alive && c->answer_keep_alive && !c->relay->draining;

	dg_request_free(&c->req);
	dg_http_fini(&c->body);
	dg_http_fini(&c->answer);
	c->have_req = false;
	if (!again) {
		close_after_flush(c);
		return;
	}
	c->state = S_HEAD;
	if (evbuffer_get_length(bufferevent_get_input(c->client)))
		client_read(c->client, c);
}

/*
 * Feeds what `in` holds to `h`, chain by chain (no copy into one block, as
 * evbuffer_pullup would make of a large answer): the bytes consumed, which
 * stop at the end of the message, or the parser's error.
 */
static long feed_buffer(struct dg_http *h, struct evbuffer *in)
{
	size_t total = evbuffer_get_length(in), done = 0;

	while (done < total) {
		struct evbuffer_iovec v[16];
		struct evbuffer_ptr at;
		int n;

		if (evbuffer_ptr_set(in, &at, done, EVBUFFER_PTR_SET) < 0)
			return -EIO;
		n = evbuffer_peek(in, (ev_ssize_t)(total - done), &at, v, 16);
		for (int i = 0; i < n && i < 16; i++) {
			long r;

			if (!v[i].iov_len)
				continue;
			r = dg_http_feed(h, v[i].iov_base, v[i].iov_len);
			if (r < 0)
				return r;
			done += (size_t)r;
			if ((size_t)r < v[i].iov_len || dg_http_done(h))
				return (long)done;
		}
	}
	return (long)done;
}

/* Feeds the client's bytes to the body framer. */
static void forward_body(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	size_t len = evbuffer_get_length(in);

	if (c->body_done || !len)
		return;
	long n = feed_buffer(&c->body, in);
	if (n < 0) {
		/* a body that breaks its framing: the upstream cannot be told
		 * where it ends, so the connection ends */
		emit(c, c->req.method, c->req.target.path, 400, false, NULL,
		     "the request body breaks its framing");
		close_after_flush(c);
		return;
	}
	evbuffer_drain(in, (size_t)n);
	if (dg_http_done(&c->body)) {
		c->body_done = true;
		if (c->req.body == DG_BODY_CHUNKED)
			evbuffer_add(bufferevent_get_output(c->upstream), "0\r\n\r\n", 5);
	}
	apply_pressure(c->client, c->upstream);
	if (c->body_done && c->answer_done)
		request_done(c);
}

static void upstream_event(struct bufferevent *bev, short what, void *arg);

/*
 * `n` bytes of `from` for `to` (the client, or the connected upstream):
 * written to its socket at once when nothing is queued before them, only
 * the rest queued. An answer or a head usually fits the socket's buffer,
 * and a queued write costs two epoll_ctl calls (libevent arms the write
 * event, then disarms it): a third of the relay's syscalls per request.
 * A failed write is left to the bufferevent, which meets it again.
 */
static void send_now(struct conn *c, struct bufferevent *to, struct evbuffer *from, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(to);

	if (n && evbuffer_get_length(out) == 0 && (to == c->client || c->upstream_connected)) {
		int w = evbuffer_write_atmost(from, bufferevent_getfd(to), (ssize_t)n);

		if (w > 0)
			n -= (size_t)w;
	}
	if (n)
		evbuffer_remove_buffer(from, out, n);
}

/* The head as judged goes to the upstream (connected on first use), then,
 * when a guard read it, the whole body as judged (`body`); otherwise the
 * body follows as it comes. */
static bool forward(struct conn *c, const char *head, size_t head_len, struct evbuffer *body)
{
	const struct dg_endpoint *ep = &c->relay->pol->endpoints[c->endpoint];
	size_t len;

	if (!c->upstream) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (!dg_relay_sockaddr(&ep->upstream, &ss, &sl))
			return false;
		c->upstream = bufferevent_socket_new(c->relay->base, -1, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_set_max_single_read(c->upstream, DG_RELAY_READ_SIZE);
		bufferevent_setcb(c->upstream, upstream_read, NULL, upstream_event, c);
		bufferevent_enable(c->upstream, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->upstream, (struct sockaddr *)&ss, (int)sl) < 0) {
			bufferevent_free(c->upstream);
			c->upstream = NULL;
			c->upstream_connected = false;
			return false;
		}
		if (ss.ss_family != AF_UNIX) {
			int one = 1;
			setsockopt(bufferevent_getfd(c->upstream), IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
		}
	}
	char *text = dg_request_head_text(&c->req, &len);
	struct evbuffer *head_buf = evbuffer_new();
	if (!head_buf || evbuffer_add(head_buf, text, len) < 0) {
		if (head_buf)
			evbuffer_free(head_buf);
		free(text);
		return false;
	}
	send_now(c, c->upstream, head_buf, len);
	evbuffer_free(head_buf);	/* its bytes are out or queued */
	free(text);

	if (body) {
		/* framed by the Content-Length the head now says */
		send_now(c, c->upstream, body, evbuffer_get_length(body));
		c->body_done = true;
	} else {
		/* the body framer reads the same head, then the body as it comes */
		dg_http_init(&c->body, DG_HTTP_REQUEST, DG_RELAY_MAX_HEAD, &body_callbacks, c);
		dg_http_feed(&c->body, head, head_len);
		c->body_done = dg_http_done(&c->body) || c->req.body == DG_BODY_NONE;
	}
	dg_http_init(&c->answer, DG_HTTP_RESPONSE, DG_RELAY_MAX_HEAD, &answer_callbacks, c);
	if (!strcmp(c->req.method, "HEAD"))
		dg_http_expect_no_body(&c->answer);
	if (rewriting(c)) {
		if (!c->answer_headers)
			c->answer_headers = evbuffer_new();
		if (!c->answer_buf)
			c->answer_buf = evbuffer_new();
		evbuffer_drain(c->answer_headers, evbuffer_get_length(c->answer_headers));
		evbuffer_drain(c->answer_buf, evbuffer_get_length(c->answer_buf));
		c->answer_encoded = c->answer_too_large = c->answer_head_sent = false;
	}
	c->answer_done = false;
	c->answer_status = 0;
	c->state = S_FORWARD;
	return true;
}

/* ---- judging ----------------------------------------------------------------------- */

static const char *rule_place(const struct dg_loc *loc, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u", loc->file ? loc->file->name : "?", loc->line);
	return buf;
}

/* The routes whose answer may switch the connection to a byte stream:
 * container attach and exec start, with Docker's `Upgrade: tcp`. */
static bool upgrade_route(const struct dg_request *req)
{
	const char *p = req->target.path;

	return !strcmp(req->method, "POST") && req->upgrade_proto &&
	       !strcasecmp(req->upgrade_proto, "tcp") &&
	       (dg_api_pattern_matches("/containers/*/attach", p) ||
		dg_api_pattern_matches("/exec/*/start", p));
}

/* Judges the head buffered in the client's input; false: answered/closed. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A judged request refused with `status`: the answer, then the next request
 * on the connection, unless a body follows that will not be read (or an
 * upgrade, or the client asked for the end): then the connection ends. */
static void refuse(struct conn *c, int status, const char *msg, size_t head_len)
{
	answer(c, status, c->req.method, msg,
	       c->req.body != DG_BODY_NONE || c->req.upgrade || !c->req.keep_alive);
	if (c->state != S_CLOSING) {
		evbuffer_drain(bufferevent_get_input(c->client), head_len);
		dg_request_free(&c->req);
		c->have_req = false;
	}
}

/* ---- held requests: guards and `own` ------------------------------------------------ */

/*
 * A request that a guard or `own` judges is held before anything of it is
 * forwarded: the object it writes to is looked up first (`own`: S_LOOKUP,
 * the client not read meanwhile), then its body is read whole (S_GUARD),
 * judged by every guard, labelled (`own`), and forwarded as judged.
 */

/* Whether `profile` or one it extends has `guard create`. */
static bool guarded(const struct dg_policy *pol, size_t profile)
{
	for (size_t i = profile; i != DG_API_NO_PARENT; i = pol->apis[i].parent)
		if (pol->apis[i].guard)
			return true;
	return false;
}

/* The profile of the chain that says `own`, or NULL. */
static const struct dg_api_profile *owning(const struct dg_policy *pol, size_t profile)
{
	for (size_t i = profile; i != DG_API_NO_PARENT; i = pol->apis[i].parent)
		if (pol->apis[i].own)
			return &pol->apis[i];
	return NULL;
}

/* Whether the container a network (dis)connect body names is judged: by
 * `own` (it must be the caller's) and `visible` (it must be seen). */
static bool connect_checks(const struct conn *c)
{
	return c->own.connects && (owning(c->relay->pol, c->guard_profile) || c->view.visible);
}

static int guard_on_body(void *arg, const char *data, size_t len)
{
	struct conn *c = arg;

	if (evbuffer_get_length(c->guard_body) + len > DG_GUARD_MAX_BODY) {
		c->guard_too_large = true;
		return -1;
	}
	return evbuffer_add(c->guard_body, data, len);
}

static const struct dg_http_callbacks guard_callbacks = { body_on_header, body_on_head,
							  guard_on_body };

/* The held request is over (refused, or forwarded): its copies go. */
static void hold_clear(struct conn *c)
{
	free(c->guard_head);
	c->guard_head = NULL;
	if (c->guard_body)
		evbuffer_drain(c->guard_body, evbuffer_get_length(c->guard_body));
	dg_lookup_cancel(c->lookup);
	c->lookup = NULL;
}

/*
 * Refuses the held request with `status` and `msg` (Docker's error form),
 * the event saying `place` and `why`. After a body read whole (or none) the
 * connection goes on; `close` otherwise.
 */
static void hold_refuse(struct conn *c, int status, const char *place, const char *why,
			const char *msg, bool close)
{
	count(c->relay, c->relay_name, place, false);
	emit(c, c->req.method, c->req.target.path, status, false, place, why);
	hold_clear(c);
	bufferevent_enable(c->client, EV_READ);
	answer(c, status, c->req.method, msg, close || !c->req.keep_alive);
	if (c->state != S_CLOSING) {
		dg_request_free(&c->req);
		dg_http_fini(&c->body);
		c->have_req = false;
		c->state = S_HEAD;
	}
}

/* A guard's refusal (403; 400: undecidable; 413: too large). */
static void guard_refuse(struct conn *c, int status, const char *place, const char *profile,
			 const char *why, bool close)
{
	char msg[2048], caller[512];

	describe_caller(c, caller, sizeof(caller));
	snprintf(msg, sizeof(msg), "dockguard: %s %s is refused for %s by the guard of profile "
		 "%s (%s): %s", c->req.method, c->req.target.path, caller, profile, place, why);
	hold_refuse(c, status, place, why, msg, close);
}

static bool connect_lookup(struct conn *c, const char *bytes, size_t len, bool body_unread);

/* Every guard of the chain, the owner label, then the request as judged. */
static void hold_decide(struct conn *c, struct evbuffer *body)
{
	const struct dg_policy *pol = c->relay->pol;
	size_t len = body ? evbuffer_get_length(body) : 0;
	const char *bytes = len ? (const char *)evbuffer_pullup(body, -1) : "";
	bool body_unread = !body && c->req.body != DG_BODY_NONE;
	char why[1024], place[300];

	/* a network (dis)connect: the container its body names is judged
	 * (looked up) first, then this goes on */
	if (connect_checks(c) && !c->connect_checked) {
		connect_lookup(c, bytes, len, body_unread);
		return;
	}

	for (size_t i = c->guard_profile; c->guard_route != DG_GUARD_NONE && i != DG_API_NO_PARENT;
	     i = pol->apis[i].parent) {
		const struct dg_api_profile *a = &pol->apis[i];
		if (!a->guard)
			continue;
		struct dg_guard g = { a->guard_binds, a->n_guard_binds };
		enum dg_guard_result r =
			dg_guard_reads_body(c->guard_route)
				? dg_guard_judge_body(c->guard_route, bytes, len, &g, true, why, sizeof(why))
				: dg_guard_judge_query(c->guard_route, &c->req.target, why, sizeof(why));
		if (r != DG_GUARD_PASS) {
			guard_refuse(c, r == DG_GUARD_UNDECIDABLE ? 400 : 403,
				     rule_place(&a->guard_loc, place, sizeof(place)), a->name, why,
				     body_unread);
			return;
		}
	}
	if (c->climb) {
		bool create = !strcmp(c->req.target.path, "/containers/create");
		const char *name = dg_target_param(&c->req.target, "name");
		bool undecidable;
		size_t r = dg_climb_rule(pol, c->connect_rule, name ? name : "",
					 create && body ? bytes : NULL, len, &undecidable);
		if (undecidable || r != SIZE_MAX) {
			char msg[2048], caller[512], rplace[300];
			describe_caller(c, caller, sizeof(caller));
			if (undecidable)
				snprintf(why, sizeof(why), "its Labels cannot be read as dockerd would");
			else
				snprintf(why, sizeof(why), "the new container (name \"%s\"%s) would be "
					 "trusted by %s, which does not admit its creator (no climbing)",
					 name ? name : "", create ? ", its labels and image" : "",
					 rule_place(&pol->rules[r].loc, rplace, sizeof(rplace)));
			snprintf(msg, sizeof(msg), "dockguard: %s %s is refused for %s: %s",
				 c->req.method, c->req.target.path, caller, why);
			hold_refuse(c, undecidable ? 400 : 403, undecidable ? c->guard_rule : rplace,
				    why, msg, body_unread);
			return;
		}
	}
	const struct dg_api_profile *own = owning(pol, c->guard_profile);
	if (own && c->own.creates) {
		char *labelled = NULL;
		size_t labelled_len = 0;
		rule_place(&own->own_loc, place, sizeof(place));
		if (!body) {
			guard_refuse(c, 400, place, own->name, "a create without a body cannot be "
				     "labelled with its owner (own)", body_unread);
			return;
		}
		if (!dg_own_label_body(c->own.creates, bytes, len, c->owner_key, &labelled,
				       &labelled_len, why, sizeof(why))) {
			guard_refuse(c, 400, place, own->name, why, false);
			return;
		}
		evbuffer_drain(body, len);
		evbuffer_add(body, labelled, labelled_len);
		free(labelled);
		len = labelled_len;
	}
	if (c->target_rewritten) {
		free(c->req.raw_target);
		c->req.raw_target = c->target_rewritten;
		c->target_rewritten = NULL;
	}
	count(c->relay, c->relay_name, c->guard_rule, true);
	if (body)
		dg_request_set_length(&c->req, len);
	bufferevent_enable(c->client, EV_READ);
	bool sent = forward(c, c->guard_head, c->guard_head_len, body);
	hold_clear(c);
	if (!sent) {
		emit(c, c->req.method, c->req.target.path, 502, false, c->guard_rule,
		     "the upstream cannot be reached");
		answer(c, 502, c->req.method, "dockguard: the Docker API behind this relay cannot "
		       "be reached", true);
		return;
	}
	/* a body not held arrived with the head, or during a lookup: on its way */
	if (!body)
		forward_body(c);
}

/* Reads the held body as it arrives; decides once it is whole. */
static void guard_read(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	long n = feed_buffer(&c->body, in);

	if (n < 0) {
		char place[300];
		const struct dg_api_profile *a = &c->relay->pol->apis[c->guard_profile];
		snprintf(place, sizeof(place), "%s", c->guard_rule);
		if (c->guard_too_large)
			guard_refuse(c, 413, place, a->name, "the body is larger than a guard reads "
				     "(1 MiB): it is not half inspected", true);
		else
			guard_refuse(c, 400, place, a->name, "the request body breaks its framing", true);
		return;
	}
	evbuffer_drain(in, (size_t)n);
	if (!dg_http_done(&c->body))
		return;
	hold_decide(c, c->guard_body);
}

/* The body, when a guard or the owner label needs it; then the decision. */
static void hold_body(struct conn *c)
{
	const struct dg_policy *pol = c->relay->pol;
	bool needed = (c->guard_route != DG_GUARD_NONE && dg_guard_reads_body(c->guard_route)) ||
		      (owning(pol, c->guard_profile) && c->own.creates) ||
		      (c->climb && !strcmp(c->req.target.path, "/containers/create")) ||
		      connect_checks(c);

	if (!needed || c->req.body == DG_BODY_NONE) {
		hold_decide(c, NULL);
		return;
	}
	if (c->req.body == DG_BODY_LENGTH && c->req.content_length > DG_GUARD_MAX_BODY) {
		guard_refuse(c, 413, c->guard_rule, pol->apis[c->guard_profile].name,
			     "the body is larger than a guard reads (1 MiB): it is not half inspected",
			     true);
		return;
	}
	if (!c->guard_body)
		c->guard_body = evbuffer_new();
	c->guard_too_large = false;
	dg_http_init(&c->body, DG_HTTP_REQUEST, DG_RELAY_MAX_HEAD, &guard_callbacks, c);
	dg_http_feed(&c->body, c->guard_head, c->guard_head_len);
	c->state = S_GUARD;
	bufferevent_enable(c->client, EV_READ);
	guard_read(c);
}

static const char *kind_name(enum dg_own_kind k)
{
	static const char *const names[] = { "object", "container", "exec instance", "service",
					     "volume", "network", "task" };
	return names[k];
}

static void own_looked_up(void *arg, int status, const char *json, size_t len);

/* GET `path` of the upstream for this held request; false: it cannot start. */
static bool lookup(struct conn *c, const char *path, dg_lookup_fn done)
{
	const struct dg_endpoint *ep = &c->relay->pol->endpoints[c->endpoint];
	struct sockaddr_storage ss;
	socklen_t sl;

	c->lookup = dg_relay_sockaddr(&ep->upstream, &ss, &sl)
			    ? dg_lookup_start(c->relay->base, (struct sockaddr *)&ss, sl, path, done, c)
			    : NULL;
	return c->lookup != NULL;
}

static bool own_lookup(struct conn *c, enum dg_own_kind kind, const char *name)
{
	char *path = dg_own_lookup_path(kind, name);
	bool ok = lookup(c, path, own_looked_up);

	c->lookup_kind = kind;
	free(path);
	return ok;
}

/* Where a refusal about a looked-up object comes from: `own`'s line when
 * the caller's ownership is what is judged, else the first `visible` clause. */
static const char *hold_place(const struct conn *c, bool owner_judged, char *buf, size_t len)
{
	const struct dg_api_profile *own = owning(c->relay->pol, c->guard_profile);

	return own && owner_judged ? rule_place(&own->own_loc, buf, len)
				   : rule_place(&c->view.first->loc, buf, len);
}

/*
 * dockerd's lookup answer about `named` (c->own.name): false when the
 * request was refused for it (not there: dockerd's 404; an answer that does
 * not say what it is: 502); true with its full id, its owner label and an
 * exec's container or a task's service in `parent`.
 */
static bool looked_up(struct conn *c, int status, const char *json, size_t len,
		      enum dg_own_kind named, bool owner_judged, bool close, char *id,
		      char *owner, char *parent)
{
	char place[300], msg[1024];

	c->lookup = NULL;
	hold_place(c, owner_judged, place, sizeof(place));
	if (status == 404) {
		/* dockerd's own answer: the request would have met it */
		snprintf(msg, sizeof(msg), "No such %s: %s", kind_name(named), c->own.name);
		hold_refuse(c, 404, place, "no such object", msg, close);
		return false;
	}
	if (status != 200 || !dg_own_read_answer(c->lookup_kind, json, len, id, 256, owner, 128,
						  parent, 256)) {
		hold_refuse(c, 502, place, "the lookup failed",
			    "dockguard: the Docker API behind this relay did not say what the "
			    "object this request names is", true);
		return false;
	}
	return true;
}

/*
 * The container, service, network or volume the lookup answered (`json`):
 * hidden from the caller (`visible`) or, when `owner_judged`, not its own,
 * it is answered as dockerd answers for an object that is not there (false).
 */
static bool may_see_and_use(struct conn *c, enum dg_own_kind named, const char *json, size_t len,
			    const char *owner, bool owner_judged, bool close)
{
	const struct dg_api_profile *own = owning(c->relay->pol, c->guard_profile);
	char place[300], msg[1024], why[1200], caller[512];

	describe_caller(c, caller, sizeof(caller));
	snprintf(msg, sizeof(msg), "No such %s: %s", kind_name(named), c->own.name);
	if (c->view.visible && !dg_view_object(&c->view, c->lookup_kind, json, len)) {
		snprintf(why, sizeof(why), "%s %s is hidden from %s (visible, profile %s)",
			 kind_name(named), c->own.name, caller, c->view.first_profile->name);
		hold_refuse(c, 404, hold_place(c, false, place, sizeof(place)), why, msg, close);
		return false;
	}
	if (own && owner_judged && strcmp(owner, c->owner_key)) {
		snprintf(why, sizeof(why), "%s %s was not created by %s (own, profile %s)",
			 kind_name(named), c->own.name, caller, own->name);
		hold_refuse(c, 404, hold_place(c, true, place, sizeof(place)), why, msg, close);
		return false;
	}
	return true;
}

/*
 * The object the request names: when it is there, seen and (for a write
 * under `own`) the caller's, the request goes on naming it by its full id.
 */
static void own_looked_up(void *arg, int status, const char *json, size_t len)
{
	struct conn *c = arg;
	bool owner_judged = owning(c->relay->pol, c->guard_profile) && c->own.writes;
	bool close = c->req.body != DG_BODY_NONE;
	char id[256] = "", owner[128] = "", parent[256] = "", place[300];

	if (!looked_up(c, status, json, len, c->own.names, owner_judged, close, id, owner, parent))
		return;
	if (c->lookup_kind == DG_OWN_EXEC || c->lookup_kind == DG_OWN_TASK) {
		/* an exec is its container's, a task its service's: the full id
		 * names it, then the container or service decides */
		free(c->target_rewritten);
		c->target_rewritten = dg_own_target_with_id(&c->req.target, &c->own, id);
		if (!own_lookup(c, c->lookup_kind == DG_OWN_EXEC ? DG_OWN_CONTAINER : DG_OWN_SERVICE,
				parent))
			hold_refuse(c, 502, hold_place(c, owner_judged, place, sizeof(place)),
				    "the lookup failed",
				    "dockguard: the Docker API behind this relay cannot be reached", true);
		return;
	}
	if (!may_see_and_use(c, c->own.names, json, len, owner, owner_judged, close))
		return;
	if (!c->target_rewritten)
		c->target_rewritten = dg_own_target_with_id(&c->req.target, &c->own, id);
	hold_body(c);
}

/* dockerd's services, for a list of tasks: those of visible services pass. */
static void services_looked_up(void *arg, int status, const char *json, size_t len)
{
	struct conn *c = arg;
	char place[300];

	c->lookup = NULL;
	if (status != 200 || !dg_view_set_services(&c->view, json, len)) {
		hold_refuse(c, 502, hold_place(c, false, place, sizeof(place)), "the lookup failed",
			    "dockguard: the Docker API behind this relay did not list its services",
			    true);
		return;
	}
	hold_body(c);
}

static void connect_looked_up(void *arg, int status, const char *json, size_t len);

/* Looks up the container a network (dis)connect body names. */
static bool connect_lookup(struct conn *c, const char *bytes, size_t len, bool body_unread)
{
	const struct dg_api_profile *own = owning(c->relay->pol, c->guard_profile);
	char name[256], why[300], place[300];

	hold_place(c, true, place, sizeof(place));
	if (body_unread || !dg_own_connect_container(bytes, len, name, sizeof(name), why, sizeof(why))) {
		if (body_unread)
			snprintf(why, sizeof(why), "the body naming the container was not read");
		guard_refuse(c, 400, place, own ? own->name : c->view.first_profile->name, why,
			     body_unread);
		return false;
	}
	snprintf(c->own.name, sizeof(c->own.name), "%s", name);
	bufferevent_disable(c->client, EV_READ);
	c->state = S_LOOKUP;
	char *path = dg_own_lookup_path(DG_OWN_CONTAINER, name);
	bool ok = lookup(c, path, connect_looked_up);
	c->lookup_kind = DG_OWN_CONTAINER;
	free(path);
	if (!ok)
		hold_refuse(c, 502, place, "the lookup failed",
			    "dockguard: the Docker API behind this relay cannot be reached", true);
	return ok;
}

/* The container of a network (dis)connect: seen and the caller's (as its
 * profile says), then named by its full id in the body forwarded (read
 * whole: the connection goes on after a refusal). */
static void connect_looked_up(void *arg, int status, const char *json, size_t len)
{
	struct conn *c = arg;
	bool owner_judged = owning(c->relay->pol, c->guard_profile) != NULL;
	char id[256] = "", owner[128] = "", parent[256], place[300];

	if (!looked_up(c, status, json, len, DG_OWN_CONTAINER, owner_judged, false, id, owner,
		       parent) ||
	    !may_see_and_use(c, DG_OWN_CONTAINER, json, len, owner, owner_judged, false))
		return;
	struct evbuffer *b = c->guard_body;
	char *out = NULL;
	size_t out_len = 0;
	if (!dg_own_connect_with_id((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b), id,
				    &out, &out_len)) {
		hold_refuse(c, 400, hold_place(c, owner_judged, place, sizeof(place)),
			    "the body cannot be rewritten", "dockguard: the body of this request "
			    "cannot be read as dockerd would", false);
		return;
	}
	evbuffer_drain(b, evbuffer_get_length(b));
	evbuffer_add(b, out, out_len);
	free(out);
	c->connect_checked = true;
	hold_decide(c, b);
}

/* An allowed request that a guard, `own` or `visible` judges: held (see above). */
static void hold_start(struct conn *c, enum dg_guard_route route, size_t profile,
		       const char *rule, size_t connect_rule, const char *head, size_t head_len)
{
	const struct dg_policy *pol = c->relay->pol;
	const struct dg_api_profile *own = owning(pol, profile);
	char place[300], msg[1024];

	c->guard_route = route;
	c->guard_profile = profile;
	c->connect_rule = connect_rule;
	snprintf(c->guard_rule, sizeof(c->guard_rule), "%s", rule);
	c->guard_head = xmalloc(head_len);
	memcpy(c->guard_head, head, head_len);
	c->guard_head_len = head_len;
	free(c->target_rewritten);
	c->target_rewritten = NULL;
	evbuffer_drain(bufferevent_get_input(c->client), head_len);
	if (own && c->own.refused && !c->own.too_long) {
		rule_place(&own->own_loc, place, sizeof(place));
		snprintf(msg, sizeof(msg), "dockguard: %s %s would touch objects that others "
			 "created (own, profile %s, %s)", c->req.method, c->req.target.path,
			 own->name, place);
		hold_refuse(c, 403, place, "objects of others (own)", msg,
			    c->req.body != DG_BODY_NONE);
		return;
	}
	if (c->own.too_long && ((own && c->own.refused) || c->view.visible)) {
		/* a name no object has: dockerd's answer, without asking it */
		snprintf(msg, sizeof(msg), "No such object: the name is longer than any object's");
		hold_refuse(c, 404, hold_place(c, own != NULL, place, sizeof(place)),
			    "a name longer than any object's", msg, c->req.body != DG_BODY_NONE);
		return;
	}
	bool look = c->own.names && ((own && c->own.writes) || c->view.visible);
	if (look || (c->answer_kind == DG_ANSWER_TASKS && c->view.visible)) {
		bufferevent_disable(c->client, EV_READ);	/* the body waits */
		c->state = S_LOOKUP;
		bool started = look ? own_lookup(c, c->own.names, c->own.name)
				    : lookup(c, "/v1.41/services", services_looked_up);
		if (!started)
			hold_refuse(c, 502, c->guard_rule, "the lookup failed",
				    "dockguard: the Docker API behind this relay cannot be reached",
				    true);
		return;
	}
	hold_body(c);
}

static void judge_head(struct conn *c, const char *head, size_t head_len)
{
	const struct dg_policy *pol = c->relay->pol;
	struct dg_subject_id who;
	struct dg_verdict v;
	struct dg_api_decision d;
	const char *why;
	char place[300], msg[2048], caller[512];
	size_t profile = DG_API_NO_PARENT;

	if (dg_request_parse_head(head, head_len, &c->req, &why)) {
		emit(c, NULL, NULL, 400, false, NULL, why);
		snprintf(msg, sizeof(msg), "dockguard: the relay refuses this request: %s", why);
		answer(c, 400, NULL, msg, true);
		return;
	}
	c->have_req = true;
	const struct dg_target *t = &c->req.target;
	if (c->req.upgrade && !upgrade_route(&c->req)) {
		emit(c, c->req.method, t->path, 400, false, NULL, "an upgrade on a route that has none");
		answer(c, 400, c->req.method, "dockguard: the relay refuses this request: an "
		       "upgrade is only for attach and exec start (Upgrade: tcp)", true);
		return;
	}
	if (t->versioned && (t->major < pol->api_min_major ||
			     (t->major == pol->api_min_major && t->minor < pol->api_min_minor))) {
		snprintf(msg, sizeof(msg), "dockguard: API version %u.%u is older than this relay "
			 "accepts (%u.%u)", t->major, t->minor, pol->api_min_major, pol->api_min_minor);
		emit(c, c->req.method, t->path, 400, false, NULL, "an API version below the minimum");
		answer(c, 400, c->req.method, msg, true);
		return;
	}

	/* who the caller is now: the rule that admits it, and its profile */
	describe_caller(c, caller, sizeof(caller));
	dg_caller_subject(&c->caller, &who);
	dg_image_evaluate_endpoint(c->relay->img, &who, (uint8_t)(c->endpoint + 1), DG_OP_CONNECT, &v);
	if (!v.allowed) {
		snprintf(msg, sizeof(msg), "dockguard: %s is no longer allowed to use relay %s",
			 caller, c->relay_name);
		emit(c, c->req.method, t->path, 403, false,
		     v.rule == DG_RULE_DEFAULT ? "default" : rule_place(&pol->rules[v.rule].loc, place, sizeof(place)),
		     NULL);
		answer(c, 403, c->req.method, msg, true);
		return;
	}
	if (!dg_rate_take(&c->relay->rate, c->caller.uid, c->caller.cgroup, now_ns())) {
		const char *set = rule_place(&pol->api_rate_loc, place, sizeof(place));
		snprintf(msg, sizeof(msg), "dockguard: %s is over this relay's rate of %" PRIu32 "/%s (%s)",
			 caller, pol->api_rate, pol->api_rate_per == 60 ? "min" : "s", set);
		emit(c, c->req.method, t->path, 429, false, set, "over the API rate");
		refuse(c, 429, msg, head_len);
		return;
	}
	if (v.rule != DG_RULE_DEFAULT)
		profile = pol->rules[v.rule].api_profile;
	dg_api_judge(pol, profile, c->req.method, t, &d);
	if (d.verdict != DG_API_DENIED || !d.rule)
		note_seen(c, c->req.method, t->path);	/* not what a deny rule refused */
	const char *rule = d.rule ? rule_place(&d.rule->loc, place, sizeof(place)) : "default";
	enum dg_guard_route guard = d.verdict == DG_API_DENIED ? DG_GUARD_NONE
				    : dg_guard_route(c->req.method, t->path);
	if (guard != DG_GUARD_NONE && !guarded(pol, profile))
		guard = DG_GUARD_NONE;
	memset(&c->own, 0, sizeof(c->own));
	const struct dg_api_profile *own = d.verdict != DG_API_DENIED ? owning(pol, profile) : NULL;
	bool keyed = d.verdict != DG_API_DENIED && dg_view_needs_key(pol, profile);
	if (keyed && (c->owner_key_policy != c->relay->policies || c->owner_key_rule != v.rule)) {
		/* a hash of the rule's line: once per connection and rule */
		dg_own_key(&pol->rules[v.rule], c->owner_key);
		c->owner_key_policy = c->relay->policies;
		c->owner_key_rule = v.rule;
	}
	dg_view_fini(&c->view);
	dg_view_init(&c->view, pol, d.verdict != DG_API_DENIED ? profile : DG_API_NO_PARENT,
		     keyed ? c->owner_key : NULL);
	c->answer_kind = dg_view_answer(&c->view, c->req.method, t);
	if (own || c->view.visible)
		dg_own_classify(c->req.method, t, &c->own);
	c->connect_checked = false;
	c->climb = d.verdict != DG_API_DENIED && !strcmp(c->req.method, "POST") &&
		   (!strcmp(t->path, "/containers/create") ||
		    dg_api_pattern_matches("/containers/*/rename", t->path)) &&
		   dg_climb_possible(pol);
	bool hold = guard != DG_GUARD_NONE || c->climb ||
		    (own && (c->own.creates || c->own.writes || c->own.refused)) ||
		    (c->view.visible && (c->own.names || c->own.too_long ||
					 c->answer_kind == DG_ANSWER_TASKS));
	if (!hold)	/* a held one counts once decided */
		count(c->relay, c->relay_name, rule, d.verdict != DG_API_DENIED);
	if (d.verdict == DG_API_DENIED) {
		snprintf(msg, sizeof(msg), "dockguard: %s %s is not allowed for %s (%s%s%s)",
			 c->req.method, t->path, caller, rule,
			 profile != DG_API_NO_PARENT ? ", profile " : "",
			 profile != DG_API_NO_PARENT ? pol->apis[profile].name : "");
		if (d.log)
			emit(c, c->req.method, t->path, 403, false, rule, NULL);
		refuse(c, 403, msg, head_len);
		return;
	}
	if (d.log)
		emit(c, c->req.method, t->path, 0, d.verdict == DG_API_AUDITED, rule, NULL);
	if (hold) {
		hold_start(c, guard, profile, rule, v.rule, head, head_len);
		return;
	}
	char *copy = xmalloc(head_len);
	memcpy(copy, head, head_len);
	evbuffer_drain(bufferevent_get_input(c->client), head_len);
	if (!forward(c, copy, head_len, NULL)) {
		emit(c, c->req.method, t->path, 502, false, rule, "the upstream cannot be reached");
		answer(c, 502, c->req.method, "dockguard: the Docker API behind this relay cannot "
		       "be reached", true);
	}
	free(copy);
}

static void head_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	emit(c, NULL, NULL, 400, false, NULL, "the request head took too long");
	answer(c, 400, NULL, "dockguard: the request head took too long", true);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	switch (c->state) {
	case S_HEAD: {
		size_t len = evbuffer_get_length(in), n = len < DG_RELAY_MAX_HEAD ? len : DG_RELAY_MAX_HEAD;
		const char *why;
		if (!len)
			return;
		const char *buf = (const char *)evbuffer_pullup(in, (ssize_t)n);
		long end = dg_request_head_end(buf, n, &why);
		if (end == 0) {
			if (!evtimer_pending(c->head_timer, NULL)) {
				struct timeval tv = { DG_RELAY_HEAD_SECONDS, 0 };
				evtimer_add(c->head_timer, &tv);
			}
			return;
		}
		evtimer_del(c->head_timer);
		if (end < 0) {
			const char *reason = end == -E2BIG ? "a request head larger than the relay reads" : why;
			char msg[300];
			snprintf(msg, sizeof(msg), "dockguard: the relay refuses this request: %s", reason);
			emit(c, NULL, NULL, end == -E2BIG ? 431 : 400, false, NULL, reason);
			answer(c, end == -E2BIG ? 431 : 400, NULL, msg, true);
			return;
		}
		judge_head(c, buf, (size_t)end);
		if (c->state == S_FORWARD)
			forward_body(c);
		else if (c->state == S_GUARD)
			guard_read(c);
		if (c->state == S_HEAD && evbuffer_get_length(in))
			client_read(bev, c);	/* the next pipelined request */
		return;
	}
	case S_LOOKUP:
		return;		/* the bytes wait for the owner's answer */
	case S_GUARD:
		guard_read(c);
		if (c->state == S_HEAD && evbuffer_get_length(in))
			client_read(bev, c);
		return;
	case S_FORWARD:
		forward_body(c);
		return;
	case S_PIPE:
		bufferevent_write_buffer(c->upstream, in);
		apply_pressure(c->client, c->upstream);
		return;
	case S_CLOSING:
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
}

static void upstream_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == S_PIPE) {
		bufferevent_write_buffer(c->client, in);
		apply_pressure(c->upstream, c->client);
		return;
	}
	if (c->state != S_FORWARD || c->answer_done) {
		evbuffer_drain(in, evbuffer_get_length(in));	/* nothing is owed */
		return;
	}
	bool head_before = c->answer_status != 0;
	long n = feed_buffer(&c->answer, in);
	if (n < 0) {
		if (rewriting(c) && !c->answer_head_sent)
			rewrite_failed(c, c->answer_too_large ? "the answer is larger than the relay "
				       "filters (64 MiB)" : "the answer breaks HTTP");
		else	/* the upstream broke HTTP (or an event too large): nothing safe to add */
			close_after_flush(c);
		return;
	}
	if (rewriting(c)) {
		evbuffer_drain(in, (size_t)n);	/* taken by the callbacks */
		apply_pressure(c->upstream, c->client);
		if (!dg_http_done(&c->answer))
			return;
		c->answer_done = true;
		answer_finish(c);
		if (c->state == S_FORWARD && c->body_done)
			request_done(c);
		return;
	}
	if (!head_before && c->answer_status && c->answer_status != 101 && c->relay->draining &&
	    c->req.keep_alive) {
		/* The connection ends after this answer (the relay of the new
		 * policy takes the next request): the client is told in it, so
		 * that it does not send one more on a connection about to close.
		 * Done when the head came whole in this read, as it does. */
		struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (end.pos >= 0 && (size_t)end.pos + 4 <= (size_t)n) {
			send_now(c, c->client, in, (size_t)end.pos + 2);
			evbuffer_add(bufferevent_get_output(c->client), "Connection: close\r\n", 19);
			n -= end.pos + 2;
		}
	}
	send_now(c, c->client, in, (size_t)n);
	apply_pressure(c->upstream, c->client);
	if (!dg_http_done(&c->answer))
		return;
	c->answer_done = true;
	if (c->answer_status == 101 && c->req.upgrade) {
		/* the connection is a byte pipe from here on, both ways */
		c->state = S_PIPE;
		dg_request_free(&c->req);
		dg_http_fini(&c->body);
		dg_http_fini(&c->answer);
		c->have_req = false;
		bufferevent_write_buffer(c->client, in);
		bufferevent_write_buffer(c->upstream, bufferevent_get_input(c->client));
		return;
	}
	if (c->body_done)
		request_done(c);
}

/* In a pipe, one side ended: the other is told once its bytes are out. */
static void pipe_half_close(struct conn *c, bool client_side)
{
	struct bufferevent *other = client_side ? c->upstream : c->client;

	if (client_side)
		c->client_eof = true;
	else
		c->upstream_eof = true;
	if (c->client_eof && c->upstream_eof) {
		close_after_flush(c);
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(other)) == 0)
		shutdown(bufferevent_getfd(other), SHUT_WR);
	else
		bufferevent_setwatermark(other, EV_WRITE, 0, 0);
}

/* `bev` wrote what it had: in a pipe whose other side ended (`other_eof`),
 * the end goes on to this side; and the other side may read again. */
static void wrote(struct conn *c, struct bufferevent *bev, bool other_eof)
{
	if (c->state == S_PIPE && other_eof && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	drained(c, bev);
}

static void client_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	wrote(c, bev, c->upstream_eof);
}

static void upstream_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	wrote(c, bev, c->client_eof);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF && c->state == S_PIPE) {
		pipe_half_close(c, true);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c);	/* the client is gone: so is its request */
}

static void upstream_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->upstream_connected = true;
		bufferevent_setcb(c->upstream, upstream_read, upstream_write, upstream_event, c);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (c->state == S_PIPE && (what & BEV_EVENT_EOF)) {
		pipe_half_close(c, false);
		return;
	}
	if (c->state == S_FORWARD && !c->answer_done) {
		/* an answer that runs until the close ends here */
		if (dg_http_feed(&c->answer, NULL, 0) >= 0 && dg_http_done(&c->answer)) {
			c->answer_done = true;
			if (rewriting(c))
				answer_finish(c);
			if (c->state != S_CLOSING)
				close_after_flush(c);
			return;
		}
		if (rewriting(c) && dg_http_started(&c->answer) && !c->answer_head_sent) {
			rewrite_failed(c, "the answer was cut short");
			return;
		}
		if (!dg_http_started(&c->answer)) {
			emit(c, c->req.method, c->req.target.path, 502, false, NULL,
			     "the upstream closed without an answer");
			bufferevent_free(c->upstream);
			c->upstream = NULL;
			c->upstream_connected = false;
			answer(c, 502, c->req.method, "dockguard: the Docker API behind this relay "
			       "cannot be reached", true);
			return;
		}
	}
	close_after_flush(c);
}

/* ---- listeners ---------------------------------------------------------------------- */

static size_t conns_of(const struct dg_relay *r, const struct dg_caller *k)
{
	size_t n = 0;

	for (const struct conn *c = r->conns; c; c = c->next)
		n += c->caller.uid == k->uid && !strcmp(c->caller.cgroup, k->cgroup);
	return n;
}

static void accept_conn(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
			int socklen, void *arg)
{
	struct listener *l = arg;
	struct dg_relay *r = l->relay;
	struct conn *c;
	const char *why;

	(void)ev, (void)sa, (void)socklen;
	c = xcalloc(1, sizeof(*c));
	c->relay = r;
	c->id = ++r->next_id;
	c->endpoint = l->endpoint;
	c->relay_name = l->name;
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	r->n_conns++;
	c->client = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_set_max_single_read(c->client, DG_RELAY_READ_SIZE);
	c->head_timer = evtimer_new(r->base, head_timeout, c);
	bufferevent_setcb(c->client, client_read, client_write, client_event, c);
	/* a head beyond the limit is refused; pipelined requests wait */
	bufferevent_setwatermark(c->client, EV_READ, 0, DG_RELAY_MAX_HEAD + 4096);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);

	/* the identity is fixed here, at connect, by the kernel */
	if (l->tcp) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (l->tcp && dg_caller_of_tcp(r->callers_fd, fd, &c->caller, &why)) {
		/* not judged by the hooks on this host: closed unread, logged */
		emit(c, NULL, NULL, 403, false, NULL, why);
		conn_free(c);
		return;
	}
	if (!l->tcp && dg_caller_of_unix(fd, &c->caller, &why)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "dockguard: the relay cannot tell who is calling: %s", why);
		emit(c, NULL, NULL, 403, false, NULL, why);
		answer(c, 403, NULL, msg, true);
		return;
	}
	if (r->n_conns > DG_RELAY_MAX_CONNS ||
	    conns_of(r, &c->caller) > DG_RELAY_MAX_CONNS_PER_CALLER) {
		emit(c, NULL, NULL, 503, false, NULL, "too many connections");
		answer(c, 503, NULL, "dockguard: too many connections to this relay", true);
	}
}

json_t *dg_relay_open_requests_json(const struct dg_relay *r)
{
	json_t *list = json_array();

	for (const struct conn *c = r->conns; c; c = c->next) {
		if (!c->have_req || (c->state != S_FORWARD && c->state != S_PIPE))
			continue;
		json_t *groups = json_array();
		for (size_t i = 0; i < c->caller.n_groups; i++)
			json_array_append_new(groups, json_integer(c->caller.groups[i]));
		json_array_append_new(list, json_pack("{s:I,s:s,s:I,s:I,s:o,s:s,s:s,s:s}", "id",
						      (json_int_t)c->id, "relay", c->relay_name,
						      "uid", (json_int_t)c->caller.uid, "gid",
						      (json_int_t)c->caller.gid, "groups", groups,
						      "cgroup", c->caller.cgroup, "method", c->req.method,
						      "target", c->req.raw_target));
	}
	return list;
}

void dg_relay_close(struct dg_relay *r, uint64_t id, const char *rule, const char *why)
{
	for (struct conn *c = r->conns; c; c = c->next) {
		if (c->id != id)
			continue;
		emit(c, c->have_req ? c->req.method : NULL, c->have_req ? c->req.target.path : NULL,
		     403, false, rule, why);
		conn_free(c);
		return;
	}
}

struct event_base *dg_relay_base_new(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

struct dg_relay *dg_relay_new(struct event_base *base, dg_relay_event_fn fn, void *arg)
{
	struct dg_relay *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->fn = fn;
	r->fn_arg = arg;
	r->callers_fd = -1;
	return r;
}

void dg_relay_set_containers(struct dg_relay *r, const struct dg_container_set *set)
{
	r->containers = set;
}

void dg_relay_set_policy(struct dg_relay *r, const struct dg_policy *pol, const struct dg_image *img)
{
	r->pol = pol;
	r->img = img;
	r->policies++;
	dg_rate_set(&r->rate, pol->api_rate, pol->api_rate_per);
}

void dg_relay_set_image(struct dg_relay *r, const struct dg_image *img)
{
	r->img = img;
}

int dg_relay_adopt(struct dg_relay *r, size_t endpoint, const char *path, int fd, struct dg_err *err)
{
	struct listener *l;

	r->listeners = xreallocarray(r->listeners, r->n_listeners + 1, sizeof(*r->listeners));
	l = &r->listeners[r->n_listeners];
	int domain = AF_UNIX;
	socklen_t dl = sizeof(domain);
	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl);
	*l = (struct listener){ .relay = r, .endpoint = endpoint,
				.name = xstrdup(r->pol->endpoints[endpoint].name), .path = xstrdup(path),
				.tcp = domain != AF_UNIX };
	l->ev = evconnlistener_new(r->base, accept_conn, l, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (!l->ev) {
		dg_err_set(err, "relay %s: cannot serve %s (libevent)", l->name, path);
		free(l->name);
		free(l->path);
		return -ENOMEM;
	}
	r->n_listeners++;
	/* the array moved: each listener's callback argument is its new place */
	for (size_t i = 0; i < r->n_listeners; i++)
		evconnlistener_set_cb(r->listeners[i].ev, accept_conn, &r->listeners[i]);
	return 0;
}

/* Tries the TCP listen addresses that had no interface: those that have
 * one now are served. */
static void retry_pending(evutil_socket_t fd, short what, void *arg)
{
	struct dg_relay *r = arg;

	(void)fd, (void)what;
	for (size_t i = 0; i < r->n_pending;) {
		struct pending *p = &r->pending[i];
		struct dg_err why = { "" };
		char *text = dg_relay_addr_text(p->addr);
		int lfd = dg_relay_bind(p->addr, &why);
		if (lfd == -EADDRNOTAVAIL) {
			free(text);
			i++;
			continue;
		}
		if (lfd < 0 || dg_relay_adopt(r, p->endpoint, text, lfd, &why) < 0) {
			if (lfd >= 0)
				close(lfd);
			fprintf(stderr, "dockguard relay: relay %s: %s\n",
				r->pol->endpoints[p->endpoint].name, why.msg);
		} else {
			fprintf(stderr, "dockguard relay: relay %s: serving %s now\n",
				r->pol->endpoints[p->endpoint].name, text);
		}
		free(text);
		*p = r->pending[--r->n_pending];
	}
	if (!r->n_pending && r->retry)
		evtimer_del(r->retry);
}

int dg_relay_listen(struct dg_relay *r, struct dg_err *err)
{
	const struct dg_policy *pol = r->pol;

	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		if (!ep->relay)
			continue;
		for (size_t a = 0; a < ep->n_addrs; a++) {
			const struct dg_addr *ad = &ep->addrs[a];
			struct dg_err why = { "" };
			char *text;
			int fd, ret;
			fd = dg_relay_bind(ad, &why);
			if (fd == -EADDRNOTAVAIL) {
				fprintf(stderr, "dockguard relay: relay %s: %s\n", ep->name, why.msg);
				r->pending = xreallocarray(r->pending, r->n_pending + 1,
							   sizeof(*r->pending));
				r->pending[r->n_pending++] = (struct pending){ e, ad };
				continue;
			}
			if (fd < 0) {
				dg_err_set(err, "relay %s: %s", ep->name, why.msg);
				return fd;
			}
			text = dg_relay_addr_text(ad);
			ret = dg_relay_adopt(r, e, ad->kind == DG_ADDR_UNIX ? ad->path : text, fd, err);
			free(text);
			if (ret) {
				close(fd);
				return ret;
			}
		}
	}
	if (r->n_pending) {
		struct timeval second = { 1, 0 };
		r->retry = event_new(r->base, -1, EV_PERSIST, retry_pending, r);
		if (!r->retry || event_add(r->retry, &second)) {
			dg_err_set(err, "cannot arm a timer (libevent)");
			return -ENOMEM;
		}
	}
	return 0;
}

void dg_relay_set_callers(struct dg_relay *r, int map_fd)
{
	r->callers_fd = map_fd;
}

void dg_relay_drain(struct dg_relay *r)
{
	struct conn *c, *next;

	r->draining = true;
	for (size_t i = 0; i < r->n_listeners; i++) {
		evconnlistener_free(r->listeners[i].ev);
		r->listeners[i].ev = NULL;
	}
	/* idle connections: their next request is the new relay's. One whose
	 * next request has reached the socket already, unread, is not idle:
	 * sent before the policy changed, it is this relay's to judge (closing
	 * over it would reset the connection, and a client that wrote a POST
	 * does not send it again) */
	for (c = r->conns; c; c = next) {
		char byte;
		next = c->next;
		if (c->state == S_HEAD && !evbuffer_get_length(bufferevent_get_input(c->client)) &&
		    recv(bufferevent_getfd(c->client), &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			close_after_flush(c);
	}
	if (!r->n_conns)
		event_base_loopexit(r->base, NULL);
}

/* One line per event: what came of which request, for whom, by which rule. */
char *dg_relay_event_text(const struct dg_relay_event *ev)
{
	const struct dg_caller *k = ev->caller;
	char *path = dg_escape(ev->path ? ev->path : "-", strlen(ev->path ? ev->path : "-"), "");
	char *cg = dg_escape(k->cgroup, strlen(k->cgroup), "");
	char *comm = dg_escape(k->comm, strlen(k->comm), "");
	char what[32];

	if (ev->status)
		snprintf(what, sizeof(what), "refused %d", ev->status);
	else
		snprintf(what, sizeof(what), "%s", ev->audit ? "audit" : "allowed");
	const char *ct = ev->container ? (ev->container->name ? ev->container->name
							     : ev->container->id) : NULL;
	char *line = xasprintf("relay %s: %s %s %s for uid %u gid %u pid %d (%s) cgroup %s%s%s: "
			       "rule %s%s%s", ev->relay, what, ev->method ? ev->method : "-", path,
			       k->uid, k->gid, (int)k->pid, comm, cg, ct ? " container " : "",
			       ct ? ct : "", ev->rule[0] ? ev->rule : "-", ev->reason ? ": " : "",
			       ev->reason ? ev->reason : "");
	free(path);
	free(cg);
	free(comm);
	return line;
}

json_t *dg_relay_event_json(const struct dg_relay_event *ev)
{
	const struct dg_caller *k = ev->caller;
	struct timespec ts;
	struct tm tm;
	char when[64], dest[300];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%06ldZ", ts.tv_nsec / 1000);
	snprintf(dest, sizeof(dest), "relay:%s", ev->relay);
	/* a comm, a cgroup, a path: anyone's bytes, escaped as in every event */
	char *comm = dg_escape(k->comm, strlen(k->comm), "");
	char *cg = dg_escape(k->cgroup, strlen(k->cgroup), "");
	char *path = ev->path ? dg_escape(ev->path, strlen(ev->path), "") : NULL;
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:I,s:I,s:s}", "time", when, "verdict",
			      ev->status ? "deny" : ev->audit ? "audit" : "allow", "endpoint", ev->relay,
			      "dest", dest, "op", "api", "pid", (int)k->pid, "comm", comm,
			      "uid", (json_int_t)k->uid, "gid", (json_int_t)k->gid, "cgroup", cg);
	free(comm);
	free(cg);
	if (!o) {
		free(path);
		return NULL;
	}
	if (ev->method)
		json_object_set_new(o, "method", json_string(ev->method));
	if (path)
		json_object_set_new(o, "path", json_string(path));
	free(path);
	if (ev->status)
		json_object_set_new(o, "status", json_integer(ev->status));
	json_object_set_new(o, "api_rule", json_string(ev->rule[0] ? ev->rule : "default"));
	if (ev->container) {
		const struct dg_container *ct = ev->container;
		json_t *cj = json_pack("{s:s}", "id", ct->id);
		if (ct->name)
			json_object_set_new(cj, "name", json_string(ct->name));
		if (ct->image)
			json_object_set_new(cj, "image", json_string(ct->image));
		if (ct->service)
			json_object_set_new(cj, "service", json_string(ct->service));
		json_object_set_new(o, "container", cj);
	}
	if (ev->reason)
		json_object_set_new(o, "reason", json_string(ev->reason));
	return o;
}

void dg_relay_print_event(FILE *out, const struct dg_relay_event *ev)
{
	char *line = dg_relay_event_text(ev);

	fprintf(out, "%s\n", line);
	fflush(out);
	free(line);
}

struct event_base *dg_relay_base(const struct dg_relay *r)
{
	return r->base;
}

size_t dg_relay_connections(const struct dg_relay *r)
{
	return r->n_conns;
}

void dg_relay_free(struct dg_relay *r)
{
	if (!r)
		return;
	while (r->conns)
		conn_free(r->conns);
	for (size_t i = 0; i < r->n_listeners; i++) {
		if (r->listeners[i].ev)
			evconnlistener_free(r->listeners[i].ev);
		free(r->listeners[i].name);
		free(r->listeners[i].path);
	}
	free(r->listeners);
	free(r->pending);
	if (r->retry)
		event_free(r->retry);
	free(r->counts);
	for (size_t i = 0; i < r->n_seen; i++) {
		free(r->seen[i].subject);
		free(r->seen[i].route);
	}
	free(r->seen);
	dg_rate_fini(&r->rate);
	free(r);
}
