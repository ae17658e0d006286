/*
 * virtio-net (virtio/net.c) through the real virtio-pci transport on a real
 * tap, no KVM: a test driver negotiates features through BAR0, lays out its
 * queues in simulated guest RAM (gm_init_from), rings the doorbells (the
 * MMIO fallback, which signals the eventfd the I/O thread watches) and
 * polls the used rings.  The host side of the tap is a packet socket bound
 * to it: what the guest sends is captured there, and frames sent on it
 * reach the guest.
 *
 * Cases: feature negotiation and the config space; transmit and receive,
 * with and without MRG_RXBUF; every hostile transmit, receive and control
 * input the device must survive, with its counter; a corrupt ring
 * (DEVICE_NEEDS_RESET), reset and re-initialisation; a receive queue with
 * no buffers; receive buffers too small for a packet (dropped and
 * counted: a tap read truncates silently, so the device reads into an
 * overflow buffer after the guest's and drops what reached it); rate
 * limits in each direction (at least as slow as the bucket allows, nothing
 * lost or reordered, no busy waiting meanwhile).
 *
 * main() forks once: the child enters fresh network and mount namespaces
 * (unshare(CLONE_NEWNET | CLONE_NEWNS)) and runs every test there, so the
 * taps made here die with the namespace and the host's network is never
 * touched.  Without namespaces or /dev/net/tun every test skips.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_packet.h>

#include <cmocka.h>

#include "bus.h"
#include "gm.h"
#include "ioloop.h"
#include "pci.h"
#include "spec.h"
#include "tap.h"
#include "virtio.h"
#include "virtio_pci.h"
#include "../net.h"

#define RAM_SIZE	(8u << 20)
#define QSIZE		64
#define QBASE		0x10000ULL	/* queue i: QBASE + i * QSTRIDE */
#define QSTRIDE		0x4000ULL
#define BUF_BASE	0x100000ULL	/* packet buffers from here up */
#define TAPNAME		"hnt0"
#define ETH_TEST	0x88b5		/* IEEE local experimental */
#define WAIT_MS		3000
#define CHILD_TIMEOUT	60		/* SIGALRM ends a stuck run */

#define F(b)		(1ULL << VIRTIO_NET_F_##b)
#define F_VERSION_1	(1ULL << VIRTIO_F_VERSION_1)
#define D_NEXT		VIRTQ_DESC_F_NEXT
#define D_WRITE		VIRTQ_DESC_F_WRITE

/* Common configuration offsets in BAR0 (virtio 1.2 §4.1.4.3). */
enum { DFSEL = 0, DF = 4, GFSEL = 8, GF = 12, NUMQ = 18, STATUS = 20,
    QSEL = 22, QSIZE_R = 24, QENABLE = 28, QDESC = 32, QDRIVER = 40,
    QDEVICE = 48, DEVCFG = 0x2000, NOTIFY = 0x3000 };

/* The driver's view of one split queue. */
struct dq {
	unsigned int	q;
	uint16_t	size;
	uint16_t	avail_idx;	/* next avail->idx to publish */
	uint16_t	used_seen;	/* used entries consumed */
	uint16_t	next_desc;	/* descriptors handed out round-robin */
};

/* One buffer of a chain. */
struct seg {
	uint64_t	gpa;
	uint32_t	len;
	bool		wr;
};

static struct rig {
	bool			 up;
	struct bus		 bus;
	struct pci_bus		*pcb;
	struct ioloop		*loop;
	struct virtio_pci	*vp;
	struct vnet		*vn;	/* the model's priv, caught at create */
	struct gm		 gm;
	uint8_t			*ram;
	uint64_t		 bar0;
	uint64_t		 brk;	/* next free buffer byte */
	int			 psock;	/* packet socket on the tap */
	struct dq		 dq[VIRTIO_MAX_QUEUES];
	unsigned int		 nq;
} R;

static bool	no_netns;	/* no namespaces here: skip */

static const struct virtio_model *real_model;
static struct virtio_model wrap_model;

static int
fake_intx(void *ctx, unsigned int gsi, int level)
{
	(void)ctx; (void)gsi; (void)level;
	return 0;
}

static int
fake_update(void *ctx, struct pci_dev *d, unsigned int v, uint64_t a,
    uint32_t data, bool m)
{
	(void)ctx; (void)d; (void)v; (void)a; (void)data; (void)m;
	return 0;
}

static int
fake_fire(void *ctx, struct pci_dev *d, unsigned int v)
{
	(void)ctx; (void)d; (void)v;
	return 0;
}

static const struct pci_irq_ops irq_ops = { fake_intx, fake_update, fake_fire };
static const struct virtio_pci_host host = { NULL, NULL, NULL };

/* The real create; only the priv is kept, for the counters and the lock. */
static int
wrap_create(struct virtio_dev *vd, const struct virtio_create *vc,
    void **priv, unsigned int *nqueues, size_t *cfg_size)
{
	int rc = real_model->create(vd, vc, priv, nqueues, cfg_size);

	if (rc == 0)
		R.vn = *priv;
	return rc;
}

/* ---- transport access ---------------------------------------------- */

static void
w(uint64_t off, uint64_t v, size_t len)
{
	assert_int_equal(bus_write(&R.bus, BUS_MMIO, R.bar0 + off, &v, len), 0);
}

static uint64_t
r(uint64_t off, size_t len)
{
	uint64_t v = 0;

	assert_int_equal(bus_read(&R.bus, BUS_MMIO, R.bar0 + off, &v, len), 0);
	return v;
}

static uint64_t
device_features(void)
{
	uint64_t lo;

	w(DFSEL, 0, 4);
	lo = r(DF, 4);
	w(DFSEL, 1, 4);
	return lo | r(DF, 4) << 32;
}

/* Reset, then ACKNOWLEDGE | DRIVER, features, FEATURES_OK; true if kept. */
static bool
negotiate(uint64_t f)
{
	w(STATUS, 0, 1);
	w(STATUS, 1, 1);
	w(STATUS, 3, 1);
	w(GFSEL, 0, 4);
	w(GF, (uint32_t)f, 4);
	w(GFSEL, 1, 4);
	w(GF, f >> 32, 4);
	w(STATUS, 11, 1);
	return (r(STATUS, 1) & VIRTIO_STATUS_FEATURES_OK) != 0;
}

static uint64_t
q_desc(unsigned int q)
{
	return QBASE + QSTRIDE * q;
}

static uint64_t
q_avail(unsigned int q)
{
	return q_desc(q) + 0x1000;
}

static uint64_t
q_used(unsigned int q)
{
	return q_desc(q) + 0x2000;
}

static void
queue_setup_size(unsigned int q, uint16_t size)
{
	memset(R.ram + q_desc(q), 0, QSTRIDE);
	w(QSEL, q, 2);
	w(QSIZE_R, size, 2);
	w(QDESC, q_desc(q), 8);
	w(QDRIVER, q_avail(q), 8);
	w(QDEVICE, q_used(q), 8);
	w(QENABLE, 1, 2);
	assert_int_equal(r(QENABLE, 2), 1);
	R.dq[q] = (struct dq){ .q = q, .size = size };
}

static void
queue_setup(unsigned int q)
{
	queue_setup_size(q, QSIZE);
}

/* Negotiate f (plus VERSION_1), set up every queue, DRIVER_OK. */
static void
dev_up(uint64_t f)
{
	unsigned int q;

	assert_true(negotiate(f | F_VERSION_1));
	for (q = 0; q < R.nq; q++)
		queue_setup(q);
	w(STATUS, 15, 1);
	assert_int_equal(r(STATUS, 1), 15);
}

static void
kick(unsigned int q)
{
	w(NOTIFY + 4 * q, q, 2);
}

/* ---- the rig ---------------------------------------------------------- */

