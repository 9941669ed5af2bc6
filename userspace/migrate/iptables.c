// SPDX-License-Identifier: GPL-2.0-only
/* From iptables to a policy (iptables.h). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/iptables.h"
#include "util/util.h"

#define MAX_TOKENS	64
#define MAX_ENDPOINTS	64

struct ipt_rule {
	char *text;		/* the line as read, for the comments */
	unsigned line;
	char daddr[64];		/* "" for any address */
	unsigned port;
	const char *uid, *gid;	/* --uid-owner, --gid-owner values, NULL when absent */
	bool suppl;		/* --suppl-groups */
	const char *target;	/* ACCEPT, REJECT, DROP, ... */
	const char *why_not;	/* set: cannot be carried over */
};

struct endpoint {
	char addr[64];		/* as the policy writes it: 127.0.0.1, [::1], * */
	unsigned port;
	char name[48];
	bool closed;		/* a rule for everyone decided: the rest never matches */
};

/* Splits `line` in place into tokens: double quotes group, and inside
 * them a backslash escapes the next character (iptables-save writes a
 * comment's quote as \"). */
static size_t tokenize(char *line, char **tok, size_t max)
{
	size_t n = 0;

	for (char *p = line; *p && n < max;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (*p == '"') {
			char *w = ++p;
			tok[n++] = w;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				*w++ = *p++;
			}
			if (*p)
				p++;
			*w = 0;
			continue;
		}
		tok[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
	}
	return n;
}

/* An address with an optional /32 or /128 as the policy writes it; false
 * for a network (a mask that is not the whole address) or not an address. */
static bool single_address(const char *s, char *out, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	struct in_addr a4;
	struct in6_addr a6;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		if (slash && strcmp(slash, "/32"))
			return false;
		snprintf(out, len, "%s", buf);
		return true;
	}
	if (inet_pton(AF_INET6, buf, &a6) == 1) {
		if (slash && strcmp(slash, "/128"))
			return false;
		snprintf(out, len, "[%s]", buf);
		return true;
	}
	return false;
}

/* Reads one `-A OUTPUT ...` line into `r`. */
static void read_rule(char *line, struct ipt_rule *r)
{
	char *tok[MAX_TOKENS];
	size_t n = tokenize(line, tok, MAX_TOKENS);
	bool tcp = false;

	for (size_t i = 2; i < n && !r->why_not; i++) {
		const char *t = tok[i], *v = i + 1 < n ? tok[i + 1] : NULL;
		if (!strcmp(t, "!")) {
			r->why_not = "it negates a match (`!`); a policy rule has no negation";
		} else if (!strcmp(t, "-p") || !strcmp(t, "--protocol")) {
			tcp = v && !strcmp(v, "tcp");
			if (!tcp)
				r->why_not = "it is not about TCP";
			i++;
		} else if (!strcmp(t, "-m") || !strcmp(t, "--match")) {
			if (!v || (strcmp(v, "tcp") && strcmp(v, "owner") && strcmp(v, "comment")))
				r->why_not = "it uses a match dockguard does not judge (only tcp, owner)";
			i++;
		} else if (!strcmp(t, "-d") || !strcmp(t, "--destination")) {
			if (!v || !single_address(v, r->daddr, sizeof(r->daddr)))
				r->why_not = "its destination is a network, not one address";
			i++;
		} else if (!strcmp(t, "--dport") || !strcmp(t, "--destination-port")) {
			char *end;
			unsigned long p = v ? strtoul(v, &end, 10) : 0;
			if (!v || *end || !p || p > 65535)
				r->why_not = "its port is a range or a name, not one port";
			r->port = (unsigned)p;
			i++;
		} else if (!strcmp(t, "--uid-owner")) {
			r->uid = v;
			i++;
		} else if (!strcmp(t, "--gid-owner")) {
			r->gid = v;
			i++;
		} else if (!strcmp(t, "--suppl-groups")) {
			r->suppl = true;
		} else if (!strcmp(t, "--comment") || !strcmp(t, "--reject-with")) {
			i++;	/* says nothing about who may connect */
		} else if (!strcmp(t, "-j") || !strcmp(t, "--jump")) {
			r->target = v;
			i++;
		} else {
			r->why_not = "it matches on something dockguard does not judge (a source, an "
				     "interface, a state, ...)";
		}
	}
	if (r->why_not)
		return;
	if (!tcp || !r->port)
		r->why_not = "it names no TCP destination port";
	else if (!r->target || (strcmp(r->target, "ACCEPT") && strcmp(r->target, "REJECT") &&
				strcmp(r->target, "DROP")))
		r->why_not = "its target is not ACCEPT, REJECT or DROP (a jump to another chain?)";
	else if ((r->uid && strchr(r->uid, ',')) || (r->gid && strchr(r->gid, ',')))
		r->why_not = "its owner is a list";
}

/* A user or group name or id as a policy item: a name, a number, a range. */
static bool item_ok(const char *s)
{
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
			return false;
	return *s != 0;
}

