/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the BPF programs and userspace: map keys and values,
 * shared by both sides so that no struct is ever defined twice. Fixed-width
 * types and explicit padding only; no logic.
 *
 * How a connect is judged
 * -----------------------
 * 1. Is the destination protected?  TCP: `ports[port]` (an array, so this is
 *    one inlined load) says whether any endpoint uses that port; if not, the
 *    program returns at once. Otherwise `tcp_dests[{addr, port}]`, or the
 *    port's `*` endpoint, names the endpoint. Unix: `unix_names[file name]`
 *    (the last component of sun_path) names the endpoint; see docs/unix-paths.md
 *    for why the file name and not the path.
 * 2. Which rules apply?  Every rule has an index r (file order, < 4096). A
 *    rule matches when all of its subjects hold; subjects fall into three
 *    dimensions: the effective uid, the groups (egid + supplementary), and the
 *    cgroup path (units and containers are cgroup paths). For each dimension,
 *    the compiler stores bitmaps over rule indexes:
 *      uid_ranges[uid]        bit r set if uid satisfies rule r's user
 *                             constraint (or rule r has none)
 *      gids[gid]              bit r set if gid is in rule r's group set
 *      cgroup_nodes[path]     bit r set if the path is in rule r's cgroup
 *                             subtrees (or rule r has none); a node's bitmap
 *                             already includes its ancestors' bits, so the
 *                             deepest node reached decides
 *    plus the endpoint's bitmap (rules that name the endpoint). The verdict
 *    is the lowest bit of their AND: the first rule that matches decides.
 *    No bit: the policy's default (deny, or audit = allow + log).
 *    Example: rules `0: allow api from user www-data unit nginx.service`,
 *    `1: deny api from remapped`. uid 33 in /system.slice/nginx.service:
 *    endpoint {0,1} & uid {0} & groups {0,1} & cgroup {0,1} = {0}: allow.
 * 3. Atomic swap: every policy lives in one of two slots. The per-slot maps
 *    are reached through ARRAY_OF_MAPS (index = slot) or indexed by slot; the
 *    program reads config.active_slot once and uses only that slot. The
 *    loader fills the inactive slot and flips active_slot. Before a slot is
 *    written again (at the next load), the loader waits for an RCU grace
 *    period (membarrier), so that no program still runs on its old contents.
 */
#ifndef DOCKGUARD_ABI_H
#define DOCKGUARD_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>

#endif

#define DG_SLOTS		2
#define DG_MAX_RULES		4096
#define DG_BITMAP_WORDS		(DG_MAX_RULES / 64)
#define DG_MAX_ENDPOINTS	256		/* endpoint ids 1..255, 0 = none */
#define DG_MAX_TCP_DESTS	8192
#define DG_MAX_UNIX_NAMES	1024
#define DG_CGROUP_MAX_DEPTH	16
/* Key size for a cgroup name. A name of 127 bytes or more fills the buffer and
 * is treated as matching nothing, so policy components are limited to 126. */
#define DG_CGROUP_NAME_LEN	128
#define DG_UNIX_NAME_LEN	108		/* sizeof(sun_path) */
#define DG_MAX_GROUPS_SCANNED	65536		/* NGROUPS_MAX */
/* Distinct group bitmaps one process can hit; more fails closed (deny). The
 * compiler interns bitmaps, so this counts distinct rule sets, not groups. */
#define DG_MAX_GROUP_HITS	4

/* dg_rule_action.action and dg_policy_hdr.default_action */
#define DG_ACT_ALLOW		1
#define DG_ACT_DENY		2
/* dg_event.verdict only: allowed only because of `audit` (an audit rule, or
 * `set default audit`): what enforcement would refuse */
#define DG_ACT_AUDIT		3

/* dg_rule_action.flags */
#define DG_RULE_LOG		(1 << 0)	/* every match is reported */
#define DG_RULE_QUIET		(1 << 1)	/* never reported, even on deny */
#define DG_RULE_AUDIT		(1 << 2)	/* an `audit` rule: its events say audit */

