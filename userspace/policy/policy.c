// SPDX-License-Identifier: GPL-2.0-only
/* The policy AST: freeing, names, and helpers shared by parser and checks. */
#include "policy/policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "util/util.h"

void dg_subject_free(struct dg_subject *s)
{
	for (size_t i = 0; i < s->n_items; i++) {
		free(s->items[i].str);
		free(s->items[i].value);
		free(s->items[i].text);
	}
	free(s->items);
}

void dg_rule_free_contents(struct dg_rule *r)
{
	for (size_t i = 0; i < r->n_subjects; i++)
		dg_subject_free(&r->subjects[i]);
	free(r->subjects);
	free(r->endpoints);
	free(r->api);
}

void dg_policy_free(struct dg_policy *policy)
{
	if (!policy)
		return;
	for (size_t i = 0; i < policy->n_endpoints; i++) {
		struct dg_endpoint *ep = &policy->endpoints[i];
		for (size_t j = 0; j < ep->n_addrs; j++)
			free(ep->addrs[j].path);
		free(ep->addrs);
		free(ep->name);
		free(ep->upstream.path);
	}
	free(policy->endpoints);
	for (size_t i = 0; i < policy->n_apis; i++)
		dg_api_profile_free_contents(&policy->apis[i]);
	free(policy->apis);
	for (size_t i = 0; i < policy->n_rules; i++)
		dg_rule_free_contents(&policy->rules[i]);
	free(policy->rules);
	free(policy->docker_host);
	free(policy->metrics);
	free(policy->metrics_textfile);
	for (size_t i = 0; i < policy->n_fleet_keys; i++)
		free(policy->fleet_keys[i]);
	free(policy->fleet_keys);
	free(policy->path);
	dg_diag_files_free(policy->files);
	free(policy->files);
	free(policy);
}

const char *dg_action_name(enum dg_action action)
{
	switch (action) {
	case DG_ACTION_ALLOW:
		return "allow";
	case DG_ACTION_DENY:
		return "deny";
	case DG_ACTION_AUDIT:
		return "audit";
	case DG_ACTION_LISTEN:
		return "listen";
	}
	return "?";
}

const char *dg_addr_format_sep(const struct dg_addr *addr, char sep, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	switch (addr->kind) {
	case DG_ADDR_TCP4:
		inet_ntop(AF_INET, addr->addr + 12, ip, sizeof(ip));
		snprintf(buf, size, "tcp%c%s:%u", sep, ip, addr->port);
		break;
	case DG_ADDR_TCP6:
		inet_ntop(AF_INET6, addr->addr, ip, sizeof(ip));
		snprintf(buf, size, "tcp%c[%s]:%u", sep, ip, addr->port);
		break;
	case DG_ADDR_TCP_ANY:
		snprintf(buf, size, "tcp%c*:%u", sep, addr->port);
		break;
	case DG_ADDR_UNIX:
		snprintf(buf, size, "unix%c%s", sep, addr->path ? addr->path : "?");
		break;
	}
	return buf;
}

const char *dg_addr_format(const struct dg_addr *addr, char *buf, size_t size)
{
	return dg_addr_format_sep(addr, ' ', buf, size);
}

/* FNV-1a */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct dg_strmap_slot *find_slot(struct dg_strmap_slot *slots, size_t cap, const char *key)
{
	size_t i = (size_t)hash_str(key) & (cap - 1);

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

bool dg_strmap_get(const struct dg_strmap *map, const char *key, uint64_t *value)
{
	if (!map->cap)
		return false;
	struct dg_strmap_slot *s = find_slot(map->slots, map->cap, key);
	if (!s->key)
		return false;
	if (value)
		*value = s->value;
	return true;
}

void dg_strmap_put(struct dg_strmap *map, const char *key, uint64_t value)
{
	if ((map->n + 1) * 2 > map->cap) {
		size_t cap = map->cap ? map->cap * 2 : 16;
		struct dg_strmap_slot *slots = xcalloc(cap, sizeof(*slots));
		for (size_t i = 0; i < map->cap; i++)
			if (map->slots[i].key)
				*find_slot(slots, cap, map->slots[i].key) = map->slots[i];
		free(map->slots);
		map->slots = slots;
		map->cap = cap;
	}
	struct dg_strmap_slot *s = find_slot(map->slots, map->cap, key);
	if (!s->key) {
		s->key = xstrdup(key);
		map->n++;
	}
	s->value = value;
}

void dg_strmap_free(struct dg_strmap *map)
{
	for (size_t i = 0; i < map->cap; i++)
		free(map->slots[i].key);
	free(map->slots);
	memset(map, 0, sizeof(*map));
}

char *dg_rule_source(const struct dg_rule *rule, size_t max)
{
	const struct dg_diag_file *f = rule->loc.file;
	if (rule->implicit && rule->n_subjects == 1 && rule->subjects[0].n_items == 1) {
		/* written nowhere: said as it would be written */
		char *text = xasprintf("(implicit) listen from %s %s",
				       rule->subjects[0].kind == DG_SUBJ_CGROUP ? "cgroup" : "user",
				       rule->subjects[0].items[0].text);
		if (strlen(text) > max && max >= 4)
			strcpy(text + max - 3, "...");
		return text;
	}
	if (!f || max < 4)
		return xstrdup("");
	const char *p = f->text, *end = f->text + f->len;
	for (unsigned int l = 1; l < rule->loc.line && p < end; l++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return xstrdup("");
		p = nl + 1;
	}
	size_t len = strcspn(p, "\n");
	while (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
		len--;
	if (len <= max)
		return xstrndup(p, len);
	return xasprintf("%.*s...", (int)(max - 3), p);
}
