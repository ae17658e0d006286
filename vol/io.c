/*
 * The pool file: positioned reads and writes that finish or fail whole,
 * fdatasync, checksums (XXH3-128, libxxhash) and block compression (lz4,
 * zstd).  The crash-test hook that drops writes lives here, below
 * everything that writes.
 *
 * Writes go through io_uring (liburing) where the kernel allows it: a
 * commit writes many blocks, so they are copied into a staging area and
 * submitted together, up to VIO_DEPTH in flight, and waited for before
 * any read, fdatasync or uberblock.  Reads are single preads: a guest's
 * read wants one block now.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <liburing.h>
#include <lz4.h>
#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
#endif
#include <zstd.h>

#include "vol_impl.h"

#define VIO_DEPTH	64u
#define VIO_STAGE	(8u << 20)	/* bytes staged before a submit */

struct vio_ring {
	struct io_uring	 r_ring;
	unsigned char	*r_stage;
	size_t		 r_used;
	unsigned int	 r_n;		/* queued, not yet reaped */
	int		 r_err;		/* first failed write since the last wait */
	size_t		 r_len[VIO_DEPTH];
};

void
vio_init(struct vol_pool *p)
{
	struct vio_ring *r;
	void *m;

	/*
	 * Reads from a mapping cost no system call and copy nothing until
	 * the checksum is verified; the file is at least lb_size long
	 * (vol_pool_open checks), so no access is past its end.
	 */
	m = mmap(NULL, p->p_label.lb_size, PROT_READ, MAP_SHARED, p->p_fd, 0);
	if (m != MAP_FAILED) {
		p->p_map = m;
		madvise(m, p->p_label.lb_size, MADV_RANDOM);
	}
	if (p->p_ro || !(r = calloc(1, sizeof(*r))))
		return;
	r->r_stage = malloc(VIO_STAGE + VOL_MAX_BLOCK + VOL_UNIT);
	if (!r->r_stage || io_uring_queue_init(VIO_DEPTH, &r->r_ring, 0) < 0) {
		free(r->r_stage);
		free(r);
		return;
	}
	p->p_ring = r;
}

/* Submit what is staged and wait for all of it; the first error. */
static int
vio_wait(struct vol_pool *p)
{
	struct vio_ring *r = p->p_ring;
	struct io_uring_cqe *cqe;
	int rc;

	if (!r || r->r_n == 0)
		return 0;
	io_uring_submit(&r->r_ring);
	while (r->r_n) {
		rc = io_uring_wait_cqe(&r->r_ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			r->r_err = rc;
			break;
		}
		if (cqe->res < 0 && !r->r_err)
			r->r_err = cqe->res;
		else if (cqe->res >= 0 && (size_t)cqe->res != r->r_len[cqe->user_data] &&
		    !r->r_err)
			r->r_err = -EIO;	/* short: the device is full or failing */
		io_uring_cqe_seen(&r->r_ring, cqe);
		r->r_n--;
	}
	r->r_used = 0;
	rc = r->r_err;
	r->r_err = 0;
	return rc;
}

void
vio_fini(struct vol_pool *p)
{
	if (p->p_map) {
		munmap((void *)(uintptr_t)p->p_map, p->p_label.lb_size);
		p->p_map = NULL;
	}
	if (!p->p_ring)
		return;
	vio_wait(p);
	io_uring_queue_exit(&p->p_ring->r_ring);
	free(p->p_ring->r_stage);
	free(p->p_ring);
	p->p_ring = NULL;
}

/* Stage a write; false if it must be written directly. */
static bool
vio_stage(struct vol_pool *p, const void *buf, size_t len, uint64_t off, int *rc)
{
	struct vio_ring *r = p->p_ring;
	struct io_uring_sqe *sqe;

	*rc = 0;
	if (!r || len > VOL_MAX_BLOCK + VOL_UNIT)
		return false;
	if ((r->r_n == VIO_DEPTH || r->r_used + len > VIO_STAGE + VOL_MAX_BLOCK) &&
	    (*rc = vio_wait(p)) < 0)
		return true;
	if (!(sqe = io_uring_get_sqe(&r->r_ring))) {
		if ((*rc = vio_wait(p)) < 0 || !(sqe = io_uring_get_sqe(&r->r_ring)))
			return *rc < 0;
	}
	memcpy(r->r_stage + r->r_used, buf, len);
	io_uring_prep_write(sqe, p->p_fd, r->r_stage + r->r_used, (unsigned int)len,
	    off);
	io_uring_sqe_set_data64(sqe, r->r_n);
	r->r_len[r->r_n] = len;
	r->r_used += len;
	r->r_n++;
	return true;
}