static int
packet_socket(const char *ifname)
{
	struct sockaddr_ll sll;
	int s;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_ALL));
	assert_true(s >= 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return s;
}

/* A virtio-net device on a fresh tap; vmname may be NULL. */
static void
rig_up(const struct nic_spec *ns, const char *vmname, unsigned int index)
{
	char err[256] = "";
	struct virtio_create vc = { .vc_spec = ns, .vc_index = index,
	    .vc_nvcpus = 1, .vc_vmname = vmname, .vc_err = err,
	    .vc_errlen = sizeof(err) };

	if (no_netns)
		skip();
	memset(&R, 0, sizeof(R));
	R.psock = -1;
	R.ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(R.ram);
	memset(R.ram, 0, RAM_SIZE);
	gm_init_from(&R.gm, R.ram, RAM_SIZE);
	R.brk = BUF_BASE;
	bus_init(&R.bus);
	assert_int_equal(pci_bus_create(&R.bus, &irq_ops, NULL, &R.pcb), 0);
	R.loop = ioloop_create();
	assert_non_null(R.loop);
	vc.vc_loop = R.loop;
	if (virtio_pci_create(R.pcb, &R.gm, &wrap_model, &vc, &host,
	    &R.vp) != 0)
		fail_msg("virtio_pci_create: %s", err);
	assert_non_null(R.vn);
	assert_int_equal(ioloop_start(R.loop), 0);
	R.bar0 = pci_bar_addr(virtio_pci_dev(R.vp), 0);
	assert_true(R.bar0 != PCI_BAR_UNMAPPED);
	R.nq = (unsigned int)r(NUMQ, 2);
	R.psock = packet_socket(tap_name(R.vn->vn_tap));
	R.up = true;
}

static struct nic_spec
spec(const char *tap)
{
	struct nic_spec ns;

	memset(&ns, 0, sizeof(ns));
	snprintf(ns.ns_tap, sizeof(ns.ns_tap), "%s", tap);
	return ns;
}

static int
teardown(void **state)
{
	(void)state;
	if (!R.up)
		return 0;
	ioloop_stop(R.loop);
	virtio_pci_destroy(R.vp);
	pci_bus_destroy(R.pcb);
	ioloop_destroy(R.loop);
	if (R.psock >= 0)
		close(R.psock);
	free(R.ram);
	R.up = false;
	return 0;
}

/* The device's counters, read under its lock (the I/O thread writes them). */
static struct vnet_stats
stats(void)
{
	struct vnet_stats s;

	pthread_mutex_lock(&R.vn->vn_lock);
	s = *vnet_stats(R.vn);
	pthread_mutex_unlock(&R.vn->vn_lock);
	return s;
}

/* A flag of the device's, read under its lock. */
static bool
locked_flag(const bool *flag)
{
	bool v;

	pthread_mutex_lock(&R.vn->vn_lock);
	v = *flag;
	pthread_mutex_unlock(&R.vn->vn_lock);
	return v;
}

static void
sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait until pred() holds; false after WAIT_MS. */
static bool
wait_for(bool (*pred)(void *), void *arg)
{
	unsigned int i;

	for (i = 0; i < WAIT_MS; i++) {
		if (pred(arg))
			return true;
		sleep_ms(1);
	}
	return pred(arg);
}

/* ---- guest memory and the rings -------------------------------------- */

static uint64_t
galloc(size_t len)
{
	uint64_t gpa = R.brk;

	R.brk = (R.brk + len + 63) & ~63ULL;
	assert_true(R.brk <= RAM_SIZE);
	return gpa;
}

static uint8_t *
gp(uint64_t gpa)
{
	return R.ram + gpa;
}

static void
put_desc(unsigned int q, unsigned int i, uint64_t addr, uint32_t len,
    uint16_t flags, uint16_t next)
{
	uint8_t *d = gp(q_desc(q) + 16 * i);

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Write a chain into the descriptor table; returns its head. */
static uint16_t
chain(struct dq *dq, const struct seg *s, unsigned int n)
{
	uint16_t head = dq->next_desc;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % dq->size);

		put_desc(dq->q, d, s[i].gpa, s[i].len, (uint16_t)(
		    (s[i].wr ? D_WRITE : 0) | (i + 1 < n ? D_NEXT : 0)),
		    (uint16_t)((d + 1) % dq->size));
	}
	dq->next_desc = (uint16_t)((head + n) % dq->size);
	return head;
}

/* Make head available (not kicked). */
static void
publish(struct dq *dq, uint16_t head)
{
	uint16_t *ring = (uint16_t *)(void *)gp(q_avail(dq->q) + 4);

	ring[dq->avail_idx % dq->size] = head;
	dq->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)gp(q_avail(dq->q) + 2),
	    dq->avail_idx, __ATOMIC_RELEASE);
}

static uint16_t
used_idx(const struct dq *dq)
{
	return __atomic_load_n((uint16_t *)(void *)gp(q_used(dq->q) + 2),
	    __ATOMIC_ACQUIRE);
}

struct wait_used_arg {
	const struct dq	*dq;
	uint16_t	 n;
};

static bool
used_ready(void *arg)
{
	const struct wait_used_arg *a = arg;

	return (uint16_t)(used_idx(a->dq) - a->dq->used_seen) >= a->n;
}

/* Wait for n more used entries; false on timeout. */
static bool
wait_used(const struct dq *dq, uint16_t n)
{
	struct wait_used_arg a = { dq, n };

	return wait_for(used_ready, &a);
}

/* Take the next used entry. */
static void
take_used(struct dq *dq, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = gp(q_used(dq->q) + 4 + 8 *
	    (dq->used_seen % dq->size));

	assert_true(used_ready(&(struct wait_used_arg){ dq, 1 }));
	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
	dq->used_seen++;
}

static void
expect_used(struct dq *dq, uint16_t head, uint32_t len)
{
	uint32_t id, l;

	take_used(dq, &id, &l);
	assert_int_equal(id, head);
	assert_int_equal(l, len);
}

/* ---- frames and the host side ---------------------------------------- */

/* An Ethernet frame of len bytes, type ETH_TEST, marked with tag. */
static void
make_frame(uint8_t *f, size_t len, uint8_t tag)
{
	size_t i;

	assert_true(len >= 15);
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x99", 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	f[14] = tag;
	for (i = 15; i < len; i++)
		f[i] = (uint8_t)(i * 7 + tag);
}

/*
 * IPv4/UDP 10.0.0.1:1234 -> 10.0.0.2:5678 of len bytes, for checksum
 * offload: the UDP checksum field holds the pseudo-header sum, as a driver
 * leaves it for NEEDS_CSUM (csum_start 34, csum_offset 6).
 */
