// SPDX-License-Identifier: GPL-2.0-only
/*
 * Relays and API profiles (docs/relay.md, dockguard.conf(5)):
 *
 *   relay NAME {
 *       listen unix PATH | listen tcp ADDRESS:PORT      (one or more)
 *       upstream unix PATH | upstream tcp HOST:PORT     (default unix /var/run/docker.sock)
 *   }
 *   api NAME [extends PROFILE] {
 *       allow|deny [log|quiet] METHOD[,METHOD...] PATTERN... [query COND...]
 *       audit [until YYYY-MM-DD]
 *       guard create [no-privileged no-host-namespaces no-devices no-caps ...]
 *                    [binds PATTERN...]
 *       own
 *       visible label KEY=VALUE | name GLOB | own        (any number)
 *       redact env | join-tokens ...
 *   }
 *
 * One item per line. A relay is an endpoint: its listen addresses are
 * protected like any other's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/parser_internal.h"
#include "util/util.h"

/* Built-in profiles (api_profiles.c) own these names. */
static const char *const reserved_profiles[] = {
	"full", "read-only", "traefik", "portainer-agent", "watchtower", "ci",
};

static bool reserved_profile(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(reserved_profiles); i++)
		if (!strcmp(name, reserved_profiles[i]))
			return true;
	return false;
}

uint32_t dg_api_method_bit(const char *method)
{
	static const char *const names[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
					     "OPTIONS" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(method, names[i]))
			return 1u << i;
	return 0;
}

/* Skips to the end of the block's current line (after an error in it). */
static void skip_line(struct parser *p)
{
	while (cur(p)->kind != DG_TOK_NEWLINE && cur(p)->kind != DG_TOK_RBRACE &&
	       cur(p)->kind != DG_TOK_EOF)
		next(p);
}

typedef bool (*line_fn)(struct parser *p, void *ctx);

/*
 * `{` line... `}`, the current token being the `{`: `line` parses one line
 * that starts with one of `keywords` (false: an error, reported; the line is
 * skipped). A top-level statement keyword at the start of a line ends the
 * block with a missing '}' (recover() reports it).
 */
static bool parse_lines(struct parser *p, const char *const *keywords, size_t n_keywords,
			const char *expected, line_fn line, void *ctx)
{
	next(p);
	for (;;) {
		const struct dg_token *t = cur(p);
		bool known = false;

		if (t->kind == DG_TOK_NEWLINE) {
			next(p);
			continue;
		}
		if (t->kind == DG_TOK_RBRACE) {
			next(p);
			return true;
		}
		if (t->kind == DG_TOK_EOF) {
			unexpected(p, "'}'");
			return false;
		}
		for (size_t i = 0; t->kind == DG_TOK_WORD && i < n_keywords; i++)
			known |= !strcmp(t->text, keywords[i]);
		if (!known) {
			if (t->bol && is_statement_keyword(t))
				return false;
			unexpected(p, expected);
			skip_line(p);
			continue;
		}
		if (!line(p, ctx)) {
			skip_line(p);
			continue;
		}
		if (cur(p)->kind != DG_TOK_NEWLINE && cur(p)->kind != DG_TOK_RBRACE) {
			unexpected(p, "the end of the line; one item per line");
			skip_line(p);
		}
	}
}

/* ---- relay ----------------------------------------------------------------- */

struct relay_ctx {
	struct dg_endpoint *ep;
	size_t cap;
	bool has_upstream;
	struct dg_loc upstream_loc;
};

