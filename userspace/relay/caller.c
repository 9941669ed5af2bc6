// SPDX-License-Identifier: GPL-2.0-only
/* Who is at the other end of a relay connection (caller.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "policy/resolve.h"
#include "relay/caller.h"
#include "util/util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77		/* Linux 6.5 */
#endif

/* The pid a pidfd stands for now (-1: exited), from its fdinfo. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[128];
	pid_t pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid:\t%d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* /proc/PID/cgroup's cgroup v2 line ("0::/path"). */
static int read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64], *text = NULL, *line;
	size_t n;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((ret = read_file(path, 64 * 1024, &text, &n)))
		return ret;
	line = strstr(text, "0::");
	ret = -ENOENT;
	if (line && (line == text || line[-1] == '\n')) {
		size_t l = strcspn(line + 3, "\n");
		if (l < len) {
			memcpy(buf, line + 3, l);
			buf[l] = 0;
			ret = 0;
		}
	}
	free(text);
	return ret;
}

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64], *text = NULL;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = 0;
	if (read_file(path, 64, &text, &n) == 0) {
		snprintf(buf, len, "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
	}
}

static char no_cgroup[1];

/* The inode of the socket at the other end of unix socket `fd`, from
 * sock_diag (UNIX_DIAG_PEER). */
static int peer_inode(int fd, uint32_t *out)
{
	struct stat st;
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q;
	char buf[8192];
	ssize_t n;
	int nl, ret = -ENOENT;

	if (fstat(fd, &st) < 0)
		return -errno;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST;
	q.req.sdiag_family = AF_UNIX;
	q.req.udiag_states = ~0U;
	q.req.udiag_ino = (uint32_t)st.st_ino;
	q.req.udiag_show = UDIAG_SHOW_PEER;
	q.req.udiag_cookie[0] = q.req.udiag_cookie[1] = ~0U;	/* INET_DIAG_NOCOOKIE */
	if (send(nl, &q, sizeof(q), 0) < 0 || (n = recv(nl, buf, sizeof(buf), 0)) < 0) {
		ret = -errno;
		close(nl);
		return ret;
	}
	close(nl);
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			break;
		struct unix_diag_msg *m = NLMSG_DATA(h);
		int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
		for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
				memcpy(out, RTA_DATA(a), sizeof(*out));
				ret = 0;
			}
		}
	}
	return ret;
}

/* Whether process `pid` holds socket inode `ino` among its descriptors. */
static bool holds_socket(pid_t pid, uint32_t ino)
{
	char dir[64], path[320], link[64], want[40];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%u]", ino);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		found = !strcmp(link, want);
	}
	closedir(d);
	return found;
}

int dg_caller_of_unix(int fd, struct dg_caller *out, const char **why)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[DG_CALLER_MAX_GROUPS];
	char cgroup[4096];
	int pidfd = -1, ret;

	memset(out, 0, sizeof(*out));
	out->cgroup = no_cgroup;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		*why = "the kernel gave no peer credentials";
		return -errno;
	}
	out->uid = cred.uid;
	out->gid = cred.gid;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		/* ERANGE: more groups than we keep; refused rather than judged
		 * on a part of them */
		*why = errno == ERANGE ? "the caller has more supplementary groups than the relay reads"
				       : "the kernel gave no peer groups";
		return -errno;
	}
	out->n_groups = len / sizeof(gid_t);
	for (size_t i = 0; i < out->n_groups; i++)
		out->groups[i] = groups[i];

	/* The connecting process, by a pidfd the kernel took at connect: no
	 * pid reused since can stand in for it. Older kernels (before 6.5):
	 * a pidfd opened now, on the pid recorded at connect. */
	bool reopened = false;
	uint32_t peer_ino = 0;
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
		if (errno != ENOPROTOOPT) {
			*why = "the kernel gave no pidfd for the peer";
			return -errno;
		}
		if (peer_inode(fd, &peer_ino)) {
			*why = "the kernel did not name the peer's socket (sock_diag)";
			return -ENOENT;
		}
		pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
		if (pidfd < 0) {
			*why = "the connecting process is gone";
			return -ESRCH;
		}
		reopened = true;
	}
	out->pid = pidfd_pid(pidfd);
	if (out->pid <= 0) {
		close(pidfd);
		*why = "the connecting process is gone";
		return -ESRCH;
	}
	ret = read_cgroup(out->pid, cgroup, sizeof(cgroup));
	read_comm(out->pid, out->comm, sizeof(out->comm));
	/* A pid opened after the fact may be another process's by now: it is
	 * the connecting one only if it holds the connecting socket. */
	if (!ret && reopened && !holds_socket(out->pid, peer_ino))
		ret = -ESRCH;
	/* still alive after the reads: they were of that process */
	if (!ret && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		ret = -ESRCH;
	close(pidfd);
	if (ret) {
		*why = ret == -ESRCH ? "the connecting process is gone"
				     : "the connecting process's cgroup could not be read";
		return ret;
	}
	out->cgroup = xstrdup(cgroup);
	return 0;
}