static void
make_udp(uint8_t *f, size_t len)
{
	size_t iplen = len - 14, ulen = len - 34, i;
	uint32_t sum = 0;

	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x99", 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memcpy(f + 14, "\x45\x00\x00\x00\x12\x34\x40\x00\x40\x11\x00\x00"
	    "\x0a\x00\x00\x01\x0a\x00\x00\x02", 20);
	f[16] = (uint8_t)(iplen >> 8);
	f[17] = (uint8_t)iplen;
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(f[14 + i] << 8 | f[15 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	memcpy(f + 34, "\x04\xd2\x16\x2e", 4);
	f[38] = (uint8_t)(ulen >> 8);
	f[39] = (uint8_t)ulen;
	for (i = 42; i < len; i++)
		f[i] = (uint8_t)i;
	/* Pseudo-header: addresses, protocol, UDP length; not inverted. */
	sum = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + (uint32_t)ulen;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[40] = (uint8_t)(sum >> 8);
	f[41] = (uint8_t)sum;
}

/*
 * The next ETH_TEST frame the tap passed to the host (other traffic is
 * skipped): its length into *len and bytes into buf, or false after
 * WAIT_MS.
 */
static bool
capture(uint8_t *buf, size_t size, size_t *len)
{
	struct pollfd pfd = { .fd = R.psock, .events = POLLIN };
	struct sockaddr_ll from;
	socklen_t fl;
	ssize_t n;

	while (poll(&pfd, 1, WAIT_MS) == 1) {
		fl = sizeof(from);
		n = recvfrom(R.psock, buf, size, 0, (struct sockaddr *)&from,
		    &fl);
		if (n < 0 && errno == EAGAIN)
			continue;
		assert_true(n >= 0);
		/* Only what came in from the guest, not what we sent. */
		if (from.sll_pkttype == PACKET_OUTGOING || n < 14 ||
		    buf[12] != ETH_TEST >> 8 || buf[13] != (ETH_TEST & 0xff))
			continue;
		*len = (size_t)n;
		return true;
	}
	return false;
}

static void
expect_capture(const uint8_t *want, size_t len)
{
	static uint8_t buf[70000];
	size_t n = 0;

	assert_true(capture(buf, sizeof(buf), &n));
	assert_int_equal(n, len);
	assert_memory_equal(buf, want, len);
}

/* Send a frame from the host to the guest. */
static void
inject(const uint8_t *f, size_t len)
{
	assert_int_equal(send(R.psock, f, len, 0), (ssize_t)len);
}

/* Post a receive chain of one writable buffer of len bytes (0xee). */
static uint16_t
post_rx(struct dq *dq, uint32_t len, uint64_t *gpa)
{
	struct seg s = { galloc(len), len, true };
	uint16_t head;

	memset(gp(s.gpa), 0xee, len);
	head = chain(dq, &s, 1);
	publish(dq, head);
	if (gpa != NULL)
		*gpa = s.gpa;
	return head;
}

/* A transmit chain: a 12-byte header then the frame, as given. */
static uint16_t
tx_chain(struct dq *dq, const struct vnet_hdr *h, const uint8_t *f,
    size_t len)
{
	struct seg s[2] = {
		{ galloc(VNET_HDR_LEN), VNET_HDR_LEN, false },
		{ galloc(len), (uint32_t)len, false },
	};

	memcpy(gp(s[0].gpa), h, VNET_HDR_LEN);
	memcpy(gp(s[1].gpa), f, len);
	return chain(dq, s, 2);
}

/* ---- tests ------------------------------------------------------------- */

static const uint8_t mac1[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* vnet_mac_from_name, written out again from its contract. */
static void
expect_mac(const char *name, unsigned int index, uint8_t mac[6])
{
	uint8_t bytes[64];
	size_t n = strlen(name), i;
	uint64_t h = 0xcbf29ce484222325ULL;

	memcpy(bytes, name, n);
	bytes[n] = 0;
	for (i = 0; i < 4; i++)
		bytes[n + 1 + i] = (uint8_t)(index >> (8 * i));
	for (i = 0; i < n + 5; i++) {
		h ^= bytes[i];
		h *= 0x100000001b3ULL;
	}
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	mac[0] = (uint8_t)((mac[0] & ~1) | 2);
}

static void
test_features_and_config(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	uint8_t mac[6], want[6];
	uint64_t f, offl;
	unsigned int i;

	(void)state;
	ns.ns_has_mac = true;
	memcpy(ns.ns_mac, mac1, 6);
	ns.ns_mtu = 1400;
	rig_up(&ns, "vm-a", 0);
	f = device_features();
	assert_true(f & F_VERSION_1);
	assert_true(f & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	assert_true(f & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	assert_int_equal(f & (F(MAC) | F(MTU) | F(STATUS) | F(MRG_RXBUF) |
	    F(CTRL_VQ) | F(MQ)), F(MAC) | F(MTU) | F(STATUS) | F(MRG_RXBUF) |
	    F(CTRL_VQ) | F(MQ));
	/* Offloads come as a set (the tap takes them all, or none). */
	offl = F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN) |
	    F(GUEST_CSUM) | F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_ECN) |
	    F(CTRL_GUEST_OFFLOADS);
	assert_true((f & offl) == 0 || (f & offl) == offl);
	/* Never offered: UFO, USO and what the device does not do. */
	assert_int_equal(f & (F(HOST_UFO) | F(GUEST_UFO) | F(HOST_USO) |
	    F(CTRL_RX) | F(CTRL_VLAN) | F(GUEST_ANNOUNCE) |
	    F(CTRL_MAC_ADDR)), 0);
	/* One pair: receiveq, transmitq, controlq. */
	assert_int_equal(r(NUMQ, 2), 3);

	/* Config space (§5.1.4): mac, status, max_virtqueue_pairs, mtu. */
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)r(DEVCFG + i, 1);
	assert_memory_equal(mac, mac1, 6);
	assert_int_equal(r(DEVCFG + 6, 2), VNET_S_LINK_UP);
	assert_int_equal(r(DEVCFG + 8, 2), 1);
	assert_int_equal(r(DEVCFG + 10, 2), 1400);
	assert_int_equal(tap_mtu(R.vn->vn_tap), 1400);
	/* Reads past the config are ignored (zero), writes change nothing. */
	assert_int_equal(r(DEVCFG + 12, 2), 0);
	w(DEVCFG + 0, 0xffff, 2);
	assert_int_equal(r(DEVCFG + 0, 1), mac1[0]);

	/* VERSION_1 is required; unoffered bits are refused. */
	assert_false(negotiate(f & ~F_VERSION_1));
	assert_false(negotiate(f | F(HOST_UFO)));
	assert_false(negotiate(f | (1ULL << 60)));
	assert_true(negotiate(f));
	assert_true(negotiate(F_VERSION_1));
	w(STATUS, 0, 1);
	assert_int_equal(r(STATUS, 1), 0);
	teardown(NULL);

	/* No MAC: derived from the VM's name and the index; no offloads. */
	ns = spec("");
	ns.ns_queues = 4;
	ns.ns_no_offloads = true;
	rig_up(&ns, "vm-a", 3);
	assert_int_equal(strncmp(tap_name(R.vn->vn_tap), "hull", 4), 0);
	f = device_features();
	assert_int_equal(f & offl, 0);
	assert_int_equal(r(NUMQ, 2), 9);
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)r(DEVCFG + i, 1);
	expect_mac("vm-a", 3, want);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(mac[0] & 3, 2);	/* local, unicast */
	assert_int_equal(r(DEVCFG + 8, 2), 4);
	assert_int_equal(r(DEVCFG + 10, 2), 1500);	/* the tap's */
}

static void
test_tx(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[1514];
	struct vnet_hdr h = { 0 };
	struct dq *tq;
	struct seg s[5];
	uint16_t hd[2];
	struct vnet_stats st;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC) | F(MRG_RXBUF));
	tq = &R.dq[1];

	/* Header and frame in buffers of their own. */
	make_frame(f, 60, 1);
	hd[0] = tx_chain(tq, &h, f, 60);
	publish(tq, hd[0]);
	kick(1);
	assert_true(wait_used(tq, 1));
	expect_used(tq, hd[0], 0);
	expect_capture(f, 60);

	/*
	 * The header split over two buffers, the frame over three, with a
	 * zero-length buffer among them; a full 1514-byte frame.
	 */
	make_frame(f, sizeof(f), 2);
	s[0] = (struct seg){ galloc(5), 5, false };
	s[1] = (struct seg){ galloc(27), 27, false };	/* 7 hdr, 20 frame */
	s[2] = (struct seg){ galloc(1), 0, false };
	s[3] = (struct seg){ galloc(1000), 1000, false };
	s[4] = (struct seg){ galloc(494), 494, false };
	memcpy(gp(s[0].gpa), &h, 5);
	memcpy(gp(s[1].gpa), (uint8_t *)&h + 5, 7);
	memcpy(gp(s[1].gpa) + 7, f, 20);
	memcpy(gp(s[3].gpa), f + 20, 1000);
	memcpy(gp(s[4].gpa), f + 1020, 494);
	hd[1] = chain(tq, s, 5);
	publish(tq, hd[1]);
	kick(1);
	assert_true(wait_used(tq, 1));
	expect_used(tq, hd[1], 0);
	expect_capture(f, sizeof(f));

	st = stats();
	assert_int_equal(st.ns_tx_packets, 2);
	assert_int_equal(st.ns_tx_bytes, 60 + 1514);
	assert_int_equal(st.ns_tx_bad, 0);
	assert_int_equal(st.ns_tx_dropped, 0);
}

