// SPDX-License-Identifier: GPL-2.0-only
/*
 * dockguard: judge connect() and bind() to the protected Docker API endpoints.
 *
 * Entry points only find the endpoint; judge() applies the policy. The data
 * layout and the algorithm are described in dockguard_abi.h. Everything a
 * verdict depends on lives on the stack: these programs run with migration
 * disabled but may be preempted, so per-CPU scratch space could be clobbered
 * by another connect on the same CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dockguard_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define SOCK_STREAM_TYPE 1
#define AF_UNIX_FAMILY 1

/* Verdicts as sock_addr programs return them: 0 = EPERM to the caller. */
#define VERDICT_DENY  0
#define VERDICT_ALLOW 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_config);
} config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct dg_port);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_TCP_DESTS);
	__type(key, struct dg_tcp_key);
	__type(value, struct dg_dest);
} tcp_dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_UNIX_NAMES);
	__type(key, struct dg_unix_key);
	__type(value, struct dg_unix_dest);
} unix_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_UNIX_ALIASES);
	__type(key, struct dg_alias_key);
	__type(value, struct dg_unix_dest);
} unix_aliases SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct dg_endpoint_info);
} endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__type(value, struct dg_policy_hdr);
} policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct dg_rule_action);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DG_SLOTS * (DG_MAX_RULES + 1));
	__type(key, __u32);
	__type(value, struct dg_rule_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DG_EVENTS_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_MAX_SUBJECTS_TRACKED);
	__type(key, struct dg_subject_key);
	__type(value, struct dg_subject_budget);
} ratelimit SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_CGROUP_CACHE_SIZE);
	__type(key, struct dg_cgroup_cache_key);
	__type(value, struct dg_bm_ref);
} cgroup_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_MAX_HANDSHAKES);
	__type(key, struct dg_conn_key);
	__type(value, struct dg_handshake);
} handshakes SEC(".maps");

/* Listeners wider than their endpoint: see "Listeners" in dockguard_abi.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct dg_listen_count);
} wild_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} wild_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dg_listen_mark);
} listener_marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, DG_MAX_LOCAL_ADDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct dg_local_key);
	__type(value, struct dg_local);
} host_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_META_CHUNKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, DG_META_CHUNK);
} meta SEC(".maps");

/* Per-slot maps, sized to each policy by the loader. The inner definitions
 * are templates; the slots are filled by userspace. Sizes rather than types:
 * clang emits these structs only as forward declarations here, which libbpf
 * cannot size. */
struct bitmap_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct dg_bitmap));
};

struct uid_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct dg_uid_key));
	__uint(value_size, sizeof(struct dg_bm_ref));
};

struct gid_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct dg_bm_ref));
};

struct cgroup_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct dg_cgroup_key));
	__uint(value_size, sizeof(struct dg_cgroup_node));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct bitmap_inner);
} bitmaps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct uid_inner);
} uid_ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct gid_inner);
} gids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct cgroup_inner);
} cgroup_nodes SEC(".maps");

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

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
 * Reports a decision, within the subject's budget. A failed report never
 * changes the verdict.
 */
static __always_inline void report(const struct decision *d, const struct dest_info *di,
				   bool allowed)
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
	e->verdict = allowed ? DG_ACT_ALLOW : DG_ACT_DENY;
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
 * of judge()'s 64 possible exits from the bitmap loop.
 */
__noinline int decide(const struct decision *d, const struct dest_info *di)
{
	bool allowed, log;

	if (!d || !di)
		return VERDICT_DENY;
	if (d->rule < DG_MAX_RULES) {
		__u32 k = (d->slot & 1) * DG_MAX_RULES + d->rule;
		struct dg_rule_action *r = bpf_map_lookup_elem(&rules, &k);
		if (!r)
			return VERDICT_DENY;
		allowed = r->action == DG_ACT_ALLOW;
		log = allowed ? (r->flags & DG_RULE_LOG) : !(r->flags & DG_RULE_QUIET);
	} else if (d->op == DG_OP_BIND) {
		/* no listen rule allows it: refused even in audit mode, or the
		 * learning phase would leave the port open to squatters */
		allowed = false;
		log = true;
	} else {
		allowed = d->default_action == DG_ACT_ALLOW;
		log = d->default_log;
	}
	count(d->slot & 1, d->rule, allowed);
	if (log)
		report(d, di, allowed);
	return allowed ? VERDICT_ALLOW : VERDICT_DENY;
}


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

static __always_inline bool is_v4_mapped(const __u8 *addr)
{
	/* 32-bit reads: a key on the stack may be only 4-byte aligned */
	return ((__u32 *)addr)[0] == 0 && ((__u32 *)addr)[1] == 0 &&
	       ((__u32 *)addr)[2] == bpf_htonl(0xffff);
}