static bool relay_line(struct parser *p, void *arg)
{
	struct relay_ctx *ctx = arg;
	bool listen = is_kw(p, "listen");
	struct dg_loc kw = cur(p)->loc;
	struct dg_addr a;

	char expected[80];
	bool valid;

	next(p);
	snprintf(expected, sizeof(expected), "'tcp ADDRESS:PORT' or 'unix PATH' after '%s'",
		 listen ? "listen" : "upstream");
	if (!parse_address(p, expected, &a, &valid))
		return false;
	if (!valid)
		return true;	/* reported */
	if (!listen) {
		if (ctx->has_upstream) {
			dg_diag_error(p->diag, &kw, "a second 'upstream'; a relay forwards to one "
				      "Docker API");
			dg_diag_note(p->diag, &ctx->upstream_loc, "the first 'upstream'");
			free(a.path);
			return true;
		}
		if (a.kind == DG_ADDR_TCP_ANY) {
			dg_diag_error(p->diag, &a.loc, "the upstream needs one address, not '*'");
			free(a.path);
			return true;
		}
		ctx->has_upstream = true;
		ctx->upstream_loc = kw;
		free(ctx->ep->upstream.path);
		ctx->ep->upstream = a;
		return true;
	}
	if (ctx->ep->n_addrs >= DG_POLICY_MAX_ADDRS) {
		dg_diag_error(p->diag, &a.loc, "relay '%s' has more than %d listen addresses",
			      ctx->ep->name, DG_POLICY_MAX_ADDRS);
		free(a.path);
		return true;
	}
	if (ctx->ep->n_addrs == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 4;
		ctx->ep->addrs = xreallocarray(ctx->ep->addrs, ctx->cap, sizeof(*ctx->ep->addrs));
	}
	ctx->ep->addrs[ctx->ep->n_addrs++] = a;
	return true;
}

bool parse_relay(struct parser *p)
{
	static const char *const keywords[] = { "listen", "upstream" };

	next(p);
	const struct dg_token *t = cur(p);
	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "a relay name after 'relay'");
		return false;
	}
	struct dg_endpoint ep = { .name = xstrdup(t->text), .loc = t->loc, .relay = true };
	struct relay_ctx ctx = { .ep = &ep };
	check_endpoint_name(p, t);
	next(p);
	if (cur(p)->kind != DG_TOK_LBRACE) {
		unexpected(p, "'{' after the relay's name");
		free(ep.name);
		return false;
	}
	bool ok = parse_lines(p, keywords, ARRAY_SIZE(keywords),
			      "'listen ADDRESS' or 'upstream ADDRESS'", relay_line, &ctx);
	if (!ep.n_addrs)
		dg_diag_error(p->diag, &ep.loc, "relay '%s' has no 'listen' address", ep.name);
	if (!ctx.has_upstream) {
		ep.upstream.kind = DG_ADDR_UNIX;
		ep.upstream.path = xstrdup("/var/run/docker.sock");
		ep.upstream.loc = ep.loc;
	}
	dg_policy_add_endpoint(p, &ep);
	return ok;
}

/* ---- api ------------------------------------------------------------------- */

/* A path pattern: absolute, no empty, `.` or `..` segments, `*` and `**`
 * only as whole segments (`**` once: image names hold '/', so an image
 * route has a `**` segment before its last), no version prefix. */
static bool check_pattern(struct parser *p, const struct dg_token *t)
{
	const char *s = t->text, *why = NULL;
	size_t segments = 0, globstars = 0;

	if (s[0] != '/')
		why = "a path pattern starts with '/'";
	for (const char *seg = s; !why && *seg == '/'; segments++) {
		const char *end = strchr(seg + 1, '/');
		size_t len = end ? (size_t)(end - seg - 1) : strlen(seg + 1);
		const char *text = seg + 1;

		if (!len && !(segments == 0 && !end))
			why = "an empty segment ('//' or a trailing '/')";
		else if (!len)
			why = "the pattern '/' matches no API path; write '/**' for every path";
		else if ((len == 1 && text[0] == '.') || (len == 2 && !strncmp(text, "..", 2)))
			why = "a '.' or '..' segment (paths are judged without them)";
		else if (memchr(text, '*', len) && !(len == 1 || (len == 2 && text[1] == '*')))
			why = "'*' stands for a whole segment ('/containers/*/json'), not part of one";
		else if (len == 2 && !strncmp(text, "**", 2) && ++globstars > 1)
			why = "'**' (one segment or more) may appear once in a pattern";
		else if (segments == 0 && text[0] == 'v' && len > 1 && strspn(text + 1, "0123456789.") == len - 1)
			why = "patterns match the path without its API version prefix ('/containers/json')";
		else if (memchr(text, '%', len) || memchr(text, '?', len))
			why = "a pattern matches the decoded path: no '%' escapes, no '?' (use 'query')";
		seg = end ? end : seg + 1 + len;
		if (!why && segments + 1 > DG_API_MAX_SEGMENTS)
			why = "too many segments";
	}
	if (why)
		dg_diag_error(p->diag, &t->loc, "bad path pattern '%s': %s", s, why);
	return !why;
}

