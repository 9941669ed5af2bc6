// SPDX-License-Identifier: GPL-2.0-only
/*
 * Load, attach, swap, read back, unload.
 *
 * Pins under the bpffs directory:
 *   prog_<hook>   the programs, so a missing link can be re-attached
 *   link_<hook>   the cgroup links: enforcement lives as long as these do
 *   map_<name>    every map of the object
 *
 * A load fills the slot that is not active, flips config.active_slot, then
 * waits for an RCU grace period (programs run inside rcu_read_lock) before it
 * clears the old slot: a connect is judged by one whole policy, never a mix.
 */
#include "kernel/kernel.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <nettle/sha2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dockguard.skel.h"
#include "kernel/listeners.h"
#include "policy/resolve.h"
#include "util/util.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

void dg_err_set(struct dg_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

static const char *const hook_names[DG_HOOK_COUNT] = {
	[DG_HOOK_CONNECT4] = "connect4",
	[DG_HOOK_CONNECT6] = "connect6",
	[DG_HOOK_CONNECT_UNIX] = "connect_unix",
	[DG_HOOK_BIND4] = "bind4",
	[DG_HOOK_BIND6] = "bind6",
	[DG_HOOK_SENDMSG_UNIX] = "sendmsg_unix",
	[DG_HOOK_SOCK_OPS] = "sock_ops",
	[DG_HOOK_INGRESS] = "ingress",
	[DG_HOOK_LSM_UNIX_CONNECT] = "lsm_unix_connect",
	[DG_HOOK_LSM_UNIX_SEND] = "lsm_unix_may_send",
};

const char *dg_hook_name(enum dg_hook hook)
{
	return hook < DG_HOOK_COUNT ? hook_names[hook] : "?";
}

static bool is_lsm_hook(int h)
{
	return h == DG_HOOK_LSM_UNIX_CONNECT || h == DG_HOOK_LSM_UNIX_SEND;
}

enum dg_unix_by dg_unix_by(const bool hooks[DG_HOOK_COUNT], bool lsm_flag)
{
	/* with the flag set, the cgroup hooks let unix connects through */
	if (lsm_flag)
		return hooks[DG_HOOK_LSM_UNIX_CONNECT] && hooks[DG_HOOK_LSM_UNIX_SEND]
			       ? DG_UNIX_BY_LSM : DG_UNIX_BY_NONE;
	if (hooks[DG_HOOK_CONNECT_UNIX])
		return DG_UNIX_BY_PATH;
	return DG_UNIX_BY_NONE;
}

const char *dg_unix_by_key(enum dg_unix_by by)
{
	return by == DG_UNIX_BY_LSM ? "lsm" : by == DG_UNIX_BY_PATH ? "connect_unix" : "none";
}

const char *dg_unix_by_text(enum dg_unix_by by)
{
	switch (by) {
	case DG_UNIX_BY_LSM:
		return "enforced on the socket (BPF LSM)";
	case DG_UNIX_BY_PATH:
		return "by path name (cgroup/connect_unix)";
	default:
		return "NOT ENFORCED (no connect_unix hook, no BPF LSM)";
	}
}

/* The maps, by the names they are pinned under. */
enum dg_map {
	M_CONFIG, M_PORTS, M_TCP_DESTS, M_UNIX_NAMES, M_ENDPOINTS, M_POLICY, M_RULES,
	M_STATS, M_META, M_BITMAPS, M_UID_RANGES, M_GIDS, M_CGROUP_NODES, M_EVENTS, M_RATELIMIT,
	M_COUNTERS, M_HANDSHAKES, M_CGROUP_CACHE, M_WILD_LISTENERS, M_WILD_SEEN, M_LISTENER_MARKS,
	M_HOST_LOCAL, M_UNIX_ALIASES, M_UNIX_TAILS, M_RULE_IDS, M_RULE_TOTALS, M_CALLER_MARKS, M_RELAY_CALLERS, M_COUNT,
};

static const char *const map_names[M_COUNT] = {
	[M_CONFIG] = "config_map", [M_PORTS] = "ports", [M_TCP_DESTS] = "tcp_dests",
	[M_UNIX_NAMES] = "unix_names", [M_ENDPOINTS] = "endpoints", [M_POLICY] = "policy",
	[M_RULES] = "rules", [M_STATS] = "stats", [M_META] = "meta", [M_BITMAPS] = "bitmaps",
	[M_UID_RANGES] = "uid_ranges", [M_GIDS] = "gids", [M_CGROUP_NODES] = "cgroup_nodes",
	[M_EVENTS] = "events", [M_RATELIMIT] = "ratelimit", [M_COUNTERS] = "counters",
	[M_HANDSHAKES] = "handshakes", [M_CGROUP_CACHE] = "cgroup_cache",
	[M_WILD_LISTENERS] = "wild_listeners", [M_WILD_SEEN] = "wild_seen",
	[M_LISTENER_MARKS] = "listener_marks", [M_HOST_LOCAL] = "host_local",
	[M_UNIX_ALIASES] = "unix_aliases", [M_UNIX_TAILS] = "unix_tails",
	[M_RULE_IDS] = "rule_ids", [M_RULE_TOTALS] = "rule_totals",
	[M_CALLER_MARKS] = "caller_marks", [M_RELAY_CALLERS] = "relay_callers",
};

struct maps {
	int fd[M_COUNT];
};

static void maps_close(struct maps *m)
{
	for (int i = 0; i < M_COUNT; i++)
		if (m->fd[i] >= 0)
			close(m->fd[i]);
}

static char *pin_path(const char *dir, const char *prefix, const char *name)
{
	return xasprintf("%s/%s_%s", dir, prefix, name);
}

/* The build of the embedded BPF object (see dg_config.object_id). */
static void our_object_id(uint8_t id[DG_OBJECT_ID_LEN])
{
	static uint8_t cached[SHA256_DIGEST_SIZE];
	static bool done;

	if (!done) {
		struct sha256_ctx ctx;
		size_t len;
		const void *elf = dockguard_bpf__elf_bytes(&len);
		sha256_init(&ctx);
		sha256_update(&ctx, len, elf);
		sha256_digest(&ctx, sizeof(cached), cached);
		done = true;
	}
	memcpy(id, cached, DG_OBJECT_ID_LEN);
}

/* ---- probing -------------------------------------------------------------- */

static int btf_enum_value(const struct btf *btf, const char *enum_name, const char *name)
{
	int id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
	if (id < 0)
		return -ENOENT;
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_enum *e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, e++)
		if (!strcmp(btf__name_by_offset(btf, e->name_off), name))
			return e->val;
	return -ENOENT;
}

void dg_kernel_probe(struct dg_features *f)
{
	/* Parsing the kernel's BTF takes ~8 ms; the answer does not change. */
	static struct dg_features cached;
	static bool probed;

	if (probed) {
		*f = cached;
		return;
	}
	struct btf *btf = btf__load_vmlinux_btf();

	memset(f, 0, sizeof(*f));
	snprintf(f->libbpf, sizeof(f->libbpf), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	f->unix_attach_type = -1;
	f->unix_sendmsg_attach_type = -1;
	if (btf) {
		int v = btf_enum_value(btf, "bpf_attach_type", "BPF_CGROUP_UNIX_CONNECT");
		int sv = btf_enum_value(btf, "bpf_attach_type", "BPF_CGROUP_UNIX_SENDMSG");
		f->kern_ctx_kfunc = btf__find_by_name_kind(btf, "bpf_cast_to_kern_ctx", BTF_KIND_FUNC) > 0;
		if (v >= 0) {
			f->unix_attach_type = v;
			f->connect_unix = f->kern_ctx_kfunc;
		}
		if (sv >= 0) {
			f->unix_sendmsg_attach_type = sv;
			f->sendmsg_unix = f->kern_ctx_kfunc;
		}
		btf__free(btf);
	}
	char lsm[512] = "";
	FILE *lf = fopen("/sys/kernel/security/lsm", "re");
	if (lf) {
		if (!fgets(lsm, sizeof(lsm), lf))
			lsm[0] = '\0';
		fclose(lf);
	}
	for (char *p = lsm, *save = NULL, *tok; (tok = strtok_r(p, ",\n", &save)); p = NULL)
		if (!strcmp(tok, "bpf"))
			f->lsm = true;
	cached = *f;
	probed = true;
}

/* libbpf 1.1 has no section names for the unix hooks (kernel 6.7): teach
 * it. Their attach types come from the kernel's BTF; on a kernel without
 * them the programs are never loaded, and any value will do. */
static int register_unix_sections(const struct dg_features *f)
{
	static bool done;
	LIBBPF_OPTS(libbpf_prog_handler_opts, opts);

	if (done)
		return 0;
	int id = libbpf_register_prog_handler("cgroup/connect_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
					      (enum bpf_attach_type)(f->unix_attach_type >= 0
								     ? f->unix_attach_type : 49),
					      &opts);
	if (id < 0)
		return id;
	id = libbpf_register_prog_handler("cgroup/sendmsg_unix", BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
					  (enum bpf_attach_type)(f->unix_sendmsg_attach_type >= 0
								 ? f->unix_sendmsg_attach_type : 50),
					  &opts);
	if (id < 0)
		return id;
	done = true;
	return 0;
}

/* ---- bpffs ---------------------------------------------------------------- */

static bool is_bpffs(const char *path)
{
	struct statfs st;
	return statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

/* Makes `dir` (on a bpffs) exist, mounting bpffs on its parent when that is
 * not one yet, as bpftool does. */
static int ensure_pin_dir(const char *dir, struct dg_err *err)
{
	char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');
	int ret = 0;

	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
	if (!is_bpffs(parent)) {
		if (mkdir(parent, 0700) < 0 && errno != EEXIST) {
			ret = -errno;
			dg_err_set(err, "cannot create %s: %s", parent, strerror(errno));
			goto out;
		}
		if (mount("bpf", parent, "bpf", 0, "mode=0700") < 0) {
			ret = -errno;
			dg_err_set(err,
				   "%s is not a BPF filesystem and mounting one there failed: %s; "
				   "mount it (mount -t bpf bpf %s) or choose another --bpffs",
				   parent, strerror(errno), parent);
			goto out;
		}
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		dg_err_set(err, "cannot create %s: %s; check --bpffs", dir, strerror(errno));
	}
out:
	free(parent);
	return ret;
}

/* ---- helpers -------------------------------------------------------------- */

static uint64_t netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
			cookie = 0;
		close(fd);
	}
	return cookie;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Waits until every BPF program that may have read the old active slot has
 * returned. MEMBARRIER_CMD_GLOBAL is a synchronize_rcu(). */
static void wait_grace_period(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	/* nohz_full kernels refuse it; a program runs for microseconds. */
	usleep(50 * 1000);
}

static int cgroup_id_of(const char *path, uint64_t *id)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	*id = st.st_ino;	/* the kernfs id of a cgroup v2 directory */
	return 0;
}

