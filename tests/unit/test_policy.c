// SPDX-License-Identifier: GPL-2.0-only
/* The policy language (dockguard.conf(5)): lexer, parser and semantic checks. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/diag.h"
#include "policy/policy.h"
#include "testing.h"
#include "util/util.h"

/* ---- helpers ----------------------------------------------------------- */

static struct dg_policy *parse(struct dg_diag *d, const char *text)
{
	dg_diag_init(d);
	return dg_policy_parse_buffer("test.conf", text, strlen(text), d);
}

static void dump(const struct dg_diag *d)
{
	fprintf(stderr, "---- diagnostics (%zu errors, %zu warnings):\n", d->n_errors,
		d->n_warnings);
	dg_diag_print(d, stderr, 0);
}

static const struct dg_diag_record *find(const struct dg_diag *d, enum dg_severity sev,
					 unsigned int line, unsigned int col, const char *sub)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct dg_diag_record *r = &d->records[i];
		if (r->severity == sev && r->loc.line == line && r->loc.col == col &&
		    strstr(r->message, sub))
			return r;
	}
	return NULL;
}

/* Checks that a record with that severity, place and text exists. */
#define CHECK_DIAG(d, sev, line, col, sub)                                   \
	do {                                                                 \
		bool found_ = find((d), (sev), (line), (col), (sub)) != NULL; \
		CHECK(found_ && #sev #line #col #sub);                       \
		if (!found_)                                                 \
			dump(d);                                             \
	} while (0)

#define CHECK_ERR(d, line, col, sub) CHECK_DIAG(d, DG_ERROR, line, col, sub)
#define CHECK_WARN(d, line, col, sub) CHECK_DIAG(d, DG_WARNING, line, col, sub)

/* A policy that must parse with no error (and no warning unless allowed). */
#define CHECK_CLEAN(d, p)                                                    \
	do {                                                                 \
		CHECK((p) != NULL);                                          \
		CHECK_INT((d)->n_errors, 0);                                 \
		CHECK_INT((d)->n_warnings, 0);                               \
		if (!(p) || (d)->n_errors || (d)->n_warnings)                \
			dump(d);                                             \
	} while (0)

static bool addr_is_v4(const struct dg_addr *a, const char *ip)
{
	uint8_t want[16] = { [10] = 0xff, [11] = 0xff };
	if (inet_pton(AF_INET, ip, want + 12) != 1)
		return false;
	return a->kind == DG_ADDR_TCP4 && !memcmp(a->addr, want, 16);
}

static bool addr_is_v6(const struct dg_addr *a, const char *ip)
{
	uint8_t want[16];
	if (inet_pton(AF_INET6, ip, want) != 1)
		return false;
	return a->kind == DG_ADDR_TCP6 && !memcmp(a->addr, want, 16);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the spec's example ----------------------------------------------- */

static const char example[] =
	"# endpoints: what is protected\n"
	"endpoint docker-api {\n"
	"    tcp 127.0.0.1:2375\n"
	"    tcp [::1]:2375\n"
	"}\n"
	"endpoint docker-sock unix /var/run/docker.sock\n"
	"endpoint any-2376 tcp *:2376              # port on every address\n"
	"\n"
	"set default deny\n"
	"set log-rate 20/s\n"
	"\n"
	"allow docker-api  from unit nginx.service user nobody\n"
	"allow docker-sock from user root cgroup /system.slice\n"
	"allow log docker-sock from group daemon   # logged\n"
	"allow docker-api  from container service traefik_traefik\n"
	"allow docker-api  from container label com.example.api=ro\n"
	"audit docker-api  from user { daemon, 1001-1010 }   # allow + log\n"
	"deny quiet { docker-api, docker-sock } from remapped\n"
	"listen docker-api from unit docker.service\n"
	"allow any-2376 from any\n";

TEST(policy_spec_example)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d, example);

	CHECK_CLEAN(&d, p);
	if (!p)
		goto out;
	CHECK_STR(p->path, "test.conf");
	CHECK_INT(p->n_endpoints, 3);
	CHECK_STR(p->endpoints[0].name, "docker-api");
	CHECK_INT(p->endpoints[0].loc.line, 2);
	CHECK_INT(p->endpoints[0].loc.col, 10);
	CHECK_INT(p->endpoints[0].n_addrs, 2);
	CHECK(addr_is_v4(&p->endpoints[0].addrs[0], "127.0.0.1"));
	CHECK_INT(p->endpoints[0].addrs[0].port, 2375);
	CHECK_INT(p->endpoints[0].addrs[0].loc.line, 3);
	CHECK_INT(p->endpoints[0].addrs[0].loc.col, 5);
	CHECK(addr_is_v6(&p->endpoints[0].addrs[1], "::1"));
	CHECK_INT(p->endpoints[0].addrs[1].port, 2375);
	CHECK_STR(p->endpoints[1].name, "docker-sock");
	CHECK_INT(p->endpoints[1].n_addrs, 1);
	CHECK_INT(p->endpoints[1].addrs[0].kind, DG_ADDR_UNIX);
	CHECK_STR(p->endpoints[1].addrs[0].path, "/var/run/docker.sock");
	CHECK_INT(p->endpoints[2].addrs[0].kind, DG_ADDR_TCP_ANY);
	CHECK_INT(p->endpoints[2].addrs[0].port, 2376);
	static const uint8_t zero[16];
	CHECK(!memcmp(p->endpoints[2].addrs[0].addr, zero, 16));

	CHECK_INT(p->default_action, DG_DEFAULT_DENY);
	CHECK_INT(p->default_loc.line, 9);
	CHECK_INT(p->log_rate, 20);
	CHECK_INT(p->log_burst, 20);
	CHECK(p->docker_host == NULL);

	CHECK_INT(p->n_rules, 9);
	const struct dg_rule *r = &p->rules[0];
	CHECK_INT(r->action, DG_ACTION_ALLOW);
	CHECK_INT(r->log, DG_LOG_DEFAULT);
	CHECK(!r->any_endpoint);
	CHECK_INT(r->n_endpoints, 1);
	CHECK_INT(r->endpoints[0], 0);
	CHECK_INT(r->loc.line, 12);
	CHECK_INT(r->loc.col, 1);
	CHECK_INT(r->n_subjects, 2);
	CHECK_INT(r->subjects[0].kind, DG_SUBJ_UNIT);
	CHECK_INT(r->subjects[0].n_items, 1);
	CHECK_STR(r->subjects[0].items[0].str, "nginx.service");
	CHECK_STR(r->subjects[0].items[0].text, "nginx.service");
	CHECK_INT(r->subjects[0].items[0].loc.col, 29);
	CHECK_INT(r->subjects[1].kind, DG_SUBJ_USER);
	CHECK_INT(r->subjects[1].loc.col, 43);
	CHECK_INT(r->subjects[1].items[0].lo, 65534);	/* nobody on Debian */
	CHECK_INT(r->subjects[1].items[0].hi, 65534);
	CHECK_STR(r->subjects[1].items[0].text, "nobody");

	r = &p->rules[1];
	CHECK_INT(r->endpoints[0], 1);
	CHECK_INT(r->subjects[0].items[0].lo, 0);
	CHECK_INT(r->subjects[1].kind, DG_SUBJ_CGROUP);
	CHECK_STR(r->subjects[1].items[0].str, "/system.slice");

	r = &p->rules[2];
	CHECK_INT(r->log, DG_LOG_ALWAYS);
	CHECK_INT(r->subjects[0].kind, DG_SUBJ_GROUP);
	CHECK_INT(r->subjects[0].items[0].lo, 1);
	CHECK_INT(r->subjects[0].items[0].hi, 1);

	r = &p->rules[3];
	CHECK_INT(r->subjects[0].kind, DG_SUBJ_CONTAINER);
	CHECK_INT(r->subjects[0].ckey, DG_CT_SERVICE);
	CHECK_STR(r->subjects[0].items[0].str, "traefik_traefik");

	r = &p->rules[4];
	CHECK_INT(r->subjects[0].ckey, DG_CT_LABEL);
	CHECK_STR(r->subjects[0].items[0].str, "com.example.api");
	CHECK_STR(r->subjects[0].items[0].value, "ro");
	CHECK_STR(r->subjects[0].items[0].text, "com.example.api=ro");

	r = &p->rules[5];
	CHECK_INT(r->action, DG_ACTION_AUDIT);
	CHECK_INT(r->log, DG_LOG_ALWAYS);
	CHECK_INT(r->subjects[0].n_items, 2);
	CHECK_INT(r->subjects[0].items[0].lo, 1);
	CHECK_INT(r->subjects[0].items[1].lo, 1001);
	CHECK_INT(r->subjects[0].items[1].hi, 1010);
	CHECK_STR(r->subjects[0].items[1].text, "1001-1010");
	CHECK_INT(r->subjects[0].items[1].loc.col, 39);

	r = &p->rules[6];
	CHECK_INT(r->action, DG_ACTION_DENY);
	CHECK_INT(r->log, DG_LOG_QUIET);
	CHECK_INT(r->n_endpoints, 2);
	CHECK_INT(r->endpoints[0], 0);
	CHECK_INT(r->endpoints[1], 1);
	CHECK_INT(r->subjects[0].kind, DG_SUBJ_REMAPPED);
	CHECK_INT(r->subjects[0].n_items, 0);

	r = &p->rules[7];
	CHECK_INT(r->action, DG_ACTION_LISTEN);
	CHECK_STR(r->subjects[0].items[0].str, "docker.service");

	r = &p->rules[8];
	CHECK_INT(r->subjects[0].kind, DG_SUBJ_ANY);
	CHECK_INT(p->n_items, 10);
	CHECK_STR(dg_action_name(DG_ACTION_AUDIT), "audit");
	CHECK_STR(dg_action_name(DG_ACTION_LISTEN), "listen");
out:
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- endpoints ---------------------------------------------------------- */

TEST(policy_endpoint_forms)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint a { tcp 10.0.0.1:1, tcp [fe80::1]:65535,\n"
		"\n"
		"  tcp [::ffff:127.0.0.1]:2375\n"
		"  unix //run//x/./docker.sock, }\n"
		"endpoint B.x_y-1 tcp \"*:99\"\n"
		"allow { a, B.x_y-1 }\n");

	CHECK_CLEAN(&d, p);
	if (p) {
		const struct dg_endpoint *e = &p->endpoints[0];
		CHECK_INT(e->n_addrs, 4);
		CHECK(addr_is_v4(&e->addrs[0], "10.0.0.1"));
		CHECK_INT(e->addrs[0].port, 1);
		CHECK(addr_is_v6(&e->addrs[1], "fe80::1"));
		CHECK_INT(e->addrs[1].port, 65535);
		CHECK(addr_is_v4(&e->addrs[2], "127.0.0.1"));	/* mapped: normalised */
		CHECK_INT(e->addrs[3].kind, DG_ADDR_UNIX);
		CHECK_STR(e->addrs[3].path, "/run/x/docker.sock");
		CHECK_INT(e->addrs[3].loc.line, 4);
		CHECK_INT(e->addrs[3].loc.col, 3);
		CHECK_STR(p->endpoints[1].name, "B.x_y-1");
		CHECK_INT(p->endpoints[1].addrs[0].kind, DG_ADDR_TCP_ANY);
		CHECK_INT(p->endpoints[1].addrs[0].port, 99);
		CHECK_INT(p->rules[0].n_endpoints, 2);
		CHECK_INT(p->rules[0].endpoints[1], 1);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_endpoint_errors)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint any tcp 127.0.0.1:1\n"				/* 1 */
		"endpoint 9lives tcp 127.0.0.2:1\n"				/* 2 */
		"endpoint a/b tcp 127.0.0.3:1\n"				/* 3 */
		"endpoint a0123456789012345678901234567890123456789012345678901234567890123 "
		"tcp 127.0.0.4:1\n"						/* 4 */
		"endpoint p0 tcp 127.0.0.1:0\n"					/* 5 */
		"endpoint p1 tcp 127.0.0.1:65536\n"				/* 6 */
		"endpoint p2 tcp 127.0.0.1:http\n"				/* 7 */
		"endpoint p3 tcp 127.0.0.1\n"					/* 8 */
		"endpoint p4 tcp ::1:2375\n"					/* 9 */
		"endpoint p5 tcp 127.0.0.256:1\n"				/* 10 */
		"endpoint p6 tcp [::1:1\n"					/* 11 */
		"endpoint p7 tcp [::1]1\n"					/* 12 */
		"endpoint p8 tcp [zz::1]:1\n"					/* 13 */
		"endpoint u1 unix run/docker.sock\n"				/* 14 */
		"endpoint u2 unix /run/../docker.sock\n"			/* 15 */
		"endpoint u3 unix /run/docker/\n"				/* 16 */
		"endpoint u4 unix /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"		/* 17 */
		"endpoint e1 { }\n"						/* 18 */
		"endpoint e2 udp 127.0.0.1:1\n"					/* 19 */
		"endpoint e3\n"							/* 20 */
		"endpoint log tcp 127.0.0.1:9\n"				/* 21 */
		"allow any\n");

	CHECK(p == NULL);
	CHECK_ERR(&d, 1, 10, "'any' is a reserved word");
	CHECK_ERR(&d, 2, 10, "invalid endpoint name '9lives'");
	CHECK_ERR(&d, 3, 10, "invalid endpoint name 'a/b'");
	CHECK_ERR(&d, 4, 10, "more than the limit of 64");
	CHECK_ERR(&d, 5, 27, "port 0 is out of range; use 1 to 65535");
	CHECK_ERR(&d, 6, 27, "port 65536 is out of range");
	CHECK_ERR(&d, 7, 27, "'http' is not a port number");
	CHECK_ERR(&d, 8, 17, "missing port");
	CHECK_ERR(&d, 9, 17, "needs brackets");
	CHECK_ERR(&d, 10, 17, "'127.0.0.256' is not an IPv4 address");
	CHECK_ERR(&d, 11, 17, "missing ']'");
	CHECK_ERR(&d, 12, 22, "missing port after the IPv6 address");
	CHECK_ERR(&d, 13, 18, "'zz::1' is not an IPv6 address");
	CHECK_ERR(&d, 14, 18, "is not absolute");
	CHECK_ERR(&d, 15, 18, "contains '..'");
	CHECK_ERR(&d, 16, 18, "ends with '/'");
	CHECK_ERR(&d, 17, 18, "108 bytes long, more than the limit of 107");
	CHECK_ERR(&d, 18, 13, "empty address list");
	CHECK_ERR(&d, 19, 13, "expected an address ('tcp ADDRESS:PORT' or 'unix PATH'), found 'udp'");
	CHECK_ERR(&d, 20, 12, "found end of line");
	CHECK_ERR(&d, 21, 10, "'log' is a reserved word");
	CHECK_INT(d.n_errors, 21);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_unix_path_max)
{
	struct dg_diag d;
	char text[256];
	char path[DG_UNIX_PATH_MAX + 1];

	memset(path, 'a', DG_UNIX_PATH_MAX);
	path[0] = '/';
	path[DG_UNIX_PATH_MAX] = '\0';
	snprintf(text, sizeof(text), "endpoint u unix %s\nallow u\n", path);
	struct dg_policy *p = parse(&d, text);
	CHECK_CLEAN(&d, p);
	if (p)
		CHECK_INT(strlen(p->endpoints[0].addrs[0].path), DG_UNIX_PATH_MAX);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- rules and subjects ------------------------------------------------- */

TEST(policy_rule_forms)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"allow quiet x from user 1000\n"
		"deny log { x,\n"
		"  y } from user nobody\n"
		"audit log y\n"
		"allow any from group { root, nogroup,\n"
		"    65533 }\n"
		"listen x\n"
		"endpoint x tcp 127.0.0.1:2375\n"
		"endpoint y unix /run/docker.sock\n");

	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_INT(p->n_rules, 5);
		CHECK_INT(p->rules[0].log, DG_LOG_QUIET);
		CHECK_INT(p->rules[0].endpoints[0], 0);	/* defined after the rule */
		CHECK_INT(p->rules[1].action, DG_ACTION_DENY);
		CHECK_INT(p->rules[1].log, DG_LOG_ALWAYS);
		CHECK_INT(p->rules[1].n_endpoints, 2);
		CHECK_INT(p->rules[1].subjects[0].items[0].lo, 65534);
		CHECK_INT(p->rules[2].action, DG_ACTION_AUDIT);
		CHECK_INT(p->rules[2].n_subjects, 0);
		CHECK(p->rules[3].any_endpoint);
		CHECK_INT(p->rules[3].n_endpoints, 0);
		CHECK_INT(p->rules[3].subjects[0].n_items, 3);
		CHECK_INT(p->rules[3].subjects[0].items[0].lo, 0);
		CHECK_INT(p->rules[3].subjects[0].items[1].lo, 65534);
		CHECK_INT(p->rules[3].subjects[0].items[2].lo, 65533);
		CHECK_INT(p->rules[3].subjects[0].items[2].loc.line, 6);
		CHECK_INT(p->rules[3].subjects[0].items[2].loc.col, 5);
		CHECK_INT(p->rules[4].action, DG_ACTION_LISTEN);
		CHECK_INT(p->rules[4].n_subjects, 0);
		CHECK_INT(p->n_items, 5);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_subject_forms)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint e tcp 127.0.0.1:2375\n"
		"allow e from user { 0-0, 4294967294, \"root\" } group 4294967294\n"
		"allow e from cgroup { /, //system.slice//, /a//b/ } unit {\n"
		"  user@1000.service, sys-fs.mount, docker-0123.scope, a\\x2db.slice\n"
		"}\n"
		"allow e from container name web* container id 0123abcdef\n"
		"allow e from container image \"nginx:*\" container label a.b=\n"
		"allow e from container label { k=v=w, \"x=a b\" } any\n"
		"allow e from any remapped\n");

	CHECK_CLEAN(&d, p);
	if (!p)
		goto out;
	const struct dg_subject *s = p->rules[0].subjects;
	CHECK_INT(s[0].items[0].lo, 0);
	CHECK_INT(s[0].items[0].hi, 0);
	CHECK_INT(s[0].items[1].lo, 4294967294u);
	CHECK_INT(s[0].items[2].lo, 0);
	CHECK_STR(s[0].items[2].text, "root");
	CHECK_INT(s[1].items[0].lo, 4294967294u);

	s = p->rules[1].subjects;
	CHECK_INT(s[0].n_items, 3);
	CHECK_STR(s[0].items[0].str, "/");
	CHECK_STR(s[0].items[1].str, "/system.slice");
	CHECK_STR(s[0].items[1].text, "//system.slice//");
	CHECK_STR(s[0].items[2].str, "/a/b");
	CHECK_INT(s[1].kind, DG_SUBJ_UNIT);
	CHECK_INT(s[1].n_items, 4);
	CHECK_STR(s[1].items[0].str, "user@1000.service");
	CHECK_STR(s[1].items[3].str, "a\\x2db.slice");
	CHECK_INT(s[1].items[3].loc.line, 4);

	s = p->rules[2].subjects;
	CHECK_INT(s[0].ckey, DG_CT_NAME);
	CHECK_STR(s[0].items[0].str, "web*");
	CHECK_INT(s[1].ckey, DG_CT_ID);
	CHECK_STR(s[1].items[0].str, "0123abcdef");

	s = p->rules[3].subjects;
	CHECK_INT(s[0].ckey, DG_CT_IMAGE);
	CHECK_STR(s[0].items[0].str, "nginx:*");
	CHECK_STR(s[1].items[0].str, "a.b");
	CHECK_STR(s[1].items[0].value, "");

	s = p->rules[4].subjects;
	CHECK_STR(s[0].items[0].str, "k");
	CHECK_STR(s[0].items[0].value, "v=w");
	CHECK_STR(s[0].items[1].str, "x");
	CHECK_STR(s[0].items[1].value, "a b");
	CHECK_INT(s[1].kind, DG_SUBJ_ANY);
	CHECK_INT(p->rules[5].subjects[1].kind, DG_SUBJ_REMAPPED);
	CHECK_INT(p->n_items, 17);
