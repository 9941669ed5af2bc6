// SPDX-License-Identifier: GPL-2.0-only
/*
 * dg-probe: a test client that takes on an identity (cgroup, groups, gid,
 * uid) and then connects, binds or listens once, reporting what the kernel
 * said on the first line of stdout: `ok`, `EPERM` or `error ...`.
 * Exit 0 = ok, 1 = EPERM, 2 = any other error.
 *
 *   dg-probe [options] OP PROTO ADDR [PORT]
 *   dg-probe [options] getfd PID FD
 *
 * PROTO: tcp | tcp6 | mptcp | mptcp6 (SOCK_STREAM, IPPROTO_MPTCP) |
 *        unix (stream) | unixdg (datagram) | unixsp (seqpacket)
 * OP:
 *   connect      connect(); for unixdg, connect() then send() one byte
 *   sendto       unixdg: sendto() with the address, no connect()
 *   tfo          sendto(MSG_FASTOPEN): TCP Fast Open's implicit connect
 *   tfo-connect  setsockopt(TCP_FASTOPEN_CONNECT), connect(), write()
 *   repair       setsockopt(TCP_REPAIR) (CAP_NET_ADMIN), connect(): no SYN
 *   uring        io_uring IORING_OP_CONNECT, issued inline by the caller
 *   uring-async  the same with IOSQE_ASYNC: issued by an io-wq worker
 *   uring-sqpoll the same on an IORING_SETUP_SQPOLL ring (kernel SQ thread)
 *   uring-personality  the same with the credentials registered on the ring
 *                (IORING_REGISTER_PERSONALITY) when it was set up
 *   uring-sendto, uring-sendto-async   unixdg: IORING_OP_SENDMSG with the
 *                address, inline or in an io-wq worker (no connect())
 *   ping         connect(), then a "ping" round trip with an echo listener
 *   scm          fork; the parent connects and passes the socket over
 *                SCM_RIGHTS to the child (--peer-uid), which pings on it
 *   getfd        pidfd_getfd() socket FD of process PID, then ping on it
 *   bind         bind()
 *   listen       bind(), listen(), print `listening`, accept and close
 *                (unixdg: receive and drop datagrams)
 *   echo         like listen, but echo every byte back (a thread each)
 *   http         connect(), send --request 'METHOD TARGET' as an HTTP/1.1
 *                request (Connection: close), print `http STATUS BODY` (the
 *                body's first 400 bytes on the same line); exit 0 for 2xx
 *   blackhole    tcp: bind(), listen() behind a socket filter that drops
 *                every segment (no answer, no reset), print `listening`
 *
 * Options:
 *   --cgroup DIR          join DIR first
 *   --groups G,G --gid G --uid U --euid U   identity (real syscalls, so that
 *                         with --thread-euid they change the main thread only)
 *   --chdir DIR           after the identity change
 *   --move-cgroup DIR     socket() in the first cgroup, then join DIR
 *   --thread-euid U       OP runs in a second thread that alone switches its
 *                         effective uid to U (raw setresuid is per thread)
 *   --thread-cgroup DIR   OP runs in a second thread that alone joins DIR (a
 *                         threaded cgroup, through cgroup.threads)
 *   --ring-early          set the io_uring ring up before the identity change
 *   --warm-ring           --ring-early, plus an IOSQE_ASYNC no-op, so that an
 *                         io-wq worker exists before --move-cgroup
 *   --pause-before-socket F   wait until file F exists, then socket()
 *   --pause-before-connect F  socket(), wait for F, then OP
 *   --pause-after-connect F   ping: connect(), wait for F, then the round trip
 *   --fork                fork just before OP; the child performs it
 *   --peer-uid U          scm: the child's uid
 *   --addrlen N           unix: pass N as the address length
 *   --nul-tail STR        unix: sun_path is ADDR, a NUL, then STR (the
 *                         address length covers all of it)
 *   --comm NAME           after the identity change, the task's name (any
 *                         bytes; the kernel keeps the first 15)
 *   --opath FILE          after the identity change, open FILE with O_PATH as
 *                         descriptor 9 (for /proc/self/fd/9 as ADDR)
 *   --repeat N            connect N times (a new socket each) and report the
 *                         last outcome: a load generator for benchmarks
 * A pause prints `paused`, `pid N` (and `fd N` for the socket) on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef DG_HAVE_LIBURING
#include <liburing.h>
#endif

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

struct opts {
	const char *cgroup, *groups, *chdir_to, *move_cg;
	const char *pause_socket, *pause_connect, *pause_after, *opath, *thread_cg;
	const char *nul_tail, *comm, *request;
	long uid, euid, gid, thread_euid, peer_uid, addrlen, repeat;
	int ring_early, warm_ring, fork_op;
	const char *op, *proto, *addr;
	int port;
};

/* The destination, and what socket() needs for it. */
struct target {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} sa;
	socklen_t len;
	int family, type, protocol;
};

