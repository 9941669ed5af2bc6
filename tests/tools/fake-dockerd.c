// SPDX-License-Identifier: GPL-2.0-only
/*
 * fake-dockerd: a Docker Engine API server for tests, canned and hostile.
 *
 *   fake-dockerd [OPTIONS] SOCKET SCENARIO_DIR
 *
 * SOCKET is a unix socket path, or tcp://127.0.0.1:PORT (PORT 0: any free
 * one). One forked child per connection answers one request from the files
 * of SCENARIO_DIR, read at each request (replace them with rename(2) to
 * change the answers while it runs):
 *
 *   GET /v1.41/info                    info.json
 *   GET /v1.41/containers/json?all=1   containers.json
 *   GET /v1.41/containers/ID/json      inspect-ID.json, else 404
 *   GET /v1.41/images/REF/json         image-REF.json ('/' in REF as '_'), else
 *                                      an image without labels; 404 when the
 *                                      file images-gone exists
 *   GET /v1.41/events?...              events.jsonl, one chunk per line, from
 *                                      its start, then every line appended
 *                                      later (like tail -f)
 *
 * Every request line is appended to SCENARIO_DIR/requests.log.
 *
 * Options:
 *   --ready FILE       write the API address (unix:///… or tcp://…) to FILE
 *                      once listening
 *   --chunked          send every answer chunked, in small odd-sized chunks
 *   --event-delay MS   wait MS before each event
 *   --close-after N    drop the event stream (mid-body) after N events
 *   --stall            accept connections and never answer
 *   --garbage          answer with random bytes
 *   --huge             answer with a 100 MiB chunked body
 *   --huge-length      answer with Content-Length: 1 TiB, then 100 MiB of body
 *   --huge-headers     answer with a status line, then header lines without end
 *                      (100 MiB)
 *   --trickle MS       send every answer one byte every MS milliseconds
 *   --endless-event    the event stream: one event line that never ends (no
 *                      newline, 256 MiB)
 *   --events-stall     the event stream: half an event, then nothing, with the
 *                      connection kept open (until the client hangs up)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *dir;
static bool chunked, stall, garbage, huge, huge_length, huge_headers, endless_event, events_stall;
static int event_delay_ms, close_after = -1, trickle_ms;

static void die(const char *what)
{
	fprintf(stderr, "fake-dockerd: %s: %s\n", what, strerror(errno));
	exit(1);
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		if (trickle_ms) {
			struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };
			if (poll(&pfd, 1, trickle_ms) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
				return false;	/* the client gave up */
		}
		ssize_t n = write(fd, p, trickle_ms ? 1 : len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_chunk(int fd, const char *data, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "%zx\r\n", len);
	return write_all(fd, head, (size_t)n) && write_all(fd, data, len) &&
	       write_all(fd, "\r\n", 2);
}

/* A whole file, or NULL. */
static char *slurp(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	fclose(f);
	*len = n;
	return buf;
}

static void respond(int fd, int status, const char *body, size_t len)
{
	const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : "Error";
	char head[256];
	int n;
	if (chunked) {
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
			     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n", status, reason);
		write_all(fd, head, (size_t)n);
		for (size_t off = 0, step = 1; off < len; off += step, step = step % 13 + 1) {
			if (step > len - off)
				step = len - off;
			send_chunk(fd, body + off, step);
		}
		write_all(fd, "0\r\nX-Trailer: x\r\n\r\n", 19);
		return;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, reason, len);
	write_all(fd, head, (size_t)n);
	write_all(fd, body, len);
}

static void respond_file(int fd, const char *name, bool missing_is_404)
{
	size_t len;
	char *body = slurp(name, &len);
	if (body) {
		respond(fd, 200, body, len);
		free(body);
		return;
	}
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "{\"message\":\"%s: %s\"}\n",
			 missing_is_404 ? "No such container" : "fake-dockerd: no file", name);
	respond(fd, missing_is_404 ? 404 : 500, msg, (size_t)n);
}

/* Waits `ms`; false when the client hung up. */
static bool client_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	int r = poll(&p, 1, ms);
	return !(r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)));
}

