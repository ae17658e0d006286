/*
 * Block backends, the common part: opening and probing a raw image or a
 * block device, the request table (a fixed number of slots, so requests in
 * flight are bounded), validation, O_DIRECT bounce buffers and
 * read-modify-write, and the completion ring behind blk_reap.  The engines
 * (blk_uring.c, blk_aio.c, blk_sync.c) only start slots and report results.
 * This is bhyve's block_if.c split the way STYLE.md §1 asks; the contract
 * is in include/blkdev.h and docs/blk.md.
 *
 * Locking: none.  One I/O thread owns a disk (include/blkdev.h).
 */
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#include <linux/fs.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkdev.h"
#include "blk_engine.h"
#include "vol.h"

#define BLK_DIRECT_MAX_ALIGN	4096u

static void	blk_note(struct blk_disk *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	blk_fail(char *, size_t, int, const char *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));

static void
blk_note(struct blk_disk *d, const char *fmt, ...)
{
	char *n = d->d_info.bi_note;
	size_t used = strlen(n);
	va_list ap;

	if (used + 3 >= sizeof(d->d_info.bi_note))
		return;
	if (used > 0) {
		memcpy(n + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(n + used, sizeof(d->d_info.bi_note) - used, fmt, ap);
	va_end(ap);
}

static int
blk_fail(char *err, size_t errlen, int rc, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (errlen == 0)
		return rc;
	n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

int
blk_cache_parse(const char *s, enum blk_cache *c)
{
	if (strcmp(s, "none") == 0)
		*c = BLK_CACHE_NONE;
	else if (strcmp(s, "writeback") == 0)
		*c = BLK_CACHE_WRITEBACK;
	else
		return -EINVAL;
	return 0;
}

int
blk_engine_parse(const char *s, enum blk_engine *e)
{
	if (strcmp(s, "auto") == 0)
		*e = BLK_ENGINE_AUTO;
	else if (strcmp(s, "io_uring") == 0)
		*e = BLK_ENGINE_URING;
	else if (strcmp(s, "libaio") == 0)
		*e = BLK_ENGINE_AIO;
	else if (strcmp(s, "sync") == 0)
		*e = BLK_ENGINE_SYNC;
	else
		return -EINVAL;
	return 0;
}

/* Plain syscalls, shared by the sync engine and every fallback. */

static int64_t
blk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done,
		    (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;	/* the file shrank under us */
		done += (size_t)r;
	}
	return (int64_t)done;
}

static int64_t
blk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done,
		    (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (size_t)r;
	}
	return (int64_t)done;
}

/* Drop the first n bytes of an iovec array, in place. */
static void
blk_iov_advance(struct iovec **iovp, int *niovp, uint64_t n)
{
	struct iovec *iov = *iovp;
	int niov = *niovp;

	while (n > 0 && niov > 0) {
		if (n < iov->iov_len) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
			n = 0;
			break;
		}
		n -= iov->iov_len;
		iov++;
		niov--;
	}
	while (niov > 0 && iov->iov_len == 0) {
		iov++;
		niov--;
	}
	*iovp = iov;
	*niovp = niov;
}

