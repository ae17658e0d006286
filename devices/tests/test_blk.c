/*
 * Unit tests for the block backends (devices/blk*.c): each engine reads
 * what it wrote; a differential test runs one random sequence from a fixed
 * seed through io_uring, libaio and sync on three files and an in-memory
 * model and compares every read and the final files; bounds, read-only,
 * queue depth, open errors, the O_DIRECT fallback, FLUSH order, drain and
 * the event fd.  Files live in a directory under $TMPDIR (else build/, else
 * /tmp) that is removed at the end.  Where io_uring (or libaio) is not
 * allowed, tests that need it are skipped with a message.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "blkdev.h"

static char g_dir[PATH_MAX];

static const char *const engine_names[] = {
	[BLK_ENGINE_AUTO] = "auto", [BLK_ENGINE_URING] = "io_uring",
	[BLK_ENGINE_AIO] = "libaio", [BLK_ENGINE_SYNC] = "sync",
};

/* xorshift64*: the same sequence everywhere for a given seed. */
static uint64_t
rnd_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static uint64_t
rnd_below(uint64_t *s, uint64_t n)
{
	return n == 0 ? 0 : rnd_next(s) % n;
}

static void
t_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", g_dir, name);
}

static void
rm_tree(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[PATH_MAX];

	if (dp == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(dp);
	rmdir(dir);
}

static int
group_setup(void **state)
{
	const char *base = getenv("TMPDIR");
	struct stat st;

	(void)state;
	if (base == NULL || *base == '\0')
		base = stat("build", &st) == 0 && S_ISDIR(st.st_mode) ?
		    "build" : "/tmp";
	snprintf(g_dir, sizeof(g_dir), "%s/blktest.XXXXXX", base);
	if (mkdtemp(g_dir) == NULL)
		return -1;
	chmod(g_dir, 0755);	/* the permission test runs as nobody */
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rm_tree(g_dir);
	return 0;
}

/* A file of size bytes from seed (0: zeroes). */
static void
make_file(const char *path, uint64_t size, uint64_t seed)
{
	unsigned char buf[65536];
	uint64_t s = seed, done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	while (done < size) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = seed == 0 ? 0 : (unsigned char)rnd_next(&s);
		assert_int_equal(pwrite(fd, buf, n, (off_t)done), (ssize_t)n);
		done += n;
	}
	close(fd);
}

static unsigned char *
read_file(const char *path, uint64_t *sizep)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*sizep = (uint64_t)st.st_size;
	return buf;
}

/* FNV-1a over the whole file. */
static uint64_t
file_hash(const char *path)
{
	uint64_t size, h = 1469598103934665603ull;
	unsigned char *buf = read_file(path, &size);

	for (uint64_t i = 0; i < size; i++)
		h = (h ^ buf[i]) * 1099511628211ull;
	free(buf);
	return h;
}

/* 4096-aligned memory (aligned_alloc wants a multiple of the alignment). */
static unsigned char *
page_alloc(size_t len)
{
	unsigned char *p = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);

	assert_non_null(p);
	return p;
}

static struct blk_disk *
open_ok(const char *path, enum blk_engine e, enum blk_cache c, bool ro,
    unsigned int depth)
{
	struct blk_opts o = { .bo_readonly = ro, .bo_cache = c,
	    .bo_engine = e, .bo_depth = depth };
	struct blk_disk *d = NULL;
	char err[256] = "";
	int rc = blk_open(path, &o, &d, err, sizeof(err));

	if (rc != 0)
		print_error("blk_open(%s): %d %s\n", path, rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(d);
	return d;
}

/* Whether engine e can be opened here at all (cached). */
static bool
engine_ok(enum blk_engine e)
{
	static int known[4];
	char path[PATH_MAX], err[256];
	struct blk_opts o = { .bo_engine = e };
	struct blk_disk *d;

	if (known[e] == 0) {
		t_path(path, sizeof(path), "probe.img");
		make_file(path, 4096, 0);
		if (blk_open(path, &o, &d, err, sizeof(err)) == 0) {
			known[e] = 1;
			blk_close(d);
		} else {
			known[e] = -1;
			print_message("note: %s\n", err);
		}
		unlink(path);
	}
	return known[e] > 0;
}

/* Wait for and reap exactly n completions (10 s at most). */
static void
wait_done(struct blk_disk *d, struct blk_done *out, unsigned int n)
{
	unsigned int got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = blk_event_fd(d), .events = POLLIN };
		int r = poll(&pfd, 1, 10000);

		assert_true(r == 1);
		got += blk_reap(d, out + got, n - got);
	}
}