static int link_state(int link_fd, struct dg_hook_state *hs)
{
	struct bpf_link_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link_fd, &info, &len) < 0)
		return -errno;
	hs->attached = true;
	hs->link_id = info.id;
	hs->prog_id = info.prog_id;
	if (info.type == BPF_LINK_TYPE_CGROUP)
		hs->cgroup_id = info.cgroup.cgroup_id;
	return 0;
}

/* ---- policy into a slot --------------------------------------------------- */

static int create_inner(enum bpf_map_type type, const char *name, uint32_t key_size,
			uint32_t value_size, size_t entries, uint32_t flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	return bpf_map_create(type, name, key_size, value_size, entries ? (uint32_t)entries : 1, &o);
}

/* The copy of a bitmap's first word that goes with its index (dg_bm_ref). */
static uint64_t word0(const struct dg_image *img, uint32_t bm)
{
	return bm < img->n_bitmaps ? img->bitmaps[bm].w[0] : 0;
}

/* Bit w set when word w of the bitmap is not zero (dg_bm_ref.nz). */
static uint64_t nonzero_words(const struct dg_image *img, uint32_t bm)
{
	uint64_t nz = 0;

	if (bm >= img->n_bitmaps)
		return 0;
	for (unsigned w = 0; w < DG_BITMAP_WORDS; w++)
		if (img->bitmaps[bm].w[w])
			nz |= 1ULL << w;
	return nz;
}

static struct dg_bm_ref bm_ref(const struct dg_image *img, uint32_t bm)
{
	struct dg_bm_ref ref = { .idx = bm, .w0 = word0(img, bm), .nz = nonzero_words(img, bm) };
	return ref;
}

/* Adds [lo, hi] as aligned power-of-two blocks. */
static int add_uid_prefixes(int fd, uint32_t lo, uint32_t hi, struct dg_bm_ref bm, size_t *count)
{
	uint64_t cur = lo, end = (uint64_t)hi + 1;

	while (cur < end) {
		unsigned int bits = 0;	/* block = 2^bits */
		while (bits < 32 && (cur & ((1ULL << (bits + 1)) - 1)) == 0 &&
		       cur + (1ULL << (bits + 1)) <= end)
			bits++;
		struct dg_uid_key key = { .prefixlen = 32 - bits, .uid = htobe32((uint32_t)cur) };
		if (fd >= 0 && bpf_map_update_elem(fd, &key, &bm, BPF_ANY) < 0)
			return -errno;
		(*count)++;
		cur += 1ULL << bits;
	}
	return 0;
}

/* Deletes every key (hash and LPM maps; arrays are overwritten instead). */
static int clear_map(int fd, enum bpf_map_type type, uint32_t key_size)
{
	char key[sizeof(struct dg_cgroup_key)];

	if (type == BPF_MAP_TYPE_ARRAY || key_size > sizeof(key))
		return 0;
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key) < 0)
			return -errno;
	return 0;
}

/*
 * An empty inner map with room for `entries`, for the inactive `slot`: the
 * one the slot already has, emptied in place, or a new one with headroom.
 * Replacing an inner map costs a synchronize_rcu() in the kernel (the map
 * update waits for programs that may see the old one, ~10 ms each), so a
 * reload that fits, such as a container coming or going, reuses the maps.
 */
static int slot_inner(int outer_fd, uint32_t slot, enum bpf_map_type type, const char *name,
		      uint32_t key_size, uint32_t value_size, size_t entries, uint32_t flags,
		      bool *fresh)
{
	uint32_t id;

	if (bpf_map_lookup_elem(outer_fd, &slot, &id) == 0) {
		int fd = bpf_map_get_fd_by_id(id);
		if (fd >= 0) {
			struct bpf_map_info info;
			uint32_t len = sizeof(info);
			memset(&info, 0, sizeof(info));
			if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.max_entries >= entries &&
			    clear_map(fd, type, key_size) == 0) {
				*fresh = false;
				return fd;
			}
			close(fd);
		}
	}
	*fresh = true;
	return create_inner(type, name, key_size, value_size,
			    entries < 64 ? 64 : entries + entries / 2, flags);
}

/* Puts a filled inner map in place (a new one) and closes our descriptor. */
static int set_inner(int outer_fd, uint32_t slot, int inner_fd, bool fresh)
{
	int ret = 0;

	if (fresh && bpf_map_update_elem(outer_fd, &slot, &inner_fd, BPF_ANY) < 0)
		ret = -errno;
	close(inner_fd);
	return ret;
}

static int fill_per_slot_maps(const struct maps *m, uint32_t slot, const struct dg_image *img,
			      struct dg_err *err)
{
	int fd, ret;
	size_t n_prefixes = 0;
	bool fresh;

	/* bitmaps */
	fd = slot_inner(m->fd[M_BITMAPS], slot, BPF_MAP_TYPE_ARRAY, "dg_bitmaps", 4,
			sizeof(struct dg_bitmap), img->n_bitmaps, BPF_F_INNER_MAP, &fresh);
	if (fd < 0)
		goto create_failed;
	for (uint32_t i = 0; i < img->n_bitmaps; i++)
		if (bpf_map_update_elem(fd, &i, &img->bitmaps[i], BPF_ANY) < 0)
			goto fill_failed;
	if ((ret = set_inner(m->fd[M_BITMAPS], slot, fd, fresh)))
		goto set_failed;

	/* uid ranges */
	for (size_t i = 0; i < img->n_uids; i++)
		add_uid_prefixes(-1, img->uids[i].lo, img->uids[i].hi, bm_ref(img, 0), &n_prefixes);
	fd = slot_inner(m->fd[M_UID_RANGES], slot, BPF_MAP_TYPE_LPM_TRIE, "dg_uids",
			sizeof(struct dg_uid_key), sizeof(struct dg_bm_ref), n_prefixes,
			BPF_F_NO_PREALLOC, &fresh);
	if (fd < 0)
		goto create_failed;
	n_prefixes = 0;
	for (size_t i = 0; i < img->n_uids; i++)
		if (add_uid_prefixes(fd, img->uids[i].lo, img->uids[i].hi,
				     bm_ref(img, img->uids[i].bm), &n_prefixes))
			goto fill_failed;
	if ((ret = set_inner(m->fd[M_UID_RANGES], slot, fd, fresh)))
		goto set_failed;

	/* gids */
	fd = slot_inner(m->fd[M_GIDS], slot, BPF_MAP_TYPE_HASH, "dg_gids", 4,
			sizeof(struct dg_bm_ref), img->n_gids, 0, &fresh);
	if (fd < 0)
		goto create_failed;
	for (size_t i = 0; i < img->n_gids; i++) {
		struct dg_bm_ref ref = bm_ref(img, img->gids[i].bm);
		if (bpf_map_update_elem(fd, &img->gids[i].gid, &ref, BPF_ANY) < 0)
			goto fill_failed;
	}
	if ((ret = set_inner(m->fd[M_GIDS], slot, fd, fresh)))
		goto set_failed;

	/* cgroup trie */
	fd = slot_inner(m->fd[M_CGROUP_NODES], slot, BPF_MAP_TYPE_HASH, "dg_cgroups",
			sizeof(struct dg_cgroup_key), sizeof(struct dg_cgroup_node), img->n_cgroups, 0,
			&fresh);
	if (fd < 0)
		goto create_failed;
	for (size_t i = 0; i < img->n_cgroups; i++) {
		struct dg_cgroup_node node = img->cgroups[i].node;
		node.w0 = word0(img, node.bm);
		node.nz = nonzero_words(img, node.bm);
		if (bpf_map_update_elem(fd, &img->cgroups[i].key, &node, BPF_ANY) < 0)
			goto fill_failed;
	}
	if ((ret = set_inner(m->fd[M_CGROUP_NODES], slot, fd, fresh)))
		goto set_failed;
	return 0;

create_failed:
	ret = -errno;
	dg_err_set(err, "cannot create a policy map: %s; the policy may be too large for the "
		   "locked-memory limit or kernel memory", strerror(errno));
	return ret;
fill_failed:
	ret = -errno;
	close(fd);
	dg_err_set(err, "cannot fill a policy map: %s", strerror(errno));
	return ret;
set_failed:
	dg_err_set(err, "cannot install a policy map in slot %u: %s", slot, strerror(-ret));
	return ret;
}

static int update(int fd, const void *key, const void *value, const char *what, struct dg_err *err)
{
	if (bpf_map_update_elem(fd, key, value, BPF_ANY) < 0) {
		int ret = -errno;
		dg_err_set(err, "cannot write %s: %s", what, strerror(errno));
		return ret;
	}
	return 0;
}

