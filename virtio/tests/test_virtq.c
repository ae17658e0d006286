/*
 * Unit tests for split virtqueues (virtio/virtq.c, include/virtq.h,
 * docs/virtq.md).  Guest RAM is a host buffer behind gm_init_from(); the
 * tq_* helpers play the driver: they lay out the rings (as Firecracker's
 * test_utils does), write descriptors and make heads available.  Each check
 * that virtq_pop() makes on guest input has a malformed-input test with its
 * expected outcome (-EBADMSG for a bad chain, -EINVAL and a broken queue
 * for a corrupt ring).  No /dev/kvm is needed.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gm.h"
#include "virtq.h"

#define TQ_RAM		(2ULL << 20)
#define TQ_DESC		0x10000ULL	/* room for 32768 descriptors */
#define TQ_AVAIL	0x90000ULL
#define TQ_USED		0xa2000ULL
#define TQ_BUF		0x100000ULL	/* buffers and indirect tables */
#define TQ_GIB		(1ULL << 30)

#define TQ_R		0
#define TQ_W		VIRTQ_DESC_F_WRITE
#define TQ_N		VIRTQ_DESC_F_NEXT
#define TQ_I		VIRTQ_DESC_F_INDIRECT

#define TQ_F_INDIRECT	(1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define TQ_F_EVENT	(1ULL << VIRTIO_RING_F_EVENT_IDX)

/* A simulated guest: RAM, one queue, and the driver's avail index. */
struct tq {
	struct gm		 gm;
	uint8_t			*ram;
	struct virtq		 vq;
	struct virtq_chain	 ch;
	uint16_t		 size;
	uint16_t		 avail_idx;
};

static int
tq_alloc(void **state)
{
	struct tq *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	t->ram = aligned_alloc(4096, TQ_RAM);
	if (t->ram == NULL) {
		free(t);
		return -1;
	}
	memset(t->ram, 0, TQ_RAM);
	gm_init_from(&t->gm, t->ram, TQ_RAM);
	*state = t;
	return 0;
}

static int
tq_free(void **state)
{
	struct tq *t = *state;

	free(t->ram);
	free(t);
	return 0;
}

/* Set the queue up at the standard addresses; RAM is zeroed. */
static void
tq_start(struct tq *t, uint16_t size, uint64_t features)
{
	memset(t->ram, 0, TQ_RAM);
	t->size = size;
	t->avail_idx = 0;
	assert_int_equal(virtq_setup(&t->vq, &t->gm, size, TQ_DESC, TQ_AVAIL,
	    TQ_USED, features), 0);
}

static void
tq_w16(struct tq *t, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(t->ram + gpa, &v, 2);
}

static uint16_t
tq_r16(struct tq *t, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, t->ram + gpa, 2);
	return le16toh(v);
}

static uint32_t
tq_r32(struct tq *t, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, t->ram + gpa, 4);
	return le32toh(v);
}

/* Write a descriptor at any guest address (a table entry). */
static void
tq_desc_at(struct tq *t, uint64_t gpa, uint64_t addr, uint32_t len,
    uint16_t flags, uint16_t next)
{
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(t->ram + gpa, &a, 8);
	memcpy(t->ram + gpa + 8, &l, 4);
	memcpy(t->ram + gpa + 12, &f, 2);
	memcpy(t->ram + gpa + 14, &n, 2);
}

static void
tq_desc(struct tq *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	tq_desc_at(t, TQ_DESC + 16ULL * i, addr, len, flags, next);
}

static void
tq_set_avail_idx(struct tq *t, uint16_t idx)
{
	t->avail_idx = idx;
	tq_w16(t, TQ_AVAIL + 2, idx);
}

/* Make head available, as a driver does. */
static void
tq_kick(struct tq *t, uint16_t head)
{
	tq_w16(t, TQ_AVAIL + 4 + 2ULL * (t->avail_idx & (t->size - 1)), head);
	tq_set_avail_idx(t, (uint16_t)(t->avail_idx + 1));
}

/* Start both sides at index idx (for wrap-around tests). */
static void
tq_set_indices(struct tq *t, uint16_t idx)
{
	t->vq.vq_last_avail = t->vq.vq_avail_shadow = idx;
	t->vq.vq_used_idx = t->vq.vq_signalled_used = idx;
	tq_set_avail_idx(t, idx);
	tq_w16(t, TQ_USED + 2, idx);
}

static uint16_t
tq_used_idx(struct tq *t)
{
	return tq_r16(t, TQ_USED + 2);
}

static void
tq_used_elem(struct tq *t, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t e = TQ_USED + 4 + 8ULL * (i & (t->size - 1));

	*id = tq_r32(t, e);
	*len = tq_r32(t, e + 4);
}

static void
tq_set_used_event(struct tq *t, uint16_t v)
{
	tq_w16(t, TQ_AVAIL + 4 + 2ULL * t->size, v);
}

static uint16_t
tq_avail_event(struct tq *t)
{
	return tq_r16(t, TQ_USED + 4 + 8ULL * t->size);
}