static bool
efd_readable(struct blk_disk *d)
{
	struct pollfd pfd = { .fd = blk_event_fd(d), .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

static int32_t
do_one(struct blk_disk *d, const struct blk_req *r)
{
	struct blk_done done;

	assert_int_equal(blk_submit(d, r, 1), 1);
	wait_done(d, &done, 1);
	assert_int_equal(done.bd_tag, r->br_tag);
	return done.bd_result;
}

static int32_t
do_rw(struct blk_disk *d, enum blk_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	struct blk_req r = { .br_op = op, .br_offset = off, .br_iov = &iov,
	    .br_niov = 1, .br_tag = 7 };

	return do_one(d, &r);
}

static int32_t
do_range(struct blk_disk *d, enum blk_op op, uint64_t off, uint64_t len)
{
	struct blk_req r = { .br_op = op, .br_offset = off, .br_len = len,
	    .br_tag = 9 };

	return do_one(d, &r);
}

/* Each engine, buffered and O_DIRECT, reads back what it wrote. */
static void
t_readback(void **state)
{
	static const enum blk_engine engines[] = {
		BLK_ENGINE_URING, BLK_ENGINE_AIO, BLK_ENGINE_SYNC };
	char path[PATH_MAX];
	unsigned char *wbuf, *rbuf;
	size_t len = 3 * 65536 + 512;

	(void)state;
	t_path(path, sizeof(path), "readback.img");
	wbuf = page_alloc(len + 4096);
	rbuf = page_alloc(len + 4096);
	assert_non_null(wbuf);
	assert_non_null(rbuf);
	for (size_t e = 0; e < 3; e++) {
		if (!engine_ok(engines[e])) {
			print_message("skipped: %s\n", engine_names[engines[e]]);
			continue;
		}
		for (int c = 0; c < 2; c++) {
			struct blk_disk *d;
			uint64_t seed = 17 + e * 2 + (uint64_t)c;

			make_file(path, 1 << 20, 0);
			d = open_ok(path, engines[e], c ? BLK_CACHE_NONE :
			    BLK_CACHE_WRITEBACK, false, 0);
			assert_string_equal(blk_info(d)->bi_engine,
			    engine_names[engines[e]]);
			for (size_t i = 0; i < len; i++)
				wbuf[i] = (unsigned char)rnd_next(&seed);
			/* Aligned, then from an odd address at an odd offset. */
			assert_int_equal(do_rw(d, BLK_OP_WRITE, 4096, wbuf, len),
			    (int32_t)len);
			memset(rbuf, 0, len);
			assert_int_equal(do_rw(d, BLK_OP_READ, 4096, rbuf, len),
			    (int32_t)len);
			assert_memory_equal(rbuf, wbuf, len);
			assert_int_equal(do_rw(d, BLK_OP_WRITE, 700001, wbuf + 3,
			    1000), 1000);
			memset(rbuf, 0, len);
			assert_int_equal(do_rw(d, BLK_OP_READ, 700001, rbuf + 5,
			    1000), 1000);
			assert_memory_equal(rbuf + 5, wbuf + 3, 1000);
			blk_close(d);
		}
	}
	free(wbuf);
	free(rbuf);
}

/*
 * The differential test.  Batches of up to DF_BATCH requests with disjoint
 * ranges (so their order inside a batch does not matter) go to every
 * engine; the model is updated after each batch.
 */
#define DF_SIZE		(4u << 20)
#define DF_OPS		3000
#define DF_BATCH	16
#define DF_MAXIOV	8
#define DF_MAXLEN	(512u << 10)
#define DF_ARENA	(16u << 20)

struct df_op {
	enum blk_op	op;
	uint64_t	off, len;
	int		niov;
	size_t		boff[DF_MAXIOV];	/* piece offsets in the arena */
	size_t		blen[DF_MAXIOV];
};

static bool
df_overlaps(const struct df_op *ops, int n, uint64_t off, uint64_t len)
{
	for (int i = 0; i < n; i++)
		if (ops[i].op != BLK_OP_FLUSH && off < ops[i].off + ops[i].len &&
		    ops[i].off < off + len)
			return true;
	return false;
}

static void
df_gen(uint64_t *rs, struct df_op *ops, int n, struct df_op *o, size_t *cursor)
{
	uint64_t r = rnd_below(rs, 100), len;
	bool aligned = rnd_below(rs, 2) == 0;
	bool memmis = rnd_below(rs, 3) == 0;

	memset(o, 0, sizeof(*o));
	o->op = r < 35 ? BLK_OP_READ : r < 70 ? BLK_OP_WRITE :
	    r < 73 ? BLK_OP_FLUSH : r < 87 ? BLK_OP_DISCARD :
	    BLK_OP_WRITE_ZEROES;
	if (o->op == BLK_OP_FLUSH)
		return;
	for (int tries = 0; ; tries++) {
		r = rnd_below(rs, 10);
		len = r < 7 ? 1 + rnd_below(rs, 65536) :
		    1 + rnd_below(rs, DF_MAXLEN);
		if (aligned) {
			len = (len + 511) & ~511ull;
			o->off = rnd_below(rs, (DF_SIZE - len) / 512 + 1) * 512;
		} else {
			o->off = rnd_below(rs, DF_SIZE - len + 1);
		}
		o->len = len;
		if (!df_overlaps(ops, n, o->off, len))
			break;
		if (tries == 10) {
			o->op = BLK_OP_FLUSH;
			return;
		}
	}
	if (o->op != BLK_OP_READ && o->op != BLK_OP_WRITE)
		return;
	/* Split into pieces, aligned ones in 512-byte units. */
	o->niov = 1 + (int)rnd_below(rs, DF_MAXIOV);
	{
		uint64_t unit = aligned && !memmis ? 512 : 1;
		uint64_t units = len / unit, left = units;

		if ((uint64_t)o->niov > units)
			o->niov = (int)units;
		for (int i = 0; i < o->niov; i++) {
			uint64_t take = i == o->niov - 1 ? left :
			    1 + rnd_below(rs, left - (uint64_t)(o->niov - i - 1));

			left -= take;
			o->blen[i] = (size_t)(take * unit);
			*cursor = (*cursor + 4095) & ~(size_t)4095;
			if (memmis)
				*cursor += 1 + rnd_below(rs, 15);
			o->boff[i] = *cursor;
			*cursor += o->blen[i];
		}
	}
	assert_true(*cursor <= DF_ARENA);
}

static void
t_differential(void **state)
{
	const enum blk_cache cache = (enum blk_cache)(uintptr_t)*state;
	enum blk_engine engines[3];
	struct blk_disk *d[3];
	unsigned char *arena[3], *model, *gather;
	static struct iovec iovs[3][DF_BATCH][DF_MAXIOV];
	char paths[3][PATH_MAX];
	uint64_t rs = cache == BLK_CACHE_NONE ? 0x5eed : 0xb10c;
	int ne = 0, nops = 0, counts[5] = { 0 };

	if (engine_ok(BLK_ENGINE_URING))
		engines[ne++] = BLK_ENGINE_URING;
	else
		print_message("note: io_uring not allowed; comparing the rest\n");
	if (engine_ok(BLK_ENGINE_AIO))
		engines[ne++] = BLK_ENGINE_AIO;
	engines[ne++] = BLK_ENGINE_SYNC;

	model = malloc(DF_SIZE);
	gather = malloc(DF_MAXLEN);
	assert_non_null(model);
	assert_non_null(gather);
	for (int e = 0; e < ne; e++) {
		char name[32];

		snprintf(name, sizeof(name), "df-%s.img",
		    engine_names[engines[e]]);
		t_path(paths[e], sizeof(paths[e]), name);
		make_file(paths[e], DF_SIZE, 99);
		d[e] = open_ok(paths[e], engines[e], cache, false, 0);
		arena[e] = page_alloc(DF_ARENA);
		assert_non_null(arena[e]);
		print_message("%s: %s, O_DIRECT %s, lbs %u%s%s\n",
		    engine_names[engines[e]], cache == BLK_CACHE_NONE ?
		    "cache=none" : "cache=writeback",
		    blk_info(d[e])->bi_direct ? "on" : "off",
		    blk_info(d[e])->bi_lbs, *blk_info(d[e])->bi_note ? "; " : "",
		    blk_info(d[e])->bi_note);
		assert_true(blk_info(d[e])->bi_discard);
	}
	{
		uint64_t size;
		unsigned char *init = read_file(paths[0], &size);

		memcpy(model, init, DF_SIZE);
		free(init);
	}

	while (nops < DF_OPS) {
		struct df_op ops[DF_BATCH];
		struct blk_req reqs[DF_BATCH];
		struct blk_done done[DF_BATCH];
		int n = 1 + (int)rnd_below(&rs, DF_BATCH);
		size_t cursor = 0;

		for (int i = 0; i < n; i++)
			df_gen(&rs, ops, i, &ops[i], &cursor);
		/* Write data: the same bytes in every arena. */
		for (int i = 0; i < n; i++) {
			if (ops[i].op != BLK_OP_WRITE)
				continue;
			for (int k = 0; k < ops[i].niov; k++) {
				for (size_t b = 0; b < ops[i].blen[k]; b++)
					arena[0][ops[i].boff[k] + b] =
					    (unsigned char)rnd_next(&rs);
				for (int e = 1; e < ne; e++)
					memcpy(arena[e] + ops[i].boff[k],
					    arena[0] + ops[i].boff[k],
					    ops[i].blen[k]);
			}
		}
		for (int e = 0; e < ne; e++) {
			for (int i = 0; i < n; i++) {
				for (int k = 0; k < ops[i].niov; k++) {
					iovs[e][i][k].iov_base = arena[e] +
					    ops[i].boff[k];
					iovs[e][i][k].iov_len = ops[i].blen[k];
				}
				reqs[i] = (struct blk_req){ .br_op = ops[i].op,
				    .br_offset = ops[i].off, .br_iov = iovs[e][i],
				    .br_niov = ops[i].niov, .br_len = ops[i].len,
				    .br_tag = (uint32_t)(1000 + i) };
			}
			assert_int_equal(blk_submit(d[e], reqs, (unsigned)n), n);
			wait_done(d[e], done, (unsigned)n);
			for (int j = 0; j < n; j++) {
				int i = (int)done[j].bd_tag - 1000;
				int32_t want = ops[i].op == BLK_OP_READ ||
				    ops[i].op == BLK_OP_WRITE ?
				    (int32_t)ops[i].len : 0;

				assert_true(i >= 0 && i < n);
				if (done[j].bd_result != want)
					print_error("%s op %d (%d at %llu+%llu): "
					    "%d\n", engine_names[engines[e]],
					    nops + i, ops[i].op,
					    (unsigned long long)ops[i].off,
					    (unsigned long long)ops[i].len,
					    done[j].bd_result);
				assert_int_equal(done[j].bd_result, want);
			}
		}
		/* Compare reads against the model before this batch. */
		for (int i = 0; i < n; i++) {
			if (ops[i].op != BLK_OP_READ)
				continue;
			for (int e = 0; e < ne; e++) {
				size_t at = 0;

				for (int k = 0; k < ops[i].niov; k++) {
					memcpy(gather + at, arena[e] +
					    ops[i].boff[k], ops[i].blen[k]);
					at += ops[i].blen[k];
				}
				if (memcmp(gather, model + ops[i].off,
				    ops[i].len) != 0)
					print_error("%s: read %d differs\n",
					    engine_names[engines[e]], nops + i);
				assert_memory_equal(gather, model + ops[i].off,
				    ops[i].len);
			}
		}
		for (int i = 0; i < n; i++) {
			size_t at = 0;

			counts[ops[i].op]++;
			switch (ops[i].op) {
			case BLK_OP_WRITE:
				for (int k = 0; k < ops[i].niov; k++) {
					memcpy(model + ops[i].off + at,
					    arena[0] + ops[i].boff[k],
					    ops[i].blen[k]);
					at += ops[i].blen[k];
				}
				break;
			case BLK_OP_DISCARD:	/* a hole in a file reads as 0 */
			case BLK_OP_WRITE_ZEROES:
				memset(model + ops[i].off, 0, ops[i].len);
				break;
			default:
				break;
			}
		}
		nops += n;
	}
	print_message("%d ops: %d reads, %d writes, %d flushes, %d discards, "
	    "%d write-zeroes\n", nops, counts[BLK_OP_READ],
	    counts[BLK_OP_WRITE], counts[BLK_OP_FLUSH], counts[BLK_OP_DISCARD],
	    counts[BLK_OP_WRITE_ZEROES]);
	for (int e = 0; e < ne; e++) {
		uint64_t size;
		unsigned char *f;

		blk_close(d[e]);
		f = read_file(paths[e], &size);
		assert_int_equal(size, DF_SIZE);
		assert_memory_equal(f, model, DF_SIZE);
		free(f);
		free(arena[e]);
		unlink(paths[e]);
	}
	free(gather);
	free(model);
}

/* Ranges past the end, overflowing lengths and bad iovecs never reach the file. */
static void
t_bounds(void **state)
{
	char path[PATH_MAX];
	unsigned char buf[1024] = { 1 };
	struct iovec iov = { buf, 512 }, big[2] = { { buf, SIZE_MAX }, { buf, 2 } };
	struct iovec many[BLK_MAX_IOV + 1];
	const uint64_t size = 65536;
	struct blk_disk *d;
	uint64_t h;

	(void)state;
	for (size_t i = 0; i < BLK_MAX_IOV + 1; i++)
		many[i] = (struct iovec){ buf, 1 };
	t_path(path, sizeof(path), "bounds.img");
	make_file(path, size, 5);
	h = file_hash(path);
	d = open_ok(path, BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false, 0);
	assert_int_equal(blk_info(d)->bi_size, size);
	{
		const struct blk_req bad[] = {
			{ .br_op = BLK_OP_WRITE, .br_offset = size, .br_iov = &iov, .br_niov = 1 },
			{ .br_op = BLK_OP_WRITE, .br_offset = size - 256, .br_iov = &iov, .br_niov = 1 },
			{ .br_op = BLK_OP_WRITE, .br_offset = UINT64_MAX - 100, .br_iov = &iov, .br_niov = 1 },
			{ .br_op = BLK_OP_READ, .br_offset = UINT64_MAX, .br_iov = &iov, .br_niov = 1 },
			{ .br_op = BLK_OP_WRITE, .br_offset = 0, .br_iov = big, .br_niov = 2 },
			{ .br_op = BLK_OP_WRITE, .br_offset = 0, .br_iov = many, .br_niov = BLK_MAX_IOV + 1 },
			{ .br_op = BLK_OP_WRITE, .br_offset = 0, .br_iov = &iov, .br_niov = 0 },
			{ .br_op = BLK_OP_WRITE, .br_offset = 0, .br_iov = &iov, .br_niov = -1 },
			{ .br_op = BLK_OP_WRITE, .br_offset = 0, .br_iov = NULL, .br_niov = 1 },
			{ .br_op = BLK_OP_DISCARD, .br_offset = 512, .br_len = UINT64_MAX },
			{ .br_op = BLK_OP_DISCARD, .br_offset = 0, .br_len = 0 },
			{ .br_op = BLK_OP_WRITE_ZEROES, .br_offset = UINT64_MAX - 511, .br_len = 1024 },
			{ .br_op = BLK_OP_WRITE_ZEROES, .br_offset = 0, .br_len = size + 1 },
			{ .br_op = (enum blk_op)99, .br_offset = 0, .br_iov = &iov, .br_niov = 1 },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int rc = blk_submit(d, &bad[i], 1);

			if (rc != -EINVAL)
				print_error("case %zu: %d\n", i, rc);
			assert_int_equal(rc, -EINVAL);
		}
		assert_int_equal(blk_inflight(d), 0);
	}
	/* The last byte is fine; a batch stops at its first bad request. */
	{
		struct iovec last = { buf, 1 };
		struct blk_req batch[3] = {
			{ .br_op = BLK_OP_READ, .br_offset = size - 1, .br_iov = &last, .br_niov = 1, .br_tag = 1 },
			{ .br_op = BLK_OP_READ, .br_offset = size, .br_iov = &last, .br_niov = 1, .br_tag = 2 },
			{ .br_op = BLK_OP_READ, .br_offset = 0, .br_iov = &last, .br_niov = 1, .br_tag = 3 },
		};
		struct blk_done done;

		assert_int_equal(blk_submit(d, batch, 3), 1);
		assert_int_equal(blk_submit(d, batch + 1, 2), -EINVAL);
		wait_done(d, &done, 1);
		assert_int_equal(done.bd_tag, 1);
		assert_int_equal(done.bd_result, 1);
	}
	blk_close(d);
	assert_true(file_hash(path) == h);
	unlink(path);
}

/* A read-only disk refuses every change and the file stays the same. */
static void
t_readonly(void **state)
{
	char path[PATH_MAX];
	unsigned char buf[4096];
	struct blk_disk *d;
	uint64_t h;

	(void)state;
	t_path(path, sizeof(path), "ro.img");
	make_file(path, 1 << 20, 11);
	h = file_hash(path);
	for (int e = BLK_ENGINE_URING; e <= BLK_ENGINE_SYNC; e++) {
		struct iovec iov = { buf, sizeof(buf) };
		struct blk_req w = { .br_op = BLK_OP_WRITE, .br_iov = &iov,
		    .br_niov = 1 };
		struct blk_req dz = { .br_op = BLK_OP_DISCARD, .br_len = 4096 };
		struct blk_req wz = { .br_op = BLK_OP_WRITE_ZEROES, .br_len = 4096 };

		if (!engine_ok((enum blk_engine)e))
			continue;
		d = open_ok(path, (enum blk_engine)e, BLK_CACHE_NONE, true, 0);
		assert_true(blk_info(d)->bi_readonly);
		assert_false(blk_info(d)->bi_discard);
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(blk_submit(d, &w, 1), -EROFS);
		assert_int_equal(blk_submit(d, &dz, 1), -EROFS);
		assert_int_equal(blk_submit(d, &wz, 1), -EROFS);
		assert_int_equal(do_rw(d, BLK_OP_READ, 8192, buf, sizeof(buf)),
		    (int32_t)sizeof(buf));
		assert_int_equal(do_range(d, BLK_OP_FLUSH, 0, 0), 0);
		blk_close(d);
	}
	assert_true(file_hash(path) == h);
	unlink(path);
}

/* At most bi_depth requests are accepted until completions are reaped. */
static void
t_depth(void **state)
{
	char path[PATH_MAX];
	static unsigned char bufs[12][512];

	(void)state;
	t_path(path, sizeof(path), "depth.img");
	make_file(path, 65536, 3);
	for (int e = BLK_ENGINE_URING; e <= BLK_ENGINE_SYNC; e++) {
		struct iovec iov[12];
		struct blk_req reqs[12];
		struct blk_done done[12];
		struct blk_disk *d;

		if (!engine_ok((enum blk_engine)e))
			continue;
		d = open_ok(path, (enum blk_engine)e, BLK_CACHE_WRITEBACK,
		    false, 8);
		assert_int_equal(blk_info(d)->bi_depth, 8);
		for (int i = 0; i < 12; i++) {
			iov[i] = (struct iovec){ bufs[i], 512 };
			reqs[i] = (struct blk_req){ .br_op = BLK_OP_READ,
			    .br_offset = (uint64_t)i * 512, .br_iov = &iov[i],
			    .br_niov = 1, .br_tag = (uint32_t)i };
		}
		assert_int_equal(blk_submit(d, reqs, 12), 8);
		assert_int_equal(blk_submit(d, reqs + 8, 4), -EAGAIN);
		assert_int_equal(blk_inflight(d), 8);
		wait_done(d, done, 3);
		assert_int_equal(blk_submit(d, reqs + 8, 4), 3);
		assert_int_equal(blk_submit(d, reqs + 11, 1), -EAGAIN);
		wait_done(d, done, 8);
		assert_int_equal(blk_inflight(d), 0);
		assert_int_equal(blk_submit(d, reqs + 11, 1), 1);
		wait_done(d, done, 1);
		assert_int_equal(done[0].bd_tag, 11);
		blk_close(d);
	}
	{
		struct blk_opts o = { .bo_depth = BLK_MAX_DEPTH + 1 };
		struct blk_disk *d = NULL;
		char err[256];

		assert_int_equal(blk_open(path, &o, &d, err, sizeof(err)),
		    -EINVAL);
		assert_null(d);
	}
	unlink(path);
}

static void
expect_open_error(const char *path, bool ro, int rc, const char *msg)
{
	struct blk_opts o = { .bo_readonly = ro };
	struct blk_disk *d = NULL;
	char err[256] = "", want[PATH_MAX + 128];

	snprintf(want, sizeof(want), "%s: %s", path, msg);
	assert_int_equal(blk_open(path, &o, &d, err, sizeof(err)), rc);
	assert_null(d);
	assert_string_equal(err, want);
}

/* Runs blk_open as nobody and returns its message (root reads anything). */
static void
open_as_nobody(const char *path, char *msg, size_t len)
{
	int p[2];
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct blk_disk *d;
		char err[256] = "";

		close(p[0]);
		if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			snprintf(err, sizeof(err), "setuid failed");
		else if (blk_open(path, NULL, &d, err, sizeof(err)) == 0)
			snprintf(err, sizeof(err), "opened");
		(void)!write(p[1], err, strlen(err));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], msg, len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void
t_open_errors(void **state)
{
	char path[PATH_MAX], msg[512], want[PATH_MAX + 64];
	struct blk_opts forced = { .bo_engine = BLK_ENGINE_SYNC };
	struct blk_disk *d = NULL;

	(void)state;
	t_path(path, sizeof(path), "missing.img");
	expect_open_error(path, false, -ENOENT, "no such file");
	expect_open_error(path, true, -ENOENT, "no such file");

	t_path(path, sizeof(path), "adir");
	assert_int_equal(mkdir(path, 0755), 0);
	expect_open_error(path, false, -EISDIR, "is a directory");
	expect_open_error(path, true, -EISDIR, "is a directory");
	rmdir(path);

	t_path(path, sizeof(path), "odd.img");
	make_file(path, 1000, 1);
	expect_open_error(path, false, -EINVAL,
	    "size 1000 bytes is not a multiple of 512");
	unlink(path);

	t_path(path, sizeof(path), "empty.img");
	make_file(path, 0, 0);
	expect_open_error(path, false, -EINVAL, "empty file");
	unlink(path);

	expect_open_error("/dev/null", true, -EINVAL,
	    "not a regular file or block device");

	t_path(path, sizeof(path), "noperm.img");
	make_file(path, 4096, 1);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(want, sizeof(want), "%s: permission denied (opening read-write)",
	    path);
	if (geteuid() == 0) {
		open_as_nobody(path, msg, sizeof(msg));
		if (strcmp(msg, "setuid failed") == 0)
			print_message("skipped: cannot become nobody\n");
		else
			assert_string_equal(msg, want);
	} else {
		assert_int_equal(chmod(path, 0), 0);
		expect_open_error(path, false, -EACCES,
		    "permission denied (opening read-write)");
	}
	/* A bad engine choice fails precisely; a good one opens. */
	assert_int_equal(blk_open(path, &forced, &d, msg, sizeof(msg)), 0);
	assert_string_equal(blk_info(d)->bi_engine, "sync");
	blk_close(d);
	unlink(path);
	{
		enum blk_cache c;
		enum blk_engine e;

		assert_int_equal(blk_cache_parse("none", &c), 0);
		assert_int_equal(c, BLK_CACHE_NONE);
		assert_int_equal(blk_cache_parse("writeback", &c), 0);
		assert_int_equal(c, BLK_CACHE_WRITEBACK);
		assert_int_equal(blk_cache_parse("writethrough", &c), -EINVAL);
		assert_int_equal(blk_engine_parse("io_uring", &e), 0);
		assert_int_equal(e, BLK_ENGINE_URING);
		assert_int_equal(blk_engine_parse("libaio", &e), 0);
		assert_int_equal(blk_engine_parse("sync", &e), 0);
		assert_int_equal(blk_engine_parse("auto", &e), 0);
		assert_int_equal(blk_engine_parse("posix", &e), -EINVAL);
	}
}

/*
 * cache=none where the file system refuses O_DIRECT: buffered, with a note.
 * tmpfs refused it before Linux 6.6; ramfs still does.  A private mount
 * namespace holds the ramfs (root only; skipped otherwise).
 */
static void
t_direct_fallback(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	unsigned char wbuf[4096], rbuf[4096];
	struct blk_disk *d;
	bool mounted = false;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/dev/shm");
	snprintf(path, sizeof(path), "%s/hull-blk-%d.img", dir, (int)getpid());
	make_file(path, 65536, 0);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd >= 0) {
		/* tmpfs takes O_DIRECT on this kernel: use a ramfs. */
		close(fd);
		unlink(path);
		t_path(dir, sizeof(dir), "ramfs");
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mkdir(dir, 0755) != 0 ||
		    mount("hull-blk", dir, "ramfs", 0, NULL) != 0) {
			print_message("skipped: no file system here refuses "
			    "O_DIRECT (%s)\n", strerror(errno));
			rmdir(dir);
			skip();
		}
		mounted = true;
		snprintf(path, sizeof(path), "%s/x.img", dir);
		make_file(path, 65536, 0);
	}
	for (int e = BLK_ENGINE_AUTO; e <= BLK_ENGINE_SYNC; e++) {
		if (e != BLK_ENGINE_AUTO && !engine_ok((enum blk_engine)e))
			continue;
		d = open_ok(path, (enum blk_engine)e, BLK_CACHE_NONE, false, 0);
		assert_false(blk_info(d)->bi_direct);
		assert_int_equal(blk_info(d)->bi_lbs, 512);
		print_message("note: %s\n", blk_info(d)->bi_note);
		assert_non_null(strstr(blk_info(d)->bi_note,
		    "O_DIRECT refused by the file system (Invalid argument); "
		    "using buffered I/O"));
		for (size_t i = 0; i < sizeof(wbuf); i++)
			wbuf[i] = (unsigned char)(i * 7 + (size_t)e);
		assert_int_equal(do_rw(d, BLK_OP_WRITE, 1000, wbuf + 1, 3000),
		    3000);
		assert_int_equal(do_rw(d, BLK_OP_READ, 1000, rbuf, 3000), 3000);
		assert_memory_equal(rbuf, wbuf + 1, 3000);
		blk_close(d);
	}
	unlink(path);
	if (mounted) {
		umount2(dir, MNT_DETACH);
		rmdir(dir);
	}
}

