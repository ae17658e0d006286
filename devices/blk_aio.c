/*
 * Block engine on Linux native AIO (libaio; io_submit(2), io_getevents(2)),
 * for kernels or sandboxes without io_uring.  One iocb per slot,
 * preallocated; iocb data holds the slot index (not a pointer), and every
 * iocb wakes the disk's eventfd (io_set_eventfd).  Kernel AIO is only
 * asynchronous with O_DIRECT; on a buffered file io_submit does the I/O
 * itself, which is still correct.
 *
 * FLUSH: blk_submit first waits for everything in flight (this engine does
 * not order), then IOCB_CMD_FDSYNC if the kernel takes it for this file
 * (probed at open), else fdatasync() in the submit path.  DISCARD and
 * WRITE_ZEROES have no AIO command and run synchronously (blk_run_sync).
 *
 * Locking: none; the disk's I/O thread only.
 */
#include <sys/uio.h>

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libaio.h>

#include "blkdev.h"
#include "blk_engine.h"

struct blk_aio {
	io_context_t	  ai_ctx;
	struct iocb	 *ai_iocbs;	/* one per slot */
	struct iocb	**ai_pending;	/* queued, not yet submitted */
	unsigned int	  ai_npending;
	struct io_event	 *ai_events;
	bool		  ai_fdsync;	/* IOCB_CMD_FDSYNC works */
};

/* Whether the kernel runs IOCB_CMD_FDSYNC on this file (4.18 and later). */
static bool
blk_aio_probe_fdsync(struct blk_disk *d, struct blk_aio *a)
{
	struct iocb cb, *cbp = &cb;
	struct io_event ev;
	int rc;

	io_prep_fdsync(&cb, d->d_fd);
	if (io_submit(a->ai_ctx, 1, &cbp) != 1)
		return false;
	while ((rc = io_getevents(a->ai_ctx, 1, 1, &ev, NULL)) == -EINTR)
		;
	return rc == 1 && (long)ev.res == 0;
}

static void
blk_aio_free(struct blk_aio *a)
{
	free(a->ai_events);
	free(a->ai_pending);
	free(a->ai_iocbs);
	free(a);
}

static int
blk_aio_init(struct blk_disk *d)
{
	unsigned int depth = d->d_info.bi_depth;
	struct blk_aio *a;
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->ai_iocbs = calloc(depth, sizeof(*a->ai_iocbs));
	a->ai_pending = calloc(depth, sizeof(*a->ai_pending));
	a->ai_events = calloc(depth, sizeof(*a->ai_events));
	if (a->ai_iocbs == NULL || a->ai_pending == NULL ||
	    a->ai_events == NULL) {
		rc = -ENOMEM;
		goto err_free;
	}
	if ((rc = io_setup((int)depth, &a->ai_ctx)) < 0)
		goto err_free;
	a->ai_fdsync = blk_aio_probe_fdsync(d, a);
	d->d_engine = a;
	return 0;

err_free:
	blk_aio_free(a);
	return rc;
}

static void
blk_aio_fini(struct blk_disk *d)
{
	struct blk_aio *a = d->d_engine;

	io_destroy(a->ai_ctx);
	blk_aio_free(a);
	d->d_engine = NULL;
}

static void
blk_aio_queue(struct blk_disk *d, uint32_t s)
{
	struct blk_aio *a = d->d_engine;
	struct blk_slot *sl = &d->d_slots[s];
	struct iocb *cb = &a->ai_iocbs[s];

	switch (sl->sl_op) {
	case BLK_OP_READ:
		io_prep_preadv(cb, d->d_fd, sl->sl_iov, sl->sl_niov,
		    (long long)sl->sl_off);
		break;
	case BLK_OP_WRITE:
		io_prep_pwritev(cb, d->d_fd, sl->sl_iov, sl->sl_niov,
		    (long long)sl->sl_off);
		break;
	case BLK_OP_FLUSH:
		if (a->ai_fdsync) {
			io_prep_fdsync(cb, d->d_fd);
			break;
		}
		/* FALLTHROUGH */
	default:
		blk_run_sync(d, s);
		return;
	}
	cb->data = (void *)(uintptr_t)s;	/* an index, not a pointer */
	io_set_eventfd(cb, d->d_efd);
	a->ai_pending[a->ai_npending++] = cb;
}

static void
blk_aio_poll(struct blk_disk *d, bool wait)
{
	struct blk_aio *a = d->d_engine;
	struct timespec zero = { 0, 0 };
	int n;

	do {
		n = io_getevents(a->ai_ctx, wait ? 1 : 0,
		    (long)d->d_info.bi_depth, a->ai_events,
		    wait ? NULL : &zero);
	} while (n == -EINTR);
	assert(n >= 0);
	for (int i = 0; i < n; i++) {
		uintptr_t s = (uintptr_t)a->ai_events[i].data;

		assert(s < d->d_info.bi_depth);
		blk_engine_done(d, (uint32_t)s, (long)a->ai_events[i].res);
	}
}

static void
blk_aio_kick(struct blk_disk *d)
{
	struct blk_aio *a = d->d_engine;
	unsigned int done = 0;

	while (done < a->ai_npending) {
		int rc = io_submit(a->ai_ctx, (long)(a->ai_npending - done),
		    a->ai_pending + done);

		if (rc > 0) {
			done += (unsigned int)rc;
			continue;
		}
		if (rc == -EINTR)
			continue;
		if (rc == -EAGAIN && d->d_nengine > a->ai_npending - done) {
			blk_aio_poll(d, true);
			continue;
		}
		/*
		 * The kernel refuses this iocb (say, a file system without
		 * AIO for it): do it the plain way instead of failing it.
		 */
		blk_run_sync(d, (uint32_t)(uintptr_t)a->ai_pending[done]->data);
		done++;
	}
	a->ai_npending = 0;
}

const struct blk_engine_ops blk_aio_ops = {
	.eo_name	 = "libaio",
	.eo_orders_flush = false,
	.eo_init	 = blk_aio_init,
	.eo_fini	 = blk_aio_fini,
	.eo_queue	 = blk_aio_queue,
	.eo_kick	 = blk_aio_kick,
	.eo_poll	 = blk_aio_poll,
};
