// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-probe: a test client that takes on an identity (cgroup, groups, gid,
 * uid) and then connects, binds or listens once, reporting what the kernel
 * said. Exit 0 = ok, 1 = EPERM, 2 = any other error (printed).
 *
 *   dg-probe [--cgroup DIR] [--groups G,G] [--gid G] [--uid U | --euid U]
 *            [--chdir DIR] [--move-cgroup DIR]
 *            connect|bind|listen|tfo tcp|tcp6|unix ADDR [PORT]
 *
 * --move-cgroup joins DIR after the socket is created and before connect().
 * --repeat N connects N times (a new socket each time) and reports the last
 * outcome: a load generator for benchmarks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

static int report(int ret)
{
	if (ret == 0) {
		printf("ok\n");
		return 0;
	}
	if (errno == EPERM) {
		printf("EPERM\n");
		return 1;
	}
	printf("error: %s\n", strerror(errno));
	return 2;
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL, *groups = NULL, *chdir_to = NULL, *move_cg = NULL;
	long uid = -1, euid = -1, gid = -1, repeat = 1;
	int i = 1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--cgroup"))
			cgroup = argv[i + 1];
		else if (!strcmp(argv[i], "--groups"))
			groups = argv[i + 1];
		else if (!strcmp(argv[i], "--gid"))
			gid = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--uid"))
			uid = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--euid"))
			euid = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--chdir"))
			chdir_to = argv[i + 1];
		else if (!strcmp(argv[i], "--move-cgroup"))
			move_cg = argv[i + 1];
		else if (!strcmp(argv[i], "--repeat"))
			repeat = atol(argv[i + 1]);
		else {
			fprintf(stderr, "dg-probe: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc - i < 3) {
		fprintf(stderr, "usage: dg-probe [options] connect|bind|listen|tfo tcp|tcp6|unix ADDR [PORT]\n");
		return 2;
	}
	const char *op = argv[i], *proto = argv[i + 1], *addr = argv[i + 2];
	int port = argc - i > 3 ? atoi(argv[i + 3]) : 0;

	if (cgroup)
		join_cgroup(cgroup);
	if (groups) {
		gid_t list[64];
		int n = 0;
		char *copy = strdup(groups), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
			list[n++] = (gid_t)atol(t);
		if (setgroups((size_t)n, list) < 0)
			die("setgroups");
		free(copy);
	} else if (uid >= 0 || gid >= 0) {
		if (setgroups(0, NULL) < 0)
			die("setgroups");
	}
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
		family = AF_UNIX;
		sa.un.sun_family = AF_UNIX;
		snprintf(sa.un.sun_path, sizeof(sa.un.sun_path), "%s", addr);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr) + 1);
	} else if (!strcmp(proto, "tcp")) {
		family = AF_INET;
		sa.in.sin_family = AF_INET;
		sa.in.sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sa.in.sin_addr) != 1)
			die("address");
		len = sizeof(sa.in);
	} else {
		family = AF_INET6;
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
			die("address");
		len = sizeof(sa.in6);
	}

	/* With --move-cgroup the socket is made in the first cgroup and the
	 * process moves (as root, which may) before it takes on the identity. */
	int fd = -1;
	if (move_cg) {
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		join_cgroup(move_cg);
	}
	if (gid >= 0 && setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		die("setgid");
	if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		die("setuid");
	if (euid >= 0 && setresuid((uid_t)-1, (uid_t)euid, (uid_t)-1) < 0)
		die("seteuid");
	if (chdir_to && chdir(chdir_to) < 0)
		die("chdir");

	if (fd < 0)
		fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");

	if (!strcmp(op, "connect")) {
		int ret = connect(fd, &sa.sa, len);
		for (long n = 1; n < repeat; n++) {
			close(fd);
			fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				die("socket");
			ret = connect(fd, &sa.sa, len);
		}
		return report(ret);
	}
	if (!strcmp(op, "tfo")) {
		ssize_t n = sendto(fd, "x", 1, MSG_FASTOPEN, &sa.sa, len);
		return report(n < 0 ? -1 : 0);
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!strcmp(op, "bind"))
		return report(bind(fd, &sa.sa, len));
	if (!strcmp(op, "listen")) {
		if (bind(fd, &sa.sa, len) < 0 || listen(fd, 128) < 0)
			return report(-1);
		printf("listening\n");
		fflush(stdout);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c >= 0)
				close(c);
		}
	}
	fprintf(stderr, "dg-probe: unknown operation %s\n", op);
	return 2;
}