/* tmpfs has holes but no ZERO_RANGE: write-zeroes falls back to a hole. */
static void
t_write_zeroes_tmpfs(void **state)
{
	char path[PATH_MAX];
	unsigned char buf[8192], zero[8192] = { 0 };
	struct stat st;

	(void)state;
	if (stat("/dev/shm", &st) != 0) {
		print_message("skipped: no /dev/shm\n");
		skip();
	}
	snprintf(path, sizeof(path), "/dev/shm/hull-blk-wz-%d.img", (int)getpid());
	for (int e = BLK_ENGINE_URING; e <= BLK_ENGINE_SYNC; e++) {
		struct blk_disk *d;

		if (!engine_ok((enum blk_engine)e))
			continue;
		make_file(path, 65536, 77);
		d = open_ok(path, (enum blk_engine)e, BLK_CACHE_WRITEBACK,
		    false, 0);
		assert_true(blk_info(d)->bi_write_zeroes);
		assert_int_equal(do_range(d, BLK_OP_WRITE_ZEROES, 4096 + 100,
		    8192), 0);
		assert_int_equal(do_range(d, BLK_OP_DISCARD, 30000, 5000), 0);
		assert_int_equal(do_rw(d, BLK_OP_READ, 4096 + 100, buf, 8192),
		    8192);
		assert_memory_equal(buf, zero, 8192);
		assert_int_equal(do_rw(d, BLK_OP_READ, 30000, buf, 5000), 5000);
		assert_memory_equal(buf, zero, 5000);
		assert_int_equal(do_rw(d, BLK_OP_READ, 4096 + 100 + 8192, buf,
		    1), 1);
		blk_close(d);
	}
	unlink(path);
}

