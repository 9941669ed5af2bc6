// SPDX-License-Identifier: GPL-2.0-only
/*
 * The follower: /events, then the lister, then an inspect per event.
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

/* ---- the follower ----------------------------------------------------------- */

struct dg_docker {
	struct event_base *base;
	struct endpoint ep;
	bool bad_endpoint;
	char ep_err[512];
	int timeout_ms;
	dg_docker_changed_fn changed;
	dg_docker_state_fn state;
	void *ctx;

	struct dg_container_set set;	/* what `changed` was last given */
	struct http *stream;		/* GET /events */
	struct lister *lister;
	bool listed;			/* the set is current for this connection */
	struct http *inspect;
	char inspect_id[65];
	struct dg_container pending;	/* inspected, its image's labels awaited */
	bool have_pending;
	/* Images' inspect answers, for telling a container's labels from its
	 * image's: a created container's are told at once when its image is
	 * known (an image read does not wait on the container's lock, which
	 * dockerd holds while dockguard-runc waits for the container's identity). */
	struct { char *ref; json_t *image; } images[IMAGE_CACHE];
	size_t n_images, next_image;
	struct http *image_req;		/* for the provisional containers' image */
	char *image_req_ref;
	char (*queue)[65];		/* ids to inspect again, in order, once each */
	size_t nq;
	struct evbuffer *line;		/* a partial event */
	unsigned int unannounced;	/* changes since the last `changed` */

	struct event *retry;
	int backoff_ms;
	struct timespec up_since;
	bool up;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Only immutable references are cached: an image id. A name (a tag) may be
 * moved to another image with other labels at any time. */
static bool image_ref_immutable(const char *ref)
{
	return ref && !strncmp(ref, "sha256:", 7);
}

static json_t *image_cached(const struct dg_docker *d, const char *ref)
{
	if (!image_ref_immutable(ref))
		return NULL;
	for (size_t i = 0; i < d->n_images; i++)
		if (!strcmp(d->images[i].ref, ref))
			return d->images[i].image;
	return NULL;
}

/* Keeps `image` (a reference taken) as the answer for `ref`, replacing the
 * oldest entry when full. An image's labels never change: no expiry. */
static void image_remember(struct dg_docker *d, const char *ref, json_t *image)
{
	size_t i;

	if (!image_ref_immutable(ref) || image_cached(d, ref))
		return;
	if (d->n_images < IMAGE_CACHE) {
		i = d->n_images++;
	} else {
		i = d->next_image;
		d->next_image = (d->next_image + 1) % IMAGE_CACHE;
		free(d->images[i].ref);
		json_decref(d->images[i].image);
	}
	d->images[i].ref = xstrdup(ref);
	d->images[i].image = json_incref(image);
}

static void follow_teardown(struct dg_docker *d)
{
	http_free(d->stream);
	d->stream = NULL;
	lister_free(d->lister);
	d->lister = NULL;
	http_free(d->inspect);
	d->inspect = NULL;
	if (d->have_pending)
		container_free(&d->pending);
	d->have_pending = false;
	http_free(d->image_req);
	d->image_req = NULL;
	free(d->image_req_ref);
	d->image_req_ref = NULL;
	d->nq = 0;
	d->listed = false;
	if (d->line)
		evbuffer_drain(d->line, evbuffer_get_length(d->line));
}

static void follow_schedule(struct dg_docker *d, int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
	evtimer_add(d->retry, &tv);
}

/* The connection failed: say so, and try again later. */
static void follow_fail(struct dg_docker *d, const char *why)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", why);	/* `why` may live in what we free */
	long long up_for = d->up ? now_ms() - ((long long)d->up_since.tv_sec * 1000 +
					      d->up_since.tv_nsec / 1000000) : 0;
	bool was_up = d->up;
	d->up = false;
	follow_teardown(d);
	if (was_up && up_for >= STABLE_MS)
		d->backoff_ms = BACKOFF_MIN_MS;
	int delay = d->backoff_ms;
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	follow_schedule(d, delay);
	d->state(d->ctx, false, msg);
}

