// SPDX-License-Identifier: GPL-2.0-only
/*
 * One request as the relay judges and forwards it (request.h). The bytes of
 * the head are checked first, so that what the HTTP layer (http-parser, which
 * is lenient in places: bare LF, folded lines) reads is also what dockerd's
 * Go server would read; then the fields come from the HTTP layer and the
 * framing is checked: one Content-Length or `chunked` alone, never both.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay/request.h"
#include "util/util.h"

/* RFC 9110 tchar */
static bool token_byte(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

long dg_request_head_end(const char *buf, size_t len, const char **why)
{
	size_t line = 0, n_lines = 0;
	size_t limit = len < DG_RELAY_MAX_HEAD ? len : DG_RELAY_MAX_HEAD;

	*why = NULL;
	for (size_t i = 0; i < limit; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r') {
			if (i + 1 < len && buf[i + 1] != '\n') {
				*why = "a bare CR in the head";
				return -EINVAL;
			}
			continue;
		}
		if (c == '\n') {
			if (i == 0 || buf[i - 1] != '\r') {
				*why = "a bare LF in the head (lines end in CRLF)";
				return -EINVAL;
			}
			size_t llen = i - 1 - line;
			if (llen == 0) {
				if (n_lines == 0) {
					*why = "an empty line before the request line";
					return -EINVAL;
				}
				return (long)(i + 1);
			}
			if (n_lines > 0) {
				/* a header line: NAME ":" ... with NAME a token */
				size_t k = line;
				while (k < i - 1 && token_byte((unsigned char)buf[k]))
					k++;
				if (k == line || buf[k] != ':') {
					*why = k > line && (buf[k] == ' ' || buf[k] == '\t')
						       ? "a blank between a header's name and its ':'"
						       : "a header line that is not NAME: VALUE";
					return -EINVAL;
				}
			}
			if (++n_lines > DG_RELAY_MAX_HEADERS + 1) {
				*why = "more header lines than the relay reads";
				return -EINVAL;
			}
			line = i + 1;
			continue;
		}
		if (i == line && n_lines > 0 && (c == ' ' || c == '\t')) {
			*why = "a folded header line (obs-fold)";
			return -EINVAL;
		}
		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			*why = "a control or non-ASCII byte in the head";
			return -EINVAL;
		}
	}
	if (len >= DG_RELAY_MAX_HEAD)
		return -E2BIG;
	return 0;
}

struct head_reader {
	struct dg_request *req;
	const char *why;
};

static int on_header(void *arg, const char *name, const char *value)
{
	struct head_reader *r = arg;
	struct dg_request *req = r->req;
	size_t vlen = strlen(value);

	while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		vlen--;
	while (vlen && (*value == ' ' || *value == '\t')) {
		value++;
		vlen--;
	}
	if (req->n_headers == DG_RELAY_MAX_HEADERS) {
		r->why = "more headers than the relay reads";
		return -EINVAL;
	}
	if (!req->headers)
		req->headers = xcalloc(DG_RELAY_MAX_HEADERS, sizeof(*req->headers));
	req->headers[req->n_headers++] = (struct dg_header){ xstrdup(name), xstrndup(value, vlen) };
	return 0;
}

static int on_head(void *arg, const struct dg_http_head *head)
{
	struct head_reader *r = arg;
	struct dg_request *req = r->req;

	if (strlen(head->method) >= sizeof(req->method)) {
		r->why = "a method longer than any the Docker API uses";
		return -EINVAL;
	}
	snprintf(req->method, sizeof(req->method), "%s", head->method);
	req->raw_target = xstrdup(head->url);
	if (head->major != 1 || head->minor > 1) {
		r->why = "an HTTP version other than 1.0 and 1.1";
		return -EINVAL;
	}
	req->minor = head->minor;
	req->keep_alive = head->keep_alive;
	req->upgrade = head->upgrade;
	return 0;
}

static int on_body(void *arg, const char *data, size_t len)
{
	(void)arg, (void)data, (void)len;
	return 0;	/* only the head is fed */
}

static const struct dg_http_callbacks head_callbacks = { on_header, on_head, on_body };

/* The framing, from the headers as read: one way to know where the body
 * ends, or a refusal. */
