// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a caller sees (visible.h): the view of a profile chain, the answers
 * it rewrites, and whether one object or one event is visible in it.
 */
#include "relay/visible.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/judge.h"
#include "util/util.h"

bool dg_view_needs_key(const struct dg_policy *pol, size_t profile)
{
	for (size_t i = profile; i != DG_API_NO_PARENT; i = pol->apis[i].parent) {
		if (pol->apis[i].own)
			return true;
		for (size_t j = 0; j < pol->apis[i].n_visible; j++)
			if (pol->apis[i].visible[j].own)
				return true;
	}
	return false;
}

void dg_view_init(struct dg_view *v, const struct dg_policy *pol, size_t profile,
		  const char *key)
{
	memset(v, 0, sizeof(*v));
	v->pol = pol;
	v->profile = profile;
	v->key = key;
	for (size_t i = profile; i != DG_API_NO_PARENT; i = pol->apis[i].parent) {
		const struct dg_api_profile *a = &pol->apis[i];
		if (a->own)
			v->owner = key;
		if (a->n_visible && !v->visible) {
			v->visible = true;
			v->first = &a->visible[0];
			v->first_profile = a;
		}
		v->redact_env |= a->redact_env;
		v->redact_join_tokens |= a->redact_join_tokens;
	}
}

void dg_view_fini(struct dg_view *v)
{
	for (size_t i = 0; i < v->n_services; i++)
		free(v->services[i]);
	free(v->services);
	v->services = NULL;
	v->n_services = 0;
}

enum dg_answer_kind dg_view_answer(const struct dg_view *v, const char *method,
				   const struct dg_target *t)
{
	const char *p = t->path;

	if (strcmp(method, "GET"))
		return DG_ANSWER_AS_IS;	/* HEAD answers carry no body */
	if (v->visible) {
		if (!strcmp(p, "/containers/json"))
			return DG_ANSWER_CONTAINERS;
		if (!strcmp(p, "/networks"))
			return DG_ANSWER_NETWORKS;
		if (!strcmp(p, "/volumes"))
			return DG_ANSWER_VOLUMES;
		if (!strcmp(p, "/system/df"))
			return DG_ANSWER_DF;
	}
	if (v->visible || v->redact_env) {
		if (!strcmp(p, "/services"))
			return DG_ANSWER_SERVICES;
		if (!strcmp(p, "/tasks"))
			return DG_ANSWER_TASKS;
	}
	if (v->visible || v->owner) {
		if (!strcmp(p, "/events"))
			return DG_ANSWER_EVENTS;
	}
	if (v->redact_env) {
		if (dg_api_pattern_matches("/containers/*/json", p))
			return DG_ANSWER_CONTAINER;
		if (dg_api_pattern_matches("/services/*", p))
			return DG_ANSWER_SERVICE;
		if (dg_api_pattern_matches("/tasks/*", p))
			return DG_ANSWER_TASK;
	}
	if (v->redact_join_tokens && !strcmp(p, "/swarm"))
		return DG_ANSWER_SWARM;
	return DG_ANSWER_AS_IS;
}

/* Whether `labels` has `key` with exactly `value` (label values may hold
 * any byte, NUL too: compared by length). */
static bool has_label(const json_t *labels, const char *key, const char *value)
{
	const json_t *l = json_is_object(labels) ? json_object_get(labels, key) : NULL;

	return json_is_string(l) && json_string_length(l) == strlen(value) &&
	       !memcmp(json_string_value(l), value, json_string_length(l));
}

bool dg_view_matches(const struct dg_view *v, const json_t *labels, const char *name)
{
	const struct dg_policy *pol = v->pol;

	for (size_t i = v->profile; i != DG_API_NO_PARENT; i = pol->apis[i].parent) {
		const struct dg_api_profile *a = &pol->apis[i];
		bool any = !a->n_visible;

		for (size_t j = 0; j < a->n_visible && !any; j++) {
			const struct dg_visible_clause *c = &a->visible[j];
			if (c->own)
				any = v->key && has_label(labels, DG_OWN_LABEL, v->key);
			else if (c->label_key)
				any = has_label(labels, c->label_key, c->label_value);
			else
				any = name && fnmatch(c->name_glob, name, 0) == 0;
		}
		if (!any)
			return false;
	}
	return true;
}

/* A name as dockerd gives it ("/web"), without its '/'. */
static const char *bare_name(const json_t *name)
{
	const char *s = json_is_string(name) ? json_string_value(name) : NULL;

	/* a name with a NUL in it is not one fnmatch can judge */
	if (!s || strlen(s) != json_string_length(name))
		return NULL;
	return s[0] == '/' ? s + 1 : s;
}