static void die(const char *what)
{
	printf("error %s: %s\n", what, strerror(errno));
	exit(2);
}

static int report_errno(int err)
{
	if (err == 0) {
		printf("ok\n");
		return 0;
	}
	if (err == EPERM) {
		printf("EPERM\n");
		return 1;
	}
	printf("error: %s\n", strerror(err));
	return 2;
}

static int report(int ret)
{
	return report_errno(ret == 0 ? 0 : errno);
}

/* Moves the process (cgroup.procs) or the calling thread (cgroup.threads). */
static void join_cgroup_file(const char *dir, const char *file)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die("join cgroup");
	close(fd);
}

static void join_cgroup(const char *dir)
{
	join_cgroup_file(dir, "cgroup.procs");
}

/* Waits (up to a minute) for the test to create `file`. */
static void pause_for(const char *file, int fd)
{
	struct stat st;

	fprintf(stderr, "paused\npid %ld\n", (long)getpid());
	if (fd >= 0)
		fprintf(stderr, "fd %d\n", fd);
	fflush(stderr);
	for (int i = 0; i < 6000; i++) {
		if (stat(file, &st) == 0)
			return;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	errno = ETIMEDOUT;
	die("pause");
}

/*
 * Identity changes through raw system calls: the kernel's setresuid() and
 * setgroups() change the calling thread only (glibc's wrappers broadcast to
 * every thread). With a single thread the two are the same.
 */
static void set_identity(const struct opts *o)
{
	if (o->groups) {
		gid_t list[64];
		size_t n = 0;
		char *copy = strdup(o->groups), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
			list[n++] = (gid_t)atol(t);
		if (syscall(SYS_setgroups, n, list) < 0)
			die("setgroups");
		free(copy);
	} else if (o->uid >= 0 || o->gid >= 0) {
		if (syscall(SYS_setgroups, 0, NULL) < 0)
			die("setgroups");
	}
	if (o->gid >= 0 && syscall(SYS_setresgid, o->gid, o->gid, o->gid) < 0)
		die("setgid");
	if (o->uid >= 0 && syscall(SYS_setresuid, o->uid, o->uid, o->uid) < 0)
		die("setuid");
	if (o->euid >= 0 && syscall(SYS_setresuid, -1, o->euid, -1) < 0)
		die("seteuid");
}

static void parse_target(const struct opts *o, struct target *t)
{
	const char *p = o->proto;

	memset(t, 0, sizeof(*t));
	t->type = SOCK_STREAM;
	if (!strcmp(p, "unix") || !strcmp(p, "unixdg") || !strcmp(p, "unixsp")) {
		t->family = AF_UNIX;
		if (!strcmp(p, "unixdg"))
			t->type = SOCK_DGRAM;
		else if (!strcmp(p, "unixsp"))
			t->type = SOCK_SEQPACKET;
		t->sa.un.sun_family = AF_UNIX;
		/* sun_path need not be NUL-terminated: fill all 108 bytes */
		size_t n = strlen(o->addr);
		if (n > sizeof(t->sa.un.sun_path))
			n = sizeof(t->sa.un.sun_path);
		memcpy(t->sa.un.sun_path, o->addr, n);
		t->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		if (t->len > sizeof(t->sa.un))
			t->len = sizeof(t->sa.un);
		if (o->nul_tail) {
			size_t m = strlen(o->nul_tail);
			if (n + 1 + m > sizeof(t->sa.un.sun_path)) {
				fprintf(stderr, "dg-probe: path and tail do not fit in sun_path\n");
				exit(2);
			}
			memcpy(t->sa.un.sun_path + n + 1, o->nul_tail, m);
			t->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1 + m);
		}
		if (o->addrlen >= 0)
			t->len = (socklen_t)o->addrlen;
		return;
	}
	if (!strcmp(p, "mptcp") || !strcmp(p, "mptcp6"))
		t->protocol = IPPROTO_MPTCP;
	if (!strcmp(p, "tcp") || !strcmp(p, "mptcp")) {
		t->family = AF_INET;
		t->sa.in.sin_family = AF_INET;
		t->sa.in.sin_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET, o->addr, &t->sa.in.sin_addr) != 1)
			die("address");
		t->len = sizeof(t->sa.in);
	} else if (!strcmp(p, "tcp6") || !strcmp(p, "mptcp6")) {
		t->family = AF_INET6;
		t->sa.in6.sin6_family = AF_INET6;
		t->sa.in6.sin6_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET6, o->addr, &t->sa.in6.sin6_addr) != 1)
			die("address");
		t->len = sizeof(t->sa.in6);
	} else {
		fprintf(stderr, "dg-probe: unknown protocol %s\n", p);
		exit(2);
	}
}

