// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: `dockguard import iptables` on arbitrary input (an
 * operator's file, but whatever it holds must not crash the importer). Every
 * output line is a comment, blank, or a statement the importer writes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/iptables.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return 0;
	dg_import_iptables((const char *)data, size, "fuzz", f);
	fclose(f);
	for (char *line = out, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (*line && *line != '#' && strncmp(line, "endpoint ", 9) &&
		    strncmp(line, "allow ", 6) && strncmp(line, "deny ", 5))
			abort();
	}
	free(out);
	return 0;
}
