/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel side, hidden behind a handful of calls: probe what the kernel
 * supports, load (attach if needed, then swap a compiled policy in
 * atomically), read the pinned state back, unload. Nothing outside this file
 * and kernel_maps.c talks to libbpf.
 */
#ifndef DOCKGUARD_KERNEL_H
#define DOCKGUARD_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/compile.h"

/* Error text for the user: what failed and what to do. */
struct dg_err {
	char msg[1024];
};

__attribute__((format(printf, 2, 3))) void dg_err_set(struct dg_err *err, const char *fmt, ...);

struct dg_features {
	bool connect_unix;		/* cgroup/connect_unix can be attached */
	int unix_attach_type;		/* its value, from kernel BTF */
	bool sendmsg_unix;		/* cgroup/sendmsg_unix can be attached */
	int unix_sendmsg_attach_type;	/* its value, from kernel BTF */
	bool kern_ctx_kfunc;		/* bpf_cast_to_kern_ctx, to read sun_path */
	bool lsm;			/* BPF LSM active: unix endpoints judged on the socket */
	char libbpf[32];
};

void dg_kernel_probe(struct dg_features *f);

/* The hooks dockguard attaches, in the order it attaches them. */
enum dg_hook {
	DG_HOOK_CONNECT4,
	DG_HOOK_CONNECT6,
	DG_HOOK_CONNECT_UNIX,
	DG_HOOK_BIND4,
	DG_HOOK_BIND6,
	DG_HOOK_SENDMSG_UNIX,		/* unix datagrams sent with an address */
	DG_HOOK_SOCK_OPS,		/* records the connects the hooks above judged */
	DG_HOOK_INGRESS,		/* drops SYNs to protected endpoints no connect judged */
	DG_HOOK_LSM_UNIX_CONNECT,	/* BPF LSM: unix stream connects, by the listener's name */
	DG_HOOK_LSM_UNIX_SEND,		/* BPF LSM: unix datagrams, by the receiver's name */
	DG_HOOK_COUNT,
};

const char *dg_hook_name(enum dg_hook hook);

/* Which hook judges connects to unix endpoints. */
enum dg_unix_by {
	DG_UNIX_BY_NONE,		/* neither: file permissions are the only control */
	DG_UNIX_BY_PATH,		/* cgroup/connect_unix: the path the caller gave */
	DG_UNIX_BY_LSM,			/* BPF LSM: the name the listener bound */
};

/* From the hooks attached and config.unix_by_lsm. */
enum dg_unix_by dg_unix_by(const bool hooks[DG_HOOK_COUNT], bool lsm_flag);
const char *dg_unix_by_key(enum dg_unix_by by);		/* "lsm", "connect_unix", "none" */
const char *dg_unix_by_text(enum dg_unix_by by);	/* for the user */

struct dg_load_opts {
	const char *bpffs;		/* pin directory */
	const char *cgroup;		/* attach point */
	const char *meta_json;		/* stored with the policy, read back by status */
	bool sync_listeners;		/* read the host's listeners and local addresses
					 * (always on the first load, which creates the maps) */
};

/* What a listener sync found (see "Listeners" in bpf/dockguard_abi.h). */
struct dg_listen_sync {
	size_t local_addrs;		/* local routes in host_local */
	size_t wild_listeners;		/* ports with a listener on every address */
	uint64_t wild_fingerprint;	/* of those ports and families: changes with them */
};

/* Reads this network namespace's local routing table and TCP listeners into
 * the pinned maps: for the daemon, when addresses change and now and then
 * (listeners that started before the hooks end unseen by them). */
int dg_kernel_sync_listeners(const char *bpffs, struct dg_listen_sync *out, struct dg_err *err);

struct dg_load_result {
	bool attached_now;		/* the hooks were not attached before */
	bool hooks[DG_HOOK_COUNT];	/* attached after this load */
	uint64_t generation;
	uint32_t slot;
	double swap_ms;			/* fill + flip + grace */
	bool unix_by_lsm;		/* config.unix_by_lsm after this load */
	char lsm_warning[512];		/* why the BPF LSM programs are not in use, or "" */
	struct dg_listen_sync listen;
	char listen_warning[512];	/* why listeners or local addresses are unknown, or "" */
	/* The pins were another build's (other programs, maybe other maps):
	 * every link now runs this build's programs, moved one by one with
	 * no moment unenforced; `shared_maps` state maps were kept as they
	 * were (records, counts and events carry over). */
	bool replaced_build;
	unsigned shared_maps;
};

/* Returns 0, or a negative errno with `err` set. Nothing changes in the
 * kernel when the image cannot be put in place. */
int dg_kernel_load(const struct dg_load_opts *opts, const struct dg_image *img,
		   struct dg_load_result *res, struct dg_err *err);

/* Does now what the next load would otherwise do first: wait for programs
 * still on the previous policy, then clear its entries. For idle moments, so
 * that the next swap takes effect sooner. */
int dg_kernel_settle(const char *bpffs, struct dg_err *err);

/* Detaches every hook and removes the pins. 0 also when nothing was loaded. */
int dg_kernel_unload(const char *bpffs, struct dg_err *err);

struct dg_hook_state {
	bool attached;
	uint32_t link_id;
	uint32_t prog_id;
	uint64_t cgroup_id;
};

/* The pinned ring buffer of events (struct dg_event). */
struct dg_event_reader;
typedef void (*dg_event_fn)(void *ctx, const struct dg_event *ev);

struct dg_event_reader *dg_events_open(const char *bpffs, dg_event_fn fn, void *ctx,
				       struct dg_err *err);
int dg_events_fd(const struct dg_event_reader *r);	/* readable when events wait */
int dg_events_consume(struct dg_event_reader *r);	/* calls fn per event; count or -errno */
void dg_events_close(struct dg_event_reader *r);

struct dg_kernel_state {
	bool loaded;			/* pins present and at least one hook attached */
	struct dg_hook_state hooks[DG_HOOK_COUNT];
	uint32_t active_slot;
	bool unix_by_lsm;		/* config.unix_by_lsm */
	struct dg_policy_hdr hdr;	/* of the active slot */
	char *meta_json;		/* as stored by load; malloc'd */
	struct dg_rule_stats *stats;	/* active slot, summed over CPUs, DG_MAX_RULES + 1 */
	struct dg_rule_stats *totals;	/* the same rules' counts over every generation
					 * since the pins were made (rule identities) */
	struct dg_counters counters;	/* summed over CPUs */
};

int dg_kernel_read_state(const char *bpffs, struct dg_kernel_state *st, struct dg_err *err);

/* The generation and description of the policy in `slot` (for events of
 * either slot). -ENOENT when there is none. */
int dg_kernel_read_meta(const char *bpffs, uint32_t slot, uint64_t *generation, char **json);
void dg_kernel_state_free(struct dg_kernel_state *st);

/*
 * Relay callers (see "Relay callers" in bpf/dockguard_abi.h): the pinned
 * map the hooks fill, opened for a relay process (fd, or -errno with
 * `err`); and the record of one accepted connection, taken out of it (0, or
 * -ENOENT when the hooks recorded nothing for that tuple).
 */
int dg_kernel_open_relay_callers(const char *bpffs, struct dg_err *err);
int dg_kernel_take_relay_caller(int map_fd, const struct dg_conn_key *key,
				struct dg_tcp_caller *out);

#endif
