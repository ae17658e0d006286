/*
 * Token buckets (virtio/tbucket.c) on a clock of the test's own: start
 * full, the burst cap, the long-run rate for small and oversize items,
 * fractions of a token kept across frequent looks, the wait it hands out,
 * both buckets of a limit, extreme rates and times (UBSan watches), and
 * the timerfd a device sleeps on.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "../tbucket.h"

#define NS	1000000000ULL
#define MS	1000000ULL

/* A sender that takes items of size n as fast as the bucket lets it. */
static uint64_t
drive(struct tbucket *tb, uint64_t *now, uint64_t end, uint64_t n)
{
	uint64_t sent = 0, w;

	while (*now < end) {
		w = tb_wait(tb, *now);
		if (w != 0) {
			*now += w;
			continue;
		}
		tb_take(tb, n);
		sent += n;
	}
	return sent;
}

static void
test_unlimited(void **state)
{
	struct tbucket tb;
	int i;

	(void)state;
	tb_init(&tb, 0, 5);
	for (i = 0; i < 1000; i++) {
		assert_int_equal(tb_wait(&tb, 5), 0);
		tb_take(&tb, 1ULL << 40);
	}
	assert_int_equal(tb_wait(&tb, 5), 0);
}

/* Full at the start: 100 ms of the rate passes at once, then waits. */
static void
test_starts_full(void **state)
{
	struct tbucket tb;
	uint64_t now = 7 * NS;
	int i;

	(void)state;
	tb_init(&tb, 1000, now);
	assert_int_equal(tb.tb_size, 100);
	for (i = 0; i < 100; i++) {
		assert_int_equal(tb_wait(&tb, now), 0);
		tb_take(&tb, 1);
	}
	/* Empty: one token is 1 ms away. */
	assert_int_equal(tb_wait(&tb, now), 1 * MS);
	assert_int_equal(tb_wait(&tb, now + MS / 2), 1 * MS);	/* the minimum */
	assert_int_equal(tb_wait(&tb, now + MS), 0);
}

/* A long idle fills the bucket to its size and no further. */
static void
test_burst_cap(void **state)
{
	struct tbucket tb;
	uint64_t now = 0;

	(void)state;
	tb_init(&tb, 10000, now);
	tb_take(&tb, 1000);
	now += 3600 * NS;
	assert_int_equal(tb_wait(&tb, now), 0);
	assert_int_equal(tb.tb_tokens, 1000);
	/* A rate under 10/s still holds one token. */
	tb_init(&tb, 3, now);
	assert_int_equal(tb.tb_size, 1);
}

/* Over 10 s the rate holds within one burst and one item. */
static void
test_rate(void **state)
{
	static const uint64_t sizes[] = { 1, 64, 1514, 65536 };
	struct tbucket tb;
	uint64_t now, sent, rate = 2000000, secs = 10;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		now = 1000;
		tb_init(&tb, rate, now);
		sent = drive(&tb, &now, 1000 + secs * NS, sizes[i]);
		assert_true(sent >= rate * secs);
		assert_true(sent <= rate * secs + tb.tb_size + sizes[i]);
	}
}

/*
 * An item far bigger than the bucket passes when the bucket is full and
 * leaves a debt that the next one waits out: 1500 bytes at 100 bytes/s.
 */
static void
test_oversize(void **state)
{
	struct tbucket tb;
	uint64_t now = 0, w, sent;

	(void)state;
	tb_init(&tb, 100, now);
	assert_int_equal(tb.tb_size, 10);
	assert_int_equal(tb_wait(&tb, now), 0);
	tb_take(&tb, 1500);
	assert_int_equal(tb.tb_tokens, 10 - 1500);
	/* 1491 tokens to reach one: 14.91 s. */
	w = tb_wait(&tb, now);
	assert_int_equal(w, 14910 * MS);
	assert_true(tb_wait(&tb, now + w - MS) != 0);
	assert_int_equal(tb_wait(&tb, now + w), 0);
	/* And in the long run: 1500-byte items at 100 bytes/s. */
	now = 0;
	tb_init(&tb, 100, now);
	sent = drive(&tb, &now, 600 * NS, 1500);
	assert_true(sent + 1500 >= 100 * 600);
	assert_true(sent <= 100 * 600 + 10 + 1500);
}

/*
 * Looking every millisecond at 30 tokens a second (each look adds 0.03 of
 * a token) loses no fractions while the bucket is not full.
 */
