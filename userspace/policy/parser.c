// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy parser (dockguard.conf(5)): recursive descent over the lexer's
 * tokens, one statement per line. An error is reported at its location and
 * the rest of the statement is skipped, so that every error in the file is
 * reported; the semantic checks (policy_check.c) run at the end.
 */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "policy/lexer.h"
#include "policy/internal.h"
#include "policy/parser_internal.h"
#include "util/util.h"

#define DG_ID_MAX 4294967294ULL		/* (uid_t)-1 means "no id" */
#define DG_LOG_RATE_MAX 1000000ULL
#define DG_API_RATE_MAX 1000000ULL
#define DG_UNIT_NAME_MAX 255

void report_unclosed(struct parser *p, const struct dg_loc *at)
{
	const struct dg_loc *open = dg_lexer_open_brace(p->lx);

	if (!open)
		return;
	dg_diag_error(p->diag, at, "missing '}' to close the '{' at line %u column %u",
		      open->line, open->col);
	dg_diag_note(p->diag, open, "the '{' opened here");
	dg_lexer_close_braces(p->lx);
}

/* "expected X, found Y" at the current token; silent after a lexer error. */
void unexpected(struct parser *p, const char *expected)
{
	const struct dg_token *t = cur(p);
	char buf[64];

	if (t->kind == DG_TOK_ERROR)
		return;
	if (t->kind == DG_TOK_EOF && p->lx->depth) {
		report_unclosed(p, &t->loc);
		return;
	}
	dg_diag_error(p->diag, &t->loc, "expected %s, found %s", expected,
		      dg_token_describe(t, buf, sizeof(buf)));
}

static bool parse_endpoint(struct parser *p);
static bool parse_rule(struct parser *p);
static bool parse_set(struct parser *p);
static bool parse_include(struct parser *p);

/* Statements, sorted by keyword. */
static const struct statement {
	const char *keyword;
	bool (*parse)(struct parser *p);	/* false: syntax error, reported */
} statements[] = {
	{ "allow", parse_rule },
	{ "api", parse_api },
	{ "audit", parse_rule },
	{ "deny", parse_rule },
	{ "endpoint", parse_endpoint },
	{ "include", parse_include },
	{ "listen", parse_rule },
	{ "relay", parse_relay },
	{ "set", parse_set },
};

static int cmp_statement(const void *key, const void *elem)
{
	return strcmp(key, ((const struct statement *)elem)->keyword);
}

static const struct statement *find_statement(const struct dg_token *t)
{
	if (t->kind != DG_TOK_WORD)
		return NULL;
	return bsearch(t->text, statements, ARRAY_SIZE(statements), sizeof(statements[0]),
		       cmp_statement);
}

bool is_statement_keyword(const struct dg_token *t)
{
	return find_statement(t) != NULL;
}

/*
 * After an error: skips the rest of the statement, braces included. A
 * statement keyword at the start of a line inside braces is taken as the
 * next statement after a missing `}`.
 */
static void recover(struct parser *p)
{
	for (;;) {
		const struct dg_token *t = cur(p);

		if (t->kind == DG_TOK_EOF) {
			if (p->lx->depth)
				report_unclosed(p, &t->loc);
			return;
		}
		if (t->kind == DG_TOK_NEWLINE && !p->lx->depth) {
			next(p);
			return;
		}
		if (t->bol && p->lx->depth && is_statement_keyword(t)) {
			report_unclosed(p, &t->loc);
			return;
		}
		next(p);
	}
}

/*
 * `{ item, item ... }`: items separated by commas and/or newlines, a trailing
 * comma allowed. The current token is the `{`. `item` returns false on a
 * syntax error (already reported), true otherwise, even when it reported a
 * semantic error.
 */
bool parse_braced(struct parser *p, const char *what, item_fn item, void *ctx)
{
	struct dg_loc open = cur(p)->loc;
	size_t n = 0;
	bool need_sep = false;
	char expected[96];

	next(p);
	for (;;) {
		const struct dg_token *t = cur(p);

		switch (t->kind) {
		case DG_TOK_NEWLINE:
			need_sep = false;
			next(p);
			continue;
		case DG_TOK_RBRACE:
			if (!n) {
				struct dg_loc loc = span(&open, &t->loc);
				dg_diag_error(p->diag, &loc, "empty %s list; name at least one %s",
					      what, what);
			}
			next(p);
			return true;
		case DG_TOK_COMMA:
			if (need_sep) {
				need_sep = false;
				next(p);
				continue;
			}
			snprintf(expected, sizeof(expected), "%s %s", n ? "another" : "a", what);
			unexpected(p, expected);
			return false;
		default:
			break;
		}
		if (t->bol && is_statement_keyword(t))
			return false;	/* recover() reports the missing '}' */
		if (need_sep) {
			snprintf(expected, sizeof(expected), "',' or '}' after the %s", what);
			unexpected(p, expected);
			return false;
		}
		if (!item(p, ctx))
			return false;
		n++;
		need_sep = true;
	}
}

/* ---- paths --------------------------------------------------------------- */

/*
 * Normalises an absolute path: `//` collapse, a trailing `/` goes, `.`
 * components are dropped (an error with `reject_dot`), `..` is an error.
 * Returns the path, or NULL with *why naming the bad component; *depth gets
 * the number of components.
 */