/* A FLUSH completes after the writes submitted before it, in one batch. */
static void
t_flush_order(void **state)
{
	char path[PATH_MAX];
	enum { NW = 8, WLEN = 65536 };
	unsigned char *data;

	(void)state;
	t_path(path, sizeof(path), "flush.img");
	data = page_alloc(NW * WLEN);
	assert_non_null(data);
	for (int e = BLK_ENGINE_URING; e <= BLK_ENGINE_SYNC; e++) {
		for (int c = 0; c < 2; c++) {
			struct iovec iov[NW];
			struct blk_req reqs[NW + 1];
			struct blk_done done[NW + 1];
			struct blk_disk *d;
			unsigned char *f;
			uint64_t size, seed = (uint64_t)(e * 10 + c + 1);

			if (!engine_ok((enum blk_engine)e))
				continue;
			make_file(path, 1 << 20, 0);
			d = open_ok(path, (enum blk_engine)e, c ?
			    BLK_CACHE_NONE : BLK_CACHE_WRITEBACK, false, 0);
			for (size_t i = 0; i < NW * WLEN; i++)
				data[i] = (unsigned char)rnd_next(&seed);
			for (int i = 0; i < NW; i++) {
				iov[i] = (struct iovec){ data + i * WLEN, WLEN };
				reqs[i] = (struct blk_req){ .br_op = BLK_OP_WRITE,
				    .br_offset = (uint64_t)i * 2 * WLEN,
				    .br_iov = &iov[i], .br_niov = 1,
				    .br_tag = (uint32_t)i };
			}
			reqs[NW] = (struct blk_req){ .br_op = BLK_OP_FLUSH,
			    .br_tag = 100 };
			assert_int_equal(blk_submit(d, reqs, NW + 1), NW + 1);
			wait_done(d, done, NW + 1);
			for (int i = 0; i < NW; i++) {
				assert_true(done[i].bd_tag < NW);
				assert_int_equal(done[i].bd_result, WLEN);
			}
			assert_int_equal(done[NW].bd_tag, 100);
			assert_int_equal(done[NW].bd_result, 0);
			f = read_file(path, &size);
			for (int i = 0; i < NW; i++)
				assert_memory_equal(f + (size_t)i * 2 * WLEN,
				    data + (size_t)i * WLEN, WLEN);
			free(f);
			blk_close(d);
		}
	}
	free(data);
	unlink(path);
}