static int check_framing(struct dg_request *req, const char **why)
{
	const char *cl = NULL, *te = NULL;

	for (size_t i = 0; i < req->n_headers; i++) {
		const struct dg_header *h = &req->headers[i];
		if (!strcasecmp(h->name, "Content-Length")) {
			if (cl) {
				*why = "two Content-Length headers";
				return -EINVAL;
			}
			cl = h->value;
		} else if (!strcasecmp(h->name, "Transfer-Encoding")) {
			if (te) {
				*why = "two Transfer-Encoding headers";
				return -EINVAL;
			}
			te = h->value;
		} else if (!strcasecmp(h->name, "Host") && dg_request_header(req, "Host") != h->value) {
			*why = "two Host headers";
			return -EINVAL;
		}
	}
	if (cl && te) {
		*why = "both Content-Length and Transfer-Encoding";
		return -EINVAL;
	}
	if (te) {
		if (strcasecmp(te, "chunked")) {
			*why = "a Transfer-Encoding other than chunked";
			return -EINVAL;
		}
		req->body = DG_BODY_CHUNKED;
	} else if (cl) {
		uint64_t n;
		if (parse_u64(cl, 0, UINT64_MAX / 2, &n)) {
			*why = "a Content-Length that is not a number";
			return -EINVAL;
		}
		req->content_length = n;
		req->body = n ? DG_BODY_LENGTH : DG_BODY_NONE;
	}
	if (req->upgrade) {
		const char *up = dg_request_header(req, "Upgrade");
		if (!strcmp(req->method, "CONNECT") || !up) {
			*why = "CONNECT";
			return -EINVAL;
		}
		req->upgrade_proto = xstrdup(up);
	}
	return 0;
}

int dg_request_parse_head(const char *buf, size_t len, struct dg_request *req, const char **why)
{
	struct head_reader r = { .req = req };
	struct dg_http h;
	long n;

	memset(req, 0, sizeof(*req));
	*why = NULL;
	dg_http_init(&h, DG_HTTP_REQUEST, DG_RELAY_MAX_HEAD, &head_callbacks, &r);
	n = dg_http_feed(&h, buf, len);
	if (n < 0 || (size_t)n != len || !req->raw_target) {
		enum http_errno e = HTTP_PARSER_ERRNO(&h.parser);
		/* reasons that outlive the parser: ours, or http-parser's static ones */
		if (r.why)
			*why = r.why;
		else if (e == HPE_UNEXPECTED_CONTENT_LENGTH)
			*why = "two Content-Length headers, or Content-Length with Transfer-Encoding";
		else if (e != HPE_OK && e != HPE_PAUSED)
			*why = http_errno_description(e);
		else
			*why = "a head the HTTP layer did not read whole";
		dg_http_fini(&h);
		dg_request_free(req);
		return -EINVAL;
	}
	dg_http_fini(&h);
	if (check_framing(req, why) || dg_target_parse(req->raw_target, &req->target, why)) {
		dg_request_free(req);
		return -EINVAL;
	}
	return 0;
}

void dg_request_free(struct dg_request *req)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	free(req->headers);
	free(req->raw_target);
	free(req->upgrade_proto);
	dg_target_free(&req->target);
	memset(req, 0, sizeof(*req));
}

void dg_request_set_length(struct dg_request *req, uint64_t len)
{
	size_t kept = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		struct dg_header *h = &req->headers[i];
		if (!strcasecmp(h->name, "Content-Length") || !strcasecmp(h->name, "Transfer-Encoding")) {
			free(h->name);
			free(h->value);
			continue;
		}
		req->headers[kept++] = *h;
	}
	req->n_headers = kept;
	req->headers = xreallocarray(req->headers, kept + 1, sizeof(*req->headers));
	req->headers[kept].name = xstrdup("Content-Length");
	req->headers[kept].value = xasprintf("%" PRIu64, len);
	req->n_headers++;
	req->body = len ? DG_BODY_LENGTH : DG_BODY_NONE;
	req->content_length = len;
}

const char *dg_request_header(const struct dg_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

char *dg_request_head_text(const struct dg_request *req, size_t *len)
{
	size_t cap = strlen(req->method) + strlen(req->raw_target) + 16;
	char *out, *p;

	for (size_t i = 0; i < req->n_headers; i++)
		cap += strlen(req->headers[i].name) + strlen(req->headers[i].value) + 4;
	out = p = xmalloc(cap + 3);
	p += sprintf(p, "%s %s HTTP/1.%u\r\n", req->method, req->raw_target, req->minor);
	for (size_t i = 0; i < req->n_headers; i++)
		p += sprintf(p, "%s: %s\r\n", req->headers[i].name, req->headers[i].value);
	p += sprintf(p, "\r\n");
	*len = (size_t)(p - out);
	return out;
}