/* Move len bytes at off with preadv/pwritev; consumes *iov. */
static int64_t
blk_rw_vec(int fd, enum blk_op op, struct iovec *iov, int niov, uint64_t off,
    uint64_t len)
{
	uint64_t done = 0;

	while (done < len && niov > 0) {
		ssize_t r;

		if (op == BLK_OP_READ)
			r = preadv(fd, iov, niov, (off_t)(off + done));
		else
			r = pwritev(fd, iov, niov, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		done += (uint64_t)r;
		blk_iov_advance(&iov, &niov, (uint64_t)r);
	}
	return (int64_t)done;
}

static void
blk_iov_to_buf(const struct iovec *iov, int niov, unsigned char *buf)
{
	for (int i = 0; i < niov; i++) {
		memcpy(buf, iov[i].iov_base, iov[i].iov_len);
		buf += iov[i].iov_len;
	}
}

static void
blk_buf_to_iov(const unsigned char *buf, uint64_t len, const struct iovec *iov,
    int niov)
{
	for (int i = 0; i < niov && len > 0; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;

		memcpy(iov[i].iov_base, buf, n);
		buf += n;
		len -= n;
	}
}

bool
blk_fallocate_mode(const struct blk_disk *d, uint32_t s, int *mode)
{
	const struct blk_slot *sl = &d->d_slots[s];

	if (d->d_info.bi_blockdev)
		return false;
	*mode = sl->sl_op == BLK_OP_DISCARD ?
	    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : d->d_wz_mode;
	return true;
}

static int64_t
blk_sync_range(struct blk_disk *d, struct blk_slot *sl)
{
	uint64_t range[2] = { sl->sl_off, sl->sl_len };
	int mode;

	if (d->d_info.bi_blockdev) {
		unsigned long req = sl->sl_op == BLK_OP_DISCARD ?
		    BLKDISCARD : BLKZEROOUT;

		return ioctl(d->d_fd, req, range) < 0 ? -errno : 0;
	}
	(void)blk_fallocate_mode(d, (uint32_t)(sl - d->d_slots), &mode);
	for (;;) {
		if (fallocate(d->d_fd, mode, (off_t)sl->sl_off,
		    (off_t)sl->sl_len) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* Not every file system zeroes ranges; a hole reads as zeroes. */
		if (errno == EOPNOTSUPP && (mode & FALLOC_FL_ZERO_RANGE)) {
			d->d_wz_mode = mode = FALLOC_FL_PUNCH_HOLE |
			    FALLOC_FL_KEEP_SIZE;
			continue;
		}
		return -errno;
	}
}

/*
 * O_DIRECT with an offset or length that is not a multiple of the logical
 * block size: go through d_rmw, whole blocks at a time.  The caller has
 * quiesced the engine, so no other request can touch those blocks meanwhile.
 */
static int64_t
blk_rmw(struct blk_disk *d, struct blk_slot *sl)
{
	uint64_t lbs = d->d_info.bi_lbs;
	uint64_t a0 = sl->sl_off & ~(lbs - 1);
	uint64_t end = sl->sl_off + sl->sl_len;
	uint64_t a1 = (end + lbs - 1) & ~(lbs - 1);	/* <= bi_size, see open */
	size_t span = (size_t)(a1 - a0);
	int64_t r;

	if (sl->sl_op == BLK_OP_READ) {
		r = blk_pread_full(d->d_fd, d->d_rmw, span, a0);
		if (r < 0)
			return r;
		blk_buf_to_iov(d->d_rmw + (sl->sl_off - a0), sl->sl_len,
		    sl->sl_uiov, sl->sl_nuiov);
		return (int64_t)sl->sl_len;
	}
	if (sl->sl_off != a0 &&
	    (r = blk_pread_full(d->d_fd, d->d_rmw, lbs, a0)) < 0)
		return r;
	if (end != a1 && (r = blk_pread_full(d->d_fd, d->d_rmw + span - lbs,
	    lbs, a1 - lbs)) < 0)
		return r;
	blk_iov_to_buf(sl->sl_uiov, sl->sl_nuiov, d->d_rmw + (sl->sl_off - a0));
	r = blk_pwrite_full(d->d_fd, d->d_rmw, span, a0);
	return r < 0 ? r : (int64_t)sl->sl_len;
}

static void
blk_push_ready(struct blk_disk *d, uint32_t s, int64_t res)
{
	struct blk_slot *sl = &d->d_slots[s];
	unsigned int depth = d->d_info.bi_depth;

	assert(d->d_rcount < depth);
	sl->sl_result = res;
	sl->sl_state = BLK_SLOT_DONE;
	d->d_ready[(d->d_rhead + d->d_rcount) % depth] = s;
	d->d_rcount++;
}

void
blk_run_sync(struct blk_disk *d, uint32_t s)
{
	struct blk_slot *sl = &d->d_slots[s];
	int64_t res;

	assert(s < d->d_info.bi_depth && sl->sl_state == BLK_SLOT_ENGINE);
	assert(d->d_nengine > 0);
	d->d_nengine--;
	switch (sl->sl_op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		res = blk_rw_vec(d->d_fd, sl->sl_op, sl->sl_iov, sl->sl_niov,
		    sl->sl_off, sl->sl_len);
		break;
	case BLK_OP_FLUSH:
		res = fdatasync(d->d_fd) < 0 ? -errno : 0;
		break;
	default:
		res = blk_sync_range(d, sl);
		break;
	}
	blk_push_ready(d, s, res);
	d->d_signal = true;
}

void
blk_engine_done(struct blk_disk *d, uint32_t s, int64_t res)
{
	struct blk_slot *sl;

	assert(s < d->d_info.bi_depth);
	sl = &d->d_slots[s];
	assert(sl->sl_state == BLK_SLOT_ENGINE && d->d_nengine > 0);
	d->d_nengine--;
	if ((sl->sl_op == BLK_OP_READ || sl->sl_op == BLK_OP_WRITE) &&
	    res >= 0 && (uint64_t)res < sl->sl_len) {
		/* A short transfer: finish the rest here rather than fail. */
		struct iovec *iov = sl->sl_iov;
		int niov = sl->sl_niov;
		int64_t more;

		blk_iov_advance(&iov, &niov, (uint64_t)res);
		more = blk_rw_vec(d->d_fd, sl->sl_op, iov, niov,
		    sl->sl_off + (uint64_t)res, sl->sl_len - (uint64_t)res);
		res = more < 0 ? more : res + more;
	} else if (sl->sl_op == BLK_OP_WRITE_ZEROES && res == -EOPNOTSUPP &&
	    !d->d_info.bi_blockdev) {
		res = blk_sync_range(d, sl);	/* falls back to a hole */
	}
	blk_push_ready(d, s, res);
}

void
blk_quiesce(struct blk_disk *d)
{
	d->d_ops->eo_kick(d);
	while (d->d_nengine > 0)
		d->d_ops->eo_poll(d, true);
}

static void
blk_signal(struct blk_disk *d)
{
	uint64_t one = 1;

	/* Only EAGAIN (counter saturated) can fail; it is readable then. */
	(void)!write(d->d_efd, &one, sizeof(one));
}

static bool
blk_range_ok(const struct blk_disk *d, uint64_t off, uint64_t len)
{
	return len > 0 && off <= d->d_info.bi_size &&
	    len <= d->d_info.bi_size - off;
}

/* Check one request; its data length goes to *lenp.  0 or -errno. */
static int
blk_check(const struct blk_disk *d, const struct blk_req *r, uint64_t *lenp)
{
	const struct blk_info *bi = &d->d_info;
	uint64_t len = 0;

	switch (r->br_op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (r->br_op == BLK_OP_WRITE && bi->bi_readonly)
			return -EROFS;
		if (r->br_iov == NULL || r->br_niov < 1 ||
		    (unsigned int)r->br_niov > BLK_MAX_IOV)
			return -EINVAL;
		for (int i = 0; i < r->br_niov; i++) {
			if (r->br_iov[i].iov_len > BLK_MAX_XFER - len)
				return -EINVAL;
			len += r->br_iov[i].iov_len;
		}
		break;
	case BLK_OP_FLUSH:
		*lenp = 0;
		return 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		if (bi->bi_readonly)
			return -EROFS;
		if (r->br_op == BLK_OP_DISCARD ? !bi->bi_discard :
		    !bi->bi_write_zeroes)
			return -EOPNOTSUPP;
		len = r->br_len;
		if (bi->bi_blockdev && ((r->br_offset | len) & (bi->bi_lbs - 1)))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (!blk_range_ok(d, r->br_offset, len))
		return -EINVAL;
	*lenp = len;
	return 0;
}

static bool
blk_iov_aligned(const struct iovec *iov, int niov, uint64_t align)
{
	for (int i = 0; i < niov; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (align - 1))
			return false;
	return true;
}

int
blk_submit(struct blk_disk *d, const struct blk_req *reqs, unsigned int n)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		const struct blk_req *r = &reqs[i];
		struct blk_slot *sl;
		uint64_t len, lbs = d->d_info.bi_lbs;
		uint32_t s;

		if (d->d_nused >= d->d_info.bi_depth) {
			rc = -EAGAIN;
			break;
		}
		if ((rc = blk_check(d, r, &len)) < 0)
			break;
		s = d->d_free;
		assert(s != BLK_NOSLOT);
		sl = &d->d_slots[s];
		d->d_free = sl->sl_next;
		d->d_nused++;

		sl->sl_op = r->br_op;
		sl->sl_tag = r->br_tag;
		sl->sl_off = r->br_op == BLK_OP_FLUSH ? 0 : r->br_offset;
		sl->sl_len = len;
		sl->sl_bounce = false;
		sl->sl_nuiov = 0;
		sl->sl_iov = NULL;
		sl->sl_niov = 0;
		sl->sl_state = BLK_SLOT_ENGINE;
		if (r->br_op == BLK_OP_READ || r->br_op == BLK_OP_WRITE) {
			memcpy(sl->sl_uiov, r->br_iov,
			    (size_t)r->br_niov * sizeof(*r->br_iov));
			sl->sl_nuiov = r->br_niov;
			sl->sl_iov = sl->sl_uiov;
			sl->sl_niov = r->br_niov;
			if (d->d_info.bi_direct && ((sl->sl_off | len) & (lbs - 1))) {
				int64_t res;

				blk_quiesce(d);
				res = blk_rmw(d, sl);
				blk_push_ready(d, s, res);
				d->d_signal = true;
				continue;
			}
			if (d->d_info.bi_direct &&
			    !blk_iov_aligned(sl->sl_uiov, sl->sl_nuiov, lbs)) {
				sl->sl_bounce = true;
				sl->sl_biov.iov_base = d->d_bounce +
				    (size_t)s * BLK_MAX_XFER;
				sl->sl_biov.iov_len = (size_t)len;
				sl->sl_iov = &sl->sl_biov;
				sl->sl_niov = 1;
				if (r->br_op == BLK_OP_WRITE)
					blk_iov_to_buf(sl->sl_uiov, sl->sl_nuiov,
					    sl->sl_biov.iov_base);
			}
		}
		if (r->br_op == BLK_OP_FLUSH && !d->d_ops->eo_orders_flush)
			blk_quiesce(d);
		d->d_nengine++;
		d->d_ops->eo_queue(d, s);
	}
	d->d_ops->eo_kick(d);
	if (d->d_signal) {
		d->d_signal = false;
		blk_signal(d);
	}
	return i > 0 ? (int)i : rc;
}

int
blk_event_fd(const struct blk_disk *d)
{
	return d->d_efd;
}

unsigned int
blk_inflight(const struct blk_disk *d)
{
	return d->d_nused;
}

const struct blk_info *
blk_info(const struct blk_disk *d)
{
	return &d->d_info;
}

unsigned int
blk_reap(struct blk_disk *d, struct blk_done *out, unsigned int max)
{
	unsigned int n = 0, depth = d->d_info.bi_depth;
	uint64_t v;

	/* Clear first: a completion after this read sets it again. */
	(void)!read(d->d_efd, &v, sizeof(v));
	if (d->d_nengine > 0)
		d->d_ops->eo_poll(d, false);
	while (n < max && d->d_rcount > 0) {
		uint32_t s = d->d_ready[d->d_rhead];
		struct blk_slot *sl = &d->d_slots[s];

		assert(sl->sl_state == BLK_SLOT_DONE);
		d->d_rhead = (d->d_rhead + 1) % depth;
		d->d_rcount--;
		if (sl->sl_bounce && sl->sl_op == BLK_OP_READ &&
		    sl->sl_result > 0)
			blk_buf_to_iov(d->d_bounce + (size_t)s * BLK_MAX_XFER,
			    (uint64_t)sl->sl_result, sl->sl_uiov, sl->sl_nuiov);
		out[n].bd_tag = sl->sl_tag;
		out[n].bd_result = (int32_t)sl->sl_result;
		n++;
		sl->sl_state = BLK_SLOT_FREE;
		sl->sl_next = d->d_free;
		d->d_free = s;
		d->d_nused--;
	}
	if (d->d_rcount > 0)
		blk_signal(d);
	return n;
}

void
blk_drain(struct blk_disk *d)
{
	blk_quiesce(d);
	d->d_signal = false;
	if (d->d_rcount > 0)
		blk_signal(d);
}

/* The request table, the ready ring and the eventfd, for any disk. */
static int
blk_open_table(struct blk_disk *d, unsigned int depth, char *err, size_t errlen)
{
	if (d->d_slots == NULL) {
		d->d_slots = calloc(depth, sizeof(*d->d_slots));
		d->d_iovs = calloc((size_t)depth * BLK_MAX_IOV, sizeof(*d->d_iovs));
		d->d_ready = calloc(depth, sizeof(*d->d_ready));
		if (d->d_slots == NULL || d->d_iovs == NULL || d->d_ready == NULL)
			return blk_fail(err, errlen, -ENOMEM, d->d_path,
			    "out of memory");
	}
	for (unsigned int i = 0; i < depth; i++) {
		d->d_slots[i].sl_uiov = &d->d_iovs[(size_t)i * BLK_MAX_IOV];
		d->d_slots[i].sl_next = i + 1 < depth ? i + 1 : BLK_NOSLOT;
	}
	d->d_free = 0;
	d->d_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->d_efd < 0)
		return blk_fail(err, errlen, -errno, d->d_path, "eventfd: %s",
		    strerror(errno));
	return 0;
}