static int fill_slot_arrays(const struct maps *m, uint32_t slot, const struct dg_image *img,
			    const struct dg_policy_hdr *hdr, const char *meta, struct dg_err *err)
{
	int ret;
	int ncpu = libbpf_num_possible_cpus();
	struct dg_rule_stats *zero_stats = xcalloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*zero_stats));

	if ((ret = update(m->fd[M_POLICY], &slot, hdr, "the policy header", err)))
		goto out;
	for (uint32_t id = 1; id < DG_MAX_ENDPOINTS; id++) {
		uint32_t k = slot * DG_MAX_ENDPOINTS + id;
		struct dg_endpoint_info info = { 0 };
		if (id <= img->n_endpoints) {
			info = img->endpoints[id].info;
			info.connect_w0 = word0(img, info.connect_bm);
			info.listen_w0 = word0(img, info.listen_bm);
			info.connect_nz = nonzero_words(img, info.connect_bm);
			info.listen_nz = nonzero_words(img, info.listen_bm);
		}
		if ((ret = update(m->fd[M_ENDPOINTS], &k, &info, "an endpoint", err)))
			goto out;
	}
	for (uint32_t r = 0; r < img->n_rules; r++) {
		uint32_t k = slot * DG_MAX_RULES + r;
		if ((ret = update(m->fd[M_RULES], &k, &img->rules[r], "a rule", err)))
			goto out;
	}
	for (uint32_t r = 0; r <= DG_MAX_RULES; r++) {
		if (r >= img->n_rules && r != DG_RULE_DEFAULT)
			continue;
		uint32_t k = slot * (DG_MAX_RULES + 1) + r;
		uint64_t id = r == DG_RULE_DEFAULT ? img->default_id : img->origins[r].id;
		if ((ret = update(m->fd[M_STATS], &k, zero_stats, "a rule counter", err)) ||
		    (ret = update(m->fd[M_RULE_IDS], &k, &id, "a rule identity", err)))
			goto out;
	}

	/* meta: a length, then the text, in fixed-size chunks */
	size_t len = meta ? strlen(meta) : 0;
	if (len + 4 > (size_t)DG_META_CHUNK * DG_META_CHUNKS) {
		ret = -E2BIG;
		dg_err_set(err, "the policy description is %zu bytes, more than the %d bytes kept",
			   len, DG_META_CHUNK * DG_META_CHUNKS);
		goto out;
	}
	char *buf = xcalloc(1, (size_t)DG_META_CHUNK * DG_META_CHUNKS);
	uint32_t len32 = (uint32_t)len;
	memcpy(buf, &len32, 4);
	if (len)
		memcpy(buf + 4, meta, len);
	for (uint32_t c = 0; c * DG_META_CHUNK < len + 4; c++) {
		uint32_t k = slot * DG_META_CHUNKS + c;
		if ((ret = update(m->fd[M_META], &k, buf + (size_t)c * DG_META_CHUNK, "the policy "
				  "description", err)))
			break;
	}
	free(buf);
out:
	free(zero_stats);
	return ret;
}

/* `unix_names`' key for a file name (dg_unix_key). */
static uint64_t unix_name_hash(const char *name)
{
	uint64_t h = DG_NAME_HASH_BASIS;

	for (size_t i = strlen(name); i > 0; i--)
		h = dg_name_hash_step(h, (unsigned char)name[i - 1]);
	return h;
}

/* Sets the slot's bit of `name`'s last DG_UNIX_TAIL_LEN bytes; a shorter
 * name sets them all. */
static void tail_bit_set(struct dg_unix_tails *t, uint32_t slot, const char *name)
{
	size_t n = strlen(name);
	uint64_t tail = 0;

	if (n < DG_UNIX_TAIL_LEN) {
		for (uint32_t i = 0; i < DG_UNIX_TAIL_WORDS; i++)
			t->word[i][slot] = ~0ULL;
		return;
	}
	/* the BPF side loads the same 8 bytes little-endian (x86, the target) */
	memcpy(&tail, name + n - DG_UNIX_TAIL_LEN, DG_UNIX_TAIL_LEN);
	uint32_t bit = dg_unix_tail_bit(tail);
	t->word[bit / 64][slot] |= 1ULL << (bit % 64);
}

/*
 * The slot's half of `unix_tails`: every name unix_names holds for it. The
 * one value holds both slots: the other slot's words are written back as
 * they were read (a hook reading meanwhile sees the same bytes there).
 */
static int fill_unix_tails(const struct maps *m, uint32_t slot, const struct dg_image *img,
			   struct dg_err *err)
{
	struct dg_unix_tails *t = xcalloc(1, sizeof(*t));
	uint32_t zero = 0;
	int ret = 0;

	if (bpf_map_lookup_elem(m->fd[M_UNIX_TAILS], &zero, t) < 0) {
		ret = -errno;
		dg_err_set(err, "cannot read the unix name pre-filter (map unix_tails): %s",
			   strerror(-ret));
		goto out;
	}
	for (uint32_t i = 0; i < DG_UNIX_TAIL_WORDS; i++)
		t->word[i][slot] = 0;
	for (size_t i = 0; i < img->n_unix; i++)
		tail_bit_set(t, slot, img->unix_names[i].key.name);
	for (size_t i = 0; i < img->n_aliases; i++)
		tail_bit_set(t, slot, img->aliases[i].name);
	if (bpf_map_update_elem(m->fd[M_UNIX_TAILS], &zero, t, BPF_ANY) < 0) {
		ret = -errno;
		dg_err_set(err, "cannot write the unix name pre-filter (map unix_tails): %s",
			   strerror(-ret));
	}
out:
	free(t);
	return ret;
}

/* Adds the slot's entries to the maps both slots share. */
static int fill_shared(const struct maps *m, uint32_t slot, const struct dg_image *img,
		       struct dg_err *err)
{
	int ret = fill_unix_tails(m, slot, img, err);

	if (ret)
		return ret;
	for (size_t i = 0; i < img->n_ports; i++) {
		uint32_t port = img->ports[i].port;
		struct dg_port pv;
		if (bpf_map_lookup_elem(m->fd[M_PORTS], &port, &pv) < 0)
			memset(&pv, 0, sizeof(pv));
		pv.any_ep[slot] = img->ports[i].any_ep;
		pv.exact[slot] = img->ports[i].exact;
		pv.bind_ep[slot] = img->ports[i].bind_ep;
		pv.wide_ep[slot] = img->ports[i].wide_ep;
		if ((ret = update(m->fd[M_PORTS], &port, &pv, "the port table", err)))
			return ret;
	}
	for (size_t i = 0; i < img->n_tcp; i++) {
		struct dg_dest d;
		if (bpf_map_lookup_elem(m->fd[M_TCP_DESTS], &img->tcp[i].key, &d) < 0)
			memset(&d, 0, sizeof(d));
		d.ep[slot] = img->tcp[i].ep;
		d.host_only[slot] = img->tcp[i].host_only;
		if ((ret = update(m->fd[M_TCP_DESTS], &img->tcp[i].key, &d, "a TCP destination", err)))
			return ret;
	}
	for (size_t i = 0; i < img->n_unix; i++) {
		struct dg_unix_dest d;
		struct dg_unix_key key = { .hash = unix_name_hash(img->unix_names[i].key.name) };
		if (bpf_map_lookup_elem(m->fd[M_UNIX_NAMES], &key, &d) < 0)
			memset(&d, 0, sizeof(d));
		d.ep[slot] = img->unix_names[i].ep;
		if ((ret = update(m->fd[M_UNIX_NAMES], &key, &d,
				  "a unix socket name", err)))
			return ret;
	}
	/* containers' bind-mount names: the alias first, then the flag that
	 * sends the program to it */
	char cgroot[4096];
	if (img->n_aliases && dg_cgroup2_root(cgroot, sizeof(cgroot)))
		return 0;	/* no cgroup v2: no container cgroup to scope them to */
	for (size_t i = 0; i < img->n_aliases; i++) {
		const struct dg_unix_alias *al = &img->aliases[i];
		char *path = xasprintf("%s%s", cgroot, al->cgroup);
		struct stat st;
		/* A container about to start (dockguard-runc asks before runc
		 * makes its cgroup) has no cgroup id yet: its names are judged
		 * for every task (cgroup id 0) until the daemon, seeing it run,
		 * compiles again and scopes them. */
		if (stat(path, &st))
			st.st_ino = 0;
		free(path);
		struct dg_alias_key ak = { .hash = unix_name_hash(al->name), .cgroup_id = st.st_ino };
		struct dg_unix_key key = { .hash = ak.hash };
		struct dg_unix_dest a, d;
		if (bpf_map_lookup_elem(m->fd[M_UNIX_ALIASES], &ak, &a) < 0)
			memset(&a, 0, sizeof(a));
		a.ep[slot] = al->ep;
		if ((ret = update(m->fd[M_UNIX_ALIASES], &ak, &a, "a container's socket name", err)))
			return ret;
		if (bpf_map_lookup_elem(m->fd[M_UNIX_NAMES], &key, &d) < 0)
			memset(&d, 0, sizeof(d));
		d.scoped[slot] = 1;
		if ((ret = update(m->fd[M_UNIX_NAMES], &key, &d, "a unix socket name", err)))
			return ret;
	}
	return 0;
}

/* The per-CPU counts of stats[key], summed; false when there are none. */
static bool rule_counts(const struct maps *m, uint32_t key, struct dg_rule_stats *per_cpu,
			int ncpu, struct dg_rule_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(m->fd[M_STATS], &key, per_cpu) < 0)
		return false;
	for (int c = 0; c < ncpu; c++) {
		sum->allowed += per_cpu[c].allowed;
		sum->denied += per_cpu[c].denied;
	}
	return sum->allowed || sum->denied;
}

static int num_cpus(void)
{
	int n = libbpf_num_possible_cpus();
	return n > 0 ? n : 1;
}

/*
 * Moves a retired slot's counts into `rule_totals`, by rule identity (after
 * its grace period: no program counts into it any more). Its counters are
 * zero afterwards, so that counts are never added in twice.
 */
static void fold_counts(const struct maps *m, uint32_t slot)
{
	struct dg_policy_hdr hdr;
	int ncpu = num_cpus();
	struct dg_rule_stats *per_cpu = xcalloc((size_t)ncpu, sizeof(*per_cpu));
	struct dg_rule_stats *zero = xcalloc((size_t)ncpu, sizeof(*zero));
	uint32_t n_rules = 0;

	if (bpf_map_lookup_elem(m->fd[M_POLICY], &slot, &hdr) == 0)
		n_rules = hdr.nwords * 64;
	for (uint32_t r = 0; r <= DG_MAX_RULES; r++) {
		struct dg_rule_stats sum, total;
		uint32_t k = slot * (DG_MAX_RULES + 1) + r;
		uint64_t id;

		if (r >= n_rules && r != DG_RULE_DEFAULT)
			continue;
		if (!rule_counts(m, k, per_cpu, ncpu, &sum) ||
		    bpf_map_lookup_elem(m->fd[M_RULE_IDS], &k, &id) < 0)
			continue;
		if (bpf_map_lookup_elem(m->fd[M_RULE_TOTALS], &id, &total) < 0)
			memset(&total, 0, sizeof(total));
		total.allowed += sum.allowed;
		total.denied += sum.denied;
		bpf_map_update_elem(m->fd[M_RULE_TOTALS], &id, &total, BPF_ANY);
		bpf_map_update_elem(m->fd[M_STATS], &k, zero, BPF_ANY);
	}
	free(per_cpu);
	free(zero);
}

