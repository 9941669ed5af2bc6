/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The API verdict: which rule of a caller's profile decides a request
 * (method and canonical target). The profile's own rules first, then those
 * of the profile it extends; the first that matches decides; none: the
 * profile's `audit`, else `set api-default`.
 */
#ifndef DOCKGUARD_RELAY_JUDGE_H
#define DOCKGUARD_RELAY_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"
#include "relay/target.h"

enum dg_api_verdict {
	DG_API_ALLOWED,		/* a rule allows it */
	DG_API_DENIED,		/* a rule denies it, or no rule matched and the default denies */
	DG_API_AUDITED,		/* no rule matched; forwarded and logged (learning mode) */
};

struct dg_api_decision {
	enum dg_api_verdict verdict;
	const struct dg_api_rule *rule;		/* NULL: no rule matched */
	const struct dg_api_profile *profile;	/* where `rule` is */
	bool log;				/* report it as an event */
};

/* Whether `pattern` matches the decoded, version-less `path`. */
bool dg_api_pattern_matches(const char *pattern, const char *path);

/* Judges `method` on `t` with profile `profile` (an index in pol->apis). */
void dg_api_judge(const struct dg_policy *pol, size_t profile, const char *method,
		  const struct dg_target *t, struct dg_api_decision *out);

/*
 * Whether the policy now lets `who` ask `method` `raw_target` of relay
 * `relay` (by name): its connect rule, then that rule's profile, as a new
 * request would be judged. *rule: where the refusal comes from ("FILE:LINE",
 * "default", or why the request cannot be judged).
 */
struct dg_image;
struct dg_subject_id;
bool dg_api_still_allowed(const struct dg_policy *pol, const struct dg_image *img,
			  const char *relay, const struct dg_subject_id *who, const char *method,
			  const char *raw_target, char *rule, size_t rule_len);

#endif