/* Free what blk_open allocated, in reverse. */
static void
blk_free(struct blk_disk *d)
{
	if (d->d_vol != NULL)
		vol_close(d->d_vol);
	if (d->d_pool != NULL)
		vol_pool_close(d->d_pool);
	if (d->d_bounce != NULL)
		munmap(d->d_bounce, d->d_bounce_len);
	free(d->d_rmw);
	free(d->d_ready);
	free(d->d_iovs);
	free(d->d_slots);
	if (d->d_efd >= 0)
		close(d->d_efd);
	if (d->d_fd >= 0)
		close(d->d_fd);
	free(d);
}

void
blk_close(struct blk_disk *d)
{
	if (d == NULL)
		return;
	blk_drain(d);
	d->d_ops->eo_fini(d);
	blk_free(d);
}

/*
 * Try O_DIRECT on d_fd: the file system must accept the flag, and a read of
 * one block must work with 512-byte alignment (else 4096).  Falls back to
 * buffered I/O with a note; never an error.
 */
static void
blk_try_direct(struct blk_disk *d, int flags)
{
	struct blk_info *bi = &d->d_info;
	static const uint32_t sizes[] = { 512, 4096 };
	unsigned char *buf;
	uint32_t lbs = 0;

	if (fcntl(d->d_fd, F_SETFL, flags | O_DIRECT) < 0) {
		blk_note(d, "O_DIRECT refused by the file system (%s); "
		    "using buffered I/O", strerror(errno));
		return;
	}
	buf = aligned_alloc(BLK_DIRECT_MAX_ALIGN, BLK_DIRECT_MAX_ALIGN);
	if (buf == NULL)
		goto err_buffered;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (bi->bi_blockdev && sizes[i] < bi->bi_lbs)
			continue;
		if (pread(d->d_fd, buf, sizes[i], 0) >= 0) {
			lbs = sizes[i];
			break;
		}
		if (errno != EINVAL)
			break;
	}
	free(buf);
	if (lbs == 0) {
		blk_note(d, "O_DIRECT reads fail on this file (%s); "
		    "using buffered I/O", strerror(errno));
		goto err_buffered;
	}
	if (bi->bi_size % lbs != 0) {
		blk_note(d, "O_DIRECT needs %u-byte alignment and the size is "
		    "not a multiple of it; using buffered I/O", lbs);
		goto err_buffered;
	}
	if (lbs > bi->bi_lbs) {
		blk_note(d, "O_DIRECT needs %u-byte alignment: logical block "
		    "size %u", lbs, lbs);
		bi->bi_lbs = lbs;
	}
	bi->bi_direct = true;
	return;