/* dg_policy_hdr.flags: which dimensions the policy constrains at all */
#define DG_POL_UIDS		(1 << 0)
#define DG_POL_GIDS		(1 << 1)
#define DG_POL_CGROUPS		(1 << 2)

/* dg_endpoint_info.flags */
#define DG_EP_HAS_LISTEN	(1 << 1)	/* bind is judged by listen rules */
#define DG_EP_RELAY		(1 << 2)	/* a relay's listen addresses: allowed
						 * TCP connects leave their caller's
						 * identity (see "Relay callers") */

/* ops, for counters and events */
#define DG_OP_CONNECT		0
#define DG_OP_BIND		1
#define DG_OP_HANDSHAKE		2	/* a TCP SYN no connect() hook judged */

/* Rule index meaning "no rule matched: the policy default decided". */
#define DG_RULE_DEFAULT		DG_MAX_RULES

#define DG_OBJECT_ID_LEN	16

/* `config` (ARRAY, 1 entry): global, written by the loader only. */
struct dg_config {
	__u32 active_slot;	/* 0 or 1 */
	__u32 stale_slot;	/* slot + 1 whose old entries the next load must
				 * clear after a grace period; 0 = none */
	__u64 host_netns_cookie; /* loopback endpoints are judged in this netns */
	/* 1 once the BPF LSM programs are attached and pinned: they judge unix
	 * connects and sends by the listener's own bound name, and the
	 * cgroup/connect_unix and sendmsg_unix hooks let every one through, so
	 * that no connect is judged (counted, reported) twice. Set after the
	 * LSM links exist, cleared before they go: one judge at every moment. */
	__u32 unix_by_lsm;
	__u32 pad;
	/* The attach cgroup's id. LSM programs run for every task on the host:
	 * they judge only tasks, or sockets created, below this cgroup, the
	 * scope the cgroup hooks have. */
	__u64 lsm_scope_cgroup;
	/* The build of the BPF object whose programs use these maps (the
	 * first bytes of the sha256 of its ELF image), written by the loader:
	 * a loader of another build sees the mismatch (or a config of another
	 * size) and moves the hooks to its own programs and maps without a
	 * moment unenforced (see "upgrade" in userspace/kernel/kernel.c). */
	__u8 object_id[DG_OBJECT_ID_LEN];
};

/* `ports` (ARRAY, 65536 entries, index = TCP port in host order).
 * Non-zero anywhere in either slot = the port has a protected endpoint. */
struct dg_port {
	__u8 any_ep[DG_SLOTS];	/* endpoint id of a `*:port` endpoint, per slot */
	__u8 exact[DG_SLOTS];	/* 1 if tcp_dests has entries for this port, per slot */
	__u8 bind_ep[DG_SLOTS];	/* endpoint whose listen rules judge a bind of
				 * 0.0.0.0:port or [::]:port, which would take
				 * over every address on that port */
	__u8 wide_ep[DG_SLOTS];	/* endpoint with addresses on this port: while a
				 * wildcard listener serves the port in the host's
				 * network namespace, every other local address
				 * of the host reaches that same listener and is
				 * judged as this endpoint (see "Listeners") */
};

/* `tcp_dests` (HASH): IPv4 as ::ffff:a.b.c.d; the compiler adds the aliases
 * (0.0.0.0, ::, IPv4-mapped forms) that reach the same listener. */
struct dg_tcp_key {
	__u8 addr[16];
	__u16 port;		/* host order */
	__u16 pad;
};

/* `tcp_dests` and `unix_names` values: endpoint id per slot, 0 = not in that
 * slot. host_only: a loopback address (or 0.0.0.0 / ::, delivered to
 * loopback), judged only in the host's network namespace: 127.0.0.1 in
 * another namespace is that namespace's own. Per address, not per endpoint:
 * an endpoint's bridge or `*` address is judged in every namespace. */
struct dg_dest {
	__u8 ep[DG_SLOTS];
	__u8 host_only[DG_SLOTS];
};

