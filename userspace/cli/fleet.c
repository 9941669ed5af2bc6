// SPDX-License-Identifier: GPL-2.0-only
/*
 * `fleet keygen|image|push|status` (docs/fleet.md): one signed policy for
 * every node of a swarm, carried by Swarm's own configs and a global
 * service; each node's daemon verifies and applies it (daemon/fleet.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/base64.h>

#include "cli/cli.h"
#include "daemon/fleet.h"
#include "docker/docker.h"
#include "fleet/bundle.h"
#include "fleet/image.h"
#include "util/util.h"

#define DEFAULT_KEY_DIR		"/etc/dockguard"
#define CONFIG_PREFIX		"dockguard-policy-s"
#define SERIAL_LABEL		"io.dockguard.serial"
#define VALID_DAYS		30	/* a bundle's not-after: now + this */
#define API			"/v1.41"

static const char *docker_host(void)
{
	const char *h = getenv("DOCKER_HOST");

	return h && *h ? h : DG_DEFAULT_DOCKER_HOST;
}

/* One API call; a failure is said and -1 returned. `ok2` also accepts that status. */
static int call(const char *method, const char *path, json_t *body, int ok2,
		struct dg_docker_answer *a)
{
	char err[1024];
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int r = dg_docker_call(docker_host(), method, path, text, text ? strlen(text) : 0, NULL,
			       30000, a, err, sizeof(err));

	free(text);
	if (r) {
		dg_cli_error("fleet: %s", err);
		return -1;
	}
	if ((a->status < 200 || a->status > 299) && a->status != ok2) {
		dg_cli_error("fleet: %s", err);
		dg_docker_answer_free(a);
		return -1;
	}
	return 0;
}

static int write_new(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	size_t n = strlen(text);
	int ret = write(fd, text, n) == (ssize_t)n ? 0 : -EIO;
	close(fd);
	return ret;
}

static int keygen(const struct dg_cli *cli)
{
	const char *dir = cli->out ? cli->out : DEFAULT_KEY_DIR;
	char *priv, *pub;
	int r;

	if ((r = dg_fleet_keygen(&priv, &pub))) {
		dg_cli_error("fleet keygen: no randomness: %s", strerror(-r));
		return DG_EXIT_SYSTEM;
	}
	char *kp = xasprintf("%s/fleet.key", dir), *pp = xasprintf("%s/fleet.pub", dir);
	r = write_new(kp, priv, 0600);
	if (!r && (r = write_new(pp, pub, 0644)))
		unlink(kp);
	explicit_bzero(priv, strlen(priv));
	free(priv);
	free(pub);
	if (r) {
		dg_cli_error("fleet keygen: cannot write %s and %s: %s%s", kp, pp, strerror(-r),
			     r == -EEXIST ? " (a key pair is there already: keep it, or remove it "
					    "first)" : "");
	} else {
		printf("wrote %s (private: keep it on the managers that push) and %s\n"
		       "pin it on every node: set fleet-key %s\n", kp, pp, pp);
	}
	free(kp);
	free(pp);
	return r ? DG_EXIT_SYSTEM : DG_EXIT_OK;
}

static int image(void)
{
	char *bin = dg_courier_binary_path(), *data = NULL, id[72];
	size_t n, len;
	struct dg_docker_answer a;
	char err[1024];

	if (!bin || read_file(bin, 64 * 1024 * 1024, &data, &n)) {
		dg_cli_error("fleet image: the courier binary (" DG_COURIER_BINARY ") is not next to "
			     "dockguard nor in a libexec directory; reinstall dockguard");
		free(bin);
		return DG_EXIT_SYSTEM;
	}
	char *tar = dg_courier_image_archive(data, n, DOCKGUARD_VERSION, &len, id);
	int r = dg_docker_call(docker_host(), "POST", API "/images/load?quiet=1", tar, len,
			       "application/x-tar", 60000, &a, err, sizeof(err));
	free(tar);
	free(data);
	free(bin);
	if (r || a.status != 200) {
		dg_cli_error("fleet image: %s", err);
		if (!r)
			dg_docker_answer_free(&a);
		return DG_EXIT_SYSTEM;
	}
	dg_docker_answer_free(&a);
	printf("loaded " DG_COURIER_REPO ":%s (%s)\n", DOCKGUARD_VERSION, id);
	return DG_EXIT_OK;
}