out:
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_subject_errors)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint e tcp 127.0.0.1:2375\n"
		"allow e from user dg-no-such-user-xyz\n"			/* 2 */
		"allow e from group dg-no-such-group-xyz\n"			/* 3 */
		"allow e from user 4294967295\n"				/* 4 */
		"allow e from user 10-5\n"					/* 5 */
		"allow e from user 1-4294967296\n"				/* 6 */
		"allow e from group 1-5\n"					/* 7 */
		"allow e from cgroup system.slice\n"				/* 8 */
		"allow e from cgroup /a/../b\n"					/* 9 */
		"allow e from cgroup /a/./b/.\n"				/* 10 */
		"allow e from cgroup /1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17\n" /* 11 */
		"allow e from unit nginx\n"					/* 12 */
		"allow e from unit ngi/nx.service\n"				/* 13 */
		"allow e from container id ABC\n"				/* 14 */
		"allow e from container label novalue\n"			/* 15 */
		"allow e from container label =v\n"				/* 16 */
		"allow e from container tag x\n"				/* 17 */
		"allow e from nobody\n"						/* 18 */
		"allow e from\n"						/* 19 */
		"allow e from group root user root group { daemon, 1 }\n"	/* 20 */
		"allow e from user { root, }\n"					/* 21: fine */
		"allow e from user { , root }\n"				/* 22 */
		"allow e from user { root root }\n"				/* 23 */
		"allow e from container id 01234567890123456789012345678901234567890123456789"
		"01234567890123456\n"						/* 24 */
		"allow e from user \"\"\n");					/* 25 */

	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 19, "unknown user 'dg-no-such-user-xyz'; create it or use a numeric uid");
	CHECK_ERR(&d, 3, 20, "unknown group 'dg-no-such-group-xyz'; create it or use a numeric gid");
	CHECK_ERR(&d, 4, 19, "uid 4294967295 is out of range; use 0 to 4294967294");
	CHECK_ERR(&d, 5, 19, "uid range 10-5 is reversed");
	CHECK_ERR(&d, 6, 21, "uid 4294967296 is out of range");
	CHECK_ERR(&d, 7, 20, "gid ranges are not supported");
	CHECK_ERR(&d, 8, 21, "is not absolute");
	CHECK_ERR(&d, 9, 21, "contains '..'");
	CHECK_ERR(&d, 10, 21, "contains '.'");
	CHECK_ERR(&d, 11, 21, "17 components, more than the limit of 16");
	CHECK_ERR(&d, 12, 19, "'nginx' is not a systemd unit name");
	CHECK_ERR(&d, 13, 22, "invalid character in unit name");
	CHECK_ERR(&d, 14, 27, "1 to 64 lowercase hex digits");
	CHECK_ERR(&d, 15, 30, "has no value; write KEY=VALUE");
	CHECK_ERR(&d, 16, 30, "has an empty key");
	CHECK_ERR(&d, 17, 24, "unknown container attribute 'tag'");
	CHECK_ERR(&d, 18, 14, "unknown subject 'nobody'");
	CHECK_ERR(&d, 19, 13, "expected a subject after 'from', found end of line");
	CHECK_ERR(&d, 20, 35, "a rule may test group membership once; list the groups in one { } or split the rule");
	CHECK_DIAG(&d, DG_NOTE, 20, 14, "first group test");
	CHECK_ERR(&d, 22, 21, "expected a user, found ','");
	CHECK_ERR(&d, 23, 26, "expected ',' or '}' after the user, found 'root'");
	CHECK_ERR(&d, 24, 27, "1 to 64 lowercase hex digits");
	CHECK_ERR(&d, 25, 19, "empty user");
	CHECK_INT(d.n_errors, 23);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_cgroup_component_limit)
{
	struct dg_diag d;
	char text[512], comp[DG_CGROUP_COMPONENT_MAX + 2];

	memset(comp, 'c', sizeof(comp) - 1);
	comp[DG_CGROUP_COMPONENT_MAX] = '\0';		/* exactly the limit */
	snprintf(text, sizeof(text), "endpoint e tcp 127.0.0.1:1\nallow e from cgroup /x/%s/\n",
		 comp);
	struct dg_policy *p = parse(&d, text);
	CHECK_CLEAN(&d, p);
	if (p)
		CHECK_INT(strlen(p->rules[0].subjects[0].items[0].str),
			  DG_CGROUP_COMPONENT_MAX + 3);
	dg_policy_free(p);
	dg_diag_fini(&d);

	comp[DG_CGROUP_COMPONENT_MAX] = 'c';		/* one more */
	comp[DG_CGROUP_COMPONENT_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "endpoint e tcp 127.0.0.1:1\nallow e from cgroup /x/%s\n",
		 comp);
	p = parse(&d, text);
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 21, "127 bytes long, more than the limit of 126");
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_rule_errors)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint e tcp 127.0.0.1:2375\n"
		"endpoint f unix /run/docker.sock\n"
		"audit quiet e from user root\n"			/* 3 */
		"listen quiet e from user root\n"			/* 4 */
		"listen log e from user root\n"				/* 5 */
		"allow from user root\n"				/* 6 */
		"allow e user root\n"					/* 7 */
		"allow { e, any } from user daemon\n"			/* 8 */
		"allow { } from user daemon\n"				/* 9 */
		"allow\n"						/* 10 */
		"allow e from user daemon\n"				/* 11: fine */
		"listen f from user root\n"				/* 12 */
		"allow g\n"						/* 13 */
		"allow { e, e } from user nobody\n"			/* 14 */
		"frobnicate e\n"					/* 15 */
		"\"allow\" e\n"						/* 16 */
		"} allow e\n"						/* 17 */
		"allow f\n");

	CHECK(p == NULL);
	CHECK_ERR(&d, 3, 7, "'audit quiet' contradicts itself");
	CHECK_ERR(&d, 4, 8, "'listen' takes no 'quiet'");
	CHECK_ERR(&d, 5, 8, "'listen' takes no 'log'");
	CHECK_ERR(&d, 6, 7, "expected an endpoint name, { a, b } or 'any' after 'allow', found 'from'");
	CHECK_ERR(&d, 7, 9, "expected 'from', 'api' or the end of the rule, found 'user'");
	CHECK_ERR(&d, 8, 12, "'any' stands for every endpoint");
	CHECK_ERR(&d, 9, 7, "empty endpoint list");
	CHECK_ERR(&d, 10, 6, "found end of line");
	CHECK_ERR(&d, 12, 8, "endpoint 'f' has no tcp address");
	CHECK_ERR(&d, 13, 7, "undefined endpoint 'g'");
	CHECK_WARN(&d, 14, 12, "endpoint 'e' is named twice in this rule");
	CHECK_ERR(&d, 15, 1, "unknown statement 'frobnicate'");
	CHECK_ERR(&d, 16, 1, "expected a statement");
	CHECK_ERR(&d, 17, 1, "found '}'");
	CHECK_INT(d.n_errors, 13);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- set ---------------------------------------------------------------- */