/*
 * `unix_names` (HASH): a 64-bit FNV-1a hash of the socket's file name, taken
 * over its bytes from the last to the first (the program finds the name by
 * walking back from the end of the path to the last '/'). A hash instead of
 * the 108-byte name halves the unix hook's cost. A collision can only make
 * another socket's connects judged as the endpoint's (a false deny), never
 * let a connect to the endpoint's own name go unjudged.
 */
struct dg_unix_key {
	__u64 hash;
};

/*
 * `unix_aliases` (HASH): the file names at which containers bind-mount an
 * endpoint's socket (`-v /var/run/docker.sock:/x/api.sock`), each judged as
 * the endpoint only for the tasks of that container's cgroup: elsewhere on
 * the host another socket of that name is no endpoint. A unix_names entry
 * whose `scoped[slot]` is set has aliases (and ep 0 when the name is no
 * endpoint's own); only then is this map looked up.
 * Example: container 1f2e (cgroup id 7031) mounts docker.sock at
 * /x/api.sock: unix_names[hash("api.sock")] = {ep 0, scoped 1},
 * unix_aliases[{hash("api.sock"), 7031}] = {ep docker-sock}.
 * cgroup_id 0: a container whose cgroup does not exist yet (about to
 * start): its names hold for every task until it runs and is scoped.
 */
#define DG_MAX_UNIX_ALIASES	8192
#define DG_MAX_ALIASES_PER_CONTAINER	16

struct dg_alias_key {
	__u64 hash;		/* as dg_unix_key */
	__u64 cgroup_id;	/* the container's cgroup */
};

/* `unix_names` and `unix_aliases` values: endpoint id per slot, 0 = none. */
struct dg_unix_dest {
	__u8 ep[DG_SLOTS];
	__u8 scoped[DG_SLOTS];	/* unix_names: look in unix_aliases too */
};

#define DG_NAME_HASH_BASIS	0xcbf29ce484222325ULL
#define DG_NAME_HASH_PRIME	0x100000001b3ULL

/* The one computation both sides must do alike: the hash of a file name. */
static inline __u64 dg_name_hash_step(__u64 h, unsigned char c)
{
	return (h ^ c) * DG_NAME_HASH_PRIME;
}

/*
 * `unix_tails` (ARRAY, one entry: struct dg_unix_tails): a pre-filter for
 * the unix hooks, which run for every unix connect on the host (journald,
 * D-Bus, nscd...). One bit per value of dg_unix_tail_bit() over the last
 * DG_UNIX_TAIL_LEN bytes of every file name that `unix_names` holds for a
 * slot: a path whose last bytes hit a bit that is clear in both slots names
 * no endpoint and leaves without reading the configuration or hashing its
 * file name (both slots, so that it needs no slot: a bit of the slot not in
 * force only sends a path on to the full check). 8 bytes tell "docker.sock"
 * from "containerd.sock" and from "socket" ("sock" alone would not). A name
 * shorter than that (whose path's last bytes include a '/' and the
 * directory's) sets every bit of its slot: no pre-filter then.
 *
 * Small on purpose: every further page a hook touches costs a page walk
 * where page tables are isolated (PTI without PCID flushes the TLB at every
 * syscall; ~40 ns in a VM). One 4 KiB value, kmalloc'd in the kernel's
 * direct map (huge pages), with a word of both slots in one cache line;
 * the 65,536 bits in 2,048 entries it replaced cost a page per lookup.
 */
#define DG_UNIX_TAIL_LEN	8
#define DG_UNIX_TAIL_ORDER	14
#define DG_UNIX_TAIL_BITS	(1u << DG_UNIX_TAIL_ORDER)
#define DG_UNIX_TAIL_WORDS	(DG_UNIX_TAIL_BITS / 64)

struct dg_unix_tails {
	__u64 word[DG_UNIX_TAIL_WORDS][DG_SLOTS];
};

/* The bit of a name's last 8 bytes, `tail` little-endian (the last byte in
 * the top 8 bits): a multiplicative hash, its top DG_UNIX_TAIL_ORDER bits. */