err_buffered:
	(void)fcntl(d->d_fd, F_SETFL, flags);
}

/* Discard and write-zeroes support, for writable disks. */
static void
blk_probe_ranges(struct blk_disk *d)
{
	struct blk_info *bi = &d->d_info;
	struct stat st;
	char path[96];
	FILE *f;

	if (bi->bi_blockdev) {
		unsigned long long max = 0;

		/* BLKZEROOUT writes zeroes itself where the device cannot. */
		bi->bi_write_zeroes = true;
		if (fstat(d->d_fd, &st) < 0)
			return;
		snprintf(path, sizeof(path),
		    "/sys/dev/block/%u:%u/queue/discard_max_bytes",
		    major(st.st_rdev), minor(st.st_rdev));
		if ((f = fopen(path, "re")) != NULL) {
			if (fscanf(f, "%llu", &max) != 1)
				max = 0;
			fclose(f);
		}
		bi->bi_discard = max > 0;
		return;
	}
	/*
	 * Punching past the end with KEEP_SIZE changes nothing but tells
	 * whether the file system can punch holes.  Zeroing is tried on first
	 * use and falls back to a hole (blk_sync_range), so it is offered
	 * wherever holes are.
	 */
	if (fallocate(d->d_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	    (off_t)bi->bi_size, BLK_SECTOR_SIZE) == 0) {
		bi->bi_discard = true;
		bi->bi_write_zeroes = true;
		d->d_wz_mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	} else {
		blk_note(d, "no discard or write-zeroes (fallocate: %s)",
		    strerror(errno));
	}
}

