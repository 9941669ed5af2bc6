/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared between the policy parser and its semantic checks; not an API. */
#ifndef DOCKGUARD_POLICY_INTERNAL_H
#define DOCKGUARD_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"
#include "policy/policy.h"

/* A string-keyed hash table (endpoint names, user and group look-ups). */
struct dg_strmap_slot {
	char *key;
	uint64_t value;
};

struct dg_strmap {
	struct dg_strmap_slot *slots;
	size_t cap, n;
};

bool dg_strmap_get(const struct dg_strmap *map, const char *key, uint64_t *value);
/* Adds or replaces; the key is copied. */
void dg_strmap_put(struct dg_strmap *map, const char *key, uint64_t value);
void dg_strmap_free(struct dg_strmap *map);

/*
 * An endpoint named by a rule. Names are resolved once the whole policy is
 * read, so that endpoints may be defined after the rules that use them.
 */
#define DG_REF_NO_RULE SIZE_MAX		/* the rule was dropped after an error */
struct dg_epref {
	size_t rule;
	char *name;
	struct dg_loc loc;
};

/*
 * Semantic checks: resolves the rules' endpoint names (filling
 * rule->endpoints), counts the items and reports duplicate, overlapping and
 * unused endpoints, unreachable rules and `listen` without TCP.
 */
void dg_policy_check(struct dg_policy *policy, const struct dg_epref *refs, size_t n_refs,
		     struct dg_diag *diag);

/* The checks of relays and API profiles (check_api.c): resolves `extends`
 * and each rule's `api NAME` (rule->api_profile). */
void dg_policy_check_apis(struct dg_policy *policy, struct dg_diag *diag);

/*
 * Whether root alone can change the policy file `path`, whose resolved path
 * (without symbolic links) is `real`: the directory the name is in, the
 * file, and every directory above either are root's and not writable by
 * group or others (a sticky directory such as /tmp may be). Otherwise adds
 * `NAME: error: ...` with the fix and returns false.
 */
bool dg_policy_file_trusted(const char *name, const char *path, const char *real,
			    struct dg_diag *diag);

/* The same for a directory that include patterns read (true when missing). */
bool dg_policy_dir_trusted(const char *name, const char *dir, struct dg_diag *diag);

/* Free what the struct points to, not the struct itself. */
void dg_api_rule_free_contents(struct dg_api_rule *r);
void dg_api_profile_free_contents(struct dg_api_profile *prof);
void dg_subject_free(struct dg_subject *s);
void dg_rule_free_contents(struct dg_rule *r);

/* "tcp 127.0.0.1:2375", "tcp [::1]:2375", "tcp *:2375", "unix /run/docker.sock" */
const char *dg_addr_format(const struct dg_addr *addr, char *buf, size_t size);

#endif
