/*
 * Private to devices/blk*.c: the disk, its request table and the ops table
 * each engine (io_uring, libaio, sync) fills in.  The common code in blk.c
 * validates, picks a slot, prepares buffers (bounce, read-modify-write) and
 * owns completion order; an engine only starts slots and reports results.
 */
#ifndef VMM_BLK_ENGINE_H
#define VMM_BLK_ENGINE_H

#include <sys/uio.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "blkdev.h"

#define BLK_NOSLOT	UINT32_MAX

enum blk_slot_state {
	BLK_SLOT_FREE,
	BLK_SLOT_ENGINE,	/* handed to the engine, not finished */
	BLK_SLOT_DONE,		/* finished, waiting in the ready ring */
};

/*
 * One entry of the preallocated request table.  Engines get the index,
 * never a pointer (io_uring user_data, libaio iocb data).
 */
struct blk_slot {
	enum blk_slot_state	 sl_state;
	enum blk_op		 sl_op;
	uint32_t		 sl_tag;	/* the caller's br_tag */
	uint32_t		 sl_next;	/* free list */
	uint64_t		 sl_off;
	uint64_t		 sl_len;	/* bytes to move or range length */
	struct iovec		*sl_uiov;	/* copy of the caller's iovecs */
	int			 sl_nuiov;
	struct iovec		*sl_iov;	/* what the engine uses: */
	int			 sl_niov;	/*  sl_uiov or &sl_biov */
	struct iovec		 sl_biov;	/* the slot's bounce buffer */
	bool			 sl_bounce;
	int64_t			 sl_result;
};

struct blk_disk;
struct vol;
struct vol_pool;

struct blk_engine_ops {
	const char	*eo_name;
	/*
	 * The engine completes a FLUSH only after everything started before
	 * it (io_uring: IOSQE_IO_DRAIN).  If false, blk_submit waits for the
	 * engine to empty before it queues a FLUSH.
	 */
	bool		 eo_orders_flush;
	/* Set up for d (d_fd, d_efd, d_slots exist); 0 or -errno. */
	int	(*eo_init)(struct blk_disk *d);
	void	(*eo_fini)(struct blk_disk *d);
	/*
	 * Take slot s (prepared, state ENGINE): start it, or finish it at once
	 * with blk_run_sync.  The engine may defer the start until eo_kick.
	 */
	void	(*eo_queue)(struct blk_disk *d, uint32_t s);
	/* Start everything queued since the last kick (one syscall). */
	void	(*eo_kick)(struct blk_disk *d);
	/* Report finished slots with blk_engine_done; block for one if wait. */
	void	(*eo_poll)(struct blk_disk *d, bool wait);
};

struct blk_disk {
	struct blk_info			 d_info;
	char				 d_path[PATH_MAX]; /* for messages */
	int				 d_fd;
	int				 d_efd;		/* eventfd */
	const struct blk_engine_ops	*d_ops;
	void				*d_engine;	/* the engine's state */
	int				 d_wz_mode;	/* fallocate mode, files */
	struct blk_slot			*d_slots;	/* bi_depth of them */
	struct iovec			*d_iovs;	/* BLK_MAX_IOV per slot */
	unsigned char			*d_bounce;	/* BLK_MAX_XFER per slot */
	size_t				 d_bounce_len;
	unsigned char			*d_rmw;		/* one, for unaligned O_DIRECT */
	uint32_t			 d_free;	/* free list head */
	unsigned int			 d_nused;	/* accepted, not reaped */
	unsigned int			 d_nengine;	/* state ENGINE */
	uint32_t			*d_ready;	/* ring of DONE slots */
	unsigned int			 d_rhead, d_rcount;
	bool				 d_signal;	/* inline completions to announce */
	struct vol_pool			*d_pool;	/* a volume's pool, else NULL */
	struct vol			*d_vol;
};

/* Engines. */
extern const struct blk_engine_ops blk_uring_ops;
extern const struct blk_engine_ops blk_aio_ops;
extern const struct blk_engine_ops blk_sync_ops;
extern const struct blk_engine_ops blk_vol_ops;	/* volumes: devices/blk_vol.c */

/*
 * Called by an engine when slot s finished with res (bytes or -errno).
 * Finishes short transfers synchronously, then queues the completion.
 */
void	blk_engine_done(struct blk_disk *d, uint32_t s, int64_t res);

/* Perform slot s (counted in d_nengine) now with plain syscalls; complete it. */
void	blk_run_sync(struct blk_disk *d, uint32_t s);

/* Kick the engine and wait until nothing is left in it (FLUSH barrier). */
void	blk_quiesce(struct blk_disk *d);

/*
 * Whether slot s (DISCARD or WRITE_ZEROES) is an fallocate() an engine may
 * start asynchronously, and with which mode.  False for block devices,
 * which take ioctls (blk_run_sync).
 */
bool	blk_fallocate_mode(const struct blk_disk *d, uint32_t s, int *mode);

#endif /* VMM_BLK_ENGINE_H */
