/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy as written: the abstract syntax tree that the parser builds from
 * a policy file (and its includes) and that the compiler turns into maps.
 *
 * Users and groups are resolved to numeric ids by the parser (an unknown name
 * is a parse error at its location); units, `remapped` and container subjects
 * are resolved later by the compiler, which knows about cgroups and Docker.
 */
#ifndef DOCKGUARD_POLICY_H
#define DOCKGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/diag.h"

/* Explicit limits; every one of them is reported with its location. */
#define DG_POLICY_MAX_FILE_SIZE   (1024 * 1024)	/* bytes per file */
#define DG_POLICY_MAX_TOTAL_SIZE  (4 * 1024 * 1024)	/* bytes of all files, includes too */
#define DG_POLICY_MAX_LINE        4096		/* bytes per line */
#define DG_POLICY_MAX_INCLUDE_DEPTH 8
#define DG_POLICY_MAX_FILES       256		/* files read in all, includes too */
#define DG_POLICY_MAX_NESTING     8		/* braces */
#define DG_POLICY_MAX_ENDPOINTS   255
#define DG_POLICY_MAX_ADDRS       64		/* addresses per endpoint */
#define DG_POLICY_MAX_RULES       4096
#define DG_POLICY_MAX_ITEMS       65536		/* subject items, whole policy */
#define DG_POLICY_MAX_NAME        64		/* endpoint names */
#define DG_POLICY_MAX_FLEET_KEYS  8		/* `set fleet-key` */
#define DG_UNIX_PATH_MAX          107		/* sun_path less the NUL */
#define DG_CGROUP_PATH_MAX        4096
#define DG_CGROUP_COMPONENT_MAX   126		/* see bpf/dockguard_abi.h */
#define DG_CGROUP_DEPTH_MAX       16

enum dg_addr_kind {
	DG_ADDR_TCP4,		/* addr holds the IPv4-mapped IPv6 form */
	DG_ADDR_TCP6,
	DG_ADDR_TCP_ANY,	/* `*`: every address, IPv4 and IPv6 */
	DG_ADDR_UNIX,
};

struct dg_addr {
	enum dg_addr_kind kind;
	uint8_t addr[16];	/* network order; IPv4 as ::ffff:a.b.c.d */
	uint16_t port;		/* host order, 1..65535 */
	char *path;		/* DG_ADDR_UNIX: absolute, as written */
	struct dg_loc loc;
};

struct dg_endpoint {
	char *name;
	struct dg_addr *addrs;		/* a relay's: where it listens */
	size_t n_addrs;
	struct dg_loc loc;
	bool relay;			/* `relay NAME { ... }` (docs/relay.md) */
	struct dg_addr upstream;	/* relay: the Docker API it forwards to */
};

enum dg_subject_kind {
	DG_SUBJ_ANY,
	DG_SUBJ_USER,		/* items: uid ranges */
	DG_SUBJ_GROUP,		/* items: gids */
	DG_SUBJ_CGROUP,		/* items: absolute cgroup v2 paths */
	DG_SUBJ_UNIT,		/* items: systemd unit names */
	DG_SUBJ_CONTAINER,	/* items: see enum dg_container_key */
	DG_SUBJ_REMAPPED,
};

enum dg_container_key {
	DG_CT_NAME,		/* glob */
	DG_CT_ID,		/* hex prefix */
	DG_CT_LABEL,		/* key=value, exact */
	DG_CT_IMAGE,		/* glob */
	DG_CT_SERVICE,		/* exact swarm service name */
};

/* One alternative of a subject: `user { alice, 1001-1010 }` has two items. */
struct dg_item {
	uint32_t lo, hi;	/* USER: uid range; GROUP: lo = hi = gid */
	char *str;		/* CGROUP path, UNIT name, CONTAINER pattern / label key */
	char *value;		/* CONTAINER label value */
	char *text;		/* the item as written, for messages */
	struct dg_loc loc;
};

struct dg_subject {
	enum dg_subject_kind kind;
	enum dg_container_key ckey;	/* CONTAINER only */
	struct dg_item *items;		/* OR */
	size_t n_items;
	struct dg_loc loc;
};

