// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-hammer: a load generator that counts verdicts. It takes on an identity
 * (as dg-probe does), forks N workers that connect as fast as they can, a
 * new socket each time, until told to stop, and prints what the kernel said:
 *
 *   ok N eperm N other N
 *   other: ERRNO=N ...          (only when other > 0)
 *
 *   dg-hammer [--cgroup DIR] [--groups G,G] [--gid G] [--uid U]
 *             [--workers N] [--stop FILE] [--seconds S]
 *             connect tcp|tcp6|unix ADDR [PORT]
 *   dg-hammer listen tcp|tcp6|unix ADDR [PORT]
 *
 * `listen` is the other end: it prints `listening` and accepts (and closes)
 * until killed, with a backlog of 4096. A listener with a short backlog
 * (dg-probe's 128) overflows under this load, and every dropped SYN costs
 * the client a one-second retransmission: the count would then measure the
 * listener, not the verdicts.
 *
 * It stops on SIGTERM or SIGINT, when FILE exists (checked every 10 ms) or
 * after S seconds, whichever comes first. `running` is printed once every
 * worker has its identity. Exit 0 after a clean count, 2 on a setup error.
 *
 * A successful TCP connect is closed with SO_LINGER 0 (a reset): no
 * TIME_WAIT is left behind, so a long run cannot run out of local ports and
 * turn allowed connects into EADDRNOTAVAIL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS	64
#define ERRNO_SLOTS	256

struct counts {
	uint64_t ok, eperm, other;
	uint64_t by_errno[ERRNO_SLOTS];	/* `other` by errno; the last slot: larger ones */
};

struct shared {
	atomic_int stop;
	struct counts w[MAX_WORKERS];
};

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void die(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	exit(2);
}

static void join_cgroup(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die("join cgroup");
	close(fd);
}

static long number(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "dg-hammer: %s wants a number, not '%s'\n", opt, s);
		exit(2);
	}
	return v;
}

static _Noreturn void listener(int family, const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) < 0 || listen(fd, 4096) < 0)
		die("listen");
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
	}
}

