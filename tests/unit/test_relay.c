// SPDX-License-Identifier: GPL-2.0-only
/* The relay's request judging: the canonical target (userspace/relay). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "relay/target.h"
#include "testing.h"

/* Parses `raw`, which must be accepted as `path` (version and query apart). */
static void accepted(const char *raw, const char *path, int major, int minor)
{
	struct dg_target t;
	const char *why = NULL;
	int ret = dg_target_parse(raw, &t, &why);

	if (ret) {
		fprintf(stderr, "refused %s: %s\n", raw, why);
		CHECK(!"target accepted");
		return;
	}
	if (strcmp(t.path, path)) {
		fprintf(stderr, "%s: path %s, want %s\n", raw, t.path, path);
		CHECK(!"path as judged");
	}
	CHECK_INT(t.versioned, major >= 0);
	if (major >= 0) {
		CHECK_INT(t.major, major);
		CHECK_INT(t.minor, minor);
	}
	dg_target_free(&t);
}

/* `raw` must be refused, the reason containing `because`. */
static void refused(const char *raw, const char *because)
{
	struct dg_target t;
	const char *why = NULL;
	int ret = dg_target_parse(raw, &t, &why);

	CHECK_INT(ret, -EINVAL);
	if (ret) {
		if (!why || !strstr(why, because)) {
			fprintf(stderr, "%s: refused because '%s', want '%s'\n", raw,
				why ? why : "(none)", because);
			CHECK(!"reason given");
		}
		return;
	}
	fprintf(stderr, "accepted %s as %s\n", raw, t.path);
	dg_target_free(&t);
}

TEST(relay_target_canonical_forms)
{
	accepted("/_ping", "/_ping", -1, 0);
	accepted("/v1.41/containers/json", "/containers/json", 1, 41);
	accepted("/v1.24/version", "/version", 1, 24);
	accepted("/v01.041/info", "/info", 1, 41);
	accepted("/containers/abc/json", "/containers/abc/json", -1, 0);
	/* one decoding, as Go's URL.Path: %41 is 'A', %25 stays a '%' */
	accepted("/containers/%61bc/json", "/containers/abc/json", -1, 0);
	accepted("/images/a%25b/json", "/images/a%b/json", -1, 0);
	accepted("/images/a:b@c/json", "/images/a:b@c/json", -1, 0);
	/* only the first segment is a version */
	accepted("/containers/v1.41/json", "/containers/v1.41/json", -1, 0);
	accepted("/vx/json", "/vx/json", -1, 0);
	accepted("/V1.41/info", "/V1.41/info", -1, 0);
}

TEST(relay_target_refused_forms)
{
	refused("http://localhost/v1.41/info", "absolute-form");
	refused("*", "asterisk-form");
	refused("", "absolute-form");
	refused("/", "the path is '/'");
	refused("/containers/json#x", "fragment");
	refused("/containers//json", "empty segment");
	refused("/containers/json/", "empty segment");
	refused("//containers/json", "empty segment");
	refused("/containers/../secrets", "'..'");
	refused("/containers/./json", "'.'");
	refused("/containers/%2e%2e/secrets", "'..'");
	refused("/containers/%2E/json", "'.'");
	refused("/containers/a%2Fb/json", "encoded '/'");
	refused("/containers/a%2fb/json", "encoded '/'");
	refused("/containers/a%00/json", "NUL");
	refused("/containers/a%0a/json", "control");
	refused("/containers/a%c3%a9/json", "non-ASCII");
	refused("/containers/a%zz/json", "two hex digits");
	refused("/containers/a%2", "two hex digits");
	refused("/containers/a b/json", "must be percent-encoded");
	refused("/containers/a\\b/json", "must be percent-encoded");
	refused("/containers/\x7f/json", "control or non-ASCII");
	refused("/containers/\xc3\xa9/json", "control or non-ASCII");
	refused("/v1/info", "not /vMAJOR.MINOR");
	refused("/v1.41.0/info", "not /vMAJOR.MINOR");
	refused("/v.41/info", "not /vMAJOR.MINOR");
	refused("/v1..41/info", "not /vMAJOR.MINOR");
	refused("/v1234.1/info", "not /vMAJOR.MINOR");
	refused("/v1.41", "no path after it");
	refused("/v1.41/", "empty segment");
}