/* `K=GLOB`, `K!=GLOB` or `!K`. */
static bool parse_cond(struct parser *p, struct dg_api_cond *c)
{
	const struct dg_token *t = cur(p);
	const char *s = t->text, *eq;

	memset(c, 0, sizeof(*c));
	c->loc = t->loc;
	if (s[0] == '!') {
		c->op = DG_COND_ABSENT;
		c->key = xstrdup(s + 1);
		if (!s[1] || strchr(s + 1, '='))
			goto bad;
		return true;
	}
	eq = strchr(s, '=');
	if (!eq || eq == s)
		goto bad;
	c->op = eq[-1] == '!' ? DG_COND_NO_MATCH : DG_COND_MATCH;
	c->key = xstrndup(s, (size_t)(eq - s) - (c->op == DG_COND_NO_MATCH));
	c->glob = xstrdup(eq + 1);
	if (!*c->key)
		goto bad;
	return true;
bad:
	dg_diag_error(p->diag, &t->loc, "bad query condition '%s'; write KEY=GLOB, KEY!=GLOB "
		      "or !KEY", s);
	free(c->key);
	free(c->glob);
	c->key = c->glob = NULL;
	return false;
}

void dg_api_rule_free_contents(struct dg_api_rule *r)
{
	for (size_t i = 0; i < r->n_patterns; i++)
		free(r->patterns[i]);
	free(r->patterns);
	for (size_t i = 0; i < r->n_conds; i++) {
		free(r->conds[i].key);
		free(r->conds[i].glob);
	}
	free(r->conds);
}

struct api_ctx {
	struct dg_api_profile *prof;
	size_t cap;
	bool audit_seen;
};