/* Pop expecting a malformed chain at head; complete it; queue usable. */
static void
tq_expect_bad(struct tq *t, uint16_t head)
{
	assert_int_equal(virtq_pop(&t->vq, &t->ch), -EBADMSG);
	assert_int_equal(t->ch.vc_head, head);
	assert_non_null(t->ch.vc_err);
	assert_int_equal(t->ch.vc_nout + t->ch.vc_nin, 0);
	assert_false(virtq_is_broken(&t->vq));
	assert_int_equal(virtq_push(&t->vq, head, 0), 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 0);
}

static void
tq_expect_broken(struct tq *t)
{
	uint16_t last = t->vq.vq_last_avail;

	assert_int_equal(virtq_pop(&t->vq, &t->ch), -EINVAL);
	assert_true(virtq_is_broken(&t->vq));
	assert_non_null(t->vq.vq_err);
	/* Nothing consumed, and it stays broken. */
	assert_int_equal(t->vq.vq_last_avail, last);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), -EINVAL);
	assert_false(virtq_has_buffers(&t->vq));
}

/* One readable buffer. */
static void
test_single(void **state)
{
	struct tq *t = *state;

	tq_start(t, 16, 0);
	assert_false(virtq_has_buffers(&t->vq));
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 0);
	tq_desc(t, 3, TQ_BUF, 100, TQ_R, 0);
	tq_kick(t, 3);
	assert_true(virtq_has_buffers(&t->vq));
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_head, 3);
	assert_int_equal(t->ch.vc_nout, 1);
	assert_int_equal(t->ch.vc_nin, 0);
	assert_int_equal(t->ch.vc_out_bytes, 100);
	assert_int_equal(t->ch.vc_in_bytes, 0);
	assert_ptr_equal(t->ch.vc_iov[0].iov_base, t->ram + TQ_BUF);
	assert_int_equal(t->ch.vc_iov[0].iov_len, 100);
	assert_false(virtq_has_buffers(&t->vq));
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 0);

	assert_int_equal(virtq_push(&t->vq, 3, 0), 0);
	assert_int_equal(tq_used_idx(t), 1);
	{
		uint32_t id, len;

		tq_used_elem(t, 0, &id, &len);
		assert_int_equal(id, 3);
		assert_int_equal(len, 0);
	}
}

/* Two readable then three writable buffers, one zero-length. */
static void
test_read_write_mix(void **state)
{
	struct tq *t = *state;
	uint32_t id, len;

	tq_start(t, 8, 0);
	tq_desc(t, 5, TQ_BUF, 16, TQ_R | TQ_N, 2);
	tq_desc(t, 2, TQ_BUF + 0x100, 512, TQ_R | TQ_N, 7);
	tq_desc(t, 7, TQ_BUF + 0x1000, 0, TQ_W | TQ_N, 0);	/* no iovec */
	tq_desc(t, 0, TQ_BUF + 0x2000, 4096, TQ_W | TQ_N, 1);
	tq_desc(t, 1, TQ_BUF + 0x3000, 1, TQ_W, 0);
	tq_kick(t, 5);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_head, 5);
	assert_int_equal(t->ch.vc_nout, 2);
	assert_int_equal(t->ch.vc_nin, 2);
	assert_int_equal(t->ch.vc_out_bytes, 16 + 512);
	assert_int_equal(t->ch.vc_in_bytes, 4096 + 1);
	assert_ptr_equal(t->ch.vc_iov[0].iov_base, t->ram + TQ_BUF);
	assert_ptr_equal(t->ch.vc_iov[1].iov_base, t->ram + TQ_BUF + 0x100);
	assert_ptr_equal(t->ch.vc_iov[2].iov_base, t->ram + TQ_BUF + 0x2000);
	assert_int_equal(t->ch.vc_iov[2].iov_len, 4096);
	assert_ptr_equal(t->ch.vc_iov[3].iov_base, t->ram + TQ_BUF + 0x3000);
	assert_int_equal(t->ch.vc_iov[3].iov_len, 1);
	assert_int_equal(virtq_push(&t->vq, 5, 4097), 0);
	tq_used_elem(t, 0, &id, &len);
	assert_int_equal(id, 5);
	assert_int_equal(len, 4097);
}

/* A chain as long as the queue and as VIRTQ_MAX_IOV: accepted. */
static void
test_long_chain(void **state)
{
	struct tq *t = *state;
	unsigned int i;

	tq_start(t, VIRTQ_MAX_IOV, 0);
	for (i = 0; i < VIRTQ_MAX_IOV; i++)
		tq_desc(t, (uint16_t)i, TQ_BUF + i, 1,
		    (i < 100 ? TQ_R : TQ_W) |
		    (i + 1 < VIRTQ_MAX_IOV ? TQ_N : 0),
		    (uint16_t)(i + 1));
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_nout, 100);
	assert_int_equal(t->ch.vc_nin, VIRTQ_MAX_IOV - 100);
	assert_int_equal(t->ch.vc_out_bytes, 100);
	assert_int_equal(t->ch.vc_in_bytes, VIRTQ_MAX_IOV - 100);
	assert_ptr_equal(t->ch.vc_iov[VIRTQ_MAX_IOV - 1].iov_base,
	    t->ram + TQ_BUF + VIRTQ_MAX_IOV - 1);
}

