// SPDX-License-Identifier: GPL-2.0-only
/*
 * Semantic checks, run once the whole policy (includes too) is read: endpoint
 * names are resolved, then duplicate, overlapping and unused endpoints,
 * rules that can never match and `listen` rules without a TCP address are
 * reported, each at its location with a note at the other one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/internal.h"
#include "util/util.h"

#define ADDR_TEXT_MAX (DG_UNIX_PATH_MAX + 64)

static bool has_tcp(const struct dg_endpoint *ep)
{
	for (size_t i = 0; i < ep->n_addrs; i++)
		if (ep->addrs[i].kind != DG_ADDR_UNIX)
			return true;
	return false;
}

/* ---- names ---------------------------------------------------------------- */

static void check_duplicates(struct dg_policy *pol, struct dg_strmap *names, bool *dup,
			     struct dg_diag *diag)
{
	for (size_t i = 0; i < pol->n_endpoints; i++) {
		const struct dg_endpoint *ep = &pol->endpoints[i];
		uint64_t first;

		if (dg_strmap_get(names, ep->name, &first)) {
			dg_diag_error(diag, &ep->loc,
				      "endpoint '%s' is defined twice; rename one of them or merge "
				      "their addresses", ep->name);
			dg_diag_note(diag, &pol->endpoints[first].loc, "first defined here");
			dup[i] = true;
			continue;
		}
		dg_strmap_put(names, ep->name, i);
	}
}

static void resolve(struct dg_policy *pol, const struct dg_epref *refs, size_t n_refs,
		    const struct dg_strmap *names, bool *used, struct dg_diag *diag)
{
	size_t *count = xcalloc(pol->n_rules, sizeof(*count));
	size_t *stamp = xmalloc((pol->n_endpoints ? pol->n_endpoints : 1) * sizeof(*stamp));

	for (size_t i = 0; i < pol->n_endpoints; i++)
		stamp[i] = SIZE_MAX;
	for (size_t i = 0; i < n_refs; i++)
		if (refs[i].rule != DG_REF_NO_RULE)
			count[refs[i].rule]++;
	for (size_t i = 0; i < pol->n_rules; i++) {
		struct dg_rule *r = &pol->rules[i];
		free(r->endpoints);
		r->endpoints = count[i] ? xcalloc(count[i], sizeof(*r->endpoints)) : NULL;
		r->n_endpoints = 0;
	}

	for (size_t i = 0; i < n_refs; i++) {
		const struct dg_epref *ref = &refs[i];
		uint64_t v;

		if (!dg_strmap_get(names, ref->name, &v)) {
			dg_diag_error(diag, &ref->loc,
				      "undefined endpoint '%s'; define it with 'endpoint %s ADDRESS' "
				      "or correct the name", ref->name, ref->name);
			continue;
		}
		size_t e = (size_t)v;
		if (ref->rule == DG_REF_NO_RULE) {
			used[e] = true;
			continue;
		}
		struct dg_rule *r = &pol->rules[ref->rule];
		if (r->action != DG_ACTION_LISTEN)
			used[e] = true;
		if (stamp[e] == ref->rule) {
			dg_diag_warning(diag, &ref->loc,
					"endpoint '%s' is named twice in this rule; remove one",
					ref->name);
			continue;
		}
		stamp[e] = ref->rule;
		if (r->action == DG_ACTION_LISTEN && !has_tcp(&pol->endpoints[e]))
			dg_diag_error(diag, &ref->loc,
				      "endpoint '%s' has no tcp address: 'listen' guards tcp binds "
				      "only; remove it from this rule", ref->name);
		r->endpoints[r->n_endpoints++] = e;
	}
	free(count);
	free(stamp);
}

/* ---- overlapping endpoints ------------------------------------------------ */

struct aref {
	const struct dg_endpoint *ep;
	const struct dg_addr *addr;
	size_t e, a;
	const char *base;	/* unix: the file name */
};

static int cmp_order(const struct aref *x, const struct aref *y)
{
	if (x->e != y->e)
		return x->e < y->e ? -1 : 1;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return 0;
}

