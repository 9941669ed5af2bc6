// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-httpload: the relay benchmark's HTTP client.
 *
 *   dg-httpload [--clients N] [--seconds S] [--method M] [--header H] unix PATH TARGET
 *   dg-httpload [--clients N] [--seconds S] [--method M] [--header H] tcp HOST PORT TARGET
 *   dg-httpload --idle N unix PATH | tcp HOST PORT
 *   dg-httpload --once [--header H] unix PATH | tcp HOST PORT TARGET
 *
 * N clients (threads), each on one keep-alive connection, send `M TARGET`
 * (GET by default) and read the whole answer (dockguard's HTTP layer:
 * Content-Length or chunked) as fast as they can for S seconds (default 3),
 * timing every request; --header adds a header line ("Authorization: Basic
 * ..." for a peer that wants a password). One line on stdout:
 *
 *   clients=N requests=R rps=X p50_us=A p99_us=B status=CODE errors=E
 *
 * (status: that of the last answer). --once sends one request and reads
 * its whole answer (a stream: an archive, logs): `bytes=B seconds=S MBps=X
 * status=CODE`. --idle N opens N connections, prints
 * `idle N` and holds them until killed (the relay's memory with idle
 * clients).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"

#define MAX_SAMPLES (1u << 20)

struct target {
	struct sockaddr_storage addr;
	socklen_t len;
	int family;
};

static struct target dest;
static const char *method = "GET";
static const char *request_target;
static const char *extra_header;
static double seconds = 3;

struct client {
	pthread_t thread;
	uint32_t *samples;	/* microseconds */
	size_t n;
	unsigned long errors;
	int status;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_target(char **argv, int argc, int *used)
{
	memset(&dest, 0, sizeof(dest));
	if (argc >= 2 && !strcmp(argv[0], "unix")) {
		struct sockaddr_un *un = (struct sockaddr_un *)&dest.addr;

		if (strlen(argv[1]) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, argv[1]);
		dest.len = sizeof(*un);
		dest.family = AF_UNIX;
		*used = 2;
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[0], "tcp")) {
		struct sockaddr_in *in = (struct sockaddr_in *)&dest.addr;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(argv[2]));
		if (inet_pton(AF_INET, argv[1], &in->sin_addr) != 1)
			return -1;
		dest.len = sizeof(*in);
		dest.family = AF_INET;
		*used = 3;
		return 0;
	}
	return -1;
}