static char *normalize_path(const char *in, bool reject_dot, size_t *depth, const char **why)
{
	size_t n = strlen(in);
	char *out = xmalloc(n + 2);
	size_t o = 0, d = 0;

	*why = NULL;
	for (size_t i = 0; i < n;) {
		while (i < n && in[i] == '/')
			i++;
		size_t s = i;
		while (i < n && in[i] != '/')
			i++;
		size_t len = i - s;
		if (!len)
			break;
		if (len == 2 && in[s] == '.' && in[s + 1] == '.') {
			*why = "'..'";
			free(out);
			return NULL;
		}
		if (len == 1 && in[s] == '.') {
			if (reject_dot) {
				*why = "'.'";
				free(out);
				return NULL;
			}
			continue;
		}
		out[o++] = '/';
		memcpy(out + o, in + s, len);
		o += len;
		d++;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	*depth = d;
	return out;
}

/* ---- endpoints ----------------------------------------------------------- */

struct endpoint_ctx {
	struct dg_endpoint *ep;
	size_t cap;
	bool limit;
};

void check_endpoint_name(struct parser *p, const struct dg_token *t)
{
	const char *s = t->text;

	if (!strcmp(s, "any") || !strcmp(s, "from") || !strcmp(s, "log") || !strcmp(s, "quiet")) {
		dg_diag_error(p->diag, &t->loc,
			      "'%s' is a reserved word and cannot name an endpoint; choose another name",
			      s);
		return;
	}
	if (t->len > DG_POLICY_MAX_NAME) {
		dg_diag_error(p->diag, &t->loc,
			      "endpoint name is %zu bytes long, more than the limit of %d; shorten it",
			      t->len, DG_POLICY_MAX_NAME);
		return;
	}
	bool ok = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z');
	for (const char *c = s; ok && *c; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		     (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
	if (!ok)
		dg_diag_error(p->diag, &t->loc,
			      "invalid endpoint name '%s'; use letters, digits, '_', '.' and '-', "
			      "starting with a letter", s);
}

bool parse_tcp(struct parser *p, const struct dg_token *t, struct dg_addr *a)
{
	const char *s = t->text;
	const char *host, *port;
	size_t host_len;
	bool bracket = s[0] == '[';

	if (bracket) {
		const char *close = strchr(s, ']');
		if (!close) {
			dg_diag_error(p->diag, &t->loc,
				      "missing ']' after the IPv6 address; write tcp [ADDRESS]:PORT");
			return false;
		}
		if (close[1] != ':') {
			struct dg_loc loc = subloc(t, (size_t)(close - s) + 1, 1);
			dg_diag_error(p->diag, &loc,
				      "missing port after the IPv6 address; write tcp [ADDRESS]:PORT");
			return false;
		}
		host = s + 1;
		host_len = (size_t)(close - host);
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			dg_diag_error(p->diag, &t->loc,
				      "missing port in tcp address '%s'; write tcp ADDRESS:PORT", s);
			return false;
		}
		host = s;
		host_len = (size_t)(colon - s);
		port = colon + 1;
		if (memchr(host, ':', host_len)) {
			dg_diag_error(p->diag, &t->loc,
				      "an IPv6 address needs brackets; write tcp [ADDRESS]:PORT");
			return false;
		}
	}

	char *h = xstrndup(host, host_len);
	struct dg_loc hloc = subloc(t, (size_t)(host - s), host_len);
	bool ok = true;

	memset(a->addr, 0, sizeof(a->addr));
	if (!bracket && !strcmp(h, "*")) {
		a->kind = DG_ADDR_TCP_ANY;
	} else if (bracket) {
		if (inet_pton(AF_INET6, h, a->addr) != 1) {
			dg_diag_error(p->diag, &hloc,
				      "'%s' is not an IPv6 address; write it in numbers, such as [::1]",
				      h);
			ok = false;
		} else if (!memcmp(a->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
			a->kind = DG_ADDR_TCP4;
		} else {
			a->kind = DG_ADDR_TCP6;
		}
	} else {
		a->kind = DG_ADDR_TCP4;
		a->addr[10] = 0xff;
		a->addr[11] = 0xff;
		if (inet_pton(AF_INET, h, a->addr + 12) != 1) {
			dg_diag_error(p->diag, &hloc,
				      "'%s' is not an IPv4 address; write a dotted quad such as "
				      "127.0.0.1, [IPv6] or *", h);
			ok = false;
		}
	}
	free(h);

	uint64_t v;
	struct dg_loc ploc = subloc(t, (size_t)(port - s), strlen(port));
	int r = parse_u64(port, 1, 65535, &v);
	if (r == -ERANGE) {
		dg_diag_error(p->diag, &ploc, "port %s is out of range; use 1 to 65535", port);
		return false;
	}
	if (r < 0) {
		dg_diag_error(p->diag, &ploc, "'%s' is not a port number; use 1 to 65535", port);
		return false;
	}
	a->port = (uint16_t)v;
	return ok;
}

bool parse_unix(struct parser *p, const struct dg_token *t, struct dg_addr *a)
{
	const char *s = t->text;
	const char *why;
	size_t depth;

	if (s[0] != '/') {
		dg_diag_error(p->diag, &t->loc,
			      "unix socket path '%s' is not absolute; write the full path from /", s);
		return false;
	}
	if (s[t->len - 1] == '/') {
		dg_diag_error(p->diag, &t->loc,
			      "unix socket path '%s' ends with '/'; name the socket file", s);
		return false;
	}
	char *path = normalize_path(s, false, &depth, &why);
	if (!path) {
		dg_diag_error(p->diag, &t->loc,
			      "unix socket path '%s' contains %s; write the path without it", s, why);
		return false;
	}
	size_t n = strlen(path);
	if (n > DG_UNIX_PATH_MAX) {
		dg_diag_error(p->diag, &t->loc,
			      "unix socket path is %zu bytes long, more than the limit of %d; "
			      "use a shorter path", n, DG_UNIX_PATH_MAX);
		free(path);
		return false;
	}
	a->kind = DG_ADDR_UNIX;
	a->path = path;
	return true;
}

bool parse_address(struct parser *p, const char *expected, struct dg_addr *a, bool *valid)
{
	const struct dg_token *t = cur(p);
	bool tcp;

	memset(a, 0, sizeof(*a));
	*valid = false;
	if (is_kw(p, "tcp")) {
		tcp = true;
	} else if (is_kw(p, "unix")) {
		tcp = false;
	} else {
		unexpected(p, expected);
		return false;
	}
	struct dg_loc kw = t->loc;
	next(p);
	t = cur(p);
	if (!is_value(t)) {
		unexpected(p, tcp ? "ADDRESS:PORT after 'tcp'" : "a socket path after 'unix'");
		return false;
	}
	a->loc = span(&kw, &t->loc);
	if (!t->len)
		dg_diag_error(p->diag, &t->loc, "empty address");
	else
		*valid = tcp ? parse_tcp(p, t, a) : parse_unix(p, t, a);
	if (!*valid) {
		free(a->path);
		a->path = NULL;
	}
	next(p);
	return true;
}

static bool parse_addr(struct parser *p, void *arg)
{
	struct endpoint_ctx *ctx = arg;
	struct dg_addr a;
	bool ok;

	if (!parse_address(p, "an address ('tcp ADDRESS:PORT' or 'unix PATH')", &a, &ok))
		return false;
	if (ok && ctx->ep->n_addrs >= DG_POLICY_MAX_ADDRS) {
		if (!ctx->limit)
			dg_diag_error(p->diag, &a.loc,
				      "endpoint '%s' has more than %d addresses; split it",
				      ctx->ep->name, DG_POLICY_MAX_ADDRS);
		ctx->limit = true;
		ok = false;
	}
	if (ok) {
		if (ctx->ep->n_addrs == ctx->cap) {
			ctx->cap = ctx->cap ? ctx->cap * 2 : 4;
			ctx->ep->addrs = xreallocarray(ctx->ep->addrs, ctx->cap,
						       sizeof(*ctx->ep->addrs));
		}
		ctx->ep->addrs[ctx->ep->n_addrs++] = a;
	} else {
		free(a.path);
	}
	return true;
}

static bool parse_endpoint(struct parser *p)
{
	next(p);
	struct dg_token *t = cur(p);
	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "an endpoint name after 'endpoint'");
		return false;
	}
	struct dg_endpoint ep = { .name = xstrdup(t->text), .loc = t->loc };
	struct endpoint_ctx ctx = { .ep = &ep };
	check_endpoint_name(p, t);
	next(p);

	bool ok;
	if (cur(p)->kind == DG_TOK_LBRACE)
		ok = parse_braced(p, "address", parse_addr, &ctx);
	else
		ok = parse_addr(p, &ctx);

	dg_policy_add_endpoint(p, &ep);
	return ok;
}

void dg_policy_add_endpoint(struct parser *p, struct dg_endpoint *ep_in)
{
	struct dg_endpoint ep = *ep_in;

	/* Kept even after an error, so that rules naming it raise no more. */
	if (p->pol->n_endpoints >= DG_POLICY_MAX_ENDPOINTS) {
		if (!p->endpoints_limit)
			dg_diag_error(p->diag, &ep.loc,
				      "more than %d endpoints; merge addresses into fewer endpoints",
				      DG_POLICY_MAX_ENDPOINTS);
		p->endpoints_limit = true;
		for (size_t i = 0; i < ep.n_addrs; i++)
			free(ep.addrs[i].path);
		free(ep.addrs);
		free(ep.name);
		free(ep.upstream.path);
		return;
	}
	if (p->pol->n_endpoints == p->cap_endpoints) {
		p->cap_endpoints = p->cap_endpoints ? p->cap_endpoints * 2 : 8;
		p->pol->endpoints = xreallocarray(p->pol->endpoints, p->cap_endpoints,
						  sizeof(*p->pol->endpoints));
	}
	p->pol->endpoints[p->pol->n_endpoints++] = ep;
}

/* ---- subjects ------------------------------------------------------------ */

struct subject_ctx {
	struct dg_subject *s;
	size_t cap;
};

/* 0: found; -ENOENT: no such name; another -errno: the look-up failed. */
static int lookup_id(struct parser *p, bool group, const char *name, uint32_t *id)
{
	struct dg_strmap *cache = group ? &p->groups : &p->users;
	uint64_t v;

	if (dg_strmap_get(cache, name, &v)) {
		*id = (uint32_t)v;
		return -(int)(v >> 32);
	}

	long max = sysconf(group ? _SC_GETGR_R_SIZE_MAX : _SC_GETPW_R_SIZE_MAX);
	size_t size = max > 0 ? (size_t)max : 16384;
	int err;

	*id = 0;
	for (;;) {
		char *buf = xmalloc(size);
		if (group) {
			struct group gr, *res = NULL;
			err = getgrnam_r(name, &gr, buf, size, &res);
			if (!err && res)
				*id = (uint32_t)gr.gr_gid;
			else if (!err)
				err = ENOENT;
		} else {
			struct passwd pw, *res = NULL;
			err = getpwnam_r(name, &pw, buf, size, &res);
			if (!err && res)
				*id = (uint32_t)pw.pw_uid;
			else if (!err)
				err = ENOENT;
		}
		free(buf);
		if (err == ERANGE && size < (1u << 24)) {
			size *= 2;
			continue;
		}
		break;
	}
	/* getpwnam_r(3): these too mean "not found" */
	if (err == ESRCH || err == EBADF || err == EPERM)
		err = ENOENT;
	dg_strmap_put(cache, name, (uint64_t)*id | ((uint64_t)(unsigned int)err << 32));
	return -err;
}

/* All digits: 0 and *v; not a number: -EINVAL; too big: -ERANGE. */
static int parse_id(struct parser *p, const struct dg_token *t, const char *s, size_t len,
		    const char *what, uint32_t *v)
{
	char *n = xstrndup(s, len);
	uint64_t u;
	int r = parse_u64(n, 0, DG_ID_MAX, &u);

	if (r == -ERANGE) {
		struct dg_loc loc = subloc(t, (size_t)(s - t->text), len);
		dg_diag_error(p->diag, &loc, "%s %s is out of range; use 0 to %llu", what, n,
			      DG_ID_MAX);
	}
	free(n);
	if (!r)
		*v = (uint32_t)u;
	return r;
}

static bool all_digits(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool parse_user_item(struct parser *p, const struct dg_token *t, struct dg_item *it)
{
	const char *s = t->text;
	const char *dash = strchr(s, '-');

	if (all_digits(s, t->len)) {
		if (parse_id(p, t, s, t->len, "uid", &it->lo) < 0)
			return false;
		it->hi = it->lo;
		return true;
	}
	if (dash && all_digits(s, (size_t)(dash - s)) && all_digits(dash + 1, strlen(dash + 1))) {
		if (parse_id(p, t, s, (size_t)(dash - s), "uid", &it->lo) < 0 ||
		    parse_id(p, t, dash + 1, strlen(dash + 1), "uid", &it->hi) < 0)
			return false;
		if (it->lo > it->hi) {
			dg_diag_error(p->diag, &t->loc,
				      "uid range %s is reversed; write the lower uid first", s);
			return false;
		}
		return true;
	}
	int r = lookup_id(p, false, s, &it->lo);
	if (r == -ENOENT) {
		dg_diag_error(p->diag, &t->loc, "unknown user '%s'; create it or use a numeric uid",
			      s);
		return false;
	}
	if (r < 0) {
		dg_diag_error(p->diag, &t->loc, "cannot look up user '%s': %s; use a numeric uid",
			      s, strerror(-r));
		return false;
	}
	it->hi = it->lo;
	return true;
}

static bool parse_group_item(struct parser *p, const struct dg_token *t, struct dg_item *it)
{
	const char *s = t->text;
	const char *dash = strchr(s, '-');

	if (all_digits(s, t->len)) {
		if (parse_id(p, t, s, t->len, "gid", &it->lo) < 0)
			return false;
		it->hi = it->lo;
		return true;
	}
	if (dash && all_digits(s, (size_t)(dash - s)) && all_digits(dash + 1, strlen(dash + 1))) {
		dg_diag_error(p->diag, &t->loc,
			      "gid ranges are not supported; list the gids in { }");
		return false;
	}
	int r = lookup_id(p, true, s, &it->lo);
	if (r == -ENOENT) {
		dg_diag_error(p->diag, &t->loc,
			      "unknown group '%s'; create it or use a numeric gid", s);
		return false;
	}
	if (r < 0) {
		dg_diag_error(p->diag, &t->loc, "cannot look up group '%s': %s; use a numeric gid",
			      s, strerror(-r));
		return false;
	}
	it->hi = it->lo;
	return true;
}

static bool parse_cgroup_item(struct parser *p, const struct dg_token *t, struct dg_item *it)
{
	const char *s = t->text;
	const char *why;
	size_t depth;

	if (s[0] != '/') {
		dg_diag_error(p->diag, &t->loc,
			      "cgroup path '%s' is not absolute; write it from the cgroup root, "
			      "such as /system.slice", s);
		return false;
	}
	if (t->len > DG_CGROUP_PATH_MAX) {
		dg_diag_error(p->diag, &t->loc,
			      "cgroup path is longer than %d bytes; shorten it", DG_CGROUP_PATH_MAX);
		return false;
	}
	char *path = normalize_path(s, true, &depth, &why);
	if (!path) {
		dg_diag_error(p->diag, &t->loc,
			      "cgroup path '%s' contains %s; write the path without it", s, why);
		return false;
	}
	if (depth > DG_CGROUP_DEPTH_MAX) {
		dg_diag_error(p->diag, &t->loc,
			      "cgroup path '%s' has %zu components, more than the limit of %d", s,
			      depth, DG_CGROUP_DEPTH_MAX);
		free(path);
		return false;
	}
	for (const char *c = path + 1; *c;) {
		size_t n = strcspn(c, "/");
		if (n > DG_CGROUP_COMPONENT_MAX) {
			dg_diag_error(p->diag, &t->loc,
				      "a component of cgroup path '%.40s...' is %zu bytes long, "
				      "more than the limit of %d", s, n, DG_CGROUP_COMPONENT_MAX);
			free(path);
			return false;
		}
		c += n;
		if (*c)
			c++;
	}
	it->str = path;
	return true;
}

static const char *const unit_suffixes[] = {
	".automount", ".device", ".mount", ".path", ".scope", ".service",
	".slice", ".socket", ".swap", ".target", ".timer",
};

static bool parse_unit_item(struct parser *p, const struct dg_token *t, struct dg_item *it)
{
	const char *s = t->text;

	if (t->len > DG_UNIT_NAME_MAX) {
		dg_diag_error(p->diag, &t->loc,
			      "unit name is %zu bytes long, more than the limit of %d", t->len,
			      DG_UNIT_NAME_MAX);
		return false;
	}
	for (size_t i = 0; i < t->len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == ':' || c == '_' || c == '.' || c == '\\' || c == '@' || c == '-')) {
			struct dg_loc loc = subloc(t, i, 1);
			dg_diag_error(p->diag, &loc,
				      "invalid character in unit name '%s'; a systemd unit name "
				      "uses letters, digits and :_.\\@-", s);
			return false;
		}
	}
	const char *dot = strrchr(s, '.');
	bool ok = false;
	if (dot && dot != s)
		for (size_t i = 0; i < ARRAY_SIZE(unit_suffixes); i++)
			ok = ok || !strcmp(dot, unit_suffixes[i]);
	if (!ok) {
		dg_diag_error(p->diag, &t->loc,
			      "'%s' is not a systemd unit name; add its type, such as "
			      "nginx.service or docker.scope", s);
		return false;
	}
	it->str = xstrdup(s);
	return true;
}