/* The highest serial among the swarm's dockguard-policy-sN configs. */
static int64_t highest_serial(void)
{
	struct dg_docker_answer a;
	int64_t max = 0;
	json_t *c;
	size_t i;

	if (call("GET", API "/configs", NULL, 0, &a))
		return -1;
	json_array_foreach(a.json, i, c) {
		const char *name = json_string_value(json_object_get(json_object_get(c, "Spec"), "Name"));
		char *end;
		if (!name || strncmp(name, CONFIG_PREFIX, strlen(CONFIG_PREFIX)))
			continue;
		long long v = strtoll(name + strlen(CONFIG_PREFIX), &end, 10);
		if (!*end && v > max)
			max = v;
	}
	dg_docker_answer_free(&a);
	return max;
}

static char *b64(const char *data, size_t len)
{
	char *out = xmalloc(BASE64_ENCODE_RAW_LENGTH(len) + 1);

	base64_encode_raw(out, len, (const uint8_t *)data);
	out[BASE64_ENCODE_RAW_LENGTH(len)] = 0;
	return out;
}

/* The courier service's spec for config `config_id`/`config_name`. */
static json_t *courier_spec(const char *image_id, const char *config_id, const char *config_name,
			    uint64_t serial)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRIu64, serial);
	return json_pack(
		"{s:s, s:{s:s}, s:{s:{s:s, s:[s], s:s, s:b, s:[{s:{s:s,s:s,s:s,s:i}, s:s, s:s}],"
		" s:[{s:s, s:s, s:{s:i, s:i}}], s:{s:[s,s,s], s:I, s:I, s:i, s:I}},"
		" s:{s:s, s:I, s:I}, s:{s:{s:I}}},"
		" s:{s:{}}, s:{s:i, s:s, s:I}}",
		"Name", DG_COURIER_SERVICE, "Labels", SERIAL_LABEL, s,
		"TaskTemplate", "ContainerSpec", "Image", image_id, "Command",
		"/" DG_COURIER_BINARY, "User", "65534:65534", "ReadOnly", 1, "Configs", "File",
		"Name", "/dockguard-bundle", "UID", "0", "GID", "0", "Mode", 0444, "ConfigID",
		config_id, "ConfigName", config_name, "Mounts", "Type", "tmpfs", "Target", "/state",
		"TmpfsOptions", "SizeBytes", 65536, "Mode", 0777, "Healthcheck", "Test", "CMD",
		"/" DG_COURIER_BINARY, "check", "Interval", (json_int_t)2000000000LL, "Timeout",
		(json_int_t)2000000000LL, "Retries", 2, "StartPeriod", (json_int_t)60000000000LL,
		"RestartPolicy", "Condition", "any", "Delay", (json_int_t)5000000000LL,
		"MaxAttempts", (json_int_t)0, "Resources", "Limits", "MemoryBytes",
		(json_int_t)(16 * 1024 * 1024),
		"Mode", "Global", "UpdateConfig", "Parallelism", 0, "FailureAction", "pause",
		"Monitor", (json_int_t)10000000000LL);
}

