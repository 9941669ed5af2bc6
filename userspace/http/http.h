/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HTTP/1.1 messages, parsed by http-parser (Debian's libhttp-parser-dev):
 * the one HTTP layer of dockguard, for the Docker API client's responses
 * and the relay's requests. Incremental: bytes go in as they arrive, the
 * head, the body (de-chunked) and the end come out through callbacks. Limits
 * on the head are the caller's; anything the parser does not accept ends
 * the message with an error that says what.
 */
#ifndef DOCKGUARD_HTTP_H
#define DOCKGUARD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

enum dg_http_kind { DG_HTTP_REQUEST, DG_HTTP_RESPONSE };

/* The head of a message, once its headers are complete. */
struct dg_http_head {
	int status;			/* responses */
	const char *method;		/* requests: "GET", ... */
	const char *url;		/* requests: as sent, NUL-terminated */
	unsigned int major, minor;	/* HTTP/major.minor */
	bool chunked;
	bool has_length;
	uint64_t content_length;	/* when has_length */
	bool keep_alive;
	bool upgrade;
};

/*
 * Every callback returns 0 to go on or a negative errno to end the message
 * (dg_http_feed() then returns it). on_header may be NULL.
 */
struct dg_http_callbacks {
	int (*on_header)(void *arg, const char *name, const char *value);
	int (*on_head)(void *arg, const struct dg_http_head *head);
	int (*on_body)(void *arg, const char *data, size_t len);
};

struct dg_http {
	http_parser parser;
	http_parser_settings settings;
	const struct dg_http_callbacks *cb;
	void *arg;
	size_t max_head, head_bytes;
	char *field, *value, *url;	/* the header being read, the request URL */
	size_t field_len, value_len, url_len;
	bool in_value;
	bool started;			/* a byte of a message arrived */
	bool done;			/* the (final) message is complete */
	bool skip_body;			/* a response to HEAD: no body follows its head */
	int cb_err;			/* a callback's error */
	char error[160];
};

/* `max_head`: the most bytes that the start line and headers may take. */
void dg_http_init(struct dg_http *h, enum dg_http_kind kind, size_t max_head,
		  const struct dg_http_callbacks *cb, void *arg);
void dg_http_fini(struct dg_http *h);

/*
 * Parses `len` more bytes; `len` 0 says the peer closed the connection (a
 * body that runs until the close ends there; a message cut short is then
 * -EBADMSG). Stops at the end of one message (of a response: the final one,
 * after any 1xx), leaving the rest. Returns the bytes consumed, -EBADMSG when
 * the bytes are not HTTP/1.x (see dg_http_error()), -E2BIG when the head is
 * larger than `max_head`, or a callback's error (callbacks should not return
 * those two).
 */
long dg_http_feed(struct dg_http *h, const char *data, size_t len);

/* The response being read answers a HEAD request: its head ends it. */
static inline void dg_http_expect_no_body(struct dg_http *h)
{
	h->skip_body = true;
}

/* Whether the message is complete. */
static inline bool dg_http_done(const struct dg_http *h)
{
	return h->done;
}

/* Whether any byte of a message arrived (a close before that is no answer). */
static inline bool dg_http_started(const struct dg_http *h)
{
	return h->started;
}

/* What was wrong with the bytes, after -EBADMSG or -E2BIG. */
const char *dg_http_error(const struct dg_http *h);

#endif
