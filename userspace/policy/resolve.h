/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What names in a policy mean on this host: the cgroup v2 mount, the cgroup
 * of a systemd unit, and Docker's userns-remap range.
 */
#ifndef DOCKGUARD_RESOLVE_H
#define DOCKGUARD_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/diag.h"

/* The cgroup v2 mount point from /proc/self/mounts, or NULL (and -ENOENT). */
int dg_cgroup2_root(char *buf, size_t len);

/*
 * The path of the cgroup with id `id` below the cgroup v2 mount `root`
 * (opened as `root_fd`), as "/system.slice/x.service"; 0, or -errno when
 * the cgroup is gone or cannot be resolved.
 */
int dg_cgroup_path_at(int root_fd, const char *root, uint64_t id, char *buf, size_t len);

/*
 * The cgroup path of unit `name`, relative to the cgroup v2 root: where
 * systemd runs, the ControlGroup it reports over D-Bus; otherwise the
 * shallowest directory of that name that systemd made (it carries the
 * trusted.invocation_id attribute systemd sets), never one that dockerd
 * (--cgroup-parent) or a delegated user created. A unit with no cgroup now
 * gets its default place (system.slice for services and scopes, the slice
 * hierarchy for slices) with a warning at `loc`. Returns a malloc'd path.
 */
char *dg_resolve_unit(const char *cgroup_root, const char *name, struct dg_diag *diag,
		      const struct dg_loc *loc);

/* Subordinate ranges a user may have several of; Docker maps them in order
 * of their start (container id 0 is the lowest range's start). */
#define DG_REMAP_MAX_RANGES 32

struct dg_id_range {
	uint32_t lo, hi;
};

struct dg_remap {
	bool enabled;		/* daemon.json has userns-remap */
	bool have_range;	/* and its user has a subordinate uid range */
	char user[64];
	uint32_t uid_lo, uid_hi;	/* the lowest range: container uid 0 is uid_lo */
	uint32_t gid_lo, gid_hi;
	struct dg_id_range uids[DG_REMAP_MAX_RANGES];	/* every range, by start */
	size_t n_uids;
	struct dg_id_range gids[DG_REMAP_MAX_RANGES];
	size_t n_gids;
	char why[256];		/* when !have_range: what is missing */
};

/* The uid inside the container for host uid `uid` (Docker's order of the
 * ranges), or -1 when `uid` is in none of them. */
int64_t dg_remap_container_uid(const struct dg_remap *r, uint32_t uid);

/*
 * Reads Docker's daemon.json ($DOCKGUARD_DOCKER_DAEMON_JSON or
 * /etc/docker/daemon.json) and /etc/subuid, /etc/subgid ($DOCKGUARD_SUBUID,
 * $DOCKGUARD_SUBGID): the files tests may point elsewhere.
 */
void dg_resolve_remap(struct dg_remap *out);

#endif