TEST(policy_set)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"set default audit\n"
		"set log-rate 90/min\n"
		"set docker-host unix:///run/docker.sock\n");

	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_INT(p->default_action, DG_DEFAULT_AUDIT);
		CHECK_INT(p->default_loc.line, 1);
		CHECK_INT(p->log_rate, 2);
		CHECK_INT(p->log_burst, 2);
		CHECK_STR(p->docker_host, "unix:///run/docker.sock");
		CHECK_INT(p->docker_host_loc.line, 3);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);

	p = parse(&d, "");
	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_INT(p->default_action, DG_DEFAULT_DENY);
		CHECK_INT(p->log_rate, DG_DEFAULT_LOG_RATE);
		CHECK_INT(p->n_rules, 0);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);

	static const struct {
		const char *value;
		uint32_t rate;
	} rates[] = {
		{ "7", 7 }, { "1/s", 1 }, { "1000000/s", 1000000 }, { "1/min", 1 },
		{ "60/min", 1 }, { "61/min", 2 }, { "60000000/min", 1000000 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(rates); i++) {
		char text[64];
		snprintf(text, sizeof(text), "set log-rate %s\n", rates[i].value);
		p = parse(&d, text);
		CHECK_CLEAN(&d, p);
		if (p)
			CHECK_INT(p->log_rate, rates[i].rate);
		dg_policy_free(p);
		dg_diag_fini(&d);
	}

	p = parse(&d, "set docker-host tcp://127.0.0.1:2375\nset docker-host tcp://[::1]:2375\n"
		      "set docker-host tcp://docker.example:2376\n");
	CHECK(p != NULL);
	CHECK_INT(d.n_warnings, 2);
	CHECK_WARN(&d, 2, 1, "'set docker-host' was already given at test.conf:1; the later one wins");
	CHECK_DIAG(&d, DG_NOTE, 1, 1, "earlier");
	if (p)
		CHECK_STR(p->docker_host, "tcp://docker.example:2376");
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_api_rate)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d, "set api-rate 50/s\n");

	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_INT(p->api_rate, 50);
		CHECK_INT(p->api_rate_per, 1);
		CHECK_INT(p->api_rate_loc.line, 1);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);
	p = parse(&d, "set api-rate 30/min\n");
	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_INT(p->api_rate, 30);
		CHECK_INT(p->api_rate_per, 60);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);
	p = parse(&d, "");
	CHECK_CLEAN(&d, p);
	if (p)
		CHECK_INT(p->api_rate_per, 0);	/* no limit unless set */
	dg_policy_free(p);
	dg_diag_fini(&d);
	p = parse(&d, "set api-rate 0/s\nset api-rate 5/h\nset api-rate many\nset api-rate 1000001/s\n");
	CHECK(p == NULL);
	CHECK_ERR(&d, 1, 14, "API rate 0/s is out of range; use 1/s to 1000000/s");
	CHECK_ERR(&d, 2, 15, "unknown unit '/h' in API rate");
	CHECK_ERR(&d, 3, 14, "'many' is not an API rate");
	CHECK_ERR(&d, 4, 14, "API rate 1000001/s is out of range");
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_audit_until)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d, "relay r {\n    listen unix /run/r.sock\n}\n"
				    "api over {\n    audit until 2001-01-01\n}\n"
				    "allow r from user 2 api over\n");

	CHECK(p != NULL);
	CHECK_WARN(&d, 5, 5, "learning mode of profile 'over' has ended");
	dg_policy_free(p);
	dg_diag_fini(&d);
	p = parse(&d, "api x {\n    audit until 2021-02-30\n}\n"
		      "api y {\n    audit until soon\n}\n"
		      "api z {\n    audit until 2021-1-5\n}\n");
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 17, "'2021-02-30' is not a date");
	CHECK_ERR(&d, 5, 17, "expected a date (YYYY-MM-DD, UTC) after 'audit until'");
	CHECK_ERR(&d, 8, 17, "expected a date");
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_set_errors)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"set default allow\n"				/* 1 */
		"set log-rate 0/s\n"				/* 2 */
		"set log-rate 1000001\n"			/* 3 */
		"set log-rate 60000001/min\n"			/* 4 */
		"set log-rate 5/h\n"				/* 5 */
		"set log-rate fast\n"				/* 6 */
		"set docker-host http://x:1\n"			/* 7 */
		"set docker-host unix://run/docker.sock\n"	/* 8 */
		"set docker-host tcp://host:0\n"		/* 9 */
		"set verbosity 3\n"				/* 10 */
		"set default\n"					/* 11 */
		"set default deny deny\n"			/* 12 */
		"set log-rate 18446744073709551616/s\n");	/* 13 */

	CHECK(p == NULL);
	CHECK_ERR(&d, 1, 13, "unknown default 'allow'; use deny or audit");
	CHECK_ERR(&d, 2, 14, "log rate 0/s is out of range; use 1/s to 1000000/s");
	CHECK_ERR(&d, 3, 14, "out of range");
	CHECK_ERR(&d, 4, 14, "out of range");
	CHECK_ERR(&d, 5, 15, "unknown unit '/h' in log rate");
	CHECK_ERR(&d, 6, 14, "'fast' is not a log rate");
	CHECK_ERR(&d, 7, 17, "unsupported docker host 'http://x:1'");
	CHECK_ERR(&d, 8, 17, "unsupported docker host");
	CHECK_ERR(&d, 9, 17, "unsupported docker host");
	CHECK_ERR(&d, 10, 5, "unknown setting 'verbosity'; expected default, log-rate, docker-host, api-default, api-version or api-rate");
	CHECK_ERR(&d, 11, 12, "expected a value after 'set default', found end of line");
	CHECK_ERR(&d, 12, 18, "expected the end of the line");
	CHECK_ERR(&d, 13, 14, "out of range");
	CHECK_INT(d.n_errors, 13);
	CHECK_INT(d.n_warnings, 0);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- semantic checks ---------------------------------------------------- */

