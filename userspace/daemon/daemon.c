// SPDX-License-Identifier: GPL-2.0-only
/*
 * `run`: the daemon for systemd (Type=notify).
 *
 * It loads the policy (or keeps the pinned one), consumes the kernel's event
 * ring buffer, logs every event (the journal under systemd, stderr
 * otherwise), keeps the last DG_BACKLOG events in memory and serves them and
 * the live stream to `dockguard tail` over RUN_DIR/control.sock. SIGHUP
 * reloads the policy file; SIGTERM/SIGINT exit leaving enforcement in place
 * (the programs and links are pinned in bpffs), unless --unload-on-exit.
 *
 * Control protocol: the client sends one line,
 *   tail json | tail text | tail json no-follow | tail text no-follow | status
 * `status` answers one JSON line and closes:
 *   {"pid","policy","generation","started_at","events","clients","client_drops"}
 * (clients = tail clients following, client_drops = lines dropped for slow
 * ones since start); `tail` answers the backlog, one event per line, then
 * (unless no-follow) every new event. Anything else is answered
 * `error: unknown request`; the 65th connection `error: too many clients`.
 *
 * Bounded memory: a tail client whose output buffer holds more than
 * DG_CLIENT_MAX_QUEUED bytes loses lines (counted, never blocking the
 * daemon); once its buffer drains it is told how many with a notice line.
 * Everything runs in the libevent loop, signals included.
 */
#include <errno.h>
#include <malloc.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "docker/docker.h"
#include "daemon/events.h"
#include "daemon/fleet.h"
#include "daemon/metrics.h"
#include "daemon/relays.h"
#include "kernel/kernel.h"
#include "kernel/listeners.h"
#include "util/util.h"

#define DG_BACKLOG		1000		/* events kept for new tail clients */
#define DG_MAX_CLIENTS		64
#define DG_CLIENT_MAX_QUEUED	(1u << 20)	/* bytes queued per client before dropping */
#define DG_CLIENT_RESUME	(256u << 10)	/* drained below this: resume, say what was lost */
#define DG_REQUEST_MAX		128		/* longest request line */
#define DG_REQUEST_TIMEOUT_S	5		/* to send the request line */
#define DG_ONESHOT_TIMEOUT_S	30		/* to read a status or no-follow answer */

enum client_state {
	CLIENT_REQUEST,		/* waiting for the request line */
	CLIENT_FOLLOW,		/* tail: gets every new event */
	CLIENT_PREPARE,		/* prepare: waits for a container's identity */
	CLIENT_CLOSING,		/* answer queued: freed once it is written */
};

struct daemon;

struct client {
	struct daemon *d;
	struct bufferevent *bev;
	struct client *prev, *next;
	enum client_state state;
	char prepare_id[65];		/* `prepare ID`: the container awaited */
	struct event *prepare_timer;
	int prepare_polls;
	bool json;
	uint64_t dropped;	/* lines lost since the last notice */
};

struct daemon {
	struct dg_cli *cli;
	const char *policy_path;	/* as given */
	/* the policy in force as parsed at start or SIGHUP: what a change of
	 * containers recompiles (cli->policy), never the file again */
	struct dg_policy *policy;
	char *policy_file;		/* of the policy in force, from its pinned description */
	uint64_t generation;
	char started_at[32];

	struct event_base *base;
	struct dg_relays *relays;	/* the policy's API relays, served by a process of their own */
	bool policy_has_relays;
	struct event *ev_ring, *ev_listen, *ev_hup, *ev_term, *ev_int;
	struct dg_event_reader *reader;
	struct dg_namer *namer;
	bool journal;

	int listen_fd;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	struct dg_event *backlog;	/* ring of the last DG_BACKLOG events */
	size_t backlog_head, backlog_len;

	struct client *clients;
	int n_clients;
	uint64_t events;
	uint64_t client_drops;
	uint64_t loads_ok, loads_failed;	/* every load: start, SIGHUP, containers, fleet */
	int exit_status;

	/* Docker: the follower and what it last said */
	char *docker_host;
	struct dg_docker *docker;
	const struct dg_container_set *containers;	/* owned by the follower */
	bool docker_connected;
	char docker_why[512];
	uint64_t *applied;		/* fingerprints of the containers in force, sorted */
	size_t n_applied;
	struct event *ev_settle;	/* a deferred swap for departures */
	struct event *ev_apply;		/* the next swap of a burst of arrivals */
	long long last_apply_ms;	/* monotonic, of the last container swap */
	struct event *ev_idle;		/* finish the last swap's clean-up */
	uint64_t prepared;		/* containers confirmed to dockguard-runc */

	/* listeners wider than their endpoint (see "Listeners" in dockguard_abi.h) */
	/* the fleet (docs/fleet.md): NULL unless the local policy pins a key */
	struct dg_fleet_node *fleet;
	char *fleet_path;		/* the bundle's policy file in force (policy_path) */
	struct event *ev_fleet;		/* the couriers hear from us every few seconds */
	struct dg_metrics *metrics;	/* set metrics, set metrics-textfile */

	int addrs_fd;			/* netlink: local addresses and routes changed */
	struct event *ev_addrs, *ev_rescan;
	uint64_t wild_fingerprint;	/* of the wildcard listeners last seen */
	bool listen_sync_failed;	/* said once, not every rescan */
};