static bool parse_container_item(struct parser *p, enum dg_container_key key,
				 const struct dg_token *t, struct dg_item *it)
{
	const char *s = t->text;

	switch (key) {
	case DG_CT_ID:
		if (t->len > 64 || strspn(s, "0123456789abcdef") != t->len) {
			dg_diag_error(p->diag, &t->loc,
				      "'%s' is not a container id prefix; use 1 to 64 lowercase "
				      "hex digits", s);
			return false;
		}
		it->str = xstrdup(s);
		return true;
	case DG_CT_LABEL: {
		const char *eq = strchr(s, '=');
		if (!eq) {
			dg_diag_error(p->diag, &t->loc,
				      "container label '%s' has no value; write KEY=VALUE", s);
			return false;
		}
		if (eq == s) {
			dg_diag_error(p->diag, &t->loc,
				      "container label '%s' has an empty key; write KEY=VALUE", s);
			return false;
		}
		it->str = xstrndup(s, (size_t)(eq - s));
		it->value = xstrdup(eq + 1);
		return true;
	}
	case DG_CT_NAME:
	case DG_CT_IMAGE:
	case DG_CT_SERVICE:
		it->str = xstrdup(s);
		return true;
	}
	return false;
}

static const char *subject_item_what(const struct dg_subject *s)
{
	switch (s->kind) {
	case DG_SUBJ_USER:
		return "user";
	case DG_SUBJ_GROUP:
		return "group";
	case DG_SUBJ_CGROUP:
		return "cgroup path";
	case DG_SUBJ_UNIT:
		return "unit";
	case DG_SUBJ_CONTAINER:
		switch (s->ckey) {
		case DG_CT_NAME:
			return "container name";
		case DG_CT_ID:
			return "container id";
		case DG_CT_LABEL:
			return "container label";
		case DG_CT_IMAGE:
			return "container image";
		case DG_CT_SERVICE:
			return "container service";
		}
		break;
	case DG_SUBJ_ANY:
	case DG_SUBJ_REMAPPED:
		break;
	}
	return "value";
}

