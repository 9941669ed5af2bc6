/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One HTTP/1.1 request as the relay judges and forwards it: the head is read
 * strictly (the bytes first, then the HTTP layer), and anything that two
 * readers could frame or route two ways is refused with the reason, for a
 * 400 (docs/relay.md, "What is refused"). What is forwarded is rebuilt from
 * what was judged: the start line, the headers as read, and the body framed
 * by its Content-Length or re-chunked.
 */
#ifndef DOCKGUARD_RELAY_REQUEST_H
#define DOCKGUARD_RELAY_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "relay/target.h"

#define DG_RELAY_MAX_HEAD	(64 * 1024)	/* registry auth headers are large */
#define DG_RELAY_MAX_HEADERS	128

struct dg_header {
	char *name;			/* as sent */
	char *value;			/* without surrounding blanks */
};

enum dg_request_body {
	DG_BODY_NONE,
	DG_BODY_LENGTH,			/* Content-Length bytes */
	DG_BODY_CHUNKED,		/* Transfer-Encoding: chunked; forwarded re-chunked */
};

struct dg_request {
	char method[16];
	char *raw_target;		/* as sent: forwarded unchanged */
	struct dg_target target;	/* what is judged */
	unsigned int minor;		/* HTTP/1.minor */
	struct dg_header *headers;
	size_t n_headers;
	enum dg_request_body body;
	uint64_t content_length;
	bool keep_alive;
	bool upgrade;			/* Connection: Upgrade (attach, exec start) */
	char *upgrade_proto;		/* its Upgrade: value, e.g. "tcp" */
};

/*
 * Where the head in buf[0..len) ends (the byte after its blank line), 0 when
 * it has not all arrived, or -EINVAL with `why` when its bytes are not the
 * strict form: CRLF line ends only (no bare CR or LF), no line folding, no
 * control bytes but HT in values, header names that are tokens, nothing
 * before the start line. -E2BIG when no end is within DG_RELAY_MAX_HEAD.
 */
long dg_request_head_end(const char *buf, size_t len, const char **why);

/*
 * Reads the head buf[0..len) (complete: see dg_request_head_end) into `req`.
 * Returns 0, or -EINVAL with `why` for a request to refuse with 400.
 */
int dg_request_parse_head(const char *buf, size_t len, struct dg_request *req,
			  const char **why);
void dg_request_free(struct dg_request *req);

/* Frames the request by `len` bytes of Content-Length, whatever framing it
 * came with (a guard forwards the body it read whole, unchunked). */
void dg_request_set_length(struct dg_request *req, uint64_t len);

/* The value of header `name` (case-insensitive), or NULL. */
const char *dg_request_header(const struct dg_request *req, const char *name);

/* The head to forward, NUL-terminated, malloc'd: the start line with the
 * target and version as sent, then every header as read. */
char *dg_request_head_text(const struct dg_request *req, size_t *len);

#endif
