// SPDX-License-Identifier: GPL-2.0-only
/* TCP listeners, local destinations and socket owners, as the kernel says. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compile/compile.h"
#include "dockguard_abi.h"
#include "kernel/listeners.h"
#include "util/util.h"

/* TCP_LISTEN in the kernel's state numbering (include/net/tcp_states.h) */
#define DG_TCP_LISTEN 10

bool dg_addr_is_v4(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };
	return !memcmp(addr, prefix, sizeof(prefix));
}

bool dg_addr_is_loopback(const uint8_t addr[16])
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };
	return dg_addr_is_v4(addr) ? addr[12] == 127 : !memcmp(addr, v6_loopback, 16);
}

static bool addr_is_unspecified(const uint8_t addr[16])
{
	static const uint8_t zero[16];
	return !memcmp(addr, zero, 16) ||
	       (dg_addr_is_v4(addr) && !memcmp(addr + 12, zero, 4));
}

static void addr_from_v4(uint8_t addr[16], const void *v4)
{
	memset(addr, 0, 10);
	addr[10] = addr[11] = 0xff;
	memcpy(addr + 12, v4, 4);
}

const char *dg_inet_format(const uint8_t addr[16], uint16_t port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (dg_addr_is_v4(addr)) {
		inet_ntop(AF_INET, addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, port);
	}
	return buf;
}

const char *dg_prefix_format(const uint8_t addr[16], uint32_t prefixlen, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	bool v4 = dg_addr_is_v4(addr);
	uint32_t full = v4 ? 32 : 128, plen = v4 ? prefixlen - 96 : prefixlen;

	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addr + 12 : addr, a, sizeof(a));
	if (plen >= full)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, plen);
	return buf;
}

/* ---- netlink dumps ---------------------------------------------------- */

typedef void (*nl_msg_fn)(const struct nlmsghdr *h, void *ctx);

/* Sends one dump request and hands every answer to `fn`. 0 or -errno. */
static int netlink_dump(int protocol, struct nlmsghdr *req, nl_msg_fn fn, void *ctx)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char buf[32768] __attribute__((aligned(4)));
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	int ret = 0;
	bool done = false;

	if (fd < 0)
		return -errno;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req->nlmsg_seq = 1;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				ret = e->error ? e->error : -EIO;
				done = true;
				break;
			}
			fn(h, ctx);
		}
	}
out:
	close(fd);
	return ret;
}

/* ---- listeners (sock_diag) -------------------------------------------- */

struct listener_list {
	struct dg_listener *v;
	size_t n;
};

static void listener_msg(const struct nlmsghdr *h, void *ctx)
{
	struct listener_list *l = ctx;
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	struct dg_listener li = { 0 };
	bool v6only = false;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->idiag_state != DG_TCP_LISTEN)
		return;
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			v6only = *(const uint8_t *)RTA_DATA(a) != 0;
	li.port = ntohs(m->id.idiag_sport);
	li.inode = m->idiag_inode;
	if (m->idiag_family == AF_INET) {
		addr_from_v4(li.addr, m->id.idiag_src);
		li.families = m->id.idiag_src[0] == 0 ? DG_WILD_V4 : 0;
	} else {
		memcpy(li.addr, m->id.idiag_src, 16);
		li.ipv6_socket = true;
		if (addr_is_unspecified(li.addr))
			li.families = dg_addr_is_v4(li.addr) ? DG_WILD_V4
				      : v6only	       ? DG_WILD_V6
						       : DG_WILD_V4 | DG_WILD_V6;
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = li;
}

int dg_listeners_scan(struct dg_listener **out, size_t *n)
{
	struct listener_list l = { 0 };
	static const int families[] = { AF_INET, AF_INET6 };

	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		struct {
			struct nlmsghdr h;
			struct inet_diag_req_v2 r;
		} req = {
			.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY },
			.r = { .sdiag_family = (uint8_t)families[f], .sdiag_protocol = IPPROTO_TCP,
			       .idiag_states = 1u << DG_TCP_LISTEN },
		};
		int ret = netlink_dump(NETLINK_SOCK_DIAG, &req.h, listener_msg, &l);
		if (ret) {
			free(l.v);
			*out = NULL;
			*n = 0;
			return ret;
		}
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

/* ---- unix listeners (unix_diag) --------------------------------------- */

struct unix_list {
	struct dg_unix_listener *v;
	size_t n;
};

