/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the Docker Engine API client (docker.h), shared by its files and by
 * nothing else. Layers, bottom up:
 *   endpoint  (api.c) `unix:///path` or `tcp://host:port`, parsed once;
 *   http      (api.c) one GET per connection (Connection: close) on a
 *             non-blocking socket watched by libevent, its answer parsed by
 *             http/http.h (framed by Content-Length, chunked encoding or
 *             EOF). A request has a deadline (timer) for its whole life,
 *             except a streaming request (/events) whose deadline ends with
 *             its headers; its body goes to a callback as it comes, and only
 *             its lines are bounded. Writes use send(MSG_NOSIGNAL): a peer
 *             that hangs up never raises SIGPIPE in the caller;
 *   containers (containers.c) a dg_container from its inspect answer, with
 *             the labels told apart from its image's;
 *   lister    (list.c) /info, /containers/json?all=1, then
 *             /containers/{id}/json for each (a few at once) into a
 *             dg_container_set;
 *   follower  (follow.c) /events first, then the lister (so nothing that
 *             happens while listing is missed), then one inspect per
 *             container event.
 *
 * Callback discipline: a completion callback (http, lister) is the last
 * thing its caller does, so the callee may free the object that called it.
 */
#ifndef DOCKGUARD_DOCKER_INTERNAL_H
#define DOCKGUARD_DOCKER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include <event2/event.h>
#include <jansson.h>

#include "docker/docker.h"
#include "http/http.h"

#define API_VERSION		"/v1.41"
#define MAX_HEAD		(64 * 1024)	/* all the headers of a response */
#define MAX_ERROR_BODY		(64 * 1024)	/* body of an error answer */
#define MAX_EVENT_LINE		(1024 * 1024)	/* one event of the stream */
#define READ_CHUNK		65536
#define INSPECT_WINDOW		8		/* inspects in flight while listing */
#define ANNOUNCE_EVERY		32		/* changes batched at most, then `changed` */

/* What one container may hold; beyond these, a field or item is left out. */
#define MAX_NAME		256
#define MAX_STRING		4096		/* image, label value, mount path */
#define MAX_LABEL_KEY		256
#define MAX_LABELS		256
#define MAX_LABEL_BYTES		(32 * 1024)
#define MAX_MOUNTS		64
#define MAX_MOUNT_BYTES		(32 * 1024)

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		30000
#define STABLE_MS		30000		/* up this long: the next retry starts at 1 s */

#define SERVICE_LABEL		"com.docker.swarm.service.name"
#define TASK_LABEL		"com.docker.swarm.task.id"
#define IMAGE_CACHE		64
#define HINT_HOST		"(set docker-host in the policy)"

struct endpoint {
	char *url;			/* as given, for messages */
	bool is_unix;
	struct sockaddr_un sun;		/* unix */
	char *host, *port;		/* tcp: host without brackets */
	char *host_header;
};

enum hstate { H_CONNECTING, H_SENDING, H_READING, H_DONE };

struct http;
/* A streaming request's 200 headers arrived. */
typedef void (*http_head_fn)(struct http *h, void *arg);
/* A piece of a streaming body; a negative errno (with h->msg set) aborts. */
typedef int (*http_data_fn)(struct http *h, const char *data, size_t len, void *arg);
/*
 * The end: err 0 with h->status and h->body (a complete answer of any status),
 * or -errno with `msg`. The callee may free `h`; copy `msg` first.
 */
typedef void (*http_done_fn)(struct http *h, int err, const char *msg, void *arg);

struct http {
	const struct endpoint *ep;
	char path[320];			/* "METHOD path", for messages */
	char *req;
	size_t req_len, req_off;
	int fd;
	int timeout_ms;
	struct event *io, *timer;
	enum hstate st;
	int status;
	bool stream;
	struct dg_http parser;		/* the answer (http/http.h) */
	struct evbuffer *in, *body;
	size_t body_max;
	int early_err;			/* a failure to report from the timer */
	char msg[768];
	http_head_fn on_head;
	http_data_fn on_data;
	http_done_fn on_done;
	void *arg;
};

struct lister;
typedef void (*lister_done_fn)(struct lister *l, int err, const char *msg, void *arg);