/*
 * `ep` when a connect to `key` (an address no endpoint names, on a port that
 * endpoint `ep` uses) reaches the endpoint's listener: the address is local
 * to the host and a wildcard listener takes its family on that port. 0
 * otherwise. See "Listeners" in dockguard_abi.h.
 */
static __always_inline __u32 wide_endpoint(const struct dg_tcp_key *key, __u32 ep,
					   bool *host_only)
{
	struct dg_local_key lk = { .prefixlen = 128 };
	struct dg_listen_count *n;
	struct dg_local *local;
	__u32 port = key->port, *seen, fam;
	bool wide;

	__builtin_memcpy(lk.addr, key->addr, sizeof(lk.addr));
	local = bpf_map_lookup_elem(&host_local, &lk);
	if (!local)
		return 0;
	fam = is_v4_mapped(key->addr) ? DG_WILD_V4 : DG_WILD_V6;
	n = bpf_map_lookup_elem(&wild_listeners, &port);
	seen = bpf_map_lookup_elem(&wild_seen, &port);
	wide = (n && (fam == DG_WILD_V4 ? n->v4 : n->v6)) || (seen && (*seen & fam));
	if (!wide)
		return 0;
	*host_only = local->host_only;
	return ep;
}

/*
 * The endpoint a TCP destination names in `slot`, 0 for none: an endpoint
 * address, the port's `*` endpoint, or (connects) another local address that
 * reaches the endpoint's wildcard listener. *host_only: the address is a
 * loopback one, judged only in the host's network namespace (127.0.0.1 in
 * another namespace is that namespace's own).
 */
static __always_inline __u32 tcp_endpoint(const struct dg_tcp_key *key, const struct dg_port *pi,
					  __u32 op, __u32 slot, bool *host_only)
{
	__u32 ep = 0;

	*host_only = false;
	if (op == DG_OP_BIND && ((__u64 *)key->addr)[0] == 0 &&
	    (((__u32 *)key->addr)[2] == 0 || ((__u32 *)key->addr)[2] == bpf_htonl(0xffff)) &&
	    ((__u32 *)key->addr)[3] == 0) {
		/* 0.0.0.0, :: or ::ffff:0.0.0.0 takes every address of the port */
		ep = pi->bind_ep[slot];
	} else {
		if (pi->exact[slot]) {
			struct dg_dest *d = bpf_map_lookup_elem(&tcp_dests, key);
			if (d) {
				ep = d->ep[slot];
				*host_only = ep && d->host_only[slot];
			}
		}
		if (!ep)
			ep = pi->any_ep[slot];
		if (!ep && op == DG_OP_CONNECT && pi->wide_ep[slot])
			ep = wide_endpoint(key, pi->wide_ep[slot], host_only);
	}
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return 0;
	return ep;
}

/* `ports[port]` when any slot protects the port, else NULL. */
static __always_inline struct dg_port *protected_port(__u32 port)
{
	struct dg_port *pi = bpf_map_lookup_elem(&ports, &port);

	return pi && *(__u64 *)pi ? pi : NULL;
}

/*
 * A TCP destination (IPv4 as ::ffff:a.b.c.d). The port table answers for
 * every unprotected port with one array load.
 */
static __always_inline int check_tcp(struct bpf_sock_addr *ctx, struct dest_info *di, __u32 op)
{
	struct dg_port *pi = protected_port(di->tcp.port);
	struct dg_config *cfg;
	bool host_only = false;
	__u32 slot, ep;

	if (!pi)
		return VERDICT_ALLOW;
	slot = active_slot(&cfg);
	if (!cfg)
		return VERDICT_DENY;
	ep = tcp_endpoint(&di->tcp, pi, op, slot, &host_only);
	if (!ep)
		return VERDICT_ALLOW;
	if (host_only && bpf_get_netns_cookie(ctx) != cfg->host_netns_cookie)
		return VERDICT_ALLOW;
	return judge_with_cgroup(slot, ep, op, di);
}

static __always_inline int check_inet4(struct bpf_sock_addr *ctx, __u32 op)
{
	struct dest_info di = { .family = DG_FAMILY_INET };

	if (ctx->type != SOCK_STREAM_TYPE)
		return VERDICT_ALLOW;
	di.tcp.port = bpf_ntohs(ctx->user_port);
	((__u32 *)di.tcp.addr)[2] = bpf_htonl(0xffff);
	((__u32 *)di.tcp.addr)[3] = ctx->user_ip4;
	return check_tcp(ctx, &di, op);
}