static void unix_msg(const struct nlmsghdr *h, void *ctx)
{
	struct unix_list *l = ctx;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	struct dg_unix_listener u = { .inode = 0 };

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->udiag_state != DG_TCP_LISTEN)
		return;
	u.inode = m->udiag_ino;
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
	for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == UNIX_DIAG_NAME) {
			size_t plen = RTA_PAYLOAD(a);
			const char *name = RTA_DATA(a);
			if (plen > sizeof(u.path) - 1)
				plen = sizeof(u.path) - 1;
			memcpy(u.path, name, plen);
			u.path[plen] = '\0';
			if (plen && name[0] == '\0')
				u.path[0] = '@';	/* abstract */
		} else if (a->rta_type == UNIX_DIAG_VFS && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_vfs)) {
			const struct unix_diag_vfs *v = RTA_DATA(a);
			u.file_ino = v->udiag_vfs_ino;
			/* the kernel's dev_t: major << 20 | minor */
			u.file_dev = makedev(v->udiag_vfs_dev >> 20, v->udiag_vfs_dev & 0xfffff);
		}
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = u;
}

int dg_unix_listeners_scan(struct dg_unix_listener **out, size_t *n)
{
	struct unix_list l = { 0 };
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY },
		.r = { .sdiag_family = AF_UNIX, .udiag_states = 1u << DG_TCP_LISTEN,
		       .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS },
	};
	int ret = netlink_dump(NETLINK_SOCK_DIAG, &req.h, unix_msg, &l);

	if (ret) {
		free(l.v);
		l.v = NULL;
		l.n = 0;
	}
	*out = l.v;
	*n = l.n;
	return ret;
}

/* ---- processes ---------------------------------------------------------- */

int dg_process_sockets(pid_t pid, uint32_t **out, size_t *n)
{
	char dir[64];
	DIR *fds;
	struct dirent *fe;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	fds = opendir(dir);
	if (!fds)
		return -errno;
	while ((fe = readdir(fds))) {
		char link[320], target[64];
		unsigned long ino;
		ssize_t len;

		if (fe->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, fe->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		(*out)[(*n)++] = (uint32_t)ino;
	}
	closedir(fds);
	return 0;
}

int dg_processes_named(const char *comm, struct dg_process **out, size_t *n)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;

	*out = NULL;
	*n = 0;
	if (!proc)
		return -errno;
	while ((de = readdir(proc))) {
		char path[64], *text = NULL;
		size_t len = 0;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		if (read_file(path, 4096, &text, &len))
			continue;
		/* "PID (COMM) STATE PPID ...": COMM may hold spaces and ')' */
		char *open = strchr(text, '('), *close = strrchr(text, ')');
		int ppid = 0;
		if (open && close && close > open &&
		    (size_t)(close - open - 1) == strlen(comm) &&
		    !strncmp(open + 1, comm, strlen(comm)) &&
		    sscanf(close + 1, " %*c %d", &ppid) == 1) {
			*out = xreallocarray(*out, *n + 1, sizeof(**out));
			(*out)[*n].pid = pid;
			(*out)[(*n)++].ppid = (pid_t)ppid;
		}
		free(text);
	}
	closedir(proc);
	return 0;
}

/* ---- mount namespaces ------------------------------------------------- */

/*
 * One mountinfo line: "ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...". ROOT and
 * MOUNTPOINT escape spaces and the like as octal (\040).
 */
static bool mountinfo_fields(char *line, unsigned *major, unsigned *minor, char **root,
			     char **point)
{
	char *save = NULL, *f[5];

	for (int i = 0; i < 5; i++)
		if (!(f[i] = strtok_r(i ? NULL : line, " ", &save)))
			return false;
	if (sscanf(f[2], "%u:%u", major, minor) != 2)
		return false;
	for (int k = 3; k < 5; k++) {	/* unescape \ooo in place */
		char *r = f[k], *w = f[k];
		while (*r) {
			if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
			    r[3] >= '0' && r[3] <= '7') {
				*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
				r += 4;
			} else {
				*w++ = *r++;
			}
		}
		*w = '\0';
	}
	*root = f[3];
	*point = f[4];
	return true;
}

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/* The file's path within its own filesystem, from this process's mounts:
 * the mount holding it (same device, longest mount point) gives the root. */