static int
blk_open_engine(struct blk_disk *d, enum blk_engine want, char *err,
    size_t errlen)
{
	static const struct {
		enum blk_engine			 e;
		const struct blk_engine_ops	*ops;
	} order[] = {
		{ BLK_ENGINE_URING, &blk_uring_ops },
		{ BLK_ENGINE_AIO, &blk_aio_ops },
		{ BLK_ENGINE_SYNC, &blk_sync_ops },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int rc;

		if (want != BLK_ENGINE_AUTO && want != order[i].e)
			continue;
		d->d_ops = order[i].ops;
		if ((rc = d->d_ops->eo_init(d)) == 0) {
			d->d_info.bi_engine = d->d_ops->eo_name;
			return 0;
		}
		if (want != BLK_ENGINE_AUTO)
			return blk_fail(err, errlen, rc, d->d_path,
			    "%s unavailable: %s", d->d_ops->eo_name,
			    strerror(-rc));
		blk_note(d, "%s unavailable (%s)", d->d_ops->eo_name,
		    strerror(-rc));
	}
	return blk_fail(err, errlen, -EINVAL, d->d_path, "no such engine");
}

static int
blk_open_error(int e, const char *path, bool ro, char *err, size_t errlen)
{
	switch (e) {
	case ENOENT:
		return blk_fail(err, errlen, -e, path, "no such file");
	case EISDIR:
		return blk_fail(err, errlen, -e, path, "is a directory");
	case EACCES:
	case EPERM:
		return blk_fail(err, errlen, -e, path,
		    "permission denied (opening %s)",
		    ro ? "read-only" : "read-write");
	case EROFS:
		return blk_fail(err, errlen, -e, path,
		    "read-only file system (open it read-only)");
	default:
		return blk_fail(err, errlen, -e, path, "open: %s", strerror(e));
	}
}

