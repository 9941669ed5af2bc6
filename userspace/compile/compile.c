// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policy compiler: AST -> the tables of bpf/dockguard_abi.h.
 *
 * Each rule's subjects reduce to one constraint per dimension:
 *   uid     a set of disjoint ranges (`user`, `remapped`; several subjects
 *           intersect), or none;
 *   groups  a set of gids (one `group` subject at most), or none;
 *   cgroup  a set of subtrees (`cgroup`, `unit`, `container`; several
 *           subjects intersect by taking the deeper of nested paths), or none.
 * A dimension without a constraint sets the rule's bit in its default bitmap.
 */
#include "compile/compile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/resolve.h"
#include "util/util.h"

/* ---- bitmaps, interned ---------------------------------------------------- */

struct bitmap_pool {
	struct dg_bitmap *v;
	size_t n, cap;
	uint32_t *slots;	/* open addressing: index + 1, 0 = empty */
	size_t n_slots;
};

static uint64_t bitmap_hash(const struct dg_bitmap *b)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < DG_BITMAP_WORDS; i++) {
		h ^= b->w[i];
		h *= 1099511628211ULL;
		h ^= h >> 29;
	}
	return h;
}

static void pool_rehash(struct bitmap_pool *p)
{
	size_t n_slots = p->n_slots ? p->n_slots * 2 : 64;

	free(p->slots);
	p->slots = xcalloc(n_slots, sizeof(*p->slots));
	p->n_slots = n_slots;
	for (size_t i = 0; i < p->n; i++) {
		size_t s = bitmap_hash(&p->v[i]) & (n_slots - 1);
		while (p->slots[s])
			s = (s + 1) & (n_slots - 1);
		p->slots[s] = (uint32_t)i + 1;
	}
}

static uint32_t pool_intern(struct bitmap_pool *p, const struct dg_bitmap *b)
{
	if ((p->n + 1) * 2 > p->n_slots)
		pool_rehash(p);

	size_t s = bitmap_hash(b) & (p->n_slots - 1);
	while (p->slots[s]) {
		uint32_t i = p->slots[s] - 1;
		if (!memcmp(&p->v[i], b, sizeof(*b)))
			return i;
		s = (s + 1) & (p->n_slots - 1);
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = xreallocarray(p->v, p->cap, sizeof(*p->v));
	}
	p->v[p->n] = *b;
	p->slots[s] = (uint32_t)p->n + 1;
	return (uint32_t)p->n++;
}

static inline void bit_set(struct dg_bitmap *b, size_t r)
{
	b->w[r / 64] |= 1ULL << (r % 64);
}

/* ---- per-rule constraints ------------------------------------------------- */

struct range {
	uint32_t lo, hi;
};