static void worker(struct shared *sh, struct counts *c, int family, const struct sockaddr *sa,
		   socklen_t len)
{
	const struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			c->other++;
			c->by_errno[errno < ERRNO_SLOTS ? errno : ERRNO_SLOTS - 1]++;
			continue;
		}
		if (connect(fd, sa, len) == 0) {
			c->ok++;
			if (family != AF_UNIX)
				setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		} else if (errno == EPERM) {
			c->eperm++;
		} else {
			c->other++;
			c->by_errno[errno < ERRNO_SLOTS ? errno : ERRNO_SLOTS - 1]++;
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL, *groups = NULL, *stop_file = NULL;
	long uid = -1, gid = -1, workers = 1, seconds = 0;
	int i = 1;

	for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
		const char *v = argv[i + 1];
		if (!strcmp(argv[i], "--cgroup"))
			cgroup = v;
		else if (!strcmp(argv[i], "--groups"))
			groups = v;
		else if (!strcmp(argv[i], "--gid"))
			gid = number(argv[i], v);
		else if (!strcmp(argv[i], "--uid"))
			uid = number(argv[i], v);
		else if (!strcmp(argv[i], "--workers"))
			workers = number(argv[i], v);
		else if (!strcmp(argv[i], "--stop"))
			stop_file = v;
		else if (!strcmp(argv[i], "--seconds"))
			seconds = number(argv[i], v);
		else {
			fprintf(stderr, "dg-hammer: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i < 3 || (strcmp(argv[i], "connect") != 0 && strcmp(argv[i], "listen") != 0) ||
	    workers < 1 || workers > MAX_WORKERS) {
		fprintf(stderr, "usage: dg-hammer [--cgroup DIR] [--groups G,G] [--gid G] [--uid U] "
			"[--workers 1..%d] [--stop FILE] [--seconds S] connect tcp|tcp6|unix ADDR "
			"[PORT]\n       dg-hammer listen tcp|tcp6|unix ADDR [PORT]\n", MAX_WORKERS);
		return 2;
	}
	bool listen_mode = !strcmp(argv[i], "listen");
	const char *proto = argv[i + 1], *addr = argv[i + 2];
	int port = argc - i > 3 ? (int)number("PORT", argv[i + 3]) : 0;

	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} sa;
	socklen_t len;
	int family;
	memset(&sa, 0, sizeof(sa));
	if (!strcmp(proto, "unix")) {
		if (strlen(addr) >= sizeof(sa.un.sun_path)) {
			fprintf(stderr, "dg-hammer: %s: too long for a unix socket path\n", addr);
			return 2;
		}
		family = AF_UNIX;
		sa.un.sun_family = AF_UNIX;
		memcpy(sa.un.sun_path, addr, strlen(addr) + 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr) + 1);
	} else if (!strcmp(proto, "tcp")) {
		family = AF_INET;
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sa.in.sin_addr) != 1)
			die("address");
		len = sizeof(sa.in);
	} else if (!strcmp(proto, "tcp6")) {
		family = AF_INET6;
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
			die("address");
		len = sizeof(sa.in6);
	} else {
		fprintf(stderr, "dg-hammer: unknown protocol %s (tcp, tcp6, unix)\n", proto);
		return 2;
	}

	if (listen_mode)
		listener(family, &sa.sa, len);

	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	atomic_init(&sh->stop, 0);

	/* The identity first, so that every worker inherits it. */
	if (cgroup)
		join_cgroup(cgroup);
	if (groups) {
		gid_t list[64];
		size_t n = 0;
		char *copy = strdup(groups), *save = NULL;
		if (!copy)
			die("strdup");
		for (char *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
			list[n++] = (gid_t)number("--groups", t);
		if (setgroups(n, list) < 0)
			die("setgroups");
		free(copy);
	} else if (uid >= 0 || gid >= 0) {
		if (setgroups(0, NULL) < 0)
			die("setgroups");
	}
	if (gid >= 0 && setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		die("setgid");
	if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		die("setuid");

	struct sigaction act = { .sa_handler = on_signal };
	sigemptyset(&act.sa_mask);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);

	pid_t pids[MAX_WORKERS];
	for (long w = 0; w < workers; w++) {
		pids[w] = fork();
		if (pids[w] < 0) {
			atomic_store(&sh->stop, 1);
			die("fork");
		}
		if (pids[w] == 0) {
			/* A stop from the parent only: signals are for it alone. */
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_IGN);
			worker(sh, &sh->w[w], family, &sa.sa, len);
			_exit(0);
		}
	}
	printf("running\n");
	fflush(stdout);

	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (got_signal)
			break;
		struct stat st;
		if (stop_file && stat(stop_file, &st) == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (seconds && now.tv_sec - start.tv_sec >= seconds)
			break;
		struct timespec tick = { 0, 10 * 1000 * 1000 };
		nanosleep(&tick, NULL);
	}
	atomic_store(&sh->stop, 1);

	int bad_exit = 0;
	for (long w = 0; w < workers; w++) {
		int status;
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad_exit = 1;
	}

	struct counts sum = { 0 };
	for (long w = 0; w < workers; w++) {
		sum.ok += sh->w[w].ok;
		sum.eperm += sh->w[w].eperm;
		sum.other += sh->w[w].other;
		for (int e = 0; e < ERRNO_SLOTS; e++)
			sum.by_errno[e] += sh->w[w].by_errno[e];
	}
	printf("ok %llu eperm %llu other %llu\n", (unsigned long long)sum.ok,
	       (unsigned long long)sum.eperm, (unsigned long long)sum.other);
	if (sum.other) {
		printf("other:");
		for (int e = 0; e < ERRNO_SLOTS; e++)
			if (sum.by_errno[e])
				printf(" %s%s=%llu", e == ERRNO_SLOTS - 1 ? ">=" : "",
				       strerrorname_np(e) ? strerrorname_np(e) : "?",
				       (unsigned long long)sum.by_errno[e]);
		printf("\n");
	}
	if (bad_exit) {
		printf("error: a worker died\n");
		return 2;
	}
	return 0;
}