/* Reads the generation and policy file in force back from the kernel. */
static void refresh_state(struct daemon *d)
{
	struct dg_kernel_state st;
	struct dg_err err = { "" };

	if (dg_kernel_read_state(d->cli->bpffs, &st, &err)) {
		dg_cli_error("cannot read the pinned state in %s: %s", d->cli->bpffs, err.msg);
		return;
	}
	if (st.loaded) {
		d->generation = st.hdr.generation;
		json_t *meta = st.meta_json ? json_loads(st.meta_json, 0, NULL) : NULL;
		const char *file = json_string_value(json_object_get(meta, "file"));
		const char *host = json_string_value(json_object_get(meta, "docker_host"));
		free(d->policy_file);
		d->policy_file = xstrdup(file ? file : d->policy_path);
		free(d->docker_host);
		d->docker_host = xstrdup(host ? host : DG_DEFAULT_DOCKER_HOST);
		json_decref(meta);
	}
	dg_kernel_state_free(&st);
}

static void notify_ready(struct daemon *d)
{
	sd_notifyf(0, "READY=1\nSTATUS=enforcing %s, generation %llu",
		   d->policy_file ? d->policy_file : d->policy_path,
		   (unsigned long long)d->generation);
}

/* ---- clients ---------------------------------------------------------- */

static void client_free(struct client *c)
{
	struct daemon *d = c->d;

	if (c->prev)
		c->prev->next = c->next;
	else
		d->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->n_clients--;
	if (c->prepare_timer)
		event_free(c->prepare_timer);
	bufferevent_free(c->bev);
	free(c);
}

/* Queues one line (`line` has no newline) unless the client is too far
 * behind: then the line is dropped and counted. */
static void client_send(struct client *c, const char *line)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	/* One ring buffer batch can hold thousands of events, all queued before
	 * the loop gets to write: at the limit, first try to hand the queue to
	 * the socket at once (non-blocking), so that only a reader that really
	 * lags loses lines. */
	if (!c->dropped && evbuffer_get_length(out) > DG_CLIENT_MAX_QUEUED) {
		/* a bufferevent freezes the start of its output; it thaws it
		 * the same way around its own writes */
		evbuffer_unfreeze(out, 1);
		evbuffer_write(out, bufferevent_getfd(c->bev));
		evbuffer_freeze(out, 1);
	}
	/* once dropping, keep dropping until the notice is out, so that the
	 * notice stands exactly where the gap is */
	if (c->dropped || evbuffer_get_length(out) > DG_CLIENT_MAX_QUEUED) {
		c->dropped++;
		c->d->client_drops++;
		return;
	}
	evbuffer_add_printf(out, "%s\n", line);
}

static char *event_json_line(struct daemon *d, const struct dg_event *ev)
{
	json_t *o = dg_event_json(d->namer, ev);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static void client_send_event(struct client *c, const struct dg_event *ev)
{
	char *line = c->json ? event_json_line(c->d, ev) : dg_event_text(c->d->namer, ev);

	if (line)
		client_send(c, line);
	free(line);
}

static void client_write_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *out = bufferevent_get_output(bev);

	if (c->state == CLIENT_CLOSING) {
		if (evbuffer_get_length(out) == 0)
			client_free(c);
		return;
	}
	if (c->dropped) {
		if (c->json)
			evbuffer_add_printf(out, "{\"notice\":\"dropped\",\"events\":%llu}\n",
					    (unsigned long long)c->dropped);
		else
			evbuffer_add_printf(out,
					    "dockguard: %llu events dropped: this reader was too slow\n",
					    (unsigned long long)c->dropped);
		c->dropped = 0;
	}
}

static void client_close_after_write(struct client *c)
{
	struct timeval tv = { DG_ONESHOT_TIMEOUT_S, 0 };

	c->state = CLIENT_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		client_free(c);
}

/* What the daemon says of itself (`status` merges it with the pins). */
static json_t *daemon_status_json(struct daemon *d)
{
	int followers = 0;

	for (struct client *o = d->clients; o; o = o->next)
		followers += o->state == CLIENT_FOLLOW;
	json_t *s = json_pack("{s:i, s:s, s:I, s:s, s:I, s:i, s:I, s:{s:s, s:b, s:I, s:s, s:I}}",
			      "pid", (int)getpid(),
			      "policy", d->policy_file ? d->policy_file : d->policy_path,
			      "generation", (json_int_t)d->generation,
			      "started_at", d->started_at,
			      "events", (json_int_t)d->events,
			      "clients", followers,
			      "client_drops", (json_int_t)d->client_drops,
			      "docker",
			      "host", d->docker_host ? d->docker_host : DG_DEFAULT_DOCKER_HOST,
			      "connected", d->docker_connected,
			      "containers", (json_int_t)(d->containers ? d->containers->n : 0),
			      "error", d->docker_connected ? "" : d->docker_why,
			      "prepared", (json_int_t)d->prepared);
	if (s && d->relays && (dg_relays_pid(d->relays) || d->policy_has_relays))
		json_object_set_new(s, "relay", dg_relays_status(d->relays));
	if (s && d->fleet)
		json_object_set_new(s, "fleet", dg_fleet_node_json(d->fleet));
	if (s)
		json_object_set_new(s, "loads", json_pack("{s:I,s:I}", "ok", (json_int_t)d->loads_ok,
							  "failed", (json_int_t)d->loads_failed));
	return s;
}

static void answer_status(struct client *c)
{
	json_t *s = daemon_status_json(c->d);
	char *line = s ? json_dumps(s, JSON_COMPACT) : NULL;

	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\n",
			    line ? line : "error: out of memory");
	free(line);
	json_decref(s);
}