/* blk_drain returns with everything finished; blk_close with some pending. */
static void
t_drain(void **state)
{
	char path[PATH_MAX];
	enum { NR = 64, LEN = 65536 };
	unsigned char *data;

	(void)state;
	t_path(path, sizeof(path), "drain.img");
	make_file(path, NR * LEN, 0);
	data = page_alloc(NR * LEN);
	assert_non_null(data);
	memset(data, 0x5a, NR * LEN);
	for (int e = BLK_ENGINE_URING; e <= BLK_ENGINE_SYNC; e++) {
		struct iovec iov[NR];
		struct blk_req reqs[NR];
		struct blk_done done[NR + 1];
		struct blk_disk *d;

		if (!engine_ok((enum blk_engine)e))
			continue;
		d = open_ok(path, (enum blk_engine)e, BLK_CACHE_NONE, false, 0);
		for (int i = 0; i < NR; i++) {
			iov[i] = (struct iovec){ data + (size_t)i * LEN, LEN };
			reqs[i] = (struct blk_req){ .br_op = i % 2 ?
			    BLK_OP_READ : BLK_OP_WRITE,
			    .br_offset = (uint64_t)i * LEN, .br_iov = &iov[i],
			    .br_niov = 1, .br_tag = (uint32_t)i };
		}
		assert_int_equal(blk_submit(d, reqs, NR), NR);
		blk_drain(d);
		assert_int_equal(blk_inflight(d), NR);
		assert_true(efd_readable(d));
		/* Everything is finished: one non-blocking reap gets it all. */
		assert_int_equal(blk_reap(d, done, NR + 1), NR);
		for (int i = 0; i < NR; i++)
			assert_int_equal(done[i].bd_result, LEN);
		assert_int_equal(blk_inflight(d), 0);
		/* Close with requests in flight and unreaped. */
		assert_int_equal(blk_submit(d, reqs, NR), NR);
		blk_close(d);
	}
	free(data);
	unlink(path);
}