const void *
vio_peek(struct vol_pool *p, size_t len, uint64_t off)
{
	if (!p->p_map || off > p->p_label.lb_size || len > p->p_label.lb_size - off)
		return NULL;
	if (vio_wait(p) < 0)
		return NULL;
	return p->p_map + off;
}

int
vio_read(struct vol_pool *p, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	int rc;

	/* A read may be of a block just written (scrub's repair, a reload). */
	if ((rc = vio_wait(p)) < 0)
		return rc;

	while (done < len) {
		ssize_t n = pread(p->p_fd, (char *)buf + done, len - done,
		    (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			/* Past the end of a sparse pool file: never written. */
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int
vio_write(struct vol_pool *p, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	int rc;

	if (p->p_ro)
		return -EROFS;
	p->p_nwrites++;
	if (p->p_drop_after >= 0 && (long)p->p_nwrites > p->p_drop_after)
		return 0;		/* the power is off: the write is lost */
	if (vio_stage(p, buf, len, off, &rc))
		return rc;
	while (done < len) {
		ssize_t n = pwrite(p->p_fd, (const char *)buf + done, len - done,
		    (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

int
vio_sync(struct vol_pool *p)
{
	int rc;

	if ((rc = vio_wait(p)) < 0)
		return rc;
	if (p->p_drop_after >= 0 && (long)p->p_nwrites >= p->p_drop_after)
		return 0;
	return fdatasync(p->p_fd) < 0 ? -errno : 0;
}

long
vol_test_drop_writes_after(struct vol_pool *p, long n)
{
	p->p_drop_after = n < 0 ? -1 : (long)p->p_nwrites + n;
	return (long)p->p_nwrites;
}

/*
 * The same XXH3-128 either way; on x86-64 the library's dispatcher picks
 * AVX2 or AVX-512 at run time (the plain entry point is built for SSE2),
 * which hashes a block about four times faster: every read of a block
 * hashes all of it, so this is most of a small random read's cost.
 */
void
vol_cksum(const void *buf, size_t len, uint8_t out[16])
{
#if defined(__x86_64__)
	XXH128_hash_t h = XXH3_128bits_dispatch(buf, len);
#else
	XXH128_hash_t h = XXH3_128bits(buf, len);
#endif
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, 16);
}

bool
vol_cksum_ok(const void *buf, size_t len, const uint8_t want[16])
{
	uint8_t got[16];

	vol_cksum(buf, len, got);
	return memcmp(got, want, 16) == 0;
}

size_t
vol_compress_block(enum vol_compress c, const void *src, size_t len, void *dst)
{
	size_t cap = len - len / 8;	/* ZFS's rule: save 12.5% or store raw */
	size_t n;
	int r;

	switch (c) {
	case VOL_COMPRESS_LZ4:
		r = LZ4_compress_default(src, dst, (int)len, (int)cap);
		return r > 0 ? (size_t)r : 0;
	case VOL_COMPRESS_ZSTD:
		n = ZSTD_compress(dst, cap, src, len, 3);
		return ZSTD_isError(n) ? 0 : n;
	default:
		return 0;
	}
}

int
vol_decompress_block(enum vol_compress c, const void *src, size_t slen, void *dst,
    size_t dlen)
{
	size_t n;
	int r;

	switch (c) {
	case VOL_COMPRESS_OFF:
		if (slen != dlen)
			return -EIO;
		memcpy(dst, src, dlen);
		return 0;
	case VOL_COMPRESS_LZ4:
		r = LZ4_decompress_safe(src, dst, (int)slen, (int)dlen);
		return r == (int)dlen ? 0 : -EIO;
	case VOL_COMPRESS_ZSTD:
		n = ZSTD_decompress(dst, dlen, src, slen);
		return !ZSTD_isError(n) && n == dlen ? 0 : -EIO;
	}
	return -EIO;
}

int
vol_compress_parse(const char *s, enum vol_compress *out)
{
	if (!strcmp(s, "off"))
		*out = VOL_COMPRESS_OFF;
	else if (!strcmp(s, "lz4"))
		*out = VOL_COMPRESS_LZ4;
	else if (!strcmp(s, "zstd"))
		*out = VOL_COMPRESS_ZSTD;
	else
		return -EINVAL;
	return 0;
}

const char *
vol_compress_name(enum vol_compress c)
{
	switch (c) {
	case VOL_COMPRESS_LZ4:
		return "lz4";
	case VOL_COMPRESS_ZSTD:
		return "zstd";
	default:
		return "off";
	}
}
