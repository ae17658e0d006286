/*
 * virtio-net (virtio 1.2 §5.1) on a tap (include/tap.h).  Queue pair i is
 * receiveq i (queue 2i), transmitq i (2i + 1) and tap queue fd i; the
 * control queue comes last.  Everything runs on the I/O thread:
 *
 * - Transmit: on a kick, pop chains, check each with vnet_tx_parse (header
 *   copied once) and writev it to the tap straight from guest memory.
 * - Receive: the tap fd is watched; packets are read with readv straight
 *   into guest buffers.  The size of the next packet is not known before the
 *   read, so chains are popped into a per-queue pool until it can hold the
 *   largest packet the tap may hand over (with MRG_RXBUF, several chains
 *   per packet; without, one).  A read uses the pool's front chains; the
 *   ones it did not fill stay for the next packet.  With no buffers, the tap
 *   is unwatched until the driver kicks the receive queue.
 * - Control: MQ pair count (tap queues detached and attached to match) and
 *   guest offloads (TUNSETOFFLOAD).
 *
 * - Rate limits (nics[].rate_limit): token buckets (virtio/tbucket.h), one
 *   per direction.  Out of tokens, a transmit queue is left as it is, its
 *   chains in the ring (the driver sees back-pressure, nothing is dropped),
 *   and the tap is unwatched so that packets for the guest wait in the
 *   kernel's queue; a timerfd takes both up again when tokens are due.
 *
 * A malformed chain or header is counted and dropped (completed with
 * length 0); the VMM goes on.  A corrupt ring sets DEVICE_NEEDS_RESET.
 * reset and activate run on a vCPU and take vn_lock, as the I/O thread does.
 * The vhost-net data path is in virtio/net_vhost.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "iov.h"
#include "ioloop.h"
#include "net.h"
#include "spec.h"
#include "tap.h"
#include "virtio.h"

#define VNET_PAIRS_MAX		TAP_MAX_QUEUES
#define VNET_RX_BUDGET		128	/* packets per wakeup, then epoll */
#define VNET_TX_BUDGET		256	/* chains per turn, then requeue */
#define VNET_TX_NOTIFY_EVERY	64	/* free the driver's skbs early */
#define VNET_RX_IOV		1024	/* UIO_MAXIOV */
#define VNET_RX_AVG_START	1536	/* bytes: an Ethernet frame */

/* Receive offloads the driver may switch with CTRL_GUEST_OFFLOADS. */
#define VNET_GUEST_OFFLOADS	((1ULL << VIRTIO_NET_F_GUEST_CSUM) | \
				 (1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
				 (1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
				 (1ULL << VIRTIO_NET_F_GUEST_ECN))
#define VNET_GUEST_GSO		((1ULL << VIRTIO_NET_F_GUEST_TSO4) | \
				 (1ULL << VIRTIO_NET_F_GUEST_TSO6))

static void	vnet_destroy(void *);
static void	vnet_rx_ready(void *);
static void	vnet_work(void *);
static void	vnet_timer(void *);

static uint16_t
vnet_rxq(unsigned int pair)
{
	return (uint16_t)(2 * pair);
}

static uint16_t
vnet_txq(unsigned int pair)
{
	return (uint16_t)(2 * pair + 1);
}