static __always_inline int check_inet6(struct bpf_sock_addr *ctx, __u32 op)
{
	struct dest_info di = { .family = DG_FAMILY_INET6 };

	if (ctx->type != SOCK_STREAM_TYPE)
		return VERDICT_ALLOW;
	di.tcp.port = bpf_ntohs(ctx->user_port);
	((__u32 *)di.tcp.addr)[0] = ctx->user_ip6[0];
	((__u32 *)di.tcp.addr)[1] = ctx->user_ip6[1];
	((__u32 *)di.tcp.addr)[2] = ctx->user_ip6[2];
	((__u32 *)di.tcp.addr)[3] = ctx->user_ip6[3];
	return check_tcp(ctx, &di, op);
}

SEC("cgroup/connect4")
int dg_connect4(struct bpf_sock_addr *ctx)
{
	return check_inet4(ctx, DG_OP_CONNECT);
}

SEC("cgroup/connect6")
int dg_connect6(struct bpf_sock_addr *ctx)
{
	return check_inet6(ctx, DG_OP_CONNECT);
}

SEC("cgroup/bind4")
int dg_bind4(struct bpf_sock_addr *ctx)
{
	return check_inet4(ctx, DG_OP_BIND);
}

SEC("cgroup/bind6")
int dg_bind6(struct bpf_sock_addr *ctx)
{
	return check_inet6(ctx, DG_OP_BIND);
}

/* The path as the caller gave it, NUL-terminated; room for 108 bytes + NUL. */
struct path_buf {
	char buf[DG_UNIX_NAME_LEN + 4];
};

/*
 * `unix_names`' key for the file name of the path in pb->buf[0..end): the
 * bytes after the last '/', hashed walking back from the end (dg_unix_key).
 * False when the path ends in '/' (no file name).
 */
static __always_inline bool file_name_key(const struct path_buf *pb, __u32 end,
					  struct dg_unix_key *key)
{
	__u32 start = 0;

	key->hash = DG_NAME_HASH_BASIS;
	for (__u32 i = DG_UNIX_NAME_LEN; i > 0; i--) {
		char c;

		if (i > end)
			continue;
		c = pb->buf[i - 1];
		if (c == '/') {
			start = i;
			break;
		}
		key->hash = dg_name_hash_step(key->hash, (unsigned char)c);
	}
	return start < end;
}

/*
 * The endpoint id named by a unix connect's path, 0 for none. A subprogram of
 * its own so that its buffers are off the stack before judge() runs.
 */
static __noinline __u32 unix_endpoint(struct bpf_sock_addr *ctx, __u32 slot,
				      struct dest_info *di)
{
	struct bpf_sock_addr_kern *kctx;
	struct dg_unix_key key = {};
	struct path_buf pb;
	struct dg_unix_dest *d;
	__u32 ep;
	const char *sun_path;
	__u32 len, end;
	long copied;

	if (!bpf_cast_to_kern_ctx)
		return 0;
	kctx = bpf_cast_to_kern_ctx(ctx);
	len = kctx->uaddrlen;
	if (len <= 2)
		return 0;		/* unnamed */
	len -= 2;			/* sun_family */
	if (len > DG_UNIX_NAME_LEN)
		len = DG_UNIX_NAME_LEN;
	sun_path = (const char *)kctx->uaddr + 2;
	/* The caller's `len` bytes, up to the first NUL, as the kernel will
	 * read them (it NUL-terminates after this hook): one string copy. */
	copied = bpf_probe_read_kernel_str(pb.buf, len + 1, sun_path);
	if (copied <= 1)
		return 0;		/* empty, or abstract namespace: no file */
	end = (__u32)(copied - 1) & 0x7f;
	if (end > DG_UNIX_NAME_LEN)
		return 0;
	if (!file_name_key(&pb, end, &key))
		return 0;		/* ends in '/': not a socket file */

	d = bpf_map_lookup_elem(&unix_names, &key);
	if (!d)
		return 0;
	ep = slot ? d->ep[1] : d->ep[0];
	if (!ep && (slot ? d->scoped[1] : d->scoped[0])) {
		/* a container's bind-mount name: the endpoint only in that container */
		struct dg_alias_key ak = { .hash = key.hash,
					   .cgroup_id = bpf_get_current_cgroup_id() };
		struct dg_unix_dest *a = bpf_map_lookup_elem(&unix_aliases, &ak);

		if (!a) {
			/* a container that has no cgroup yet (see unix_aliases) */
			ak.cgroup_id = 0;
			a = bpf_map_lookup_elem(&unix_aliases, &ak);
		}
		if (a)
			ep = slot ? a->ep[1] : a->ep[0];
	}
	if (!ep)
		return 0;
	/* the path as given, up to its end, for the event */
	for (__u32 i = 0; i < DG_UNIX_NAME_LEN; i++)
		di->path[i] = i < end ? pb.buf[i] : 0;
	return ep;
}

