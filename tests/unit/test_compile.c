// SPDX-License-Identifier: GPL-2.0-only
/*
 * The compiler (AST -> the tables of bpf/dockguard_abi.h) and the userspace
 * evaluator that mirrors the BPF program: tables checked field by field, and
 * verdicts checked against hand-computed answers and against a naive
 * evaluator of the policy as written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile/compile.h"
#include "util/diag.h"
#include "policy/policy.h"
#include "policy/resolve.h"
#include "testing.h"
#include "util/util.h"

/* ---- helpers ----------------------------------------------------------- */

#define DEF DG_RULE_DEFAULT
#define CONNECT DG_OP_CONNECT
#define BIND DG_OP_BIND

struct fixture {
	struct dg_diag d;
	struct dg_policy *p;
	struct dg_image *img;
};

static void dump(const struct dg_diag *d)
{
	fprintf(stderr, "---- diagnostics (%zu errors, %zu warnings):\n", d->n_errors,
		d->n_warnings);
	dg_diag_print(d, stderr, 0);
}

/* No host: no cgroup tree, no remap range. */
static const struct dg_compile_env no_host = {
	.cgroup_root = NULL,
	.have_remap_range = false,
	.remap_why = "test: no daemon.json",
};

/* Parses and compiles; the policy must parse without error. */
static struct dg_image *build_env(struct fixture *f, const char *text,
				  const struct dg_compile_env *env)
{
	memset(f, 0, sizeof(*f));
	dg_diag_init(&f->d);
	f->p = dg_policy_parse_buffer("test.conf", text, strlen(text), &f->d);
	if (!f->p || f->d.n_errors) {
		fprintf(stderr, "policy does not parse:\n%s", text);
		dump(&f->d);
		return NULL;
	}
	f->img = dg_compile(f->p, env, &f->d);
	return f->img;
}

static struct dg_image *build(struct fixture *f, const char *text)
{
	return build_env(f, text, &no_host);
}

static void fixture_free(struct fixture *f)
{
	dg_image_free(f->img);
	dg_policy_free(f->p);
	dg_diag_fini(&f->d);
	memset(f, 0, sizeof(*f));
}

static bool has_diag(const struct dg_diag *d, enum dg_severity sev, const char *sub)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->records[i].severity == sev && strstr(d->records[i].message, sub))
			return true;
	return false;
}

#define CHECK_DIAG(d, sev, sub)                                              \
	do {                                                                 \
		bool found_ = has_diag((d), (sev), (sub));                   \
		CHECK(found_ && #sev " " sub);                               \
		if (!found_)                                                 \
			dump(d);                                             \
	} while (0)

/* Compiled with neither error nor warning. */
#define CHECK_CLEAN(f)                                                       \
	do {                                                                 \
		CHECK((f)->img != NULL);                                     \
		CHECK_INT((f)->d.n_errors, 0);                               \
		CHECK_INT((f)->d.n_warnings, 0);                             \
		if (!(f)->img || (f)->d.n_errors || (f)->d.n_warnings)       \
			dump(&(f)->d);                                       \
	} while (0)

static struct dg_subject_id who(uint32_t uid, uint32_t gid, const char *cgroup)
{
	struct dg_subject_id w = { .uid = uid, .gid = gid, .cgroup = cgroup };
	return w;
}

static struct dg_subject_id who_groups(uint32_t uid, uint32_t gid, const uint32_t *groups,
				       size_t n, const char *cgroup)
{
	struct dg_subject_id w = { .uid = uid, .gid = gid, .groups = groups, .n_groups = n,
				   .cgroup = cgroup };
	return w;
}

static void verdict_check(const char *file, int line, const struct dg_image *img,
			  struct dg_subject_id w, const char *dest, uint32_t op, bool allowed,
			  uint32_t rule, unsigned int ep)
{
	struct dg_verdict v;

	if (!img) {
		fprintf(stderr, "%s:%d: no image\n", file, line);
		dg_test_failed_checks++;
		return;
	}
	memset(&v, 0xa5, sizeof(v));
	dg_image_evaluate(img, &w, dest, op, &v);
	if (v.allowed == allowed && v.rule == rule && v.ep == ep)
		return;
	fprintf(stderr,
		"%s:%d: check failed: %s %s by uid %u gid %u (+%zu groups) in %s: "
		"got %s rule %u ep %u, want %s rule %u ep %u\n",
		file, line, op == BIND ? "bind" : "connect", dest, w.uid, w.gid, w.n_groups,
		w.cgroup ? w.cgroup : "(null)", v.allowed ? "allow" : "deny", v.rule, v.ep,
		allowed ? "allow" : "deny", rule, ep);
	dg_test_failed_checks++;
}

/* CHECK_V(img, who, dest, op, allowed, rule, ep) */
#define CHECK_V(img, w, dest, op, allowed, rule, ep) \
	verdict_check(__FILE__, __LINE__, (img), (w), (dest), (op), (allowed), (rule), (ep))

/* Judged or not, besides the verdict. */
static bool judged(const struct dg_image *img, struct dg_subject_id w, const char *dest,
		   uint32_t op)
{
	struct dg_verdict v;
	dg_image_evaluate(img, &w, dest, op, &v);
	return v.judged;
}

static bool bm_test(const struct dg_image *img, uint32_t bm, size_t r)
{
	return (img->bitmaps[bm].w[r / 64] >> (r % 64)) & 1;
}

/* Bitmap `bm` holds exactly the rules listed (terminated by -1). */
static bool bm_is(const struct dg_image *img, uint32_t bm, const int *rules)
{
	struct dg_bitmap want = { 0 };

	if (bm >= img->n_bitmaps)
		return false;
	for (const int *r = rules; *r >= 0; r++)
		want.w[*r / 64] |= 1ULL << (*r % 64);
	return !memcmp(&img->bitmaps[bm], &want, sizeof(want));
}

#define BITS(...) ((const int[]){ __VA_ARGS__, -1 })
#define NOBITS ((const int[]){ -1 })

/* Invariants every image holds: interning, sorted disjoint uid intervals,
 * sorted unique gids, bitmap indexes in range, a consistent cgroup trie. */
static void check_image_invariants(const char *file, int line, const struct dg_image *img)
{
	int before = dg_test_failed_checks;

	if (!img)
		return;
	CHECK(img->n_bitmaps >= 1);
	struct dg_bitmap empty = { 0 };
	CHECK(img->n_bitmaps && !memcmp(&img->bitmaps[0], &empty, sizeof(empty)));
	for (size_t i = 0; i < img->n_bitmaps; i++)
		for (size_t j = i + 1; j < img->n_bitmaps; j++)
			CHECK(memcmp(&img->bitmaps[i], &img->bitmaps[j], sizeof(empty)) != 0);
	/* no bit beyond the rules */
	for (size_t i = 0; i < img->n_bitmaps; i++)
		for (size_t r = img->n_rules; r < DG_MAX_RULES; r++)
			if (bm_test(img, (uint32_t)i, r)) {
				CHECK(!"bit set past the last rule");
				break;
			}
	CHECK_INT(img->hdr.nwords, img->n_rules ? (img->n_rules + 63) / 64 : 1);
	CHECK(img->hdr.uid_default_bm < img->n_bitmaps);
	CHECK(img->hdr.gid_default_bm < img->n_bitmaps);
	CHECK(img->hdr.cgroup_root_bm < img->n_bitmaps);
	for (size_t i = 0; i < img->n_uids; i++) {
		CHECK(img->uids[i].lo <= img->uids[i].hi);
		CHECK(img->uids[i].bm < img->n_bitmaps);
		if (i)
			CHECK(img->uids[i - 1].hi < img->uids[i].lo);
	}
	for (size_t i = 0; i < img->n_gids; i++) {
		CHECK(img->gids[i].bm < img->n_bitmaps);
		if (i)
			CHECK(img->gids[i - 1].gid < img->gids[i].gid);
	}
	for (size_t i = 0; i < img->n_cgroups; i++) {
		const struct dg_cgroup_entry *c = &img->cgroups[i];
		CHECK(c->node.bm < img->n_bitmaps);
		CHECK(c->node.id != 0);
		CHECK(c->key.parent < c->node.id);
		CHECK(c->key.name[0] != '\0');
		/* a node's bitmap includes its parent's */
		const struct dg_bitmap *pb = &img->bitmaps[img->hdr.cgroup_root_bm];
		for (size_t k = 0; k < img->n_cgroups; k++)
			if (img->cgroups[k].node.id == c->key.parent)
				pb = &img->bitmaps[img->cgroups[k].node.bm];
		for (size_t w = 0; w < DG_BITMAP_WORDS; w++)
			CHECK((pb->w[w] & ~img->bitmaps[c->node.bm].w[w]) == 0);
		for (size_t k = 0; k < i; k++)
			CHECK(!(img->cgroups[k].key.parent == c->key.parent &&
				!strcmp(img->cgroups[k].key.name, c->key.name)));
	}
	for (size_t e = 1; e <= img->n_endpoints; e++) {
		CHECK(img->endpoints[e].info.connect_bm < img->n_bitmaps);
		CHECK(img->endpoints[e].info.listen_bm < img->n_bitmaps);
	}
	for (size_t i = 0; i < img->n_tcp; i++)
		CHECK(img->tcp[i].ep >= 1 && img->tcp[i].ep <= img->n_endpoints);
	if (dg_test_failed_checks != before)
		fprintf(stderr, "%s:%d: image invariants do not hold\n", file, line);
}

#define CHECK_INVARIANTS(img) check_image_invariants(__FILE__, __LINE__, (img))

static const struct dg_uid_interval *uid_interval(const struct dg_image *img, uint32_t uid)
{
	for (size_t i = 0; i < img->n_uids; i++)
		if (img->uids[i].lo <= uid && uid <= img->uids[i].hi)
			return &img->uids[i];
	return NULL;
}

static const struct dg_gid_entry *gid_entry(const struct dg_image *img, uint32_t gid)
{
	for (size_t i = 0; i < img->n_gids; i++)
		if (img->gids[i].gid == gid)
			return &img->gids[i];
	return NULL;
}

/* The trie node for `path` (absolute, normalized), NULL if absent. */
static const struct dg_cgroup_entry *cgroup_node(const struct dg_image *img, const char *path)
{
	const struct dg_cgroup_entry *found = NULL;
	uint32_t parent = 0;
	char *copy = xstrdup(path), *save = NULL;

	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		found = NULL;
		for (size_t i = 0; i < img->n_cgroups && !found; i++)
			if (img->cgroups[i].key.parent == parent &&
			    !strcmp(img->cgroups[i].key.name, c))
				found = &img->cgroups[i];
		if (!found)
			break;
		parent = found->node.id;
	}
	free(copy);
	return found;
}

