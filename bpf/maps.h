// SPDX-License-Identifier: GPL-2.0-only
/*
 * What every dockguard BPF program shares: the kernel's types (vmlinux.h),
 * the ABI with userspace (dockguard_abi.h) and the maps. The maps are
 * defined once, in maps.bpf.c; every other object declares them `extern`
 * and libbpf's static linker (`bpftool gen object`) joins them into the one
 * object the skeleton embeds.
 *
 * Everything a verdict depends on lives on the stack: these programs run with
 * migration disabled but may be preempted, so per-CPU scratch space could be
 * clobbered by another connect on the same CPU.
 */
#ifndef DOCKGUARD_BPF_MAPS_H
#define DOCKGUARD_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "dockguard_abi.h"

#ifdef DG_DEFINE_MAPS
#define DG_MAP
#else
#define DG_MAP extern
#endif

#define SOCK_STREAM_TYPE 1
#define AF_UNIX_FAMILY 1

/* Verdicts as sock_addr programs return them: 0 = EPERM to the caller. */
#define VERDICT_DENY  0
#define VERDICT_ALLOW 1

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_config);
} config_map SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct dg_port);
} ports SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_TCP_DESTS);
	__type(key, struct dg_tcp_key);
	__type(value, struct dg_dest);
} tcp_dests SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_UNIX_NAMES);
	__type(key, struct dg_unix_key);
	__type(value, struct dg_unix_dest);
} unix_names SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DG_MAX_UNIX_ALIASES);
	__type(key, struct dg_alias_key);
	__type(value, struct dg_unix_dest);
} unix_aliases SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* not mmapable: that would be vmalloc'd pages */
	__type(key, __u32);
	__type(value, struct dg_unix_tails);
} unix_tails SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct dg_endpoint_info);
} endpoints SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__type(value, struct dg_policy_hdr);
} policy SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * DG_MAX_RULES);
	__type(key, __u32);
	__type(value, struct dg_rule_action);
} rules SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DG_SLOTS * (DG_MAX_RULES + 1));
	__type(key, __u32);
	__type(value, struct dg_rule_stats);
} stats SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DG_SLOTS * (DG_MAX_RULES + 1));
	__type(key, __u32);
	__type(value, __u64);
} rule_ids SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_RULE_TOTALS);
	__type(key, __u64);
	__type(value, struct dg_rule_stats);
} rule_totals SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DG_EVENTS_BYTES);
} events SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_MAX_SUBJECTS_TRACKED);
	__type(key, struct dg_subject_key);
	__type(value, struct dg_subject_budget);
} ratelimit SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dg_counters);
} counters SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_CGROUP_CACHE_SIZE);
	__type(key, struct dg_cgroup_cache_key);
	__type(value, struct dg_bm_ref);
} cgroup_cache SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_MAX_HANDSHAKES);
	__type(key, struct dg_conn_key);
	__type(value, struct dg_handshake);
} handshakes SEC(".maps");

/* Relay callers: see "Relay callers" in dockguard_abi.h. */
DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dg_tcp_caller);
} caller_marks SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DG_MAX_RELAY_CALLERS);
	__type(key, struct dg_conn_key);
	__type(value, struct dg_tcp_caller);
} relay_callers SEC(".maps");

/* Listeners wider than their endpoint: see "Listeners" in dockguard_abi.h. */
DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct dg_listen_count);
} wild_listeners SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} wild_seen SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct dg_listen_mark);
} listener_marks SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, DG_MAX_LOCAL_ADDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct dg_local_key);
	__type(value, struct dg_local);
} host_local SEC(".maps");

DG_MAP struct {
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

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct bitmap_inner);
} bitmaps SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct uid_inner);
} uid_ranges SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct gid_inner);
} gids SEC(".maps");

DG_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, DG_SLOTS);
	__type(key, __u32);
	__array(values, struct cgroup_inner);
} cgroup_nodes SEC(".maps");

#endif