TEST(relay_target_query)
{
	struct dg_target t;
	const char *why;

	CHECK_INT(dg_target_parse("/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"
				  "&name=a+b", &t, &why), 0);
	CHECK_INT(t.n_params, 3);
	CHECK(dg_target_param(&t, "all") && !strcmp(dg_target_param(&t, "all"), "1"));
	CHECK(dg_target_param(&t, "filters") &&
	      !strcmp(dg_target_param(&t, "filters"), "{\"label\":[\"a=b\"]}"));
	CHECK(dg_target_param(&t, "name") && !strcmp(dg_target_param(&t, "name"), "a b"));
	CHECK(dg_target_param(&t, "All") == NULL);	/* keys are case-sensitive, as r.Form */
	dg_target_free(&t);

	CHECK_INT(dg_target_parse("/build?remote", &t, &why), 0);
	CHECK(dg_target_param(&t, "remote") && !*dg_target_param(&t, "remote"));
	dg_target_free(&t);
	CHECK_INT(dg_target_parse("/containers/json?", &t, &why), 0);
	CHECK_INT(t.n_params, 0);
	dg_target_free(&t);

	refused("/containers/json?all=1;size=1", "';'");
	refused("/containers/json?all=1&all=0", "given twice");
	refused("/containers/json?a%6cl=1&all=0", "given twice");	/* decoded keys */
	refused("/containers/json?all=%zz", "two hex digits");
	refused("/containers/json?all=%00", "NUL");
	refused("/containers/json?=1", "empty");
	refused("/containers/json?all=1&&x=2", "empty");
	refused("/containers/json?all=1&", "empty");
	refused("/containers/json?a b=1", "must be percent-encoded");
	refused("/containers/json?a=\x01", "control");
}

/* ---- the API verdict ------------------------------------------------------- */

#include "policy/policy.h"
#include "relay/judge.h"
#include "util/diag.h"

static const char judge_policy[] =
	"relay r {\n"
	"    listen unix /run/dockguard/relay/docker.sock\n"
	"}\n"
	"api mine extends read-only {\n"
	"    deny GET /containers/secret-one/json\n"
	"    allow POST /containers/create /containers/*/start\n"
	"    allow log DELETE /containers/*\n"
	"    allow POST /build query remote!=* !networkmode\n"
	"    allow GET /x/**\n"
	"}\n"
	"api learner {\n"
	"    audit\n"
	"    deny quiet GET /secrets /secrets/*\n"
	"    allow GET /_ping\n"
	"}\n"
	"allow r from user 1001 api mine\n"
	"allow r from user 1002 api learner\n";

/* The verdict on `method raw` with profile `name`, and the deciding line. */
static enum dg_api_verdict judge(const struct dg_policy *pol, const char *name,
				 const char *method, const char *raw, unsigned int *line, bool *log)
{
	struct dg_target t;
	struct dg_api_decision d;
	const char *why;
	size_t prof = 0;

	while (prof < pol->n_apis && strcmp(pol->apis[prof].name, name))
		prof++;
	CHECK(prof < pol->n_apis);
	if (dg_target_parse(raw, &t, &why)) {
		fprintf(stderr, "%s: %s\n", raw, why);
		CHECK(!"target parses");
		return DG_API_DENIED;
	}
	dg_api_judge(pol, prof, method, &t, &d);
	*line = d.rule ? d.rule->loc.line : 0;
	*log = d.log;
	dg_target_free(&t);
	return d.verdict;
}

#define CHECK_VERDICT(pol, prof, method, raw, want, want_line)                    \
	do {                                                                      \
		unsigned int line_;                                               \
		bool log_;                                                        \
		CHECK_INT(judge((pol), (prof), (method), (raw), &line_, &log_), (want)); \
		CHECK_INT(line_, (want_line));                                    \
	} while (0)