/* Removes a slot's entries from the shared maps (after its grace period). */
static void clear_shared(const struct maps *m, uint32_t slot)
{
	uint32_t n = 65536;
	uint32_t *keys = xcalloc(n, sizeof(*keys));
	struct dg_port *vals = xcalloc(n, sizeof(*vals));
	uint32_t count = n, out_batch;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	/* the port table: one batched read, writes only where the slot had data */
	if (bpf_map_lookup_batch(m->fd[M_PORTS], NULL, &out_batch, keys, vals, &count, &bo) < 0 &&
	    errno != ENOENT)
		count = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct dg_port *p = &vals[i];
		if (!p->any_ep[slot] && !p->exact[slot] && !p->bind_ep[slot] && !p->wide_ep[slot])
			continue;
		p->any_ep[slot] = p->exact[slot] = p->bind_ep[slot] = p->wide_ep[slot] = 0;
		bpf_map_update_elem(m->fd[M_PORTS], &keys[i], p, BPF_ANY);
	}
	free(keys);
	free(vals);

	/* Their values are alike: an endpoint byte and a flag byte per slot
	 * (dg_dest's host_only, dg_unix_dest's scoped). */
	int hashes[] = { m->fd[M_TCP_DESTS], m->fd[M_UNIX_NAMES], m->fd[M_UNIX_ALIASES] };
	size_t key_sizes[] = { sizeof(struct dg_tcp_key), sizeof(struct dg_unix_key),
			       sizeof(struct dg_alias_key) };
	_Static_assert(sizeof(struct dg_dest) == sizeof(struct dg_unix_dest),
		       "dg_dest and dg_unix_dest share the slot clean-up");
	for (size_t h = 0; h < ARRAY_SIZE(hashes); h++) {
		union any_key {
			struct dg_tcp_key tcp;
			struct dg_unix_key unix_name;
			struct dg_alias_key alias;
		};
		char key[sizeof(union any_key)], next[sizeof(union any_key)];
		char (*stale)[sizeof(union any_key)] = NULL;
		size_t n_stale = 0;
		void *prev = NULL;

		while (bpf_map_get_next_key(hashes[h], prev, next) == 0) {
			struct dg_dest d;
			memcpy(key, next, key_sizes[h]);
			prev = key;
			if (bpf_map_lookup_elem(hashes[h], key, &d) < 0 ||
			    (!d.ep[slot] && !d.host_only[slot]))
				continue;
			d.ep[slot] = 0;
			d.host_only[slot] = 0;
			if (!d.ep[!slot] && !d.host_only[!slot]) {
				/* deleting while iterating restarts the walk: collect */
				stale = xreallocarray(stale, n_stale + 1, sizeof(*stale));
				memcpy(stale[n_stale++], key, key_sizes[h]);
			} else {
				bpf_map_update_elem(hashes[h], key, &d, BPF_ANY);
			}
		}
		for (size_t i = 0; i < n_stale; i++)
			bpf_map_delete_elem(hashes[h], stale[i]);
		free(stale);
	}
	/* The old slot's inner maps stay, to be refilled by the next load. */
}

/* Puts `img` into the inactive slot and makes it the active one. */
static int swap_in(const struct maps *m, const struct dg_image *img, const char *meta,
		   bool first, uint64_t prev_generation, struct dg_load_result *res,
		   struct dg_err *err)
{
	uint32_t zero = 0, slot;
	struct dg_config cfg = { 0 };
	struct dg_policy_hdr old_hdr = { 0 };
	int ret;

	if (bpf_map_lookup_elem(m->fd[M_CONFIG], &zero, &cfg) < 0)
		memset(&cfg, 0, sizeof(cfg));
	slot = first ? 0 : !(cfg.active_slot & 1);
	if (!first) {
		uint32_t active = cfg.active_slot & 1;
		if (bpf_map_lookup_elem(m->fd[M_POLICY], &active, &old_hdr) < 0)
			memset(&old_hdr, 0, sizeof(old_hdr));
	}

	struct dg_policy_hdr hdr = img->hdr;
	hdr.generation = (first ? prev_generation : old_hdr.generation) + 1;
	hdr.uid_default_w0 = word0(img, hdr.uid_default_bm);
	hdr.gid_default_w0 = word0(img, hdr.gid_default_bm);
	hdr.cgroup_root_w0 = word0(img, hdr.cgroup_root_bm);
	hdr.uid_default_nz = nonzero_words(img, hdr.uid_default_bm);
	hdr.gid_default_nz = nonzero_words(img, hdr.gid_default_bm);
	hdr.cgroup_root_nz = nonzero_words(img, hdr.cgroup_root_bm);

	double t0 = now_ms();
	/* The slot we fill was active until the last flip: once every program
	 * that may still run on it has returned, its old entries go. Deferred
	 * from that flip to here, so that a swap takes effect without waiting. */
	if (!first && cfg.stale_slot == slot + 1) {
		wait_grace_period();
		fold_counts(m, slot);
		clear_shared(m, slot);
	}
	if ((ret = fill_per_slot_maps(m, slot, img, err)) ||
	    (ret = fill_slot_arrays(m, slot, img, &hdr, meta, err)) ||
	    (ret = fill_shared(m, slot, img, err))) {
		/* The active slot was never touched: the old policy stays. */
		clear_shared(m, slot);
		return ret;
	}

	cfg.active_slot = slot;
	cfg.stale_slot = first ? 0 : !slot + 1;
	cfg.host_netns_cookie = netns_cookie();
	our_object_id(cfg.object_id);
	if ((ret = update(m->fd[M_CONFIG], &zero, &cfg, "the active policy slot", err))) {
		clear_shared(m, slot);
		return ret;
	}
	res->swap_ms = now_ms() - t0;
	res->slot = slot;
	res->generation = hdr.generation;
	return 0;
}

/* ---- load ----------------------------------------------------------------- */

static int open_pinned_maps(const char *dir, struct maps *m)
{
	for (int i = 0; i < M_COUNT; i++)
		m->fd[i] = -1;
	for (int i = 0; i < M_COUNT; i++) {
		char *path = pin_path(dir, "map", map_names[i]);
		m->fd[i] = bpf_obj_get(path);
		int e = errno;
		free(path);
		if (m->fd[i] < 0) {
			maps_close(m);
			return -e;
		}
	}
	return 0;
}

/* ---- listeners ------------------------------------------------------------ */

/* host_local := the local routing table: new entries first, then the stale
 * ones go, so that no destination is missing in between. */
static int sync_host_local(int fd, struct dg_listen_sync *out)
{
	struct dg_local_addr *addrs;
	struct dg_local_key key, next, *stale = NULL;
	size_t n, n_stale = 0;
	void *prev = NULL;
	int ret = dg_local_addrs_scan(&addrs, &n);

	if (ret)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct dg_local v = { .host_only = addrs[i].host_only };
		struct dg_local_key k = { .prefixlen = addrs[i].prefixlen };
		memcpy(k.addr, addrs[i].addr, 16);
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY) < 0) {
			ret = -errno;
			goto out;
		}
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		bool want = false;
		key = next;
		prev = &key;
		for (size_t i = 0; i < n && !want; i++)
			want = addrs[i].prefixlen == key.prefixlen && !memcmp(addrs[i].addr, key.addr, 16);
		if (!want) {
			stale = xreallocarray(stale, n_stale + 1, sizeof(*stale));
			stale[n_stale++] = key;
		}
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	out->local_addrs = n;
out:
	free(stale);
	free(addrs);
	return ret;
}

/* wild_seen[port] := the families of wildcard listeners that sock_diag shows
 * and wild_listeners does not count (they started before the hooks, or
 * outside the attach cgroup). */
static int sync_wild_seen(int seen_fd, int count_fd, struct dg_listen_sync *out)
{
	struct dg_listener *ls;
	size_t n;
	int ret = dg_listeners_scan(&ls, &n);

	if (ret)
		return ret;
	uint32_t *want = xcalloc(65536, sizeof(*want));
	uint32_t (*diag)[2] = xcalloc(65536, sizeof(*diag));	/* per port: v4, v6 */
	for (size_t i = 0; i < n; i++) {
		if (ls[i].families & DG_WILD_V4)
			diag[ls[i].port][0]++;
		if (ls[i].families & DG_WILD_V6)
			diag[ls[i].port][1]++;
	}
	for (uint32_t port = 0; port < 65536; port++) {
		struct dg_listen_count c = { 0 };
		if (!diag[port][0] && !diag[port][1])
			continue;
		bpf_map_lookup_elem(count_fd, &port, &c);
		want[port] = (diag[port][0] > c.v4 ? DG_WILD_V4 : 0) |
			     (diag[port][1] > c.v6 ? DG_WILD_V6 : 0);
		out->wild_listeners += diag[port][0] || diag[port][1];
		out->wild_fingerprint = (out->wild_fingerprint ^
					 (port << 2 | (diag[port][0] ? 1 : 0) | (diag[port][1] ? 2 : 0))) *
					DG_NAME_HASH_PRIME;
	}
	/* write only what changed: one batched read of the whole array */
	uint32_t *keys = xcalloc(65536, sizeof(*keys)), *vals = xcalloc(65536, sizeof(*vals));
	uint32_t count = 65536, out_batch;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	if (bpf_map_lookup_batch(seen_fd, NULL, &out_batch, keys, vals, &count, &bo) < 0 &&
	    errno != ENOENT)
		count = 0;
	for (uint32_t i = 0; i < count; i++)
		if (keys[i] < 65536 && vals[i] != want[keys[i]] &&
		    bpf_map_update_elem(seen_fd, &keys[i], &want[keys[i]], BPF_ANY) < 0)
			ret = -errno;
	free(keys);
	free(vals);
	free(want);
	free(diag);
	free(ls);
	return ret;
}

static int sync_listeners(const struct maps *m, struct dg_listen_sync *out, struct dg_err *err)
{
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = sync_host_local(m->fd[M_HOST_LOCAL], out))) {
		dg_err_set(err, "cannot read this host's local addresses (its local routing table, "
			   "netlink): %s; a listener wider than its endpoint is judged only on the "
			   "endpoint's own addresses", strerror(-ret));
		return ret;
	}
	if ((ret = sync_wild_seen(m->fd[M_WILD_SEEN], m->fd[M_WILD_LISTENERS], out))) {
		dg_err_set(err, "cannot list this host's TCP listeners (sock_diag): %s; listeners on "
			   "every address that started before the hooks are not known, so their other "
			   "addresses are not judged (modprobe inet_diag tcp_diag, then load again)",
			   strerror(-ret));
		return ret;
	}
	return 0;
}

