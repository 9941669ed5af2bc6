// SPDX-License-Identifier: GPL-2.0-only
/* The daemon's relays: sockets held here, served by relay processes (relays.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon/relays.h"
#include "relay/judge.h"
#include "relay/relay.h"
#include "relay/sockets.h"
#include "util/util.h"

#define RESTART_MIN_MS 250
#define RESTART_MAX_MS 30000

/* A listen address of the policy's relays: its socket, held here so that a
 * unix path keeps its inode across relay processes; -1 while a TCP address
 * has no interface (tried each second). */
struct bound {
	char *key;			/* dg_relay_addr_text() */
	int fd;
};

struct dg_relays {
	struct event_base *base;
	char served_sha256[65];		/* the policy the current relay process serves */
	struct bound *bound;		/* listening sockets, kept across relay processes */
	size_t n_bound;
	struct dg_loaded_policy lp;	/* what the current relay process serves */
	const struct dg_cli *cli;	/* its containers, as of each fork, name callers */
	bool have_lp;
	pid_t current;
	int current_ctl;		/* the daemon's end of its control channel */
	time_t current_started;
	pid_t *draining;		/* relay processes of replaced policies */
	int *draining_ctl;
	size_t n_draining;
	int child_ctl;			/* in a relay process: its end of the channel */
	struct event *ev_chld, *ev_restart, *ev_events, *ev_bind;
	int callers_fd;			/* the hooks' relay_callers map: TCP callers */
	int *passed;			/* sockets systemd passed (socket activation), -1 once used */
	size_t n_passed;
	long restart_ms;		/* the next restart's delay after a crash */
	int events[2];			/* relay processes' events: [0] the daemon's end */
	dg_relays_event_fn fn;
	void *fn_arg;
	json_t *counts;			/* pid -> its last counts (dg_relay_counts_json) */
	json_t *retired;		/* "relay api_rule" -> [allowed, denied] of ended processes */
	json_t *seen;			/* "relay\tsubject\tmethod\troute" -> what suggest prints */
	uint64_t seen_dropped;		/* reports past DG_RELAYS_MAX_SEEN */
};

/* What the daemon keeps for `suggest`: a caller's method and route each. */
#define DG_RELAYS_MAX_SEEN 65536
/* Entries of what callers asked per datagram (each well under EVENT_MAX). */
#define SEEN_PER_DATAGRAM 40

/* Requests that still run, per datagram of a draining relay process (a
 * cgroup path is at most 4 KiB: three fit in EVENT_MAX). */
#define OPEN_PER_DATAGRAM 3

/* An event's two forms in one datagram: the line, a NUL, the JSON. */
#define EVENT_MAX 16384

static struct bound *find_bound(const struct dg_relays *r, const char *key)
{
	for (size_t i = 0; i < r->n_bound; i++)
		if (!strcmp(r->bound[i].key, key))
			return &r->bound[i];
	return NULL;
}

/* ---- the relay process ------------------------------------------------------ */

/* To the daemon, which logs it and hands it to `tail`; straight to stderr
 * when the daemon cannot take it now (a full queue must not stall the relay). */