/*
 * Unix stream and datagram connects, and datagrams sent with an address
 * (sendto/sendmsg without connect), judged by the socket's file name: the
 * hooks run before the path lookup and see only the string the caller gave.
 */
static __always_inline int check_unix(struct bpf_sock_addr *ctx)
{
	struct dest_info di = { .family = DG_FAMILY_UNIX };
	struct dg_config *cfg;
	__u32 slot, ep;

	slot = active_slot(&cfg);
	if (!cfg)
		return VERDICT_DENY;
	if (cfg->unix_by_lsm)
		return VERDICT_ALLOW;	/* the LSM hook judges this connect, later */
	ep = unix_endpoint(ctx, slot, &di);
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return VERDICT_ALLOW;
	return judge_with_cgroup(slot, ep, DG_OP_CONNECT, &di);
}

SEC("cgroup/connect_unix")
int dg_connect_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx);
}

SEC("cgroup/sendmsg_unix")
int dg_sendmsg_unix(struct bpf_sock_addr *ctx)
{
	return check_unix(ctx);
}

/* ---- BPF LSM: unix endpoints judged on the socket itself -----------------
 * The hooks above see only the path string the caller gave, so a symlink, a
 * hard link or a bind mount of the socket file under another name, or
 * /proc/self/fd/N, reaches the socket unjudged. Where the BPF LSM is active,
 * the loader attaches these programs instead: they run once the kernel has
 * found the listening socket, and judge by the name the listener bound,
 * whatever path the caller used. LSM programs run for every task on the
 * host; they judge only below the attach cgroup (config.lsm_scope_cgroup).
 */

#define EPERM_ERRNO		1
#define DG_SCOPE_MAX_DEPTH	32

/* Whether `cgrp` is the cgroup with id `scope` or below it. */
static __always_inline bool cgroup_under(struct cgroup *cgrp, __u64 scope)
{
	int level;

	if (!cgrp || !scope)
		return false;
	level = BPF_CORE_READ(cgrp, level);
	for (int l = 0; l < DG_SCOPE_MAX_DEPTH; l++) {
		struct cgroup *anc = NULL;

		if (l > level)
			break;
		if (bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[l]) || !anc)
			break;
		if (BPF_CORE_READ(anc, kn, id) == scope)
			return true;
	}
	return false;
}

/*
 * In the cgroup hooks' scope: the calling task is below the attach cgroup,
 * or the socket was created there (the cgroup hooks go by the socket's
 * cgroup, so a socket handed to a process outside stays judged).
 */
static __noinline bool in_scope(struct sock *sk, __u64 scope)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (cgroup_under(BPF_CORE_READ(task, cgroups, dfl_cgrp), scope))
		return true;
	if (sk && bpf_core_field_exists(sk->sk_cgrp_data.cgroup))
		return cgroup_under(BPF_CORE_READ(sk, sk_cgrp_data.cgroup), scope);
	return false;
}

/*
 * The endpoint named by the file name a listening (or receiving) unix socket
 * was bound to, 0 for none: unbound and abstract sockets have no file.
 */
static __noinline __u32 bound_unix_endpoint(struct sock *other, __u32 slot,
					    struct dest_info *di)
{
	struct dg_unix_key key = {};
	struct unix_address *addr;
	struct path_buf pb;
	struct dg_unix_dest *d;
	long copied;
	__u32 end;
	int len;

	if (!other || !di)
		return 0;
	addr = BPF_CORE_READ((struct unix_sock *)other, addr);
	if (!addr)
		return 0;		/* not bound */
	len = BPF_CORE_READ(addr, len) - 2;	/* sun_family */
	if (len <= 0)
		return 0;
	if (len > DG_UNIX_NAME_LEN)
		len = DG_UNIX_NAME_LEN;
	copied = bpf_probe_read_kernel_str(pb.buf, (__u32)len + 1, addr->name[0].sun_path);
	if (copied <= 1)
		return 0;		/* abstract namespace: no file */
	end = (__u32)(copied - 1) & 0x7f;
	if (end > DG_UNIX_NAME_LEN)
		return 0;
	if (!file_name_key(&pb, end, &key))
		return 0;
	d = bpf_map_lookup_elem(&unix_names, &key);
	if (!d)
		return 0;
	/* the listener's path, for the event */
	for (__u32 i = 0; i < DG_UNIX_NAME_LEN; i++)
		di->path[i] = i < end ? pb.buf[i] : 0;
	return slot ? d->ep[1] : d->ep[0];
}