struct lister {
	struct event_base *base;
	const struct endpoint *ep;
	int timeout_ms;
	struct http *req;			/* info or list */
	struct http *insp[INSPECT_WINDOW];
	size_t insp_idx[INSPECT_WINDOW];
	char (*ids)[65];
	size_t n_ids, next;
	struct dg_container *slots;		/* by id index */
	bool *have;
	struct dg_container_set set;
	lister_done_fn done;
	void *arg;
	char err[768];
};

/* ---- api.c */

/* The API's address from `unix:///path`, `tcp://host:port` or
 * `http://host:port`; -EINVAL with `err` naming the forms. */
int endpoint_parse(const char *s, struct endpoint *ep, char *err, size_t errlen);
void endpoint_free(struct endpoint *ep);

/* For a call that waits (dg_docker_list, dg_docker_call): the API's address
 * parsed into `ep` and an event loop of its own in *base; *timeout_ms <= 0
 * becomes DG_DOCKER_TIMEOUT_MS. 0, or -errno with `err` (nothing to free). */
int private_loop(const char *docker_host, struct endpoint *ep, int *timeout_ms,
		 struct event_base **base, char *err, size_t errlen);

/* Closes the connection and frees `h` (NULL: nothing). */
void http_free(struct http *h);
/*
 * Starts `GET path`. Failures, even immediate ones, come through on_done,
 * never from inside this call. `on_head`/`on_data` make it a streaming
 * request; `body_max` bounds the body of the others.
 */
/* The same for any method, with a body (NULL: none) of `content_type`
 * (NULL: application/json). */
struct http *http_request(struct event_base *base, const struct endpoint *ep, const char *method,
			  const char *path, const char *body, size_t body_len,
			  const char *content_type, int timeout_ms, size_t body_max,
			  http_head_fn on_head, http_data_fn on_data, http_done_fn on_done, void *arg);
struct http *http_get(struct event_base *base, const struct endpoint *ep,
	const char *path, int timeout_ms, size_t body_max,
	http_head_fn on_head, http_data_fn on_data, http_done_fn on_done,
	void *arg);
/* The `message` of an error answer, or a piece of its body. */
void http_error_text(struct http *h, char *buf, size_t len);
/* A complete 200 answer as JSON; else -errno with `err` set. */
int http_json(struct http *h, json_t **out, char *err, size_t errlen);

/* ---- containers.c */

/* A full container id: 64 lowercase hex digits. */
bool valid_id(const char *s);
void container_free(struct dg_container *c);
/* Whether two views of a container judge alike (an unchanged inspect). */
bool container_equal(const struct dg_container *a, const struct dg_container *b);
/*
 * An inspect answer into `c`. Fields over their bounds are left out (a name
 * that no rule could match rather than a cut one that might).
 */
int container_from_json(json_t *j, const char *want_id, const char *driver,
	struct dg_container *c);
/*
 * Leaves out of c->labels those the container inherited from its image
 * (`image`: the image inspect answer, NULL when it could not be had: then
 * every label, since none can be told from the image's), and names the swarm
 * service only of a task container (task id and service name both given at
 * create). An image author chooses the image's labels; a rule must never
 * trust them as if the operator had set them.
 */
void keep_create_labels(struct dg_container *c, json_t *image);
/* The API path of an image's inspect, or NULL for a reference that is not
 * plainly a name or an id (then its labels cannot be read). */
char *image_path(const struct dg_container *c);
/*
 * What telling c's labels from its image's takes: NULL when that is settled
 * now (no labels; `known`, the image's answer, at hand; or no image
 * reference to read), else the API path of the image to read (malloc'd).
 */
char *labels_image_path(struct dg_container *c, json_t *known);
/* A request's answer as JSON into *j (NULL on error), or its error, with
 * the message in `buf`: the transport's, or what http_json() says (-ENOENT
 * for a 404). */
int answer_json(struct http *h, int err, const char *msg, json_t **j, char *buf,
	size_t len);

/* ---- list.c */

/* Lists the containers; `done` gets the set in l->set (or an error). */
struct lister *lister_start(struct event_base *base, const struct endpoint *ep,
	int timeout_ms, lister_done_fn done, void *arg);
void lister_free(struct lister *l);

#endif
