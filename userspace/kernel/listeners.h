/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the kernel says about the current network namespace: its TCP
 * listeners (sock_diag), the destinations it delivers to itself (its `local`
 * routing table), and which process holds a socket. The loader and the
 * daemon keep the BPF maps of "Listeners" (bpf/dockguard_abi.h) from these;
 * `load` and `status` show them.
 */
#ifndef DOCKGUARD_LISTENERS_H
#define DOCKGUARD_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A listening TCP socket. */
struct dg_listener {
	uint8_t addr[16];	/* bound address; IPv4 as ::ffff:a.b.c.d */
	uint16_t port;
	uint8_t families;	/* DG_WILD_*: takes every address of these; 0 = addr only */
	bool ipv6_socket;	/* AF_INET6 (a [::] listener may take IPv4 too) */
	uint32_t inode;		/* of the socket: finds its process */
};

/* Every TCP listener of this network namespace. 0, or a negative errno
 * (sock_diag missing: modprobe inet_diag tcp_diag). *out is malloc'd. */
int dg_listeners_scan(struct dg_listener **out, size_t *n);

/* A listening unix socket (stream or seqpacket). */
struct dg_unix_listener {
	char path[109];		/* as bound; "" for an unnamed one, "@name" for abstract */
	uint32_t inode;		/* of the socket */
	uint64_t file_dev;	/* the socket file's device and inode (0: none, */
	uint64_t file_ino;	/* e.g. abstract or unlinked) */
};

/* Every listening unix socket of this network namespace (unix_diag). */
int dg_unix_listeners_scan(struct dg_unix_listener **out, size_t *n);

/* The socket inodes among the open files of process `pid`. 0 or -errno. */
int dg_process_sockets(pid_t pid, uint32_t **out, size_t *n);

/* The processes whose comm is `comm`, in pid order, with their parents. */
struct dg_process {
	pid_t pid;
	pid_t ppid;
};
int dg_processes_named(const char *comm, struct dg_process **out, size_t *n);

/*
 * Whether a container has the file at `path` (which stat() gave `st`) in its
 * mount namespace: a mount whose root within the same filesystem is the file
 * or a directory above it (-v /var/run/docker.sock:…, -v /run:…, -v /:…),
 * from /proc/PID/mountinfo of one process per mount namespace among the
 * processes of container cgroups. *who: such a process. True also when it
 * cannot be told.
 */
bool dg_mounted_in_container(const char *path, const struct stat *st, pid_t *who);

/* A destination the namespace delivers to itself (a `local` route). */
struct dg_local_addr {
	uint8_t addr[16];	/* IPv4 as ::ffff:a.b.c.d */
	uint32_t prefixlen;	/* over the 128 bits: IPv4 /n is 96 + n */
	bool host_only;		/* loopback or unspecified: each namespace has its own */
};

/* The `local` routing table of this namespace, plus 0.0.0.0 and ::. */
int dg_local_addrs_scan(struct dg_local_addr **out, size_t *n);

/* A netlink socket that becomes readable when addresses or routes change;
 * dg_local_addrs_drain() empties it. -errno when it cannot be had. */
int dg_local_addrs_watch(void);
void dg_local_addrs_drain(int fd);

/* The process that holds socket `inode` (the lowest pid among several),
 * with its comm and cgroup v2 path. 0, or -ENOENT. */
struct dg_sock_owner {
	pid_t pid;
	char comm[32];
	char cgroup[512];
};
int dg_socket_owners(const uint32_t *inodes, size_t n, struct dg_sock_owner *out);

/* Whether a connect to addr:port here reaches a listener bound to every
 * address of its family (the host delivers addr to itself and such a
 * listener exists), as the BPF programs judge it; its address into `listener`. */
bool dg_reaches_wildcard_listener(const uint8_t addr[16], uint16_t port, char *listener,
				  size_t len);

/* "0.0.0.0:2375", "[::]:2375", "127.0.0.0/8" (prefixlen < 128) */
const char *dg_inet_format(const uint8_t addr[16], uint16_t port, char *buf, size_t len);
const char *dg_prefix_format(const uint8_t addr[16], uint32_t prefixlen, char *buf, size_t len);
bool dg_addr_is_v4(const uint8_t addr[16]);
bool dg_addr_is_loopback(const uint8_t addr[16]);

#endif