/* The event fd is readable exactly while completions wait. */
static void
t_event_fd(void **state)
{
	char path[PATH_MAX];
	unsigned char buf[2][512];

	(void)state;
	t_path(path, sizeof(path), "efd.img");
	make_file(path, 65536, 8);
	for (int e = BLK_ENGINE_URING; e <= BLK_ENGINE_SYNC; e++) {
		struct iovec iov[2] = { { buf[0], 512 }, { buf[1], 512 } };
		struct blk_req reqs[2] = {
			{ .br_op = BLK_OP_READ, .br_iov = &iov[0], .br_niov = 1, .br_tag = 1 },
			{ .br_op = BLK_OP_READ, .br_offset = 512, .br_iov = &iov[1], .br_niov = 1, .br_tag = 2 },
		};
		struct blk_done done[2];
		struct blk_disk *d;

		if (!engine_ok((enum blk_engine)e))
			continue;
		d = open_ok(path, (enum blk_engine)e, BLK_CACHE_WRITEBACK,
		    false, 0);
		assert_false(efd_readable(d));
		assert_int_equal(blk_reap(d, done, 2), 0);
		assert_int_equal(blk_submit(d, reqs, 2), 2);
		blk_drain(d);
		assert_true(efd_readable(d));
		/* Reaping one leaves one: still readable. */
		assert_int_equal(blk_reap(d, done, 1), 1);
		assert_true(efd_readable(d));
		assert_int_equal(blk_reap(d, done + 1, 1), 1);
		assert_int_equal(done[0].bd_tag + done[1].bd_tag, 3);
		/* An engine may signal once more for what was reaped; no more. */
		if (efd_readable(d))
			assert_int_equal(blk_reap(d, done, 2), 0);
		assert_false(efd_readable(d));
		blk_close(d);
	}
	unlink(path);
}

