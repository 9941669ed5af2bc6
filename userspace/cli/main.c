// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard: global options, then one command. Options are accepted before
 * or after the command name (`dockguard --bpffs D load F` is
 * `dockguard load --bpffs D F`).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define USAGE                                                                        \
	"usage: dockguard [OPTIONS] COMMAND [ARGS]\n"                                \
	"\n"                                                                         \
	"commands:\n"                                                                \
	"  check [FILE] [--host [--json]] [--verbose]\n"                              \
	"                          parse and validate a policy; --host: also audit\n" \
	"                          this host's Docker engine listeners against it;\n" \
	"                          --verbose: what units, remapped and container\n" \
	"                          subjects stand for now\n"                      \
	"  load [FILE]             validate, compile, attach if needed, swap in\n"   \
	"  unload                  detach every hook and remove the pins\n"          \
	"  status [--json]         what is enforced, where, and the rule counters\n" \
	"  explain --to DEST [--request 'METHOD TARGET'] [--uid U] [--gid G]\n"   \
	"          [--subject-cgroup PATH] [--container NAME] [--verbose]\n"     \
	"                          the verdict for a subject and the deciding rule;\n" \
	"                          --verbose: the policy's warnings too\n"       \
	"  run [FILE] [--unload-on-exit]\n"                                          \
	"                          daemon: load, log events, serve tails, SIGHUP\n"  \
	"                          reloads, SIGTERM exits leaving enforcement\n"     \
	"  relay [FILE]            serve the policy's API relays in the foreground\n" \
	"  suggest [--uid U | --container NAME] [--relay NAME] [--since DURATION]\n" \
	"                          an api block per caller from what the daemon's\n" \
	"                          relays saw it ask\n"                         \
	"  fleet keygen [--out DIR] | image | push FILE [--key FILE] [--dry-run] | status [--json]\n" \
	"                          sign and roll a policy out to every swarm node\n" \
	"                          through Swarm; per-node state (docs/fleet.md)\n"  \
	"  metrics                 status in Prometheus text format\n"             \
	"  import iptables [FILE]  a policy from iptables-save owner rules\n"     \
	"  tail [--json] [--no-follow]\n"                                            \
	"                          stream denial and audit events\n"                 \
	"  version                 versions and kernel features\n"                   \
	"\n"                                                                         \
	"options:\n"                                                                 \
	"  -c, --config FILE       policy file (" DG_DEFAULT_CONFIG ")\n"             \
	"      --bpffs DIR         pin directory (" DG_DEFAULT_BPFFS ")\n"            \
	"      --cgroup DIR        attach point (the cgroup v2 root); explain takes\n" \
	"                          it as the subject's cgroup when --subject-cgroup\n" \
	"                          is not given (with a warning)\n"              \
	"      --run-dir DIR       daemon control socket (" DG_DEFAULT_RUN_DIR ")\n"  \
	"      --state-dir DIR     the daemon's kept state: the fleet's last good\n" \
	"                          bundle (/var/lib/dockguard)\n"                   \
	"  -h, --help              this text\n"                                      \
	"\n"                                                                         \
	"DEST is tcp:127.0.0.1:2375, tcp:[::1]:2375, unix:/var/run/docker.sock or\n"    \
	"relay:NAME\n"

struct cmd {
	const char *name;
	int (*fn)(struct dg_cli *cli);
	int max_args;
	const char *help;	/* `dockguard COMMAND --help`, as in dockguard(8) */
};

#define GLOBAL_OPTIONS "global options: -c FILE, --bpffs DIR, --cgroup DIR, --run-dir DIR, " \
		       "--state-dir DIR (dockguard --help)\n"

