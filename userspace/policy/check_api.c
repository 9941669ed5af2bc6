// SPDX-License-Identifier: GPL-2.0-only
/*
 * Semantic checks of relays and API profiles (after the endpoint names are
 * resolved): every profile named exists, `extends` has no cycle, a rule that
 * allows a relay names a profile and one that names a profile allows a relay,
 * unused profiles and API rules that an earlier one hides are reported.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/internal.h"
#include "util/util.h"

static size_t find_profile(const struct dg_policy *pol, const char *name)
{
	/* the file's own profiles come after the built-in ones: a later
	 * definition with a built-in name was already refused */
	for (size_t i = pol->n_apis; i > 0; i--)
		if (!strcmp(pol->apis[i - 1].name, name))
			return i - 1;
	return DG_API_NO_PARENT;
}

static void check_profile_names(struct dg_policy *pol, struct dg_diag *diag)
{
	for (size_t i = 0; i < pol->n_apis; i++) {
		struct dg_api_profile *a = &pol->apis[i];
		for (size_t j = 0; j < i; j++) {
			if (strcmp(pol->apis[j].name, a->name) || pol->apis[j].builtin)
				continue;
			dg_diag_error(diag, &a->loc, "profile '%s' is defined twice", a->name);
			dg_diag_note(diag, &pol->apis[j].loc, "the first definition");
			break;
		}
		if (!a->extends)
			continue;
		a->parent = find_profile(pol, a->extends);
		if (a->parent == DG_API_NO_PARENT)
			dg_diag_error(diag, &a->extends_loc, "unknown profile '%s'; define it with "
				      "'api %s { ... }' or extend a built-in one (full, read-only, traefik, watchtower, portainer-agent, ci)",
				      a->extends, a->extends);
	}
	/* cycles: walking up from a profile must end within n steps */
	for (size_t i = 0; i < pol->n_apis; i++) {
		size_t at = i, steps = 0;
		while (at != DG_API_NO_PARENT && steps <= pol->n_apis) {
			at = pol->apis[at].parent;
			steps++;
		}
		if (at != DG_API_NO_PARENT) {
			dg_diag_error(diag, &pol->apis[i].extends_loc,
				      "profile '%s' extends itself through 'extends'; break the cycle",
				      pol->apis[i].name);
			pol->apis[i].parent = DG_API_NO_PARENT;
		}
	}
}

/* Whether rule `later` can never match because `earlier` matches first:
 * the same patterns (or a subset), methods within, and no query condition
 * on the earlier one. */
static bool hides(const struct dg_api_rule *earlier, const struct dg_api_rule *later)
{
	if (earlier->n_conds || (later->methods & ~earlier->methods))
		return false;
	for (size_t i = 0; i < later->n_patterns; i++) {
		bool found = false;
		for (size_t j = 0; j < earlier->n_patterns && !found; j++)
			found = !strcmp(earlier->patterns[j], "/**") ||
				!strcmp(earlier->patterns[j], later->patterns[i]);
		if (!found)
			return false;
	}
	return true;
}

static void check_hidden_rules(const struct dg_policy *pol, struct dg_diag *diag)
{
	for (size_t i = 0; i < pol->n_apis; i++) {
		const struct dg_api_profile *a = &pol->apis[i];
		if (a->builtin)
			continue;
		for (size_t r = 1; r < a->n_rules; r++) {
			for (size_t e = 0; e < r; e++) {
				if (!hides(&a->rules[e], &a->rules[r]))
					continue;
				dg_diag_warning(diag, &a->rules[r].loc, "this API rule never decides: "
						"the rule at line %u matches every request it does",
						a->rules[e].loc.line);
				break;
			}
		}
	}
}

static bool allows_a_relay(const struct dg_policy *pol, const struct dg_rule *r)
{
	if (r->action != DG_ACTION_ALLOW && r->action != DG_ACTION_AUDIT)
		return false;
	if (r->any_endpoint) {
		for (size_t e = 0; e < pol->n_endpoints; e++)
			if (pol->endpoints[e].relay)
				return true;
		return false;
	}
	for (size_t i = 0; i < r->n_endpoints; i++)
		if (pol->endpoints[r->endpoints[i]].relay)
			return true;
	return false;
}

/* Whether profile `p` (or one it extends) may let its callers create
 * containers: an allow rule for POST on /containers/create or a pattern
 * that covers it (a warning's question: no need to be exact). */