int dg_kernel_sync_listeners(const char *bpffs, struct dg_listen_sync *out, struct dg_err *err)
{
	struct maps m;
	int ret = open_pinned_maps(bpffs, &m);

	if (ret) {
		dg_err_set(err, "cannot open the maps pinned in %s: %s", bpffs, strerror(-ret));
		return ret;
	}
	ret = sync_listeners(&m, out, err);
	maps_close(&m);
	return ret;
}

int dg_kernel_open_relay_callers(const char *bpffs, struct dg_err *err)
{
	char *path = pin_path(bpffs, "map", map_names[M_RELAY_CALLERS]);
	int fd = bpf_obj_get(path), e = errno;

	if (fd < 0)
		dg_err_set(err, "cannot open %s: %s; the relay cannot tell who its TCP callers are "
			   "until `dockguard load` has loaded this version's programs there",
			   path, strerror(e));
	free(path);
	return fd < 0 ? -e : fd;
}

int dg_kernel_take_relay_caller(int map_fd, const struct dg_conn_key *key, struct dg_tcp_caller *out)
{
	if (bpf_map_lookup_and_delete_elem(map_fd, key, out) == 0)
		return 0;
	/* older kernels: no lookup-and-delete on hash maps */
	if (bpf_map_lookup_elem(map_fd, key, out) < 0)
		return -errno;
	bpf_map_delete_elem(map_fd, key);
	return 0;
}

static struct bpf_program *hook_prog(struct dockguard_bpf *skel, enum dg_hook h)
{
	switch (h) {
	case DG_HOOK_CONNECT4:
		return skel->progs.dg_connect4;
	case DG_HOOK_CONNECT6:
		return skel->progs.dg_connect6;
	case DG_HOOK_CONNECT_UNIX:
		return skel->progs.dg_connect_unix;
	case DG_HOOK_BIND4:
		return skel->progs.dg_bind4;
	case DG_HOOK_BIND6:
		return skel->progs.dg_bind6;
	case DG_HOOK_SENDMSG_UNIX:
		return skel->progs.dg_sendmsg_unix;
	case DG_HOOK_SOCK_OPS:
		return skel->progs.dg_sockops;
	case DG_HOOK_INGRESS:
		return skel->progs.dg_ingress;
	case DG_HOOK_LSM_UNIX_CONNECT:
		return skel->progs.dg_lsm_unix_connect;
	case DG_HOOK_LSM_UNIX_SEND:
		return skel->progs.dg_lsm_unix_may_send;
	default:
		return NULL;
	}
}

static enum bpf_attach_type hook_attach_type(enum dg_hook h, const struct dg_features *f)
{
	switch (h) {
	case DG_HOOK_CONNECT4:
		return BPF_CGROUP_INET4_CONNECT;
	case DG_HOOK_CONNECT6:
		return BPF_CGROUP_INET6_CONNECT;
	case DG_HOOK_CONNECT_UNIX:
		return (enum bpf_attach_type)f->unix_attach_type;
	case DG_HOOK_BIND4:
		return BPF_CGROUP_INET4_BIND;
	case DG_HOOK_BIND6:
		return BPF_CGROUP_INET6_BIND;
	case DG_HOOK_SENDMSG_UNIX:
		return (enum bpf_attach_type)f->unix_sendmsg_attach_type;
	case DG_HOOK_SOCK_OPS:
		return BPF_CGROUP_SOCK_OPS;
	default:
		return BPF_CGROUP_INET_INGRESS;
	}
}

static char verifier_log[8192];
static size_t verifier_log_len;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (getenv("DOCKGUARD_DEBUG")) {
		vfprintf(stderr, fmt, ap);
		return 0;
	}
	if (level == LIBBPF_DEBUG)
		return 0;
	/* Keep the tail: the verifier's last lines say why it refused (libbpf
	 * hands the whole verifier log over as one message). */
	char *msg = xvasprintf(fmt, ap);
	size_t len = strlen(msg);
	const char *tail = msg;
	if (len >= sizeof(verifier_log) / 2) {
		tail = msg + len - sizeof(verifier_log) / 2 + 1;
		len = strlen(tail);
	}
	if (verifier_log_len + len >= sizeof(verifier_log)) {
		size_t keep = sizeof(verifier_log) / 2 - 1 < verifier_log_len
				      ? sizeof(verifier_log) / 2 - 1 : verifier_log_len;
		memmove(verifier_log, verifier_log + verifier_log_len - keep, keep);
		verifier_log_len = keep;
	}
	memcpy(verifier_log + verifier_log_len, tail, len);
	verifier_log_len += len;
	verifier_log[verifier_log_len] = '\0';
	free(msg);
	return 0;
}

/* Removes hook `h`'s link (its enforcement ends) and program pins. */
static void unpin_hook(const char *dir, int h)
{
	char *p = pin_path(dir, "link", hook_names[h]);

	unlink(p);
	free(p);
	p = pin_path(dir, "prog", hook_names[h]);
	unlink(p);
	free(p);
}

/* Removes every pin (links first: enforcement ends with them), not the dir. */
static void unpin_pins(const char *dir)
{
	for (int h = 0; h < DG_HOOK_COUNT; h++)
		unpin_hook(dir, h);
	for (int i = 0; i < M_COUNT; i++) {
		char *p = pin_path(dir, "map", map_names[i]);
		unlink(p);
		free(p);
	}
}

/*
 * Maps the programs themselves write, and that the programs of two builds
 * must share while the hooks move from one to the other: records a later
 * hook checks (handshakes, caller marks, relay callers, listener marks),
 * what was seen of listeners, counts, rate limits, the event ring. The
 * policy maps are never shared: the programs of a build judge by their own
 * until their link moves to the next build's, whose maps are complete by then.
 */
static const bool map_carries_state[M_COUNT] = {
	[M_RULE_TOTALS] = true, [M_EVENTS] = true, [M_RATELIMIT] = true, [M_COUNTERS] = true,
	[M_CGROUP_CACHE] = true, [M_HANDSHAKES] = true, [M_CALLER_MARKS] = true,
	[M_RELAY_CALLERS] = true, [M_WILD_LISTENERS] = true, [M_WILD_SEEN] = true,
	[M_LISTENER_MARKS] = true, [M_HOST_LOCAL] = true,
};

static int map_index(const char *name)
{
	for (int i = 0; i < M_COUNT; i++)
		if (!strcmp(name, map_names[i]))
			return i;
	return -1;
}

/* Whether the map behind `fd` is what `map` would be created as. */
static bool same_definition(int fd, const struct bpf_map *map)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return false;
	return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       info.max_entries == bpf_map__max_entries(map) &&
	       info.map_flags == bpf_map__map_flags(map);
}

/*
 * Opens and loads the embedded object. With `share`, the state maps (above)
 * whose pinned definition equals this build's are used as they are instead
 * of created anew; `res->shared_maps` counts them.
 */
static struct dockguard_bpf *load_object(const struct dg_features *f, const struct maps *share,
					 struct dg_load_result *res, struct dg_err *err, int *ret)
{
	struct dockguard_bpf *skel;
	bool lsm = f->lsm;

	libbpf_set_print(libbpf_print);
	if ((*ret = register_unix_sections(f))) {
		dg_err_set(err, "libbpf refused the cgroup/connect_unix or sendmsg_unix section: %s",
			   strerror(-*ret));
		return NULL;
	}
reopen:
	skel = dockguard_bpf__open();
	if (!skel) {
		*ret = -errno;
		dg_err_set(err, "cannot open the embedded BPF object: %s", strerror(errno));
		return NULL;
	}
	bpf_program__set_autoload(skel->progs.dg_connect_unix, f->connect_unix);
	bpf_program__set_autoload(skel->progs.dg_sendmsg_unix, f->sendmsg_unix);
	/* The LSM programs only where the BPF LSM is active (lsm=...,bpf):
	 * elsewhere the kernel refuses to load them. */
	bpf_program__set_autoload(skel->progs.dg_lsm_unix_connect, lsm);
	bpf_program__set_autoload(skel->progs.dg_lsm_unix_may_send, lsm);
	res->shared_maps = 0;
	if (share) {
		struct bpf_map *map;
		bpf_object__for_each_map(map, skel->obj) {
			int i = map_index(bpf_map__name(map));
			if (i < 0 || !map_carries_state[i] || share->fd[i] < 0 ||
			    !same_definition(share->fd[i], map))
				continue;
			if ((*ret = bpf_map__reuse_fd(map, share->fd[i]))) {
				dg_err_set(err, "cannot share the pinned map %s with the new "
					   "programs: %s", map_names[i], strerror(-*ret));
				dockguard_bpf__destroy(skel);
				return NULL;
			}
			res->shared_maps++;
		}
	}
	*ret = dockguard_bpf__load(skel);
	if (*ret && lsm) {
		/* Optional: never fail the load for them. */
		snprintf(res->lsm_warning, sizeof(res->lsm_warning),
			 "the kernel refused the BPF LSM programs (%s); unix endpoints fall back "
			 "to the cgroup/connect_unix hook (by path name) where the kernel has it. "
			 "DOCKGUARD_DEBUG=1 shows the verifier's log", strerror(-*ret));
		dockguard_bpf__destroy(skel);
		verifier_log_len = 0;
		verifier_log[0] = '\0';
		lsm = false;
		goto reopen;
	}
	if (*ret) {
		dg_err_set(err,
			   "the kernel refused the BPF programs: %s; this needs root (CAP_BPF, "
			   "CAP_NET_ADMIN) and a kernel with BTF and cgroup BPF. libbpf said:\n%s",
			   strerror(-*ret), verifier_log);
		dockguard_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Pins `fd` as DIR/PREFIX_NAME. */
static int pin_one(int fd, const char *dir, const char *prefix, const char *name,
		   struct dg_err *err)
{
	char *path = pin_path(dir, prefix, name);
	int ret = bpf_obj_pin(fd, path) < 0 ? -errno : 0;

	if (ret)
		dg_err_set(err, "cannot pin %s %s in %s: %s", !strcmp(prefix, "map") ? "map" : "program",
			   name, dir, strerror(-ret));
	free(path);
	return ret;
}

/* Pins the maps and programs of a loaded object in `dir`; `m` gets the maps. */
static int pin_objects(struct dockguard_bpf *skel, const char *dir, struct maps *m,
		       struct dg_err *err)
{
	struct bpf_map *map;
	int ret;

	for (int i = 0; i < M_COUNT; i++)
		m->fd[i] = -1;
	bpf_object__for_each_map(map, skel->obj) {
		int i = map_index(bpf_map__name(map));
		if (i < 0)
			continue;	/* .rodata, .bss: the object's own */
		/* bpf_obj_pin, not bpf_map__pin: a shared map is pinned again
		 * under the new directory, never moved */
		if ((ret = pin_one(bpf_map__fd(map), dir, "map", map_names[i], err)))
			goto fail;
		m->fd[i] = dup(bpf_map__fd(map));
	}
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		struct bpf_program *p = hook_prog(skel, (enum dg_hook)h);
		if (!bpf_program__autoload(p))
			continue;
		if ((ret = pin_one(bpf_program__fd(p), dir, "prog", hook_names[h], err)))
			goto fail;
	}
	return 0;
fail:
	maps_close(m);
	unpin_pins(dir);
	return ret;
}

/* First load: create everything, pin maps and programs. */
static int create_objects(const char *dir, const struct dg_features *f, struct maps *m,
			  struct dg_load_result *res, struct dg_err *err)
{
	int ret;
	struct dockguard_bpf *skel = load_object(f, NULL, res, err, &ret);

