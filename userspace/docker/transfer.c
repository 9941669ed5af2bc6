// SPDX-License-Identifier: GPL-2.0-only
/*
 * A container set as JSON (docker.h): how the daemon hands the containers it
 * knows to its relay process, which judges by them without restarting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "docker/internal.h"
#include "util/util.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *dg_container_set_to_json(const struct dg_container_set *set)
{
	json_t *v = json_array();

	for (size_t i = 0; set && i < set->n; i++) {
		const struct dg_container *c = &set->v[i];
		json_t *labels = json_array(), *mounts = json_array();
		for (size_t j = 0; j < c->n_labels; j++)
			json_array_append_new(labels, json_pack("[s,s]", c->labels[j].key,
								c->labels[j].value));
		for (size_t j = 0; j < c->n_mounts; j++)
			json_array_append_new(mounts, json_pack("[s,s]", c->mounts[j].source,
								c->mounts[j].destination));
		json_array_append_new(v, json_pack("{s:s,s:o,s:o,s:o,s:o,s:b,s:o,s:i,s:o,s:o}",
						   "id", c->id, "name", str_or_null(c->name),
						   "image", str_or_null(c->image),
						   "service", str_or_null(c->service),
						   "image_ref", str_or_null(c->image_ref),
						   "provisional", c->provisional,
						   "cgroup", str_or_null(c->cgroup), "pid", c->pid,
						   "labels", labels, "mounts", mounts));
	}
	return json_pack("{s:s,s:o}", "cgroup_driver", set ? set->cgroup_driver : "", "containers", v);
}

/* A string member (NULL: null or absent); false when of another type. */
static bool opt_str(const json_t *o, const char *key, char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return false;
	*out = xstrdup(json_string_value(v));
	return true;
}

/* [[a, b], ...] into pairs of strings */
static bool pairs(const json_t *a, char ***firsts, char ***seconds, size_t *n)
{
	const json_t *p;
	size_t i;

	*n = 0;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, p) {
		const json_t *x = json_array_get(p, 0), *y = json_array_get(p, 1);
		if (json_array_size(p) != 2 || !json_is_string(x) || !json_is_string(y))
			return false;
	}
	*firsts = xcalloc(json_array_size(a) + 1, sizeof(char *));
	*seconds = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, p) {
		(*firsts)[i] = xstrdup(json_string_value(json_array_get(p, 0)));
		(*seconds)[i] = xstrdup(json_string_value(json_array_get(p, 1)));
	}
	*n = json_array_size(a);
	return true;
}

static bool container_from_transfer(const json_t *o, struct dg_container *c)
{
	const json_t *id = json_object_get(o, "id"), *pid = json_object_get(o, "pid");
	char **a = NULL, **b = NULL;
	size_t n;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o) || !json_is_string(id) || !valid_id(json_string_value(id)) ||
	    !json_is_integer(pid) || !json_is_boolean(json_object_get(o, "provisional")))
		return false;
	snprintf(c->id, sizeof(c->id), "%s", json_string_value(id));
	c->pid = (int)json_integer_value(pid);
	c->provisional = json_is_true(json_object_get(o, "provisional"));
	if (!opt_str(o, "name", &c->name) || !opt_str(o, "image", &c->image) ||
	    !opt_str(o, "service", &c->service) || !opt_str(o, "image_ref", &c->image_ref) ||
	    !opt_str(o, "cgroup", &c->cgroup))
		return false;
	if (!pairs(json_object_get(o, "labels"), &a, &b, &n))
		return false;
	c->labels = xcalloc(n + 1, sizeof(*c->labels));
	for (size_t i = 0; i < n; i++)
		c->labels[i] = (struct dg_label){ a[i], b[i] };
	c->n_labels = n;
	free(a);
	free(b);
	if (!pairs(json_object_get(o, "mounts"), &a, &b, &n))
		return false;
	c->mounts = xcalloc(n + 1, sizeof(*c->mounts));
	for (size_t i = 0; i < n; i++)
		c->mounts[i] = (struct dg_mount){ a[i], b[i] };
	c->n_mounts = n;
	free(a);
	free(b);
	return true;
}

int dg_container_set_from_json(const json_t *j, struct dg_container_set *out)
{
	const json_t *v = json_object_get(j, "containers"), *o;
	const json_t *driver = json_object_get(j, "cgroup_driver");
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_is_array(v) || !json_is_string(driver))
		return -EINVAL;
	snprintf(out->cgroup_driver, sizeof(out->cgroup_driver), "%s", json_string_value(driver));
	out->v = xcalloc(json_array_size(v) + 1, sizeof(*out->v));
	json_array_foreach(v, i, o) {
		if (!container_from_transfer(o, &out->v[i])) {
			out->n = i + 1;	/* what it holds goes too */
			dg_container_set_free(out);
			return -EINVAL;
		}
		out->n = i + 1;
	}
	return 0;
}
