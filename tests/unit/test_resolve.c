// SPDX-License-Identifier: GPL-2.0-only
/*
 * What names mean on this host: systemd units -> cgroup paths (through a fake
 * cgroup tree in a temporary directory) and Docker's userns-remap range (from
 * temporary daemon.json, subuid and subgid files named by the environment).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile/compile.h"
#include "util/diag.h"
#include "policy/policy.h"
#include "policy/resolve.h"
#include "testing.h"
#include "util/util.h"

/* ---- helpers ----------------------------------------------------------- */

static bool has_warning(const struct dg_diag *d, const char *sub)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->records[i].severity == DG_WARNING && strstr(d->records[i].message, sub))
			return true;
	return false;
}

/* The three variables dg_resolve_remap() reads, saved and restored. */
static const char *const remap_vars[] = {
	"DOCKGUARD_DOCKER_DAEMON_JSON", "DOCKGUARD_SUBUID", "DOCKGUARD_SUBGID",
};

struct saved_env {
	char *value[3];
	bool set[3];
};

static void env_save(struct saved_env *s)
{
	for (size_t i = 0; i < 3; i++) {
		const char *v = getenv(remap_vars[i]);
		s->set[i] = v != NULL;
		s->value[i] = v ? xstrdup(v) : NULL;
	}
}

static void env_restore(struct saved_env *s)
{
	for (size_t i = 0; i < 3; i++) {
		if (s->set[i])
			setenv(remap_vars[i], s->value[i], 1);
		else
			unsetenv(remap_vars[i]);
		free(s->value[i]);
		s->value[i] = NULL;
	}
}

/* Points the resolver at DIR/daemon.json, DIR/subuid, DIR/subgid. */
static void env_point(const char *dir)
{
	char *p = xasprintf("%s/daemon.json", dir);
	setenv("DOCKGUARD_DOCKER_DAEMON_JSON", p, 1);
	free(p);
	p = xasprintf("%s/subuid", dir);
	setenv("DOCKGUARD_SUBUID", p, 1);
	free(p);
	p = xasprintf("%s/subgid", dir);
	setenv("DOCKGUARD_SUBGID", p, 1);
	free(p);
}

static void put(const char *dir, const char *name, const char *text)
{
	free(dg_test_write_path(dir, name, text));
}

static void drop(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	unlink(p);
	free(p);
}

/* ---- units ---------------------------------------------------------------- */

