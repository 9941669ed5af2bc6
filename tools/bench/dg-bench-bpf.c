// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-bench-bpf: the benchmark's own BPF plumbing.
 *
 *   dg-bench-bpf attach OBJ CGROUP PINDIR
 *       loads the empty programs of OBJ (empty.bpf.c), attaches them to the
 *       cgroup CGROUP with links pinned in PINDIR (removing the pins detaches
 *       them), and prints `HOOK PROG_ID` for each: connect4, connect6 and,
 *       when the kernel has the hook, connect_unix.
 *   dg-bench-bpf stats
 *       turns on the kernel's per-program run-time statistics for as long as
 *       it runs (BPF_ENABLE_STATS: reference counted, so a concurrent
 *       `sysctl kernel.bpf_stats_enabled=0` by someone else cannot switch
 *       them off under the benchmark); prints `enabled`, then waits to be
 *       killed (the kernel drops the reference with the process).
 *   dg-bench-bpf watch-gen BPFFS GEN TIMEOUT_MS
 *       polls the policy in force in dockguard's pins BPFFS (the active
 *       slot's generation, what the programs themselves read) every 200 us
 *       and prints the CLOCK_REALTIME time in ns at which it first exceeds
 *       GEN; exit 1 after TIMEOUT_MS without a change.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "dockguard_abi.h"

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* BPF_CGROUP_UNIX_CONNECT as this kernel numbers it, or -1 without it. */
static int unix_attach_type(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int id, value = -1;

	if (!btf)
		return -1;
	id = btf__find_by_name_kind(btf, "bpf_attach_type", BTF_KIND_ENUM);
	if (id > 0) {
		const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
		const struct btf_enum *e = btf_enum(t);
		for (int i = 0; i < btf_vlen(t); i++, e++)
			if (!strcmp(btf__name_by_offset(btf, e->name_off), "BPF_CGROUP_UNIX_CONNECT"))
				value = e->val;
	}
	btf__free(btf);
	return value;
}

static int attach(const char *obj_path, const char *cgroup, const char *pindir)
{
	static const char *const names[] = { "empty_connect4", "empty_connect6", "empty_connect_unix" };
	static const char *const hooks[] = { "connect4", "connect6", "connect_unix" };
	int unix_type = unix_attach_type();
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);

	if (!obj) {
		fprintf(stderr, "dg-bench-bpf: cannot open %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	struct bpf_program *unix_prog = bpf_object__find_program_by_name(obj, names[2]);
	if (!unix_prog) {
		fprintf(stderr, "dg-bench-bpf: %s has no %s\n", obj_path, names[2]);
		return 1;
	}
	if (unix_type >= 0)
		bpf_program__set_expected_attach_type(unix_prog, (enum bpf_attach_type)unix_type);
	else
		bpf_program__set_autoload(unix_prog, false);
	if (bpf_object__load(obj)) {
		fprintf(stderr, "dg-bench-bpf: the kernel refused the empty programs: %s (root?)\n",
			strerror(errno));
		return 1;
	}
	int cgfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		fprintf(stderr, "dg-bench-bpf: cannot open cgroup %s: %s\n", cgroup, strerror(errno));
		return 1;
	}
	for (int h = 0; h < 3; h++) {
		if (h == 2 && unix_type < 0)
			continue;
		struct bpf_program *p = bpf_object__find_program_by_name(obj, names[h]);
		struct bpf_link *link = p ? bpf_program__attach_cgroup(p, cgfd) : NULL;
		char pin[4096];
		if (!link) {
			fprintf(stderr, "dg-bench-bpf: cannot attach %s to %s: %s\n", hooks[h], cgroup,
				strerror(errno));
			return 1;
		}
		snprintf(pin, sizeof(pin), "%s/empty_%s", pindir, hooks[h]);
		if (bpf_link__pin(link, pin)) {
			fprintf(stderr, "dg-bench-bpf: cannot pin %s: %s\n", pin, strerror(errno));
			return 1;
		}
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len)) {
			fprintf(stderr, "dg-bench-bpf: no info for %s: %s\n", hooks[h], strerror(errno));
			return 1;
		}
		printf("%s %u\n", hooks[h], info.id);
	}
	/* the pinned links keep the programs attached after we exit */
	close(cgfd);
	return 0;
}

static int hold_stats(void)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0) {
		fprintf(stderr, "dg-bench-bpf: cannot enable BPF run-time statistics: %s\n",
			strerror(errno));
		return 1;
	}
	printf("enabled\n");
	fflush(stdout);
	for (;;)
		pause();
}

static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int open_pin(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "dg-bench-bpf: cannot open %s: %s\n", path, strerror(errno));
	return fd;
}

/* The generation the programs judge by: policy[config.active_slot]. */
static int generation_in_force(int config_fd, int policy_fd, unsigned long long *gen)
{
	struct dg_config cfg;
	struct dg_policy_hdr hdr;
	__u32 zero = 0, slot;

	if (bpf_map_lookup_elem(config_fd, &zero, &cfg))
		return -1;
	slot = cfg.active_slot & 1;
	if (bpf_map_lookup_elem(policy_fd, &slot, &hdr))
		return -1;
	*gen = hdr.generation;
	return 0;
}

static int watch_generation(const char *bpffs, unsigned long long after, long timeout_ms)
{
	int config_fd = open_pin(bpffs, "map_config_map"), policy_fd = open_pin(bpffs, "map_policy");
	long long deadline = realtime_ns() + timeout_ms * 1000000LL;
	struct timespec pause = { 0, 200000 };
	unsigned long long gen;

	if (config_fd < 0 || policy_fd < 0)
		return 2;
	/* ready: the caller may now do what should change the generation */
	printf("watching\n");
	fflush(stdout);
	while (realtime_ns() < deadline) {
		if (generation_in_force(config_fd, policy_fd, &gen)) {
			fprintf(stderr, "dg-bench-bpf: cannot read the policy in force: %s\n",
				strerror(errno));
			return 2;
		}
		if (gen > after) {
			printf("%lld %llu\n", realtime_ns(), gen);
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	return 1;
}

int main(int argc, char **argv)
{
	libbpf_set_print(silent);
	if (argc == 5 && !strcmp(argv[1], "attach"))
		return attach(argv[2], argv[3], argv[4]);
	if (argc == 2 && !strcmp(argv[1], "stats"))
		return hold_stats();
	if (argc == 5 && !strcmp(argv[1], "watch-gen"))
		return watch_generation(argv[2], strtoull(argv[3], NULL, 10), atol(argv[4]));
	fprintf(stderr, "usage: dg-bench-bpf attach OBJ CGROUP PINDIR | stats | "
			"watch-gen BPFFS GEN TIMEOUT_MS\n");
	return 2;
}