	if (!skel)
		return ret;
	ret = pin_objects(skel, dir, m, err);
	dockguard_bpf__destroy(skel);
	return ret;
}

/* Refuses a load whose --cgroup differs from where the pinned links are. */
static int check_attach_point(const char *dir, const char *cgroup, struct dg_err *err)
{
	uint64_t want_id = 0;
	int ret;

	if ((ret = cgroup_id_of(cgroup, &want_id))) {
		dg_err_set(err, "cannot use cgroup %s: %s; give a cgroup v2 directory with --cgroup",
			   cgroup, strerror(-ret));
		return ret;
	}
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		char *lpath = pin_path(dir, "link", hook_names[h]);
		int lfd = bpf_obj_get(lpath);
		free(lpath);
		if (lfd < 0)
			continue;
		struct dg_hook_state hs = { 0 };
		link_state(lfd, &hs);
		close(lfd);
		if (hs.cgroup_id && hs.cgroup_id != want_id) {
			char where[4096] = "", root[4096];
			int rfd = dg_cgroup2_root(root, sizeof(root)) ? -1
				  : open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (rfd < 0 || dg_cgroup_path_at(rfd, root, hs.cgroup_id, where, sizeof(where)))
				snprintf(where, sizeof(where), "a cgroup that is gone (id %llu)",
					 (unsigned long long)hs.cgroup_id);
			if (rfd >= 0)
				close(rfd);
			dg_err_set(err,
				   "dockguard is already attached at %s with pins in %s; run "
				   "`dockguard unload` first, or use another --bpffs", where, dir);
			return -EEXIST;
		}
	}
	return 0;
}

/*
 * Attaches and pins a BPF LSM program (global, not per cgroup: the program
 * itself keeps to the attach cgroup's subtree). Optional: a failure leaves
 * unix endpoints to the cgroup hooks, with a warning in res.
 */
static void attach_lsm(int pfd, const char *lpath, enum dg_hook h, struct dg_load_result *res)
{
	int link = bpf_link_create(pfd, 0, BPF_LSM_MAC, NULL);

	if (link < 0)	/* kernels before link_create knew LSM programs */
		link = bpf_raw_tracepoint_open(NULL, pfd);
	if (link < 0) {
		snprintf(res->lsm_warning, sizeof(res->lsm_warning),
			 "cannot attach the BPF LSM hook %s: %s; unix endpoints fall back to the "
			 "cgroup/connect_unix hook (by path name) where the kernel has it", hook_names[h],
			 strerror(errno));
		return;
	}
	if (bpf_obj_pin(link, lpath) < 0) {
		snprintf(res->lsm_warning, sizeof(res->lsm_warning),
			 "cannot pin the BPF LSM link at %s: %s; unix endpoints fall back to the "
			 "cgroup/connect_unix hook (by path name) where the kernel has it", lpath,
			 strerror(errno));
		close(link);
		return;
	}
	close(link);
	res->hooks[h] = true;
	res->attached_now = true;
}

/*
 * Hands unix endpoints to the LSM programs once both are attached and pinned
 * (config.unix_by_lsm, with the scope they judge in), or back to the cgroup
 * hooks when they are not.
 */
static int set_unix_by_lsm(const struct maps *m, const char *cgroup, struct dg_load_result *res,
			   struct dg_err *err)
{
	uint32_t zero = 0;
	struct dg_config cfg;
	bool want = res->hooks[DG_HOOK_LSM_UNIX_CONNECT] && res->hooks[DG_HOOK_LSM_UNIX_SEND];
	uint64_t scope = 0;
	int ret;

	if (bpf_map_lookup_elem(m->fd[M_CONFIG], &zero, &cfg) < 0) {
		ret = -errno;
		dg_err_set(err, "cannot read the configuration map: %s", strerror(errno));
		return ret;
	}
	if (want && (ret = cgroup_id_of(cgroup, &scope))) {
		dg_err_set(err, "cannot use cgroup %s: %s", cgroup, strerror(-ret));
		return ret;
	}
	res->unix_by_lsm = want;
	if (cfg.unix_by_lsm == (uint32_t)want && cfg.lsm_scope_cgroup == scope)
		return 0;
	/* the scope first: the flag turns the LSM programs on */
	cfg.lsm_scope_cgroup = scope;
	cfg.unix_by_lsm = 0;
	if ((ret = update(m->fd[M_CONFIG], &zero, &cfg, "the configuration", err)))
		return ret;
	cfg.unix_by_lsm = want;
	return update(m->fd[M_CONFIG], &zero, &cfg, "the configuration", err);
}

/* Attaches every pinned program that has no link yet. */
static int attach_missing(const char *dir, const char *cgroup, const struct dg_features *f,
			  struct dg_load_result *res, struct dg_err *err)
{
	int cg_fd = -1, ret = 0;

	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		char *lpath = pin_path(dir, "link", hook_names[h]);
		int lfd = bpf_obj_get(lpath);
		if (lfd >= 0) {
			close(lfd);
			free(lpath);
			res->hooks[h] = true;
			continue;
		}
		char *ppath = pin_path(dir, "prog", hook_names[h]);
		int pfd = bpf_obj_get(ppath);
		free(ppath);
		if (pfd < 0) {
			if (is_lsm_hook(h) && f->lsm && !res->lsm_warning[0])
				snprintf(res->lsm_warning, sizeof(res->lsm_warning),
					 "the BPF LSM programs were not loaded with the pinned "
					 "programs in %s (the first load failed to load them); unix "
					 "endpoints fall back to the cgroup/connect_unix hook where "
					 "the kernel has it", dir);
			free(lpath);
			continue;	/* not supported by this kernel: never loaded */
		}
		if (is_lsm_hook(h)) {
			attach_lsm(pfd, lpath, (enum dg_hook)h, res);
			close(pfd);
			free(lpath);
			continue;
		}
		if (cg_fd < 0) {
			cg_fd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (cg_fd < 0) {
				ret = -errno;
				dg_err_set(err, "cannot open cgroup %s: %s", cgroup, strerror(errno));
				close(pfd);
				free(lpath);
				goto out;
			}
		}
		int link = bpf_link_create(pfd, cg_fd, hook_attach_type((enum dg_hook)h, f), NULL);
		ret = link < 0 ? -errno : 0;
		close(pfd);
		if (ret) {
			dg_err_set(err, "cannot attach the %s hook to %s: %s; is it a cgroup v2 "
				   "directory?", hook_names[h], cgroup, strerror(-ret));
			free(lpath);
			goto out;
		}
		if (bpf_obj_pin(link, lpath) < 0) {
			ret = -errno;
			dg_err_set(err, "cannot pin the %s link at %s: %s", hook_names[h], lpath,
				   strerror(errno));
			close(link);
			free(lpath);
			goto out;
		}
		close(link);
		free(lpath);
		res->hooks[h] = true;
		res->attached_now = true;
	}
out:
	if (cg_fd >= 0)
		close(cg_fd);
	return ret;
}

/* Serializes loads and unloads on one pin directory: two loads at once
 * would both fill the same inactive slot. */
static int lock_pin_dir(const char *dir, struct dg_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		dg_err_set(err, "cannot open %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX) < 0) {
		int ret = -errno;
		dg_err_set(err, "cannot lock %s: %s", dir, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;	/* the lock goes with the descriptor */
}

/* ---- upgrade -------------------------------------------------------------- */

/*
 * Pins of another build (an older or newer dockguard, a package upgrade)
 * are taken over without a moment unenforced. This build's programs and
 * maps are loaded beside them into `DIR/next`, sharing the state maps whose
 * definition is unchanged; the policy goes into the new maps whole; then
 * each link moves to its new program (BPF_LINK_UPDATE: the kernel swaps the
 * program under a live link, no connect passes between the two); the new
 * pins take the old names, and the old programs and maps go with the last
 * link that used them. A loader cut off half way leaves links on either
 * build, each judging by its own complete policy; the next load moves the
 * rest.
 */

/* The pins in a directory are this build's: every map, and the config
 * naming this object. */
static bool pins_of_this_build(const struct maps *m)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info), zero = 0;
	struct dg_config cfg;
	uint8_t id[DG_OBJECT_ID_LEN];

	if (bpf_obj_get_info_by_fd(m->fd[M_CONFIG], &info, &len) ||
	    info.value_size != sizeof(cfg) ||
	    bpf_map_lookup_elem(m->fd[M_CONFIG], &zero, &cfg) < 0)
		return false;
	our_object_id(id);
	return !memcmp(cfg.object_id, id, sizeof(id));
}

static bool any_link_pinned(const char *dir)
{
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		char *lpath = pin_path(dir, "link", hook_names[h]);
		int lfd = bpf_obj_get(lpath);
		free(lpath);
		if (lfd >= 0) {
			close(lfd);
			return true;
		}
	}
	return false;
}

/* The maps pinned in `dir` that exist (another build may lack some). */
static void open_present_maps(const char *dir, struct maps *m)
{
	for (int i = 0; i < M_COUNT; i++) {
		char *path = pin_path(dir, "map", map_names[i]);
		m->fd[i] = bpf_obj_get(path);
		free(path);
	}
}

