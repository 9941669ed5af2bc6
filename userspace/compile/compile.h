/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The compiled policy: the exact tables the BPF programs read (see
 * bpf/dockguard_abi.h), held in memory. The loader copies an image into the
 * inactive slot; `explain` evaluates the same image with dg_image_evaluate(),
 * so the kernel and userspace judge from one compiled form.
 */
#ifndef DOCKGUARD_COMPILE_H
#define DOCKGUARD_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docker/docker.h"
#include "dockguard_abi.h"
#include "policy/policy.h"
#include "policy/resolve.h"

/* A disjoint uid interval [lo, hi] and the bitmap of the rules it satisfies. */
struct dg_uid_interval {
	uint32_t lo, hi;
	uint32_t bm;
};

struct dg_gid_entry {
	uint32_t gid;
	uint32_t bm;
};

struct dg_cgroup_entry {
	struct dg_cgroup_key key;	/* parent node id + component name */
	struct dg_cgroup_node node;	/* own id + bitmap (ancestors included) */
};

struct dg_tcp_entry {
	struct dg_tcp_key key;
	uint8_t ep;
	uint8_t host_only;	/* judged only in the host's netns (dg_dest.host_only) */
};

struct dg_unix_entry {
	struct {
		char name[DG_UNIX_NAME_LEN];	/* the socket's file name */
	} key;
	uint8_t ep;
};

/* A file name at which one container bind-mounts an endpoint's socket:
 * judged as the endpoint for that container's cgroup only (dg_alias_key). */
struct dg_unix_alias {
	char name[DG_UNIX_NAME_LEN];
	char *cgroup;		/* the container's cgroup path */
	uint8_t ep;
};

struct dg_port_entry {
	uint16_t port;
	uint8_t any_ep;		/* `*:port` endpoint, 0 = none */
	uint8_t exact;		/* tcp_dests has keys for this port */
	uint8_t bind_ep;	/* who judges 0.0.0.0:port / [::]:port binds */
	uint8_t wide_ep;	/* judged at the host's other addresses while a
				 * wildcard listener serves the port (dg_port) */
};

/* Where a rule came from, for `explain`, `status` and events. */
struct dg_rule_origin {
	const char *file;	/* points into the policy's file table */
	unsigned int line;
	enum dg_action action;
	uint64_t id;		/* dg_rule_identities: carries its counters */
};

struct dg_image_endpoint {
	char *name;
	struct dg_endpoint_info info;
	bool unix_socket;	/* has a unix address */
};

struct dg_image {
	struct dg_policy_hdr hdr;	/* generation filled in by the loader */
	uint64_t default_id;		/* the default's dg_rule_origin.id */

	struct dg_bitmap *bitmaps;	/* interned: identical bitmaps share an index */
	size_t n_bitmaps;

	struct dg_uid_interval *uids;	/* sorted, disjoint */
	size_t n_uids;
	struct dg_gid_entry *gids;	/* sorted by gid */
	size_t n_gids;
	struct dg_cgroup_entry *cgroups;
	size_t n_cgroups;

	struct dg_image_endpoint endpoints[DG_MAX_ENDPOINTS];	/* index = id, 0 unused */
	size_t n_endpoints;		/* highest id */
	struct dg_tcp_entry *tcp;
	size_t n_tcp;
	struct dg_unix_entry *unix_names;
	size_t n_unix;
	struct dg_unix_alias *aliases;
	size_t n_aliases;
	size_t aliases_left_out;	/* over DG_MAX_ALIASES_PER_CONTAINER or the map */
	struct dg_port_entry *ports;
	size_t n_ports;

	struct dg_rule_action *rules;
	struct dg_rule_origin *origins;
	size_t n_rules;

	bool has_unix;			/* some endpoint needs connect_unix */
	bool has_container_rules;	/* resolved only at load / by the daemon */

