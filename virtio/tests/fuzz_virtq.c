/*
 * libFuzzer target for split virtqueues (virtio/virtq.c, docs/virtq.md):
 * the chain walk a hostile driver controls.
 *
 * Input: a 16-byte header of queue registers, then a RAM image.
 *   [0]	  size: 1 << (b & 15), or with bit 7 set the raw u16 at [1..2]
 *   [3]	  features: bit 0 INDIRECT_DESC, bit 1 EVENT_IDX
 *   [4..5]   descriptor table GPA (u16, little-endian)
 *   [6..7]   avail ring GPA
 *   [8..9]   used ring GPA
 *   [10..11] starting index of both rings (set in struct virtq directly)
 *   [12]	  bit 0: complete at the end, in reverse, instead of at once
 *   [13..15] unused
 * The rest is guest RAM at GPA 0, in a heap buffer of exactly its size so
 * that ASan sees any access past it.
 *
 * virtq_setup(), then up to FZ_MAX_POPS virtq_pop() calls, each completed
 * with virtq_push().  Besides what ASan and UBSan catch, every result is
 * checked against a plain model of §2.7 written here (fz_expect: the same
 * checks, done the obvious way on the single-threaded image):
 *   - the return value (0, 1, -EBADMSG, -EINVAL) and the head;
 *   - every iovec: the host pointer gm_ptr() gives for the model's buffer,
 *     inside the RAM image, non-empty; readable ones first; counts within
 *     VIRTQ_MAX_IOV and byte sums that match;
 *   - -EINVAL leaves the queue broken and later pops fail the same way;
 *   - after each push, used->idx in RAM is the device's used index, and no
 *     more than size chains are ever in flight, each with its own head.
 * A broken promise aborts with a message, which libFuzzer reports.
 *
 * Build and run: the fuzz_virtq rule in the Makefile; seeds are in
 * virtio/tests/corpus/virtq/.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gm.h"
#include "virtq.h"

#define FZ_HDR		16
#define FZ_MAX_POPS	256

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	fz_fail(const char *fmt, ...)
		    __attribute__((__format__(__printf__, 1, 2), __noreturn__));

static void
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_virtq: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The model's view of one chain. */
struct fz_chain {
	unsigned int	 fc_niov, fc_nout;
	uint64_t	 fc_gpa[VIRTQ_MAX_IOV];
	uint32_t	 fc_len[VIRTQ_MAX_IOV];
	uint64_t	 fc_out, fc_in;
};

static uint16_t
fz_r16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

/* Read descriptor i of the table at gpa; the table is known to be in RAM. */
static void
fz_desc(const struct gm *gm, uint64_t gpa, uint32_t i, uint64_t *addr,
    uint32_t *len, uint16_t *flags, uint16_t *next)
{
	const uint8_t *p = gm_ptr(gm, gpa + 16ULL * i, 16);

	memcpy(addr, p, 8);
	memcpy(len, p + 8, 4);
	memcpy(flags, p + 12, 2);
	memcpy(next, p + 14, 2);
	*addr = le64toh(*addr);
	*len = le32toh(*len);
	*flags = le16toh(*flags);
	*next = le16toh(*next);
}