static bool parse_item(struct parser *p, void *arg)
{
	struct subject_ctx *ctx = arg;
	struct dg_subject *s = ctx->s;
	const struct dg_token *t = cur(p);
	char expected[64];

	if (!is_value(t)) {
		snprintf(expected, sizeof(expected), "a %s", subject_item_what(s));
		unexpected(p, expected);
		return false;
	}
	struct dg_item it = { .loc = t->loc };
	bool ok;

	if (!t->len) {
		dg_diag_error(p->diag, &t->loc, "empty %s", subject_item_what(s));
		ok = false;
	} else {
		switch (s->kind) {
		case DG_SUBJ_USER:
			ok = parse_user_item(p, t, &it);
			break;
		case DG_SUBJ_GROUP:
			ok = parse_group_item(p, t, &it);
			break;
		case DG_SUBJ_CGROUP:
			ok = parse_cgroup_item(p, t, &it);
			break;
		case DG_SUBJ_UNIT:
			ok = parse_unit_item(p, t, &it);
			break;
		case DG_SUBJ_CONTAINER:
			ok = parse_container_item(p, s->ckey, t, &it);
			break;
		default:
			ok = false;
			break;
		}
	}
	if (ok && ++p->n_items > DG_POLICY_MAX_ITEMS) {
		if (!p->items_limit)
			dg_diag_error(p->diag, &t->loc,
				      "more than %d users, groups, cgroups, units and containers "
				      "in all rules; merge rules", DG_POLICY_MAX_ITEMS);
		p->items_limit = true;
		ok = false;
	}
	if (ok) {
		it.text = xstrdup(t->text);
		if (s->n_items == ctx->cap) {
			ctx->cap = ctx->cap ? ctx->cap * 2 : 2;
			s->items = xreallocarray(s->items, ctx->cap, sizeof(*s->items));
		}
		s->items[s->n_items++] = it;
	} else {
		free(it.str);
		free(it.value);
	}
	next(p);
	return true;
}

static const struct {
	const char *name;
	enum dg_subject_kind kind;
} subject_keywords[] = {
	{ "any", DG_SUBJ_ANY },
	{ "cgroup", DG_SUBJ_CGROUP },
	{ "container", DG_SUBJ_CONTAINER },
	{ "group", DG_SUBJ_GROUP },
	{ "remapped", DG_SUBJ_REMAPPED },
	{ "unit", DG_SUBJ_UNIT },
	{ "user", DG_SUBJ_USER },
};

static const struct {
	const char *name;
	enum dg_container_key key;
} container_keywords[] = {
	{ "id", DG_CT_ID },
	{ "image", DG_CT_IMAGE },
	{ "label", DG_CT_LABEL },
	{ "name", DG_CT_NAME },
	{ "service", DG_CT_SERVICE },
};

static bool parse_subject(struct parser *p, struct dg_rule *r, size_t *cap)
{
	const struct dg_token *t = cur(p);
	struct dg_subject s = { .loc = t->loc };
	size_t i;

	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "a subject (user, group, cgroup, unit, container, remapped or any)");
		return false;
	}
	for (i = 0; i < ARRAY_SIZE(subject_keywords); i++)
		if (!strcmp(t->text, subject_keywords[i].name))
			break;
	if (i == ARRAY_SIZE(subject_keywords)) {
		dg_diag_error(p->diag, &t->loc,
			      "unknown subject '%s'; expected user, group, cgroup, unit, container, "
			      "remapped or any", t->text);
		return false;
	}
	s.kind = subject_keywords[i].kind;
	next(p);

	if (s.kind == DG_SUBJ_CONTAINER) {
		t = cur(p);
		if (t->kind != DG_TOK_WORD) {
			unexpected(p, "name, id, label, image or service after 'container'");
			return false;
		}
		for (i = 0; i < ARRAY_SIZE(container_keywords); i++)
			if (!strcmp(t->text, container_keywords[i].name))
				break;
		if (i == ARRAY_SIZE(container_keywords)) {
			dg_diag_error(p->diag, &t->loc,
				      "unknown container attribute '%s'; expected name, id, label, "
				      "image or service", t->text);
			return false;
		}
		s.ckey = container_keywords[i].key;
		s.loc = span(&s.loc, &t->loc);
		next(p);
	}

	if (s.kind == DG_SUBJ_GROUP) {
		for (i = 0; i < r->n_subjects; i++) {
			if (r->subjects[i].kind != DG_SUBJ_GROUP)
				continue;
			dg_diag_error(p->diag, &s.loc,
				      "a rule may test group membership once; list the groups in "
				      "one { } or split the rule");
			dg_diag_note(p->diag, &r->subjects[i].loc, "the first group test is here");
			break;
		}
	}

	if (s.kind != DG_SUBJ_ANY && s.kind != DG_SUBJ_REMAPPED) {
		struct subject_ctx ctx = { .s = &s };
		bool ok;

		if (cur(p)->kind == DG_TOK_LBRACE)
			ok = parse_braced(p, subject_item_what(&s), parse_item, &ctx);
		else
			ok = parse_item(p, &ctx);
		if (!ok) {
			dg_subject_free(&s);
			return false;
		}
	}

	if (r->n_subjects == *cap) {
		*cap = *cap ? *cap * 2 : 2;
		r->subjects = xreallocarray(r->subjects, *cap, sizeof(*r->subjects));
	}
	r->subjects[r->n_subjects++] = s;
	return true;
}

