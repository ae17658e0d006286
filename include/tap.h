/*
 * Tap backend: the host side of virtio-net (devices/tap.c).  A tap is a
 * Linux TUN/TAP interface in IFF_TAP | IFF_NO_PI | IFF_VNET_HDR mode, so
 * every packet read from or written to a queue fd starts with a 12-byte
 * virtio-net header (struct virtio_net_hdr_mrg_rxbuf, the virtio 1.x
 * header, VIRTIO 1.2 section 5.1.6), followed by the Ethernet frame.  The
 * header is little-endian, which is the host's order on x86.
 * No virtio and no KVM in here; see docs/tap.md.
 *
 * Thread model: a tap has no lock.  tap_open, tap_set_offload and tap_close
 * belong to one thread; each queue fd may then be read and written by the
 * thread that serves that queue.
 */
#ifndef VMM_TAP_H
#define VMM_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct iovec;
struct tap;

#define TAP_VNET_HDR_LEN	12u	/* virtio_net_hdr_mrg_rxbuf */
#define TAP_MAX_QUEUES		16u
#define TAP_NAME_MAX		16u	/* IFNAMSIZ, with the NUL */

/*
 * Offload flags for tap_set_offload: the same values as <linux/if_tun.h>'s
 * TUN_F_* (checked at build time in devices/tap.c), so either may be used.
 * Each one tells the kernel what the guest accepts on receive.
 */
#define TAP_F_CSUM	0x01u	/* partial checksums (VIRTIO_NET_F_GUEST_CSUM) */
#define TAP_F_TSO4	0x02u	/* GUEST_TSO4; needs TAP_F_CSUM */
#define TAP_F_TSO6	0x04u	/* GUEST_TSO6; needs TAP_F_CSUM */
#define TAP_F_TSO_ECN	0x08u	/* GUEST_ECN */
#define TAP_F_UFO	0x10u	/* GUEST_UFO */
#define TAP_F_ALL	(TAP_F_CSUM | TAP_F_TSO4 | TAP_F_TSO6 | \
			 TAP_F_TSO_ECN | TAP_F_UFO)

struct tap_opts {
	/*
	 * "" lets the kernel pick "hull%d" and create the tap.  Otherwise a
	 * name of 1..15 characters from [A-Za-z0-9_.-], not "." or "..":
	 * an existing tap of that name is attached to (a persistent tap made
	 * by `ip tuntap add`), else one is created.
	 */
	char		to_name[TAP_NAME_MAX];
	/*
	 * "" for none.  Else an existing bridge that a tap created here is
	 * added to; attaching to an existing tap with a bridge set is -EEXIST
	 * (the bridging of a persistent tap is its owner's business).
	 */
	char		to_bridge[TAP_NAME_MAX];
	unsigned int	to_queues;	/* 1..TAP_MAX_QUEUES; > 1: IFF_MULTI_QUEUE */
	unsigned int	to_mtu;		/* 0: leave as it is; else 68..65535 */
};

/*
 * Open or create the tap described by *o, with o->to_queues queue fds, all
 * O_NONBLOCK and O_CLOEXEC, the virtio-net header length set to
 * TAP_VNET_HDR_LEN, the MTU set if asked, added to the bridge if asked,
 * and the interface up.  No offloads are enabled: call tap_set_offload
 * once the guest's features are known.
 * Returns 0 and *out (freed by tap_close), or -errno with a one-line
 * message in err (when errlen > 0): -EINVAL for bad options, -EBUSY for a
 * single-queue tap whose queue is held by another fd ("tap0: in use by
 * another process"), -ENODEV for a missing bridge ("bridge br0 does not
 * exist"), -EPERM without CAP_NET_ADMIN, ...  Nothing is left behind on
 * failure: a tap created here is deleted again.
 */
int	tap_open(const struct tap_opts *o, struct tap **out, char *err,
	    size_t errlen);

/*
 * Tell the kernel which offloads the guest accepts (TAP_F_* or TUN_F_*
 * bits), through TUNSETOFFLOAD; 0 turns them all off.  With TAP_F_CSUM
 * off, the kernel completes checksums before handing packets over.
 * Returns 0, -EINVAL for unknown bits or a combination the kernel refuses,
 * or another -errno.
 */