/* One buffer more than VIRTQ_MAX_IOV, in a queue big enough for it. */
static void
test_too_many_iov(void **state)
{
	struct tq *t = *state;
	unsigned int i, n = VIRTQ_MAX_IOV + 1;

	tq_start(t, 1024, 0);
	for (i = 0; i < n; i++)
		tq_desc(t, (uint16_t)i, TQ_BUF + i, 1, i + 1 < n ? TQ_N : 0,
		    (uint16_t)(i + 1));
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	/* Zero-length buffers do not count against the cap. */
	tq_desc(t, 0, TQ_BUF, 0, TQ_N, 1);
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_nout, VIRTQ_MAX_IOV);
}

/* Indices wrap at 65535 on both rings. */
static void
test_wrap(void **state)
{
	struct tq *t = *state;
	uint32_t id, len;
	uint16_t i;

	tq_start(t, 4, 0);
	tq_set_indices(t, 65533);
	for (i = 0; i < 4; i++)
		tq_desc(t, i, TQ_BUF + 16ULL * i, 16, TQ_W, 0);
	for (i = 0; i < 4; i++)
		tq_kick(t, (uint16_t)(3 - i));
	assert_int_equal(t->avail_idx, 1);
	for (i = 0; i < 4; i++) {
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
		assert_int_equal(t->ch.vc_head, 3 - i);
		assert_int_equal(virtq_push(&t->vq, t->ch.vc_head, i), 0);
	}
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 0);
	assert_int_equal(tq_used_idx(t), 1);
	for (i = 0; i < 4; i++) {
		tq_used_elem(t, (uint16_t)(65533 + i), &id, &len);
		assert_int_equal(id, 3 - i);
		assert_int_equal(len, i);
	}

	/* And through 70000 ordinary round trips from 0. */
	tq_start(t, 4, 0);
	tq_desc(t, 1, TQ_BUF, 8, TQ_R, 0);
	for (id = 0; id < 70000; id++) {
		tq_kick(t, 1);
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
		assert_int_equal(virtq_push(&t->vq, 1, 0), 0);
	}
	assert_int_equal(tq_used_idx(t), (uint16_t)70000);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 0);
}

/* A loop in the table, and a self-loop: caught by the hop limit. */
static void
test_loop(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 0, TQ_BUF, 8, TQ_N, 1);
	tq_desc(t, 1, TQ_BUF, 8, TQ_N, 2);
	tq_desc(t, 2, TQ_BUF, 8, TQ_N, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	/* A self-loop of zero-length descriptors, which add no iovec. */
	tq_desc(t, 4, TQ_BUF, 0, TQ_N, 4);
	tq_kick(t, 4);
	tq_expect_bad(t, 4);
	/* The queue goes on: a good chain after the bad ones. */
	tq_desc(t, 6, TQ_BUF, 8, TQ_R, 0);
	tq_kick(t, 6);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_head, 6);
}

/* size distinct descriptors are fine; one more hop must repeat one. */
static void
test_chain_longer_than_queue(void **state)
{
	struct tq *t = *state;
	uint16_t i;

	tq_start(t, 4, 0);
	for (i = 0; i < 4; i++)
		tq_desc(t, i, TQ_BUF, 1, TQ_N, (uint16_t)((i + 1) % 4));
	tq_kick(t, 2);
	tq_expect_bad(t, 2);
	tq_desc(t, 1, TQ_BUF, 1, 0, 0);
	tq_kick(t, 2);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_nout, 4);	/* 2, 3, 0, 1 */
}

static void
test_next_out_of_range(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 0, TQ_BUF, 8, TQ_N, 8);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, TQ_BUF, 8, TQ_N, 0xffff);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	/* next is ignored without NEXT. */
	tq_desc(t, 0, TQ_BUF, 8, 0, 0xffff);
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
}

static void
test_head_out_of_range(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 1, TQ_BUF, 8, 0, 0);
	tq_kick(t, 1);
	tq_kick(t, 8);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	tq_expect_broken(t);
	/* The request in flight can still complete. */
	assert_int_equal(virtq_push(&t->vq, 1, 0), 0);
	assert_int_equal(tq_used_idx(t), 1);
}

/* A head made available again before it was used: corrupt ring. */
static void
test_head_in_flight(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 2, TQ_BUF, 8, 0, 0);
	tq_kick(t, 2);
	tq_kick(t, 2);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	tq_expect_broken(t);
	assert_int_equal(virtq_push(&t->vq, 2, 0), 0);

	/* Also after a malformed chain, whose head is in flight as well. */
	tq_start(t, 8, 0);
	tq_desc(t, 2, TQ_BUF, 8, TQ_N, 9);
	tq_kick(t, 2);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), -EBADMSG);
	tq_kick(t, 2);
	tq_expect_broken(t);
	assert_int_equal(virtq_push(&t->vq, 2, 0), 0);
}

