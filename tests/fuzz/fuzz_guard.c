// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the body judge of `guard create` (relay/guard.c) on
 * anyone's bytes. The first byte picks the route, the rest is the body.
 * Besides crashes and leaks: a verdict always comes with its reason (none
 * for a pass, one for a refusal), and the verdict does not depend on the
 * guard's bind patterns unless the body names a host path. The same bytes
 * go to `own` (relay/own.c): labelled as a create's body (a body it labels
 * must then carry the label), read as dockerd's answer to an owner lookup,
 * and as a network connect's body (the container it names, rewritten to an
 * id, must name that id).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/guard.h"
#include "relay/own.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum dg_guard_route routes[] = {
	DG_GUARD_CONTAINER_CREATE, DG_GUARD_CONTAINER_UPDATE, DG_GUARD_CONTAINER_START,
	DG_GUARD_EXEC_CREATE,	   DG_GUARD_SERVICE_CREATE,   DG_GUARD_SERVICE_UPDATE,
	DG_GUARD_VOLUME_CREATE,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const binds[] = { "/srv/ci/**", "/data/*" };
	const struct dg_guard g = { binds, 2 }, none = { NULL, 0 };
	char why[512], why2[512];

	if (!size)
		return 0;
	enum dg_guard_route r = routes[data[0] % (sizeof(routes) / sizeof(routes[0]))];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;

	enum dg_guard_result v = dg_guard_judge_body(r, body, len, &g, false, why, sizeof(why));
	if ((v == DG_GUARD_PASS) != (why[0] == '\0'))
		abort();	/* a refusal without its reason, or a pass with one */
	enum dg_guard_result w = dg_guard_judge_body(r, body, len, &none, false, why2, sizeof(why2));
	/* fewer allowed paths never pass more */
	if (w == DG_GUARD_PASS && v != DG_GUARD_PASS)
		abort();
	if (v != w && !memmem(body, len, "/", 1) && !memmem(body, len, "\\u", 2))
		abort();	/* only a host path (or an escape that may spell one) tells the two apart */

	static const enum dg_own_kind kinds[] = { DG_OWN_CONTAINER, DG_OWN_EXEC, DG_OWN_SERVICE,
						  DG_OWN_VOLUME, DG_OWN_NETWORK };
	enum dg_own_kind k = kinds[data[0] % (sizeof(kinds) / sizeof(kinds[0]))];
	char *labelled = NULL, id[256], owner[128], exec_ct[256];
	size_t labelled_len = 0;
	if (dg_own_label_body(k, body, len, "0123456789abcdef", &labelled, &labelled_len, why,
			      sizeof(why))) {
		if (!memmem(labelled, labelled_len, "\"io.dockguard.owner\":\"0123456789abcdef\"", 39))
			abort();	/* labelled, yet without the label */
		free(labelled);
	}
	dg_own_read_answer(k, body, len, id, sizeof(id), owner, sizeof(owner), exec_ct,
			   sizeof(exec_ct));
	/* a network connect's body: the container it names, then named by id */
	char name[256];
	if (dg_own_connect_container(body, len, name, sizeof(name), why, sizeof(why))) {
		char *named = NULL;
		size_t named_len = 0;
		if (!dg_own_connect_with_id(body, len, "0123456789abcdef", &named, &named_len))
			abort();	/* a body read once must be rewritten */
		if (!dg_own_connect_container(named, named_len, name, sizeof(name), why, sizeof(why)) ||
		    strcmp(name, "0123456789abcdef"))
			abort();	/* rewritten, yet not naming the id */
		free(named);
	} else if (!why[0]) {
		abort();
	}
	return 0;
}