static void follow_announce(struct dg_docker *d)
{
	if (!d->unannounced)
		return;
	d->unannounced = 0;
	d->changed(d->ctx, &d->set);
}

static struct dg_container *set_lookup(struct dg_container_set *set, const char *id)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].id, id))
			return &set->v[i];
	return NULL;
}

static void set_remove(struct dg_docker *d, const char *id)
{
	struct dg_container *c = set_lookup(&d->set, id);
	if (!c)
		return;
	size_t i = (size_t)(c - d->set.v);
	container_free(c);
	memmove(&d->set.v[i], &d->set.v[i + 1], (d->set.n - i - 1) * sizeof(*d->set.v));
	d->set.n--;
	d->unannounced++;
}

/* Takes `c` (its contents). */
static void set_upsert(struct dg_docker *d, struct dg_container *c)
{
	struct dg_container *old = set_lookup(&d->set, c->id);
	if (old) {
		if (container_equal(old, c)) {
			container_free(c);
			return;
		}
		container_free(old);
		*old = *c;
	} else if (d->set.n < DG_DOCKER_MAX_CONTAINERS) {
		d->set.v = xreallocarray(d->set.v, d->set.n + 1, sizeof(*d->set.v));
		d->set.v[d->set.n++] = *c;
	} else {
		container_free(c);
		return;
	}
	d->unannounced++;
}

static void follow_pump(struct dg_docker *d);
static void follow_image(struct http *h, int err, const char *msg, void *arg);

static void follow_inspected(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char errbuf[768];
	json_t *j = NULL;

	d->inspect = NULL;
	err = answer_json(h, err, msg, &j, errbuf, sizeof(errbuf));
	bool gone = err == -ENOENT;
	http_free(h);
	if (gone) {
		err = 0;
		set_remove(d, d->inspect_id);
	} else if (!err) {
		struct dg_container c;
		if (container_from_json(j, d->inspect_id, d->set.cgroup_driver, &c) == 0) {
			char *ipath = labels_image_path(&c, image_cached(d, c.image_ref));
			if (ipath) {
				/* which of its labels the image gave it, then upsert */
				d->pending = c;
				d->have_pending = true;
				d->inspect = http_get(d->base, &d->ep, ipath, d->timeout_ms,
						      DG_DOCKER_MAX_RESPONSE, NULL, NULL, follow_image, d);
				free(ipath);
				json_decref(j);
				return;
			}
			set_upsert(d, &c);
		} else {
			snprintf(errbuf, sizeof(errbuf),
				 "the Docker API at %s sent an inspect answer for %.12s without "
				 "its Id", d->ep.url, d->inspect_id);
			err = -EPROTO;
		}
	}
	json_decref(j);
	if (err) {
		follow_fail(d, errbuf);
		return;
	}
	if (!d->nq || d->unannounced >= ANNOUNCE_EVERY)
		follow_announce(d);
	follow_pump(d);
}

static void follow_image(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char errbuf[768];
	json_t *j = NULL;

	d->inspect = NULL;
	err = answer_json(h, err, msg, &j, errbuf, sizeof(errbuf));
	if (err == -ENOENT)
		err = 0;	/* the image is gone: no label can be told from its */
	http_free(h);
	if (err) {
		json_decref(j);
		follow_fail(d, errbuf);
		return;
	}
	if (j)
		image_remember(d, d->pending.image_ref, j);
	keep_create_labels(&d->pending, j);
	json_decref(j);
	d->have_pending = false;
	set_upsert(d, &d->pending);
	memset(&d->pending, 0, sizeof(d->pending));
	if (!d->nq || d->unannounced >= ANNOUNCE_EVERY)
		follow_announce(d);
	follow_pump(d);
}

