/*
 * Split virtqueues, device side (virtio 1.2 §2.7): setup checks, the chain
 * walk (§2.7.5, indirect tables §2.7.5.3), the used ring (§2.7.8) and
 * notification suppression (§2.7.7, §2.7.10).  The only code in Hull that
 * touches the rings; docs/virtq.md explains the checks and their errors.
 *
 * Every guest-shared field is read or written with an __atomic builtin:
 * the driver runs on other CPUs at the same time, and a plain access would
 * let the compiler read a field twice or tear it.  Each guest value is read
 * once into a local and only the local is checked and used (STYLE §9.4).
 *
 * SAFETY: the host pointers vq_desc, vq_avail and vq_used were checked by
 * virtq_setup() to cover the whole of their rings in one RAM region, and
 * every offset below is computed from an index already reduced modulo the
 * queue size or checked against it, so each access stays inside its ring.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gm.h"
#include "virtq.h"

/* Offsets inside the rings (§2.7.6, §2.7.8). */
#define VQ_AVAIL_FLAGS		0
#define VQ_AVAIL_IDX		2
#define VQ_AVAIL_RING		4
#define VQ_USED_FLAGS		0
#define VQ_USED_IDX		2
#define VQ_USED_RING		4
#define VQ_USED_ELEM_SIZE	8
#define VQ_DESC_ENTRY_SIZE	16

/* A descriptor, copied out of guest memory once (§2.7.5). */
struct vq_desc {
	uint64_t	 vd_addr;
	uint32_t	 vd_len;
	uint16_t	 vd_flags;
	uint16_t	 vd_next;
};

static bool
vq_has_feature(const struct virtq *vq, unsigned int bit)
{
	return (vq->vq_features & (1ULL << bit)) != 0;
}

/* SAFETY: p is 2-aligned and inside a ring (file comment). */
static uint16_t
vq_load16(const uint8_t *p, int order)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p,
	    order));
}

static void
vq_store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static void
vq_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

/*
 * Copy the 16-byte descriptor at p into *d: the only read of it.  The main
 * table is 16-aligned, so its entries are read with two 8-byte atomic
 * loads.  An indirect table need not be aligned (the spec asks nothing);
 * then the bytes are read through a volatile pointer, which the compiler
 * may not repeat either.
 * SAFETY: the caller checked [p, p + 16) lies in guest RAM.
 */
static void
vq_desc_load(const uint8_t *p, struct vq_desc *d)
{
	uint64_t w0, w1;

	if (((uintptr_t)p & 7) == 0) {
		w0 = __atomic_load_n((const uint64_t *)(const void *)p,
		    __ATOMIC_RELAXED);
		w1 = __atomic_load_n((const uint64_t *)(const void *)(p + 8),
		    __ATOMIC_RELAXED);
	} else {
		const volatile uint8_t *vp = p;
		uint8_t b[VQ_DESC_ENTRY_SIZE];
		unsigned int i;

		for (i = 0; i < sizeof(b); i++)
			b[i] = vp[i];
		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
	}
	w0 = le64toh(w0);
	w1 = le64toh(w1);
	d->vd_addr = w0;
	d->vd_len = (uint32_t)w1;
	d->vd_flags = (uint16_t)(w1 >> 32);
	d->vd_next = (uint16_t)(w1 >> 48);
}

/* Host pointer for a ring of len bytes at gpa, aligned on both sides. */
static uint8_t *
vq_map_ring(const struct gm *gm, uint64_t gpa, uint64_t len, uint64_t align)
{
	uint8_t *p;

	if (gpa & (align - 1))
		return NULL;
	p = gm_ptr(gm, gpa, len);
	/* Host alignment is ours to guarantee, but atomics depend on it. */
	if (p == NULL || ((uintptr_t)p & (align - 1)) != 0)
		return NULL;
	return p;
}

