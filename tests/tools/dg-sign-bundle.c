// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test tool: signs any text as a fleet bundle (fleet/bundle.h), as `fleet
 * push` would but without compiling it first, so that the tests can hand
 * nodes a bundle whose policy does not compile, or one for another cluster.
 *
 *   dg-sign-bundle KEYFILE CLUSTER SERIAL POLICYFILE > BUNDLE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet/bundle.h"
#include "util/util.h"

int main(int argc, char **argv)
{
	uint8_t priv[DG_FLEET_KEY_SIZE];
	char *key = NULL, *text = NULL;
	size_t kn, tn;
	const char *why;

	if (argc != 5) {
		fprintf(stderr, "usage: dg-sign-bundle KEYFILE CLUSTER SERIAL POLICYFILE\n");
		return 2;
	}
	if (read_file(argv[1], 4096, &key, &kn) || dg_fleet_read_private(key, priv, &why) ||
	    read_file(argv[4], 1 << 20, &text, &tn)) {
		fprintf(stderr, "dg-sign-bundle: cannot read the key or the policy\n");
		return 1;
	}
	struct dg_fleet_file f = { argv[4], text, tn };
	struct dg_fleet_bundle b = { .serial = strtoull(argv[3], NULL, 10), .created = time(NULL),
				     .files = &f, .n_files = 1 };
	b.not_after = b.created + 86400;
	snprintf(b.cluster, sizeof(b.cluster), "%s", argv[2]);
	char *out = dg_fleet_bundle_sign(&b, priv, &why);
	if (!out) {
		fprintf(stderr, "dg-sign-bundle: %s\n", why);
		return 1;
	}
	fputs(out, stdout);
	free(out);
	free(key);
	free(text);
	return 0;
}