static int new_socket(const struct target *t)
{
	int fd = socket(t->family, t->type | SOCK_CLOEXEC, t->protocol);
	if (fd < 0)
		die("socket");
	return fd;
}

/* One "ping" round trip with an echo listener: 0 or an errno. */
static int ping(int fd)
{
	char buf[8];
	size_t got = 0;

	if (write(fd, "ping", 4) != 4)
		return errno ? errno : EIO;
	while (got < 4) {
		ssize_t n = read(fd, buf + got, 4 - got);
		if (n <= 0)
			return n < 0 ? errno : ECONNRESET;
		got += (size_t)n;
	}
	return memcmp(buf, "ping", 4) ? EPROTO : 0;
}

/* ------------------------------------------------------------------ io_uring */

#ifdef DG_HAVE_LIBURING
static struct io_uring ring;
static int ring_ready, ring_personality;

static int ring_setup(const char *op)
{
	struct io_uring_params p;
	int ret;

	memset(&p, 0, sizeof(p));
	if (!strcmp(op, "uring-sqpoll")) {
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 2000;
	}
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret < 0) {
		printf("error io_uring_setup: %s\n", strerror(-ret));
		exit(2);
	}
	if (!strcmp(op, "uring-personality")) {
		ret = io_uring_register_personality(&ring);
		if (ret < 0) {
			printf("error io_uring personality: %s\n", strerror(-ret));
			exit(2);
		}
		ring_personality = ret;
	}
	ring_ready = 1;
	return 0;
}

/* An IOSQE_ASYNC no-op: starts an io-wq worker in the current cgroup. */
static void ring_warm(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;

	if (!sqe)
		return;
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_ASYNC;
	if (io_uring_submit(&ring) < 0 || io_uring_wait_cqe(&ring, &cqe) < 0) {
		printf("error io_uring warm-up\n");
		exit(2);
	}
	io_uring_cqe_seen(&ring, cqe);
}

/* IORING_OP_CONNECT (or SENDMSG) through the ring: 0 or an errno. */
static int uring_connect(const char *op, int fd, const struct target *t)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	if (!ring_ready)
		ring_setup(op);
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		printf("error io_uring: no submission entry\n");
		exit(2);
	}
	/* uring-sendto*: one byte to the address, as sendto() would send it */
	static char byte = 'x';
	static struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	static struct msghdr msg;
	if (!strncmp(op, "uring-sendto", 12)) {
		msg.msg_name = (void *)&t->sa;
		msg.msg_namelen = t->len;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		io_uring_prep_sendmsg(sqe, fd, &msg, 0);
	} else {
		io_uring_prep_connect(sqe, fd, &t->sa.sa, t->len);
	}
	if (!strcmp(op, "uring-async") || !strcmp(op, "uring-sendto-async"))
		sqe->flags |= IOSQE_ASYNC;
	if (!strcmp(op, "uring-personality"))
		sqe->personality = (__u16)ring_personality;
	ret = io_uring_submit(&ring);
	if (ret < 0) {
		printf("error io_uring_submit: %s\n", strerror(-ret));
		exit(2);
	}
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret < 0) {
		printf("error io_uring_wait_cqe: %s\n", strerror(-ret));
		exit(2);
	}
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return ret < 0 ? -ret : 0;
}
#else
static int ring_setup(const char *op)
{
	(void)op;
	return -1;
}

static void ring_warm(void)
{
}