static inline __u32 dg_unix_tail_bit(__u64 tail)
{
	return (__u32)((tail * 0x9e3779b97f4a7c15ULL) >> (64 - DG_UNIX_TAIL_ORDER));
}

/* `endpoints` (ARRAY, DG_SLOTS * DG_MAX_ENDPOINTS, index slot * 256 + id). */
struct dg_endpoint_info {
	__u32 connect_bm;	/* bitmap index: rules that name this endpoint */
	__u32 listen_bm;	/* bitmap index: listen rules that name it */
	__u32 flags;		/* DG_EP_* */
	__u32 pad;
	__u64 connect_w0;	/* word 0 of those bitmaps (see dg_bm_ref) */
	__u64 listen_w0;
	__u64 connect_nz;	/* their non-zero words (see dg_bm_ref) */
	__u64 listen_nz;
};

/* `policy` (ARRAY, DG_SLOTS entries, index = slot). */
struct dg_policy_hdr {
	__u64 generation;	/* increases with every load */
	__u32 nwords;		/* bitmap words in use: ceil(rules / 64) */
	__u32 flags;		/* DG_POL_* */
	__u32 uid_default_bm;	/* rules without a user constraint */
	__u32 gid_default_bm;	/* rules without a group constraint */
	__u32 cgroup_root_bm;	/* cgroup trie node 0 (`/`) */
	__u8 default_action;	/* DG_ACT_* */
	__u8 default_log;	/* report default decisions */
	__u8 pad[2];
	__u32 log_rate;		/* events per second per subject (uid, cgroup) */
	__u32 pad2;
	__u64 uid_default_w0;	/* word 0 of the three bitmaps above (see dg_bm_ref) */
	__u64 gid_default_w0;
	__u64 cgroup_root_w0;
	__u64 uid_default_nz;	/* their non-zero words (see dg_bm_ref) */
	__u64 gid_default_nz;
	__u64 cgroup_root_nz;
};

/* `rules` (ARRAY, DG_SLOTS * DG_MAX_RULES, index slot * DG_MAX_RULES + r): what rule r does. */
struct dg_rule_action {
	__u8 action;		/* DG_ACT_* */
	__u8 flags;		/* DG_RULE_* */
	__u8 pad[2];
};

/* Inner map of `bitmaps` (ARRAY, sized per policy). */
struct dg_bitmap {
	__u64 w[DG_BITMAP_WORDS];
};

/*
 * A bitmap as the lookup tables name it: its index in `bitmaps`, and a copy
 * of its first word (rules 0..63). Policies of up to 64 rules, and any
 * connect decided by one of the first 64 rules, are judged from these copies
 * alone: each lookup in an inner map of `bitmaps` is an indirect call.
 * Beyond them, `nz` (bit w set when word w is not zero) lets the program
 * AND the dimensions' summaries and visit only the words where a rule can
 * match, instead of all 64. Every *_bm index in these structs has its *_w0
 * and *_nz alongside; the loader computes them from the image, so they
 * cannot disagree.
 */
struct dg_bm_ref {
	__u32 idx;
	__u32 pad;
	__u64 w0;
	__u64 nz;
};

/* Inner map of `uid_ranges` (LPM_TRIE): disjoint prefixes, value = dg_bm_ref. */
struct dg_uid_key {
	__u32 prefixlen;
	__u32 uid;		/* network (big-endian) order, as LPM compares bytes */
};

/* Inner map of `gids` (HASH): gid -> dg_bm_ref. */

/* Inner map of `cgroup_nodes` (HASH): a trie of the cgroup paths the policy
 * names, keyed by (parent node, component name). Node 0 is `/`. */
struct dg_cgroup_key {
	__u32 parent;
	char name[DG_CGROUP_NAME_LEN];
};

struct dg_cgroup_node {
	__u32 id;
	__u32 bm;		/* includes every ancestor node's bits */
	__u64 w0;		/* word 0 of bm (see dg_bm_ref) */
	__u64 nz;		/* bm's non-zero words */
};

