/*
 * A device harness for virtio-net (virtio 1.2 §5.1) without KVM: this
 * program is the *driver*.  It lays out a receive and a transmit split
 * virtqueue (§2.7) in a host buffer that stands in for guest RAM
 * (gm_init), creates Hull's virtio-net model (virtio/net.c) on a real tap
 * inside a network namespace of its own (unshare(CLONE_NEWNET), so the
 * host's network is never touched), and moves packets for a fixed time as
 * a Linux guest's virtio_net driver would.  With --raw the same frames go
 * straight to or from a tap fd with the 12-byte vnet header instead, no
 * virtio: the baseline.  It prints packets/s and Gbit/s.
 *
 * Frames are IPv4: UDP up to 1514 bytes; beyond, TCP with GSO_TCPV4 and
 * gso_size 1448 (the 64 KiB case is 65214 bytes, 45 segments of 1448 plus
 * 54 bytes of headers, the largest TSO packet a Linux TCP sender makes with
 * the legacy 64 KiB GSO limit; a tap refuses GSO skbs of 65536 bytes or
 * more on its transmit side).
 *
 * Transmit (-d tx): every frame carries a virtio_net_hdr with NEEDS_CSUM,
 * one readable buffer per frame (header and frame together,
 * as Linux does when the skb has headroom).  The frames are addressed to
 * another host's MAC, so the tap's kernel side drops them at ip_rcv: the
 * sink is the cheapest one, which shows the VMM's own cost most plainly.
 * The driver keeps the 256-entry ring full and waits for the next
 * completion while it is (Linux's napi_tx).
 *
 * Receive (-d rx): a packet socket (PACKET_VNET_HDR, PACKET_QDISC_BYPASS)
 * bound to the tap injects a burst of frames, as a host-side sender would
 * (the 64 KiB frames as TCP GSO packets, which the tap hands over whole
 * because the driver negotiated GUEST_TSO4); then the clock runs while the
 * reader drains the tap's queue.  The sender is idle while the clock runs,
 * so the rate is the reader's alone on this 2-CPU class of machine: the
 * I/O thread and the driver (the guest's vCPU) on one side, the raw
 * reader on the other.  The driver posts mergeable buffers (MRG_RXBUF) of
 * 1536 bytes, or 4096 for 64 KiB frames (as Linux's EWMA sizing ends up),
 * reaps used entries NAPI-style and reposts them.
 *
 * What stands in for the transport (virtio/pci.c, not linked): kicks are
 * eventfds the model's I/O thread (struct ioloop) watches and answers with
 * model->notify(), as an ioeventfd would; virtio_dev_interrupt() writes an
 * eventfd the driver sleeps on, as an irqfd would.  The driver acks what
 * the model offers except the control queue and MQ, plus VERSION_1 and
 * EVENT_IDX.
 *
 * Usage: net_harness -d tx|rx -s FRAME_BYTES [-t SECONDS] [--raw]
 *	  [--no-guest-tso] [--spin-us N]
 * Output: one line, "harness dir=... size=... mode=hull|raw pkts=...
 * secs=... pps=... gbps=... dev_ns=... drv_ns=... kicks=... irqs=..."
 * (gbps counts Ethernet frame bytes, without the vnet header, 10^9 bits
 * per second; dev_ns is CPU time per packet of the model's I/O thread, or
 * of the raw loop's thread, while the clock ran, and drv_ns the driver's:
 * unlike the rates, these hold up when other work shares the CPUs).
 * Exit 77 when namespaces or /dev/net/tun are not available.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>

#include "gm.h"
#include "ioloop.h"
#include "spec.h"
#include "tap.h"
#include "virtio.h"
#include "../../virtio/net.h"

#define NH_QSIZE	256		/* the model's VNET_QSIZE_MAX */
#define NH_RXQ		0
#define NH_TXQ		1
#define NH_RING_GPA(q)	(0x10000ULL * (q))	/* desc, avail +4K, used +8K */
#define NH_TXBUF_GPA	0x100000ULL
#define NH_TXSTRIDE	(68u << 10)	/* one frame of up to 64 KiB each */
#define NH_RXBUF_GPA	(NH_TXBUF_GPA + (uint64_t)NH_QSIZE * NH_TXSTRIDE)
#define NH_RXBUF_MAX	4096u
#define NH_MEM		((NH_RXBUF_GPA + NH_QSIZE * NH_RXBUF_MAX + \
			  (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1))
#define NH_MAX_FRAME	65536u
#define NH_GSO_SIZE	1448u		/* MSS of a 1500-byte MTU */
#define NH_TAPNAME	"hbench0"
#define NH_STALL_MS	2000		/* no progress this long: give up */