static int uring_connect(const char *op, int fd, const struct target *t)
{
	(void)op, (void)fd, (void)t;
	return -1;
}
#endif

/* ------------------------------------------------------------- listeners */

static void *echo_conn(void *arg)
{
	int c = (int)(long)arg;
	char buf[4096];

	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n <= 0 || write(c, buf, (size_t)n) != n)
			break;
	}
	close(c);
	return NULL;
}

static int serve(int fd, const struct target *t, const struct opts *o)
{
	int one = 1;
	int echo = !strcmp(o->op, "echo");
	int blackhole = !strcmp(o->op, "blackhole");

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &t->sa.sa, t->len) < 0)
		return report(-1);
	if (blackhole) {
		/* runs after the cgroup ingress program: dockguard still judges */
		struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
		struct sock_fprog prog = { .len = 1, .filter = &drop };
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
			return report(-1);
	}
	if (t->type != SOCK_DGRAM && listen(fd, 128) < 0)
		return report(-1);
	printf("listening\n");
	fflush(stdout);
	while (blackhole)
		pause();
	for (;;) {
		if (t->type == SOCK_DGRAM) {
			char buf[512];
			if (recv(fd, buf, sizeof(buf), 0) < 0 && errno != EINTR)
				die("recv");
			continue;
		}
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (!echo) {
			close(c);
			continue;
		}
		pthread_t th;
		if (pthread_create(&th, NULL, echo_conn, (void *)(long)c) != 0)
			close(c);
		else
			pthread_detach(th);
	}
}

/* ---------------------------------------------------------- fd transfer */

static int send_fd(int via, int fd)
{
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(via, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int via)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	int fd = -1;

	if (recvmsg(via, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * scm: the child takes the peer identity and waits; the parent (the options'
 * identity) connects and passes the connected socket; the child pings on it.
 */
static int scm(const struct opts *o, const struct target *t)
{
	int sv[2], status;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		if (syscall(SYS_setgroups, 0, NULL) < 0 ||
		    syscall(SYS_setresgid, o->peer_uid, o->peer_uid, o->peer_uid) < 0 ||
		    syscall(SYS_setresuid, o->peer_uid, o->peer_uid, o->peer_uid) < 0)
			die("peer identity");
		int fd = recv_fd(sv[1]);
		if (fd < 0)
			die("receive fd");
		exit(report_errno(ping(fd)));
	}
	close(sv[1]);
	set_identity(o);
	int fd = new_socket(t);
	if (connect(fd, &t->sa.sa, t->len) < 0) {
		printf("error parent connect: %s\n", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 2;
	}
	if (send_fd(sv[0], fd) < 0)
		die("send fd");
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

static int getfd(const struct opts *o, long pid, int target_fd)
{
	set_identity(o);
	int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
	if (fd < 0)
		return report(-1);
	return report_errno(ping(fd));
}

/* ------------------------------------------------------------- the op */

/* socket(), the pauses, then OP; returns the exit status. */
/* One HTTP/1.1 request on a new connection: the answer's status and body. */
static int http_request(int fd, const struct target *t, const char *request)
{
	char buf[65536], req[1024];
	size_t n = 0;
	ssize_t got;

	if (connect(fd, &t->sa.sa, t->len) < 0)
		return report(-1);
	snprintf(req, sizeof(req), "%s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n",
		 request);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		die("write");
	while (n < sizeof(buf) - 1 && (got = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)got;
	buf[n] = 0;
	int status = 0;
	const char *body = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		printf("error no HTTP answer\n");
		return 2;
	}
	body = body ? body + 4 : "";
	size_t blen = strlen(body);
	while (blen && (body[blen - 1] == '\n' || body[blen - 1] == '\r'))
		blen--;	/* one line: the answer's own newline is not ours */
	printf("http %d %.*s\n", status, (int)(blen > 400 ? 400 : blen), body);
	return status >= 200 && status < 300 ? 0 : 1;
}

static int run(const struct opts *o, const struct target *t, int fd)
{
	const char *op = o->op;

	if (o->pause_socket)
		pause_for(o->pause_socket, -1);
	if (fd < 0)
		fd = new_socket(t);
	if (o->pause_connect)
		pause_for(o->pause_connect, fd);
	if (o->fork_op) {
		int status;
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid > 0) {
			if (waitpid(pid, &status, 0) < 0)
				die("waitpid");
			return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
		}
	}

	if (!strcmp(op, "connect")) {
		int ret = connect(fd, &t->sa.sa, t->len);
		for (long n = 1; n < o->repeat; n++) {
			close(fd);
			fd = new_socket(t);
			ret = connect(fd, &t->sa.sa, t->len);
		}
		if (ret == 0 && t->type == SOCK_DGRAM && send(fd, "x", 1, 0) != 1) {
			printf("error send after connect: %s\n", strerror(errno));
			return 2;
		}
		return report(ret);
	}
	if (!strcmp(op, "sendto"))
		return report(sendto(fd, "x", 1, 0, &t->sa.sa, t->len) == 1 ? 0 : -1);
	if (!strcmp(op, "tfo"))
		return report(sendto(fd, "x", 1, MSG_FASTOPEN, &t->sa.sa, t->len) < 0 ? -1 : 0);
	if (!strcmp(op, "tfo-connect")) {
		int one = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one)) < 0)
			die("TCP_FASTOPEN_CONNECT");
		if (connect(fd, &t->sa.sa, t->len) < 0)
			return report(-1);
		/* the SYN (with the data) leaves at the first write */
		return report(write(fd, "x", 1) == 1 ? 0 : -1);
	}
	if (!strcmp(op, "repair")) {
		int one = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &one, sizeof(one)) < 0)
			die("TCP_REPAIR");
		return report(connect(fd, &t->sa.sa, t->len));
	}
	if (!strncmp(op, "uring", 5))
		return report_errno(uring_connect(op, fd, t));
	if (!strcmp(op, "http"))
		return http_request(fd, t, o->request ? o->request : "GET /_ping");
	if (!strcmp(op, "ping")) {
		if (connect(fd, &t->sa.sa, t->len) < 0)
			return report(-1);
		if (o->pause_after)
			pause_for(o->pause_after, fd);
		return report_errno(ping(fd));
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!strcmp(op, "bind"))
		return report(bind(fd, &t->sa.sa, t->len));
	if (!strcmp(op, "listen") || !strcmp(op, "echo") || !strcmp(op, "blackhole"))
		return serve(fd, t, o);
	fprintf(stderr, "dg-probe: unknown operation %s\n", op);
	return 2;
}