static bool same_maps(int a, int b)
{
	struct bpf_map_info ia = { 0 }, ib = { 0 };
	uint32_t la = sizeof(ia), lb = sizeof(ib);

	return a >= 0 && b >= 0 && !bpf_obj_get_info_by_fd(a, &ia, &la) &&
	       !bpf_obj_get_info_by_fd(b, &ib, &lb) && ia.type == ib.type &&
	       ia.key_size == ib.key_size && ia.value_size == ib.value_size &&
	       ia.max_entries == ib.max_entries;
}

/* The generation in force in another build's maps, when it can be read:
 * generations go on counting across an upgrade. */
static uint64_t generation_in(const struct maps *old, const struct maps *new)
{
	uint32_t zero = 0, slot;
	struct dg_config cfg;
	struct dg_policy_hdr hdr;

	if (!same_maps(old->fd[M_POLICY], new->fd[M_POLICY]) ||
	    bpf_map_lookup_elem(old->fd[M_CONFIG], &zero, &cfg) < 0)
		return 0;
	slot = cfg.active_slot & 1;
	if (bpf_map_lookup_elem(old->fd[M_POLICY], &slot, &hdr) < 0)
		return 0;
	return hdr.generation;
}

/* Whether a pin name in the directory is one this build makes. */
static bool pin_name_known(const char *name)
{
	const char *rest;

	if (!strncmp(name, "map_", 4)) {
		return map_index(name + 4) >= 0;
	}
	if (!strncmp(name, "prog_", 5))
		rest = name + 5;
	else if (!strncmp(name, "link_", 5))
		rest = name + 5;
	else
		return true;	/* not a pin of ours (the next/ directory) */
	for (int h = 0; h < DG_HOOK_COUNT; h++)
		if (!strcmp(rest, hook_names[h]))
			return true;
	return false;
}

/* Removes what another build pinned under names this one does not use. */
static void unpin_unknown(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && e->d_type != DT_DIR && !pin_name_known(e->d_name))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

/* Gives `from`'s pin the name `to` has in `dir` (replacing it). */
static int move_pin(const char *next, const char *dir, const char *prefix, const char *name,
		    struct dg_err *err)
{
	char *from = pin_path(next, prefix, name), *to = pin_path(dir, prefix, name);
	int ret = 0;

	if (rename(from, to) < 0 && errno != ENOENT) {
		ret = -errno;
		dg_err_set(err, "cannot move the new pin %s to %s: %s; run the load again",
			   from, to, strerror(errno));
	}
	free(from);
	free(to);
	return ret;
}

static int upgrade_locked(const struct dg_load_opts *opts, const struct dg_features *f,
			  const struct dg_image *img, struct dg_load_result *res,
			  struct dg_err *err)
{
	const char *dir = opts->bpffs;
	char *next = xasprintf("%s/next", dir);
	struct maps old, new;
	struct dockguard_bpf *skel = NULL;
	bool moved = false;
	int ret;

	for (int i = 0; i < M_COUNT; i++)
		new.fd[i] = -1;
	open_present_maps(dir, &old);
	if ((ret = check_attach_point(dir, opts->cgroup, err)))
		goto out;
	/* what a loader cut off before this one left behind */
	unpin_pins(next);
	rmdir(next);
	if (mkdir(next, 0700) < 0) {
		ret = -errno;
		dg_err_set(err, "cannot make %s: %s", next, strerror(errno));
		goto out;
	}
	if (!(skel = load_object(f, &old, res, err, &ret)))
		goto out;
	if ((ret = pin_objects(skel, next, &new, err)))
		goto out;

	/* The new maps whole before a program of this build runs on them. */
	struct dg_err lerr = { "" };
	if (sync_listeners(&new, &res->listen, &lerr))
		snprintf(res->listen_warning, sizeof(res->listen_warning), "%s", lerr.msg);
	if ((ret = swap_in(&new, img, opts->meta_json, true, generation_in(&old, &new), res, err)))
		goto out;

	/* Each cgroup link to its new program, in place. */
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		struct bpf_program *p = hook_prog(skel, (enum dg_hook)h);
		if (is_lsm_hook(h) || !bpf_program__autoload(p))
			continue;
		char *lpath = pin_path(dir, "link", hook_names[h]);
		int lfd = bpf_obj_get(lpath);
		free(lpath);
		if (lfd < 0)
			continue;	/* attached below, as on a first load */
		if (bpf_link_update(lfd, bpf_program__fd(p), NULL) < 0) {
			ret = -errno;
			dg_err_set(err, "cannot move the %s hook to this build's program: %s; "
				   "%s. Run the load again", hook_names[h], strerror(errno),
				   moved ? "the hooks moved so far judge by the new policy, the "
					   "others still by the old one"
					 : "nothing changed: the old programs are in force");
			close(lfd);
			goto out;
		}
		close(lfd);
		moved = true;
		res->hooks[h] = true;
	}
	/* An LSM link cannot change its program: the new ones attach beside
	 * the old (a connect passes only if both allow) before those go. */
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		struct bpf_program *p = hook_prog(skel, (enum dg_hook)h);
		if (!is_lsm_hook(h) || !bpf_program__autoload(p))
			continue;
		char *lpath = pin_path(next, "link", hook_names[h]);
		attach_lsm(bpf_program__fd(p), lpath, (enum dg_hook)h, res);
		free(lpath);
	}
	if ((ret = set_unix_by_lsm(&new, opts->cgroup, res, err)))
		goto out;

	/* The new pins take the old names. */
	for (int i = 0; i < M_COUNT && !ret; i++)
		if (new.fd[i] >= 0)
			ret = move_pin(next, dir, "map", map_names[i], err);
	for (int h = 0; h < DG_HOOK_COUNT && !ret; h++) {
		if (!res->hooks[h]) {
			unpin_hook(dir, h);	/* a hook the old build ran and this one does not */
			continue;
		}
		if (!(ret = move_pin(next, dir, "prog", hook_names[h], err)) && is_lsm_hook(h))
			ret = move_pin(next, dir, "link", hook_names[h], err);
	}
	if (ret)
		goto out;
	unpin_unknown(dir);
	rmdir(next);

	/* Counts the old programs made, into this build's totals. */
	wait_grace_period();
	if (same_maps(old.fd[M_STATS], new.fd[M_STATS]) &&
	    same_maps(old.fd[M_RULE_IDS], new.fd[M_RULE_IDS]) &&
	    same_maps(old.fd[M_POLICY], new.fd[M_POLICY]) &&
	    same_maps(old.fd[M_RULE_TOTALS], new.fd[M_RULE_TOTALS])) {
		struct maps mix = new;
		mix.fd[M_STATS] = old.fd[M_STATS];
		mix.fd[M_RULE_IDS] = old.fd[M_RULE_IDS];
		mix.fd[M_POLICY] = old.fd[M_POLICY];
		fold_counts(&mix, 0);
		fold_counts(&mix, 1);
	}
	res->replaced_build = true;
	/* hooks this build has and the other had not */
	ret = attach_missing(dir, opts->cgroup, f, res, err);
	if (!ret && res->attached_now)
		sync_listeners(&new, &res->listen, &(struct dg_err){ "" });
out:
	if (ret && !moved) {
		/* nothing moved: the other build stays whole */
		unpin_pins(next);
		rmdir(next);
	}
	if (skel)
		dockguard_bpf__destroy(skel);
	maps_close(&new);
	maps_close(&old);
	free(next);
	return ret;
}

static int load_locked(const struct dg_load_opts *opts, const struct dg_image *img,
		       struct dg_load_result *res, struct dg_err *err);

int dg_kernel_load(const struct dg_load_opts *opts, const struct dg_image *img,
		   struct dg_load_result *res, struct dg_err *err)
{
	int ret, lock;

	memset(res, 0, sizeof(*res));
	if ((ret = ensure_pin_dir(opts->bpffs, err)))
		return ret;
	if ((lock = lock_pin_dir(opts->bpffs, err)) < 0)
		return lock;
	ret = load_locked(opts, img, res, err);
	close(lock);
	return ret;
}

static int load_locked(const struct dg_load_opts *opts, const struct dg_image *img,
		       struct dg_load_result *res, struct dg_err *err)
{
	struct dg_features f;
	struct maps m;
	bool first = false;
	int ret;

	dg_kernel_probe(&f);

	ret = open_pinned_maps(opts->bpffs, &m);
	if (!ret && !pins_of_this_build(&m)) {
		maps_close(&m);
		ret = -ESTALE;
	}
	if ((ret == -ENOENT || ret == -ESTALE) && any_link_pinned(opts->bpffs))
		return upgrade_locked(opts, &f, img, res, err);
	if (ret == -ENOENT || ret == -ESTALE) {
		/* nothing (or a remnant) pinned: start clean */
		unpin_pins(opts->bpffs);
		if ((ret = create_objects(opts->bpffs, &f, &m, res, err)))
			return ret;
		first = true;
	} else if (ret) {
		dg_err_set(err, "cannot open the maps pinned in %s: %s", opts->bpffs, strerror(-ret));
		return ret;
	}

	/* The policy goes in before the hooks: a new hook never runs on an
	 * empty slot. */
	ret = check_attach_point(opts->bpffs, opts->cgroup, err);
	if (!ret) {
		/* Listener state before the policy that reads it; a failure is
		 * a warning: the endpoints' own addresses are judged regardless. */
		struct dg_err lerr = { "" };
		if ((opts->sync_listeners || first) && sync_listeners(&m, &res->listen, &lerr))
			snprintf(res->listen_warning, sizeof(res->listen_warning), "%s", lerr.msg);
		ret = swap_in(&m, img, opts->meta_json, first, 0, res, err);
	}
	if (!ret) {
		ret = attach_missing(opts->bpffs, opts->cgroup, &f, res, err);
		/* listeners that started between the scan and the sock_ops hook */
		if (!ret && res->attached_now)
			sync_listeners(&m, &res->listen, &(struct dg_err){ "" });
		if (!ret)
			ret = set_unix_by_lsm(&m, opts->cgroup, res, err);
		if (ret && !first) {
			size_t len = strlen(err->msg);
			snprintf(err->msg + len, sizeof(err->msg) - len,
				 " (the new policy is in force on the hooks already attached)");
		}
	}
	maps_close(&m);
	if (ret && first)
		unpin_pins(opts->bpffs);
	return ret;
}

/* ---- settle --------------------------------------------------------------- */

