// SPDX-License-Identifier: GPL-2.0-only
/* A swarm node's side of the fleet (fleet.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "cli/cli.h"
#include "daemon/fleet.h"
#include "fleet/bundle.h"
#include "util/util.h"

#define BUNDLE_IN_TASK	"dockguard-bundle"	/* the config's target in the courier */
#define STATUS_IN_TASK	"state/status"

struct dg_fleet_node {
	struct dg_fleet_pub keys[DG_FLEET_MAX_KEYS];
	size_t n_keys;
	char *dir;			/* STATE_DIR/fleet */
	char *docker_host;
	char *policy_path;		/* of the bundle in force, NULL: none */
	uint64_t serial;		/* in force, 0: none */
	char bundle_sha[65];		/* of the bundle file in force */
	char last_seen[65];		/* of the last bundle judged */
	char state[16];			/* enforcing, rejected, none */
	char reason[512];		/* of the last rejection */
	uint64_t denials;		/* since the bundle in force was applied */
	int *pids;			/* courier tasks running here */
	size_t n_pids;
	char *node_settings;		/* `set` lines of the local file, after each bundle's */
};


static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode), ret = 0;

	if (fd < 0) {
		ret = -errno;
	} else {
		if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
			ret = -errno ? -errno : -EIO;
		close(fd);
		if (!ret && rename(tmp, path) < 0)
			ret = -errno;
	}
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

/* A bundle's policy as this node enforces it: the bundle's file, then this
 * node's own settings (Docker's address, metrics), which win. */
static int write_policy(const struct dg_fleet_node *f, const char *path, const char *text, size_t len)
{
	char *all = xmalloc(len + strlen(f->node_settings) + 2);

	memcpy(all, text, len);
	all[len] = '\n';
	strcpy(all + len + 1, f->node_settings);
	int ret = write_file(path, all, strlen(all + len + 1) + len + 1, 0600);
	free(all);
	return ret;
}

/* This node's swarm cluster id: a manager's /info has it; a worker's is
 * the Organization of its swarm certificate's subject (swarmkit writes
 * O=<cluster id>, OU=<role>, CN=<node id>). */
static int cert_cluster(const char *path, char *out, size_t len)
{
	char *pem = NULL;
	size_t n;
	int ret = -ENOENT;

	if (read_file(path, 64 * 1024, &pem, &n))
		return -ENOENT;
	const char *b = strstr(pem, "-----BEGIN CERTIFICATE-----");
	const char *e = b ? strstr(b, "-----END CERTIFICATE-----") : NULL;
	if (b && e) {
		b += strlen("-----BEGIN CERTIFICATE-----");
		char *b64 = xmalloc((size_t)(e - b) + 1);
		size_t k = 0;
		for (const char *p = b; p < e; p++)
			if (*p != '\n' && *p != '\r')
				b64[k++] = *p;
		uint8_t *der = xmalloc(BASE64_DECODE_LENGTH(k) + 1);
		size_t dl = BASE64_DECODE_LENGTH(k);
		struct base64_decode_ctx ctx;
		base64_decode_init(&ctx);
		if (base64_decode_update(&ctx, &dl, der, k, b64) && base64_decode_final(&ctx)) {
			/* OID 2.5.4.10 (organizationName), then a string; the issuer
			 * (CN=swarm-ca) has none, so the first is the subject's */
			static const uint8_t oid[] = { 0x06, 0x03, 0x55, 0x04, 0x0a };
			for (size_t i = 0; i + sizeof(oid) + 2 < dl; i++) {
				if (memcmp(der + i, oid, sizeof(oid)))
					continue;
				uint8_t tag = der[i + sizeof(oid)], l = der[i + sizeof(oid) + 1];
				if ((tag == 0x0c || tag == 0x13) && l < 0x80 && l < len &&
				    i + sizeof(oid) + 2 + l <= dl) {
					memcpy(out, der + i + sizeof(oid) + 2, l);
					out[l] = 0;
					ret = 0;
				}
				break;
			}
		}
		free(der);
		free(b64);
	}
	free(pem);
	return ret;
}

