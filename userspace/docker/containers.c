// SPDX-License-Identifier: GPL-2.0-only
/*
 * A container from its inspect answer, and the sets of them (docker.h).
 */
#include <time.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "docker/internal.h"
#include "util/util.h"

static char proc_root[256] = "/proc";

void dg_docker_set_proc_root(const char *dir)
{
	snprintf(proc_root, sizeof(proc_root), "%s", dir ? dir : "/proc");
}

/* ---- containers --------------------------------------------------------- */

bool valid_id(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

void container_free(struct dg_container *c)
{
	free(c->name);
	free(c->image);
	free(c->service);
	free(c->image_ref);
	for (size_t i = 0; i < c->n_labels; i++) {
		free(c->labels[i].key);
		free(c->labels[i].value);
	}
	free(c->labels);
	free(c->cgroup);
	for (size_t i = 0; i < c->n_mounts; i++) {
		free(c->mounts[i].source);
		free(c->mounts[i].destination);
	}
	free(c->mounts);
	memset(c, 0, sizeof(*c));
}

void dg_container_set_free(struct dg_container_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		container_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool container_equal(const struct dg_container *a, const struct dg_container *b)
{
	if (strcmp(a->id, b->id) || a->provisional != b->provisional ||
	    !str_eq(a->name, b->name) || !str_eq(a->image, b->image) ||
	    !str_eq(a->service, b->service) || !str_eq(a->cgroup, b->cgroup) ||
	    a->pid != b->pid || a->n_labels != b->n_labels || a->n_mounts != b->n_mounts)
		return false;
	for (size_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i].key, b->labels[i].key) ||
		    strcmp(a->labels[i].value, b->labels[i].value))
			return false;
	for (size_t i = 0; i < a->n_mounts; i++)
		if (strcmp(a->mounts[i].source, b->mounts[i].source) ||
		    strcmp(a->mounts[i].destination, b->mounts[i].destination))
			return false;
	return true;
}

/* A string member no longer than `max`, or NULL. */
static const char *json_str(json_t *obj, const char *key, size_t max)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (!s || strlen(s) > max)
		return NULL;
	return s;
}

/* "a-b.slice" -> "/a.slice/a-b.slice"; "-.slice" -> "" (the root). */
static char *slice_path(const char *slice)
{
	size_t n = strlen(slice);
	if (n < 6 || strcmp(slice + n - 6, ".slice") != 0) {
		/* Not a slice name: dockerd refuses those; use it as a path. */
		return xasprintf("%s%s", slice[0] == '/' ? "" : "/", slice);
	}
	if (!strcmp(slice, "-.slice"))
		return xstrdup("");
	size_t stem = n - 6;
	char *out = xstrdup("");
	for (size_t i = 0; i <= stem; i++) {
		if (i < stem && slice[i] != '-')
			continue;
		if (i == 0 || (i < stem && slice[i - 1] == '-'))
			continue;	/* empty component: leave it to the full name */
		char *next = i == stem ? xasprintf("%s/%s", out, slice)
				       : xasprintf("%s/%.*s.slice", out, (int)i, slice);
		free(out);
		out = next;
	}
	return out;
}

static char *computed_cgroup(const char *driver, const char *parent, const char *id)
{
	if (!strcmp(driver, "systemd")) {
		char *slice = slice_path(parent && *parent ? parent : "system.slice");
		char *path = xasprintf("%s/docker-%s.scope", slice, id);
		free(slice);
		return path;
	}
	const char *p = parent && *parent ? parent : "/docker";
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	return xasprintf("%s%.*s/%s", p[0] == '/' ? "" : "/", (int)n, p, id);
}