int	tap_set_offload(struct tap *t, unsigned int flags);

/*
 * The fd of queue q (0..queues-1), owned by the tap: do not close it.
 * Returns -EINVAL for a queue that does not exist.
 */
int	tap_fd(const struct tap *t, unsigned int q);

/*
 * Attach (on) or detach queue q of a multi-queue tap (TUNSETQUEUE): the
 * kernel steers packets only to attached queues, and a write to a detached
 * queue fails with -EBADFD.  Every queue starts attached.  Idempotent.
 * Returns 0, or -EINVAL for a queue that does not exist or detaching the
 * queue of a single-queue tap, or another -errno.
 */
int	tap_queue_enable(struct tap *t, unsigned int q, bool on);

/* The interface's current MTU, or -errno. */
int	tap_mtu(const struct tap *t);

/* The number of queues, as asked in to_queues. */
unsigned int	tap_queues(const struct tap *t);

/* The interface name, e.g. "hull0"; valid until tap_close. */
const char	*tap_name(const struct tap *t);

/* True when tap_open created the interface (it goes away at tap_close). */
bool	tap_created(const struct tap *t);

/*
 * One packet: the virtio-net header then the frame, gathered from iov.
 * Retries EINTR.  Returns the byte count, or -errno: -EAGAIN when the
 * kernel queue is full, -EINVAL for a malformed header or frame.
 */
ssize_t	tap_writev(struct tap *t, unsigned int q, const struct iovec *iov,
	    int iovcnt);

/*
 * One packet into iov: the header then the frame, truncated to the iov's
 * size.  Retries EINTR.  Returns the byte count, or -errno: -EAGAIN when
 * nothing is waiting.
 */
ssize_t	tap_readv(struct tap *t, unsigned int q, const struct iovec *iov,
	    int iovcnt);

/*
 * Several reads or writes in one system call (io_uring), for a data path
 * that has several packets or buffers at hand.  tap_batch_init sets up a
 * ring for up to depth of them (at most TAP_BATCH_MAX) while io_uring_setup
 * is still allowed (before the sandbox's seccomp filter); -errno if the
 * kernel or the tap cannot, and then the batch calls go one by one.  A
 * kernel whose tap lacks RWF_NOWAIT (Debian 12's 6.1) batches writes only.
 *
 * tap_readv_batch reads up to n packets from queue q, io[i] filled as
 * tap_readv would (ti_res: the byte count or -errno, -EAGAIN when nothing
 * was waiting), in the order the tap queued them: io[i + 1] holds a later
 * packet than io[i].  A read that failed may be followed by one that did
 * not (a packet that came in between).  tap_writev_batch writes n packets
 * in order, ti_res as tap_writev's.  Not thread-safe: one caller at a time
 * per tap.
 */
#define TAP_BATCH_MAX	64

struct tap_io {
	const struct iovec	*ti_iov;
	int			 ti_iovcnt;
	ssize_t			 ti_res;
};

int	tap_batch_init(struct tap *t, unsigned int depth);
/* After tap_batch_init: whether writes (wr) or reads go in batches. */
bool	tap_batch_can(const struct tap *t, bool wr);
void	tap_readv_batch(struct tap *t, unsigned int q, struct tap_io *io,
	    unsigned int n);
void	tap_writev_batch(struct tap *t, unsigned int q, struct tap_io *io,
	    unsigned int n);

/*
 * Close every queue fd and free t (NULL is allowed).  A tap created here
 * is removed from its bridge and, being non-persistent, deleted by the
 * kernel with its last fd.  An attached persistent tap stays, as found.
 */
void	tap_close(struct tap *t);

/*
 * The process is jailed (vmm/sbx_net.c): its taps are in its own network
 * namespace and it may make no sockets, so tap_close leaves the bridge
 * alone (the namespace's end removes the tap from it anyway).
 */
void	tap_jailed(void);

#endif /* VMM_TAP_H */