/* The status that `dockguard metrics` would print, for the metrics server. */
static json_t *metrics_status(void *arg)
{
	struct daemon *d = arg;
	json_t *ds = daemon_status_json(d);
	int ret;
	json_t *s = dg_status_collect_with(d->cli, ds, &ret);

	json_decref(ds);
	return s;
}

static void answer_tail(struct client *c, bool follow)
{
	struct daemon *d = c->d;
	size_t first = (d->backlog_head + DG_BACKLOG - d->backlog_len) % DG_BACKLOG;

	bufferevent_set_timeouts(c->bev, NULL, NULL);
	for (size_t i = 0; i < d->backlog_len; i++)
		client_send_event(c, &d->backlog[(first + i) % DG_BACKLOG]);
	if (!follow) {
		client_close_after_write(c);
		return;
	}
	c->state = CLIENT_FOLLOW;
	bufferevent_setwatermark(c->bev, EV_WRITE, DG_CLIENT_RESUME, 0);
}

/* `suggest`: what callers asked of the relays (dg_relays_seen), one line. */
static void answer_suggest(struct client *c)
{
	json_t *s = c->d->relays ? dg_relays_seen(c->d->relays) : json_pack("{s:[]}", "seen");
	char *line = s ? json_dumps(s, JSON_COMPACT) : NULL;

	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\n", line ? line : "{}");
	free(line);
	json_decref(s);
}

static uint64_t container_fingerprint(const struct dg_container *c);
static int u64_cmp(const void *a, const void *b);

/* Is container `id` known, as it is now, to the policy in force? */
static bool container_in_force(const struct daemon *d, const char *id)
{
	for (size_t i = 0; d->containers && i < d->containers->n; i++) {
		if (strcmp(d->containers->v[i].id, id))
			continue;
		/* its labels and service are known once it is inspected */
		if (d->containers->v[i].provisional)
			return false;
		uint64_t f = container_fingerprint(&d->containers->v[i]);
		return bsearch(&f, d->applied, d->n_applied, sizeof(f), u64_cmp) != NULL;
	}
	return false;
}

#define PREPARE_POLL_US 5000
#define PREPARE_MAX_POLLS 400	/* 2 s */

/*
 * `prepare ID`, from the OCI runtime shim (tools/runc-shim) before runc
 * creates the container: answered `ok` once the container's identity is in
 * the policy in force, so that its first connect is judged as itself. The
 * create event that brings it is normally already here or on its way.
 */
static void prepare_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct timeval tv = { .tv_usec = PREPARE_POLL_US };

	(void)fd;
	(void)what;
	if (container_in_force(c->d, c->prepare_id)) {
		c->d->prepared++;
		evbuffer_add_printf(bufferevent_get_output(c->bev), "ok\n");
		client_close_after_write(c);
	} else if (++c->prepare_polls >= PREPARE_MAX_POLLS) {
		evbuffer_add_printf(bufferevent_get_output(c->bev), "unknown\n");
		client_close_after_write(c);
	} else {
		evtimer_add(c->prepare_timer, &tv);
	}
}

static void answer_prepare(struct client *c, const char *id)
{
	size_t n = strlen(id);

	if (n != 64 || strspn(id, "0123456789abcdef") != n) {
		evbuffer_add_printf(bufferevent_get_output(c->bev), "error: not a container id\n");
		client_close_after_write(c);
		return;
	}
	memcpy(c->prepare_id, id, n + 1);
	c->state = CLIENT_PREPARE;
	c->prepare_timer = evtimer_new(c->d->base, prepare_cb, c);
	if (!c->prepare_timer) {
		client_free(c);
		return;
	}
	prepare_cb(-1, 0, c);
}

static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state != CLIENT_REQUEST) {
		/* a follower has nothing more to say: discard */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
	if (!line) {
		if (evbuffer_get_length(in) > DG_REQUEST_MAX) {
			evbuffer_add_printf(bufferevent_get_output(bev), "error: unknown request\n");
			client_close_after_write(c);
		}
		return;
	}
	if (!strcmp(line, "status")) {
		answer_status(c);
		client_close_after_write(c);
	} else if (!strcmp(line, "tail json") || !strcmp(line, "tail text")) {
		c->json = line[5] == 'j';
		answer_tail(c, true);
	} else if (!strcmp(line, "tail json no-follow") || !strcmp(line, "tail text no-follow")) {
		c->json = line[5] == 'j';
		answer_tail(c, false);
	} else if (!strcmp(line, "suggest")) {
		answer_suggest(c);
		client_close_after_write(c);
	} else if (!strncmp(line, "prepare ", 8)) {
		answer_prepare(c, line + 8);
	} else {
		evbuffer_add_printf(bufferevent_get_output(bev), "error: unknown request\n");
		client_close_after_write(c);
	}
	free(line);
}

static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	(void)bev;
	/* EOF from a client that has its answer queued: the peer may have only
	 * shut down its sending side, finish writing */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->state == CLIENT_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	/* EOF, error or timeout: the client is gone or stuck */
	client_free(c);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	for (int i = 0; i < 16; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				dg_cli_error("cannot accept a control connection on %s: %s; "
				      "raise the open-files limit if this repeats",
				      d->sock_path, strerror(errno));
			return;
		}
		if (d->n_clients >= DG_MAX_CLIENTS) {
			static const char msg[] = "error: too many clients\n";
			/* a fresh socket's buffer takes this at once */
			ssize_t n = write(fd, msg, sizeof(msg) - 1);
			(void)n;
			close(fd);
			continue;
		}
		struct client *c = calloc(1, sizeof(*c));
		struct bufferevent *bev =
			c ? bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
		if (!bev) {
			dg_cli_error("out of memory for a control connection; refused it");
			free(c);
			close(fd);
			continue;
		}
		c->d = d;
		c->bev = bev;
		c->state = CLIENT_REQUEST;
		c->next = d->clients;
		if (d->clients)
			d->clients->prev = c;
		d->clients = c;
		d->n_clients++;
		struct timeval tv = { DG_REQUEST_TIMEOUT_S, 0 };
		bufferevent_setcb(bev, client_read_cb, client_write_cb, client_event_cb, c);
		bufferevent_set_timeouts(bev, &tv, NULL);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
	}
}

