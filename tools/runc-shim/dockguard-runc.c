// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard-runc: an OCI runtime for dockerd that is runc, except that before
 * runc creates a container it asks the dockguard daemon to put that
 * container's identity in force, and waits (at most 3 s) for the answer. So
 * a container's first connect is judged as that container, however soon it
 * comes: the daemon no longer races the container's start.
 *
 * /etc/docker/daemon.json:
 *   "runtimes": { "dockguard": { "path": "/usr/local/libexec/dockguard-runc" } },
 *   "default-runtime": "dockguard"
 *
 * Options (before runc's own, e.g. through "runtimeArgs"):
 *   --dockguard-control=PATH   the daemon's control socket
 *                              (default /run/dockguard/control.sock)
 *   --dockguard-runc=PATH      the real runc (default: the first of
 *                              /usr/sbin/runc, /usr/bin/runc, /usr/local/sbin/runc,
 *                              /usr/local/bin/runc)
 * Everything else goes to runc unchanged. When the daemon does not answer,
 * the container starts anyway (and is judged as an unknown container until
 * the daemon learns of it).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONTROL "/run/dockguard/control.sock"
#define WAIT_MS 3000

/* runc's global options that take a separate value */
static int takes_value(const char *opt)
{
	static const char *const with_value[] = { "--root", "--log", "--log-format", "--criu",
						  "--rootless" };
	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (!strcmp(opt, with_value[i]))
			return 1;
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Asks the daemon to prepare container `id`; 0 when it answered ok. */
static int prepare(const char *control, const char *id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[128];
	size_t len = 0;
	struct timespec t0;
	int fd, n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", control);

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	n = snprintf(buf, sizeof(buf), "prepare %s\n", id);
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = WAIT_MS - elapsed_ms(&t0);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return strncmp(buf, "ok\n", 3) ? -EAGAIN : 0;
}

static const char *find_runc(const char *self)
{
	static const char *const candidates[] = { "/usr/sbin/runc", "/usr/bin/runc",
						  "/usr/local/sbin/runc", "/usr/local/bin/runc" };
	char me[4096];
	ssize_t n = readlink("/proc/self/exe", me, sizeof(me) - 1);

	me[n > 0 ? n : 0] = '\0';
	(void)self;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		char real[4096];
		if (access(candidates[i], X_OK))
			continue;
		if (realpath(candidates[i], real) && !strcmp(real, me))
			continue;	/* that is us */
		return candidates[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *control = DEFAULT_CONTROL, *runc = NULL;
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	int n = 0;

	if (!args)
		return 1;
	args[n++] = "runc";
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--dockguard-control=", 20))
			control = argv[i] + 20;
		else if (!strncmp(argv[i], "--dockguard-runc=", 17))
			runc = argv[i] + 17;
		else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	if (!runc)
		runc = find_runc(argv[0]);
	if (!runc) {
		fprintf(stderr, "dockguard-runc: no runc found; install runc or give "
				"--dockguard-runc=PATH\n");
		return 1;
	}

	/* the command is the first argument that is neither an option nor the
	 * value of one; for create and run the container id comes last */
	const char *command = NULL;
	for (int i = 1; i < n && !command; i++) {
		if (args[i][0] != '-')
			command = args[i];
		else if (!strchr(args[i], '=') && takes_value(args[i]))
			i++;
	}
	if (command && (!strcmp(command, "create") || !strcmp(command, "run")) && n > 2) {
		int ret = prepare(control, args[n - 1]);
		if (ret)
			fprintf(stderr, "dockguard-runc: dockguard did not confirm container %.12s "
					"(%s at %s); starting it anyway\n", args[n - 1],
				ret == -EAGAIN ? "no answer in time" : strerror(-ret), control);
	}
	execv(runc, args);
	fprintf(stderr, "dockguard-runc: cannot run %s: %s\n", runc, strerror(errno));
	return 127;
}