/* `cgroup_cache` (LRU_HASH): cgroup_nodes' answer for a cgroup, memoized per
 * policy generation. A cgroup's id is never reused and its path is fixed for
 * a generation (a rename, possible only inside a delegated subtree, takes
 * effect at the next load), so an entry is never stale; the generation in
 * the key retires a whole policy's entries at once. */
#define DG_CGROUP_CACHE_SIZE	16384

struct dg_cgroup_cache_key {
	__u64 cgroup_id;
	__u64 generation;
};

/* `stats` (PERCPU_ARRAY, DG_SLOTS * (DG_MAX_RULES + 1), index
 * slot * (DG_MAX_RULES + 1) + rule, rule DG_RULE_DEFAULT = the default). */
struct dg_rule_stats {
	__u64 allowed;
	__u64 denied;
};

/*
 * Counters across generations (userspace-only maps: no program touches them;
 * they live in the object so that they are pinned with the rest). A rule
 * keeps its identity from policy to policy by what it says (dg_rule_identity
 * in userspace/policy/identity.c), not by its index or line.
 *
 * `rule_ids` (ARRAY, DG_SLOTS * (DG_MAX_RULES + 1), indexed like `stats`):
 * the identity of each rule of each slot's policy.
 * `rule_totals` (LRU_HASH, identity -> dg_rule_stats): the counts of the
 * generations that are over, added in once the programs that might still
 * count into a retired slot have returned. A rule's count for `status` is its
 * total plus what its current slot (and a retired slot not yet added in)
 * counted. Least recently updated identities go first when it is full.
 */
#define DG_RULE_TOTALS		65536

/*
 * Events
 * ------
 * Every deny (but `quiet` ones), every `log`/`audit` allow and every default
 * decision is reported through the `events` ring buffer, subject to a
 * per-subject budget of log_rate events per second (subject = effective uid
 * + cgroup). A decision over budget, or one the ring buffer has no room for,
 * is added to its subject's `suppressed` count, which the subject's next
 * event carries and resets: events + their suppressed = decisions, exactly
 * (but for subjects evicted from the LRU `ratelimit` map, whose pending
 * count is still in `counters.suppressed`).
 */
/* 1 MiB: ~4800 events between two reads of the daemon, which reads as they
 * come; userspace maps the data twice, so this is 2 MiB of its resident size. */
#define DG_EVENTS_BYTES		(1 << 20)
#define DG_MAX_SUBJECTS_TRACKED	16384

/* dg_event.family */
#define DG_FAMILY_INET		4	/* addr is ::ffff:a.b.c.d */
#define DG_FAMILY_INET6		6
#define DG_FAMILY_UNIX		1	/* path is sun_path as the caller gave it */

struct dg_event {
	__u64 time_ns;		/* CLOCK_BOOTTIME */
	__u64 cgroup_id;	/* the task's cgroup v2 id (its directory inode) */
	__u64 generation;	/* of the policy that decided */
	__u32 pid;		/* thread group id */
	__u32 uid;		/* effective, as the host sees it */
	__u32 gid;		/* effective */
	__u32 rule;		/* DG_RULE_DEFAULT: the default */
	__u32 suppressed;	/* this subject's decisions not reported since its last event */
	__u16 port;		/* host order */
	__u8 op;		/* DG_OP_* */
	__u8 verdict;		/* DG_ACT_* */
	__u8 ep;		/* endpoint id */
	__u8 family;		/* DG_FAMILY_* */
	__u8 slot;
	__u8 pad;
	__u8 addr[16];
	char comm[16];
	union {
		char path[DG_UNIX_NAME_LEN];	/* DG_FAMILY_UNIX */
		struct {			/* DG_OP_HANDSHAKE: who sent the SYN */
			__u8 addr[16];		/* as `addr` */
			__u16 port;		/* host order */
		} peer;
	};
};

/* dg_event.uid and .gid of a DG_OP_HANDSHAKE event: no process is known (the
 * SYN was handed to the listener without a connect() of its own). */
#define DG_NO_ID		0xffffffffu