TEST(policy_duplicate_and_undefined)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint a tcp 127.0.0.1:1\n"
		"endpoint b tcp 127.0.0.1:2\n"
		"endpoint a tcp 127.0.0.1:3\n"
		"allow { a, b, c } from user root\n"
		"deny nope\n");

	CHECK(p == NULL);
	CHECK_ERR(&d, 3, 10, "endpoint 'a' is defined twice");
	CHECK_DIAG(&d, DG_NOTE, 1, 10, "first defined here");
	CHECK_ERR(&d, 4, 15, "undefined endpoint 'c'; define it with 'endpoint c ADDRESS'");
	CHECK_ERR(&d, 5, 6, "undefined endpoint 'nope'");
	CHECK_INT(d.n_errors, 3);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_overlapping_endpoints)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint a { tcp 127.0.0.1:2375, tcp 127.0.0.1:2375 }\n"	/* 1: warning */
		"endpoint b tcp [::ffff:127.0.0.1]:2375\n"			/* 2: error */
		"endpoint c tcp *:2376\n"
		"endpoint d tcp [::1]:2376\n"					/* 4: error */
		"endpoint e { tcp *:2377, tcp 10.1.1.1:2377 }\n"		/* 5: warning */
		"endpoint f unix /run/docker.sock\n"
		"endpoint g unix /run//docker.sock\n"				/* 7: error */
		"endpoint h unix /var/lib/docker.sock\n"			/* 8: error */
		"endpoint i { unix /run/x.sock, unix /var/run/x.sock }\n"	/* fine */
		"allow any\n");

	CHECK(p == NULL);
	CHECK_WARN(&d, 1, 34, "tcp 127.0.0.1:2375 is listed twice in endpoint 'a'");
	CHECK_ERR(&d, 2, 12, "tcp 127.0.0.1:2375 is already in endpoint 'a'");
	CHECK_DIAG(&d, DG_NOTE, 1, 14, "endpoint 'a' has it here");
	CHECK_ERR(&d, 4, 12, "tcp [::1]:2376 overlaps tcp *:2376 of endpoint 'c'");
	CHECK_DIAG(&d, DG_NOTE, 3, 12, "endpoint 'c' has tcp *:2376 here");
	CHECK_WARN(&d, 5, 26, "tcp 10.1.1.1:2377 is redundant in endpoint 'e'");
	CHECK_ERR(&d, 7, 12, "unix /run/docker.sock is already in endpoint 'f'");
	CHECK_ERR(&d, 8, 12, "dockguard identifies unix endpoints by file name");
	CHECK_ERR(&d, 8, 12, "same file name 'docker.sock'");
	CHECK_INT(d.n_errors, 4);
	CHECK_INT(d.n_warnings, 2);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_unreachable_rules)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint a tcp 127.0.0.1:1\n"
		"endpoint b tcp 127.0.0.1:2\n"
		"endpoint c unix /run/docker.sock\n"
		"allow a from user root\n"		/* 4: not for everyone */
		"deny a\n"				/* 5: decides a */
		"allow a from user root\n"		/* 6: never */
		"listen a from user root\n"		/* 7: listen is separate */
		"listen a\n"				/* 8 */
		"listen a from unit docker.service\n"	/* 9: never */
		"allow b from any\n"			/* 10: decides b */
		"deny { a, b } from remapped\n"		/* 11: never, two deciders */
		"deny { a, c } from remapped\n"		/* 12: fine */
		"allow any from any any\n"		/* 13 */
		"deny c from user root\n");		/* 14: never */

	CHECK(p == NULL);
	CHECK_ERR(&d, 6, 1, "rule can never match: the rule at test.conf:5 already decides for everyone");
	CHECK_DIAG(&d, DG_NOTE, 5, 1, "this rule decides for everyone");
	CHECK_ERR(&d, 9, 1, "rule can never match: the rule at test.conf:8 already decides");
	CHECK_ERR(&d, 11, 1, "the rules at test.conf:5 and test.conf:10 already decide for everyone");
	CHECK_ERR(&d, 14, 1, "the rule at test.conf:13 already decides for everyone");
	CHECK_INT(d.n_errors, 4);
	dg_policy_free(p);
	dg_diag_fini(&d);

	/* `any` decides for every endpoint. */
	p = parse(&d,
		  "endpoint a tcp 127.0.0.1:1\n"
		  "deny any\n"
		  "allow a from user root\n"
		  "allow any from user root\n");
	CHECK(p == NULL);
	CHECK_ERR(&d, 3, 1, "the rule at test.conf:2 already decides");
	CHECK_ERR(&d, 4, 1, "the rule at test.conf:2 already decides");
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_unused_endpoint)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint a tcp 127.0.0.1:1\n"
		"endpoint b tcp 127.0.0.1:2\n"
		"endpoint c tcp 127.0.0.1:3\n"
		"allow a\n"
		"listen c\n");

	CHECK(p != NULL);
	CHECK_INT(d.n_errors, 0);
	CHECK_INT(d.n_warnings, 2);
	CHECK_WARN(&d, 2, 10, "no rule names endpoint 'b': every connect to it is denied");
	CHECK_WARN(&d, 3, 10, "no rule names endpoint 'c'");
	dg_policy_free(p);
	dg_diag_fini(&d);

	p = parse(&d, "endpoint a tcp 127.0.0.1:1\nendpoint b tcp 127.0.0.1:2\n"
		      "deny any from remapped\n");
	CHECK_CLEAN(&d, p);
	dg_policy_free(p);
	dg_diag_fini(&d);

	p = parse(&d, "endpoint u unix /run/docker.sock\nallow u\nlisten any\n");
	CHECK(p == NULL);
	CHECK_ERR(&d, 3, 1, "no endpoint has a tcp address for 'listen any' to guard");
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- lexer -------------------------------------------------------------- */

