/*
 * Token buckets for the devices' rate limits: nics[].rate_limit in
 * virtio-net, limits.disk_iops and limits.disk_bps in virtio-blk
 * (docs/spec.md, docs/net.md, docs/blk.md).  Like Firecracker's, they live
 * inside the device model, so they hold whatever path the I/O takes on the
 * host (io.max sees neither the page cache nor the tap).
 *
 * A bucket fills at its rate, up to TB_BURST_MS worth of it, and starts
 * full.  A device asks tb_limit_wait() before it takes a packet or a
 * request, and charges what it took with tb_limit_take() afterwards: the
 * size of a transmit packet or a tap read is known only once the chain is
 * popped or the packet read, and a popped chain cannot be put back.  So
 * anything goes while the balance is positive, and the balance may go
 * below zero by one item; the next item waits until the debt is paid.
 * Over any interval the rate holds to within one burst and one item, and an
 * item bigger than the bucket (a 64 KiB GSO packet on a slow link) still
 * passes instead of waiting forever.
 *
 * Times are CLOCK_MONOTONIC nanoseconds passed in by the caller (tb_now()),
 * so that tests can run a bucket on a clock of their own.  No locking: the
 * device's lock covers its buckets.
 */
#ifndef VMM_VIRTIO_TBUCKET_H
#define VMM_VIRTIO_TBUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TB_BURST_MS	100		/* a full bucket: 100 ms of its rate */
#define TB_WAIT_MIN_NS	1000000ULL	/* waits are at least 1 ms */
#define TB_WAIT_MAX_NS	3600000000000ULL /* and at most an hour: ask again */

struct tbucket {
	uint64_t	tb_rate;	/* tokens per second; 0: no limit */
	uint64_t	tb_size;	/* most tokens held: the burst */
	int64_t		tb_tokens;	/* below 0: owed by the last item */
	uint64_t	tb_last;	/* ns; time not yet turned into tokens */
};

/* A limit in bytes and in operations (packets, requests), each optional. */
struct tb_limit {
	struct tbucket	tl_bytes;
	struct tbucket	tl_ops;
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t	tb_now(void);

/*
 * Set a bucket to rate tokens a second (0: no limit), full, as of now.
 * The size is TB_BURST_MS of the rate, at least one token.
 */
void	tb_init(struct tbucket *, uint64_t rate, uint64_t now);

/*
 * 0 if the bucket has a token at now (or no limit), else the nanoseconds
 * until it will have one, at least TB_WAIT_MIN_NS and at most
 * TB_WAIT_MAX_NS (so now + the wait cannot overflow).  Refills first.
 */
uint64_t	tb_wait(struct tbucket *, uint64_t now);

/* Charge n tokens; the balance may go negative (see the top). */
void	tb_take(struct tbucket *, uint64_t n);

/* Both buckets of a limit; 0 rates mean no limit of that kind. */
void	tb_limit_init(struct tb_limit *, uint64_t bytes_per_sec,
	    uint64_t ops_per_sec, uint64_t now);

/* Whether either rate is set. */
bool	tb_limit_on(const struct tb_limit *);

/* The longer of the two buckets' waits; 0: go. */
uint64_t	tb_limit_wait(struct tb_limit *, uint64_t now);

/* Charge bytes and ops. */
void	tb_limit_take(struct tb_limit *, uint64_t bytes, uint64_t ops);

/*
 * A device's wake-up for throttled queues: a one-shot CLOCK_MONOTONIC
 * timerfd (non-blocking, close-on-exec) for its I/O thread to watch.
 * open: the fd or -errno.  arm: fire at the absolute time at (ns); 0 or
 * -errno.  ack: read the expiration count so the fd is quiet again.
 */
int	tb_timer_open(void);
int	tb_timer_arm(int fd, uint64_t at);
void	tb_timer_ack(int fd);

/*
 * ", WHAT N OPS N bytes/s" for a limit's rates (each part only if set),
 * or "" for no limit: the devices' describe lines.  Returns buf.
 */
const char	*tb_limit_str(const struct tb_limit *, const char *what,
		    const char *ops, char *buf, size_t len);

#endif /* VMM_VIRTIO_TBUCKET_H */