int
virtq_setup(struct virtq *vq, const struct gm *gm, uint16_t size,
    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
    uint64_t features)
{
	uint64_t evt;

	memset(vq, 0, sizeof(*vq));
	vq->vq_err = "not set up";
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) != 0)
		return -EINVAL;
	features &= (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	    (1ULL << VIRTIO_RING_F_EVENT_IDX);
	/* The event fields are touched only when EVENT_IDX is negotiated. */
	evt = (features & (1ULL << VIRTIO_RING_F_EVENT_IDX)) ? 2 : 0;
	vq->vq_desc = vq_map_ring(gm, desc_gpa, VIRTQ_DESC_SIZE(size), 16);
	vq->vq_avail = vq_map_ring(gm, avail_gpa,
	    VIRTQ_AVAIL_SIZE(size) - 2 + evt, 2);
	vq->vq_used = vq_map_ring(gm, used_gpa,
	    VIRTQ_USED_SIZE(size) - 2 + evt, 4);
	if (vq->vq_desc == NULL || vq->vq_avail == NULL ||
	    vq->vq_used == NULL) {
		memset(vq, 0, sizeof(*vq));
		vq->vq_err = "not set up";
		return -EINVAL;
	}
	vq->vq_gm = gm;
	vq->vq_size = size;
	vq->vq_features = features;
	vq->vq_desc_gpa = desc_gpa;
	vq->vq_avail_gpa = avail_gpa;
	vq->vq_used_gpa = used_gpa;
	vq->vq_err = NULL;
	return 0;
}

static bool
vq_inflight(const struct virtq *vq, uint16_t head)
{
	return (vq->vq_inflight[head / 64] >> (head % 64)) & 1;
}

static void
vq_set_inflight(struct virtq *vq, uint16_t head, bool on)
{
	if (on)
		vq->vq_inflight[head / 64] |= 1ULL << (head % 64);
	else
		vq->vq_inflight[head / 64] &= ~(1ULL << (head % 64));
}

static int
vq_break(struct virtq *vq, const char *why)
{
	vq->vq_broken = true;
	vq->vq_err = why;
	return -EINVAL;
}

static int
vq_bad_chain(struct virtq_chain *ch, const char *why)
{
	ch->vc_err = why;
	ch->vc_nout = ch->vc_nin = 0;
	ch->vc_out_bytes = ch->vc_in_bytes = 0;
	return -EBADMSG;
}

/*
 * Append the buffer of one direct descriptor to the chain.  *seen_write
 * says whether a writable descriptor, even an empty one, came before.
 */
static int
vq_add_buf(const struct virtq *vq, struct virtq_chain *ch,
    const struct vq_desc *d, bool *seen_write)
{
	bool writable = (d->vd_flags & VIRTQ_DESC_F_WRITE) != 0;
	unsigned int n = ch->vc_nout + ch->vc_nin;
	void *p;

	/* §2.7.4.2: readable descriptors all come before writable ones. */
	if (!writable && *seen_write)
		return vq_bad_chain(ch, "readable after writable");
	*seen_write |= writable;
	/* A zero-length buffer carries nothing: no iovec, nothing mapped. */
	if (d->vd_len == 0)
		return 0;
	if (n >= VIRTQ_MAX_IOV)
		return vq_bad_chain(ch, "more than VIRTQ_MAX_IOV buffers");
	p = gm_ptr(vq->vq_gm, d->vd_addr, d->vd_len);
	if (p == NULL)
		return vq_bad_chain(ch, "buffer outside guest RAM");
	if (writable) {
		if (d->vd_len > UINT32_MAX - ch->vc_in_bytes)
			return vq_bad_chain(ch, "writable bytes exceed 4 GiB");
		ch->vc_in_bytes += d->vd_len;
		ch->vc_nin++;
	} else {
		if (d->vd_len > UINT32_MAX - ch->vc_out_bytes)
			return vq_bad_chain(ch, "readable bytes exceed 4 GiB");
		ch->vc_out_bytes += d->vd_len;
		ch->vc_nout++;
	}
	ch->vc_iov[n].iov_base = p;
	ch->vc_iov[n].iov_len = d->vd_len;
	return 0;
}