/* A container of GET /containers/json or /system/df: its own name is the
 * one of its Names without a second '/' (the others are link aliases,
 * "/web/db", given to it by other containers). */
static bool container_summary_visible(const struct dg_view *v, const json_t *c)
{
	const json_t *names = json_object_get(c, "Names"), *n;
	const char *name = NULL;
	size_t i;

	json_array_foreach(names, i, n) {
		const char *s = bare_name(n);
		if (s && !strchr(s, '/')) {
			name = s;
			break;
		}
	}
	return dg_view_matches(v, json_object_get(c, "Labels"), name);
}

static bool container_visible(const struct dg_view *v, const json_t *c)
{
	return dg_view_matches(v, json_object_get(json_object_get(c, "Config"), "Labels"),
			       bare_name(json_object_get(c, "Name")));
}

static bool service_visible(const struct dg_view *v, const json_t *s)
{
	const json_t *spec = json_object_get(s, "Spec");

	return dg_view_matches(v, json_object_get(spec, "Labels"),
			       bare_name(json_object_get(spec, "Name")));
}

/* networks and volumes: Name and Labels at the top */
static bool plain_visible(const struct dg_view *v, const json_t *o)
{
	return dg_view_matches(v, json_object_get(o, "Labels"), bare_name(json_object_get(o, "Name")));
}

static json_t *load(const char *json, size_t len)
{
	/* labels may carry \u0000: read, never a reason to fail an answer */
	return json_loadb(json, len, JSON_ALLOW_NUL, NULL);
}

bool dg_view_object(const struct dg_view *v, enum dg_own_kind kind, const char *json, size_t len)
{
	json_t *root = load(json, len);
	bool visible = false;

	if (json_is_object(root)) {
		switch (kind) {
		case DG_OWN_CONTAINER:
			visible = container_visible(v, root);
			break;
		case DG_OWN_SERVICE:
			visible = service_visible(v, root);
			break;
		case DG_OWN_NETWORK:
		case DG_OWN_VOLUME:
			visible = plain_visible(v, root);
			break;
		default:
			break;	/* an exec or a task is its container's or service's */
		}
	}
	json_decref(root);
	return visible;
}

bool dg_view_set_services(struct dg_view *v, const char *json, size_t len)
{
	json_t *root = load(json, len), *s;
	size_t i;
	bool ok = json_is_array(root);

	dg_view_fini(v);
	json_array_foreach(root, i, s) {
		const json_t *id = json_object_get(s, "ID");
		if (!json_is_object(s) || !json_is_string(id)) {
			ok = false;
			break;
		}
		if (!service_visible(v, s))
			continue;
		v->services = xreallocarray(v->services, v->n_services + 1, sizeof(*v->services));
		v->services[v->n_services++] = xstrdup(json_string_value(id));
	}
	json_decref(root);
	if (!ok)
		dg_view_fini(v);
	return ok;
}

static bool task_visible(const struct dg_view *v, const json_t *t)
{
	const json_t *sid = json_object_get(t, "ServiceID");

	if (!v->visible)
		return true;
	for (size_t i = 0; json_is_string(sid) && i < v->n_services; i++)
		if (!strcmp(v->services[i], json_string_value(sid)))
			return true;
	return false;
}

/* Keeps the members of array `a` that `keep` sees; false when one is not
 * an object (not what dockerd lists). */
static bool filter_array(const struct dg_view *v, json_t *a,
			 bool (*keep)(const struct dg_view *, const json_t *))
{
	for (size_t i = 0; i < json_array_size(a);) {
		const json_t *o = json_array_get(a, i);
		if (!json_is_object(o))
			return false;
		if (keep(v, o))
			i++;
		else
			json_array_remove(a, i);
	}
	return true;
}

/* Env emptied (the names too: a name can say what the value is). */
static void redact_env_of(json_t *holder)
{
	if (json_is_object(holder) && json_object_get(holder, "Env"))
		json_object_set_new(holder, "Env", json_array());
}

static void redact_service(json_t *s)
{
	static const char *const specs[] = { "Spec", "PreviousSpec" };

	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		redact_env_of(json_object_get(json_object_get(json_object_get(s, specs[i]),
							      "TaskTemplate"), "ContainerSpec"));
}

static void redact_task(json_t *t)
{
	redact_env_of(json_object_get(json_object_get(t, "Spec"), "ContainerSpec"));
}