extern const struct virtio_model virtio_net_model;

struct nh_desc {
	uint64_t	d_addr;
	uint32_t	d_len;
	uint16_t	d_flags;
	uint16_t	d_next;
};

struct nh_used_elem {
	uint32_t	u_id;
	uint32_t	u_len;
};

/* The driver's side of one split queue. */
struct nh_ring {
	unsigned int		 r_q;
	struct nh_desc		*r_desc;
	uint16_t		*r_avail_idx, *r_avail_ring, *r_used_event;
	uint16_t		*r_used_idx;
	struct nh_used_elem	*r_used_ring;
	uint16_t		*r_avail_event;
	uint16_t		 r_next_avail;	/* our copy of avail->idx */
	uint16_t		 r_kicked_avail; /* avail->idx at the last check */
	uint16_t		 r_last_used;
	int			 r_kickfd;	/* driver -> I/O thread */
	int			 r_irqfd;	/* device -> driver */
	uint64_t		 r_kicks, r_irqs;
};

struct nh_kick {
	struct nh	*k_h;
	unsigned int	 k_q;
};

struct nh {
	struct gm		 h_gm;
	uint8_t			*h_mem;
	struct virtio_dev	 h_dev;
	struct ioloop		*h_loop;
	void			*h_priv;
	struct nh_ring		 h_ring[2];
	struct nh_kick		 h_kick[2];
	/* Workload. */
	bool			 h_tx, h_raw, h_guest_tso;
	uint32_t		 h_size;	/* Ethernet frame bytes */
	uint32_t		 h_rxbuf;	/* receive buffer bytes */
	double			 h_secs;
	struct tap		*h_tap;		/* --raw: ours */
	int			 h_psock;	/* rx: the host-side sender */
	uint8_t			*h_frame;	/* the frame, for raw and rx */
	uint8_t			 h_hdr[12];	/* its vnet header */
	/* CPU seconds spent while the clock ran. */
	int			 h_io_tid;	/* the model's I/O thread */
	double			 h_cpu_dev;	/* I/O thread, or raw's thread */
	double			 h_cpu_drv;	/* the driver (hull only) */
};

static volatile int	nh_broken;
static unsigned int	nh_spin_us;	/* --spin-us */
static int		nh_irq[2] = { -1, -1 };

/* ---- the transport's half, without a transport ------------------------- */

void
virtio_dev_interrupt(struct virtio_dev *vd, unsigned int q)
{
	uint64_t one = 1;

	(void)vd;
	if (q < 2)
		(void)!write(nh_irq[q], &one, sizeof(one));
}

void
virtio_dev_needs_reset(struct virtio_dev *vd, const char *why)
{
	uint64_t one = 1;

	(void)vd;
	fprintf(stderr, "net_harness: device needs reset: %s\n", why);
	__atomic_store_n(&nh_broken, 1, __ATOMIC_SEQ_CST);
	(void)!write(nh_irq[0], &one, sizeof(one));
	(void)!write(nh_irq[1], &one, sizeof(one));
}

int
virtio_dev_kick_fd(struct virtio_dev *vd, unsigned int q)
{
	(void)vd;
	(void)q;
	return -1;		/* no vhost here */
}

int
virtio_dev_irqfd(struct virtio_dev *vd, unsigned int q)
{
	(void)vd;
	(void)q;
	return -1;
}

/* ---- small helpers ------------------------------------------------------ */