/* `until YYYY-MM-DD`: learning mode through that day (UTC). */
static bool parse_audit_until(struct parser *p, struct dg_api_profile *prof)
{
	const struct dg_token *t = cur(p);
	struct tm tm = { 0 };
	char tail;

	if (!is_value(t) || sscanf(t->text, "%4d-%2d-%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tail) != 3 ||
	    strlen(t->text) != 10 || tm.tm_year < 2000 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31) {
		dg_diag_error(p->diag, &t->loc, "expected a date (YYYY-MM-DD, UTC) after 'audit until'");
		return false;
	}
	int year = tm.tm_year, mon = tm.tm_mon, day = tm.tm_mday;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_mday += 1;	/* the day after: DATE itself is still learning */
	time_t end = timegm(&tm);
	struct tm check;
	tm.tm_mday -= 1;
	time_t start = timegm(&tm);
	if (end == (time_t)-1 || !gmtime_r(&start, &check) || check.tm_mday != day ||
	    check.tm_mon != mon - 1 || check.tm_year != year - 1900) {
		dg_diag_error(p->diag, &t->loc, "'%s' is not a date", t->text);
		return false;
	}
	prof->audit_until = (int64_t)end;
	next(p);
	return true;
}

/* What a guard always refuses, by the names the spec's examples give them:
 * accepted so that a profile can say what it relies on; none can be left
 * out (a guard that forgot a word would pass a privileged container). */
static const char *const guard_words[] = {
	"no-privileged", "no-host-namespaces", "no-devices", "no-caps", "no-sysctls",
	"no-security-opt", "no-cgroup-parent", "no-runtime", "no-volume-drivers",
};

/* `guard create [WORD...] [binds PATTERN...]` */
static bool parse_guard(struct parser *p, struct dg_api_profile *prof)
{
	const struct dg_token *t = cur(p);

	if (prof->guard)
		dg_diag_warning(p->diag, &t->loc, "'guard' given twice in profile '%s'", prof->name);
	prof->guard = true;
	prof->guard_loc = t->loc;
	next(p);
	if (!is_kw(p, "create")) {
		unexpected(p, "'create' after 'guard' (the one guard there is)");
		return false;
	}
	next(p);
	while (cur(p)->kind == DG_TOK_WORD && strcmp(cur(p)->text, "binds")) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(guard_words) && !known; i++)
			known = !strcmp(cur(p)->text, guard_words[i]);
		if (!known) {
			dg_diag_error(p->diag, &cur(p)->loc, "unknown guard word '%s'; a guard refuses "
				      "privileged, host namespaces, devices, capabilities, sysctls, "
				      "security options, cgroup parents, runtimes and volume drivers "
				      "always; 'binds PATTERN...' lists the host paths binds may name",
				      cur(p)->text);
			return false;
		}
		next(p);
	}
	if (is_kw(p, "binds")) {
		next(p);
		size_t seen = 0;
		while (cur(p)->kind == DG_TOK_WORD && cur(p)->text[0] == '/') {
			seen++;
			if (check_pattern(p, cur(p))) {
				prof->guard_binds = xreallocarray(prof->guard_binds,
								  prof->n_guard_binds + 1,
								  sizeof(*prof->guard_binds));
				prof->guard_binds[prof->n_guard_binds++] = xstrdup(cur(p)->text);
			}
			next(p);
		}
		if (!seen) {
			unexpected(p, "a host path pattern after 'binds' ('/srv/ci/**')");
			return false;
		}
	}
	return true;
}

/* Event attributes that dockerd sets itself beside a container's labels:
 * a label of that key could not be told from them in /events. */
static const char *const event_attributes[] = {
	"name", "image", "exitCode", "signal", "execID", "container", "driver", "type",
};

/* `visible label KEY=VALUE`, `visible name GLOB` or `visible own` */
static bool parse_visible(struct parser *p, struct dg_api_profile *prof)
{
	struct dg_visible_clause v = { .loc = cur(p)->loc };
	const struct dg_token *t;

	next(p);
	bool label = is_kw(p, "label");
	if (is_kw(p, "own")) {
		/* what `own` labelled with the caller's key */
		v.own = true;
		next(p);
		goto add;
	}
	if (!label && !is_kw(p, "name")) {
		unexpected(p, "'label KEY=VALUE', 'name GLOB' or 'own' after 'visible'");
		return false;
	}
	next(p);
	t = cur(p);
	if (!is_value(t) || !t->len) {
		unexpected(p, label ? "KEY=VALUE after 'label'" : "a name pattern after 'name'");
		return false;
	}
	if (label) {
		const char *eq = strchr(t->text, '=');
		if (!eq || eq == t->text) {
			dg_diag_error(p->diag, &t->loc, "bad label '%s'; write KEY=VALUE "
				      "(com.example.team=ci)", t->text);
			return false;
		}
		v.label_key = xstrndup(t->text, (size_t)(eq - t->text));
		v.label_value = xstrdup(eq + 1);
		for (size_t i = 0; i < ARRAY_SIZE(event_attributes); i++)
			if (!strcmp(v.label_key, event_attributes[i])) {
				dg_diag_error(p->diag, &t->loc, "label '%s' cannot be told from the "
					      "attribute dockerd gives container events under that "
					      "name; choose another label", v.label_key);
				free(v.label_key);
				free(v.label_value);
				return false;
			}
	} else {
		v.name_glob = xstrdup(t->text[0] == '/' ? t->text + 1 : t->text);
	}
	next(p);
add:
	prof->visible = xreallocarray(prof->visible, prof->n_visible + 1, sizeof(*prof->visible));
	prof->visible[prof->n_visible++] = v;
	return true;
}