/* The "0::" path of a running container's process, if it names the container. */
static char *proc_cgroup(int pid, const char *id)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%d/cgroup", proc_root, pid);
	char *text;
	size_t len;
	if (read_file(path, 64 * 1024, &text, &len) != 0)
		return NULL;
	char *found = NULL;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		/* A reused pid, or another pid namespace, would name another cgroup. */
		if (strstr(line + 3, id) && strlen(line + 3) < MAX_STRING)
			found = xstrdup(line + 3);
		break;
	}
	free(text);
	return found;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dg_label *)a)->key, ((const struct dg_label *)b)->key);
}

/*
 * An inspect answer into `c`. Fields over their bounds are left out (a name
 * that no rule could match rather than a cut one that might).
 */
int container_from_json(json_t *j, const char *want_id, const char *driver,
			       struct dg_container *c)
{
	memset(c, 0, sizeof(*c));
	const char *id = json_string_value(json_object_get(j, "Id"));
	if (!json_is_object(j) || !valid_id(id) || strcmp(id, want_id) != 0)
		return -EPROTO;
	memcpy(c->id, id, 65);

	const char *name = json_str(j, "Name", MAX_NAME);
	c->name = xstrdup(name ? name + (name[0] == '/') : "");

	json_t *config = json_object_get(j, "Config");
	const char *image = json_str(config, "Image", MAX_STRING);
	c->image = xstrdup(image ? image : "");
	const char *image_id = json_str(j, "Image", MAX_STRING);
	if (image_id && *image_id)
		c->image_ref = xstrdup(image_id);
	else if (image && *image)
		c->image_ref = xstrdup(image);

	json_t *labels = json_object_get(config, "Labels");
	if (json_is_object(labels)) {
		size_t cap = json_object_size(labels), bytes = 0;
		if (cap > MAX_LABELS)
			cap = MAX_LABELS;
		c->labels = cap ? xcalloc(cap, sizeof(*c->labels)) : NULL;
		const char *key;
		json_t *val;
		json_object_foreach(labels, key, val) {
			const char *v = json_string_value(val);
			if (c->n_labels == cap)
				break;
			if (!v || strlen(key) > MAX_LABEL_KEY || strlen(v) > MAX_STRING ||
			    bytes + strlen(key) + strlen(v) > MAX_LABEL_BYTES)
				continue;
			bytes += strlen(key) + strlen(v);
			c->labels[c->n_labels].key = xstrdup(key);
			c->labels[c->n_labels].value = xstrdup(v);
			c->n_labels++;
		}
		if (c->n_labels > 1)
			qsort(c->labels, c->n_labels, sizeof(*c->labels), label_cmp);
	}

	json_t *state = json_object_get(j, "State");
	json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
	c->pid = pid > 0 && pid <= INT32_MAX ? (int)pid : 0;

	if (c->pid > 0)
		c->cgroup = proc_cgroup(c->pid, c->id);
	if (!c->cgroup) {
		const char *parent = json_str(json_object_get(j, "HostConfig"), "CgroupParent",
					      MAX_STRING);
		c->cgroup = computed_cgroup(driver, parent, c->id);
	}

	json_t *mounts = json_object_get(j, "Mounts");
	size_t i, bytes = 0;
	json_t *m;
	json_array_foreach(mounts, i, m) {
		const char *type = json_string_value(json_object_get(m, "Type"));
		const char *src = json_str(m, "Source", MAX_STRING);
		const char *dst = json_str(m, "Destination", MAX_STRING);
		if (!type || strcmp(type, "bind") != 0 || !src || !dst)
			continue;
		if (c->n_mounts == MAX_MOUNTS || bytes + strlen(src) + strlen(dst) > MAX_MOUNT_BYTES)
			break;
		bytes += strlen(src) + strlen(dst);
		c->mounts = xreallocarray(c->mounts, c->n_mounts + 1, sizeof(*c->mounts));
		c->mounts[c->n_mounts].source = xstrdup(src);
		c->mounts[c->n_mounts].destination = xstrdup(dst);
		c->n_mounts++;
	}
	return 0;
}

