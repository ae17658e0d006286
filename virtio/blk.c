/*
 * virtio-blk (virtio 1.2 §5.2) on Hull's block backends (include/blkdev.h:
 * io_uring, libaio or pread/pwrite).  Requests are parsed by blk_req.c,
 * submitted in batches, and completed when the backend's event fd fires;
 * completions carry a slot index into a table preallocated here, never a
 * guest pointer.  All of it runs on the I/O thread, except reset (a vCPU),
 * which takes vb_lock and drains the backend first, and the statistics
 * hook (the main thread), which takes vb_lock to copy the counters.
 *
 * limits.disk_iops and limits.disk_bps are token buckets (virtio/tbucket.h)
 * on submission, one pair per disk for all its queues: out of tokens, a
 * queue's requests stay in its ring until a timerfd says tokens are due.
 * They hold for every backend and cache mode; cgroup io.max sees only the
 * I/O that reaches a block device (docs/blk.md).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blk_req.h"
#include "blkdev.h"
#include "ioloop.h"
#include "spec.h"
#include "tbucket.h"
#include "virtio.h"

#define VBLK_F_SIZE_MAX		1
#define VBLK_F_SEG_MAX		2
#define VBLK_F_RO		5
#define VBLK_F_BLK_SIZE		6
#define VBLK_F_FLUSH		9
#define VBLK_F_TOPOLOGY		10
#define VBLK_F_MQ		12
#define VBLK_F_DISCARD		13
#define VBLK_F_WRITE_ZEROES	14

#define VBLK_CFG_SIZE		60
#define VBLK_QSIZE_MAX		256
#define VBLK_QUEUES_MAX		16
#define VBLK_SEG_MAX		(VBLK_MAX_IOV - 2)	/* header and status */
/* A READ/WRITE splits into backend requests of at most BLK_MAX_XFER. */
#define VBLK_SPLIT_MAX		4
#define VBLK_MAX_BYTES		((uint64_t)BLK_MAX_XFER * VBLK_SPLIT_MAX)
#define VBLK_BATCH		64
#define VBLK_LAT_BUCKETS	24	/* log2 of microseconds: up to 8 s */

struct vblk_slot {
	bool		 vs_busy;
	uint16_t	 vs_q, vs_head;
	uint8_t		*vs_status;	/* checked at parse time */
	uint32_t	 vs_used;	/* bytes written into the chain */
	unsigned int	 vs_pending;	/* backend requests not yet reaped */
	bool		 vs_failed;
	uint32_t	 vs_type;	/* VBLK_T_*, for the statistics */
	uint64_t	 vs_bytes;	/* READ/WRITE data bytes */
	uint64_t	 vs_start;	/* submitted: CLOCK_MONOTONIC, ns */
};

/*
 * Counters over the device's life (a reset keeps them), under vb_lock.  A
 * request is counted when it completes, so a histogram's buckets add up
 * to its request count.  docs/blk.md lists the names.
 */
struct vblk_stats {
	uint64_t	st_reads, st_writes, st_flushes;
	uint64_t	st_discards, st_write_zeroes, st_get_ids;
	uint64_t	st_read_bytes, st_written_bytes;	/* successful */
	uint64_t	st_io_errors;	/* the backend failed or refused it */
	uint64_t	st_bad_requests; /* refused before any I/O */
	uint64_t	st_throttled;	/* a queue stopped for the limits */
	uint64_t	st_lat_read[VBLK_LAT_BUCKETS];	/* microseconds */
	uint64_t	st_lat_write[VBLK_LAT_BUCKETS];
	uint64_t	st_lat_flush[VBLK_LAT_BUCKETS];
};

