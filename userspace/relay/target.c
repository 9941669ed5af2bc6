// SPDX-License-Identifier: GPL-2.0-only
/*
 * The request target in the one form the relay judges (target.h).
 *
 * dockerd (Go's net/http, then gorilla/mux) routes on URL.Path: the target's
 * path percent-decoded once; mux cleans `.`, `..` and `//` by redirecting,
 * and takes a first segment `v[0-9.]+` as the API version. Query values come
 * from url.ParseQuery (`+` is a space, one decoding per key and value).
 * Rather than follow every lenient corner of those, the relay accepts the
 * forms on which both readings agree and refuses the rest.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/target.h"
#include "util/util.h"

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 pchar less '%' (handled apart) and ';' (see the query), and '/'. */
static bool plain_path_byte(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-._~!$&'()*+,=:@/", c) != NULL;
}

/* What a query may hold as sent: pchar, '/' and '?', no ';'. */
static bool plain_query_byte(unsigned char c)
{
	return plain_path_byte(c) || c == '?';
}

/* Decodes `len` bytes of the path once into `out` (room for len + 1). */
static int decode_path(const char *in, size_t len, char *out, const char **why)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int a = i + 1 < len ? hex(in[i + 1]) : -1;
			int b = i + 2 < len ? hex(in[i + 2]) : -1;
			int h = a < 0 || b < 0 ? -1 : a * 16 + b;

			if (h < 0) {
				*why = "a '%' in the path is not followed by two hex digits";
				return -EINVAL;
			}
			if (h == '/') {
				*why = "an encoded '/' (%2F) in the path";
				return -EINVAL;
			}
			if (h < 0x20 || h >= 0x7f) {
				*why = "an encoded NUL, control or non-ASCII byte in the path";
				return -EINVAL;
			}
			out[o++] = (char)h;
			i += 2;
			continue;
		}
		if (!plain_path_byte(c)) {
			*why = c < 0x20 || c >= 0x7f ? "a control or non-ASCII byte in the path"
						     : "a byte in the path that must be percent-encoded";
			return -EINVAL;
		}
		out[o++] = (char)c;
	}
	out[o] = 0;
	return 0;
}

/* "vMAJOR.MINOR" (1 to 3 digits each). */
static bool parse_version(const char *seg, size_t len, unsigned int *major, unsigned int *minor)
{
	size_t i = 1, d;
	unsigned int v[2] = { 0, 0 };

	for (int part = 0; part < 2; part++) {
		for (d = 0; i < len && seg[i] >= '0' && seg[i] <= '9'; i++, d++)
			v[part] = v[part] * 10 + (unsigned int)(seg[i] - '0');
		if (d < 1 || d > 3)
			return false;
		if (part == 0) {
			if (i >= len || seg[i] != '.')
				return false;
			i++;
		}
	}
	if (i != len)
		return false;
	*major = v[0];
	*minor = v[1];
	return true;
}

/* Whether a segment is what mux takes for a version: 'v' then [0-9.]+. */
static bool looks_like_version(const char *seg, size_t len)
{
	if (len < 2 || seg[0] != 'v')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(seg[i] == '.' || (seg[i] >= '0' && seg[i] <= '9')))
			return false;
	return true;
}

/* Checks the decoded path's segments and takes the version prefix off. */
static int check_segments(struct dg_target *t, char *path, const char **why)
{
	char *p = path;
	bool first = true;

	if (path[0] != '/') {
		*why = "the path does not start with '/'";
		return -EINVAL;
	}
	if (!path[1]) {
		*why = "the path is '/'";
		return -EINVAL;
	}
	while (*p == '/') {
		char *seg = p + 1, *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);

		if (len == 0) {
			*why = "an empty segment in the path ('//' or a trailing '/')";
			return -EINVAL;
		}
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
			*why = "a '.' or '..' segment in the path";
			return -EINVAL;
		}
		if (first && looks_like_version(seg, len)) {
			if (!parse_version(seg, len, &t->major, &t->minor)) {
				*why = "an API version prefix that is not /vMAJOR.MINOR";
				return -EINVAL;
			}
			if (!end) {
				*why = "an API version prefix and no path after it";
				return -EINVAL;
			}
			t->versioned = true;
			memmove(path, end, strlen(end) + 1);
			p = path;
			first = false;
			continue;
		}
		first = false;
		p = seg + len;
	}
	return 0;
}