enum dg_action {
	DG_ACTION_ALLOW,
	DG_ACTION_DENY,
	DG_ACTION_AUDIT,	/* allow + log */
	DG_ACTION_LISTEN,	/* who may bind the endpoint's TCP addresses */
};

enum dg_log_mode {
	DG_LOG_DEFAULT,		/* deny logs, allow does not */
	DG_LOG_ALWAYS,		/* `log` */
	DG_LOG_QUIET,		/* `quiet` */
};

/* ---- API profiles: what a relay lets a caller ask (docs/relay.md) -------- */

enum dg_api_method {
	DG_API_GET = 1u << 0,
	DG_API_HEAD = 1u << 1,
	DG_API_POST = 1u << 2,
	DG_API_PUT = 1u << 3,
	DG_API_DELETE = 1u << 4,
	DG_API_PATCH = 1u << 5,
	DG_API_OPTIONS = 1u << 6,
};

/* The bit of an HTTP method, 0 for one no API rule can name. */
uint32_t dg_api_method_bit(const char *method);

enum dg_api_cond_op {
	DG_COND_MATCH,		/* K=GLOB: present, and its value matches */
	DG_COND_NO_MATCH,	/* K!=GLOB: absent, or its value does not match */
	DG_COND_ABSENT,		/* !K */
};

struct dg_api_cond {
	enum dg_api_cond_op op;
	char *key;
	char *glob;		/* fnmatch(3) pattern; NULL for ABSENT */
	struct dg_loc loc;
};

#define DG_API_MAX_SEGMENTS 32	/* of a path pattern */

/* `allow|deny [log|quiet] METHODS PATTERN... [query COND...]` */
struct dg_api_rule {
	bool deny;
	enum dg_log_mode log;
	uint32_t methods;	/* DG_API_* */
	char **patterns;	/* segments: `*` one, `**` (last) the rest */
	size_t n_patterns;
	struct dg_api_cond *conds;	/* AND */
	size_t n_conds;
	struct dg_loc loc;
};

#define DG_API_NO_PARENT SIZE_MAX

/* Whether profile `a` is in learning mode at `now` (Unix time). */
#define dg_api_profile_audits(a, now) ((a)->audit && (!(a)->audit_until || (now) < (a)->audit_until))

struct dg_api_profile {
	char *name;
	struct dg_loc loc;
	char *extends;		/* NULL: none */
	struct dg_loc extends_loc;
	size_t parent;		/* index in dg_policy.apis, or DG_API_NO_PARENT */
	bool builtin;		/* from dockguard itself (api_profiles.c) */
	bool audit;		/* `audit` in the block: forward + log what no rule matches */
	int64_t audit_until;	/* `audit until DATE`: learning ends then (Unix time, the
				 * start of the day after DATE, UTC); 0: no end */
	struct dg_loc audit_loc;
	struct dg_api_rule *rules;	/* own rules, in order; the parent's come after */
	size_t n_rules;
	/* `guard create [binds PATTERN...]`: what requests create is judged
	 * from their bodies (relay/guard.h). The profiles it extends guard
	 * too: a request passes only the guard of each (a child narrows). */
	bool guard;
	struct dg_loc guard_loc;
	char **guard_binds;		/* host paths binds may name */
	size_t n_guard_binds;
	/* `own`: what this profile's callers create is labelled with the key
	 * of the rule that admitted them; writes to objects without that
	 * label are refused (relay/own.h). Inherited like the guard. */
	bool own;
	struct dg_loc own_loc;
	/* `visible label K=V | name GLOB | own` (relay/visible.h): what its callers
	 * see of containers, services, tasks, networks and volumes; an object
	 * is visible when it matches one clause of each profile of the chain
	 * that has any (a child narrows). */
	struct dg_visible_clause *visible;
	size_t n_visible;
	/* `redact env join-tokens`: secrets taken out of answers; inherited */
	bool redact_env, redact_join_tokens;
	struct dg_loc redact_loc;
};

struct dg_visible_clause {
	bool own;			/* `own`: labelled with the caller's owner key */
	char *label_key;		/* `label K=V`; NULL for `name` and `own` */
	char *label_value;
	char *name_glob;		/* `name GLOB` (fnmatch) */
	struct dg_loc loc;
};