static void stream_events(int fd)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				   "Api-Version: 1.41\r\nTransfer-Encoding: chunked\r\n\r\n";
	if (!write_all(fd, head, sizeof(head) - 1))
		return;
	if (endless_event) {
		static char block[65536];
		memset(block, 'x', sizeof(block));
		memcpy(block, "{\"Type\":\"container\",\"x\":\"", 26);
		for (int i = 0; i < 4096; i++)	/* 256 MiB */
			if (!send_chunk(fd, block, sizeof(block)))
				return;
		return;
	}
	if (events_stall) {
		static const char half[] = "40\r\n{\"Type\":\"container\",\"Action\":";
		if (!write_all(fd, half, sizeof(half) - 1))
			return;
		while (client_wait(fd, 1000))
			;
		return;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/events.jsonl", dir);
	long off = 0;
	int sent = 0;
	char line[65536];
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f && fseek(f, off, SEEK_SET) == 0) {
			while (fgets(line, sizeof(line), f)) {
				size_t n = strlen(line);
				if (line[n - 1] != '\n')
					break;	/* not all written yet */
				off += (long)n;
				if (n == 1)
					continue;
				if (event_delay_ms && !client_wait(fd, event_delay_ms))
					goto out;
				if (!send_chunk(fd, line, n))
					goto out;
				if (++sent == close_after)
					goto out;
			}
		}
		if (f)
			fclose(f);
		f = NULL;
		if (!client_wait(fd, 20))
			return;
		continue;
out:
		if (f)
			fclose(f);
		return;
	}
}

static void serve(int fd)
{
	if (stall) {
		for (;;)
			pause();
	}
	/* The request head; its body (none for GET) is not read. */
	char req[8192];
	size_t n = 0;
	while (n < sizeof(req) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) != 1)
			return;
		ssize_t r = read(fd, req + n, sizeof(req) - 1 - n);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[n] = '\0';
	char *eol = strstr(req, "\r\n");
	if (eol)
		*eol = '\0';
	char logpath[4096];
	snprintf(logpath, sizeof(logpath), "%s/requests.log", dir);
	int log = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log >= 0) {
		dprintf(log, "%s\n", req);
		close(log);
	}

	if (garbage) {
		unsigned int seed = (unsigned int)getpid();
		char junk[65536];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (char)rand_r(&seed);
		write_all(fd, junk, sizeof(junk));
		return;
	}
	bool events = strstr(req, " /v1.41/events?") != NULL;
	if (huge_headers) {
		static char line[1024];
		memset(line, 'a', sizeof(line));
		memcpy(line, "X-Pad: ", 7);
		memcpy(line + sizeof(line) - 2, "\r\n", 2);
		static const char status[] = "HTTP/1.1 200 OK\r\n";
		write_all(fd, status, sizeof(status) - 1);
		for (int i = 0; i < 100 * 1024; i++)	/* 100 MiB */
			if (!write_all(fd, line, sizeof(line)))
				return;
		return;
	}
	if (huge_length && !events) {
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					   "Content-Length: 1099511627776\r\n\r\n";
		static char block[65536];
		memset(block, ' ', sizeof(block));
		block[0] = '[';
		write_all(fd, head, sizeof(head) - 1);
		for (int i = 0; i < 1600; i++)	/* 100 MiB */
			if (!write_all(fd, block, sizeof(block)))
				return;
		return;
	}
	if (huge) {
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					   "Transfer-Encoding: chunked\r\n\r\n";
		static char block[65536];
		memset(block, ' ', sizeof(block));
		block[0] = '[';
		write_all(fd, head, sizeof(head) - 1);
		for (int i = 0; i < 1600; i++)	/* 100 MiB */
			if (!send_chunk(fd, block, sizeof(block)))
				return;
		write_all(fd, "0\r\n\r\n", 5);
		return;
	}

	char method[16], target[4096];
	if (sscanf(req, "%15s %4095s", method, target) != 2 || strcmp(method, "GET") != 0) {
		respond(fd, 400, "{\"message\":\"bad request\"}\n", 26);
		return;
	}
	char id[80];
	if (!strcmp(target, "/v1.41/info")) {
		respond_file(fd, "info.json", false);
	} else if (!strcmp(target, "/v1.41/containers/json?all=1")) {
		respond_file(fd, "containers.json", false);
	} else if (sscanf(target, "/v1.41/containers/%64[0-9a-f]/json", id) == 1 &&
		   strlen(target) == strlen("/v1.41/containers//json") + strlen(id)) {
		char name[128];
		snprintf(name, sizeof(name), "inspect-%s.json", id);
		respond_file(fd, name, true);
	} else if (!strncmp(target, "/v1.41/images/", 14) && strlen(target) > 19 &&
		   strlen(target) < 200 && !strcmp(target + strlen(target) - 5, "/json")) {
		char ref[200], name[256];
		size_t rlen = strlen(target) - 14 - 5;
		memcpy(ref, target + 14, rlen);
		ref[rlen] = '\0';
		for (char *c = ref; *c; c++)
			if (*c == '/')
				*c = '_';
		snprintf(name, sizeof(name), "%s/images-gone", dir);
		if (access(name, F_OK) == 0) {
			respond(fd, 404, "{\"message\":\"No such image\"}\n", 29);
			return;
		}
		snprintf(name, sizeof(name), "%s/image-%s.json", dir, ref);
		if (access(name, F_OK) == 0) {
			snprintf(name, sizeof(name), "image-%s.json", ref);
			respond_file(fd, name, true);
		} else {
			static const char none[] = "{\"Id\":\"sha256:0\",\"Config\":{\"Labels\":null}}\n";
			respond(fd, 200, none, sizeof(none) - 1);
		}
	} else if (!strncmp(target, "/v1.41/events?", 14)) {
		stream_events(fd);
	} else {
		respond(fd, 404, "{\"message\":\"page not found\"}\n", 29);
	}
}