TEST(policy_lexer_strings_comments)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"# a comment \"with quotes\" { and braces\n"
		"endpoint e tcp 127.0.0.1:1 # trailing, comment\r\n"
		"allow e from container name \"a \\\"b\\\" \\\\c\"\r\n"
		"\t allow\te\tfrom user{root,daemon}\n"
		"#last line without newline");

	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_STR(p->rules[0].subjects[0].items[0].str, "a \"b\" \\c");
		CHECK_INT(p->rules[0].subjects[0].items[0].loc.col, 29);
		CHECK_INT(p->rules[0].subjects[0].items[0].loc.len, 13);
		CHECK_INT(p->rules[1].loc.col, 3);
		CHECK_INT(p->rules[1].subjects[0].n_items, 2);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);

	p = parse(&d,
		  "endpoint e tcp 127.0.0.1:1\n"
		  "allow e from container name \"abc\n"		/* 2 */
		  "allow e from container name \"a\\nb\"\n"	/* 3 */
		  "allow e from user root\x01\x02 x\n"		/* 4 */
		  "allow e from user daemon # bell \x07 in a comment\n" /* 5 */
		  "allow e from container name \"x\x7fy\"\n"	/* 6 */
		  "allow e from user root\n");
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 29, "unterminated string");
	CHECK_ERR(&d, 3, 31, "unknown escape in string");
	CHECK_ERR(&d, 4, 23, "control character 0x01");
	CHECK_ERR(&d, 5, 33, "control character 0x07");
	CHECK_ERR(&d, 6, 31, "control character 0x7f");
	CHECK_INT(d.n_errors, 5);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_nul_bytes)
{
	static const char text[] = "endpoint e tcp 127.0.0.1:1\nallow e from user r\0ot\nallow\0 e\n";
	struct dg_diag d;

	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_buffer("nul.conf", text, sizeof(text) - 1, &d);
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 20, "NUL byte");
	CHECK_ERR(&d, 3, 6, "NUL byte");
	/* The records still print after the policy is gone. */
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	dg_diag_print(&d, f, 1);
	fclose(f);
	CHECK(strstr(out, "nul.conf:2:20: error: NUL byte") != NULL);
	CHECK(strstr(out, " allow e from user r ot\n") != NULL);
	free(out);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