struct rule_constraints {
	bool uid_set;		/* constrained */
	struct range *uids;
	size_t n_uids;
	bool gid_set;
	uint32_t *gids;
	size_t n_gids;
	bool cg_set;
	char **paths;
	size_t n_paths;
	bool container;		/* has container subjects: paths come later */
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts and merges overlapping or adjacent ranges. */
static void ranges_normalize(struct range *r, size_t *n)
{
	size_t out = 0;

	if (!*n)
		return;
	qsort(r, *n, sizeof(*r), range_cmp);
	for (size_t i = 1; i < *n; i++) {
		if (r[i].lo <= r[out].hi || (r[out].hi != UINT32_MAX && r[i].lo == r[out].hi + 1)) {
			if (r[i].hi > r[out].hi)
				r[out].hi = r[i].hi;
		} else {
			r[++out] = r[i];
		}
	}
	*n = out + 1;
}

/* a := a ∩ b, both normalized. */
static void ranges_intersect(struct range **a, size_t *na, const struct range *b, size_t nb)
{
	struct range *out = xcalloc(*na + nb + 1, sizeof(*out));
	size_t i = 0, j = 0, n = 0;

	while (i < *na && j < nb) {
		uint32_t lo = (*a)[i].lo > b[j].lo ? (*a)[i].lo : b[j].lo;
		uint32_t hi = (*a)[i].hi < b[j].hi ? (*a)[i].hi : b[j].hi;
		if (lo <= hi)
			out[n++] = (struct range){ lo, hi };
		if ((*a)[i].hi < b[j].hi)
			i++;
		else
			j++;
	}
	free(*a);
	*a = out;
	*na = n;
}

/* Is `anc` the path `path` or one of its ancestors? */
static bool path_within(const char *path, const char *anc)
{
	size_t n = strlen(anc);

	if (!strcmp(anc, "/"))
		return true;
	return !strncmp(path, anc, n) && (path[n] == '\0' || path[n] == '/');
}

static void paths_free(char **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	free(p);
}

/* a := a ∩ b for sets of subtrees: the deeper of each nested pair. */
static void paths_intersect(char ***a, size_t *na, char **b, size_t nb)
{
	char **out = xcalloc(*na * nb + 1, sizeof(*out));
	size_t n = 0;

	for (size_t i = 0; i < *na; i++) {
		for (size_t j = 0; j < nb; j++) {
			const char *deeper = NULL;
			if (path_within((*a)[i], b[j]))
				deeper = (*a)[i];
			else if (path_within(b[j], (*a)[i]))
				deeper = b[j];
			if (!deeper)
				continue;
			bool dup = false;
			for (size_t k = 0; k < n && !dup; k++)
				dup = !strcmp(out[k], deeper);
			if (!dup)
				out[n++] = xstrdup(deeper);
		}
	}
	paths_free(*a, *na);
	*a = out;
	*na = n;
}

bool dg_policy_names_containers(const struct dg_policy *pol)
{
	for (size_t r = 0; r < pol->n_rules; r++)
		for (size_t s = 0; s < pol->rules[r].n_subjects; s++)
			if (pol->rules[r].subjects[s].kind == DG_SUBJ_CONTAINER)
				return true;
	return false;
}

bool dg_container_matches(const struct dg_container *c, enum dg_container_key key,
			  const struct dg_item *it)
{
	/* labels not yet told apart from the image's: trusted for nothing */
	if (c->provisional && (key == DG_CT_LABEL || key == DG_CT_SERVICE))
		return false;
	switch (key) {
	case DG_CT_NAME:
		return c->name && fnmatch(it->str, c->name, 0) == 0;
	case DG_CT_ID:
		return !strncmp(c->id, it->str, strlen(it->str));
	case DG_CT_LABEL:
		for (size_t l = 0; l < c->n_labels; l++)
			if (!strcmp(c->labels[l].key, it->str) &&
			    !strcmp(c->labels[l].value, it->value ? it->value : ""))
				return true;
		return false;
	case DG_CT_IMAGE:
		return c->image && fnmatch(it->str, c->image, 0) == 0;
	case DG_CT_SERVICE:
		return c->service && !strcmp(c->service, it->str);
	}
	return false;
}

static void add_path(char ***paths, size_t *n, size_t *cap, char *path)
{
	for (size_t i = 0; i < *n; i++) {
		if (!strcmp((*paths)[i], path)) {
			free(path);
			return;
		}
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*paths = xreallocarray(*paths, *cap, sizeof(**paths));
	}
	(*paths)[(*n)++] = path;
}

/* Keeps `text` (malloc'd, taken) as what the subject at `loc` stood for. */
static void keep_resolution(struct dg_image *img, const struct dg_loc *loc, char *text)
{
	if (img->n_resolutions == DG_MAX_RESOLUTIONS) {
		img->resolutions_left_out++;
		free(text);
		return;
	}
	if (!img->resolutions)
		img->resolutions = xcalloc(DG_MAX_RESOLUTIONS, sizeof(*img->resolutions));
	img->resolutions[img->n_resolutions++] = (struct dg_resolution){
		.file = loc->file ? loc->file->name : "", .line = loc->line, .text = text
	};
}

/* Records what a subject stands for now: in the image (for `status`) and,
 * when asked (check --verbose), as a note at its place. */
__attribute__((format(printf, 5, 6)))
static void resolved(struct dg_image *img, const struct dg_compile_env *env, struct dg_diag *diag,
		     const struct dg_loc *loc, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	if (env->resolutions)
		dg_diag_note(diag, loc, "%s", text);
	keep_resolution(img, loc, text);
}

/* The cgroup paths of one subject (cgroup, unit or container). */
static char **subject_paths(const struct dg_subject *s, const struct dg_compile_env *env,
			    struct dg_diag *diag, struct dg_image *img, size_t *n)
{
	char **paths = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < s->n_items; i++) {
		const struct dg_item *it = &s->items[i];

		switch (s->kind) {
		case DG_SUBJ_CGROUP:
			add_path(&paths, n, &cap, xstrdup(it->str));
			break;
		case DG_SUBJ_UNIT: {
			char *path = dg_resolve_unit(env->cgroup_root, it->str, diag, &it->loc);
			resolved(img, env, diag, &it->loc, "unit %s is the cgroup %s", it->str, path);
			add_path(&paths, n, &cap, path);
			break;
		}
		case DG_SUBJ_CONTAINER: {
			/* A container is its cgroup. Unknown containers (no
			 * Docker answer) match nothing. */
			char *which = NULL;
			size_t matched = 0;
			for (size_t c = 0; env->containers && c < env->containers->n; c++) {
				const struct dg_container *ct = &env->containers->v[c];
				if (!ct->cgroup || !dg_container_matches(ct, s->ckey, it))
					continue;
				add_path(&paths, n, &cap, xstrdup(ct->cgroup));
				if (matched++ < 8) {
					char *more = xasprintf("%s%s %s (%.12s, %s)", which ? which : "",
							       which ? "," : "", ct->name ? ct->name : "?",
							       ct->id, ct->cgroup);
					free(which);
					which = more;
				}
			}
			static const char *const keys[] = { [DG_CT_NAME] = "name", [DG_CT_ID] = "id",
							    [DG_CT_LABEL] = "label", [DG_CT_IMAGE] = "image",
							    [DG_CT_SERVICE] = "service" };
			if (!env->containers)
				resolved(img, env, diag, &it->loc, "container %s %s matches nothing: "
					 "the Docker API gave no container list", keys[s->ckey],
					 it->text ? it->text : it->str);
			else
				resolved(img, env, diag, &it->loc,
					 "container %s %s matches %zu container%s%s%s%s", keys[s->ckey],
					 it->text ? it->text : it->str, matched, matched == 1 ? "" : "s",
					 matched ? ":" : "", which ? which : "", matched > 8 ? ", ..." : "");
			free(which);
			break;
		}
		default:
			break;
		}
	}
	if (!paths)
		paths = xcalloc(1, sizeof(*paths));
	return paths;
}

static void constraints_free(struct rule_constraints *c)
{
	free(c->uids);
	free(c->gids);
	paths_free(c->paths, c->n_paths);
}

static void rule_constraints(const struct dg_rule *rule, const struct dg_compile_env *env,
			     struct dg_diag *diag, struct dg_image *img, struct rule_constraints *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t s = 0; s < rule->n_subjects; s++) {
		const struct dg_subject *subj = &rule->subjects[s];
		struct range *r = NULL;
		size_t nr = 0;

		switch (subj->kind) {
		case DG_SUBJ_ANY:
			break;
		case DG_SUBJ_USER:
		case DG_SUBJ_REMAPPED:
			r = xcalloc(subj->n_items + env->n_remap_ranges + 1, sizeof(*r));
			if (subj->kind == DG_SUBJ_USER) {
				for (size_t i = 0; i < subj->n_items; i++)
					r[nr++] = (struct range){ subj->items[i].lo, subj->items[i].hi };
			} else if (env->have_remap_range && env->n_remap_ranges) {
				/* every subordinate range: Docker maps container uids
				 * past the first range's size into the next one */
				for (size_t i = 0; i < env->n_remap_ranges; i++)
					r[nr++] = (struct range){ env->remap_ranges[i].lo,
								  env->remap_ranges[i].hi };
			} else if (env->have_remap_range) {
				r[nr++] = (struct range){ env->remap_lo, env->remap_hi };
			} else {
				const char *why = env->remap_why && *env->remap_why ? env->remap_why
										     : "no remap range";
				dg_diag_warning(diag, &subj->loc,
						"'remapped' matches nobody: Docker's userns-remap is not "
						"configured here (%s)", why);
				keep_resolution(img, &subj->loc,
						xasprintf("remapped matches nobody (%s)", why));
			}
			ranges_normalize(r, &nr);
			if (subj->kind == DG_SUBJ_REMAPPED && nr) {
				char *list = xstrdup("");
				for (size_t i = 0; i < nr; i++) {
					char *more = xasprintf("%s%s%u-%u", list, i ? ", " : "", r[i].lo,
							       r[i].hi);
					free(list);
					list = more;
				}
				resolved(img, env, diag, &subj->loc, "remapped is the uids %s (Docker's "
					 "userns-remap user %s)", list,
					 env->remap_user ? env->remap_user : "?");
				free(list);
			}
			if (!c->uid_set) {
				c->uid_set = true;
				c->uids = r;
				c->n_uids = nr;
			} else {
				ranges_intersect(&c->uids, &c->n_uids, r, nr);
				free(r);
			}
			break;
		case DG_SUBJ_GROUP:
			c->gid_set = true;
			c->gids = xreallocarray(c->gids, c->n_gids + subj->n_items + 1, sizeof(*c->gids));
			for (size_t i = 0; i < subj->n_items; i++)
				c->gids[c->n_gids++] = subj->items[i].lo;
			break;
		case DG_SUBJ_CONTAINER:
			c->container = true;
			/* fall through */
		case DG_SUBJ_CGROUP:
		case DG_SUBJ_UNIT: {
			size_t np;
			char **p = subject_paths(subj, env, diag, img, &np);
			if (!c->cg_set) {
				c->cg_set = true;
				c->paths = p;
				c->n_paths = np;
			} else {
				paths_intersect(&c->paths, &c->n_paths, p, np);
				paths_free(p, np);
			}
			break;
		}
		}
	}
}