/* Inspects the next queued container, one at a time. */
static void follow_pump(struct dg_docker *d)
{
	if (!d->listed || d->inspect || !d->nq)
		return;
	memcpy(d->inspect_id, d->queue[0], 65);
	memmove(d->queue[0], d->queue[1], (d->nq - 1) * sizeof(*d->queue));
	d->nq--;
	char path[128];
	snprintf(path, sizeof(path), API_VERSION "/containers/%s/json", d->inspect_id);
	d->inspect = http_get(d->base, &d->ep, path, d->timeout_ms, DG_DOCKER_MAX_RESPONSE, NULL,
			      NULL, follow_inspected, d);
}

static void queue_remove(struct dg_docker *d, const char *id)
{
	for (size_t i = 0; i < d->nq; i++) {
		if (strcmp(d->queue[i], id) != 0)
			continue;
		memmove(d->queue[i], d->queue[i + 1], (d->nq - i - 1) * sizeof(*d->queue));
		d->nq--;
		return;
	}
}

/* Returns -ENOBUFS when the queue is full (then the follower lists again).
 * `first`: ahead of the others (a created container, whose start waits in
 * dockguard-runc until it is inspected). */
static int queue_add(struct dg_docker *d, const char *id, bool first)
{
	for (size_t i = 0; i < d->nq; i++)
		if (!strcmp(d->queue[i], id))
			return 0;
	if (d->nq == DG_DOCKER_MAX_CONTAINERS)
		return -ENOBUFS;
	if (first) {
		memmove(d->queue[1], d->queue[0], d->nq * sizeof(*d->queue));
		memcpy(d->queue[0], id, 65);
		d->nq++;
	} else {
		memcpy(d->queue[d->nq++], id, 65);
	}
	return 0;
}

/* Actions after which what a policy can name about a container may differ. */
static bool relevant_action(const char *action)
{
	static const char *const actions[] = {
		"create", "start", "restart", "rename", "die", "stop", "destroy", "update",
	};
	for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
		if (!strcmp(action, actions[i]))
			return true;
	return false;
}

/*
 * A create event carries what a policy can name (name, image, labels, in
 * Actor.Attributes): the container goes into the set at once, without the
 * inspect round trip, because its first connect may follow within
 * milliseconds. The inspect queued after it fills in the rest (bind mounts,
 * a custom cgroup parent).
 */
static void follow_image_read(struct http *h, int err, const char *msg, void *arg);

/* Reads the image of a provisional container, one image at a time. */
static void follow_images(struct dg_docker *d)
{
	if (d->image_req)
		return;
	for (size_t i = 0; i < d->set.n; i++) {
		struct dg_container *c = &d->set.v[i];
		char *ipath;
		if (!c->provisional)
			continue;
		if (!(ipath = image_path(c))) {
			keep_create_labels(c, NULL);	/* no image to tell them by */
			c->provisional = false;
			d->unannounced++;
			continue;
		}
		d->image_req_ref = xstrdup(c->image_ref);
		d->image_req = http_get(d->base, &d->ep, ipath, d->timeout_ms,
					DG_DOCKER_MAX_RESPONSE, NULL, NULL, follow_image_read, d);
		free(ipath);
		return;
	}
	follow_announce(d);
}

/* The image of provisional containers: their labels told apart now. */
static void follow_image_read(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char errbuf[768];
	json_t *j = NULL;
	char *ref = d->image_req_ref;

	d->image_req = NULL;
	d->image_req_ref = NULL;
	err = answer_json(h, err, msg, &j, errbuf, sizeof(errbuf));
	http_free(h);
	/* -ENOENT: the image is gone, no label can be told from its; another
	 * error leaves them provisional, for the inspect to settle */
	if (!err || err == -ENOENT) {
		if (j)
			image_remember(d, ref, j);
		for (size_t i = 0; i < d->set.n; i++) {
			struct dg_container *c = &d->set.v[i];
			if (!c->provisional || !c->image_ref || strcmp(c->image_ref, ref))
				continue;
			keep_create_labels(c, j);
			c->provisional = false;
			d->unannounced++;
		}
	}
	json_decref(j);
	free(ref);
	if (err && err != -ENOENT)
		return;
	follow_images(d);
}