static const struct cmd cmds[] = {
	{ "check", do_check, 1,
	  "usage: dockguard check [FILE] [--host [--json]] [--verbose]\n"
	  "Parses and validates the policy (FILE, -c FILE or " DG_DEFAULT_CONFIG "),\n"
	  "prints FILE: ok (N endpoints, M rules) and every warning.\n"
	  "  --host      also audit this host's Docker engine listeners against it\n"
	  "  --json      with --host: the audit as JSON\n"
	  "  --verbose   what each unit, `remapped` and container subject stands for now\n"
	  "exit: 0 valid (with --host: nothing NOT PROTECTED), 1 invalid (or something\n"
	  "      NOT PROTECTED), 2 usage\n" GLOBAL_OPTIONS },
	{ "load", do_load, 1,
	  "usage: dockguard load [FILE]\n"
	  "Validates and compiles the policy, attaches the hooks at --cgroup if they\n"
	  "are not attached, swaps the policy in atomically.\n"
	  "exit: 0 applied, 1 invalid policy (the one in force is untouched), 2 usage,\n"
	  "      3 kernel or system error\n" GLOBAL_OPTIONS },
	{ "unload", do_unload, 0,
	  "usage: dockguard unload\n"
	  "Detaches every hook and removes the pins; nothing loaded is fine.\n"
	  "exit: 0, 2 usage\n" GLOBAL_OPTIONS },
	{ "status", do_status, 0,
	  "usage: dockguard status [--json]\n"
	  "What is enforced and where: policy, sha256, generation, hooks, kernel\n"
	  "features, daemon, endpoints and their listeners, rule counters.\n"
	  "  --json      one JSON object\n"
	  "exit: 0 enforcing, 2 usage, 3 pins unreadable, 4 not loaded\n" GLOBAL_OPTIONS },
	{ "explain", do_explain, 0,
	  "usage: dockguard explain --to DEST [--request 'METHOD TARGET'] [--uid U] [--gid G]\n"
	  "                         [--subject-cgroup PATH] [--container NAME] [--verbose]\n"
	  "The verdict for a subject and the rule that decides it, from the loaded\n"
	  "policy's file (or -c FILE).\n"
	  "  --to DEST         tcp:127.0.0.1:2375, tcp:[::1]:2375, unix:/var/run/docker.sock\n"
	  "                    or relay:NAME\n"
	  "  --request 'METHOD TARGET'  with relay:NAME, also the verdict on that API\n"
	  "                    request ('GET /v1.41/containers/json') and its deciding rule\n"
	  "  --uid U, --gid G  the subject's ids (names or numbers; default: yours)\n"
	  "  --subject-cgroup PATH  the subject's cgroup (default: yours); --cgroup\n"
	  "                    still works, with a warning (it is load's attach point)\n"
	  "  --container NAME  judge as that container (name or id prefix)\n"
	  "  --verbose         also the policy's warnings\n"
	  "exit: 0 allow, 1 deny (with --request: the request's verdict), 2 usage,\n"
	  "      3 the policy does not compile, 5 no endpoint covers DEST\n" GLOBAL_OPTIONS },
	{ "version", do_version, 0,
	  "usage: dockguard version\n"
	  "dockguard, libbpf and kernel versions, and the kernel features dockguard uses.\n"
	  "exit: 0\n" },
	{ "run", do_run, 1,
	  "usage: dockguard run [FILE] [--unload-on-exit]\n"
	  "The daemon: loads the policy, logs every event, follows Docker's containers,\n"
	  "serves tail and status; SIGHUP reloads, SIGTERM exits leaving enforcement.\n"
	  "  --unload-on-exit  unload when it exits\n"
	  "exit: 0 stopped, 1 invalid policy, 2 usage, 3 system error\n" GLOBAL_OPTIONS },
	{ "relay", do_relay, 1,
	  "usage: dockguard relay [FILE]\n"
	  "Serves the API relays of the policy in the foreground (docs/relay.md): every\n"
	  "request judged by the caller's identity and its rule's API profile, one line\n"
	  "per refused, logged or audited request. SIGHUP compiles the policy again.\n"
	  "exit: 0 stopped, 1 invalid policy or no relay, 2 usage, 3 cannot listen\n"
	  GLOBAL_OPTIONS },
	{ "suggest", do_suggest, 0,
	  "usage: dockguard suggest [--uid U | --container NAME] [--relay NAME] [--since DURATION]\n"
	  "An api block per caller that allows what the daemon's relays saw it ask\n"
	  "(every request since the daemon started, forwarded or refused for want of a\n"
	  "rule), ids and names made `*`, root-equivalent requests commented out and\n"
	  "marked; run the client in learning mode first (audit, set api-default audit).\n"
	  "  --uid U           callers of that uid that are not containers\n"
	  "  --container NAME  that container\n"
	  "  --relay NAME      requests to that relay only\n"
	  "  --since DURATION  routes seen in the last 30s, 15m, 2h, 7d\n"
	  "exit: 0, 1 nothing seen, 2 usage, 4 no daemon\n" GLOBAL_OPTIONS },
	{ "fleet", do_fleet, 2,
	  "usage: dockguard fleet keygen [--out DIR] | image | push FILE [--key FILE] [--dry-run] | status [--json]\n"
	  "One policy for every node of a swarm, through Swarm's own configs and a global\n"
	  "service (docs/fleet.md); the Docker API is DOCKER_HOST or the local socket.\n"
	  "  keygen    an Ed25519 key pair: DIR/fleet.key (0600) and DIR/fleet.pub\n"
	  "            (DIR: /etc/dockguard); every node pins the public one with\n"
	  "            set fleet-key /etc/dockguard/fleet.pub\n"
	  "  image     loads the courier image into this node's dockerd (every node)\n"
	  "  push      (on a manager) signs FILE for this swarm under the next serial,\n"
	  "            stores it as config dockguard-policy-sN and rolls the\n"
	  "            dockguard-courier service to it; --dry-run: only sign and say so\n"
	  "  status    (on a manager) one row per node: hostname, role, serial in\n"
	  "            force, state, denials since the push\n"
	  "  --key FILE  the private key (/etc/dockguard/fleet.key)\n"
	  "exit: 0 done (status: every node enforces the newest serial), 1 not (or an\n"
	  "      invalid policy), 2 usage, 3 system or Docker error\n" GLOBAL_OPTIONS },
	{ "metrics", do_metrics, 0,
	  "usage: dockguard metrics\n"
	  "What status knows, in Prometheus text format: decisions per rule and verdict,\n"
	  "events, suppressed, dropped, handshakes, policy generation and sha256, loads by\n"
	  "outcome, hooks, Docker and relay state, relay requests per API rule and verdict.\n"
	  "For node-exporter's textfile collector: dockguard metrics > F.tmp && mv F.tmp F.prom\n"
	  "exit: 0 (not loaded: dockguard_enforcing 0), 2 usage, 3 pins unreadable\n"
	  GLOBAL_OPTIONS },
	{ "import", do_import, 2,
	  "usage: dockguard import iptables [FILE]\n"
	  "Prints a policy that does what the filter table's OUTPUT rules in FILE (or\n"
	  "standard input: the output of iptables-save or ip6tables-save) did for the TCP\n"
	  "destinations they guard by owner (--uid-owner, --gid-owner, --suppl-groups),\n"
	  "in their order, then the chain's policy; a comment for each rule it cannot\n"
	  "carry over and why.\n"
	  "exit: 0, 1 input too large, 2 usage, 3 FILE unreadable\n" GLOBAL_OPTIONS },
	{ "tail", do_tail, 0,
	  "usage: dockguard tail [--json] [--no-follow]\n"
	  "Denial and audit events, one per line, from the daemon (or, without one,\n"
	  "from the kernel's event buffer).\n"
	  "  --json        spec section 5 JSON objects\n"
	  "  --no-follow   what is there now, then exit\n"
	  "exit: 0, 2 usage, 4 not loaded\n" GLOBAL_OPTIONS },
};

