// SPDX-License-Identifier: GPL-2.0-only
/*
 * `own`: which object a request creates or writes to, the owner key of a
 * connect rule, the label added to a create's body, the lookup of an
 * existing object's owner, and the target rewritten to its full id.
 */
#include "relay/own.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay/judge.h"
#include "util/util.h"

/* Segment `n` (0-based) of `path` into out; false when absent or too long. */
static bool segment(const char *path, size_t n, char *out, size_t out_len)
{
	const char *s = path;

	for (size_t i = 0; i < n; i++) {
		s = strchr(s + 1, '/');
		if (!s)
			return false;
	}
	const char *e = strchr(s + 1, '/');
	size_t len = e ? (size_t)(e - s - 1) : strlen(s + 1);
	if (!len || len >= out_len)
		return false;
	memcpy(out, s + 1, len);
	out[len] = '\0';
	return true;
}

static void names(struct dg_own_request *o, enum dg_own_kind kind, const char *path, size_t seg)
{
	if (segment(path, seg, o->name, sizeof(o->name))) {
		o->names = kind;
		o->segment = seg;
	} else {
		o->refused = o->too_long = true;	/* a name too long to look up */
	}
}

/* The object a read names: GET and HEAD of inspects, logs, stats, archives
 * (not the lists, whose paths are not objects' to dockerd's router). */
static void classify_read(const char *p, struct dg_own_request *out)
{
	if (!strcmp(p, "/containers/json"))
		return;
	if (dg_api_pattern_matches("/containers/*", p) || dg_api_pattern_matches("/containers/*/**", p))
		names(out, DG_OWN_CONTAINER, p, 1);
	else if (dg_api_pattern_matches("/exec/*/json", p))
		names(out, DG_OWN_EXEC, p, 1);
	else if (dg_api_pattern_matches("/services/*", p) || dg_api_pattern_matches("/services/*/logs", p))
		names(out, DG_OWN_SERVICE, p, 1);
	else if (dg_api_pattern_matches("/tasks/*", p) || dg_api_pattern_matches("/tasks/*/logs", p))
		names(out, DG_OWN_TASK, p, 1);
	else if (dg_api_pattern_matches("/networks/*", p))
		names(out, DG_OWN_NETWORK, p, 1);
	else if (dg_api_pattern_matches("/volumes/*", p))
		names(out, DG_OWN_VOLUME, p, 1);
}

static void classify_write(const char *method, const struct dg_target *t,
			   struct dg_own_request *out)
{
	const char *p = t->path;

	if (!strcmp(method, "POST")) {
		if (!strcmp(p, "/containers/create")) {
			out->creates = DG_OWN_CONTAINER;
			return;
		}
		if (!strcmp(p, "/services/create")) {
			out->creates = DG_OWN_SERVICE;
			return;
		}
		if (!strcmp(p, "/volumes/create")) {
			out->creates = DG_OWN_VOLUME;
			return;
		}
		if (!strcmp(p, "/networks/create")) {
			out->creates = DG_OWN_NETWORK;
			return;
		}
		/* prunes remove the objects of everyone */
		if (!strcmp(p, "/containers/prune") || !strcmp(p, "/volumes/prune") ||
		    !strcmp(p, "/networks/prune")) {
			out->refused = true;
			return;
		}
		if (!strcmp(p, "/commit")) {
			const char *c = dg_target_param(t, "container");
			if (c && *c && strlen(c) < sizeof(out->name)) {
				snprintf(out->name, sizeof(out->name), "%s", c);
				out->names = DG_OWN_CONTAINER;
				out->param = "container";
			} else {
				out->refused = !c || strlen(c) >= sizeof(out->name);
				out->too_long = c && strlen(c) >= sizeof(out->name);
			}
			return;
		}
		if (dg_api_pattern_matches("/exec/*/start", p) ||
		    dg_api_pattern_matches("/exec/*/resize", p)) {
			names(out, DG_OWN_EXEC, p, 1);
			return;
		}
		if (dg_api_pattern_matches("/services/*/update", p)) {
			names(out, DG_OWN_SERVICE, p, 1);
			/* the new spec is labelled again, or the service is lost */
			if (out->names)
				out->creates = DG_OWN_SERVICE;
			return;
		}
		if (dg_api_pattern_matches("/networks/*/connect", p) ||
		    dg_api_pattern_matches("/networks/*/disconnect", p)) {
			names(out, DG_OWN_NETWORK, p, 1);
			out->connects = true;
			return;
		}
	}
	if (dg_api_pattern_matches("/containers/*", p) || dg_api_pattern_matches("/containers/*/**", p)) {
		names(out, DG_OWN_CONTAINER, p, 1);
		return;
	}
	if (!strcmp(method, "DELETE")) {
		if (dg_api_pattern_matches("/services/*", p))
			names(out, DG_OWN_SERVICE, p, 1);
		else if (dg_api_pattern_matches("/volumes/*", p))
			names(out, DG_OWN_VOLUME, p, 1);
		else if (dg_api_pattern_matches("/networks/*", p))
			names(out, DG_OWN_NETWORK, p, 1);
	}
}