/* 0 or -EPERM, as an LSM hook returns. */
static __always_inline int lsm_check_unix(struct sock *sk, struct sock *other)
{
	struct dest_info di = { .family = DG_FAMILY_UNIX };
	struct dg_config *cfg;
	__u64 scope;
	__u32 slot, ep;

	slot = active_slot(&cfg);
	if (!cfg || !cfg->unix_by_lsm)
		return 0;		/* not in charge: the cgroup hooks judge */
	scope = cfg->lsm_scope_cgroup;
	ep = bound_unix_endpoint(other, slot, &di);
	if (!ep || ep >= DG_MAX_ENDPOINTS)
		return 0;
	if (!in_scope(sk, scope))
		return 0;
	return judge_with_cgroup(slot, ep, DG_OP_CONNECT, &di) == VERDICT_ALLOW ? 0 : -EPERM_ERRNO;
}

SEC("lsm/unix_stream_connect")
int BPF_PROG(dg_lsm_unix_connect, struct socket *sock, struct sock *other, struct sock *newsk,
	     int ret)
{
	if (ret)
		return ret;		/* an earlier LSM refused already */
	return lsm_check_unix(BPF_CORE_READ(sock, sk), other);
}

/* Datagrams: connect() of a datagram socket, and every send. */
SEC("lsm/unix_may_send")
int BPF_PROG(dg_lsm_unix_may_send, struct socket *sock, struct socket *other, int ret)
{
	if (ret)
		return ret;
	return lsm_check_unix(BPF_CORE_READ(sock, sk), BPF_CORE_READ(other, sk));
}

/* ---- handshakes: only judged connects reach a protected listener ---------
 * See "Handshakes" in dockguard_abi.h.
 */

#define AF_INET_FAMILY		2
#define AF_INET6_FAMILY		10
#define IPPROTO_TCP_NUM		6
#define TCP_FLAG_SYN		0x02
#define TCP_FLAG_ACK		0x10
#define SK_PASS			1
#define SK_DROP			0

static __always_inline void set_mapped4(__u8 *addr, __u32 ip4)
{
	((__u32 *)addr)[0] = 0;
	((__u32 *)addr)[1] = 0;
	((__u32 *)addr)[2] = bpf_htonl(0xffff);
	((__u32 *)addr)[3] = ip4;
}

/* The 4-tuple of the connect a sock_ops callback is about. */
static __always_inline void sockops_conn_key(struct bpf_sock_ops *skops, struct dg_conn_key *key)
{
	bool v4 = skops->family == AF_INET_FAMILY ||
		  (skops->remote_ip6[0] == 0 && skops->remote_ip6[1] == 0 &&
		   skops->remote_ip6[2] == bpf_htonl(0xffff));

	if (v4) {
		/* also an IPv6 socket connecting to ::ffff:a.b.c.d: its IPv6
		 * source may not be set yet, its IPv4 one is */
		set_mapped4(key->saddr, skops->local_ip4);
		set_mapped4(key->daddr, skops->remote_ip4);
	} else {
		/* constant offsets: the verifier refuses a ctx pointer moved by a loop */
		((__u32 *)key->saddr)[0] = skops->local_ip6[0];
		((__u32 *)key->saddr)[1] = skops->local_ip6[1];
		((__u32 *)key->saddr)[2] = skops->local_ip6[2];
		((__u32 *)key->saddr)[3] = skops->local_ip6[3];
		((__u32 *)key->daddr)[0] = skops->remote_ip6[0];
		((__u32 *)key->daddr)[1] = skops->remote_ip6[1];
		((__u32 *)key->daddr)[2] = skops->remote_ip6[2];
		((__u32 *)key->daddr)[3] = skops->remote_ip6[3];
	}
	key->sport = (__u16)skops->local_port;
	key->dport = (__u16)bpf_ntohl(skops->remote_port);
}

/* Whether an IPv6 socket takes IPv6 only (IPV6_V6ONLY); false when unknown,
 * so that a [::] listener then counts for both families (judged more). */
static __always_inline bool sock_v6only(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct sock_common *skc;
	struct tcp_sock *tp;

	if (!sk)
		return false;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return false;
	skc = &tp->inet_conn.icsk_inet.sk.__sk_common;
	return BPF_CORE_READ_BITFIELD_PROBED(skc, skc_ipv6only);
}

/* The families whose every address a listening socket takes (DG_WILD_*):
 * bound to 0.0.0.0, [::] (both, unless IPV6_V6ONLY) or ::ffff:0.0.0.0. */