/* ---- rules --------------------------------------------------------------- */

static void add_ref(struct parser *p, const struct dg_token *t)
{
	if (p->n_refs == p->cap_refs) {
		p->cap_refs = p->cap_refs ? p->cap_refs * 2 : 16;
		p->refs = xreallocarray(p->refs, p->cap_refs, sizeof(*p->refs));
	}
	p->refs[p->n_refs++] = (struct dg_epref){
		.rule = DG_REF_NO_RULE,
		.name = xstrdup(t->text),
		.loc = t->loc,
	};
}

static bool parse_ref_item(struct parser *p, void *arg)
{
	const struct dg_token *t = cur(p);
	(void)arg;

	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "an endpoint name");
		return false;
	}
	if (!strcmp(t->text, "any"))
		dg_diag_error(p->diag, &t->loc,
			      "'any' stands for every endpoint and cannot be listed with others; "
			      "write it alone, without { }");
	else
		add_ref(p, t);
	next(p);
	return true;
}

static bool parse_rule(struct parser *p)
{
	const struct dg_token *t = cur(p);
	struct dg_rule r = { .loc = t->loc };
	size_t first_ref = p->n_refs, cap = 0;
	bool ok = false;

	if (!strcmp(t->text, "allow"))
		r.action = DG_ACTION_ALLOW;
	else if (!strcmp(t->text, "deny"))
		r.action = DG_ACTION_DENY;
	else if (!strcmp(t->text, "audit"))
		r.action = DG_ACTION_AUDIT;
	else
		r.action = DG_ACTION_LISTEN;
	next(p);

	if (is_kw(p, "log") || is_kw(p, "quiet")) {
		t = cur(p);
		bool quiet = t->text[0] == 'q';
		if (r.action == DG_ACTION_LISTEN)
			dg_diag_error(p->diag, &t->loc,
				      "'listen' takes no '%s'; bind attempts by others are always "
				      "logged, remove it", t->text);
		else if (r.action == DG_ACTION_AUDIT && quiet)
			dg_diag_error(p->diag, &t->loc,
				      "'audit quiet' contradicts itself: audit logs every connect; "
				      "use 'allow quiet'");
		else
			r.log = quiet ? DG_LOG_QUIET : DG_LOG_ALWAYS;
		next(p);
	}
	if (r.action == DG_ACTION_AUDIT)
		r.log = DG_LOG_ALWAYS;

	t = cur(p);
	if (is_kw(p, "any")) {
		r.any_endpoint = true;
		next(p);
	} else if (t->kind == DG_TOK_LBRACE) {
		if (!parse_braced(p, "endpoint", parse_ref_item, NULL))
			goto out;
	} else if (t->kind == DG_TOK_WORD && strcmp(t->text, "from") != 0) {
		add_ref(p, t);
		next(p);
	} else {
		char expected[80];
		snprintf(expected, sizeof(expected), "an endpoint name, { a, b } or 'any' after '%s'",
			 dg_action_name(r.action));
		unexpected(p, expected);
		goto out;
	}

	if (is_kw(p, "from")) {
		next(p);
		if (at_end(p) || is_kw(p, "api")) {
			unexpected(p, "a subject after 'from'");
			goto out;
		}
		while (!at_end(p) && !is_kw(p, "api"))
			if (!parse_subject(p, &r, &cap))
				goto out;
	}
	if (is_kw(p, "api")) {
		/* the API profile of the relays this rule allows (checked later) */
		next(p);
		if (cur(p)->kind != DG_TOK_WORD) {
			unexpected(p, "a profile name after 'api'");
			goto out;
		}
		r.api = xstrdup(cur(p)->text);
		r.api_loc = cur(p)->loc;
		next(p);
	}
	if (!at_end(p)) {
		unexpected(p, r.api ? "the end of the rule" : "'from', 'api' or the end of the rule");
		goto out;
	}
	ok = true;

	if (p->pol->n_rules >= DG_POLICY_MAX_RULES) {
		if (!p->rules_limit)
			dg_diag_error(p->diag, &r.loc,
				      "more than %d rules; merge rules with { } lists",
				      DG_POLICY_MAX_RULES);
		p->rules_limit = true;
		goto out;
	}
	if (p->pol->n_rules == p->cap_rules) {
		p->cap_rules = p->cap_rules ? p->cap_rules * 2 : 16;
		p->pol->rules = xreallocarray(p->pol->rules, p->cap_rules, sizeof(*p->pol->rules));
	}
	for (size_t i = first_ref; i < p->n_refs; i++)
		p->refs[i].rule = p->pol->n_rules;
	p->pol->rules[p->pol->n_rules++] = r;
	return true;
out:
	/* The rule is dropped; its endpoint names are still checked. */
	dg_rule_free_contents(&r);
	return ok;
}

/* ---- set ------------------------------------------------------------------ */

enum { SET_DEFAULT, SET_LOG_RATE, SET_DOCKER_HOST, SET_API_DEFAULT, SET_API_VERSION,
       SET_API_RATE, SET_FLEET_KEY, SET_METRICS, SET_METRICS_TEXTFILE };

static const char *const set_keys[DG_SET_KEYS] = { "default", "log-rate", "docker-host",
						  "api-default", "api-version", "api-rate",
						  "fleet-key", "metrics", "metrics-textfile" };
_Static_assert(SET_METRICS_TEXTFILE + 1 == DG_SET_KEYS, "a set key without its name");

/* `N/s` or `N/min` (`N` alone: per second) of `what`: the count and the
 * period in seconds. */
static bool parse_rate(struct parser *p, const struct dg_token *t, const char *what,
		       const char *a_what, uint64_t max, uint64_t *count, uint32_t *per_out)
{
	const char *s = t->text;
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : t->len;
	char *num = xstrndup(s, n);
	uint64_t v;
	uint32_t per = 1;
	int r = parse_u64(num, 1, UINT64_MAX, &v);
	free(num);

	if (slash) {
		if (!strcmp(slash + 1, "min")) {
			per = 60;
		} else if (strcmp(slash + 1, "s") != 0) {
			struct dg_loc loc = subloc(t, n, t->len - n);
			dg_diag_error(p->diag, &loc, "unknown unit '%s' in %s; use /s or /min", slash, what);
			return false;
		}
	}
	if (r == -EINVAL) {
		dg_diag_error(p->diag, &t->loc, "'%s' is not %s; write a number, such as 20/s", s, a_what);
		return false;
	}
	if (r || v > max * per) {
		dg_diag_error(p->diag, &t->loc, "%s %s is out of range; use 1/s to %llu/s", what, s,
			      (unsigned long long)max);
		return false;
	}
	*count = v;
	*per_out = per;
	return true;
}