static int node_cluster(const char *docker_host, char *out, size_t len, char *err, size_t errlen)
{
	struct dg_docker_answer a;
	int ret = dg_docker_call(docker_host, "GET", "/v1.41/info", NULL, 0, NULL, 2000, &a, err,
				 errlen);

	if (ret)
		return ret;
	json_t *swarm = json_object_get(a.json, "Swarm");
	const char *id = json_string_value(json_object_get(json_object_get(swarm, "Cluster"), "ID"));
	const char *root = json_string_value(json_object_get(a.json, "DockerRootDir"));
	ret = -ENOENT;
	if (id && strlen(id) < len) {
		snprintf(out, len, "%s", id);
		ret = 0;
	} else if (root) {
		/* under userns-remap the root is DIR/UID.GID; swarm state stays in DIR */
		char *copy = xstrdup(root);
		char *a1 = xasprintf("%s/swarm/certificates/swarm-node.crt", root);
		char *a2 = xasprintf("%s/swarm/certificates/swarm-node.crt", dirname(copy));
		ret = cert_cluster(a1, out, len) && cert_cluster(a2, out, len) ? -ENOENT : 0;
		free(a1);
		free(a2);
		free(copy);
	}
	if (ret)
		snprintf(err, errlen, "this node's swarm cluster id is unknown (not in a swarm?)");
	dg_docker_answer_free(&a);
	return ret;
}