static void child_event(void *arg, const struct dg_relay_event *ev)
{
	const struct dg_relays *r = arg;
	char *text = dg_relay_event_text(ev);
	json_t *o = dg_relay_event_json(ev);
	char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t tl = strlen(text), jl = json ? strlen(json) : 0;
	char *msg = xmalloc(tl + jl + 2);

	memcpy(msg, text, tl + 1);
	if (json)
		memcpy(msg + tl + 1, json, jl + 1);
	else
		msg[tl + 1] = 0;
	if (tl + jl + 2 > EVENT_MAX ||
	    send(r->events[1], msg, tl + jl + 2, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		fprintf(stderr, "%s\n", text);
	free(msg);
	free(json);
	json_decref(o);
	free(text);
}

/* A relay process's report of what callers asked: added up per caller,
 * method and route, with when it was last seen. */
static void merge_seen(struct dg_relays *r, json_t *list)
{
	json_t *one;
	size_t i;

	json_array_foreach(list, i, one) {
		const char *relay = json_string_value(json_object_get(one, "relay"));
		const char *subject = json_string_value(json_object_get(one, "subject"));
		const char *method = json_string_value(json_object_get(one, "method"));
		const char *route = json_string_value(json_object_get(one, "route"));
		json_int_t count = json_integer_value(json_object_get(one, "count"));
		if (!relay || !subject || !method || !route || count <= 0)
			continue;
		char *key = xasprintf("%s\t%s\t%s\t%s", relay, subject, method, route);
		json_t *have = json_object_get(r->seen, key);
		if (have) {
			json_object_set_new(have, "count",
					    json_integer(json_integer_value(json_object_get(have, "count")) + count));
		} else if (json_object_size(r->seen) < DG_RELAYS_MAX_SEEN) {
			have = json_deep_copy(one);
			json_object_set_new(r->seen, key, have);
		} else {
			r->seen_dropped += (uint64_t)count;
		}
		if (have)
			json_object_set_new(have, "last", json_integer((json_int_t)time(NULL)));
		free(key);
	}
}

/*
 * Which of `open` (dg_relay_open_requests_json) the policy in force refuses
 * now, judged as a new request would be: [[id, rule], ...].
 */
static json_t *refused_open(const struct dg_policy *pol, const struct dg_image *img,
			    const json_t *open)
{
	json_t *close_list = json_array(), *one;
	size_t i;

	json_array_foreach(open, i, one) {
		uint32_t groups[DG_CALLER_MAX_GROUPS];
		json_t *g, *gl = json_object_get(one, "groups");
		size_t gi;
		char rule[300];
		struct dg_subject_id who = {
			.uid = (uint32_t)json_integer_value(json_object_get(one, "uid")),
			.gid = (uint32_t)json_integer_value(json_object_get(one, "gid")),
			.groups = groups,
			.cgroup = json_string_value(json_object_get(one, "cgroup")),
		};
		const char *relay = json_string_value(json_object_get(one, "relay"));
		const char *method = json_string_value(json_object_get(one, "method"));
		const char *target = json_string_value(json_object_get(one, "target"));
		json_array_foreach(gl, gi, g)
			if (gi < DG_CALLER_MAX_GROUPS)
				groups[who.n_groups++] = (uint32_t)json_integer_value(g);
		if (!relay || !method || !target || !who.cgroup)
			continue;
		if (!dg_api_still_allowed(pol, img, relay, &who, method, target, rule, sizeof(rule)))
			json_array_append_new(close_list, json_pack("[O,s]", json_object_get(one, "id"),
								    rule));
	}
	return close_list;
}

/*
 * A draining relay process's requests that still run (child_signal): each
 * judged by the policy in force now; those it refuses are ended (spec 8: a
 * reload closes the pipes and streams that the new policy denies), the
 * others run on.
 */
static void judge_open(struct dg_relays *r, json_t *report)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(report, "pid"));
	int ctl = -1;

	for (size_t i = 0; i < r->n_draining; i++)
		if (r->draining[i] == pid)
			ctl = r->draining_ctl[i];
	if (ctl < 0 || !r->have_lp)
		return;
	json_t *close_list = refused_open(r->lp.policy, r->lp.image, json_object_get(report, "open"));
	if (json_array_size(close_list)) {
		/* `report` held OPEN_PER_DATAGRAM at most: one message fits */
		json_t *o = json_pack("{s:o}", "close", close_list);
		char *text = json_dumps(o, JSON_COMPACT);
		if (text && send(ctl, text, strlen(text), MSG_NOSIGNAL) < 0)
			dg_cli_error("cannot tell relay process %d which requests the new policy "
				     "refuses: %s", (int)pid, strerror(errno));
		free(text);
		json_decref(o);
	} else {
		json_decref(close_list);
	}
}

static void events_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dg_relays *r = arg;
	char *buf = xmalloc(EVENT_MAX + 1);
	ssize_t n;

	(void)what;
	while ((n = recv(fd, buf, EVENT_MAX, MSG_DONTWAIT)) > 0) {
		buf[n] = 0;
		size_t tl = strnlen(buf, (size_t)n);
		json_t *o = (size_t)n > tl + 1 ? json_loads(buf + tl + 1, 0, NULL) : NULL;
		if (tl == 0 && o && json_object_get(o, "seen")) {
			merge_seen(r, json_object_get(o, "seen"));
		} else if (tl == 0 && o && json_object_get(o, "open")) {
			judge_open(r, o);
		} else if (tl == 0 && o) {
			/* a relay process's counts: the latest per process */
			char pid[32];
			snprintf(pid, sizeof(pid), "%lld", json_integer_value(json_object_get(o, "pid")));
			json_object_set(r->counts, pid, o);
		} else if (r->fn) {
			r->fn(r->fn_arg, buf, o);
		}
		json_decref(o);
	}
	free(buf);
}

/* The counts, to the daemon, once a second when they changed (and at the
 * end): a datagram with an empty line, then the JSON. */
struct child_ctx {
	const struct dg_relays *r;
	struct dg_relay *relay;
	/* what the daemon sent since the fork (child_containers): owned */
	struct dg_container_set *containers;
	struct dg_image *image;
};

/* A report (no event line, then the JSON) in one datagram; a full queue
 * loses it rather than stall the relay. */
static void send_report_flags(const struct dg_relays *r, json_t *o, int flags)
{
	char *json = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (json && strlen(json) + 2 <= EVENT_MAX) {
		size_t n = strlen(json) + 2;
		char *msg = xmalloc(n);
		msg[0] = 0;
		memcpy(msg + 1, json, n - 1);
		send(r->events[1], msg, n, flags | MSG_NOSIGNAL);
		free(msg);
	}
	free(json);
}

static void send_report(const struct dg_relays *r, json_t *o)
{
	send_report_flags(r, o, MSG_DONTWAIT);
}

