// SPDX-License-Identifier: GPL-2.0-only
/* HTTP/1.1 messages through http-parser: see http.h. */
#include "http/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static struct dg_http *of(http_parser *p)
{
	return p->data;
}

/* Counts bytes of the head against its limit; false (and an error) past it. */
static bool head_bytes(struct dg_http *h, size_t n)
{
	h->head_bytes += n;
	if (h->head_bytes <= h->max_head)
		return true;
	snprintf(h->error, sizeof(h->error), "headers too long (more than %zu bytes)", h->max_head);
	h->cb_err = -E2BIG;
	return false;
}

static int append(struct dg_http *h, char **buf, size_t *len, const char *at, size_t n)
{
	if (!head_bytes(h, n))
		return 1;
	*buf = xreallocarray(*buf, *len + n + 1, 1);
	memcpy(*buf + *len, at, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* A header is complete: hand it over, start the next. */
static int header_done(struct dg_http *h)
{
	int r = 0;

	if (h->field_len && h->cb->on_header)
		r = h->cb->on_header(h->arg, h->field, h->value ? h->value : "");
	h->field_len = h->value_len = 0;
	if (h->field)
		h->field[0] = '\0';
	if (h->value)
		h->value[0] = '\0';
	h->in_value = false;
	if (r) {
		h->cb_err = r;
		return 1;
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct dg_http *h = of(p);

	/* a 1xx answer came before: its head does not count */
	h->head_bytes = 0;
	h->started = true;
	h->url_len = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct dg_http *h = of(p);
	return append(h, &h->url, &h->url_len, at, n);
}

static int on_status(http_parser *p, const char *at, size_t n)
{
	(void)at;	/* the reason phrase says nothing the status does not */
	return head_bytes(of(p), n) ? 0 : 1;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct dg_http *h = of(p);

	if (h->in_value && header_done(h))
		return 1;
	return append(h, &h->field, &h->field_len, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct dg_http *h = of(p);

	h->in_value = true;
	return append(h, &h->value, &h->value_len, at, n);
}

static int on_headers_complete(http_parser *p)
{
	struct dg_http *h = of(p);
	struct dg_http_head head = {
		.status = (int)p->status_code,
		.method = p->type == HTTP_REQUEST ? http_method_str(p->method) : NULL,
		.url = h->url ? h->url : "",
		.major = p->http_major,
		.minor = p->http_minor,
		.chunked = (p->flags & F_CHUNKED) != 0,
		.has_length = (p->flags & F_CONTENTLENGTH) != 0,
		.content_length = (p->flags & F_CONTENTLENGTH) ? p->content_length : 0,
		.keep_alive = http_should_keep_alive(p) != 0,
		.upgrade = p->upgrade != 0,
	};

	if (header_done(h))
		return -1;
	if (p->type == HTTP_RESPONSE && p->status_code >= 100 && p->status_code < 200 &&
	    p->status_code != 101)
		return 0;	/* 100 Continue and the like: the answer follows */
	int r = h->cb->on_head(h->arg, &head);
	if (r) {
		h->cb_err = r;
		return -1;
	}
	return h->skip_body ? 1 : 0;	/* 1: http-parser expects no body */
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct dg_http *h = of(p);
	int r = h->cb->on_body(h->arg, at, n);

	if (r) {
		h->cb_err = r;
		return 1;
	}
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct dg_http *h = of(p);

	if (p->type == HTTP_RESPONSE && p->status_code >= 100 && p->status_code < 200 &&
	    p->status_code != 101)
		return 0;
	/* 101 Switching Protocols ends HTTP on the connection: its head is
	 * the whole message */
	h->done = true;
	/* one message: what follows is not ours to read */
	http_parser_pause(p, 1);
	return 0;
}

void dg_http_init(struct dg_http *h, enum dg_http_kind kind, size_t max_head,
		  const struct dg_http_callbacks *cb, void *arg)
{
	memset(h, 0, sizeof(*h));
	http_parser_init(&h->parser, kind == DG_HTTP_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE);
	h->parser.data = h;
	http_parser_settings_init(&h->settings);
	h->settings.on_message_begin = on_message_begin;
	h->settings.on_url = on_url;
	h->settings.on_status = on_status;
	h->settings.on_header_field = on_header_field;
	h->settings.on_header_value = on_header_value;
	h->settings.on_headers_complete = on_headers_complete;
	h->settings.on_body = on_body;
	h->settings.on_message_complete = on_message_complete;
	h->cb = cb;
	h->arg = arg;
	h->max_head = max_head;
}

void dg_http_fini(struct dg_http *h)
{
	free(h->field);
	free(h->value);
	free(h->url);
	memset(h, 0, sizeof(*h));
}

long dg_http_feed(struct dg_http *h, const char *data, size_t len)
{
	if (h->done)
		return 0;
	size_t n = http_parser_execute(&h->parser, &h->settings, len ? data : NULL, len);
	enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);

	if (h->cb_err)
		return h->cb_err;
	if (e == HPE_PAUSED || e == HPE_OK) {
		if (len == 0 && !h->done && h->started) {
			snprintf(h->error, sizeof(h->error), "the message ended early");
			return -EBADMSG;
		}
		return (long)n;
	}
	if (e == HPE_HEADER_OVERFLOW)
		snprintf(h->error, sizeof(h->error), "headers too long");
	else
		snprintf(h->error, sizeof(h->error), "%s", http_errno_description(e));
	return -EBADMSG;
}

const char *dg_http_error(const struct dg_http *h)
{
	return h->error[0] ? h->error : "not HTTP/1.x";
}
