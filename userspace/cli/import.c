// SPDX-License-Identifier: GPL-2.0-only
/* `import iptables [FILE]`: a policy from iptables-save output (migrate/iptables.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "migrate/iptables.h"
#include "util/util.h"

#define MAX_INPUT (16 * 1024 * 1024)

int do_import(struct dg_cli *cli)
{
	const char *what = cli->n_args ? cli->args[0] : "";
	const char *file = cli->n_args > 1 ? cli->args[1] : NULL;
	char *text = NULL;
	size_t len = 0;

	if (strcmp(what, "iptables")) {
		fprintf(stderr, "dockguard: import takes iptables [FILE]\n"
			"run 'dockguard import --help' for usage\n");
		return DG_EXIT_USAGE;
	}
	if (file) {
		if (read_file(file, MAX_INPUT, &text, &len)) {
			dg_cli_error("import: cannot read %s; give the output of iptables-save", file);
			return DG_EXIT_SYSTEM;
		}
	} else {
		size_t cap = 0;
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
			if (len + n > MAX_INPUT) {
				dg_cli_error("import: more than %d bytes on standard input; is that "
					     "iptables-save output?", MAX_INPUT);
				free(text);
				return DG_EXIT_INVALID;
			}
			if (len + n + 1 > cap) {
				cap = (len + n + 1) * 2;
				text = xreallocarray(text, cap, 1);
			}
			memcpy(text + len, buf, n);
			len += n;
		}
	}
	size_t carried = dg_import_iptables(text ? text : "", len, file ? file : "standard input",
					    stdout);
	free(text);
	if (!carried)
		dg_cli_error("import: no OUTPUT rule of the filter table guards a TCP port by owner; "
			     "nothing was carried over");
	return DG_EXIT_OK;
}
