// SPDX-License-Identifier: GPL-2.0-only
/* The API verdict (judge.h). */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compile/compile.h"
#include "relay/judge.h"

bool dg_api_pattern_matches(const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;

	/* both start with '/'; compare a segment at a time */
	while (*p == '/' && *s == '/') {
		const char *pe = strchr(p + 1, '/'), *se = strchr(s + 1, '/');
		size_t plen = pe ? (size_t)(pe - p - 1) : strlen(p + 1);
		size_t slen = se ? (size_t)(se - s - 1) : strlen(s + 1);

		if (plen == 2 && p[1] == '*' && p[2] == '*') {
			const char *rest = p + 3;

			/* `**`: one segment or more, then the rest of the
			 * pattern (which holds no other `**`: check_pattern) */
			if (!slen)
				return false;
			if (!*rest)
				return true;
			for (const char *q = se; q; q = strchr(q + 1, '/'))
				if (dg_api_pattern_matches(rest, q))
					return true;
			return false;
		}
		if (!slen)
			return false;
		if (!(plen == 1 && p[1] == '*') &&
		    (plen != slen || memcmp(p + 1, s + 1, plen) != 0))
			return false;
		p += 1 + plen;
		s += 1 + slen;
	}
	return !*p && !*s;
}

static bool cond_holds(const struct dg_api_cond *c, const struct dg_target *t)
{
	const char *v = dg_target_param(t, c->key);

	switch (c->op) {
	case DG_COND_ABSENT:
		return !v;
	case DG_COND_MATCH:
		return v && fnmatch(c->glob, v, 0) == 0;
	case DG_COND_NO_MATCH:
		return !v || fnmatch(c->glob, v, 0) != 0;
	}
	return false;
}

static bool rule_matches(const struct dg_api_rule *r, uint32_t method, const struct dg_target *t)
{
	bool path = false;

	if (!(r->methods & method))
		return false;
	for (size_t i = 0; i < r->n_patterns && !path; i++)
		path = dg_api_pattern_matches(r->patterns[i], t->path);
	if (!path)
		return false;
	for (size_t i = 0; i < r->n_conds; i++)
		if (!cond_holds(&r->conds[i], t))
			return false;
	return true;
}

void dg_api_judge(const struct dg_policy *pol, size_t profile, const char *method,
		  const struct dg_target *t, struct dg_api_decision *out)
{
	uint32_t bit = dg_api_method_bit(method);
	bool audit = false;
	size_t steps = 0;

	memset(out, 0, sizeof(*out));
	for (size_t at = profile; at < pol->n_apis && steps++ <= pol->n_apis;
	     at = pol->apis[at].parent) {
		const struct dg_api_profile *a = &pol->apis[at];
		audit |= at == profile && dg_api_profile_audits(a, time(NULL));
		for (size_t r = 0; bit && r < a->n_rules; r++) {
			if (!rule_matches(&a->rules[r], bit, t))
				continue;
			out->rule = &a->rules[r];
			out->profile = a;
			out->verdict = a->rules[r].deny ? DG_API_DENIED : DG_API_ALLOWED;
			out->log = a->rules[r].deny ? a->rules[r].log != DG_LOG_QUIET
						    : a->rules[r].log == DG_LOG_ALWAYS;
			return;
		}
		if (a->parent == DG_API_NO_PARENT)
			break;
	}
	/* no rule: learning mode forwards and logs, else the default */
	out->log = true;
	out->verdict = audit || pol->api_default == DG_DEFAULT_AUDIT ? DG_API_AUDITED
								      : DG_API_DENIED;
}

static const char *place(const struct dg_loc *loc, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u", loc->file ? loc->file->name : "?", loc->line);
	return buf;
}

bool dg_api_still_allowed(const struct dg_policy *pol, const struct dg_image *img,
			  const char *relay, const struct dg_subject_id *who, const char *method,
			  const char *raw_target, char *rule, size_t rule_len)
{
	struct dg_verdict v;
	struct dg_api_decision d;
	struct dg_target t;
	const char *why;
	size_t e, profile = DG_API_NO_PARENT;

	for (e = 0; e < pol->n_endpoints; e++)
		if (pol->endpoints[e].relay && !strcmp(pol->endpoints[e].name, relay))
			break;
	if (e == pol->n_endpoints) {
		snprintf(rule, rule_len, "the policy has no relay %s any more", relay);
		return false;
	}
	dg_image_evaluate_endpoint(img, who, (uint8_t)(e + 1), DG_OP_CONNECT, &v);
	if (!v.allowed) {
		if (v.rule == DG_RULE_DEFAULT)
			snprintf(rule, rule_len, "default");
		else
			place(&pol->rules[v.rule].loc, rule, rule_len);
		return false;
	}
	if (v.rule != DG_RULE_DEFAULT)
		profile = pol->rules[v.rule].api_profile;
	if (dg_target_parse(raw_target, &t, &why)) {
		snprintf(rule, rule_len, "%s", why);
		return false;
	}
	dg_api_judge(pol, profile, method, &t, &d);
	dg_target_free(&t);
	if (d.rule)
		place(&d.rule->loc, rule, rule_len);
	else
		snprintf(rule, rule_len, "default");
	return d.verdict != DG_API_DENIED;
}