static double
nh_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread, seconds. */
static double
nh_cpu_self(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of thread tid of this process (schedstat), seconds; 0 if none. */
static double
nh_cpu_tid(int tid)
{
	char path[64], buf[128];
	ssize_t n;
	int fd;

	if (tid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtod(buf, NULL) / 1e9;
}

/* The one thread of this process that is not the caller: the I/O thread. */
static int
nh_other_tid(void)
{
	int self = (int)gettid(), found = -1, tid;
	struct dirent *de;
	DIR *d;

	d = opendir("/proc/self/task");
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		tid = atoi(de->d_name);
		if (tid > 0 && tid != self)
			found = tid;
	}
	closedir(d);
	return found;
}

static void
nh_die(const char *what)
{
	fprintf(stderr, "net_harness: %s\n", what);
	exit(1);
}

static int
nh_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

/* The tap's kernel counters (rtnl_link_stats), by interface name. */
static struct rtnl_link_stats
nh_if_stats(const char *name)
{
	struct rtnl_link_stats st;
	struct ifaddrs *ifa, *p;

	memset(&st, 0, sizeof(st));
	if (getifaddrs(&ifa) < 0)
		return st;
	for (p = ifa; p != NULL; p = p->ifa_next)
		if (p->ifa_addr != NULL && p->ifa_addr->sa_family ==
		    AF_PACKET && p->ifa_data != NULL &&
		    strcmp(p->ifa_name, name) == 0)
			memcpy(&st, p->ifa_data, sizeof(st));
	freeifaddrs(ifa);
	return st;
}

static uint16_t
nh_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * An IPv4 frame of len bytes from 10.0.0.1 to 10.0.0.2, UDP (tcp false)
 * or TCP, to dst, its L4 checksum field holding the pseudo-header sum
 * (what a driver leaves for NEEDS_CSUM), and the matching vnet header.
 */
static void
nh_build(uint8_t *f, uint32_t len, bool tcp, const uint8_t dst[6],
    uint8_t hdr[12])
{
	uint32_t iplen = len - 14, l4len = len - 34, i, l4hl = tcp ? 20 : 8;
	uint16_t s;

	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memcpy(f + 14, "\x45\x00\x00\x00\x12\x34\x40\x00\x40\x00\x00\x00"
	    "\x0a\x00\x00\x01\x0a\x00\x00\x02", 20);
	f[16] = (uint8_t)(iplen >> 8);
	f[17] = (uint8_t)iplen;
	f[23] = tcp ? 6 : 17;
	{
		uint32_t sum = 0;

		for (i = 0; i < 20; i += 2)
			sum += (uint32_t)(f[14 + i] << 8 | f[15 + i]);
		s = (uint16_t)~nh_csum_fold(sum);
	}
	f[24] = (uint8_t)(s >> 8);
	f[25] = (uint8_t)s;
	memset(f + 34, 0, l4hl);
	memcpy(f + 34, "\x04\xd2\x16\x2e", 4);	/* ports 1234 -> 5678 */
	if (tcp) {
		f[38] = 0x01;		/* seq */
		f[46] = 0x50;		/* data offset 5 */
		f[47] = 0x18;		/* PSH | ACK */
		f[48] = 0xff;		/* window */
		f[49] = 0xff;
	} else {
		f[38] = (uint8_t)(l4len >> 8);
		f[39] = (uint8_t)l4len;
	}
	for (i = 34 + l4hl; i < len; i++)
		f[i] = (uint8_t)(i * 7);
	s = nh_csum_fold(0x0a00 + 0x0001 + 0x0a00 + 0x0002 +
	    (tcp ? 6u : 17u) + l4len);
	f[34 + (tcp ? 16 : 6)] = (uint8_t)(s >> 8);
	f[34 + (tcp ? 16 : 6) + 1] = (uint8_t)s;

	memset(hdr, 0, 12);
	hdr[0] = 1;				/* NEEDS_CSUM */
	hdr[6] = 34;				/* csum_start */
	hdr[8] = tcp ? 16 : 6;			/* csum_offset */
	if (tcp && len > 34 + 20 + NH_GSO_SIZE) {
		hdr[1] = 1;			/* GSO_TCPV4 */
		hdr[2] = 54;			/* hdr_len */
		hdr[4] = NH_GSO_SIZE & 0xff;	/* gso_size */
		hdr[5] = NH_GSO_SIZE >> 8;
	}
}

/* vring_need_event (§2.7.10). */
static bool
nh_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* ---- the driver's rings ------------------------------------------------- */

static void
nh_ring_layout(struct nh *h, unsigned int q)
{
	struct nh_ring *r = &h->h_ring[q];
	uint8_t *base = h->h_mem + NH_RING_GPA(q + 1);

	r->r_q = q;
	r->r_desc = (struct nh_desc *)(void *)base;
	r->r_avail_idx = (uint16_t *)(void *)(base + 0x1000) + 1;
	r->r_avail_ring = r->r_avail_idx + 1;
	r->r_used_event = r->r_avail_ring + NH_QSIZE;
	r->r_used_idx = (uint16_t *)(void *)(base + 0x2000) + 1;
	r->r_used_ring = (struct nh_used_elem *)(void *)(base + 0x2004);
	r->r_avail_event = (uint16_t *)(void *)(r->r_used_ring + NH_QSIZE);
}

static void
nh_add(struct nh_ring *r, uint16_t head)
{
	r->r_avail_ring[r->r_next_avail % NH_QSIZE] = head;
	r->r_next_avail++;
}

/* Publish what nh_add() queued and kick if the device asked for it. */
static void
nh_publish(struct nh_ring *r)
{
	uint16_t old = r->r_kicked_avail, new_idx = r->r_next_avail;
	uint64_t one = 1;

	if (old == new_idx)
		return;
	__atomic_store_n(r->r_avail_idx, new_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r->r_kicked_avail = new_idx;
	if (!nh_need_event(__atomic_load_n(r->r_avail_event,
	    __ATOMIC_ACQUIRE), new_idx, old))
		return;
	r->r_kicks++;
	(void)!write(r->r_kickfd, &one, sizeof(one));
}

static void
nh_kick_cb(void *arg)
{
	struct nh_kick *k = arg;
	uint64_t v;

	(void)!read(k->k_h->h_ring[k->k_q].r_kickfd, &v, sizeof(v));
	virtio_net_model.notify(k->k_h->h_priv, k->k_q);
}

/* Whether the device has used more than delay entries past last_used. */
static bool
nh_used_past(const struct nh_ring *r, uint16_t delay)
{
	return (uint16_t)(__atomic_load_n(r->r_used_idx, __ATOMIC_ACQUIRE) -
	    r->r_last_used) > delay ||
	    __atomic_load_n(&nh_broken, __ATOMIC_SEQ_CST);
}

/*
 * Wait until the device has used the entry at last_used + delay: spin for
 * nh_spin_us first (a vCPU takes an interrupt in microseconds; a thread
 * woken through an eventfd on this host takes far longer, which would
 * idle the device between batches), then sleep on the interrupt eventfd.
 * false after NH_STALL_MS of nothing.
 */
static bool
nh_wait(struct nh_ring *r, uint16_t delay)
{
	struct pollfd pfd = { .fd = r->r_irqfd, .events = POLLIN };
	double until;
	unsigned int i;
	uint64_t v;

	__atomic_store_n(r->r_used_event, (uint16_t)(r->r_last_used + delay),
	    __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* Past used_event already: the device will not interrupt for it. */
	if (nh_used_past(r, delay))
		return true;
	if (nh_spin_us > 0) {
		until = nh_now() + nh_spin_us / 1e6;
		for (i = 1;; i++) {
			if (nh_used_past(r, delay))
				return true;
			__builtin_ia32_pause();
			if (i % 64 == 0 && nh_now() >= until)
				break;
		}
	}
	if (poll(&pfd, 1, NH_STALL_MS) != 1)
		return false;
	if (read(r->r_irqfd, &v, sizeof(v)) == sizeof(v))
		r->r_irqs++;
	return true;
}

/* ---- transmit ----------------------------------------------------------- */

static uint64_t
nh_tx_hull(struct nh *h)
{
	struct nh_ring *r = &h->h_ring[NH_TXQ];
	uint16_t free_slot[NH_QSIZE];
	unsigned int nfree = 0, i;
	uint64_t done = 0;
	double t1;
	bool stop = false;

	for (i = 0; i < NH_QSIZE; i++) {
		uint8_t *b = h->h_mem + NH_TXBUF_GPA + (uint64_t)NH_TXSTRIDE * i;

		memcpy(b, h->h_hdr, 12);
		memcpy(b + 12, h->h_frame, h->h_size);
		r->r_desc[i] = (struct nh_desc){ NH_TXBUF_GPA +
		    (uint64_t)NH_TXSTRIDE * i, 12 + h->h_size, 0, 0 };
		free_slot[nfree++] = (uint16_t)i;
	}
	h->h_cpu_dev = -nh_cpu_tid(h->h_io_tid);
	h->h_cpu_drv = -nh_cpu_self();
	t1 = nh_now() + h->h_secs;
	for (;;) {
		uint16_t end = __atomic_load_n(r->r_used_idx, __ATOMIC_ACQUIRE);

		while (r->r_last_used != end) {
			struct nh_used_elem *e = &r->r_used_ring[r->r_last_used %
			    NH_QSIZE];

			if (e->u_id >= NH_QSIZE || e->u_len != 0)
				nh_die("bad transmit completion");
			free_slot[nfree++] = (uint16_t)e->u_id;
			r->r_last_used++;
			if (!stop)
				done++;
		}
		if (!stop && nh_now() >= t1) {
			stop = true;
			h->h_cpu_dev += nh_cpu_tid(h->h_io_tid);
			h->h_cpu_drv += nh_cpu_self();
		}
		if (stop && r->r_last_used == r->r_next_avail)
			break;
		if (!stop) {
			while (nfree > 0)
				nh_add(r, free_slot[--nfree]);
			nh_publish(r);
		}
		if (__atomic_load_n(&nh_broken, __ATOMIC_SEQ_CST))
			nh_die("device broken");
		/*
		 * Full: wait for the next completion, as Linux's napi_tx does
		 * (virtqueue_napi_complete leaves used_event at last_used).
		 * A delayed event (3/4 of the ring, enable_cb_delayed) idles
		 * the device between batches here: each refill then costs a
		 * kick.
		 */
		if (!nh_wait(r, 0))
			nh_die("transmit stalled");
	}
	return done;
}

/*
 * The baseline: the same frames written straight to the tap, from as many
 * buffers as the ring has slots (the same memory footprint as the guest's
 * transmit buffers, so neither side has the cache to itself).
 */
static uint64_t
nh_tx_raw(struct nh *h)
{
	uint8_t *mem = malloc((size_t)NH_QSIZE * NH_TXSTRIDE);
	struct iovec iov[2] = { { h->h_hdr, 12 }, { NULL, h->h_size } };
	uint64_t done = 0;
	double t1;
	unsigned int i;
	ssize_t n;

	if (mem == NULL)
		nh_die("out of memory");
	for (i = 0; i < NH_QSIZE; i++)
		memcpy(mem + (size_t)NH_TXSTRIDE * i, h->h_frame, h->h_size);
	h->h_cpu_dev = -nh_cpu_self();
	t1 = nh_now() + h->h_secs;
	for (;;) {
		for (i = 0; i < NH_QSIZE; i++) {
			iov[1].iov_base = mem + (size_t)NH_TXSTRIDE * i;
			n = tap_writev(h->h_tap, 0, iov, 2);
			if (n != (ssize_t)(12 + h->h_size)) {
				fprintf(stderr, "net_harness: tap write: %zd\n",
				    n);
				exit(1);
			}
			done++;
			if (i % 64 == 63 && nh_now() >= t1) {
				h->h_cpu_dev += nh_cpu_self();
				free(mem);
				return done;
			}
		}
	}
}

/* ---- receive ------------------------------------------------------------ */

/* Packets in one burst: what the tap's queue holds (txqueuelen). */
static unsigned int
nh_burst(const struct nh *h)
{
	return h->h_size > 4096 ? 1024 : 16384;
}

/* Send n frames into the tap from the host side; returns those queued. */
static unsigned int
nh_inject(struct nh *h, const char *ifname, unsigned int n)
{
	struct rtnl_link_stats a, b;
	static uint8_t pkt[10 + NH_MAX_FRAME];
	size_t len = 10 + h->h_size;
	unsigned int i;

	/* struct virtio_net_hdr (10 bytes) for the packet socket. */
	memcpy(pkt, h->h_hdr, 10);
	memcpy(pkt + 10, h->h_frame, h->h_size);
	a = nh_if_stats(ifname);
	for (i = 0; i < n; i++)
		if (send(h->h_psock, pkt, len, 0) != (ssize_t)len) {
			perror("net_harness: packet socket send");
			exit(1);
		}
	b = nh_if_stats(ifname);
	return n - (unsigned int)(b.tx_dropped - a.tx_dropped);
}

/*
 * Reap used receive entries, repost their buffers; count whole packets
 * and check that each is 12 + size bytes.  Returns packets completed.
 */
static unsigned int
nh_rx_reap(struct nh *h, unsigned int *left_in_pkt, uint32_t *pkt_len)
{
	struct nh_ring *r = &h->h_ring[NH_RXQ];
	uint16_t end = __atomic_load_n(r->r_used_idx, __ATOMIC_ACQUIRE);
	unsigned int pkts = 0;

	while (r->r_last_used != end) {
		struct nh_used_elem *e = &r->r_used_ring[r->r_last_used %
		    NH_QSIZE];
		uint8_t *b;

		if (e->u_id >= NH_QSIZE || e->u_len > h->h_rxbuf)
			nh_die("bad receive completion");
		b = h->h_mem + NH_RXBUF_GPA + (uint64_t)h->h_rxbuf * e->u_id;
		if (*left_in_pkt == 0) {
			uint16_t nb;

			memcpy(&nb, b + 10, 2);
			if (nb == 0 || e->u_len < 12)
				nh_die("bad num_buffers");
			*left_in_pkt = nb;
			*pkt_len = 0;
		}
		*pkt_len += e->u_len;
		if (--*left_in_pkt == 0) {
			if (*pkt_len != 12 + h->h_size) {
				fprintf(stderr, "net_harness: received %u "
				    "bytes, want %u\n", *pkt_len,
				    12 + h->h_size);
				exit(1);
			}
			pkts++;
		}
		nh_add(r, (uint16_t)e->u_id);
		r->r_last_used++;
	}
	return pkts;
}

static uint64_t
nh_rx_hull(struct nh *h, double *secs)
{
	struct nh_ring *r = &h->h_ring[NH_RXQ];
	unsigned int i, left = 0, want, got;
	uint32_t plen = 0;
	uint64_t done = 0;
	double t0;

	for (i = 0; i < NH_QSIZE; i++) {
		r->r_desc[i] = (struct nh_desc){ NH_RXBUF_GPA +
		    (uint64_t)h->h_rxbuf * i, h->h_rxbuf, VIRTQ_DESC_F_WRITE,
		    0 };
		nh_add(r, (uint16_t)i);
	}
	nh_publish(r);
	*secs = 0;
	while (*secs < h->h_secs) {
		/*
		 * The burst: the device takes what its posted buffers hold,
		 * then waits for more; those packets are not timed.
		 */
		want = nh_inject(h, NH_TAPNAME, nh_burst(h));
		got = nh_rx_reap(h, &left, &plen);
		h->h_cpu_dev -= nh_cpu_tid(h->h_io_tid);
		h->h_cpu_drv -= nh_cpu_self();
		t0 = nh_now();
		nh_publish(r);
		while (got < want) {
			if (!nh_wait(r, 0))
				nh_die("receive stalled");
			if (__atomic_load_n(&nh_broken, __ATOMIC_SEQ_CST))
				nh_die("device broken");
			i = nh_rx_reap(h, &left, &plen);
			got += i;
			done += i;
			nh_publish(r);
		}
		*secs += nh_now() - t0;
		h->h_cpu_dev += nh_cpu_tid(h->h_io_tid);
		h->h_cpu_drv += nh_cpu_self();
	}
	return done;
}

/*
 * The baseline: read() each packet into one buffer, the next one along a
 * region the size of the guest's receive buffers (same cache footprint).
 */
static uint64_t
nh_rx_raw(struct nh *h, double *secs)
{
	size_t region = (size_t)NH_QSIZE * h->h_rxbuf, max = 12 + NH_MAX_FRAME;
	uint8_t *mem = malloc(region + max);
	struct pollfd pfd = { .fd = tap_fd(h->h_tap, 0), .events = POLLIN };
	unsigned int want, got;
	uint64_t done = 0;
	size_t off = 0;
	ssize_t n;
	double t0;

	if (mem == NULL)
		nh_die("out of memory");
	memset(mem, 0, region + max);
	*secs = 0;
	while (*secs < h->h_secs) {
		want = nh_inject(h, tap_name(h->h_tap), nh_burst(h));
		h->h_cpu_dev -= nh_cpu_self();
		t0 = nh_now();
		for (got = 0; got < want; ) {
			n = read(pfd.fd, mem + off, max);
			if (n < 0 && errno == EAGAIN) {
				if (poll(&pfd, 1, NH_STALL_MS) != 1)
					nh_die("raw receive stalled");
				continue;
			}
			if (n != (ssize_t)(12 + h->h_size)) {
				fprintf(stderr, "net_harness: raw read %zd, "
				    "want %u\n", n, 12 + h->h_size);
				exit(1);
			}
			got++;
			off += ((size_t)n + h->h_rxbuf - 1) / h->h_rxbuf *
			    h->h_rxbuf;
			if (off >= region)
				off = 0;
		}
		*secs += nh_now() - t0;
		h->h_cpu_dev += nh_cpu_self();
		done += got;
	}
	free(mem);
	return done;
}

/* ---- setup -------------------------------------------------------------- */

/* A packet socket on ifname that sends frames with a virtio_net_hdr. */
static int
nh_packet_socket(const char *ifname)
{
	struct sockaddr_ll sll;
	int s, one = 1;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (s < 0)
		nh_die("packet socket");
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = 0;	/* send only: receive nothing */
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (sll.sll_ifindex == 0 ||
	    bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one,
	    sizeof(one)) < 0 ||
	    setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
	    sizeof(one)) < 0)
		nh_die("packet socket setup");
	return s;
}

/* Room for a whole burst in the tap's queue (tun sizes it by txqueuelen). */
static void
nh_txqueuelen(const char *ifname, int len)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_qlen = len;
	if (s < 0 || ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
		nh_die("SIOCSIFTXQLEN");
	close(s);
}

static int
nh_netns(void)
{
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "net_harness: unshare(CLONE_NEWNET): %s\n",
		    strerror(errno));
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "net_harness: /dev/net/tun: %s\n",
		    strerror(errno));
		return -1;
	}
	close(fd);
	/* No IPv6 chatter into the measurement. */
	(void)nh_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6",
	    "1");
	return 0;
}

