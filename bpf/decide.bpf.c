// SPDX-License-Identifier: GPL-2.0-only
/* The one definition of decide() (verdict.h): count, report, verdict. */
#include "verdict.h"

__noinline int decide(const struct decision *d, const struct dest_info *di)
{
	bool allowed, log, audit = false;

	if (!d || !di)
		return VERDICT_DENY;
	if (d->rule < DG_MAX_RULES) {
		__u32 k = (d->slot & 1) * DG_MAX_RULES + d->rule;
		struct dg_rule_action *r = bpf_map_lookup_elem(&rules, &k);
		if (!r)
			return VERDICT_DENY;
		allowed = r->action == DG_ACT_ALLOW;
		log = allowed ? (r->flags & DG_RULE_LOG) : !(r->flags & DG_RULE_QUIET);
		audit = r->flags & DG_RULE_AUDIT;
	} else if (d->op == DG_OP_BIND) {
		/* no listen rule allows it: refused even in audit mode, or the
		 * learning phase would leave the port open to squatters */
		allowed = false;
		log = true;
	} else {
		allowed = d->default_action == DG_ACT_ALLOW;
		log = d->default_log;
		audit = allowed;	/* the only default that allows is `set default audit` */
	}
	count(d->slot & 1, d->rule, allowed);
	if (log)
		report(d, di, !allowed ? DG_ACT_DENY : audit ? DG_ACT_AUDIT : DG_ACT_ALLOW);
	return allowed ? VERDICT_ALLOW : VERDICT_DENY;
}
