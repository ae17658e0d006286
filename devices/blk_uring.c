/*
 * Block engine on io_uring (liburing; Linux io_uring(7)).  One ring per
 * disk with bi_depth submission entries, so a slot always finds an SQE;
 * completions carry the slot index in user_data, never a pointer, and wake
 * the disk's eventfd (io_uring_register_eventfd).
 *
 * READ and WRITE are IORING_OP_READV/WRITEV; FLUSH is IORING_OP_FSYNC with
 * IORING_FSYNC_DATASYNC and IOSQE_IO_DRAIN, so it starts only after every
 * earlier request on the ring has completed; DISCARD and WRITE_ZEROES on
 * files are IORING_OP_FALLOCATE when the kernel has it.  Block-device
 * discard and zeroing are ioctls and run synchronously (blk_run_sync).
 *
 * Locking: none; the disk's I/O thread only.
 */
#include <sys/uio.h>

#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include <liburing.h>

#include "blkdev.h"
#include "blk_engine.h"

struct blk_uring {
	struct io_uring	ur_ring;
	bool		ur_fallocate;	/* IORING_OP_FALLOCATE supported */
};

static int
blk_uring_init(struct blk_disk *d)
{
	struct io_uring_probe *p;
	struct blk_uring *u;
	int rc;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return -ENOMEM;
	if ((rc = io_uring_queue_init(d->d_info.bi_depth, &u->ur_ring, 0)) < 0)
		goto err_free;
	if ((p = io_uring_get_probe_ring(&u->ur_ring)) == NULL) {
		rc = -ENOSYS;
		goto err_exit;
	}
	if (!io_uring_opcode_supported(p, IORING_OP_READV) ||
	    !io_uring_opcode_supported(p, IORING_OP_WRITEV) ||
	    !io_uring_opcode_supported(p, IORING_OP_FSYNC))
		rc = -ENOSYS;
	u->ur_fallocate = io_uring_opcode_supported(p, IORING_OP_FALLOCATE);
	io_uring_free_probe(p);
	if (rc < 0)
		goto err_exit;
	if ((rc = io_uring_register_eventfd(&u->ur_ring, d->d_efd)) < 0)
		goto err_exit;
	d->d_engine = u;
	return 0;

err_exit:
	io_uring_queue_exit(&u->ur_ring);
err_free:
	free(u);
	return rc;
}

static void
blk_uring_fini(struct blk_disk *d)
{
	struct blk_uring *u = d->d_engine;

	io_uring_queue_exit(&u->ur_ring);
	free(u);
	d->d_engine = NULL;
}

static void
blk_uring_queue(struct blk_disk *d, uint32_t s)
{
	struct blk_uring *u = d->d_engine;
	struct blk_slot *sl = &d->d_slots[s];
	struct io_uring_sqe *sqe;
	int mode = 0;

	if ((sl->sl_op == BLK_OP_DISCARD || sl->sl_op == BLK_OP_WRITE_ZEROES) &&
	    (!u->ur_fallocate || !blk_fallocate_mode(d, s, &mode))) {
		blk_run_sync(d, s);
		return;
	}
	/* The SQ has bi_depth entries and at most bi_depth slots exist. */
	sqe = io_uring_get_sqe(&u->ur_ring);
	assert(sqe != NULL);
	switch (sl->sl_op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, d->d_fd, sl->sl_iov,
		    (unsigned int)sl->sl_niov, sl->sl_off);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, d->d_fd, sl->sl_iov,
		    (unsigned int)sl->sl_niov, sl->sl_off);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, d->d_fd, IORING_FSYNC_DATASYNC);
		/* Completes after everything submitted before it. */
		io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
		break;
	default:
		io_uring_prep_fallocate(sqe, d->d_fd, mode, (off_t)sl->sl_off,
		    (off_t)sl->sl_len);
		break;
	}
	io_uring_sqe_set_data64(sqe, s);
}

static void
blk_uring_poll(struct blk_disk *d, bool wait)
{
	struct blk_uring *u = d->d_engine;
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	if (wait) {
		int rc;

		while ((rc = io_uring_wait_cqe(&u->ur_ring, &cqe)) == -EINTR)
			;
		/* Only a broken ring fails here: a host invariant. */
		assert(rc == 0);
	}
	io_uring_for_each_cqe(&u->ur_ring, head, cqe) {
		uint64_t s = io_uring_cqe_get_data64(cqe);

		assert(s < d->d_info.bi_depth);
		blk_engine_done(d, (uint32_t)s, cqe->res);
		n++;
	}
	io_uring_cq_advance(&u->ur_ring, n);
}

static void
blk_uring_kick(struct blk_disk *d)
{
	struct blk_uring *u = d->d_engine;

	while (io_uring_sq_ready(&u->ur_ring) > 0) {
		int rc = io_uring_submit(&u->ur_ring);

		if (rc >= 0 || rc == -EINTR)
			continue;
		/* Out of kernel resources for now: make room and retry. */
		if (rc == -EAGAIN || rc == -EBUSY) {
			if (d->d_nengine > io_uring_sq_ready(&u->ur_ring))
				blk_uring_poll(d, true);
			else
				sched_yield();
			continue;
		}
		fprintf(stderr, "blk: %s: io_uring_submit: %d\n", d->d_path,
		    rc);
		abort();	/* EBADF, EFAULT, EINVAL: a broken ring */
	}
}

const struct blk_engine_ops blk_uring_ops = {
	.eo_name	 = "io_uring",
	.eo_orders_flush = true,
	.eo_init	 = blk_uring_init,
	.eo_fini	 = blk_uring_fini,
	.eo_queue	 = blk_uring_queue,
	.eo_kick	 = blk_uring_kick,
	.eo_poll	 = blk_uring_poll,
};
