/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The parser's state and token helpers, shared by the statement parsers:
 * parser.c (endpoints, rules, set, include) and parse_api.c (relays and API
 * profiles). Not an API.
 */
#ifndef DOCKGUARD_POLICY_PARSER_INTERNAL_H
#define DOCKGUARD_POLICY_PARSER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <nettle/sha2.h>

#include "policy/internal.h"
#include "policy/lexer.h"
#include "policy/policy.h"

struct include_frame {
	char *real;				/* realpath, NULL when unknown */
	const struct dg_diag_file *file;
};

/* The settings `set` knows (set_keys in parser.c). */
#define DG_SET_KEYS 9

struct parser {
	struct dg_policy *pol;
	struct dg_diag *diag;
	struct dg_lexer *lx;

	struct include_frame stack[DG_POLICY_MAX_INCLUDE_DEPTH + 1];
	size_t depth;
	size_t n_files;
	size_t total_bytes;			/* of every file read */
	struct sha256_ctx sha;			/* over the same bytes */

	struct dg_epref *refs;
	size_t n_refs, cap_refs;
	size_t cap_rules, cap_endpoints;
	size_t n_items;

	bool files_limit, rules_limit, items_limit, endpoints_limit;

	struct dg_loc set_loc[DG_SET_KEYS];	/* see set_keys in parser.c */
	bool set_seen[DG_SET_KEYS];
	bool builtin;				/* reading dockguard's own profiles */

	struct dg_strmap users, groups;		/* look-up cache */
};

/* ---- tokens -------------------------------------------------------------- */

static inline struct dg_token *cur(struct parser *p)
{
	return &p->lx->tok;
}

static inline void next(struct parser *p)
{
	dg_lexer_next(p->lx);
}

static inline bool is_kw(struct parser *p, const char *kw)
{
	const struct dg_token *t = cur(p);
	return t->kind == DG_TOK_WORD && strcmp(t->text, kw) == 0;
}

static inline bool is_value(const struct dg_token *t)
{
	return t->kind == DG_TOK_WORD || t->kind == DG_TOK_STRING;
}

static inline bool at_end(struct parser *p)
{
	enum dg_tok_kind k = cur(p)->kind;
	return k == DG_TOK_NEWLINE || k == DG_TOK_EOF;
}

/* A location inside a word: `off` bytes in, `len` long. A string keeps its
 * whole location (escapes shift the columns). */
static inline struct dg_loc subloc(const struct dg_token *t, size_t off, size_t len)
{
	struct dg_loc loc = t->loc;

	if (t->kind != DG_TOK_WORD || off >= t->len)
		return loc;
	if (off + len > t->len)
		len = t->len - off;
	loc.col += (unsigned int)off;
	loc.len = len ? (unsigned int)len : 1;
	return loc;
}

/* From the start of `a` to the end of `b`, when they share a line. */
static inline struct dg_loc span(const struct dg_loc *a, const struct dg_loc *b)
{
	struct dg_loc loc = *a;

	if (a->file == b->file && a->line == b->line && b->col >= a->col)
		loc.len = b->col + b->len - a->col;
	return loc;
}

/* "expected X, found Y" at the current token; silent after a lexer error. */
void unexpected(struct parser *p, const char *expected);
/* A "missing '}'" error for the innermost open brace, which is forgotten. */
void report_unclosed(struct parser *p, const struct dg_loc *at);
/* Whether `t` starts a top-level statement (endpoint, allow, relay, ...). */
bool is_statement_keyword(const struct dg_token *t);

/*
 * `{ item, item ... }`: items separated by commas and/or newlines, a trailing
 * comma allowed. The current token is the `{`. `item` returns false on a
 * syntax error (already reported), true otherwise, even when it reported a
 * semantic error.
 */
typedef bool (*item_fn)(struct parser *p, void *ctx);
bool parse_braced(struct parser *p, const char *what, item_fn item, void *ctx);

/* `t`'s text as a TCP (ADDRESS:PORT) or unix (absolute path) address. */
bool parse_tcp(struct parser *p, const struct dg_token *t, struct dg_addr *a);
bool parse_unix(struct parser *p, const struct dg_token *t, struct dg_addr *a);
/*
 * `tcp ADDRESS:PORT` or `unix PATH` at the current token. False on a syntax
 * error (reported, with `expected` for a missing keyword); else true, the
 * value consumed, and *valid telling whether `a` holds a usable address (its
 * errors reported).
 */
bool parse_address(struct parser *p, const char *expected, struct dg_addr *a, bool *valid);
/* Reports a name that cannot name an endpoint (reserved, too long, bad bytes). */
void check_endpoint_name(struct parser *p, const struct dg_token *t);

/* The statements of the current file, to its end. */
void parse_statements(struct parser *p);
/* Appends an endpoint (or relay), taking what it points to; over the limit,
 * reports once and frees it. */
void dg_policy_add_endpoint(struct parser *p, struct dg_endpoint *ep);

/* parse_api.c: `relay NAME { ... }` and `api NAME [extends P] { ... }` */
bool parse_relay(struct parser *p);
bool parse_api(struct parser *p);
/* Reads dockguard's built-in API profiles into the policy (api_profiles.c). */
void parse_builtin_profiles(struct parser *p);

#endif