static char *path_in_filesystem(const char *path, const struct stat *st)
{
	char *text = NULL, *best = NULL;
	size_t len = 0, best_len = 0;

	if (read_file("/proc/self/mountinfo", 4 << 20, &text, &len))
		return NULL;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned major, minor;
		char *root, *point;
		if (!mountinfo_fields(line, &major, &minor, &root, &point) ||
		    makedev(major, minor) != st->st_dev || !path_under(path, point) ||
		    (best && strlen(point) < best_len))
			continue;
		free(best);
		best_len = strlen(point);
		const char *rest = path + (strcmp(point, "/") ? best_len : 0);
		best = xasprintf("%s%s", strcmp(root, "/") ? root : "", rest);
	}
	free(text);
	return best;
}

/* Whether a process runs in a container: a component of its cgroup v2
 * path is named like a container's (dg_cgroup_name_is_container()). */
static bool in_container_cgroup(pid_t pid)
{
	char p[64], *text = NULL;
	size_t len = 0;
	bool yes = false;

	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if (read_file(p, 65536, &text, &len))
		return false;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !yes;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3))
			continue;
		for (char *c = line + 3; *c && !yes;) {
			while (*c == '/')
				c++;
			size_t n = strcspn(c, "/");
			yes = n && dg_cgroup_name_is_container(c, n);
			c += n;
		}
	}
	free(text);
	return yes;
}

bool dg_mounted_in_container(const char *path, const struct stat *st, pid_t *who)
{
	char *inner = path_in_filesystem(path, st);
	struct stat self_ns;
	uint64_t *seen = NULL;
	size_t n_seen = 0;
	bool found = false;
	DIR *proc;
	struct dirent *de;

	struct stat self_root;
	if (!inner || stat("/proc/self/ns/mnt", &self_ns) || stat("/", &self_root) ||
	    !(proc = opendir("/proc"))) {
		free(inner);
		return true;	/* cannot tell: say it may be */
	}
	while (!found && (de = readdir(proc))) {
		char p[64], *text = NULL;
		size_t len = 0;
		struct stat ns;
		pid_t pid = (pid_t)atoi(de->d_name);
		bool dup = false;

		if (pid <= 0 || !in_container_cgroup(pid))
			continue;
		snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
		if (stat(p, &ns) || ns.st_ino == self_ns.st_ino)
			continue;
		/* `runc init` before pivot_root: in the container's cgroup, its
		 * new mount namespace still a copy of the host's, its root the
		 * host's. What the container will see is read once it has its own. */
		struct stat proot;
		snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
		if (stat(p, &proot) ||
		    (proot.st_dev == self_root.st_dev && proot.st_ino == self_root.st_ino))
			continue;
		for (size_t i = 0; i < n_seen && !dup; i++)
			dup = seen[i] == ns.st_ino;
		if (dup)
			continue;
		seen = xreallocarray(seen, n_seen + 1, sizeof(*seen));
		seen[n_seen++] = ns.st_ino;
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
		if (read_file(p, 4 << 20, &text, &len))
			continue;
		for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !found;
		     line = strtok_r(NULL, "\n", &save)) {
			unsigned major, minor;
			char *root, *point;
			if (mountinfo_fields(line, &major, &minor, &root, &point) &&
			    makedev(major, minor) == st->st_dev && path_under(inner, root)) {
				found = true;
				*who = pid;
			}
		}
		free(text);
	}
	closedir(proc);
	free(seen);
	free(inner);
	return found;
}

/* ---- local destinations (the `local` routing table) ------------------- */

struct local_list {
	struct dg_local_addr *v;
	size_t n;
};

static void local_add(struct local_list *l, const uint8_t addr[16], uint32_t prefixlen)
{
	struct dg_local_addr *a;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].prefixlen == prefixlen && !memcmp(l->v[i].addr, addr, 16))
			return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	a = &l->v[l->n++];
	memcpy(a->addr, addr, 16);
	a->prefixlen = prefixlen;
	a->host_only = dg_addr_is_loopback(addr) || addr_is_unspecified(addr);
}

static void route_msg(const struct nlmsghdr *h, void *ctx)
{
	struct local_list *l = ctx;
	const struct rtmsg *r = NLMSG_DATA(h);
	uint32_t table;
	uint8_t addr[16] = { 0 };
	bool have_dst = false;

	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*r)) ||
	    r->rtm_type != RTN_LOCAL)
		return;
	table = r->rtm_table;
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*r)));
	for (const struct rtattr *a = RTM_RTA(r); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_TABLE && RTA_PAYLOAD(a) >= 4)
			memcpy(&table, RTA_DATA(a), 4);
		if (a->rta_type == RTA_DST) {
			if (r->rtm_family == AF_INET && RTA_PAYLOAD(a) >= 4) {
				addr_from_v4(addr, RTA_DATA(a));
				have_dst = true;
			} else if (r->rtm_family == AF_INET6 && RTA_PAYLOAD(a) >= 16) {
				memcpy(addr, RTA_DATA(a), 16);
				have_dst = true;
			}
		}
	}
	if (table != RT_TABLE_LOCAL || !have_dst)
		return;
	local_add(l, addr, r->rtm_family == AF_INET ? 96u + r->rtm_dst_len : r->rtm_dst_len);
}