static int push(const struct dg_cli *cli, const char *file)
{
	const char *keyfile = cli->key ? cli->key : DEFAULT_KEY_DIR "/fleet.key";
	uint8_t priv[DG_FLEET_KEY_SIZE];
	struct dg_loaded_policy lp;
	struct dg_docker_answer a;
	const char *why;
	char *text = NULL;
	size_t n;
	struct stat st;
	int ret = DG_EXIT_SYSTEM;

	if (stat(keyfile, &st) < 0 || read_file(keyfile, 4096, &text, &n)) {
		dg_cli_error("fleet push: cannot read the private key %s; make one with dockguard "
			     "fleet keygen, or give --key FILE", keyfile);
		return DG_EXIT_SYSTEM;
	}
	if (st.st_mode & 077) {
		dg_cli_error("fleet push: %s can be read by others; chmod 600 it (and think "
			     "whether to make a new key)", keyfile);
		free(text);
		return DG_EXIT_SYSTEM;
	}
	int r = dg_fleet_read_private(text, priv, &why);
	explicit_bzero(text, n);
	free(text);
	if (r) {
		dg_cli_error("fleet push: %s: %s", keyfile, why);
		return DG_EXIT_SYSTEM;
	}
	/* what every node will compile: it must compile here first */
	if (dg_cli_compile(cli, file, false, true, &lp))
		return DG_EXIT_INVALID;
	size_t files = 0;
	for (size_t i = 0; i < lp.policy->files->n; i++)
		files += strcmp(lp.policy->files->files[i]->name, "built-in") != 0;
	dg_cli_policy_free(&lp);
	if (files != 1) {
		dg_cli_error("fleet push: %s includes other files; a bundle carries one file in "
			     "this version: inline them", file);
		return DG_EXIT_INVALID;
	}
	char real[PATH_MAX];
	if (!realpath(file, real) || read_file(real, DG_POLICY_MAX_FILE_SIZE, &text, &n)) {
		dg_cli_error("fleet push: cannot read %s", file);
		return DG_EXIT_SYSTEM;
	}

	if (call("GET", API "/swarm", NULL, 0, &a)) {
		dg_cli_error("fleet push: run it on a swarm manager");
		free(text);
		return DG_EXIT_SYSTEM;
	}
	char cluster[128];
	snprintf(cluster, sizeof(cluster), "%s", json_string_value(json_object_get(a.json, "ID")) ?: "");
	dg_docker_answer_free(&a);

	struct dg_docker_answer img;
	if (call("GET", API "/images/" DG_COURIER_REPO ":" DOCKGUARD_VERSION "/json", NULL, 0, &img)) {
		dg_cli_error("fleet push: the courier image is not on this node; run dockguard fleet "
			     "image on every node (the package does it)");
		free(text);
		return DG_EXIT_SYSTEM;
	}
	char image_id[80];
	snprintf(image_id, sizeof(image_id), "%s", json_string_value(json_object_get(img.json, "Id")) ?: "");
	dg_docker_answer_free(&img);

	/* the next serial; creating its config's name is the lock between managers */
	for (int attempt = 0; attempt < 5; attempt++) {
		int64_t serial = highest_serial();
		if (serial < 0)
			break;
		serial++;
		struct dg_fleet_file f = { real, text, n };
		struct dg_fleet_bundle b = { .serial = (uint64_t)serial, .created = time(NULL),
					     .files = &f, .n_files = 1 };
		b.not_after = b.created + VALID_DAYS * 86400;
		snprintf(b.cluster, sizeof(b.cluster), "%s", cluster);
		char *bundle = dg_fleet_bundle_sign(&b, priv, &why);
		if (!bundle) {
			dg_cli_error("fleet push: %s", why);
			ret = DG_EXIT_INVALID;
			break;
		}
		char name[64];
		snprintf(name, sizeof(name), CONFIG_PREFIX "%" PRId64, serial);
		if (cli->dry_run) {
			printf("would push %s: %s signed for cluster %s (%zu bytes), valid %d days\n",
			       name, real, cluster, strlen(bundle), VALID_DAYS);
			free(bundle);
			ret = DG_EXIT_OK;
			break;
		}
		char *data = b64(bundle, strlen(bundle));
		char s[32];
		snprintf(s, sizeof(s), "%" PRId64, serial);
		json_t *cfg = json_pack("{s:s,s:s,s:{s:s}}", "Name", name, "Data", data, "Labels",
					SERIAL_LABEL, s);
		free(data);
		free(bundle);
		int cr = call("POST", API "/configs/create", cfg, 409, &a);
		json_decref(cfg);
		if (cr)
			break;
		if (a.status == 409) {	/* another manager took this serial */
			dg_docker_answer_free(&a);
			continue;
		}
		char config_id[128];
		snprintf(config_id, sizeof(config_id), "%s", json_string_value(json_object_get(a.json, "ID")) ?: "");
		dg_docker_answer_free(&a);

		json_t *spec = courier_spec(image_id, config_id, name, (uint64_t)serial);
		struct dg_docker_answer svc;
		if (call("GET", API "/services/" DG_COURIER_SERVICE, NULL, 404, &svc)) {
			json_decref(spec);
			break;
		}
		int ur;
		if (svc.status == 404) {
			ur = call("POST", API "/services/create", spec, 0, &a);
		} else {
			char path[128];
			json_int_t version = json_integer_value(
				json_object_get(json_object_get(svc.json, "Version"), "Index"));
			snprintf(path, sizeof(path), API "/services/%s/update?version=%lld",
				 json_string_value(json_object_get(svc.json, "ID")), (long long)version);
			ur = call("POST", path, spec, 0, &a);
		}
		dg_docker_answer_free(&svc);
		json_decref(spec);
		if (ur)
			break;
		dg_docker_answer_free(&a);
		printf("pushed serial %" PRId64 " (config %s, %s) to swarm %s; dockguard fleet status "
		       "shows the roll-out\n", serial, name, real, cluster);
		ret = DG_EXIT_OK;
		break;
	}
	explicit_bzero(priv, sizeof(priv));
	free(text);
	return ret;
}