/* `redact WORD...`: env (containers', services', tasks' Env), join-tokens */
static bool parse_redact(struct parser *p, struct dg_api_profile *prof)
{
	prof->redact_loc = cur(p)->loc;
	next(p);
	if (at_end(p) || cur(p)->kind == DG_TOK_RBRACE) {
		unexpected(p, "what to redact after 'redact': env, join-tokens");
		return false;
	}
	while (!at_end(p) && cur(p)->kind == DG_TOK_WORD) {
		if (!strcmp(cur(p)->text, "env")) {
			prof->redact_env = true;
		} else if (!strcmp(cur(p)->text, "join-tokens")) {
			prof->redact_join_tokens = true;
		} else {
			dg_diag_error(p->diag, &cur(p)->loc, "unknown redact word '%s'; use env "
				      "(the Env of containers, services and tasks) or join-tokens "
				      "(the swarm's)", cur(p)->text);
			return false;
		}
		next(p);
	}
	return true;
}

static bool api_line(struct parser *p, void *arg)
{
	struct api_ctx *ctx = arg;
	const struct dg_token *t = cur(p);
	struct dg_api_rule r = { .loc = t->loc, .deny = !strcmp(t->text, "deny") };
	bool ok = false;

	if (!strcmp(t->text, "guard"))
		return parse_guard(p, ctx->prof);
	if (!strcmp(t->text, "visible"))
		return parse_visible(p, ctx->prof);
	if (!strcmp(t->text, "redact"))
		return parse_redact(p, ctx->prof);
	if (!strcmp(t->text, "own")) {
		if (ctx->prof->own)
			dg_diag_warning(p->diag, &t->loc, "'own' given twice in profile '%s'",
					ctx->prof->name);
		ctx->prof->own = true;
		ctx->prof->own_loc = t->loc;
		next(p);
		return true;
	}

	if (!strcmp(t->text, "audit")) {
		if (ctx->audit_seen)
			dg_diag_warning(p->diag, &t->loc, "'audit' given twice in profile '%s'",
					ctx->prof->name);
		ctx->prof->audit = ctx->audit_seen = true;
		ctx->prof->audit_loc = t->loc;
		ctx->prof->audit_until = 0;
		next(p);
		if (is_kw(p, "until")) {
			next(p);
			return parse_audit_until(p, ctx->prof);
		}
		return true;
	}
	next(p);
	if (is_kw(p, "log") || is_kw(p, "quiet")) {
		r.log = cur(p)->text[0] == 'q' ? DG_LOG_QUIET : DG_LOG_ALWAYS;
		next(p);
	}
	/* METHOD[,METHOD...] */
	for (;;) {
		t = cur(p);
		uint32_t bit = t->kind == DG_TOK_WORD ? dg_api_method_bit(t->text) : 0;
		if (!bit) {
			if (t->kind == DG_TOK_WORD && t->text[0] != '/')
				dg_diag_error(p->diag, &t->loc, "unknown method '%s'; use GET, HEAD, "
					      "POST, PUT, DELETE, PATCH or OPTIONS (upper case)", t->text);
			else
				unexpected(p, "a method (GET, POST, ...)");
			goto out;
		}
		if (r.methods & bit)
			dg_diag_warning(p->diag, &t->loc, "method %s given twice", t->text);
		r.methods |= bit;
		next(p);
		if (cur(p)->kind != DG_TOK_COMMA)
			break;
		next(p);
	}
	/* PATTERN... */
	size_t seen = 0;
	while (cur(p)->kind == DG_TOK_WORD && cur(p)->text[0] == '/') {
		seen++;
		if (check_pattern(p, cur(p))) {
			r.patterns = xreallocarray(r.patterns, r.n_patterns + 1, sizeof(*r.patterns));
			r.patterns[r.n_patterns++] = xstrdup(cur(p)->text);
		}
		next(p);
	}
	if (!seen) {
		unexpected(p, "a path pattern ('/containers/*/json')");
		goto out;
	}
	if (!r.n_patterns)
		goto out;	/* each was reported */
	if (is_kw(p, "query")) {
		next(p);
		while (is_value(cur(p))) {
			struct dg_api_cond c;
			if (parse_cond(p, &c)) {
				r.conds = xreallocarray(r.conds, r.n_conds + 1, sizeof(*r.conds));
				r.conds[r.n_conds++] = c;
			}
			next(p);
		}
		if (!r.n_conds) {
			unexpected(p, "a condition after 'query' (KEY=GLOB, KEY!=GLOB or !KEY)");
			goto out;
		}
	}
	ok = true;
	if (ctx->prof->n_rules == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 8;
		ctx->prof->rules = xreallocarray(ctx->prof->rules, ctx->cap, sizeof(*ctx->prof->rules));
	}
	ctx->prof->rules[ctx->prof->n_rules++] = r;
	return true;
out:
	dg_api_rule_free_contents(&r);
	return ok;
}