struct dg_rule {
	enum dg_action action;
	enum dg_log_mode log;
	bool any_endpoint;		/* ENDPOINTS was `any` */
	size_t *endpoints;		/* indexes into dg_policy.endpoints */
	size_t n_endpoints;
	struct dg_subject *subjects;	/* AND; none means anyone */
	size_t n_subjects;
	struct dg_loc loc;		/* the action keyword */
	char *api;			/* `api NAME`: the profile for relay requests */
	struct dg_loc api_loc;
	size_t api_profile;		/* its index in dg_policy.apis (checked) */
	bool implicit;			/* not written: a relay's TCP `listen` rule */
};

/* Whether an allow (or audit) rule trusts containers by what their creator
 * chooses: name, label, image or service (no climbing, relay/climb.h). */
bool dg_rule_trusts_containers(const struct dg_rule *r);

enum dg_default {
	DG_DEFAULT_DENY,
	DG_DEFAULT_AUDIT,
};

struct dg_policy {
	char *path;			/* the top-level file as given */
	struct dg_endpoint *endpoints;
	size_t n_endpoints;
	struct dg_rule *rules;		/* file order, includes expanded in place */
	size_t n_rules;
	enum dg_default default_action;
	struct dg_loc default_loc;
	uint32_t log_rate;		/* events per second per subject */
	uint32_t log_burst;
	char *docker_host;		/* `set docker-host`, NULL = default */
	struct dg_loc docker_host_loc;
	struct dg_api_profile *apis;	/* the built-in profiles first, then the file's */
	size_t n_apis;
	enum dg_default api_default;	/* for requests no API rule matches */
	unsigned int api_min_major, api_min_minor;	/* `set api-version min` */
	uint32_t api_rate;		/* `set api-rate N/s|N/min`: requests a relay takes */
	uint32_t api_rate_per;		/* from one caller per this many seconds; 0: no limit */
	struct dg_loc api_rate_loc;
	char *metrics;			/* `set metrics URL`: the daemon serves GET /metrics there */
	char *metrics_textfile;		/* `set metrics-textfile PATH`: written every 15 s */
	char **fleet_keys;		/* `set fleet-key PATH`: public keys bundles may come from */
	size_t n_fleet_keys;
	struct dg_loc fleet_key_loc;
	size_t n_items;			/* subject items in all rules */
	struct dg_diag_files *files;	/* owns every file name a dg_loc points to */
	/* sha256 of the bytes parsed: every file in the order read (the top
	 * file first, each include when reached); `sha256sum FILE` for one file */
	char sha256[65];
};

#define DG_DEFAULT_LOG_RATE 20
#define DG_DEFAULT_DOCKER_HOST "unix:///var/run/docker.sock"

/*
 * Parses `path` and everything it includes. Every error found goes to `diag`
 * (parsing goes on after an error, to report them all). Returns the policy
 * when `diag` holds no error, NULL otherwise.
 */
struct dg_policy *dg_policy_parse_file(const char *path, struct dg_diag *diag);

/* The source line of a rule, without its indentation, at most `max` bytes
 * (then ending in "..."); "" when unknown. Caller frees. */
char *dg_rule_source(const struct dg_rule *rule, size_t max);

/* The same, from memory: `name` is used in locations; includes are read from disk. */
struct dg_policy *dg_policy_parse_buffer(const char *name, const char *buf,
					 size_t len, struct dg_diag *diag);

void dg_policy_free(struct dg_policy *policy);

/*
 * Identities that carry a rule's counters from one policy generation to the
 * next (identity.c): ids[r] for each of pol's rules, the same for a rule that
 * says the same (action, log mode, endpoint names, subjects) wherever it sits.
 */
void dg_rule_identities(const struct dg_policy *pol, uint64_t *ids);
uint64_t dg_default_identity(enum dg_default action);

const char *dg_action_name(enum dg_action action);

/* An address as a destination: `tcp:127.0.0.1:2375`, `tcp:[::1]:2375`,
 * `tcp:*:2375`, `unix:/path` (`sep` ':'), or as written in a policy (' '). */
const char *dg_addr_format_sep(const struct dg_addr *addr, char sep, char *buf, size_t size);

#endif