/* The courier's last log line per task id (service logs with details). */
static json_t *courier_lines(void)
{
	struct dg_docker_answer a;
	json_t *last = json_object();
	char err[1024];

	if (dg_docker_call(docker_host(), "GET", API "/services/" DG_COURIER_SERVICE
			   "/logs?stdout=1&stderr=1&details=1&tail=200", NULL, 0, NULL, 30000, &a,
			   err, sizeof(err)))
		return last;
	/* frames: 8-byte header (stream, 0, 0, 0, big-endian size), then the line */
	for (size_t off = 0; off + 8 <= a.body_len;) {
		const unsigned char *h = (const unsigned char *)a.body + off;
		size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		if (off + 8 + len > a.body_len)
			break;
		char *line = xstrndup(a.body + off + 8, len);
		off += 8 + len;
		line[strcspn(line, "\n")] = 0;
		/* by task: a node's lines of an older task (another bundle) do not count */
		char *task = strstr(line, "com.docker.swarm.task.id=");
		char *msg = strchr(line, ' ');
		if (task && msg) {
			task += strlen("com.docker.swarm.task.id=");
			task[strcspn(task, ", ")] = 0;
			json_object_set_new(last, task, json_string(msg + 1));
		}
		free(line);
	}
	dg_docker_answer_free(&a);
	return last;
}

/* KEY=VALUE from a courier line, "" when absent. */
static void field(const char *line, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;

	out[0] = 0;
	snprintf(pat, sizeof(pat), "%s=", key);
	for (p = line; (p = strstr(p, pat)); p++) {
		if (p != line && p[-1] != ' ')
			continue;
		p += strlen(pat);
		/* reason= runs to the end of the line */
		size_t n = strcmp(key, "reason") ? strcspn(p, " ") : strlen(p);
		snprintf(out, len, "%.*s", (int)n, p);
		return;
	}
}

/*
 * Why the courier service is not what `push` made it (its image, command,
 * user, healthcheck or bundle mount changed since), or NULL: a courier
 * whose healthcheck was replaced reports health that means nothing.
 */
