// SPDX-License-Identifier: GPL-2.0-only
/*
 * The verdict: who the caller is (uid, groups, cgroup through the trie),
 * which rule matches first (bitmaps over rule numbers, see "The verdict" in
 * dockguard_abi.h), counting and reporting it. Entry points only find the
 * endpoint; judge() applies the policy.
 */
#ifndef DOCKGUARD_BPF_VERDICT_H
#define DOCKGUARD_BPF_VERDICT_H

#include "maps.h"

/*
 * Index of the lowest set bit; m != 0. BPF has no count-trailing-zeros: the
 * bits below the lowest set one, counted without branches (a branchy search
 * multiplies the verifier's paths in the bitmap loop).
 */
static __always_inline __u32 lowest_bit(__u64 m)
{
	__u64 x = (m & -m) - 1;

	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (__u32)((x * 0x0101010101010101ULL) >> 56);
}

/*
 * The distinct group bitmaps a process hits, gathered by the bpf_loop below.
 * Fixed slots rather than a counter: each slot is either 0 (bitmap 0 is the
 * empty one) or some index, so the verifier's states converge quickly.
 */
struct group_hits {
	const struct group_info *gi;
	__u64 w0;		/* OR of the hits' first words */
	__u64 nz;		/* OR of the hits' non-zero words */
	__u32 slot;
	__u32 overflow;
	__u32 hit[DG_MAX_GROUP_HITS];
};

static __always_inline void add_group_hit(struct group_hits *h, __u32 gid)
{
	__u32 slot = h->slot;
	void *gmap = bpf_map_lookup_elem(&gids, &slot);
	struct dg_bm_ref *ref;
	__u32 bm;

	if (!gmap)
		return;
	ref = bpf_map_lookup_elem(gmap, &gid);
	if (!ref)
		return;
	bm = ref->idx;
	if (!bm || bm == h->hit[0] || bm == h->hit[1] || bm == h->hit[2] || bm == h->hit[3])
		return;
	h->w0 |= ref->w0;
	h->nz |= ref->nz;
	if (!h->hit[0])
		h->hit[0] = bm;
	else if (!h->hit[1])
		h->hit[1] = bm;
	else if (!h->hit[2])
		h->hit[2] = bm;
	else if (!h->hit[3])
		h->hit[3] = bm;
	else
		h->overflow = 1;
}

static long supplementary_group_cb(__u64 i, void *ctx)
{
	struct group_hits *h = ctx;
	const struct group_info *gi = h->gi;
	__u32 gid = 0;

	if (bpf_core_read(&gid, sizeof(gid), &gi->gid[i]))
		return 1;
	add_group_hit(h, gid);
	return h->overflow ? 1 : 0;
}

static __always_inline bool hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * A cgroup name of a container (dg_cgroup_name_is_container()): 64 hex
 * digits, or docker-<64 hex>.scope. `len` excludes the NUL.
 */
static __noinline bool container_cgroup_name(const char *name, __u32 len)
{
	__u32 off = 0;

	if (!name)
		return false;
	if (len == 77) {
		if (name[0] != 'd' || name[1] != 'o' || name[2] != 'c' || name[3] != 'k' ||
		    name[4] != 'e' || name[5] != 'r' || name[6] != '-' || name[71] != '.' ||
		    name[72] != 's' || name[73] != 'c' || name[74] != 'o' || name[75] != 'p' ||
		    name[76] != 'e')
			return false;
		off = 7;
	} else if (len != 64) {
		return false;
	}
	for (__u32 i = 0; i < 64; i++)
		if (!hex_digit(name[(off + i) & (DG_CGROUP_NAME_LEN - 1)]))
			return false;
	return true;
}

/*
 * Walks the task's cgroup v2 ancestry down the policy's cgroup trie and
 * returns the bitmap index of the deepest node reached. A component that is
 * not in the trie but is named like a container's cgroup takes the root's
 * bitmap (`root`): containers are matched by `container` subjects only,
 * never by a `cgroup` or `unit` rule above them (see compile_cgroups()).
 */