struct vblk {
	struct virtio_dev	*vb_dev;
	struct blk_disk		*vb_disk;
	const struct blk_info	*vb_info;
	struct ioloop		*vb_loop;
	pthread_mutex_t		 vb_lock;
	unsigned int		 vb_nq;
	uint16_t		 vb_qsize;
	char			 vb_serial[VBLK_ID_BYTES];
	uint8_t			 vb_cfg[VBLK_CFG_SIZE];
	struct vblk_limits	 vb_lim;
	char			*vb_path;	/* for describe */
	enum blk_cache		 vb_cache;
	bool			 vb_active;
	struct vblk_slot	*vb_slots;	/* vb_nq * vb_qsize */
	/* Scratch for the I/O thread (large: not on its stack). */
	struct virtq_chain	 vb_chain;
	struct vblk_req		 vb_req;
	struct blk_req		 vb_batch[VBLK_BATCH];
	struct iovec		 vb_iov[VBLK_BATCH][BLK_MAX_IOV];
	unsigned int		 vb_nbatch;
	struct blk_done		 vb_done[VBLK_BATCH];
	bool			 vb_pushed[VBLK_QUEUES_MAX];
	struct vblk_stats	 vb_stats;
	/*
	 * limits.disk_iops, limits.disk_bps: the disk's buckets, and a
	 * one-shot timer (-1 without limits) for the queues they stopped.
	 */
	struct tb_limit		 vb_tb;
	bool			 vb_limited;
	int			 vb_timer_fd;
	uint64_t		 vb_timer_at;	/* armed for (ns); 0: not armed */
	int			 vb_tick_fd;	/* volumes: the txg timer, else -1 */
	bool			 vb_tick_armed;
	unsigned int		 vb_timer_first; /* queue the timer takes first */
	bool			 vb_throttled[VBLK_QUEUES_MAX];
};

static void
vblk_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void
vblk_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static unsigned int
vblk_log2(uint32_t v)
{
	unsigned int n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

static uint64_t
vblk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The histogram bucket of a latency in ns: log2 of microseconds. */
static unsigned int
vblk_lat_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;
	unsigned int b;

	if (us < 2)
		return 0;
	b = 63 - (unsigned int)__builtin_clzll(us);
	return b < VBLK_LAT_BUCKETS ? b : VBLK_LAT_BUCKETS - 1;
}

/*
 * The request in slot s finished at now (ns), every part of it done (ok)
 * or not.  vb_lock held.
 */
static void
vblk_account(struct vblk *vb, const struct vblk_slot *s, bool ok,
    uint64_t now)
{
	struct vblk_stats *st = &vb->vb_stats;
	uint64_t *hist = NULL;

	switch (s->vs_type) {
	case VBLK_T_IN:
		st->st_reads++;
		if (ok)
			st->st_read_bytes += s->vs_bytes;
		hist = st->st_lat_read;
		break;
	case VBLK_T_OUT:
		st->st_writes++;
		if (ok)
			st->st_written_bytes += s->vs_bytes;
		hist = st->st_lat_write;
		break;
	case VBLK_T_FLUSH:
		st->st_flushes++;
		hist = st->st_lat_flush;
		break;
	case VBLK_T_DISCARD:
		st->st_discards++;
		break;
	case VBLK_T_WRITE_ZEROES:
		st->st_write_zeroes++;
		break;
	}
	if (!ok)
		st->st_io_errors++;
	if (hist != NULL)
		hist[vblk_lat_bucket(now > s->vs_start ? now - s->vs_start : 0)]++;
}

static void
vblk_fill_cfg(struct vblk *vb)
{
	const struct blk_info *bi = vb->vb_info;
	uint8_t *c = vb->vb_cfg;
	uint64_t cap = bi->bi_size / VBLK_SECTOR;

	memset(c, 0, sizeof(vb->vb_cfg));
	memcpy(c + 0, &cap, 8);				/* capacity */
	vblk_put32(c + 8, BLK_MAX_XFER);		/* size_max */
	vblk_put32(c + 12, VBLK_SEG_MAX);		/* seg_max */
	vblk_put32(c + 20, bi->bi_lbs);			/* blk_size */
	c[24] = (uint8_t)vblk_log2(bi->bi_pbs / bi->bi_lbs); /* phys exp */
	vblk_put16(c + 26, 1);				/* min_io_size */
	vblk_put16(c + 34, (uint16_t)vb->vb_nq);	/* num_queues */
	vblk_put32(c + 36, 1U << 22);			/* max_discard_sectors */
	vblk_put32(c + 40, 1);				/* max_discard_seg */
	vblk_put32(c + 44, bi->bi_lbs / VBLK_SECTOR);	/* discard alignment */
	vblk_put32(c + 48, 1U << 22);			/* max_write_zeroes */
	vblk_put32(c + 52, 1);				/* max_write_zeroes_seg */
	c[56] = 1;					/* may unmap */
}

static void	vblk_completion(void *);
static void	vblk_destroy(void *);
static void	vblk_timer(void *);
static void	vblk_tick(void *);
static void	vblk_arm_tick(struct vblk *);

/* ", limits 200 IOPS 1048576 bytes/s", or "" without any. */
static const char *
vblk_limit_str(const struct vblk *vb, char *buf, size_t len)
{
	buf[0] = '\0';
	return vb->vb_limited ? tb_limit_str(&vb->vb_tb, "limits", "IOPS", buf,
	    len) : buf;
}