static void
test_avail_idx_too_far(void **state)
{
	struct tq *t = *state;
	uint16_t i;

	tq_start(t, 8, 0);
	for (i = 0; i < 8; i++)
		tq_desc(t, i, TQ_BUF, 8, 0, 0);
	tq_set_avail_idx(t, 9);
	tq_expect_broken(t);

	/* Exactly size ahead is fine. */
	tq_start(t, 8, 0);
	for (i = 0; i < 8; i++) {
		tq_desc(t, i, TQ_BUF, 8, 0, 0);
		tq_kick(t, i);
	}
	for (i = 0; i < 8; i++)
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	/* 8 in flight: one more available buffer is one too many. */
	tq_kick(t, 0);
	tq_expect_broken(t);

	/* Way ahead after a wrap (0xffff - 0 is not "1 behind"). */
	tq_start(t, 8, 0);
	tq_set_avail_idx(t, 0xffff);
	tq_expect_broken(t);
}

static void
test_avail_idx_backwards(void **state)
{
	struct tq *t = *state;
	uint16_t i;

	tq_start(t, 8, 0);
	for (i = 0; i < 4; i++) {
		tq_desc(t, i, TQ_BUF, 8, 0, 0);
		tq_kick(t, i);
	}
	for (i = 0; i < 3; i++)
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	/* The fourth comes from the index read for the first. */
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	tq_set_avail_idx(t, 2);
	tq_expect_broken(t);
}

static void
test_indirect(void **state)
{
	struct tq *t = *state;
	uint64_t tbl = TQ_BUF + 0x10000;

	tq_start(t, 8, TQ_F_INDIRECT);
	tq_desc_at(t, tbl + 0, TQ_BUF, 16, TQ_R | TQ_N, 2);
	tq_desc_at(t, tbl + 32, TQ_BUF + 0x100, 32, TQ_W | TQ_N, 1);
	tq_desc_at(t, tbl + 16, TQ_BUF + 0x200, 1, TQ_W, 0);
	/* The WRITE flag of the indirect descriptor itself is ignored. */
	tq_desc(t, 3, tbl, 48, TQ_I | TQ_W, 0);
	tq_kick(t, 3);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_head, 3);
	assert_int_equal(t->ch.vc_nout, 1);
	assert_int_equal(t->ch.vc_nin, 2);
	assert_int_equal(t->ch.vc_in_bytes, 33);
	assert_ptr_equal(t->ch.vc_iov[1].iov_base, t->ram + TQ_BUF + 0x100);
	assert_ptr_equal(t->ch.vc_iov[2].iov_base, t->ram + TQ_BUF + 0x200);
	assert_int_equal(virtq_push(&t->vq, 3, 33), 0);

	/* After direct descriptors; the table at an unaligned address. */
	tbl = TQ_BUF + 0x20003;
	tq_desc_at(t, tbl, TQ_BUF + 0x300, 64, TQ_W, 0);
	tq_desc(t, 0, TQ_BUF, 4, TQ_R | TQ_N, 1);
	tq_desc(t, 1, tbl, 16, TQ_I, 0);
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_nout, 1);
	assert_int_equal(t->ch.vc_nin, 1);
	assert_ptr_equal(t->ch.vc_iov[1].iov_base, t->ram + TQ_BUF + 0x300);

	/* A full table of VIRTQ_MAX_IOV entries, larger than the queue. */
	{
		unsigned int i;

		tbl = TQ_BUF + 0x30000;
		for (i = 0; i < VIRTQ_MAX_IOV; i++)
			tq_desc_at(t, tbl + 16ULL * i, TQ_BUF + i, 1,
			    i + 1 < VIRTQ_MAX_IOV ? TQ_N : 0,
			    (uint16_t)(i + 1));
		tq_desc(t, 2, tbl, 16 * VIRTQ_MAX_IOV, TQ_I, 0);
		tq_kick(t, 2);
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
		assert_int_equal(t->ch.vc_nout, VIRTQ_MAX_IOV);
	}
}