/* ---- events ----------------------------------------------------------- */

static void on_event(void *ctx, const struct dg_event *ev)
{
	struct daemon *d = ctx;

	d->events++;
	if (ev->verdict == DG_ACT_DENY)
		dg_fleet_node_denial(d->fleet);
	d->backlog[d->backlog_head] = *ev;
	d->backlog_head = (d->backlog_head + 1) % DG_BACKLOG;
	if (d->backlog_len < DG_BACKLOG)
		d->backlog_len++;

	char *text = NULL, *json = NULL;
	if (d->journal) {
		dg_event_journal(d->namer, ev);
	} else {
		text = dg_event_text(d->namer, ev);
		if (text) {
			fprintf(stderr, "%s\n", text);
			fflush(stderr);
		}
	}
	/* each form is made once per event, not once per client */
	bool json_done = false, text_done = d->journal ? false : true;
	for (struct client *c = d->clients; c; c = c->next) {
		if (c->state != CLIENT_FOLLOW)
			continue;
		if (c->json && !json_done) {
			json = event_json_line(d, ev);
			json_done = true;
		} else if (!c->json && !text_done) {
			text = dg_event_text(d->namer, ev);
			text_done = true;
		}
		const char *line = c->json ? json : text;
		if (line)
			client_send(c, line);
	}
	free(text);
	free(json);
}

/* A string field of an event, "" when absent. */
static const char *field(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* A relay's event ("op":"api"): to the log, with DOCKGUARD_* fields in the
 * journal, and to every following `tail`. Not in the backlog of kernel
 * events that a new `tail` gets first. */
static void on_api_event(void *arg, const char *text, json_t *o)
{
	struct daemon *d = arg;
	char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;

	d->events++;
	if (d->journal && o) {
		const char *verdict = field(o, "verdict");
		sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", !strcmp(verdict, "deny") ? 4 : 6,
				"SYSLOG_IDENTIFIER=dockguard", "DOCKGUARD_OP=api",
				"DOCKGUARD_VERDICT=%s", verdict,
				"DOCKGUARD_ENDPOINT=%s", field(o, "endpoint"),
				"DOCKGUARD_DEST=%s", field(o, "dest"),
				"DOCKGUARD_METHOD=%s", field(o, "method"),
				"DOCKGUARD_PATH=%s", field(o, "path"),
				"DOCKGUARD_STATUS=%lld", json_integer_value(json_object_get(o, "status")),
				"DOCKGUARD_API_RULE=%s", field(o, "api_rule"),
				"DOCKGUARD_PID=%lld", json_integer_value(json_object_get(o, "pid")),
				"DOCKGUARD_COMM=%s", field(o, "comm"),
				"DOCKGUARD_UID=%lld", json_integer_value(json_object_get(o, "uid")),
				"DOCKGUARD_GID=%lld", json_integer_value(json_object_get(o, "gid")),
				"DOCKGUARD_CGROUP=%s", field(o, "cgroup"), NULL);
	} else {
		fprintf(stderr, "%s\n", text);
		fflush(stderr);
	}
	for (struct client *c = d->clients; c; c = c->next) {
		const char *line = c->json ? json : text;
		if (c->state == CLIENT_FOLLOW && line)
			client_send(c, line);
	}
	free(json);
}

static void ring_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	int n = dg_events_consume(d->reader);
	if (n < 0 && n != -EINTR)
		dg_cli_error("reading the event ring buffer failed: %s; events may be missing",
		      strerror(-n));
}