static int dial(void)
{
	int fd = socket(dest.family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (dest.family == AF_INET)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&dest.addr, dest.len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int on_head(void *arg, const struct dg_http_head *head)
{
	*(int *)arg = head->status;
	return 0;
}

static uint64_t body_bytes;	/* --once: the answer's body, de-chunked */

static int on_body(void *arg, const char *data, size_t len)
{
	(void)arg;
	(void)data;
	body_bytes += len;	/* threads of a load run race here: only --once reads it */
	return 0;
}

static const struct dg_http_callbacks callbacks = { .on_head = on_head, .on_body = on_body };

/* One request on fd and its whole answer; the status, or -1. */
static int exchange(int fd, const char *req, size_t req_len)
{
	char buf[65536];
	struct dg_http h;
	int status = -1;

	for (size_t off = 0; off < req_len;) {
		ssize_t w = write(fd, req + off, req_len - off);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	dg_http_init(&h, DG_HTTP_RESPONSE, 1 << 20, &callbacks, &status);
	if (!strcmp(method, "HEAD"))
		dg_http_expect_no_body(&h);
	while (!dg_http_done(&h)) {
		ssize_t r = read(fd, buf, sizeof(buf));
		long used;

		if (r < 0 && errno == EINTR)
			continue;
		used = dg_http_feed(&h, buf, r > 0 ? (size_t)r : 0);
		if (r <= 0 || used < 0) {
			status = -1;
			break;
		}
	}
	dg_http_fini(&h);
	return status;
}

static void *run_client(void *arg)
{
	struct client *c = arg;
	char req[2048];
	int len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: dg-httpload\r\n%s%s\r\n",
			   method, request_target, extra_header ? extra_header : "", extra_header ? "\r\n" : "");
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
	int fd;

	if (len < 0 || (size_t)len >= sizeof(req)) {
		c->errors++;	/* the target and header do not fit */
		return NULL;
	}
	fd = dial();

	while (fd >= 0 && now_ns() < end) {
		uint64_t t0 = now_ns();
		int status = exchange(fd, req, (size_t)len);

		if (status < 0) {
			c->errors++;
			close(fd);
			fd = dial();
			continue;
		}
		c->status = status;
		if (c->n < MAX_SAMPLES)
			c->samples[c->n++] = (uint32_t)((now_ns() - t0) / 1000);
	}
	if (fd < 0)
		c->errors++;
	else
		close(fd);
	return NULL;
}

/* A header that, with the rest of the request, fits run_client()'s buffer. */
static int header_fits(const char *header)
{
	return header && strlen(header) > 1024 ? -1 : 0;
}

/* --once: one request, its whole answer, the rate it came at. */
static int fetch_once(void)
{
	char req[2048];
	int len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: docker\r\n%s%s\r\n", method,
			   request_target, extra_header ? extra_header : "", extra_header ? "\r\n" : "");
	int fd = dial(), status;
	uint64_t t0;
	double secs;

	if (len < 0 || (size_t)len >= sizeof(req) || fd < 0) {
		fprintf(stderr, "dg-httpload: cannot send the request: %s\n", fd < 0 ? strerror(errno) : "too long");
		return 1;
	}
	t0 = now_ns();
	status = exchange(fd, req, (size_t)len);
	secs = (double)(now_ns() - t0) / 1e9;
	close(fd);
	printf("bytes=%llu seconds=%.3f MBps=%.1f status=%d\n", (unsigned long long)body_bytes, secs,
	       (double)body_bytes / 1048576.0 / secs, status);
	return status == 200 ? 0 : 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int idle(long n)
{
	for (long i = 0; i < n; i++)
		if (dial() < 0) {
			fprintf(stderr, "dg-httpload: connection %ld of %ld: %s\n", i + 1, n, strerror(errno));
			return 1;
		}
	printf("idle %ld\n", n);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	long clients = 1, idle_n = -1;
	bool once = false;
	int i = 1, used;

	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (!strcmp(argv[i], "--once")) {
			once = true;
			i--;	/* no value */
			continue;
		}
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--clients"))
			clients = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--method"))
			method = argv[i + 1];
		else if (!strcmp(argv[i], "--header"))
			extra_header = argv[i + 1];
		else if (!strcmp(argv[i], "--idle"))
			idle_n = atol(argv[i + 1]);
		else
			break;
	}
	if (i >= argc || parse_target(argv + i, argc - i, &used) < 0 || clients < 1 || clients > 1000 ||
	    (header_fits(extra_header) < 0)) {
		fprintf(stderr, "usage: dg-httpload [--clients N] [--seconds S] [--method M] unix PATH | tcp HOST PORT TARGET\n"
				"       dg-httpload --idle N unix PATH | tcp HOST PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);	/* a peer that closes is an error to count */
	if (idle_n >= 0)
		return idle(idle_n);
	if (i + used >= argc) {
		fprintf(stderr, "dg-httpload: no request target\n");
		return 2;
	}
	request_target = argv[i + used];
	if (once)
		return fetch_once();

	struct client *cs = calloc((size_t)clients, sizeof(*cs));
	uint64_t t0 = now_ns();
	for (long k = 0; k < clients; k++) {
		cs[k].samples = malloc(MAX_SAMPLES * sizeof(uint32_t));
		if (!cs[k].samples || pthread_create(&cs[k].thread, NULL, run_client, &cs[k])) {
			fprintf(stderr, "dg-httpload: cannot start client %ld\n", k + 1);
			return 1;
		}
	}
	size_t total = 0;
	unsigned long errors = 0;
	int status = 0;
	for (long k = 0; k < clients; k++) {
		pthread_join(cs[k].thread, NULL);
		total += cs[k].n;
		errors += cs[k].errors;
		if (cs[k].status)
			status = cs[k].status;
	}
	double elapsed = (double)(now_ns() - t0) / 1e9;
	uint32_t *all = malloc((total ? total : 1) * sizeof(uint32_t));
	size_t at = 0;
	for (long k = 0; k < clients; k++) {
		memcpy(all + at, cs[k].samples, cs[k].n * sizeof(uint32_t));
		at += cs[k].n;
		free(cs[k].samples);
	}
	qsort(all, total, sizeof(uint32_t), cmp_u32);
	printf("clients=%ld requests=%zu rps=%.0f p50_us=%u p99_us=%u status=%d errors=%lu\n", clients, total,
	       (double)total / elapsed, total ? all[total / 2] : 0, total ? all[total * 99 / 100] : 0, status,
	       errors);
	free(all);
	free(cs);
	return total ? 0 : 1;
}