static void
test_tx_hostile(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	struct vnet_hdr h = { 0 }, bad;
	static uint8_t f[200];
	struct dq *tq;
	struct seg s[3];
	uint16_t hd[16];
	unsigned int n = 0, i;
	struct vnet_stats st;
	uint64_t feat;

	(void)state;
	rig_up(&ns, "vm", 0);
	/* Checksum offload on, TSO not: so a GSO packet is unnegotiated. */
	feat = device_features() & F(CSUM);
	dev_up(F(MAC) | feat);
	tq = &R.dq[1];
	make_frame(f, sizeof(f), 9);

	/* A header of 8 bytes, nothing else. */
	s[0] = (struct seg){ galloc(8), 8, false };
	hd[n++] = chain(tq, s, 1);
	/* Only a zero-length buffer. */
	s[0] = (struct seg){ galloc(16), 0, false };
	hd[n++] = chain(tq, s, 1);
	/* A runt: 10 bytes after the header. */
	hd[n++] = tx_chain(tq, &h, f, 10);
	/* GSO TCPv4 without HOST_TSO4. */
	bad = h;
	bad.vh_gso_type = VNET_HDR_GSO_TCPV4;
	bad.vh_gso_size = 1448;
	bad.vh_hdr_len = 54;
	hd[n++] = tx_chain(tq, &bad, f, sizeof(f));
	/* An unknown GSO type. */
	bad = h;
	bad.vh_gso_type = 7;
	bad.vh_gso_size = 100;
	hd[n++] = tx_chain(tq, &bad, f, sizeof(f));
	/* NEEDS_CSUM with the checksum field past the end of the frame. */
	bad = h;
	bad.vh_flags = VNET_HDR_F_NEEDS_CSUM;
	bad.vh_csum_start = 190;
	bad.vh_csum_offset = 9;
	hd[n++] = tx_chain(tq, &bad, f, sizeof(f));
	bad.vh_csum_start = 0xffff;
	bad.vh_csum_offset = 0xffff;
	hd[n++] = tx_chain(tq, &bad, f, sizeof(f));
	/* DATA_VALID goes device to driver only. */
	bad = h;
	bad.vh_flags = VNET_HDR_F_DATA_VALID;
	hd[n++] = tx_chain(tq, &bad, f, sizeof(f));
	/* A writable buffer in a transmit chain. */
	s[0] = (struct seg){ galloc(12), 12, false };
	s[1] = (struct seg){ galloc(200), 200, false };
	s[2] = (struct seg){ galloc(64), 64, true };
	memcpy(gp(s[0].gpa), &h, 12);
	memcpy(gp(s[1].gpa), f, 200);
	hd[n++] = chain(tq, s, 3);
	/* Readable after writable: the chain walk refuses it. */
	s[0].wr = true;
	s[2].wr = false;
	hd[n++] = chain(tq, s, 3);
	/* A buffer outside guest RAM. */
	s[0] = (struct seg){ RAM_SIZE - 8, 64, false };
	hd[n++] = chain(tq, s, 1);
	/* And one good frame last: the only one on the wire. */
	hd[n++] = tx_chain(tq, &h, f, sizeof(f));
	for (i = 0; i < n; i++)
		publish(tq, hd[i]);
	kick(1);
	assert_true(wait_used(tq, (uint16_t)n));
	for (i = 0; i < n; i++)
		expect_used(tq, hd[i], 0);
	expect_capture(f, sizeof(f));
	st = stats();
	assert_int_equal(st.ns_tx_bad, n - 1);
	assert_int_equal(st.ns_tx_packets, 1);
	assert_int_equal(st.ns_tx_dropped, 0);
	assert_int_equal(r(STATUS, 1), 15);	/* no reset needed */

	/* With CSUM, a partial UDP checksum inside the frame is fine. */
	if (feat) {
		bad = h;
		bad.vh_flags = VNET_HDR_F_NEEDS_CSUM;
		bad.vh_csum_start = 34;
		bad.vh_csum_offset = 6;
		make_udp(f, sizeof(f));
		hd[0] = tx_chain(tq, &bad, f, sizeof(f));
		publish(tq, hd[0]);
		kick(1);
		assert_true(wait_used(tq, 1));
		expect_used(tq, hd[0], 0);
		st = stats();
		assert_int_equal(st.ns_tx_packets, 2);
		assert_int_equal(st.ns_tx_dropped, 0);
	}
}

/* Check a received packet: the 12-byte header, then the frame. */
static void
expect_rx(uint64_t gpa, const uint8_t *frame, size_t len, uint16_t nbufs)
{
	struct vnet_hdr want = { .vh_num_buffers = nbufs };

	assert_memory_equal(gp(gpa), &want, VNET_HDR_LEN);
	assert_memory_equal(gp(gpa) + VNET_HDR_LEN, frame, len);
}

static void
test_rx(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f1[1514], f2[60];
	uint64_t g1, g2, g3;
	struct seg s[2];
	uint16_t h1, h2, h3;
	struct dq *rq;
	struct vnet_stats st;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC));		/* no MRG_RXBUF: one chain per packet */
	rq = &R.dq[0];
	h1 = post_rx(rq, 1530, &g1);
	/* A chain of two: a header buffer then a data buffer. */
	s[0] = (struct seg){ galloc(VNET_HDR_LEN), VNET_HDR_LEN, true };
	s[1] = (struct seg){ galloc(1518), 1518, true };
	memset(gp(s[0].gpa), 0xee, VNET_HDR_LEN);
	h2 = chain(rq, s, 2);
	publish(rq, h2);
	h3 = post_rx(rq, 1530, &g3);
	kick(0);

	make_frame(f1, sizeof(f1), 1);
	make_frame(f2, sizeof(f2), 2);
	inject(f1, sizeof(f1));
	inject(f2, sizeof(f2));
	assert_true(wait_used(rq, 2));
	expect_used(rq, h1, VNET_HDR_LEN + sizeof(f1));
	expect_rx(g1, f1, sizeof(f1), 1);
	expect_used(rq, h2, VNET_HDR_LEN + sizeof(f2));
	g2 = s[0].gpa;
	assert_memory_equal(gp(g2), &(struct vnet_hdr){ .vh_num_buffers = 1 },
	    VNET_HDR_LEN);
	assert_memory_equal(gp(s[1].gpa), f2, sizeof(f2));
	/* The third chain is still the device's. */
	assert_int_equal(used_idx(rq), 2);
	make_frame(f2, sizeof(f2), 3);
	inject(f2, sizeof(f2));
	assert_true(wait_used(rq, 1));
	expect_used(rq, h3, VNET_HDR_LEN + sizeof(f2));
	expect_rx(g3, f2, sizeof(f2), 1);
	st = stats();
	assert_int_equal(st.ns_rx_packets, 3);
	assert_int_equal(st.ns_rx_bytes, sizeof(f1) + 2 * sizeof(f2));
	assert_int_equal(st.ns_rx_dropped + st.ns_rx_bad, 0);
}