/* ---- endpoints ------------------------------------------------------------ */

static const uint8_t v6_loopback[16] = { [15] = 1 };

/*
 * Adds a destination key. The parser refuses addresses written twice; here
 * an address can still meet an alias of another endpoint's address (0.0.0.0
 * and 127.0.0.1 reach the same listener), which is an error too.
 */
/* Reaches a listener only inside the caller's own network namespace:
 * loopback addresses, and 0.0.0.0 and ::, which the kernel delivers there. */
static bool namespace_local(const uint8_t a[16])
{
	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6_any[16] = { 0 };
	bool v4 = !memcmp(a, v4_any, 12);

	return (v4 && (a[12] == 127 || !memcmp(a, v4_any, 16))) || !memcmp(a, v6_loopback, 16) ||
	       !memcmp(a, v6_any, 16);
}

static void add_tcp(struct dg_image *img, const uint8_t addr[16], uint16_t port, uint8_t ep,
		    const struct dg_addr *ad, struct dg_diag *diag)
{
	for (size_t i = 0; i < img->n_tcp; i++) {
		if (memcmp(img->tcp[i].key.addr, addr, 16) || img->tcp[i].key.port != port)
			continue;
		if (img->tcp[i].ep != ep)
			dg_diag_error(diag, &ad->loc,
				      "this address and an address of endpoint '%s' reach the same "
				      "listener (the kernel delivers 0.0.0.0 to 127.0.0.1 and :: to ::1); "
				      "put them in one endpoint",
				      img->endpoints[img->tcp[i].ep].name);
		return;
	}
	img->tcp = xreallocarray(img->tcp, img->n_tcp + 1, sizeof(*img->tcp));
	struct dg_tcp_entry *t = &img->tcp[img->n_tcp++];
	memset(t, 0, sizeof(*t));
	memcpy(t->key.addr, addr, 16);
	t->key.port = port;
	t->ep = ep;
	t->host_only = namespace_local(addr);
}

static struct dg_port_entry *port_entry(struct dg_image *img, uint16_t port)
{
	for (size_t i = 0; i < img->n_ports; i++)
		if (img->ports[i].port == port)
			return &img->ports[i];
	img->ports = xreallocarray(img->ports, img->n_ports + 1, sizeof(*img->ports));
	struct dg_port_entry *p = &img->ports[img->n_ports++];
	memset(p, 0, sizeof(*p));
	p->port = port;
	return p;
}

static const char *file_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void add_unix_name(struct dg_image *img, const char *name, uint8_t ep)
{
	img->unix_names = xreallocarray(img->unix_names, img->n_unix + 1, sizeof(*img->unix_names));
	struct dg_unix_entry *u = &img->unix_names[img->n_unix++];
	memset(u, 0, sizeof(*u));
	strncpy(u->key.name, name, sizeof(u->key.name) - 1);
	u->ep = ep;
}

/* DG_EP_HAS_LISTEN on every endpoint a listen rule names, before the
 * endpoints' addresses are compiled (add_loopback_sibling() reads it). */
static void mark_listened_endpoints(const struct dg_policy *pol, struct dg_image *img)
{
	for (size_t r = 0; r < pol->n_rules; r++) {
		const struct dg_rule *rule = &pol->rules[r];
		if (rule->action != DG_ACTION_LISTEN)
			continue;
		for (size_t e = 1; rule->any_endpoint && e <= pol->n_endpoints; e++)
			img->endpoints[e].info.flags |= DG_EP_HAS_LISTEN;
		for (size_t i = 0; i < rule->n_endpoints; i++)
			img->endpoints[rule->endpoints[i] + 1].info.flags |= DG_EP_HAS_LISTEN;
	}
}

/* Whether some endpoint names `addr`:`port`, or every address of the port. */
static bool policy_names(const struct dg_policy *pol, const uint8_t addr[16], uint16_t port)
{
	for (size_t e = 0; e < pol->n_endpoints; e++)
		for (size_t a = 0; a < pol->endpoints[e].n_addrs; a++) {
			const struct dg_addr *ad = &pol->endpoints[e].addrs[a];
			if (ad->kind != DG_ADDR_UNIX && ad->port == port &&
			    (ad->kind == DG_ADDR_TCP_ANY || !memcmp(ad->addr, addr, 16)))
				return true;
		}
	return false;
}

/*
 * `localhost` is 127.0.0.1 and ::1, and clients try ::1 first. A listen rule
 * for 127.0.0.1:P alone would leave [::1]:P to anyone: a squatter there
 * answers `DOCKER_HOST=tcp://localhost:P`. So an endpoint with a listen rule
 * that names one loopback address of a port and not the other takes the
 * other too (its binds meet the listen rule, its connects the endpoint's
 * rules), unless another endpoint names it; `check` says so.
 */
static void add_loopback_sibling(const struct dg_policy *pol, size_t e, const struct dg_addr *ad,
				 struct dg_image *img, struct dg_diag *diag)
{
	static const uint8_t v4_loopback[16] = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 };
	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6_any[16] = { 0 };
	bool v4 = !memcmp(ad->addr, v4_loopback, 16);
	const uint8_t *other = v4 ? v6_loopback : v4_loopback;

	if ((!v4 && memcmp(ad->addr, v6_loopback, 16)) ||
	    !(img->endpoints[e + 1].info.flags & DG_EP_HAS_LISTEN) ||
	    policy_names(pol, other, ad->port))
		return;
	dg_diag_warning(diag, &ad->loc,
			"endpoint '%s' names %s:%u but not %s:%u, where clients of localhost go "
			"first: its listen rule covers %s:%u too, and connects there are judged as "
			"'%s'; name both addresses in the endpoint to say so",
			pol->endpoints[e].name, v4 ? "127.0.0.1" : "[::1]", ad->port,
			v4 ? "[::1]" : "127.0.0.1", ad->port, v4 ? "[::1]" : "127.0.0.1", ad->port,
			pol->endpoints[e].name);
	add_tcp(img, other, ad->port, (uint8_t)(e + 1), ad, diag);
	/* connect(::) is delivered to ::1, connect(0.0.0.0) to 127.0.0.1 */
	if (!policy_names(pol, v4 ? v6_any : v4_any, ad->port))
		add_tcp(img, v4 ? v6_any : v4_any, ad->port, (uint8_t)(e + 1), ad, diag);
}