int
blk_open(const char *path, const struct blk_opts *o, struct blk_disk **out,
    char *err, size_t errlen)
{
	static const struct blk_opts defaults;
	struct blk_disk *d;
	struct blk_info *bi;
	unsigned int depth;
	struct stat st;
	int rc, flags;

	if (o == NULL)
		o = &defaults;
	depth = o->bo_depth == 0 ? BLK_DEFAULT_DEPTH : o->bo_depth;
	if (o->bo_cache != BLK_CACHE_WRITEBACK && o->bo_cache != BLK_CACHE_NONE)
		return blk_fail(err, errlen, -EINVAL, path, "no such cache mode");
	if (depth > BLK_MAX_DEPTH)
		return blk_fail(err, errlen, -EINVAL, path,
		    "queue depth %u is above %u", depth, BLK_MAX_DEPTH);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return blk_fail(err, errlen, -ENOMEM, path, "out of memory");
	d->d_fd = d->d_efd = -1;
	snprintf(d->d_path, sizeof(d->d_path), "%s", path);
	bi = &d->d_info;
	bi->bi_readonly = o->bo_readonly;
	bi->bi_depth = depth;

	/* O_NONBLOCK so that a FIFO cannot hang us; cleared below. */
	flags = o->bo_readonly ? O_RDONLY : O_RDWR;
	d->d_fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (d->d_fd < 0) {
		rc = blk_open_error(errno, path, o->bo_readonly, err, errlen);
		goto err_free;
	}
	if (fstat(d->d_fd, &st) < 0) {
		rc = blk_fail(err, errlen, -errno, path, "stat: %s",
		    strerror(errno));
		goto err_free;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = blk_fail(err, errlen, -EISDIR, path, "is a directory");
		goto err_free;
	}
	if (S_ISREG(st.st_mode)) {
		bi->bi_size = (uint64_t)st.st_size;
		bi->bi_lbs = BLK_SECTOR_SIZE;
		bi->bi_pbs = st.st_blksize > 0 ? (uint32_t)st.st_blksize :
		    BLK_SECTOR_SIZE;
	} else if (S_ISBLK(st.st_mode)) {
		int lbs = 0;
		unsigned int pbs = 0;

		bi->bi_blockdev = true;
		if (ioctl(d->d_fd, BLKGETSIZE64, &bi->bi_size) < 0 ||
		    ioctl(d->d_fd, BLKSSZGET, &lbs) < 0 ||
		    ioctl(d->d_fd, BLKPBSZGET, &pbs) < 0) {
			rc = blk_fail(err, errlen, -errno, path,
			    "block device ioctl: %s", strerror(errno));
			goto err_free;
		}
		bi->bi_lbs = lbs >= (int)BLK_SECTOR_SIZE ? (uint32_t)lbs :
		    BLK_SECTOR_SIZE;
		bi->bi_pbs = pbs >= bi->bi_lbs ? pbs : bi->bi_lbs;
		if (bi->bi_lbs > BLK_DIRECT_MAX_ALIGN) {
			rc = blk_fail(err, errlen, -EINVAL, path,
			    "logical block size %u is above %u", bi->bi_lbs,
			    BLK_DIRECT_MAX_ALIGN);
			goto err_free;
		}
	} else {
		rc = blk_fail(err, errlen, -EINVAL, path,
		    "not a regular file or block device");
		goto err_free;
	}
	if (bi->bi_size == 0) {
		rc = blk_fail(err, errlen, -EINVAL, path, "empty file");
		goto err_free;
	}
	if (bi->bi_size % BLK_SECTOR_SIZE != 0) {
		rc = blk_fail(err, errlen, -EINVAL, path,
		    "size %llu bytes is not a multiple of %u",
		    (unsigned long long)bi->bi_size, BLK_SECTOR_SIZE);
		goto err_free;
	}
	if (bi->bi_blockdev && bi->bi_size % bi->bi_lbs != 0) {
		rc = blk_fail(err, errlen, -EINVAL, path,
		    "size %llu bytes is not a multiple of the block size %u",
		    (unsigned long long)bi->bi_size, bi->bi_lbs);
		goto err_free;
	}
	if (fcntl(d->d_fd, F_SETFL, 0) < 0) {
		rc = blk_fail(err, errlen, -errno, path, "fcntl: %s",
		    strerror(errno));
		goto err_free;
	}
	if (o->bo_cache == BLK_CACHE_NONE)
		blk_try_direct(d, 0);
	if (!bi->bi_readonly)
		blk_probe_ranges(d);

	d->d_slots = calloc(depth, sizeof(*d->d_slots));
	d->d_iovs = calloc((size_t)depth * BLK_MAX_IOV, sizeof(*d->d_iovs));
	d->d_ready = calloc(depth, sizeof(*d->d_ready));
	if (d->d_slots == NULL || d->d_iovs == NULL || d->d_ready == NULL) {
		rc = blk_fail(err, errlen, -ENOMEM, path, "out of memory");
		goto err_free;
	}
	if (bi->bi_direct) {
		/* Address space only; pages appear as bounces touch them. */
		d->d_bounce_len = (size_t)depth * BLK_MAX_XFER;
		d->d_bounce = mmap(NULL, d->d_bounce_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (d->d_bounce == MAP_FAILED) {
			d->d_bounce = NULL;
			rc = blk_fail(err, errlen, -ENOMEM, path,
			    "bounce buffers: %s", strerror(errno));
			goto err_free;
		}
		d->d_rmw = aligned_alloc(BLK_DIRECT_MAX_ALIGN,
		    BLK_MAX_XFER + 2 * BLK_DIRECT_MAX_ALIGN);
		if (d->d_rmw == NULL) {
			rc = blk_fail(err, errlen, -ENOMEM, path, "out of memory");
			goto err_free;
		}
	}
	if ((rc = blk_open_table(d, depth, err, errlen)) < 0)
		goto err_free;
	if ((rc = blk_open_engine(d, o->bo_engine, err, errlen)) < 0)
		goto err_free;
	*out = d;
	return 0;

err_free:
	blk_free(d);
	return rc;
}

int
blk_open_volume(const char *pool_path, const char *vol, const struct blk_opts *o,
    struct blk_disk **out, char *err, size_t errlen)
{
	static const struct blk_opts defaults;
	struct blk_disk *d;
	struct blk_info *bi;
	unsigned int depth;
	char verr[512];
	int rc;

	if (o == NULL)
		o = &defaults;
	depth = o->bo_depth == 0 ? BLK_DEFAULT_DEPTH : o->bo_depth;
	if (depth > BLK_MAX_DEPTH)
		return blk_fail(err, errlen, -EINVAL, vol,
		    "queue depth %u is above %u", depth, BLK_MAX_DEPTH);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return blk_fail(err, errlen, -ENOMEM, vol, "out of memory");
	d->d_fd = d->d_efd = -1;
	bi = &d->d_info;
	bi->bi_readonly = o->bo_readonly;
	bi->bi_depth = depth;
	rc = vol_pool_open(pool_path, o->bo_readonly ? VOL_RDONLY : 0, &d->d_pool,
	    verr, sizeof(verr));
	if (rc < 0) {
		snprintf(err, errlen, "%s", verr);
		free(d);
		return rc;
	}
	snprintf(d->d_path, sizeof(d->d_path), "%s/%s", vol_pool_name(d->d_pool), vol);
	if ((rc = vol_open(d->d_pool, vol, &d->d_vol, verr, sizeof(verr))) < 0) {
		snprintf(err, errlen, "%s", verr);
		goto err_free;
	}
	bi->bi_size = vol_size(d->d_vol);
	bi->bi_lbs = BLK_SECTOR_SIZE;
	bi->bi_pbs = vol_bsize(d->d_vol);
	bi->bi_readonly = o->bo_readonly || vol_readonly(d->d_vol);
	bi->bi_discard = bi->bi_write_zeroes = !bi->bi_readonly;
	if ((rc = blk_open_table(d, depth, err, errlen)) < 0)
		goto err_free;
	d->d_ops = &blk_vol_ops;
	bi->bi_engine = blk_vol_ops.eo_name;
	*out = d;
	return 0;

err_free:
	blk_free(d);
	return rc;
}

int
blk_tick(struct blk_disk *d)
{
	return d->d_pool != NULL ? vol_pool_tick(d->d_pool) : -1;
}