static bool parse_log_rate(struct parser *p, const struct dg_token *t)
{
	uint64_t count;
	uint32_t per;

	if (!parse_rate(p, t, "log rate", "a log rate", DG_LOG_RATE_MAX, &count, &per))
		return false;
	/* the kernel's limiter counts per second: a rate per minute rounds up */
	p->pol->log_rate = (uint32_t)((count + per - 1) / per);
	p->pol->log_burst = p->pol->log_rate;
	return true;
}

static bool valid_docker_host(const char *s)
{
	if (!strncmp(s, "unix://", 7)) {
		const char *path = s + 7;
		size_t n = strlen(path);
		return path[0] == '/' && n > 1 && n <= DG_UNIX_PATH_MAX && path[n - 1] != '/';
	}
	if (strncmp(s, "tcp://", 6) != 0)
		return false;
	const char *host = s + 6, *port;
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close || close[1] != ':')
			return false;
		char *h = xstrndup(host + 1, (size_t)(close - host - 1));
		unsigned char a[16];
		bool ok = inet_pton(AF_INET6, h, a) == 1;
		free(h);
		if (!ok)
			return false;
		port = close + 2;
	} else {
		const char *colon = strrchr(host, ':');
		if (!colon || colon == host)
			return false;
		for (const char *c = host; c < colon; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'))
				return false;
		port = colon + 1;
	}
	uint64_t v;
	return parse_u64(port, 1, 65535, &v) == 0;
}

static bool parse_set(struct parser *p)
{
	struct dg_loc set_loc = cur(p)->loc;
	next(p);
	const struct dg_token *t = cur(p);
	size_t key;

	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "a setting (default, log-rate, docker-host, api-default, "
			   "api-version or api-rate) after 'set'");
		return false;
	}
	for (key = 0; key < ARRAY_SIZE(set_keys); key++)
		if (!strcmp(t->text, set_keys[key]))
			break;
	if (key == ARRAY_SIZE(set_keys)) {
		dg_diag_error(p->diag, &t->loc,
			      "unknown setting '%s'; expected default, log-rate, docker-host, "
			      "api-default, api-version or api-rate", t->text);
		return false;
	}
	struct dg_loc key_loc = span(&set_loc, &t->loc);
	next(p);
	t = cur(p);
	if (!is_value(t)) {
		char expected[64];
		snprintf(expected, sizeof(expected), "a value after 'set %s'", set_keys[key]);
		unexpected(p, expected);
		return false;
	}

	bool ok = true;
	switch (key) {
	case SET_DEFAULT:
		if (!strcmp(t->text, "deny")) {
			p->pol->default_action = DG_DEFAULT_DENY;
		} else if (!strcmp(t->text, "audit")) {
			p->pol->default_action = DG_DEFAULT_AUDIT;
		} else {
			dg_diag_error(p->diag, &t->loc,
				      "unknown default '%s'; use deny or audit", t->text);
			ok = false;
		}
		if (ok)
			p->pol->default_loc = key_loc;
		break;
	case SET_LOG_RATE:
		ok = parse_log_rate(p, t);
		break;
	case SET_API_DEFAULT:
		if (!strcmp(t->text, "deny") || !strcmp(t->text, "audit"))
			p->pol->api_default = t->text[0] == 'a' ? DG_DEFAULT_AUDIT : DG_DEFAULT_DENY;
		else {
			dg_diag_error(p->diag, &t->loc,
				      "unknown api-default '%s'; use deny or audit", t->text);
			ok = false;
		}
		break;
	case SET_API_VERSION: {
		/* `set api-version min MAJOR.MINOR` */
		unsigned int major, minor;
		char tail;
		if (strcmp(t->text, "min")) {
			dg_diag_error(p->diag, &t->loc, "expected 'min' after 'set api-version'");
			ok = false;
			break;
		}
		next(p);
		t = cur(p);
		if (!is_value(t) || sscanf(t->text, "%3u.%3u%c", &major, &minor, &tail) != 2) {
			unexpected(p, "an API version (1.24) after 'set api-version min'");
			return false;
		}
		p->pol->api_min_major = major;
		p->pol->api_min_minor = minor;
		break;
	}
	case SET_API_RATE: {
		uint64_t count;
		uint32_t per;
		ok = parse_rate(p, t, "API rate", "an API rate", DG_API_RATE_MAX, &count, &per);
		if (ok) {
			p->pol->api_rate = (uint32_t)count;
			p->pol->api_rate_per = per;
			p->pol->api_rate_loc = key_loc;
		}
		break;
	}
	case SET_FLEET_KEY:
		/* several: every key a signed bundle may come from (docs/fleet.md) */
		if (t->text[0] != '/') {
			dg_diag_error(p->diag, &t->loc, "fleet key '%s' is not an absolute path; "
				      "write set fleet-key /etc/dockguard/fleet.pub", t->text);
			ok = false;
		} else if (p->pol->n_fleet_keys >= DG_POLICY_MAX_FLEET_KEYS) {
			dg_diag_error(p->diag, &t->loc, "more than %d fleet keys; remove old ones",
				      DG_POLICY_MAX_FLEET_KEYS);
			ok = false;
		} else {
			p->pol->fleet_keys = xreallocarray(p->pol->fleet_keys, p->pol->n_fleet_keys + 1,
							   sizeof(*p->pol->fleet_keys));
			p->pol->fleet_keys[p->pol->n_fleet_keys++] = xstrdup(t->text);
			p->pol->fleet_key_loc = key_loc;
		}
		next(p);
		return true;
	case SET_METRICS:
		/* where the daemon serves `dockguard metrics` (GET /metrics) */
		if (!valid_docker_host(t->text)) {
			dg_diag_error(p->diag, &t->loc,
				      "unsupported metrics address '%s'; use tcp://127.0.0.1:9274 or "
				      "unix:///run/dockguard/metrics.sock", t->text);
			ok = false;
		} else {
			free(p->pol->metrics);
			p->pol->metrics = xstrdup(t->text);
		}
		break;
	case SET_METRICS_TEXTFILE:
		if (t->text[0] != '/') {
			dg_diag_error(p->diag, &t->loc, "metrics textfile '%s' is not an absolute path",
				      t->text);
			ok = false;
		} else {
			free(p->pol->metrics_textfile);
			p->pol->metrics_textfile = xstrdup(t->text);
		}
		break;
	case SET_DOCKER_HOST:
		if (!valid_docker_host(t->text)) {
			dg_diag_error(p->diag, &t->loc,
				      "unsupported docker host '%s'; use unix:///path/to/docker.sock "
				      "or tcp://HOST:PORT", t->text);
			ok = false;
		} else {
			free(p->pol->docker_host);
			p->pol->docker_host = xstrdup(t->text);
			p->pol->docker_host_loc = key_loc;
		}
		break;
	}
	if (ok) {
		if (p->set_seen[key]) {
			const struct dg_loc *prev = &p->set_loc[key];
			dg_diag_warning(p->diag, &key_loc,
					"'set %s' was already given at %s:%u; the later one wins",
					set_keys[key], prev->file ? prev->file->name : "?", prev->line);
			dg_diag_note(p->diag, prev, "the earlier 'set %s'", set_keys[key]);
		}
		p->set_seen[key] = true;
		p->set_loc[key] = key_loc;
	}
	next(p);
	return true;
}

