/*
 * What the volume format promises when things go wrong:
 *  - crashes: a power cut after every possible write (the library's
 *    drop-writes hook) and SIGKILL during writes; the pool always opens,
 *    at exactly the last commit that finished, and scrubs clean;
 *  - corruption: bytes flipped in the pool make the reads they touch fail
 *    with EIO, never return wrong data, and scrub names them; with
 *    copies=2 scrub repairs them;
 *  - streams: send | receive round trips (full and incremental) give
 *    identical volumes; a cut or altered stream changes nothing.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>

#include "vol_testutil.h"

#define CSIZE		(512u * 1024)	/* the crash scenario's volume */
#define CSYNCS		6

/*
 * The crash scenario: from a fixed seed, CSYNCS rounds of writes and a
 * discard, each ended by a commit.  states[k] is the volume after commit
 * k (states[0]: all zeros), writes[k] the pool's write count then.
 */
static void
scenario(struct vol_pool *p, struct vol *v, unsigned char states[][CSIZE],
    long *writes, bool check)
{
	unsigned char *ref = calloc(1, CSIZE), buf[40000];
	uint64_t s = 7;
	int k, i, rc;

	for (k = 1; k <= CSYNCS; k++) {
		for (i = 0; i < 5; i++) {
			uint64_t off = vt_rand(&s) % (CSIZE - sizeof(buf));
			size_t len = 1 + vt_rand(&s) % sizeof(buf);

			vt_fill(&s, buf, len);
			rc = vol_pwrite(v, buf, len, off);
			if (check)
				assert_int_equal(rc, 0);
			memcpy(ref + off, buf, len);
		}
		{
			uint64_t doff = (vt_rand(&s) % 64) * 4096;

			rc = vol_discard(v, doff, 20000);
			if (check)
				assert_int_equal(rc, 0);
			memset(ref + doff, 0, 20000);
		}
		rc = vol_pool_sync(p);
		if (check)
			assert_int_equal(rc, 0);
		if (states)
			memcpy(states[k], ref, CSIZE);
		if (writes)
			writes[k] = vol_test_drop_writes_after(p, -1);
	}
	free(ref);
}