static void
test_rx_mrg(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[1000], pkt[VNET_HDR_LEN + 1000];
	uint64_t g[12];
	uint16_t h[12];
	uint32_t id, len;
	struct dq *rq;
	unsigned int i;
	size_t off;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC) | F(MRG_RXBUF));
	rq = &R.dq[0];
	/* Eight buffers of 256 bytes: 2048, enough for a 1530-byte packet. */
	for (i = 0; i < 8; i++)
		h[i] = post_rx(rq, 256, &g[i]);
	kick(0);

	/* 1012 bytes with the header: four buffers, 256 * 3 + 244. */
	make_frame(f, sizeof(f), 4);
	inject(f, sizeof(f));
	assert_true(wait_used(rq, 4));
	off = 0;
	for (i = 0; i < 4; i++) {
		take_used(rq, &id, &len);
		assert_int_equal(id, h[i]);
		assert_int_equal(len, i < 3 ? 256 : 244);
		memcpy(pkt + off, gp(g[i]), len);
		off += len;
	}
	assert_int_equal(off, sizeof(pkt));
	assert_memory_equal(pkt, &(struct vnet_hdr){ .vh_num_buffers = 4 },
	    VNET_HDR_LEN);
	assert_memory_equal(pkt + VNET_HDR_LEN, f, sizeof(f));
	/* Nothing was written past the packet. */
	assert_int_equal(gp(g[3])[244], 0xee);
	assert_int_equal(gp(g[4])[0], 0xee);

	/* A small one next: one buffer (the fifth), num_buffers 1. */
	for (i = 8; i < 12; i++)
		h[i] = post_rx(rq, 256, &g[i]);
	kick(0);
	make_frame(f, 60, 5);
	inject(f, 60);
	assert_true(wait_used(rq, 1));
	expect_used(rq, h[4], VNET_HDR_LEN + 60);
	expect_rx(g[4], f, 60, 1);
	assert_int_equal(stats().ns_rx_packets, 2);
}

/*
 * With MRG_RXBUF the device reads into as many chains as recent packets
 * needed, and copies what overflows into the next chains: after small
 * packets, a big one still arrives whole, in order, with num_buffers right.
 */
static void
test_rx_mrg_spill(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[1400], small[60], pkt[VNET_HDR_LEN + 1400];
	uint64_t g[40];
	uint16_t h[40];
	uint32_t id, len;
	struct dq *rq;
	unsigned int i, nb;
	size_t off;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC) | F(MRG_RXBUF));
	rq = &R.dq[0];
	for (i = 0; i < 40; i++)
		h[i] = post_rx(rq, 256, &g[i]);
	kick(0);
	/* Twenty small packets: the running average falls far below 1400. */
	make_frame(small, sizeof(small), 6);
	for (i = 0; i < 20; i++) {
		inject(small, sizeof(small));
		assert_true(wait_used(rq, 1));
		expect_used(rq, h[i], VNET_HDR_LEN + sizeof(small));
	}
	make_frame(f, sizeof(f), 7);
	inject(f, sizeof(f));
	/* 1412 bytes: five full buffers and 132 bytes in a sixth. */
	assert_true(wait_used(rq, 6));
	/*
	 * The first buffer is the next one posted; the overflow goes to
	 * buffers no read of the same batch had (virtio 1.2 §2.7.8: without
	 * IN_ORDER, any of them), each used once.
	 */
	off = 0;
	for (nb = 0; nb < 6; nb++) {
		take_used(rq, &id, &len);
		for (i = 20; i < 40 && h[i] != id; i++)
			;
		assert_true(i < 40);
		if (nb == 0)
			assert_int_equal(i, 20);
		assert_int_equal(len, nb < 5 ? 256 : 132);
		memcpy(pkt + off, gp(g[i]), len);
		h[i] = UINT16_MAX;
		off += len;
	}
	assert_int_equal(off, sizeof(pkt));
	assert_memory_equal(pkt, &(struct vnet_hdr){ .vh_num_buffers = 6 },
	    VNET_HDR_LEN);
	assert_memory_equal(pkt + VNET_HDR_LEN, f, sizeof(f));
	assert_int_equal(stats().ns_rx_packets, 21);
	assert_int_equal(stats().ns_rx_dropped, 0);
}

struct counter_arg {
	size_t		off;	/* offsetof(struct vnet_stats, ...) */
	uint64_t	want;
};

static bool
counter_reached(void *arg)
{
	const struct counter_arg *a = arg;
	struct vnet_stats s = stats();
	uint64_t v;

	memcpy(&v, (const uint8_t *)&s + a->off, sizeof(v));
	return v >= a->want;
}

#define WAIT_COUNTER(field, n)						\
	assert_true(wait_for(counter_reached, &(struct counter_arg){	\
	    offsetof(struct vnet_stats, field), (n) }))

/*
 * Packets waiting in the tap when buffers come are read in batches
 * (several reads per system call, virtio/net.c vnet_rx_plan): small and
 * big ones mixed, so reads overflow their chains into ones past the
 * batch.  Every packet arrives whole, in order, with num_buffers right,
 * and none is dropped.
 */
static void
test_rx_batch(void **state)
{
	static const size_t sizes[6] = { 60, 1400, 300, 1000, 60, 61 };
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[24][1400], pkt[VNET_HDR_LEN + 1400];
	uint64_t g[QSIZE];
	uint16_t h[QSIZE], nbufs;
	uint32_t id, len;
	unsigned int i, j, k, nb;
	size_t off, flen;
	struct dq *rq;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC) | F(MRG_RXBUF));
	rq = &R.dq[0];
	for (i = 0; i < 24; i++) {
		make_frame(f[i], sizes[i % 6], (uint8_t)(40 + i));
		inject(f[i], sizes[i % 6]);
	}
	/* No buffers yet: the packets wait in the tap. */
	WAIT_COUNTER(ns_rx_waits, 1);
	sleep_ms(20);
	for (i = 0; i < QSIZE; i++)
		h[i] = post_rx(rq, 512, &g[i]);
	kick(0);
	for (i = 0; i < 24; i++) {
		flen = sizes[i % 6];
		assert_true(wait_used(rq, 1));
		off = 0;
		nb = 1;
		for (k = 0; k < nb; k++) {
			assert_true(wait_used(rq, 1));
			take_used(rq, &id, &len);
			for (j = 0; j < QSIZE && h[j] != id; j++)
				;
			assert_true(j < QSIZE);
			assert_true(len <= 512 && off + len <= sizeof(pkt));
			memcpy(pkt + off, gp(g[j]), len);
			h[j] = UINT16_MAX;	/* each buffer once */
			off += len;
			if (k == 0) {
				memcpy(&nbufs, pkt + 10, 2);
				assert_true(nbufs >= 1 && nbufs <= 3);
				nb = nbufs;
			}
		}
		assert_int_equal(off, VNET_HDR_LEN + flen);
		assert_int_equal(nb, (VNET_HDR_LEN + flen + 511) / 512);
		assert_memory_equal(pkt + VNET_HDR_LEN, f[i], flen);
	}
	assert_int_equal(stats().ns_rx_packets, 24);
	assert_int_equal(stats().ns_rx_dropped, 0);
}

static void
test_rx_hostile(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[200];
	struct seg s[2];
	uint16_t h[4];
	uint64_t g;
	struct dq *rq;
	struct vnet_stats st;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC));
	rq = &R.dq[0];
	/* A readable buffer in a receive chain. */
	s[0] = (struct seg){ galloc(64), 64, false };
	s[1] = (struct seg){ galloc(2000), 2000, true };
	h[0] = chain(rq, s, 2);
	/* Fewer than 12 writable bytes: no room for the header. */
	s[0] = (struct seg){ galloc(8), 8, true };
	h[1] = chain(rq, s, 1);
	/* Writable then readable: the chain walk refuses it. */
	s[0] = (struct seg){ galloc(2000), 2000, true };
	s[1] = (struct seg){ galloc(64), 64, false };
	h[2] = chain(rq, s, 2);
	publish(rq, h[0]);
	publish(rq, h[1]);
	publish(rq, h[2]);
	h[3] = post_rx(rq, 1530, &g);
	kick(0);
	make_frame(f, sizeof(f), 6);
	inject(f, sizeof(f));
	assert_true(wait_used(rq, 4));
	expect_used(rq, h[0], 0);
	expect_used(rq, h[1], 0);
	expect_used(rq, h[2], 0);
	expect_used(rq, h[3], VNET_HDR_LEN + sizeof(f));
	expect_rx(g, f, sizeof(f), 1);
	st = stats();
	assert_int_equal(st.ns_rx_bad, 3);
	assert_int_equal(st.ns_rx_packets, 1);
	assert_int_equal(r(STATUS, 1), 15);
}

