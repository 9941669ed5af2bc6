/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * No climbing (spec §8): a container created (or renamed) through a relay
 * must not be given a name, labels or an image that a rule other than the
 * creator's own admitting one trusts. Otherwise whoever may create
 * containers could make one that the policy lets do more than its creator
 * (`allow r from container label admin=true api full`).
 */
#ifndef DOCKGUARD_RELAY_CLIMB_H
#define DOCKGUARD_RELAY_CLIMB_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* Whether some allow (or audit) rule of `pol` trusts container names,
 * labels, images or services: then creates and renames are checked. */
bool dg_climb_possible(const struct dg_policy *pol);

/*
 * The rule (index) that a container named `name` ("" when dockerd picks
 * one), with the create body's Labels and Image, would be trusted by,
 * other than `admitting`; or SIZE_MAX. `body` NULL: a rename, which can
 * only add the trust of rules that name containers (its labels, unknown
 * here, are taken to match theirs). A body that cannot be read counts as climbing (`*undecidable`).
 */
size_t dg_climb_rule(const struct dg_policy *pol, size_t admitting, const char *name,
		     const char *body, size_t len, bool *undecidable);

#endif
