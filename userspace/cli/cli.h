/* SPDX-License-Identifier: GPL-2.0-only */
/* Command-line plumbing shared by the commands: options and common steps. */
#ifndef DOCKGUARD_CLI_H
#define DOCKGUARD_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>

#include "compile/compile.h"
#include "policy/policy.h"

/* Exit statuses of spec §3. */
#define DG_EXIT_OK		0
#define DG_EXIT_INVALID		1	/* invalid policy; also "deny" for explain */
#define DG_EXIT_USAGE		2
#define DG_EXIT_SYSTEM		3
#define DG_EXIT_NOT_LOADED	4
#define DG_EXIT_NOT_ENDPOINT	5	/* explain: no endpoint covers the destination */

#define DG_DEFAULT_CONFIG	"/etc/dockguard/dockguard.conf"
#define DG_DEFAULT_BPFFS	"/sys/fs/bpf/dockguard"
#define DG_DEFAULT_RUN_DIR	"/run/dockguard"

struct dg_cli {
	const char *config;		/* -c; NULL = not given */
	const char *bpffs;
	const char *cgroup;		/* --cgroup; NULL = not given */
	const char *run_dir;
	const char *state_dir;		/* --state-dir; NULL: /var/lib/dockguard */
	/* fleet */
	const char *out;		/* keygen --out DIR */
	const char *key;		/* push --key FILE */
	bool dry_run;			/* push --dry-run */
	bool json;
	bool no_follow;
	bool unload_on_exit;	/* run */
	bool host;		/* check --host: audit the engine's listeners */
	/* explain */
	const char *to;
	const char *request;		/* explain --request 'METHOD TARGET' (relay:NAME) */
	const char *uid;
	const char *gid;
	const char *container;
	const char *subject_cgroup;	/* --subject-cgroup */
	int cgroup_count;		/* how many --cgroup were given */
	bool verbose;		/* explain: also the policy's warnings */
	/* suggest (also --uid, --container) */
	const char *relay;		/* --relay NAME */
	const char *since;		/* --since DURATION */
	bool daemon;		/* `run`: the daemon follows Docker itself */
	/* the daemon's view of the host's containers (NULL: ask Docker once) */
	const struct dg_container_set *containers;
	/* the daemon's policy in force: a change of containers recompiles it,
	 * never the file, which may have been edited since (NULL: the file) */
	const struct dg_policy *policy;
	/* positional arguments after the command */
	char **args;
	int n_args;
};

/* A parsed and compiled policy file, and what was needed to compile it. */
struct dg_loaded_policy {
	struct dg_policy *policy;
	bool policy_borrowed;		/* dg_cli_compile_parsed(): the caller's */
	struct dg_image *image;
	struct dg_container_set *containers_owned;	/* listed for this compile */
	bool docker_unreachable;			/* container rules failed closed */
	char sha256[65];
	char cgroup_root[4096];
	struct dg_remap_info {
		bool enabled, have_range;
		char user[64];
		uint32_t lo, hi;
	} remap;
};

/*
 * Parses and compiles `path`; prints its errors to stderr, and with
 * `warnings` its warnings too (check and load show them; explain, which
 * reads the loaded policy again, only when asked). Container subjects and
 * bind-mounted sockets use cli->containers, or, with `ask_docker`, the
 * containers Docker lists now (when the policy needs them). Returns 0, or
 * DG_EXIT_INVALID.
 */
int dg_cli_compile(const struct dg_cli *cli, const char *path, bool ask_docker, bool warnings,
		   struct dg_loaded_policy *out);

/* The same for a policy parsed before, which stays the caller's: compiled
 * again for the host and cli->containers as they are now, errors only. */
int dg_cli_compile_parsed(const struct dg_cli *cli, const struct dg_policy *policy,
			  struct dg_loaded_policy *out);
void dg_cli_policy_free(struct dg_loaded_policy *lp);

/* The policy file a command works on: FILE argument, -c, or the default. */
const char *dg_cli_policy_path(const struct dg_cli *cli);