/* §2.7.5 as docs/virtq.md states it: 0 for a good chain, -EBADMSG. */
static int
fz_model_walk(const struct virtq *vq, uint16_t head, struct fz_chain *c)
{
	uint64_t table = vq->vq_desc_gpa, addr;
	uint32_t n = vq->vq_size, i = head, hops, len;
	uint16_t flags, next;
	bool in_indirect = false, seen_w = false;

	memset(c, 0, sizeof(*c));
	for (hops = 1;; hops++) {
		if (hops > n)
			return -EBADMSG;
		fz_desc(vq->vq_gm, table, i, &addr, &len, &flags, &next);
		if (flags & VIRTQ_DESC_F_INDIRECT) {
			if (!(vq->vq_features &
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC)) ||
			    in_indirect || (flags & VIRTQ_DESC_F_NEXT) ||
			    len == 0 || len % 16 != 0 ||
			    len / 16 > VIRTQ_MAX_IOV ||
			    gm_ptr(vq->vq_gm, addr, len) == NULL)
				return -EBADMSG;
			table = addr;
			n = len / 16;
			i = 0;
			hops = 0;
			in_indirect = true;
			continue;
		}
		if (flags & VIRTQ_DESC_F_WRITE)
			seen_w = true;
		else if (seen_w)
			return -EBADMSG;
		if (len != 0) {
			if (c->fc_niov == VIRTQ_MAX_IOV ||
			    gm_ptr(vq->vq_gm, addr, len) == NULL)
				return -EBADMSG;
			c->fc_gpa[c->fc_niov] = addr;
			c->fc_len[c->fc_niov++] = len;
			if (seen_w)
				c->fc_in += len;
			else {
				c->fc_out += len;
				c->fc_nout++;
			}
			if (c->fc_in > UINT32_MAX || c->fc_out > UINT32_MAX)
				return -EBADMSG;
		}
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (next >= n)
			return -EBADMSG;
		i = next;
	}
}

/* What virtq_pop() must return now; *head for 1 and -EBADMSG. */
static int
fz_expect(const struct virtq *vq, uint16_t *head, struct fz_chain *c)
{
	uint16_t idx, ahead, inflight;

	if (vq->vq_broken)
		return -EINVAL;
	if (vq->vq_last_avail == vq->vq_avail_shadow) {
		idx = fz_r16(vq->vq_avail + 2);
		if (idx == vq->vq_last_avail)
			return 0;
		ahead = (uint16_t)(idx - vq->vq_used_idx);
		inflight = (uint16_t)(vq->vq_last_avail - vq->vq_used_idx);
		if (ahead > vq->vq_size || ahead < inflight)
			return -EINVAL;
	}
	*head = fz_r16(vq->vq_avail + 4 +
	    2 * (size_t)(vq->vq_last_avail & (vq->vq_size - 1)));
	if (*head >= vq->vq_size ||
	    (vq->vq_inflight[*head / 64] & (1ULL << (*head % 64))))
		return -EINVAL;
	return fz_model_walk(vq, *head, c) == 0 ? 1 : -EBADMSG;
}

static void
fz_check_chain(const struct virtq_chain *ch, const struct fz_chain *c,
    const uint8_t *ram, size_t ram_size)
{
	uint64_t out = 0, in = 0;
	unsigned int i, n = ch->vc_nout + ch->vc_nin;

	if (ch->vc_nout > VIRTQ_MAX_IOV || ch->vc_nin > VIRTQ_MAX_IOV ||
	    n > VIRTQ_MAX_IOV)
		fz_fail("counts %u + %u", ch->vc_nout, ch->vc_nin);
	if (n != c->fc_niov || ch->vc_nout != c->fc_nout)
		fz_fail("%u/%u iovecs, model %u/%u", ch->vc_nout, n,
		    c->fc_nout, c->fc_niov);
	for (i = 0; i < n; i++) {
		const uint8_t *p = ch->vc_iov[i].iov_base;
		size_t len = ch->vc_iov[i].iov_len;

		if (len == 0 || p < ram || p > ram + ram_size ||
		    len > (size_t)(ram + ram_size - p))
			fz_fail("iovec %u outside RAM", i);
		if (p != ram + c->fc_gpa[i] || len != c->fc_len[i])
			fz_fail("iovec %u differs from the model", i);
		if (i < ch->vc_nout)
			out += len;
		else
			in += len;
	}
	if (out != ch->vc_out_bytes || in != ch->vc_in_bytes ||
	    out != c->fc_out || in != c->fc_in)
		fz_fail("byte counts");
}