static __always_inline void walk_cgroup_trie(void *cgmap, struct dg_bm_ref *bm,
					     const struct dg_bm_ref *root)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct dg_cgroup_key key;
	struct cgroup *cgrp;
	__u32 parent = 0;
	int level;

	cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (!cgrp)
		return;
	level = BPF_CORE_READ(cgrp, level);
	for (int l = 1; l <= DG_CGROUP_MAX_DEPTH; l++) {
		struct cgroup *anc = NULL;
		const char *name;
		struct dg_cgroup_node *node;
		long n;

		if (l > level)
			break;
		if (bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[l]) || !anc)
			break;
		name = BPF_CORE_READ(anc, kn, name);
		__builtin_memset(&key, 0, sizeof(key));
		key.parent = parent;
		n = bpf_probe_read_kernel_str(key.name, sizeof(key.name), name);
		/* n counts the NUL: a full buffer means a longer name than any
		 * policy component, which matches nothing. */
		if (n <= 1 || n >= (long)sizeof(key.name))
			break;
		node = bpf_map_lookup_elem(cgmap, &key);
		if (!node) {
			if (container_cgroup_name(key.name, (__u32)(n - 1)))
				*bm = *root;
			break;
		}
		bm->idx = node->bm;
		bm->w0 = node->w0;
		bm->nz = node->nz;
		parent = node->id;
	}
}

/*
 * The cgroup dimension's bitmap for the current task, into *out: memoized
 * per (cgroup, generation) in `cgroup_cache`, so that the trie walk (a
 * string copy and a 132-byte hash per level) runs once per cgroup and
 * policy. Called by the entry points before judge(), so that its key buffer
 * and judge()'s frame are never on the stack together (BPF has 512 bytes for
 * all frames). Returns false when the policy cannot be read: judge() then
 * fails closed.
 */
static __noinline bool cgroup_bitmap(__u32 slot, struct dg_bm_ref *out)
{
	struct dg_cgroup_cache_key ck;
	struct dg_policy_hdr *hdr;
	struct dg_bm_ref *cached, root;
	__u32 k = slot;
	void *cgmap;

	if (!out)
		return false;
	hdr = bpf_map_lookup_elem(&policy, &k);
	if (!hdr)
		return false;
	out->idx = hdr->cgroup_root_bm;
	out->w0 = hdr->cgroup_root_w0;
	out->nz = hdr->cgroup_root_nz;
	out->pad = 0;
	if (!(hdr->flags & DG_POL_CGROUPS))
		return true;
	ck.cgroup_id = bpf_get_current_cgroup_id();
	ck.generation = hdr->generation;
	cached = bpf_map_lookup_elem(&cgroup_cache, &ck);
	if (cached) {
		*out = *cached;
		return true;
	}
	cgmap = bpf_map_lookup_elem(&cgroup_nodes, &k);
	if (!cgmap)
		return false;
	root = *out;
	walk_cgroup_trie(cgmap, out, &root);
	bpf_map_update_elem(&cgroup_cache, &ck, out, BPF_ANY);
	return true;
}

/* What a connect or bind was aimed at: the lookup key, and the event's dest. */
struct dest_info {
	__u32 family;		/* DG_FAMILY_* */
	union {
		struct dg_tcp_key tcp;
		char path[DG_UNIX_NAME_LEN];
	};
};

#define NSEC_PER_SEC 1000000000ULL

/*
 * Per-CPU counters (`stats`, `counters`) are incremented with plain adds: the
 * programs run with migration disabled, so only a preemption between the
 * load and the store by another dockguard program on the same CPU could lose
 * an increment (never a verdict), and only on fully preemptible kernels. A
 * locked add costs ~70 ns per connect on the machines measured (make bench).
 * The per-subject budgets, shared between CPUs, stay atomic.
 */
