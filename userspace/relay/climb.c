// SPDX-License-Identifier: GPL-2.0-only
/*
 * No climbing: the new container as the policy would see it, matched
 * against every rule that trusts containers by what their creator chooses.
 */
#include "relay/climb.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compile/compile.h"
#include "util/util.h"

bool dg_climb_possible(const struct dg_policy *pol)
{
	for (size_t r = 0; r < pol->n_rules; r++)
		if (dg_rule_trusts_containers(&pol->rules[r]))
			return true;
	return false;
}

/* The create body's Labels and Image (keys as Go matches them). */
static bool read_body(const char *body, size_t len, struct dg_container *c)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *k;
	json_t *v;
	bool ok = json_is_object(root);

	json_object_foreach(ok ? root : NULL, k, v) {
		if (!strcasecmp(k, "Image") && json_is_string(v)) {
			c->image = xstrdup(json_string_value(v));
		} else if (!strcasecmp(k, "Labels") && json_is_object(v)) {
			const char *lk;
			json_t *lv;
			json_object_foreach(v, lk, lv) {
				if (!json_is_string(lv)) {
					ok = false;
					continue;
				}
				c->labels = xreallocarray(c->labels, c->n_labels + 1, sizeof(*c->labels));
				c->labels[c->n_labels++] = (struct dg_label){ xstrdup(lk),
									      xstrdup(json_string_value(lv)) };
			}
		} else if (!strcasecmp(k, "Labels") && !json_is_null(v)) {
			ok = false;
		}
	}
	json_decref(root);
	return ok;
}

size_t dg_climb_rule(const struct dg_policy *pol, size_t admitting, const char *name,
		     const char *body, size_t len, bool *undecidable)
{
	struct dg_container c = { .name = (char *)name };
	size_t found = SIZE_MAX;

	*undecidable = body && !read_body(body, len, &c);
	/* a swarm task's container names its service by two labels together */
	const char *service = NULL;
	bool task = false;
	for (size_t l = 0; l < c.n_labels; l++) {
		if (!strcmp(c.labels[l].key, "com.docker.swarm.service.name"))
			service = c.labels[l].value;
		task |= !strcmp(c.labels[l].key, "com.docker.swarm.task.id");
	}
	c.service = task ? (char *)service : NULL;

	for (size_t r = 0; r < pol->n_rules && found == SIZE_MAX && !*undecidable; r++) {
		const struct dg_rule *rule = &pol->rules[r];
		if (r == admitting || !dg_rule_trusts_containers(rule))
			continue;
		if (!body) {
			/* a rename changes the name alone: only a rule that
			 * names containers can newly trust this one */
			bool names = false;
			for (size_t s = 0; s < rule->n_subjects; s++)
				names |= rule->subjects[s].kind == DG_SUBJ_CONTAINER &&
					 rule->subjects[s].ckey == DG_CT_NAME;
			if (!names)
				continue;
		}
		bool all = true;
		for (size_t s = 0; s < rule->n_subjects && all; s++) {
			const struct dg_subject *sub = &rule->subjects[s];
			if (sub->kind != DG_SUBJ_CONTAINER)
				continue;	/* uid, cgroup: not the creator's to choose */
			bool any = false;
			for (size_t i = 0; i < sub->n_items && !any; i++) {
				if (!body && sub->ckey != DG_CT_NAME)
					any = true;	/* a rename: its labels may match */
				else if (sub->ckey == DG_CT_ID)
					any = false;	/* dockerd picks the id */
				else if (sub->ckey == DG_CT_NAME && !*name)
					any = false;	/* dockerd picks the name */
				else
					any = dg_container_matches(&c, sub->ckey, &sub->items[i]);
			}
			all = any;
		}
		if (all)
			found = r;
	}
	for (size_t l = 0; l < c.n_labels; l++) {
		free(c.labels[l].key);
		free(c.labels[l].value);
	}
	free(c.labels);
	free(c.image);
	return found;
}