static void compile_endpoints(const struct dg_policy *pol, struct dg_image *img,
			      struct dg_diag *diag)
{
	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t v6_any[16] = { 0 };

	img->n_endpoints = pol->n_endpoints;
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		const struct dg_endpoint *ep = &pol->endpoints[e];
		uint8_t id = (uint8_t)(e + 1);
		struct dg_image_endpoint *ie = &img->endpoints[id];

		ie->name = xstrdup(ep->name);
		for (size_t a = 0; a < ep->n_addrs; a++) {
			const struct dg_addr *ad = &ep->addrs[a];

			switch (ad->kind) {
			case DG_ADDR_TCP4:
				add_tcp(img, ad->addr, ad->port, id, ad, diag);
				port_entry(img, ad->port)->exact = 1;
				/* connect(0.0.0.0) is delivered to 127.0.0.1 */
				if (ad->addr[12] == 127 && ad->addr[13] == 0 && ad->addr[14] == 0 &&
				    ad->addr[15] == 1)
					add_tcp(img, v4_any, ad->port, id, ad, diag);
				add_loopback_sibling(pol, e, ad, img, diag);
				break;
			case DG_ADDR_TCP6:
				add_tcp(img, ad->addr, ad->port, id, ad, diag);
				port_entry(img, ad->port)->exact = 1;
				if (!memcmp(ad->addr, v6_loopback, 16)) {
					/* connect(::) is delivered to ::1 */
					add_tcp(img, v6_any, ad->port, id, ad, diag);
				}
				add_loopback_sibling(pol, e, ad, img, diag);
				break;
			case DG_ADDR_TCP_ANY:
				port_entry(img, ad->port)->any_ep = id;
				break;
			case DG_ADDR_UNIX: {
				const char *name = file_name(ad->path);
				bool dup = false;
				for (size_t i = 0; i < img->n_unix; i++)
					dup |= !strcmp(img->unix_names[i].key.name, name);
				if (dup)
					break;
				add_unix_name(img, name, id);
				ie->unix_socket = true;
				img->has_unix = true;
				break;
			}
			}
		}
	}
}


/*
 * Sockets bind-mounted into containers (`-v /var/run/docker.sock:/x.sock`)
 * are the same file under another name: found by device and inode, their
 * file names are judged as the endpoint inside that container only (its
 * cgroup): a host socket of the same name elsewhere is no endpoint. At most
 * DG_MAX_ALIASES_PER_CONTAINER per container and DG_MAX_UNIX_ALIASES in all,
 * so that no number of containers makes a compile fail; the rest are
 * counted (the container's connects through them then meet the socket
 * file's own permissions, and the BPF LSM where it runs).
 */
static void compile_bind_mounts(const struct dg_policy *pol, const struct dg_compile_env *env,
				struct dg_image *img, struct dg_diag *diag)
{
	if (!env->containers)
		return;
	for (size_t e = 0; e < pol->n_endpoints; e++) {
		for (size_t a = 0; a < pol->endpoints[e].n_addrs; a++) {
			const struct dg_addr *ad = &pol->endpoints[e].addrs[a];
			struct stat ep_st;

			if (ad->kind != DG_ADDR_UNIX || stat(ad->path, &ep_st) < 0)
				continue;
			for (size_t c = 0; c < env->containers->n; c++) {
				const struct dg_container *ct = &env->containers->v[c];
				size_t mine = 0;
				if (!ct->cgroup)
					continue;
				for (size_t i = 0; i < img->n_aliases; i++)
					mine += !strcmp(img->aliases[i].cgroup, ct->cgroup);
				for (size_t m = 0; m < ct->n_mounts; m++) {
					struct stat st;
					if (stat(ct->mounts[m].source, &st) < 0 ||
					    st.st_dev != ep_st.st_dev || st.st_ino != ep_st.st_ino)
						continue;
					const char *name = file_name(ct->mounts[m].destination);
					int owner = 0;
					bool dup = false;
					for (size_t i = 0; i < img->n_unix; i++)
						if (!strcmp(img->unix_names[i].key.name, name))
							owner = img->unix_names[i].ep;
					for (size_t i = 0; i < img->n_aliases && !dup; i++)
						dup = !strcmp(img->aliases[i].name, name) &&
						      !strcmp(img->aliases[i].cgroup, ct->cgroup);
					if (owner && owner != (int)(e + 1))
						dg_diag_warning(diag, &ad->loc,
								"container %s mounts this socket at %s, whose "
								"file name is endpoint '%s''s; not judged as "
								"'%s' there", ct->name, ct->mounts[m].destination,
								img->endpoints[owner].name,
								pol->endpoints[e].name);
					if (owner || dup || !*name || strlen(name) >= DG_UNIX_NAME_LEN)
						continue;
					if (mine == DG_MAX_ALIASES_PER_CONTAINER ||
					    img->n_aliases == DG_MAX_UNIX_ALIASES / DG_SLOTS) {
						img->aliases_left_out++;
						continue;
					}
					img->aliases = xreallocarray(img->aliases, img->n_aliases + 1,
								     sizeof(*img->aliases));
					struct dg_unix_alias *al = &img->aliases[img->n_aliases++];
					memset(al, 0, sizeof(*al));
					snprintf(al->name, sizeof(al->name), "%s", name);
					al->cgroup = xstrdup(ct->cgroup);
					al->ep = (uint8_t)(e + 1);
					mine++;
				}
			}
		}
	}
}

/*
 * The endpoint each port's wildcard listener serves: the one with addresses
 * on that port. When several endpoints name addresses on one port (dockerd
 * -H 127.0.0.1:P -H 172.17.0.1:P: two listeners, each judged as its own
 * endpoint), the first one in file order judges the host's other addresses
 * should one listener take them all; `load` and `status` name it.
 */
static void assign_wide_endpoints(const struct dg_policy *pol, struct dg_image *img)
{
	for (size_t p = 0; p < img->n_ports; p++) {
		struct dg_port_entry *pe = &img->ports[p];

		for (size_t e = 0; e < pol->n_endpoints && !pe->wide_ep; e++)
			for (size_t a = 0; a < pol->endpoints[e].n_addrs; a++) {
				const struct dg_addr *ad = &pol->endpoints[e].addrs[a];
				if ((ad->kind == DG_ADDR_TCP4 || ad->kind == DG_ADDR_TCP6) &&
				    ad->port == pe->port)
					pe->wide_ep = (uint8_t)(e + 1);
			}
	}
}