static void send_counts(const struct dg_relays *r, struct dg_relay *relay, bool always)
{
	bool changed;
	json_t *o = dg_relay_counts_json(relay, &changed);

	if (changed || always)
		send_report(r, o);
	json_decref(o);
}

/* What callers asked since the last report, in datagrams of
 * SEEN_PER_DATAGRAM. */
static void send_seen(const struct dg_relays *r, struct dg_relay *relay)
{
	size_t from = 0;

	for (;;) {
		json_t *a = dg_relay_seen_json(relay, &from, SEEN_PER_DATAGRAM);
		if (!json_array_size(a)) {
			json_decref(a);
			return;
		}
		json_t *o = json_pack("{s:o}", "seen", a);
		send_report(r, o);
		json_decref(o);
	}
}

static void counts_tick(evutil_socket_t fd, short what, void *arg)
{
	struct child_ctx *ctx = arg;

	(void)fd, (void)what;
	send_counts(ctx->r, ctx->relay, false);
	send_seen(ctx->r, ctx->relay);
}

/*
 * SIGUSR1: drain, and tell the daemon which requests still run (streams,
 * pipes), for it to judge them by the new policy; SIGTERM, SIGINT: stop.
 * Read from a signalfd: libevent's own signal handling is the daemon's,
 * copied by fork().
 */
static void child_signal(evutil_socket_t fd, short what, void *arg)
{
	struct child_ctx *ctx = arg;
	struct signalfd_siginfo si;

	(void)what;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			json_t *open = dg_relay_open_requests_json(ctx->relay);
			dg_relay_drain(ctx->relay);
			/* in datagrams of OPEN_PER_DATAGRAM, each well under EVENT_MAX */
			for (size_t from = 0; from < json_array_size(open); from += OPEN_PER_DATAGRAM) {
				json_t *part = json_array();
				for (size_t i = from; i < from + OPEN_PER_DATAGRAM &&
						      i < json_array_size(open); i++)
					json_array_append(part, json_array_get(open, i));
				json_t *o = json_pack("{s:i,s:o}", "pid", (int)getpid(), "open", part);
				/* waits for room: each must reach the daemon to be judged */
				send_report_flags(ctx->r, o, 0);
				json_decref(o);
			}
			json_decref(open);
		} else {
			event_base_loopexit(dg_relay_base(ctx->relay), NULL);
		}
	}
}

/* The containers the daemon knows now, in memfd `fd` (send_containers):
 * the policy is compiled for them and judges from now on, in this process. */
static void child_containers(struct child_ctx *ctx, int fd)
{
	struct stat st;
	struct dg_container_set *set = xcalloc(1, sizeof(*set));
	char *text = NULL;
	json_t *j = NULL;

	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size > 256 * 1024 * 1024)
		goto bad;
	text = xmalloc((size_t)st.st_size);
	if (pread(fd, text, (size_t)st.st_size, 0) != st.st_size)
		goto bad;
	j = json_loadb(text, (size_t)st.st_size, 0, NULL);
	if (!j || dg_container_set_from_json(j, set) < 0)
		goto bad;
	struct dg_cli cli = *ctx->r->cli;
	struct dg_loaded_policy lp;
	cli.containers = set;
	if (dg_cli_compile_parsed(&cli, ctx->r->lp.policy, &lp)) {
		fprintf(stderr, "dockguard relay: the policy does not compile for the new container "
			"list; the previous one judges on\n");
		dg_container_set_free(set);
		goto out;
	}
	dg_relay_set_image(ctx->relay, lp.image);
	dg_relay_set_containers(ctx->relay, set);
	/* what runs (streams, pipes) is judged again, as after a reload: a
	 * caller renamed out of its rule loses what it holds open */
	json_t *open = dg_relay_open_requests_json(ctx->relay), *one;
	json_t *refused = refused_open(ctx->r->lp.policy, lp.image, open);
	size_t i;
	json_array_foreach(refused, i, one)
		dg_relay_close(ctx->relay, (uint64_t)json_integer_value(json_array_get(one, 0)),
			       json_string_value(json_array_get(one, 1)),
			       "the policy refuses what this connection runs, for the containers "
			       "there are now");
	json_decref(refused);
	json_decref(open);
	dg_image_free(ctx->image);
	if (ctx->containers) {
		dg_container_set_free(ctx->containers);
		free(ctx->containers);
	}
	ctx->image = lp.image;
	ctx->containers = set;
	set = NULL;
	malloc_trim(0);	/* what the compile allocated and freed: back to the system */
	goto out;
bad:
	fprintf(stderr, "dockguard relay: the daemon's container list cannot be read; the "
		"previous one judges on\n");
	dg_container_set_free(set);
out:
	free(set);
	json_decref(j);
	free(text);
}

/* The daemon's verdict on requests that still run: {"close": [[id, rule]]};
 * or {"containers": true} with a memfd that holds them. */
