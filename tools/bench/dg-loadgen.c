// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-loadgen: the benchmark's load generator and listener.
 *
 *   dg-loadgen [IDENTITY] [--count N] [--seconds S] [--rate R] [--latency]
 *              [--fin] connect tcp|tcp6|unix ADDR [PORT]
 *   dg-loadgen listen tcp|tcp6|unix ADDR [PORT]
 *
 * IDENTITY: --cgroup DIR (joined first), --groups G,G, --gid G, --uid U, as
 * dg-probe takes them, so that a run connects as one subject of the policy.
 *
 * connect: a loop of socket() + connect() + close(), a new socket each time,
 * until N connects were made or S seconds have passed (whichever comes first;
 * default N = 10000). An established TCP connection is closed with a reset
 * (SO_LINGER 0), unless --fin: tens of thousands of connects a second would
 * otherwise fill the ephemeral port range with TIME_WAIT sockets, and every
 * connect would then measure the kernel's search for a free port rather than
 * the hooks. --rate R paces the loop at R connects per second (a
 * flood of a known rate rather than as fast as the CPU allows). --latency
 * times every iteration to report the median and 99th percentile; the clock
 * reads cost ~40 ns per iteration. One line on stdout:
 *
 *   n=N ok=N eperm=N other=N elapsed_ns=N mean_ns=N p50_ns=N p99_ns=N error=TEXT
 *
 * listen: accepts and closes every connection until killed; prints
 * `listening` once the socket is ready (unix sockets are made 0777 so that
 * unprivileged subjects reach them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1L << 22)	/* --latency keeps at most this many timings */

static void die(const char *what)
{
	fprintf(stderr, "dg-loadgen: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void usage(void)
{
	fprintf(stderr, "usage: dg-loadgen [--cgroup DIR] [--groups G,G] [--gid G] [--uid U]\n"
			"                  [--count N] [--seconds S] [--rate R] [--latency] [--fin]\n"
			"                  connect|listen tcp|tcp6|unix ADDR [PORT]\n");
	exit(2);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void join_cgroup(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die(path);
	close(fd);
}

struct target {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} addr;
	socklen_t len;
	int family;
};

static void parse_target(struct target *t, const char *proto, const char *addr, int port)
{
	memset(t, 0, sizeof(*t));
	if (!strcmp(proto, "unix")) {
		if (strlen(addr) >= sizeof(t->addr.un.sun_path)) {
			fprintf(stderr, "dg-loadgen: unix path too long: %s\n", addr);
			exit(2);
		}
		t->family = AF_UNIX;
		t->addr.un.sun_family = AF_UNIX;
		strcpy(t->addr.un.sun_path, addr);
		t->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr) + 1);
	} else if (!strcmp(proto, "tcp")) {
		t->family = AF_INET;
		t->addr.in.sin_family = AF_INET;
		t->addr.in.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &t->addr.in.sin_addr) != 1)
			usage();
		t->len = sizeof(t->addr.in);
	} else if (!strcmp(proto, "tcp6")) {
		t->family = AF_INET6;
		t->addr.in6.sin6_family = AF_INET6;
		t->addr.in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &t->addr.in6.sin6_addr) != 1)
			usage();
		t->len = sizeof(t->addr.in6);
	} else {
		usage();
	}
}