/* The endpoint whose listen rules judge wildcard binds of each port. */
static void assign_bind_endpoints(const struct dg_policy *pol, struct dg_image *img,
				  struct dg_diag *diag)
{
	for (size_t p = 0; p < img->n_ports; p++) {
		struct dg_port_entry *pe = &img->ports[p];

		for (size_t e = 0; e < pol->n_endpoints; e++) {
			uint8_t id = (uint8_t)(e + 1);
			bool on_port = false;

			if (!(img->endpoints[id].info.flags & DG_EP_HAS_LISTEN))
				continue;
			for (size_t a = 0; a < pol->endpoints[e].n_addrs; a++)
				on_port |= pol->endpoints[e].addrs[a].kind != DG_ADDR_UNIX &&
					   pol->endpoints[e].addrs[a].port == pe->port;
			if (!on_port)
				continue;
			if (pe->bind_ep && pe->bind_ep != id) {
				dg_diag_error(diag, &pol->endpoints[e].loc,
					      "endpoints '%s' and '%s' both have listen rules for port %u; "
					      "a bind of 0.0.0.0:%u takes both, so put their addresses in "
					      "one endpoint",
					      img->endpoints[pe->bind_ep].name, pol->endpoints[e].name,
					      pe->port, pe->port);
				continue;
			}
			pe->bind_ep = id;
		}
	}
}

/* ---- uid intervals -------------------------------------------------------- */

struct uid_event {
	uint64_t pos;		/* 64 bits: hi + 1 may be 2^32 */
	uint32_t rule;
	int start;
};

static int uid_event_cmp(const void *a, const void *b)
{
	const struct uid_event *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void compile_uids(struct dg_image *img, struct bitmap_pool *pool,
			 const struct rule_constraints *rc, size_t n_rules,
			 const struct dg_bitmap *uid_default)
{
	struct uid_event *ev = NULL;
	size_t n_ev = 0;

	for (size_t r = 0; r < n_rules; r++) {
		if (!rc[r].uid_set)
			continue;
		ev = xreallocarray(ev, n_ev + 2 * rc[r].n_uids + 1, sizeof(*ev));
		for (size_t i = 0; i < rc[r].n_uids; i++) {
			ev[n_ev++] = (struct uid_event){ rc[r].uids[i].lo, (uint32_t)r, 1 };
			ev[n_ev++] = (struct uid_event){ (uint64_t)rc[r].uids[i].hi + 1, (uint32_t)r, 0 };
		}
	}
	if (n_ev)	/* qsort(NULL, 0) is undefined */
		qsort(ev, n_ev, sizeof(*ev), uid_event_cmp);

	/* Sweep: between two event positions the set of matching rules is fixed. */
	struct dg_bitmap cur = *uid_default;
	size_t active = 0;
	for (size_t i = 0; i < n_ev;) {
		uint64_t pos = ev[i].pos;
		for (; i < n_ev && ev[i].pos == pos; i++) {
			if (ev[i].start) {
				bit_set(&cur, ev[i].rule);
				active++;
			} else {
				cur.w[ev[i].rule / 64] &= ~(1ULL << (ev[i].rule % 64));
				active--;
			}
		}
		if (!active || i == n_ev || pos > UINT32_MAX)
			continue;
		img->uids = xreallocarray(img->uids, img->n_uids + 1, sizeof(*img->uids));
		img->uids[img->n_uids++] = (struct dg_uid_interval){
			.lo = (uint32_t)pos,
			.hi = (uint32_t)(ev[i].pos - 1),
			.bm = pool_intern(pool, &cur),
		};
	}
	free(ev);
}

/* ---- gids ----------------------------------------------------------------- */

/* A gid that a rule names: sorted by gid, the rules of each gid are a run. */
struct gid_rule {
	uint32_t gid;
	uint32_t rule;
};

static int gid_rule_cmp(const void *a, const void *b)
{
	const struct gid_rule *x = a, *y = b;
	return x->gid < y->gid ? -1 : x->gid > y->gid;
}

/* O(P log P) in the gids that rules name, P in all. */
static void compile_gids(struct dg_image *img, struct bitmap_pool *pool,
			 const struct rule_constraints *rc, size_t n_rules)
{
	struct gid_rule *all = NULL;
	size_t n = 0, distinct = 0;

	for (size_t r = 0; r < n_rules; r++) {
		if (!rc[r].gid_set)
			continue;
		all = xreallocarray(all, n + rc[r].n_gids + 1, sizeof(*all));
		for (size_t k = 0; k < rc[r].n_gids; k++)
			all[n++] = (struct gid_rule){ rc[r].gids[k], (uint32_t)r };
	}
	if (n)
		qsort(all, n, sizeof(*all), gid_rule_cmp);
	for (size_t i = 0; i < n; i++)
		distinct += !i || all[i].gid != all[i - 1].gid;
	img->gids = xreallocarray(img->gids, img->n_gids + distinct + 1, sizeof(*img->gids));
	for (size_t i = 0; i < n;) {
		struct dg_bitmap b = { 0 };
		size_t run = i;
		for (; run < n && all[run].gid == all[i].gid; run++)
			bit_set(&b, all[run].rule);
		img->gids[img->n_gids++] = (struct dg_gid_entry){ all[i].gid, pool_intern(pool, &b) };
		i = run;
	}
	free(all);
}

/* ---- cgroup trie ---------------------------------------------------------- */

struct trie_node {
	uint32_t parent;
	char *name;
	struct dg_bitmap bits;
};

/* The cgroup trie under construction; `slots` index nodes by (parent, name)
 * (open addressing: node id, 0 = empty), so that each step of a walk is one
 * hash look-up whatever the number of cgroups. */
struct trie {
	struct trie_node *nodes;
	size_t n, cap;
	uint32_t *slots;
	size_t n_slots;
};

static uint64_t trie_hash(uint32_t parent, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 31);
}

static void trie_index(struct trie *t, uint32_t id)
{
	const struct trie_node *node = &t->nodes[id];
	size_t s = trie_hash(node->parent, node->name, strlen(node->name)) & (t->n_slots - 1);

	while (t->slots[s])
		s = (s + 1) & (t->n_slots - 1);
	t->slots[s] = id;
}

