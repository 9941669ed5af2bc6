// SPDX-License-Identifier: GPL-2.0-only
/*
 * `relay [FILE]`: serves the policy's relays in the foreground (docs/relay.md):
 * every request judged by the caller's identity and profile, one line per
 * refused, logged or audited request on stdout. SIGHUP compiles the policy
 * again (the listeners stay), SIGTERM and SIGINT end it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli/cli.h"
#include "relay/relay.h"
#include "relay/sockets.h"
#include "util/util.h"

struct relay_cmd {
	struct dg_cli *cli;
	const char *path;
	struct dg_loaded_policy lp;
	struct dg_relay *relay;
	struct event_base *base;
};

static void print_event(void *arg, const struct dg_relay_event *ev)
{
	(void)arg;
	dg_relay_print_event(stdout, ev);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct relay_cmd *rc = arg;
	struct dg_loaded_policy next;

	(void)what;
	if (sig != SIGHUP) {
		event_base_loopexit(rc->base, NULL);
		return;
	}
	if (dg_cli_compile(rc->cli, rc->path, true, true, &next)) {
		fprintf(stderr, "dockguard relay: %s: the policy does not compile; the one in force "
			"stays\n", rc->path);
		return;
	}
	dg_relay_set_policy(rc->relay, next.policy, next.image);
	dg_cli_policy_free(&rc->lp);
	rc->lp = next;
	fprintf(stderr, "dockguard relay: %s reloaded\n", rc->path);
}

int do_relay(struct dg_cli *cli)
{
	struct relay_cmd rc = { .cli = cli, .path = dg_cli_policy_path(cli) };
	struct dg_err err = { "" };
	struct event *sigs[3];
	size_t n = 0;
	int ret, callers = -1;

	if ((ret = dg_cli_compile(cli, rc.path, true, true, &rc.lp)))
		return ret;
	for (size_t e = 0; e < rc.lp.policy->n_endpoints; e++)
		n += rc.lp.policy->endpoints[e].relay;
	if (!n) {
		dg_cli_error("%s has no relay; define one with 'relay NAME { listen unix PATH }'",
			     rc.path);
		dg_cli_policy_free(&rc.lp);
		return DG_EXIT_INVALID;
	}
	signal(SIGPIPE, SIG_IGN);
	rc.base = dg_relay_base_new();
	rc.relay = dg_relay_new(rc.base, print_event, &rc);
	dg_relay_set_policy(rc.relay, rc.lp.policy, rc.lp.image);
	if (dg_relay_policy_on_tcp(rc.lp.policy)) {
		/* TCP callers are named by the hooks' record of their connect */
		callers = dg_kernel_open_relay_callers(cli->bpffs, &err);
		if (callers < 0) {
			dg_cli_error("%s", err.msg);
			ret = DG_EXIT_SYSTEM;
			goto out;
		}
		dg_relay_set_callers(rc.relay, callers);
	}
	if ((ret = dg_relay_listen(rc.relay, &err))) {
		dg_cli_error("%s", err.msg);
		ret = DG_EXIT_SYSTEM;
		goto out;
	}
	sigs[0] = evsignal_new(rc.base, SIGHUP, on_signal, &rc);
	sigs[1] = evsignal_new(rc.base, SIGTERM, on_signal, &rc);
	sigs[2] = evsignal_new(rc.base, SIGINT, on_signal, &rc);
	for (int i = 0; i < 3; i++)
		event_add(sigs[i], NULL);
	printf("dockguard relay: serving %zu relay%s of %s\n", n, n == 1 ? "" : "s", rc.path);
	fflush(stdout);
	event_base_dispatch(rc.base);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	ret = DG_EXIT_OK;
out:
	dg_relay_free(rc.relay);
	if (callers >= 0)
		close(callers);
	event_base_free(rc.base);
	dg_cli_policy_free(&rc.lp);
	return ret;
}
