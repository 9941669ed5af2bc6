// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: what `visible`, `own` and `redact` make of dockerd's
 * answers (relay/visible.c), on anyone's bytes (a label or a name in an
 * answer is whatever some other caller chose). The first byte picks the
 * route, the rest is the answer. Besides crashes and leaks: a rewritten
 * answer is one JSON text and a newline, a list keeps only what the view
 * sees (a second rewrite changes nothing), and redacted Env is empty.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/visible.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy[] =
	"api team {\n"
	"    allow GET /**\n"
	"    visible label com.example.team=ci\n"
	"    visible name shared-*\n"
	"    visible own\n"
	"    own\n"
	"    redact env join-tokens\n"
	"}\n";

static const enum dg_answer_kind kinds[] = {
	DG_ANSWER_CONTAINERS, DG_ANSWER_SERVICES, DG_ANSWER_TASKS,   DG_ANSWER_NETWORKS,
	DG_ANSWER_VOLUMES,    DG_ANSWER_DF,	  DG_ANSWER_CONTAINER, DG_ANSWER_SERVICE,
	DG_ANSWER_TASK,	      DG_ANSWER_SWARM,
};

static struct dg_policy *pol;
static struct dg_diag diag;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dg_view v;
	char *out = NULL, *again = NULL, why[200];
	size_t out_len = 0, again_len = 0;

	if (!pol) {
		dg_diag_init(&diag);
		pol = dg_policy_parse_buffer("fuzz.conf", policy, sizeof(policy) - 1, &diag);
		if (!pol)
			abort();
	}
	if (!size)
		return 0;
	size_t profile = pol->n_apis - 1;
	enum dg_answer_kind k = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
	const char *in = (const char *)data + 1;
	size_t len = size - 1;

	dg_view_init(&v, pol, profile, "0123456789abcdef");
	dg_view_set_services(&v, in, len);
	dg_view_event(&v, in, len);
	dg_view_object(&v, DG_OWN_CONTAINER + data[0] % 5, in, len);
	if (dg_view_rewrite(&v, k, in, len, &out, &out_len, why, sizeof(why))) {
		if (!out_len || out[out_len - 1] != '\n' || strlen(out) != out_len)
			abort();	/* not one JSON text and its newline */
		json_t *j = json_loadb(out, out_len, JSON_ALLOW_NUL, NULL);
		if (!j)
			abort();
		if (k == DG_ANSWER_CONTAINER) {
			json_t *env = json_object_get(json_object_get(j, "Config"), "Env");
			if (env && json_array_size(env))
				abort();	/* Env left in */
		}
		json_decref(j);
		/* what the view kept, it keeps again unchanged */
		if (!dg_view_rewrite(&v, k, out, out_len, &again, &again_len, why, sizeof(why)) ||
		    again_len != out_len || memcmp(again, out, out_len))
			abort();
		free(again);
		free(out);
	} else if (!why[0]) {
		abort();	/* a refusal without its reason */
	}
	dg_view_fini(&v);
	return 0;
}