void dg_own_classify(const char *method, const struct dg_target *t, struct dg_own_request *out)
{
	memset(out, 0, sizeof(*out));
	out->segment = SIZE_MAX;
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
		classify_read(t->path, out);
		return;		/* `own` is about writes; `visible` about what reads name too */
	}
	classify_write(method, t, out);
	out->writes = out->names;
}

void dg_own_key(const struct dg_rule *rule, char key[DG_OWN_KEY_LEN + 1])
{
	const struct dg_diag_file *f = rule->loc.file;
	char hex[65];
	const char *line = "", *end;

	if (f && f->text) {
		line = f->text;
		for (unsigned i = 1; i < rule->loc.line && line; i++) {
			line = strchr(line, '\n');
			line = line ? line + 1 : NULL;
		}
		if (!line)
			line = "";
	}
	end = strchr(line, '\n');
	size_t len = end ? (size_t)(end - line) : strlen(line);
	/* the words, not the blanks around them */
	while (len && (line[0] == ' ' || line[0] == '\t'))
		line++, len--;
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	dg_sha256_hex(line, len, hex);
	memcpy(key, hex, DG_OWN_KEY_LEN);
	key[DG_OWN_KEY_LEN] = '\0';
}

char *dg_own_lookup_path(enum dg_own_kind kind, const char *name)
{
	switch (kind) {
	case DG_OWN_CONTAINER:
		return xasprintf("/v1.41/containers/%s/json", name);
	case DG_OWN_EXEC:
		return xasprintf("/v1.41/exec/%s/json", name);
	case DG_OWN_SERVICE:
		return xasprintf("/v1.41/services/%s", name);
	case DG_OWN_VOLUME:
		return xasprintf("/v1.41/volumes/%s", name);
	case DG_OWN_NETWORK:
		return xasprintf("/v1.41/networks/%s", name);
	case DG_OWN_TASK:
		return xasprintf("/v1.41/tasks/%s", name);
	default:
		return NULL;
	}
}

static const char *label_of(const json_t *labels)
{
	const json_t *v = json_object_get(labels, DG_OWN_LABEL);
	return json_is_string(v) ? json_string_value(v) : "";
}

bool dg_own_read_answer(enum dg_own_kind kind, const char *json, size_t len, char *id,
			size_t id_len, char *owner, size_t owner_len, char *parent,
			size_t parent_len)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const json_t *idv = NULL, *labels = NULL;
	bool ok = false;

	if (!json_is_object(root))
		goto out;
	switch (kind) {
	case DG_OWN_CONTAINER:
		idv = json_object_get(root, "Id");
		labels = json_object_get(json_object_get(root, "Config"), "Labels");
		break;
	case DG_OWN_EXEC:
	case DG_OWN_TASK: {
		/* an exec is its container's, a task its service's */
		const json_t *p = json_object_get(root, kind == DG_OWN_EXEC ? "ContainerID" : "ServiceID");
		idv = json_object_get(root, "ID");
		if (!json_is_string(p))
			goto out;
		snprintf(parent, parent_len, "%s", json_string_value(p));
		break;
	}
	case DG_OWN_SERVICE:
		idv = json_object_get(root, "ID");
		labels = json_object_get(json_object_get(root, "Spec"), "Labels");
		break;
	case DG_OWN_VOLUME:
		idv = json_object_get(root, "Name");
		labels = json_object_get(root, "Labels");
		break;
	case DG_OWN_NETWORK:
		idv = json_object_get(root, "Id");
		labels = json_object_get(root, "Labels");
		break;
	default:
		goto out;
	}
	if (!json_is_string(idv) || !json_string_length(idv))
		goto out;
	snprintf(id, id_len, "%s", json_string_value(idv));
	snprintf(owner, owner_len, "%s", label_of(labels));
	ok = true;
out:
	json_decref(root);
	return ok;
}

/* The value of `obj`'s key that Go would decode as `field` (case-insensitive
 * as encoding/json; the guard has refused two such keys when it judged the
 * body, and here two are refused too). */
static json_t *member(json_t *obj, const char *field, bool *twice)
{
	const char *k;
	json_t *v, *found = NULL;

	json_object_foreach(obj, k, v) {
		if (!strcasecmp(k, field)) {
			if (found)
				*twice = true;
			found = v;
		}
	}
	return found;
}

/* Adds the owner label to `obj`.Labels (made when absent or null). */
static bool add_label(json_t *obj, const char *key, char *why, size_t why_len)
{
	bool twice = false;
	json_t *labels = member(obj, "Labels", &twice);
	const char *k;
	json_t *v;

	if (twice) {
		snprintf(why, why_len, "Labels is given twice (keys match case-insensitively)");
		return false;
	}
	if (!labels || json_is_null(labels)) {
		labels = json_object();
		json_object_set_new(obj, "Labels", labels);
	}
	if (!json_is_object(labels)) {
		snprintf(why, why_len, "Labels is not an object");
		return false;
	}
	json_object_foreach(labels, k, v) {
		if (!strncasecmp(k, "io.dockguard.", 13)) {
			snprintf(why, why_len, "Labels[\"%s\"]: labels under io.dockguard. are "
				 "dockguard's own", k);
			return false;
		}
	}
	json_object_set_new(labels, DG_OWN_LABEL, json_string(key));
	return true;
}