static void
test_indirect_not_negotiated(void **state)
{
	struct tq *t = *state;
	uint64_t tbl = TQ_BUF + 0x10000;

	tq_start(t, 8, 0);
	tq_desc_at(t, tbl, TQ_BUF, 16, TQ_R, 0);
	tq_desc(t, 0, tbl, 16, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
}

static void
test_indirect_bad(void **state)
{
	struct tq *t = *state;
	uint64_t tbl = TQ_BUF + 0x10000, tbl2 = TQ_BUF + 0x20000;
	unsigned int i;

	tq_start(t, 8, TQ_F_INDIRECT);
	for (i = 0; i < VIRTQ_MAX_IOV + 1; i++)
		tq_desc_at(t, tbl + 16ULL * i, TQ_BUF, 16, TQ_R, 0);

	/* Length 0, not a multiple of 16, more than VIRTQ_MAX_IOV. */
	tq_desc(t, 0, tbl, 0, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, tbl, 24, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, tbl, 15, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, tbl, 16 * (VIRTQ_MAX_IOV + 1), TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, tbl, 0xfffffff0, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);

	/* Outside RAM, and straddling its end. */
	tq_desc(t, 0, TQ_RAM, 16, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, TQ_RAM - 16, 32, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc(t, 0, UINT64_MAX - 15, 32, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);

	/* INDIRECT together with NEXT. */
	tq_desc(t, 1, TQ_BUF, 16, TQ_W, 0);
	tq_desc(t, 0, tbl, 16, TQ_I | TQ_N, 1);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);

	/* Nested: an indirect descriptor inside the table. */
	tq_desc_at(t, tbl2, TQ_BUF, 16, TQ_R, 0);
	tq_desc_at(t, tbl, TQ_BUF, 16, TQ_R | TQ_N, 1);
	tq_desc_at(t, tbl + 16, tbl2, 16, TQ_I, 0);
	tq_desc(t, 0, tbl, 32, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);

	/* A loop inside the table, and next past its end. */
	tq_desc_at(t, tbl, TQ_BUF, 16, TQ_R | TQ_N, 1);
	tq_desc_at(t, tbl + 16, TQ_BUF, 16, TQ_R | TQ_N, 0);
	tq_desc(t, 0, tbl, 32, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	tq_desc_at(t, tbl + 16, TQ_BUF, 16, TQ_R | TQ_N, 2);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);

	/* Writable in the main chain, readable in the table. */
	tq_desc_at(t, tbl, TQ_BUF, 16, TQ_R, 0);
	tq_desc(t, 0, TQ_BUF, 16, TQ_W | TQ_N, 1);
	tq_desc(t, 1, tbl, 16, TQ_I, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
}

static void
test_write_before_read(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 0, TQ_BUF, 16, TQ_R | TQ_N, 1);
	tq_desc(t, 1, TQ_BUF, 16, TQ_W | TQ_N, 2);
	tq_desc(t, 2, TQ_BUF, 16, TQ_R, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	/* Even when the readable one is empty. */
	tq_desc(t, 2, TQ_BUF, 0, TQ_R, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
	/* Or the writable one. */
	tq_desc(t, 1, TQ_BUF, 0, TQ_W | TQ_N, 2);
	tq_desc(t, 2, TQ_BUF, 16, TQ_R, 0);
	tq_kick(t, 0);
	tq_expect_bad(t, 0);
}

static void
test_bad_addresses(void **state)
{
	struct tq *t = *state;
	const struct {
		uint64_t	addr;
		uint32_t	len;
		bool		ok;
	} cases[] = {
		{ TQ_RAM - 16, 16, true },	/* ends at the end of RAM */
		{ TQ_RAM - 16, 17, false },	/* straddles the end */
		{ TQ_RAM, 1, false },		/* just past */
		{ TQ_RAM + 4096, 16, false },
		{ GM_HIGH_START, 16, false },
		{ UINT64_MAX - 10, 100, false },	/* wraps past 2^64 */
		{ UINT64_MAX, 1, false },
		{ 0, 0xffffffff, false },	/* longer than RAM */
		{ 0, (uint32_t)TQ_RAM, true },	/* all of RAM */
	};
	size_t i;

	tq_start(t, 8, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tq_desc(t, 0, cases[i].addr, cases[i].len, TQ_W, 0);
		tq_kick(t, 0);
		if (!cases[i].ok) {
			tq_expect_bad(t, 0);
			continue;
		}
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
		assert_ptr_equal(t->ch.vc_iov[0].iov_base,
		    t->ram + cases[i].addr);
		assert_int_equal(virtq_push(&t->vq, 0, 0), 0);
	}
	/* A zero-length buffer is not mapped, wherever it points. */
	tq_desc(t, 0, UINT64_MAX, 0, TQ_W, 0);
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(t->ch.vc_nin, 0);
}

/*
 * Two RAM regions around the PCI hole (gm_init() maps with MAP_NORESERVE:
 * only touched pages cost): a buffer may not span the hole, and a chain's
 * bytes in one direction may not exceed 4 GiB.
 */
static void
test_two_regions(void **state)
{
	struct gm gm;
	struct virtq vq;
	struct virtq_chain *ch = &((struct tq *)*state)->ch;
	uint8_t *ram;
	uint64_t d = 0x10000, a = 0x20000, u = 0x30000;

	assert_int_equal(gm_init(&gm, 3 * TQ_GIB + (2ULL << 20)), 0);
	assert_int_equal(gm.gm_nregions, 2);
	ram = gm.gm_map;
	assert_int_equal(virtq_setup(&vq, &gm, 4, d, a, u, 0), 0);

	{
		const struct {
			uint64_t	addr;
			uint32_t	len;
			int		rc;
		} cases[] = {
			{ GM_LOW_END - 16, 16, 1 },
			{ GM_LOW_END - 8, 16, -EBADMSG },	/* into hole */
			{ GM_LOW_END, 16, -EBADMSG },		/* in hole */
			{ GM_HIGH_START - 8, 16, -EBADMSG },	/* out of it */
			{ GM_HIGH_START, 16, 1 },
			{ GM_HIGH_START + (2ULL << 20) - 8, 16, -EBADMSG },
		};
		unsigned int i;
		uint64_t e;

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			uint64_t addr = htole64(cases[i].addr);
			uint32_t len = htole32(cases[i].len);
			uint16_t idx = htole16((uint16_t)(i + 1));

			memset(ram + d, 0, 16);
			memcpy(ram + d, &addr, 8);
			memcpy(ram + d + 8, &len, 4);
			memset(ram + a + 4 + 2 * (i % 4), 0, 2);
			memcpy(ram + a + 2, &idx, 2);
			assert_int_equal(virtq_pop(&vq, ch), cases[i].rc);
			assert_int_equal(virtq_push(&vq, 0, 0), 0);
		}
		/* Two readable 3 GiB - 64 KiB buffers: over 4 GiB in all. */
		for (e = 0; e < 2; e++) {
			uint64_t addr = htole64(0x10000);
			uint32_t len = htole32((uint32_t)(GM_LOW_END -
			    0x10000));
			uint16_t fl = htole16(e == 0 ? TQ_N : 0);
			uint16_t nx = htole16(1);

			memcpy(ram + d + 16 * e, &addr, 8);
			memcpy(ram + d + 16 * e + 8, &len, 4);
			memcpy(ram + d + 16 * e + 12, &fl, 2);
			memcpy(ram + d + 16 * e + 14, &nx, 2);
		}
		{
			uint16_t idx = htole16(7);

			memset(ram + a + 4 + 2 * 2, 0, 2);
			memcpy(ram + a + 2, &idx, 2);
		}
		assert_int_equal(virtq_pop(&vq, ch), -EBADMSG);
		assert_non_null(ch->vc_err);
	}
	gm_fini(&gm);
}

static void
test_setup(void **state)
{
	struct tq *t = *state;
	struct virtq vq;
	uint64_t end;

	/* Sizes: power of two, 1..32768. */
	assert_int_equal(virtq_setup(&vq, &t->gm, 0, TQ_DESC, TQ_AVAIL,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_pop(&vq, &t->ch), -EINVAL);
	assert_int_equal(virtq_push(&vq, 0, 0), -EINVAL);
	assert_false(virtq_needs_notify(&vq));
	assert_false(virtq_has_buffers(&vq));
	assert_false(virtq_enable_notify(&vq));
	virtq_disable_notify(&vq);
	virtq_set_avail_event(&vq);
	assert_int_equal(virtq_setup(&vq, &t->gm, 3, TQ_DESC, TQ_AVAIL,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 65535, TQ_DESC, TQ_AVAIL,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 1, TQ_DESC, TQ_AVAIL,
	    TQ_USED, 0), 0);
	assert_int_equal(virtq_setup(&vq, &t->gm, 32768, 0, 0x80000,
	    0x100000, TQ_F_EVENT | TQ_F_INDIRECT), 0);

	/* Alignment: 16, 2, 4. */
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC + 8, TQ_AVAIL,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL + 1,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL,
	    TQ_USED + 2, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC + 16,
	    TQ_AVAIL + 2, TQ_USED + 4, 0), 0);

	/* Outside RAM, or wrapping. */
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_RAM, TQ_AVAIL,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_RAM,
	    TQ_USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL,
	    UINT64_MAX - 3, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, UINT64_MAX - 15,
	    TQ_AVAIL, TQ_USED, 0), -EINVAL);

	/* Each extent exactly at the end of RAM, then one byte over. */
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_RAM - 128, TQ_AVAIL,
	    TQ_USED, 0), 0);
	assert_int_equal(virtq_setup(&vq, &t->gm, 16, TQ_RAM - 128, TQ_AVAIL,
	    TQ_USED, 0), -EINVAL);
	/* avail: 4 + 2n, plus used_event only with EVENT_IDX. */
	end = TQ_RAM - (4 + 2 * 8);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, end, TQ_USED, 0),
	    0);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, end, TQ_USED,
	    TQ_F_EVENT), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, end - 2, TQ_USED,
	    TQ_F_EVENT), 0);
	/* used: 4 + 8n, plus avail_event only with EVENT_IDX. */
	end = TQ_RAM - (4 + 8 * 8);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL, end, 0),
	    0);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL, end,
	    TQ_F_EVENT), -EINVAL);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL,
	    end - 4, TQ_F_EVENT), 0);
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL,
	    end + 4, 0), -EINVAL);

	/* Only the ring feature bits are kept. */
	assert_int_equal(virtq_setup(&vq, &t->gm, 8, TQ_DESC, TQ_AVAIL,
	    TQ_USED, ~0ULL), 0);
	assert_int_equal(vq.vq_features, TQ_F_EVENT | TQ_F_INDIRECT);
}

