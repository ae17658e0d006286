/*
 * A device harness for virtio-blk (virtio 1.2 §5.2) without KVM: this
 * program is the *driver*.  It lays out one split virtqueue (§2.7) in a
 * host buffer that stands in for guest RAM (gm_init), creates Hull's
 * virtio-blk model (virtio/blk.c) on a file with cache "none" (O_DIRECT),
 * and keeps a fixed number of requests in flight for a fixed time, as a
 * guest's virtio_blk driver would.  It prints IOPS and MB/s.
 *
 * What stands in for the transport (virtio/pci.c, not linked):
 *  - Kicks.  By default a kick is a write to an eventfd that the model's
 *    I/O thread (struct ioloop) watches and answers by calling
 *    model->notify(), which is what an ioeventfd does in a VM.  With
 *    --direct-kick the driver thread calls model->notify() itself; that is
 *    safe because the model takes its own lock, but it moves submission
 *    onto the driver thread, unlike a VM.
 *  - Interrupts.  virtio_dev_interrupt() below writes an eventfd the
 *    driver thread sleeps on, like an irqfd.
 *  - Feature negotiation.  The driver acks what the model offers, plus
 *    VERSION_1 and, unless --no-event-idx, EVENT_IDX (as Linux guests do).
 *
 * Notification suppression (§2.7.10), as Linux's virtio_ring does it:
 * with EVENT_IDX the driver kicks only when avail->idx crosses the
 * device's avail_event, and asks for an interrupt (used_event) only when
 * it has reaped everything and is about to sleep.  Without it the driver
 * kicks unless used->flags has NO_NOTIFY and never sets NO_INTERRUPT.
 *
 * Each request is three descriptors (header, data, status), at
 * descriptors 3i..3i+2 for slot i, so the head says which slot finished.
 * Data buffers are 4 KiB-aligned, so O_DIRECT needs no bounce buffer.
 *
 * Usage: blk_harness -f FILE [-r randread|randwrite|read|write] [-b BS]
 *	  [-q QD] [-t SECONDS] [--direct-kick] [--no-event-idx] [--writeback]
 *	  [-V POOL/VOL]
 * With -V, FILE is a volume pool and the disk is volume VOL in it
 * (docs/volumes.md); --writeback opens a raw FILE buffered, as a pool is.
 * Output: one line, "harness rw=... bs=... qd=... ops=... secs=...
 * iops=... mbps=... kicks=... irqs=..." (mbps = 10^6 bytes per second,
 * as fio's bw_bytes / 10^6).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "gm.h"
#include "ioloop.h"
#include "spec.h"
#include "virtio.h"

/* The driver's own copy of the request format (§5.2.6). */
#define HB_T_IN		0
#define HB_T_OUT	1
#define HB_S_OK		0

#define HB_QSIZE	256		/* the model's VBLK_QSIZE_MAX */
#define HB_QD_MAX	(HB_QSIZE / 3)	/* three descriptors per request */
#define HB_DESC_GPA	0x0000ULL
#define HB_AVAIL_GPA	0x1000ULL
#define HB_USED_GPA	0x2000ULL
#define HB_HDR_GPA	0x4000ULL	/* 16 bytes per slot */
#define HB_STATUS_GPA	0x5000ULL	/* 1 byte per slot */
#define HB_DATA_GPA	0x100000ULL	/* bs bytes per slot, 4 KiB-aligned */

extern const struct virtio_model virtio_blk_model;

struct hb_desc {
	uint64_t	d_addr;
	uint32_t	d_len;
	uint16_t	d_flags;
	uint16_t	d_next;
};

struct hb_used_elem {
	uint32_t	u_id;
	uint32_t	u_len;
};

