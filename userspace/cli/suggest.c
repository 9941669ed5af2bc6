// SPDX-License-Identifier: GPL-2.0-only
/*
 * `suggest [--uid U | --container NAME] [--relay NAME] [--since DURATION]`:
 * an `api` block per caller that allows exactly what the daemon's relays saw
 * it ask (dg_relays_seen: every request, not thinned by the event rate),
 * ids and names generalized to dockerd's routes (relay/routes.c), the
 * root-equivalent ones commented out. Learning mode (`audit`, `set
 * api-default audit`) lets a client show what it needs.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/util.h"

/* The daemon's answer to `suggest`, or NULL with an error said. */
static json_t *ask_daemon(const char *run_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", run_dir);
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		dg_cli_error("suggest: the run directory %s is too long", run_dir);
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, "suggest\n", 8) != 8) {
		dg_cli_error("suggest: cannot reach the daemon at %s: %s; what the relays saw is "
			     "kept by `dockguard run`", sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		if (len + 65536 > cap) {
			cap = cap ? 2 * cap : 65536;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	json_t *o = buf ? json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	free(buf);
	if (!json_is_array(json_object_get(o, "seen"))) {
		dg_cli_error("suggest: the daemon at %s gave no answer to suggest (an older daemon?)",
			     sa.sun_path);
		json_decref(o);
		return NULL;
	}
	return o;
}

/* "30s", "15m", "2h", "7d" (a bare number: seconds); -1 when not one. */
static long long duration_seconds(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	return *end && end[1] ? -1 : v;
}

/* A profile name for the caller: "seen-traefik", "seen-uid-1001". */
static void profile_name(const char *subject, char *buf, size_t len)
{
	const char *s = !strncmp(subject, "container ", 10) ? subject + 10 : subject;
	size_t n = (size_t)snprintf(buf, len, "seen-");
	bool dash = true;

	for (; *s && n + 1 < len && n < 48; s++) {
		if (!strncmp(s, " cgroup ", 8))
			break;		/* "uid 1001 cgroup /x": the uid names it */
		if (isalnum((unsigned char)*s)) {
			buf[n++] = (char)tolower((unsigned char)*s);
			dash = false;
		} else if (!dash) {
			buf[n++] = '-';
			dash = true;
		}
	}
	while (n > 5 && buf[n - 1] == '-')
		n--;
	buf[n] = '\0';
}

struct line {
	const char *route;
	char methods[64];
	char root_methods[64];
	long long count, root_count;
	bool known;
};

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->route, ((const struct line *)b)->route);
}

/* Adds method `m` to the comma-separated `list` unless it is there. */
static void add_method(char *list, size_t len, const char *m)
{
	size_t ml = strlen(m);

	for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		if (strcspn(p, ",") == ml && !strncmp(p, m, ml))
			return;
	}
	snprintf(list + strlen(list), len - strlen(list), "%s%s", *list ? "," : "", m);
}