static int find_ep(const struct dg_image *img, const char *dest, uint32_t op)
{
	struct dg_tcp_key k;
	char path[DG_UNIX_NAME_LEN + 1];
	bool is_unix = false;

	if (dg_parse_dest(dest, &k, path, sizeof(path), &is_unix))
		return -1;
	return dg_image_find_endpoint(img, &k, path, is_unix, op);
}

static const struct dg_port_entry *port_of(const struct dg_image *img, uint16_t port)
{
	for (size_t i = 0; i < img->n_ports; i++)
		if (img->ports[i].port == port)
			return &img->ports[i];
	return NULL;
}

/* A growing text buffer for generated policies. */
struct text {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = xvasprintf(fmt, ap);
	va_end(ap);
	size_t n = strlen(m);
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = xreallocarray(t->s, t->cap, 1);
	}
	memcpy(t->s + t->len, m, n + 1);
	t->len += n;
	free(m);
}

/* ---- first match, default, rule indexes -------------------------------- */

TEST(compile_first_match_and_indexes)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"	/* 1 */
		"allow api from user 10\n"		/* rule 0 */
		"deny api from user 10-20\n"		/* rule 1 */
		"audit api from user 15-30\n"		/* rule 2 */
		"deny quiet api from user 25\n"		/* rule 3 */
		"allow log api from user 0-100\n"	/* rule 4 */
		"deny api\n");				/* rule 5 */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->n_rules, 6);
	CHECK_INT(img->n_endpoints, 1);
	CHECK_STR(img->endpoints[1].name, "api");
	CHECK_V(img, who(10, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	CHECK_V(img, who(11, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 1, 1);
	CHECK_V(img, who(20, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 1, 1);
	CHECK_V(img, who(21, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 2, 1);
	CHECK_V(img, who(25, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 2, 1);
	CHECK_V(img, who(31, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 4, 1);
	CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 4, 1);
	CHECK_V(img, who(100, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 4, 1);
	CHECK_V(img, who(101, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 5, 1);
	CHECK_V(img, who(4294967294u, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 5, 1);
	/* not protected: allowed, no rule, no endpoint, not judged */
	CHECK_V(img, who(101, 0, "/"), "tcp:127.0.0.1:2376", CONNECT, true, DEF, 0);
	CHECK(!judged(img, who(101, 0, "/"), "tcp:127.0.0.1:2376", CONNECT));
	CHECK(judged(img, who(101, 0, "/"), "tcp:127.0.0.1:2375", CONNECT));

	/* actions, flags and origins */
	CHECK_INT(img->rules[0].action, DG_ACT_ALLOW);
	CHECK_INT(img->rules[0].flags, 0);
	CHECK_INT(img->rules[1].action, DG_ACT_DENY);
	CHECK_INT(img->rules[1].flags, 0);
	CHECK_INT(img->rules[2].action, DG_ACT_ALLOW);
	CHECK_INT(img->rules[2].flags, DG_RULE_LOG | DG_RULE_AUDIT);	/* audit: its events say so */
	CHECK_INT(img->rules[3].action, DG_ACT_DENY);
	CHECK_INT(img->rules[3].flags, DG_RULE_QUIET);
	CHECK_INT(img->rules[4].action, DG_ACT_ALLOW);
	CHECK_INT(img->rules[4].flags, DG_RULE_LOG);
	CHECK_INT(img->rules[5].action, DG_ACT_DENY);
	for (size_t r = 0; r < 6; r++) {
		CHECK_STR(img->origins[r].file, "test.conf");
		CHECK_INT(img->origins[r].line, r + 2);
	}
	CHECK_INT(img->origins[2].action, DG_ACTION_AUDIT);
	CHECK_INT(img->hdr.default_action, DG_ACT_DENY);
	CHECK_INT(img->hdr.default_log, 1);
	CHECK_INT(img->hdr.nwords, 1);
	CHECK_INT(img->hdr.flags, DG_POL_UIDS);
	/* rule 5 has no user constraint: it is the uid default */
	CHECK(bm_is(img, img->hdr.uid_default_bm, BITS(5)));
	CHECK(bm_is(img, img->hdr.gid_default_bm, BITS(0, 1, 2, 3, 4, 5)));
	CHECK(bm_is(img, img->hdr.cgroup_root_bm, BITS(0, 1, 2, 3, 4, 5)));
	CHECK(bm_is(img, img->endpoints[1].info.connect_bm, BITS(0, 1, 2, 3, 4, 5)));
	CHECK_INT(img->endpoints[1].info.listen_bm, 0);
out:
	fixture_free(&f);
}

TEST(compile_default_deny_vs_audit)
{
	static const char *const policies[2] = {
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from user 1000\n",
		"endpoint api tcp 127.0.0.1:2375\n"
		"set default audit\n"
		"allow api from user 1000\n"
		"deny api from user 2000\n",
	};
	for (int i = 0; i < 2; i++) {
		struct fixture f;
		struct dg_image *img = build(&f, policies[i]);
		bool audit = i == 1;

		CHECK_CLEAN(&f);
		if (!img) {
			fixture_free(&f);
			continue;
		}
		CHECK_INVARIANTS(img);
		CHECK_INT(img->hdr.default_action, audit ? DG_ACT_ALLOW : DG_ACT_DENY);
		CHECK_INT(img->hdr.default_log, 1);
		CHECK_V(img, who(1000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
		CHECK_V(img, who(1001, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, audit, DEF, 1);
		CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, audit, DEF, 1);
		CHECK(judged(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT));
		if (audit)
			CHECK_V(img, who(2000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 1, 1);
		fixture_free(&f);
	}
}

/* Rules across several bitmap words: indexes 63/64, 127/128, and first match. */
TEST(compile_rule_indexes_across_words)
{
	struct text t = { 0 };
	struct fixture f;

	text_add(&t, "endpoint api tcp 127.0.0.1:2375\n");
	for (int r = 0; r < 300; r++)
		text_add(&t, "%s api from user %d\n", r % 2 ? "deny" : "allow", 1000 + r);
	/* rule 300: everyone in 1000-1999; rule 301: everyone */
	text_add(&t, "allow api from user 1000-1999\n");
	text_add(&t, "deny api\n");
	struct dg_image *img = build(&f, t.s);

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->n_rules, 302);
	CHECK_INT(img->hdr.nwords, 5);
	static const uint32_t probe[] = { 0, 1, 62, 63, 64, 65, 127, 128, 191, 192, 255, 256, 299 };
	for (size_t i = 0; i < ARRAY_SIZE(probe); i++)
		CHECK_V(img, who(1000 + probe[i], 0, "/"), "tcp:127.0.0.1:2375", CONNECT,
			probe[i] % 2 == 0, probe[i], 1);
	CHECK_V(img, who(1300, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 300, 1);
	CHECK_V(img, who(1999, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 300, 1);
	CHECK_V(img, who(999, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 301, 1);
	CHECK_V(img, who(2000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 301, 1);
	/* each single-uid interval: that rule, rule 300 and rule 301 */
	const struct dg_uid_interval *iv = uid_interval(img, 1064);
	CHECK(iv && iv->lo == 1064 && iv->hi == 1064 && bm_is(img, iv->bm, BITS(64, 300, 301)));
	iv = uid_interval(img, 1500);
	CHECK(iv && iv->lo == 1300 && iv->hi == 1999 && bm_is(img, iv->bm, BITS(300, 301)));
out:
	fixture_free(&f);
	free(t.s);
}

/* ---- uids ---------------------------------------------------------------- */

TEST(compile_uid_interval_sweep)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from user 10-20\n"			/* 0 */
		"deny api from user 15-30\n"			/* 1 */
		"allow api from user 25\n"			/* 2 */
		"allow api from user { 40, 41, 42, 50-60, 55-70 }\n"	/* 3: merged */
		"deny api\n");					/* 4 */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	/* [10,14] {0,4}  [15,20] {0,1,4}  [21,24] {1,4}  [25] {1,2,4}  [26,30] {1,4}
	 * [40,42] {3,4}  [50,70] {3,4} */
	const struct { uint32_t lo, hi; const int *bits; } want[] = {
		{ 10, 14, BITS(0, 4) }, { 15, 20, BITS(0, 1, 4) }, { 21, 24, BITS(1, 4) },
		{ 25, 25, BITS(1, 2, 4) }, { 26, 30, BITS(1, 4) },
		{ 40, 42, BITS(3, 4) }, { 50, 70, BITS(3, 4) },
	};
	CHECK_INT(img->n_uids, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want) && i < img->n_uids; i++) {
		CHECK_INT(img->uids[i].lo, want[i].lo);
		CHECK_INT(img->uids[i].hi, want[i].hi);
		CHECK(bm_is(img, img->uids[i].bm, want[i].bits));
	}
	/* identical sets share one bitmap */
	if (img->n_uids == ARRAY_SIZE(want)) {
		CHECK_INT(img->uids[2].bm, img->uids[4].bm);
		CHECK_INT(img->uids[5].bm, img->uids[6].bm);
	}
	CHECK(bm_is(img, img->hdr.uid_default_bm, BITS(4)));

	CHECK_V(img, who(9, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 4, 1);
	CHECK_V(img, who(10, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	CHECK_V(img, who(20, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	CHECK_V(img, who(21, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 1, 1);
	CHECK_V(img, who(25, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 1, 1);
	CHECK_V(img, who(31, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 4, 1);
	CHECK_V(img, who(42, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
	CHECK_V(img, who(43, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 4, 1);
	CHECK_V(img, who(62, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
	CHECK_V(img, who(70, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
	CHECK_V(img, who(71, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 4, 1);
out:
	fixture_free(&f);
}

TEST(compile_uid_boundaries)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from user 0\n"				/* 0 */
		"allow api from user 4294967294\n"			/* 1 */
		"deny api from user 4294967290-4294967294\n"		/* 2 */
		"audit api from user 0-4294967294\n");			/* 3 */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	CHECK_V(img, who(1, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
	CHECK_V(img, who(4294967289u, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
	CHECK_V(img, who(4294967290u, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 2, 1);
	CHECK_V(img, who(4294967293u, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 2, 1);
	CHECK_V(img, who(4294967294u, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 1, 1);
	/* (uid_t)-1 is no uid: nothing matches it */
	CHECK_V(img, who(4294967295u, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
	CHECK_INT(img->n_uids, 4);
	if (img->n_uids == 4) {
		CHECK_INT(img->uids[0].lo, 0);
		CHECK_INT(img->uids[0].hi, 0);
		CHECK(bm_is(img, img->uids[0].bm, BITS(0, 3)));
		CHECK_INT(img->uids[1].lo, 1);
		CHECK_INT(img->uids[1].hi, 4294967289u);
		CHECK(bm_is(img, img->uids[1].bm, BITS(3)));
		CHECK_INT(img->uids[2].lo, 4294967290u);
		CHECK_INT(img->uids[2].hi, 4294967293u);
		CHECK(bm_is(img, img->uids[2].bm, BITS(2, 3)));
		CHECK_INT(img->uids[3].lo, 4294967294u);
		CHECK_INT(img->uids[3].hi, 4294967294u);
		CHECK(bm_is(img, img->uids[3].bm, BITS(1, 2, 3)));
	}
	CHECK_INT(img->hdr.uid_default_bm, 0);
out:
	fixture_free(&f);
}

TEST(compile_uid_intersection)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from user 100-200 user 150-300\n"		/* 0: 150-200 */
		"allow api from user { 1-5, 10-20, 30 } user { 3-12, 30-40 }\n" /* 1: 3-5,10-12,30 */
		"allow api from user 1000-1010 user 2000\n");		/* 2: nobody */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	static const struct { uint32_t uid; uint32_t rule; } cases[] = {
		{ 99, DEF }, { 100, DEF }, { 149, DEF }, { 150, 0 }, { 200, 0 }, { 201, DEF },
		{ 300, DEF }, { 2, DEF }, { 3, 1 }, { 5, 1 }, { 6, DEF }, { 9, DEF }, { 10, 1 },
		{ 12, 1 }, { 13, DEF }, { 20, DEF }, { 30, 1 }, { 31, DEF }, { 40, DEF },
		{ 1000, DEF }, { 1005, DEF }, { 2000, DEF },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_V(img, who(cases[i].uid, 0, "/"), "tcp:127.0.0.1:2375", CONNECT,
			cases[i].rule != DEF, cases[i].rule, 1);
	/* rule 2 is constrained (not in the default) but has no interval */
	CHECK(!bm_test(img, img->hdr.uid_default_bm, 2));
	for (size_t i = 0; i < img->n_uids; i++)
		CHECK(!bm_test(img, img->uids[i].bm, 2));
	CHECK_INT(img->n_uids, 4);	/* 3-5, 10-12, 30, 150-200 */
out:
	fixture_free(&f);
}

/* A remap user with two subordinate ranges: container uids past the first
 * range's size map into the second, and `remapped` covers both. */
TEST(compile_remapped_every_range)
{
	static const struct dg_id_range ranges[] = { { 100000, 165535 }, { 300000, 365535 } };
	struct dg_compile_env env = {
		.have_remap_range = true,
		.remap_lo = 100000,
		.remap_hi = 165535,
		.remap_ranges = ranges,
		.n_remap_ranges = 2,
		.remap_user = "dockremap",
	};
	struct fixture f;
	struct dg_image *img = build_env(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"deny api from remapped\n"
		"allow api from any\n", &env);

	CHECK_CLEAN(&f);
	if (img) {
		CHECK_V(img, who(100000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 0, 1);
		CHECK_V(img, who(165535, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 0, 1);
		CHECK_V(img, who(300000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 0, 1);
		CHECK_V(img, who(365535, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 0, 1);
		CHECK_V(img, who(200000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 1, 1);
		CHECK_V(img, who(365536, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 1, 1);
	}
	fixture_free(&f);
}

TEST(compile_remapped)
{
	struct dg_compile_env env = {
		.have_remap_range = true,
		.remap_lo = 100000,
		.remap_hi = 165535,
		.remap_user = "dockremap",
	};
	const char *text =
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from remapped user 100000-100010\n"	/* 0: 100000-100010 */
		"allow api from user 99990-100002 remapped\n"	/* 1: 100000-100002 */
		"deny api from remapped\n"			/* 2: 100000-165535 */
		"allow api from user 0-200000\n";		/* 3 */
	struct fixture f;
	struct dg_image *img = build_env(&f, text, &env);

	CHECK_CLEAN(&f);
	if (img) {
		CHECK_INVARIANTS(img);
		CHECK_V(img, who(99999, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
		CHECK_V(img, who(100000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
		CHECK_V(img, who(100010, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
		CHECK_V(img, who(100011, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 2, 1);
		CHECK_V(img, who(165535, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 2, 1);
		CHECK_V(img, who(165536, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
		CHECK_V(img, who(200001, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
		const struct dg_uid_interval *iv = uid_interval(img, 100001);
		CHECK(iv && iv->lo == 100000 && iv->hi == 100002 &&
		      bm_is(img, iv->bm, BITS(0, 1, 2, 3)));
	}
	fixture_free(&f);

	/* Without a range: a warning that says why, and the rules match nobody. */
	img = build(&f, text);
	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	CHECK_INT(f.d.n_warnings, 3);
	CHECK_DIAG(&f.d, DG_WARNING, "'remapped' matches nobody");
	CHECK_DIAG(&f.d, DG_WARNING, "test: no daemon.json");
	if (img) {
		CHECK_INVARIANTS(img);
		CHECK_V(img, who(100000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
		CHECK_V(img, who(165535, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 3, 1);
		CHECK_V(img, who(300000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
		for (size_t i = 0; i < img->n_uids; i++)
			for (size_t r = 0; r < 3; r++)
				CHECK(!bm_test(img, img->uids[i].bm, r));
		CHECK(!bm_test(img, img->hdr.uid_default_bm, 2));
	}
	fixture_free(&f);

	/* No reason given: a generic one, still a warning. */
	struct dg_compile_env bare = { 0 };
	img = build_env(&f, "endpoint api tcp 127.0.0.1:2375\ndeny api from remapped\n", &bare);
	CHECK(img != NULL);
	CHECK_INT(f.d.n_warnings, 1);
	CHECK_DIAG(&f.d, DG_WARNING, "no remap range");
	if (img)
		CHECK_V(img, who(100000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
	fixture_free(&f);
}

/* ---- groups ---------------------------------------------------------------- */

TEST(compile_groups)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from group 50\n"			/* 0 */
		"allow api from group 60 user 1000\n"		/* 1: AND */
		"deny api from group { 50, 70 }\n"		/* 2 */
		"allow api from user 1000-1001\n"		/* 3 */
		"audit api from user 2000 group { 80, 90 }\n");	/* 4 */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->hdr.flags, DG_POL_UIDS | DG_POL_GIDS);
	CHECK_INT(img->n_gids, 5);
	const struct dg_gid_entry *g = gid_entry(img, 50);
	CHECK(g && bm_is(img, g->bm, BITS(0, 2)));
	g = gid_entry(img, 60);
	CHECK(g && bm_is(img, g->bm, BITS(1)));
	g = gid_entry(img, 70);
	CHECK(g && bm_is(img, g->bm, BITS(2)));
	CHECK(gid_entry(img, 80) && gid_entry(img, 90) &&
	      gid_entry(img, 80)->bm == gid_entry(img, 90)->bm);
	CHECK(bm_is(img, img->hdr.gid_default_bm, BITS(3)));

	const char *api = "tcp:127.0.0.1:2375";
	/* primary gid */
	CHECK_V(img, who(5, 50, "/"), api, CONNECT, true, 0, 1);
	CHECK_V(img, who(5, 70, "/"), api, CONNECT, false, 2, 1);
	CHECK_V(img, who(5, 60, "/"), api, CONNECT, false, DEF, 1);
	CHECK_V(img, who(1000, 60, "/"), api, CONNECT, true, 1, 1);
	CHECK_V(img, who(1000, 70, "/"), api, CONNECT, false, 2, 1);
	CHECK_V(img, who(1001, 60, "/"), api, CONNECT, true, 3, 1);
	CHECK_V(img, who(5, 1, "/"), api, CONNECT, false, DEF, 1);
	/* supplementary groups */
	static const uint32_t g50[] = { 3, 50 }, g60[] = { 60 }, g7080[] = { 70, 80 };
	static const uint32_t g80[] = { 4, 5, 6, 80 };
	CHECK_V(img, who_groups(5, 1, g50, 2, "/"), api, CONNECT, true, 0, 1);
	CHECK_V(img, who_groups(1000, 1, g60, 1, "/"), api, CONNECT, true, 1, 1);
	CHECK_V(img, who_groups(1002, 1, g60, 1, "/"), api, CONNECT, false, DEF, 1);
	CHECK_V(img, who_groups(1000, 50, g60, 1, "/"), api, CONNECT, true, 0, 1);
	CHECK_V(img, who_groups(2000, 1, g7080, 2, "/"), api, CONNECT, false, 2, 1);
	CHECK_V(img, who_groups(2000, 1, g80, 4, "/"), api, CONNECT, true, 4, 1);
	CHECK_V(img, who_groups(2000, 90, NULL, 0, "/"), api, CONNECT, true, 4, 1);
	CHECK_V(img, who_groups(2001, 90, g80, 4, "/"), api, CONNECT, false, DEF, 1);
	/* the user dimension alone does not satisfy a group rule */
	CHECK_V(img, who(2000, 1, "/"), api, CONNECT, false, DEF, 1);
out:
	fixture_free(&f);
}

/*
 * The BPF program gathers at most DG_MAX_GROUP_HITS distinct group bitmaps
 * (egid + supplementary) and denies when a process hits more (fail closed,
 * bpf/verdict.h judge()). dg_image_evaluate() is documented to judge
 * "exactly as the BPF programs do", so `explain` should say deny too.
 * FAILS with the current compile.c: the evaluator ORs every group bitmap and
 * reports the first matching rule (allow) where the kernel denies.
 */
TEST(compile_evaluator_group_overflow_fails_closed_like_bpf)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"set default audit\n"
		"allow api from group 10\n"
		"allow api from group 11\n"
		"allow api from group 12\n"
		"allow api from group 13\n"
		"allow api from group 14\n");

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	static const uint32_t four[] = { 11, 12, 13 }, five[] = { 11, 12, 13, 14 };
	/* four distinct bitmaps: within the limit, first match */
	CHECK_V(img, who_groups(5, 10, four, 3, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	/* five distinct bitmaps: the kernel denies, even with `set default audit` */
	struct dg_verdict v;
	struct dg_subject_id w = who_groups(5, 10, five, 4, "/");
	dg_image_evaluate(img, &w, "tcp:127.0.0.1:2375", CONNECT, &v);
	CHECK(!v.allowed);
	if (v.allowed)
		fprintf(stderr, "  BUG: evaluator allows (rule %u) a process with %d distinct group "
			"bitmaps; the BPF program denies it\n", v.rule, DG_MAX_GROUP_HITS + 1);
out:
	fixture_free(&f);
}

/* ---- cgroups ---------------------------------------------------------------- */

/* A container for a fake Docker answer; every string owned by the set. */
static void add_container(struct dg_container_set *set, const char *name, const char *cgroup)
{
	set->v = xreallocarray(set->v, set->n + 1, sizeof(*set->v));
	struct dg_container *c = &set->v[set->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%064zx", set->n);
	c->name = xstrdup(name);
	c->image = xstrdup("bb:latest");
	c->cgroup = xstrdup(cgroup);
}

/* Containers are matched by `container` subjects only: a cgroup rule above
 * a container's cgroup (--cgroup-parent /trusted) does not reach it. */
TEST(compile_container_cgroups_are_boundaries)
{
	static const char *A = "/trusted/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char *B = "/trusted/docker-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.scope";
	struct dg_container_set set = { 0 };
	add_container(&set, "web", A);
	add_container(&set, "other", B);
	struct dg_compile_env env = { .containers = &set };
	struct fixture f;
	struct dg_image *img = build_env(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from cgroup /trusted\n"		/* 0 */
		"allow api from container name web\n",	/* 1 */
		&env);

	CHECK_CLEAN(&f);
	if (img) {
		const char *api = "tcp:127.0.0.1:2375";
		char *inner = xasprintf("%s/inner", A);
		CHECK_V(img, who(5, 5, "/trusted"), api, CONNECT, true, 0, 1);
		CHECK_V(img, who(5, 5, "/trusted/sub"), api, CONNECT, true, 0, 1);
		CHECK_V(img, who(5, 5, A), api, CONNECT, true, 1, 1);
		CHECK_V(img, who(5, 5, inner), api, CONNECT, true, 1, 1);
		CHECK_V(img, who(5, 5, B), api, CONNECT, false, DEF, 1);
		/* a container the compiler does not know yet */
		CHECK_V(img, who(5, 5, "/trusted/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"),
			api, CONNECT, false, DEF, 1);
		free(inner);
	}
	fixture_free(&f);
	dg_container_set_free(&set);
}

/* Names at which containers mount an endpoint's socket are that container's
 * only, and capped per container: nine containers with 64 mounts each still
 * compile (they used to overflow the unix name table). */
TEST(compile_bind_mount_aliases_scoped_and_capped)
{
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	char *sock = xasprintf("%s/api.sock", dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);

	struct dg_container_set set = { 0 };
	for (int c = 0; c < 9; c++) {
		char *cg = xasprintf("/docker/%064x", c + 1);
		add_container(&set, "mounter", cg);
		free(cg);
		struct dg_container *ct = &set.v[set.n - 1];
		ct->mounts = xcalloc(64, sizeof(*ct->mounts));
		for (int m = 0; m < 64; m++) {
			ct->mounts[m].source = xstrdup(sock);
			ct->mounts[m].destination = xasprintf("/x/innocent%d.sock", m);
		}
		ct->n_mounts = 64;
	}
	char *text = xasprintf("endpoint sock unix %s\nallow sock from user 0\n", sock);
	struct dg_compile_env env = { .containers = &set };
	struct fixture f;
	struct dg_image *img = build_env(&f, text, &env);

	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	if (img) {
		CHECK_INT(img->n_unix, 1);	/* the endpoint's own name only */
		CHECK_INT(img->n_aliases, 9 * DG_MAX_ALIASES_PER_CONTAINER);
		CHECK_INT(img->aliases_left_out, 9 * (64 - DG_MAX_ALIASES_PER_CONTAINER));
		CHECK_STR(img->aliases[0].cgroup, set.v[0].cgroup);
		CHECK_STR(img->aliases[0].name, "innocent0.sock");
	}
	fixture_free(&f);
	free(text);
	dg_container_set_free(&set);
	if (fd >= 0)
		close(fd);
	unlink(sock);
	free(sock);
	dg_test_rmtree(dir);
	free(dir);
}

TEST(compile_cgroup_subtrees)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from cgroup /a\n"				/* 0 */
		"deny api from cgroup /a/b/c cgroup /a\n"		/* 1: /a/b/c */
		"allow api from cgroup /x cgroup /x/y/z\n"		/* 2: /x/y/z */
		"allow api from cgroup { /p, /q } cgroup { /p/1, /q, /r }\n"	/* 3: /p/1, /q */
		"deny api from cgroup /system.slice user 0\n"		/* 4 */
		"allow api from cgroup /\n");				/* 5: everyone */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->hdr.flags, DG_POL_UIDS | DG_POL_CGROUPS);
	CHECK(bm_is(img, img->hdr.cgroup_root_bm, BITS(5)));
	const char *api = "tcp:127.0.0.1:2375";
	static const struct { const char *cg; uint32_t rule; } cases[] = {
		{ "/", 5 }, { NULL, 5 }, { "/a", 0 }, { "/a/b/c", 0 }, { "/a/b/c/d", 0 },
		{ "/ab", 5 }, { "/a.slice", 5 }, { "/b/a", 5 },
		{ "/x", 5 }, { "/x/y", 5 }, { "/x/y/z", 2 }, { "/x/y/z/w", 2 }, { "/x/y/zz", 5 },
		{ "/p", 5 }, { "/p/1", 3 }, { "/p/1/2", 3 }, { "/p/2", 5 }, { "/q", 3 },
		{ "/q/anything", 3 }, { "/r", 5 }, { "/system.slice/foo.service", 5 },
		{ "//a//b", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		CHECK_V(img, who(1000, 0, cases[i].cg), api, CONNECT, true, cases[i].rule, 1);
	/* rule 1 (/a/b/c) is shadowed by rule 0 (/a) but still in the tables (below);
	 * rule 4: root in /system.slice */
	CHECK_V(img, who(0, 0, "/system.slice/docker.service"), api, CONNECT, false, 4, 1);
	CHECK_V(img, who(0, 0, "/system.slicex"), api, CONNECT, true, 5, 1);

	/* the trie: /a/b/c carries rules 0, 1 and 5; /a/b only 0 and 5 */
	const struct dg_cgroup_entry *c = cgroup_node(img, "/a/b/c");
	CHECK(c && bm_is(img, c->node.bm, BITS(0, 1, 5)));
	c = cgroup_node(img, "/a/b");
	CHECK(c && bm_is(img, c->node.bm, BITS(0, 5)));
	c = cgroup_node(img, "/x");
	CHECK(c && bm_is(img, c->node.bm, BITS(5)));
	c = cgroup_node(img, "/x/y/z");
	CHECK(c && bm_is(img, c->node.bm, BITS(2, 5)));
	CHECK(cgroup_node(img, "/r") == NULL);	/* dropped by the intersection */
	CHECK(cgroup_node(img, "/p/1") != NULL);
out:
	fixture_free(&f);
}

TEST(compile_cgroup_disjoint_and_never_matches)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from cgroup /a cgroup /b\n"	/* 0: never */
		"deny api from cgroup /a/x\n");		/* 1 */

	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	CHECK_INT(f.d.n_warnings, 1);
	CHECK_DIAG(&f.d, DG_WARNING, "this rule can never match");
	if (img) {
		CHECK_INVARIANTS(img);
		CHECK(f.d.n && f.d.records[0].loc.line == 2);
		CHECK_V(img, who(0, 0, "/a"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
		CHECK_V(img, who(0, 0, "/b"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
		CHECK_V(img, who(0, 0, "/a/x/y"), "tcp:127.0.0.1:2375", CONNECT, false, 1, 1);
		CHECK(!bm_test(img, img->hdr.cgroup_root_bm, 0));
		for (size_t i = 0; i < img->n_cgroups; i++)
			CHECK(!bm_test(img, img->cgroups[i].node.bm, 0));
	}
	fixture_free(&f);
}

/*
 * The "can never match" warning is skipped for rules with container subjects
 * (resolved later by the daemon). FAILS with the current compile.c: it tests
 * the image-wide img->has_container_rules instead of the rule's own subjects,
 * so one container rule anywhere before silences the warning for every later
 * pure cgroup rule.
 */
TEST(compile_cgroup_never_matches_warning_after_container_rule)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from container name web\n"
		"allow api from cgroup /a cgroup /b\n");

	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	if (img)
		CHECK(img->has_container_rules);
	CHECK_DIAG(&f.d, DG_WARNING, "this rule can never match");
	fixture_free(&f);
}

TEST(compile_unit_resolution)
{
	char *root = dg_test_tmpdir();
	CHECK(root != NULL);
	if (!root)
		return;
	dg_test_systemd_unit(root, "/system.slice/nginx.service");
	dg_test_systemd_unit(root, "/custom.slice");
	dg_test_systemd_unit(root, "/custom.slice/web.service");
	dg_test_mkdirs(root, "/custom.slice/web.service/inner");
	dg_test_systemd_unit(root, "/user.slice/user-1000.slice/user@1000.service/app.slice/deep.service");
	dg_test_systemd_unit(root, "/other.slice");
	/* a file named like a unit is no cgroup */
	char *file = xasprintf("%s/other.slice/file.service", root);
	FILE *fp = fopen(file, "w");
	CHECK(fp != NULL);
	if (fp)
		fclose(fp);
	free(file);

	struct dg_compile_env env = { .cgroup_root = root };
	struct fixture f;
	struct dg_image *img = build_env(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from unit nginx.service\n"	/* 0: found */
		"allow api from unit web.service\n"	/* 1: found in another slice */
		"allow api from unit deep.service\n"	/* 2: five levels down */
		"allow api from unit gone.service\n"	/* 3: default + warning */
		"allow api from unit a-b.slice\n"	/* 4: default slice path + warning */
		"allow api from unit file.service\n"	/* 5: default + warning */
		"deny api from unit custom.slice unit web.service\n"	/* 6: AND, nested */
		"allow api from unit nginx.service unit web.service\n", /* 7: disjoint */
		&env);

	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	CHECK_INT(f.d.n_warnings, 4);
	CHECK_DIAG(&f.d, DG_WARNING, "unit 'gone.service' has no cgroup now; assuming "
				     "/system.slice/gone.service");
	CHECK_DIAG(&f.d, DG_WARNING, "unit 'a-b.slice' has no cgroup now; assuming "
				     "/a.slice/a-b.slice");
	CHECK_DIAG(&f.d, DG_WARNING, "unit 'file.service' has no cgroup now; assuming "
				     "/system.slice/file.service");
	CHECK_DIAG(&f.d, DG_WARNING, "this rule can never match");
	CHECK(!has_diag(&f.d, DG_WARNING, "nginx.service"));
	CHECK(!has_diag(&f.d, DG_WARNING, "web.service"));
	CHECK(!has_diag(&f.d, DG_WARNING, "deep.service"));
	if (img) {
		CHECK_INVARIANTS(img);
		const char *api = "tcp:127.0.0.1:2375";
		CHECK_V(img, who(1, 0, "/system.slice/nginx.service"), api, CONNECT, true, 0, 1);
		CHECK_V(img, who(1, 0, "/custom.slice/web.service"), api, CONNECT, true, 1, 1);
		CHECK_V(img, who(1, 0, "/custom.slice/web.service/inner"), api, CONNECT, true, 1, 1);
		CHECK_V(img, who(1, 0, "/system.slice/web.service"), api, CONNECT, false, DEF, 1);
		CHECK_V(img, who(1, 0, "/user.slice/user-1000.slice/user@1000.service/app.slice/"
				       "deep.service"), api, CONNECT, true, 2, 1);
		CHECK_V(img, who(1, 0, "/system.slice/gone.service"), api, CONNECT, true, 3, 1);
		CHECK_V(img, who(1, 0, "/a.slice/a-b.slice/x.scope"), api, CONNECT, true, 4, 1);
		CHECK_V(img, who(1, 0, "/a-b.slice"), api, CONNECT, false, DEF, 1);
		CHECK_V(img, who(1, 0, "/system.slice/file.service"), api, CONNECT, true, 5, 1);
		CHECK_V(img, who(1, 0, "/other.slice/file.service"), api, CONNECT, false, DEF, 1);
		CHECK_V(img, who(1, 0, "/custom.slice/other.service"), api, CONNECT, false, DEF, 1);
		CHECK(cgroup_node(img, "/custom.slice/web.service") != NULL);
		const struct dg_cgroup_entry *c = cgroup_node(img, "/custom.slice");
		/* rule 6 is /custom.slice ∩ /custom.slice/web.service: not on the slice */
		CHECK(c && !bm_test(img, c->node.bm, 6));
		c = cgroup_node(img, "/custom.slice/web.service");
		CHECK(c && bm_is(img, c->node.bm, BITS(1, 6)));
	}
	fixture_free(&f);
	dg_test_rmtree(root);
	free(root);
}

/* ---- endpoints ---------------------------------------------------------------- */

TEST(compile_tcp_aliases)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api {\n"
		"    tcp 127.0.0.1:2375\n"
		"    tcp [::1]:2375\n"
		"}\n"
		"endpoint five tcp 127.0.0.5:2380\n"
		"endpoint gw tcp 172.17.0.1:2376\n"
		"endpoint six tcp [fd00::1]:2377\n"
		"endpoint all tcp *:2378\n"
		"allow any from user 0\n");

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->n_endpoints, 5);
	static const struct { const char *dest; int ep; } cases[] = {
		{ "tcp:127.0.0.1:2375", 1 },
		{ "tcp:0.0.0.0:2375", 1 },
		{ "tcp:[::ffff:127.0.0.1]:2375", 1 },
		{ "tcp:[::ffff:0.0.0.0]:2375", 1 },
		{ "tcp:[::1]:2375", 1 },
		{ "tcp:[::]:2375", 1 },
		{ "tcp:[0:0:0:0:0:0:0:1]:2375", 1 },
		{ "tcp:127.0.0.2:2375", 0 },
		{ "tcp:10.0.0.1:2375", 0 },
		{ "tcp:127.0.0.1:2376", 0 },
		{ "tcp:127.0.0.5:2380", 2 },
		{ "tcp:[::ffff:127.0.0.5]:2380", 2 },
		{ "tcp:0.0.0.0:2380", 0 },
		{ "tcp:[::]:2380", 0 },
		{ "tcp:127.0.0.1:2380", 0 },
		{ "tcp:172.17.0.1:2376", 3 },
		{ "tcp:[::ffff:172.17.0.1]:2376", 3 },
		{ "tcp:0.0.0.0:2376", 0 },
		{ "tcp:[fd00::1]:2377", 4 },
		{ "tcp:[::]:2377", 0 },
		{ "tcp:0.0.0.0:2377", 0 },
		{ "tcp:1.2.3.4:2378", 5 },
		{ "tcp:0.0.0.0:2378", 5 },
		{ "tcp:127.0.0.1:2378", 5 },
		{ "tcp:[::]:2378", 5 },
		{ "tcp:[2001:db8::7]:2378", 5 },
		{ "tcp:[::ffff:10.1.1.1]:2378", 5 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ep = find_ep(img, cases[i].dest, CONNECT);
		if (ep != cases[i].ep)
			fprintf(stderr, "  %s: endpoint %d, want %d\n", cases[i].dest, ep,
				cases[i].ep);
		CHECK_INT(ep, cases[i].ep);
		if (cases[i].ep) {
			CHECK_V(img, who(0, 0, "/"), cases[i].dest, CONNECT, true, 0,
				(unsigned int)cases[i].ep);
			CHECK_V(img, who(1, 0, "/"), cases[i].dest, CONNECT, false, DEF,
				(unsigned int)cases[i].ep);
		} else {
			CHECK_V(img, who(1, 0, "/"), cases[i].dest, CONNECT, true, DEF, 0);
		}
	}
	/* tables */
	CHECK_INT(img->endpoints[1].info.flags, 0);
	CHECK_INT(img->endpoints[2].info.flags, 0);
	CHECK_INT(img->endpoints[3].info.flags, 0);
	CHECK_INT(img->endpoints[4].info.flags, 0);
	CHECK_INT(img->endpoints[5].info.flags, 0);
	/* 127.0.0.1 + 0.0.0.0 + ::1 + :: + 127.0.0.5 + 172.17.0.1 + fd00::1 */
	CHECK_INT(img->n_tcp, 7);
	/* judged only in the host's netns: the loopback ones, per address */
	for (size_t i = 0; i < img->n_tcp; i++) {
		const uint8_t *a = img->tcp[i].key.addr;
		bool local = (a[10] == 0xff && (a[12] == 127 || (a[12] | a[13] | a[14] | a[15]) == 0)) ||
			     (a[10] == 0 && a[0] == 0 && a[15] <= 1);
		CHECK_INT(img->tcp[i].host_only, local);
	}
	const struct dg_port_entry *pe = port_of(img, 2375);
	CHECK(pe && pe->exact == 1 && pe->any_ep == 0 && pe->bind_ep == 0);
	pe = port_of(img, 2378);
	CHECK(pe && pe->exact == 0 && pe->any_ep == 5);
	CHECK_INT(img->n_ports, 5);
	CHECK(!img->has_unix);
out:
	fixture_free(&f);
}

TEST(compile_unix_by_file_name)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint sock {\n"
		"    unix /var/run/docker.sock\n"
		"    unix /run/docker.sock\n"
		"}\n"
		"endpoint api tcp 127.0.0.1:2375\n"
		"endpoint other unix /run/containerd/containerd.sock\n"
		"allow sock from user 0\n"
		"allow { api, other } from user 1\n");

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK(img->has_unix);
	CHECK(img->endpoints[1].unix_socket);
	CHECK(!img->endpoints[2].unix_socket);
	CHECK(img->endpoints[3].unix_socket);
	CHECK_INT(img->n_unix, 2);
	if (img->n_unix == 2) {
		CHECK_STR(img->unix_names[0].key.name, "docker.sock");
		CHECK_INT(img->unix_names[0].ep, 1);
		CHECK_STR(img->unix_names[1].key.name, "containerd.sock");
		CHECK_INT(img->unix_names[1].ep, 3);
		/* NUL-padded keys: the kernel hashes every byte */
		for (size_t i = strlen("docker.sock"); i < DG_UNIX_NAME_LEN; i++)
			CHECK(img->unix_names[0].key.name[i] == '\0');
	}
	static const struct { const char *dest; int ep; } cases[] = {
		{ "unix:/var/run/docker.sock", 1 },
		{ "unix:/run/docker.sock", 1 },
		{ "unix:/other/dir/docker.sock", 1 },
		{ "unix:docker.sock", 1 },
		{ "unix:./docker.sock", 1 },
		{ "unix:/x/docker.sock.bak", 0 },
		{ "unix:/x/docker.soc", 0 },
		{ "unix:/var/run/docker.sock/", 0 },
		{ "unix:/var/run/", 0 },
		{ "unix:/run/containerd/containerd.sock", 3 },
		{ "tcp:127.0.0.1:2375", 2 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int ep = find_ep(img, cases[i].dest, CONNECT);
		if (ep != cases[i].ep)
			fprintf(stderr, "  %s: endpoint %d, want %d\n", cases[i].dest, ep,
				cases[i].ep);
		CHECK_INT(ep, cases[i].ep);
	}
	CHECK_V(img, who(0, 0, "/"), "unix:/other/dir/docker.sock", CONNECT, true, 0, 1);
	CHECK_V(img, who(1, 0, "/"), "unix:/other/dir/docker.sock", CONNECT, false, DEF, 1);
	CHECK_V(img, who(1, 0, "/"), "unix:/x/docker.sock.bak", CONNECT, true, DEF, 0);
	CHECK_V(img, who(1, 0, "/"), "unix:/run/containerd/containerd.sock", CONNECT, true, 1, 3);
	CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 2);
out:
	fixture_free(&f);
}

/* ---- listeners wider than their endpoint --------------------------------------- */

/* A wildcard listener on a port serves the endpoint with addresses there;
 * with several, the first in file order (what `load` names as judged_as). */
TEST(compile_wide_endpoint_per_port)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint star tcp *:2377\n"
		"endpoint gw tcp 172.17.0.1:2375\n"
		"endpoint api {\n"
		"    tcp 127.0.0.1:2375\n"
		"    tcp [::1]:2376\n"
		"}\n"
		"allow { api, gw, star } from user 0\n");

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK(port_of(img, 2375) && port_of(img, 2375)->wide_ep == 2);	/* gw, first */
	CHECK(port_of(img, 2376) && port_of(img, 2376)->wide_ep == 3);	/* api */
	CHECK(port_of(img, 2377) && port_of(img, 2377)->wide_ep == 0);	/* `*` covers all */
out:
	fixture_free(&f);
}

/* ---- listen rules and binds ------------------------------------------------------ */

TEST(compile_listen_and_bind)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api {\n"
		"    tcp 127.0.0.1:2375\n"
		"    tcp [::1]:2375\n"
		"}\n"
		"endpoint gw tcp 172.17.0.1:2376\n"
		"endpoint star tcp *:2377\n"
		"endpoint sock unix /var/run/docker.sock\n"
		"allow api from user 0\n"		/* 0 */
		"listen api from user 7\n"		/* 1 */
		"allow { gw, star, sock } from user 0\n"	/* 2 */
		"listen star from user { 7, 8 }\n"	/* 3 */
		"listen api from user 9\n");		/* 4 */

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->endpoints[1].info.flags, DG_EP_HAS_LISTEN);
	CHECK_INT(img->endpoints[2].info.flags, 0);
	CHECK_INT(img->endpoints[3].info.flags, DG_EP_HAS_LISTEN);
	CHECK_INT(img->endpoints[4].info.flags, 0);
	CHECK(bm_is(img, img->endpoints[1].info.connect_bm, BITS(0)));
	CHECK(bm_is(img, img->endpoints[1].info.listen_bm, BITS(1, 4)));
	CHECK(bm_is(img, img->endpoints[3].info.connect_bm, BITS(2)));
	CHECK(bm_is(img, img->endpoints[3].info.listen_bm, BITS(3)));
	CHECK_INT(img->endpoints[2].info.listen_bm, 0);
	const struct dg_port_entry *pe = port_of(img, 2375);
	CHECK(pe && pe->bind_ep == 1);
	pe = port_of(img, 2376);
	CHECK(pe && pe->bind_ep == 0);
	pe = port_of(img, 2377);
	CHECK(pe && pe->bind_ep == 3 && pe->any_ep == 3);

	/* binds of the endpoint's own addresses */
	CHECK_V(img, who(7, 0, "/"), "tcp:127.0.0.1:2375", BIND, true, 1, 1);
	CHECK_V(img, who(9, 0, "/"), "tcp:[::1]:2375", BIND, true, 4, 1);
	CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", BIND, false, DEF, 1);
	CHECK(judged(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", BIND));
	/* wildcard binds take every address of the port: judged by the port's bind endpoint */
	CHECK_V(img, who(7, 0, "/"), "tcp:0.0.0.0:2375", BIND, true, 1, 1);
	CHECK_V(img, who(8, 0, "/"), "tcp:0.0.0.0:2375", BIND, false, DEF, 1);
	CHECK_V(img, who(8, 0, "/"), "tcp:[::]:2375", BIND, false, DEF, 1);
	CHECK_V(img, who(8, 0, "/"), "tcp:[::ffff:0.0.0.0]:2375", BIND, false, DEF, 1);
	CHECK_V(img, who(8, 0, "/"), "tcp:[::ffff:127.0.0.1]:2375", BIND, false, DEF, 1);
	/* other addresses on the port are no endpoint */
	CHECK_V(img, who(8, 0, "/"), "tcp:127.0.0.2:2375", BIND, true, DEF, 0);
	CHECK(!judged(img, who(8, 0, "/"), "tcp:127.0.0.2:2375", BIND));
	/* an endpoint without listen rules: bind is not judged */
	CHECK_V(img, who(8, 0, "/"), "tcp:172.17.0.1:2376", BIND, true, DEF, 2);
	CHECK(!judged(img, who(8, 0, "/"), "tcp:172.17.0.1:2376", BIND));
	CHECK_V(img, who(8, 0, "/"), "tcp:0.0.0.0:2376", BIND, true, DEF, 0);
	CHECK(!judged(img, who(8, 0, "/"), "tcp:0.0.0.0:2376", BIND));
	/* `*` endpoint with listen rules: every address */
	CHECK_V(img, who(8, 0, "/"), "tcp:10.9.8.7:2377", BIND, true, 3, 3);
	CHECK_V(img, who(8, 0, "/"), "tcp:0.0.0.0:2377", BIND, true, 3, 3);
	CHECK_V(img, who(0, 0, "/"), "tcp:[::]:2377", BIND, false, DEF, 3);
	/* listen rules never decide a connect, connect rules never a bind */
	CHECK_V(img, who(7, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
	CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	CHECK_V(img, who(7, 0, "/"), "tcp:0.0.0.0:2375", CONNECT, false, DEF, 1);
	CHECK_V(img, who(7, 0, "/"), "tcp:1.1.1.1:2377", CONNECT, false, DEF, 3);
	CHECK_V(img, who(0, 0, "/"), "tcp:1.1.1.1:2377", CONNECT, true, 2, 3);
out:
	fixture_free(&f);
}

TEST(compile_listen_two_endpoints_one_port)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"endpoint gw tcp 172.17.0.1:2375\n"
		"allow { api, gw } from user 0\n"
		"listen api from user 0\n"
		"listen gw from user 0\n");

	CHECK(img == NULL);
	CHECK_INT(f.d.n_errors, 1);
	CHECK_DIAG(&f.d, DG_ERROR, "endpoints 'api' and 'gw' both have listen rules for port 2375");
	fixture_free(&f);

	/* `listen any` gives both of them listen rules: the same error */
	img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"endpoint gw tcp 172.17.0.1:2375\n"
		"allow { api, gw } from user 0\n"
		"listen any from user 0\n");
	CHECK(img == NULL);
	CHECK_DIAG(&f.d, DG_ERROR, "both have listen rules for port 2375");
	fixture_free(&f);

	/* only one of them with listen rules: fine */
	img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"endpoint gw tcp 172.17.0.1:2375\n"
		"allow { api, gw } from user 0\n"
		"listen gw from user 0\n");
	CHECK_CLEAN(&f);
	if (img) {
		CHECK_INVARIANTS(img);
		const struct dg_port_entry *pe = port_of(img, 2375);
		CHECK(pe && pe->bind_ep == 2);
		CHECK_V(img, who(1, 0, "/"), "tcp:0.0.0.0:2375", BIND, false, DEF, 2);
		CHECK_V(img, who(1, 0, "/"), "tcp:127.0.0.1:2375", BIND, true, DEF, 1);
		CHECK_V(img, who(0, 0, "/"), "tcp:0.0.0.0:2375", BIND, true, 1, 2);
		/* a connect to 0.0.0.0 is still the loopback endpoint's */
		CHECK_V(img, who(1, 0, "/"), "tcp:0.0.0.0:2375", CONNECT, false, DEF, 1);
	}
	fixture_free(&f);

	/* two endpoints, listen rules on different ports: fine */
	img = build(&f,
		"endpoint api { tcp 127.0.0.1:2375, tcp [::1]:2375 }\n"
		"endpoint gw tcp 172.17.0.1:2376\n"
		"allow { api, gw } from user 0\n"
		"listen any from user 0\n");
	CHECK_CLEAN(&f);
	if (img) {
		CHECK(port_of(img, 2375) && port_of(img, 2375)->bind_ep == 1);
		CHECK(port_of(img, 2376) && port_of(img, 2376)->bind_ep == 2);
	}
	fixture_free(&f);
}

/* localhost is 127.0.0.1 and ::1: a listen rule on one loopback address of a
 * port covers the other, unless another endpoint names it. */
TEST(compile_listen_takes_the_other_loopback_family)
{
	struct fixture f;
	struct dg_image *img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from user 1\n"
		"listen api from user 0\n");
	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	CHECK_INT(f.d.n_warnings, 1);
	if (img) {
		CHECK_V(img, who(2, 0, "/"), "tcp:[::1]:2375", BIND, false, DEF, 1);
		CHECK_V(img, who(0, 0, "/"), "tcp:[::1]:2375", BIND, true, 1, 1);
		CHECK_V(img, who(2, 0, "/"), "tcp:[::1]:2375", CONNECT, false, DEF, 1);
		CHECK_V(img, who(1, 0, "/"), "tcp:[::]:2375", CONNECT, true, 0, 1);
	}
	fixture_free(&f);

	/* the other way round */
	img = build(&f,
		"endpoint api tcp [::1]:2375\n"
		"allow api from user 1\n"
		"listen api from user 0\n");
	CHECK_INT(f.d.n_warnings, 1);
	if (img) {
		CHECK_V(img, who(2, 0, "/"), "tcp:127.0.0.1:2375", BIND, false, DEF, 1);
		CHECK_V(img, who(2, 0, "/"), "tcp:[::ffff:127.0.0.1]:2375", BIND, false, DEF, 1);
	}
	fixture_free(&f);

	/* no listen rule: nothing added, nothing said */
	img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"allow api from user 1\n");
	CHECK_CLEAN(&f);
	if (img)
		CHECK(!judged(img, who(2, 0, "/"), "tcp:[::1]:2375", DG_OP_BIND));
	fixture_free(&f);

	/* another endpoint names ::1: that one's */
	img = build(&f,
		"endpoint api tcp 127.0.0.1:2375\n"
		"endpoint v6 tcp [::1]:2375\n"
		"allow { api, v6 } from user 1\n"
		"listen api from user 0\n");
	CHECK_CLEAN(&f);
	if (img)
		CHECK_V(img, who(2, 0, "/"), "tcp:[::1]:2375", CONNECT, false, DEF, 2);
	fixture_free(&f);
}

/*
 * An endpoint on the wildcard address collides with the 0.0.0.0 alias that the
 * compiler adds for a 127.0.0.1 endpoint of the same port. compile.c's add_tcp()
 * says "overlaps are parse errors", but the parser only compares addresses as
 * written, so neither reports it: the second endpoint silently loses 0.0.0.0
 * (its rules never judge a connect there). FAILS with the current code.
 */
TEST(compile_alias_collision_is_reported)
{
	struct dg_diag d;
	const char *text =
		"endpoint api tcp 127.0.0.1:2375\n"
		"endpoint wild tcp 0.0.0.0:2375\n"
		"allow api from user 0\n"
		"allow wild from user 1\n";

	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_buffer("test.conf", text, strlen(text), &d);
	struct dg_image *img = p && !d.n_errors ? dg_compile(p, &no_host, &d) : NULL;
	bool reported = d.n_errors > 0;
	int ep = img ? find_ep(img, "tcp:0.0.0.0:2375", CONNECT) : -1;

	CHECK(reported);
	if (!reported)
		fprintf(stderr, "  BUG: endpoint 'wild' (0.0.0.0:2375) is shadowed by the 0.0.0.0 "
			"alias of 'api' without any diagnostic; tcp:0.0.0.0:2375 -> endpoint %d\n",
			ep);
	dg_image_free(img);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- bitmap interning ------------------------------------------------------------- */

TEST(compile_bitmap_interning)
{
	struct text t = { 0 };
	struct fixture f;

	text_add(&t, "endpoint api tcp 127.0.0.1:2375\n"
		     "endpoint sock unix /var/run/docker.sock\n"
		     "allow { api, sock } from user {");
	for (int i = 0; i < 1000; i++)
		text_add(&t, "%s%d", i == 0 ? " " : i % 50 ? ", " : ",\n", 10000 + 2 * i);
	text_add(&t, " }\n");
	struct dg_image *img = build(&f, t.s);

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INVARIANTS(img);
	CHECK_INT(img->n_uids, 1000);
	/* empty, {0} (endpoints, uid intervals, gid default, cgroup root) */
	CHECK_INT(img->n_bitmaps, 2);
	for (size_t i = 0; i < img->n_uids; i++) {
		CHECK_INT(img->uids[i].lo, 10000 + 2 * i);
		CHECK_INT(img->uids[i].hi, 10000 + 2 * i);
		CHECK_INT(img->uids[i].bm, img->uids[0].bm);
	}
	CHECK_INT(img->endpoints[1].info.connect_bm, img->endpoints[2].info.connect_bm);
	CHECK_INT(img->endpoints[1].info.connect_bm, img->uids[0].bm);
	CHECK_INT(img->endpoints[1].info.listen_bm, 0);
	CHECK_INT(img->hdr.uid_default_bm, 0);
	CHECK_V(img, who(10000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 0, 1);
	CHECK_V(img, who(11998, 0, "/"), "unix:/run/docker.sock", CONNECT, true, 0, 2);
	CHECK_V(img, who(10001, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
	CHECK_V(img, who(12000, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
out:
	fixture_free(&f);
	free(t.s);

	/* 200 rules, each the same 3 gids: one gid bitmap for all three */
	memset(&t, 0, sizeof(t));
	text_add(&t, "endpoint api tcp 127.0.0.1:2375\n");
	for (int r = 0; r < 200; r++)
		text_add(&t, "allow api from group { 5, 6, 7 } user %d\n", r);
	img = build(&f, t.s);
	CHECK_CLEAN(&f);
	if (img) {
		CHECK_INVARIANTS(img);
		CHECK_INT(img->n_gids, 3);
		if (img->n_gids == 3) {
			CHECK_INT(img->gids[0].bm, img->gids[1].bm);
			CHECK_INT(img->gids[1].bm, img->gids[2].bm);
		}
		/* empty, all 200 rules (endpoint, gids, cgroup root), 200 single-rule uid sets */
		CHECK_INT(img->n_bitmaps, 202);
		CHECK_V(img, who(199, 6, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 199, 1);
	}
	fixture_free(&f);
	free(t.s);
}

/* ---- limits ------------------------------------------------------------------------ */

TEST(compile_4096_rules)
{
	struct text t = { 0 };
	struct fixture f;

	text_add(&t, "endpoint api tcp 127.0.0.1:2375\n");
	for (int r = 0; r < DG_MAX_RULES; r++)
		text_add(&t, "%s api from user %d\n", r % 3 ? "allow" : "deny", 5000 + r);
	struct dg_image *img = build(&f, t.s);

	CHECK_CLEAN(&f);
	if (!img)
		goto out;
	CHECK_INT(img->n_rules, DG_MAX_RULES);
	CHECK_INT(img->hdr.nwords, DG_BITMAP_WORDS);
	CHECK_INT(img->n_uids, DG_MAX_RULES);
	for (uint32_t r = 0; r < DG_MAX_RULES; r += 97)
		CHECK_V(img, who(5000 + r, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, r % 3 != 0, r, 1);
	CHECK_V(img, who(5000 + 4095, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, 4095, 1);
	CHECK_V(img, who(5000 + 4094, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, 4094, 1);
	CHECK_V(img, who(5000 + 4096, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
	CHECK(bm_test(img, img->endpoints[1].info.connect_bm, 4095));
out:
	fixture_free(&f);
	free(t.s);

	/* one more is refused (by the parser, before the compiler sees it) */
	memset(&t, 0, sizeof(t));
	text_add(&t, "endpoint api tcp 127.0.0.1:2375\n");
	for (int r = 0; r <= DG_MAX_RULES; r++)
		text_add(&t, "allow api from user %d\n", r);
	struct dg_diag d;
	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_buffer("test.conf", t.s, t.len, &d);
	CHECK(p == NULL);
	CHECK(d.n_errors > 0);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(t.s);
}

/* Both slots share tcp_dests and unix_names: a policy may use half of each. */
TEST(compile_endpoint_address_limits)
{
	for (int extra = 0; extra < 2; extra++) {
		struct text t = { 0 };
		struct fixture f;
		int n_tcp = 0;

		/* 64 endpoints of 64 addresses: DG_MAX_TCP_DESTS / 2 destinations */
		for (int e = 0; e < 64; e++) {
			text_add(&t, "endpoint t%d {\n", e);
			for (int a = 0; a < 64; a++, n_tcp++)
				text_add(&t, "    tcp 10.%d.%d.1:2375\n", e, a);
			text_add(&t, "}\n");
		}
		if (extra) {
			text_add(&t, "endpoint one tcp 10.200.0.1:2375\n");
			n_tcp++;
		}
		text_add(&t, "allow any from user 0\n");
		struct dg_image *img = build(&f, t.s);
		if (!extra) {
			CHECK_CLEAN(&f);
			CHECK(img && img->n_tcp == DG_MAX_TCP_DESTS / DG_SLOTS);
			if (img)
				CHECK_V(img, who(0, 0, "/"), "tcp:10.63.63.1:2375", CONNECT, true, 0, 64);
		} else {
			CHECK(img == NULL);
			CHECK_DIAG(&f.d, DG_ERROR, "too many endpoint addresses");
		}
		CHECK_INT(n_tcp, DG_MAX_TCP_DESTS / DG_SLOTS + extra);
		fixture_free(&f);
		free(t.s);
	}

	/* aliases count: 2048 loopback addresses are 4096 destinations with 0.0.0.0 */
	for (int extra = 0; extra < 2; extra++) {
		struct text t = { 0 };
		struct fixture f;

		for (int e = 0; e < 32 + extra; e++) {
			text_add(&t, "endpoint l%d {\n", e);
			for (int a = 0; a < 64; a++)
				text_add(&t, "    tcp 127.0.0.1:%d\n", 1000 + e * 64 + a);
			text_add(&t, "}\n");
		}
		text_add(&t, "allow any from user 0\n");
		struct dg_image *img = build(&f, t.s);
		if (!extra) {
			CHECK_CLEAN(&f);
			CHECK(img && img->n_tcp == DG_MAX_TCP_DESTS / DG_SLOTS);
			if (img)
				CHECK_V(img, who(1, 0, "/"), "tcp:0.0.0.0:3047", CONNECT, false, DEF, 32);
		} else {
			CHECK(img == NULL);
			CHECK_DIAG(&f.d, DG_ERROR, "too many endpoint addresses");
		}
		fixture_free(&f);
		free(t.s);
	}

	/* unix file names: DG_MAX_UNIX_NAMES / 2 */
	for (int extra = 0; extra < 2; extra++) {
		struct text t = { 0 };
		struct fixture f;

		for (int e = 0; e < 8; e++) {
			text_add(&t, "endpoint u%d {\n", e);
			for (int a = 0; a < 64; a++)
				text_add(&t, "    unix /run/s/%d-%d.sock\n", e, a);
			text_add(&t, "}\n");
		}
		if (extra)
			text_add(&t, "endpoint last unix /run/last.sock\n");
		text_add(&t, "allow any from user 0\n");
		struct dg_image *img = build(&f, t.s);
		if (!extra) {
			CHECK_CLEAN(&f);
			CHECK(img && img->n_unix == DG_MAX_UNIX_NAMES / DG_SLOTS);
			if (img)
				CHECK_V(img, who(0, 0, "/"), "unix:/x/7-63.sock", CONNECT, true, 0, 8);
		} else {
			CHECK(img == NULL);
			CHECK_DIAG(&f.d, DG_ERROR, "too many endpoint addresses");
		}
		fixture_free(&f);
		free(t.s);
	}
}

TEST(compile_parse_dest)
{
	struct dg_tcp_key k;
	char path[DG_UNIX_NAME_LEN + 1];
	bool is_unix;
	static const uint8_t v6_loop[16] = { [15] = 1 };
	static const uint8_t v4_loop[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	static const uint8_t v4_1234[16] = { [10] = 0xff, [11] = 0xff, 1, 2, 3, 4 };

	CHECK_INT(dg_parse_dest("tcp:[::1]:2375", &k, path, sizeof(path), &is_unix), 0);
	CHECK(!is_unix && !memcmp(k.addr, v6_loop, 16) && k.port == 2375 && k.pad == 0);
	CHECK_INT(dg_parse_dest("tcp:127.0.0.1:2375", &k, path, sizeof(path), &is_unix), 0);
	CHECK(!is_unix && !memcmp(k.addr, v4_loop, 16) && k.port == 2375);
	CHECK_INT(dg_parse_dest("tcp:[::ffff:127.0.0.1]:2375", &k, path, sizeof(path), &is_unix), 0);
	CHECK(!memcmp(k.addr, v4_loop, 16));
	CHECK_INT(dg_parse_dest("tcp:1.2.3.4:65535", &k, path, sizeof(path), &is_unix), 0);
	CHECK(!memcmp(k.addr, v4_1234, 16) && k.port == 65535);
	CHECK_INT(dg_parse_dest("tcp:1.2.3.4:1", &k, path, sizeof(path), &is_unix), 0);
	CHECK_INT(dg_parse_dest("unix:/var/run/docker.sock", &k, path, sizeof(path), &is_unix), 0);
	CHECK(is_unix);
	CHECK_STR(path, "/var/run/docker.sock");
	CHECK_INT(dg_parse_dest("unix:rel.sock", &k, path, sizeof(path), &is_unix), 0);
	CHECK_STR(path, "rel.sock");

	/* a path that fills sun_path is accepted; one more byte is not */
	char longp[5 + DG_UNIX_NAME_LEN + 2];
	memcpy(longp, "unix:", 5);
	memset(longp + 5, 'a', DG_UNIX_NAME_LEN);
	longp[5 + DG_UNIX_NAME_LEN] = '\0';
	CHECK_INT(dg_parse_dest(longp, &k, path, sizeof(path), &is_unix), 0);
	longp[5 + DG_UNIX_NAME_LEN] = 'a';
	longp[5 + DG_UNIX_NAME_LEN + 1] = '\0';
	CHECK_INT(dg_parse_dest(longp, &k, path, sizeof(path), &is_unix), -EINVAL);

	static const char *const bad[] = {
		"tcp:1.2.3.4:0", "tcp:1.2.3.4:65536", "tcp:1.2.3.4:", "tcp:1.2.3.4",
		"tcp:1.2.3.4:-1", "tcp:1.2.3.4:+80", "tcp:1.2.3.4: 80", "tcp:1.2.3.4:80x",
		"tcp::2375", "tcp:::1:2375", "tcp:[::1]2375", "tcp:[::1]:", "tcp:[::1", "tcp:[]:80",
		"tcp:[1.2.3.4]:80", "tcp:localhost:2375", "tcp:1.2.3:80", "tcp:256.1.1.1:80",
		"tcp:*:2375", "unix:", "udp:1.2.3.4:53", "TCP:1.2.3.4:80", "", "garbage",
		"tcp:", "tcp:[fe80::1%eth0]:80",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = dg_parse_dest(bad[i], &k, path, sizeof(path), &is_unix);
		if (r != -EINVAL)
			fprintf(stderr, "  dg_parse_dest(\"%s\") = %d, want -EINVAL\n", bad[i], r);
		CHECK_INT(r, -EINVAL);
	}

	/* the evaluator treats a malformed destination as unprotected */
	struct fixture f;
	struct dg_image *img = build(&f, "endpoint api tcp 127.0.0.1:2375\nallow api from user 0\n");
	if (img) {
		CHECK_V(img, who(1, 0, "/"), "tcp:127.0.0.1:0", CONNECT, true, DEF, 0);
		CHECK_V(img, who(1, 0, "/"), "garbage", CONNECT, true, DEF, 0);
		CHECK(!judged(img, who(1, 0, "/"), "garbage", CONNECT));
	}
	fixture_free(&f);
}

TEST(compile_empty_and_small_policies)
{
	struct fixture f;
	/* endpoints, no rule: everything denied by default */
	struct dg_image *img = build(&f, "endpoint api tcp 127.0.0.1:2375\n");
	CHECK(img != NULL);
	CHECK_INT(f.d.n_errors, 0);
	if (img) {
		CHECK_INVARIANTS(img);
		CHECK_INT(img->n_rules, 0);
		CHECK_INT(img->hdr.nwords, 1);
		CHECK_INT(img->hdr.flags, 0);
		CHECK_INT(img->n_uids, 0);
		CHECK_INT(img->n_gids, 0);
		CHECK_INT(img->n_cgroups, 0);
		CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, false, DEF, 1);
	}
	fixture_free(&f);

	/* nothing at all */
	img = build(&f, "");
	CHECK(img != NULL);
	if (img) {
		CHECK_INT(img->n_endpoints, 0);
		CHECK_V(img, who(0, 0, "/"), "tcp:127.0.0.1:2375", CONNECT, true, DEF, 0);
		CHECK_V(img, who(0, 0, "/"), "unix:/run/docker.sock", CONNECT, true, DEF, 0);
	}
	fixture_free(&f);

	/* `allow any` */
	img = build(&f, "endpoint a tcp 127.0.0.1:1\nendpoint b unix /b.sock\nallow any\n");
	CHECK_CLEAN(&f);
	if (img) {
		CHECK_INVARIANTS(img);
		CHECK_V(img, who(5, 5, "/x"), "tcp:127.0.0.1:1", CONNECT, true, 0, 1);
		CHECK_V(img, who(5, 5, "/x"), "unix:/b.sock", CONNECT, true, 0, 2);
		CHECK_INT(img->n_bitmaps, 2);
	}
	fixture_free(&f);
}

/* ---- the evaluator against the policy as written --------------------------------- */

/* A small deterministic generator (xorshift). */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

enum { G_USER, G_GROUP, G_CGROUP, G_REMAPPED, G_ANY };

struct gsubject {
	int kind;
	uint32_t lo[3], hi[3];
	const char *path[3];
	size_t n;
};

struct grule {
	int action;		/* 0 allow, 1 deny, 2 audit */
	bool ep[2];		/* api, sock */
	struct gsubject s[3];
	size_t n;
};

static const char *const g_paths[] = {
	"/", "/a", "/a/b", "/a/b/c", "/b", "/c/d", "/system.slice/x.service",
};
static const char *const g_probe_paths[] = {
	"/", "/a", "/ab", "/a/b", "/a/bb", "/a/b/c", "/a/b/c/d", "/b", "/b/a", "/c", "/c/d",
	"/c/d/e", "/system.slice", "/system.slice/x.service", "/system.slice/x.service/y",
	"/system.slice/y.service",
};

#define REMAP_LO 40
#define REMAP_HI 50

static bool path_in(const char *path, const char *anc)
{
	size_t n = strlen(anc);
	if (!strcmp(anc, "/"))
		return true;
	return !strncmp(path, anc, n) && (path[n] == '\0' || path[n] == '/');
}

static bool naive_subject(const struct gsubject *s, uint32_t uid, uint32_t gid,
			  const uint32_t *groups, size_t ng, const char *cg)
{
	switch (s->kind) {
	case G_USER:
		for (size_t i = 0; i < s->n; i++)
			if (s->lo[i] <= uid && uid <= s->hi[i])
				return true;
		return false;
	case G_REMAPPED:
		return REMAP_LO <= uid && uid <= REMAP_HI;
	case G_GROUP:
		for (size_t i = 0; i < s->n; i++) {
			if (s->lo[i] == gid)
				return true;
			for (size_t k = 0; k < ng; k++)
				if (s->lo[i] == groups[k])
					return true;
		}
		return false;
	case G_CGROUP:
		for (size_t i = 0; i < s->n; i++)
			if (path_in(cg, s->path[i]))
				return true;
		return false;
	default:
		return true;
	}
}

TEST(compile_evaluator_matches_naive_semantics)
{
	static const struct dg_compile_env env = {
		.have_remap_range = true, .remap_lo = REMAP_LO, .remap_hi = REMAP_HI,
	};
	static const char *const dests[] = {
		"tcp:127.0.0.1:2375", "tcp:0.0.0.0:2375", "tcp:[::ffff:127.0.0.1]:2375",
		"unix:/var/run/docker.sock",
	};
	int mismatches = 0;
	size_t by_rule = 0, by_default = 0;

	rng_state = 0x9e3779b97f4a7c15ULL;
	for (int round = 0; round < 12; round++) {
		size_t n_rules = 5 + rnd(195);
		struct grule *rules = xcalloc(n_rules, sizeof(*rules));
		struct text t = { 0 };
		bool audit = rnd(2);

		text_add(&t, "endpoint api tcp 127.0.0.1:2375\n"
			     "endpoint sock unix /var/run/docker.sock\n%s",
			 audit ? "set default audit\n" : "");
		for (size_t r = 0; r < n_rules; r++) {
			struct grule *g = &rules[r];
			static const char *const act[] = { "allow", "deny", "audit" };
			g->action = (int)rnd(3);
			int e = (int)rnd(4);
			g->ep[0] = e == 0 || e >= 2;
			g->ep[1] = e == 1 || e >= 2;
			text_add(&t, "%s %s from", act[g->action],
				 e == 0 ? "api" : e == 1 ? "sock" : e == 2 ? "{ api, sock }" : "any");
			bool has_group = false, constrained = false;
			g->n = 1 + rnd(3);
			for (size_t s = 0; s < g->n; s++) {
				struct gsubject *gs = &g->s[s];
				do
					gs->kind = (int)rnd(5);
				while (gs->kind == G_GROUP && has_group);
				if (s == g->n - 1 && !constrained && gs->kind == G_ANY)
					gs->kind = G_USER;	/* no unconditional rule */
				if (gs->kind != G_ANY)
					constrained = true;
				gs->n = 1 + rnd(3);
				switch (gs->kind) {
				case G_USER:
					text_add(&t, " user {");
					for (size_t i = 0; i < gs->n; i++) {
						gs->lo[i] = rnd(60);
						gs->hi[i] = rnd(2) ? gs->lo[i] : gs->lo[i] + rnd(15);
						if (gs->lo[i] == gs->hi[i])
							text_add(&t, "%s %u", i ? "," : "", gs->lo[i]);
						else
							text_add(&t, "%s %u-%u", i ? "," : "", gs->lo[i],
								 gs->hi[i]);
					}
					text_add(&t, " }");
					break;
				case G_GROUP:
					has_group = true;
					text_add(&t, " group {");
					for (size_t i = 0; i < gs->n; i++) {
						gs->lo[i] = 100 + (uint32_t)(3 * s + i) * 7 % 20 + rnd(2);
						text_add(&t, "%s %u", i ? "," : "", gs->lo[i]);
					}
					text_add(&t, " }");
					break;
				case G_CGROUP:
					text_add(&t, " cgroup {");
					for (size_t i = 0; i < gs->n; i++) {
						gs->path[i] = g_paths[rnd(ARRAY_SIZE(g_paths))];
						text_add(&t, "%s %s", i ? "," : "", gs->path[i]);
					}
					text_add(&t, " }");
					break;
				case G_REMAPPED:
					text_add(&t, " remapped");
					break;
				default:
					text_add(&t, " any");
					break;
				}
			}
			text_add(&t, "\n");
		}

		struct fixture f;
		memset(&f, 0, sizeof(f));
		dg_diag_init(&f.d);
		f.p = dg_policy_parse_buffer("random.conf", t.s, t.len, &f.d);
		CHECK(f.p != NULL);
		CHECK_INT(f.d.n_errors, 0);
		if (f.p && !f.d.n_errors)
			f.img = dg_compile(f.p, &env, &f.d);
		CHECK(f.img != NULL);
		if (!f.img) {
			dump(&f.d);
			fprintf(stderr, "%s", t.s);
		} else {
			CHECK_INVARIANTS(f.img);
		}

		for (int probe = 0; f.img && probe < 3000 && mismatches < 10; probe++) {
			uint32_t uid = rnd(120), gid = 100 + rnd(24), groups[3];
			size_t ng = rnd(4);
			for (size_t k = 0; k < ng; k++)
				groups[k] = 100 + rnd(24);
			const char *cg = g_probe_paths[rnd(ARRAY_SIZE(g_probe_paths))];
			const char *dest = dests[rnd(ARRAY_SIZE(dests))];
			bool is_sock = dest[0] == 'u';

			uint32_t want_rule = DEF;
			for (size_t r = 0; r < n_rules && want_rule == DEF; r++) {
				const struct grule *g = &rules[r];
				bool m = g->ep[is_sock];
				for (size_t s = 0; s < g->n && m; s++)
					m = naive_subject(&g->s[s], uid, gid, groups, ng, cg);
				if (m)
					want_rule = (uint32_t)r;
			}
			bool want_allowed = want_rule == DEF ? audit : rules[want_rule].action != 1;
			struct dg_subject_id w = who_groups(uid, gid, groups, ng, cg);
			struct dg_verdict v;
			dg_image_evaluate(f.img, &w, dest, CONNECT, &v);
			if (want_rule == DEF)
				by_default++;
			else
				by_rule++;
			/* up to 4 distinct group bitmaps: no overflow case here */
			if (v.rule != want_rule || v.allowed != want_allowed || v.ep != (is_sock ? 2 : 1)) {
				mismatches++;
				fprintf(stderr, "  round %d: uid %u gid %u groups %zu [%u %u %u] cg %s "
					"%s: got rule %u %s, want rule %u %s\n", round, uid, gid, ng,
					ng > 0 ? groups[0] : 0, ng > 1 ? groups[1] : 0,
					ng > 2 ? groups[2] : 0, cg, dest, v.rule,
					v.allowed ? "allow" : "deny", want_rule,
					want_allowed ? "allow" : "deny");
			}
		}
		fixture_free(&f);
		free(t.s);
		free(rules);
	}
	CHECK_INT(mismatches, 0);
	/* the cases were not all alike */
	CHECK(by_rule > 1000);
	CHECK(by_default > 1000);
}