static _Noreturn void listen_loop(const struct target *t)
{
	int one = 1, fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if (t->family == AF_UNIX)
		unlink(t->addr.un.sun_path);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &t->addr.sa, t->len) < 0)
		die("bind");
	if (t->family == AF_UNIX && chmod(t->addr.un.sun_path, 0777) < 0)
		die("chmod");
	/* a deep queue: a listener descheduled for a moment must not make
	 * the client's SYN wait for a one-second retransmission */
	if (listen(fd, 65535) < 0)
		die("listen");
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
			die("accept");
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL, *groups = NULL;
	long uid = -1, gid = -1, count = -1, rate = 0;
	double seconds = 0;
	int latency = 0, fin = 0, i = 1;

	while (i < argc && !strncmp(argv[i], "--", 2)) {
		const char *o = argv[i];
		if (!strcmp(o, "--latency")) {
			latency = 1;
			i++;
			continue;
		}
		if (!strcmp(o, "--fin")) {
			fin = 1;
			i++;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[i + 1];
		if (!strcmp(o, "--cgroup"))
			cgroup = v;
		else if (!strcmp(o, "--groups"))
			groups = v;
		else if (!strcmp(o, "--gid"))
			gid = atol(v);
		else if (!strcmp(o, "--uid"))
			uid = atol(v);
		else if (!strcmp(o, "--count"))
			count = atol(v);
		else if (!strcmp(o, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(o, "--rate"))
			rate = atol(v);
		else
			usage();
		i += 2;
	}
	if (argc - i < 3)
		usage();
	const char *op = argv[i];
	struct target t;
	parse_target(&t, argv[i + 1], argv[i + 2], argc - i > 3 ? atoi(argv[i + 3]) : 0);
	if (!strcmp(op, "listen"))
		listen_loop(&t);
	if (strcmp(op, "connect"))
		usage();
	if (count < 0)
		count = seconds > 0 ? -1 : 10000;

	if (cgroup)
		join_cgroup(cgroup);
	if (groups) {
		gid_t list[64];
		size_t n = 0;
		char *copy = strdup(groups), *save = NULL;
		for (char *g = strtok_r(copy, ",", &save); g && n < 64; g = strtok_r(NULL, ",", &save))
			list[n++] = (gid_t)atol(g);
		if (setgroups(n, list) < 0)
			die("setgroups");
		free(copy);
	} else if ((uid >= 0 || gid >= 0) && setgroups(0, NULL) < 0) {
		die("setgroups");
	}
	if (gid >= 0 && setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		die("setgid");
	if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		die("setuid");
	/* pacing sleeps are short: the default 50 us slack would bend the rate */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

	long cap = count > 0 ? count : MAX_SAMPLES;
	int64_t *samples = NULL;
	if (latency) {
		samples = malloc((size_t)(cap < MAX_SAMPLES ? cap : MAX_SAMPLES) * sizeof(*samples));
		if (!samples)
			die("malloc");
	}
	long n = 0, ok = 0, eperm = 0, other = 0, nsamples = 0;
	char error[128] = "none";
	int64_t start = now_ns(), limit = seconds > 0 ? (int64_t)(seconds * 1e9) : INT64_MAX;
	int64_t now = start;
	const struct linger rst = { .l_onoff = 1, .l_linger = 0 };

	while ((count < 0 || n < count) && now - start < limit) {
		if (rate > 0 && (n & 15) == 0) {
			/* the 16 connects from n on are due at start + n / rate */
			int64_t due = start + (int64_t)((double)n * 1e9 / (double)rate);
			if (due > now) {
				struct timespec ts = { (time_t)(due / 1000000000), (long)(due % 1000000000) };
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
		int64_t t0 = latency ? now_ns() : 0;
		int fd = socket(t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, &t.addr.sa, t.len) == 0) {
			ok++;
			if (!fin && t.family != AF_UNIX)
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		} else if (errno == EPERM) {
			eperm++;
		} else {
			if (!other)
				snprintf(error, sizeof(error), "%s", strerror(errno));
			other++;
		}
		close(fd);
		n++;
		if ((n & 63) == 0 || latency || rate > 0 || seconds > 0)
			now = now_ns();
		if (latency && nsamples < MAX_SAMPLES)
			samples[nsamples++] = now - t0;
	}
	int64_t elapsed = now_ns() - start;
	int64_t p50 = 0, p99 = 0;
	if (latency && nsamples > 0) {
		qsort(samples, (size_t)nsamples, sizeof(*samples), cmp_i64);
		p50 = samples[nsamples / 2];
		p99 = samples[(nsamples * 99) / 100];
	}
	for (char *c = error; *c; c++)
		if (*c == ' ')
			*c = '_';
	printf("n=%ld ok=%ld eperm=%ld other=%ld elapsed_ns=%lld mean_ns=%lld p50_ns=%lld p99_ns=%lld "
	       "error=%s\n",
	       n, ok, eperm, other, (long long)elapsed, (long long)(n ? elapsed / n : 0),
	       (long long)p50, (long long)p99, error);
	free(samples);
	return other ? 1 : 0;
}
