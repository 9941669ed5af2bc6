// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rule identities: what lets a rule's counters go on from one policy
 * generation to the next (`rule_totals` in bpf/dockguard_abi.h).
 *
 * A rule is who it is by what it says: its action, its log mode, the names of
 * its endpoints (as a set) and its subjects with their items (uids and gids as
 * resolved, so `user alice` and `user 1001` are one rule). Not by its line or
 * file: a comment added above it, a drop-in renamed or another rule inserted
 * before it keep its counts. Change what it says and it is a new rule that
 * starts at zero. Identical rules are told apart by their order among
 * themselves.
 */
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "util/util.h"

static void feed(struct sha256_ctx *sha, const void *data, size_t len)
{
	uint32_t n = (uint32_t)len;

	/* length-prefixed, so that no two different rules feed the same bytes */
	sha256_update(sha, sizeof(n), (const uint8_t *)&n);
	sha256_update(sha, len, data);
}

static void feed_str(struct sha256_ctx *sha, const char *s)
{
	feed(sha, s ? s : "", s ? strlen(s) : 0);
}

static void feed_u32(struct sha256_ctx *sha, uint32_t v)
{
	feed(sha, &v, sizeof(v));
}

static uint64_t digest64(struct sha256_ctx *sha)
{
	uint8_t md[SHA256_DIGEST_SIZE];
	uint64_t v;

	sha256_digest(sha, sizeof(md), md);
	memcpy(&v, md, sizeof(v));
	return v;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint64_t rule_digest(const struct dg_policy *pol, const struct dg_rule *rule)
{
	struct sha256_ctx sha;

	sha256_init(&sha);
	feed_str(&sha, "rule");
	feed_u32(&sha, (uint32_t)rule->action);
	feed_u32(&sha, (uint32_t)rule->log);
	if (rule->any_endpoint) {
		feed_str(&sha, "any");
	} else {
		const char **names = xcalloc(rule->n_endpoints + 1, sizeof(*names));
		for (size_t i = 0; i < rule->n_endpoints; i++)
			names[i] = pol->endpoints[rule->endpoints[i]].name;
		qsort(names, rule->n_endpoints, sizeof(*names), cmp_names);
		feed_u32(&sha, (uint32_t)rule->n_endpoints);
		for (size_t i = 0; i < rule->n_endpoints; i++)
			feed_str(&sha, names[i]);
		free(names);
	}
	feed_u32(&sha, (uint32_t)rule->n_subjects);
	for (size_t s = 0; s < rule->n_subjects; s++) {
		const struct dg_subject *subj = &rule->subjects[s];
		feed_u32(&sha, (uint32_t)subj->kind);
		feed_u32(&sha, (uint32_t)subj->ckey);
		feed_u32(&sha, (uint32_t)subj->n_items);
		for (size_t i = 0; i < subj->n_items; i++) {
			const struct dg_item *it = &subj->items[i];
			feed_u32(&sha, it->lo);
			feed_u32(&sha, it->hi);
			feed_str(&sha, it->str);
			feed_str(&sha, it->value);
		}
	}
	return digest64(&sha);
}

struct ranked {
	uint64_t digest;
	size_t index;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->digest != y->digest)
		return x->digest < y->digest ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

void dg_rule_identities(const struct dg_policy *pol, uint64_t *ids)
{
	struct ranked *r = xcalloc(pol->n_rules + 1, sizeof(*r));

	for (size_t i = 0; i < pol->n_rules; i++)
		r[i] = (struct ranked){ rule_digest(pol, &pol->rules[i]), i };
	/* the n-th of identical rules (in policy order) is told by n */
	qsort(r, pol->n_rules, sizeof(*r), cmp_ranked);
	for (size_t i = 0, nth = 0; i < pol->n_rules; i++) {
		nth = i && r[i].digest == r[i - 1].digest ? nth + 1 : 0;
		ids[r[i].index] = r[i].digest ^ (nth * 0x9e3779b97f4a7c15ULL);
	}
	free(r);
}

uint64_t dg_default_identity(enum dg_default action)
{
	struct sha256_ctx sha;

	sha256_init(&sha);
	feed_str(&sha, "default");
	feed_u32(&sha, (uint32_t)action);
	return digest64(&sha);
}