/* The child `name` of node `parent`, 0 when there is none. */
static uint32_t trie_find(const struct trie *t, uint32_t parent, const char *name, size_t len)
{
	for (size_t s = trie_hash(parent, name, len) & (t->n_slots - 1); t->slots[s];
	     s = (s + 1) & (t->n_slots - 1)) {
		const struct trie_node *node = &t->nodes[t->slots[s]];
		if (node->parent == parent && !strncmp(node->name, name, len) && !node->name[len])
			return t->slots[s];
	}
	return 0;
}

static uint32_t trie_child(struct trie *t, uint32_t parent, const char *name, size_t len)
{
	uint32_t found = trie_find(t, parent, name, len);

	if (found)
		return found;
	if (t->n == t->cap) {
		t->cap *= 2;
		t->nodes = xreallocarray(t->nodes, t->cap, sizeof(*t->nodes));
	}
	if ((t->n + 1) * 2 > t->n_slots) {
		t->n_slots *= 2;
		free(t->slots);
		t->slots = xcalloc(t->n_slots, sizeof(*t->slots));
		for (uint32_t i = 1; i < t->n; i++)
			trie_index(t, i);
	}
	struct trie_node *node = &t->nodes[t->n];
	memset(node, 0, sizeof(*node));
	node->parent = parent;
	node->name = xstrndup(name, len);
	trie_index(t, (uint32_t)t->n);
	return (uint32_t)t->n++;
}

/* The node of `path`, made with its ancestors when `insert`; without, the
 * deepest existing node on it (0 when none but the root). */
static uint32_t trie_walk(struct trie *t, const char *path, bool insert)
{
	uint32_t node = 0;

	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		uint32_t next = insert ? trie_child(t, node, p, len) : trie_find(t, node, p, len);
		if (!next)
			break;
		node = next;
		p += len;
	}
	return node;
}

bool dg_cgroup_name_is_container(const char *name, size_t len)
{
	size_t off = 0;

	if (len == 7 + 64 + 6 && !strncmp(name, "docker-", 7) && !strncmp(name + 71, ".scope", 6))
		off = 7;	/* the systemd cgroup driver's scope */
	else if (len != 64)
		return false;	/* the cgroupfs driver's directory is the bare id */
	for (size_t i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)name[off + i]) || isupper((unsigned char)name[off + i]))
			return false;
	return true;
}

/*
 * The cgroup trie. A container's cgroup is a boundary: it does not inherit
 * the bits of `cgroup` and `unit` rules above it, only those of rules with no
 * cgroup constraint (the root's) and of `container` rules that name it. Who
 * creates a container chooses its parent (`--cgroup-parent /trusted`, or a
 * directory named like a unit), so a place in the tree says nothing about a
 * container: containers are matched by `container` subjects only. Known
 * containers below a rule's path get a node of their own; any other cgroup
 * named like a container (64 hex digits, docker-<id>.scope) is judged the
 * same way by the BPF programs (walk_cgroup_trie) and by dg_image_evaluate().
 */
static void compile_cgroups(struct dg_image *img, struct bitmap_pool *pool,
			    const struct rule_constraints *rc, size_t n_rules,
			    const struct dg_bitmap *root_default,
			    const struct dg_container_set *containers)
{
	struct trie t = { .cap = 64, .n = 1, .n_slots = 128 };

	t.nodes = xcalloc(t.cap, sizeof(*t.nodes));
	t.slots = xcalloc(t.n_slots, sizeof(*t.slots));
	t.nodes[0].name = xstrdup("");
	t.nodes[0].bits = *root_default;
	for (size_t r = 0; r < n_rules; r++) {
		if (!rc[r].cg_set)
			continue;
		for (size_t i = 0; i < rc[r].n_paths; i++) {
			uint32_t id = trie_walk(&t, rc[r].paths[i], true);
			bit_set(&t.nodes[id].bits, r);
		}
	}
	for (size_t c = 0; containers && c < containers->n; c++) {
		const char *cg = containers->v[c].cgroup;
		if (cg && trie_walk(&t, cg, false) != 0)
			trie_walk(&t, cg, true);
	}
	/* Parents are created before children, so one pass in id order pushes
	 * every ancestor's bits down; a container takes the root's instead. */
	struct trie_node *nodes = t.nodes;
	size_t n = t.n;
	for (size_t i = 1; i < n; i++) {
		uint32_t from = dg_cgroup_name_is_container(nodes[i].name, strlen(nodes[i].name))
					? 0
					: nodes[i].parent;
		for (size_t w = 0; w < DG_BITMAP_WORDS; w++)
			nodes[i].bits.w[w] |= nodes[from].bits.w[w];
	}

	img->hdr.cgroup_root_bm = pool_intern(pool, &nodes[0].bits);
	img->cgroups = xcalloc(n, sizeof(*img->cgroups));
	for (size_t i = 1; i < n; i++) {
		struct dg_cgroup_entry *c = &img->cgroups[img->n_cgroups++];
		c->key.parent = nodes[i].parent;
		strncpy(c->key.name, nodes[i].name, sizeof(c->key.name) - 1);
		c->node.id = (uint32_t)i;
		c->node.bm = pool_intern(pool, &nodes[i].bits);
	}
	for (size_t i = 0; i < n; i++)
		free(nodes[i].name);
	free(nodes);
	free(t.slots);
}

/* ---- the whole policy ----------------------------------------------------- */

struct dg_image *dg_compile(const struct dg_policy *pol, const struct dg_compile_env *env,
			    struct dg_diag *diag)
{
	size_t errors_before = diag->n_errors;
	struct dg_image *img = xcalloc(1, sizeof(*img));
	struct bitmap_pool pool = { 0 };
	size_t n = pol->n_rules;

	if (n > DG_MAX_RULES) {
		dg_diag_error(diag, &pol->rules[DG_MAX_RULES].loc,
			      "too many rules: %zu, at most %d; merge rules with { } lists", n,
			      DG_MAX_RULES);
		free(img);
		return NULL;
	}
	if (pol->n_endpoints >= DG_MAX_ENDPOINTS) {
		dg_diag_error(diag, &pol->endpoints[DG_MAX_ENDPOINTS - 1].loc,
			      "too many endpoints: %zu, at most %d", pol->n_endpoints,
			      DG_MAX_ENDPOINTS - 1);
		free(img);
		return NULL;
	}

