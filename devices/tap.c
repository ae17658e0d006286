/*
 * Tap backend for virtio-net: a Linux TUN/TAP interface (the kernel's
 * Documentation/networking/tuntap.rst) opened with IFF_TAP | IFF_NO_PI |
 * IFF_VNET_HDR, so that each packet carries the 12-byte virtio-net header
 * of VIRTIO 1.2 section 5.1.6 (struct virtio_net_hdr_mrg_rxbuf) before the
 * Ethernet frame, with one fd per queue (IFF_MULTI_QUEUE) when asked.
 * Interface setup (MTU, bridge port, IFF_UP) uses the classic ioctls on a
 * throw-away datagram socket rather than rtnetlink: a few ioctls suffice.
 * See include/tap.h for the contract and docs/tap.md.
 *
 * Locking: none; see include/tap.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>

#include <linux/if_tun.h>
#include <linux/sockios.h>

#include "tap.h"

_Static_assert(TAP_F_CSUM == TUN_F_CSUM, "TAP_F_CSUM");
_Static_assert(TAP_F_TSO4 == TUN_F_TSO4, "TAP_F_TSO4");
_Static_assert(TAP_F_TSO6 == TUN_F_TSO6, "TAP_F_TSO6");
_Static_assert(TAP_F_TSO_ECN == TUN_F_TSO_ECN, "TAP_F_TSO_ECN");
_Static_assert(TAP_F_UFO == TUN_F_UFO, "TAP_F_UFO");
_Static_assert(TAP_NAME_MAX == IFNAMSIZ, "TAP_NAME_MAX");

#define TAP_DEV		"/dev/net/tun"
#define TAP_AUTONAME	"hull%d"
#define TAP_MTU_MIN	68u	/* IPv4's minimum (RFC 791) */
#define TAP_MTU_MAX	65535u

struct tap {
	char		tp_name[IFNAMSIZ];
	char		tp_bridge[IFNAMSIZ];	/* "" unless we added it */
	bool		tp_created;
	unsigned int	tp_nqueues;
	int		tp_fd[TAP_MAX_QUEUES];
	/* Batches: several reads or writes per call (NULL: one by one). */
	struct io_uring	*tp_ring;
	unsigned int	tp_ring_depth;
	int		tp_rwf;		/* RWF_NOWAIT, or 0 (tap_batch_probe) */
	bool		tp_batch_rd, tp_batch_wr;
};

static void __attribute__((format(printf, 3, 4)))
tap_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * An interface name we are willing to pass on: NUL-terminated within
 * IFNAMSIZ, non-empty, from a conservative set of characters (the kernel
 * also takes others, but '/', ':', '%' and spaces all have a meaning
 * somewhere: sysfs paths, aliases, templates, shell commands).
 */
static bool
tap_name_ok(const char *s)
{
	size_t i, len;

	if (memchr(s, '\0', IFNAMSIZ) == NULL)
		return false;
	len = strlen(s);
	if (len == 0 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return false;
	}
	return true;
}