static __always_inline __u32 wildcard_families(struct bpf_sock_ops *skops)
{
	if (skops->family == AF_INET_FAMILY)
		return skops->local_ip4 == 0 ? DG_WILD_V4 : 0;
	if (skops->family != AF_INET6_FAMILY || skops->local_ip6[0] || skops->local_ip6[1] ||
	    skops->local_ip6[3])
		return 0;
	if (skops->local_ip6[2] == bpf_htonl(0xffff))
		return DG_WILD_V4;
	if (skops->local_ip6[2])
		return 0;
	return sock_v6only(skops) ? DG_WILD_V6 : DG_WILD_V4 | DG_WILD_V6;
}

/* Adds `sign` (1 or -1) times `families` to the port's wildcard listeners. */
static __always_inline void count_listener(__u32 port, __u32 families, int sign)
{
	struct dg_listen_count *n = bpf_map_lookup_elem(&wild_listeners, &port);

	if (!n)
		return;
	if (families & DG_WILD_V4)
		__sync_fetch_and_add(&n->v4, sign);
	if (families & DG_WILD_V6)
		__sync_fetch_and_add(&n->v6, sign);
}

/*
 * A socket starts listening (LISTEN_CB) or a counted listener changes state
 * (STATE_CB, armed for counted listeners only): keeps `wild_listeners`
 * exact for the wildcard listeners of the host's network namespace.
 */
static __always_inline void track_listener(struct bpf_sock_ops *skops, __u32 op)
{
	struct bpf_sock *sk = skops->sk;
	struct dg_listen_mark *mark;
	struct dg_config *cfg;
	__u32 families;

	if (!sk)
		return;
	if (op == BPF_SOCK_OPS_STATE_CB) {
		if (skops->args[0] != BPF_TCP_LISTEN)
			return;
		mark = bpf_sk_storage_get(&listener_marks, sk, 0, 0);
		if (!mark || !mark->families)
			return;
		count_listener(mark->port, mark->families, -1);
		mark->families = 0;
		return;
	}
	active_slot(&cfg);
	if (!cfg || bpf_get_netns_cookie(skops) != cfg->host_netns_cookie)
		return;
	families = wildcard_families(skops);
	if (!families)
		return;
	mark = bpf_sk_storage_get(&listener_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!mark || mark->families)
		return;
	mark->port = (__u16)skops->local_port;
	mark->families = (__u8)families;
	count_listener(mark->port, families, 1);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* The initial sequence number of a socket about to send its SYN
 * (TCP_CONNECT_CB runs before tcp_connect() takes it for the SYN). */
static __always_inline bool connect_isn(struct bpf_sock_ops *skops, __u32 *isn)
{
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock *tp;

	if (!sk)
		return false;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp)
		return false;
	*isn = BPF_CORE_READ(tp, write_seq);
	return true;
}

/*
 * Records a connect() the connect hooks let through to a protected
 * endpoint, when its SYN is about to be sent. Connects the connect hooks do
 * not judge (a loopback endpoint's port in another network namespace) are
 * not recorded, so that their tuples cannot be replayed by hand in the
 * host's namespace.
 */
static __always_inline void record_handshake(struct bpf_sock_ops *skops)
{
	struct dg_handshake rec = {};
	struct dg_conn_key key = {};
	struct dg_tcp_key dest = {};
	struct dg_config *cfg;
	struct dg_port *pi;
	bool host_only = false;
	__u32 slot;

	pi = protected_port(bpf_ntohl(skops->remote_port) & 0xffff);
	if (!pi)
		return;
	slot = active_slot(&cfg);
	if (!cfg)
		return;
	sockops_conn_key(skops, &key);
	__builtin_memcpy(dest.addr, key.daddr, sizeof(dest.addr));
	dest.port = key.dport;
	if (!tcp_endpoint(&dest, pi, DG_OP_CONNECT, slot, &host_only))
		return;
	rec.netns_cookie = bpf_get_netns_cookie(skops);
	if (host_only && rec.netns_cookie != cfg->host_netns_cookie)
		return;
	if (!connect_isn(skops, &rec.isn))
		return;		/* unrecorded: its SYN is dropped */
	rec.sock_cookie = bpf_get_socket_cookie(skops);
	rec.sent_ns = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&handshakes, &key, &rec, BPF_ANY);
	/* to hear when the socket leaves SYN_SENT */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* A recorded socket left SYN_SENT (established, refused, timed out or
 * closed): no SYN of it is due any more. */
static __always_inline void forget_handshake(struct bpf_sock_ops *skops)
{
	struct dg_conn_key key = {};
	struct dg_handshake *rec;

	if (!protected_port(bpf_ntohl(skops->remote_port) & 0xffff))
		return;
	sockops_conn_key(skops, &key);
	rec = bpf_map_lookup_elem(&handshakes, &key);
	if (rec && rec->sock_cookie == bpf_get_socket_cookie(skops))
		bpf_map_delete_elem(&handshakes, &key);
}