static void
test_push_bad(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	/* Nothing popped: nothing to complete. */
	assert_int_equal(virtq_push(&t->vq, 0, 0), -EINVAL);
	tq_desc(t, 0, TQ_BUF, 8, 0, 0);
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(virtq_push(&t->vq, 8, 0), -EINVAL);
	assert_int_equal(virtq_push(&t->vq, 0xffff, 0), -EINVAL);
	assert_int_equal(tq_used_idx(t), 0);
	assert_int_equal(virtq_push(&t->vq, 0, 0), 0);
	assert_int_equal(virtq_push(&t->vq, 0, 0), -EINVAL);
	assert_int_equal(tq_used_idx(t), 1);
	/* A head other than the one in flight. */
	tq_kick(t, 0);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_int_equal(virtq_push(&t->vq, 1, 0), -EINVAL);
	assert_int_equal(tq_used_idx(t), 1);
	assert_int_equal(virtq_push(&t->vq, 0, 0), 0);
}

/* Pop and push n chains (descriptor 0, always valid). */
static void
tq_roundtrip(struct tq *t, unsigned int n)
{
	while (n-- > 0) {
		tq_kick(t, 0);
		assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
		assert_int_equal(virtq_push(&t->vq, 0, 0), 0);
	}
}

static void
test_event_idx(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, TQ_F_EVENT);
	tq_desc(t, 0, TQ_BUF, 8, TQ_W, 0);
	assert_false(virtq_needs_notify(&t->vq));	/* nothing pushed */

	tq_set_used_event(t, 0);
	tq_roundtrip(t, 1);				/* used 0 -> 1 */
	assert_true(virtq_needs_notify(&t->vq));
	assert_false(virtq_needs_notify(&t->vq));
	tq_roundtrip(t, 1);				/* 1 -> 2, event 0 */
	assert_false(virtq_needs_notify(&t->vq));

	tq_set_used_event(t, 4);
	tq_roundtrip(t, 2);				/* 2 -> 4 */
	assert_false(virtq_needs_notify(&t->vq));
	tq_roundtrip(t, 1);				/* 4 -> 5 crosses 4 */
	assert_true(virtq_needs_notify(&t->vq));

	/* A batch that crosses the event in its middle. */
	tq_set_used_event(t, 6);
	tq_roundtrip(t, 3);				/* 5 -> 8 */
	assert_true(virtq_needs_notify(&t->vq));

	/* The event far behind (driver slow): no notification. */
	tq_set_used_event(t, 2);
	tq_roundtrip(t, 1);
	assert_false(virtq_needs_notify(&t->vq));

	/* Across the 16-bit wrap. */
	tq_start(t, 8, TQ_F_EVENT);
	tq_desc(t, 0, TQ_BUF, 8, TQ_W, 0);
	tq_set_indices(t, 65533);
	tq_set_used_event(t, 65535);
	tq_roundtrip(t, 2);				/* 65533 -> 65535 */
	assert_false(virtq_needs_notify(&t->vq));
	tq_roundtrip(t, 2);				/* 65535 -> 1 */
	assert_true(virtq_needs_notify(&t->vq));
	tq_set_used_event(t, 1);
	tq_roundtrip(t, 1);				/* 1 -> 2 */
	assert_true(virtq_needs_notify(&t->vq));
	tq_set_used_event(t, 65534);		/* behind, across the wrap */
	tq_roundtrip(t, 1);
	assert_false(virtq_needs_notify(&t->vq));

	/* EVENT_IDX ignores NO_INTERRUPT. */
	tq_w16(t, TQ_AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	tq_set_used_event(t, t->vq.vq_used_idx);
	tq_roundtrip(t, 1);
	assert_true(virtq_needs_notify(&t->vq));

	/* 65536 pushes since the last check: cannot tell, so notify. */
	tq_set_used_event(t, (uint16_t)(t->vq.vq_used_idx - 1));
	tq_roundtrip(t, 65536);
	assert_true(virtq_needs_notify(&t->vq));
}