TEST(policy_garbage_does_not_crash)
{
	static const char *const pieces[] = {
		"endpoint", "allow", "deny", "listen", "audit", "set", "include", "from", "user",
		"group", "cgroup", "unit", "container", "name", "id", "label", "tcp", "unix",
		"any", "remapped", "{", "}", ",", "\n", "\"", "#", " ", "127.0.0.1:1", "[::1]:2",
		"*:3", "/run/x.sock", "root", "1-2", "log", "quiet", "e", "\\", "=",
		"default", "log-rate", "docker-host", "x.service", "\r", "\t",
	};
	unsigned int seed = 12345;
	char buf[512];
	int nul_runs = 0, nul_errors = 0;

	for (int iter = 0; iter < 2000; iter++) {
		size_t n = 0;
		seed = seed * 1103515245u + 12345u;
		size_t target = (seed >> 16) % 400;
		bool has_nul = false;
		while (n < target) {
			seed = seed * 1103515245u + 12345u;
			unsigned int r = seed >> 16;
			if (r % 3 == 0) {
				buf[n] = (char)(r >> 4);
				has_nul = has_nul || buf[n] == '\0';
				n++;
			} else {
				const char *s = pieces[(r >> 2) % ARRAY_SIZE(pieces)];
				size_t l = strlen(s);
				if (n + l >= sizeof(buf))
					break;
				memcpy(buf + n, s, l);
				n += l;
				if (r % 2)
					buf[n++] = ' ';
			}
		}
		struct dg_diag d;
		dg_diag_init(&d);
		struct dg_policy *p = dg_policy_parse_buffer("garbage.conf", buf, n, &d);
		CHECK((p == NULL) == (d.n_errors > 0));
		if (has_nul) {
			nul_runs++;
			nul_errors += p == NULL;
		}
		for (size_t i = 0; i < d.n; i++)
			if (d.records[i].loc.file)
				CHECK(d.records[i].loc.line >= 1 && d.records[i].loc.col >= 1);
		dg_policy_free(p);
		dg_diag_fini(&d);
	}
	CHECK(nul_runs > 100);
	CHECK_INT(nul_errors, nul_runs);
}

/* ---- recovery ----------------------------------------------------------- */

TEST(policy_reports_every_error)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint e {\n"
		"  tcp 127.0.0.1:0\n"			/* 2 */
		"  tcp 127.0.0.1:1 tcp\n"		/* 3 */
		"  tcp 127.0.0.1:2\n"
		"}\n"
		"allow e from user { root,\n"
		"   dg-no-such-user-1\n"		/* 7 */
		"   bogus-2 bogus-3 }\n"		/* 8 */
		"allow e from user dg-no-such-user-3\n"	/* 9 */
		"endpoint f {\n"
		"  tcp 127.0.0.1:3\n"
		"allow f from user root\n"		/* 12: missing } */
		"deny f from user dg-no-such-user-4\n"	/* 13 */
		"allow { f\n");				/* 14 */

	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 17, "port 0 is out of range");
	CHECK_ERR(&d, 3, 19, "expected ',' or '}' after the address, found 'tcp'");
	CHECK_ERR(&d, 7, 4, "unknown user 'dg-no-such-user-1'");
	CHECK_ERR(&d, 8, 4, "unknown user 'bogus-2'");
	CHECK_ERR(&d, 8, 12, "expected ',' or '}' after the user, found 'bogus-3'");
	CHECK_ERR(&d, 9, 19, "unknown user 'dg-no-such-user-3'");
	CHECK_ERR(&d, 12, 1, "missing '}' to close the '{' at line 10 column 12");
	CHECK_DIAG(&d, DG_NOTE, 10, 12, "the '{' opened here");
	CHECK_ERR(&d, 13, 18, "unknown user 'dg-no-such-user-4'");
	CHECK_ERR(&d, 15, 1, "missing '}' to close the '{' at line 14 column 7");
	CHECK_INT(d.n_errors, 9);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

/* ---- limits ------------------------------------------------------------- */

TEST(policy_limit_file_size)
{
	size_t len = DG_POLICY_MAX_FILE_SIZE + 1;
	char *buf = xmalloc(len);
	struct dg_diag d;

	memset(buf, '\n', len);
	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_buffer("big.conf", buf, len, &d);
	CHECK(p == NULL);
	CHECK_INT(d.n_errors, 1);
	CHECK(d.n && strstr(d.records[0].message, "more than the limit of 1048576 bytes"));
	dg_diag_fini(&d);

	/* Exactly the limit is fine. */
	dg_diag_init(&d);
	p = dg_policy_parse_buffer("big.conf", buf, len - 1, &d);
	CHECK_CLEAN(&d, p);
	dg_policy_free(p);
	dg_diag_fini(&d);

	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (dir) {
		char *path = xasprintf("%s/big.conf", dir);
		FILE *f = fopen(path, "w");
		fwrite(buf, 1, len, f);
		fclose(f);
		dg_diag_init(&d);
		p = dg_policy_parse_file(path, &d);
		CHECK(p == NULL);
		CHECK_INT(d.n_errors, 1);
		CHECK(d.n && d.records[0].loc.file == NULL &&
		      strstr(d.records[0].message, "larger than the limit of 1048576 bytes"));
		dg_diag_fini(&d);

		/* as an include: an error at the include */
		dg_test_write(dir, "main.conf", "include big.conf\n");
		char *main_path = xasprintf("%s/main.conf", dir);
		dg_diag_init(&d);
		p = dg_policy_parse_file(main_path, &d);
		CHECK(p == NULL);
		CHECK_ERR(&d, 1, 9, "larger than the limit of 1048576 bytes");
		dg_diag_fini(&d);
		free(main_path);
		free(path);
		dg_test_rmtree(dir);
		free(dir);
	}
	free(buf);
}

/* The sha256 of a policy is that of the bytes parsed: the top file, then
 * each include as reached; of one file, what sha256sum says. */
TEST(policy_sha256_of_the_bytes_parsed)
{
	static const char top[] = "endpoint e tcp 127.0.0.1:1\ninclude inc.conf\n";
	static const char inc[] = "allow e from any\n";
	char *dir = dg_test_tmpdir();
	struct dg_diag d;

	CHECK(dir != NULL);
	if (!dir)
		return;
	dg_test_write(dir, "top.conf", top);
	dg_test_write(dir, "inc.conf", inc);
	char *path = xasprintf("%s/top.conf", dir);
	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_file(path, &d);
	CHECK(p != NULL);
	/* printf 'endpoint e tcp 127.0.0.1:1\ninclude inc.conf\nallow e from any\n' | sha256sum */
	if (p)
		CHECK_STR(p->sha256, "21da20e62893872b377270e059c558804505f253359f4371585618b50cf2736f");
	dg_policy_free(p);
	dg_diag_fini(&d);

	dg_test_write(dir, "one.conf", "endpoint e tcp 127.0.0.1:1\nallow e from any\n");
	char *one = xasprintf("%s/one.conf", dir);
	dg_diag_init(&d);
	p = dg_policy_parse_file(one, &d);
	CHECK(p != NULL);
	/* printf 'endpoint e tcp 127.0.0.1:1\nallow e from any\n' | sha256sum */
	if (p)
		CHECK_STR(p->sha256, "4cdd481fd82b647be819f19f6ce47dd3c453f6fae84b66ebbbbffd16fbc23382");
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(one);
	free(path);
	dg_test_rmtree(dir);
	free(dir);
}

