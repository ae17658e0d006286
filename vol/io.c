/*
 * The pool file: positioned reads and writes that finish or fail whole,
 * fdatasync, checksums (XXH3-128, libxxhash) and block compression (lz4,
 * zstd).  The crash-test hook that drops writes lives here, below
 * everything that writes.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <lz4.h>
#include <xxhash.h>
#include <zstd.h>

#include "vol_impl.h"

int
vio_read(struct vol_pool *p, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

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

	if (p->p_ro)
		return -EROFS;
	p->p_nwrites++;
	if (p->p_drop_after >= 0 && (long)p->p_nwrites > p->p_drop_after)
		return 0;		/* the power is off: the write is lost */
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
	if (p->p_drop_after >= 0 && (long)p->p_nwrites >= p->p_drop_after)
		return 0;
	return fdatasync(p->p_fd) < 0 ? -errno : 0;
}

void
vol_test_drop_writes_after(struct vol_pool *p, long n)
{
	p->p_drop_after = n < 0 ? -1 : (long)p->p_nwrites + n;
}

void
vol_cksum(const void *buf, size_t len, uint8_t out[16])
{
	XXH128_hash_t h = XXH3_128bits(buf, len);
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