/*
 * Without MRG_RXBUF a chain too small for the packet (the driver broke
 * §5.1.6.3.1's SHOULD): the packet is counted and dropped, never
 * delivered truncated; the VMM goes on and later packets still arrive.
 */
static void
test_rx_small_buffer(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t big[1000], small[60];
	uint64_t g1, g2;
	uint16_t h1, h2;
	struct dq *rq;
	struct vnet_stats st;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC));
	rq = &R.dq[0];
	h1 = post_rx(rq, 100, &g1);
	kick(0);
	make_frame(big, sizeof(big), 7);
	inject(big, sizeof(big));
	WAIT_COUNTER(ns_rx_dropped, 1);
	sleep_ms(20);
	assert_int_equal(used_idx(rq), 0);	/* nothing delivered */
	st = stats();
	assert_int_equal(st.ns_rx_packets, 0);

	/* A packet that fits takes the small chain; then the big one. */
	make_frame(small, sizeof(small), 8);
	inject(small, sizeof(small));
	assert_true(wait_used(rq, 1));
	expect_used(rq, h1, VNET_HDR_LEN + sizeof(small));
	expect_rx(g1, small, sizeof(small), 1);
	h2 = post_rx(rq, 1530, &g2);
	kick(0);
	inject(big, sizeof(big));
	assert_true(wait_used(rq, 1));
	expect_used(rq, h2, VNET_HDR_LEN + sizeof(big));
	expect_rx(g2, big, sizeof(big), 1);
	st = stats();
	assert_int_equal(st.ns_rx_packets, 2);
	assert_int_equal(st.ns_rx_dropped, 1);
}

/*
 * The same with MRG_RXBUF, when the whole ring holds less than the largest
 * packet (four 256-byte buffers): a packet that fits is spread over them,
 * one that does not is dropped, not cut to 1024 bytes.
 */
static void
test_rx_mrg_ring_too_small(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[1200];
	uint64_t g[4];
	uint16_t h[4];
	uint32_t id, len;
	struct dq *rq;
	unsigned int q, i;

	(void)state;
	rig_up(&ns, "vm", 0);
	assert_true(negotiate(F_VERSION_1 | F(MAC) | F(MRG_RXBUF)));
	queue_setup_size(0, 4);
	for (q = 1; q < R.nq; q++)
		queue_setup(q);
	w(STATUS, 15, 1);
	rq = &R.dq[0];
	for (i = 0; i < 4; i++)
		h[i] = post_rx(rq, 256, &g[i]);
	kick(0);
	make_frame(f, sizeof(f), 30);
	inject(f, sizeof(f));		/* 1212 bytes: does not fit */
	WAIT_COUNTER(ns_rx_dropped, 1);
	make_frame(f, 1000, 31);
	inject(f, 1000);		/* 1012 bytes: fits in four */
	assert_true(wait_used(rq, 4));
	for (i = 0; i < 4; i++) {
		take_used(rq, &id, &len);
		assert_int_equal(id, h[i]);
		assert_int_equal(len, i < 3 ? 256 : 244);
	}
	assert_memory_equal(gp(g[0]), &(struct vnet_hdr){ .vh_num_buffers = 4 },
	    VNET_HDR_LEN);
	assert_memory_equal(gp(g[0]) + VNET_HDR_LEN, f, 256 - VNET_HDR_LEN);
	assert_int_equal(stats().ns_rx_packets, 1);
}

/* A control command: class, cmd, data; returns the ack byte. */
static uint8_t
ctrl_cmd(uint8_t cls, uint8_t cmd, const void *data, size_t len)
{
	struct dq *cq = &R.dq[R.nq - 1];
	struct seg s[3];
	unsigned int n = 0;
	uint16_t h;

	s[n] = (struct seg){ galloc(2), 2, false };
	gp(s[n].gpa)[0] = cls;
	gp(s[n].gpa)[1] = cmd;
	n++;
	if (len > 0) {
		s[n] = (struct seg){ galloc(len), (uint32_t)len, false };
		memcpy(gp(s[n].gpa), data, len);
		n++;
	}
	s[n] = (struct seg){ galloc(1), 1, true };
	gp(s[n].gpa)[0] = 0xee;
	n++;
	h = chain(cq, s, n);
	publish(cq, h);
	kick(cq->q);
	assert_true(wait_used(cq, 1));
	expect_used(cq, h, 1);
	return gp(s[n - 1].gpa)[0];
}

static void
test_ctrl(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	uint16_t pairs;
	uint64_t offl = 0, feat;
	uint8_t f[100];
	struct dq *cq;
	struct seg s;
	uint16_t h;
	unsigned int bad = 0;

	(void)state;
	ns.ns_queues = 2;
	rig_up(&ns, "vm", 0);
	assert_int_equal(R.nq, 5);
	feat = device_features() & (F(CTRL_GUEST_OFFLOADS) | F(GUEST_CSUM));
	dev_up(F(MAC) | F(CTRL_VQ) | F(MQ) | feat);
	cq = &R.dq[4];

	/* A class that does not exist, and classes Hull does not offer. */
	assert_int_equal(ctrl_cmd(99, 0, NULL, 0), VNET_ERR);
	assert_int_equal(ctrl_cmd(VNET_CTRL_RX, 0, "\1", 1), VNET_ERR);
	assert_int_equal(ctrl_cmd(VNET_CTRL_MAC, 1, mac1, 6), VNET_ERR);
	bad += 3;
	/* Bad pair counts: 0, more than max_virtqueue_pairs, 0x8001. */
	pairs = 0;
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, &pairs, 2), VNET_ERR);
	pairs = 3;
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, &pairs, 2), VNET_ERR);
	pairs = 0x8001;
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, &pairs, 2), VNET_ERR);
	/* A pair count of the wrong size, an unknown MQ command. */
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, "\2", 1), VNET_ERR);
	pairs = 2;
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 7, &pairs, 2), VNET_ERR);
	bad += 5;
	/* Valid: both pairs. */
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, &pairs, 2), VNET_OK);
	pthread_mutex_lock(&R.vn->vn_lock);
	pairs = (uint16_t)R.vn->vn_pairs_on;
	pthread_mutex_unlock(&R.vn->vn_lock);
	assert_int_equal(pairs, 2);
	/* The second pair transmits. */
	make_frame(f, sizeof(f), 11);
	h = tx_chain(&R.dq[3], &(struct vnet_hdr){ 0 }, f, sizeof(f));
	publish(&R.dq[3], h);
	kick(3);
	assert_true(wait_used(&R.dq[3], 1));
	expect_used(&R.dq[3], h, 0);
	expect_capture(f, sizeof(f));
	/* Back to one. */
	pairs = 1;
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, &pairs, 2), VNET_OK);

	/* Guest offloads: only what was negotiated, as a le64. */
	if (feat == (F(CTRL_GUEST_OFFLOADS) | F(GUEST_CSUM))) {
		offl = F(GUEST_TSO4);	/* not negotiated */
		assert_int_equal(ctrl_cmd(VNET_CTRL_GUEST_OFFLOADS, 0, &offl,
		    8), VNET_ERR);
		offl = F(GUEST_CSUM);
		assert_int_equal(ctrl_cmd(VNET_CTRL_GUEST_OFFLOADS, 0, &offl,
		    4), VNET_ERR);
		assert_int_equal(ctrl_cmd(VNET_CTRL_GUEST_OFFLOADS, 0, &offl,
		    8), VNET_OK);
		offl = 0;
		assert_int_equal(ctrl_cmd(VNET_CTRL_GUEST_OFFLOADS, 0, &offl,
		    8), VNET_OK);
		bad += 2;
	} else {
		/* Not negotiated: refused. */
		assert_int_equal(ctrl_cmd(VNET_CTRL_GUEST_OFFLOADS, 0, &offl,
		    8), VNET_ERR);
		bad++;
	}

	/* No class and command: ERR.  More data than allowed: ERR. */
	{
		static uint8_t big[VNET_CTRL_MAX_DATA + 1];

		assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, big, sizeof(big)),
		    VNET_ERR);
		bad++;
	}
	s = (struct seg){ galloc(1), 1, true };
	h = chain(cq, &s, 1);
	publish(cq, h);
	kick(4);
	assert_true(wait_used(cq, 1));
	expect_used(cq, h, 1);
	assert_int_equal(gp(s.gpa)[0], VNET_ERR);
	bad++;
	/* No writable byte at all: nowhere to ack, used length 0. */
	s = (struct seg){ galloc(2), 2, false };
	h = chain(cq, &s, 1);
	publish(cq, h);
	kick(4);
	assert_true(wait_used(cq, 1));
	expect_used(cq, h, 0);
	bad++;
	assert_int_equal(stats().ns_ctrl_bad, bad);
	assert_int_equal(r(STATUS, 1), 15);
}