/* Create the model on a tap, negotiate like Linux, DRIVER_OK. */
static void
nh_device_up(struct nh *h)
{
	static struct nic_spec ns;
	struct virtio_create vc;
	char err[256] = "";
	unsigned int nq, q;
	size_t cfg_size;
	uint64_t feat;

	snprintf(ns.ns_tap, sizeof(ns.ns_tap), "%s", NH_TAPNAME);
	ns.ns_queues = 1;
	vc = (struct virtio_create){ .vc_spec = &ns, .vc_nvcpus = 1,
	    .vc_loop = h->h_loop, .vc_vmname = "bench", .vc_err = err,
	    .vc_errlen = sizeof(err) };
	h->h_dev.vd_model = &virtio_net_model;
	h->h_dev.vd_gm = &h->h_gm;
	if (virtio_net_model.create(&h->h_dev, &vc, &h->h_priv, &nq,
	    &cfg_size) < 0) {
		fprintf(stderr, "net_harness: %s\n", err);
		exit(1);
	}
	h->h_dev.vd_priv = h->h_priv;
	h->h_dev.vd_nqueues = nq;
	feat = virtio_net_model.features(h->h_priv);
	feat &= ~((1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ) |
	    (1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
	if (!h->h_guest_tso)
		feat &= ~((1ULL << VIRTIO_NET_F_GUEST_TSO4) |
		    (1ULL << VIRTIO_NET_F_GUEST_TSO6) |
		    (1ULL << VIRTIO_NET_F_GUEST_ECN));
	if (!(feat & (1ULL << VIRTIO_NET_F_CSUM)) ||
	    !(feat & (1ULL << VIRTIO_NET_F_MRG_RXBUF)))
		nh_die("the model offers no checksum offload or MRG_RXBUF");
	feat |= (1ULL << VIRTIO_F_VERSION_1) |
	    (1ULL << VIRTIO_RING_F_EVENT_IDX);
	h->h_dev.vd_acked = feat;
	for (q = 0; q < 2; q++) {
		struct nh_ring *r = &h->h_ring[q];

		nh_ring_layout(h, q);
		if (virtq_setup(&h->h_dev.vd_vq[q], &h->h_gm, NH_QSIZE,
		    NH_RING_GPA(q + 1), NH_RING_GPA(q + 1) + 0x1000,
		    NH_RING_GPA(q + 1) + 0x2000, feat) < 0)
			nh_die("virtq_setup");
		nh_irq[q] = r->r_irqfd = eventfd(0, EFD_CLOEXEC);
		r->r_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		h->h_kick[q] = (struct nh_kick){ h, q };
		if (r->r_irqfd < 0 || r->r_kickfd < 0 ||
		    ioloop_add(h->h_loop, r->r_kickfd, nh_kick_cb,
		    &h->h_kick[q]) < 0)
			nh_die("kick/irq eventfds");
	}
	if (virtio_net_model.activate(h->h_priv, feat) < 0)
		nh_die("activate");
}

/* Every frame written reached the tap's kernel side. */
static void
nh_check_tx(const char *ifname, uint64_t written)
{
	struct rtnl_link_stats st = nh_if_stats(ifname);

	if (st.rx_packets != written || st.rx_dropped != 0) {
		fprintf(stderr, "net_harness: %" PRIu64 " frames written, the "
		    "tap counted %u received and %u dropped\n", written,
		    st.rx_packets, st.rx_dropped);
		exit(1);
	}
}

static void
nh_usage(void)
{
	fprintf(stderr, "usage: net_harness -d tx|rx -s FRAME_BYTES "
	    "[-t SECONDS] [--raw] [--no-guest-tso] [--spin-us N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "raw", no_argument, NULL, 'R' },
		{ "no-guest-tso", no_argument, NULL, 'G' },
		{ "spin-us", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint8_t other_mac[6] = { 2, 0, 0, 0, 0, 2 };
	static struct nh h;
	const char *dir = NULL;
	uint64_t pkts, kicks = 0, irqs = 0;
	double secs;
	int c, rc;

	h.h_secs = 2;
	h.h_guest_tso = true;
	h.h_psock = -1;
	while ((c = getopt_long(argc, argv, "d:s:t:", lopts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': h.h_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': h.h_secs = strtod(optarg, NULL); break;
		case 'R': h.h_raw = true; break;
		case 'G': h.h_guest_tso = false; break;
		case 'S': nh_spin_us = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		default: nh_usage();
		}
	}
	if (dir == NULL || (strcmp(dir, "tx") != 0 && strcmp(dir, "rx") != 0)
	    || h.h_size < 60 || h.h_size > NH_MAX_FRAME || !(h.h_secs > 0))
		nh_usage();
	h.h_tx = strcmp(dir, "tx") == 0;
	if (h.h_size > 1514 && !h.h_tx && !h.h_guest_tso)
		nh_usage();	/* a 64 KiB frame needs receive TSO */
	h.h_rxbuf = h.h_size > 1514 ? NH_RXBUF_MAX : 1536;
	if (nh_netns() < 0)
		return 77;

	h.h_frame = malloc(NH_MAX_FRAME);
	if (h.h_frame == NULL)
		nh_die("out of memory");
	/* Beyond one MTU: TCP with TSO; else UDP.  NEEDS_CSUM either way. */
	nh_build(h.h_frame, h.h_size, h.h_size > 1514, other_mac, h.h_hdr);

	if (h.h_raw) {
		struct tap_opts to;
		char err[256] = "";

		memset(&to, 0, sizeof(to));
		to.to_queues = 1;
		if (tap_open(&to, &h.h_tap, err, sizeof(err)) < 0) {
			fprintf(stderr, "net_harness: %s\n", err);
			return 1;
		}
		/* The offloads the device sets for a Linux driver. */
		(void)tap_set_offload(h.h_tap, TAP_F_CSUM | (h.h_guest_tso ?
		    TAP_F_TSO4 | TAP_F_TSO6 | TAP_F_TSO_ECN : 0));
		if (!h.h_tx) {
			nh_txqueuelen(tap_name(h.h_tap), 2 * 16384);
			h.h_psock = nh_packet_socket(tap_name(h.h_tap));
		}
		if (h.h_tx) {
			pkts = nh_tx_raw(&h);
			secs = h.h_secs;
			nh_check_tx(tap_name(h.h_tap), pkts);
		} else {
			pkts = nh_rx_raw(&h, &secs);
		}
		tap_close(h.h_tap);
	} else {
		const struct vnet_stats *st;

		rc = gm_init(&h.h_gm, NH_MEM);
		if (rc < 0)
			nh_die("gm_init");
		h.h_mem = h.h_gm.gm_map;
		memset(h.h_mem, 0, NH_MEM);	/* fault every page in */
		if ((h.h_loop = ioloop_create()) == NULL)
			nh_die("ioloop_create");
		nh_device_up(&h);
		if (!h.h_tx) {
			nh_txqueuelen(NH_TAPNAME, 2 * 16384);
			h.h_psock = nh_packet_socket(NH_TAPNAME);
		}
		if (ioloop_start(h.h_loop) < 0)
			nh_die("ioloop_start");
		h.h_io_tid = nh_other_tid();
		if (h.h_tx) {
			pkts = nh_tx_hull(&h);
			secs = h.h_secs;
		} else {
			pkts = nh_rx_hull(&h, &secs);
		}
		ioloop_stop(h.h_loop);
		st = vnet_stats(h.h_priv);
		if (st->ns_tx_bad || st->ns_tx_dropped || st->ns_rx_bad ||
		    st->ns_rx_dropped) {
			fprintf(stderr, "net_harness: device counted errors: "
			    "tx bad %" PRIu64 " dropped %" PRIu64 ", rx bad %"
			    PRIu64 " dropped %" PRIu64 "\n", st->ns_tx_bad,
			    st->ns_tx_dropped, st->ns_rx_bad,
			    st->ns_rx_dropped);
			return 1;
		}
		if (h.h_tx)
			nh_check_tx(NH_TAPNAME, st->ns_tx_packets);
		kicks = h.h_ring[h.h_tx ? NH_TXQ : NH_RXQ].r_kicks;
		irqs = h.h_ring[h.h_tx ? NH_TXQ : NH_RXQ].r_irqs;
		virtio_net_model.reset(h.h_priv);
		virtio_net_model.destroy(h.h_priv);
		ioloop_destroy(h.h_loop);
		gm_fini(&h.h_gm);
	}
	printf("harness dir=%s size=%u mode=%s pkts=%" PRIu64 " secs=%.3f "
	    "pps=%.0f gbps=%.3f dev_ns=%.0f drv_ns=%.0f kicks=%" PRIu64
	    " irqs=%" PRIu64 "\n", dir, h.h_size, h.h_raw ? "raw" : "hull",
	    pkts, secs, (double)pkts / secs,
	    (double)pkts * h.h_size * 8 / secs / 1e9,
	    h.h_cpu_dev * 1e9 / (double)pkts, h.h_cpu_drv * 1e9 / (double)pkts,
	    kicks, irqs);
	return 0;
}