/*
 * The TCP events dockguard follows: connects to protected endpoints (see
 * "Handshakes" in dockguard_abi.h) and wildcard listeners ("Listeners").
 */
SEC("sockops")
int dg_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		record_handshake(skops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		forget_handshake(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[0] == BPF_TCP_SYN_SENT)
			forget_handshake(skops);
		else
			track_listener(skops, BPF_SOCK_OPS_STATE_CB);
		break;
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		track_listener(skops, BPF_SOCK_OPS_TCP_LISTEN_CB);
		break;
	}
	return 1;
}

/* A SYN's 4-tuple and sequence number, from its IPv4 or IPv6 and TCP
 * headers; false when the packet cannot be parsed (it is then dropped: it
 * goes to a protected listener). *syn: SYN set, ACK clear. */
static __always_inline bool packet_conn_key(struct __sk_buff *skb, struct dg_conn_key *key,
					    bool *syn, __u32 *seq, __u32 *family)
{
	__u8 tcp[14];
	__u32 off;

	if (skb->protocol == bpf_htons(0x0800)) {
		__u8 ip[20];

		if (bpf_skb_load_bytes(skb, 0, ip, sizeof(ip)))
			return false;
		if (ip[9] != IPPROTO_TCP_NUM)
			return false;
		off = (ip[0] & 0xf) * 4;
		set_mapped4(key->saddr, *(__u32 *)&ip[12]);
		set_mapped4(key->daddr, *(__u32 *)&ip[16]);
		*family = DG_FAMILY_INET;
	} else if (skb->protocol == bpf_htons(0x86dd)) {
		__u8 ip6[40];
		__u8 next;

		if (bpf_skb_load_bytes(skb, 0, ip6, sizeof(ip6)))
			return false;
		__builtin_memcpy(key->saddr, &ip6[8], 16);
		__builtin_memcpy(key->daddr, &ip6[24], 16);
		next = ip6[6];
		off = 40;
		/* extension headers before TCP: hop-by-hop, routing, dest opts */
		for (int i = 0; i < 4 && next != IPPROTO_TCP_NUM; i++) {
			__u8 ext[2];

			if (next != 0 && next != 43 && next != 60)
				return false;
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
				return false;
			next = ext[0];
			off += (ext[1] + 1) * 8;
		}
		if (next != IPPROTO_TCP_NUM)
			return false;
		*family = DG_FAMILY_INET6;
	} else {
		return false;
	}
	if (off > 1024 || bpf_skb_load_bytes(skb, off & 0x7ff, tcp, sizeof(tcp)))
		return false;
	key->sport = (__u16)((tcp[0] << 8) | tcp[1]);
	key->dport = (__u16)((tcp[2] << 8) | tcp[3]);
	*seq = ((__u32)tcp[4] << 24) | ((__u32)tcp[5] << 16) | ((__u32)tcp[6] << 8) | tcp[7];
	*syn = (tcp[13] & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
	return true;
}

/* The network namespace of a full TCP socket, as bpf_get_netns_cookie() sees it. */
static __always_inline __u64 sock_netns_cookie(struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	if (!tp)
		return 0;
	return BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_net.net, net_cookie);
}

/* Reports a dropped handshake; its subject is "no process". */
static __noinline void report_handshake(const struct dg_conn_key *key, __u32 family, __u32 slot,
					__u32 ep)
{
	struct dg_subject_key skey = { .cgroup_id = 0, .uid = DG_NO_ID };
	struct dg_subject_budget *b;
	struct dg_policy_hdr *hdr;
	struct dg_counters *cnt;
	struct dg_event *e;
	__u32 zero = 0, k = slot;
	__u64 now = bpf_ktime_get_boot_ns();

	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (cnt)
		cnt->handshakes++;
	hdr = bpf_map_lookup_elem(&policy, &k);
	if (!key || !hdr)
		return;
	b = take_budget(&skey, hdr->log_rate, now, cnt);
	if (!b)
		return;
	e = reserve_event(b, cnt);
	if (!e)
		return;
	e->time_ns = now;
	e->cgroup_id = 0;
	e->generation = hdr->generation;
	e->pid = 0;
	e->uid = DG_NO_ID;
	e->gid = DG_NO_ID;
	e->rule = DG_RULE_DEFAULT;
	e->port = key->dport;
	e->op = DG_OP_HANDSHAKE;
	e->verdict = DG_ACT_DENY;
	e->ep = (__u8)ep;
	e->family = (__u8)family;
	e->slot = (__u8)slot;
	e->pad = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	__builtin_memcpy(e->addr, key->daddr, sizeof(e->addr));
	__builtin_memset(e->path, 0, sizeof(e->path));
	__builtin_memcpy(e->peer.addr, key->saddr, sizeof(e->peer.addr));
	e->peer.port = key->sport;
	bpf_ringbuf_submit(e, 0);
	if (cnt)
		cnt->events++;
}