struct hb {
	uint8_t			*hb_mem;
	size_t			 hb_memsize;
	struct gm		 hb_gm;
	struct virtio_dev	 hb_dev;
	struct ioloop		*hb_loop;
	int			 hb_kickfd;	/* driver -> I/O thread */
	int			 hb_irqfd;	/* device -> driver */
	bool			 hb_direct_kick;
	bool			 hb_event_idx;
	/* Driver-side ring state. */
	struct hb_desc		*hb_desc;
	uint16_t		*hb_avail_flags, *hb_avail_idx, *hb_avail_ring;
	uint16_t		*hb_used_event;
	uint16_t		*hb_used_idx;
	struct hb_used_elem	*hb_used_ring;
	uint16_t		*hb_avail_event;
	uint16_t		 hb_next_avail;	/* our copy of avail->idx */
	uint16_t		 hb_kicked_avail; /* avail->idx at the last kick check */
	uint16_t		 hb_last_used;
	/* Workload. */
	bool			 hb_write, hb_random;
	uint32_t		 hb_bs;
	unsigned int		 hb_qd;
	uint64_t		 hb_nblocks;	/* file size / bs */
	uint64_t		 hb_seq;	/* next sequential block */
	uint64_t		 hb_rng;
	uint64_t		 hb_kicks, hb_irqs;
};

static volatile int	hb_irq_fd = -1;
static volatile int	hb_broken;

/* The transport's half, without a transport: an irqfd. */
void
virtio_dev_interrupt(struct virtio_dev *vd, unsigned int q)
{
	uint64_t one = 1;

	(void)vd;
	(void)q;
	(void)!write(hb_irq_fd, &one, sizeof(one));
}

void
virtio_dev_needs_reset(struct virtio_dev *vd, const char *why)
{
	uint64_t one = 1;

	(void)vd;
	fprintf(stderr, "blk_harness: device needs reset: %s\n", why);
	__atomic_store_n(&hb_broken, 1, __ATOMIC_SEQ_CST);
	(void)!write(hb_irq_fd, &one, sizeof(one));
}

static double
hb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
hb_rand(struct hb *h)
{
	/* xorshift64*: cheap and good enough to spread offsets. */
	h->hb_rng ^= h->hb_rng >> 12;
	h->hb_rng ^= h->hb_rng << 25;
	h->hb_rng ^= h->hb_rng >> 27;
	return h->hb_rng * 2685821657736338717ULL;
}

/* vring_need_event (§2.7.10). */
static bool
hb_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* Fill slot i's header for its next request and put it on the avail ring. */
static void
hb_queue(struct hb *h, unsigned int i)
{
	uint8_t *hdr = h->hb_mem + HB_HDR_GPA + 16 * i;
	uint32_t type = h->hb_write ? HB_T_OUT : HB_T_IN;
	uint32_t zero = 0;
	uint64_t blk, sector;

	if (h->hb_random) {
		blk = hb_rand(h) % h->hb_nblocks;
	} else {
		blk = h->hb_seq++;
		if (h->hb_seq == h->hb_nblocks)
			h->hb_seq = 0;
	}
	sector = blk * (h->hb_bs / 512);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &zero, 4);
	memcpy(hdr + 8, &sector, 8);
	h->hb_mem[HB_STATUS_GPA + i] = 0xff;
	h->hb_avail_ring[h->hb_next_avail % HB_QSIZE] = (uint16_t)(3 * i);
	h->hb_next_avail++;
}