static int listen_on(const char *where, char *addr, size_t addrlen)
{
	int fd;
	if (!strncmp(where, "tcp://", 6)) {
		const char *colon = strrchr(where + 6, ':');
		struct sockaddr_in sin = { .sin_family = AF_INET };
		if (!colon)
			die("tcp://HOST:PORT expected");
		char host[64];
		snprintf(host, sizeof(host), "%.*s", (int)(colon - where - 6), where + 6);
		if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
			die("tcp://IPV4:PORT expected");
		sin.sin_port = htons((unsigned short)atoi(colon + 1));
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			die("bind");
		socklen_t len = sizeof(sin);
		getsockname(fd, (struct sockaddr *)&sin, &len);
		snprintf(addr, addrlen, "tcp://%s:%u", host, ntohs(sin.sin_port));
	} else {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		if (strlen(where) >= sizeof(sun.sun_path))
			die("socket path too long");
		strcpy(sun.sun_path, where);
		unlink(where);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			die("bind");
		snprintf(addr, addrlen, "unix://%s", where);
	}
	if (listen(fd, 128) < 0)
		die("listen");
	return fd;
}

int main(int argc, char **argv)
{
	const char *ready = NULL;
	int i = 1;
	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--ready") && i + 1 < argc)
			ready = argv[++i];
		else if (!strcmp(argv[i], "--chunked"))
			chunked = true;
		else if (!strcmp(argv[i], "--event-delay") && i + 1 < argc)
			event_delay_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--close-after") && i + 1 < argc)
			close_after = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--stall"))
			stall = true;
		else if (!strcmp(argv[i], "--garbage"))
			garbage = true;
		else if (!strcmp(argv[i], "--huge"))
			huge = true;
		else if (!strcmp(argv[i], "--huge-length"))
			huge_length = true;
		else if (!strcmp(argv[i], "--huge-headers"))
			huge_headers = true;
		else if (!strcmp(argv[i], "--trickle") && i + 1 < argc)
			trickle_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--endless-event"))
			endless_event = true;
		else if (!strcmp(argv[i], "--events-stall"))
			events_stall = true;
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: fake-dockerd [--ready FILE] [--chunked] [--event-delay MS] "
				"[--close-after N] [--trickle MS] [--stall|--garbage|--huge|--huge-length|"
				"--huge-headers|--endless-event|--events-stall] SOCKET SCENARIO_DIR\n");
		return 2;
	}
	dir = argv[i + 1];
	signal(SIGCHLD, SIG_IGN);	/* children reap themselves */
	signal(SIGPIPE, SIG_IGN);	/* a client gone is a failed write */

	char addr[256];
	int lfd = listen_on(argv[i], addr, sizeof(addr));
	if (ready) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%s\n", addr) < 0 || fclose(f) != 0 || rename(tmp, ready) < 0)
			die(ready);
	}

	pid_t parent = getpid();
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		pid_t pid = fork();
		if (pid == 0) {
			/* Dies with the server: killing it by its pid ends every stream. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			close(lfd);
			serve(fd);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}