static int cmp_tcp(const void *px, const void *py)
{
	const struct aref *x = px, *y = py;

	if (x->addr->port != y->addr->port)
		return x->addr->port < y->addr->port ? -1 : 1;
	/* `*` first in its port */
	bool xa = x->addr->kind == DG_ADDR_TCP_ANY, ya = y->addr->kind == DG_ADDR_TCP_ANY;
	if (xa != ya)
		return xa ? -1 : 1;
	if (x->addr->kind != y->addr->kind)
		return x->addr->kind < y->addr->kind ? -1 : 1;
	int c = memcmp(x->addr->addr, y->addr->addr, sizeof(x->addr->addr));
	return c ? c : cmp_order(x, y);
}

static bool same_tcp(const struct aref *x, const struct aref *y)
{
	return x->addr->port == y->addr->port && x->addr->kind == y->addr->kind &&
	       !memcmp(x->addr->addr, y->addr->addr, sizeof(x->addr->addr));
}

static int cmp_path(const void *px, const void *py)
{
	const struct aref *x = px, *y = py;
	int c = strcmp(x->addr->path, y->addr->path);
	return c ? c : cmp_order(x, y);
}

static int cmp_base(const void *px, const void *py)
{
	const struct aref *x = px, *y = py;
	int c = strcmp(x->base, y->base);
	return c ? c : cmp_order(x, y);
}

/* Two addresses that are the same: an error across endpoints, a warning in one. */
static void report_same(const struct aref *x, const struct aref *y, struct dg_diag *diag)
{
	const struct aref *first = cmp_order(x, y) < 0 ? x : y, *second = first == x ? y : x;
	char text[ADDR_TEXT_MAX];

	dg_addr_format(second->addr, text, sizeof(text));
	if (first->e == second->e) {
		dg_diag_warning(diag, &second->addr->loc,
				"%s is listed twice in endpoint '%s'; remove one", text,
				second->ep->name);
		dg_diag_note(diag, &first->addr->loc, "first listed here");
		return;
	}
	dg_diag_error(diag, &second->addr->loc,
		      "%s is already in endpoint '%s'; an address may belong to one endpoint only",
		      text, first->ep->name);
	dg_diag_note(diag, &first->addr->loc, "endpoint '%s' has it here", first->ep->name);
}

/* `star` is `*:P`, `other` another address with port P. */
static void report_star(const struct aref *star, const struct aref *other, struct dg_diag *diag)
{
	const struct aref *first = cmp_order(star, other) < 0 ? star : other;
	const struct aref *second = first == star ? other : star;
	char s[ADDR_TEXT_MAX], f[ADDR_TEXT_MAX];

	dg_addr_format(second->addr, s, sizeof(s));
	dg_addr_format(first->addr, f, sizeof(f));
	if (star->e == other->e) {
		char o[ADDR_TEXT_MAX], st[ADDR_TEXT_MAX];
		dg_addr_format(other->addr, o, sizeof(o));
		dg_addr_format(star->addr, st, sizeof(st));
		dg_diag_warning(diag, &other->addr->loc,
				"%s is redundant in endpoint '%s': %s covers it; remove it", o,
				other->ep->name, st);
		return;
	}
	dg_diag_error(diag, &second->addr->loc,
		      "%s overlaps %s of endpoint '%s': '*' covers every address on port %u; "
		      "remove one of them", s, f, first->ep->name, star->addr->port);
	dg_diag_note(diag, &first->addr->loc, "endpoint '%s' has %s here", first->ep->name, f);
}