size_t dg_import_iptables(const char *text, size_t len, const char *source, FILE *out)
{
	char *copy = xstrndup(text, len);
	struct ipt_rule *rules = NULL;
	struct endpoint eps[MAX_ENDPOINTS];
	size_t n_rules = 0, n_eps = 0, carried = 0, skipped = 0;
	bool in_filter = false, output_accepts = true;
	unsigned lineno = 0;

	for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		line[strcspn(line, "\r")] = 0;
		if (line[0] == '*') {
			in_filter = !strcmp(line, "*filter");
			continue;
		}
		if (!in_filter)
			continue;
		if (!strncmp(line, ":OUTPUT ", 8)) {
			output_accepts = !strncmp(line + 8, "ACCEPT", 6);
			continue;
		}
		if (strcmp(line, "-A OUTPUT") && strncmp(line, "-A OUTPUT ", 10))
			continue;
		rules = xreallocarray(rules, n_rules + 1, sizeof(*rules));
		struct ipt_rule *r = &rules[n_rules++];
		memset(r, 0, sizeof(*r));
		r->text = xstrdup(line);
		r->line = lineno;
		char *work = xstrdup(line);
		read_rule(work, r);
		/* the values point into `work`: keep copies that live with the rule */
		r->uid = r->uid ? xstrdup(r->uid) : NULL;
		r->gid = r->gid ? xstrdup(r->gid) : NULL;
		r->target = r->target ? xstrdup(r->target) : NULL;
		free(work);
		if (!r->why_not && ((r->uid && !item_ok(r->uid)) || (r->gid && !item_ok(r->gid))))
			r->why_not = "its owner is not a user or group name or id";
		if (r->why_not)
			continue;
		/* its endpoint: one per address and port */
		const char *addr = r->daddr[0] ? r->daddr : "*";
		size_t e;
		for (e = 0; e < n_eps; e++)
			if (eps[e].port == r->port && !strcmp(eps[e].addr, addr))
				break;
		if (e == n_eps) {
			if (n_eps == MAX_ENDPOINTS) {
				r->why_not = "more destinations than this importer keeps";
				continue;
			}
			memset(&eps[e], 0, sizeof(eps[e]));
			snprintf(eps[e].addr, sizeof(eps[e].addr), "%s", addr);
			eps[e].port = r->port;
			snprintf(eps[e].name, sizeof(eps[e].name), "ipt-%u", r->port);
			for (size_t k = 0; k < n_eps; k++)
				if (!strcmp(eps[k].name, eps[e].name))
					snprintf(eps[e].name, sizeof(eps[e].name), "ipt-%u-%zu", r->port, e);
			n_eps++;
		}
	}

	fprintf(out, "# dockguard policy from the iptables rules in %s\n", source);
	fprintf(out, "# (dockguard import iptables): what the filter table's OUTPUT rules did for\n"
		     "# the TCP destinations they guard by owner, in their order. Check it\n"
		     "# (dockguard check), compare verdicts (dockguard explain), then remove the\n"
		     "# iptables rules.\n\n");
	if (!n_eps)
		fprintf(out, "# no OUTPUT rule guards a TCP destination by owner: nothing to import\n");
	for (size_t e = 0; e < n_eps; e++)
		fprintf(out, "endpoint %s tcp %s:%u\n", eps[e].name, eps[e].addr, eps[e].port);
	if (n_eps)
		fputc('\n', out);
	for (size_t i = 0; i < n_rules; i++) {
		struct ipt_rule *r = &rules[i];
		if (r->why_not) {
			fprintf(out, "# NOT CARRIED (line %u: %s): %s\n", r->line, r->why_not, r->text);
			skipped++;
			continue;
		}
		const char *addr = r->daddr[0] ? r->daddr : "*";
		struct endpoint *ep = NULL;
		for (size_t e = 0; e < n_eps && !ep; e++)
			if (eps[e].port == r->port && !strcmp(eps[e].addr, addr))
				ep = &eps[e];
		if (!ep)
			continue;
		if (ep->closed) {
			fprintf(out, "# line %u never matches (a rule above decided for everyone): %s\n",
				r->line, r->text);
			continue;
		}
		bool allow = !strcmp(r->target, "ACCEPT");
		fprintf(out, "# line %u: %s\n%s %s", r->line, r->text, allow ? "allow" : "deny", ep->name);
		if (r->uid || r->gid)
			fprintf(out, " from");
		if (r->uid)
			fprintf(out, " user %s", r->uid);
		if (r->gid)
			fprintf(out, " group %s", r->gid);
		fputc('\n', out);
		if (r->gid && !r->suppl)
			fprintf(out, "# (a group rule also takes supplementary groups: iptables did so only "
				     "with --suppl-groups)\n");
		if (!r->uid && !r->gid)
			ep->closed = true;
		carried++;
	}
	/* what came after the rules: the chain's policy */
	for (size_t e = 0; e < n_eps; e++) {
		if (eps[e].closed)
			continue;
		if (output_accepts)
			fprintf(out, "# the OUTPUT chain's policy is ACCEPT: everyone else reached %s:%u\n"
				     "allow %s\n", eps[e].addr, eps[e].port, eps[e].name);
		else
			fprintf(out, "# the OUTPUT chain's policy refuses: everyone else is refused\n"
				     "deny %s\n", eps[e].name);
	}
	if (skipped)
		fprintf(out, "\n# %zu rule%s not carried over: see NOT CARRIED above\n", skipped,
			skipped == 1 ? "" : "s");
	for (size_t i = 0; i < n_rules; i++) {
		free(rules[i].text);
		free((char *)rules[i].uid);
		free((char *)rules[i].gid);
		free((char *)rules[i].target);
	}
	free(rules);
	free(copy);
	return carried;
}