static void child_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct child_ctx *ctx = arg;
	char buf[65536];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	ssize_t n;

	(void)what;
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) - 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space,
				      .msg_controllen = sizeof(cm.space) };
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			break;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int passed;
			memcpy(&passed, CMSG_DATA(c), sizeof(passed));
			child_containers(ctx, passed);
			close(passed);
			continue;
		}
		buf[n] = 0;
		json_t *o = json_loads(buf, 0, NULL), *one;
		size_t i;
		json_array_foreach(json_object_get(o, "close"), i, one)
			dg_relay_close(ctx->relay, (uint64_t)json_integer_value(json_array_get(one, 0)),
				       json_string_value(json_array_get(one, 1)),
				       "the new policy refuses what this connection runs");
		json_decref(o);
	}
}

/* Closes every descriptor but stdio and the listening sockets: the daemon's
 * ring buffer, control socket and Docker connection are not the relay's. */
static void close_other_fds(const struct dg_relays *r)
{
	DIR *dir = opendir("/proc/self/fd");
	int *fds = NULL;
	size_t n = 0;
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		int fd = atoi(de->d_name);
		bool keep = fd <= 2 || fd == dirfd(dir) || de->d_name[0] == '.' ||
			    fd == r->events[1] || fd == r->callers_fd || fd == r->child_ctl;
		for (size_t i = 0; i < r->n_bound && !keep; i++)
			keep = r->bound[i].fd == fd;
		if (!keep) {
			fds = xreallocarray(fds, n + 1, sizeof(*fds));
			fds[n++] = fd;
		}
	}
	closedir(dir);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static void __attribute__((noreturn)) run_relay_process(struct dg_relays *r)
{
	static const int reset[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1 };
	struct dg_err err = { "" };
	sigset_t mine;

	/* the daemon's handlers write to the daemon's event loop */
	for (size_t i = 0; i < ARRAY_SIZE(reset); i++)
		signal((int)reset[i], SIG_DFL);
	sigemptyset(&mine);
	sigaddset(&mine, SIGTERM);
	sigaddset(&mine, SIGINT);
	sigaddset(&mine, SIGUSR1);
	sigprocmask(SIG_SETMASK, &mine, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);	/* no relay outlives its daemon */
	prctl(PR_SET_NAME, "dockguard-relay");
	close_other_fds(r);

	struct event_base *base = dg_relay_base_new();
	int sfd = signalfd(-1, &mine, SFD_NONBLOCK | SFD_CLOEXEC);
	if (!base || sfd < 0)
		_exit(3);
	struct dg_relay *relay = dg_relay_new(base, child_event, r);
	const struct dg_policy *pol = r->lp.policy;
	dg_relay_set_policy(relay, pol, r->lp.image);
	dg_relay_set_containers(relay, r->cli->containers);	/* this process's copy */
	dg_relay_set_callers(relay, r->callers_fd);
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		for (size_t a = 0; ep->relay && a < ep->n_addrs; a++) {
			char *key = dg_relay_addr_text(&ep->addrs[a]);
			const struct bound *b = find_bound(r, key);
			const char *name = ep->addrs[a].kind == DG_ADDR_UNIX ? ep->addrs[a].path : key;
			if (b && b->fd >= 0 && dg_relay_adopt(relay, e, name, b->fd, &err) < 0) {
				fprintf(stderr, "dockguard relay: %s\n", err.msg);
				_exit(3);
			}
			free(key);
		}
	}
	struct child_ctx ctx = { r, relay, NULL, NULL };
	struct event *ev = event_new(base, sfd, EV_READ | EV_PERSIST, child_signal, &ctx);
	struct event *ctl = event_new(base, r->child_ctl, EV_READ | EV_PERSIST, child_ctl, &ctx);
	struct event *tick = event_new(base, -1, EV_PERSIST, counts_tick, &ctx);
	struct timeval second = { 1, 0 };
	if (!ev || !ctl || !tick || event_add(ev, NULL) || event_add(ctl, NULL) ||
	    event_add(tick, &second))
		_exit(3);
	event_base_dispatch(base);
	send_counts(r, relay, true);
	send_seen(r, relay);
	_exit(0);
}

static int start(struct dg_relays *r)
{
	int ctl[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
		return -errno;
	r->child_ctl = ctl[1];
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(ctl[0]);
		close(ctl[1]);
		return -e;
	}
	if (pid == 0)
		run_relay_process(r);
	close(ctl[1]);
	r->child_ctl = -1;
	r->current_ctl = ctl[0];	/* the caller retired the one before */
	r->current = pid;
	r->current_started = time(NULL);
	dg_cli_error("relay process %d serves the policy's relays", (int)pid);
	return 0;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dg_relays *r = arg;

	(void)fd, (void)what;
	if (!r->current && r->have_lp && start(r) < 0)
		dg_cli_error("cannot start a relay process: %s; the relays are not served",
			     strerror(errno));
}