static __always_inline void count(__u32 slot, __u32 rule, bool allowed)
{
	__u32 k = slot * (DG_MAX_RULES + 1) + (rule > DG_MAX_RULES ? DG_MAX_RULES : rule);
	struct dg_rule_stats *s = bpf_map_lookup_elem(&stats, &k);

	if (!s)
		return;
	if (allowed)
		s->allowed++;
	else
		s->denied++;
}

/* A decision made: what decide() needs to count and report it. */
struct decision {
	__u64 generation;
	__u32 slot;
	__u32 ep;
	__u32 op;
	__u32 rule;		/* DG_RULE_DEFAULT: none matched */
	__u32 uid;
	__u32 gid;
	__u32 log_rate;
	__u8 default_action;
	__u8 default_log;
	__u8 pad[2];
};

/*
 * Takes one event from the subject's budget of log_rate events per second.
 * NULL: over budget, and the decision was counted in the subject's
 * `suppressed`, which its next event carries.
 */
static __always_inline struct dg_subject_budget *take_budget(struct dg_subject_key *key,
							      __u32 log_rate, __u64 now,
							      struct dg_counters *cnt)
{
	struct dg_subject_budget *b, fresh = {};

	b = bpf_map_lookup_elem(&ratelimit, key);
	if (!b) {
		fresh.window_ns = now;
		bpf_map_update_elem(&ratelimit, key, &fresh, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&ratelimit, key);
		if (!b)
			return NULL;
	}
	/* A racy window reset only bends the rate; the accounting below is
	 * exact: every decision is either reported or added to `suppressed`. */
	if (now - b->window_ns >= NSEC_PER_SEC) {
		b->window_ns = now;
		b->count = 0;
	}
	if (__sync_fetch_and_add(&b->count, 1) >= log_rate) {
		__sync_fetch_and_add(&b->suppressed, 1);
		if (cnt)
			cnt->suppressed++;
		return NULL;
	}
	return b;
}

/* A ring buffer record for a decision whose budget allowed it; NULL with the
 * ring full, the decision then counted as suppressed and dropped. */
static __always_inline struct dg_event *reserve_event(struct dg_subject_budget *b,
						      struct dg_counters *cnt)
{
	struct dg_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		__sync_fetch_and_add(&b->suppressed, 1);
		if (cnt)
			cnt->dropped++;
		return NULL;
	}
	e->suppressed = (__u32)__sync_lock_test_and_set(&b->suppressed, 0);
	return e;
}

/*
 * Reports a decision (its event verdict: DG_ACT_*), within the subject's
 * budget. A failed report never changes the verdict.
 */
static __always_inline void report(const struct decision *d, const struct dest_info *di,
				   __u8 verdict)
{
	struct dg_subject_key key = { .cgroup_id = bpf_get_current_cgroup_id(), .uid = d->uid };
	struct dg_subject_budget *b;
	struct dg_counters *cnt;
	struct dg_event *e;
	__u32 zero = 0;
	__u64 now = bpf_ktime_get_boot_ns();

	cnt = bpf_map_lookup_elem(&counters, &zero);
	b = take_budget(&key, d->log_rate, now, cnt);
	if (!b)
		return;
	e = reserve_event(b, cnt);
	if (!e)
		return;
	e->time_ns = now;
	e->cgroup_id = key.cgroup_id;
	e->generation = d->generation;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = d->uid;
	e->gid = d->gid;
	e->rule = d->rule;
	e->port = di->family == DG_FAMILY_UNIX ? 0 : di->tcp.port;
	e->op = (__u8)d->op;
	e->verdict = verdict;
	e->ep = (__u8)d->ep;
	e->family = (__u8)di->family;
	e->slot = (__u8)d->slot;
	e->pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (di->family == DG_FAMILY_UNIX) {
		__builtin_memset(e->addr, 0, sizeof(e->addr));
		__builtin_memcpy(e->path, di->path, sizeof(e->path));
	} else {
		__builtin_memcpy(e->addr, di->tcp.addr, sizeof(e->addr));
		__builtin_memset(e->path, 0, sizeof(e->path));
	}
	bpf_ringbuf_submit(e, 0);
	if (cnt)
		cnt->events++;
}

