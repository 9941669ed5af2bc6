/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `set api-rate N/s|N/min`: how many requests a relay takes from one caller
 * (uid and cgroup, as its connection limit counts them), a token bucket per
 * caller that holds one period's worth. A caller over it gets 429.
 */
#ifndef DOCKGUARD_RELAY_RATE_H
#define DOCKGUARD_RELAY_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dg_rate_bucket {
	uint32_t uid;
	char *cgroup;
	double tokens;
	uint64_t last_ns;
};

struct dg_rate_table {
	double per_ns;			/* tokens a nanosecond; 0: no limit */
	double burst;
	struct dg_rate_bucket *buckets;	/* only callers whose bucket is not full */
	size_t n, cap;
};

/* `count` requests per `per` seconds; `per` 0: no limit. Forgets every bucket. */
void dg_rate_set(struct dg_rate_table *t, uint32_t count, uint32_t per);

/* Whether the caller may send one more request at `now_ns` (monotonic). */
bool dg_rate_take(struct dg_rate_table *t, uint32_t uid, const char *cgroup, uint64_t now_ns);

void dg_rate_fini(struct dg_rate_table *t);

#endif