static void add_counts(json_t *into, json_t *rules)
{
	json_t *one;
	size_t i;

	json_array_foreach(rules, i, one) {
		char *key = xasprintf("%s %s", json_string_value(json_object_get(one, "relay")),
				      json_string_value(json_object_get(one, "api_rule")));
		json_t *sum = json_object_get(into, key);
		json_int_t a = json_integer_value(json_object_get(one, "allowed"));
		json_int_t d = json_integer_value(json_object_get(one, "denied"));
		if (sum)
			json_object_set_new(into, key, json_pack("[I,I]",
								 json_integer_value(json_array_get(sum, 0)) + a,
								 json_integer_value(json_array_get(sum, 1)) + d));
		else
			json_object_set_new(into, key, json_pack("[I,I]", a, d));
		free(key);
	}
}

/* A relay process ended: its counts stay, in the sum of ended ones. */
static void retire_counts(struct dg_relays *r, pid_t pid)
{
	char key[32];
	json_t *last;

	snprintf(key, sizeof(key), "%d", (int)pid);
	last = json_object_get(r->counts, key);
	if (!last)
		return;
	add_counts(r->retired, json_object_get(last, "rules"));
	json_object_del(r->counts, key);
}

static void sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dg_relays *r = arg;
	int status;
	pid_t pid;

	(void)fd, (void)what;
	/* what ended processes sent last counts for good */
	events_cb(r->events[0], EV_READ, r);
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		retire_counts(r, pid);
		for (size_t i = 0; i < r->n_draining; i++) {
			if (r->draining[i] == pid) {
				close(r->draining_ctl[i]);
				r->n_draining--;
				r->draining[i] = r->draining[r->n_draining];
				r->draining_ctl[i] = r->draining_ctl[r->n_draining];
				break;
			}
		}
		if (pid != r->current)
			continue;
		r->current = 0;
		close(r->current_ctl);
		r->current_ctl = -1;
		/* a crash: enforcement and events go on here; the relay comes back,
		 * sooner when it had run a while */
		if (time(NULL) - r->current_started > 60)
			r->restart_ms = RESTART_MIN_MS;
		if (WIFSIGNALED(status))
			dg_cli_error("relay process %d was killed by signal %d; starting another in %ld ms",
				     (int)pid, WTERMSIG(status), r->restart_ms);
		else
			dg_cli_error("relay process %d exited with status %d; starting another in %ld ms",
				     (int)pid, WEXITSTATUS(status), r->restart_ms);
		struct timeval tv = { r->restart_ms / 1000, (r->restart_ms % 1000) * 1000 };
		evtimer_add(r->ev_restart, &tv);
		r->restart_ms = r->restart_ms * 2 > RESTART_MAX_MS ? RESTART_MAX_MS : r->restart_ms * 2;
	}
}

/* ---- the daemon's side -------------------------------------------------------- */

static void bind_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Socket activation: the listening socket that systemd passed for listen
 * address `a` (taken), or -1. A socket that systemd holds outlives this
 * daemon: a bind-mounted relay socket keeps its inode across restarts and
 * upgrades, and connects wait in its queue meanwhile.
 */
static int take_passed(struct dg_relays *r, const struct dg_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;

	for (size_t i = 0; i < r->n_passed; i++) {
		int fd = r->passed[i], match;
		if (fd < 0)
			continue;
		if (a->kind == DG_ADDR_UNIX)
			match = sd_is_socket_unix(fd, SOCK_STREAM, 1, a->path, 0);
		else if (a->kind == DG_ADDR_TCP_ANY)
			match = sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, a->port);
		else
			match = dg_relay_sockaddr(a, &ss, &len) &&
				sd_is_socket_sockaddr(fd, SOCK_STREAM, (struct sockaddr *)&ss, len, 1) > 0;
		if (match > 0) {
			r->passed[i] = -1;
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			return fd;
		}
	}
	return -1;
}

struct dg_relays *dg_relays_new(struct event_base *base, dg_relays_event_fn fn, void *arg)
{
	struct dg_relays *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->fn = fn;
	r->fn_arg = arg;
	r->restart_ms = RESTART_MIN_MS;
	r->events[0] = r->events[1] = -1;
	r->callers_fd = -1;
	r->current_ctl = r->child_ctl = -1;
	int n = sd_listen_fds(1);	/* unsets LISTEN_FDS: not for the relay processes */
	for (int i = 0; i < n; i++) {
		r->passed = xreallocarray(r->passed, r->n_passed + 1, sizeof(*r->passed));
		r->passed[r->n_passed++] = SD_LISTEN_FDS_START + i;
	}
	r->counts = json_object();
	r->retired = json_object();
	r->seen = json_object();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r->events) < 0) {
		free(r);
		return NULL;
	}
	r->ev_chld = evsignal_new(base, SIGCHLD, sigchld_cb, r);
	r->ev_restart = evtimer_new(base, restart_cb, r);
	r->ev_bind = evtimer_new(base, bind_cb, r);
	r->ev_events = event_new(base, r->events[0], EV_READ | EV_PERSIST, events_cb, r);
	if (!r->ev_chld || !r->ev_restart || !r->ev_events || !r->ev_bind || event_add(r->ev_chld, NULL) ||
	    event_add(r->ev_events, NULL)) {
		dg_relays_free(r);
		return NULL;
	}
	return r;
}

