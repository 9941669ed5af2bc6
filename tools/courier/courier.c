// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard-courier: the task of the global service that carries a signed
 * policy bundle to every swarm node (docs/fleet.md). It holds the bundle
 * (a swarm config at /dockguard-bundle) for its node's dockguard daemon,
 * which reads it through /proc from the host and writes back what became of
 * it into the task's /state (a tmpfs). It trusts nothing it reads: the
 * daemon verifies; the courier only reports.
 *
 *   dockguard-courier          print the node's state when it changes (the
 *                              service's logs: `dockguard fleet status`)
 *   dockguard-courier check    the healthcheck: 0 only when the daemon says
 *                              it enforces this very bundle, recently
 *
 * Static, no libraries but libc and nettle's SHA-256: it runs FROM scratch.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>

#define BUNDLE		"/dockguard-bundle"
#define STATUS		"/state/status"
#define MAX_BUNDLE	(512 * 1024)
#define STALE_SECONDS	30	/* the daemon rewrites its status every 5 s */

/* The sha256 of the bundle file in hex, or "" when it cannot be read. */
static void bundle_sha(char out[65])
{
	static unsigned char buf[MAX_BUNDLE + 1];
	struct sha256_ctx c;
	unsigned char md[SHA256_DIGEST_SIZE];
	FILE *f = fopen(BUNDLE, "rb");
	size_t n;

	out[0] = 0;
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n > MAX_BUNDLE)
		return;
	sha256_init(&c);
	sha256_update(&c, n, buf);
	sha256_digest(&c, sizeof(md), md);
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

struct status {
	char bundle[65], state[32], reason[512], serial[32], denials[32];
	long long written;
};

/* The daemon's status file: KEY=VALUE lines. 0, or -1 when absent. */
static int read_status(struct status *s)
{
	char line[1024];
	FILE *f = fopen(STATUS, "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "bundle"))
			snprintf(s->bundle, sizeof(s->bundle), "%s", v);
		else if (!strcmp(line, "state"))
			snprintf(s->state, sizeof(s->state), "%s", v);
		else if (!strcmp(line, "reason"))
			snprintf(s->reason, sizeof(s->reason), "%s", v);
		else if (!strcmp(line, "serial"))
			snprintf(s->serial, sizeof(s->serial), "%s", v);
		else if (!strcmp(line, "denials"))
			snprintf(s->denials, sizeof(s->denials), "%s", v);
		else if (!strcmp(line, "written"))
			s->written = atoll(v);
	}
	fclose(f);
	return 0;
}

/* One line saying what this node does with this task's bundle. */
static void describe(char *buf, size_t len)
{
	struct status s;
	char sha[65];

	bundle_sha(sha);
	if (!sha[0]) {
		snprintf(buf, len, "state=no-bundle");
		return;
	}
	if (read_status(&s) < 0 || s.written == 0) {
		snprintf(buf, len, "state=daemon-down bundle=%.12s reason=no dockguard daemon has "
			 "reported on this node", sha);
		return;
	}
	if ((long long)time(NULL) - s.written > STALE_SECONDS) {
		snprintf(buf, len, "state=daemon-down bundle=%.12s reason=the dockguard daemon "
			 "stopped reporting %llds ago", sha, (long long)time(NULL) - s.written);
		return;
	}
	if (strcmp(s.bundle, sha)) {
		snprintf(buf, len, "state=pending bundle=%.12s serial=%s in-force=%s", sha,
			 s.serial[0] ? s.serial : "-", s.state);
		return;
	}
	snprintf(buf, len, "state=%s bundle=%.12s serial=%s denials=%s%s%s", s.state, sha,
		 s.serial[0] ? s.serial : "-", s.denials[0] ? s.denials : "0",
		 s.reason[0] ? " reason=" : "", s.reason);
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	char now[1024], last[1024] = "";

	/* the daemon writes into this file: made here, in this task's user
	 * namespace (the daemon's root is not mapped in it) */
	int fd = open(STATUS, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	if (argc == 2 && !strcmp(argv[1], "check")) {
		describe(now, sizeof(now));
		puts(now);
		return !strncmp(now, "state=enforcing ", 16) ? 0 : 1;
	}
	if (argc != 1) {
		fprintf(stderr, "usage: dockguard-courier [check]\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int tick = 0; !stop; tick++) {
		describe(now, sizeof(now));
		/* when it changes, and once a minute for `fleet status` */
		if (strcmp(now, last) || tick % 60 == 0) {
			printf("%s\n", now);
			snprintf(last, sizeof(last), "%s", now);
		}
		sleep(1);
	}
	/* non-zero: a task stopped by an unhealthy kill must not read "Complete" */
	return 1;
}
