/*
 * Block backends: the host side of virtio-blk.  A blk_disk is a raw image
 * file or a block device behind one of three engines with the same
 * contract (devices/blk_uring.c, devices/blk_aio.c, devices/blk_sync.c; the
 * common code is devices/blk.c).  See docs/blk.md.
 *
 * Thread model: one I/O thread owns a blk_disk and makes every call on it.
 * Nothing inside is locked; two threads must not call into the same disk.
 * Different disks are independent.
 */
#ifndef VMM_BLKDEV_H
#define VMM_BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iovec;
struct blk_disk;

#define BLK_SECTOR_SIZE		512u
#define BLK_DEFAULT_DEPTH	256u	/* requests in flight when bo_depth is 0 */
#define BLK_MAX_DEPTH		1024u
#define BLK_MAX_IOV		256u	/* iovecs per READ or WRITE */
#define BLK_MAX_XFER		(1u << 20)	/* bytes per READ or WRITE */

enum blk_cache {
	BLK_CACHE_WRITEBACK = 0,	/* buffered: the host page cache */
	BLK_CACHE_NONE,			/* O_DIRECT where the file allows it */
};

enum blk_engine {
	BLK_ENGINE_AUTO = 0,	/* io_uring, else libaio, else sync */
	BLK_ENGINE_URING,
	BLK_ENGINE_AIO,
	BLK_ENGINE_SYNC,
};

struct blk_opts {
	bool		bo_readonly;
	enum blk_cache	bo_cache;
	enum blk_engine	bo_engine;	/* a forced engine that fails is an error */
	unsigned int	bo_depth;	/* 0: BLK_DEFAULT_DEPTH; at most BLK_MAX_DEPTH */
};

/* What blk_open found; valid until blk_close. */
struct blk_info {
	uint64_t	 bi_size;	/* bytes, a multiple of 512 */
	uint32_t	 bi_lbs;	/* logical block size: 512 or 4096 */
	uint32_t	 bi_pbs;	/* physical block size (a hint) */
	unsigned int	 bi_depth;	/* requests in flight at most */
	const char	*bi_engine;	/* "io_uring", "libaio" or "sync" */
	bool		 bi_readonly;
	bool		 bi_blockdev;
	bool		 bi_direct;	/* O_DIRECT in use */
	bool		 bi_discard;	/* BLK_OP_DISCARD accepted */
	bool		 bi_write_zeroes; /* BLK_OP_WRITE_ZEROES accepted */
	char		 bi_note[256];	/* fallbacks taken, "" if none */
};

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

/*
 * One request.  READ and WRITE move sum(iov_len) bytes at br_offset; the
 * iovec array is copied by blk_submit, the buffers it points to must stay
 * valid until the completion is reaped.  DISCARD and WRITE_ZEROES cover
 * [br_offset, br_offset + br_len).  br_len is ignored for READ and WRITE;
 * everything but br_op and br_tag is ignored for FLUSH.
 */
struct blk_req {
	enum blk_op		 br_op;
	uint64_t		 br_offset;	/* bytes; any alignment */
	const struct iovec	*br_iov;
	int			 br_niov;
	uint64_t		 br_len;	/* DISCARD, WRITE_ZEROES */
	uint32_t		 br_tag;	/* the caller's slot, returned as is */
};

struct blk_done {
	uint32_t	bd_tag;		/* br_tag of the request */
	int32_t		bd_result;	/* READ/WRITE: bytes; others: 0; or -errno */
};

/*
 * Open path as a disk.  Raw image files and block devices only.  With
 * BLK_CACHE_NONE, O_DIRECT is used when the file system accepts it; if it
 * does not, the disk is opened buffered and bi_note says why (not an error).
 * On failure returns -errno, leaves *out untouched and writes to err (if
 * errlen > 0) one line naming path and the problem, e.g.
 * "img: no such file", "img: is a directory", "img: empty file",
 * "img: size 1000 bytes is not a multiple of 512",
 * "img: permission denied (opening read-write)".
 * On success *out belongs to the caller until blk_close.
 */
int	blk_open(const char *path, const struct blk_opts *o, struct blk_disk **out,
	    char *err, size_t errlen);

/*
 * Open volume vol ("web") in the pool at pool_path as a disk (include/vol.h;
 * docs/volumes.md).  The engine is "volume": requests complete inside
 * blk_submit, FLUSH commits the pool's txg, DISCARD and WRITE_ZEROES free
 * whole blocks.  bo_cache and bo_engine do not apply.  Errors as
 * blk_open, naming "pool/vol".
 */
int	blk_open_volume(const char *pool_path, const char *vol,
	    const struct blk_opts *o, struct blk_disk **out, char *err,
	    size_t errlen);

/*
 * Background work: a volume commits its writes every few seconds even
 * without a FLUSH.  Returns how many milliseconds from now the disk wants
 * blk_tick called again, -1 if never (nothing pending, or not a volume),
 * or -errno.
 */
int	blk_tick(struct blk_disk *);

/* The disk's properties.  Never NULL. */
const struct blk_info	*blk_info(const struct blk_disk *);

/*
 * Queue reqs[0..n) and start them (io_uring: one io_uring_submit for the
 * batch; libaio: one io_submit).  Returns how many were accepted, counting
 * from reqs[0], or -errno when reqs[0] itself is refused:
 *   -EAGAIN	bi_depth requests are in flight (accepted and not yet reaped);
 *   -EINVAL	a range outside [0, bi_size) (overflow-safe), no data, more
 *		than BLK_MAX_IOV iovecs or BLK_MAX_XFER bytes, an unknown op,
 *		or, on a block device, DISCARD/WRITE_ZEROES not aligned to
 *		bi_lbs (files take any byte range);
 *   -EROFS	WRITE, DISCARD or WRITE_ZEROES on a read-only disk;
 *   -EOPNOTSUPP DISCARD or WRITE_ZEROES the disk does not support.
 * A refused request touches nothing; resubmit reqs[ret..n) to learn why
 * it was refused.  I/O errors arrive as completions, never here.
 *
 * Ordering: requests in flight together are unordered, except FLUSH: a
 * FLUSH completes after every request accepted before it has completed,
 * and then the data of every WRITE, DISCARD and WRITE_ZEROES completed
 * before it is durable (fdatasync).  Some paths complete synchronously
 * inside blk_submit (docs/blk.md); their completions still go through
 * blk_reap.
 */
int	blk_submit(struct blk_disk *, const struct blk_req *reqs, unsigned int n);

/*
 * An fd (owned by the disk; do not close or read it) that is readable while
 * completions wait for blk_reap.  The same for every engine, so one event
 * loop serves all of them.
 */
int	blk_event_fd(const struct blk_disk *);

/*
 * Move up to max finished requests to out[] and free their places in the
 * queue; returns how many.  Never blocks.  Clears the event fd, and sets it
 * again when completions remain after this call.
 */
unsigned int	blk_reap(struct blk_disk *, struct blk_done *out, unsigned int max);

/* Requests accepted and not yet reaped. */
unsigned int	blk_inflight(const struct blk_disk *);

/*
 * Wait until every accepted request has finished (device reset).  Their
 * completions stay queued for blk_reap.
 */
void	blk_drain(struct blk_disk *);

/* Drain, then release everything.  Unreaped completions are dropped. */
void	blk_close(struct blk_disk *);

/* "none"/"writeback" and "auto"/"io_uring"/"libaio"/"sync"; 0 or -EINVAL. */
int	blk_cache_parse(const char *, enum blk_cache *);
int	blk_engine_parse(const char *, enum blk_engine *);

#endif /* VMM_BLKDEV_H */
