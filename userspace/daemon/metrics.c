// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's metrics (metrics.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "cli/cli.h"
#include "daemon/metrics.h"
#include "util/util.h"

#define TEXTFILE_SECONDS 15

struct dg_metrics {
	struct evhttp *http;
	struct event *tick;
	char *textfile;
	dg_metrics_status_fn fn;
	void *arg;
};

static char *render(struct dg_metrics *m, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	json_t *s = m->fn(m->arg);

	if (!f) {
		json_decref(s);
		return NULL;
	}
	if (s)
		dg_metrics_write(f, s);
	fclose(f);
	json_decref(s);
	return text;
}

static void serve(struct evhttp_request *req, void *arg)
{
	struct dg_metrics *m = arg;
	const char *uri = evhttp_request_get_uri(req);
	size_t len;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || !uri ||
	    (strcmp(uri, "/metrics") && strncmp(uri, "/metrics?", 9))) {
		evhttp_send_error(req, 404, "only GET /metrics here");
		return;
	}
	char *text = render(m, &len);
	struct evbuffer *out = evbuffer_new();
	if (!text || !out) {
		evhttp_send_error(req, 500, "out of memory");
	} else {
		evbuffer_add(out, text, len);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
				  "text/plain; version=0.0.4; charset=utf-8");
		evhttp_send_reply(req, 200, "OK", out);
	}
	if (out)
		evbuffer_free(out);
	free(text);
}

static void write_textfile(evutil_socket_t fd, short what, void *arg)
{
	struct dg_metrics *m = arg;
	size_t len;
	char *text = render(m, &len);
	char *tmp = xasprintf("%s.tmp", m->textfile);
	FILE *f = text ? fopen(tmp, "we") : NULL;

	(void)fd, (void)what;
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0 || rename(tmp, m->textfile) < 0) {
		static bool said;
		if (!said)
			dg_cli_error("metrics: cannot write %s: %s; check that its directory exists "
				     "and is writable (ReadWritePaths= in the unit)", m->textfile,
				     strerror(errno));
		said = true;
		unlink(tmp);
	}
	free(tmp);
	free(text);
}

/* A listening unix socket at `path`, mode 0600 (metrics are root's to hand out). */
static int unix_listener(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

struct dg_metrics *dg_metrics_start(struct event_base *base, const char *url, const char *textfile,
				    dg_metrics_status_fn fn, void *arg, struct dg_err *err)
{
	struct dg_metrics *m = xcalloc(1, sizeof(*m));

	m->fn = fn;
	m->arg = arg;
	if (url) {
		m->http = evhttp_new(base);
		if (!m->http) {
			dg_err_set(err, "cannot serve metrics: out of memory");
			goto fail;
		}
		evhttp_set_gencb(m->http, serve, m);
		if (!strncmp(url, "unix://", 7)) {
			int fd = unix_listener(url + 7);
			if (fd < 0 || !evhttp_accept_socket_with_handle(m->http, fd)) {
				dg_err_set(err, "cannot serve metrics at %s: %s", url,
					   strerror(fd < 0 ? -fd : ENOMEM));
				if (fd >= 0)
					close(fd);
				goto fail;
			}
		} else {
			/* tcp://HOST:PORT or tcp://[V6]:PORT (the parser checked the form) */
			char *host = xstrdup(url + 6), *colon = strrchr(host, ':');
			*colon = 0;
			unsigned port = (unsigned)atoi(colon + 1);
			char *h = host;
			if (h[0] == '[') {
				h++;
				h[strlen(h) - 1] = 0;
			}
			bool ok = evhttp_bind_socket_with_handle(m->http, h, (ev_uint16_t)port) != NULL;
			free(host);
			if (!ok) {
				dg_err_set(err, "cannot serve metrics at %s: %s (another program on that "
					   "port?)", url, strerror(errno));
				goto fail;
			}
		}
	}
	if (textfile) {
		struct timeval every = { TEXTFILE_SECONDS, 0 };
		m->textfile = xstrdup(textfile);
		m->tick = event_new(base, -1, EV_PERSIST, write_textfile, m);
		if (!m->tick || event_add(m->tick, &every)) {
			dg_err_set(err, "cannot arm the metrics textfile timer: out of memory");
			goto fail;
		}
		write_textfile(-1, 0, m);
	}
	return m;
fail:
	dg_metrics_free(m);
	return NULL;
}

void dg_metrics_free(struct dg_metrics *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	if (m->tick)
		event_free(m->tick);
	free(m->textfile);
	free(m);
}