/*
 * The auto choice: io_uring where allowed, and the fallbacks when a seccomp
 * filter refuses io_uring_setup (and io_setup) with EPERM, in a child.
 */
static void
auto_with_denied(const char *path, bool deny_aio, char *out, size_t len)
{
	int p[2];
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			    offsetof(struct seccomp_data, arch)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			    offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 2, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_setup, 0, 2),
			BPF_STMT(BPF_RET | BPF_K, deny_aio ?
			    SECCOMP_RET_ERRNO | EPERM : SECCOMP_RET_ALLOW),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
		struct blk_opts forced = { .bo_engine = BLK_ENGINE_URING };
		struct blk_disk *d;
		char msg[600] = "", err[256] = "";

		close(p[0]);
		alarm(30);	/* a broken child must not hang the test */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
			snprintf(msg, sizeof(msg), "no seccomp");
		} else if (blk_open(path, NULL, &d, err, sizeof(err)) != 0) {
			snprintf(msg, sizeof(msg), "error %s", err);
		} else {
			int rc;

			snprintf(msg, sizeof(msg), "%s|%s|", blk_info(d)->bi_engine,
			    blk_info(d)->bi_note);
			blk_close(d);
			rc = blk_open(path, &forced, &d, err, sizeof(err));
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			    "%d|%s", rc, err);
		}
		(void)!write(p[1], msg, strlen(msg));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void