/* An address as the hooks key it: IPv4 as ::ffff:a.b.c.d; port in host order. */
static bool conn_addr(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		memcpy(addr, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/*
 * The path (from the cgroup v2 root, "/system.slice/x.service") of the
 * cgroup with kernel id `id`, through a kernfs file handle: the id names
 * that cgroup only, and a cgroup removed since is not found (ESTALE).
 */
static int cgroup_path_of_id(uint64_t id, char *buf, size_t len)
{
	char root[4096], link[64], path[4096];
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	int mfd, fd, ret = 0;
	ssize_t n;

	if (dg_cgroup2_root(root, sizeof(root)))
		return -ENOENT;
	mfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = 0xfe;	/* FILEID_KERNFS */
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	close(mfd);
	if (ret)
		return ret;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	path[n] = 0;
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (strncmp(path, root, rl) || (path[rl] && path[rl] != '/'))
		return -EXDEV;	/* not under the mount: not ours to name */
	snprintf(buf, len, "%s", path[rl] ? path + rl : "/");
	return strlen(path + rl) < len ? 0 : -ENAMETOOLONG;
}

int dg_caller_of_tcp(int callers_fd, int fd, struct dg_caller *out, const char **why)
{
	struct sockaddr_storage peer, local;
	socklen_t pl = sizeof(peer), ll = sizeof(local);
	struct dg_conn_key key;
	struct dg_tcp_caller rec;
	struct timespec now;
	char cgroup[4096];
	int ret;

	memset(out, 0, sizeof(*out));
	out->cgroup = no_cgroup;
	memset(&key, 0, sizeof(key));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &ll) < 0 ||
	    !conn_addr(&peer, key.saddr, &key.sport) || !conn_addr(&local, key.daddr, &key.dport)) {
		*why = "the connection's addresses could not be read";
		return -EINVAL;
	}
	if (callers_fd < 0 || dg_kernel_take_relay_caller(callers_fd, &key, &rec)) {
		*why = "the hooks recorded no connect for this connection (are they loaded, and "
		       "does the policy protect this address?)";
		return -ENOENT;
	}
	clock_gettime(CLOCK_BOOTTIME, &now);
	if ((uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec - rec.sent_ns >=
	    DG_CALLER_TTL_NS) {
		*why = "the hooks' record of this connect is too old to trust";
		return -ESTALE;
	}
	if (rec.flags & DG_CALLER_CONFLICT) {
		*why = "two sockets (from two network namespaces) connected with this address and "
		       "port; the relay cannot tell which one this is";
		return -EEXIST;
	}
	if ((rec.flags & DG_CALLER_MANY_GROUPS) || rec.n_groups > DG_CALLER_MAX_GROUPS) {
		*why = "the caller has more supplementary groups than the relay reads";
		return -ERANGE;
	}
	out->uid = rec.uid;
	out->gid = rec.gid;
	out->n_groups = rec.n_groups;
	for (size_t i = 0; i < out->n_groups; i++)
		out->groups[i] = rec.groups[i];
	out->pid = (pid_t)rec.tgid;
	snprintf(out->comm, sizeof(out->comm), "%.*s", (int)sizeof(rec.comm), rec.comm);
	if ((ret = cgroup_path_of_id(rec.cgroup_id, cgroup, sizeof(cgroup)))) {
		*why = ret == -ESTALE || ret == -ENOENT ? "the connecting process's cgroup is gone"
							: "the connecting process's cgroup could not be named";
		return ret;
	}
	out->cgroup = xstrdup(cgroup);
	return 0;
}

void dg_caller_fini(struct dg_caller *c)
{
	if (c->cgroup && c->cgroup != no_cgroup)
		free(c->cgroup);
	c->cgroup = no_cgroup;
}

void dg_caller_subject(const struct dg_caller *c, struct dg_subject_id *who)
{
	who->uid = c->uid;
	who->gid = c->gid;
	who->groups = c->groups;
	who->n_groups = c->n_groups;
	who->cgroup = c->cgroup;
}