/* The TUN_F_* flags that match the driver's receive offloads. */
static unsigned int
vnet_tap_flags(uint64_t offloads)
{
	unsigned int f = 0;

	/* TSO without a partial checksum is meaningless to the kernel. */
	if (!(offloads & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	f |= TAP_F_CSUM;
	if (offloads & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		f |= TAP_F_TSO4;
	if (offloads & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		f |= TAP_F_TSO6;
	if ((f & (TAP_F_TSO4 | TAP_F_TSO6)) &&
	    (offloads & (1ULL << VIRTIO_NET_F_GUEST_ECN)))
		f |= TAP_F_TSO_ECN;
	return f;
}

/* ", rate limit 1000 packets/s 2000000 bytes/s", or "" without one. */
static const char *
vnet_limit_str(const struct vnet *vn, char *buf, size_t len)
{
	buf[0] = '\0';
	return vn->vn_limited ? tb_limit_str(&vn->vn_tx_lim, "rate limit",
	    "packets/s", buf, len) : buf;
}

/*
 * Whether lim has no token for one more packet now; if so, the timer is
 * set for when it will.  vn_lock held.
 */
static bool
vnet_throttle(struct vnet *vn, struct tb_limit *lim)
{
	uint64_t now, wait;

	if (!vn->vn_limited)
		return false;
	now = tb_now();
	wait = tb_limit_wait(lim, now);
	if (wait == 0)
		return false;
	if (vn->vn_timer_at != 0 && vn->vn_timer_at <= now + wait)
		return true;	/* it fires before then anyway */
	/* No wake-up: better over the limit than a queue stuck for good. */
	if (tb_timer_arm(vn->vn_timer_fd, now + wait) < 0)
		return false;
	vn->vn_timer_at = now + wait;
	return true;
}

/*
 * Batches need an io_uring for the tap (set up now, before the sandbox
 * forbids io_uring_setup) and an overflow buffer per receive read.
 * HULL_NET_BATCH (1..VNET_BATCH) sets the calls per batch, 1 being one
 * readv or writev per packet: for tests and the bench harness.  Without
 * either, the device makes one call per packet.
 */
static void
vnet_batch_init(struct vnet *vn)
{
	const char *env = getenv("HULL_NET_BATCH");
	unsigned int k = VNET_BATCH;
	int rc;

	if (env != NULL && *env != '\0') {
		k = (unsigned int)strtoul(env, NULL, 10);
		if (k < 1 || k > VNET_BATCH)
			k = VNET_BATCH;
	}
	if (k == 1)
		return;
	rc = tap_batch_init(vn->vn_tap, k);
	if (rc < 0) {
		fprintf(stderr, "hull: nics[%u]: no io_uring batches for the tap "
		    "(%s): one read or write per packet\n", vn->vn_index,
		    strerror(-rc));
		return;
	}
	if (tap_batch_can(vn->vn_tap, true))
		vn->vn_tx_batch = k;
	if (!tap_batch_can(vn->vn_tap, false)) {
		fprintf(stderr, "hull: nics[%u]: this kernel's tap cannot be "
		    "read without waiting through io_uring (no RWF_NOWAIT): "
		    "one read per packet\n", vn->vn_index);
		return;
	}
	vn->vn_bdrop = malloc((size_t)(k - 1) * sizeof(vn->vn_drop));
	if (vn->vn_bdrop != NULL)
		vn->vn_rx_batch = k;
}

static int
vnet_create(struct virtio_dev *vd, const struct virtio_create *vc, void **priv,
    unsigned int *nqueues, size_t *cfg_size)
{
	const struct nic_spec *ns = vc->vc_spec;
	struct tap_opts to = { .to_mtu = ns->ns_mtu };
	char terr[200], lim[80];
	struct vnet *vn;
	unsigned int i, np;
	int rc, mtu;

	np = ns->ns_queues != 0 ? ns->ns_queues : vc->vc_nvcpus;
	if (np == 0)
		np = 1;
	if (np > VNET_PAIRS_MAX)
		np = VNET_PAIRS_MAX;
	vn = calloc(1, sizeof(*vn));
	if (vn == NULL) {
		snprintf(vc->vc_err, vc->vc_errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&vn->vn_lock, NULL);
	vn->vn_dev = vd;
	vn->vn_loop = vc->vc_loop;
	vn->vn_index = vc->vc_index;
	vn->vn_npairs = np;
	vn->vn_pairs_on = 1;
	vn->vn_work_fd = -1;
	vn->vn_timer_fd = -1;
	vn->vn_rx_batch = vn->vn_tx_batch = 1;	/* vnet_batch_init: more */
	vn->vn_want_vhost = ns->ns_vhost;
	for (i = 0; i < VNET_PAIRS_MAX; i++) {
		vn->vn_pair[i].np_net = vn;
		vn->vn_pair[i].np_idx = i;
		vn->vn_pair[i].np_fd = -1;
		vn->vn_pair[i].np_vhost_fd = -1;
		vn->vn_pair[i].np_call_fd[0] = vn->vn_pair[i].np_call_fd[1] = -1;
	}
	snprintf(to.to_name, sizeof(to.to_name), "%s", ns->ns_tap);
	snprintf(to.to_bridge, sizeof(to.to_bridge), "%s", ns->ns_bridge);
	snprintf(vn->vn_bridge, sizeof(vn->vn_bridge), "%s", ns->ns_bridge);
	to.to_queues = np;
	rc = tap_open(&to, &vn->vn_tap, terr, sizeof(terr));
	if (rc < 0) {
		snprintf(vc->vc_err, vc->vc_errlen, "nics[%u].%s: %s",
		    vc->vc_index, ns->ns_tap[0] != '\0' ? "tap" : "bridge",
		    terr);
		goto fail;
	}
	/* Offer the offloads this kernel's tap can take, and only those. */
	vn->vn_tap_offloads = tap_set_offload(vn->vn_tap, TAP_F_CSUM |
	    TAP_F_TSO4 | TAP_F_TSO6 | TAP_F_TSO_ECN) == 0;
	(void)tap_set_offload(vn->vn_tap, 0);
	vn->vn_offloads = !ns->ns_no_offloads && vn->vn_tap_offloads;
	mtu = tap_mtu(vn->vn_tap);
	vn->vn_mtu = ns->ns_mtu != 0 ? ns->ns_mtu :
	    mtu > 0 ? (unsigned int)mtu : 1500;

	if (ns->ns_has_mac)
		memcpy(vn->vn_cfg.vcfg_mac, ns->ns_mac, 6);
	else
		vnet_mac_from_name(vc->vc_vmname, vc->vc_index,
		    vn->vn_cfg.vcfg_mac);
	vn->vn_cfg.vcfg_status = VNET_S_LINK_UP;
	vn->vn_cfg.vcfg_max_virtqueue_pairs = (uint16_t)np;
	vn->vn_cfg.vcfg_mtu = (uint16_t)(vn->vn_mtu > 65535 ? 65535 :
	    vn->vn_mtu);

	for (i = 0; i < np; i++) {
		struct vnet_pair *p = &vn->vn_pair[i];

		p->np_pool = calloc(VNET_QSIZE_MAX, sizeof(*p->np_pool));
		if (p->np_pool == NULL) {
			snprintf(vc->vc_err, vc->vc_errlen, "out of memory");
			rc = -ENOMEM;
			goto fail;
		}
		p->np_fd = tap_fd(vn->vn_tap, i);
		rc = ioloop_add(vn->vn_loop, p->np_fd, vnet_rx_ready, p);
		if (rc < 0) {
			p->np_fd = -1;
			snprintf(vc->vc_err, vc->vc_errlen, "nics[%u]: cannot "
			    "watch the tap: %s", vc->vc_index, strerror(-rc));
			goto fail;
		}
	}
	vn->vn_work_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vn->vn_work_fd < 0 ||
	    (rc = ioloop_add(vn->vn_loop, vn->vn_work_fd, vnet_work, vn)) < 0) {
		rc = vn->vn_work_fd < 0 ? -errno : rc;
		if (vn->vn_work_fd >= 0)
			close(vn->vn_work_fd);
		vn->vn_work_fd = -1;
		snprintf(vc->vc_err, vc->vc_errlen, "nics[%u]: cannot set up "
		    "the transmit worker: %s", vc->vc_index, strerror(-rc));
		goto fail;
	}
	if (ns->ns_rate_bps != 0 || ns->ns_rate_pps != 0) {
		/* spec.c refuses this too: vhost would bypass the buckets. */
		if (vn->vn_want_vhost) {
			snprintf(vc->vc_err, vc->vc_errlen, "nics[%u].rate_limit: "
			    "not with vhost-net", vc->vc_index);
			rc = -EINVAL;
			goto fail;
		}
		tb_limit_init(&vn->vn_tx_lim, ns->ns_rate_bps, ns->ns_rate_pps,
		    tb_now());
		tb_limit_init(&vn->vn_rx_lim, ns->ns_rate_bps, ns->ns_rate_pps,
		    tb_now());
		vn->vn_limited = true;
		vn->vn_timer_fd = tb_timer_open();
		if (vn->vn_timer_fd < 0 || (rc = ioloop_add(vn->vn_loop,
		    vn->vn_timer_fd, vnet_timer, vn)) < 0) {
			rc = vn->vn_timer_fd < 0 ? vn->vn_timer_fd : rc;
			if (vn->vn_timer_fd >= 0)
				close(vn->vn_timer_fd);
			vn->vn_timer_fd = -1;
			snprintf(vc->vc_err, vc->vc_errlen, "nics[%u]: cannot set "
			    "up the rate limit's timer: %s", vc->vc_index,
			    strerror(-rc));
			goto fail;
		}
	}
	if (vn->vn_want_vhost) {
		rc = vnet_vhost_open(vn, vc->vc_err, vc->vc_errlen);
		if (rc < 0)
			goto fail;
	} else
		vnet_batch_init(vn);
	fprintf(stderr, "hull: nics[%u]: %s %s%s%s, %u queue pair%s, mtu %u, "
	    "mac %02x:%02x:%02x:%02x:%02x:%02x, offloads %s%s%s\n", vc->vc_index,
	    tap_created(vn->vn_tap) ? "created tap" : "tap", tap_name(vn->vn_tap),
	    ns->ns_bridge[0] != '\0' ? " on bridge " : "", ns->ns_bridge, np,
	    np == 1 ? "" : "s", vn->vn_mtu, vn->vn_cfg.vcfg_mac[0],
	    vn->vn_cfg.vcfg_mac[1], vn->vn_cfg.vcfg_mac[2],
	    vn->vn_cfg.vcfg_mac[3], vn->vn_cfg.vcfg_mac[4],
	    vn->vn_cfg.vcfg_mac[5], vn->vn_offloads ? "on" :
	    vn->vn_tap_offloads ? "off" : "off (the tap has none)",
	    vn->vn_want_vhost ? ", vhost-net" : "",
	    vnet_limit_str(vn, lim, sizeof(lim)));
	*priv = vn;
	*nqueues = 2 * np + 1;
	*cfg_size = sizeof(vn->vn_cfg);
	return 0;
fail:
	vnet_destroy(vn);
	return rc;
}

static uint64_t
vnet_features(void *priv)
{
	struct vnet *vn = priv;
	uint64_t f = (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_MTU) |
	    (1ULL << VIRTIO_NET_F_STATUS) | (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
	    (1ULL << VIRTIO_NET_F_CTRL_VQ) | (1ULL << VIRTIO_NET_F_MQ);

	if (vn->vn_offloads)
		f |= (1ULL << VIRTIO_NET_F_CSUM) |
		    (1ULL << VIRTIO_NET_F_HOST_TSO4) |
		    (1ULL << VIRTIO_NET_F_HOST_TSO6) |
		    (1ULL << VIRTIO_NET_F_HOST_ECN) |
		    (1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) |
		    VNET_GUEST_OFFLOADS;
	return f;
}

static void
vnet_cfg_read(void *priv, size_t off, void *buf, size_t len)
{
	struct vnet *vn = priv;

	memcpy(buf, (const uint8_t *)&vn->vn_cfg + off, len);
}

static void
vnet_cfg_write(void *priv, size_t off, const void *buf, size_t len)
{
	/* The MAC is writable only for legacy drivers; nothing else is. */
	(void)priv;
	(void)off;
	(void)buf;
	(void)len;
}

/* ---- receive ---------------------------------------------------------- */

static struct vnet_pool_ent *
vnet_pool_at(struct vnet_pair *p, unsigned int c)
{
	return &p->np_pool[p->np_ring[(p->np_pool_head + c) % VNET_QSIZE_MAX]];
}

/* Drop every chain held in p's pool (reset: the rings are gone). */
static void
vnet_pool_clear(struct vnet_pair *p)
{
	unsigned int i;

	if (p->np_pool != NULL)
		for (i = 0; i < VNET_QSIZE_MAX; i++)
			p->np_pool[i].pe_busy = p->np_pool[i].pe_used = false;
	p->np_pool_head = p->np_pool_n = p->np_pool_used = 0;
	p->np_pool_cap = 0;
	p->np_chain_max = 0;
}

/*
 * Pop receive chains into the pool until it holds want_cap bytes
 * (MRG_RXBUF) or want_n chains (without).  Returns 1 if the pool is ready,
 * 0 if the ring ran dry first, -EINVAL if the ring is corrupt.
 */
static int
vnet_pool_fill(struct vnet *vn, struct vnet_pair *p, struct virtq *vq,
    size_t want_cap, unsigned int want_n)
{
	bool mrg = vn->vn_acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	struct virtq_chain *ch = &vn->vn_chain;
	struct vnet_rx *rx = &vn->vn_rx;
	int rc;

	while (mrg ? p->np_pool_cap < want_cap : p->np_pool_n < want_n) {
		struct vnet_pool_ent *e;
		unsigned int i;

		/* Every buffer the ring can hold is here: make do with it. */
		if (p->np_pool_n == vq->vq_size)
			return 1;
		rc = virtq_pop(vq, ch);
		if (rc == 0)
			return 0;
		if (rc == -EBADMSG) {
			vn->vn_stats.ns_rx_bad++;
			(void)virtq_push(vq, ch->vc_head, 0);
			p->np_rx_pushed = true;
			continue;
		}
		if (rc < 0)
			return -EINVAL;
		/* virtq_pop hands out each head once until it is pushed. */
		if (ch->vc_head >= VNET_QSIZE_MAX ||
		    p->np_pool[ch->vc_head].pe_busy)
			return -EINVAL;
		rc = vnet_rx_buffers(ch->vc_iov, ch->vc_nout, ch->vc_nin, mrg,
		    0, rx);
		if (rc < 0) {
			vn->vn_stats.ns_rx_bad++;
			(void)virtq_push(vq, ch->vc_head, 0);
			p->np_rx_pushed = true;
			continue;
		}
		e = &p->np_pool[ch->vc_head];
		e->pe_head = ch->vc_head;
		e->pe_busy = true;
		e->pe_used = false;
		e->pe_cap = 0;
		/* A chain of more pieces is used only in part: allowed. */
		e->pe_niov = rx->vr_niov < VNET_POOL_SEGS ? rx->vr_niov :
		    VNET_POOL_SEGS;
		for (i = 0; i < e->pe_niov; i++) {
			e->pe_iov[i] = rx->vr_iov[i];
			e->pe_cap += (uint32_t)rx->vr_iov[i].iov_len;
		}
		p->np_ring[(p->np_pool_head + p->np_pool_n) %
		    VNET_QSIZE_MAX] = ch->vc_head;
		p->np_pool_n++;
		p->np_pool_cap += e->pe_cap;
		if (e->pe_cap > p->np_chain_max)
			p->np_chain_max = e->pe_cap;
	}
	return 1;
}

/* Take the filled chains out of the pool; the others keep their order. */
static void
vnet_pool_compact(struct vnet_pair *p)
{
	struct vnet_pool_ent *e;
	unsigned int c, w;

	while (p->np_pool_used > 0 && p->np_pool_n > 0 &&
	    (e = vnet_pool_at(p, 0))->pe_used) {
		e->pe_busy = e->pe_used = false;
		p->np_pool_cap -= e->pe_cap;
		p->np_pool_head = (p->np_pool_head + 1) % VNET_QSIZE_MAX;
		p->np_pool_n--;
		p->np_pool_used--;
	}
	if (p->np_pool_used == 0)
		return;
	/* A read that found no packet, or chains a read did not need. */
	for (c = w = 0; c < p->np_pool_n; c++) {
		e = vnet_pool_at(p, c);
		if (e->pe_used) {
			e->pe_busy = e->pe_used = false;
			p->np_pool_cap -= e->pe_cap;
			continue;
		}
		p->np_ring[(p->np_pool_head + w++) % VNET_QSIZE_MAX] =
		    e->pe_head;
	}
	p->np_pool_n = w;
	p->np_pool_used = 0;
}

/*
 * Pool bytes a read of a batch may need: a largest packet, plus the slack
 * of whole chains (its own last one and its overflow's last one).
 */
static size_t
vnet_rx_need(const struct vnet *vn, const struct vnet_pair *p)
{
	return vn->vn_rx_max + 2 * (size_t)p->np_chain_max;
}

/*
 * Split the pool's front chains into up to kmax reads (vn_rxg, vn_rd),
 * each gathered into vn_rxiov and ended by its overflow buffer: a tap read
 * truncates silently and returns the bytes it copied, so bytes past a
 * read's chains are how a packet too big for them shows.  With MRG_RXBUF
 * a read gets enough chains for the packets seen lately (twice the running
 * average): the kernel copies an iovec array of more than 8 entries on
 * every read, and 43 of them per 64-byte packet cost more than the rare
 * copy of an overflow into further chains (vnet_rx_spill), which come from
 * the chains past every read (vn_spill_at on).  The reads of a batch have
 * all run when the first overflow shows, so a read after the first is
 * made only while the pool could take a largest packet for every read
 * (vnet_rx_need each): then an overflow always finds its chains, and no
 * packet is dropped for want of buffers that a read one by one would have
 * waited for.  Returns the number of reads.
 */
static unsigned int
vnet_rx_plan(struct vnet *vn, struct vnet_pair *p, unsigned int kmax)
{
	bool mrg = vn->vn_acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	size_t want = 2 * p->np_rx_avg, need = vnet_rx_need(vn, p);
	unsigned int c = 0, g, i, n = 0, start;

	if (want > vn->vn_rx_max)
		want = vn->vn_rx_max;
	for (g = 0; g < kmax && c < p->np_pool_n; g++) {
		struct vnet_rxg *rg = &vn->vn_rxg[g];

		if (g > 0 && mrg && p->np_pool_cap < (g + 1) * need)
			break;
		rg->rg_first = c;
		rg->rg_n = 0;
		rg->rg_cap = 0;
		rg->rg_spill_n = 0;
		start = n;
		while (c < p->np_pool_n) {
			const struct vnet_pool_ent *e = vnet_pool_at(p, c);

			if (n + e->pe_niov + 1 > VNET_RX_IOV)
				break;
			for (i = 0; i < e->pe_niov; i++)
				vn->vn_rxiov[n++] = e->pe_iov[i];
			rg->rg_cap += e->pe_cap;
			rg->rg_n++;
			c++;
			if (!mrg || rg->rg_cap >= want)
				break;
		}
		if (rg->rg_n == 0)
			break;
		rg->rg_drop = g == 0 ? vn->vn_drop : vn->vn_bdrop +
		    (size_t)(g - 1) * sizeof(vn->vn_drop);
		vn->vn_rxiov[n].iov_base = rg->rg_drop;
		vn->vn_rxiov[n].iov_len = sizeof(vn->vn_drop);
		n++;
		vn->vn_rd[g].ti_iov = &vn->vn_rxiov[start];
		vn->vn_rd[g].ti_iovcnt = (int)(n - start);
		vn->vn_rd[g].ti_res = -EAGAIN;
	}
	vn->vn_spill_at = c;
	return g;
}

/*
 * Read rg's packet overflowed its chains by extra bytes, now in its drop
 * buffer: copy them into the next chains no read has, in order, as if the
 * read had reached them.  false if the pool holds too little (then drop
 * it).
 */
static bool
vnet_rx_spill(struct vnet *vn, struct vnet_pair *p, struct vnet_rxg *rg,
    size_t extra)
{
	const uint8_t *src = rg->rg_drop;
	unsigned int c;
	size_t room = 0, k;

	for (c = vn->vn_spill_at; c < p->np_pool_n && room < extra; c++)
		room += vnet_pool_at(p, c)->pe_cap;
	if (room < extra)
		return false;
	rg->rg_spill_first = vn->vn_spill_at;
	for (c = vn->vn_spill_at; extra > 0; c++) {
		const struct vnet_pool_ent *e = vnet_pool_at(p, c);

		k = extra < e->pe_cap ? extra : e->pe_cap;
		(void)viov_copy_to(e->pe_iov, e->pe_niov, 0, src, k);
		src += k;
		extra -= k;
	}
	rg->rg_spill_n = c - vn->vn_spill_at;
	vn->vn_spill_at = c;
	return true;
}

/* The k-th chain of read rg's packet: its own chains, then its spill. */
static struct vnet_pool_ent *
vnet_rxg_chain(struct vnet_pair *p, const struct vnet_rxg *rg, unsigned int k)
{
	return vnet_pool_at(p, k < rg->rg_n ? rg->rg_first + k :
	    rg->rg_spill_first + (k - rg->rg_n));
}

/*
 * Read rg put a packet of len bytes into its chains (and spill): complete
 * as many as it filled.  Only the first chain carries a header; its
 * num_buffers says how many.
 */
static void
vnet_rx_complete(struct vnet *vn, struct vnet_pair *p, struct virtq *vq,
    const struct vnet_rxg *rg, size_t len)
{
	const struct vnet_pool_ent *first = vnet_rxg_chain(p, rg, 0);
	unsigned int k, nchains = rg->rg_n + rg->rg_spill_n;
	uint16_t nbufs = 0;
	size_t left = len;

	for (k = 0; k < nchains && left > 0; k++) {
		const struct vnet_pool_ent *e = vnet_rxg_chain(p, rg, k);

		left -= left < e->pe_cap ? left : e->pe_cap;
		nbufs++;
	}
	/*
	 * The tap leaves num_buffers alone (it is ours to fill), and sets
	 * DATA_VALID, which a driver without GUEST_CSUM must not see.
	 */
	(void)viov_copy_to(first->pe_iov, first->pe_niov,
	    offsetof(struct vnet_hdr, vh_num_buffers), &nbufs, sizeof(nbufs));
	if (!(vn->vn_acked & (1ULL << VIRTIO_NET_F_GUEST_CSUM))) {
		uint8_t zero = 0;

		(void)viov_copy_to(first->pe_iov, first->pe_niov,
		    offsetof(struct vnet_hdr, vh_flags), &zero, 1);
	}
	left = len;
	for (k = 0; k < nbufs; k++) {
		struct vnet_pool_ent *e = vnet_rxg_chain(p, rg, k);
		uint32_t used = left < e->pe_cap ? (uint32_t)left : e->pe_cap;

		left -= used;
		(void)virtq_push(vq, e->pe_head, used);
		e->pe_used = true;
		p->np_pool_used++;
	}
	p->np_rx_pushed = true;
	vn->vn_stats.ns_rx_packets++;
	vn->vn_stats.ns_rx_bytes += len - VNET_HDR_LEN;
}

static void
vnet_rx_interrupt(struct vnet *vn, struct vnet_pair *p)
{
	if (!p->np_rx_pushed)
		return;
	p->np_rx_pushed = false;
	if (virtq_needs_notify(&vn->vn_dev->vd_vq[vnet_rxq(p->np_idx)]))
		virtio_dev_interrupt(vn->vn_dev, vnet_rxq(p->np_idx));
}

/* Packets nobody can take (no driver yet, or a detached queue): drop. */
static void
vnet_rx_discard(struct vnet *vn, struct vnet_pair *p)
{
	struct iovec iov = { vn->vn_drop, sizeof(vn->vn_drop) };
	unsigned int n;

	for (n = 0; n < VNET_RX_BUDGET; n++) {
		if (tap_readv(vn->vn_tap, p->np_idx, &iov, 1) < 0)
			break;
		vn->vn_stats.ns_rx_nodriver++;
	}
}

/*
 * What read rg brought (n: bytes or -errno): complete its packet, or count
 * and drop it.  Returns false when the queue is done for this turn (empty,
 * or a read error other than a bad buffer).
 */
static bool
vnet_rx_one(struct vnet *vn, struct vnet_pair *p, struct virtq *vq,
    struct vnet_rxg *rg, ssize_t n)
{
	if (n == -EAGAIN)
		return false;
	/* What the tap handed over counts, even if it is dropped. */
	if (n > 0)
		tb_limit_take(&vn->vn_rx_lim, (size_t)n > VNET_HDR_LEN ?
		    (uint64_t)n - VNET_HDR_LEN : 0, 1);
	if (n > 0 && (size_t)n > rg->rg_cap &&
	    (!(vn->vn_acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF)) ||
	    !vnet_rx_spill(vn, p, rg, (size_t)n - rg->rg_cap))) {
		/* Too big for the buffers: drop it, keep them. */
		vn->vn_stats.ns_rx_dropped++;
		return true;
	}
	if (n > 0)	/* running average, 1/8 weight */
		p->np_rx_avg = (7 * p->np_rx_avg + (size_t)n) / 8;
	if (n < (ssize_t)VNET_HDR_LEN) {
		/* The read failed: the buffers stay pooled. */
		vn->vn_stats.ns_rx_dropped++;
		return n >= 0 || n == -EFAULT || n == -EINVAL ||
		    n == -EMSGSIZE;
	}
	vnet_rx_complete(vn, p, vq, rg, (size_t)n);
	return true;
}

/*
 * Move packets from the tap into the guest, a batch of reads at a time
 * (one read under a rate limit, whose tokens are checked per packet).
 * vn_lock held.
 */
static void
vnet_rx(struct vnet *vn, struct vnet_pair *p)
{
	bool mrg = vn->vn_acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	struct virtq *vq = &vn->vn_dev->vd_vq[vnet_rxq(p->np_idx)];
	unsigned int kmax = vn->vn_limited ? 1 : vn->vn_rx_batch;
	unsigned int budget = 0, g, k;
	bool more;
	int rc;

	while (budget < VNET_RX_BUDGET) {
		if (vnet_throttle(vn, &vn->vn_rx_lim)) {
			/* Packets wait in the tap's queue until the timer. */
			p->np_rx_throttled = true;
			(void)ioloop_enable(vn->vn_loop, p->np_fd, false);
			vn->vn_stats.ns_rx_throttled++;
			break;
		}
		/* Room for a largest packet per read (see vnet_rx_plan). */
		rc = vnet_pool_fill(vn, p, vq, kmax == 1 ? vn->vn_rx_max :
		    kmax * vnet_rx_need(vn, p), kmax);
		if (rc < 0) {
			virtio_dev_needs_reset(vn->vn_dev, vq->vq_err != NULL ?
			    vq->vq_err : "receive queue broken");
			vn->vn_active = false;
			break;
		}
		if (rc == 0 && (mrg ? p->np_pool_cap < vn->vn_rx_max :
		    p->np_pool_n == 0)) {
			/* Ask for a kick when buffers come, then look again. */
			if (virtq_enable_notify(vq))
				continue;
			p->np_rx_blocked = true;
			(void)ioloop_enable(vn->vn_loop, p->np_fd, false);
			vn->vn_stats.ns_rx_waits++;
			break;
		}
		k = vnet_rx_plan(vn, p, kmax);
		if (k == 0)
			break;
		tap_readv_batch(vn->vn_tap, p->np_idx, vn->vn_rd, k);
		/* In order: rd[g + 1] holds a later packet than rd[g]. */
		more = true;
		for (g = 0; g < k; g++) {
			if (!vnet_rx_one(vn, p, vq, &vn->vn_rxg[g],
			    vn->vn_rd[g].ti_res))
				more = false;
			else
				budget++;
		}
		vnet_pool_compact(p);
		if (!more)
			break;
	}
	vnet_rx_interrupt(vn, p);
}

/* The tap has packets for queue pair p. */
static void
vnet_rx_ready(void *arg)
{
	struct vnet_pair *p = arg;
	struct vnet *vn = p->np_net;

	pthread_mutex_lock(&vn->vn_lock);
	/*
	 * vhost owns the tap: an event taken just before it was unwatched
	 * must not touch the rings the kernel now serves.
	 */
	if (vn->vn_vhost)
		;
	else if (!vn->vn_active || p->np_idx >= vn->vn_pairs_on)
		vnet_rx_discard(vn, p);
	else if (!p->np_rx_blocked && !p->np_rx_throttled)
		vnet_rx(vn, p);
	pthread_mutex_unlock(&vn->vn_lock);
}

/* ---- transmit --------------------------------------------------------- */

static void
vnet_tx_interrupt(struct vnet *vn, unsigned int pair)
{
	if (virtq_needs_notify(&vn->vn_dev->vd_vq[vnet_txq(pair)]))
		virtio_dev_interrupt(vn->vn_dev, vnet_txq(pair));
}

/*
 * Write the packets vnet_tx checked (one system call for all with
 * io_uring) and give their chains back.  *done counts completed chains.
 */
static void
vnet_tx_flush(struct vnet *vn, unsigned int pair, struct virtq *vq,
    unsigned int *done)
{
	unsigned int i, k = vn->vn_txb_n;
	ssize_t n;

	if (k == 0)
		return;
	tap_writev_batch(vn->vn_tap, pair, vn->vn_wr, k);
	for (i = 0; i < k; i++) {
		n = vn->vn_wr[i].ti_res;
		if (n < 0) {
			vn->vn_stats.ns_tx_dropped++;
		} else {
			vn->vn_stats.ns_tx_packets++;
			vn->vn_stats.ns_tx_bytes += vn->vn_txb[i].vt_frame_len;
			tb_limit_take(&vn->vn_tx_lim,
			    vn->vn_txb[i].vt_frame_len, 0);
		}
		/* Transmit buffers are only read: the used length is 0. */
		(void)virtq_push(vq, vn->vn_txb_head[i], 0);
		if (++*done % VNET_TX_NOTIFY_EVERY == 0)
			vnet_tx_interrupt(vn, pair);
	}
	vn->vn_txb_n = 0;
}

/*
 * Send what the driver queued on pair's transmit queue, in batches of
 * checked packets (one under a rate limit, whose tokens are checked per
 * packet).  vn_lock held.
 */
static void
vnet_tx(struct vnet *vn, unsigned int pair)
{
	struct virtq *vq = &vn->vn_dev->vd_vq[vnet_txq(pair)];
	struct virtq_chain *ch = &vn->vn_chain;
	unsigned int kmax = vn->vn_limited ? 1 : vn->vn_tx_batch;
	unsigned int done = 0;
	struct vnet_tx *tx;
	int rc;

	virtq_disable_notify(vq);
	for (;;) {
		if (done + vn->vn_txb_n == VNET_TX_BUDGET) {
			/* Let receive and other devices run; come back. */
			uint64_t one = 1;

			vn->vn_pair[pair].np_tx_more = true;
			(void)!write(vn->vn_work_fd, &one, sizeof(one));
			break;
		}
		if (vn->vn_limited && virtq_has_buffers(vq) &&
		    vnet_throttle(vn, &vn->vn_tx_lim)) {
			/*
			 * The chains stay in the ring and notifications off:
			 * the driver sees a full ring, nothing is dropped.
			 */
			vn->vn_pair[pair].np_tx_throttled = true;
			vn->vn_stats.ns_tx_throttled++;
			break;
		}
		rc = virtq_pop(vq, ch);
		if (rc == 0) {
			vnet_tx_flush(vn, pair, vq, &done);
			if (virtq_enable_notify(vq)) {
				virtq_disable_notify(vq);
				continue;
			}
			break;
		}
		tb_limit_take(&vn->vn_tx_lim, 0, 1);
		if (rc == -EBADMSG) {
			vn->vn_stats.ns_tx_bad++;
			(void)virtq_push(vq, ch->vc_head, 0);
			done++;
			continue;
		}
		if (rc < 0) {
			vnet_tx_flush(vn, pair, vq, &done);
			virtio_dev_needs_reset(vn->vn_dev, vq->vq_err != NULL ?
			    vq->vq_err : "transmit queue broken");
			vn->vn_active = false;
			return;
		}
		tx = &vn->vn_txb[vn->vn_txb_n];
		rc = vnet_tx_parse(ch->vc_iov, ch->vc_nout, ch->vc_nin,
		    vn->vn_acked, tx);
		if (rc < 0) {
			vn->vn_stats.ns_tx_bad++;
			(void)virtq_push(vq, ch->vc_head, 0);
			if (++done % VNET_TX_NOTIFY_EVERY == 0)
				vnet_tx_interrupt(vn, pair);
			continue;
		}
		vn->vn_txb_head[vn->vn_txb_n] = ch->vc_head;
		vn->vn_wr[vn->vn_txb_n].ti_iov = tx->vt_iov;
		vn->vn_wr[vn->vn_txb_n].ti_iovcnt = (int)tx->vt_niov;
		if (++vn->vn_txb_n == kmax)
			vnet_tx_flush(vn, pair, vq, &done);
	}
	vnet_tx_flush(vn, pair, vq, &done);
	vnet_tx_interrupt(vn, pair);
}

/* Transmit queues that ran out of budget get another turn. */
static void
vnet_work(void *arg)
{
	struct vnet *vn = arg;
	unsigned int i;
	uint64_t v;

	if (read(vn->vn_work_fd, &v, sizeof(v)) != sizeof(v))
		return;
	pthread_mutex_lock(&vn->vn_lock);
	for (i = 0; i < vn->vn_npairs; i++) {
		if (!vn->vn_pair[i].np_tx_more)
			continue;
		vn->vn_pair[i].np_tx_more = false;
		if (vn->vn_active && !vn->vn_vhost &&
		    !vn->vn_pair[i].np_tx_throttled)
			vnet_tx(vn, i);
	}
	pthread_mutex_unlock(&vn->vn_lock);
}

/* A rate limit's wait is over: take the throttled queues up again. */
static void
vnet_timer(void *arg)
{
	struct vnet *vn = arg;
	unsigned int n;

	tb_timer_ack(vn->vn_timer_fd);
	pthread_mutex_lock(&vn->vn_lock);
	vn->vn_timer_at = 0;
	/*
	 * The first queue taken up may spend all the new tokens: start one
	 * further each time, so that no pair starves the others.
	 */
	vn->vn_timer_first = (vn->vn_timer_first + 1) % vn->vn_npairs;
	for (n = 0; n < vn->vn_npairs; n++) {
		unsigned int i = (vn->vn_timer_first + n) % vn->vn_npairs;
		struct vnet_pair *p = &vn->vn_pair[i];

		if (p->np_rx_throttled) {
			/* Level-triggered: waiting packets wake vnet_rx_ready. */
			p->np_rx_throttled = false;
			if (!p->np_rx_blocked)
				(void)ioloop_enable(vn->vn_loop, p->np_fd, true);
		}
		if (p->np_tx_throttled) {
			p->np_tx_throttled = false;
			if (vn->vn_active && !vn->vn_vhost)
				vnet_tx(vn, i);
		}
	}
	pthread_mutex_unlock(&vn->vn_lock);
}

/* ---- control ---------------------------------------------------------- */

/* Attach the tap queues of the first n pairs and detach the rest. */
static int
vnet_set_pairs(struct vnet *vn, unsigned int n)
{
	unsigned int i;
	int rc = 0;

	if (vn->vn_npairs == 1)
		return 0;
	for (i = 0; i < vn->vn_npairs; i++) {
		int r = tap_queue_enable(vn->vn_tap, i, i < n);

		if (r < 0 && rc == 0)
			rc = r;
	}
	if (rc == 0)
		vn->vn_pairs_on = n;
	return rc;
}

static uint8_t
vnet_ctrl_do(struct vnet *vn, const struct vnet_ctrl *c)
{
	uint64_t offloads;
	uint16_t pairs;

	switch (c->vct_class) {
	case VNET_CTRL_MQ:
		if (!(vn->vn_acked & (1ULL << VIRTIO_NET_F_MQ)) ||
		    vnet_ctrl_mq_pairs(c, (uint16_t)vn->vn_npairs, &pairs) < 0)
			return VNET_ERR;
		return vnet_set_pairs(vn, pairs) == 0 ? VNET_OK : VNET_ERR;
	case VNET_CTRL_GUEST_OFFLOADS:
		/* SET (0): a le64 of receive offloads the driver negotiated. */
		if (!(vn->vn_acked &
		    (1ULL << VIRTIO_NET_F_CTRL_GUEST_OFFLOADS)) ||
		    c->vct_cmd != 0 || c->vct_len != sizeof(offloads))
			return VNET_ERR;
		memcpy(&offloads, c->vct_data, sizeof(offloads));
		if (offloads & ~(vn->vn_acked & VNET_GUEST_OFFLOADS))
			return VNET_ERR;
		if (tap_set_offload(vn->vn_tap, vnet_tap_flags(offloads)) < 0)
			return VNET_ERR;
		vn->vn_guest_offloads = offloads;
		vnet_update_rx_max(vn);
		return VNET_OK;
	default:
		return VNET_ERR;
	}
}

static void
vnet_ctrl(struct vnet *vn)
{
	unsigned int q = 2 * vn->vn_npairs;
	struct virtq *vq = &vn->vn_dev->vd_vq[q];
	struct virtq_chain *ch = &vn->vn_chain;
	struct vnet_ctrl *c = &vn->vn_ctrl;
	bool pushed = false;
	uint8_t ack;
	int rc;

	for (;;) {
		rc = virtq_pop(vq, ch);
		if (rc == 0) {
			if (virtq_enable_notify(vq))
				continue;
			break;
		}
		if (rc < 0 && rc != -EBADMSG) {
			virtio_dev_needs_reset(vn->vn_dev, vq->vq_err != NULL ?
			    vq->vq_err : "control queue broken");
			vn->vn_active = false;
			return;
		}
		pushed = true;
		if (rc == -EBADMSG ||
		    (rc = vnet_ctrl_parse(ch->vc_iov, ch->vc_nout, ch->vc_nin,
		    c)) == -EBADMSG) {
			vn->vn_stats.ns_ctrl_bad++;
			(void)virtq_push(vq, ch->vc_head, 0);
			continue;
		}
		ack = rc < 0 ? VNET_ERR : vnet_ctrl_do(vn, c);
		if (ack != VNET_OK)
			vn->vn_stats.ns_ctrl_bad++;
		/* SAFETY: vct_ack is the chain's last writable byte. */
		*c->vct_ack = ack;
		(void)virtq_push(vq, ch->vc_head, 1);
	}
	if (pushed && virtq_needs_notify(vq))
		virtio_dev_interrupt(vn->vn_dev, q);
}

/* ---- lifecycle -------------------------------------------------------- */

void
vnet_update_rx_max(struct vnet *vn)
{
	/*
	 * The largest packet the tap can hand over: with receive GSO, a
	 * 64 KiB frame; else one MTU-sized frame (VLAN tag included).
	 */
	if (vn->vn_guest_offloads & VNET_GUEST_GSO)
		vn->vn_rx_max = VNET_HDR_LEN + VNET_MAX_FRAME;
	else
		vn->vn_rx_max = VNET_HDR_LEN + VNET_ETH_HLEN + VNET_VLAN_HLEN +
		    (vn->vn_mtu > 1500 ? vn->vn_mtu : 1500);
}

static void
vnet_notify(void *priv, unsigned int q)
{
	struct vnet *vn = priv;
	struct vnet_pair *p;

	pthread_mutex_lock(&vn->vn_lock);
	if (!vn->vn_active) {
		pthread_mutex_unlock(&vn->vn_lock);
		return;
	}
	if (q == 2 * vn->vn_npairs) {
		vnet_ctrl(vn);		/* vhost-net has no control queue */
	} else if (vn->vn_vhost) {
		/* A doorbell vhost does not own yet: nothing to do. */
	} else if (q < 2 * vn->vn_npairs && (q & 1) == 1) {
		/* Throttled: the timer sends what is queued. */
		if (!vn->vn_pair[q / 2].np_tx_throttled)
			vnet_tx(vn, q / 2);
	} else if (q < 2 * vn->vn_npairs) {
		/* New receive buffers: take the tap up again. */
		p = &vn->vn_pair[q / 2];
		if (p->np_rx_blocked) {
			p->np_rx_blocked = false;
			if (!p->np_rx_throttled)
				(void)ioloop_enable(vn->vn_loop, p->np_fd, true);
		}
	}
	pthread_mutex_unlock(&vn->vn_lock);
}

static int
vnet_activate(void *priv, uint64_t acked)
{
	struct vnet *vn = priv;
	unsigned int i;
	int rc = 0;

	pthread_mutex_lock(&vn->vn_lock);
	vn->vn_acked = acked;
	vn->vn_guest_offloads = acked & VNET_GUEST_OFFLOADS;
	vnet_update_rx_max(vn);
	for (i = 0; i < vn->vn_npairs; i++)
		vn->vn_pair[i].np_rx_avg = VNET_RX_AVG_START;
	/* Until VQ_PAIRS_SET, only the first pair is used (§5.1.6.5.5). */
	(void)vnet_set_pairs(vn, 1);
	if (tap_set_offload(vn->vn_tap,
	    vnet_tap_flags(vn->vn_guest_offloads)) < 0)
		rc = -EIO;
	if (rc == 0 && vn->vn_want_vhost)
		rc = vnet_vhost_start(vn);
	if (rc == 0)
		vn->vn_active = true;
	pthread_mutex_unlock(&vn->vn_lock);
	return rc;
}

static void
vnet_reset(void *priv)
{
	struct vnet *vn = priv;
	unsigned int i;

	pthread_mutex_lock(&vn->vn_lock);
	vn->vn_active = false;
	vnet_vhost_stop(vn);
	for (i = 0; i < vn->vn_npairs; i++) {
		struct vnet_pair *p = &vn->vn_pair[i];

		vnet_pool_clear(p);
		p->np_rx_pushed = false;
		p->np_tx_more = false;
		p->np_tx_throttled = false;
		if (p->np_rx_blocked || p->np_rx_throttled) {
			p->np_rx_blocked = false;
			p->np_rx_throttled = false;
			(void)ioloop_enable(vn->vn_loop, p->np_fd, true);
		}
	}
	vn->vn_acked = 0;
	(void)vnet_set_pairs(vn, vn->vn_npairs);
	(void)tap_set_offload(vn->vn_tap, 0);
	pthread_mutex_unlock(&vn->vn_lock);
}

static void
vnet_destroy(void *priv)
{
	struct vnet *vn = priv;
	const struct vnet_stats *s;
	unsigned int i;

	if (vn == NULL)
		return;
	vnet_vhost_stop(vn);
	vnet_vhost_close(vn);
	for (i = 0; i < VNET_PAIRS_MAX; i++) {
		if (vn->vn_pair[i].np_fd >= 0)
			(void)ioloop_del(vn->vn_loop, vn->vn_pair[i].np_fd);
		free(vn->vn_pair[i].np_pool);
	}
	if (vn->vn_work_fd >= 0) {
		(void)ioloop_del(vn->vn_loop, vn->vn_work_fd);
		close(vn->vn_work_fd);
	}
	if (vn->vn_timer_fd >= 0) {
		(void)ioloop_del(vn->vn_loop, vn->vn_timer_fd);
		close(vn->vn_timer_fd);
	}
	s = &vn->vn_stats;
	if (vn->vn_tap != NULL && (s->ns_rx_bad || s->ns_tx_bad ||
	    s->ns_ctrl_bad || s->ns_rx_dropped || s->ns_tx_dropped))
		fprintf(stderr, "hull: nics[%u]: rx %llu packets (%llu dropped, "
		    "%llu bad buffers), tx %llu packets (%llu dropped, %llu "
		    "malformed), %llu bad control commands\n", vn->vn_index,
		    (unsigned long long)s->ns_rx_packets,
		    (unsigned long long)s->ns_rx_dropped,
		    (unsigned long long)s->ns_rx_bad,
		    (unsigned long long)s->ns_tx_packets,
		    (unsigned long long)s->ns_tx_dropped,
		    (unsigned long long)s->ns_tx_bad,
		    (unsigned long long)s->ns_ctrl_bad);
	tap_close(vn->vn_tap);
	free(vn->vn_bdrop);
	pthread_mutex_destroy(&vn->vn_lock);
	free(vn);
}

const struct vnet_stats *
vnet_stats(void *priv)
{
	return &((struct vnet *)priv)->vn_stats;
}

/*
 * With vhost-net the kernel moves the packets, so the data path counters
 * (rx_*, tx_*) stand still while "vhost" is 1; only ctrl_bad, the control
 * queue's, still moves.  So do the transport's q<N>_kicks of the data
 * queues, and their q<N>_interrupts when the kernel raises them through
 * an irqfd (MSI-X; with INTx they still pass through the VMM).
 */
static void
vnet_stats_emit(void *priv, const struct virtio_stats_sink *sink)
{
	struct vnet *vn = priv;
	struct vnet_stats st;
	unsigned int pairs;
	bool vhost;

	pthread_mutex_lock(&vn->vn_lock);
	st = vn->vn_stats;
	pairs = vn->vn_pairs_on;
	vhost = vn->vn_vhost;
	pthread_mutex_unlock(&vn->vn_lock);
	sink->ss_counter(sink->ss_ctx, "rx_packets", st.ns_rx_packets);
	sink->ss_counter(sink->ss_ctx, "rx_bytes", st.ns_rx_bytes);
	sink->ss_counter(sink->ss_ctx, "rx_dropped", st.ns_rx_dropped);
	sink->ss_counter(sink->ss_ctx, "rx_bad", st.ns_rx_bad);
	sink->ss_counter(sink->ss_ctx, "rx_nodriver", st.ns_rx_nodriver);
	sink->ss_counter(sink->ss_ctx, "rx_waits", st.ns_rx_waits);
	sink->ss_counter(sink->ss_ctx, "tx_packets", st.ns_tx_packets);
	sink->ss_counter(sink->ss_ctx, "tx_bytes", st.ns_tx_bytes);
	sink->ss_counter(sink->ss_ctx, "tx_dropped", st.ns_tx_dropped);
	sink->ss_counter(sink->ss_ctx, "tx_bad", st.ns_tx_bad);
	sink->ss_counter(sink->ss_ctx, "ctrl_bad", st.ns_ctrl_bad);
	sink->ss_counter(sink->ss_ctx, "rx_throttled", st.ns_rx_throttled);
	sink->ss_counter(sink->ss_ctx, "tx_throttled", st.ns_tx_throttled);
	sink->ss_counter(sink->ss_ctx, "queue_pairs_active", pairs);
	sink->ss_counter(sink->ss_ctx, "vhost", vhost);
}

/*
 * E.g. "tap hull0 on bridge br0, 2 queue pairs, mtu 1500, mac
 * 52:54:00:12:34:56, offloads on, vhost-net" or "..., offloads on, rate
 * limit 2000000 bytes/s".  Everything in it is fixed at create, so no
 * lock.
 */
static void
vnet_describe(void *priv, char *buf, size_t len)
{
	const struct vnet *vn = priv;
	const uint8_t *m = vn->vn_cfg.vcfg_mac;
	char lim[80];

	snprintf(buf, len, "tap %s%s%s, %u queue pair%s, mtu %u, "
	    "mac %02x:%02x:%02x:%02x:%02x:%02x, offloads %s%s%s",
	    tap_name(vn->vn_tap), vn->vn_bridge[0] != '\0' ? " on bridge " : "",
	    vn->vn_bridge, vn->vn_npairs, vn->vn_npairs == 1 ? "" : "s",
	    vn->vn_mtu, m[0], m[1], m[2], m[3], m[4], m[5],
	    vn->vn_offloads ? "on" : "off",
	    vn->vn_want_vhost ? ", vhost-net" : "",
	    vnet_limit_str(vn, lim, sizeof(lim)));
}

const struct virtio_model virtio_net_model = {
	.mo_name = "virtio-net",
	.mo_devid = VIRTIO_ID_NET,
	.mo_max_qsize = VNET_QSIZE_MAX,
	.create = vnet_create,
	.features = vnet_features,
	.cfg_read = vnet_cfg_read,
	.cfg_write = vnet_cfg_write,
	.activate = vnet_activate,
	.notify = vnet_notify,
	.reset = vnet_reset,
	.destroy = vnet_destroy,
	.stats = vnet_stats_emit,
	.describe = vnet_describe,
};