t_auto_engine(void **state)
{
	char path[PATH_MAX], msg[600], want[PATH_MAX + 300];
	struct blk_disk *d;

	(void)state;
	t_path(path, sizeof(path), "auto.img");
	make_file(path, 65536, 4);
	d = open_ok(path, BLK_ENGINE_AUTO, BLK_CACHE_WRITEBACK, false, 0);
	print_message("auto: %s\n", blk_info(d)->bi_engine);
	assert_string_equal(blk_info(d)->bi_engine,
	    engine_ok(BLK_ENGINE_URING) ? "io_uring" :
	    engine_ok(BLK_ENGINE_AIO) ? "libaio" : "sync");
	blk_close(d);
#if defined(__x86_64__)
	auto_with_denied(path, false, msg, sizeof(msg));
	if (strcmp(msg, "no seccomp") == 0) {
		print_message("skipped: no seccomp filter here\n");
		unlink(path);
		skip();
	}
	snprintf(want, sizeof(want), "libaio|io_uring unavailable (Operation "
	    "not permitted)|-1|%s: io_uring unavailable: Operation not "
	    "permitted", path);
	assert_string_equal(msg, want);
	auto_with_denied(path, true, msg, sizeof(msg));
	snprintf(want, sizeof(want), "sync|io_uring unavailable (Operation "
	    "not permitted); libaio unavailable (Operation not permitted)|-1|"
	    "%s: io_uring unavailable: Operation not permitted", path);
	assert_string_equal(msg, want);
#endif
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_open_errors),
		cmocka_unit_test(t_readback),
		cmocka_unit_test_prestate(t_differential,
		    (void *)(uintptr_t)BLK_CACHE_NONE),
		cmocka_unit_test_prestate(t_differential,
		    (void *)(uintptr_t)BLK_CACHE_WRITEBACK),
		cmocka_unit_test(t_bounds),
		cmocka_unit_test(t_readonly),
		cmocka_unit_test(t_depth),
		cmocka_unit_test(t_flush_order),
		cmocka_unit_test(t_drain),
		cmocka_unit_test(t_event_fd),
		cmocka_unit_test(t_write_zeroes_tmpfs),
		cmocka_unit_test(t_auto_engine),
		cmocka_unit_test(t_direct_fallback),	/* last: unshares */
	};

	return cmocka_run_group_tests_name("blk", tests, group_setup,
	    group_teardown);
}