/* Go's QueryUnescape: '+' is a space, %XX a byte; control bytes refused. */
static char *query_unescape(const char *in, size_t len, const char **why)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int a = i + 1 < len ? hex(in[i + 1]) : -1;
			int b = i + 2 < len ? hex(in[i + 2]) : -1;
			if (a < 0 || b < 0) {
				*why = "a '%' in the query is not followed by two hex digits";
				free(out);
				return NULL;
			}
			c = (unsigned char)(a * 16 + b);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "an encoded NUL or control byte in the query";
			free(out);
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = 0;
	return out;
}

static int parse_query(struct dg_target *t, const char *q, const char **why)
{
	for (const char *c = q; *c; c++) {
		if (*c == ';') {
			*why = "a ';' in the query";
			return -EINVAL;
		}
		if (*c != '&' && *c != '=' && *c != '%' && !plain_query_byte((unsigned char)*c)) {
			*why = (unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f
				       ? "a control or non-ASCII byte in the query"
				       : "a byte in the query that must be percent-encoded";
			return -EINVAL;
		}
	}
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		size_t klen = eq ? (size_t)(eq - q) : len;

		if (klen == 0) {
			*why = "an empty query parameter or key";
			return -EINVAL;
		}
		if (t->n_params == DG_TARGET_MAX_PARAMS) {
			*why = "more query parameters than the relay reads";
			return -EINVAL;
		}
		char *key = query_unescape(q, klen, why);
		if (!key)
			return -EINVAL;
		char *value = eq ? query_unescape(eq + 1, len - klen - 1, why) : xstrdup("");
		if (!value) {
			free(key);
			return -EINVAL;
		}
		if (dg_target_param(t, key)) {
			free(key);
			free(value);
			*why = "a query key given twice";
			return -EINVAL;
		}
		if (!t->params)
			t->params = xcalloc(DG_TARGET_MAX_PARAMS, sizeof(*t->params));
		t->params[t->n_params++] = (struct dg_query_param){ key, value };
		q += len;
		if (*q == '&') {
			q++;
			if (!*q) {
				*why = "an empty query parameter or key";
				return -EINVAL;
			}
		}
	}
	return 0;
}

int dg_target_parse(const char *raw, struct dg_target *out, const char **why)
{
	size_t len = strlen(raw);
	const char *qmark;
	size_t plen;
	int ret;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (len > DG_TARGET_MAX) {
		*why = "a request target longer than the relay reads";
		return -EINVAL;
	}
	if (raw[0] != '/') {
		*why = raw[0] == '*' ? "an asterisk-form request target"
				     : "an absolute-form request target (the path must start with '/')";
		return -EINVAL;
	}
	if (strchr(raw, '#')) {
		*why = "a fragment ('#') in the request target";
		return -EINVAL;
	}
	qmark = strchr(raw, '?');
	plen = qmark ? (size_t)(qmark - raw) : len;
	out->path = xmalloc(plen + 1);
	if ((ret = decode_path(raw, plen, out->path, why)) ||
	    (ret = check_segments(out, out->path, why)) ||
	    (qmark && (ret = parse_query(out, qmark + 1, why)))) {
		dg_target_free(out);
		return ret;
	}
	return 0;
}

void dg_target_free(struct dg_target *t)
{
	for (size_t i = 0; i < t->n_params; i++) {
		free(t->params[i].key);
		free(t->params[i].value);
	}
	free(t->params);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

const char *dg_target_param(const struct dg_target *t, const char *key)
{
	for (size_t i = 0; i < t->n_params; i++)
		if (!strcmp(t->params[i].key, key))
			return t->params[i].value;
	return NULL;
}