/*
 * What the deciding rule (or the default) does: count, report, verdict. A
 * global function, so the verifier checks it once rather than once for each
 * of judge()'s 64 possible exits from the bitmap loop; defined once, in
 * decide.bpf.c, and joined to its callers by the static linker.
 */
int decide(const struct decision *d, const struct dest_info *di);


/*
 * Words 1.. of the bitmaps, for policies of more than 64 rules whose first
 * 64 rules did not decide: only the words in `cand` (where every dimension
 * has a bit at all) are read. Returns the first rule whose bits are set in
 * every dimension, DG_RULE_DEFAULT for none, more when unreadable.
 */
struct bitmap_indexes {
	__u32 e, u, c, g;	/* endpoint, uid, cgroup, gid default */
};

static __noinline __u32 match_beyond_word0(__u32 slot, __u64 cand,
					   const struct bitmap_indexes *ix,
					   const struct group_hits *hits)
{
	struct dg_bitmap *e, *u, *g, *c, *h0, *h1, *h2, *h3;
	__u32 k = slot;
	void *bms = bpf_map_lookup_elem(&bitmaps, &k);

	if (!bms || !hits || !ix)
		return DG_RULE_DEFAULT + 1;
	e = bpf_map_lookup_elem(bms, (void *)&ix->e);
	u = bpf_map_lookup_elem(bms, (void *)&ix->u);
	c = bpf_map_lookup_elem(bms, (void *)&ix->c);
	g = bpf_map_lookup_elem(bms, (void *)&ix->g);
	/* slot 0 of `bitmaps` is the empty bitmap: unused hits read zeros */
	h0 = bpf_map_lookup_elem(bms, (void *)&hits->hit[0]);
	h1 = bpf_map_lookup_elem(bms, (void *)&hits->hit[1]);
	h2 = bpf_map_lookup_elem(bms, (void *)&hits->hit[2]);
	h3 = bpf_map_lookup_elem(bms, (void *)&hits->hit[3]);
	if (!e || !u || !g || !c || !h0 || !h1 || !h2 || !h3)
		return DG_RULE_DEFAULT + 1;	/* unreadable: the caller denies */
	for (__u32 i = 0; i < DG_BITMAP_WORDS && cand; i++) {
		__u32 w = lowest_bit(cand) & (DG_BITMAP_WORDS - 1);
		__u64 match;

		cand &= cand - 1;
		match = e->w[w] & u->w[w] & c->w[w] &
			(g->w[w] | h0->w[w] | h1->w[w] | h2->w[w] | h3->w[w]);
		if (match)
			return w * 64 + lowest_bit(match);
	}
	return DG_RULE_DEFAULT;
}

/*
 * The policy decision for endpoint `ep` of `slot`: the first rule whose bits
 * are set in every dimension decides; otherwise the default does. The first
 * 64 rules are judged from the first words the lookups return (dg_bm_ref);
 * only beyond them are the `bitmaps` read.
 */