TEST(policy_limit_line_length)
{
	size_t n = DG_POLICY_MAX_LINE + 100;
	char *text = xmalloc(n + 64);
	struct dg_diag d;

	strcpy(text, "endpoint e tcp 127.0.0.1:1\nallow e from user { ");
	size_t o = strlen(text);
	while (o < n)
		o += (size_t)sprintf(text + o, "root, ");
	strcpy(text + o, "}\nallow e from user dg-no-such-user\n");
	struct dg_policy *p = parse(&d, text);
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 1, "bytes long, more than the limit of 4096 bytes");
	CHECK_ERR(&d, 3, 19, "unknown user");	/* parsing goes on */
	CHECK_INT(d.n_errors, 2);
	dg_policy_free(p);
	dg_diag_fini(&d);

	/* A line of exactly the limit is fine. */
	memset(text, ' ', DG_POLICY_MAX_LINE);
	memcpy(text, "endpoint e tcp 127.0.0.1:1", 26);
	strcpy(text + DG_POLICY_MAX_LINE, "\nallow e\n");
	p = parse(&d, text);
	CHECK_CLEAN(&d, p);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);
}

TEST(policy_limit_nesting)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d,
		"endpoint e tcp 127.0.0.1:1\n"
		"allow {{{{{{{{{{{{ e }}}}}}}}}}}}\n"
		"allow e from user dg-no-such-user\n");

	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 8, "expected an endpoint name, found '{'");
	CHECK_ERR(&d, 2, 15, "braces nested deeper than 8 levels");
	CHECK_ERR(&d, 3, 19, "unknown user");
	CHECK_INT(d.n_errors, 3);
	dg_policy_free(p);
	dg_diag_fini(&d);
}

static char *generate(size_t n, const char *head, const char *fmt)
{
	size_t cap = strlen(head) + n * (strlen(fmt) + 24) + 1, o;
	char *text = xmalloc(cap);

	o = (size_t)snprintf(text, cap, "%s", head);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(text + o, cap - o, fmt, i, i);
	return text;
}

TEST(policy_limit_rules)
{
	struct dg_diag d;
	char *text = generate(DG_POLICY_MAX_RULES, "endpoint e tcp 127.0.0.1:1\n",
			      "allow e from user %zu # %zu\n");
	struct dg_policy *p = parse(&d, text);

	CHECK_CLEAN(&d, p);
	if (p)
		CHECK_INT(p->n_rules, DG_POLICY_MAX_RULES);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);

	text = generate(DG_POLICY_MAX_RULES + 10, "endpoint e tcp 127.0.0.1:1\n",
			"allow e from user %zu # %zu\n");
	p = parse(&d, text);
	CHECK(p == NULL);
	CHECK_ERR(&d, DG_POLICY_MAX_RULES + 2, 1, "more than 4096 rules");
	CHECK_INT(d.n_errors, 1);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);
}

TEST(policy_limit_endpoints_addrs)
{
	struct dg_diag d;
	char *text = generate(DG_POLICY_MAX_ENDPOINTS + 1, "allow any\n",
			      "endpoint e%zu tcp 127.0.0.1:1%zu\n");
	struct dg_policy *p = parse(&d, text);
	CHECK(p == NULL);
	CHECK_ERR(&d, DG_POLICY_MAX_ENDPOINTS + 2, 10, "more than 255 endpoints");
	CHECK_INT(d.n_errors, 1);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);

	text = generate(DG_POLICY_MAX_ADDRS + 1, "allow e\nendpoint e {\n",
			"tcp 10.0.0.1:1%zu # %zu\n");
	size_t o = strlen(text);
	text = xreallocarray(text, o + 4, 1);
	strcpy(text + o, "}\n");
	p = parse(&d, text);
	CHECK(p == NULL);
	CHECK_ERR(&d, DG_POLICY_MAX_ADDRS + 3, 1, "endpoint 'e' has more than 64 addresses");
	CHECK_INT(d.n_errors, 1);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);
}

TEST(policy_limit_items_and_speed)
{
	/* One rule, a list of uids spanning lines: ~1 MiB. */
	size_t n = DG_POLICY_MAX_ITEMS + 10;
	char *text = generate(n, "endpoint e tcp 127.0.0.1:1\nallow e from user {\n",
			      "%zu, # %zu\n");
	size_t o = strlen(text);
	text = xreallocarray(text, o + 4, 1);
	strcpy(text + o, "}\n");
	CHECK(strlen(text) <= DG_POLICY_MAX_FILE_SIZE);

	struct dg_diag d;
	double t0 = now();
	struct dg_policy *p = parse(&d, text);
	double t = now() - t0;
	CHECK(p == NULL);
	CHECK_ERR(&d, DG_POLICY_MAX_ITEMS + 3, 1, "more than 65536 users, groups");
	CHECK_INT(d.n_errors, 1);
	CHECK(t < 1.0);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);

	/* 1 MiB of rules (most past the rule limit) with names to look up. */
	text = generate(15000, "endpoint e tcp 127.0.0.1:1\n",
			"allow e from user root group daemon unit x%zu.service # %zu\n");
	CHECK(strlen(text) <= DG_POLICY_MAX_FILE_SIZE);
	t0 = now();
	p = parse(&d, text);
	t = now() - t0;
	CHECK_INT(d.n_errors, 1);	/* too many rules */
	CHECK(t < 1.0);
	if (t >= 1.0)
		fprintf(stderr, "1 MiB policy took %.2f s\n", t);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(text);
}

/* ---- files and includes ------------------------------------------------- */

TEST(policy_parse_file_errors)
{
	struct dg_diag d;

	dg_diag_init(&d);
	CHECK(dg_policy_parse_file("/nonexistent/dockguard.conf", &d) == NULL);
	CHECK_INT(d.n_errors, 1);
	CHECK(d.n == 1 && d.records[0].loc.file == NULL);
	CHECK(d.n == 1 && !strcmp(d.records[0].message,
				  "cannot read /nonexistent/dockguard.conf: No such file or "
				  "directory; check the path and permissions"));
	dg_diag_fini(&d);

	dg_diag_init(&d);
	CHECK(dg_policy_parse_file("/", &d) == NULL);
	CHECK(d.n == 1 && strstr(d.records[0].message, "cannot read /: Is a directory"));
	dg_diag_fini(&d);
}

