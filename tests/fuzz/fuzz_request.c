// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the relay's request judging on anyone's bytes. An input
 * starting with 'H' is a raw request head (relay/request.c): when it is
 * accepted, the head the relay would forward must read back as the same
 * request (what was judged is what is forwarded). Any other input is METHOD,
 * a space, a target (relay/target.c), judged by every profile
 * (relay/judge.c). Every accepted target must be in the canonical form the
 * relay promises: a path of non-empty segments, none of them `.` or `..`,
 * printable ASCII only, and no query key twice.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "relay/judge.h"
#include "relay/request.h"
#include "relay/target.h"
#include "util/diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] =
	"relay r {\n    listen unix /run/dockguard/relay/docker.sock\n}\n"
	"api p extends read-only {\n"
	"    deny GET /containers/x/json\n"
	"    allow POST /build query remote!=* !networkmode\n"
	"    allow GET /x/**\n"
	"}\n"
	"allow r from user 1 api p\n";

static struct dg_policy *policy(void)
{
	static struct dg_policy *pol;
	struct dg_diag d;

	if (!pol) {
		dg_diag_init(&d);
		pol = dg_policy_parse_buffer("fuzz.conf", policy_text, sizeof(policy_text) - 1, &d);
		dg_diag_fini(&d);
		if (!pol)
			abort();
	}
	return pol;
}

static void check_canonical(const struct dg_target *t)
{
	const char *p = t->path;

	if (p[0] != '/')
		abort();
	while (*p == '/') {
		const char *end = strchr(p + 1, '/');
		size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
		if (!len || (len == 1 && p[1] == '.') || (len == 2 && p[1] == '.' && p[2] == '.'))
			abort();
		for (size_t i = 1; i <= len; i++)
			if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] >= 0x7f)
				abort();
		p += 1 + len;
	}
	if (*p)
		abort();
	for (size_t i = 0; i < t->n_params; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t->params[i].key, t->params[j].key))
				abort();
}

/* A raw head: accepted ones must survive the round trip unchanged. */
static void fuzz_head(const char *buf, size_t size)
{
	struct dg_request req, again;
	const char *why;
	long end = dg_request_head_end(buf, size, &why);
	size_t len;

	if (end < 0 && end != -E2BIG && !why)
		abort();	/* a refusal always says why */
	if (end <= 0 || dg_request_parse_head(buf, (size_t)end, &req, &why))
		return;
	check_canonical(&req.target);
	char *head = dg_request_head_text(&req, &len);
	if (dg_request_head_end(head, len, &why) != (long)len ||
	    dg_request_parse_head(head, len, &again, &why))
		abort();
	if (strcmp(req.method, again.method) || strcmp(req.raw_target, again.raw_target) ||
	    strcmp(req.target.path, again.target.path) || req.body != again.body ||
	    req.content_length != again.content_length || req.n_headers != again.n_headers)
		abort();
	dg_request_free(&again);
	free(head);
	dg_request_free(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *space;
	struct dg_target t;
	struct dg_api_decision d;
	const char *why;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = 0;
	if (size && buf[0] == 'H') {
		fuzz_head(buf + 1, size - 1);
		free(buf);
		return 0;
	}
	space = strchr(buf, ' ');
	if (space && strlen(buf) == size) {
		*space = 0;
		if (dg_target_parse(space + 1, &t, &why) == 0) {
			check_canonical(&t);
			for (size_t prof = 0; prof < policy()->n_apis; prof++)
				dg_api_judge(policy(), prof, buf, &t, &d);
			dg_target_free(&t);
		} else if (!why) {
			abort();	/* a refusal always says why */
		}
	}
	free(buf);
	return 0;
}