enum {
	OPT_BPFFS = 256, OPT_CGROUP, OPT_RUN_DIR, OPT_JSON, OPT_NO_FOLLOW, OPT_TO, OPT_UID,
	OPT_GID, OPT_CONTAINER, OPT_UNLOAD_ON_EXIT, OPT_HOST, OPT_VERBOSE, OPT_SUBJECT_CGROUP,
	OPT_REQUEST, OPT_RELAY, OPT_SINCE, OPT_STATE_DIR, OPT_OUT, OPT_KEY, OPT_DRY_RUN,
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "dockguard: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nrun 'dockguard --help' for usage\n");
	return DG_EXIT_USAGE;
}

static int run(int argc, char **argv, struct dg_cli *cli_out)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "bpffs", required_argument, NULL, OPT_BPFFS },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "run-dir", required_argument, NULL, OPT_RUN_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
		{ "to", required_argument, NULL, OPT_TO },
		{ "request", required_argument, NULL, OPT_REQUEST },
		{ "uid", required_argument, NULL, OPT_UID },
		{ "gid", required_argument, NULL, OPT_GID },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "unload-on-exit", no_argument, NULL, OPT_UNLOAD_ON_EXIT },
		{ "host", no_argument, NULL, OPT_HOST },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },
		{ "subject-cgroup", required_argument, NULL, OPT_SUBJECT_CGROUP },
		{ "relay", required_argument, NULL, OPT_RELAY },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct dg_cli cli = {
		.bpffs = DG_DEFAULT_BPFFS,
		.run_dir = DG_DEFAULT_RUN_DIR,
	};
	int opt, ret = DG_EXIT_USAGE;
	bool want_help = false;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1 || optind < argc) {
		if (opt == -1) {
			/* a positional argument: keep it and go on (options may follow) */
			char **args = realloc(cli_out->args, sizeof(*args) * (size_t)(cli.n_args + 1));
			if (!args)
				return DG_EXIT_SYSTEM;
			cli_out->args = cli.args = args;
			cli.args[cli.n_args++] = argv[optind++];
			continue;
		}
		switch (opt) {
		case 'c':
			cli.config = optarg;
			break;
		case OPT_BPFFS:
			cli.bpffs = optarg;
			break;
		case OPT_CGROUP:
			cli.cgroup = optarg;
			cli.cgroup_count++;
			break;
		case OPT_SUBJECT_CGROUP:
			cli.subject_cgroup = optarg;
			break;
		case OPT_RUN_DIR:
			cli.run_dir = optarg;
			break;
		case OPT_JSON:
			cli.json = true;
			break;
		case OPT_NO_FOLLOW:
			cli.no_follow = true;
			break;
		case OPT_TO:
			cli.to = optarg;
			break;
		case OPT_REQUEST:
			cli.request = optarg;
			break;
		case OPT_UID:
			cli.uid = optarg;
			break;
		case OPT_GID:
			cli.gid = optarg;
			break;
		case OPT_CONTAINER:
			cli.container = optarg;
			break;
		case OPT_UNLOAD_ON_EXIT:
			cli.unload_on_exit = true;
			break;
		case OPT_HOST:
			cli.host = true;
			break;
		case OPT_VERBOSE:
			cli.verbose = true;
			break;
		case OPT_RELAY:
			cli.relay = optarg;
			break;
		case OPT_SINCE:
			cli.since = optarg;
			break;
		case OPT_STATE_DIR:
			cli.state_dir = optarg;
			break;
		case OPT_OUT:
			cli.out = optarg;
			break;
		case OPT_KEY:
			cli.key = optarg;
			break;
		case OPT_DRY_RUN:
			cli.dry_run = true;
			break;
		case 'h':
			want_help = true;
			break;
		default:
			if (optopt)
				return usage_error("option '-%c' is unknown or needs a value",
						   (char[]){ (char)optopt, 0 });
			return usage_error("option '%s' is unknown or needs a value",
					   argv[optind - 1]);
		}
	}

	if (want_help) {
		/* `dockguard COMMAND --help`: that command's; else all of them */
		for (size_t i = 0; cli.n_args && i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(cmds[i].name, cli.args[0])) {
				fputs(cmds[i].help, stdout);
				return DG_EXIT_OK;
			}
		fputs(USAGE, stdout);
		return DG_EXIT_OK;
	}
	if (!cli.n_args) {
		fputs(USAGE, stderr);
		return DG_EXIT_USAGE;
	}
	const char *name = cli.args[0];
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].name, name))
			continue;
		cli.args++;
		cli.n_args--;
		if (cli.n_args > cmds[i].max_args)
			return usage_error("too many arguments for '%s'", name);
		if (cli.host && strcmp(name, "check"))
			return usage_error("--host goes with check, not '%s'", name);
		if ((cli.json && strcmp(name, "status") && strcmp(name, "tail") &&
		     strcmp(name, "fleet") && !(cli.host && !strcmp(name, "check"))) ||
		    (cli.no_follow && strcmp(name, "tail")))
			return usage_error("--json and --no-follow go with status and tail (and "
					   "check --host), not '%s'", name);
		if (cli.unload_on_exit && strcmp(name, "run"))
			return usage_error("--unload-on-exit goes with run, not '%s'", name);
		if ((cli.uid || cli.container) && strcmp(name, "explain") && strcmp(name, "suggest"))
			return usage_error("--uid and --container go with explain and suggest, not "
					   "'%s'", name);
		if ((cli.to || cli.gid || cli.subject_cgroup) && strcmp(name, "explain"))
			return usage_error("--to, --gid and --subject-cgroup go with explain, not '%s'",
					   name);
		if ((cli.relay || cli.since) && strcmp(name, "suggest"))
			return usage_error("--relay and --since go with suggest, not '%s'", name);
		if ((cli.out || cli.key || cli.dry_run) && strcmp(name, "fleet"))
			return usage_error("--out, --key and --dry-run go with fleet, not '%s'", name);
		if (cli.verbose && strcmp(name, "explain") && strcmp(name, "check"))
			return usage_error("--verbose goes with check and explain, not '%s'", name);
		ret = cmds[i].fn(&cli);
		return ret;
	}
	return usage_error("unknown command '%s'", name);
}

int main(int argc, char **argv)
{
	struct dg_cli owned = { 0 };	/* what run() allocated, freed on every path */
	int ret = run(argc, argv, &owned);

	free(owned.args);
	return ret;
}