/*
 * Leaves out of c->labels those the container inherited from its image
 * (`image`: the image inspect answer, NULL when it could not be had: then
 * every label, since none can be told from the image's), and names the swarm
 * service only of a task container (task id and service name both given at
 * create). An image author chooses the image's labels; a rule must never
 * trust them as if the operator had set them.
 */
void keep_create_labels(struct dg_container *c, json_t *image)
{
	json_t *img_labels = image ? json_object_get(json_object_get(image, "Config"), "Labels")
				   : NULL;
	size_t kept = 0;
	bool task = false;
	const char *service = NULL;

	for (size_t i = 0; i < c->n_labels; i++) {
		struct dg_label *l = &c->labels[i];
		const char *iv = json_string_value(json_object_get(img_labels, l->key));
		if (!image || (iv && !strcmp(iv, l->value))) {
			free(l->key);
			free(l->value);
			continue;
		}
		c->labels[kept++] = *l;
	}
	c->n_labels = kept;
	for (size_t i = 0; i < c->n_labels; i++) {
		task |= !strcmp(c->labels[i].key, TASK_LABEL);
		if (!strcmp(c->labels[i].key, SERVICE_LABEL))
			service = c->labels[i].value;
	}
	free(c->service);
	c->service = task && service ? xstrdup(service) : NULL;
}

/* The API path of an image's inspect, or NULL for a reference that is not
 * plainly a name or an id (then its labels cannot be read). */
char *image_path(const struct dg_container *c)
{
	if (!c->image_ref || !*c->image_ref ||
	    strspn(c->image_ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				 "._-/:@") != strlen(c->image_ref))
		return NULL;
	return xasprintf(API_VERSION "/images/%s/json", c->image_ref);
}

/*
 * What telling c's labels from its image's takes: NULL when that is settled
 * now (no labels; `known`, the image's answer, at hand; or no image
 * reference to read), else the API path of the image to read (malloc'd).
 */
char *labels_image_path(struct dg_container *c, json_t *known)
{
	char *ipath;

	if (!c->n_labels)
		return NULL;
	ipath = known ? NULL : image_path(c);
	if (!ipath)
		keep_create_labels(c, known);
	return ipath;
}

/* A request's answer as JSON into *j (NULL on error), or its error, with
 * the message in `buf`: the transport's, or what http_json() says (-ENOENT
 * for a 404). */
int answer_json(struct http *h, int err, const char *msg, json_t **j, char *buf,
		       size_t len)
{
	*j = NULL;
	if (!err)
		return http_json(h, j, buf, len);
	snprintf(buf, len, "%s", msg);
	return err;
}

static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(path, dir, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && dir[0] == '/');
}

const struct dg_container *dg_container_by_cgroup(const struct dg_container_set *set,
						  const char *cgroup)
{
	const struct dg_container *best = NULL;
	size_t best_len = 0;
	if (!set || !cgroup)
		return NULL;
	for (size_t i = 0; i < set->n; i++) {
		const struct dg_container *c = &set->v[i];
		/* A container's cgroup is never the root: "/" would claim every task. */
		if (!c->cgroup || !c->cgroup[0] || !strcmp(c->cgroup, "/"))
			continue;
		size_t n = strlen(c->cgroup);
		if (n > best_len && path_within(cgroup, c->cgroup)) {
			best = c;
			best_len = n;
		}
	}
	return best;
}

const struct dg_container *dg_container_find(const struct dg_container_set *set,
					     const char *name)
{
	if (!set || !name)
		return NULL;
	if (name[0] == '/')
		name++;
	if (!name[0])
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].name && !strcmp(set->v[i].name, name))
			return &set->v[i];
	/* An id or a prefix of one, as the docker CLI takes it: unique or nothing. */
	size_t n = strlen(name);
	const struct dg_container *found = NULL;
	for (size_t i = 0; i < set->n; i++) {
		if (strncmp(set->v[i].id, name, n) != 0)
			continue;
		if (n == 64)
			return &set->v[i];
		if (found)
			return NULL;
		found = &set->v[i];
	}
	return found;
}