/* ---- include ------------------------------------------------------------- */

static void parse_text(struct parser *p, const char *name, const char *text, size_t len,
		       char *real);

static void include_file(struct parser *p, const char *path, const struct dg_loc *loc)
{
	if (p->depth > DG_POLICY_MAX_INCLUDE_DEPTH) {
		dg_diag_error(p->diag, loc,
			      "includes nested more than %d deep at '%s'; flatten them",
			      DG_POLICY_MAX_INCLUDE_DEPTH, path);
		return;
	}
	if (p->n_files >= DG_POLICY_MAX_FILES) {
		if (!p->files_limit)
			dg_diag_error(p->diag, loc,
				      "more than %d policy files in all; merge some of them",
				      DG_POLICY_MAX_FILES);
		p->files_limit = true;
		return;
	}
	char *real = realpath(path, NULL);
	if (!real) {
		dg_diag_error(p->diag, loc, "cannot read include file '%s': %s; check the path",
			      path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < p->depth; i++) {
		if (!p->stack[i].real || strcmp(p->stack[i].real, real) != 0)
			continue;
		char *msg = xasprintf("include loop: %s", p->stack[i].file->name);
		for (size_t j = i + 1; j <= p->depth; j++) {
			const char *name = j < p->depth ? p->stack[j].file->name : path;
			char *m = xasprintf("%s %s %s", msg, j == i + 1 ? "includes" : "which includes",
					    name);
			free(msg);
			msg = m;
		}
		dg_diag_error(p->diag, loc, "%s; remove one of the includes", msg);
		free(msg);
		free(real);
		return;
	}

	if (!dg_policy_file_trusted(path, path, real, p->diag)) {
		free(real);
		return;
	}
	char *text;
	size_t len;
	/* by the resolved path, whose directories were found root's alone */
	int r = read_file(real, DG_POLICY_MAX_FILE_SIZE, &text, &len);
	if (r == -EFBIG) {
		dg_diag_error(p->diag, loc,
			      "include file '%s' is larger than the limit of %d bytes; split it",
			      path, DG_POLICY_MAX_FILE_SIZE);
	} else if (r == -EINVAL) {
		dg_diag_error(p->diag, loc,
			      "include file '%s' is not a regular file (a FIFO, device or socket); "
			      "include only policy files", path);
	} else if (r < 0) {
		dg_diag_error(p->diag, loc,
			      "cannot read include file '%s': %s; check the path and permissions",
			      path, strerror(-r));
	} else if (p->total_bytes + len > DG_POLICY_MAX_TOTAL_SIZE) {
		dg_diag_error(p->diag, loc,
			      "including '%s' would make the policy files together larger than the "
			      "limit of %d bytes; a policy this large is a mistake, or merge rules "
			      "with { } lists", path, DG_POLICY_MAX_TOTAL_SIZE);
		free(text);
	} else {
		p->n_files++;
		parse_text(p, path, text, len, real);
		free(text);
		return;
	}
	free(real);
}

/* The directory of the file being read, escaped for glob(3); NULL for ".". */
static char *current_dir(struct parser *p, bool escape)
{
	const char *name = p->stack[p->depth - 1].file->name;
	const char *slash = strrchr(name, '/');

	if (!slash)
		return NULL;
	size_t n = slash == name ? 1 : (size_t)(slash - name);
	char *out = xmalloc(2 * n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (escape && strchr("*?[\\", name[i]))
			*o++ = '\\';
		*o++ = name[i];
	}
	*o = '\0';
	return out;
}

static char *join(const char *dir, const char *name)
{
	if (!dir)
		return xstrdup(name);
	return xasprintf("%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
}

/* The directory an include pattern reads: its path up to the last `/`
 * before the first wildcard (`conf.d` of `conf.d/[*].conf`). */
static char *pattern_directory(const char *dir, const char *pattern)
{
	size_t wild = strcspn(pattern, "*?[");
	const char *slash = NULL;

	for (const char *c = pattern; c < pattern + wild; c++)
		if (*c == '/')
			slash = c;
	if (!slash)
		return xstrdup(dir ? dir : ".");
	char *head = xstrndup(pattern, slash == pattern ? 1 : (size_t)(slash - pattern));
	char *out = join(pattern[0] == '/' ? NULL : dir, head);
	free(head);
	return out;
}

/* glob(3)'s error callback has no context: the parser runs in one thread. */
static int glob_failed_errno;
static char glob_failed_path[256];

/* A missing directory matches nothing; an unreadable one is an error. */
static int glob_error(const char *path, int err)
{
	if (err == ENOENT || err == ENOTDIR)
		return 0;
	glob_failed_errno = err;
	snprintf(glob_failed_path, sizeof(glob_failed_path), "%s", path);
	return 1;
}

static bool parse_include(struct parser *p)
{
	next(p);
	const struct dg_token *t = cur(p);

	if (!is_value(t)) {
		unexpected(p, "a file name or pattern after 'include'");
		return false;
	}
	if (!t->len) {
		dg_diag_error(p->diag, &t->loc, "empty include file name");
		next(p);
		return true;
	}
	char *pattern = xstrdup(t->text);
	struct dg_loc loc = t->loc;
	next(p);
	if (!at_end(p)) {
		unexpected(p, "the end of the line after the include file name");
		free(pattern);
		return false;
	}

	bool absolute = pattern[0] == '/';
	if (!strpbrk(pattern, "*?[")) {
		char *dir = absolute ? NULL : current_dir(p, false);
		char *path = join(dir, pattern);
		include_file(p, path, &loc);
		free(path);
		free(dir);
		free(pattern);
		return true;
	}

	char *dir = absolute ? NULL : current_dir(p, true);
	char *full = join(dir, pattern);
	/* whoever may write where the pattern looks may add a file later */
	char *fixed = pattern_directory(dir, pattern);
	bool trusted = dg_policy_dir_trusted(fixed, fixed, p->diag);
	free(fixed);
	if (!trusted) {
		free(full);
		free(dir);
		free(pattern);
		return true;
	}
	glob_t g;
	glob_failed_errno = 0;
	int r = glob(full, 0, glob_error, &g);
	if (r == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			include_file(p, g.gl_pathv[i], &loc);
	} else if (r == GLOB_ABORTED) {
		dg_diag_error(p->diag, &loc,
			      "cannot read directory '%s' for include pattern '%s': %s; check its "
			      "permissions", glob_failed_path, pattern, strerror(glob_failed_errno));
	} else if (r == GLOB_NOSPACE) {
		dg_diag_error(p->diag, &loc, "out of memory expanding include pattern '%s'",
			      pattern);
	}
	/* GLOB_NOMATCH: a pattern that matches nothing includes nothing. */
	globfree(&g);
	free(full);
	free(dir);
	free(pattern);
	return true;
}

/* ---- statements ---------------------------------------------------------- */

static bool parse_statement(struct parser *p)
{
	const struct dg_token *t = cur(p);

	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "a statement (endpoint, allow, deny, audit, listen, set or include)");
		return false;
	}
	const struct statement *st = find_statement(t);
	if (st)
		return st->parse(p);
	dg_diag_error(p->diag, &t->loc,
		      "unknown statement '%s'; expected endpoint, allow, deny, audit, listen, "
		      "set or include", t->text);
	return false;
}