static char *path_in(const struct dg_fleet_node *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

struct dg_fleet_node *dg_fleet_node_new(const struct dg_policy *local, const char *state_dir,
					const char *docker_host, struct dg_err *err)
{
	struct dg_fleet_node *f;

	err->msg[0] = 0;
	if (!local || !local->n_fleet_keys)
		return NULL;
	f = xcalloc(1, sizeof(*f));
	for (size_t i = 0; i < local->n_fleet_keys && f->n_keys < DG_FLEET_MAX_KEYS; i++) {
		char *text = NULL;
		size_t n;
		const char *why;
		int r = read_file(local->fleet_keys[i], 4096, &text, &n);
		if (r || dg_fleet_read_public(text, &f->keys[f->n_keys], &why)) {
			dg_err_set(err, "fleet key %s: %s", local->fleet_keys[i],
				   r ? strerror(-r) : why);
			free(text);
			dg_fleet_node_free(f);
			return NULL;
		}
		free(text);
		f->n_keys++;
	}
	f->dir = xasprintf("%s/fleet", state_dir);
	f->node_settings = xasprintf("# this node's own settings (%s)\n%s%s%s%s%s%s%s%s%s", local->path,
				     local->docker_host ? "set docker-host " : "",
				     local->docker_host ? local->docker_host : "",
				     local->docker_host ? "\n" : "",
				     local->metrics ? "set metrics " : "", local->metrics ? local->metrics : "",
				     local->metrics ? "\n" : "",
				     local->metrics_textfile ? "set metrics-textfile " : "",
				     local->metrics_textfile ? local->metrics_textfile : "",
				     local->metrics_textfile ? "\n" : "");
	f->docker_host = xstrdup(docker_host);
	snprintf(f->state, sizeof(f->state), "none");
	mkdir(state_dir, 0755);
	if (mkdir(f->dir, 0700) < 0 && errno != EEXIST) {
		dg_err_set(err, "cannot create %s: %s", f->dir, strerror(errno));
		dg_fleet_node_free(f);
		return NULL;
	}
	/* the last good bundle: verified again (a key may have been unpinned) */
	char *lg = path_in(f, "last-good.bundle"), *text = NULL;
	size_t n;
	struct dg_fleet_bundle b;
	const char *why;
	if (read_file(lg, DG_FLEET_MAX_BUNDLE, &text, &n) == 0 &&
	    dg_fleet_bundle_verify(text, n, f->keys, f->n_keys, &b, &why) == 0) {
		char *name = xasprintf("policy-s%" PRIu64 ".conf", b.serial);
		char *pp = path_in(f, name);
		if (write_policy(f, pp, b.files[0].text, b.files[0].len) == 0) {
			f->policy_path = pp;
			f->serial = b.serial;
			dg_sha256_hex(text, n, f->bundle_sha);
			snprintf(f->last_seen, sizeof(f->last_seen), "%s", f->bundle_sha);
			snprintf(f->state, sizeof(f->state), "enforcing");
		} else {
			free(pp);
		}
		free(name);
		dg_fleet_bundle_free(&b);
	}
	free(text);
	free(lg);
	return f;
}

const char *dg_fleet_node_policy_path(const struct dg_fleet_node *f)
{
	return f ? f->policy_path : NULL;
}

/* What the courier of pid `pid` reads in its /state/status. */
static void report_to(const struct dg_fleet_node *f, int pid)
{
	char *path = xasprintf("/proc/%d/root/" STATUS_IN_TASK, pid);
	char *text = xasprintf("bundle=%s\nserial=%" PRIu64 "\nstate=%s\nreason=%s\ndenials=%" PRIu64
			       "\nwritten=%lld\n", f->last_seen, f->serial,
			       !strcmp(f->last_seen, f->bundle_sha) ? "enforcing" : f->state,
			       !strcmp(f->last_seen, f->bundle_sha) ? "" : f->reason, f->denials,
			       (long long)time(NULL));
	/* The courier made the file (its /state is a tmpfs of its user
	 * namespace, where root of the host, unmapped there, may not create
	 * one): overwritten in place, at one fixed size, so that a reader never
	 * sees it empty. */
	char padded[1024];
	size_t tl = strlen(text);
	if (tl >= sizeof(padded))
		tl = sizeof(padded) - 1;
	memcpy(padded, text, tl);
	memset(padded + tl, ' ', sizeof(padded) - tl - 1);
	padded[sizeof(padded) - 1] = '\n';
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	static int warned_pid;
	if (fd < 0 || pwrite(fd, padded, sizeof(padded), 0) != (ssize_t)sizeof(padded)) {
		/* the courier then reports the daemon down: what it can see */
		if (warned_pid != pid)
			dg_cli_error("fleet: cannot write the courier's status at %s: %s", path,
				     strerror(errno));
		warned_pid = pid;
	}
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
}

void dg_fleet_node_report(struct dg_fleet_node *f)
{
	for (size_t i = 0; f && i < f->n_pids; i++)
		report_to(f, f->pids[i]);
}

void dg_fleet_node_denial(struct dg_fleet_node *f)
{
	if (f)
		f->denials++;
}

static void reject(struct dg_fleet_node *f, const char *sha, const char *why)
{
	snprintf(f->last_seen, sizeof(f->last_seen), "%s", sha);
	snprintf(f->state, sizeof(f->state), "rejected");
	snprintf(f->reason, sizeof(f->reason), "%s", why);
	dg_cli_error("fleet: bundle %.12s rejected: %s; the policy in force stays", sha, why);
}

/* A bundle read from a courier: judged, applied if good. */
static void judge(struct dg_fleet_node *f, const char *text, size_t len, dg_fleet_apply_fn apply,
		  void *arg)
{
	struct dg_fleet_bundle b;
	const char *why, *bad;
	char sha[65], cluster[128], err[512];

	dg_sha256_hex(text, len, sha);
	if (!strcmp(sha, f->last_seen))
		return;		/* judged already */
	if (dg_fleet_bundle_verify(text, len, f->keys, f->n_keys, &b, &why)) {
		reject(f, sha, why);
		return;
	}
	if (node_cluster(f->docker_host, cluster, sizeof(cluster), err, sizeof(err))) {
		/* not judged: tried again at the next change */
		dg_cli_error("fleet: cannot judge bundle %.12s: %s", sha, err);
		dg_fleet_bundle_free(&b);
		return;
	}
	if ((bad = dg_fleet_bundle_acceptable(&b, cluster, f->serial, (int64_t)time(NULL)))) {
		reject(f, sha, bad);
		dg_fleet_bundle_free(&b);
		return;
	}
	char *name = xasprintf("policy-s%" PRIu64 ".conf", b.serial);
	char *pp = path_in(f, name);
	free(name);
	if (b.n_files != 1) {
		reject(f, sha, "it has include files, which this version does not apply");
	} else if (write_policy(f, pp, b.files[0].text, b.files[0].len)) {
		reject(f, sha, "its policy cannot be written under the state directory");
	} else if (apply(arg, pp, err, sizeof(err))) {
		char *r = xasprintf("its policy does not compile here: %s", err);
		reject(f, sha, r);
		free(r);
		unlink(pp);
	} else {
		char *lg = path_in(f, "last-good.bundle");
		if (write_file(lg, text, len, 0600))
			dg_cli_error("fleet: cannot keep bundle serial %" PRIu64 " as last-good in %s: %s",
				     b.serial, f->dir, strerror(errno));
		free(lg);
		if (f->policy_path && strcmp(f->policy_path, pp))
			unlink(f->policy_path);
		free(f->policy_path);
		f->policy_path = pp;
		pp = NULL;
		f->serial = b.serial;
		f->denials = 0;
		snprintf(f->bundle_sha, sizeof(f->bundle_sha), "%s", sha);
		snprintf(f->last_seen, sizeof(f->last_seen), "%s", sha);
		snprintf(f->state, sizeof(f->state), "enforcing");
		f->reason[0] = 0;
		dg_cli_error("fleet: enforcing bundle serial %" PRIu64 " (%.12s, key %s)", b.serial, sha,
			     b.key_id);
	}
	free(pp);
	dg_fleet_bundle_free(&b);
}

void dg_fleet_node_containers(struct dg_fleet_node *f, const struct dg_container_set *set,
			      dg_fleet_apply_fn apply, void *arg)
{
	if (!f || !set)
		return;
	f->n_pids = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct dg_container *c = &set->v[i];
		if (!c->service || strcmp(c->service, DG_COURIER_SERVICE) || c->pid <= 0)
			continue;
		f->pids = xreallocarray(f->pids, f->n_pids + 1, sizeof(*f->pids));
		f->pids[f->n_pids++] = c->pid;
		char *path = xasprintf("/proc/%d/root/" BUNDLE_IN_TASK, c->pid), *text = NULL;
		size_t n;
		int r = read_file(path, DG_FLEET_MAX_BUNDLE, &text, &n);
		if (r == 0)
			judge(f, text, n, apply, arg);
		free(text);
		free(path);
	}
	dg_fleet_node_report(f);
}

json_t *dg_fleet_node_json(const struct dg_fleet_node *f)
{
	if (!f)
		return json_null();
	return json_pack("{s:I,s:s,s:s,s:s,s:I,s:i}", "serial", (json_int_t)f->serial, "bundle",
			 f->bundle_sha, "state",
			 !f->last_seen[0] ? "none"
			 : !strcmp(f->last_seen, f->bundle_sha) ? "enforcing" : f->state, "reason",
			 f->reason, "denials", (json_int_t)f->denials, "couriers", (int)f->n_pids);
}

void dg_fleet_node_free(struct dg_fleet_node *f)
{
	if (!f)
		return;
	explicit_bzero(f->keys, sizeof(f->keys));
	free(f->dir);
	free(f->node_settings);
	free(f->docker_host);
	free(f->policy_path);
	free(f->pids);
	free(f);
}