	/* What unit, `remapped` and container subjects stood for when this
	 * image was compiled, for `status`: the first DG_MAX_RESOLUTIONS. */
	struct dg_resolution *resolutions;
	size_t n_resolutions;
	size_t resolutions_left_out;
};

#define DG_MAX_RESOLUTIONS 256

struct dg_resolution {
	const char *file;	/* points into the policy's file table */
	unsigned int line;
	char *text;		/* "unit nginx.service is the cgroup /system.slice/nginx.service" */
};

/* What the compiler needs to know about the host. */
struct dg_compile_env {
	const char *cgroup_root;	/* cgroup v2 mount, for unit lookups */
	bool have_remap_range;
	uint32_t remap_lo, remap_hi;	/* subordinate uid range of the remap user */
	/* every subordinate uid range of the remap user, when it has more than
	 * one (NULL: remap_lo..remap_hi is the only one) */
	const struct dg_id_range *remap_ranges;
	size_t n_remap_ranges;
	const char *remap_user;
	const char *remap_why;		/* when !have_remap_range */
	/* The host's containers, for container subjects and for sockets
	 * bind-mounted into containers; NULL when Docker could not be asked
	 * (container subjects then match nothing: allow rules fail closed). */
	const struct dg_container_set *containers;
	/* say what each unit, `remapped` and container subject stands for now,
	 * as notes (check --verbose) */
	bool resolutions;
};

/* A cgroup directory named like a container's: 64 lowercase hex digits
 * (cgroupfs driver) or docker-<64 hex>.scope (systemd driver). */
bool dg_cgroup_name_is_container(const char *name, size_t len);

/* Does the policy name containers anywhere? (Then the caller asks Docker.) */
bool dg_policy_names_containers(const struct dg_policy *policy);

/* Whether container `c` matches item `it` of a container subject keyed by
 * `key` (a provisional container matches no label or service). */
bool dg_container_matches(const struct dg_container *c, enum dg_container_key key,
			  const struct dg_item *it);

/* Compiles `policy`; errors and warnings go to `diag`. NULL on error. */
struct dg_image *dg_compile(const struct dg_policy *policy, const struct dg_compile_env *env,
			    struct dg_diag *diag);
void dg_image_free(struct dg_image *img);

/* The subject of a userspace evaluation (`explain`). */
struct dg_subject_id {
	uint32_t uid;
	uint32_t gid;
	const uint32_t *groups;		/* supplementary */
	size_t n_groups;
	const char *cgroup;		/* absolute cgroup v2 path */
};

struct dg_verdict {
	bool allowed;
	uint32_t rule;			/* DG_RULE_DEFAULT when the default decided */
	uint8_t ep;			/* 0: destination not protected */
	bool judged;			/* false: not protected, or bind not judged */
	bool group_overflow;		/* more than DG_MAX_GROUP_HITS group rule sets */
};

/* DEST is `tcp:A:P`, `tcp:[A]:P` or `unix:PATH`. -EINVAL when malformed. */
int dg_parse_dest(const char *dest, struct dg_tcp_key *tcp, char *unix_path, size_t unix_len,
		  bool *is_unix);

/* Judges a connect (or bind) exactly as the BPF programs do. */
void dg_image_evaluate(const struct dg_image *img, const struct dg_subject_id *who,
		       const char *dest, uint32_t op, struct dg_verdict *out);
int dg_image_find_endpoint(const struct dg_image *img, const struct dg_tcp_key *tcp,
			   const char *unix_path, bool is_unix, uint32_t op);
/* The judgement of dg_image_evaluate() for a known endpoint `ep`. */
void dg_image_evaluate_endpoint(const struct dg_image *img, const struct dg_subject_id *who,
				uint8_t ep, uint32_t op, struct dg_verdict *out);
/* The endpoint a wildcard listener on `port` is judged as (dg_port.wide_ep), 0 for none. */
uint8_t dg_image_wide_endpoint(const struct dg_image *img, uint16_t port);

#endif
