/*
 * Token buckets for the devices' rate limits (virtio/tbucket.h).  The
 * arithmetic is in 128 bits so that no rate the spec allows (up to 2^40 a
 * second) and no gap between calls can overflow it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "tbucket.h"

#define TB_NS	1000000000ULL

uint64_t
tb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * TB_NS + (uint64_t)ts.tv_nsec;
}

void
tb_init(struct tbucket *tb, uint64_t rate, uint64_t now)
{
	uint64_t size = (uint64_t)((unsigned __int128)rate * TB_BURST_MS /
	    1000);

	tb->tb_rate = rate;
	tb->tb_size = size > 0 ? size : 1;
	if (tb->tb_size > INT64_MAX)
		tb->tb_size = INT64_MAX;
	tb->tb_tokens = (int64_t)tb->tb_size;
	tb->tb_last = now;
}

/*
 * Turn the time since tb_last into tokens.  Only whole tokens move, and
 * tb_last advances by just the time they took, so a caller that looks
 * often does not lose the fractions; a full bucket drops the surplus.
 */
static void
tb_refill(struct tbucket *tb, uint64_t now)
{
	unsigned __int128 add;
	uint64_t dt;

	if (now <= tb->tb_last)
		return;
	dt = now - tb->tb_last;
	add = (unsigned __int128)tb->tb_rate * dt / TB_NS;
	if (add == 0)
		return;
	if (add >= (unsigned __int128)((__int128)tb->tb_size - tb->tb_tokens)) {
		tb->tb_tokens = (int64_t)tb->tb_size;
		tb->tb_last = now;
		return;
	}
	tb->tb_tokens += (int64_t)add;
	tb->tb_last += (uint64_t)(add * TB_NS / tb->tb_rate);
}

uint64_t
tb_wait(struct tbucket *tb, uint64_t now)
{
	unsigned __int128 need;
	uint64_t ns, spent;

	if (tb->tb_rate == 0)
		return 0;
	tb_refill(tb, now);
	if (tb->tb_tokens > 0)
		return 0;
	/* Time until the balance reaches one token, less what has accrued. */
	need = ((unsigned __int128)(1 - (__int128)tb->tb_tokens) * TB_NS +
	    tb->tb_rate - 1) / tb->tb_rate;
	spent = now > tb->tb_last ? now - tb->tb_last : 0;
	if (need > (unsigned __int128)spent + TB_WAIT_MAX_NS)
		return TB_WAIT_MAX_NS;
	ns = need > spent ? (uint64_t)(need - spent) : 0;
	return ns > TB_WAIT_MIN_NS ? ns : TB_WAIT_MIN_NS;
}

void
tb_take(struct tbucket *tb, uint64_t n)
{
	if (tb->tb_rate == 0)
		return;
	/* Saturate: a debt this size is years of waiting anyway. */
	if (n > (uint64_t)INT64_MAX || tb->tb_tokens < INT64_MIN + (int64_t)n)
		tb->tb_tokens = INT64_MIN;
	else
		tb->tb_tokens -= (int64_t)n;
}

void
tb_limit_init(struct tb_limit *tl, uint64_t bytes_per_sec,
    uint64_t ops_per_sec, uint64_t now)
{
	tb_init(&tl->tl_bytes, bytes_per_sec, now);
	tb_init(&tl->tl_ops, ops_per_sec, now);
}

bool
tb_limit_on(const struct tb_limit *tl)
{
	return tl->tl_bytes.tb_rate != 0 || tl->tl_ops.tb_rate != 0;
}

uint64_t
tb_limit_wait(struct tb_limit *tl, uint64_t now)
{
	uint64_t b = tb_wait(&tl->tl_bytes, now);
	uint64_t o = tb_wait(&tl->tl_ops, now);

	return b > o ? b : o;
}

void
tb_limit_take(struct tb_limit *tl, uint64_t bytes, uint64_t ops)
{
	tb_take(&tl->tl_bytes, bytes);
	tb_take(&tl->tl_ops, ops);
}

int
tb_timer_open(void)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int
tb_timer_arm(int fd, uint64_t at)
{
	struct itimerspec its = { .it_value = {
		.tv_sec = (time_t)(at / TB_NS),
		.tv_nsec = (long)(at % TB_NS) } };

	/* An all-zero it_value would disarm it: 1 ns is as good as now. */
	if (at == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ?
	    -errno : 0;
}

void
tb_timer_ack(int fd)
{
	uint64_t n;

	(void)!read(fd, &n, sizeof(n));
}

const char *
tb_limit_str(const struct tb_limit *l, const char *what, const char *ops,
    char *buf, size_t len)
{
	size_t o;

	buf[0] = '\0';
	if (l->tl_bytes.tb_rate == 0 && l->tl_ops.tb_rate == 0)
		return buf;
	snprintf(buf, len, ", %s", what);
	o = strlen(buf);
	if (l->tl_ops.tb_rate != 0)
		snprintf(buf + o, len - o, " %llu %s",
		    (unsigned long long)l->tl_ops.tb_rate, ops);
	o = strlen(buf);
	if (l->tl_bytes.tb_rate != 0)
		snprintf(buf + o, len - o, " %llu bytes/s",
		    (unsigned long long)l->tl_bytes.tb_rate);
	return buf;
}