void parse_statements(struct parser *p)
{
	next(p);
	for (;;) {
		const struct dg_token *t = cur(p);

		if (t->kind == DG_TOK_EOF)
			return;
		if (t->kind == DG_TOK_NEWLINE) {
			next(p);
			continue;
		}
		if (parse_statement(p)) {
			if (cur(p)->kind == DG_TOK_NEWLINE) {
				next(p);
				continue;
			}
			if (cur(p)->kind == DG_TOK_EOF)
				return;
			unexpected(p, "the end of the line; write one statement per line");
		}
		recover(p);
	}
}

/* Takes `real`. */
static void parse_text(struct parser *p, const char *name, const char *text, size_t len,
		       char *real)
{
	struct dg_diag_file *f = dg_diag_files_add(p->pol->files, name, text, len);
	struct dg_lexer lx, *saved = p->lx;

	p->total_bytes += len;
	sha256_update(&p->sha, len, (const uint8_t *)text);

	p->stack[p->depth++] = (struct include_frame){ .real = real, .file = f };
	dg_lexer_init(&lx, f, text, len, p->diag);
	p->lx = &lx;
	parse_statements(p);
	dg_lexer_fini(&lx);
	p->lx = saved;
	free(p->stack[--p->depth].real);
}

static struct dg_policy *new_policy(const char *path)
{
	struct dg_policy *pol = xcalloc(1, sizeof(*pol));

	pol->path = xstrdup(path);
	pol->default_action = DG_DEFAULT_DENY;
	pol->log_rate = DG_DEFAULT_LOG_RATE;
	pol->log_burst = DG_DEFAULT_LOG_RATE;
	pol->api_min_major = 1;		/* `set api-version min 1.24` */
	pol->api_min_minor = 24;
	pol->files = xcalloc(1, sizeof(*pol->files));
	return pol;
}

/*
 * The implicit `listen` rule of a relay's TCP addresses (spec 8): only the
 * process that serves the relay (this one's cgroup: `dockguard run`'s
 * unit) may bind them, so that nobody squats a gateway address before it
 * exists (IP_FREEBIND) or while the daemon is away, to collect requests and
 * their registry credentials. A relay with a `listen` rule of its own keeps
 * that one. A process in the root cgroup has no cgroup of its own to name:
 * then root may bind them.
 */
static void add_relay_listen_rules(struct dg_policy *pol)
{
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		const struct dg_addr *tcp = NULL;
		bool named = false;
		for (size_t a = 0; ep->relay && a < ep->n_addrs && !tcp; a++)
			if (ep->addrs[a].kind != DG_ADDR_UNIX)
				tcp = &ep->addrs[a];
		for (size_t r = 0; tcp && r < pol->n_rules && !named; r++) {
			const struct dg_rule *rule = &pol->rules[r];
			if (rule->action != DG_ACTION_LISTEN)
				continue;
			named = rule->any_endpoint;
			for (size_t i = 0; i < rule->n_endpoints; i++)
				named |= rule->endpoints[i] == e;
		}
		if (!tcp || named)
			continue;

		char *cg = dg_own_cgroup();
		size_t depth = 0;
		for (const char *c = cg; *c; c++)
			depth += *c == '/';
		struct dg_item it = { .loc = tcp->loc };
		struct dg_subject subj = { .loc = tcp->loc, .n_items = 1 };
		if (strcmp(cg, "/") && depth <= DG_CGROUP_DEPTH_MAX && strlen(cg) <= DG_CGROUP_PATH_MAX) {
			subj.kind = DG_SUBJ_CGROUP;
			it.str = cg;
			it.text = xstrdup(cg);
		} else {
			free(cg);
			subj.kind = DG_SUBJ_USER;
			it.text = xstrdup("root");
		}
		subj.items = xmalloc(sizeof(it));
		subj.items[0] = it;
		struct dg_rule rule = {
			.action = DG_ACTION_LISTEN,
			.endpoints = xmalloc(sizeof(size_t)),
			.n_endpoints = 1,
			.subjects = xmalloc(sizeof(subj)),
			.n_subjects = 1,
			.loc = tcp->loc,
			.api_profile = DG_API_NO_PARENT,
			.implicit = true,
		};
		rule.endpoints[0] = e;
		rule.subjects[0] = subj;
		pol->rules = xreallocarray(pol->rules, pol->n_rules + 1, sizeof(*pol->rules));
		pol->rules[pol->n_rules++] = rule;
		pol->n_items++;
	}
}

static struct dg_policy *finish(struct parser *p)
{
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_digest(&p->sha, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(p->pol->sha256 + 2 * i, 3, "%02x", md[i]);

	struct dg_policy *pol = p->pol;

	dg_policy_check(pol, p->refs, p->n_refs, p->diag);
	for (size_t i = 0; i < p->n_refs; i++)
		free(p->refs[i].name);
	free(p->refs);
	dg_strmap_free(&p->users);
	dg_strmap_free(&p->groups);
	if (p->diag->n_errors) {
		/* The messages point into the files: the diagnostics keep them. */
		dg_diag_adopt_files(p->diag, pol->files);
		dg_policy_free(pol);
		return NULL;
	}
	add_relay_listen_rules(pol);
	return pol;
}

struct dg_policy *dg_policy_parse_buffer(const char *name, const char *buf, size_t len,
					 struct dg_diag *diag)
{
	struct parser p = { .diag = diag, .pol = new_policy(name), .n_files = 1 };

	sha256_init(&p.sha);
	parse_builtin_profiles(&p);
	if (len > DG_POLICY_MAX_FILE_SIZE) {
		dg_diag_error(diag, NULL,
			      "%s is %zu bytes long, more than the limit of %d bytes for a policy "
			      "file; split it with include", name, len, DG_POLICY_MAX_FILE_SIZE);
		return finish(&p);
	}
	parse_text(&p, name, buf, len, realpath(name, NULL));
	return finish(&p);
}

struct dg_policy *dg_policy_parse_file(const char *path, struct dg_diag *diag)
{
	char *real = realpath(path, NULL);
	char *text;
	size_t len;

	if (real && !dg_policy_file_trusted(path, path, real, diag)) {
		free(real);
		return NULL;
	}
	/* by the resolved path, whose directories were found root's alone */
	int r = read_file(real ? real : path, DG_POLICY_MAX_FILE_SIZE, &text, &len);
	free(real);

	if (r == -EFBIG) {
		dg_diag_error(diag, NULL,
			      "%s is larger than the limit of %d bytes for a policy file; "
			      "split it with include", path, DG_POLICY_MAX_FILE_SIZE);
		return NULL;
	}
	if (r == -EINVAL) {
		dg_diag_error(diag, NULL, "%s is not a regular file (a FIFO, device or socket); "
			      "give a policy file", path);
		return NULL;
	}
	if (r < 0) {
		dg_diag_error(diag, NULL, "cannot read %s: %s; check the path and permissions",
			      path, strerror(-r));
		return NULL;
	}
	struct dg_policy *pol = dg_policy_parse_buffer(path, text, len, diag);
	free(text);
	return pol;
}