bool parse_api(struct parser *p)
{
	static const char *const keywords[] = { "allow", "deny", "audit", "guard", "own",
						"visible", "redact" };

	next(p);
	const struct dg_token *t = cur(p);
	if (t->kind != DG_TOK_WORD) {
		unexpected(p, "a profile name after 'api'");
		return false;
	}
	struct dg_api_profile prof = { .name = xstrdup(t->text), .loc = t->loc,
				       .parent = DG_API_NO_PARENT, .builtin = p->builtin };
	check_endpoint_name(p, t);
	if (!p->builtin && reserved_profile(t->text))
		dg_diag_error(p->diag, &t->loc, "'%s' is a built-in profile; name yours another "
			      "way, or start from it with 'api NAME extends %s'", t->text, t->text);
	next(p);
	if (is_kw(p, "extends")) {
		next(p);
		if (cur(p)->kind != DG_TOK_WORD) {
			unexpected(p, "a profile name after 'extends'");
			free(prof.name);
			return false;
		}
		prof.extends = xstrdup(cur(p)->text);
		prof.extends_loc = cur(p)->loc;
		next(p);
	}
	if (cur(p)->kind != DG_TOK_LBRACE) {
		unexpected(p, "'{' after the profile's name");
		free(prof.name);
		free(prof.extends);
		return false;
	}
	struct api_ctx ctx = { .prof = &prof };
	bool ok = parse_lines(p, keywords, ARRAY_SIZE(keywords),
			      "an API rule ('allow GET /containers/json'), 'audit', 'guard create', "
			      "'own', 'visible' or 'redact'",
			      api_line, &ctx);
	p->pol->apis = xreallocarray(p->pol->apis, p->pol->n_apis + 1, sizeof(*p->pol->apis));
	p->pol->apis[p->pol->n_apis++] = prof;
	return ok;
}

void dg_api_profile_free_contents(struct dg_api_profile *prof)
{
	for (size_t i = 0; i < prof->n_rules; i++)
		dg_api_rule_free_contents(&prof->rules[i]);
	free(prof->rules);
	for (size_t i = 0; i < prof->n_guard_binds; i++)
		free(prof->guard_binds[i]);
	free(prof->guard_binds);
	for (size_t i = 0; i < prof->n_visible; i++) {
		free(prof->visible[i].label_key);
		free(prof->visible[i].label_value);
		free(prof->visible[i].name_glob);
	}
	free(prof->visible);
	free(prof->name);
	free(prof->extends);
}