static int
tap_check_opts(const struct tap_opts *o, char *err, size_t errlen)
{
	if (o->to_name[0] != '\0' && !tap_name_ok(o->to_name)) {
		tap_err(err, errlen, "tap name \"%.*s\": want 1..%u characters "
		    "from [A-Za-z0-9_.-]", IFNAMSIZ, o->to_name,
		    IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (o->to_bridge[0] != '\0' && !tap_name_ok(o->to_bridge)) {
		tap_err(err, errlen, "bridge name \"%.*s\": want 1..%u "
		    "characters from [A-Za-z0-9_.-]", IFNAMSIZ, o->to_bridge,
		    IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (o->to_queues < 1 || o->to_queues > TAP_MAX_QUEUES) {
		tap_err(err, errlen, "tap queues %u: want 1..%u",
		    o->to_queues, TAP_MAX_QUEUES);
		return -EINVAL;
	}
	if (o->to_mtu != 0 &&
	    (o->to_mtu < TAP_MTU_MIN || o->to_mtu > TAP_MTU_MAX)) {
		tap_err(err, errlen, "tap mtu %u: want %u..%u", o->to_mtu,
		    TAP_MTU_MIN, TAP_MTU_MAX);
		return -EINVAL;
	}
	return 0;
}

/* A socket for the SIOC* interface ioctls; any family would do. */
static int
tap_ctl_socket(void)
{
	int s;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return s < 0 ? -errno : s;
}

static int
tap_ifreq(int s, unsigned long req, const char *name, struct ifreq *ifr)
{
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	return ioctl(s, req, ifr) < 0 ? -errno : 0;
}

/*
 * Attach one queue fd to the tap named in ifr.  The first queue of a named
 * tap tries IFF_TUN_EXCL first, which fails with EBUSY if the name exists:
 * that tells "created" from "attached" without a window in between.
 */
static int
tap_attach_queue(struct tap *t, unsigned int q, const char *name,
    char *err, size_t errlen)
{
	struct ifreq ifr;
	short flags;
	int fd, r;

	fd = open(TAP_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		tap_err(err, errlen, "%s: %s", TAP_DEV, strerror(-r));
		return r;
	}
	flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (t->tp_nqueues > 1)
		flags |= IFF_MULTI_QUEUE;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	r = -EBUSY;
	if (q == 0 && strcmp(name, TAP_AUTONAME) != 0) {
		ifr.ifr_flags = flags | IFF_TUN_EXCL;
		r = ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
		if (r == 0)
			t->tp_created = true;
	} else if (q == 0) {
		ifr.ifr_flags = flags;
		r = ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
		if (r == 0)
			t->tp_created = true;
	}
	if (r == -EBUSY) {
		/* It exists (or q > 0): attach to it. */
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		ifr.ifr_flags = flags;
		r = ioctl(fd, TUNSETIFF, &ifr) < 0 ? -errno : 0;
	}
	switch (r) {
	case 0:
		break;
	case -EBUSY:
		tap_err(err, errlen, "%s: in use by another process", name);
		goto err_close_fd;
	case -EINVAL:
		tap_err(err, errlen, "%s: exists but is not a tap, or is one "
		    "%s IFF_MULTI_QUEUE", name,
		    t->tp_nqueues > 1 ? "without" : "with");
		goto err_close_fd;
	case -EPERM:
		tap_err(err, errlen, "%s: not allowed (the tap belongs to "
		    "another user, or CAP_NET_ADMIN is missing)", name);
		goto err_close_fd;
	case -E2BIG:
		tap_err(err, errlen, "%s: no room for queue %u", name, q);
		goto err_close_fd;
	default:
		tap_err(err, errlen, "%s: TUNSETIFF: %s", name, strerror(-r));
		goto err_close_fd;
	}
	if (q == 0)
		snprintf(t->tp_name, sizeof(t->tp_name), "%s", ifr.ifr_name);
	t->tp_fd[q] = fd;
	return 0;

err_close_fd:
	close(fd);
	return r;
}

/* Set the MTU, join the bridge and bring the link up, in that order. */
static int
tap_setup_link(struct tap *t, const struct tap_opts *o, int s, char *err,
    size_t errlen)
{
	struct ifreq ifr;
	int ifindex, r;

	if (o->to_mtu != 0) {
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_mtu = (int)o->to_mtu;
		r = tap_ifreq(s, SIOCSIFMTU, t->tp_name, &ifr);
		if (r < 0) {
			tap_err(err, errlen, "%s: cannot set MTU %u: %s",
			    t->tp_name, o->to_mtu, strerror(-r));
			return r;
		}
	}
	if (o->to_bridge[0] != '\0') {
		memset(&ifr, 0, sizeof(ifr));
		r = tap_ifreq(s, SIOCGIFINDEX, t->tp_name, &ifr);
		if (r < 0) {
			tap_err(err, errlen, "%s: SIOCGIFINDEX: %s",
			    t->tp_name, strerror(-r));
			return r;
		}
		ifindex = ifr.ifr_ifindex;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_ifindex = ifindex;
		r = tap_ifreq(s, SIOCBRADDIF, o->to_bridge, &ifr);
		switch (r) {
		case 0:
			snprintf(t->tp_bridge, sizeof(t->tp_bridge), "%s",
			    o->to_bridge);
			break;
		case -ENODEV:
			tap_err(err, errlen, "bridge %s does not exist",
			    o->to_bridge);
			return r;
		case -EOPNOTSUPP:
		case -EINVAL:
			tap_err(err, errlen, "%s is not a bridge",
			    o->to_bridge);
			return r;
		default:
			tap_err(err, errlen, "%s: cannot join bridge %s: %s",
			    t->tp_name, o->to_bridge, strerror(-r));
			return r;
		}
	}
	memset(&ifr, 0, sizeof(ifr));
	r = tap_ifreq(s, SIOCGIFFLAGS, t->tp_name, &ifr);
	if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		r = tap_ifreq(s, SIOCSIFFLAGS, t->tp_name, &ifr);
	}
	if (r < 0) {
		tap_err(err, errlen, "%s: cannot bring the link up: %s",
		    t->tp_name, strerror(-r));
		return r;
	}
	return 0;
}

int
tap_open(const struct tap_opts *o, struct tap **out, char *err,
    size_t errlen)
{
	struct ifreq ifr;
	struct tap *t;
	unsigned int q;
	int hdrlen, r, s;

	*out = NULL;
	r = tap_check_opts(o, err, errlen);
	if (r < 0)
		return r;

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		tap_err(err, errlen, "tap: out of memory");
		return -ENOMEM;
	}
	for (q = 0; q < TAP_MAX_QUEUES; q++)
		t->tp_fd[q] = -1;
	t->tp_nqueues = o->to_queues;

	s = tap_ctl_socket();
	if (s < 0) {
		r = s;
		tap_err(err, errlen, "tap: socket: %s", strerror(-r));
		goto err_free;
	}
	/* A missing bridge fails before a tap exists. */
	if (o->to_bridge[0] != '\0') {
		memset(&ifr, 0, sizeof(ifr));
		r = tap_ifreq(s, SIOCGIFINDEX, o->to_bridge, &ifr);
		if (r < 0) {
			if (r == -ENODEV)
				tap_err(err, errlen, "bridge %s does not exist",
				    o->to_bridge);
			else
				tap_err(err, errlen, "bridge %s: %s",
				    o->to_bridge, strerror(-r));
			goto err_close_sock;
		}
	}

	for (q = 0; q < t->tp_nqueues; q++) {
		r = tap_attach_queue(t, q, q == 0 ? (o->to_name[0] != '\0' ?
		    o->to_name : TAP_AUTONAME) : t->tp_name, err, errlen);
		if (r < 0)
			goto err_close_fds;
		if (q == 0 && !t->tp_created && o->to_bridge[0] != '\0') {
			r = -EEXIST;
			tap_err(err, errlen, "%s: exists; a bridge is only "
			    "joined by a tap hull creates", t->tp_name);
			goto err_close_fds;
		}
	}

	/* The device's header length; 10 (no num_buffers) is the default. */
	hdrlen = TAP_VNET_HDR_LEN;
	if (ioctl(t->tp_fd[0], TUNSETVNETHDRSZ, &hdrlen) < 0) {
		r = -errno;
		tap_err(err, errlen, "%s: TUNSETVNETHDRSZ: %s", t->tp_name,
		    strerror(-r));
		goto err_close_fds;
	}
	/* An attached tap may carry offloads from its last user. */
	r = tap_set_offload(t, 0);
	if (r < 0) {
		tap_err(err, errlen, "%s: TUNSETOFFLOAD: %s", t->tp_name,
		    strerror(-r));
		goto err_close_fds;
	}
	r = tap_setup_link(t, o, s, err, errlen);
	if (r < 0)
		goto err_close_fds;

	close(s);
	*out = t;
	return 0;

err_close_fds:
	/* tap_close leaves the bridge and closes; the kernel deletes. */
	close(s);
	tap_close(t);
	return r;
err_close_sock:
	close(s);
err_free:
	free(t);
	return r;
}

int
tap_set_offload(struct tap *t, unsigned int flags)
{
	if (flags & ~TAP_F_ALL)
		return -EINVAL;
	/* The offloads belong to the device, so one fd sets them all. */
	if (ioctl(t->tp_fd[0], TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	return 0;
}

int
tap_queue_enable(struct tap *t, unsigned int q, bool on)
{
	struct ifreq ifr;

	if (q >= t->tp_nqueues)
		return -EINVAL;
	if (t->tp_nqueues == 1)
		return on ? 0 : -EINVAL;	/* not a multi-queue tap */
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(t->tp_fd[q], TUNSETQUEUE, &ifr) < 0)
		/* Attaching an attached queue, or the reverse, is EINVAL. */
		return errno == EINVAL ? 0 : -errno;
	return 0;
}

int
tap_mtu(const struct tap *t)
{
	struct ifreq ifr;
	int s, r;

	s = tap_ctl_socket();
	if (s < 0)
		return s;
	memset(&ifr, 0, sizeof(ifr));
	r = tap_ifreq(s, SIOCGIFMTU, t->tp_name, &ifr);
	close(s);
	return r < 0 ? r : ifr.ifr_mtu;
}

int
tap_fd(const struct tap *t, unsigned int q)
{
	if (q >= t->tp_nqueues)
		return -EINVAL;
	return t->tp_fd[q];
}

unsigned int
tap_queues(const struct tap *t)
{
	return t->tp_nqueues;
}

const char *
tap_name(const struct tap *t)
{
	return t->tp_name;
}

bool
tap_created(const struct tap *t)
{
	return t->tp_created;
}

ssize_t
tap_writev(struct tap *t, unsigned int q, const struct iovec *iov,
    int iovcnt)
{
	ssize_t n;

	if (q >= t->tp_nqueues)
		return -EINVAL;
	do
		n = writev(t->tp_fd[q], iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t
tap_readv(struct tap *t, unsigned int q, const struct iovec *iov,
    int iovcnt)
{
	ssize_t n;

	if (q >= t->tp_nqueues)
		return -EINVAL;
	do
		n = readv(t->tp_fd[q], iov, iovcnt);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Set by the jail: the taps left the host's namespace (and sockets). */
static bool	tap_no_host;

void
tap_jailed(void)
{
	tap_no_host = true;
}

static void
tap_batch_off(struct tap *t)
{
	if (t->tp_ring == NULL)
		return;
	io_uring_queue_exit(t->tp_ring);
	free(t->tp_ring);
	t->tp_ring = NULL;
	t->tp_ring_depth = 0;
	t->tp_batch_rd = t->tp_batch_wr = false;
}

void
tap_close(struct tap *t)
{
	struct ifreq ifr;
	unsigned int q;
	int s;

	if (t == NULL)
		return;
	/*
	 * Deleting the tap removes it from the bridge anyway; leaving first
	 * covers a queue fd that outlives us in a forked child.  Best
	 * effort: a sandbox may no longer allow the socket.
	 */
	if (t->tp_bridge[0] != '\0' && !tap_no_host) {
		s = tap_ctl_socket();
		if (s >= 0) {
			memset(&ifr, 0, sizeof(ifr));
			ifr.ifr_ifindex = (int)if_nametoindex(t->tp_name);
			if (ifr.ifr_ifindex > 0)
				(void)tap_ifreq(s, SIOCBRDELIF, t->tp_bridge,
				    &ifr);
			close(s);
		}
	}
	for (q = 0; q < TAP_MAX_QUEUES; q++)
		if (t->tp_fd[q] >= 0)
			close(t->tp_fd[q]);
	tap_batch_off(t);
	free(t);
}

/*
 * Collect the results of the n calls just submitted (user_data i for
 * io[i]) into io[].ti_res.  A call that did not complete during the submit
 * is cancelled and waited for (-EAGAIN if the cancel took it), said first
 * when what names the calls (so a wait that never ends shows in the log).
 * Returns true if all n completed during the submit.
 */
static bool
tap_ring_reap(struct tap *t, struct tap_io *io, unsigned int n,
    const char *what)
{
	struct io_uring_cqe *cqe;
	bool seen[TAP_BATCH_MAX] = { false };
	unsigned int i, done = 0;

	while (done < n && io_uring_peek_cqe(t->tp_ring, &cqe) == 0) {
		i = (unsigned int)io_uring_cqe_get_data64(cqe);
		if (i < n && !seen[i]) {
			seen[i] = true;
			io[i].ti_res = cqe->res;
			done++;
		}
		io_uring_cqe_seen(t->tp_ring, cqe);
	}
	if (done == n)
		return true;
	if (what != NULL)
		fprintf(stderr, "hull: tap %s: a %s did not complete at once; "
		    "one call per packet from now on\n", t->tp_name, what);
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe;

		if (seen[i])
			continue;
		sqe = io_uring_get_sqe(t->tp_ring);
		if (sqe == NULL)
			break;
		io_uring_prep_cancel64(sqe, i, 0);
		io_uring_sqe_set_data64(sqe, UINT64_MAX);
	}
	(void)io_uring_submit(t->tp_ring);
	/* Every call ends, cancelled or done; then the cancels. */
	while (done < n && io_uring_wait_cqe(t->tp_ring, &cqe) == 0) {
		i = (unsigned int)io_uring_cqe_get_data64(cqe);
		if (i < n && !seen[i]) {
			seen[i] = true;
			io[i].ti_res = cqe->res == -ECANCELED ? -EAGAIN :
			    cqe->res;
			done++;
		}
		io_uring_cqe_seen(t->tp_ring, cqe);
	}
	while (io_uring_peek_cqe(t->tp_ring, &cqe) == 0)
		io_uring_cqe_seen(t->tp_ring, cqe);
	return false;
}

/*
 * A call of no bytes on queue 0: a read (answered 0, nothing taken) or a
 * write (refused, -EINVAL: shorter than a vnet header; nothing sent).  Its
 * result, or 1 if it did not complete during the submit (then it is
 * cancelled, and waited for).
 */
static int
tap_probe(struct tap *t, int rwf, bool wr)
{
	struct iovec iov = { NULL, 0 };
	struct io_uring_sqe *sqe = io_uring_get_sqe(t->tp_ring);
	struct tap_io io = { &iov, 1, -EAGAIN };
	int rc;

	if (wr)
		io_uring_prep_writev2(sqe, t->tp_fd[0], &iov, 1, 0, rwf);
	else
		io_uring_prep_readv2(sqe, t->tp_fd[0], &iov, 1, 0, rwf);
	io_uring_sqe_set_data64(sqe, 0);
	rc = io_uring_submit(t->tp_ring);
	if (rc < 0)
		return rc;
	return tap_ring_reap(t, &io, 1, NULL) ? (int)io.ti_res : 1;
}

/*
 * What io_uring can do for this tap without waiting.  With RWF_NOWAIT,
 * which a tap takes where it says it can (FMODE_NOWAIT, newer kernels),
 * reads and writes.  Without (Debian 12's 6.1), a read with nothing
 * queued would wait for a packet even on an O_NONBLOCK fd, so reads go
 * one by one; a write never waits for a tap and runs inline all the same,
 * which the probe write shows by completing at once.  Returns 0, or
 * -errno when neither can be batched.
 */
static int
tap_batch_probe(struct tap *t)
{
	int rc;

	rc = tap_probe(t, RWF_NOWAIT, false);
	if (rc == 0) {
		t->tp_rwf = RWF_NOWAIT;
		t->tp_batch_rd = t->tp_batch_wr = true;
		return 0;
	}
	if (rc != -EOPNOTSUPP)
		return rc < 0 ? rc : -EIO;
	rc = tap_probe(t, 0, true);
	if (rc != -EINVAL)
		return rc < 0 ? rc : -EOPNOTSUPP;
	t->tp_rwf = 0;
	t->tp_batch_wr = true;
	return 0;
}

bool
tap_batch_can(const struct tap *t, bool wr)
{
	return t->tp_ring != NULL && (wr ? t->tp_batch_wr : t->tp_batch_rd);
}

int
tap_batch_init(struct tap *t, unsigned int depth)
{
	struct io_uring *r;
	int rc;

	if (t->tp_ring != NULL)
		return 0;
	if (depth == 0 || depth > TAP_BATCH_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	rc = io_uring_queue_init(depth, r, 0);
	if (rc < 0) {
		free(r);
		return rc;
	}
	t->tp_ring = r;
	t->tp_ring_depth = depth;
	rc = tap_batch_probe(t);
	if (rc < 0)
		tap_batch_off(t);
	return rc;
}

/*
 * Without io_uring: one call after the other; reads stop at an empty
 * queue.
 */
static void
tap_rw_each(struct tap *t, unsigned int q, struct tap_io *io, unsigned int n,
    bool wr)
{
	unsigned int i;
	bool stop = false;

	for (i = 0; i < n; i++) {
		io[i].ti_res = stop ? -EAGAIN : wr ?
		    tap_writev(t, q, io[i].ti_iov, io[i].ti_iovcnt) :
		    tap_readv(t, q, io[i].ti_iov, io[i].ti_iovcnt);
		if (!wr && io[i].ti_res == -EAGAIN)
			stop = true;
	}
}

/*
 * Asked not to wait (tap_batch_probe), io_uring runs each call inline
 * during the submit, in order, and completes it with its result or -EAGAIN
 * (it neither waits nor hands the call to a worker): reads get packets in
 * the order the tap queued them, writes queue theirs in the order given,
 * as one by one.  A kernel that left a call pending anyway would break
 * that promise: the pending ones are cancelled, and the tap goes one by
 * one for good.
 */
static void
tap_rw_batch(struct tap *t, unsigned int q, struct tap_io *io, unsigned int n,
    bool wr)
{
	unsigned int i;
	int rc;

	/* One call: readv or writev costs the same system call. */
	if (n <= 1 || !tap_batch_can(t, wr) || q >= t->tp_nqueues ||
	    n > t->tp_ring_depth) {
		tap_rw_each(t, q, io, n, wr);
		return;
	}
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(t->tp_ring);

		/* The ring is empty between calls: there is room for n. */
		if (wr)
			io_uring_prep_writev2(sqe, t->tp_fd[q], io[i].ti_iov,
			    (unsigned int)io[i].ti_iovcnt, 0, t->tp_rwf);
		else
			io_uring_prep_readv2(sqe, t->tp_fd[q], io[i].ti_iov,
			    (unsigned int)io[i].ti_iovcnt, 0, t->tp_rwf);
		io_uring_sqe_set_data64(sqe, i);
		io[i].ti_res = -EAGAIN;
	}
	do
		rc = io_uring_submit(t->tp_ring);
	while (rc == -EINTR);
	if (rc < 0) {
		/* Nothing was submitted: do it one by one. */
		fprintf(stderr, "hull: tap %s: io_uring submit: %s; one call "
		    "per packet from now on\n", t->tp_name, strerror(-rc));
		tap_batch_off(t);
		tap_rw_each(t, q, io, n, wr);
		return;
	}
	if (!tap_ring_reap(t, io, n, wr ? "write" : "read")) {
		tap_batch_off(t);
		return;
	}
	/* Refused after all (tap_batch_probe said yes). */
	for (i = 0; i < n && io[i].ti_res == -EOPNOTSUPP; i++)
		;
	if (i < n)
		return;
	fprintf(stderr, "hull: tap %s: io_uring refuses the call; one call "
	    "per packet from now on\n", t->tp_name);
	tap_batch_off(t);
	tap_rw_each(t, q, io, n, wr);
}

void
tap_readv_batch(struct tap *t, unsigned int q, struct tap_io *io,
    unsigned int n)
{
	tap_rw_batch(t, q, io, n, false);
}

void
tap_writev_batch(struct tap *t, unsigned int q, struct tap_io *io,
    unsigned int n)
{
	tap_rw_batch(t, q, io, n, true);
}