/*
 * Handshakes
 * ----------
 * A process with CAP_NET_RAW can write a TCP SYN to a protected endpoint
 * itself and never call connect(). So the listener's side admits only the
 * handshakes that the connect side judged: the sock_ops program records
 * every connect() that reaches a protected endpoint (it runs after
 * connect4/connect6 allowed it, when the kernel sends the SYN), and the
 * cgroup_skb ingress program drops a SYN to a protected endpoint unless it
 * is that socket's own SYN:
 *   - its 4-tuple is recorded, and not for longer than DG_HANDSHAKE_TTL_NS;
 *   - its sequence number is the socket's initial one (a retransmission
 *     carries the same);
 *   - when the client's socket is in the listener's network namespace, the
 *     socket holding that tuple is the judged one (socket cookie), is still
 *     in SYN_SENT and still waits for that sequence number to be acked.
 * A record lives as long as its socket is in SYN_SENT: a state callback,
 * armed for recorded sockets only, removes it when the handshake completes,
 * is refused or is given up. So a tuple sniffed from a refused connect
 * cannot be replayed once the listener is back. The TTL bounds a record
 * that no callback removed (and the lifetime of a connect retried past it:
 * SYN retransmissions go out at 1, 3, 7, 15 and 31 s).
 */
#define DG_MAX_HANDSHAKES	65536
#define DG_HANDSHAKE_TTL_NS	(32ULL * 1000000000ULL)

/* `handshakes` (LRU_HASH) key: the 4-tuple of a judged connect. */
struct dg_conn_key {
	__u8 saddr[16];		/* the client; IPv4 as ::ffff:a.b.c.d */
	__u8 daddr[16];		/* the protected endpoint */
	__u16 sport;		/* host order */
	__u16 dport;		/* host order */
};

/* `handshakes` value: the socket that was judged. */
struct dg_handshake {
	__u64 sent_ns;		/* boot time when its SYN was first sent */
	__u64 sock_cookie;	/* the connecting socket */
	__u64 netns_cookie;	/* its network namespace */
	__u32 isn;		/* its initial sequence number */
	__u32 pad;
};

/*
 * Relay callers
 * -------------
 * A relay serving TCP learns who connected from the hooks, not from the
 * network: an address and port say nothing about the process. The connect
 * hook that allows a connect to a relay endpoint (DG_EP_RELAY) writes the
 * identity it judged (effective uid and gid, supplementary groups, cgroup,
 * process) into the socket's `caller_marks`; the sock_ops program copies it
 * into `relay_callers` under the connect's 4-tuple when the SYN is about to
 * go out, next to the handshake record; the relay looks the tuple of each
 * connection it accepts up there and deletes it. The handshake rules above
 * keep anyone else from completing a handshake with a recorded tuple. Two
 * live records for one tuple (possible only from two network namespaces)
 * are marked DG_CALLER_CONFLICT, and the relay refuses such a connection
 * rather than guess; a record older than DG_CALLER_TTL_NS is not trusted.
 */
#define DG_MAX_RELAY_CALLERS	65536
#define DG_CALLER_TTL_NS	(32ULL * 1000000000ULL)
#define DG_CALLER_MAX_GROUPS	64
#define DG_CALLER_CONFLICT	(1 << 0)	/* another socket recorded this tuple */
#define DG_CALLER_MANY_GROUPS	(1 << 1)	/* more groups than the record holds */

/* `caller_marks` (SK_STORAGE) and `relay_callers` (LRU_HASH, key
 * struct dg_conn_key) value. */
struct dg_tcp_caller {
	__u64 cgroup_id;	/* cgroup v2 id of the connecting task */
	__u64 sent_ns;		/* boot time of the SYN (sock_ops) */
	__u64 sock_cookie;	/* the connecting socket (sock_ops) */
	__u64 netns_cookie;	/* its network namespace (sock_ops) */
	__u32 uid, gid;		/* effective, as the host sees them */
	__u32 tgid;		/* for messages: the process at connect */
	__u32 flags;		/* DG_CALLER_* */
	__u32 n_groups;
	__u32 pad;
	__u32 groups[DG_CALLER_MAX_GROUPS];
	char comm[16];
};