	mark_listened_endpoints(pol, img);
	/* a relay's connects leave the caller's identity for the relay */
	for (size_t e = 0; e < pol->n_endpoints; e++)
		if (pol->endpoints[e].relay)
			img->endpoints[e + 1].info.flags |= DG_EP_RELAY;
	compile_endpoints(pol, img, diag);
	compile_bind_mounts(pol, env, img, diag);
	/* Both slots share these tables, so a policy may use half of each. */
	if (img->n_tcp > DG_MAX_TCP_DESTS / DG_SLOTS || img->n_unix > DG_MAX_UNIX_NAMES / DG_SLOTS) {
		dg_diag_error(diag, &pol->endpoints[0].loc,
			      "too many endpoint addresses: %zu TCP destinations (at most %d, aliases "
			      "such as 0.0.0.0 included) and %zu unix file names (at most %d)",
			      img->n_tcp, DG_MAX_TCP_DESTS / DG_SLOTS, img->n_unix,
			      DG_MAX_UNIX_NAMES / DG_SLOTS);
		dg_image_free(img);
		return NULL;
	}

	struct rule_constraints *rc = xcalloc(n + 1, sizeof(*rc));
	struct dg_bitmap connect_bits[DG_MAX_ENDPOINTS], listen_bits[DG_MAX_ENDPOINTS];
	struct dg_bitmap uid_default = { 0 }, gid_default = { 0 }, cg_default = { 0 };

	memset(connect_bits, 0, sizeof(connect_bits));
	memset(listen_bits, 0, sizeof(listen_bits));
	img->rules = xcalloc(n + 1, sizeof(*img->rules));
	img->origins = xcalloc(n + 1, sizeof(*img->origins));
	uint64_t *ids = xcalloc(n + 1, sizeof(*ids));
	dg_rule_identities(pol, ids);
	img->default_id = dg_default_identity(pol->default_action);
	img->n_rules = n;

	for (size_t r = 0; r < n; r++) {
		const struct dg_rule *rule = &pol->rules[r];
		bool listen = rule->action == DG_ACTION_LISTEN;
		struct dg_bitmap *target = listen ? listen_bits : connect_bits;

		if (rule->any_endpoint)
			for (size_t e = 1; e <= pol->n_endpoints; e++)
				bit_set(&target[e], r);
		for (size_t i = 0; i < rule->n_endpoints; i++)
			bit_set(&target[rule->endpoints[i] + 1], r);

		rule_constraints(rule, env, diag, img, &rc[r]);
		img->has_container_rules |= rc[r].container;
		if (!rc[r].uid_set)
			bit_set(&uid_default, r);
		else
			img->hdr.flags |= DG_POL_UIDS;
		if (!rc[r].gid_set)
			bit_set(&gid_default, r);
		else
			img->hdr.flags |= DG_POL_GIDS;
		if (!rc[r].cg_set)
			bit_set(&cg_default, r);
		else
			img->hdr.flags |= DG_POL_CGROUPS;
		if (rc[r].cg_set && !rc[r].n_paths && !rc[r].container)
			dg_diag_warning(diag, &rule->loc,
					"this rule can never match: its cgroup, unit and container "
					"subjects have no path in common");

		img->rules[r].action = rule->action == DG_ACTION_DENY ? DG_ACT_DENY : DG_ACT_ALLOW;
		if (rule->action == DG_ACTION_AUDIT || rule->log == DG_LOG_ALWAYS)
			img->rules[r].flags |= DG_RULE_LOG;
		if (rule->action == DG_ACTION_AUDIT)
			img->rules[r].flags |= DG_RULE_AUDIT;
		if (rule->log == DG_LOG_QUIET)
			img->rules[r].flags |= DG_RULE_QUIET;
		img->origins[r].file = rule->loc.file ? rule->loc.file->name : pol->path;
		img->origins[r].line = rule->loc.line;
		img->origins[r].action = rule->action;
		img->origins[r].id = ids[r];
	}
	free(ids);

	/* Index 0 is the empty bitmap: "no rule". */
	struct dg_bitmap empty = { 0 };
	pool_intern(&pool, &empty);
	for (size_t e = 1; e <= pol->n_endpoints; e++) {
		img->endpoints[e].info.connect_bm = pool_intern(&pool, &connect_bits[e]);
		img->endpoints[e].info.listen_bm = pool_intern(&pool, &listen_bits[e]);
	}
	img->hdr.uid_default_bm = pool_intern(&pool, &uid_default);
	img->hdr.gid_default_bm = pool_intern(&pool, &gid_default);
	compile_uids(img, &pool, rc, n, &uid_default);
	compile_gids(img, &pool, rc, n);
	compile_cgroups(img, &pool, rc, n, &cg_default, env->containers);
	assign_bind_endpoints(pol, img, diag);
	assign_wide_endpoints(pol, img);

	img->hdr.nwords = n ? (uint32_t)((n + 63) / 64) : 1;
	img->hdr.default_action = pol->default_action == DG_DEFAULT_AUDIT ? DG_ACT_ALLOW : DG_ACT_DENY;
	img->hdr.default_log = 1;
	img->hdr.log_rate = pol->log_rate ? pol->log_rate : DG_DEFAULT_LOG_RATE;
	img->bitmaps = pool.v;
	img->n_bitmaps = pool.n;
	free(pool.slots);

	for (size_t r = 0; r < n; r++)
		constraints_free(&rc[r]);
	free(rc);

	if (diag->n_errors > errors_before) {
		dg_image_free(img);
		return NULL;
	}
	return img;
}

void dg_image_free(struct dg_image *img)
{
	if (!img)
		return;
	for (size_t e = 0; e < DG_MAX_ENDPOINTS; e++)
		free(img->endpoints[e].name);
	free(img->bitmaps);
	free(img->uids);
	free(img->gids);
	free(img->cgroups);
	free(img->tcp);
	free(img->unix_names);
	for (size_t i = 0; i < img->n_aliases; i++)
		free(img->aliases[i].cgroup);
	free(img->aliases);
	free(img->ports);
	free(img->rules);
	free(img->origins);
	for (size_t i = 0; i < img->n_resolutions; i++)
		free(img->resolutions[i].text);
	free(img->resolutions);
	free(img);
}

/* ---- the userspace evaluator ---------------------------------------------- */

int dg_parse_dest(const char *dest, struct dg_tcp_key *tcp, char *unix_path, size_t unix_len,
		  bool *is_unix)
{
	memset(tcp, 0, sizeof(*tcp));
	if (!strncmp(dest, "unix:", 5)) {
		if (!dest[5] || strlen(dest + 5) >= unix_len)
			return -EINVAL;
		strcpy(unix_path, dest + 5);
		*is_unix = true;
		return 0;
	}
	if (strncmp(dest, "tcp:", 4))
		return -EINVAL;
	*is_unix = false;

	const char *host = dest + 4, *colon;
	char buf[64];
	size_t hlen;
	if (*host == '[') {
		const char *close = strchr(host, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - host - 1);
		if (hlen >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, host + 1, hlen);
		buf[hlen] = '\0';
		if (inet_pton(AF_INET6, buf, tcp->addr) != 1)
			return -EINVAL;
		colon = close + 1;
	} else {
		colon = strrchr(host, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - host);
		if (hlen >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, host, hlen);
		buf[hlen] = '\0';
		tcp->addr[10] = tcp->addr[11] = 0xff;
		if (inet_pton(AF_INET, buf, tcp->addr + 12) != 1)
			return -EINVAL;
	}
	uint64_t port;
	if (parse_u64(colon + 1, 1, 65535, &port))
		return -EINVAL;
	tcp->port = (uint16_t)port;
	return 0;
}

