// SPDX-License-Identifier: GPL-2.0-only
/*
 * `tail [--json] [--no-follow]`: events, one per line. Asks the daemon
 * (RUN_DIR/control.sock), which also has the recent backlog; with no daemon,
 * reads the kernel's pinned ring buffer directly (what is pending, then
 * what comes).
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/cli.h"
#include "daemon/events.h"
#include "kernel/kernel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGINT/SIGTERM end the tail with status 0; no SA_RESTART, so a blocked
 * read() or poll() returns EINTR. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Returns the connected socket, -1 when no daemon answers (no socket file,
 * or nobody listening on it), -2 on another error (reported). */
static int connect_daemon(const char *run_dir, char *path, size_t path_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", run_dir);

	snprintf(path, path_len, "%s/control.sock", run_dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		dg_cli_error("tail: --run-dir %s is too long for a unix socket path", run_dir);
		return -2;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		dg_cli_error("tail: cannot create a socket: %s", strerror(errno));
		return -2;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	int e = errno;
	close(fd);
	if (e == ENOENT || e == ECONNREFUSED)
		return -1;
	if (e == EACCES || e == EPERM)
		dg_cli_error("tail: cannot connect to the daemon at %s: %s; the control socket is "
			     "for root only (run with sudo)", path, strerror(e));
	else
		dg_cli_error("tail: cannot connect to the daemon at %s: %s", path, strerror(e));
	return -2;
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Copies the daemon's lines to stdout until it closes the connection. */
static int tail_daemon(const struct dg_cli *cli, int fd, const char *path)
{
	char req[64];
	int len = snprintf(req, sizeof(req), "tail %s%s\n", cli->json ? "json" : "text",
			   cli->no_follow ? " no-follow" : "");

	/* MSG_NOSIGNAL: a daemon that refuses us (too many clients) may have
	 * closed already; its answer is still there to read */
	ssize_t sent = send(fd, req, (size_t)len, MSG_NOSIGNAL);
	if (sent != len && !(sent < 0 && (errno == EPIPE || errno == ECONNRESET))) {
		dg_cli_error("tail: cannot send the request to the daemon at %s: %s", path,
			     sent < 0 ? strerror(errno) : "short write");
		close(fd);
		return DG_EXIT_SYSTEM;
	}
	catch_signals();

	/* whole lines only: the first one may be an error from the daemon */
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap);
	bool first = true;
	int ret = DG_EXIT_OK;
	if (!buf) {
		close(fd);
		dg_cli_error("tail: out of memory");
		return DG_EXIT_SYSTEM;
	}
	while (!stop) {
		if (used == cap) {
			/* a line longer than the buffer: pass it through as is */
			if (!write_all(STDOUT_FILENO, buf, used))
				break;
			used = 0;
			first = false;
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			dg_cli_error("tail: reading from the daemon at %s failed: %s", path,
				     strerror(errno));
			ret = DG_EXIT_SYSTEM;
			break;
		}
		if (n == 0) {
			if (used && !(first && !strncmp(buf, "error: ", 7)))
				write_all(STDOUT_FILENO, buf, used);
			break;
		}
		used += (size_t)n;
		char *nl = memrchr(buf, '\n', used);
		if (!nl)
			continue;
		size_t whole = (size_t)(nl - buf) + 1;
		if (first && !strncmp(buf, "error: ", 7)) {
			char *eol = memchr(buf, '\n', used);
			dg_cli_error("tail: the daemon at %s refused: %.*s", path,
				     (int)(eol - buf - 7), buf + 7);
			ret = DG_EXIT_SYSTEM;
			break;
		}
		first = false;
		/* one write per batch of whole lines: stdout is unbuffered here */
		if (!write_all(STDOUT_FILENO, buf, whole)) {
			if (errno != EPIPE)
				dg_cli_error("tail: cannot write to stdout: %s", strerror(errno));
			break;
		}
		memmove(buf, buf + whole, used - whole);
		used -= whole;
	}
	free(buf);
	close(fd);
	return ret;
}

struct direct {
	struct dg_namer *namer;
	bool json;
	bool failed;		/* stdout is gone */
};

static void direct_event(void *ctx, const struct dg_event *ev)
{
	struct direct *t = ctx;
	char *line = NULL;

	if (t->failed)
		return;
	if (t->json) {
		json_t *o = dg_event_json(t->namer, ev);
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
	} else {
		line = dg_event_text(t->namer, ev);
	}
	if (line && (fprintf(stdout, "%s\n", line) < 0 || fflush(stdout)))
		t->failed = true;
	free(line);
}

/* No daemon: read the pinned ring buffer ourselves. */
static int tail_direct(const struct dg_cli *cli)
{
	struct dg_kernel_state st;
	struct dg_err err = { "" };

	if (dg_kernel_read_state(cli->bpffs, &st, &err)) {
		dg_cli_error("tail: %s", err.msg);
		return DG_EXIT_SYSTEM;
	}
	bool loaded = st.loaded;
	dg_kernel_state_free(&st);
	if (!loaded) {
		dg_cli_error("not loaded: no daemon at %s and no pins in %s; run dockguard load or "
			     "dockguard run", cli->run_dir, cli->bpffs);
		return DG_EXIT_NOT_LOADED;
	}
	/* the kernel's ring buffer has one reader position: what we read is gone */
	dg_cli_error("no daemon at %s; reading the kernel's event buffer directly: the events "
		     "read here are taken from it, and the next reader (another tail, a daemon "
		     "started later) will not see them", cli->run_dir);

	struct direct t = { .namer = dg_namer_new(cli->bpffs), .json = cli->json };
	struct dg_event_reader *r = dg_events_open(cli->bpffs, direct_event, &t, &err);
	if (!r) {
		dg_cli_error("tail: %s", err.msg);
		dg_namer_free(t.namer);
		return DG_EXIT_SYSTEM;
	}
	int ret = DG_EXIT_OK;
	int n = dg_events_consume(r);
	if (!cli->no_follow) {
		catch_signals();
		struct pollfd pfd = { .fd = dg_events_fd(r), .events = POLLIN };
		while (n >= 0 && !stop && !t.failed) {
			int p = poll(&pfd, 1, 500);
			if (p < 0 && errno != EINTR) {
				n = -errno;
				break;
			}
			if (p > 0)
				n = dg_events_consume(r);
		}
	}
	if (n < 0 && n != -EINTR) {
		dg_cli_error("tail: reading the event buffer failed: %s", strerror(-n));
		ret = DG_EXIT_SYSTEM;
	}
	dg_events_close(r);
	dg_namer_free(t.namer);
	return ret;
}

int do_tail(struct dg_cli *cli)
{
	char path[4200];
	int fd = connect_daemon(cli->run_dir, path, sizeof(path));

	if (fd == -2)
		return DG_EXIT_SYSTEM;
	if (fd >= 0)
		return tail_daemon(cli, fd, path);
	return tail_direct(cli);
}