TEST(resolve_unit_default_paths)
{
	static const struct { const char *unit, *path; } cases[] = {
		{ "nginx.service", "/system.slice/nginx.service" },
		{ "docker-abc.scope", "/system.slice/docker-abc.scope" },
		{ "user.slice", "/user.slice" },
		{ "system.slice", "/system.slice" },
		{ "a-b.slice", "/a.slice/a-b.slice" },
		{ "a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice" },
		{ "user-1000.slice", "/user.slice/user-1000.slice" },
		{ "machine-qemu\\x2d1.slice", "/machine.slice/machine-qemu\\x2d1.slice" },
		{ "-.slice", "/" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct dg_diag d;
		dg_diag_init(&d);
		char *path = dg_resolve_unit(NULL, cases[i].unit, &d, NULL);
		CHECK_STR(path, cases[i].path);
		CHECK_INT(d.n_warnings, 1);
		CHECK_INT(d.n_errors, 0);
		char *want = xasprintf("unit '%s' has no cgroup now; assuming %s", cases[i].unit,
				       cases[i].path);
		CHECK(has_warning(&d, want));
		free(want);
		free(path);
		dg_diag_fini(&d);
	}
}

TEST(resolve_unit_in_tree)
{
	char *root = dg_test_tmpdir();
	CHECK(root != NULL);
	if (!root)
		return;
	dg_test_systemd_unit(root, "/system.slice/nginx.service");
	dg_test_systemd_unit(root, "/system.slice/docker-0123abcd.scope");
	dg_test_systemd_unit(root, "/custom.slice");
	dg_test_systemd_unit(root, "/custom.slice/web.service");
	dg_test_mkdirs(root, "/custom.slice/web.service/sub");
	dg_test_systemd_unit(root, "/user.slice/user-1000.slice");
	dg_test_systemd_unit(root, "/user.slice/user-1000.slice/user@1000.service/app.slice/five.service");
	/* deeper than any cgroup the BPF trie can follow (DG_CGROUP_MAX_DEPTH) */
	dg_test_systemd_unit(root, "/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11/l12/l13/l14/l15/l16/deep.service");
	dg_test_mkdirs(root, "/other.slice");
	dg_test_systemd_unit(root, "/.hidden/hidden.service");
	/* what `docker run --cgroup-parent /made.service` leaves: no systemd mark */
	dg_test_mkdirs(root, "/made.service/0123456789abcdef");
	dg_test_mkdirs(root, "/docker/web.service");
	put(root, "other.slice/file.service", "not a cgroup\n");

	static const struct { const char *unit, *path; bool warn; } cases[] = {
		{ "nginx.service", "/system.slice/nginx.service", false },
		{ "docker-0123abcd.scope", "/system.slice/docker-0123abcd.scope", false },
		{ "web.service", "/custom.slice/web.service", false },
		{ "custom.slice", "/custom.slice", false },
		{ "user-1000.slice", "/user.slice/user-1000.slice", false },
		{ "five.service", "/user.slice/user-1000.slice/user@1000.service/app.slice/"
				  "five.service", false },
		/* deeper than the search goes: the default place */
		{ "deep.service", "/system.slice/deep.service", true },
		/* a file is not a cgroup */
		{ "file.service", "/system.slice/file.service", true },
		/* dot directories are not searched */
		{ "hidden.service", "/system.slice/hidden.service", true },
		{ "gone.service", "/system.slice/gone.service", true },
		{ "a-b.slice", "/a.slice/a-b.slice", true },
		/* directories that systemd did not make are never a unit's */
		{ "made.service", "/system.slice/made.service", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct dg_diag d;
		dg_diag_init(&d);
		char *path = dg_resolve_unit(root, cases[i].unit, &d, NULL);
		CHECK_STR(path, cases[i].path);
		CHECK_INT(d.n_warnings, cases[i].warn ? 1 : 0);
		if (!path || strcmp(path, cases[i].path))
			fprintf(stderr, "  unit %s\n", cases[i].unit);
		free(path);
		dg_diag_fini(&d);
	}

	/* the warning carries the location it was given */
	struct dg_diag d;
	dg_diag_init(&d);
	struct dg_loc loc = { .file = NULL, .line = 7, .col = 3, .len = 4 };
	char *path = dg_resolve_unit(root, "gone.service", &d, &loc);
	CHECK_INT(d.n, 1);
	if (d.n)
		CHECK_INT(d.records[0].loc.line, 7);
	free(path);
	dg_diag_fini(&d);

	/* a root that does not exist: the default place, with the warning */
	dg_diag_init(&d);
	char *missing = xasprintf("%s/no-such-dir", root);
	path = dg_resolve_unit(missing, "nginx.service", &d, NULL);
	CHECK_STR(path, "/system.slice/nginx.service");
	CHECK_INT(d.n_warnings, 1);
	free(path);
	free(missing);
	dg_diag_fini(&d);

	dg_test_rmtree(root);
	free(root);
}

/*
 * The shallowest directory with the unit's name wins, so the host's
 * /system.slice/nginx.service is chosen over any deeper cgroup of that name (a
 * user's own `systemctl --user` unit, a container running systemd): otherwise
 * `allow ... from unit nginx.service` could grant a user's own unit. A
 * depth-first search depends on readdir order; the 40 decoys make it pick a
 * decoy on (nearly) any directory order.
 */
TEST(resolve_unit_prefers_the_shallowest_cgroup)
{
	char *root = dg_test_tmpdir();
	CHECK(root != NULL);
	if (!root)
		return;
	dg_test_systemd_unit(root, "/system.slice/nginx.service");
	dg_test_systemd_unit(root, "/user.slice/user-1000.slice/user@1000.service/app.slice/nginx.service");
	for (int i = 0; i < 40; i++) {
		char *rel = xasprintf("/decoy%02d.slice/x/nginx.service", i);
		dg_test_systemd_unit(root, rel);
		free(rel);
	}
	/* shallower, but made by dockerd (--cgroup-parent /nginx.service): skipped */
	dg_test_mkdirs(root, "/nginx.service/0123456789abcdef");
	struct dg_diag d;
	dg_diag_init(&d);
	char *path = dg_resolve_unit(root, "nginx.service", &d, NULL);
	CHECK_STR(path, "/system.slice/nginx.service");
	if (path && strcmp(path, "/system.slice/nginx.service"))
		fprintf(stderr, "  unit nginx.service resolved to %s, not "
			"/system.slice/nginx.service\n", path);
	CHECK_INT(d.n_warnings, 0);
	free(path);
	dg_diag_fini(&d);
	dg_test_rmtree(root);
	free(root);
}

/* ---- userns-remap ------------------------------------------------------------ */

TEST(resolve_remap_default_user)
{
	struct saved_env saved;
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	env_save(&saved);
	env_point(dir);

	put(dir, "daemon.json", "{ \"debug\": false, \"userns-remap\": \"default\" }\n");
	put(dir, "subuid", "alice:100000:65536\n"
			   "dockremapx:1:2\n"
			   "dockremap:165536:65536\n"
			   "dockremap:500000:10\n");
	put(dir, "subgid", "dockremap:231072:1000\n");
	struct dg_remap r;
	memset(&r, 0xa5, sizeof(r));
	dg_resolve_remap(&r);
	CHECK(r.enabled);
	CHECK(r.have_range);
	CHECK_STR(r.user, "dockremap");
	CHECK_INT(r.uid_lo, 165536);
	CHECK_INT(r.uid_hi, 231071);
	CHECK_INT(r.gid_lo, 231072);
	CHECK_INT(r.gid_hi, 232071);

	/* no subgid file: the gid range is the uid range */
	drop(dir, "subgid");
	dg_resolve_remap(&r);
	CHECK(r.have_range);
	CHECK_INT(r.gid_lo, 165536);
	CHECK_INT(r.gid_hi, 231071);

	/* no line for the user: enabled, no range, and why */
	put(dir, "subuid", "alice:100000:65536\n");
	dg_resolve_remap(&r);
	CHECK(r.enabled);
	CHECK(!r.have_range);
	CHECK_STR(r.user, "dockremap");
	CHECK(strstr(r.why, "has no range for user 'dockremap'") != NULL);
	CHECK(strstr(r.why, "/subuid") != NULL);

	/* no subuid file at all */
	drop(dir, "subuid");
	dg_resolve_remap(&r);
	CHECK(r.enabled);
	CHECK(!r.have_range);
	CHECK(strstr(r.why, "has no range for user 'dockremap'") != NULL);

	env_restore(&saved);
	dg_test_rmtree(dir);
	free(dir);
}

TEST(resolve_remap_user_group_and_malformed_lines)
{
	struct saved_env saved;
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	env_save(&saved);
	env_point(dir);

	put(dir, "daemon.json", "{\"userns-remap\": \"someuser:somegroup\"}");
	put(dir, "subuid",
	    "\n"
	    "# someuser:1:1\n"
	    "garbage\n"
	    "someuser\n"
	    "someuser:7\n"
	    "someuser:abc:10\n"
	    "someuser:10:xyz\n"
	    "someuser:-5:10\n"
	    "someuser:100:0\n"		/* empty range */
	    "someuser:4294967295:1\n"	/* past the last uid */
	    "someuser:4294967000:1000\n"	/* wraps */
	    "someuser:99999999999:1\n"
	    "someuser::65536\n"
	    "some:200000:65536\n"
	    "someuserx:200000:65536\n"
	    "otheruser:5000:10\n"
	    "someuser:300000:65536\n"
	    "someuser:900000:5\n");
	put(dir, "subgid", "garbage\nsomeuser:400000:1000\n");
	struct dg_remap r;
	dg_resolve_remap(&r);
	CHECK(r.enabled);
	CHECK(r.have_range);
	CHECK_STR(r.user, "someuser");
	CHECK_INT(r.uid_lo, 300000);
	CHECK_INT(r.uid_hi, 365535);
	CHECK_INT(r.gid_lo, 400000);
	CHECK_INT(r.gid_hi, 400999);

	/* the highest range that still ends at a valid uid (4294967294) */
	put(dir, "subuid", "someuser:4294967290:5\n");
	dg_resolve_remap(&r);
	CHECK(r.have_range);
	CHECK_INT(r.uid_lo, 4294967290u);
	CHECK_INT(r.uid_hi, 4294967294u);
	put(dir, "subuid", "someuser:4294967290:6\n");
	dg_resolve_remap(&r);
	CHECK(!r.have_range);

	/* a uid as the user name */
	put(dir, "daemon.json", "{\"userns-remap\": \"12345:12345\"}");
	put(dir, "subuid", "12345:600000:100\n");
	dg_resolve_remap(&r);
	CHECK(r.enabled);
	CHECK_STR(r.user, "12345");
	CHECK(r.have_range);
	CHECK_INT(r.uid_lo, 600000);
	CHECK_INT(r.uid_hi, 600099);

	env_restore(&saved);
	dg_test_rmtree(dir);
	free(dir);
}

/* subuid lines may name the user by its numeric uid: root is uid 0 everywhere. */
TEST(resolve_remap_numeric_uid_lines)
{
	struct saved_env saved;
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	env_save(&saved);
	env_point(dir);

	put(dir, "daemon.json", "{\"userns-remap\": \"root\"}");
	put(dir, "subuid", "1:1000:10\n0:500000:1000\n");
	put(dir, "subgid", "0:700000:2000\n");
	struct dg_remap r;
	dg_resolve_remap(&r);
	CHECK(r.enabled);
	CHECK(r.have_range);
	CHECK_STR(r.user, "root");
	CHECK_INT(r.uid_lo, 500000);
	CHECK_INT(r.uid_hi, 500999);
	CHECK_INT(r.gid_lo, 700000);
	CHECK_INT(r.gid_hi, 701999);

	/* every range of the user counts, by name or uid; the lowest maps
	 * container uid 0, the next ones the uids past it (Docker's order) */
	put(dir, "subuid", "root:800000:10\n0:500000:1000\nother:900000:5\n");
	dg_resolve_remap(&r);
	CHECK_INT(r.uid_lo, 500000);
	CHECK_INT(r.uid_hi, 500999);
	CHECK_INT(r.n_uids, 2);
	CHECK_INT(r.uids[1].lo, 800000);
	CHECK_INT(r.uids[1].hi, 800009);
	CHECK_INT(dg_remap_container_uid(&r, 500000), 0);
	CHECK_INT(dg_remap_container_uid(&r, 500999), 999);
	CHECK_INT(dg_remap_container_uid(&r, 800000), 1000);
	CHECK_INT(dg_remap_container_uid(&r, 800009), 1009);
	CHECK_INT(dg_remap_container_uid(&r, 900000), -1);
	CHECK_INT(dg_remap_container_uid(&r, 501000), -1);

	env_restore(&saved);
	dg_test_rmtree(dir);
	free(dir);
}

TEST(resolve_remap_not_configured)
{
	struct saved_env saved;
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	env_save(&saved);
	env_point(dir);
	put(dir, "subuid", "dockremap:165536:65536\n");

	static const char *const no_remap[] = {
		"{}",
		"{\"debug\": true}",
		"{\"userns-remap\": \"\"}",
		"{\"userns-remap\": 5}",
		"{\"userns-remap\": null}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(no_remap); i++) {
		struct dg_remap r;
		put(dir, "daemon.json", no_remap[i]);
		memset(&r, 0xa5, sizeof(r));
		dg_resolve_remap(&r);
		CHECK(!r.enabled);
		CHECK(!r.have_range);
		CHECK(strstr(r.why, "has no \"userns-remap\"") != NULL);
		CHECK(strstr(r.why, "daemon.json") != NULL);
		if (r.enabled || !strstr(r.why, "userns-remap"))
			fprintf(stderr, "  daemon.json %s: why '%s'\n", no_remap[i], r.why);
	}

	/* unreadable or broken daemon.json: not enabled, and why */
	struct dg_remap r;
	put(dir, "daemon.json", "{ not json");
	dg_resolve_remap(&r);
	CHECK(!r.enabled);
	CHECK(strstr(r.why, "cannot read") != NULL);
	drop(dir, "daemon.json");
	dg_resolve_remap(&r);
	CHECK(!r.enabled);
	CHECK(!r.have_range);
	CHECK(strstr(r.why, "cannot read") != NULL);
	CHECK(strstr(r.why, "daemon.json") != NULL);

	env_restore(&saved);
	dg_test_rmtree(dir);
	free(dir);
}

/* The environment is restored: set values come back, unset ones stay unset. */
TEST(resolve_remap_env_restored)
{
	struct saved_env saved;

	setenv("DOCKGUARD_SUBUID", "/nonexistent/keep-me", 1);
	unsetenv("DOCKGUARD_SUBGID");
	env_save(&saved);
	env_point("/tmp/whatever");
	env_restore(&saved);
	CHECK_STR(getenv("DOCKGUARD_SUBUID"), "/nonexistent/keep-me");
	CHECK(getenv("DOCKGUARD_SUBGID") == NULL);
	unsetenv("DOCKGUARD_SUBUID");
}

/* From daemon.json to a compiled `remapped` rule. */
TEST(resolve_remap_into_compile)
{
	struct saved_env saved;
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	env_save(&saved);
	env_point(dir);
	put(dir, "daemon.json", "{\"userns-remap\": \"default\"}");
	put(dir, "subuid", "dockremap:231072:65536\n");

	struct dg_remap r;
	dg_resolve_remap(&r);
	CHECK(r.have_range);
	struct dg_compile_env env = {
		.have_remap_range = r.have_range,
		.remap_lo = r.uid_lo,
		.remap_hi = r.uid_hi,
		.remap_user = r.user,
		.remap_why = r.why,
	};
	const char *text = "endpoint api tcp 127.0.0.1:2375\n"
			   "deny api from remapped\n"
			   "allow api from user 0-4000000\n";
	struct dg_diag d;
	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_buffer("t.conf", text, strlen(text), &d);
	struct dg_image *img = p ? dg_compile(p, &env, &d) : NULL;
	CHECK(img != NULL);
	CHECK_INT(d.n_warnings, 0);
	if (img) {
		struct dg_verdict v;
		struct dg_subject_id w = { .uid = 231072, .cgroup = "/" };
		dg_image_evaluate(img, &w, "tcp:127.0.0.1:2375", DG_OP_CONNECT, &v);
		CHECK(!v.allowed && v.rule == 0);
		w.uid = 296607;
		dg_image_evaluate(img, &w, "tcp:127.0.0.1:2375", DG_OP_CONNECT, &v);
		CHECK(!v.allowed && v.rule == 0);
		w.uid = 296608;
		dg_image_evaluate(img, &w, "tcp:127.0.0.1:2375", DG_OP_CONNECT, &v);
		CHECK(v.allowed && v.rule == 1);
	}
	dg_image_free(img);
	dg_policy_free(p);
	dg_diag_fini(&d);

	/* no range: the compiler's warning carries the resolver's reason */
	put(dir, "subuid", "");
	dg_resolve_remap(&r);
	CHECK(!r.have_range);
	env.have_remap_range = false;
	env.remap_why = r.why;
	dg_diag_init(&d);
	p = dg_policy_parse_buffer("t.conf", text, strlen(text), &d);
	img = p ? dg_compile(p, &env, &d) : NULL;
	CHECK(img != NULL);
	CHECK_INT(d.n_warnings, 1);
	CHECK(has_warning(&d, "has no range for user 'dockremap'"));
	dg_image_free(img);
	dg_policy_free(p);
	dg_diag_fini(&d);

	env_restore(&saved);
	dg_test_rmtree(dir);
	free(dir);
}
