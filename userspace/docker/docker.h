/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small Docker Engine API client: the containers of a host with what a
 * policy can name (name, id, labels, image, swarm service), the cgroup each
 * runs in, and its bind mounts. Listed once (blocking, for `load` and
 * `explain`) or followed through /events on a libevent base (the daemon).
 *
 * Whatever the API sends, memory stays bounded (responses over
 * DG_DOCKER_MAX_RESPONSE are refused, at most DG_DOCKER_MAX_CONTAINERS are
 * kept) and every request times out.
 */
#ifndef DOCKGUARD_DOCKER_H
#define DOCKGUARD_DOCKER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define DG_DOCKER_MAX_RESPONSE		(16 * 1024 * 1024)
#define DG_DOCKER_MAX_CONTAINERS	8192
#define DG_DOCKER_TIMEOUT_MS		5000

struct dg_label {
	char *key;
	char *value;
};

struct dg_mount {
	char *source;		/* host path */
	char *destination;	/* path inside the container */
};

struct dg_container {
	char id[65];		/* full hex id */
	char *name;		/* without the leading '/' */
	char *image;		/* Config.Image, as given: "bb:latest" */
	/* The swarm service of a task container: com.docker.swarm.service.name,
	 * only beside com.docker.swarm.task.id, both given at create (by
	 * swarm's executor), never inherited from the image. NULL otherwise. */
	char *service;
	/* Labels given at create: an image's own labels (LABEL in its build,
	 * chosen by whoever made the image) are left out; when the image's
	 * labels cannot be read, every label is. */
	struct dg_label *labels;
	size_t n_labels;
	char *image_ref;	/* what the image is looked up by: its id, else Config.Image */
	/* Its labels are not told apart from its image's yet (known from its
	 * create event, the image not read yet): no `label` or `service` rule
	 * matches it until they are. */
	bool provisional;
	char *cgroup;		/* cgroup v2 path: /docker/<id>, /system.slice/docker-<id>.scope */
	struct dg_mount *mounts;	/* bind mounts only */
	size_t n_mounts;
	int pid;		/* State.Pid, 0 when not running */
};

struct dg_container_set {
	struct dg_container *v;
	size_t n;
	char cgroup_driver[16];	/* "cgroupfs" or "systemd", from /info */
};

/*
 * Lists every container (running or not) with its details. `docker_host` is
 * `unix:///path` or `tcp://host:port`. Returns 0, or -errno with `err` set
 * to a message that says what failed and what to do: -EINVAL (not an API
 * address), the connect errno (-ENOENT, -ECONNREFUSED, ...), -ETIMEDOUT (no
 * complete answer within `timeout_ms`, per request), -EPROTO (not HTTP, not
 * JSON, not the Docker API), -EFBIG (an answer over DG_DOCKER_MAX_RESPONSE),
 * -EIO (an HTTP error status). `timeout_ms` <= 0 means DG_DOCKER_TIMEOUT_MS.
 */
int dg_docker_list(const char *docker_host, int timeout_ms, struct dg_container_set *out,
		   char *err, size_t errlen);

void dg_container_set_free(struct dg_container_set *set);

/* The set as JSON, and back (0, or -EINVAL when `j` is not such a set):
 * for the daemon's relay process. */
json_t *dg_container_set_to_json(const struct dg_container_set *set);
int dg_container_set_from_json(const json_t *j, struct dg_container_set *out);

/* The container whose cgroup is `cgroup` or an ancestor of it, or NULL. */
const struct dg_container *dg_container_by_cgroup(const struct dg_container_set *set,
						  const char *cgroup);

/* The container named `name` (with or without '/'), or whose id starts with it. */
const struct dg_container *dg_container_find(const struct dg_container_set *set,
					     const char *name);

/*
 * The set passed to `changed` stays valid until the next call of `changed`
 * or dg_docker_free().
 *
 * The daemon's follower: lists the containers, then follows /events
 * (create, start, rename, die, destroy, ...) and calls `changed` with the
 * whole current set after every change, and `state` whenever the connection
 * to the API goes up or down (with the reason). On errors it reconnects with
 * a growing backoff (1 s .. 30 s) and lists again.
 */
struct event_base;
struct dg_docker;
typedef void (*dg_docker_changed_fn)(void *ctx, const struct dg_container_set *set);
typedef void (*dg_docker_state_fn)(void *ctx, bool connected, const char *why);

struct dg_docker *dg_docker_follow(struct event_base *base, const char *docker_host,
				   dg_docker_changed_fn changed, dg_docker_state_fn state,
				   void *ctx);
void dg_docker_free(struct dg_docker *d);

/*
 * Notes on the follower:
 * - `changed` gets a pointer to the follower's own set: valid until the next
 *   `changed` or dg_docker_free(). It is called after a (re)listing, and after
 *   container events that changed what a policy can name (a start that only
 *   repeats what is known is not announced); a burst of events is announced
 *   once its inspects are done, at most every 32 changes.
 * - `state(false, why)` comes after every failed attempt (so also while the
 *   API stays away, at the backoff's pace); `state(true, NULL)` once per
 *   successful (re)connection, just before its `changed`.
 * - Neither callback may call dg_docker_free().
 */

/* The per-request timeout of a follower (DG_DOCKER_TIMEOUT_MS by default). */
void dg_docker_set_timeout(struct dg_docker *d, int timeout_ms);

/* A complete answer of any status: its body as given and, when it is JSON,
 * parsed. */
struct dg_docker_answer {
	int status;
	char *body;
	size_t body_len;
	json_t *json;		/* NULL when the body is not JSON */
};
/*
 * One request (`body` NULL for none, of `content_type`, NULL for
 * application/json), waited for: 0 with `out` (any status: a status other
 * than 2xx also sets `err` to a message naming it), or -errno with `err`
 * (the API unreachable, a timeout, a broken answer).
 */
int dg_docker_call(const char *docker_host, const char *method, const char *path,
		   const char *body, size_t body_len, const char *content_type, int timeout_ms,
		   struct dg_docker_answer *out, char *err, size_t errlen);
void dg_docker_answer_free(struct dg_docker_answer *a);
/* For tests: where /proc/<pid>/cgroup is read (NULL: /proc). */
void dg_docker_set_proc_root(const char *dir);

#endif