/*
 * Walk the chain at head (already < size).  Hop budget: the queue size in
 * the main table (a longer chain repeats a descriptor, so a loop ends here
 * too), the entry count in an indirect table.
 */
static int
vq_walk(const struct virtq *vq, struct virtq_chain *ch, uint16_t head)
{
	const uint8_t *table = vq->vq_desc;
	uint32_t nentries = vq->vq_size, idx = head, hops = 0;
	bool indirect = false, seen_write = false;
	struct vq_desc d;
	int rc;

	for (;;) {
		if (hops++ >= nentries)
			return vq_bad_chain(ch, indirect ?
			    "indirect chain loops" :
			    "chain longer than the queue (loop?)");
		/* idx < nentries: the entry lies inside its table. */
		vq_desc_load(table + (size_t)idx * VQ_DESC_ENTRY_SIZE, &d);
		if (d.vd_flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq_has_feature(vq, VIRTIO_RING_F_INDIRECT_DESC))
				return vq_bad_chain(ch,
				    "indirect descriptor not negotiated");
			if (indirect)
				return vq_bad_chain(ch,
				    "indirect descriptor in an indirect table");
			if (d.vd_flags & VIRTQ_DESC_F_NEXT)
				return vq_bad_chain(ch, "INDIRECT with NEXT");
			if (d.vd_len == 0 || d.vd_len % VQ_DESC_ENTRY_SIZE != 0)
				return vq_bad_chain(ch,
				    "indirect table length 0 or not 16*n");
			if (d.vd_len / VQ_DESC_ENTRY_SIZE > VIRTQ_MAX_IOV)
				return vq_bad_chain(ch,
				    "indirect table too long");
			table = gm_ptr(vq->vq_gm, d.vd_addr, d.vd_len);
			if (table == NULL)
				return vq_bad_chain(ch,
				    "indirect table outside guest RAM");
			/* §2.7.5.3.2: the WRITE flag here is ignored. */
			nentries = d.vd_len / VQ_DESC_ENTRY_SIZE;
			indirect = true;
			idx = 0;
			hops = 0;
			continue;
		}
		rc = vq_add_buf(vq, ch, &d, &seen_write);
		if (rc < 0)
			return rc;
		if (!(d.vd_flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.vd_next >= nentries)
			return vq_bad_chain(ch, "next index out of range");
		idx = d.vd_next;
	}
}

int
virtq_pop(struct virtq *vq, struct virtq_chain *ch)
{
	uint16_t mask, head;

	if (vq->vq_size == 0)
		return -EINVAL;
	if (vq->vq_broken)
		return -EINVAL;
	if (vq->vq_last_avail == vq->vq_avail_shadow) {
		/* Acquire: ring entries and descriptors are read after it. */
		uint16_t idx = vq_load16(vq->vq_avail + VQ_AVAIL_IDX,
		    __ATOMIC_ACQUIRE);

		if (idx == vq->vq_last_avail)
			return 0;
		/*
		 * A driver has at most size buffers outstanding, counted from
		 * the used index (it frees descriptors only when it sees them
		 * used), so this also bounds what the device has in flight.
		 * An index behind the buffers already taken went backwards.
		 */
		if ((uint16_t)(idx - vq->vq_used_idx) > vq->vq_size)
			return vq_break(vq, "avail index too far ahead");
		if ((uint16_t)(idx - vq->vq_used_idx) <
		    (uint16_t)(vq->vq_last_avail - vq->vq_used_idx))
			return vq_break(vq, "avail index went backwards");
		vq->vq_avail_shadow = idx;
	}
	mask = vq->vq_size - 1;
	head = vq_load16(vq->vq_avail + VQ_AVAIL_RING +
	    2 * (size_t)(vq->vq_last_avail & mask), __ATOMIC_RELAXED);
	if (head >= vq->vq_size)
		return vq_break(vq, "head index out of range");
	/*
	 * The same head twice in flight means the driver reused descriptors
	 * it does not own; devices key requests on heads, so stop here.
	 */
	if (vq_inflight(vq, head))
		return vq_break(vq, "head already in flight");
	vq_set_inflight(vq, head, true);
	vq->vq_last_avail++;
	memset(ch, 0, offsetof(struct virtq_chain, vc_iov));
	ch->vc_head = head;
	return vq_walk(vq, ch, head) < 0 ? -EBADMSG : 1;
}