TEST(policy_include)
{
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	char *sub = xasprintf("%s/conf.d", dir);
	CHECK(mkdir(sub, 0700) == 0);
	dg_test_write(dir, "main.conf",
		   "endpoint a tcp 127.0.0.1:1\n"
		   "allow b from user root\n"
		   "include \"conf.d/*.conf\"\n"
		   "include conf.d/none-*.conf\n"
		   "include no-such-dir/*.conf\n"
		   "include empty.conf\n"
		   "deny any\n");
	dg_test_write(dir, "empty.conf", "");
	dg_test_write(sub, "20-b.conf", "allow a from user daemon\n");
	dg_test_write(sub, "10-a.conf", "endpoint b unix /run/docker.sock\nallow a from user nobody\n");
	dg_test_write(sub, "x.conf.disabled", "this is not a policy\n");

	char *path = xasprintf("%s/main.conf", dir);
	struct dg_diag d;
	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_file(path, &d);
	CHECK_CLEAN(&d, p);
	if (p) {
		CHECK_INT(p->n_endpoints, 2);
		CHECK_INT(p->n_rules, 4);
		CHECK_INT(p->rules[0].endpoints[0], 1);
		CHECK_INT(p->rules[1].subjects[0].items[0].lo, 65534);	/* 10-a first */
		CHECK_INT(p->rules[2].subjects[0].items[0].lo, 1);	/* then 20-b */
		CHECK(p->rules[3].any_endpoint);
		char *inc = xasprintf("%s/conf.d/10-a.conf", dir);
		CHECK_STR(p->rules[1].loc.file->name, inc);
		CHECK_INT(p->rules[1].loc.line, 2);
		CHECK_STR(p->endpoints[1].loc.file->name, inc);
		CHECK_STR(p->rules[3].loc.file->name, path);
		CHECK_INT(p->files->n, 5);	/* and dockguard's built-in profiles */
		free(inc);
	}
	dg_policy_free(p);
	dg_diag_fini(&d);

	/* errors inside an include are reported in that file */
	dg_test_write(sub, "30-c.conf", "\nallow a from user dg-no-such-user\n");
	dg_test_write(dir, "main2.conf", "endpoint a tcp 127.0.0.1:1\ninclude missing.conf\n"
		   "include conf.d/30-c.conf\nallow a\n");
	char *path2 = xasprintf("%s/main2.conf", dir);
	dg_diag_init(&d);
	p = dg_policy_parse_file(path2, &d);
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 9, "cannot read include file");
	CHECK_ERR(&d, 2, 9, "missing.conf");
	CHECK_ERR(&d, 2, 19, "unknown user 'dg-no-such-user'");
	bool in_file = false;
	for (size_t i = 0; i < d.n; i++)
		if (strstr(d.records[i].message, "dg-no-such-user"))
			in_file = strstr(d.records[i].loc.file->name, "30-c.conf") != NULL;
	CHECK(in_file);
	CHECK_INT(d.n_errors, 2);
	dg_diag_fini(&d);

	/* a rule in the including file after the include keeps its place */
	dg_test_rmtree(dir);
	free(path);
	free(path2);
	free(sub);
	free(dir);
}

TEST(policy_include_loop_depth_files)
{
	char *dir = dg_test_tmpdir();
	CHECK(dir != NULL);
	if (!dir)
		return;
	dg_test_write(dir, "a.conf", "include b.conf\n");
	dg_test_write(dir, "b.conf", "include c.conf\n");
	dg_test_write(dir, "c.conf", "include a.conf\n");

	char *path = xasprintf("%s/a.conf", dir);
	struct dg_diag d;
	dg_diag_init(&d);
	struct dg_policy *p = dg_policy_parse_file(path, &d);
	CHECK(p == NULL);
	char *want = xasprintf("include loop: %s/a.conf includes %s/b.conf which includes "
			       "%s/c.conf which includes %s/a.conf", dir, dir, dir, dir);
	CHECK_ERR(&d, 1, 9, want);
	CHECK_INT(d.n_errors, 1);
	free(want);
	dg_diag_fini(&d);
	free(path);

	/* self include */
	dg_test_write(dir, "self.conf", "\n include \"self.conf\"\n");
	path = xasprintf("%s/self.conf", dir);
	dg_diag_init(&d);
	p = dg_policy_parse_file(path, &d);
	CHECK(p == NULL);
	CHECK_ERR(&d, 2, 10, "include loop");
	dg_diag_fini(&d);
	free(path);

	/* depth: d0 includes d1 ... d10 */
	for (int i = 0; i < 10; i++) {
		char name[32], text[64];
		snprintf(name, sizeof(name), "d%d.conf", i);
		snprintf(text, sizeof(text), "include d%d.conf\n", i + 1);
		dg_test_write(dir, name, text);
	}
	dg_test_write(dir, "d10.conf", "");
	path = xasprintf("%s/d0.conf", dir);
	dg_diag_init(&d);
	p = dg_policy_parse_file(path, &d);
	CHECK(p == NULL);
	CHECK_INT(d.n_errors, 1);
	CHECK(d.n >= 1 && strstr(d.records[0].message, "includes nested more than 8 deep"));
	CHECK(d.n >= 1 && d.records[0].loc.file &&
	      strstr(d.records[0].loc.file->name, "d8.conf"));
	dg_diag_fini(&d);
	free(path);

	/* exactly 8 levels is fine */
	path = xasprintf("%s/d2.conf", dir);
	dg_diag_init(&d);
	p = dg_policy_parse_file(path, &d);
	CHECK_CLEAN(&d, p);
	dg_policy_free(p);
	dg_diag_fini(&d);
	free(path);

	/* more than 256 files in all */
	char *many = xasprintf("%s/many", dir);
	CHECK(mkdir(many, 0700) == 0);
	for (int i = 0; i < DG_POLICY_MAX_FILES + 5; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%03d.conf", i);
		dg_test_write(many, name, "# nothing\n");
	}
	dg_test_write(dir, "many.conf", "include many/*.conf\n");
	path = xasprintf("%s/many.conf", dir);
	dg_diag_init(&d);
	p = dg_policy_parse_file(path, &d);
	CHECK(p == NULL);
	CHECK_ERR(&d, 1, 9, "more than 256 policy files in all");
	CHECK_INT(d.n_errors, 1);
	dg_diag_fini(&d);
	free(path);
	free(many);

	dg_test_rmtree(dir);
	free(dir);
}

/* ---- rule identities (counters across generations) ------------------------ */

static uint64_t *identities(const char *text, size_t *n)
{
	struct dg_diag d;
	struct dg_policy *p = parse(&d, text);
	uint64_t *ids = NULL;

	CHECK(p != NULL);
	if (!p) {
		dump(&d);
		dg_diag_fini(&d);
		return xcalloc(8, sizeof(*ids));
	}
	ids = xcalloc(p->n_rules + 8, sizeof(*ids));
	dg_rule_identities(p, ids);
	*n = p->n_rules;
	dg_policy_free(p);
	dg_diag_fini(&d);
	return ids;
}

TEST(policy_rule_identity)
{
	const char *eps = "endpoint a tcp 127.0.0.1:2375\nendpoint b unix /run/x.sock\n";
	char *one = xasprintf("%sallow a from user 1001\ndeny { a, b } from user 1004\n", eps);
	/* moved, a comment and another rule before them, endpoints reordered */
	char *two = xasprintf("%s# note\nallow b from user 7\n\ndeny { b, a } from user 1004\n"
			      "allow a from user 1001\n", eps);
	/* what they say changed: another uid, another action, log mode, endpoint */
	char *three = xasprintf("%sallow a from user 1002\naudit { a, b } from user 1004\n"
				"allow log a from user 1001\nallow b from user 1001\n", eps);
	/* the same rule twice: two identities, each stable */
	char *twice = xasprintf("%sallow a from user 1001\nallow a from user 1001\n", eps);
	size_t n1 = 0, n2 = 0, n3 = 0, n4 = 0;
	uint64_t *i1 = identities(one, &n1), *i2 = identities(two, &n2);
	uint64_t *i3 = identities(three, &n3), *i4 = identities(twice, &n4);

	CHECK_INT(n1, 2);
	CHECK_INT(n2, 3);
	CHECK(i1[0] == i2[2]);		/* allow a from user 1001 */
	CHECK(i1[1] == i2[1]);		/* deny { a, b } from user 1004 */
	CHECK(i2[0] != i1[0] && i2[0] != i1[1]);
	CHECK_INT(n3, 4);
	for (size_t i = 0; i < n3; i++)
		CHECK(i3[i] != i1[0] && i3[i] != i1[1]);
	CHECK_INT(n4, 2);
	CHECK(i4[0] == i1[0]);		/* the first of two is the rule as before */
	CHECK(i4[1] != i4[0]);
	CHECK(dg_default_identity(DG_DEFAULT_DENY) != dg_default_identity(DG_DEFAULT_AUDIT));
	CHECK(dg_default_identity(DG_DEFAULT_DENY) == dg_default_identity(DG_DEFAULT_DENY));
	free(i1), free(i2), free(i3), free(i4);
	free(one), free(two), free(three), free(twice);
}