/* Lets relay process `pid` (control channel `ctl`) finish what it does; it
 * takes no more, and reports what still runs (child_signal). */
static void retire(struct dg_relays *r, pid_t pid, int ctl)
{
	if (!pid)
		return;
	kill(pid, SIGUSR1);
	r->draining = xreallocarray(r->draining, r->n_draining + 1, sizeof(*r->draining));
	r->draining_ctl = xreallocarray(r->draining_ctl, r->n_draining + 1, sizeof(*r->draining_ctl));
	r->draining[r->n_draining] = pid;
	r->draining_ctl[r->n_draining++] = ctl;
}

/*
 * The containers the daemon knows now, to the relay process serving (the
 * policy unchanged): it compiles the policy for them and judges by that from
 * its next request, with no new process (a restart would drain every
 * keep-alive connection, and cost each container create through the relay
 * a cold process). The list goes in a memfd: it may be larger than a
 * datagram. 0, or -errno (then a new process takes over instead).
 */
static int send_containers(struct dg_relays *r)
{
	json_t *j = dg_container_set_to_json(r->cli->containers);
	char *text = json_dumps(j, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;
	int fd = text ? memfd_create("dockguard-containers", MFD_CLOEXEC) : -1, ret = 0;

	json_decref(j);
	if (fd < 0) {
		free(text);
		return -ENOMEM;
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, text + done, len - done);
		if (w <= 0) {
			ret = -errno;
			goto out;
		}
		done += (size_t)w;
	}
	char note[] = "{\"containers\":true}";
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { note, sizeof(note) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.space,
			      .msg_controllen = sizeof(cm.space) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	if (sendmsg(r->current_ctl, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		ret = -errno;
out:
	close(fd);
	free(text);
	return ret;
}

/* A new relay process for the policy in r->lp takes over from the current
 * one, which drains. 0, or -errno: the current one serves on. */
static int take_over(struct dg_relays *r)
{
	pid_t previous = r->current;
	int previous_ctl = r->current_ctl, ret;

	r->current = 0;
	r->current_ctl = -1;
	if ((ret = start(r)) < 0) {
		r->current = previous;
		r->current_ctl = previous_ctl;
		return ret;
	}
	retire(r, previous, previous_ctl);
	return 0;
}

static bool pending_binds(const struct dg_relays *r)
{
	for (size_t i = 0; i < r->n_bound; i++)
		if (r->bound[i].fd < 0)
			return true;
	return false;
}

/* The listen address of `key` in the policy served, or NULL. */
static const struct dg_addr *policy_addr(const struct dg_relays *r, const char *key)
{
	const struct dg_policy *pol = r->have_lp ? r->lp.policy : NULL;

	for (size_t e = 0; pol && e < pol->n_endpoints; e++) {
		for (size_t a = 0; pol->endpoints[e].relay && a < pol->endpoints[e].n_addrs; a++) {
			char *k = dg_relay_addr_text(&pol->endpoints[e].addrs[a]);
			bool same = !strcmp(k, key);
			free(k);
			if (same)
				return &pol->endpoints[e].addrs[a];
		}
	}
	return NULL;
}

/* Each second while a TCP listen address has no interface: the addresses
 * that have one now are bound, and a relay process that serves them takes
 * over from the current one (which drains). */
static void bind_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dg_relays *r = arg;
	bool any = false;

	(void)fd, (void)what;
	for (size_t i = 0; i < r->n_bound; i++) {
		const struct dg_addr *a = r->bound[i].fd < 0 ? policy_addr(r, r->bound[i].key) : NULL;
		struct dg_err why = { "" };
		int lfd;
		if (!a)
			continue;
		lfd = dg_relay_bind(a, &why);
		if (lfd == -EADDRNOTAVAIL)
			continue;
		if (lfd < 0) {
			dg_cli_error("relay: %s", why.msg);
			continue;
		}
		r->bound[i].fd = lfd;
		dg_cli_error("relay: %s has appeared; serving it", r->bound[i].key);
		any = true;
	}
	if (any && r->have_lp && take_over(r) < 0)
		dg_cli_error("cannot start a relay process: %s; the new address is served once "
			     "one starts", strerror(errno));
	if (pending_binds(r)) {
		struct timeval second = { 1, 0 };
		evtimer_add(r->ev_bind, &second);
	}
}

int dg_relays_apply(struct dg_relays *r, const struct dg_cli *cli, const struct dg_policy *pol,
		    struct dg_err *err)
{
	struct dg_loaded_policy lp;
	size_t wanted = 0;
	int ret;

	/* bind what is new; the sockets kept keep their files' inodes */
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		for (size_t a = 0; ep->relay && a < ep->n_addrs; a++) {
			char *key = dg_relay_addr_text(&ep->addrs[a]);
			struct dg_err why = { "" };
			int fd;
			wanted++;
			if (find_bound(r, key)) {
				free(key);
				continue;
			}
			fd = take_passed(r, &ep->addrs[a]);
			if (fd < 0)
				fd = dg_relay_bind(&ep->addrs[a], &why);
			if (fd == -EADDRNOTAVAIL) {
				/* docker0's gateway before dockerd: bound when it appears */
				dg_cli_error("relay %s: %s", ep->name, why.msg);
			} else if (fd < 0) {
				dg_err_set(err, "relay %s: %s", ep->name, why.msg);
				free(key);
				return fd;
			}
			r->bound = xreallocarray(r->bound, r->n_bound + 1, sizeof(*r->bound));
			r->bound[r->n_bound++] = (struct bound){ key, fd < 0 ? -1 : fd };
		}
	}
	for (size_t i = 0; i < r->n_passed; i++)
		if (r->passed[i] >= 0)
			dg_cli_error("systemd passed a socket (fd %d) that no relay's listen address "
				     "names; it stays unused (check ListenStream= against the policy)",
				     r->passed[i]);
	if (wanted && r->callers_fd < 0) {
		struct dg_err why = { "" };
		int fd = dg_kernel_open_relay_callers(cli->bpffs, &why);
		if (fd >= 0)
			r->callers_fd = fd;
		else if (dg_relay_policy_on_tcp(pol))
			dg_cli_error("%s; TCP callers are refused", why.msg);
	}
	if (pending_binds(r)) {
		struct timeval second = { 1, 0 };
		evtimer_add(r->ev_bind, &second);
	}
	if (!wanted) {
		retire(r, r->current, r->current_ctl);
		r->current = 0;
		r->current_ctl = -1;
		if (r->have_lp)
			dg_cli_policy_free(&r->lp);
		r->have_lp = false;
		return 0;
	}
	if ((ret = dg_cli_compile_parsed(cli, pol, &lp))) {
		dg_err_set(err, "the policy does not compile for the relay");
		return -EINVAL;
	}
	r->cli = cli;
	struct dg_loaded_policy old = r->lp;
	bool had = r->have_lp;
	r->lp = lp;
	r->have_lp = true;
	/* the same bytes as the policy the relay process serves (not the same
	 * pointer: a freed policy's address comes back) */
	if (had && !strcmp(r->served_sha256, pol->sha256) && r->current > 0 &&
	    r->current_ctl >= 0 && send_containers(r) == 0) {
		/* the same policy for other containers: the process serving
		 * learns them (same addresses: no socket to bind or close) */
		dg_cli_policy_free(&old);
		return 0;
	}
	evtimer_del(r->ev_restart);
	if ((ret = take_over(r)) < 0) {
		r->served_sha256[0] = '\0';	/* which the one serving on has: unknown here */
		dg_err_set(err, "cannot start a relay process: %s", strerror(-ret));
		if (had)
			dg_cli_policy_free(&old);
		return ret;	/* the current one serves on, with the policy it has */
	}
	snprintf(r->served_sha256, sizeof(r->served_sha256), "%s", pol->sha256);
	if (had)
		dg_cli_policy_free(&old);
	/* sockets of addresses the policy no longer has */
	for (size_t i = 0; i < r->n_bound;) {
		bool used = false;
		for (size_t e = 0; e < pol->n_endpoints && !used; e++) {
			for (size_t a = 0; pol->endpoints[e].relay && a < pol->endpoints[e].n_addrs; a++) {
				char *key = dg_relay_addr_text(&pol->endpoints[e].addrs[a]);
				used |= !strcmp(key, r->bound[i].key);
				free(key);
			}
		}
		if (used) {
			i++;
			continue;
		}
		if (r->bound[i].fd >= 0)
			close(r->bound[i].fd);
		free(r->bound[i].key);
		r->bound[i] = r->bound[--r->n_bound];
	}
	return 0;
}

/* The profiles in learning mode (spec 8: status shows every one):
 * [{"profile", "until": "YYYY-MM-DD" or null, "ended"}]; profile "*" for
 * `set api-default audit`. */
static json_t *learning_json(const struct dg_policy *pol)
{
	json_t *list = json_array();
	time_t now = time(NULL);

	if (!pol)
		return list;
	if (pol->api_default == DG_DEFAULT_AUDIT)
		json_array_append_new(list, json_pack("{s:s,s:n,s:b}", "profile", "*", "until", "ended", 0));
	for (size_t i = 0; i < pol->n_apis; i++) {
		const struct dg_api_profile *a = &pol->apis[i];
		char day[16] = "";
		if (!a->audit)
			continue;
		if (a->audit_until) {
			time_t last = (time_t)a->audit_until - 86400;	/* DATE itself */
			struct tm tm;
			gmtime_r(&last, &tm);
			strftime(day, sizeof(day), "%Y-%m-%d", &tm);
		}
		json_array_append_new(list, json_pack("{s:s,s:o,s:b}", "profile", a->name, "until",
						      *day ? json_string(day) : json_null(), "ended",
						      !dg_api_profile_audits(a, now)));
	}
	return list;
}

/* Whether upstream `a` takes a connection now (250 ms at most). */
static bool upstream_reachable(const struct dg_addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	int fd, err = 0;
	socklen_t el = sizeof(err);
	bool ok;

	if (!dg_relay_sockaddr(a, &ss, &len))
		return false;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
	if (!ok && errno == EINPROGRESS) {
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		ok = poll(&pfd, 1, 250) == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) &&
		     !err;
	}
	close(fd);
	return ok;
}