static const char *courier_tampered(json_t *svc)
{
	json_t *cs = json_object_get(json_object_get(json_object_get(svc, "Spec"), "TaskTemplate"),
				     "ContainerSpec");
	json_t *test = json_object_get(json_object_get(cs, "Healthcheck"), "Test");
	json_t *cmd = json_object_get(cs, "Command"), *cfgs = json_object_get(cs, "Configs");
	const char *image = json_string_value(json_object_get(cs, "Image"));
	struct dg_docker_answer img;
	char err[512];
	bool image_ok = false;

	if (image && !dg_docker_call(docker_host(), "GET", API "/images/" DG_COURIER_REPO ":"
				     DOCKGUARD_VERSION "/json", NULL, 0, NULL, 10000, &img, err,
				     sizeof(err))) {
		image_ok = img.status == 200 &&
			   !strcmp(json_string_value(json_object_get(img.json, "Id")) ?: "", image);
		dg_docker_answer_free(&img);
	}
	if (!image_ok)
		return "the courier service runs another image than this version's courier";
	if (json_array_size(cmd) != 1 ||
	    strcmp(json_string_value(json_array_get(cmd, 0)) ?: "", "/" DG_COURIER_BINARY) ||
	    strcmp(json_string_value(json_object_get(cs, "User")) ?: "", "65534:65534"))
		return "the courier's command or user was changed";
	if (json_array_size(test) != 3 || strcmp(json_string_value(json_array_get(test, 0)) ?: "", "CMD") ||
	    strcmp(json_string_value(json_array_get(test, 1)) ?: "", "/" DG_COURIER_BINARY) ||
	    strcmp(json_string_value(json_array_get(test, 2)) ?: "", "check"))
		return "the courier's healthcheck was changed";
	if (json_array_size(cfgs) != 1 ||
	    strcmp(json_string_value(json_object_get(json_object_get(json_array_get(cfgs, 0), "File"),
						     "Name")) ?: "", "/dockguard-bundle"))
		return "the courier's bundle mount was changed";
	return NULL;
}