/* MQ not negotiated: VQ_PAIRS_SET is refused even for one pair. */
static void
test_ctrl_mq_unnegotiated(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	uint16_t pairs = 1;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC) | F(CTRL_VQ));
	assert_int_equal(ctrl_cmd(VNET_CTRL_MQ, 0, &pairs, 2), VNET_ERR);
	assert_int_equal(stats().ns_ctrl_bad, 1);
}

static bool
needs_reset(void *arg)
{
	(void)arg;
	return (r(STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

static void
test_corrupt_ring_reset(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[300];
	struct dq *tq, *rq;
	uint16_t h, idx;
	uint64_t g;

	(void)state;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC) | F(MRG_RXBUF));
	tq = &R.dq[1];
	/* avail->idx jumps by more than the queue size. */
	idx = (uint16_t)(QSIZE + 1);
	__atomic_store_n((uint16_t *)(void *)gp(q_avail(1) + 2), idx,
	    __ATOMIC_RELEASE);
	kick(1);
	assert_true(wait_for(needs_reset, NULL));
	assert_int_equal(used_idx(tq), 0);
	/* Stopped: packets from the host are not taken. */
	assert_false(locked_flag(&R.vn->vn_active));

	/* Reset, then the whole init again: both directions work. */
	w(STATUS, 0, 1);
	assert_int_equal(r(STATUS, 1), 0);
	dev_up(F(MAC) | F(MRG_RXBUF));
	tq = &R.dq[1];
	rq = &R.dq[0];
	make_frame(f, sizeof(f), 12);
	h = tx_chain(tq, &(struct vnet_hdr){ 0 }, f, sizeof(f));
	publish(tq, h);
	kick(1);
	assert_true(wait_used(tq, 1));
	expect_used(tq, h, 0);
	expect_capture(f, sizeof(f));
	h = post_rx(rq, 2048, &g);
	kick(0);
	make_frame(f, sizeof(f), 13);
	inject(f, sizeof(f));
	assert_true(wait_used(rq, 1));
	expect_used(rq, h, VNET_HDR_LEN + sizeof(f));
	expect_rx(g, f, sizeof(f), 1);

	/* A corrupt receive ring: a head beyond the queue. */
	R.ram[q_avail(0) + 4 + 2 * (rq->avail_idx % QSIZE)] = 0xff;
	R.ram[q_avail(0) + 5 + 2 * (rq->avail_idx % QSIZE)] = 0x00;
	rq->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)gp(q_avail(0) + 2),
	    rq->avail_idx, __ATOMIC_RELEASE);
	kick(0);
	inject(f, sizeof(f));
	assert_true(wait_for(needs_reset, NULL));
	w(STATUS, 0, 1);
	dev_up(F(MAC));
	rq = &R.dq[0];
	h = post_rx(rq, 2048, &g);
	kick(0);
	make_frame(f, sizeof(f), 14);
	inject(f, sizeof(f));
	assert_true(wait_used(rq, 1));
	expect_used(rq, h, VNET_HDR_LEN + sizeof(f));
	expect_rx(g, f, sizeof(f), 1);
}

static void
test_rx_no_buffers(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f1[500], f2[600];
	uint64_t g1, g2;
	uint16_t h1, h2;
	struct dq *rq;

	(void)state;
	rig_up(&ns, "vm", 0);
	/* Before DRIVER_OK nobody takes packets: they are discarded. */
	make_frame(f1, sizeof(f1), 20);
	inject(f1, sizeof(f1));
	WAIT_COUNTER(ns_rx_nodriver, 1);

	dev_up(F(MAC) | F(MRG_RXBUF));
	rq = &R.dq[0];
	make_frame(f1, sizeof(f1), 21);
	inject(f1, sizeof(f1));
	/* No buffers: the device stops reading the tap and waits. */
	WAIT_COUNTER(ns_rx_waits, 1);
	make_frame(f2, sizeof(f2), 22);
	inject(f2, sizeof(f2));
	sleep_ms(50);
	assert_int_equal(used_idx(rq), 0);
	assert_true(locked_flag(&R.vn->vn_pair[0].np_rx_blocked));
	assert_int_equal(stats().ns_rx_dropped, 0);

	/* Buffers and a kick: both packets, in order, nothing lost. */
	h1 = post_rx(rq, 1600, &g1);
	h2 = post_rx(rq, 1600, &g2);
	kick(0);
	assert_true(wait_used(rq, 2));
	expect_used(rq, h1, VNET_HDR_LEN + sizeof(f1));
	expect_rx(g1, f1, sizeof(f1), 1);
	expect_used(rq, h2, VNET_HDR_LEN + sizeof(f2));
	expect_rx(g2, f2, sizeof(f2), 1);
	assert_int_equal(stats().ns_rx_packets, 2);
}

/* ---- rate limits ------------------------------------------------------ */

#define RL_N		25	/* packets per rate-limit test */

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process so far, every thread. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Like wait_used, with a bound of ms milliseconds. */
static bool
wait_used_ms(const struct dq *dq, uint16_t n, unsigned int ms)
{
	struct wait_used_arg a = { dq, n };
	unsigned int i;

	for (i = 0; i < ms; i++) {
		if (used_ready(&a))
			return true;
		sleep_ms(1);
	}
	return used_ready(&a);
}

/*
 * Transmit at 10 packets/s (a bucket of one packet): 25 queued packets take
 * at least 2.4 s, go out in order, none dropped, and the device sleeps
 * meanwhile.  Only lower bounds on time: a loaded machine is slower, never
 * faster.
 */