/* Whether the socket holding the SYN's 4-tuple in this network namespace
 * is the judged one (`cookie`), still sending its SYN with sequence `seq`. */
static __noinline bool client_sends_syn(struct __sk_buff *skb, const struct dg_conn_key *key,
					__u32 family, __u32 seq, __u64 cookie)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *client;
	struct tcp_sock *tp;
	bool ok = false;
	__u32 size;

	if (!skb || !key)
		return false;
	/* the tuple of a segment the client's socket would receive */
	if (family == DG_FAMILY_INET) {
		t.ipv4.saddr = ((const __u32 *)key->daddr)[3];
		t.ipv4.daddr = ((const __u32 *)key->saddr)[3];
		t.ipv4.sport = bpf_htons(key->dport);
		t.ipv4.dport = bpf_htons(key->sport);
		size = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, key->daddr, 16);
		__builtin_memcpy(t.ipv6.daddr, key->saddr, 16);
		t.ipv6.sport = bpf_htons(key->dport);
		t.ipv6.dport = bpf_htons(key->sport);
		size = sizeof(t.ipv6);
	}
	client = bpf_sk_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!client)
		return false;
	if (client->state == BPF_TCP_SYN_SENT) {
		tp = bpf_skc_to_tcp_sock(client);
		ok = tp && BPF_CORE_READ(tp, snd_una) == seq &&
		     (__u64)BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common.skc_cookie.counter) ==
			     cookie;
	}
	bpf_sk_release(client);
	return ok;
}

/* Whether a SYN is the own SYN of a connect() that was judged: see
 * "Handshakes" in dockguard_abi.h. */
static __always_inline bool judged_syn(struct __sk_buff *skb, struct bpf_sock *listener,
				       const struct dg_conn_key *key, __u32 family, __u32 seq)
{
	struct dg_handshake *rec = bpf_map_lookup_elem(&handshakes, key);

	if (!rec || bpf_ktime_get_boot_ns() - rec->sent_ns >= DG_HANDSHAKE_TTL_NS ||
	    seq != rec->isn)
		return false;
	/* a client in another network namespace (a container reaching a
	 * wildcard listener through its bridge) is out of the lookup's reach */
	if (rec->netns_cookie != sock_netns_cookie(listener))
		return true;
	return client_sends_syn(skb, key, family, seq, rec->sock_cookie);
}

/* Whether a SYN to protected port `pi` at listener `sk` was judged. */
static __noinline int check_handshake(struct __sk_buff *skb, struct bpf_sock *sk,
				      struct dg_port *pi)
{
	struct dg_conn_key key = {};
	struct dg_tcp_key dest = {};
	struct dg_config *cfg;
	bool syn = false, host_only = false;
	__u32 family = 0, seq = 0, slot, ep;

	if (!skb || !sk || !pi)
		return SK_PASS;
	slot = active_slot(&cfg);
	if (!cfg)
		return SK_DROP;
	if (!packet_conn_key(skb, &key, &syn, &seq, &family))
		return SK_DROP;
	if (!syn)
		return SK_PASS;	/* only a SYN opens a connection here */
	__builtin_memcpy(dest.addr, key.daddr, sizeof(dest.addr));
	dest.port = key.dport;
	ep = tcp_endpoint(&dest, pi, DG_OP_CONNECT, slot, &host_only);
	if (!ep)
		return SK_PASS;
	if (host_only && sock_netns_cookie(sk) != cfg->host_netns_cookie)
		return SK_PASS;
	if (judged_syn(skb, sk, &key, family, seq))
		return SK_PASS;
	report_handshake(&key, family, slot, ep);
	return SK_DROP;
}

/*
 * Every packet delivered to a socket below the attach point passes here; all
 * but those to a listening socket on a protected port leave at once.
 */
SEC("cgroup_skb/ingress")
int dg_ingress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct dg_port *pi;

	if (!sk)
		return SK_PASS;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP_NUM || sk->state != BPF_TCP_LISTEN)
		return SK_PASS;
	pi = protected_port(sk->src_port);
	if (!pi)
		return SK_PASS;
	return check_handshake(skb, sk, pi) == SK_PASS ? SK_PASS : SK_DROP;
}