static void
test_fractions(void **state)
{
	struct tbucket tb;
	uint64_t now = 0, got = 0;

	(void)state;
	tb_init(&tb, 30, now);
	assert_int_equal(tb.tb_size, 3);
	tb_take(&tb, 3);	/* empty */
	while (now < 10 * NS) {
		now += MS;
		if (tb_wait(&tb, now) == 0) {
			tb_take(&tb, 1);
			got++;
		}
	}
	assert_int_equal(got, 300);
}

/* A clock that goes backwards (it must not, but) changes nothing. */
static void
test_clock_backwards(void **state)
{
	struct tbucket tb;

	(void)state;
	tb_init(&tb, 1000, 5 * NS);
	tb_take(&tb, 100);
	assert_int_equal(tb_wait(&tb, 4 * NS), 1 * MS);
	assert_int_equal(tb.tb_tokens, 0);
	assert_int_equal(tb_wait(&tb, 5 * NS + MS), 0);
}

/* The spec's largest rates, huge gaps and debts: no overflow. */
static void
test_extremes(void **state)
{
	struct tbucket tb;
	uint64_t now = UINT64_MAX / 2;

	(void)state;
	tb_init(&tb, 1ULL << 40, 0);
	assert_int_equal(tb.tb_size, (1ULL << 40) / 10);
	assert_int_equal(tb_wait(&tb, now), 0);
	tb_take(&tb, UINT64_MAX);
	assert_int_equal(tb.tb_tokens, INT64_MIN);
	tb_take(&tb, 1);
	assert_int_equal(tb.tb_tokens, INT64_MIN);
	assert_true(tb_wait(&tb, now) > 0);
	assert_int_equal(tb_wait(&tb, UINT64_MAX), 0);
	/* Waits are cut at TB_WAIT_MAX_NS (then the caller asks again). */
	tb_init(&tb, 1, 0);
	tb_take(&tb, UINT64_MAX / 2);
	assert_int_equal(tb_wait(&tb, 1), TB_WAIT_MAX_NS);
}

/* A limit waits for the slower of its two buckets. */
static void
test_limit(void **state)
{
	struct tb_limit tl;
	uint64_t now = 0;

	(void)state;
	tb_limit_init(&tl, 0, 0, now);
	assert_false(tb_limit_on(&tl));
	assert_int_equal(tb_limit_wait(&tl, now), 0);

	tb_limit_init(&tl, 10000, 100, now);	/* 1000 bytes, 10 ops */
	assert_true(tb_limit_on(&tl));
	tb_limit_take(&tl, 1000, 1);		/* bytes empty: 100 us away */
	assert_int_equal(tb_limit_wait(&tl, now), TB_WAIT_MIN_NS);
	tb_limit_take(&tl, 0, 20);		/* ops owe 11: 120 ms */
	assert_int_equal(tb_limit_wait(&tl, now), 120 * MS);
	assert_true(tb_limit_wait(&tl, now + 119 * MS) != 0);
	assert_int_equal(tb_limit_wait(&tl, now + 120 * MS), 0);

	tb_limit_init(&tl, 0, 5, now);
	assert_true(tb_limit_on(&tl));
	tb_limit_take(&tl, 1ULL << 30, 1);	/* bytes unlimited */
	assert_int_equal(tb_limit_wait(&tl, now), 200 * MS);
}

/* The timerfd fires at the time asked for, and ack quiets it. */
static void
test_timer(void **state)
{
	struct pollfd p;
	uint64_t t0;
	int fd;

	(void)state;
	fd = tb_timer_open();
	assert_true(fd >= 0);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	t0 = tb_now();
	assert_int_equal(tb_timer_arm(fd, t0 + 20 * MS), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(tb_now() >= t0 + 20 * MS);
	tb_timer_ack(fd);
	assert_int_equal(poll(&p, 1, 0), 0);
	/* A time already past fires at once, 0 included. */
	assert_int_equal(tb_timer_arm(fd, t0), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	tb_timer_ack(fd);
	assert_int_equal(tb_timer_arm(fd, 0), 0);
	assert_int_equal(poll(&p, 1, 5000), 1);
	tb_timer_ack(fd);
	assert_int_equal(tb_timer_arm(-1, t0), -EBADF);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_starts_full),
		cmocka_unit_test(test_burst_cap),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_fractions),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_timer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