/* One caller's block, from its entries in `seen`. */
static void print_block(json_t *seen, const char *subject, const char *relay)
{
	struct line *lines = NULL;
	size_t n = 0;
	long long total = 0;
	json_t *e;
	size_t i;
	char name[64];

	json_array_foreach(seen, i, e) {
		const char *s = json_string_value(json_object_get(e, "subject"));
		const char *route = json_string_value(json_object_get(e, "route"));
		const char *method = json_string_value(json_object_get(e, "method"));
		long long count = json_integer_value(json_object_get(e, "count"));
		const char *r = json_string_value(json_object_get(e, "relay"));
		if (!s || strcmp(s, subject) || !route || !method || (relay && (!r || strcmp(relay, r))))
			continue;
		size_t k = 0;
		while (k < n && strcmp(lines[k].route, route))
			k++;
		if (k == n) {
			lines = xreallocarray(lines, n + 1, sizeof(*lines));
			memset(&lines[n], 0, sizeof(lines[n]));
			lines[n].route = route;
			lines[n].known = json_is_true(json_object_get(e, "known"));
			n++;
		}
		if (json_is_true(json_object_get(e, "root"))) {
			add_method(lines[k].root_methods, sizeof(lines[k].root_methods), method);
			lines[k].root_count += count;
		} else {
			add_method(lines[k].methods, sizeof(lines[k].methods), method);
			lines[k].count += count;
		}
		total += count;
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	profile_name(subject, name, sizeof(name));
	printf("# What %s asked%s%s (%lld requests). Requests marked ROOT-EQUIVALENT\n"
	       "# give the host away until request bodies are judged: uncomment with care.\n",
	       subject, relay ? " of relay " : "", relay ? relay : "", total);
	printf("api %s {\n", name);
	for (size_t k = 0; k < n; k++) {
		char text[512];
		if (*lines[k].methods) {
			snprintf(text, sizeof(text), "allow %s %s", lines[k].methods, lines[k].route);
			printf("    %-52s # %lld%s\n", text, lines[k].count,
			       lines[k].known ? "" : ", not a route of API 1.41");
		}
		if (*lines[k].root_methods) {
			snprintf(text, sizeof(text), "allow %s %s", lines[k].root_methods, lines[k].route);
			printf("#   %-52s # %lld ROOT-EQUIVALENT\n", text, lines[k].root_count);
		}
	}
	printf("}\n");
	free(lines);
}

int do_suggest(struct dg_cli *cli)
{
	long long since = -1;
	json_t *o, *seen, *kept, *e;
	size_t i;
	time_t now = time(NULL);
	char want[300] = "";

	if (cli->since && (since = duration_seconds(cli->since)) < 0) {
		dg_cli_error("suggest: '%s' is not a duration; write 30s, 15m, 2h or 7d", cli->since);
		return DG_EXIT_USAGE;
	}
	if (cli->uid && cli->container) {
		dg_cli_error("suggest: --uid or --container, not both");
		return DG_EXIT_USAGE;
	}
	if (cli->container)
		snprintf(want, sizeof(want), "container %s", cli->container);
	else if (cli->uid)
		snprintf(want, sizeof(want), "uid %s cgroup ", cli->uid);
	if (!(o = ask_daemon(cli->run_dir)))
		return DG_EXIT_NOT_LOADED;
	seen = json_object_get(o, "seen");
	kept = json_array();
	json_array_foreach(seen, i, e) {
		const char *s = json_string_value(json_object_get(e, "subject"));
		const char *relay = json_string_value(json_object_get(e, "relay"));
		if (!s || !relay || (cli->relay && strcmp(relay, cli->relay)))
			continue;
		if (*want && (cli->container ? strcmp(s, want) : strncmp(s, want, strlen(want))))
			continue;
		if (since >= 0 && json_integer_value(json_object_get(e, "last")) < (json_int_t)(now - since))
			continue;
		json_array_append(kept, e);
	}
	if (!json_array_size(kept)) {
		dg_cli_error("suggest: the relays saw no request%s%s%s%s", *want ? " from " : "",
			     *want ? want : "", since >= 0 ? " since " : "", since >= 0 ? cli->since : "");
		json_decref(kept);
		json_decref(o);
		return DG_EXIT_INVALID;
	}
	/* a block per caller, in the order they were first seen */
	json_t *done = json_object();
	bool first = true;
	json_array_foreach(kept, i, e) {
		const char *s = json_string_value(json_object_get(e, "subject"));
		if (json_object_get(done, s))
			continue;
		json_object_set_new(done, s, json_true());
		if (!first)
			printf("\n");
		first = false;
		print_block(kept, s, cli->relay);
	}
	if (json_integer_value(json_object_get(o, "dropped")))
		dg_cli_error("suggest: the daemon's table was full: %lld requests of new callers "
			     "or routes are not in it", (long long)json_integer_value(json_object_get(o, "dropped")));
	json_decref(done);
	json_decref(kept);
	json_decref(o);
	return DG_EXIT_OK;
}
