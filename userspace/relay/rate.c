// SPDX-License-Identifier: GPL-2.0-only
#include <stdlib.h>
#include <string.h>

#include "relay/rate.h"
#include "util/util.h"

static void forget_all(struct dg_rate_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->buckets[i].cgroup);
	t->n = 0;
}

void dg_rate_set(struct dg_rate_table *t, uint32_t count, uint32_t per)
{
	forget_all(t);
	t->per_ns = per ? (double)count / ((double)per * 1e9) : 0;
	t->burst = count;
}

/* A bucket refilled to `now`: full ones are dropped (a caller seen again
 * starts full, which is the same), so the table holds only callers that
 * spent some of their budget lately. */
static void refill(const struct dg_rate_table *t, struct dg_rate_bucket *b, uint64_t now_ns)
{
	if (now_ns > b->last_ns)
		b->tokens += (double)(now_ns - b->last_ns) * t->per_ns;
	if (b->tokens > t->burst)
		b->tokens = t->burst;
	b->last_ns = now_ns;
}

bool dg_rate_take(struct dg_rate_table *t, uint32_t uid, const char *cgroup, uint64_t now_ns)
{
	struct dg_rate_bucket *b = NULL;

	if (t->per_ns <= 0)
		return true;
	for (size_t i = 0; i < t->n;) {
		struct dg_rate_bucket *x = &t->buckets[i];

		refill(t, x, now_ns);
		if (x->uid == uid && !strcmp(x->cgroup, cgroup)) {
			b = x;
			i++;
		} else if (x->tokens >= t->burst) {
			free(x->cgroup);
			*x = t->buckets[--t->n];	/* full: forget it */
		} else {
			i++;
		}
	}
	if (!b) {
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 16;
			t->buckets = xreallocarray(t->buckets, t->cap, sizeof(*t->buckets));
		}
		b = &t->buckets[t->n++];
		*b = (struct dg_rate_bucket){ .uid = uid, .cgroup = xstrdup(cgroup),
					      .tokens = t->burst, .last_ns = now_ns };
	}
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

void dg_rate_fini(struct dg_rate_table *t)
{
	forget_all(t);
	free(t->buckets);
	t->buckets = NULL;
	t->cap = 0;
}
