/*
 * The I/O thread: callbacks run on it for readable fds, removal works, and
 * stop joins it with every callback returned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ioloop.h"

struct counter {
	int	fd;
	int	hits;
};

static void
count_cb(void *arg)
{
	struct counter *c = arg;
	uint64_t v;

	if (read(c->fd, &v, sizeof(v)) == sizeof(v))
		__atomic_add_fetch(&c->hits, (int)v, __ATOMIC_SEQ_CST);
}

static void
wait_hits(struct counter *c, int want)
{
	struct timespec ts = { 0, 1000000 };
	int i;

	for (i = 0; i < 5000 && __atomic_load_n(&c->hits, __ATOMIC_SEQ_CST) <
	    want; i++)
		nanosleep(&ts, NULL);
	assert_int_equal(__atomic_load_n(&c->hits, __ATOMIC_SEQ_CST), want);
}

static void
test_callbacks(void **state)
{
	struct counter a = { eventfd(0, EFD_NONBLOCK), 0 };
	struct counter b = { eventfd(0, EFD_NONBLOCK), 0 };
	struct ioloop *il = ioloop_create();
	uint64_t v = 3;

	(void)state;
	assert_non_null(il);
	assert_int_equal(ioloop_add(il, a.fd, count_cb, &a), 0);
	assert_int_equal(ioloop_add(il, b.fd, count_cb, &b), 0);
	assert_int_equal(ioloop_start(il), 0);
	assert_int_equal(write(a.fd, &v, sizeof(v)), sizeof(v));
	wait_hits(&a, 3);
	v = 2;
	assert_int_equal(write(b.fd, &v, sizeof(v)), sizeof(v));
	wait_hits(&b, 2);
	ioloop_stop(il);
	/* Stopped: writes are not consumed any more. */
	assert_int_equal(write(a.fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(read(a.fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 2);
	ioloop_destroy(il);
	close(a.fd);
	close(b.fd);
}

static void
test_del_and_errors(void **state)
{
	struct counter a = { eventfd(0, EFD_NONBLOCK), 0 };
	struct ioloop *il = ioloop_create();

	(void)state;
	assert_int_equal(ioloop_add(il, a.fd, count_cb, &a), 0);
	assert_int_equal(ioloop_del(il, a.fd), 0);
	assert_int_equal(ioloop_del(il, a.fd), -ENOENT);
	assert_int_equal(ioloop_add(il, -1, count_cb, &a), -EBADF);
	ioloop_destroy(il);	/* never started: destroy alone is fine */
	close(a.fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_callbacks),
		cmocka_unit_test(test_del_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
