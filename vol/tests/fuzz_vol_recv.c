/*
 * libFuzzer target: vol_receive on streams built from the input.
 *
 * A stream's header and records each carry an XXH3-128, so random bytes
 * would stop at the first checksum.  This target reads the input as a
 * recipe instead: header fields, then records (type, block, count, a
 * payload pattern), and writes a stream whose checksums are right unless
 * the recipe says to spoil one.  That reaches the checks behind the
 * checksums: sizes, block sizes, blocks past the end, the incremental
 * base, truncation, and the commit.
 *
 * Invariants checked after every input: a failed receive leaves the pool
 * as it was (same datasets, same allocated bytes); a successful one makes
 * a volume that reads back what the stream wrote, and destroying it
 * returns the pool to its starting allocation.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "vol.h"
#include "../stream.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vol_pool *pool;
static uint64_t base_guid, base_txg, start_alloc;
static unsigned int start_nds;

/* The input, read front to back; zeros once it runs out. */
struct cursor {
	const uint8_t	*p;
	size_t		 n;
};

static uint64_t
take(struct cursor *c, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		v |= (uint64_t)(c->n ? *c->p : 0) << (8 * i);
		if (c->n) {
			c->p++;
			c->n--;
		}
	}
	return v;
}

static void
die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_vol_recv: %s: %s\n", what, err);
	abort();
}

static void
stat_pool(uint64_t *alloc, unsigned int *nds)
{
	struct vol_pool_stat ps;
	char err[256];

	if (vol_pool_stat(pool, &ps, err, sizeof(err)) < 0)
		die("stat", err);
	*alloc = ps.ps_alloc;
	*nds = ps.ps_ndatasets;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/dev/shm/hull-fuzz-vol-XXXXXX", err[256];
	struct vol_info *vi;
	struct vol *v;
	unsigned char blk[4096];
	size_t n = 0;
	int fd;

	(void)argc;
	(void)argv;
	if ((fd = mkstemp(path)) < 0)
		die("mkstemp", path);
	close(fd);
	unlink(path);
	if (vol_pool_create(path, "fz", 64ull << 20, err, sizeof(err)) < 0 ||
	    vol_pool_open(path, 0, &pool, err, sizeof(err)) < 0)
		die("pool", err);
	/* The pool file stays open; nothing else needs its name. */
	unlink(path);
	/* "base@s1", 64 KiB of 4 KiB blocks: the base of incremental streams. */
	struct vol_props pr = { .vp_bsize = 4096 };
	if (vol_create(pool, "base", 65536, &pr, err, sizeof(err)) < 0 ||
	    vol_open(pool, "base", &v, err, sizeof(err)) < 0)
		die("base", err);
	memset(blk, 0xab, sizeof(blk));
	for (int i = 0; i < 16; i += 3)
		if (vol_pwrite(v, blk, sizeof(blk), (uint64_t)i * 4096) < 0)
			die("base", "write");
	vol_close(v);
	if (vol_snapshot(pool, "base@s1", err, sizeof(err)) < 0 ||
	    vol_list(pool, &vi, &n, err, sizeof(err)) < 0)
		die("snapshot", err);
	for (size_t i = 0; i < n; i++)
		if (strcmp(vi[i].vi_name, "base@s1") == 0) {
			base_guid = vi[i].vi_guid;
			base_txg = vi[i].vi_txg;
		}
	free(vi);
	if (!base_guid)
		die("snapshot", "base@s1 not listed");
	stat_pool(&start_alloc, &start_nds);
	return 0;
}

static void
cksum(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[16])
{
	XXH3_state_t *s = XXH3_createState();
	XXH128_canonical_t c;

	XXH3_128bits_reset(s);
	XXH3_128bits_update(s, a, alen);
	if (blen)
		XXH3_128bits_update(s, b, blen);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(s));
	XXH3_freeState(s);
	memcpy(out, c.digest, 16);
}

/* What the recipe wrote last to each block (for the read-back check). */
#define MAXBLK	64
struct expect {
	int		 state[MAXBLK];	/* 0 untouched, 1 written, 2 freed */
	uint8_t		 fill[MAXBLK];
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct vol_stream_hdr h;
	struct expect ex;
	XXH3_state_t *st = XXH3_createState();
	static uint8_t payload[VOL_MAX_BSIZE];
	char err[256];
	uint64_t alloc, nrec, bsize;
	unsigned int nds, flags;
	bool incr, force;
	int fd, rc;

	memset(&ex, 0, sizeof(ex));
	if ((fd = memfd_create("stream", 0)) < 0)
		die("memfd", "failed");