static void follow_created(struct dg_docker *d, const char *id, json_t *attrs)
{
	if (!json_is_object(attrs) || set_lookup(&d->set, id))
		return;
	json_t *labels = json_object(), *v;
	const char *key;
	json_object_foreach(attrs, key, v)
		if (strcmp(key, "name") && strcmp(key, "image"))
			json_object_set(labels, key, v);
	const char *name = json_string_value(json_object_get(attrs, "name"));
	const char *image = json_string_value(json_object_get(attrs, "image"));
	char *slash_name = xasprintf("/%s", name ? name : "");
	json_t *j = json_pack("{s:s, s:s, s:{s:s, s:o}, s:{s:i}, s:{}, s:[]}", "Id", id, "Name",
			      slash_name, "Config", "Image", image ? image : "", "Labels", labels,
			      "State", "Pid", 0, "HostConfig", "Mounts");
	free(slash_name);
	struct dg_container c;
	if (j && container_from_json(j, id, d->set.cgroup_driver, &c) == 0) {
		/* the event's labels include the image's: they are told apart
		 * at once when the image is known, else once it is read */
		json_t *known = image_cached(d, c.image_ref);
		if (c.n_labels && known)
			keep_create_labels(&c, known);
		else if (c.n_labels)
			c.provisional = true;
		set_upsert(d, &c);
		follow_announce(d);
		follow_images(d);
	}
	json_decref(j);
}

static int follow_event(struct dg_docker *d, const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return 0;	/* not an event: skip it, keep the stream */
	}
	const char *type = json_string_value(json_object_get(j, "Type"));
	const char *action = json_string_value(json_object_get(j, "Action"));
	const char *id = json_string_value(json_object_get(json_object_get(j, "Actor"), "ID"));
	if (!action)
		action = json_string_value(json_object_get(j, "status"));
	if (!id)
		id = json_string_value(json_object_get(j, "id"));
	int r = 0;
	if ((!type || !strcmp(type, "container")) && action && relevant_action(action) &&
	    valid_id(id)) {
		if (!strcmp(action, "destroy") && d->listed) {
			queue_remove(d, id);
			set_remove(d, id);
			if (!d->nq && !d->inspect)
				follow_announce(d);
		} else {
			if (!strcmp(action, "create") && d->listed)
				follow_created(d, id, json_object_get(json_object_get(j, "Actor"),
								      "Attributes"));
			/* While listing, destroy too: the inspect will find it gone. */
			r = queue_add(d, id, !strcmp(action, "create"));
			follow_pump(d);
		}
	}
	json_decref(j);
	return r;
}

static int follow_data(struct http *h, const char *data, size_t len, void *arg)
{
	struct dg_docker *d = arg;
	evbuffer_add(d->line, data, len);
	for (;;) {
		struct evbuffer_ptr eol = evbuffer_search_eol(d->line, NULL, NULL, EVBUFFER_EOL_LF);
		if (eol.pos < 0)
			break;
		size_t n = (size_t)eol.pos;
		if (n > MAX_EVENT_LINE)
			goto too_long;
		const char *text = (const char *)evbuffer_pullup(d->line, (ssize_t)n + 1);
		int r = follow_event(d, text, n);
		evbuffer_drain(d->line, n + 1);
		if (r == -ENOBUFS) {
			snprintf(h->msg, sizeof(h->msg),
				 "more than %d container events waiting; listing the containers "
				 "again", DG_DOCKER_MAX_CONTAINERS);
			return r;
		}
	}
	if (evbuffer_get_length(d->line) <= MAX_EVENT_LINE)
		return 0;
too_long:
	snprintf(h->msg, sizeof(h->msg),
		 "the Docker API at %s sent an event over %d bytes; is that address really the "
		 "Docker API? " HINT_HOST, d->ep.url, MAX_EVENT_LINE);
	return -EPROTO;
}