static void check_overlaps(const struct dg_policy *pol, struct dg_diag *diag)
{
	size_t n_tcp = 0, n_unix = 0;

	for (size_t e = 0; e < pol->n_endpoints; e++)
		for (size_t a = 0; a < pol->endpoints[e].n_addrs; a++) {
			if (pol->endpoints[e].addrs[a].kind == DG_ADDR_UNIX)
				n_unix++;
			else
				n_tcp++;
		}
	struct aref *tcp = xcalloc(n_tcp, sizeof(*tcp));
	struct aref *unx = xcalloc(n_unix, sizeof(*unx));
	n_tcp = n_unix = 0;
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		for (size_t a = 0; a < ep->n_addrs; a++) {
			const struct dg_addr *addr = &ep->addrs[a];
			struct aref r = { .ep = ep, .addr = addr, .e = e, .a = a };
			if (addr->kind == DG_ADDR_UNIX) {
				const char *slash = strrchr(addr->path, '/');
				r.base = slash ? slash + 1 : addr->path;
				unx[n_unix++] = r;
			} else {
				tcp[n_tcp++] = r;
			}
		}
	}

	qsort(tcp, n_tcp, sizeof(*tcp), cmp_tcp);
	for (size_t i = 0; i < n_tcp;) {
		size_t j = i;
		while (j < n_tcp && tcp[j].addr->port == tcp[i].addr->port)
			j++;
		const struct aref *star = tcp[i].addr->kind == DG_ADDR_TCP_ANY ? &tcp[i] : NULL;
		size_t lead = i;
		for (size_t k = i; k < j; k++) {
			if (k > i && same_tcp(&tcp[k], &tcp[k - 1]))
				report_same(&tcp[k], &tcp[lead], diag);
			else
				lead = k;
			if (star && tcp[k].addr->kind != DG_ADDR_TCP_ANY)
				report_star(star, &tcp[k], diag);
		}
		i = j;
	}

	qsort(unx, n_unix, sizeof(*unx), cmp_path);
	for (size_t k = 1, lead = 0; k < n_unix; k++) {
		if (!strcmp(unx[k].addr->path, unx[k - 1].addr->path))
			report_same(&unx[k], &unx[lead], diag);
		else
			lead = k;
	}
	qsort(unx, n_unix, sizeof(*unx), cmp_base);
	for (size_t k = 1, lead = 0; k < n_unix; k++) {
		if (strcmp(unx[k].base, unx[lead].base) != 0) {
			lead = k;
			continue;
		}
		const struct aref *x = &unx[lead], *y = &unx[k];
		if (x->e == y->e || !strcmp(x->addr->path, y->addr->path))
			continue;
		dg_diag_error(diag, &y->addr->loc,
			      "unix %s has the same file name '%s' as unix %s of endpoint '%s': "
			      "dockguard identifies unix endpoints by file name; rename one of the "
			      "sockets or put both paths in one endpoint",
			      y->addr->path, y->base, x->addr->path, x->ep->name);
		dg_diag_note(diag, &x->addr->loc, "endpoint '%s' has %s here", x->ep->name,
			     x->addr->path);
	}
	free(tcp);
	free(unx);
}

/* ---- rules that can never match ------------------------------------------- */

static bool matches_everyone(const struct dg_rule *r)
{
	for (size_t i = 0; i < r->n_subjects; i++)
		if (r->subjects[i].kind != DG_SUBJ_ANY)
			return false;
	return true;
}

#define MAX_DECIDERS_SHOWN 3