static void
test_tx_rate_limit(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[RL_N][100], buf[2048];
	struct vnet_hdr h = { 0 };
	uint16_t hd[RL_N];
	struct vnet_stats st;
	double t0, c0, el;
	unsigned int i, u;
	struct dq *tq;
	size_t n;

	(void)state;
	ns.ns_rate_pps = 10;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC));
	tq = &R.dq[1];
	for (i = 0; i < RL_N; i++) {
		make_frame(f[i], 60 + i, (uint8_t)i);
		hd[i] = tx_chain(tq, &h, f[i], 60 + i);
		publish(tq, hd[i]);
	}
	t0 = mono_s();
	c0 = cpu_s();
	kick(1);
	/* After el seconds, at most the one in the bucket and 10 a second. */
	sleep_ms(1000);
	u = used_idx(tq);
	el = mono_s() - t0;
	if (u > 1 + 10 * el + 1e-9)
		fail_msg("%u packets after %.3f s at 10/s", u, el);
	assert_true(wait_used_ms(tq, RL_N, 30000));
	el = mono_s() - t0;
	if (el < 2.35)
		fail_msg("%u packets at 10/s in %.3f s", RL_N, el);
	/* 24 timer wake-ups, not a spin: well under the 2.4 s it took. */
	if (cpu_s() - c0 > 1.2)
		fail_msg("%.3f s of CPU while throttled", cpu_s() - c0);
	for (i = 0; i < RL_N; i++)
		expect_used(tq, hd[i], 0);
	for (i = 0; i < RL_N; i++) {
		assert_true(capture(buf, sizeof(buf), &n));
		assert_int_equal(n, 60 + i);
		assert_memory_equal(buf, f[i], n);
	}
	st = stats();
	assert_int_equal(st.ns_tx_packets, RL_N);
	assert_int_equal(st.ns_tx_dropped, 0);
	assert_true(st.ns_tx_throttled >= 1);
	assert_int_equal(st.ns_rx_throttled, 0);
}

/*
 * Receive at 10000 bytes/s (a bucket of 1000 bytes): 16 frames of 1000
 * bytes take at least 1.4 s (the first goes on the full bucket, each
 * further one owes 1000 bytes), and arrive in order, none dropped: the
 * rest wait in the tap's queue meanwhile.
 */
static void
test_rx_rate_limit(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	static uint8_t f[16][1000];
	uint64_t g[16];
	uint16_t hd[16];
	struct vnet_stats st;
	double t0, c0, el;
	unsigned int i, u;
	struct dq *rq;

	(void)state;
	ns.ns_rate_bps = 10000;
	rig_up(&ns, "vm", 0);
	dev_up(F(MAC));
	rq = &R.dq[0];
	for (i = 0; i < 16; i++)
		hd[i] = post_rx(rq, 1530, &g[i]);
	kick(0);
	t0 = mono_s();
	c0 = cpu_s();
	for (i = 0; i < 16; i++) {
		make_frame(f[i], sizeof(f[i]), (uint8_t)(40 + i));
		inject(f[i], sizeof(f[i]));
	}
	/*
	 * After el seconds, at most the bucket's 1000 bytes, 10000 a second
	 * and the one frame that may go below zero.
	 */
	sleep_ms(500);
	u = used_idx(rq);
	el = mono_s() - t0;
	if (u * 1000.0 > 1000 + 10000 * el + 1000 + 1e-6)
		fail_msg("%u frames of 1000 bytes after %.3f s at 10000 "
		    "bytes/s", u, el);
	assert_true(wait_used_ms(rq, 16, 30000));
	el = mono_s() - t0;
	if (el < 1.35)
		fail_msg("16 frames of 1000 bytes at 10000 bytes/s in %.3f s",
		    el);
	if (cpu_s() - c0 > 1.0)
		fail_msg("%.3f s of CPU while throttled", cpu_s() - c0);
	for (i = 0; i < 16; i++) {
		expect_used(rq, hd[i], VNET_HDR_LEN + sizeof(f[i]));
		expect_rx(g[i], f[i], sizeof(f[i]), 1);
	}
	st = stats();
	assert_int_equal(st.ns_rx_packets, 16);
	assert_int_equal(st.ns_rx_bytes, 16 * sizeof(f[0]));
	assert_int_equal(st.ns_rx_dropped, 0);
	assert_true(st.ns_rx_throttled >= 1);
}

/* A limit with vhost is refused (the kernel would bypass it). */
static void
test_rate_limit_vhost(void **state)
{
	struct nic_spec ns = spec(TAPNAME);
	char err[256] = "";
	struct virtio_create vc = { .vc_spec = &ns, .vc_nvcpus = 1,
	    .vc_vmname = "vm", .vc_err = err, .vc_errlen = sizeof(err) };
	struct pci_bus *pcb;
	struct virtio_pci *vp;
	struct ioloop *loop;
	struct bus bus;
	struct gm gm;
	uint8_t *ram;

	(void)state;
	if (no_netns)
		skip();
	ns.ns_vhost = true;
	ns.ns_rate_bps = 1000000;
	ram = calloc(1, 1 << 20);
	assert_non_null(ram);
	gm_init_from(&gm, ram, 1 << 20);
	bus_init(&bus);
	assert_int_equal(pci_bus_create(&bus, &irq_ops, NULL, &pcb), 0);
	loop = ioloop_create();
	assert_non_null(loop);
	vc.vc_loop = loop;
	assert_int_equal(virtio_pci_create(pcb, &gm, real_model, &vc, &host,
	    &vp), -EINVAL);
	assert_string_equal(err, "nics[0].rate_limit: not with vhost-net");
	assert_int_equal(if_nametoindex(TAPNAME), 0);
	ioloop_destroy(loop);
	pci_bus_destroy(pcb);
	free(ram);
}

/* The tap goes away with the device; a named tap is not left behind. */
static void
test_destroy_removes_tap(void **state)
{
	struct nic_spec ns = spec(TAPNAME);

	(void)state;
	rig_up(&ns, "vm", 0);
	assert_true(if_nametoindex(TAPNAME) > 0);
	teardown(NULL);
	assert_int_equal(if_nametoindex(TAPNAME), 0);
}

/* ---- main: one child in its own namespaces --------------------------- */

static void
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	(void)!write(fd, s, strlen(s));
	close(fd);
}

static void
enter_netns(void)
{
	int fd;

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
		fprintf(stderr, "test_net: no network namespace (%s): "
		    "skipping\n", strerror(errno));
		no_netns = true;
		return;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "test_net: /dev/net/tun: %s: skipping\n",
		    strerror(errno));
		no_netns = true;
		return;
	}
	close(fd);
	/* No IPv6 chatter (router solicitations, MLD) towards the guest. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_features_and_config, teardown),
		cmocka_unit_test_teardown(test_tx, teardown),
		cmocka_unit_test_teardown(test_tx_hostile, teardown),
		cmocka_unit_test_teardown(test_rx, teardown),
		cmocka_unit_test_teardown(test_rx_mrg, teardown),
		cmocka_unit_test_teardown(test_rx_mrg_spill, teardown),
		cmocka_unit_test_teardown(test_rx_batch, teardown),
		cmocka_unit_test_teardown(test_rx_hostile, teardown),
		cmocka_unit_test_teardown(test_rx_small_buffer, teardown),
		cmocka_unit_test_teardown(test_rx_mrg_ring_too_small, teardown),
		cmocka_unit_test_teardown(test_ctrl, teardown),
		cmocka_unit_test_teardown(test_ctrl_mq_unnegotiated, teardown),
		cmocka_unit_test_teardown(test_corrupt_ring_reset, teardown),
		cmocka_unit_test_teardown(test_rx_no_buffers, teardown),
		cmocka_unit_test_teardown(test_destroy_removes_tap, teardown),
		cmocka_unit_test_teardown(test_tx_rate_limit, teardown),
		cmocka_unit_test_teardown(test_rx_rate_limit, teardown),
		cmocka_unit_test(test_rate_limit_vhost),
	};
	pid_t pid;
	int st;

	real_model = virtio_model_find("virtio-net");
	if (real_model == NULL) {
		fprintf(stderr, "test_net: no virtio-net model\n");
		return 1;
	}
	wrap_model = *real_model;
	wrap_model.create = wrap_create;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		alarm(CHILD_TIMEOUT);
		enter_netns();
		exit(cmocka_run_group_tests(tests, NULL, NULL) == 0 ? 0 : 1);
	}
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "test_net: child killed by signal %d\n",
		    WTERMSIG(st));
		return 1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