/* Publish what hb_queue() added and kick if the device asked for it. */
static void
hb_publish(struct hb *h)
{
	uint16_t old = h->hb_kicked_avail, new_idx = h->hb_next_avail;
	uint64_t one = 1;
	bool kick;

	if (old == new_idx)
		return;
	__atomic_store_n(h->hb_avail_idx, new_idx, __ATOMIC_RELEASE);
	/* The device's avail_event/flags are read after idx is visible. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (h->hb_event_idx)
		kick = hb_need_event(__atomic_load_n(h->hb_avail_event,
		    __ATOMIC_ACQUIRE), new_idx, old);
	else
		kick = !(__atomic_load_n(h->hb_used_idx - 1,
		    __ATOMIC_ACQUIRE) & VIRTQ_USED_F_NO_NOTIFY);
	h->hb_kicked_avail = new_idx;
	if (!kick)
		return;
	h->hb_kicks++;
	if (h->hb_direct_kick)
		h->hb_dev.vd_model->notify(h->hb_dev.vd_priv, 0);
	else
		(void)!write(h->hb_kickfd, &one, sizeof(one));
}

static void
hb_kick_cb(void *arg)
{
	struct hb *h = arg;
	uint64_t v;

	(void)!read(h->hb_kickfd, &v, sizeof(v));
	h->hb_dev.vd_model->notify(h->hb_dev.vd_priv, 0);
}

/*
 * Reap every used entry; requeue each slot unless stopping.  Returns how
 * many completed, or -1 on a bad completion.
 */
static int
hb_reap(struct hb *h, bool requeue)
{
	uint16_t end = __atomic_load_n(h->hb_used_idx, __ATOMIC_ACQUIRE);
	uint32_t want = h->hb_write ? 1 : h->hb_bs + 1;
	int n = 0;

	while (h->hb_last_used != end) {
		struct hb_used_elem *e = &h->hb_used_ring[h->hb_last_used %
		    HB_QSIZE];
		unsigned int i = e->u_id / 3;

		h->hb_last_used++;
		if (e->u_id % 3 != 0 || i >= h->hb_qd ||
		    h->hb_mem[HB_STATUS_GPA + i] != HB_S_OK ||
		    e->u_len != want) {
			fprintf(stderr, "blk_harness: bad completion: head %u "
			    "status %u len %u (want %u)\n", e->u_id,
			    i < h->hb_qd ? h->hb_mem[HB_STATUS_GPA + i] : 0,
			    e->u_len, want);
			return -1;
		}
		n++;
		if (requeue)
			hb_queue(h, i);
	}
	return n;
}

/*
 * Wait for completions: ask for an interrupt at the next used entry, look
 * once more (closes the race with the device), then sleep on the irqfd.
 */
static void
hb_wait(struct hb *h)
{
	uint64_t v;

	if (h->hb_event_idx)
		__atomic_store_n(h->hb_used_event, h->hb_last_used,
		    __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(h->hb_used_idx, __ATOMIC_ACQUIRE) !=
	    h->hb_last_used || __atomic_load_n(&hb_broken, __ATOMIC_SEQ_CST))
		return;
	if (read(h->hb_irqfd, &v, sizeof(v)) == sizeof(v))
		h->hb_irqs++;
}

static void
hb_layout(struct hb *h)
{
	unsigned int i;

	h->hb_desc = (struct hb_desc *)(void *)(h->hb_mem + HB_DESC_GPA);
	h->hb_avail_flags = (uint16_t *)(void *)(h->hb_mem + HB_AVAIL_GPA);
	h->hb_avail_idx = h->hb_avail_flags + 1;
	h->hb_avail_ring = h->hb_avail_flags + 2;
	h->hb_used_event = h->hb_avail_ring + HB_QSIZE;
	h->hb_used_idx = (uint16_t *)(void *)(h->hb_mem + HB_USED_GPA) + 1;
	h->hb_used_ring = (struct hb_used_elem *)(void *)(h->hb_mem +
	    HB_USED_GPA + 4);
	h->hb_avail_event = (uint16_t *)(void *)(h->hb_used_ring + HB_QSIZE);
	for (i = 0; i < h->hb_qd; i++) {
		struct hb_desc *d = &h->hb_desc[3 * i];

		d[0] = (struct hb_desc){ HB_HDR_GPA + 16 * i, 16,
		    VIRTQ_DESC_F_NEXT, (uint16_t)(3 * i + 1) };
		d[1] = (struct hb_desc){ HB_DATA_GPA + (uint64_t)h->hb_bs * i,
		    h->hb_bs, VIRTQ_DESC_F_NEXT |
		    (h->hb_write ? 0 : VIRTQ_DESC_F_WRITE),
		    (uint16_t)(3 * i + 2) };
		d[2] = (struct hb_desc){ HB_STATUS_GPA + i, 1,
		    VIRTQ_DESC_F_WRITE, 0 };
	}
}

static void
hb_usage(void)
{
	fprintf(stderr, "usage: blk_harness -f FILE [-r randread|randwrite|"
	    "read|write] [-b BS] [-q QD] [-t SECONDS] [--direct-kick] "
	    "[--no-event-idx] [--writeback] [-V POOL/VOL]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "direct-kick", no_argument, NULL, 'K' },
		{ "no-event-idx", no_argument, NULL, 'E' },
		{ "writeback", no_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	static struct hb h;
	static struct disk_spec ds;
	const char *rw = "randread", *file = NULL, *volume = NULL;
	bool writeback = false;
	double secs = 5, t0, t1, now;
	struct virtio_create vc;
	char err[256];
	unsigned int nq, i;
	uint64_t ops = 0, feat;
	size_t cfg_size;
	void *priv;
	int c, rc, n, status = 1;

	h.hb_bs = 4096;
	h.hb_qd = 32;
	h.hb_event_idx = true;
	while ((c = getopt_long(argc, argv, "f:r:b:q:t:V:", lopts, NULL)) != -1) {
		switch (c) {
		case 'V': volume = optarg; break;
		case 'W': writeback = true; break;
		case 'f': file = optarg; break;
		case 'r': rw = optarg; break;
		case 'b': h.hb_bs = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'q': h.hb_qd = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		case 'K': h.hb_direct_kick = true; break;
		case 'E': h.hb_event_idx = false; break;
		default: hb_usage();
		}
	}
	if (file == NULL || h.hb_bs == 0 || h.hb_bs % 4096 != 0 ||
	    h.hb_bs > (1u << 20) || h.hb_qd == 0 || h.hb_qd > HB_QD_MAX ||
	    !(secs > 0))
		hb_usage();
	if (strcmp(rw, "randread") == 0 || strcmp(rw, "randwrite") == 0)
		h.hb_random = true;
	else if (strcmp(rw, "read") != 0 && strcmp(rw, "write") != 0)
		hb_usage();
	h.hb_write = strstr(rw, "write") != NULL;
	h.hb_rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();

	/* "Guest RAM": the rings, headers and statuses, then the data. */
	/*
	 * Allocated as a VM's RAM is (gm_init: 2 MiB-aligned, THP advised):
	 * with 4 KiB pages O_DIRECT pins 256 pages per 1 MiB request, which
	 * alone halves 1 MiB throughput here (fio --mem=mmap shows the same).
	 */
	h.hb_memsize = (HB_DATA_GPA + (size_t)h.hb_bs * h.hb_qd +
	    (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	rc = gm_init(&h.hb_gm, h.hb_memsize);
	if (rc < 0) {
		fprintf(stderr, "blk_harness: gm_init: %s\n", strerror(-rc));
		return 1;
	}
	h.hb_mem = h.hb_gm.gm_map;
	/* Written data is not all zeroes, and every page is faulted in. */
	for (i = 0; i < h.hb_memsize / 8; i++)
		((uint64_t *)(void *)h.hb_mem)[i] = hb_rand(&h);
	memset(h.hb_mem, 0, HB_DATA_GPA);
	hb_layout(&h);

	hb_irq_fd = h.hb_irqfd = eventfd(0, EFD_CLOEXEC);
	h.hb_kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h.hb_irqfd < 0 || h.hb_kickfd < 0) {
		perror("blk_harness: eventfd");
		return 1;
	}
	if ((h.hb_loop = ioloop_create()) == NULL) {
		perror("blk_harness: ioloop_create");
		return 1;
	}

	snprintf(ds.ds_path, sizeof(ds.ds_path), "%s", file);
	if (volume != NULL)
		snprintf(ds.ds_volume, sizeof(ds.ds_volume), "%s", volume);
	ds.ds_cache = writeback ? SPEC_CACHE_WRITEBACK : SPEC_CACHE_NONE;
	vc = (struct virtio_create){ .vc_spec = &ds, .vc_nvcpus = 1,
	    .vc_loop = h.hb_loop, .vc_err = err, .vc_errlen = sizeof(err) };
	h.hb_dev.vd_model = &virtio_blk_model;
	h.hb_dev.vd_gm = &h.hb_gm;
	rc = virtio_blk_model.create(&h.hb_dev, &vc, &priv, &nq, &cfg_size);
	if (rc < 0) {
		fprintf(stderr, "blk_harness: %s\n", err);
		return 1;
	}
	h.hb_dev.vd_priv = priv;
	h.hb_dev.vd_nqueues = nq;
	{
		uint64_t cap;

		virtio_blk_model.cfg_read(priv, 0, &cap, 8);
		h.hb_nblocks = cap * 512 / h.hb_bs;
	}
	if (h.hb_nblocks < h.hb_qd) {
		fprintf(stderr, "blk_harness: %s: too small\n", file);
		goto out_destroy;
	}
	feat = virtio_blk_model.features(priv) | (1ULL << VIRTIO_F_VERSION_1);
	if (h.hb_event_idx)
		feat |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	h.hb_dev.vd_acked = feat;
	rc = virtq_setup(&h.hb_dev.vd_vq[0], &h.hb_gm, HB_QSIZE, HB_DESC_GPA,
	    HB_AVAIL_GPA, HB_USED_GPA, feat);
	if (rc < 0 || virtio_blk_model.activate(priv, feat) < 0) {
		fprintf(stderr, "blk_harness: queue setup failed\n");
		goto out_destroy;
	}
	if (!h.hb_direct_kick &&
	    ioloop_add(h.hb_loop, h.hb_kickfd, hb_kick_cb, &h) < 0) {
		fprintf(stderr, "blk_harness: ioloop_add failed\n");
		goto out_destroy;
	}
	if (ioloop_start(h.hb_loop) < 0) {
		fprintf(stderr, "blk_harness: ioloop_start failed\n");
		goto out_destroy;
	}

	t0 = hb_now();
	t1 = t0 + secs;
	for (i = 0; i < h.hb_qd; i++)
		hb_queue(&h, i);
	hb_publish(&h);
	now = t0;
	for (;;) {
		n = hb_reap(&h, now < t1);
		if (n < 0)
			goto out_stop;
		if (now < t1)
			ops += (uint64_t)n;
		hb_publish(&h);
		if (__atomic_load_n(&hb_broken, __ATOMIC_SEQ_CST))
			goto out_stop;
		if (n > 0) {
			now = hb_now();
			if (now >= t1 && (uint16_t)(h.hb_next_avail -
			    h.hb_last_used) == 0)
				break;
			continue;
		}
		if (now >= t1 && h.hb_next_avail == h.hb_last_used)
			break;
		hb_wait(&h);
		now = hb_now();
	}
	/* Requests completed after t1 were not counted: rate over [t0, t1]. */
	printf("harness rw=%s bs=%u qd=%u ops=%" PRIu64 " secs=%.3f "
	    "iops=%.0f mbps=%.1f kicks=%" PRIu64 " irqs=%" PRIu64 "\n",
	    rw, h.hb_bs, h.hb_qd, ops, secs, (double)ops / secs,
	    (double)ops * h.hb_bs / secs / 1e6, h.hb_kicks, h.hb_irqs);
	status = 0;
out_stop:
	ioloop_stop(h.hb_loop);
	virtio_blk_model.reset(priv);
out_destroy:
	virtio_blk_model.destroy(priv);
	ioloop_destroy(h.hb_loop);
	gm_fini(&h.hb_gm);
	return status;
}