static __noinline int judge(__u32 slot, __u32 ep, __u32 op, const struct dest_info *di,
			    const struct dg_bm_ref *cg)
{
	/* A BTF pointer: the cred fields below are plain loads, not helper calls. */
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	struct dg_endpoint_info *info;
	struct dg_policy_hdr *hdr;
	struct group_hits hits;
	__u32 k, rule = DG_RULE_DEFAULT;
	__u32 e_idx, u_idx, g_idx, euid, egid;
	__u64 e_w0, u_w0, g_w0, e_nz, u_nz, g_nz, match;
	void *m;

	k = slot;
	hdr = bpf_map_lookup_elem(&policy, &k);
	k = slot * DG_MAX_ENDPOINTS + ep;
	info = bpf_map_lookup_elem(&endpoints, &k);
	if (!hdr || !info || !cg)
		return VERDICT_DENY;	/* no policy in this slot: fail closed */

	if (op == DG_OP_BIND && !(info->flags & DG_EP_HAS_LISTEN))
		return VERDICT_ALLOW;
	if (op == DG_OP_BIND) {
		e_idx = info->listen_bm;
		e_w0 = info->listen_w0;
		e_nz = info->listen_nz;
	} else {
		e_idx = info->connect_bm;
		e_w0 = info->connect_w0;
		e_nz = info->connect_nz;
	}

	/* effective uid and gid, as the host sees them */
	euid = cred->euid.val;
	egid = cred->egid.val;
	u_idx = hdr->uid_default_bm;
	u_w0 = hdr->uid_default_w0;
	u_nz = hdr->uid_default_nz;
	if (hdr->flags & DG_POL_UIDS) {
		struct dg_uid_key ukey = {
			.prefixlen = 32,
			.uid = bpf_htonl(euid),
		};
		struct dg_bm_ref *v;

		m = bpf_map_lookup_elem(&uid_ranges, &slot);
		if (!m)
			return VERDICT_DENY;
		v = bpf_map_lookup_elem(m, &ukey);
		if (v) {
			u_idx = v->idx;
			u_w0 = v->w0;
			u_nz = v->nz;
		}
	}

	/* effective gid and supplementary groups */
	__builtin_memset(&hits, 0, sizeof(hits));
	hits.slot = slot;
	if (hdr->flags & DG_POL_GIDS) {
		/* read as a plain address: the loop below indexes it */
		const struct group_info *gi = BPF_CORE_READ(cred, group_info);
		int ngroups = BPF_CORE_READ(gi, ngroups);

		hits.gi = gi;
		add_group_hit(&hits, egid);
		if (ngroups > DG_MAX_GROUPS_SCANNED)
			ngroups = DG_MAX_GROUPS_SCANNED;
		if (ngroups > 0)
			bpf_loop(ngroups, supplementary_group_cb, &hits, 0);
		if (hits.overflow)
			return VERDICT_DENY;
	}
	g_idx = hdr->gid_default_bm;
	g_w0 = hdr->gid_default_w0;
	g_nz = hdr->gid_default_nz;

	/* cgroup path: units, containers, subtrees (cg, from the caller) */
	match = e_w0 & u_w0 & cg->w0 & (g_w0 | hits.w0);
	if (match)
		rule = lowest_bit(match);
	else if (hdr->nwords > 1) {
		/* words 1..: only where every dimension has some bit */
		__u64 cand = e_nz & u_nz & cg->nz & (g_nz | hits.nz) & ~1ULL;

		if (cand) {
			struct bitmap_indexes ix = { .e = e_idx, .u = u_idx, .c = cg->idx,
						     .g = g_idx };
			rule = match_beyond_word0(slot, cand, &ix, &hits);
		}
	}
	if (rule > DG_RULE_DEFAULT)
		return VERDICT_DENY;

	struct decision d = {
		.generation = hdr->generation,
		.slot = slot,
		.ep = ep,
		.op = op,
		.rule = rule,
		.uid = euid,
		.gid = egid,
		.log_rate = hdr->log_rate,
		.default_action = hdr->default_action,
		.default_log = hdr->default_log,
	};
	/* a global function's result is any int to the verifier */
	return decide(&d, di) == VERDICT_ALLOW ? VERDICT_ALLOW : VERDICT_DENY;
}

/* judge(), with the cgroup dimension looked up first (see cgroup_bitmap()). */
static __always_inline int judge_with_cgroup(__u32 slot, __u32 ep, __u32 op,
					     const struct dest_info *di)
{
	struct dg_bm_ref cg;

	if (!cgroup_bitmap(slot, &cg))
		return VERDICT_DENY;
	return judge(slot, ep, op, di, &cg);
}

static __always_inline __u32 active_slot(struct dg_config **cfgp)
{
	__u32 zero = 0;
	struct dg_config *cfg = bpf_map_lookup_elem(&config_map, &zero);

	*cfgp = cfg;
	return cfg ? (cfg->active_slot & 1) : 0;
}

#endif