bool dg_view_rewrite(const struct dg_view *v, enum dg_answer_kind kind, const char *in,
		     size_t len, char **out, size_t *out_len, char *why, size_t why_len)
{
	json_t *root = load(in, len), *a;
	bool ok = false;
	size_t i;

	if (!root) {
		snprintf(why, why_len, "the answer is not JSON");
		return false;
	}
	switch (kind) {
	case DG_ANSWER_CONTAINERS:
		ok = json_is_array(root) && filter_array(v, root, container_summary_visible);
		break;
	case DG_ANSWER_SERVICES:
	case DG_ANSWER_TASKS: {
		bool services = kind == DG_ANSWER_SERVICES;
		ok = json_is_array(root) &&
		     filter_array(v, root, services ? service_visible : task_visible);
		json_array_foreach(root, i, a)
			if (v->redact_env)
				(services ? redact_service : redact_task)(a);
		break;
	}
	case DG_ANSWER_NETWORKS:
		ok = json_is_array(root) && filter_array(v, root, plain_visible);
		break;
	case DG_ANSWER_VOLUMES:
		a = json_object_get(root, "Volumes");
		ok = json_is_object(root) && (json_is_null(a) || !a ||
					      (json_is_array(a) && filter_array(v, a, plain_visible)));
		break;
	case DG_ANSWER_DF:
		a = json_object_get(root, "Containers");
		ok = json_is_object(root) &&
		     (!a || json_is_null(a) ||
		      (json_is_array(a) && filter_array(v, a, container_summary_visible)));
		a = json_object_get(root, "Volumes");
		ok = ok && (!a || json_is_null(a) ||
			    (json_is_array(a) && filter_array(v, a, plain_visible)));
		break;
	case DG_ANSWER_CONTAINER:
		ok = json_is_object(root);
		redact_env_of(json_object_get(root, "Config"));
		break;
	case DG_ANSWER_SERVICE:
		ok = json_is_object(root);
		redact_service(root);
		break;
	case DG_ANSWER_TASK:
		ok = json_is_object(root);
		redact_task(root);
		break;
	case DG_ANSWER_SWARM:
		ok = json_is_object(root);
		if (ok && json_object_get(root, "JoinTokens"))
			json_object_set_new(root, "JoinTokens",
					    json_pack("{s:s,s:s}", "Worker", "", "Manager", ""));
		break;
	default:
		break;
	}
	if (!ok) {
		snprintf(why, why_len, "the answer is not what dockerd sends for this route");
		json_decref(root);
		return false;
	}
	char *text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(root);
	if (!text) {
		snprintf(why, why_len, "the filtered answer cannot be written");
		return false;
	}
	/* as dockerd ends it: one newline */
	*out_len = strlen(text) + 1;
	*out = xreallocarray(text, *out_len + 1, 1);
	(*out)[*out_len - 1] = '\n';
	(*out)[*out_len] = '\0';
	return true;
}

/* A string attribute of an event's actor, or NULL. */
static const char *attribute(const json_t *attrs, const char *key)
{
	return bare_name(json_object_get(attrs, key));
}

bool dg_view_event(const struct dg_view *v, const char *json, size_t len)
{
	json_t *root = load(json, len);
	const json_t *actor = json_object_get(root, "Actor");
	const json_t *attrs = json_object_get(actor, "Attributes");
	const json_t *type = json_object_get(root, "Type");
	bool keep = false;

	if (!json_is_object(root) || !json_is_string(type) || !json_is_object(actor) ||
	    (attrs && !json_is_object(attrs) && !json_is_null(attrs)))
		goto out;
	const char *t = json_string_value(type);
	if (!strcmp(t, "container")) {
		/* dockerd gives a container's labels as attributes, beside
		 * name and image (keys a `visible label` may not use) */
		keep = dg_view_matches(v, attrs, attribute(attrs, "name")) &&
		       (!v->owner || has_label(attrs, DG_OWN_LABEL, v->owner));
	} else if (!strcmp(t, "service") || !strcmp(t, "network") || !strcmp(t, "volume")) {
		/* no labels in these events: not for `own`, nor `visible label`;
		 * and a network's or volume's event that names a container
		 * (connect, mount) is that container's too */
		const char *name = !strcmp(t, "volume")
					   ? bare_name(json_object_get(actor, "ID"))
					   : attribute(attrs, "name");
		keep = !v->owner && !json_object_get(attrs, "container") &&
		       dg_view_matches(v, NULL, name);
	} else {
		keep = true;	/* images, the daemon, plugins, nodes, secrets, configs */
	}
out:
	json_decref(root);
	return keep;
}