bool dg_own_label_body(enum dg_own_kind kind, const char *body, size_t len, const char *key,
		       char **out, size_t *out_len, char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	bool ok = false, twice = false;

	if (!json_is_object(root)) {
		snprintf(why, why_len, "the body is not a JSON object dockerd would read the same "
			 "way (%s)", root ? "not an object" : jerr.text);
		goto out;
	}
	if (!add_label(root, key, why, why_len))
		goto out;
	if (kind == DG_OWN_SERVICE) {
		/* the tasks' containers are the service's: labelled too */
		json_t *task = member(root, "TaskTemplate", &twice);
		json_t *spec = json_is_object(task) ? member(task, "ContainerSpec", &twice) : NULL;
		if (twice) {
			snprintf(why, why_len, "a field is given twice (keys match case-insensitively)");
			goto out;
		}
		if (json_is_object(spec) && !add_label(spec, key, why, why_len))
			goto out;
	}
	*out = json_dumps(root, JSON_COMPACT);
	if (!*out) {
		snprintf(why, why_len, "the labelled body cannot be written");
		goto out;
	}
	*out_len = strlen(*out);
	ok = true;
out:
	json_decref(root);
	return ok;
}

/* The body's "Container" member (any case, exactly once), or NULL. */
static json_t *connect_member(json_t *root, const char **key)
{
	const char *k;
	json_t *v, *found = NULL;
	int n = 0;

	json_object_foreach(root, k, v) {
		if (!strcasecmp(k, "Container")) {
			found = v;
			*key = k;
			n++;
		}
	}
	return n == 1 ? found : NULL;
}

bool dg_own_connect_container(const char *body, size_t len, char *name, size_t name_len,
			      char *why, size_t why_len)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *key = NULL;
	const json_t *c = json_is_object(root) ? connect_member(root, &key) : NULL;
	bool ok = json_is_string(c) && json_string_length(c) &&
		  json_string_length(c) == strlen(json_string_value(c)) &&
		  json_string_length(c) < name_len;

	if (ok)
		snprintf(name, name_len, "%s", json_string_value(c));
	else
		snprintf(why, why_len, "the body does not name its container once, as a string, "
			 "the way dockerd reads it");
	json_decref(root);
	return ok;
}

bool dg_own_connect_with_id(const char *body, size_t len, const char *full_id, char **out,
			    size_t *out_len)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	const char *key = NULL;
	bool ok = json_is_object(root) && connect_member(root, &key);

	if (ok) {
		char *k = xstrdup(key);	/* the object's own copy changes hands */
		json_object_set_new(root, k, json_string(full_id));
		free(k);
		*out = json_dumps(root, JSON_COMPACT);
		ok = *out != NULL;
		if (ok)
			*out_len = strlen(*out);
	}
	json_decref(root);
	return ok;
}

/* Appends s percent-encoded where a path segment or query part needs it. */
static void append_encoded(char **buf, size_t *len, size_t *cap, const char *s, bool query)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || strchr("-._~:@!$'()*,", ch) ||
			     (!query && strchr("&=+;", ch));
		if (*len + 4 >= *cap) {
			*cap = *cap * 2 + 64;
			*buf = xreallocarray(*buf, *cap, 1);
		}
		if (plain) {
			(*buf)[(*len)++] = (char)ch;
		} else {
			snprintf(*buf + *len, 4, "%%%02X", ch);
			*len += 3;
		}
	}
	(*buf)[*len] = '\0';
}

/* Appends the separator `s` as it is. */
static void append_raw(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 >= *cap) {
		*cap = *cap * 2 + n + 64;
		*buf = xreallocarray(*buf, *cap, 1);
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

char *dg_own_target_with_id(const struct dg_target *t, const struct dg_own_request *o,
			    const char *full_id)
{
	size_t cap = 256, len = 0;
	char *buf = xmalloc(cap);
	const char *s = t->path;

	buf[0] = '\0';
	if (t->versioned)
		len = (size_t)snprintf(buf, cap, "/v%u.%u", t->major, t->minor);
	for (size_t i = 0; *s == '/'; i++) {
		const char *e = strchr(s + 1, '/');
		size_t sl = e ? (size_t)(e - s - 1) : strlen(s + 1);
		char *seg = xstrndup(s + 1, sl);
		append_raw(&buf, &len, &cap, "/");
		append_encoded(&buf, &len, &cap, i == o->segment ? full_id : seg, false);
		free(seg);
		s += 1 + sl;
	}
	for (size_t i = 0; i < t->n_params; i++) {
		const struct dg_query_param *q = &t->params[i];
		append_raw(&buf, &len, &cap, i ? "&" : "?");
		append_encoded(&buf, &len, &cap, q->key, true);
		append_raw(&buf, &len, &cap, "=");
		append_encoded(&buf, &len, &cap, o->param && !strcmp(q->key, o->param) ? full_id
											 : q->value, true);
	}
	return buf;
}