/* ---- Docker ----------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (h ^ 0xff) * 1099511628211ULL;
}

/* What a policy can see of a container, hashed. */
static uint64_t container_fingerprint(const struct dg_container *c)
{
	uint64_t h = fnv(1469598103934665603ULL, c->id);

	h = fnv(fnv(fnv(fnv(h, c->name), c->image), c->service), c->cgroup);
	/* a container with mounts starting to run: its cgroup exists now, and
	 * the names it mounts an endpoint at can be scoped to it (unix_aliases) */
	if (c->n_mounts && c->pid > 0)
		h = fnv(h, "running");
	/* labels told apart from the image's since: label rules apply now */
	if (c->provisional)
		h = fnv(h, "provisional");
	for (size_t i = 0; i < c->n_labels; i++)
		h = fnv(fnv(h, c->labels[i].key), c->labels[i].value);
	for (size_t i = 0; i < c->n_mounts; i++)
		h = fnv(fnv(h, c->mounts[i].source), c->mounts[i].destination);
	return h;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * A load parses the kernel's BTF and builds the policy image: several MB of
 * short-lived allocations that glibc keeps after they are freed. Handing
 * them back keeps the daemon's resident size at what it really uses.
 */
static void release_load_memory(void)
{
	malloc_trim(0);
}

/* Swaps for arrivals come at most this often: a burst of creates is a few
 * swaps, each for all that arrived meanwhile, not one per container. */
#define APPLY_GAP_MS 50

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The relays serve the policy in force (its containers as the last swap saw
 * them); a failure leaves the relay process in place serving on. */
static void serve_relays(struct daemon *d)
{
	struct dg_err err = { "" };

	if (!d->policy || !d->relays)
		return;
	d->policy_has_relays = false;
	for (size_t e = 0; e < d->policy->n_endpoints; e++)
		d->policy_has_relays |= d->policy->endpoints[e].relay;
	if (dg_relays_apply(d->relays, d->cli, d->policy, &err))
		dg_cli_error("relays: %s; the relay process in place (if any) serves on", err.msg);
}

static void apply_containers(struct daemon *d)
{
	struct dg_err err = { "" };
	const struct dg_container_set *set = d->containers;

	if (!d->policy) {
		dg_cli_error("cannot apply the new container list: the policy pinned at start "
			     "was not parsed here (its file did not compile); fix the file and "
			     "send SIGHUP");
		return;
	}
	if (d->ev_apply)
		evtimer_del(d->ev_apply);
	int ret = dg_cli_reapply(d->cli, &err);
	release_load_memory();
	*(ret ? &d->loads_failed : &d->loads_ok) += 1;
	/* the gap counts from the end of a swap: arrivals during a slow one
	 * (a busy or emulated host) wait for the next, together */
	d->last_apply_ms = monotonic_ms();
	if (ret) {
		dg_cli_error("cannot apply the new container list, keeping generation %llu: %s",
			     (unsigned long long)d->generation, err.msg);
		return;
	}
	free(d->applied);
	d->n_applied = set ? set->n : 0;
	d->applied = xcalloc(d->n_applied + 1, sizeof(*d->applied));
	for (size_t i = 0; i < d->n_applied; i++)
		d->applied[i] = container_fingerprint(&set->v[i]);
	qsort(d->applied, d->n_applied, sizeof(*d->applied), u64_cmp);
	refresh_state(d);
	serve_relays(d);
	/* the previous policy's clean-up, off the path of the next swap */
	struct timeval soon = { .tv_usec = 50 * 1000 };
	if (d->ev_idle)
		evtimer_add(d->ev_idle, &soon);
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct dg_err err = { "" };

	(void)fd;
	(void)what;
	if (dg_kernel_settle(d->cli->bpffs, &err))
		dg_cli_error("cannot clear the previous policy's entries: %s", err.msg);
}

static void settle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	apply_containers(arg);
}

/* The fleet's verified bundle: its policy file loaded as the one in force. */
static int fleet_apply(void *arg, const char *path, char *why, size_t why_len)
{
	struct daemon *d = arg;
	struct dg_err err = { "" };
	struct dg_policy *fresh = NULL;
	int ret = dg_cli_load(d->cli, path, stderr, &fresh, &err);

	release_load_memory();
	*(ret ? &d->loads_failed : &d->loads_ok) += 1;
	if (ret) {
		dg_policy_free(fresh);
		snprintf(why, why_len, "%s", err.msg);
		return ret;
	}
	d->cli->policy = fresh;
	dg_policy_free(d->policy);
	d->policy = fresh;
	free(d->fleet_path);
	d->fleet_path = xstrdup(path);
	d->policy_path = d->fleet_path;
	dg_namer_reset(d->namer);
	refresh_state(d);
	serve_relays(d);
	notify_ready(d);
	return 0;
}

static void fleet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd, (void)what;
	dg_fleet_node_report(d->fleet);
}

/*
 * The containers changed. A new or changed container is swapped in at once,
 * so that a container a rule allows is allowed from its first connect (the
 * create event comes before its process starts). Departures only leave
 * rules for cgroups that no longer exist and whose ids never come back, so
 * they are applied a moment later, in one swap for a burst of them.
 */
static void containers_changed(void *ctx, const struct dg_container_set *set)
{
	struct daemon *d = ctx;
	bool news = false;

	d->containers = set;
	d->cli->containers = set;
	dg_namer_set_containers(d->namer, set);
	/* a courier task may hold a new bundle: judged before the rest */
	dg_fleet_node_containers(d->fleet, set, fleet_apply, d);
	for (size_t i = 0; i < set->n && !news; i++) {
		uint64_t f = container_fingerprint(&set->v[i]);
		news = !bsearch(&f, d->applied, d->n_applied, sizeof(f), u64_cmp);
	}
	if (news || !d->ev_settle) {
		long long since = monotonic_ms() - d->last_apply_ms;
		if (d->ev_settle)
			evtimer_del(d->ev_settle);
		if (!d->ev_apply || since >= APPLY_GAP_MS) {
			apply_containers(d);
			return;
		}
		/* a swap just happened: the next one takes all that come meanwhile */
		if (!evtimer_pending(d->ev_apply, NULL)) {
			struct timeval tv = { .tv_usec = (APPLY_GAP_MS - since) * 1000 };
			evtimer_add(d->ev_apply, &tv);
		}
		return;
	}
	struct timeval later = { .tv_sec = 2 };
	evtimer_add(d->ev_settle, &later);
}

/* The engine's listeners against the policy in force (dockerd came back,
 * perhaps with other -H flags): a warning for each one no endpoint protects. */