static bool is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16], v4any[16] = { [10] = 0xff, [11] = 0xff };
	return !memcmp(a, zero, 16) || !memcmp(a, v4any, 16);
}

int dg_image_find_endpoint(const struct dg_image *img, const struct dg_tcp_key *tcp,
			   const char *unix_path, bool is_unix, uint32_t op)
{
	if (is_unix) {
		const char *name = file_name(unix_path);
		for (size_t i = 0; i < img->n_unix; i++)
			if (!strcmp(img->unix_names[i].key.name, name))
				return img->unix_names[i].ep;
		return 0;
	}
	const struct dg_port_entry *pe = NULL;
	for (size_t i = 0; i < img->n_ports; i++)
		if (img->ports[i].port == tcp->port)
			pe = &img->ports[i];
	if (!pe)
		return 0;
	if (op == DG_OP_BIND && is_unspecified(tcp->addr))
		return pe->bind_ep;
	for (size_t i = 0; i < img->n_tcp; i++)
		if (img->tcp[i].key.port == tcp->port && !memcmp(img->tcp[i].key.addr, tcp->addr, 16))
			return img->tcp[i].ep;
	return pe->any_ep;
}

uint8_t dg_image_wide_endpoint(const struct dg_image *img, uint16_t port)
{
	for (size_t i = 0; i < img->n_ports; i++)
		if (img->ports[i].port == port)
			return img->ports[i].wide_ep;
	return 0;
}

static uint32_t uid_bitmap(const struct dg_image *img, uint32_t uid)
{
	size_t lo = 0, hi = img->n_uids;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (uid < img->uids[mid].lo)
			hi = mid;
		else if (uid > img->uids[mid].hi)
			lo = mid + 1;
		else
			return img->uids[mid].bm;
	}
	return img->hdr.uid_default_bm;
}

static const struct dg_gid_entry *gid_entry(const struct dg_image *img, uint32_t gid)
{
	for (size_t i = 0; i < img->n_gids; i++)
		if (img->gids[i].gid == gid)
			return &img->gids[i];
	return NULL;
}

static uint32_t cgroup_bitmap(const struct dg_image *img, const char *path)
{
	uint32_t bm = img->hdr.cgroup_root_bm, parent = 0;

	for (const char *p = path ? path : "/"; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const struct dg_cgroup_entry *found = NULL;
		for (size_t i = 0; i < img->n_cgroups && !found; i++)
			if (img->cgroups[i].key.parent == parent &&
			    strlen(img->cgroups[i].key.name) == len &&
			    !strncmp(img->cgroups[i].key.name, p, len))
				found = &img->cgroups[i];
		if (!found) {
			/* a container the compiler did not know: judged as one */
			if (dg_cgroup_name_is_container(p, len))
				bm = img->hdr.cgroup_root_bm;
			break;
		}
		bm = found->node.bm;
		parent = found->node.id;
		p += len;
	}
	return bm;
}

void dg_image_evaluate(const struct dg_image *img, const struct dg_subject_id *who,
		       const char *dest, uint32_t op, struct dg_verdict *out)
{
	struct dg_tcp_key tcp;
	char path[DG_UNIX_NAME_LEN + 1];
	bool is_unix;

	memset(out, 0, sizeof(*out));
	out->allowed = true;
	out->rule = DG_RULE_DEFAULT;
	if (dg_parse_dest(dest, &tcp, path, sizeof(path), &is_unix))
		return;
	int ep = dg_image_find_endpoint(img, &tcp, path, is_unix, op);
	if (!ep)
		return;
	dg_image_evaluate_endpoint(img, who, (uint8_t)ep, op, out);
}

void dg_image_evaluate_endpoint(const struct dg_image *img, const struct dg_subject_id *who,
				uint8_t ep, uint32_t op, struct dg_verdict *out)
{
	memset(out, 0, sizeof(*out));
	out->allowed = true;
	out->rule = DG_RULE_DEFAULT;
	out->ep = ep;
	const struct dg_endpoint_info *info = &img->endpoints[ep].info;
	if (op == DG_OP_BIND && !(info->flags & DG_EP_HAS_LISTEN))
		return;
	out->judged = true;

	const struct dg_bitmap *e = &img->bitmaps[op == DG_OP_BIND ? info->listen_bm : info->connect_bm];
	const struct dg_bitmap *u = &img->bitmaps[uid_bitmap(img, who->uid)];
	const struct dg_bitmap *c = &img->bitmaps[cgroup_bitmap(img, who->cgroup)];
	struct dg_bitmap g = img->bitmaps[img->hdr.gid_default_bm];
	uint32_t hits[DG_MAX_GROUP_HITS];
	size_t n_hits = 0;
	for (size_t i = 0; (img->hdr.flags & DG_POL_GIDS) && i <= who->n_groups; i++) {
		const struct dg_gid_entry *ge = gid_entry(img, i ? who->groups[i - 1] : who->gid);
		bool seen = !ge || !ge->bm;
		for (size_t h = 0; h < n_hits && !seen; h++)
			seen = hits[h] == ge->bm;
		if (seen)
			continue;
		if (n_hits == DG_MAX_GROUP_HITS) {
			/* the BPF program fails closed here, before any rule */
			out->allowed = false;
			out->group_overflow = true;
			return;
		}
		hits[n_hits++] = ge->bm;
		for (size_t w = 0; w < DG_BITMAP_WORDS; w++)
			g.w[w] |= img->bitmaps[ge->bm].w[w];
	}

	for (uint32_t w = 0; w < img->hdr.nwords; w++) {
		uint64_t m = e->w[w] & u->w[w] & g.w[w] & c->w[w];
		if (m) {
			out->rule = w * 64 + (uint32_t)__builtin_ctzll(m);
			break;
		}
	}
	if (out->rule < DG_MAX_RULES)
		out->allowed = img->rules[out->rule].action == DG_ACT_ALLOW;
	else if (op == DG_OP_BIND)
		out->allowed = false;	/* as the BPF program: listen has no default */
	else
		out->allowed = img->hdr.default_action == DG_ACT_ALLOW;
}