static void
test_power_cut_everywhere(void **state)
{
	static unsigned char states[CSYNCS + 1][CSIZE];
	long writes[CSYNCS + 1], base, n, total;
	struct vol_pool *p;
	struct vol *v;
	int k, tried = 0;

	(void)state;
	/* A dry run learns the states and the write count at each commit. */
	p = vt_pool("crash.pool", 64);
	VT_OK(vol_create(p, "v", CSIZE, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	memset(states[0], 0, CSIZE);
	writes[0] = base = vol_test_drop_writes_after(p, -1);
	scenario(p, v, states, writes, true);
	total = writes[CSYNCS] - base;
	vol_close(v);
	VT_OK(vol_pool_close(p));
	for (n = 0; n <= total; n += 1 + total / 150, tried++) {
		struct vol_scrub_result r;
		int want = 0;

		p = vt_pool("crash.pool", 64);
		VT_OK(vol_create(p, "v", CSIZE, NULL, vt_err, sizeof(vt_err)));
		VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
		base = vol_test_drop_writes_after(p, n);
		scenario(p, v, NULL, NULL, false);
		vol_close(v);
		vol_pool_close(p);	/* its writes are lost too */
		for (k = 0; k <= CSYNCS; k++)
			if (writes[k] - writes[0] <= n)
				want = k;
		/* Power back: the pool opens at the last commit that finished. */
		if (vol_pool_open(vt_path("crash.pool"), 0, &p, vt_err, sizeof(vt_err)) < 0)
			fail_msg("cut after write %ld of %ld: pool does not open: %s", n,
			    total, vt_err);
		VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
		if (want < CSYNCS) {
			unsigned char *got = malloc(CSIZE);

			assert_int_equal(vol_pread(v, got, CSIZE, 0), 0);
			if (memcmp(got, states[want], CSIZE) != 0) {
				for (k = 0; k <= CSYNCS && memcmp(got, states[k], CSIZE); k++)
					;
				fail_msg("cut after write %ld: not the state of commit %d "
				    "(it is %d; %d means none)", n, want, k, CSYNCS + 1);
			}
			free(got);
		} else {
			vt_same(v, states[CSYNCS], CSIZE, "after the last commit");
		}
		vol_close(v);
		VT_OK(vol_scrub(p, NULL, NULL, NULL, &r, vt_err, sizeof(vt_err)));
		assert_int_equal(r.sr_errors, 0);
		VT_OK(vol_pool_close(p));
		(void)base;
	}
	assert_true(tried > 50);
}

/* A child writes and commits; its parent kills it at a random moment. */
static void
test_sigkill(void **state)
{
	int round;
	uint64_t s = 4242;

	(void)state;
	for (round = 0; round < 6; round++) {
		enum { N = 40, SZ = 256 * 1024 };
		static unsigned char states[N + 1][SZ];
		unsigned char buf[20000];
		struct vol_pool *p = vt_pool("kill.pool", 64);
		struct vol *v;
		uint64_t cs = 1000 + (uint64_t)round;
		int pfd[2], status, k, last = 0, stop_at;
		pid_t pid;

		VT_OK(vol_create(p, "v", SZ, NULL, vt_err, sizeof(vt_err)));
		VT_OK(vol_pool_close(p));
		/* The states, computed here from the child's seed. */
		memset(states[0], 0, SZ);
		for (k = 1; k <= N; k++) {
			uint64_t off = vt_rand(&cs) % (SZ - sizeof(buf));

			memcpy(states[k], states[k - 1], SZ);
			vt_fill(&cs, buf, sizeof(buf));
			memcpy(states[k] + off, buf, sizeof(buf));
		}
		cs = 1000 + (uint64_t)round;
		assert_int_equal(pipe(pfd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			if (vol_pool_open(vt_path("kill.pool"), 0, &p, vt_err, sizeof(vt_err)) < 0 ||
			    vol_open(p, "v", &v, vt_err, sizeof(vt_err)) < 0)
				_exit(2);
			for (k = 1; k <= N; k++) {
				uint64_t off = vt_rand(&cs) % (SZ - sizeof(buf));

				vt_fill(&cs, buf, sizeof(buf));
				if (vol_pwrite(v, buf, sizeof(buf), off) < 0 ||
				    vol_pool_sync(p) < 0)
					_exit(3);
				if (write(pfd[1], &k, sizeof(k)) != sizeof(k))
					_exit(4);
			}
			pause();
			_exit(0);
		}
		close(pfd[1]);
		stop_at = 1 + (int)(vt_rand(&s) % (N - 1));
		while (last < stop_at && read(pfd[0], &k, sizeof(k)) == sizeof(k))
			last = k;
		usleep((useconds_t)(vt_rand(&s) % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		while (read(pfd[0], &k, sizeof(k)) == sizeof(k))
			last = k;
		close(pfd[0]);
		assert_true(WIFSIGNALED(status));
		VT_OK(vol_pool_open(vt_path("kill.pool"), 0, &p, vt_err, sizeof(vt_err)));
		VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
		{
			unsigned char *got = malloc(SZ);

			assert_int_equal(vol_pread(v, got, SZ, 0), 0);
			for (k = last; k <= N && memcmp(got, states[k], SZ); k++)
				;
			if (k > N)
				fail_msg("round %d: killed after commit %d: the volume is "
				    "no commit's state from %d on", round, last, last);
			free(got);
		}
		vol_close(v);
		{
			struct vol_scrub_result r;

			VT_OK(vol_scrub(p, NULL, NULL, NULL, &r, vt_err, sizeof(vt_err)));
			assert_int_equal(r.sr_errors, 0);
		}
		VT_OK(vol_pool_close(p));
	}
}

static void
flip(const char *file, uint64_t off)
{
	int fd = open(vt_path(file), O_RDWR);
	unsigned char c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x41;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* Offsets past the first MiB (the data area) that hold something. */
static size_t
used_offsets(const char *file, uint64_t *out, size_t max, uint64_t stride)
{
	int fd = open(vt_path(file), O_RDONLY);
	unsigned char b[4096];
	uint64_t off;
	size_t n = 0;
	off_t end = lseek(fd, 0, SEEK_END);

	for (off = 1 << 20; off + sizeof(b) <= (uint64_t)end && n < max; off += sizeof(b)) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA);

		if (d < 0)
			break;
		if ((uint64_t)d > off)
			off = (uint64_t)d & ~4095ull;
		if (pread(fd, b, sizeof(b), (off_t)off) != (ssize_t)sizeof(b))
			break;
		for (size_t i = 0; i < sizeof(b); i += 512)
			if (b[i] || b[i + 1] || b[i + 7]) {
				out[n++] = off + i + 1;
				off += stride;
				break;
			}
	}
	close(fd);
	return n;
}

static void
corrupt_run(unsigned int copies)
{
	struct vol_props pr = { .vp_bsize = 8192, .vp_copies = copies };
	enum { SZ = 1 << 20 };
	unsigned char *ref = malloc(SZ), *got = malloc(SZ);
	uint64_t offs[64], s = 31;
	struct vol_pool *p = vt_pool("bad.pool", 64);
	struct vol *v;
	size_t n, i, hits = 0;

	vt_fill(&s, ref, SZ);
	for (i = 0; i < SZ; i++)
		ref[i] = (unsigned char)vt_rand(&s);
	VT_OK(vol_create(p, "v", SZ, &pr, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	VT_OK(vol_pwrite(v, ref, SZ, 0));
	vol_close(v);
	VT_OK(vol_pool_close(p));
	n = used_offsets("bad.pool", offs, 64, 9 * 4096);
	assert_true(n > 20);
	for (i = 0; i < n; i++) {
		struct vol_scrub_result r;
		size_t off, eio = 0;

		flip("bad.pool", offs[i]);
		if (vol_pool_open(vt_path("bad.pool"), 0, &p, vt_err, sizeof(vt_err)) < 0)
			fail_msg("flip at %llu: pool does not open: %s",
			    (unsigned long long)offs[i], vt_err);
		VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
		for (off = 0; off < SZ; off += 4096) {
			int rc = vol_pread(v, got, 4096, off);

			if (rc == -EIO) {
				eio++;
				continue;
			}
			assert_int_equal(rc, 0);
			if (memcmp(got, ref + off, 4096) != 0)
				fail_msg("flip at %llu: offset %zu: wrong data returned",
				    (unsigned long long)offs[i], off);
		}
		vol_close(v);
		VT_OK(vol_scrub(p, NULL, NULL, NULL, &r, vt_err, sizeof(vt_err)));
		if (copies == 1) {
			if (eio)
				assert_true(r.sr_errors > 0);
			hits += eio > 0;
		} else {
			/* Every read worked from the twin; scrub puts the copy back. */
			assert_int_equal(eio, 0);
			assert_int_equal(r.sr_errors, 0);
			hits += r.sr_repaired > 0;
			VT_OK(vol_scrub(p, NULL, NULL, NULL, &r, vt_err, sizeof(vt_err)));
			assert_int_equal(r.sr_errors + r.sr_repaired, 0);
		}
		VT_OK(vol_pool_close(p));
		if (copies == 1)
			flip("bad.pool", offs[i]);	/* back as it was */
	}
	/* Most flips land in live blocks (some in the old directory). */
	assert_true(hits > n / 2);
	free(ref);
	free(got);
}

static void
test_corruption_eio(void **state)
{
	(void)state;
	corrupt_run(1);
}

static void
test_corruption_repair(void **state)
{
	(void)state;
	corrupt_run(2);
}

static void
test_labels_and_ring(void **state)
{
	struct vol_pool *p = vt_pool("lab.pool", 64);
	int i;

	(void)state;
	VT_OK(vol_create(p, "v", 1 << 20, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_pool_close(p));
	/* One label copy damaged: the other opens the pool. */
	flip("lab.pool", 20);
	VT_OK(vol_pool_open(vt_path("lab.pool"), 0, &p, vt_err, sizeof(vt_err)));
	VT_OK(vol_pool_close(p));
	/* Both: not a pool. */
	flip("lab.pool", 4096 + 20);
	assert_true(vol_pool_open(vt_path("lab.pool"), 0, &p, vt_err, sizeof(vt_err)) < 0);
	assert_non_null(strstr(vt_err, "not a pool"));
	flip("lab.pool", 20);
	flip("lab.pool", 4096 + 20);
	/* Every uberblock damaged: a clear error, not a crash. */
	for (i = 0; i < 128; i++)
		flip("lab.pool", 8192 + (uint64_t)i * 1024 + 30);
	assert_true(vol_pool_open(vt_path("lab.pool"), 0, &p, vt_err, sizeof(vt_err)) < 0);
	assert_non_null(strstr(vt_err, "uberblock"));
}

static int
stream_file(const char *name)
{
	int fd = open(vt_path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	return fd;
}

static void
list_sig(struct vol_pool *p, char *out, size_t len)
{
	struct vol_info *vi;
	size_t n, i, used = 0;

	VT_OK(vol_list(p, &vi, &n, vt_err, sizeof(vt_err)));
	out[0] = 0;
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, len - used, "%s:%llu;", vi[i].vi_name,
		    (unsigned long long)vi[i].vi_size);
	free(vi);
}

static void
test_send_receive(void **state)
{
	enum { SZ = 2 << 20 };
	unsigned char *a = calloc(1, SZ), *b, buf[50000];
	struct vol_pool *p = vt_pool("send.pool", 128), *q = vt_pool("recv.pool", 128);
	struct vol *v;
	char before[4096], after[4096];
	uint64_t s = 5;
	off_t full_len, incr_len, cut;
	int fd, fi, i, bad = 0;

	(void)state;
	VT_OK(vol_create(p, "v", SZ, &(struct vol_props){ .vp_compress = VOL_COMPRESS_LZ4 },
	    vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	for (i = 0; i < 30; i++) {
		uint64_t off = vt_rand(&s) % (SZ - sizeof(buf));

		vt_fill(&s, buf, sizeof(buf));
		VT_OK(vol_pwrite(v, buf, sizeof(buf), off));
		memcpy(a + off, buf, sizeof(buf));
	}
	vol_close(v);
	VT_OK(vol_snapshot(p, "v@a", vt_err, sizeof(vt_err)));
	b = malloc(SZ);
	memcpy(b, a, SZ);
	VT_OK(vol_open(p, "v", &v, vt_err, sizeof(vt_err)));
	for (i = 0; i < 10; i++) {
		uint64_t off = vt_rand(&s) % (SZ - sizeof(buf));

		vt_fill(&s, buf, sizeof(buf));
		VT_OK(vol_pwrite(v, buf, sizeof(buf), off));
		memcpy(b + off, buf, sizeof(buf));
	}
	VT_OK(vol_discard(v, 65536, 300000));
	memset(b + 65536, 0, 300000);
	vol_close(v);
	VT_OK(vol_snapshot(p, "v@b", vt_err, sizeof(vt_err)));

	/* Full, into another pool and into the same pool. */
	fd = stream_file("full");
	VT_OK(vol_send(p, "v@a", NULL, fd, NULL, NULL, vt_err, sizeof(vt_err)));
	full_len = lseek(fd, 0, SEEK_END);
	lseek(fd, 0, SEEK_SET);
	VT_OK(vol_receive(q, "r", fd, false, NULL, NULL, vt_err, sizeof(vt_err)));
	lseek(fd, 0, SEEK_SET);
	VT_OK(vol_receive(p, "copy", fd, false, NULL, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(q, "r", &v, vt_err, sizeof(vt_err)));
	vt_same(v, a, SZ, "full receive");
	vol_close(v);
	VT_OK(vol_open(p, "copy@a", &v, vt_err, sizeof(vt_err)));
	vt_same(v, a, SZ, "full receive, same pool");
	vol_close(v);
	/* A full stream into an existing name is refused. */
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(vol_receive(q, "r", fd, false, NULL, NULL, vt_err,
	    sizeof(vt_err)), -EEXIST);

	/* Incremental a -> b. */
	fi = stream_file("incr");
	VT_OK(vol_send(p, "v@b", "@a", fi, NULL, NULL, vt_err, sizeof(vt_err)));
	incr_len = lseek(fi, 0, SEEK_END);
	assert_true(incr_len < full_len);
	lseek(fi, 0, SEEK_SET);
	VT_OK(vol_receive(q, "r", fi, false, NULL, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(q, "r", &v, vt_err, sizeof(vt_err)));
	vt_same(v, b, SZ, "incremental receive");
	vol_close(v);
	VT_OK(vol_open(q, "r@a", &v, vt_err, sizeof(vt_err)));
	vt_same(v, a, SZ, "the base kept");
	vol_close(v);
	/* Again: r's newest snapshot is now b, not the stream's base. */
	lseek(fi, 0, SEEK_SET);
	assert_int_equal(vol_receive(q, "r", fi, false, NULL, NULL, vt_err,
	    sizeof(vt_err)), -EINVAL);
	assert_non_null(strstr(vt_err, "base"));

	/* Onto copy (at a) after copy changed: refused, then forced. */
	VT_OK(vol_open(p, "copy", &v, vt_err, sizeof(vt_err)));
	VT_OK(vol_pwrite(v, buf, 4096, 0));
	vol_close(v);
	lseek(fi, 0, SEEK_SET);
	assert_int_equal(vol_receive(p, "copy", fi, false, NULL, NULL, vt_err,
	    sizeof(vt_err)), -EBUSY);
	lseek(fi, 0, SEEK_SET);
	VT_OK(vol_receive(p, "copy", fi, true, NULL, NULL, vt_err, sizeof(vt_err)));
	VT_OK(vol_open(p, "copy", &v, vt_err, sizeof(vt_err)));
	vt_same(v, b, SZ, "forced incremental receive");
	vol_close(v);

	/* Cut and altered streams change nothing. */
	list_sig(q, before, sizeof(before));
	for (cut = 0; cut < full_len; cut += 1 + full_len / 37) {
		int t = stream_file("cut");
		unsigned char *all = malloc((size_t)full_len);

		assert_int_equal(pread(fd, all, (size_t)full_len, 0), full_len);
		assert_int_equal(write(t, all, (size_t)cut), cut);
		lseek(t, 0, SEEK_SET);
		if (vol_receive(q, "x", t, false, NULL, NULL, vt_err, sizeof(vt_err)) == 0)
			fail_msg("a stream cut at %lld of %lld was taken", (long long)cut,
			    (long long)full_len);
		/* The same stream with one byte changed. */
		all[cut] ^= 0x10;
		lseek(t, 0, SEEK_SET);
		assert_int_equal(ftruncate(t, 0), 0);
		assert_int_equal(write(t, all, (size_t)full_len), full_len);
		lseek(t, 0, SEEK_SET);
		if (vol_receive(q, "x", t, false, NULL, NULL, vt_err, sizeof(vt_err)) == 0)
			fail_msg("a stream altered at byte %lld was taken", (long long)cut);
		bad++;
		free(all);
		close(t);
	}
	list_sig(q, after, sizeof(after));
	assert_string_equal(before, after);
	assert_true(bad > 30);
	close(fd);
	close(fi);
	VT_OK(vol_pool_close(p));
	VT_OK(vol_pool_close(q));
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_cut_everywhere),
		cmocka_unit_test(test_sigkill),
		cmocka_unit_test(test_corruption_eio),
		cmocka_unit_test(test_corruption_repair),
		cmocka_unit_test(test_labels_and_ring),
		cmocka_unit_test(test_send_receive),
	};
	int rc;

	vt_setup_dir();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	vt_remove_dir();
	return rc;
}