static int status(const struct dg_cli *cli)
{
	struct dg_docker_answer nodes, tasks, svc;
	json_t *rows = json_array(), *node;
	size_t i;
	bool all = true;

	if (call("GET", API "/nodes", NULL, 0, &nodes)) {
		dg_cli_error("fleet status: run it on a swarm manager");
		return DG_EXIT_SYSTEM;
	}
	if (call("GET", API "/services/" DG_COURIER_SERVICE, NULL, 404, &svc)) {
		dg_docker_answer_free(&nodes);
		return DG_EXIT_SYSTEM;
	}
	const char *newest = svc.status == 404 ? NULL
		: json_string_value(json_object_get(json_object_get(json_object_get(svc.json, "Spec"),
								    "Labels"), SERIAL_LABEL));
	const char *tampered = svc.status == 404 ? NULL : courier_tampered(svc.json);
	if (call("GET", API "/tasks?filters=%7B%22service%22%3A%5B%22" DG_COURIER_SERVICE
		 "%22%5D%2C%22desired-state%22%3A%5B%22running%22%5D%7D", NULL, 0, &tasks)) {
		dg_docker_answer_free(&nodes);
		dg_docker_answer_free(&svc);
		return DG_EXIT_SYSTEM;
	}
	json_t *lines = courier_lines();
	json_array_foreach(nodes.json, i, node) {
		const char *id = json_string_value(json_object_get(node, "ID"));
		json_t *spec = json_object_get(node, "Spec");
		const char *host = json_string_value(json_object_get(json_object_get(node, "Description"), "Hostname"));
		const char *role = json_string_value(json_object_get(spec, "Role"));
		const char *avail = json_string_value(json_object_get(spec, "Availability"));
		const char *nstate = json_string_value(json_object_get(json_object_get(node, "Status"), "State"));
		const char *line = NULL, *tstate = NULL, *terr = NULL;
		json_t *t;
		size_t j;
		json_array_foreach(tasks.json, j, t) {
			if (!id || strcmp(json_string_value(json_object_get(t, "NodeID")) ?: "", id))
				continue;
			tstate = json_string_value(json_object_get(json_object_get(t, "Status"), "State"));
			terr = json_string_value(json_object_get(json_object_get(t, "Status"), "Err"));
			line = json_string_value(json_object_get(lines, json_string_value(
									json_object_get(t, "ID")) ?: ""));
		}
		char st[32] = "", serial[32] = "", denials[32] = "", reason[512] = "", state[600];
		if (line) {
			field(line, "state", st, sizeof(st));
			field(line, "serial", serial, sizeof(serial));
			field(line, "denials", denials, sizeof(denials));
			field(line, "reason", reason, sizeof(reason));
		}
		bool ok = false;
		if (tampered)
			snprintf(state, sizeof(state), "tampered: %s", tampered);
		else if (nstate && strcmp(nstate, "ready"))
			snprintf(state, sizeof(state), "unreachable (node %s)", nstate);
		else if (avail && !strcmp(avail, "drain"))
			snprintf(state, sizeof(state), "drained: runs no courier");
		else if (!tstate)
			snprintf(state, sizeof(state), "no courier task");
		else if (!strcmp(st, "enforcing") && newest && !strcmp(serial, newest) &&
			 !strcmp(tstate, "running"))
			ok = true, snprintf(state, sizeof(state), "enforcing");
		else if (!strcmp(st, "rejected"))
			snprintf(state, sizeof(state), "rejected: %s", reason);
		else if (!strcmp(st, "daemon-down"))
			snprintf(state, sizeof(state), "daemon down: %s", reason);
		else
			snprintf(state, sizeof(state), "%s (task %s%s%s)", st[0] ? st : "pending", tstate,
				 terr && *terr ? ": " : "", terr ? terr : "");
		if (!(avail && !strcmp(avail, "drain")))
			all &= ok;
		json_array_append_new(rows, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "hostname",
						      host ? host : "?", "role", role ? role : "?",
						      "serial", serial[0] ? serial : "-", "state",
						      state, "denials", denials[0] ? denials : "-",
						      "node", id ? id : "?"));
	}
	if (cli->json) {
		json_t *o = json_pack("{s:s?,s:O,s:b}", "newest", newest, "nodes", rows, "all_enforcing", all);
		char *text = json_dumps(o, JSON_COMPACT);
		printf("%s\n", text);
		free(text);
		json_decref(o);
	} else {
		printf("newest serial: %s\n", newest ? newest : "none pushed");
		printf("%-20s %-8s %-7s %-8s %s\n", "HOSTNAME", "ROLE", "SERIAL", "DENIALS", "STATE");
		json_t *r;
		json_array_foreach(rows, i, r)
			printf("%-20s %-8s %-7s %-8s %s\n",
			       json_string_value(json_object_get(r, "hostname")),
			       json_string_value(json_object_get(r, "role")),
			       json_string_value(json_object_get(r, "serial")),
			       json_string_value(json_object_get(r, "denials")),
			       json_string_value(json_object_get(r, "state")));
	}
	json_decref(rows);
	json_decref(lines);
	dg_docker_answer_free(&nodes);
	dg_docker_answer_free(&tasks);
	dg_docker_answer_free(&svc);
	return all && newest ? DG_EXIT_OK : DG_EXIT_INVALID;
}

int do_fleet(struct dg_cli *cli)
{
	const char *sub = cli->n_args ? cli->args[0] : "";

	if (!strcmp(sub, "keygen") && cli->n_args == 1)
		return keygen(cli);
	if (!strcmp(sub, "image") && cli->n_args == 1)
		return image();
	if (!strcmp(sub, "push") && cli->n_args == 2)
		return push(cli, cli->args[1]);
	if (!strcmp(sub, "status") && cli->n_args == 1)
		return status(cli);
	fprintf(stderr, "dockguard: fleet takes keygen, image, push FILE or status\n"
		"run 'dockguard fleet --help' for usage\n");
	return DG_EXIT_USAGE;
}