/* --thread-euid: the op runs in a thread with its own effective uid. */
struct thread_job {
	const struct opts *o;
	const struct target *t;
	int fd;
	int result;
	int ready;		/* the thread is waiting for go */
	int go;			/* the main thread took its own identity */
	long main_euid, op_euid;	/* reported after the verdict */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *thread_main(void *arg)
{
	struct thread_job *j = arg;

	pthread_mutex_lock(&j->mu);
	j->ready = 1;
	pthread_cond_broadcast(&j->cv);
	while (!j->go)
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
	/* after the main thread's changes, which were its own */
	if (j->o->thread_cg)
		join_cgroup_file(j->o->thread_cg, "cgroup.threads");
	if (j->o->thread_euid >= 0 && syscall(SYS_setresuid, -1, j->o->thread_euid, -1) < 0)
		die("thread seteuid");
	j->op_euid = syscall(SYS_geteuid);
	j->result = run(j->o, j->t, j->fd);
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: dg-probe [options] OP tcp|tcp6|mptcp|mptcp6|unix|unixdg|unixsp "
			"ADDR [PORT]\n       dg-probe [options] getfd PID FD\n"
			"(see the comment at the top of tests/tools/dg-probe.c)\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = { .uid = -1, .euid = -1, .gid = -1, .thread_euid = -1,
			  .peer_uid = -1, .addrlen = -1, .repeat = 1 };
	int i = 1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		const char *opt = argv[i];
		if (!strcmp(opt, "--ring-early")) {
			o.ring_early = 1;
			continue;
		}
		if (!strcmp(opt, "--warm-ring")) {
			o.ring_early = o.warm_ring = 1;
			continue;
		}
		if (!strcmp(opt, "--fork")) {
			o.fork_op = 1;
			continue;
		}
		if (i + 1 >= argc)
			return usage();
		const char *val = argv[++i];
		if (!strcmp(opt, "--cgroup"))
			o.cgroup = val;
		else if (!strcmp(opt, "--request"))
			o.request = val;
		else if (!strcmp(opt, "--groups"))
			o.groups = val;
		else if (!strcmp(opt, "--gid"))
			o.gid = atol(val);
		else if (!strcmp(opt, "--uid"))
			o.uid = atol(val);
		else if (!strcmp(opt, "--euid"))
			o.euid = atol(val);
		else if (!strcmp(opt, "--chdir"))
			o.chdir_to = val;
		else if (!strcmp(opt, "--move-cgroup"))
			o.move_cg = val;
		else if (!strcmp(opt, "--repeat"))
			o.repeat = atol(val);
		else if (!strcmp(opt, "--thread-euid"))
			o.thread_euid = atol(val);
		else if (!strcmp(opt, "--peer-uid"))
			o.peer_uid = atol(val);
		else if (!strcmp(opt, "--thread-cgroup"))
			o.thread_cg = val;
		else if (!strcmp(opt, "--nul-tail"))
			o.nul_tail = val;
		else if (!strcmp(opt, "--opath"))
			o.opath = val;
		else if (!strcmp(opt, "--comm"))
			o.comm = val;
		else if (!strcmp(opt, "--addrlen"))
			o.addrlen = atol(val);
		else if (!strcmp(opt, "--pause-before-socket"))
			o.pause_socket = val;
		else if (!strcmp(opt, "--pause-before-connect"))
			o.pause_connect = val;
		else if (!strcmp(opt, "--pause-after-connect"))
			o.pause_after = val;
		else {
			fprintf(stderr, "dg-probe: unknown option %s\n", opt);
			return 2;
		}
	}
	if (argc - i >= 3 && !strcmp(argv[i], "getfd")) {
		if (o.cgroup)
			join_cgroup(o.cgroup);
		return getfd(&o, atol(argv[i + 1]), atoi(argv[i + 2]));
	}
	if (argc - i < 3)
		return usage();
	o.op = argv[i];
	o.proto = argv[i + 1];
	o.addr = argv[i + 2];
	o.port = argc - i > 3 ? atoi(argv[i + 3]) : 0;

	struct target t;
	parse_target(&o, &t);
