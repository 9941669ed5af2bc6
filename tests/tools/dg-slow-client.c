// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-slow-client: a stuck control-socket client, for tests.
 *
 *   dg-slow-client SOCKET_PATH REQUEST
 *
 * Connects to SOCKET_PATH, sends REQUEST and a newline, then sleeps forever
 * without reading a byte: the daemon must neither block on it nor buffer
 * without bound for it. Prints `connected` once the request is sent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (argc != 3) {
		fprintf(stderr, "usage: dg-slow-client SOCKET_PATH REQUEST\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dg-slow-client: %s: path too long for a unix socket\n", argv[1]);
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dg-slow-client: connect %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	char req[4096];
	int len = snprintf(req, sizeof(req), "%s\n", argv[2]);
	if (len < 0 || (size_t)len >= sizeof(req) || write(fd, req, (size_t)len) != len) {
		fprintf(stderr, "dg-slow-client: cannot send the request\n");
		return 1;
	}
	printf("connected\n");
	fflush(stdout);
	for (;;)
		pause();
}