static void
fz_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (virtq_push(vq, head, len) != 0)
		fz_fail("push of head %u failed", head);
	if (fz_r16(vq->vq_used + 2) != vq->vq_used_idx)
		fz_fail("used->idx not published");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain ch;
	static struct fz_chain model;
	static uint16_t deferred[VIRTQ_MAX_SIZE];
	unsigned int ndeferred = 0, pops;
	struct virtq vq;
	struct gm gm;
	uint8_t *ram;
	size_t ram_size;
	uint16_t qsize, start, head = 0;
	uint64_t features = 0;
	bool defer;
	int rc, want;

	if (size <= FZ_HDR)
		return 0;
	qsize = (data[0] & 0x80) ? fz_r16(data + 1) :
	    (uint16_t)(1u << (data[0] & 15));
	if (data[3] & 1)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[3] & 2)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	start = fz_r16(data + 10);
	defer = data[12] & 1;
	ram_size = size - FZ_HDR;
	ram = malloc(ram_size);
	if (ram == NULL)
		return 0;
	memcpy(ram, data + FZ_HDR, ram_size);
	gm_init_from(&gm, ram, ram_size);

	if (virtq_setup(&vq, &gm, qsize, fz_r16(data + 4), fz_r16(data + 6),
	    fz_r16(data + 8), features) != 0) {
		if (virtq_pop(&vq, &ch) != -EINVAL)
			fz_fail("pop on a queue that failed setup");
		goto out;
	}
	vq.vq_last_avail = vq.vq_avail_shadow = start;
	vq.vq_used_idx = vq.vq_signalled_used = start;

	for (pops = 0; pops < FZ_MAX_POPS; pops++) {
		want = fz_expect(&vq, &head, &model);
		rc = virtq_pop(&vq, &ch);
		if (rc != want)
			fz_fail("pop returned %d, model %d", rc, want);
		if ((uint16_t)(vq.vq_last_avail - vq.vq_used_idx) > vq.vq_size)
			fz_fail("more than size chains in flight");
		if (rc == 0) {
			/* The re-enable race check must agree. */
			if (virtq_enable_notify(&vq))
				fz_fail("buffers after pop returned 0");
			break;
		}
		if (rc == -EINVAL) {
			if (!virtq_is_broken(&vq) || vq.vq_err == NULL ||
			    virtq_pop(&vq, &ch) != -EINVAL)
				fz_fail("-EINVAL without a broken queue");
			break;
		}
		if (ch.vc_head != head)
			fz_fail("head %u, model %u", ch.vc_head, head);
		if (rc == -EBADMSG) {
			if (ch.vc_err == NULL || ch.vc_nout + ch.vc_nin != 0)
				fz_fail("-EBADMSG with iovecs or no reason");
			fz_push(&vq, head, 0);
			continue;
		}
		fz_check_chain(&ch, &model, ram, ram_size);
		/* Touch every byte, as a device would. */
		{
			unsigned int i;
			volatile uint8_t sum = 0;

			for (i = 0; i < ch.vc_nout; i++) {
				const uint8_t *b = ch.vc_iov[i].iov_base;

				sum ^= b[0] ^ b[ch.vc_iov[i].iov_len - 1];
			}
			for (; i < ch.vc_nout + ch.vc_nin; i++)
				memset(ch.vc_iov[i].iov_base, 0x5a,
				    ch.vc_iov[i].iov_len);
			(void)sum;
		}
		if (defer)
			deferred[ndeferred++] = head;
		else
			fz_push(&vq, head, ch.vc_in_bytes);
		virtq_disable_notify(&vq);
	}
	while (ndeferred > 0)
		fz_push(&vq, deferred[--ndeferred], 0);
	(void)virtq_needs_notify(&vq);
	virtq_set_avail_event(&vq);
	if (virtq_push(&vq, 0, 0) != -EINVAL)
		fz_fail("push with nothing in flight");
out:
	free(ram);
	return 0;
}