/*
 * Listeners
 * ---------
 * An endpoint protects the listener it names. `tcp 127.0.0.1:2375` served by
 * a socket bound to 0.0.0.0:2375 is reached as well through every other
 * local address of the host (eth0's, docker0's gateway from a container):
 * those destinations are judged as the endpoint while such a listener exists.
 * Example: endpoint api = tcp 127.0.0.1:2375, dockerd listening on
 * 0.0.0.0:2375, a connect to 172.17.0.1:2375 from a container: not in
 * tcp_dests; ports[2375].wide_ep = api; host_local has 172.17.0.1/128;
 * wild_listeners[2375].v4 = 1: judged as api. With dockerd on 127.0.0.1:2375
 * only, wild_listeners[2375] is 0 and the connect is not judged.
 *
 * What a wildcard listener is, the kernel says: the sock_ops program counts
 * every socket that starts listening on 0.0.0.0, [::] or ::ffff:0.0.0.0 in
 * the host's network namespace (BPF_SOCK_OPS_TCP_LISTEN_CB) and uncounts it
 * when it stops (BPF_SOCK_OPS_STATE_CB, armed for those sockets only);
 * listeners that existed before the hooks, or outside the attach cgroup,
 * are found by the loader and the daemon through sock_diag (`wild_seen`).
 * Which addresses are local, the kernel's `local` routing table says
 * (`host_local`, kept by the loader and the daemon).
 */
#define DG_WILD_V4		(1 << 0)	/* takes every IPv4 address */
#define DG_WILD_V6		(1 << 1)	/* takes every IPv6 address */

/* `wild_listeners` (ARRAY, 65536, index = port): wildcard listeners that the
 * sock_ops program saw start, by the families they take. Written by BPF only. */
struct dg_listen_count {
	__u32 v4;
	__u32 v6;
};

/* `listener_marks` (SK_STORAGE): what a counted listener added to
 * `wild_listeners`, so that its end takes back exactly that. */
struct dg_listen_mark {
	__u16 port;		/* host order */
	__u8 families;		/* DG_WILD_*; 0 = not counted */
	__u8 pad;
};

/* `wild_seen` (ARRAY, 65536, index = port, value __u32 DG_WILD_*): families
 * taken by wildcard listeners that sock_diag shows and `wild_listeners` does
 * not count. Written by userspace only. */

/* `host_local` (LPM_TRIE): the destinations the host's network namespace
 * delivers to itself (its `local` routing table, IPv4 as ::ffff:a.b.c.d/96+n),
 * plus 0.0.0.0 and ::. */
#define DG_MAX_LOCAL_ADDRS	4096

struct dg_local_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct dg_local {
	__u8 host_only;		/* loopback or unspecified: another namespace's own */
	__u8 pad[3];
};

struct dg_subject_key {
	__u64 cgroup_id;
	__u32 uid;
	__u32 pad;
};

/* `ratelimit` (LRU_HASH): a fixed one-second window per subject. */
struct dg_subject_budget {
	__u64 window_ns;
	__u64 count;		/* decisions in this window */
	__u64 suppressed;	/* not reported yet */
};

/* `counters` (PERCPU_ARRAY, 1 entry) */
struct dg_counters {
	__u64 events;		/* reported */
	__u64 suppressed;	/* over budget (each also in a subject's count) */
	__u64 dropped;		/* ring buffer full (likewise) */
	__u64 handshakes;	/* SYNs to protected endpoints dropped: no connect() judged them */
};

/* `meta` (ARRAY, DG_SLOTS * DG_META_CHUNKS entries of DG_META_CHUNK bytes):
 * userspace-only description of each slot's policy (file, sha256, rule
 * locations, endpoint names), so that `status` and events can name things
 * after the loading process is gone. Chunk 0 starts with a __u32 length. */
#define DG_META_CHUNK		4096
#define DG_META_CHUNKS		64

#endif