static int
vblk_create(struct virtio_dev *vd, const struct virtio_create *vc, void **priv,
    unsigned int *nqueues, size_t *cfg_size)
{
	const struct disk_spec *ds = vc->vc_spec;
	struct blk_opts o = {
		.bo_readonly = ds->ds_readonly,
		.bo_cache = ds->ds_cache == SPEC_CACHE_WRITEBACK ?
		    BLK_CACHE_WRITEBACK : BLK_CACHE_NONE,
	};
	char berr[256], lim[80];
	struct vblk *vb;
	unsigned int nq;
	int rc;

	vb = calloc(1, sizeof(*vb));
	if (vb == NULL) {
		snprintf(vc->vc_err, vc->vc_errlen, "out of memory");
		return -ENOMEM;
	}
	/*
	 * One queue per vCPU, and queues small enough that every request the
	 * rings can hold, split at most VBLK_SPLIT_MAX ways, fits in the
	 * backend's depth: submission then never has to wait.
	 */
	nq = vc->vc_nvcpus < VBLK_QUEUES_MAX ? vc->vc_nvcpus : VBLK_QUEUES_MAX;
	if (nq == 0)
		nq = 1;
	vb->vb_qsize = VBLK_QSIZE_MAX;
	while (vb->vb_qsize > 16 &&
	    nq * vb->vb_qsize * VBLK_SPLIT_MAX > BLK_MAX_DEPTH)
		vb->vb_qsize /= 2;
	while (nq > 1 && nq * vb->vb_qsize * VBLK_SPLIT_MAX > BLK_MAX_DEPTH)
		nq--;
	o.bo_depth = nq * vb->vb_qsize * VBLK_SPLIT_MAX;
	vb->vb_nq = nq;
	if (ds->ds_volume[0] != '\0')
		rc = blk_open_volume(ds->ds_path, strchr(ds->ds_volume, '/') + 1,
		    &o, &vb->vb_disk, berr, sizeof(berr));
	else
		rc = blk_open(ds->ds_path, &o, &vb->vb_disk, berr, sizeof(berr));
	if (rc < 0) {
		snprintf(vc->vc_err, vc->vc_errlen, "disks[%u].%s: %s",
		    vc->vc_index, ds->ds_volume[0] != '\0' ? "volume" : "path",
		    berr);
		free(vb);
		return rc;
	}
	vb->vb_info = blk_info(vb->vb_disk);
	if (ds->ds_iops != 0 || ds->ds_bps != 0) {
		tb_limit_init(&vb->vb_tb, ds->ds_bps, ds->ds_iops, tb_now());
		vb->vb_limited = true;
	}
	/* Say which backend serves the disk: it decides speed and durability. */
	fprintf(stderr, "hull: disks[%u]: %s: %s, %s%s%s%s%s\n", vc->vc_index,
	    ds->ds_volume[0] != '\0' ? ds->ds_volume : ds->ds_path,
	    vb->vb_info->bi_engine, vb->vb_info->bi_direct ?
	    "O_DIRECT" : "buffered", vb->vb_info->bi_readonly ? ", read-only" :
	    "", vblk_limit_str(vb, lim, sizeof(lim)),
	    vb->vb_info->bi_note[0] ? "; " : "", vb->vb_info->bi_note);
	vb->vb_slots = calloc((size_t)nq * vb->vb_qsize, sizeof(*vb->vb_slots));
	if (vb->vb_slots == NULL) {
		blk_close(vb->vb_disk);
		free(vb);
		snprintf(vc->vc_err, vc->vc_errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&vb->vb_lock, NULL);
	vb->vb_timer_fd = -1;
	vb->vb_tick_fd = -1;
	vb->vb_dev = vd;
	vb->vb_loop = vc->vc_loop;
	vb->vb_cache = o.bo_cache;
	vb->vb_path = strdup(ds->ds_path);
	if (vb->vb_path == NULL) {
		snprintf(vc->vc_err, vc->vc_errlen, "out of memory");
		vblk_destroy(vb);
		return -ENOMEM;
	}
	/* Completions are watched for the device's whole life. */
	rc = ioloop_add(vb->vb_loop, blk_event_fd(vb->vb_disk), vblk_completion,
	    vb);
	if (rc < 0) {
		snprintf(vc->vc_err, vc->vc_errlen, "disks[%u]: cannot watch "
		    "completions: %s", vc->vc_index, strerror(-rc));
		vblk_destroy(vb);
		return rc;
	}
	if (ds->ds_volume[0] != '\0') {
		vb->vb_tick_fd = tb_timer_open();
		if (vb->vb_tick_fd < 0 || (rc = ioloop_add(vb->vb_loop,
		    vb->vb_tick_fd, vblk_tick, vb)) < 0) {
			rc = vb->vb_tick_fd < 0 ? vb->vb_tick_fd : rc;
			if (vb->vb_tick_fd >= 0)
				close(vb->vb_tick_fd);
			vb->vb_tick_fd = -1;
			snprintf(vc->vc_err, vc->vc_errlen, "disks[%u]: cannot set "
			    "up the volume's commit timer: %s", vc->vc_index,
			    strerror(-rc));
			vblk_destroy(vb);
			return rc;
		}
	}
	if (vb->vb_limited) {
		vb->vb_timer_fd = tb_timer_open();
		if (vb->vb_timer_fd < 0 || (rc = ioloop_add(vb->vb_loop,
		    vb->vb_timer_fd, vblk_timer, vb)) < 0) {
			rc = vb->vb_timer_fd < 0 ? vb->vb_timer_fd : rc;
			if (vb->vb_timer_fd >= 0)
				close(vb->vb_timer_fd);
			vb->vb_timer_fd = -1;
			snprintf(vc->vc_err, vc->vc_errlen, "disks[%u]: cannot set "
			    "up the limits' timer: %s", vc->vc_index,
			    strerror(-rc));
			vblk_destroy(vb);
			return rc;
		}
	}
	/* The ID is 20 bytes, NUL-padded, not NUL-terminated when full. */
	memcpy(vb->vb_serial, ds->ds_serial, strnlen(ds->ds_serial,
	    sizeof(vb->vb_serial)));
	vblk_fill_cfg(vb);
	vb->vb_lim = (struct vblk_limits){
		.vl_capacity = vb->vb_info->bi_size / VBLK_SECTOR,
		.vl_readonly = vb->vb_info->bi_readonly,
		.vl_max_discard_sectors = 1U << 22,
		.vl_max_wz_sectors = 1U << 22,
		.vl_max_segs = 1,
	};
	*priv = vb;
	*nqueues = nq;
	*cfg_size = VBLK_CFG_SIZE;
	return 0;
}

static uint64_t
vblk_features(void *priv)
{
	struct vblk *vb = priv;
	uint64_t f = (1ULL << VBLK_F_SIZE_MAX) | (1ULL << VBLK_F_SEG_MAX) |
	    (1ULL << VBLK_F_BLK_SIZE) | (1ULL << VBLK_F_FLUSH) |
	    (1ULL << VBLK_F_TOPOLOGY) | (1ULL << VBLK_F_MQ);

	if (vb->vb_info->bi_readonly)
		f |= 1ULL << VBLK_F_RO;
	if (vb->vb_info->bi_discard && !vb->vb_info->bi_readonly)
		f |= 1ULL << VBLK_F_DISCARD;
	if (vb->vb_info->bi_write_zeroes && !vb->vb_info->bi_readonly)
		f |= 1ULL << VBLK_F_WRITE_ZEROES;
	return f;
}

static void
vblk_cfg_read(void *priv, size_t off, void *buf, size_t len)
{
	struct vblk *vb = priv;

	memcpy(buf, vb->vb_cfg + off, len);
}

static void
vblk_cfg_write(void *priv, size_t off, const void *buf, size_t len)
{
	/* Only "writeback" is writable, and only with CONFIG_WCE: not offered. */
	(void)priv;
	(void)off;
	(void)buf;
	(void)len;
}

/* Complete a chain: status (if any), used ring; interrupts come later. */
static void
vblk_complete(struct vblk *vb, unsigned int q, uint16_t head, uint8_t *status,
    uint8_t st, uint32_t used)
{
	if (status != NULL)
		*status = st;	/* SAFETY: checked inside the chain by vblk_parse */
	if (virtq_push(&vb->vb_dev->vd_vq[q], head, used) < 0)
		return;
	vb->vb_pushed[q] = true;
}

static void
vblk_interrupts(struct vblk *vb)
{
	unsigned int q;

	for (q = 0; q < vb->vb_nq; q++) {
		if (!vb->vb_pushed[q])
			continue;
		vb->vb_pushed[q] = false;
		if (virtq_needs_notify(&vb->vb_dev->vd_vq[q]))
			virtio_dev_interrupt(vb->vb_dev, q);
	}
}

static void
vblk_flush_batch(struct vblk *vb)
{
	unsigned int i, n = vb->vb_nbatch;
	int rc;

	if (n == 0)
		return;
	rc = blk_submit(vb->vb_disk, vb->vb_batch, n);
	if (rc < 0)
		rc = 0;
	/* Depth is sized so this does not happen; fail what was refused. */
	for (i = (unsigned int)rc; i < n; i++) {
		struct vblk_slot *s = &vb->vb_slots[vb->vb_batch[i].br_tag];

		s->vs_failed = true;
		if (--s->vs_pending == 0) {
			vblk_account(vb, s, false, vblk_now());
			vblk_complete(vb, s->vs_q, s->vs_head, s->vs_status,
			    VBLK_S_IOERR, 1);
			s->vs_busy = false;
		}
	}
	vb->vb_nbatch = 0;
}

static struct blk_req *
vblk_batch_add(struct vblk *vb)
{
	if (vb->vb_nbatch == VBLK_BATCH)
		vblk_flush_batch(vb);
	return &vb->vb_batch[vb->vb_nbatch++];
}

/* Queue the backend requests for a parsed request in slot si. */
static void
vblk_submit_req(struct vblk *vb, uint32_t si, const struct vblk_req *r)
{
	struct vblk_slot *s = &vb->vb_slots[si];
	uint64_t off = r->vr_sector * VBLK_SECTOR;
	unsigned int i = 0;
	size_t ioff = 0;

	s->vs_pending = 1;	/* held until all parts are queued */
	switch (r->vr_type) {
	case VBLK_T_FLUSH:
		s->vs_pending++;
		*vblk_batch_add(vb) = (struct blk_req){ .br_op = BLK_OP_FLUSH,
		    .br_tag = si };
		break;
	case VBLK_T_DISCARD:
	case VBLK_T_WRITE_ZEROES:
		s->vs_pending++;
		*vblk_batch_add(vb) = (struct blk_req){
			.br_op = r->vr_type == VBLK_T_DISCARD ? BLK_OP_DISCARD :
			    BLK_OP_WRITE_ZEROES,
			.br_offset = r->vr_seg[0].vs_sector * VBLK_SECTOR,
			.br_len = (uint64_t)r->vr_seg[0].vs_nsectors *
			    VBLK_SECTOR,
			.br_tag = si };
		break;
	default:
		/* READ/WRITE in parts of at most BLK_MAX_XFER / BLK_MAX_IOV. */
		while (i < r->vr_niov) {
			struct blk_req *b;
			struct iovec *iov;
			size_t bytes = 0;
			int n = 0;

			b = vblk_batch_add(vb);
			iov = vb->vb_iov[b - vb->vb_batch];
			while (i < r->vr_niov && n < (int)BLK_MAX_IOV &&
			    bytes < BLK_MAX_XFER) {
				size_t take = r->vr_iov[i].iov_len - ioff;

				if (take > BLK_MAX_XFER - bytes)
					take = BLK_MAX_XFER - bytes;
				iov[n].iov_base = (uint8_t *)r->vr_iov[i].iov_base +
				    ioff;
				iov[n].iov_len = take;
				n++;
				bytes += take;
				ioff += take;
				if (ioff == r->vr_iov[i].iov_len) {
					i++;
					ioff = 0;
				}
			}
			*b = (struct blk_req){
				.br_op = r->vr_type == VBLK_T_IN ? BLK_OP_READ :
				    BLK_OP_WRITE,
				.br_offset = off, .br_iov = iov, .br_niov = n,
				.br_tag = si };
			off += bytes;
			s->vs_pending++;
		}
		break;
	}
	/*
	 * Drop the hold: a zero-length request completes at once, and so does
	 * one whose every part the backend refused (vblk_flush_batch).
	 */
	if (--s->vs_pending == 0) {
		vblk_account(vb, s, !s->vs_failed, vblk_now());
		vblk_complete(vb, s->vs_q, s->vs_head, s->vs_status,
		    s->vs_failed ? VBLK_S_IOERR : VBLK_S_OK,
		    s->vs_failed ? 1 : s->vs_used);
		s->vs_busy = false;
	}
}

static void
vblk_get_id(struct vblk *vb, const struct vblk_req *r)
{
	size_t left = VBLK_ID_BYTES, i;
	const char *p = vb->vb_serial;

	for (i = 0; i < r->vr_niov && left > 0; i++) {
		size_t n = r->vr_iov[i].iov_len < left ? r->vr_iov[i].iov_len :
		    left;

		memcpy(r->vr_iov[i].iov_base, p, n);
		p += n;
		left -= n;
	}
}

/*
 * Whether the limits leave no token for one more request now; if so, the
 * timer is set for when they will.  vb_lock held.
 */
static bool
vblk_throttle(struct vblk *vb)
{
	uint64_t now = tb_now(), wait = tb_limit_wait(&vb->vb_tb, now);

	if (wait == 0)
		return false;
	if (vb->vb_timer_at != 0 && vb->vb_timer_at <= now + wait)
		return true;	/* it fires before then anyway */
	/* No wake-up: better over the limit than a queue stuck for good. */
	if (tb_timer_arm(vb->vb_timer_fd, now + wait) < 0)
		return false;
	vb->vb_timer_at = now + wait;
	return true;
}

/* Take every available chain of queue q, as the limits allow.  vb_lock held. */
static void
vblk_drain_queue(struct vblk *vb, unsigned int q)
{
	struct virtq *vq = &vb->vb_dev->vd_vq[q];
	struct virtq_chain *ch = &vb->vb_chain;
	struct vblk_req *r = &vb->vb_req;
	int rc, st;

	for (;;) {
		if (vb->vb_limited && virtq_has_buffers(vq) &&
		    vblk_throttle(vb)) {
			/*
			 * The requests wait in the ring, and avail_event stays
			 * behind: the driver need not kick until the timer.
			 */
			vb->vb_throttled[q] = true;
			vb->vb_stats.st_throttled++;
			break;
		}
		rc = virtq_pop(vq, ch);
		if (rc == 0) {
			/* Re-arm, then look again: closes the kick race. */
			virtq_set_avail_event(vq);
			if (!virtq_has_buffers(vq))
				break;
			continue;
		}
		if (rc == -EBADMSG) {
			vb->vb_stats.st_bad_requests++;
			vblk_complete(vb, q, ch->vc_head, NULL, 0, 0);
			continue;
		}
		if (rc < 0) {
			virtio_dev_needs_reset(vb->vb_dev, vq->vq_err != NULL ?
			    vq->vq_err : "virtqueue broken");
			vb->vb_active = false;
			break;
		}
		st = vblk_parse(ch->vc_iov, ch->vc_nout, ch->vc_nin,
		    &vb->vb_lim, r);
		/* Every request is an operation; reads and writes move bytes. */
		tb_limit_take(&vb->vb_tb, st == VBLK_S_OK &&
		    (r->vr_type == VBLK_T_IN || r->vr_type == VBLK_T_OUT) ?
		    r->vr_len : 0, 1);
		if (st == -EBADMSG) {
			vb->vb_stats.st_bad_requests++;
			vblk_complete(vb, q, ch->vc_head, NULL, 0, 0);
			continue;
		}
		if (st == VBLK_S_OK && r->vr_type == VBLK_T_GET_ID) {
			vb->vb_stats.st_get_ids++;
			vblk_get_id(vb, r);
			vblk_complete(vb, q, ch->vc_head, r->vr_status, VBLK_S_OK,
			    VBLK_ID_BYTES + 1);
			continue;
		}
		if (st != VBLK_S_OK) {
			vb->vb_stats.st_bad_requests++;
			vblk_complete(vb, q, ch->vc_head, r->vr_status,
			    (uint8_t)st, 1);
			continue;
		}
		{
			uint32_t si = q * vb->vb_qsize + ch->vc_head;
			struct vblk_slot *s = &vb->vb_slots[si];

			if (s->vs_busy) {
				/* The driver reused a head still in flight. */
				virtio_dev_needs_reset(vb->vb_dev,
				    "a descriptor head was made available twice");
				vb->vb_active = false;
				break;
			}
			*s = (struct vblk_slot){ .vs_busy = true,
			    .vs_q = (uint16_t)q, .vs_head = ch->vc_head,
			    .vs_status = r->vr_status,
			    .vs_used = (r->vr_type == VBLK_T_IN ?
			    (uint32_t)r->vr_len : 0) + 1,
			    .vs_type = r->vr_type,
			    .vs_bytes = r->vr_type == VBLK_T_IN ||
			    r->vr_type == VBLK_T_OUT ? r->vr_len : 0,
			    .vs_start = vblk_now() };
			vblk_submit_req(vb, si, r);
		}
	}
	vblk_flush_batch(vb);
}

static void
vblk_notify(void *priv, unsigned int q)
{
	struct vblk *vb = priv;

	pthread_mutex_lock(&vb->vb_lock);
	/* A throttled queue waits for the timer. */
	if (vb->vb_active && q < vb->vb_nq && !vb->vb_throttled[q])
		vblk_drain_queue(vb, q);
	vblk_interrupts(vb);
	vblk_arm_tick(vb);
	pthread_mutex_unlock(&vb->vb_lock);
}

/*
 * A volume's writes wait in memory for a commit: make sure one comes
 * within VOL_TXG_SECONDS even if the guest never flushes.  vb_lock held.
 */
static void
vblk_arm_tick(struct vblk *vb)
{
	int ms;

	if (vb->vb_tick_fd < 0 || vb->vb_tick_armed)
		return;
	ms = blk_tick(vb->vb_disk);
	if (ms < 0)
		return;
	if (tb_timer_arm(vb->vb_tick_fd, tb_now() + (uint64_t)ms * 1000000u) == 0)
		vb->vb_tick_armed = true;
}

static void
vblk_tick(void *priv)
{
	struct vblk *vb = priv;

	tb_timer_ack(vb->vb_tick_fd);
	pthread_mutex_lock(&vb->vb_lock);
	vb->vb_tick_armed = false;
	vblk_arm_tick(vb);
	pthread_mutex_unlock(&vb->vb_lock);
}

/* The limits' wait is over: take the throttled queues up again. */
static void
vblk_timer(void *priv)
{
	struct vblk *vb = priv;
	unsigned int n, q;

	tb_timer_ack(vb->vb_timer_fd);
	pthread_mutex_lock(&vb->vb_lock);
	vb->vb_timer_at = 0;
	/* The first queue may spend all the new tokens: rotate. */
	vb->vb_timer_first = (vb->vb_timer_first + 1) % vb->vb_nq;
	for (n = 0; n < vb->vb_nq; n++) {
		q = (vb->vb_timer_first + n) % vb->vb_nq;
		if (!vb->vb_throttled[q])
			continue;
		vb->vb_throttled[q] = false;
		if (vb->vb_active)
			vblk_drain_queue(vb, q);
	}
	vblk_interrupts(vb);
	pthread_mutex_unlock(&vb->vb_lock);
}

/* Backend completions.  vb_lock held. */
static void
vblk_reap(struct vblk *vb)
{
	unsigned int n, i;
	uint64_t now;

	while ((n = blk_reap(vb->vb_disk, vb->vb_done, VBLK_BATCH)) > 0) {
		/* One clock read per batch: the guest sees them all now. */
		now = 0;
		for (i = 0; i < n; i++) {
			uint32_t si = vb->vb_done[i].bd_tag;
			struct vblk_slot *s;

			if (si >= vb->vb_nq * vb->vb_qsize)
				continue;
			s = &vb->vb_slots[si];
			if (!s->vs_busy || s->vs_pending == 0)
				continue;
			if (vb->vb_done[i].bd_result < 0)
				s->vs_failed = true;
			if (--s->vs_pending > 0)
				continue;
			s->vs_busy = false;
			if (now == 0)
				now = vblk_now();
			/* The I/O was done, even if a reset drops the answer. */
			vblk_account(vb, s, !s->vs_failed, now);
			if (!vb->vb_active)
				continue;	/* reset: the rings are gone */
			vblk_complete(vb, s->vs_q, s->vs_head, s->vs_status,
			    s->vs_failed ? VBLK_S_IOERR : VBLK_S_OK,
			    s->vs_failed ? 1 : s->vs_used);
		}
	}
}

static void
vblk_completion(void *priv)
{
	struct vblk *vb = priv;

	pthread_mutex_lock(&vb->vb_lock);
	vblk_reap(vb);
	vblk_interrupts(vb);
	pthread_mutex_unlock(&vb->vb_lock);
}

static int
vblk_activate(void *priv, uint64_t acked)
{
	struct vblk *vb = priv;

	pthread_mutex_lock(&vb->vb_lock);
	vb->vb_lim.vl_flush = acked & (1ULL << VBLK_F_FLUSH);
	vb->vb_lim.vl_discard = acked & (1ULL << VBLK_F_DISCARD);
	vb->vb_lim.vl_write_zeroes = acked & (1ULL << VBLK_F_WRITE_ZEROES);
	vb->vb_active = true;
	pthread_mutex_unlock(&vb->vb_lock);
	return 0;
}

static void
vblk_reset(void *priv)
{
	struct vblk *vb = priv;

	pthread_mutex_lock(&vb->vb_lock);
	vb->vb_active = false;
	/* In-flight requests finish before their rings may be reused. */
	blk_drain(vb->vb_disk);
	vblk_reap(vb);
	memset(vb->vb_slots, 0, (size_t)vb->vb_nq * vb->vb_qsize *
	    sizeof(*vb->vb_slots));
	memset(vb->vb_pushed, 0, sizeof(vb->vb_pushed));
	memset(vb->vb_throttled, 0, sizeof(vb->vb_throttled));
	pthread_mutex_unlock(&vb->vb_lock);
}

static void
vblk_destroy(void *priv)
{
	struct vblk *vb = priv;

	if (vb == NULL)
		return;
	(void)ioloop_del(vb->vb_loop, blk_event_fd(vb->vb_disk));
	if (vb->vb_tick_fd >= 0) {
		(void)ioloop_del(vb->vb_loop, vb->vb_tick_fd);
		close(vb->vb_tick_fd);
	}
	if (vb->vb_timer_fd >= 0) {
		(void)ioloop_del(vb->vb_loop, vb->vb_timer_fd);
		close(vb->vb_timer_fd);
	}
	blk_close(vb->vb_disk);		/* drains first */
	pthread_mutex_destroy(&vb->vb_lock);
	free(vb->vb_slots);
	free(vb->vb_path);
	free(vb);
}

static void
vblk_stats(void *priv, const struct virtio_stats_sink *sink)
{
	struct vblk *vb = priv;
	struct vblk_stats st;

	/* A copy, so that the sink runs without holding up the I/O thread. */
	pthread_mutex_lock(&vb->vb_lock);
	st = vb->vb_stats;
	pthread_mutex_unlock(&vb->vb_lock);
	sink->ss_counter(sink->ss_ctx, "reads", st.st_reads);
	sink->ss_counter(sink->ss_ctx, "writes", st.st_writes);
	sink->ss_counter(sink->ss_ctx, "flushes", st.st_flushes);
	sink->ss_counter(sink->ss_ctx, "discards", st.st_discards);
	sink->ss_counter(sink->ss_ctx, "write_zeroes", st.st_write_zeroes);
	sink->ss_counter(sink->ss_ctx, "get_ids", st.st_get_ids);
	sink->ss_counter(sink->ss_ctx, "read_bytes", st.st_read_bytes);
	sink->ss_counter(sink->ss_ctx, "written_bytes", st.st_written_bytes);
	sink->ss_counter(sink->ss_ctx, "io_errors", st.st_io_errors);
	sink->ss_counter(sink->ss_ctx, "bad_requests", st.st_bad_requests);
	sink->ss_counter(sink->ss_ctx, "throttled", st.st_throttled);
	sink->ss_hist(sink->ss_ctx, "read_latency", "us", st.st_lat_read,
	    VBLK_LAT_BUCKETS);
	sink->ss_hist(sink->ss_ctx, "write_latency", "us", st.st_lat_write,
	    VBLK_LAT_BUCKETS);
	sink->ss_hist(sink->ss_ctx, "flush_latency", "us", st.st_lat_flush,
	    VBLK_LAT_BUCKETS);
}

/*
 * E.g. "/img/a.raw io_uring O_DIRECT, cache none" or "..., cache none,
 * limits 200 IOPS 1048576 bytes/s".  Fixed after create.
 */
static void
vblk_describe(void *priv, char *buf, size_t len)
{
	const struct vblk *vb = priv;
	const struct blk_info *bi = vb->vb_info;
	char lim[80];

	snprintf(buf, len, "%s %s %s%s, cache %s%s%s%s", vb->vb_path,
	    bi->bi_engine, bi->bi_direct ? "O_DIRECT" : "buffered",
	    bi->bi_readonly ? " read-only" : "",
	    vb->vb_cache == BLK_CACHE_NONE ? "none" : "writeback",
	    vblk_limit_str(vb, lim, sizeof(lim)),
	    bi->bi_note[0] != '\0' ? "; " : "", bi->bi_note);
}

const struct virtio_model virtio_blk_model = {
	.mo_name = "virtio-blk",
	.mo_devid = VIRTIO_ID_BLOCK,
	.mo_max_qsize = VBLK_QSIZE_MAX,
	.create = vblk_create,
	.features = vblk_features,
	.cfg_read = vblk_cfg_read,
	.cfg_write = vblk_cfg_write,
	.activate = vblk_activate,
	.notify = vblk_notify,
	.reset = vblk_reset,
	.destroy = vblk_destroy,
	.stats = vblk_stats,
	.describe = vblk_describe,
};