static bool creates_containers(const struct dg_policy *pol, size_t p)
{
	static const char *const covering[] = { "/containers/create", "/containers/*",
						 "/containers/**", "/**" };

	for (size_t at = p; at != DG_API_NO_PARENT; at = pol->apis[at].parent) {
		const struct dg_api_profile *a = &pol->apis[at];
		for (size_t i = 0; i < a->n_rules; i++) {
			const struct dg_api_rule *r = &a->rules[i];
			if (r->deny || !(r->methods & DG_API_POST))
				continue;
			for (size_t k = 0; k < r->n_patterns; k++)
				for (size_t c = 0; c < ARRAY_SIZE(covering); c++)
					if (!strcmp(r->patterns[k], covering[c]))
						return true;
		}
	}
	return false;
}

bool dg_rule_trusts_containers(const struct dg_rule *r)
{
	if (r->action != DG_ACTION_ALLOW && r->action != DG_ACTION_AUDIT)
		return false;
	for (size_t s = 0; s < r->n_subjects; s++)
		if (r->subjects[s].kind == DG_SUBJ_CONTAINER && r->subjects[s].ckey != DG_CT_ID)
			return true;
	return false;
}

/* No climbing (spec §8): say where callers that may create containers meet
 * rules that trust containers by name, label, image or service. */
static void check_climbing(const struct dg_policy *pol, struct dg_diag *diag)
{
	for (size_t i = 0; i < pol->n_rules; i++) {
		const struct dg_rule *r = &pol->rules[i];
		if (r->api_profile == DG_API_NO_PARENT || !creates_containers(pol, r->api_profile))
			continue;
		for (size_t j = 0; j < pol->n_rules; j++) {
			if (j == i || !dg_rule_trusts_containers(&pol->rules[j]))
				continue;
			dg_diag_warning(diag, &r->api_loc, "profile '%s' lets these callers create "
					"containers, and a rule trusts containers by name, label, image "
					"or service: the relay refuses a create or rename that would "
					"make a container trusted by it (no climbing)", r->api);
			dg_diag_note(diag, &pol->rules[j].loc, "the rule that trusts containers");
			break;
		}
	}
}

void dg_policy_check_apis(struct dg_policy *pol, struct dg_diag *diag)
{
	bool *used = xcalloc(pol->n_apis + 1, sizeof(*used));

	check_profile_names(pol, diag);
	for (size_t i = 0; i < pol->n_rules; i++) {
		struct dg_rule *r = &pol->rules[i];
		bool relay = allows_a_relay(pol, r);

		r->api_profile = DG_API_NO_PARENT;
		if (!r->api) {
			if (relay)
				dg_diag_error(diag, &r->loc, "a rule that allows a relay names the API "
					      "profile its callers get: add 'api PROFILE' ('api full' for "
					      "the whole API, which is root on the host)");
			continue;
		}
		if (!relay) {
			dg_diag_error(diag, &r->api_loc, "'api %s' applies to relays, and this rule "
				      "allows none; remove it or name a relay", r->api);
			continue;
		}
		r->api_profile = find_profile(pol, r->api);
		if (r->api_profile == DG_API_NO_PARENT) {
			dg_diag_error(diag, &r->api_loc, "unknown profile '%s'; define it with "
				      "'api %s { ... }' or use a built-in one (full, read-only, traefik, watchtower, portainer-agent, ci)",
				      r->api, r->api);
			continue;
		}
		for (size_t at = r->api_profile; at != DG_API_NO_PARENT && !used[at];
		     at = pol->apis[at].parent)
			used[at] = true;
	}
	for (size_t i = 0; i < pol->n_apis; i++)
		if (!used[i] && !pol->apis[i].builtin)
			dg_diag_warning(diag, &pol->apis[i].loc, "profile '%s' is not used by any "
					"rule", pol->apis[i].name);
	check_hidden_rules(pol, diag);
	check_climbing(pol, diag);
	for (size_t i = 0; i < pol->n_apis; i++) {
		const struct dg_api_profile *a = &pol->apis[i];
		if (a->audit && a->audit_until && (int64_t)time(NULL) >= a->audit_until)
			dg_diag_warning(diag, &a->audit_loc, "learning mode of profile '%s' has "
					"ended: requests that none of its rules matches are refused "
					"now; remove 'audit' or move its date", a->name);
	}
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		if (ep->relay && ep->upstream.kind == DG_ADDR_TCP_ANY)
			dg_diag_error(diag, &ep->upstream.loc, "relay '%s': an upstream is one "
				      "address, not '*'; write upstream tcp ADDRESS:PORT or upstream "
				      "unix PATH", ep->name);
	}
	free(used);
}