static void audit_engine(struct daemon *d)
{
	struct dg_kernel_state st;
	struct dg_err err = { "" };
	bool hooks[DG_HOOK_COUNT];

	if (dg_kernel_read_state(d->cli->bpffs, &st, &err) || !st.meta_json) {
		dg_kernel_state_free(&st);
		return;
	}
	for (int h = 0; h < DG_HOOK_COUNT; h++)
		hooks[h] = st.hooks[h].attached;
	json_t *meta = json_loads(st.meta_json, 0, NULL);
	json_t *audit = dg_engine_audit(json_object_get(meta, "endpoints"),
					    d->docker_host,
					    dg_unix_by(hooks, st.unix_by_lsm) != DG_UNIX_BY_NONE);
	dg_engine_warn(audit);
	json_decref(audit);
	json_decref(meta);
	dg_kernel_state_free(&st);
}

/* The Docker API came or went. Containers known before stay known: their
 * cgroups do not change while dockerd is away, and new ones are unknown, so
 * rules that allow containers fail closed for them. */
static void docker_state(void *ctx, bool connected, const char *why)
{
	struct daemon *d = ctx;
	bool was = d->docker_connected;
	char reason[sizeof(d->docker_why)];

	snprintf(reason, sizeof(reason), "%s", why ? why : "unknown error");
	/* the follower retries with backoff: say it once per change */
	if (connected == was && (connected || !strcmp(reason, d->docker_why)))
		return;
	d->docker_connected = connected;
	snprintf(d->docker_why, sizeof(d->docker_why), "%s", connected ? "" : reason);
	if (connected) {
		dg_cli_error("following Docker at %s", d->docker_host);
		audit_engine(d);
	}
	else
		/* the reason names the API and says what failed: not again here */
		dg_cli_error("%s%s; the policy in force keeps the %zu containers known, new "
			     "containers match no container rule until it answers (retrying)",
			     was ? "lost the Docker API: " : "", reason, d->n_applied);
}

/* ---- listeners and local addresses ----------------------------------- */

/* Every few seconds: listeners that started before the hooks (or outside the
 * attach cgroup) are known only through sock_diag, and only a rescan sees
 * them end. Listeners that start or end under the hooks are tracked by the
 * kernel at once, and so are address changes (addrs_cb). */
#define DG_LISTENER_RESCAN_SEC 5

static void sync_listeners(struct daemon *d)
{
	struct dg_listen_sync ls;
	struct dg_err err = { "" };

	if (dg_kernel_sync_listeners(d->cli->bpffs, &ls, &err)) {
		if (!d->listen_sync_failed)
			dg_cli_error("warning: %s", err.msg);
		d->listen_sync_failed = true;
		return;
	}
	d->listen_sync_failed = false;
	if (ls.wild_fingerprint == d->wild_fingerprint)
		return;
	d->wild_fingerprint = ls.wild_fingerprint;
	/* a listener on every address came or went: say what it means now */
	struct dg_kernel_state st;
	if (dg_kernel_read_state(d->cli->bpffs, &st, &err) || !st.meta_json) {
		dg_kernel_state_free(&st);
		return;
	}
	json_t *meta = json_loads(st.meta_json, 0, NULL);
	char why[256];
	json_t *report = dg_listeners_report(json_object_get(meta, "endpoints"), why, sizeof(why));
	dg_listeners_print(stderr, report);
	dg_listeners_warn(report);
	json_decref(report);
	json_decref(meta);
	dg_kernel_state_free(&st);
}

static void addrs_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	dg_local_addrs_drain(fd);
	sync_listeners(arg);
}

static void rescan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sync_listeners(arg);
}

/* ---- signals ---------------------------------------------------------- */

static void reload(struct daemon *d)
{
	struct timespec ts;
	struct dg_err err = { "" };

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	dg_cli_error("SIGHUP: reloading %s", d->policy_path);
	struct dg_policy *fresh = NULL;
	int ret = dg_cli_load(d->cli, d->policy_path, stderr, &fresh, &err);
	release_load_memory();
	*(ret ? &d->loads_failed : &d->loads_ok) += 1;
	if (fresh) {
		d->cli->policy = fresh;
		dg_policy_free(d->policy);
		d->policy = fresh;
	}
	if (ret) {
		dg_cli_error("reload failed, keeping generation %llu: %s",
		      (unsigned long long)d->generation, err.msg);
	} else {
		dg_namer_reset(d->namer);
		refresh_state(d);
		serve_relays(d);
		dg_cli_error("reloaded %s: generation %llu", d->policy_file ? d->policy_file : d->policy_path,
		      (unsigned long long)d->generation);
	}
	notify_ready(d);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct dg_err err = { "" };

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	sd_notify(0, "STOPPING=1");
	/* log what is still waiting in the ring buffer */
	dg_events_consume(d->reader);
	if (d->cli->unload_on_exit) {
		if (dg_kernel_unload(d->cli->bpffs, &err)) {
			dg_cli_error("exiting; unload failed, enforcement may stay in place: %s", err.msg);
			d->exit_status = DG_EXIT_SYSTEM;
		} else {
			dg_cli_error("exiting; unloaded: hooks detached and pins removed from %s",
			      d->cli->bpffs);
		}
	} else {
		dg_cli_error("exiting; enforcement stays in place (pinned in %s)", d->cli->bpffs);
	}
	event_base_loopbreak(d->base);
}

/* ---- setup ------------------------------------------------------------ */

