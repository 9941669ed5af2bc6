// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Docker API client (docker.h) against build/fake-dockerd: listing,
 * cgroup paths for both drivers, the follower's events and reconnects, and a
 * stuck or hostile API.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "docker/docker.h"
#include "testing.h"
#include "util/util.h"

/* ---- helpers ----------------------------------------------------------- */

struct fake {
	pid_t pid;
	char dir[64];		/* mkdtemp: scenario files, socket, proc */
	char host[256];		/* unix:///…/docker.sock or tcp://… */
};

static char ID1[65], ID2[65], ID3[65], ID4[65];

static void make_ids(void)
{
	memset(ID1, '1', 64);
	memset(ID2, '2', 64);
	memset(ID3, 'a', 64);
	memset(ID4, 'b', 64);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(const struct fake *f, const char *name, const char *text)
{
	char path[1024], tmp[1100];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *fp = fopen(tmp, "w");
	CHECK(fp != NULL);
	if (!fp)
		return;
	fputs(text, fp);
	fclose(fp);
	CHECK(rename(tmp, path) == 0);
}

static void append(const struct fake *f, const char *name, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void unput(const struct fake *f, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
}

/* A fake /proc/PID/cgroup under the scenario directory. */
static void put_proc(const struct fake *f, int pid, const char *cgroup_line)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/proc", f->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/proc/%d", f->dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "proc/%d/cgroup", pid);
	put(f, path, cgroup_line);
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	make_ids();
	snprintf(f->dir, sizeof(f->dir), "/tmp/dg-docker-XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	char proc[PATH_MAX];
	snprintf(proc, sizeof(proc), "%s/proc", f->dir);
	mkdir(proc, 0755);
	dg_docker_set_proc_root(proc);
}

/* build/fake-dockerd: next to this binary, else in ../../build (cwd tests/unit). */
static void fake_path(char *buf, size_t len)
{
	char self[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/fake-dockerd", self);
			if (access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "../../build/fake-dockerd");
}

/* Starts the fake with `opts` (NULL-terminated) on a unix socket or tcp. */
static bool fake_start(struct fake *f, bool tcp, const char *const *opts)
{
	char exe[PATH_MAX], sock[PATH_MAX], ready[PATH_MAX];
	fake_path(exe, sizeof(exe));
	if (access(exe, X_OK) != 0) {
		fprintf(stderr, "test_docker: %s is missing; run `make all` first\n", exe);
		CHECK(!"fake-dockerd built");
		return false;
	}
	snprintf(sock, sizeof(sock), tcp ? "tcp://127.0.0.1:0" : "%s/docker.sock", f->dir);
	snprintf(ready, sizeof(ready), "%s/ready", f->dir);

	const char *argv[32];
	size_t n = 0;
	argv[n++] = exe;
	argv[n++] = "--ready";
	argv[n++] = ready;
	for (size_t i = 0; opts && opts[i] && n < 28; i++)
		argv[n++] = opts[i];
	argv[n++] = sock;
	argv[n++] = f->dir;
	argv[n] = NULL;

	f->pid = fork();
	if (f->pid == 0) {
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	CHECK(f->pid > 0);
	for (long long end = now_ms() + 3000; now_ms() < end; usleep(2000)) {
		FILE *fp = fopen(ready, "r");
		if (!fp)
			continue;
		bool ok = fgets(f->host, sizeof(f->host), fp) != NULL;
		fclose(fp);
		f->host[strcspn(f->host, "\n")] = '\0';
		CHECK(ok);
		return ok;
	}
	CHECK(!"fake-dockerd ready within 3 s");
	return false;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void fake_stop(struct fake *f)
{
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	dg_docker_set_proc_root(NULL);
	if (f->dir[0])
		nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *label(const struct dg_container *c, const char *key)
{
	for (size_t i = 0; i < c->n_labels; i++)
		if (!strcmp(c->labels[i].key, key))
			return c->labels[i].value;
	return NULL;
}

/* inspect-ID.json for a container. */
static void put_inspect(const struct fake *f, const char *id, const char *name, int pid,
			const char *cgroup_parent, const char *labels, const char *mounts)
{
	char file[128], *text = xasprintf(
		"{\"Id\":\"%s\",\"Name\":\"/%s\",\"Created\":\"2024-01-01T00:00:00Z\","
		"\"State\":{\"Status\":\"%s\",\"Running\":%s,\"Pid\":%d},"
		"\"HostConfig\":{\"CgroupParent\":\"%s\",\"NetworkMode\":\"default\"},"
		"\"Config\":{\"Hostname\":\"x\",\"Image\":\"bb:latest\",\"Labels\":%s},"
		"\"Mounts\":%s}\n",
		id, name, pid ? "running" : "created", pid ? "true" : "false", pid,
		cgroup_parent, labels, mounts);
	snprintf(file, sizeof(file), "inspect-%s.json", id);
	put(f, file, text);
	free(text);
}

/* The common scenario: three containers listed, plus a bogus id and one gone. */
static void put_scenario(const struct fake *f, const char *driver)
{
	char *info = xasprintf("{\"ID\":\"X\",\"Containers\":3,\"CgroupDriver\":\"%s\","
			       "\"CgroupVersion\":\"2\",\"ServerVersion\":\"20.10.25\"}\n",
			       driver);
	put(f, "info.json", info);
	free(info);
	char *list = xasprintf("[{\"Id\":\"%s\",\"Names\":[\"/web\"]},{\"Id\":\"%s\"},"
			       "{\"Id\":\"%s\"},{\"Id\":\"not-an-id\"},{\"Id\":\"%s\"},"
			       "{\"Id\":\"%s\"}]\n", ID3, ID1, ID2, ID4, ID1);
	put(f, "containers.json", list);
	free(list);
	/* ID1: running, its real cgroup in (fake) /proc. */
	/* a task container: swarm's labels and one given at create, and one
	 * that came from the image (the image's own LABEL) */
	put(f, "image-bb:latest.json",
	    "{\"Id\":\"sha256:b\",\"Config\":{\"Labels\":{\"from.image\":\"yes\","
	    "\"com.example.api\":\"rw\"}}}\n");
	put_inspect(f, ID1, "web", 4242, "",
		    "{\"com.docker.swarm.service.name\":\"web_web\",\"com.docker.swarm.task.id\":"
		    "\"t1\",\"com.example.api\":\"ro\",\"from.image\":\"yes\"}",
		    "[{\"Type\":\"bind\",\"Source\":\"/run/docker.sock\",\"Destination\":"
		    "\"/var/run/docker.sock\",\"Mode\":\"\",\"RW\":true},"
		    "{\"Type\":\"volume\",\"Name\":\"v\",\"Source\":\"/var/lib/docker/volumes/v/_data\","
		    "\"Destination\":\"/data\"}]");
	char line[256];
	snprintf(line, sizeof(line), "1:name=systemd:/\n0::/custom/%s/init\n", ID1);
	put_proc(f, 4242, line);
	/* ID2: created, not started, custom parent. */
	put_inspect(f, ID2, "ci-runner", 0, "/ci/", "null", "null");
	/* ID3: running, but its pid's cgroup is someone else's: computed path. */
	put_inspect(f, ID3, "odd", 4343, "", "{}", "[]");
	put_proc(f, 4343, "0::/user.slice/someone-else.scope\n");
	/* ID4 is listed but gone: no inspect file, 404. */
}

/* ---- listing ------------------------------------------------------------- */

static void check_common(const struct dg_container_set *set)
{
	CHECK_INT(set->n, 3);
	const struct dg_container *web = dg_container_find(set, "web");
	CHECK(web != NULL);
	if (web) {
		CHECK_STR(web->id, ID1);
		CHECK_STR(web->name, "web");
		CHECK_STR(web->image, "bb:latest");
		CHECK_STR(web->service, "web_web");
		CHECK_INT(web->n_labels, 3);
		/* the image has it with another value: set at create */
		CHECK_STR(label(web, "com.example.api"), "ro");
		CHECK(label(web, "from.image") == NULL);
		CHECK_INT(web->pid, 4242);
		char want[128];
		snprintf(want, sizeof(want), "/custom/%s/init", ID1);
		CHECK_STR(web->cgroup, want);
		CHECK_INT(web->n_mounts, 1);
		if (web->n_mounts == 1) {
			CHECK_STR(web->mounts[0].source, "/run/docker.sock");
			CHECK_STR(web->mounts[0].destination, "/var/run/docker.sock");
		}
	}
	const struct dg_container *ci = dg_container_find(set, "/ci-runner");
	CHECK(ci != NULL);
	if (ci) {
		CHECK(ci->service == NULL);
		CHECK_INT(ci->n_labels, 0);
		CHECK_INT(ci->n_mounts, 0);
		CHECK_INT(ci->pid, 0);
	}
	CHECK(dg_container_find(set, ID4) == NULL);
	CHECK(dg_container_find(set, "aaaa") == dg_container_find(set, "odd"));
	CHECK(dg_container_find(set, "") == NULL);
	CHECK(dg_container_find(set, "nope") == NULL);
}

TEST(docker_list_cgroupfs)
{
	struct fake f;
	fake_init(&f);
	put_scenario(&f, "cgroupfs");
	if (fake_start(&f, false, NULL)) {
		struct dg_container_set set;
		char err[512] = "";
		int r = dg_docker_list(f.host, 2000, &set, err, sizeof(err));
		CHECK_INT(r, 0);
		if (r)
			fprintf(stderr, "  error: %s\n", err);
		CHECK_STR(set.cgroup_driver, "cgroupfs");
		check_common(&set);
		char want[128];
		const struct dg_container *c = dg_container_find(&set, "ci-runner");
		snprintf(want, sizeof(want), "/ci/%s", ID2);
		CHECK(c && !strcmp(c->cgroup, want));
		c = dg_container_find(&set, "odd");
		snprintf(want, sizeof(want), "/docker/%s", ID3);
		CHECK(c && !strcmp(c->cgroup, want));

		/* by cgroup: the container's cgroup or below it, nothing else */
		snprintf(want, sizeof(want), "/docker/%s/sub/deeper", ID3);
		CHECK(dg_container_by_cgroup(&set, want) == c);
		snprintf(want, sizeof(want), "/docker/%s", ID3);
		CHECK(dg_container_by_cgroup(&set, want) == c);
		snprintf(want, sizeof(want), "/docker/%sx", ID3);
		CHECK(dg_container_by_cgroup(&set, want) == NULL);
		CHECK(dg_container_by_cgroup(&set, "/docker") == NULL);
		CHECK(dg_container_by_cgroup(&set, "/") == NULL);
		dg_container_set_free(&set);
	}
	fake_stop(&f);
}

TEST(docker_list_systemd_chunked)
{
	struct fake f;
	fake_init(&f);
	put_scenario(&f, "systemd");
	put_inspect(&f, ID2, "ci-runner", 0, "my-app.slice", "{\"a\":\"b\"}", "[]");
	static const char *const opts[] = { "--chunked", NULL };
	if (fake_start(&f, false, opts)) {
		struct dg_container_set set;
		char err[512] = "";
		int r = dg_docker_list(f.host, 2000, &set, err, sizeof(err));
		CHECK_INT(r, 0);
		if (r)
			fprintf(stderr, "  error: %s\n", err);
		CHECK_STR(set.cgroup_driver, "systemd");
		CHECK_INT(set.n, 3);
		char want[160];
		const struct dg_container *c = dg_container_find(&set, "ci-runner");
		snprintf(want, sizeof(want), "/my.slice/my-app.slice/docker-%s.scope", ID2);
		CHECK(c && !strcmp(c->cgroup, want));
		c = dg_container_find(&set, "odd");
		snprintf(want, sizeof(want), "/system.slice/docker-%s.scope", ID3);
		CHECK(c && !strcmp(c->cgroup, want));
		dg_container_set_free(&set);
	}
	fake_stop(&f);
}

TEST(docker_list_tcp)
{
	struct fake f;
	fake_init(&f);
	put_scenario(&f, "cgroupfs");
	if (fake_start(&f, true, NULL)) {
		struct dg_container_set set;
		char err[512] = "";
		CHECK(!strncmp(f.host, "tcp://127.0.0.1:", 16));
		int r = dg_docker_list(f.host, 2000, &set, err, sizeof(err));
		CHECK_INT(r, 0);
		if (r)
			fprintf(stderr, "  error: %s\n", err);
		check_common(&set);
		dg_container_set_free(&set);
	}
	fake_stop(&f);
}

/* An image that cannot be inspected (removed with -f): no label of its
 * containers can be told from the image's, so none is kept. */
TEST(docker_list_image_gone)
{
	struct fake f;
	fake_init(&f);
	put_scenario(&f, "cgroupfs");
	put(&f, "images-gone", "");
	if (fake_start(&f, false, NULL)) {
		struct dg_container_set set;
		char err[512] = "";
		CHECK_INT(dg_docker_list(f.host, 2000, &set, err, sizeof(err)), 0);
		const struct dg_container *web = dg_container_find(&set, "web");
		CHECK(web != NULL);
		if (web) {
			CHECK_INT(web->n_labels, 0);
			CHECK(web->service == NULL);
		}
		dg_container_set_free(&set);
	}
	fake_stop(&f);
}

TEST(docker_list_malformed)
{
	struct fake f;
	struct dg_container_set set;
	char err[512];
	char file[128];
	fake_init(&f);
	put_scenario(&f, "cgroupfs");
	snprintf(file, sizeof(file), "inspect-%s.json", ID3);
	/* wrong types everywhere: tolerated, fields left out */
	char *odd = xasprintf(
		"{\"Id\":\"%s\",\"Name\":42,\"State\":{\"Pid\":\"9\"},\"HostConfig\":[],"
		"\"Config\":{\"Image\":[\"x\"],\"Labels\":{\"a\":1,\"b\":\"2\",\"c\":null}},"
		"\"Mounts\":[{\"Type\":\"bind\"},5,{\"Type\":\"bind\",\"Source\":1,"
		"\"Destination\":\"/x\"}]}", ID3);
	put(&f, file, odd);
	free(odd);
	if (fake_start(&f, false, NULL)) {
		CHECK_INT(dg_docker_list(f.host, 2000, &set, err, sizeof(err)), 0);
		const struct dg_container *c = dg_container_find(&set, ID3);
		CHECK(c != NULL);
		if (c) {
			CHECK_STR(c->name, "");
			CHECK_STR(c->image, "");
			/* no image to tell its labels from: none is trusted */
			CHECK_INT(c->n_labels, 0);
			CHECK(label(c, "b") == NULL);
			CHECK_INT(c->n_mounts, 0);
			CHECK_INT(c->pid, 0);
		}
		dg_container_set_free(&set);

		/* an inspect answer for another id: refused */
		char *other = xasprintf("{\"Id\":\"%s\"}", ID1);
		put(&f, file,
		    other);
		free(other);
		CHECK_INT(dg_docker_list(f.host, 2000, &set, err, sizeof(err)), -EPROTO);
		CHECK_INT(set.n, 0);

		put(&f, "containers.json", "{\"not\":\"a list\"}");
		CHECK_INT(dg_docker_list(f.host, 2000, &set, err, sizeof(err)), -EPROTO);
		CHECK(strstr(err, "list of containers") != NULL);

		put(&f, "info.json", "{\"CgroupDriver\":");
		CHECK_INT(dg_docker_list(f.host, 2000, &set, err, sizeof(err)), -EPROTO);
		CHECK(strstr(err, "malformed JSON") && strstr(err, "/v1.41/info"));

		unput(&f, "info.json");	/* the fake answers 500 */
		CHECK_INT(dg_docker_list(f.host, 2000, &set, err, sizeof(err)), -EIO);
		CHECK(strstr(err, "HTTP 500") && strstr(err, "no file"));
	}
	fake_stop(&f);
}

TEST(docker_list_unreachable)
{
	struct dg_container_set set;
	char err[512];

	int r = dg_docker_list("unix:///nonexistent-dg/docker.sock", 500, &set, err, sizeof(err));
	CHECK_INT(r, -ENOENT);
	CHECK(strstr(err, "cannot reach the Docker API at unix:///nonexistent-dg/docker.sock") &&
	      strstr(err, "No such file or directory") && strstr(err, "is dockerd running") &&
	      strstr(err, "docker-host"));
	CHECK_INT(set.n, 0);

	CHECK_INT(dg_docker_list("ftp://x", 500, &set, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unix:///PATH or tcp://HOST:PORT") != NULL);
	CHECK_INT(dg_docker_list("tcp://127.0.0.1:99999", 500, &set, err, sizeof(err)), -EINVAL);
	CHECK_INT(dg_docker_list("unix://relative", 500, &set, err, sizeof(err)), -EINVAL);

	/* a closed TCP port */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sin);
	CHECK(bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&sin, &len) == 0);
	close(s);
	char host[64];
	snprintf(host, sizeof(host), "tcp://127.0.0.1:%u", ntohs(sin.sin_port));
	CHECK_INT(dg_docker_list(host, 500, &set, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "Connection refused") != NULL);
}

/* ---- a stuck or hostile API ------------------------------------------------ */

TEST(docker_hostile_stall)
{
	struct fake f;
	fake_init(&f);
	static const char *const opts[] = { "--stall", NULL };
	if (fake_start(&f, false, opts)) {
		struct dg_container_set set;
		char err[512];
		long long t0 = now_ms();
		int r = dg_docker_list(f.host, 300, &set, err, sizeof(err));
		long long took = now_ms() - t0;
		CHECK_INT(r, -ETIMEDOUT);
		CHECK(took >= 250 && took < 1500);
		CHECK(strstr(err, "did not answer GET /v1.41/info within 300 ms") != NULL);
		CHECK_INT(set.n, 0);
	}
	fake_stop(&f);
}

TEST(docker_hostile_garbage)
{
	struct fake f;
	fake_init(&f);
	static const char *const opts[] = { "--garbage", NULL };
	if (fake_start(&f, false, opts)) {
		struct dg_container_set set;
		char err[512];
		for (int i = 0; i < 5; i++) {
			int r = dg_docker_list(f.host, 1000, &set, err, sizeof(err));
			CHECK(r == -EPROTO || r == -ECONNRESET);
			CHECK(strstr(err, "Docker API") != NULL);
			CHECK_INT(set.n, 0);
		}
	}
	fake_stop(&f);
}

static long maxrss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

TEST(docker_hostile_huge)
{
	struct fake f;
	fake_init(&f);
	static const char *const opts[] = { "--huge", NULL };
	if (fake_start(&f, false, opts)) {
		struct dg_container_set set;
		char err[512];
		long before = maxrss_kib();
		int r = dg_docker_list(f.host, 3000, &set, err, sizeof(err));
		long grew = maxrss_kib() - before;
		CHECK_INT(r, -EFBIG);
		CHECK(strstr(err, "more than 16777216 bytes for GET /v1.41/info") != NULL);
		/* 16 MiB kept at most, never the 100 MiB sent */
		CHECK(grew < 64 * 1024);
		if (grew >= 64 * 1024)
			fprintf(stderr, "  max RSS grew by %ld KiB\n", grew);
	}
	fake_stop(&f);
}

/* ---- the follower ------------------------------------------------------------ */

struct watch {
	int changed, ups, downs;
	size_t n;
	char names[512];	/* "name@pid,..." of the last set, in set order */
	char why[512];
	char states[32];	/* U and D, in order */
	long long t_changed;
};

static void on_changed(void *ctx, const struct dg_container_set *set)
{
	struct watch *w = ctx;
	w->changed++;
	w->n = set->n;
	w->names[0] = '\0';
	for (size_t i = 0; i < set->n; i++) {
		size_t k = strlen(w->names);
		snprintf(w->names + k, sizeof(w->names) - k, "%s%s@%d", i ? "," : "",
			 set->v[i].name, set->v[i].pid);
	}
	w->t_changed = now_ms();
}

static void on_state(void *ctx, bool up, const char *why)
{
	struct watch *w = ctx;
	size_t k = strlen(w->states);
	if (k + 1 < sizeof(w->states)) {
		w->states[k] = up ? 'U' : 'D';
		w->states[k + 1] = '\0';
	}
	if (up)
		w->ups++;
	else
		w->downs++;
	snprintf(w->why, sizeof(w->why), "%s", why ? why : "");
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Runs the loop until `cond` holds or `ms` passed; the value of `cond`. */
#define RUN_UNTIL(base, cond, ms)                                            \
	({                                                                   \
		long long end_ = now_ms() + (ms);                            \
		while (!(cond) && now_ms() < end_)                           \
			event_base_loop((base), EVLOOP_ONCE);                \
		(cond);                                                      \
	})

static struct event *ticker(struct event_base *base)
{
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = { 0, 10000 };
	event_add(t, &tv);
	return t;
}

static void event_line(const struct fake *f, const char *action, const char *id)
{
	char line[512];
	snprintf(line, sizeof(line),
		 "{\"status\":\"%s\",\"id\":\"%s\",\"from\":\"bb:latest\",\"Type\":\"container\","
		 "\"Action\":\"%s\",\"Actor\":{\"ID\":\"%s\",\"Attributes\":{\"image\":"
		 "\"bb:latest\",\"name\":\"x\"}},\"scope\":\"local\",\"time\":1700000000,"
		 "\"timeNano\":1700000000000000000}\n", action, id, action, id);
	append(f, "events.jsonl", line);
}

TEST(docker_follow_events)
{
	struct fake f;
	fake_init(&f);
	put_scenario(&f, "cgroupfs");
	char *list = xasprintf("[{\"Id\":\"%s\"}]", ID1);
	put(&f, "containers.json", list);
	free(list);
	put(&f, "events.jsonl", "");
	if (!fake_start(&f, false, NULL)) {
		fake_stop(&f);
		return;
	}
	struct event_base *base = event_base_new();
	struct event *t = ticker(base);
	struct watch w = { 0 };
	struct dg_docker *d = dg_docker_follow(base, f.host, on_changed, on_state, &w);
	CHECK(d != NULL);
	dg_docker_set_timeout(d, 1000);
	CHECK_INT(w.changed, 0);	/* never from inside dg_docker_follow */

	CHECK(RUN_UNTIL(base, w.changed == 1, 2000));
	CHECK_STR(w.states, "U");
	CHECK_STR(w.names, "web@4242");

	/* create: announced from the event itself (its attributes name the
	 * container "x"), with the computed cgroup, before any inspect; then
	 * the inspect's answer (name "ci") replaces it */
	put_inspect(&f, ID2, "ci", 0, "", "{\"role\":\"ci\"}", "[]");
	long long t0 = now_ms();
	event_line(&f, "create", ID2);
	CHECK(RUN_UNTIL(base, w.changed == 2, 2000));
	CHECK_STR(w.names, "web@4242,x@0");
	CHECK(w.t_changed - t0 < 500);
	CHECK(RUN_UNTIL(base, w.changed == 3, 2000));
	CHECK_STR(w.names, "web@4242,ci@0");

	/* noise: other actions, other types, junk lines; then start */
	event_line(&f, "exec_start: sh -c true", ID2);
	event_line(&f, "attach", ID2);
	append(&f, "events.jsonl", "not json at all\n{\"Type\":\"network\",\"Action\":\"create\"}\n");
	put_inspect(&f, ID2, "ci", 5555, "", "{\"role\":\"ci\"}", "[]");
	char line[256];
	snprintf(line, sizeof(line), "0::/docker/%s\n", ID2);
	put_proc(&f, 5555, line);
	event_line(&f, "start", ID2);
	CHECK(RUN_UNTIL(base, w.changed == 4, 2000));
	CHECK_STR(w.names, "web@4242,ci@5555");

	/* a start that changes nothing is not announced */
	event_line(&f, "start", ID2);
	/* rename */
	put_inspect(&f, ID2, "ci2", 5555, "", "{\"role\":\"ci\"}", "[]");
	event_line(&f, "rename", ID2);
	CHECK(RUN_UNTIL(base, w.changed == 5, 2000));
	CHECK_STR(w.names, "web@4242,ci2@5555");

	/* destroy: gone without asking */
	event_line(&f, "die", ID2);
	char gone[128];
	snprintf(gone, sizeof(gone), "inspect-%s.json", ID2);
	unput(&f, gone);
	event_line(&f, "destroy", ID2);
	CHECK(RUN_UNTIL(base, !strcmp(w.names, "web@4242"), 2000));
	RUN_UNTIL(base, false, 150);
	CHECK_INT(w.changed, 6);
	CHECK_STR(w.names, "web@4242");
	CHECK_STR(w.states, "U");

	/* the filter went URL-encoded */
	char path[PATH_MAX], *log = NULL;
	size_t len;
	snprintf(path, sizeof(path), "%s/requests.log", f.dir);
	CHECK(read_file(path, 1 << 20, &log, &len) == 0);
	CHECK(log && strstr(log, "GET /v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D "
				 "HTTP/1.1"));
	free(log);

	dg_docker_free(d);
	event_free(t);
	event_base_free(base);
	fake_stop(&f);
}

TEST(docker_follow_reconnect)
{
	struct fake f;
	fake_init(&f);
	put_scenario(&f, "cgroupfs");
	event_line(&f, "start", ID1);
	static const char *const opts[] = { "--close-after", "1", "--event-delay", "300", NULL };
	if (!fake_start(&f, false, opts)) {
		fake_stop(&f);
		return;
	}
	struct event_base *base = event_base_new();
	struct event *t = ticker(base);
	struct watch w = { 0 };
	struct dg_docker *d = dg_docker_follow(base, f.host, on_changed, on_state, &w);
	dg_docker_set_timeout(d, 1000);

	CHECK(RUN_UNTIL(base, w.ups == 1, 2000));
	CHECK_INT(w.changed, 1);
	CHECK_INT(w.n, 3);
	CHECK(RUN_UNTIL(base, w.downs == 1, 2000));
	CHECK(strstr(w.why, "ended the event stream") != NULL);
	long long t0 = now_ms();
	CHECK(RUN_UNTIL(base, w.ups == 2, 3000));
	CHECK(now_ms() - t0 >= 900);	/* after the 1 s backoff */
	CHECK_STR(w.states, "UDU");
	CHECK_INT(w.changed, 2);	/* listed again, announced again */
	CHECK_INT(w.n, 3);

	/* dockerd goes away: down, with the reason, and the set kept */
	kill(f.pid, SIGKILL);
	waitpid(f.pid, NULL, 0);
	f.pid = 0;
	char sock[PATH_MAX];
	snprintf(sock, sizeof(sock), "%s/docker.sock", f.dir);
	unlink(sock);
	CHECK(RUN_UNTIL(base, w.downs == 2, 2000));
	CHECK(RUN_UNTIL(base, w.downs == 3, 3000));	/* after a 2 s backoff */
	CHECK(strstr(w.why, "cannot reach the Docker API") != NULL);
	CHECK_INT(w.changed, 2);

	dg_docker_free(d);
	event_free(t);
	event_base_free(base);
	fake_stop(&f);
}

TEST(docker_follow_stall)
{
	struct fake f;
	fake_init(&f);
	static const char *const opts[] = { "--stall", NULL };
	if (!fake_start(&f, false, opts)) {
		fake_stop(&f);
		return;
	}
	struct event_base *base = event_base_new();
	struct event *t = ticker(base);
	struct watch w = { 0 };
	struct dg_docker *d = dg_docker_follow(base, f.host, on_changed, on_state, &w);
	dg_docker_set_timeout(d, 300);
	CHECK(RUN_UNTIL(base, w.downs == 1, 2000));
	CHECK(strstr(w.why, "did not answer GET /v1.41/events") != NULL);
	CHECK_INT(w.changed, 0);
	dg_docker_free(d);
	event_free(t);
	event_base_free(base);
	fake_stop(&f);
}

/* The set the daemon hands its relay process comes back whole; anything
 * else is refused, never half read. */
TEST(docker_container_set_transfer)
{
	struct dg_label labels[] = { { "admin", "true" }, { "k", "" } };
	struct dg_mount mounts[] = { { "/var/run/docker.sock", "/var/run/docker.sock" } };
	struct dg_container v[2] = {
		{ .name = "traefik", .image = "traefik:v3", .labels = labels, .n_labels = 2,
		  .image_ref = "sha256:ab", .cgroup = "/docker/x", .mounts = mounts, .n_mounts = 1,
		  .pid = 42 },
		{ .provisional = true, .service = "web" },
	};
	struct dg_container_set set = { v, 2, "systemd" }, back;

	memset(v[0].id, 'a', 64);
	memset(v[1].id, 'b', 64);
	json_t *j = dg_container_set_to_json(&set);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	json_t *again = json_loads(text, 0, NULL);
	CHECK_INT(dg_container_set_from_json(again, &back), 0);
	CHECK_INT(back.n, 2);
	CHECK_STR(back.cgroup_driver, "systemd");
	if (back.n == 2) {
		CHECK_STR(back.v[0].id, v[0].id);
		CHECK_STR(back.v[0].name, "traefik");
		CHECK_STR(back.v[0].labels[0].key, "admin");
		CHECK_STR(back.v[0].labels[1].value, "");
		CHECK_STR(back.v[0].mounts[0].destination, "/var/run/docker.sock");
		CHECK_INT(back.v[0].pid, 42);
		CHECK(!back.v[0].provisional && back.v[1].provisional);
		CHECK(back.v[1].name == NULL && back.v[1].cgroup == NULL);
		CHECK_STR(back.v[1].service, "web");
	}
	dg_container_set_free(&back);
	json_decref(again);
	free(text);

	static const char *const bad[] = {
		"{}", "{\"cgroup_driver\":\"x\",\"containers\":{}}",
		"{\"cgroup_driver\":\"x\",\"containers\":[{\"id\":\"short\",\"pid\":0,\"provisional\":false}]}",
		"{\"cgroup_driver\":\"x\",\"containers\":[{\"id\":\"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"\",\"pid\":0,\"provisional\":false,\"labels\":[[\"k\"]],\"mounts\":[]}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		CHECK(dg_container_set_from_json(b, &back) == -EINVAL);
		CHECK(back.n == 0 && back.v == NULL);
		json_decref(b);
	}
}