int
virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *elem;

	if (head >= vq->vq_size || !vq_inflight(vq, head))
		return -EINVAL;
	vq_set_inflight(vq, head, false);
	elem = vq->vq_used + VQ_USED_RING + (size_t)VQ_USED_ELEM_SIZE *
	    (vq->vq_used_idx & (vq->vq_size - 1));
	vq_store32(elem, head);
	vq_store32(elem + 4, len);
	vq->vq_used_idx++;
	/* Release: the element is visible before the index that covers it. */
	vq_store16(vq->vq_used + VQ_USED_IDX, vq->vq_used_idx,
	    __ATOMIC_RELEASE);
	if (vq->vq_unsignalled < UINT32_MAX)
		vq->vq_unsignalled++;
	return 0;
}

bool
virtq_needs_notify(struct virtq *vq)
{
	uint16_t old = vq->vq_signalled_used, now = vq->vq_used_idx, ev;
	uint32_t pushed = vq->vq_unsignalled;

	if (vq->vq_size == 0)
		return false;
	vq->vq_signalled_used = now;
	vq->vq_unsignalled = 0;
	if (pushed == 0)
		return false;
	/*
	 * Full fence: our used->idx store must be visible before we read the
	 * driver's suppression field, or both sides can miss each other.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return (vq_load16(vq->vq_avail + VQ_AVAIL_FLAGS,
		    __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
	/* 16-bit differences cannot tell 65536 pushes from none. */
	if (pushed > UINT16_MAX)
		return true;
	ev = vq_load16(vq->vq_avail + VQ_AVAIL_RING + 2 * (size_t)vq->vq_size,
	    __ATOMIC_RELAXED);
	/* vring_need_event(): did used->idx cross ev in (old, now]? */
	return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
}

void
virtq_set_avail_event(struct virtq *vq)
{
	if (vq->vq_size == 0 || !vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return;
	vq_store16(vq->vq_used + VQ_USED_RING +
	    (size_t)VQ_USED_ELEM_SIZE * vq->vq_size, vq->vq_last_avail,
	    __ATOMIC_RELAXED);
	/*
	 * Full fence: the driver reads avail_event after publishing
	 * avail->idx, the caller reads avail->idx next (virtq_has_buffers);
	 * without it both loads could pass the stores and a kick be lost.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void
virtq_disable_notify(struct virtq *vq)
{
	if (vq->vq_size == 0 || vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX))
		return;
	vq_store16(vq->vq_used + VQ_USED_FLAGS, VIRTQ_USED_F_NO_NOTIFY,
	    __ATOMIC_RELAXED);
}

bool
virtq_enable_notify(struct virtq *vq)
{
	if (vq->vq_size == 0)
		return false;
	if (vq_has_feature(vq, VIRTIO_RING_F_EVENT_IDX)) {
		virtq_set_avail_event(vq);	/* with its fence */
	} else {
		vq_store16(vq->vq_used + VQ_USED_FLAGS, 0, __ATOMIC_RELAXED);
		/* Full fence, as in virtq_set_avail_event(). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return virtq_has_buffers(vq);
}

bool
virtq_has_buffers(struct virtq *vq)
{
	if (vq->vq_size == 0 || vq->vq_broken)
		return false;
	if (vq->vq_avail_shadow != vq->vq_last_avail)
		return true;
	/* Validated by virtq_pop() when it takes the buffers. */
	return vq_load16(vq->vq_avail + VQ_AVAIL_IDX, __ATOMIC_ACQUIRE) !=
	    vq->vq_last_avail;
}