/* `seen[rule] == stamp`: already listed for the rule being checked. */
static void add_decider(size_t *deciders, size_t *n, size_t rule, size_t *seen, size_t stamp)
{
	if (seen[rule] == stamp)
		return;
	seen[rule] = stamp;
	deciders[(*n)++] = rule;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static void report_unreachable(const struct dg_policy *pol, const struct dg_rule *r,
			       size_t *deciders, size_t n, struct dg_diag *diag)
{
	qsort(deciders, n, sizeof(*deciders), cmp_size);

	char *list = NULL;
	size_t shown = n < MAX_DECIDERS_SHOWN ? n : MAX_DECIDERS_SHOWN;
	for (size_t i = 0; i < shown; i++) {
		const struct dg_loc *l = &pol->rules[deciders[i]].loc;
		const char *sep = i == 0 ? "" : (i + 1 == n ? " and " : ", ");
		char *m = xasprintf("%s%s%s:%u", list ? list : "", sep,
				    l->file ? l->file->name : "?", l->line);
		free(list);
		list = m;
	}
	if (n == 1)
		dg_diag_error(diag, &r->loc,
			      "rule can never match: the rule at %s already decides for everyone",
			      list);
	else
		dg_diag_error(diag, &r->loc,
			      "rule can never match: the rules at %s%s already decide for everyone",
			      list, n > shown ? " and others" : "");
	free(list);
	for (size_t i = 0; i < shown; i++)
		dg_diag_note(diag, &pol->rules[deciders[i]].loc, "this rule decides for everyone");
}

static void check_reachable(const struct dg_policy *pol, bool listen, struct dg_diag *diag)
{
	size_t ne = pol->n_endpoints;
	size_t *by = xmalloc((ne ? ne : 1) * sizeof(*by));
	size_t *deciders = xmalloc((ne + 1) * sizeof(*deciders));
	size_t *seen = xmalloc((pol->n_rules ? pol->n_rules : 1) * sizeof(*seen));
	size_t any = SIZE_MAX;

	for (size_t i = 0; i < pol->n_rules; i++)
		seen[i] = SIZE_MAX;

	for (size_t e = 0; e < ne; e++)
		by[e] = SIZE_MAX;
	for (size_t i = 0; i < pol->n_rules; i++) {
		const struct dg_rule *r = &pol->rules[i];
		size_t n = 0;

		if ((r->action == DG_ACTION_LISTEN) != listen)
			continue;
		if (any != SIZE_MAX) {
			deciders[n++] = any;
		} else {
			size_t relevant = 0;
			bool covered = true;
			size_t count = r->any_endpoint ? ne : r->n_endpoints;
			for (size_t k = 0; k < count; k++) {
				size_t e = r->any_endpoint ? k : r->endpoints[k];
				if (listen && !has_tcp(&pol->endpoints[e]))
					continue;
				relevant++;
				if (by[e] == SIZE_MAX) {
					covered = false;
					break;
				}
				add_decider(deciders, &n, by[e], seen, i);
			}
			if (!covered || !relevant)
				n = 0;
		}
		if (n) {
			report_unreachable(pol, r, deciders, n, diag);
			continue;
		}
		if (!matches_everyone(r))
			continue;
		if (r->any_endpoint) {
			any = i;
			continue;
		}
		for (size_t k = 0; k < r->n_endpoints; k++)
			if (by[r->endpoints[k]] == SIZE_MAX)
				by[r->endpoints[k]] = i;
	}
	free(by);
	free(deciders);
	free(seen);
}

/* ---- all together --------------------------------------------------------- */

void dg_policy_check(struct dg_policy *pol, const struct dg_epref *refs, size_t n_refs,
		     struct dg_diag *diag)
{
	size_t ne = pol->n_endpoints;
	struct dg_strmap names = { 0 };
	bool *dup = xcalloc(ne, sizeof(*dup));
	bool *used = xcalloc(ne, sizeof(*used));

	check_duplicates(pol, &names, dup, diag);
	resolve(pol, refs, n_refs, &names, used, diag);
	dg_strmap_free(&names);

	pol->n_items = 0;
	bool any_used = false, any_tcp = false;
	for (size_t i = 0; i < pol->n_rules; i++) {
		const struct dg_rule *r = &pol->rules[i];
		for (size_t j = 0; j < r->n_subjects; j++)
			pol->n_items += r->subjects[j].n_items;
		if (r->any_endpoint && r->action != DG_ACTION_LISTEN)
			any_used = true;
	}
	for (size_t e = 0; e < ne; e++)
		any_tcp = any_tcp || has_tcp(&pol->endpoints[e]);

	check_overlaps(pol, diag);

	for (size_t i = 0; i < pol->n_rules; i++) {
		const struct dg_rule *r = &pol->rules[i];
		if (r->action == DG_ACTION_LISTEN && r->any_endpoint && !any_tcp)
			dg_diag_error(diag, &r->loc,
				      "no endpoint has a tcp address for 'listen any' to guard; "
				      "define a tcp endpoint or remove the rule");
	}
	check_reachable(pol, false, diag);
	check_reachable(pol, true, diag);
	dg_policy_check_apis(pol, diag);

	for (size_t e = 0; e < ne; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		if (used[e] || dup[e] || any_used)
			continue;
		dg_diag_warning(diag, &ep->loc,
				"no rule names endpoint '%s': every connect to it is denied; "
				"add a rule or remove the endpoint", ep->name);
	}
	free(dup);
	free(used);
}
