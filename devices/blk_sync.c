/*
 * Block engine with plain syscalls (preadv/pwritev, fdatasync, fallocate,
 * BLKDISCARD/BLKZEROOUT): every request completes inside blk_submit.  It is
 * the reference the other engines are tested against (devices/tests/
 * test_blk.c) and the last resort where neither io_uring nor libaio is
 * allowed.  Completions still go through the ready ring and the eventfd, so
 * the event loop is the same for every engine.
 *
 * Locking: none; the disk's I/O thread only.
 */
#include <stdbool.h>
#include <stdint.h>

#include "blkdev.h"
#include "blk_engine.h"

static int
blk_sync_init(struct blk_disk *d)
{
	(void)d;
	return 0;
}

static void
blk_sync_fini(struct blk_disk *d)
{
	(void)d;
}

static void
blk_sync_kick(struct blk_disk *d)
{
	(void)d;
}

static void
blk_sync_poll(struct blk_disk *d, bool wait)
{
	/* Nothing is ever left in this engine (d_nengine stays 0). */
	(void)d;
	(void)wait;
}

const struct blk_engine_ops blk_sync_ops = {
	.eo_name	 = "sync",
	.eo_orders_flush = true,	/* one request at a time */
	.eo_init	 = blk_sync_init,
	.eo_fini	 = blk_sync_fini,
	.eo_queue	 = blk_run_sync,
	.eo_kick	 = blk_sync_kick,
	.eo_poll	 = blk_sync_poll,
};
