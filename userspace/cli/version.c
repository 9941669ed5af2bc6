// SPDX-License-Identifier: GPL-2.0-only
/* `version`: what this binary is and what the running kernel lets it do. */
#include <stdio.h>
#include <sys/utsname.h>

#include "cli/cli.h"
#include "kernel/kernel.h"

int do_version(struct dg_cli *cli)
{
	struct dg_features f;
	struct utsname u;

	(void)cli;
	dg_kernel_probe(&f);
	if (uname(&u) < 0)
		u.release[0] = '\0';
	printf("dockguard %s\n", DOCKGUARD_VERSION);
	printf("libbpf %s\n", f.libbpf);
	printf("kernel %s: connect_unix %s, bpf_cast_to_kern_ctx %s, bpf lsm %s\n", u.release,
	       f.connect_unix ? "yes" : "no", f.kern_ctx_kfunc ? "yes" : "no", f.lsm ? "yes" : "no");
	return 0;
}
