// SPDX-License-Identifier: GPL-2.0-only
/*
 * `metrics`: what `status --json` knows, in Prometheus' text format
 * (version 0.0.4), so that the numbers agree with status by construction.
 * Names follow Prometheus' conventions (`_total` counters, an `_info` gauge
 * of value 1, base units); labels come from a fixed, small set (rule,
 * endpoint, verdict, hook, outcome, sha256): never a uid, a container or a
 * path a caller chose.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

/* A label value with \, " and newline escaped, as the format wants. */
static void label(FILE *out, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *out, const char *name, const char *type, const char *help, long long v)
{
	head(out, name, type, help);
	fprintf(out, "%s %lld\n", name, v);
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

void dg_metrics_write(FILE *out, json_t *s)
{
	bool enforcing = json_is_true(json_object_get(s, "enforcing"));
	json_t *o;
	size_t i;

	one(out, "dockguard_enforcing", "gauge",
	    "Whether dockguard's hooks are pinned with a policy loaded.", enforcing);
	one(out, "dockguard_daemon_up", "gauge",
	    "Whether a dockguard daemon answers on its control socket.",
	    json_is_true(json_object_get(s, "daemon")));
	if (!enforcing)
		return;
	one(out, "dockguard_policy_generation", "gauge",
	    "Policy swaps since the hooks were first loaded.", num(s, "generation"));
	head(out, "dockguard_policy_info", "gauge", "The policy in force, by its sha256.");
	fprintf(out, "dockguard_policy_info{sha256=\"");
	label(out, json_string_value(json_object_get(s, "sha256")));
	fprintf(out, "\"} 1\n");

	head(out, "dockguard_hook_attached", "gauge", "Hooks attached, by hook.");
	json_array_foreach(json_object_get(s, "hooks"), i, o) {
		fprintf(out, "dockguard_hook_attached{hook=\"");
		label(out, json_string_value(json_object_get(o, "hook")));
		fprintf(out, "\"} 1\n");
	}

	head(out, "dockguard_decisions_total", "counter",
	     "Connect and bind decisions per deciding rule (FILE:LINE or default) and verdict, "
	     "since the rule was first loaded.");
	json_array_foreach(json_object_get(s, "rules"), i, o) {
		static const char *const verdicts[][2] = { { "allowed", "allow" }, { "denied", "deny" } };
		for (size_t v = 0; v < 2; v++) {
			fprintf(out, "dockguard_decisions_total{rule=\"");
			label(out, json_string_value(json_object_get(o, "rule")));
			fprintf(out, "\",verdict=\"%s\"} %lld\n", verdicts[v][1], num(o, verdicts[v][0]));
		}
	}

	json_t *ev = json_object_get(s, "events");
	one(out, "dockguard_events_total", "counter", "Events reported by the hooks.",
	    num(ev, "reported"));
	one(out, "dockguard_events_suppressed_total", "counter",
	    "Decisions not reported for the per-subject event rate (set log-rate).",
	    num(ev, "suppressed"));
	one(out, "dockguard_events_dropped_total", "counter",
	    "Events lost because the ring buffer was full.", num(ev, "dropped"));
	one(out, "dockguard_handshakes_dropped_total", "counter",
	    "SYNs to protected endpoints that no judged connect made.",
	    num(ev, "handshakes_dropped"));

	json_t *loads = json_object_get(s, "loads");
	if (loads) {
		head(out, "dockguard_policy_loads_total", "counter",
		     "Policy loads by the daemon (start, SIGHUP, container changes, fleet), by outcome.");
		fprintf(out, "dockguard_policy_loads_total{outcome=\"ok\"} %lld\n", num(loads, "ok"));
		fprintf(out, "dockguard_policy_loads_total{outcome=\"failed\"} %lld\n",
			num(loads, "failed"));
	}
	json_t *docker = json_object_get(s, "docker");
	if (docker)
		one(out, "dockguard_docker_up", "gauge",
		    "Whether the daemon follows the Docker API now.",
		    json_is_true(json_object_get(docker, "connected")));
	json_t *relay = json_object_get(s, "relay");
	if (relay) {
		one(out, "dockguard_relay_up", "gauge", "Whether a relay process serves the relays.",
		    num(relay, "pid") != 0);
		one(out, "dockguard_relay_connections", "gauge", "Open relay connections.",
		    num(relay, "connections"));
		head(out, "dockguard_relay_requests_total", "counter",
		     "Relay requests per relay (endpoint) and deciding API rule, forwarded (allow) "
		     "or refused with 403 (deny), since the daemon started.");
		json_array_foreach(json_object_get(relay, "rules"), i, o) {
			for (int v = 0; v < 2; v++) {
				fprintf(out, "dockguard_relay_requests_total{endpoint=\"");
				label(out, json_string_value(json_object_get(o, "relay")));
				fprintf(out, "\",rule=\"");
				label(out, json_string_value(json_object_get(o, "api_rule")));
				fprintf(out, "\",verdict=\"%s\"} %lld\n", v ? "deny" : "allow",
					num(o, v ? "denied" : "allowed"));
			}
		}
	}
	json_t *fleet = json_object_get(s, "fleet");
	if (fleet) {
		one(out, "dockguard_fleet_serial", "gauge", "The fleet bundle's serial in force.",
		    num(fleet, "serial"));
		one(out, "dockguard_fleet_denials", "gauge",
		    "Denials since the bundle in force was applied.", num(fleet, "denials"));
	}
}

int do_metrics(struct dg_cli *cli)
{
	int ret;
	json_t *s = dg_status_collect(cli, &ret);

	if (!s)
		return ret;
	dg_metrics_write(stdout, s);
	json_decref(s);
	return ret == DG_EXIT_NOT_LOADED ? DG_EXIT_OK : ret;
}
