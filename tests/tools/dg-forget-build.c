// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-forget-build: makes the pins in a bpffs directory look like another
 * build's, as a package upgrade finds them: it clears the object id in the
 * pinned config map (dg_config.object_id). The next `dockguard load` then
 * moves every hook to its own programs and fresh policy maps, as it would
 * from an older dockguard, without the time a second build of the tree
 * takes (tests/package/upgrade.sh does that with a real older build).
 *
 *   dg-forget-build BPFFS_DIR
 *
 * Exit 0 once cleared, 1 with a message otherwise.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dockguard_abi.h"

int main(int argc, char **argv)
{
	char path[4096];
	struct dg_config cfg;
	__u32 zero = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: dg-forget-build BPFFS_DIR\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/map_config_map", argv[1]);
	int fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(stderr, "dg-forget-build: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (bpf_map_lookup_elem(fd, &zero, &cfg) < 0) {
		fprintf(stderr, "dg-forget-build: cannot read %s (another layout?): %s\n", path,
			strerror(errno));
		return 1;
	}
	memset(cfg.object_id, 0, sizeof(cfg.object_id));
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST) < 0) {
		fprintf(stderr, "dg-forget-build: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