#ifndef DG_HAVE_LIBURING
	if (!strncmp(o.op, "uring", 5)) {
		printf("error: dg-probe was built without liburing (install liburing-dev)\n");
		return 3;
	}
#endif

	/* The thread starts before any identity change, so that it may take
	 * any euid; the main thread's change below is its own (raw syscalls). */
	struct thread_job job = { .o = &o, .t = &t, .fd = -1 };
	pthread_t th;
	int threaded = o.thread_euid >= 0 || o.thread_cg;
	if (threaded) {
		pthread_mutex_init(&job.mu, NULL);
		pthread_cond_init(&job.cv, NULL);
		if (pthread_create(&th, NULL, thread_main, &job) != 0)
			die("pthread_create");
		pthread_mutex_lock(&job.mu);
		while (!job.ready)
			pthread_cond_wait(&job.cv, &job.mu);
		pthread_mutex_unlock(&job.mu);
	}

	if (o.cgroup)
		join_cgroup(o.cgroup);
	if (!strcmp(o.op, "scm"))
		return scm(&o, &t);
	if (o.ring_early)
		ring_setup(o.op);
	if (o.warm_ring)
		ring_warm();

	/* With --move-cgroup the socket is made in the first cgroup and the
	 * process moves (as root, which may) before it takes on the identity. */
	int fd = -1;
	if (o.move_cg) {
		fd = new_socket(&t);
		join_cgroup(o.move_cg);
	}
	set_identity(&o);
	if (o.chdir_to && chdir(o.chdir_to) < 0)
		die("chdir");
	if (o.comm && prctl(PR_SET_NAME, o.comm) < 0)
		die("prctl PR_SET_NAME");
	if (o.opath) {
		int p = open(o.opath, O_PATH);
		if (p < 0 || dup2(p, 9) < 0)
			die("open O_PATH");
	}

	if (!threaded)
		return run(&o, &t, fd);
	job.fd = fd;
	job.main_euid = syscall(SYS_geteuid);
	pthread_mutex_lock(&job.mu);
	job.go = 1;
	pthread_cond_broadcast(&job.cv);
	pthread_mutex_unlock(&job.mu);
	pthread_join(th, NULL);
	printf("main thread euid %ld, op thread euid %ld\n", job.main_euid, job.op_euid);
	return job.result;
}