static int control_socket(struct daemon *d)
{
	const char *dir = d->cli->run_dir;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(d->sock_path, sizeof(d->sock_path), "%s/control.sock", dir);

	if (n < 0 || (size_t)n >= sizeof(d->sock_path)) {
		dg_cli_error("--run-dir %s is too long for a unix socket path (at most %zu bytes); "
		      "choose a shorter directory", dir, sizeof(d->sock_path) - sizeof("/control.sock"));
		d->sock_path[0] = 0;
		return -1;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		dg_cli_error("cannot create the run directory %s: %s; create its parent or give "
		      "--run-dir DIR", dir, strerror(errno));
		d->sock_path[0] = 0;
		return -1;
	}
	/* the control socket is for root only */
	if (chmod(dir, 0700)) {
		dg_cli_error("cannot make the run directory %s private (mode 0700): %s", dir,
		      strerror(errno));
		d->sock_path[0] = 0;
		return -1;
	}
	memcpy(sa.sun_path, d->sock_path, (size_t)n + 1);

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dg_cli_error("cannot create the control socket: %s", strerror(errno));
		d->sock_path[0] = 0;
		return -1;
	}
	/* a socket file left by a dead daemon is replaced; a live daemon is not */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		close(fd);
		dg_cli_error("another dockguard daemon already serves %s; stop it first "
		      "(systemctl stop dockguard) or give another --run-dir", d->sock_path);
		d->sock_path[0] = 0;	/* not ours to unlink */
		return -1;
	}
	if (probe >= 0)
		close(probe);
	if (unlink(d->sock_path) && errno != ENOENT) {
		dg_cli_error("cannot remove the stale control socket %s: %s", d->sock_path,
		      strerror(errno));
		close(fd);
		d->sock_path[0] = 0;
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		dg_cli_error("cannot bind the control socket %s: %s", d->sock_path, strerror(errno));
		close(fd);
		d->sock_path[0] = 0;
		return -1;
	}
	if (chmod(d->sock_path, 0600) || listen(fd, 64)) {
		dg_cli_error("cannot set up the control socket %s: %s", d->sock_path, strerror(errno));
		close(fd);
		return -1;
	}
	d->listen_fd = fd;
	return 0;
}

static void daemon_free(struct daemon *d)
{
	while (d->clients)
		client_free(d->clients);
	if (d->ev_ring)
		event_free(d->ev_ring);
	if (d->ev_listen)
		event_free(d->ev_listen);
	if (d->ev_hup)
		event_free(d->ev_hup);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	if (d->sock_path[0])
		unlink(d->sock_path);
	if (d->docker)
		dg_docker_free(d->docker);
	if (d->ev_settle)
		event_free(d->ev_settle);
	if (d->ev_apply)
		event_free(d->ev_apply);
	if (d->ev_idle)
		event_free(d->ev_idle);
	if (d->ev_addrs)
		event_free(d->ev_addrs);
	if (d->ev_rescan)
		event_free(d->ev_rescan);
	if (d->addrs_fd >= 0)
		close(d->addrs_fd);
	dg_relays_free(d->relays);
	free(d->applied);
	d->cli->containers = NULL;
	if (d->reader)
		dg_events_close(d->reader);
	if (d->namer)
		dg_namer_free(d->namer);
	free(d->docker_host);
	dg_metrics_free(d->metrics);
	dg_fleet_node_free(d->fleet);
	free(d->fleet_path);
	if (d->ev_fleet)
		event_free(d->ev_fleet);
	if (d->base)
		event_base_free(d->base);
	free(d->backlog);
	free(d->policy_file);
	d->cli->policy = NULL;
	dg_policy_free(d->policy);
	d->policy = NULL;
}

static int setup(struct daemon *d)
{
	struct dg_err err = { "" };

	d->base = event_base_new();
	if (!d->base) {
		dg_cli_error("cannot create the event loop (libevent); out of memory or file descriptors");
		return DG_EXIT_SYSTEM;
	}
	d->backlog = calloc(DG_BACKLOG, sizeof(*d->backlog));
	d->namer = dg_namer_new(d->cli->bpffs);
	if (!d->backlog || !d->namer) {
		dg_cli_error("out of memory");
		return DG_EXIT_SYSTEM;
	}
	d->reader = dg_events_open(d->cli->bpffs, on_event, d, &err);
	if (!d->reader) {
		dg_cli_error("cannot read kernel events: %s", err.msg);
		return DG_EXIT_SYSTEM;
	}
	if (control_socket(d))
		return DG_EXIT_SYSTEM;

	d->ev_ring = event_new(d->base, dg_events_fd(d->reader), EV_READ | EV_PERSIST, ring_cb, d);
	d->ev_listen = event_new(d->base, d->listen_fd, EV_READ | EV_PERSIST, accept_cb, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, signal_cb, d);
	d->ev_term = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->ev_int = evsignal_new(d->base, SIGINT, signal_cb, d);
	if (!d->ev_ring || !d->ev_listen || !d->ev_hup || !d->ev_term || !d->ev_int ||
	    event_add(d->ev_ring, NULL) || event_add(d->ev_listen, NULL) ||
	    event_add(d->ev_hup, NULL) || event_add(d->ev_term, NULL) ||
	    event_add(d->ev_int, NULL)) {
		dg_cli_error("cannot set up the event loop (libevent); out of memory or file descriptors");
		return DG_EXIT_SYSTEM;
	}
	d->relays = dg_relays_new(d->base, on_api_event, d);
	if (!d->relays) {
		dg_cli_error("cannot set up the relays (libevent); out of memory");
		return DG_EXIT_SYSTEM;
	}
	if (d->fleet) {
		struct timeval every = { .tv_sec = 5 };
		d->ev_fleet = event_new(d->base, -1, EV_PERSIST, fleet_cb, d);
		if (!d->ev_fleet || event_add(d->ev_fleet, &every)) {
			dg_cli_error("cannot set up the event loop (libevent); out of memory");
			return DG_EXIT_SYSTEM;
		}
	}
	d->ev_settle = evtimer_new(d->base, settle_cb, d);
	d->ev_apply = evtimer_new(d->base, settle_cb, d);
	d->ev_idle = evtimer_new(d->base, idle_cb, d);

	struct timeval rescan = { .tv_sec = DG_LISTENER_RESCAN_SEC };
	d->addrs_fd = dg_local_addrs_watch();
	if (d->addrs_fd < 0)
		dg_cli_error("warning: cannot follow this host's address changes (netlink: %s); a "
			     "new address reaching a listener on every address is judged only from "
			     "the next rescan, within %d s", strerror(-d->addrs_fd),
			     DG_LISTENER_RESCAN_SEC);
	else
		d->ev_addrs = event_new(d->base, d->addrs_fd, EV_READ | EV_PERSIST, addrs_cb, d);
	/* the load just said what the listeners mean: report changes from here */
	struct dg_listen_sync first;
	struct dg_err lerr = { "" };
	if (dg_kernel_sync_listeners(d->cli->bpffs, &first, &lerr) == 0)
		d->wild_fingerprint = first.wild_fingerprint;
	d->ev_rescan = event_new(d->base, -1, EV_PERSIST, rescan_cb, d);
	if ((d->ev_addrs && event_add(d->ev_addrs, NULL)) || !d->ev_rescan ||
	    event_add(d->ev_rescan, &rescan)) {
		dg_cli_error("cannot set up the event loop (libevent); out of memory or file descriptors");
		return DG_EXIT_SYSTEM;
	}
	d->docker = dg_docker_follow(d->base, d->docker_host ? d->docker_host : DG_DEFAULT_DOCKER_HOST,
				     containers_changed, docker_state, d);
	if (!d->docker) {
		dg_cli_error("cannot follow Docker at %s; out of memory", d->docker_host);
		return DG_EXIT_SYSTEM;
	}
	return 0;
}