static void
test_no_interrupt(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 0, TQ_BUF, 8, TQ_W, 0);
	tq_roundtrip(t, 1);
	assert_true(virtq_needs_notify(&t->vq));
	assert_false(virtq_needs_notify(&t->vq));
	tq_w16(t, TQ_AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	tq_roundtrip(t, 2);
	assert_false(virtq_needs_notify(&t->vq));
	tq_w16(t, TQ_AVAIL, 0);
	tq_roundtrip(t, 1);
	assert_true(virtq_needs_notify(&t->vq));
	/* used_event is not consulted without EVENT_IDX. */
	tq_set_used_event(t, 1000);
	tq_roundtrip(t, 1);
	assert_true(virtq_needs_notify(&t->vq));
}

static void
test_notify_suppression(void **state)
{
	struct tq *t = *state;

	tq_start(t, 8, 0);
	tq_desc(t, 0, TQ_BUF, 8, TQ_W, 0);
	virtq_disable_notify(&t->vq);
	assert_int_equal(tq_r16(t, TQ_USED), VIRTQ_USED_F_NO_NOTIFY);
	assert_false(virtq_enable_notify(&t->vq));
	assert_int_equal(tq_r16(t, TQ_USED), 0);
	/* A buffer that arrives while disabled is seen on re-enable. */
	virtq_disable_notify(&t->vq);
	tq_kick(t, 0);
	assert_true(virtq_enable_notify(&t->vq));
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_false(virtq_has_buffers(&t->vq));
	assert_int_equal(tq_avail_event(t), 0);	/* untouched */

	tq_start(t, 8, TQ_F_EVENT);
	tq_desc(t, 0, TQ_BUF, 8, TQ_W, 0);
	tq_roundtrip(t, 3);
	virtq_disable_notify(&t->vq);
	assert_int_equal(tq_r16(t, TQ_USED), 0);	/* flags unused */
	assert_int_equal(tq_avail_event(t), 0);
	virtq_set_avail_event(&t->vq);
	assert_int_equal(tq_avail_event(t), 3);
	tq_kick(t, 0);
	assert_true(virtq_enable_notify(&t->vq));
	assert_int_equal(tq_avail_event(t), 3);
	assert_int_equal(virtq_pop(&t->vq, &t->ch), 1);
	assert_false(virtq_enable_notify(&t->vq));
	assert_int_equal(tq_avail_event(t), 4);
}

