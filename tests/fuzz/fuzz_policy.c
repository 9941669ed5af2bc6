// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the policy parser and compiler on arbitrary bytes. Every
 * input must end in a policy or in errors, never in a crash, a hang or a
 * leak. Includes resolve relative to the working directory (seeded corpus
 * files use none that exist).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compile/compile.h"
#include "util/diag.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dg_diag diag;
	struct dg_compile_env env = { 0 };

	dg_diag_init(&diag);
	struct dg_policy *pol = dg_policy_parse_buffer("fuzz.conf", (const char *)data, size, &diag);
	struct dg_image *img = pol ? dg_compile(pol, &env, &diag) : NULL;

	/* printing exercises the caret code on every location; the locations
	 * point into the policy's files, so print before freeing it */
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull) {
		dg_diag_print(&diag, devnull, 1);
		fclose(devnull);
	}
	dg_image_free(img);
	dg_policy_free(pol);
	dg_diag_fini(&diag);
	return 0;
}