TEST(relay_judge)
{
	struct dg_diag d;
	struct dg_policy *pol;

	dg_diag_init(&d);
	pol = dg_policy_parse_buffer("judge.conf", judge_policy, strlen(judge_policy), &d);
	CHECK(pol != NULL);
	if (!pol) {
		dg_diag_print(&d, stderr, 0);
		dg_diag_fini(&d);
		return;
	}
	/* own rules first: the deny before read-only's allow */
	CHECK_VERDICT(pol, "mine", "GET", "/v1.41/containers/secret-one/json", DG_API_DENIED, 5);
	CHECK_VERDICT(pol, "mine", "GET", "/v1.41/containers/abc/json", DG_API_ALLOWED, 7);	/* read-only, built-in line 7 */
	CHECK_VERDICT(pol, "mine", "POST", "/v1.41/containers/create?name=x", DG_API_ALLOWED, 6);
	CHECK_VERDICT(pol, "mine", "POST", "/v1.41/containers/abc/start", DG_API_ALLOWED, 6);
	CHECK_VERDICT(pol, "mine", "POST", "/v1.41/containers/abc/exec", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "mine", "DELETE", "/containers/abc", DG_API_ALLOWED, 7);
	CHECK_VERDICT(pol, "mine", "DELETE", "/containers/abc/x", DG_API_DENIED, 0);
	/* query conditions */
	CHECK_VERDICT(pol, "mine", "POST", "/build?t=x", DG_API_ALLOWED, 8);
	CHECK_VERDICT(pol, "mine", "POST", "/build?remote=https%3A%2F%2Fx", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "mine", "POST", "/build?networkmode=host", DG_API_DENIED, 0);
	/* `**`: one segment or more */
	CHECK_VERDICT(pol, "mine", "GET", "/x/a", DG_API_ALLOWED, 9);
	CHECK_VERDICT(pol, "mine", "GET", "/x/a/b/c", DG_API_ALLOWED, 9);
	CHECK_VERDICT(pol, "mine", "GET", "/x", DG_API_DENIED, 0);
	/* a method no rule names, a case-changed path */
	CHECK_VERDICT(pol, "mine", "PUT", "/containers/abc/json", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "mine", "GET", "/Containers/json", DG_API_DENIED, 0);
	/* learning mode: no rule -> audited; deny rules still deny */
	CHECK_VERDICT(pol, "learner", "GET", "/containers/json", DG_API_AUDITED, 0);
	CHECK_VERDICT(pol, "learner", "GET", "/secrets/abc", DG_API_DENIED, 13);
	CHECK_VERDICT(pol, "learner", "GET", "/_ping", DG_API_ALLOWED, 14);
	/* built-in full */
	CHECK_VERDICT(pol, "full", "POST", "/containers/create", DG_API_ALLOWED, 2);
	/* read-only: no exec, no archive, no secrets, no export */
	CHECK_VERDICT(pol, "read-only", "GET", "/containers/json?all=1", DG_API_ALLOWED, 7);
	CHECK_VERDICT(pol, "read-only", "POST", "/containers/abc/exec", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "read-only", "GET", "/containers/abc/archive?path=/etc", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "read-only", "GET", "/containers/abc/export", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "read-only", "GET", "/secrets", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "read-only", "GET", "/images/get?names=x", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "read-only", "GET", "/images/alpine/get", DG_API_DENIED, 0);
	/* the swarm's inspect holds its join tokens */
	CHECK_VERDICT(pol, "read-only", "GET", "/v1.41/swarm", DG_API_DENIED, 0);
	CHECK_VERDICT(pol, "read-only", "GET", "/v1.41/services", DG_API_ALLOWED, 11);

	CHECK(dg_api_pattern_matches("/containers/*/json", "/containers/a/json"));
	CHECK(!dg_api_pattern_matches("/containers/*/json", "/containers/json"));
	CHECK(!dg_api_pattern_matches("/containers/*", "/containers/a/json"));
	CHECK(dg_api_pattern_matches("/**", "/anything/at/all"));
	/* `**` within: one segment or more, then the rest */
	CHECK(dg_api_pattern_matches("/images/**/json", "/images/alpine/json"));
	CHECK(dg_api_pattern_matches("/images/**/json", "/images/traefik/whoami:v1/json"));
	CHECK(dg_api_pattern_matches("/images/**/json", "/images/a/json/json"));
	CHECK(!dg_api_pattern_matches("/images/**/json", "/images/json"));
	CHECK(!dg_api_pattern_matches("/images/**/json", "/images/alpine/history"));
	CHECK(!dg_api_pattern_matches("/images/**/json", "/images/alpine/json/x"));
	CHECK(dg_api_pattern_matches("/a/**/b/*", "/a/x/y/b/z"));
	CHECK(!dg_api_pattern_matches("/a/**/b/*", "/a/b/z"));
	dg_policy_free(pol);
	dg_diag_fini(&d);
}

/* The built-in client profiles: each client's own requests pass, what it
 * never needs is refused (docs/api-profiles.md lists them). */
#define CHECK_API(pol, prof, method, raw, want)                                   \
	do {                                                                      \
		unsigned int line_;                                               \
		bool log_;                                                        \
		CHECK_INT(judge((pol), (prof), (method), (raw), &line_, &log_), (want)); \
	} while (0)