int dg_kernel_settle(const char *bpffs, struct dg_err *err)
{
	struct maps m;
	struct dg_config cfg;
	uint32_t zero = 0;
	int lock, ret;

	if ((lock = lock_pin_dir(bpffs, err)) < 0)
		return lock;
	ret = open_pinned_maps(bpffs, &m);
	if (ret) {
		close(lock);
		return ret == -ENOENT ? 0 : ret;
	}
	if (bpf_map_lookup_elem(m.fd[M_CONFIG], &zero, &cfg) == 0 && cfg.stale_slot) {
		wait_grace_period();
		fold_counts(&m, cfg.stale_slot - 1);
		clear_shared(&m, cfg.stale_slot - 1);
		cfg.stale_slot = 0;
		ret = update(m.fd[M_CONFIG], &zero, &cfg, "the active policy slot", err);
	}
	maps_close(&m);
	close(lock);
	return ret;
}

/* ---- unload --------------------------------------------------------------- */

int dg_kernel_unload(const char *bpffs, struct dg_err *err)
{
	struct stat st;

	if (stat(bpffs, &st) < 0)
		return 0;
	int lock = lock_pin_dir(bpffs, err);
	if (lock < 0)
		return lock;
	/* Unix endpoints back to the cgroup hooks before the LSM links go, so
	 * that no connect passes while neither judges. */
	struct maps m;
	if (open_pinned_maps(bpffs, &m) == 0) {
		uint32_t zero = 0;
		struct dg_config cfg;
		if (bpf_map_lookup_elem(m.fd[M_CONFIG], &zero, &cfg) == 0 && cfg.unix_by_lsm) {
			cfg.unix_by_lsm = 0;
			bpf_map_update_elem(m.fd[M_CONFIG], &zero, &cfg, BPF_ANY);
			wait_grace_period();
		}
		maps_close(&m);
	}
	unpin_pins(bpffs);
	unpin_unknown(bpffs);
	char *next = xasprintf("%s/next", bpffs);
	unpin_pins(next);
	rmdir(next);
	free(next);
	close(lock);
	rmdir(bpffs);
	return 0;
}

/* ---- state ---------------------------------------------------------------- */

/* The description stored with `slot`'s policy, or NULL. */
static char *read_meta(const struct maps *m, uint32_t slot)
{
	char *chunk = xcalloc(1, DG_META_CHUNK), *json = NULL;
	uint32_t k = slot * DG_META_CHUNKS, len = 0;

	if (bpf_map_lookup_elem(m->fd[M_META], &k, chunk) == 0) {
		memcpy(&len, chunk, 4);
		if (len && len + 4 <= (uint32_t)DG_META_CHUNK * DG_META_CHUNKS) {
			json = xcalloc(1, (size_t)len + 1);
			size_t got = 0;
			for (uint32_t c = 0; got < len; c++) {
				if (c && bpf_map_lookup_elem(m->fd[M_META], &k, chunk) < 0)
					break;
				size_t off = c ? 0 : 4;
				size_t take = DG_META_CHUNK - off;
				if (take > len - got)
					take = len - got;
				memcpy(json + got, chunk + off, take);
				got += take;
				k++;
			}
		}
	}
	free(chunk);
	return json;
}

int dg_kernel_read_meta(const char *bpffs, uint32_t slot, uint64_t *generation, char **json)
{
	struct maps m;
	struct dg_policy_hdr hdr = { 0 };
	int ret = open_pinned_maps(bpffs, &m);

	if (ret)
		return ret;
	slot &= 1;
	if (bpf_map_lookup_elem(m.fd[M_POLICY], &slot, &hdr) < 0)
		hdr.generation = 0;
	*generation = hdr.generation;
	*json = read_meta(&m, slot);
	maps_close(&m);
	return *json ? 0 : -ENOENT;
}

/* ---- events --------------------------------------------------------------- */

struct dg_event_reader {
	struct ring_buffer *rb;
	int map_fd;
	dg_event_fn fn;
	void *ctx;
};

static int ring_event(void *ctx, void *data, size_t size)
{
	struct dg_event_reader *r = ctx;
	struct dg_event ev;

	if (size < sizeof(ev))
		return 0;	/* not ours: a newer or older layout */
	memcpy(&ev, data, sizeof(ev));
	r->fn(r->ctx, &ev);
	return 0;
}

struct dg_event_reader *dg_events_open(const char *bpffs, dg_event_fn fn, void *ctx,
				       struct dg_err *err)
{
	char *path = pin_path(bpffs, "map", map_names[M_EVENTS]);
	int fd = bpf_obj_get(path);
	struct dg_event_reader *r;

	if (fd < 0) {
		dg_err_set(err, "cannot open the event buffer %s: %s; is dockguard loaded with "
			   "this --bpffs?", path, strerror(errno));
		free(path);
		return NULL;
	}
	free(path);
	r = xcalloc(1, sizeof(*r));
	r->fn = fn;
	r->ctx = ctx;
	r->map_fd = fd;
	r->rb = ring_buffer__new(fd, ring_event, r, NULL);
	if (!r->rb) {
		dg_err_set(err, "cannot map the event buffer: %s", strerror(errno));
		close(fd);
		free(r);
		return NULL;
	}
	return r;
}

int dg_events_fd(const struct dg_event_reader *r)
{
	return ring_buffer__epoll_fd(r->rb);
}

int dg_events_consume(struct dg_event_reader *r)
{
	return ring_buffer__consume(r->rb);
}

void dg_events_close(struct dg_event_reader *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	close(r->map_fd);
	free(r);
}

struct counted {
	uint64_t id;
	struct dg_rule_stats n;
};

static int cmp_counted(const void *a, const void *b)
{
	uint64_t x = ((const struct counted *)a)->id, y = ((const struct counted *)b)->id;
	return x < y ? -1 : x > y;
}

/* Each rule's counts of the active slot's generation (st->stats) and since
 * the pins were made (st->totals): rule_totals, plus the retired slot's counts
 * that are not in it yet, plus this generation's. */
static void read_rule_counts(const struct maps *m, struct dg_kernel_state *st)
{
	int ncpu = num_cpus();
	struct dg_rule_stats *per_cpu = xcalloc((size_t)ncpu, sizeof(*per_cpu));
	uint32_t retired = !st->active_slot, n_retired = 0, n_active = st->hdr.nwords * 64;
	struct dg_policy_hdr rh;
	struct counted *pending = NULL;
	size_t n_pending = 0;

	st->stats = xcalloc(DG_MAX_RULES + 1, sizeof(*st->stats));
	st->totals = xcalloc(DG_MAX_RULES + 1, sizeof(*st->totals));
	if (bpf_map_lookup_elem(m->fd[M_POLICY], &retired, &rh) == 0)
		n_retired = rh.nwords * 64;
	for (uint32_t r = 0; r <= DG_MAX_RULES; r++) {
		struct counted c;
		uint32_t k = retired * (DG_MAX_RULES + 1) + r;
		if (r >= n_retired && r != DG_RULE_DEFAULT)
			continue;
		if (!rule_counts(m, k, per_cpu, ncpu, &c.n) ||
		    bpf_map_lookup_elem(m->fd[M_RULE_IDS], &k, &c.id) < 0)
			continue;
		pending = xreallocarray(pending, n_pending + 1, sizeof(*pending));
		pending[n_pending++] = c;
	}
	qsort(pending, n_pending, sizeof(*pending), cmp_counted);

	for (uint32_t r = 0; r <= DG_MAX_RULES; r++) {
		uint32_t k = st->active_slot * (DG_MAX_RULES + 1) + r;
		struct dg_rule_stats *t = &st->totals[r], carried;
		struct counted want, *p;

		if (r >= n_active && r != DG_RULE_DEFAULT)
			continue;
		rule_counts(m, k, per_cpu, ncpu, &st->stats[r]);
		*t = st->stats[r];
		if (bpf_map_lookup_elem(m->fd[M_RULE_IDS], &k, &want.id) < 0)
			continue;
		if (bpf_map_lookup_elem(m->fd[M_RULE_TOTALS], &want.id, &carried) == 0) {
			t->allowed += carried.allowed;
			t->denied += carried.denied;
		}
		p = bsearch(&want, pending, n_pending, sizeof(*pending), cmp_counted);
		if (p) {
			t->allowed += p->n.allowed;
			t->denied += p->n.denied;
		}
	}
	free(pending);
	free(per_cpu);
}

int dg_kernel_read_state(const char *bpffs, struct dg_kernel_state *st, struct dg_err *err)
{
	struct maps m;
	uint32_t zero = 0;
	struct dg_config cfg;
	int ret;

	memset(st, 0, sizeof(*st));
	for (int h = 0; h < DG_HOOK_COUNT; h++) {
		char *p = pin_path(bpffs, "link", hook_names[h]);
		int fd = bpf_obj_get(p);
		free(p);
		if (fd >= 0) {
			link_state(fd, &st->hooks[h]);
			close(fd);
			st->loaded = true;
		}
	}
	ret = open_pinned_maps(bpffs, &m);
	if (ret) {
		st->loaded = false;
		if (ret == -ENOENT)
			return 0;
		dg_err_set(err, "cannot open the maps pinned in %s: %s", bpffs, strerror(-ret));
		return ret;
	}
	if (bpf_map_lookup_elem(m.fd[M_CONFIG], &zero, &cfg) == 0) {
		st->active_slot = cfg.active_slot & 1;
		st->unix_by_lsm = cfg.unix_by_lsm != 0;
		bpf_map_lookup_elem(m.fd[M_POLICY], &st->active_slot, &st->hdr);
	}

	st->meta_json = read_meta(&m, st->active_slot);

	read_rule_counts(&m, st);

	int ncpu = num_cpus();
	struct dg_counters *pc = xcalloc((size_t)ncpu, sizeof(*pc));
	if (bpf_map_lookup_elem(m.fd[M_COUNTERS], &zero, pc) == 0) {
		for (int c = 0; c < ncpu; c++) {
			st->counters.events += pc[c].events;
			st->counters.suppressed += pc[c].suppressed;
			st->counters.dropped += pc[c].dropped;
			st->counters.handshakes += pc[c].handshakes;
		}
	}
	free(pc);
	maps_close(&m);
	return 0;
}

void dg_kernel_state_free(struct dg_kernel_state *st)
{
	free(st->meta_json);
	free(st->stats);
	free(st->totals);
	memset(st, 0, sizeof(*st));
}