/* Each relay's listen addresses (bound, or waiting for the address to
 * appear) and whether its upstream answers a connect now. */
static json_t *relays_json(const struct dg_relays *r)
{
	const struct dg_policy *pol = r->have_lp ? r->lp.policy : NULL;
	json_t *list = json_array();

	for (size_t e = 0; pol && e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		json_t *listen = json_array();
		char up[512];
		if (!ep->relay)
			continue;
		for (size_t a = 0; a < ep->n_addrs; a++) {
			char *key = dg_relay_addr_text(&ep->addrs[a]);
			const struct bound *b = find_bound(r, key);
			json_array_append_new(listen, json_pack("{s:s,s:s}", "address", key, "state",
								b && b->fd >= 0 ? "bound" : "waiting"));
			free(key);
		}
		json_array_append_new(list, json_pack("{s:s,s:o,s:s,s:b}", "name", ep->name,
						      "listen", listen, "upstream",
						      dg_addr_format_sep(&ep->upstream, ' ', up, sizeof(up)),
						      "upstream_reachable",
						      upstream_reachable(&ep->upstream)));
	}
	return list;
}

json_t *dg_relays_status(const struct dg_relays *r)
{
	json_t *sum = json_deep_copy(r->retired), *rules = json_array(), *last;
	json_int_t conns = 0;
	const char *pid, *key;
	json_t *v;

	json_object_foreach(r->counts, pid, last) {
		add_counts(sum, json_object_get(last, "rules"));
		conns += json_integer_value(json_object_get(last, "connections"));
	}
	json_object_foreach(sum, key, v) {
		const char *sp = strchr(key, ' ');
		char *relay = xstrndup(key, sp ? (size_t)(sp - key) : strlen(key));
		json_array_append_new(rules, json_pack("{s:s,s:s,s:O,s:O}", "relay", relay, "api_rule",
						       sp ? sp + 1 : "", "allowed", json_array_get(v, 0),
						       "denied", json_array_get(v, 1)));
		free(relay);
	}
	json_decref(sum);
	return json_pack("{s:i,s:i,s:I,s:o,s:o,s:o}", "pid", (int)r->current, "draining",
			 (int)r->n_draining, "connections", conns, "rules", rules, "learning",
			 learning_json(r->have_lp ? r->lp.policy : NULL), "relays", relays_json(r));
}