int dg_local_addrs_scan(struct dg_local_addr **out, size_t *n)
{
	static const int families[] = { AF_INET, AF_INET6 };
	static const uint8_t v4_any[16] = { [10] = 0xff, [11] = 0xff }, v6_any[16] = { 0 };
	struct local_list l = { 0 };

	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		struct {
			struct nlmsghdr h;
			struct rtmsg r;
		} req = {
			.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETROUTE },
			.r = { .rtm_family = (uint8_t)families[f], .rtm_table = RT_TABLE_LOCAL },
		};
		int ret = netlink_dump(NETLINK_ROUTE, &req.h, route_msg, &l);
		/* a kernel without IPv6 has no such table: not an error */
		if (ret && !(families[f] == AF_INET6 && ret == -EAFNOSUPPORT)) {
			free(l.v);
			*out = NULL;
			*n = 0;
			return ret;
		}
	}
	/* connect(0.0.0.0) and connect(::) are delivered to the host itself */
	local_add(&l, v4_any, 128);
	local_add(&l, v6_any, 128);
	*out = l.v;
	*n = l.n;
	return 0;
}

int dg_local_addrs_watch(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
			     RTMGRP_IPV6_ROUTE,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

void dg_local_addrs_drain(int fd)
{
	char buf[8192];

	/* what changed does not matter: the whole table is read again */
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		;
}

static bool prefix_contains(const struct dg_local_addr *p, const uint8_t addr[16])
{
	uint32_t bytes = p->prefixlen / 8, bits = p->prefixlen % 8;

	if (memcmp(p->addr, addr, bytes))
		return false;
	return !bits || ((p->addr[bytes] ^ addr[bytes]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

bool dg_reaches_wildcard_listener(const uint8_t addr[16], uint16_t port, char *listener,
				  size_t len)
{
	struct dg_local_addr *local = NULL;
	struct dg_listener *ls = NULL;
	size_t n_local = 0, n_ls = 0;
	bool is_local = false, found = false;
	uint8_t fam = dg_addr_is_v4(addr) ? DG_WILD_V4 : DG_WILD_V6;

	if (dg_local_addrs_scan(&local, &n_local) == 0)
		for (size_t i = 0; i < n_local && !is_local; i++)
			is_local = prefix_contains(&local[i], addr);
	if (is_local && dg_listeners_scan(&ls, &n_ls) == 0)
		for (size_t i = 0; i < n_ls && !found; i++)
			if (ls[i].port == port && (ls[i].families & fam)) {
				found = true;
				dg_inet_format(ls[i].addr, port, listener, len);
			}
	free(local);
	free(ls);
	return found;
}

/* ---- socket owners ---------------------------------------------------- */

static void read_comm_cgroup(pid_t pid, struct dg_sock_owner *o)
{
	char path[64], *text = NULL;
	size_t len = 0;

	o->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_file(path, 4096, &text, &len) == 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(o->comm, sizeof(o->comm), "%s", text);
	}
	free(text);
	text = NULL;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_file(path, 65536, &text, &len) == 0) {
		/* the cgroup v2 line: "0::/system.slice/docker.service" */
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
			if (!strncmp(line, "0::", 3))
				snprintf(o->cgroup, sizeof(o->cgroup), "%s", line + 3);
	}
	free(text);
}

int dg_socket_owners(const uint32_t *inodes, size_t n, struct dg_sock_owner *out)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	size_t found = 0;

	for (size_t i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if (!proc)
		return -errno;
	/* /proc lists pids in ascending order: the first holder is the lowest */
	while (found < n && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		uint32_t *socks;
		size_t n_socks;

		if (pid <= 0 || dg_process_sockets(pid, &socks, &n_socks))
			continue;
		for (size_t k = 0; k < n_socks; k++)
			for (size_t i = 0; i < n; i++)
				if (inodes[i] == socks[k] && !out[i].pid) {
					found++;
					read_comm_cgroup(pid, &out[i]);
				}
		free(socks);
	}
	closedir(proc);
	return found ? 0 : -ENOENT;
}
