/*
 * The volume library against a flat reference image: random writes,
 * discards, commits, snapshots, clones, rollbacks, snapshot destroys and
 * pool reopens from fixed seeds, compared after every step; plus the
 * contract's edges (names, sizes, ranges, busy datasets, space figures)
 * and bad input (a file that is not a pool).
 */
#include <errno.h>
#include <fcntl.h>

#include "vol_testutil.h"

#define PSIZE	(4u << 20)	/* volume size in the property test */
#define NSNAP	6

struct model {
	struct vol_pool	*p;
	struct vol	*v;
	unsigned char	*ref;
	unsigned char	*snap[NSNAP];	/* reference per live snapshot, or NULL */
	int		 nsnaps;	/* taken so far (names s0, s1, ...) */
	int		 clone_of;	/* snapshot the clone came from, -1 none */
	struct vol	*c;
	unsigned char	*cref;
};

static void
reopen(struct model *m, const char *file)
{
	vol_close(m->v);
	if (m->c)
		vol_close(m->c);
	VT_OK(vol_pool_close(m->p));
	VT_OK(vol_pool_open(vt_path(file), 0, &m->p, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(m->p, "v", &m->v, vt_err, sizeof(vt_err)));
	if (m->c)
		VT_OK(vol_open(m->p, "c", &m->c, vt_err, sizeof(vt_err)));
}

static void
check_snapshots(struct model *m)
{
	char name[16];
	int i;

	for (i = 0; i < m->nsnaps; i++) {
		struct vol *s;

		if (!m->snap[i])
			continue;
		snprintf(name, sizeof(name), "v@s%d", i);
		VT_OK(vol_open(m->p, name, &s, vt_err, sizeof(vt_err)));
		assert_true(vol_readonly(s));
		vt_same(s, m->snap[i], PSIZE, name);
		vol_close(s);
	}
}

static int
newest_snap(struct model *m)
{
	int i;

	for (i = m->nsnaps - 1; i >= 0; i--)
		if (m->snap[i])
			return i;
	return -1;
}

static void
property_run(uint64_t seed, const struct vol_props *pr)
{
	struct model m = { .clone_of = -1 };
	unsigned char *buf = malloc(PSIZE);
	char name[32];
	uint64_t s = seed;
	int step, i;

	assert_non_null(buf);
	m.p = vt_pool("prop.pool", 128);
	m.ref = calloc(1, PSIZE);
	VT_OK(vol_create(m.p, "v", PSIZE, pr, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(m.p, "v", &m.v, vt_err, sizeof(vt_err)));
	for (step = 0; step < 160; step++) {
		unsigned int op = (unsigned int)(vt_rand(&s) % 100);
		uint64_t off = vt_rand(&s) % PSIZE;
		uint64_t len = 1 + vt_rand(&s) % (3 * 65536);

		if (off + len > PSIZE)
			len = PSIZE - off;
		if (getenv("VT_TRACE"))
			fprintf(stderr, "step %d op %u off %llu len %llu clone %d nsnaps %d\n",
			    step, op, (unsigned long long)off, (unsigned long long)len,
			    m.c != NULL, m.nsnaps);
		if (op < 45) {
			vt_fill(&s, buf, len);
			VT_OK(vol_pwrite(m.v, buf, len, off));
			memcpy(m.ref + off, buf, len);
		} else if (op < 55) {
			VT_OK(vol_discard(m.v, off, len));
			memset(m.ref + off, 0, len);
		} else if (op < 62) {
			VT_OK(vol_pool_sync(m.p));
		} else if (op < 70 && m.nsnaps < NSNAP) {
			snprintf(name, sizeof(name), "v@s%d", m.nsnaps);
			VT_OK(vol_snapshot(m.p, name, vt_err, sizeof(vt_err)));
			m.snap[m.nsnaps] = malloc(PSIZE);
			memcpy(m.snap[m.nsnaps], m.ref, PSIZE);
			m.nsnaps++;
		} else if (op < 75 && !m.c && newest_snap(&m) >= 0) {
			/* A clone of a random live snapshot, written on its own. */
			for (i = (int)(vt_rand(&s) % (uint64_t)m.nsnaps); !m.snap[i];
			    i = (i + 1) % m.nsnaps)
				;
			snprintf(name, sizeof(name), "v@s%d", i);
			VT_OK(vol_clone(m.p, name, "c", vt_err, sizeof(vt_err)));
			VT_OK(vol_open(m.p, "c", &m.c, vt_err, sizeof(vt_err)));
			m.clone_of = i;
			m.cref = malloc(PSIZE);
			memcpy(m.cref, m.snap[i], PSIZE);
			vt_fill(&s, buf, 9000);
			VT_OK(vol_pwrite(m.c, buf, 9000, off % (PSIZE - 9000)));
			memcpy(m.cref + off % (PSIZE - 9000), buf, 9000);
		} else if (op < 80 && (i = newest_snap(&m)) >= 0) {
			/* Roll back to the newest snapshot. */
			vol_close(m.v);
			snprintf(name, sizeof(name), "v@s%d", i);
			VT_OK(vol_rollback(m.p, name, false, vt_err, sizeof(vt_err)));
			VT_OK(vol_open(m.p, "v", &m.v, vt_err, sizeof(vt_err)));
			memcpy(m.ref, m.snap[i], PSIZE);
		} else if (op < 86 && m.nsnaps > 0) {
			/* Destroy a random snapshot; refused while the clone needs it. */
			i = (int)(vt_rand(&s) % (uint64_t)m.nsnaps);
			if (!m.snap[i])
				continue;
			snprintf(name, sizeof(name), "v@s%d", i);
			if (i == m.clone_of) {
				assert_int_equal(vol_destroy(m.p, name, false, vt_err,
				    sizeof(vt_err)), -EBUSY);
				assert_non_null(strstr(vt_err, "clones"));
			} else {
				VT_OK(vol_destroy(m.p, name, false, vt_err, sizeof(vt_err)));
				free(m.snap[i]);
				m.snap[i] = NULL;
			}
		} else if (op < 90 && m.c) {
			vol_close(m.c);
			m.c = NULL;
			VT_OK(vol_destroy(m.p, "c", false, vt_err, sizeof(vt_err)));
			free(m.cref);
			m.cref = NULL;
			m.clone_of = -1;
		} else if (op < 95) {
			reopen(&m, "prop.pool");
		} else {
			/* Nothing written after the last commit is guaranteed: a
			 * sync makes the reopen below a check of durability. */
			VT_OK(vol_pool_sync(m.p));
			reopen(&m, "prop.pool");
		}
		vt_same(m.v, m.ref, PSIZE, "volume");
		if (m.c)
			vt_same(m.c, m.cref, PSIZE, "clone");
		if (step % 20 == 19)
			check_snapshots(&m);
	}
	check_snapshots(&m);
	{
		struct vol_scrub_result r;

		vol_close(m.v);
		if (m.c)
			vol_close(m.c);
		VT_OK(vol_scrub(m.p, NULL, NULL, NULL, &r, vt_err, sizeof(vt_err)));
		assert_int_equal(r.sr_errors, 0);
		VT_OK(vol_pool_close(m.p));
	}
	for (i = 0; i < NSNAP; i++)
		free(m.snap[i]);
	free(m.cref);
	free(m.ref);
	free(buf);
}

static void
test_property_16k(void **state)
{
	struct vol_props pr = { .vp_bsize = 16384 };

	(void)state;
	property_run(1, &pr);
	property_run(2, &pr);
}

static void
test_property_4k_lz4(void **state)
{
	struct vol_props pr = { .vp_bsize = 4096, .vp_compress = VOL_COMPRESS_LZ4 };

	(void)state;
	property_run(3, &pr);
}

static void
test_property_zstd_copies2(void **state)
{
	struct vol_props pr = { .vp_bsize = 8192, .vp_compress = VOL_COMPRESS_ZSTD,
	    .vp_copies = 2 };

	(void)state;
	property_run(4, &pr);
}

static void
test_bad_input(void **state)
{
	struct vol_pool *p;
	struct vol *v;
	struct vol_props bad = { .vp_bsize = 3000 };
	struct vol_info *vi;
	size_t n;
	unsigned char b[512];
	int fd;

	(void)state;
	p = vt_pool("bad.pool", 64);
	VT_OK(vol_create(p, "v", 1 << 20, NULL, vt_err, sizeof(vt_err)));
	assert_int_equal(vol_create(p, "v", 1 << 20, NULL, vt_err, sizeof(vt_err)), -EEXIST);
	assert_int_equal(vol_create(p, "-x", 1 << 20, NULL, vt_err, sizeof(vt_err)), -EINVAL);
	assert_int_equal(vol_create(p, "a/b", 1 << 20, NULL, vt_err, sizeof(vt_err)), -EINVAL);
	assert_int_equal(vol_create(p, "w", 1000, NULL, vt_err, sizeof(vt_err)), -EINVAL);
	assert_non_null(strstr(vt_err, "multiple of 512"));
	assert_int_equal(vol_create(p, "w", 1ull << 40, NULL, vt_err, sizeof(vt_err)), -EFBIG);
	assert_non_null(strstr(vt_err, "does not fit"));
	assert_int_equal(vol_create(p, "w", 1 << 20, &bad, vt_err, sizeof(vt_err)), -EINVAL);
	assert_int_equal(vol_open(p, "nope", &v, vt_err, sizeof(vt_err)), -ENOENT);
	assert_non_null(strstr(vt_err, "t/nope: no such volume"));
	assert_int_equal(vol_snapshot(p, "nope@s", vt_err, sizeof(vt_err)), -ENOENT);
	assert_int_equal(vol_clone(p, "v@nope", "c", vt_err, sizeof(vt_err)), -ENOENT);
	/* Nothing of that changed the pool. */
	VT_OK(vol_list(p, &vi, &n, vt_err, sizeof(vt_err)));
	assert_int_equal(n, 1);
	assert_string_equal(vi[0].vi_name, "v");
	free(vi);
	/* Out of range I/O; a volume is open in one place at a time. */
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	assert_int_equal(vol_pread(v, b, 512, (1 << 20) - 511), -EINVAL);
	assert_int_equal(vol_pwrite(v, b, 512, UINT64_MAX - 10), -EINVAL);
	assert_int_equal(vol_discard(v, 1 << 20, 1), -EINVAL);
	{
		struct vol_pool *p2;
		struct vol *v2;

		VT_OK(vol_pool_open(vt_path("bad.pool"), 0, &p2, vt_err, sizeof(vt_err)));
		assert_int_equal(vol_open(p2, "v", &v2, vt_err, sizeof(vt_err)), -EBUSY);
		assert_int_equal(vol_destroy(p2, "v", true, vt_err, sizeof(vt_err)), -EBUSY);
		assert_non_null(strstr(vt_err, "in use"));
		VT_OK(vol_pool_close(p2));
	}
	vol_close(v);
	VT_OK(vol_snapshot(p, "v@a", vt_err, sizeof(vt_err)));
	assert_int_equal(vol_destroy(p, "v", false, vt_err, sizeof(vt_err)), -EBUSY);
	assert_non_null(strstr(vt_err, "snapshot"));
	VT_OK(vol_pool_close(p));

	/* Files that are not pools. */
	fd = open(vt_path("junk"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	memset(b, 0x5a, sizeof(b));
	for (int i = 0; i < 200; i++)
		assert_int_equal(write(fd, b, sizeof(b)), (ssize_t)sizeof(b));
	close(fd);
	assert_true(vol_pool_open(vt_path("junk"), 0, &p, vt_err, sizeof(vt_err)) < 0);
	assert_non_null(strstr(vt_err, "not a pool"));
	fd = open(vt_path("empty"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	close(fd);
	assert_true(vol_pool_open(vt_path("empty"), 0, &p, vt_err, sizeof(vt_err)) < 0);
	assert_non_null(strstr(vt_err, "not a pool"));
	assert_true(vol_pool_open(vt_path("missing"), 0, &p, vt_err, sizeof(vt_err)) < 0);
	assert_non_null(strstr(vt_err, "no such file"));
	/* pool-create refuses a file with something in it, and leaves it be. */
	assert_int_equal(vol_pool_create(vt_path("junk"), "x", 64 << 20, vt_err,
	    sizeof(vt_err)), -EEXIST);
	assert_true(access(vt_path("junk"), F_OK) == 0);
}

static void
test_space(void **state)
{
	struct vol_props pr = { .vp_compress = VOL_COMPRESS_LZ4 };
	struct vol_pool *p;
	struct vol *v;
	struct vol_info *vi;
	unsigned char *b = malloc(1 << 20);
	size_t n, i;

	(void)state;
	p = vt_pool("space.pool", 128);
	VT_OK(vol_create(p, "v", 8 << 20, &pr, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	memset(b, 'x', 1 << 20);		/* compresses well */
	VT_OK(vol_pwrite(v, b, 1 << 20, 0));
	for (i = 0; i < (1 << 20); i++)
		b[i] = (unsigned char)(i * 2654435761u >> 13);
	VT_OK(vol_pwrite(v, b, 1 << 20, 4 << 20));
	vol_close(v);
	VT_OK(vol_snapshot(p, "v@a", vt_err, sizeof(vt_err)));
	VT_OK(vol_clone(p, "v@a", "c", vt_err, sizeof(vt_err)));
	VT_OK(vol_list(p, &vi, &n, vt_err, sizeof(vt_err)));
	assert_int_equal(n, 3);
	/* By name, a volume before its snapshots: c, v, v@a. */
	assert_string_equal(vi[0].vi_name, "c");
	assert_string_equal(vi[1].vi_name, "v");
	assert_string_equal(vi[2].vi_name, "v@a");
	assert_string_equal(vi[0].vi_origin, "v@a");
	assert_true(vi[1].vi_referenced > 64 * 1024);
	assert_true(vi[1].vi_logical == 2u << 20);
	assert_true(vi[1].vi_physical < vi[1].vi_logical);	/* lz4 helped */
	assert_int_equal(vi[0].vi_used, 0);			/* a clone shares all */
	assert_int_equal(vi[0].vi_referenced, vi[2].vi_referenced);
	assert_true(vi[2].vi_used == 0);			/* v still has it all */
	free(vi);
	/* Overwrite in v: the snapshot now owns the old blocks. */
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	VT_OK(vol_discard(v, 0, 8 << 20));
	vol_close(v);
	VT_OK(vol_list(p, &vi, &n, vt_err, sizeof(vt_err)));
	assert_true(vi[1].vi_referenced < 64 * 1024);
	assert_true(vi[2].vi_used > 64 * 1024);
	free(vi);
	VT_OK(vol_pool_close(p));
	free(b);
}

/* Two handles on one pool (as two processes): both write and commit. */
static void
test_two_writers(void **state)
{
	struct vol_pool *a = vt_pool("two.pool", 128), *b;
	struct vol *va, *vb;
	unsigned char *ra = malloc(2 << 20), *rb = malloc(2 << 20), *buf = malloc(65536);
	uint64_t s = 99;
	int i;

	(void)state;
	VT_OK(vol_create(a, "a", 2 << 20, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_create(a, "b", 2 << 20, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_pool_open(vt_path("two.pool"), 0, &b, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(a, "a", &va, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(b, "b", &vb, vt_err, sizeof(vt_err)));
	memset(ra, 0, 2 << 20);
	memset(rb, 0, 2 << 20);
	for (i = 0; i < 200; i++) {
		uint64_t off = vt_rand(&s) % ((2 << 20) - 65536);

		vt_fill(&s, buf, 65536);
		if (i & 1) {
			VT_OK(vol_pwrite(va, buf, 65536, off));
			memcpy(ra + off, buf, 65536);
			if (i % 7 == 0)
				VT_OK(vol_pool_sync(a));
		} else {
			VT_OK(vol_pwrite(vb, buf, 65536, off));
			memcpy(rb + off, buf, 65536);
			if (i % 5 == 0)
				VT_OK(vol_pool_sync(b));
		}
		if (i == 100)
			VT_OK(vol_snapshot(b, "a@mid", vt_err, sizeof(vt_err)));
	}
	vol_close(va);
	vol_close(vb);
	VT_OK(vol_pool_close(a));
	VT_OK(vol_pool_close(b));
	VT_OK(vol_pool_open(vt_path("two.pool"), 0, &a, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(a, "a", &va, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(a, "b", &vb, vt_err, sizeof(vt_err)));
	vt_same(va, ra, 2 << 20, "a");
	vt_same(vb, rb, 2 << 20, "b");
	vol_close(va);
	vol_close(vb);
	{
		struct vol_scrub_result r;

		VT_OK(vol_scrub(a, NULL, NULL, NULL, &r, vt_err, sizeof(vt_err)));
		assert_int_equal(r.sr_errors, 0);
	}
	VT_OK(vol_pool_close(a));
	free(ra);
	free(rb);
	free(buf);
}

static void
test_resize(void **state)
{
	struct vol_pool *p = vt_pool("resize.pool", 64);
	struct vol *v;
	unsigned char b[8192], z[8192];

	(void)state;
	VT_OK(vol_create(p, "v", 1 << 20, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	memset(b, 0xab, sizeof(b));
	VT_OK(vol_pwrite(v, b, sizeof(b), (1 << 20) - sizeof(b)));
	vol_close(v);
	VT_OK(vol_resize(p, "v", 512 * 1024, vt_err, sizeof(vt_err)));
	VT_OK(vol_resize(p, "v", 2 << 20, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	assert_int_equal(vol_size(v), 2 << 20);
	memset(z, 0, sizeof(z));
	assert_int_equal(vol_pread(v, b, sizeof(b), (1 << 20) - sizeof(b)), 0);
	assert_memory_equal(b, z, sizeof(b));		/* the old tail is gone */
	vol_close(v);
	assert_int_equal(vol_resize(p, "v", 1000, vt_err, sizeof(vt_err)), -EINVAL);
	VT_OK(vol_pool_close(p));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_property_16k),
		cmocka_unit_test(test_property_4k_lz4),
		cmocka_unit_test(test_property_zstd_copies2),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_space),
		cmocka_unit_test(test_two_writers),
		cmocka_unit_test(test_resize),
	};
	int rc;

	vt_setup_dir();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	vt_remove_dir();
	return rc;
}
