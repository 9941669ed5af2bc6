// SPDX-License-Identifier: GPL-2.0-only
/* One request to the Docker API, waited for (docker.h: dg_docker_call). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "docker/internal.h"
#include "util/util.h"

struct call {
	struct event_base *base;
	bool done;
	int err;
	int status;
	char *body;
	size_t body_len;
	char *errbuf;
	size_t errlen;
};

static void call_done(struct http *h, int err, const char *msg, void *arg)
{
	struct call *c = arg;

	c->done = true;
	c->err = err;
	if (err) {
		snprintf(c->errbuf, c->errlen, "%s", msg);
	} else {
		c->status = h->status;
		c->body_len = evbuffer_get_length(h->body);
		c->body = xmalloc(c->body_len + 1);
		evbuffer_remove(h->body, c->body, c->body_len);
		c->body[c->body_len] = 0;
	}
	http_free(h);
	event_base_loopbreak(c->base);
}

int dg_docker_call(const char *docker_host, const char *method, const char *path,
		   const char *body, size_t body_len, const char *content_type, int timeout_ms,
		   struct dg_docker_answer *out, char *err, size_t errlen)
{
	struct endpoint ep;

	memset(out, 0, sizeof(*out));
	struct event_base *base;
	int r = private_loop(docker_host, &ep, &timeout_ms, &base, err, errlen);
	if (r)
		return r;
	struct call c = { .base = base, .errbuf = err, .errlen = errlen };
	http_request(base, &ep, method, path, body, body_len, content_type, timeout_ms,
		     DG_DOCKER_MAX_RESPONSE, NULL, NULL, call_done, &c);
	event_base_dispatch(base);
	event_base_free(base);
	endpoint_free(&ep);
	if (!c.done) {
		snprintf(err, errlen, "the event loop failed during %s %s", method, path);
		return -EIO;
	}
	if (c.err)
		return c.err;
	out->status = c.status;
	out->body = c.body;
	out->body_len = c.body_len;
	out->json = json_loadb(c.body, c.body_len, 0, NULL);
	if (c.status < 200 || c.status > 299) {
		const char *m = json_string_value(json_object_get(out->json, "message"));
		snprintf(err, errlen, "the Docker API at %s answered %s %s with HTTP %d: %.300s",
			 docker_host, method, path, c.status, m ? m : c.body);
	}
	return 0;
}

void dg_docker_answer_free(struct dg_docker_answer *a)
{
	free(a->body);
	json_decref(a->json);
	memset(a, 0, sizeof(*a));
}