/*
 * Validates, compiles and loads `path` (the work of `dockguard load`):
 * prints what it did to `out` (NULL: nothing) and diagnostics to stderr.
 * With `keep`, a load that succeeds hands the parsed policy over (the
 * daemon keeps it for dg_cli_reapply()). Returns DG_EXIT_OK, DG_EXIT_INVALID
 * (nothing changed) or DG_EXIT_SYSTEM, with `err` set for the latter two.
 */
struct dg_err;
int dg_cli_load(const struct dg_cli *cli, const char *path, FILE *out, struct dg_policy **keep,
		struct dg_err *err);

/*
 * The daemon's containers changed: compiles cli->policy (never the file,
 * which may have been edited and not reloaded) for the containers in
 * cli->containers and swaps it in. Same results as dg_cli_load().
 */
int dg_cli_reapply(const struct dg_cli *cli, struct dg_err *err);

__attribute__((format(printf, 1, 2))) void dg_cli_error(const char *fmt, ...);

/* The endpoints of a policy as its stored description names them:
 * [{"id", "name", "dests": ["tcp:127.0.0.1:2375", "unix:/run/docker.sock"]}]. */
json_t *dg_policy_endpoints_json(const struct dg_policy *policy);

/*
 * The listeners that serve each TCP address of `endpoints` (the endpoints of
 * a policy's description: [{"name", "dests"}]) in this network namespace: a
 * JSON array of {"endpoint", "dest", "listeners": [{"address", "pid", "comm",
 * "cgroup", "unit"|"container", "wider", "judged_on", "judged_as" (the
 * endpoint the other addresses are judged as), "network_reachable"}]}.
 * Empty with `why` set when the listeners cannot be listed.
 */
json_t *dg_listeners_report(json_t *endpoints, char *why, size_t why_len);
void dg_listeners_print(FILE *out, json_t *report);
/* A warning on stderr for each loopback endpoint reachable from other hosts. */
void dg_listeners_warn(json_t *report);

/*
 * The host audit (cli_engine.c): every listening socket of the Docker
 * engine at `docker_host` (or the pidfile's, or a process named dockerd) and
 * of its containerd, each "protected" by an endpoint, "NOT PROTECTED", or
 * "not reachable from containers" (a unix socket that no container's mount
 * namespace has, whose mode gives others no write permission, which
 * connecting takes). {"dockerd_pid" (null: no engine runs), "found_by",
 * "listeners": [{"process", "pid", "listener", "state", "endpoint", "why"}]},
 * or {"error"} when sock_diag cannot be read. docker_host NULL: the default.
 */
json_t *dg_engine_audit(json_t *endpoints, const char *docker_host, bool unix_enforced);
void dg_engine_print(FILE *out, json_t *audit);
/* Warnings on stderr for the NOT PROTECTED ones; how many there were. */
size_t dg_engine_warn(json_t *audit);
size_t dg_engine_unprotected(json_t *audit);

int do_check(struct dg_cli *cli);
int do_load(struct dg_cli *cli);
int do_unload(struct dg_cli *cli);
int do_status(struct dg_cli *cli);
int do_explain(struct dg_cli *cli);
int do_version(struct dg_cli *cli);
int do_run(struct dg_cli *cli);
int do_fleet(struct dg_cli *cli);
int do_metrics(struct dg_cli *cli);
int do_import(struct dg_cli *cli);
/* Prometheus text of a dg_status_collect() object (cli/metrics.c). */
void dg_metrics_write(FILE *out, json_t *status);
/* What `status --json` prints (the kernel's pins, the daemon's answer):
 * NULL with *exit_status on a system error; with DG_EXIT_NOT_LOADED, only
 * "enforcing": false and "daemon". */
json_t *dg_status_collect(const struct dg_cli *cli, int *exit_status);
/* The same with the daemon's own answer `daemon` (NULL: no daemon), for the
 * daemon itself, which cannot ask its own control socket. */
json_t *dg_status_collect_with(const struct dg_cli *cli, json_t *daemon, int *exit_status);
int do_tail(struct dg_cli *cli);
int do_relay(struct dg_cli *cli);
int do_suggest(struct dg_cli *cli);

#endif