/*
 * TOCTOU.  virtq.c reads each descriptor once (vq_desc_load) and checks
 * only the copy.  This cannot be observed directly, so the test makes a
 * re-read harmful: a second thread flips descriptor 0 between a buffer at
 * the end of RAM and one that would run past it, while the main thread
 * pops.  Every chain must be either the first buffer exactly or rejected;
 * a walk that checked one version and used another would return an iovec
 * past RAM (and ASan would see the access below).
 */
struct tq_race {
	struct tq	*tr_t;
	volatile bool	 tr_stop;
};

static void *
tq_flipper(void *arg)
{
	struct tq_race *r = arg;
	uint8_t *d = r->tr_t->ram + TQ_DESC;
	uint64_t good[2], bad[2];
	unsigned long i;

	good[0] = htole64(TQ_RAM - 64);
	good[1] = htole64(64 | ((uint64_t)VIRTQ_DESC_F_WRITE << 32));
	bad[0] = htole64(TQ_RAM - 32);
	bad[1] = htole64(0x10000 | ((uint64_t)VIRTQ_DESC_F_WRITE << 32));
	for (i = 0; !r->tr_stop; i++) {
		const uint64_t *w = (i & 1) ? bad : good;

		__atomic_store_n((uint64_t *)(void *)d, w[0], __ATOMIC_RELAXED);
		__atomic_store_n((uint64_t *)(void *)(d + 8), w[1],
		    __ATOMIC_RELAXED);
	}
	return NULL;
}

#define TQ_RACE_POPS	1000000

static void
test_toctou_race(void **state)
{
	struct tq *t = *state;
	struct tq_race r = { t, false };
	pthread_t th;
	unsigned int i, good = 0, bad = 0, wrong = 0;

	tq_start(t, 1, 0);
	tq_desc(t, 0, TQ_RAM - 64, 64, TQ_W, 0);
	assert_int_equal(pthread_create(&th, NULL, tq_flipper, &r), 0);
	/* No assert while the flipper runs: it must stop before teardown. */
	for (i = 0; i < TQ_RACE_POPS && wrong == 0; i++) {
		int rc;

		tq_kick(t, 0);
		rc = virtq_pop(&t->vq, &t->ch);
		if (rc == 1 && t->ch.vc_nin == 1 &&
		    t->ch.vc_iov[0].iov_base == t->ram + TQ_RAM - 64 &&
		    t->ch.vc_iov[0].iov_len == 64) {
			memset(t->ch.vc_iov[0].iov_base, 0xa5, 64);
			good++;
		} else if (rc == -EBADMSG)
			bad++;
		else
			wrong++;
		if (virtq_push(&t->vq, 0, 0) != 0)
			wrong++;
	}
	r.tr_stop = true;
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(wrong, 0);
	assert_int_equal(good + bad, TQ_RACE_POPS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single, tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_read_write_mix, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_long_chain, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_too_many_iov, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_wrap, tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_loop, tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_chain_longer_than_queue,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_next_out_of_range,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_head_out_of_range,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_head_in_flight, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_avail_idx_too_far,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_avail_idx_backwards,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_indirect, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_indirect_bad, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_write_before_read,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_bad_addresses, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_two_regions, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_setup, tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_push_bad, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_event_idx, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_no_interrupt, tq_alloc,
		    tq_free),
		cmocka_unit_test_setup_teardown(test_notify_suppression,
		    tq_alloc, tq_free),
		cmocka_unit_test_setup_teardown(test_toctou_race, tq_alloc,
		    tq_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
