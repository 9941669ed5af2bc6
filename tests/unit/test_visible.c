// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a caller sees (relay/visible.c): the policy words, which answers are
 * rewritten, lists filtered by label, name and owner key, tasks by their
 * service, /events event by event, Env and join tokens redacted, and
 * answers that are not dockerd's refused rather than passed.
 */
#include <stdlib.h>
#include <string.h>

#include "relay/visible.h"
#include "testing.h"

static const char view_policy[] =
	"relay r {\n"
	"    listen unix /tmp/dg-unit-visible.sock\n"
	"}\n"
	"api team extends read-only {\n"
	"    visible label com.example.team=ci\n"
	"    visible name shared-*\n"
	"    redact env join-tokens\n"
	"}\n"
	"api narrow extends team {\n"
	"    visible name ci-*\n"
	"}\n"
	"api mine extends read-only {\n"
	"    own\n"
	"    visible own\n"
	"}\n"
	"allow r from user 1000 api team\n";

static struct dg_policy *parse(const char *text, struct dg_diag *d)
{
	dg_diag_init(d);
	struct dg_policy *pol = dg_policy_parse_buffer("v.conf", text, strlen(text), d);
	if (!pol)
		dg_diag_print(d, stderr, 0);
	return pol;
}

static size_t profile(const struct dg_policy *pol, const char *name)
{
	for (size_t i = 0; i < pol->n_apis; i++)
		if (!strcmp(pol->apis[i].name, name))
			return i;
	return DG_API_NO_PARENT;
}

static enum dg_answer_kind kind_of(const struct dg_view *v, const char *method, const char *raw)
{
	struct dg_target t;
	const char *why;

	if (dg_target_parse(raw, &t, &why))
		return (enum dg_answer_kind)-1;
	enum dg_answer_kind k = dg_view_answer(v, method, &t);
	dg_target_free(&t);
	return k;
}

/* `in` rewritten for `v` must equal `want` (compact JSON + newline). */
static void rewrites(const struct dg_view *v, enum dg_answer_kind k, const char *in, const char *want)
{
	char *out = NULL, why[200] = "";
	size_t len = 0;
	bool ok = dg_view_rewrite(v, k, in, strlen(in), &out, &len, why, sizeof(why));

	CHECK(ok);
	if (!ok) {
		fprintf(stderr, "refused (%s): %s\n", why, in);
		return;
	}
	CHECK(len == strlen(out));
	if (strcmp(out, want))
		fprintf(stderr, "got  %swant %s", out, want);
	CHECK(!strcmp(out, want));
	free(out);
}

static void refuses(const struct dg_view *v, enum dg_answer_kind k, const char *in)
{
	char *out = NULL, why[200] = "";
	size_t len = 0;

	CHECK(!dg_view_rewrite(v, k, in, strlen(in), &out, &len, why, sizeof(why)));
	CHECK(why[0] != '\0');
	CHECK(out == NULL);
}

TEST(visible_policy_words)
{
	static const char *const bad[] = {
		"api a { visible }\n",
		"api a { visible label }\n",
		"api a { visible label =x }\n",
		"api a { visible label novalue }\n",
		"api a { visible label name=x }\n",	/* an event attribute of dockerd's */
		"api a { visible label image=x }\n",
		"api a { visible id abc }\n",
		"api a { redact }\n",
		"api a { redact passwords }\n",
	};
	struct dg_diag d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dg_policy *pol = parse(bad[i], &d);
		if (pol)
			fprintf(stderr, "accepted: %s", bad[i]);
		CHECK(pol == NULL);
		dg_policy_free(pol);
		dg_diag_fini(&d);
	}
	struct dg_policy *pol = parse(view_policy, &d);
	CHECK(pol != NULL);
	if (pol) {
		const struct dg_api_profile *a = &pol->apis[profile(pol, "team")];
		CHECK(a->n_visible == 2);
		CHECK(!strcmp(a->visible[0].label_key, "com.example.team"));
		CHECK(!strcmp(a->visible[0].label_value, "ci"));
		CHECK(!strcmp(a->visible[1].name_glob, "shared-*"));
		CHECK(a->redact_env && a->redact_join_tokens);
		CHECK(pol->apis[profile(pol, "mine")].visible[0].own);
	}
	dg_policy_free(pol);
	dg_diag_fini(&d);
}