json_t *dg_relays_seen(const struct dg_relays *r)
{
	json_t *list = json_array(), *one;
	const char *key;

	json_object_foreach(r->seen, key, one)
		json_array_append(list, one);
	return json_pack("{s:o,s:I}", "seen", list, "dropped", (json_int_t)r->seen_dropped);
}

pid_t dg_relays_pid(const struct dg_relays *r)
{
	return r ? r->current : 0;
}

void dg_relays_free(struct dg_relays *r)
{
	if (!r)
		return;
	if (r->current) {
		kill(r->current, SIGTERM);
		waitpid(r->current, NULL, 0);
	}
	for (size_t i = 0; i < r->n_draining; i++) {
		kill(r->draining[i], SIGTERM);
		waitpid(r->draining[i], NULL, 0);
		close(r->draining_ctl[i]);
	}
	free(r->draining);
	free(r->draining_ctl);
	if (r->current_ctl >= 0)
		close(r->current_ctl);
	for (size_t i = 0; i < r->n_bound; i++) {
		if (r->bound[i].fd >= 0)
			close(r->bound[i].fd);
		free(r->bound[i].key);
	}
	if (r->callers_fd >= 0)
		close(r->callers_fd);
	for (size_t i = 0; i < r->n_passed; i++)
		if (r->passed[i] >= 0)
			close(r->passed[i]);
	free(r->passed);
	free(r->bound);
	if (r->have_lp)
		dg_cli_policy_free(&r->lp);
	if (r->ev_chld)
		event_free(r->ev_chld);
	if (r->ev_restart)
		event_free(r->ev_restart);
	if (r->ev_bind)
		event_free(r->ev_bind);
	if (r->ev_events)
		event_free(r->ev_events);
	json_decref(r->counts);
	json_decref(r->retired);
	json_decref(r->seen);
	for (int i = 0; i < 2; i++)
		if (r->events[i] >= 0)
			close(r->events[i]);
	free(r);
}
