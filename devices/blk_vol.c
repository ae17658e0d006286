/*
 * Block engine for volumes (include/vol.h): each request runs inside
 * blk_submit on the volume library, which keeps writes in memory until a
 * txg commits.  FLUSH commits (so a guest's flush is as durable as on a
 * raw file), DISCARD and WRITE_ZEROES free whole blocks, and blk_tick
 * commits what a guest wrote but did not flush after VOL_TXG_SECONDS.
 * The pool's own writes go through io_uring where the kernel allows it
 * (vol/io.c).
 *
 * Locking: none; the disk's I/O thread only.
 */
#include <sys/uio.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "blkdev.h"
#include "blk_engine.h"
#include "vol.h"

static int
blk_vol_init(struct blk_disk *d)
{
	return d->d_vol != NULL ? 0 : -EINVAL;
}

static void
blk_vol_fini(struct blk_disk *d)
{
	(void)d;	/* blk_free closes the volume and its pool */
}

static int64_t
blk_vol_rw(struct blk_disk *d, const struct blk_slot *sl)
{
	uint64_t off = sl->sl_off;
	int i, rc;

	for (i = 0; i < sl->sl_niov; i++) {
		const struct iovec *v = &sl->sl_iov[i];

		rc = sl->sl_op == BLK_OP_READ ?
		    vol_pread(d->d_vol, v->iov_base, v->iov_len, off) :
		    vol_pwrite(d->d_vol, v->iov_base, v->iov_len, off);
		if (rc < 0)
			return rc;
		off += v->iov_len;
	}
	return (int64_t)sl->sl_len;
}

static void
blk_vol_queue(struct blk_disk *d, uint32_t s)
{
	const struct blk_slot *sl = &d->d_slots[s];
	int64_t res;

	switch (sl->sl_op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		res = blk_vol_rw(d, sl);
		break;
	case BLK_OP_FLUSH:
		res = vol_pool_sync(d->d_pool);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		res = vol_discard(d->d_vol, sl->sl_off, sl->sl_len);
		break;
	default:
		res = -EOPNOTSUPP;
		break;
	}
	blk_engine_done(d, s, res);
	d->d_signal = true;
}

static void
blk_vol_kick(struct blk_disk *d)
{
	(void)d;
}

static void
blk_vol_poll(struct blk_disk *d, bool wait)
{
	/* Nothing is ever left in this engine. */
	(void)d;
	(void)wait;
}

const struct blk_engine_ops blk_vol_ops = {
	.eo_name	 = "volume",
	.eo_orders_flush = true,	/* one request at a time */
	.eo_init	 = blk_vol_init,
	.eo_fini	 = blk_vol_fini,
	.eo_queue	 = blk_vol_queue,
	.eo_kick	 = blk_vol_kick,
	.eo_poll	 = blk_vol_poll,
};
