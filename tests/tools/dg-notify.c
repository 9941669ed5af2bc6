// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-notify: a stand-in for systemd's NOTIFY_SOCKET, for tests.
 *
 *   dg-notify PATH
 *
 * Binds an AF_UNIX datagram socket at PATH (replacing a stale file) and
 * prints every assignment it receives (READY=1, STATUS=..., one per line),
 * flushing each line, until it is killed.
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
	static char buf[65536];

	if (argc != 2) {
		fprintf(stderr, "usage: dg-notify PATH\n");
		return 2;
	}
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "dg-notify: %s: path too long for a unix socket\n", argv[1]);
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "dg-notify: socket: %s\n", strerror(errno));
		return 1;
	}
	unlink(argv[1]);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "dg-notify: bind %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "dg-notify: recv: %s\n", strerror(errno));
			return 1;
		}
		buf[n] = '\0';
		char *save = NULL;
		for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			printf("%s\n", line);
		fflush(stdout);
	}
}