TEST(relay_client_profiles)
{
	static const char conf[] = "relay r {\n    listen unix /run/r.sock\n}\n"
				   "allow r from user 1 api traefik\n";
	struct dg_diag d;
	struct dg_policy *pol;

	dg_diag_init(&d);
	pol = dg_policy_parse_buffer("p.conf", conf, strlen(conf), &d);
	CHECK(pol != NULL);
	if (!pol)
		return;
	/* Traefik: docker and swarm providers, nothing that writes */
	CHECK_API(pol, "traefik", "HEAD", "/_ping", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/version", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/containers/json?all=1", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/containers/0123abc/json", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/events?filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D",
		  DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/services", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/networks?filters=%7B%22scope%22%3A%7B%22swarm%22%3Atrue%7D%7D",
		  DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.24/tasks?filters=x", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "GET", "/v1.41/nodes/n1", DG_API_ALLOWED);
	CHECK_API(pol, "traefik", "POST", "/v1.41/containers/create", DG_API_DENIED);
	CHECK_API(pol, "traefik", "POST", "/v1.41/containers/x/exec", DG_API_DENIED);
	CHECK_API(pol, "traefik", "GET", "/v1.41/swarm", DG_API_DENIED);
	CHECK_API(pol, "traefik", "GET", "/v1.41/secrets", DG_API_DENIED);
	CHECK_API(pol, "traefik", "GET", "/v1.41/containers/x/archive?path=/", DG_API_DENIED);
	/* Watchtower: pulls by name (never imports), recreates, exec hooks */
	CHECK_API(pol, "watchtower", "GET", "/v1.41/images/containrrr/watchtower:latest/json", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/images/create?fromImage=nginx&tag=latest", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/images/create?fromSrc=-&repo=nginx", DG_API_DENIED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/images/create?fromImage=nginx&fromSrc=-", DG_API_DENIED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/containers/x/kill?signal=SIGTERM", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "DELETE", "/v1.41/containers/x?force=1", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/containers/create?name=web", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/networks/n/connect", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "DELETE", "/v1.41/images/sha256:abc?force=1", DG_API_ALLOWED);
	CHECK_API(pol, "watchtower", "GET", "/v1.41/images/x/get", DG_API_DENIED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/plugins/pull", DG_API_DENIED);
	CHECK_API(pol, "watchtower", "GET", "/v1.41/swarm", DG_API_DENIED);
	CHECK_API(pol, "watchtower", "POST", "/v1.41/services/create", DG_API_DENIED);
	/* CI: build, run, cp, push; no swarm, plugins or imports */
	CHECK_API(pol, "ci", "POST", "/v1.41/build?t=app", DG_API_ALLOWED);
	CHECK_API(pol, "ci", "PUT", "/v1.41/containers/x/archive?path=/src", DG_API_ALLOWED);
	CHECK_API(pol, "ci", "POST", "/v1.41/images/registry.local/app/tag?repo=x", DG_API_ALLOWED);
	CHECK_API(pol, "ci", "POST", "/v1.41/images/registry.local/app/push?tag=1", DG_API_ALLOWED);
	CHECK_API(pol, "ci", "POST", "/v1.41/containers/x/attach?stream=1", DG_API_ALLOWED);
	CHECK_API(pol, "ci", "POST", "/v1.41/images/create?fromSrc=http://x/y.tar", DG_API_DENIED);
	CHECK_API(pol, "ci", "POST", "/v1.41/swarm/leave", DG_API_DENIED);
	CHECK_API(pol, "ci", "POST", "/v1.41/plugins/pull", DG_API_DENIED);
	CHECK_API(pol, "ci", "GET", "/v1.41/secrets", DG_API_DENIED);
	/* the Portainer agent forwards the whole API */
	CHECK_API(pol, "portainer-agent", "POST", "/v1.41/swarm/init", DG_API_ALLOWED);
	dg_policy_free(pol);
	dg_diag_fini(&d);
}

/* `audit until DATE`: learning through that day, refusals after it (the
 * parse errors and the warning: test_policy.c). */
TEST(relay_audit_until)
{
	static const char conf[] = "relay r {\n    listen unix /run/r.sock\n}\n"
				   "api later {\n    audit until 2999-12-31\n    allow GET /_ping\n}\n"
				   "api over {\n    audit until 2001-01-01\n    allow GET /_ping\n}\n"
				   "allow r from user 1 api later\nallow r from user 2 api over\n";
	struct dg_diag d;
	struct dg_policy *pol;

	dg_diag_init(&d);
	pol = dg_policy_parse_buffer("u.conf", conf, strlen(conf), &d);
	CHECK(pol != NULL);
	if (pol) {
		CHECK_API(pol, "later", "GET", "/v1.41/containers/json", DG_API_AUDITED);
		CHECK_API(pol, "later", "GET", "/v1.41/_ping", DG_API_ALLOWED);
		CHECK_API(pol, "over", "GET", "/v1.41/containers/json", DG_API_DENIED);
		CHECK_API(pol, "over", "GET", "/v1.41/_ping", DG_API_ALLOWED);
	}
	dg_policy_free(pol);
	dg_diag_fini(&d);
}

/* ---- the request head --------------------------------------------------------- */

#include "relay/request.h"

/* The head `text` must be refused (by its bytes or its fields), the reason
 * containing `because`. */
static void head_refused(const char *text, const char *because)
{
	struct dg_request req;
	const char *why = NULL;
	long end = dg_request_head_end(text, strlen(text), &why);

	if (end > 0 && dg_request_parse_head(text, (size_t)end, &req, &why) == 0) {
		fprintf(stderr, "accepted: %s\n", text);
		CHECK(!"head refused");
		dg_request_free(&req);
		return;
	}
	if (end == 0) {
		fprintf(stderr, "incomplete: %s\n", text);
		CHECK(!"head complete");
		return;
	}
	if (!why || !strstr(why, because)) {
		fprintf(stderr, "%s: refused because '%s', want '%s'\n", text, why ? why : "?", because);
		CHECK(!"reason");
	}
}

TEST(relay_request_head)
{
	const char *ok = "POST /v1.41/containers/create?name=a HTTP/1.1\r\nHost: docker\r\n"
			 "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"Image\":1}";
	struct dg_request req;
	const char *why;
	long end = dg_request_head_end(ok, strlen(ok), &why);
	size_t len;

	CHECK(end > 0 && (size_t)end == strlen(ok) - 11);
	CHECK_INT(dg_request_parse_head(ok, (size_t)end, &req, &why), 0);
	CHECK(!strcmp(req.method, "POST"));
	CHECK(!strcmp(req.target.path, "/containers/create"));
	CHECK_INT(req.body, DG_BODY_LENGTH);
	CHECK_INT(req.content_length, 12);
	CHECK(req.keep_alive);
	char *head = dg_request_head_text(&req, &len);
	CHECK(!strcmp(head, "POST /v1.41/containers/create?name=a HTTP/1.1\r\nHost: docker\r\n"
			    "Content-Type: application/json\r\nContent-Length: 12\r\n\r\n"));
	free(head);
	dg_request_free(&req);

	/* not all there yet */
	CHECK_INT(dg_request_head_end("GET /_ping HTTP/1.1\r\nHost: x\r\n", 30, &why), 0);

	const char *up = "POST /v1.41/containers/a/attach?stream=1 HTTP/1.1\r\nHost: d\r\n"
			 "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
	CHECK_INT(dg_request_parse_head(up, strlen(up), &req, &why), 0);
	CHECK(req.upgrade && req.upgrade_proto && !strcmp(req.upgrade_proto, "tcp"));
	dg_request_free(&req);

	const char *chunked = "POST /build HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n";
	CHECK_INT(dg_request_parse_head(chunked, strlen(chunked), &req, &why), 0);
	CHECK_INT(req.body, DG_BODY_CHUNKED);
	dg_request_free(&req);

	head_refused("GET /_ping HTTP/1.1\nHost: x\n\n", "bare LF");
	head_refused("GET /_ping HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", "bare CR");
	head_refused("GET /_ping HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "obs-fold");
	head_refused("GET /_ping HTTP/1.1\r\nHost : x\r\n\r\n", "blank between");
	head_refused("GET /_ping HTTP/1.1\r\nHost: x\x01\r\n\r\n", "control");
	head_refused("GET /_ping HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", "non-ASCII");
	head_refused("\r\nGET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", "empty line before");
	head_refused("POST /build HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n", "Content-Length");
	head_refused("POST /build HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		     "Content-Length");
	head_refused("POST /build HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		     "Transfer-Encoding");
	head_refused("GET /_ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Host");
	head_refused("GET http://docker/_ping HTTP/1.1\r\nHost: x\r\n\r\n", "absolute-form");
	head_refused("GET /containers/%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", "'..'");
	head_refused("GET /_ping HTTP/2.0\r\nHost: x\r\n\r\n", "");
	head_refused("G\xc3\x89T /_ping HTTP/1.1\r\nHost: x\r\n\r\n", "non-ASCII");
	head_refused("CONNECT docker:2375 HTTP/1.1\r\nHost: x\r\n\r\n", "");
}