TEST(visible_answers_rewritten)
{
	struct dg_diag d;
	struct dg_policy *pol = parse(view_policy, &d);
	struct dg_view team, ro, mine;

	CHECK(pol != NULL);
	if (!pol)
		return;
	dg_view_init(&team, pol, profile(pol, "team"), NULL);
	dg_view_init(&ro, pol, profile(pol, "read-only"), NULL);
	dg_view_init(&mine, pol, profile(pol, "mine"), "00112233aabbccdd");
	CHECK(team.visible && !ro.visible && mine.visible);
	CHECK(mine.owner != NULL && team.owner == NULL);

	CHECK(kind_of(&team, "GET", "/v1.41/containers/json?all=1") == DG_ANSWER_CONTAINERS);
	CHECK(kind_of(&team, "GET", "/services") == DG_ANSWER_SERVICES);
	CHECK(kind_of(&team, "GET", "/tasks") == DG_ANSWER_TASKS);
	CHECK(kind_of(&team, "GET", "/networks") == DG_ANSWER_NETWORKS);
	CHECK(kind_of(&team, "GET", "/volumes") == DG_ANSWER_VOLUMES);
	CHECK(kind_of(&team, "GET", "/system/df") == DG_ANSWER_DF);
	CHECK(kind_of(&team, "GET", "/events?since=1") == DG_ANSWER_EVENTS);
	CHECK(kind_of(&team, "GET", "/containers/abc/json") == DG_ANSWER_CONTAINER);
	CHECK(kind_of(&team, "GET", "/containers/json/json") == DG_ANSWER_CONTAINER);
	CHECK(kind_of(&team, "GET", "/services/abc") == DG_ANSWER_SERVICE);
	CHECK(kind_of(&team, "GET", "/tasks/abc") == DG_ANSWER_TASK);
	CHECK(kind_of(&team, "GET", "/swarm") == DG_ANSWER_SWARM);
	CHECK(kind_of(&team, "HEAD", "/containers/json") == DG_ANSWER_AS_IS);
	CHECK(kind_of(&team, "GET", "/images/json") == DG_ANSWER_AS_IS);
	CHECK(kind_of(&ro, "GET", "/containers/json") == DG_ANSWER_AS_IS);
	CHECK(kind_of(&ro, "GET", "/events") == DG_ANSWER_AS_IS);
	CHECK(kind_of(&mine, "GET", "/events") == DG_ANSWER_EVENTS);
	CHECK(kind_of(&mine, "GET", "/containers/abc/json") == DG_ANSWER_AS_IS);

	rewrites(&team, DG_ANSWER_CONTAINERS,
		 "[{\"Id\":\"1\",\"Names\":[\"/ci-build\"],\"Labels\":{\"com.example.team\":\"ci\"}},"
		 "{\"Id\":\"2\",\"Names\":[\"/web\"],\"Labels\":{\"com.example.team\":\"web\"}},"
		 "{\"Id\":\"3\",\"Names\":[\"/shared-db\"],\"Labels\":null},"
		 "{\"Id\":\"4\",\"Names\":[\"/web/shared-alias\",\"/db\"],\"Labels\":{}},"
		 "{\"Id\":\"5\",\"Names\":[\"/x\"],\"Labels\":{\"com.example.team\":\"ci\\u0000\"}},"
		 "{\"Id\":\"6\",\"Names\":[\"/y\"],\"Labels\":{\"Com.Example.Team\":\"ci\"}}]",
		 "[{\"Id\":\"1\",\"Names\":[\"/ci-build\"],\"Labels\":{\"com.example.team\":\"ci\"}},"
		 "{\"Id\":\"3\",\"Names\":[\"/shared-db\"],\"Labels\":null}]\n");
	rewrites(&team, DG_ANSWER_CONTAINERS, "[]", "[]\n");
	refuses(&team, DG_ANSWER_CONTAINERS, "{\"Id\":\"1\"}");
	refuses(&team, DG_ANSWER_CONTAINERS, "[1]");
	refuses(&team, DG_ANSWER_CONTAINERS, "[{}");
	refuses(&team, DG_ANSWER_VOLUMES, "[]");
	rewrites(&team, DG_ANSWER_VOLUMES,
		 "{\"Volumes\":[{\"Name\":\"shared-v\",\"Labels\":null},{\"Name\":\"other\",\"Labels\":{}}],"
		 "\"Warnings\":null}",
		 "{\"Volumes\":[{\"Name\":\"shared-v\",\"Labels\":null}],\"Warnings\":null}\n");
	rewrites(&team, DG_ANSWER_NETWORKS,
		 "[{\"Name\":\"bridge\",\"Id\":\"b\",\"Labels\":{}},"
		 "{\"Name\":\"cinet\",\"Id\":\"c\",\"Labels\":{\"com.example.team\":\"ci\"}}]",
		 "[{\"Name\":\"cinet\",\"Id\":\"c\",\"Labels\":{\"com.example.team\":\"ci\"}}]\n");
	rewrites(&team, DG_ANSWER_DF,
		 "{\"LayersSize\":1,\"Images\":[{\"Id\":\"i\"}],"
		 "\"Containers\":[{\"Id\":\"1\",\"Names\":[\"/a\"],\"Labels\":{}},"
		 "{\"Id\":\"2\",\"Names\":[\"/shared-b\"],\"Labels\":{}}],"
		 "\"Volumes\":[{\"Name\":\"v\",\"Labels\":{\"com.example.team\":\"ci\"}},{\"Name\":\"w\"}],"
		 "\"BuildCache\":null}",
		 "{\"LayersSize\":1,\"Images\":[{\"Id\":\"i\"}],"
		 "\"Containers\":[{\"Id\":\"2\",\"Names\":[\"/shared-b\"],\"Labels\":{}}],"
		 "\"Volumes\":[{\"Name\":\"v\",\"Labels\":{\"com.example.team\":\"ci\"}}],"
		 "\"BuildCache\":null}\n");
	/* services by Spec.Name and Spec.Labels; Env out of both specs */
	rewrites(&team, DG_ANSWER_SERVICES,
		 "[{\"ID\":\"s1\",\"Spec\":{\"Name\":\"shared-web\",\"TaskTemplate\":{\"ContainerSpec\":"
		 "{\"Image\":\"i\",\"Env\":[\"PASSWORD=x\"]}}},\"PreviousSpec\":{\"Name\":\"shared-web\","
		 "\"TaskTemplate\":{\"ContainerSpec\":{\"Env\":[\"PASSWORD=old\"]}}}},"
		 "{\"ID\":\"s2\",\"Spec\":{\"Name\":\"other\"}}]",
		 "[{\"ID\":\"s1\",\"Spec\":{\"Name\":\"shared-web\",\"TaskTemplate\":{\"ContainerSpec\":"
		 "{\"Image\":\"i\",\"Env\":[]}}},\"PreviousSpec\":{\"Name\":\"shared-web\","
		 "\"TaskTemplate\":{\"ContainerSpec\":{\"Env\":[]}}}}]\n");
	/* tasks: those of the visible services only */
	const char *services = "[{\"ID\":\"s1\",\"Spec\":{\"Name\":\"shared-web\"}},"
			       "{\"ID\":\"s2\",\"Spec\":{\"Name\":\"other\"}}]";
	CHECK(dg_view_set_services(&team, services, strlen(services)));
	CHECK(team.n_services == 1);
	rewrites(&team, DG_ANSWER_TASKS,
		 "[{\"ID\":\"t1\",\"ServiceID\":\"s1\",\"Spec\":{\"ContainerSpec\":{\"Env\":[\"A=1\"]}}},"
		 "{\"ID\":\"t2\",\"ServiceID\":\"s2\"},{\"ID\":\"t3\"}]",
		 "[{\"ID\":\"t1\",\"ServiceID\":\"s1\",\"Spec\":{\"ContainerSpec\":{\"Env\":[]}}}]\n");
	CHECK(!dg_view_set_services(&team, "{}", 2));
	CHECK(team.n_services == 0);
	rewrites(&team, DG_ANSWER_CONTAINER,
		 "{\"Id\":\"1\",\"Config\":{\"Env\":[\"TOKEN=s3cret\"],\"Labels\":{}}}",
		 "{\"Id\":\"1\",\"Config\":{\"Env\":[],\"Labels\":{}}}\n");
	rewrites(&team, DG_ANSWER_SWARM,
		 "{\"ID\":\"w\",\"JoinTokens\":{\"Worker\":\"SWMTKN-1-w\",\"Manager\":\"SWMTKN-1-m\"}}",
		 "{\"ID\":\"w\",\"JoinTokens\":{\"Worker\":\"\",\"Manager\":\"\"}}\n");
	refuses(&team, DG_ANSWER_SWARM, "\"JoinTokens\"");

	/* a child narrows: visible in team and named ci-* */
	struct dg_view narrow;
	dg_view_init(&narrow, pol, profile(pol, "narrow"), NULL);
	rewrites(&narrow, DG_ANSWER_CONTAINERS,
		 "[{\"Names\":[\"/ci-1\"],\"Labels\":{\"com.example.team\":\"ci\"}},"
		 "{\"Names\":[\"/shared-1\"],\"Labels\":{}},{\"Names\":[\"/ci-2\"],\"Labels\":{}}]",
		 "[{\"Names\":[\"/ci-1\"],\"Labels\":{\"com.example.team\":\"ci\"}}]\n");
	/* visible own: the caller's key */
	rewrites(&mine, DG_ANSWER_CONTAINERS,
		 "[{\"Names\":[\"/a\"],\"Labels\":{\"io.dockguard.owner\":\"00112233aabbccdd\"}},"
		 "{\"Names\":[\"/b\"],\"Labels\":{\"io.dockguard.owner\":\"ffffffffffffffff\"}}]",
		 "[{\"Names\":[\"/a\"],\"Labels\":{\"io.dockguard.owner\":\"00112233aabbccdd\"}}]\n");

	/* single objects, as a lookup answers */
	const char *c_ci = "{\"Id\":\"1\",\"Name\":\"/x\",\"Config\":{\"Labels\":{\"com.example.team\":\"ci\"}}}";
	const char *c_web = "{\"Id\":\"2\",\"Name\":\"/web\",\"Config\":{\"Labels\":{}}}";
	CHECK(dg_view_object(&team, DG_OWN_CONTAINER, c_ci, strlen(c_ci)));
	CHECK(!dg_view_object(&team, DG_OWN_CONTAINER, c_web, strlen(c_web)));
	CHECK(!dg_view_object(&team, DG_OWN_CONTAINER, "nonsense", 8));
	CHECK(dg_view_object(&team, DG_OWN_VOLUME, "{\"Name\":\"shared-v\"}", 19));
	CHECK(!dg_view_object(&team, DG_OWN_EXEC, "{\"ID\":\"e\"}", 10));

	dg_view_fini(&team);
	dg_view_fini(&narrow);
	dg_view_fini(&ro);
	dg_view_fini(&mine);
	dg_policy_free(pol);
	dg_diag_fini(&d);
}

