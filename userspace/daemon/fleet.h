/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A swarm node's side of the fleet (docs/fleet.md): the daemon finds its
 * node's courier task among the containers Docker reports, reads the
 * bundle the task holds (through /proc, from the host), verifies it
 * against the keys the local policy pins (`set fleet-key`), this node's
 * cluster id, its expiry and the serial in force, has the daemon load its
 * policy, keeps it as last-good (loaded at the next start, before dockerd
 * runs anything) and writes what became of it into the task's /state for
 * the courier to report.
 */
#ifndef DOCKGUARD_DAEMON_FLEET_H
#define DOCKGUARD_DAEMON_FLEET_H
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "docker/docker.h"
#include "kernel/kernel.h"
#include "policy/policy.h"

#define DG_COURIER_SERVICE	"dockguard-courier"
#define DG_DEFAULT_STATE_DIR	"/var/lib/dockguard"

struct dg_fleet_node;
/* Loads the policy file `path` as the one in force: 0, or not with `why`. */
typedef int (*dg_fleet_apply_fn)(void *arg, const char *path, char *why, size_t why_len);

/*
 * The fleet side of a node whose local policy `local` pins keys; NULL
 * (err empty) when it pins none: no fleet. NULL with `err`: a key file
 * cannot be read.
 */
struct dg_fleet_node *dg_fleet_node_new(const struct dg_policy *local, const char *state_dir,
					const char *docker_host, struct dg_err *err);
/* The policy file to load at start: the last-good bundle's, or NULL. */
const char *dg_fleet_node_policy_path(const struct dg_fleet_node *f);
/* The containers changed: a courier's new bundle is judged and, if good, applied. */
void dg_fleet_node_containers(struct dg_fleet_node *f, const struct dg_container_set *set,
			      dg_fleet_apply_fn apply, void *arg);
/* Rewrites each courier's /state/status (the courier sees the daemon alive). */
void dg_fleet_node_report(struct dg_fleet_node *f);
/* One more denial since the bundle in force was applied. */
void dg_fleet_node_denial(struct dg_fleet_node *f);
/* {"serial", "bundle", "state", "reason", "denials"} for status. */
json_t *dg_fleet_node_json(const struct dg_fleet_node *f);
void dg_fleet_node_free(struct dg_fleet_node *f);
#endif