static void follow_listed(struct lister *l, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	d->lister = NULL;
	if (err) {
		char why[1024];
		snprintf(why, sizeof(why), "%s", msg);
		lister_free(l);
		follow_fail(d, why);
		return;
	}
	dg_container_set_free(&d->set);
	d->set = l->set;
	memset(&l->set, 0, sizeof(l->set));
	lister_free(l);
	d->listed = true;
	d->up = true;
	clock_gettime(CLOCK_MONOTONIC, &d->up_since);
	d->unannounced = 0;
	d->state(d->ctx, true, NULL);
	d->changed(d->ctx, &d->set);
	follow_pump(d);
}

static void follow_head(struct http *h, void *arg)
{
	struct dg_docker *d = arg;
	(void)h;
	d->lister = lister_start(d->base, &d->ep, d->timeout_ms, follow_listed, d);
}

static void follow_stream_done(struct http *h, int err, const char *msg, void *arg)
{
	struct dg_docker *d = arg;
	char why[1024];
	if (err) {
		snprintf(why, sizeof(why), "%s", msg);
	} else if (h->status != 200) {
		char text[256];
		http_error_text(h, text, sizeof(text));
		snprintf(why, sizeof(why), "the Docker API at %s answered %s with HTTP %d: %s",
			 d->ep.url, h->path, h->status, text);
	} else {
		snprintf(why, sizeof(why), "the Docker API at %s ended the event stream",
			 d->ep.url);
	}
	follow_fail(d, why);	/* frees `h` */
}

static void follow_connect(evutil_socket_t fd, short what, void *arg)
{
	struct dg_docker *d = arg;
	(void)fd;
	(void)what;
	if (d->bad_endpoint) {
		d->state(d->ctx, false, d->ep_err);
		return;
	}
	/* Events first, so that nothing done while listing goes unseen. */
	d->stream = http_get(d->base, &d->ep,
			     API_VERSION "/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D",
			     d->timeout_ms, 0, follow_head, follow_data, follow_stream_done, d);
}

struct dg_docker *dg_docker_follow(struct event_base *base, const char *docker_host,
				   dg_docker_changed_fn changed, dg_docker_state_fn state,
				   void *ctx)
{
	struct dg_docker *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->base = base;
	d->changed = changed;
	d->state = state;
	d->ctx = ctx;
	d->timeout_ms = DG_DOCKER_TIMEOUT_MS;
	d->backoff_ms = BACKOFF_MIN_MS;
	snprintf(d->set.cgroup_driver, sizeof(d->set.cgroup_driver), "cgroupfs");
	if (endpoint_parse(docker_host, &d->ep, d->ep_err, sizeof(d->ep_err)) != 0)
		d->bad_endpoint = true;
	d->queue = calloc(DG_DOCKER_MAX_CONTAINERS, sizeof(*d->queue));
	d->line = evbuffer_new();
	d->retry = evtimer_new(base, follow_connect, d);
	if (!d->queue || !d->line || !d->retry) {
		dg_docker_free(d);
		return NULL;
	}
	/* From the loop, so that no callback runs before this returns. */
	follow_schedule(d, 0);
	return d;
}

void dg_docker_set_timeout(struct dg_docker *d, int timeout_ms)
{
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : DG_DOCKER_TIMEOUT_MS;
}

void dg_docker_free(struct dg_docker *d)
{
	if (!d)
		return;
	follow_teardown(d);
	if (d->retry)
		event_free(d->retry);
	if (d->line)
		evbuffer_free(d->line);
	free(d->queue);
	for (size_t i = 0; i < d->n_images; i++) {
		free(d->images[i].ref);
		json_decref(d->images[i].image);
	}
	dg_container_set_free(&d->set);
	endpoint_free(&d->ep);
	free(d);
}