static bool event(const struct dg_view *v, const char *json)
{
	return dg_view_event(v, json, strlen(json));
}

TEST(visible_events)
{
	struct dg_diag d;
	struct dg_policy *pol = parse(view_policy, &d);
	struct dg_view team, mine;

	CHECK(pol != NULL);
	if (!pol)
		return;
	dg_view_init(&team, pol, profile(pol, "team"), NULL);
	dg_view_init(&mine, pol, profile(pol, "mine"), "00112233aabbccdd");
	CHECK(event(&team, "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"1\","
		    "\"Attributes\":{\"com.example.team\":\"ci\",\"name\":\"x\",\"image\":\"i\"}}}"));
	CHECK(!event(&team, "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"2\","
		     "\"Attributes\":{\"name\":\"web\",\"image\":\"i\"}}}"));
	CHECK(event(&team, "{\"Type\":\"container\",\"Actor\":{\"Attributes\":{\"name\":\"shared-1\"}}}"));
	CHECK(event(&team, "{\"Type\":\"image\",\"Action\":\"pull\",\"Actor\":{\"ID\":\"busybox\"}}"));
	CHECK(event(&team, "{\"Type\":\"network\",\"Action\":\"create\",\"Actor\":{\"ID\":\"n\","
		    "\"Attributes\":{\"name\":\"shared-net\",\"type\":\"bridge\"}}}"));
	/* a connect names a container: that container's too */
	CHECK(!event(&team, "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n\","
		     "\"Attributes\":{\"name\":\"shared-net\",\"container\":\"2\"}}}"));
	CHECK(event(&team, "{\"Type\":\"volume\",\"Action\":\"create\",\"Actor\":{\"ID\":\"shared-v\","
		    "\"Attributes\":{\"driver\":\"local\"}}}"));
	CHECK(!event(&team, "{\"Type\":\"volume\",\"Action\":\"create\",\"Actor\":{\"ID\":\"v\"}}"));
	CHECK(!event(&team, "{\"Type\":\"service\",\"Actor\":{\"Attributes\":{\"name\":\"web\"}}}"));
	/* what cannot be read is left out */
	CHECK(!event(&team, "{\"Type\":\"container\""));
	CHECK(!event(&team, "[]"));
	CHECK(!event(&team, "{\"Type\":\"container\",\"Actor\":{\"Attributes\":[]}}"));
	/* own: only the caller's containers; no labels, no events */
	CHECK(event(&mine, "{\"Type\":\"container\",\"Actor\":{\"Attributes\":"
		    "{\"io.dockguard.owner\":\"00112233aabbccdd\",\"name\":\"a\"}}}"));
	CHECK(!event(&mine, "{\"Type\":\"container\",\"Actor\":{\"Attributes\":{\"name\":\"a\"}}}"));
	CHECK(!event(&mine, "{\"Type\":\"volume\",\"Actor\":{\"ID\":\"v\"}}"));
	CHECK(event(&mine, "{\"Type\":\"daemon\",\"Action\":\"reload\",\"Actor\":{\"ID\":\"d\"}}"));
	dg_view_fini(&team);
	dg_view_fini(&mine);
	dg_policy_free(pol);
	dg_diag_fini(&d);
}