	/* The header. */
	flags = (unsigned int)take(&c, 1);
	incr = flags & 1;
	force = flags & 2;
	memset(&h, 0, sizeof(h));
	h.sh_magic = (flags & 4) ? take(&c, 8) : VOL_STREAM_MAGIC;
	h.sh_version = (flags & 8) ? (uint32_t)take(&c, 4) : VOL_STREAM_VERSION;
	h.sh_flags = incr ? VOL_SF_INCREMENTAL : 0;
	if (flags & 16)
		h.sh_flags = (uint32_t)take(&c, 4);
	bsize = incr ? 4096 : 4096u << (take(&c, 1) % 6);
	if (flags & 32)
		bsize = take(&c, 4);
	h.sh_bsize = (uint32_t)bsize;
	h.sh_size = (flags & 64) ? take(&c, 8) : (take(&c, 1) + 1) * 512 * 8;
	h.sh_comp = (uint8_t)(take(&c, 1) % 4);
	h.sh_copies = (uint8_t)(take(&c, 1) % 4);
	h.sh_to_guid = take(&c, 8) | 1;
	h.sh_to_txg = take(&c, 2) + 1;
	h.sh_from_guid = incr ? ((flags & 128) ? take(&c, 8) : base_guid) : 0;
	h.sh_from_txg = incr ? base_txg : 0;
	snprintf(h.sh_snap, sizeof(h.sh_snap), "%s", take(&c, 1) & 1 ? "s2" : ".bad");
	snprintf(h.sh_from, sizeof(h.sh_from), "%s", incr ? "s1" : "");
	cksum(&h, offsetof(struct vol_stream_hdr, sh_cksum), NULL, 0, h.sh_cksum);
	if (take(&c, 1) == 0xff)
		h.sh_cksum[0] ^= 1;
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, &h, sizeof(h));
	if (write(fd, &h, sizeof(h)) != sizeof(h))
		die("memfd", "write");

	/* Records, until the input runs out; then END (or not). */
	nrec = 0;
	while (c.n > 0 && nrec++ < 256) {
		struct vol_rec_hdr rh;
		unsigned int kind = (unsigned int)take(&c, 1);
		uint32_t len;
		uint8_t fill = (uint8_t)take(&c, 1);

		memset(&rh, 0, sizeof(rh));
		rh.rh_type = kind % 3 + 1 == VOL_REC_END ? VOL_REC_FREE : kind % 3 + 1;
		if (kind & 0x80)
			rh.rh_type = (uint32_t)take(&c, 1);
		rh.rh_blkid = (kind & 0x40) ? take(&c, 8) : take(&c, 1) % MAXBLK;
		rh.rh_count = take(&c, 1) % 8;
		len = rh.rh_type == VOL_REC_WRITE ? (uint32_t)bsize : 0;
		if (kind & 0x20)
			len = (uint32_t)take(&c, 2);
		rh.rh_len = len;
		if (len > sizeof(payload))
			len = sizeof(payload);
		memset(payload, fill, len);
		cksum(&rh, offsetof(struct vol_rec_hdr, rh_cksum), payload, len,
		    rh.rh_cksum);
		if (kind & 0x10 && (kind & 0x0f) == 0)
			rh.rh_cksum[1] ^= 1;
		if (write(fd, &rh, sizeof(rh)) != sizeof(rh) ||
		    (len && write(fd, payload, len) != (ssize_t)len))
			die("memfd", "write");
		XXH3_128bits_update(st, &rh, sizeof(rh));
		XXH3_128bits_update(st, payload, len);
		if (rh.rh_blkid < MAXBLK && rh.rh_type == VOL_REC_WRITE) {
			ex.state[rh.rh_blkid] = 1;
			ex.fill[rh.rh_blkid] = fill;
		} else if (rh.rh_blkid < MAXBLK && rh.rh_type == VOL_REC_FREE) {
			for (uint64_t b = rh.rh_blkid; b < MAXBLK &&
			    b < rh.rh_blkid + rh.rh_count; b++)
				ex.state[b] = 2;
		}
	}
	if (!(flags & 4) || (size & 1)) {
		struct vol_rec_hdr rh = { .rh_type = VOL_REC_END, .rh_len = 16 };
		XXH128_canonical_t sc;

		XXH128_canonicalFromHash(&sc, XXH3_128bits_digest(st));
		if (size % 7 == 3)
			sc.digest[2] ^= 1;
		cksum(&rh, offsetof(struct vol_rec_hdr, rh_cksum), sc.digest, 16,
		    rh.rh_cksum);
		if (write(fd, &rh, sizeof(rh)) != sizeof(rh) ||
		    write(fd, sc.digest, 16) != 16)
			die("memfd", "write");
	}
	XXH3_freeState(st);
	lseek(fd, 0, SEEK_SET);

	rc = vol_receive(pool, incr ? "base" : "r", fd, force, NULL, NULL, err,
	    sizeof(err));
	close(fd);
	if (rc < 0) {
		if (err[0] == '\0')
			die("receive", "failed without a message");
		stat_pool(&alloc, &nds);
		if (alloc != start_alloc || nds != start_nds)
			die("receive", "a failed receive changed the pool");
		return 0;
	}

	/* It took: read back what the recipe wrote, then undo it. */
	{
		const char *name = incr ? "base@s2" : "r@s2";
		struct vol *v;
		uint8_t *blk = malloc(bsize);

		if (vol_open(pool, name, &v, err, sizeof(err)) < 0)
			die("open received", err);
		for (uint64_t b = 0; b < MAXBLK && (b + 1) * bsize <= vol_size(v); b++) {
			if (ex.state[b] == 0)
				continue;
			if (vol_pread(v, blk, bsize, b * bsize) < 0)
				die("read received", "failed");
			for (uint64_t i = 0; i < bsize; i++)
				if (blk[i] != (ex.state[b] == 1 ? ex.fill[b] : 0))
					die("read received", "not what the stream wrote");
		}
		vol_close(v);
		free(blk);
	}
	if (incr) {
		if (vol_rollback(pool, "base@s1", true, err, sizeof(err)) < 0)
			die("rollback", err);
	} else if (vol_destroy(pool, "r", true, err, sizeof(err)) < 0) {
		die("destroy", err);
	}
	stat_pool(&alloc, &nds);
	if (alloc != start_alloc || nds != start_nds)
		die("undo", "the pool did not return to where it started");
	return 0;
}
