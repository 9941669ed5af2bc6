// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lister: /info, /containers/json?all=1, then an inspect of each.
 */
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

/* ---- lister: info, containers, inspect each ------------------------------- */


void lister_free(struct lister *l)
{
	if (!l)
		return;
	http_free(l->req);
	for (size_t i = 0; i < INSPECT_WINDOW; i++)
		http_free(l->insp[i]);
	for (size_t i = 0; i < l->n_ids; i++)
		if (l->have && l->have[i])
			container_free(&l->slots[i]);
	free(l->slots);
	free(l->have);
	free(l->ids);
	dg_container_set_free(&l->set);
	free(l);
}

/* The last thing a lister callback does. */
static void lister_end(struct lister *l, int err)
{
	l->done(l, err, err ? l->err : NULL, l->arg);
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A listed container, for choosing which to follow when there are more
 * than DG_DOCKER_MAX_CONTAINERS: running ones first, they can connect. */
struct listed_id {
	int stopped;
	char id[65];
};

static int listed_cmp(const void *a, const void *b)
{
	const struct listed_id *x = a, *y = b;

	if (x->stopped != y->stopped)
		return x->stopped - y->stopped;
	return strcmp(x->id, y->id);
}

static void lister_pump(struct lister *l);
static void lister_image(struct http *h, int err, const char *msg, void *arg);

/* The container index an inspect window request is for; the window slot is
 * free again. SIZE_MAX (and `h` freed) for a request that is not ours. */
static size_t lister_release(struct lister *l, struct http *h)
{
	size_t w = 0;
	while (w < INSPECT_WINDOW && l->insp[w] != h)
		w++;
	if (w == INSPECT_WINDOW) {	/* not ours: cannot happen */
		http_free(h);
		return SIZE_MAX;
	}
	l->insp[w] = NULL;
	return l->insp_idx[w];
}

static void lister_inspected(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	size_t idx = lister_release(l, h);
	if (idx == SIZE_MAX)
		return;

	json_t *j;
	err = answer_json(h, err, msg, &j, l->err, sizeof(l->err));
	if (err == -ENOENT)
		err = 0;	/* removed since it was listed: j stays NULL */
	if (!err && j) {
		if (container_from_json(j, l->ids[idx], l->set.cgroup_driver, &l->slots[idx]) == 0) {
			l->have[idx] = true;
			char *ipath = labels_image_path(&l->slots[idx], NULL);
			if (ipath) {
				/* which of its labels the image gave it, in the
				 * window slot the inspect just freed */
				size_t w = 0;
				while (l->insp[w])
					w++;
				l->insp_idx[w] = idx;
				l->insp[w] = http_get(l->base, l->ep, ipath, l->timeout_ms,
						      DG_DOCKER_MAX_RESPONSE, NULL, NULL,
						      lister_image, l);
				free(ipath);
				json_decref(j);
				http_free(h);
				lister_pump(l);
				return;
			}
		} else {
			snprintf(l->err, sizeof(l->err),
				 "the Docker API at %s sent an inspect answer for %.12s without "
				 "its Id; is that address really the Docker API? " HINT_HOST,
				 l->ep->url, l->ids[idx]);
			err = -EPROTO;
		}
	}
	json_decref(j);
	http_free(h);
	if (err) {
		lister_end(l, err);
		return;
	}
	lister_pump(l);
}

static void lister_image(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	size_t idx = lister_release(l, h);
	if (idx == SIZE_MAX)
		return;

	json_t *j;
	err = answer_json(h, err, msg, &j, l->err, sizeof(l->err));
	if (err == -ENOENT)
		err = 0;	/* the image is gone: no label can be told from its */
	http_free(h);
	if (err) {
		json_decref(j);
		lister_end(l, err);
		return;
	}
	keep_create_labels(&l->slots[idx], j);
	json_decref(j);
	lister_pump(l);
}

static void lister_pump(struct lister *l)
{
	size_t busy = 0;
	for (size_t w = 0; w < INSPECT_WINDOW; w++) {
		if (!l->insp[w] && l->next < l->n_ids) {
			char path[128];
			snprintf(path, sizeof(path), API_VERSION "/containers/%s/json",
				 l->ids[l->next]);
			l->insp_idx[w] = l->next++;
			l->insp[w] = http_get(l->base, l->ep, path, l->timeout_ms,
					      DG_DOCKER_MAX_RESPONSE, NULL, NULL, lister_inspected, l);
		}
		if (l->insp[w])
			busy++;
	}
	if (busy)
		return;
	/* Every inspect answered: compact the slots into the set. */
	size_t n = 0;
	for (size_t i = 0; i < l->n_ids; i++)
		n += l->have[i];
	l->set.v = n ? xcalloc(n, sizeof(*l->set.v)) : NULL;
	for (size_t i = 0; i < l->n_ids; i++) {
		if (!l->have[i])
			continue;
		l->set.v[l->set.n++] = l->slots[i];
		l->have[i] = false;
	}
	lister_end(l, 0);
}

/* A lister's answer as JSON, or the error (in l->err) that ended it. */
static int lister_answer(struct lister *l, struct http *h, int err, const char *msg, json_t **j)
{
	l->req = NULL;
	return answer_json(h, err, msg, j, l->err, sizeof(l->err));
}

static void lister_listed(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	json_t *j;
	err = lister_answer(l, h, err, msg, &j);
	if (!err && !json_is_array(j)) {
		snprintf(l->err, sizeof(l->err),
			 "the Docker API at %s answered %s with something else than a list "
			 "of containers; is that address really the Docker API? " HINT_HOST,
			 l->ep->url, h->path);
		err = -EPROTO;
	}
	http_free(h);
	if (err) {
		json_decref(j);
		lister_end(l, err);
		return;
	}
	size_t n = json_array_size(j), n_listed = 0;
	struct listed_id *listed = xcalloc(n ? n : 1, sizeof(*listed));
	size_t i;
	json_t *item;
	json_array_foreach(j, i, item) {
		const char *id = json_string_value(json_object_get(item, "Id"));
		const char *state = json_string_value(json_object_get(item, "State"));
		if (!valid_id(id))
			continue;
		listed[n_listed].stopped = !state || strcmp(state, "running") != 0;
		memcpy(listed[n_listed++].id, id, 65);
	}
	json_decref(j);
	/* Beyond the cap, stopped containers are left out first: a running
	 * container left out would be judged as no container at all. */
	qsort(listed, n_listed, sizeof(*listed), listed_cmp);
	l->ids = xcalloc(n_listed ? n_listed : 1, sizeof(*l->ids));
	for (i = 0; i < n_listed && l->n_ids < DG_DOCKER_MAX_CONTAINERS; i++) {
		bool dup = i > 0 && listed[i].stopped == listed[i - 1].stopped &&
			   !strcmp(listed[i].id, listed[i - 1].id);
		if (!dup)
			memcpy(l->ids[l->n_ids++], listed[i].id, 65);
	}
	free(listed);
	qsort(l->ids, l->n_ids, sizeof(*l->ids), id_cmp);
	l->slots = xcalloc(l->n_ids ? l->n_ids : 1, sizeof(*l->slots));
	l->have = xcalloc(l->n_ids ? l->n_ids : 1, sizeof(*l->have));
	lister_pump(l);
}

static void lister_info(struct http *h, int err, const char *msg, void *arg)
{
	struct lister *l = arg;
	json_t *j;
	err = lister_answer(l, h, err, msg, &j);
	http_free(h);
	if (err) {
		lister_end(l, err);
		return;
	}
	const char *driver = json_string_value(json_object_get(j, "CgroupDriver"));
	snprintf(l->set.cgroup_driver, sizeof(l->set.cgroup_driver), "%s",
		 driver && *driver ? driver : "cgroupfs");
	json_decref(j);
	l->req = http_get(l->base, l->ep, API_VERSION "/containers/json?all=1", l->timeout_ms,
			  DG_DOCKER_MAX_RESPONSE, NULL, NULL, lister_listed, l);
}

struct lister *lister_start(struct event_base *base, const struct endpoint *ep,
				   int timeout_ms, lister_done_fn done, void *arg)
{
	struct lister *l = xcalloc(1, sizeof(*l));
	l->base = base;
	l->ep = ep;
	l->timeout_ms = timeout_ms;
	l->done = done;
	l->arg = arg;
	l->req = http_get(base, ep, API_VERSION "/info", timeout_ms, DG_DOCKER_MAX_RESPONSE,
			  NULL, NULL, lister_info, l);
	return l;
}

/* ---- dg_docker_list ------------------------------------------------------- */

struct list_result {
	struct event_base *base;
	bool done;
	int err;
	struct dg_container_set set;
	char *errbuf;
	size_t errlen;
};

static void list_done(struct lister *l, int err, const char *msg, void *arg)
{
	struct list_result *r = arg;
	r->done = true;
	r->err = err;
	if (err) {
		snprintf(r->errbuf, r->errlen, "%s", msg);
	} else {
		r->set = l->set;
		memset(&l->set, 0, sizeof(l->set));
	}
	lister_free(l);
	event_base_loopbreak(r->base);
}

int dg_docker_list(const char *docker_host, int timeout_ms, struct dg_container_set *out,
		   char *err, size_t errlen)
{
	struct endpoint ep;
	memset(out, 0, sizeof(*out));
	struct event_base *base;
	int r = private_loop(docker_host, &ep, &timeout_ms, &base, err, errlen);
	if (r)
		return r;
	struct list_result res = { .base = base, .errbuf = err, .errlen = errlen };
	struct lister *l = lister_start(base, &ep, timeout_ms, list_done, &res);
	event_base_dispatch(base);
	if (!res.done) {
		lister_free(l);
		res.err = -EIO;
		snprintf(err, errlen, "the event loop failed while listing containers");
	}
	event_base_free(base);
	endpoint_free(&ep);
	if (res.err)
		return res.err;
	*out = res.set;
	return 0;
}