int do_run(struct dg_cli *cli)
{
	struct daemon d = {
		.cli = cli,
		.policy_path = dg_cli_policy_path(cli),
		.listen_fd = -1,
		.addrs_fd = -1,
		.journal = getenv("JOURNAL_STREAM") != NULL,
	};
	struct dg_err err = { "" };
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(d.started_at, sizeof(d.started_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	signal(SIGPIPE, SIG_IGN);
	cli->daemon = true;	/* it follows Docker: loads need not say that one should */

	/* a node of a fleet enforces its last good bundle from the start */
	struct dg_loaded_policy local;
	if (dg_cli_compile(cli, d.policy_path, false, false, &local) == 0) {
		d.fleet = dg_fleet_node_new(local.policy, cli->state_dir ? cli->state_dir
									: DG_DEFAULT_STATE_DIR,
					    local.policy->docker_host ? local.policy->docker_host
								      : DG_DEFAULT_DOCKER_HOST,
					    &err);
		dg_cli_policy_free(&local);
		if (!d.fleet && err.msg[0]) {
			dg_cli_error("run: %s", err.msg);
			return DG_EXIT_INVALID;
		}
		if (dg_fleet_node_policy_path(d.fleet)) {
			d.fleet_path = xstrdup(dg_fleet_node_policy_path(d.fleet));
			d.policy_path = d.fleet_path;
			dg_cli_error("fleet: enforcing the last good bundle (%s)", d.policy_path);
		}
	}

	int ret = dg_cli_load(cli, d.policy_path, stderr, &d.policy, &err);
	release_load_memory();
	*(ret ? &d.loads_failed : &d.loads_ok) += 1;
	cli->policy = d.policy;
	if (ret) {
		struct dg_kernel_state st;
		struct dg_err err2 = { "" };
		bool pinned = false;

		if (dg_kernel_read_state(cli->bpffs, &st, &err2) == 0) {
			pinned = st.loaded;
			dg_kernel_state_free(&st);
		}
		if (!pinned) {
			dg_cli_error("run: %s", err.msg);
			dg_fleet_node_free(d.fleet);
			free(d.fleet_path);
			return ret;
		}
		dg_cli_error("run: %s", err.msg);
		dg_cli_error("continuing with the policy already pinned in %s", cli->bpffs);
	}
	refresh_state(&d);

	ret = setup(&d);
	if (ret) {
		daemon_free(&d);
		return ret;
	}
	if (d.policy && (d.policy->metrics || d.policy->metrics_textfile)) {
		/* read at start: a reload does not move them */
		d.metrics = dg_metrics_start(d.base, d.policy->metrics, d.policy->metrics_textfile,
					     metrics_status, &d, &err);
		if (!d.metrics)
			dg_cli_error("metrics: %s; the daemon runs on without them", err.msg);
	}
	dg_cli_error("enforcing %s, generation %llu; control socket %s",
	      d.policy_file ? d.policy_file : d.policy_path, (unsigned long long)d.generation,
	      d.sock_path);
	serve_relays(&d);
	notify_ready(&d);

	/* events that came before we listened */
	dg_events_consume(d.reader);
	if (event_base_dispatch(d.base) < 0) {
		dg_cli_error("the event loop failed; exiting, enforcement stays in place");
		d.exit_status = DG_EXIT_SYSTEM;
	}
	ret = d.exit_status;
	daemon_free(&d);
	libevent_global_shutdown();
	return ret;
}
