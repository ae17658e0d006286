/*
 * Split virtqueues (virtio 1.2 §2.7): the device side of the descriptor
 * table, the available ring and the used ring.  virtio/virtq.c is the only
 * code in Hull that touches the rings; device models see chains of iovecs.
 *
 * What is validated, the error semantics and the limits: docs/virtq.md.
 *
 * Locking: a struct virtq is used by one thread at a time (the device's
 * queue thread); it has no lock of its own.  The driver runs concurrently on
 * other CPUs: every access to the rings is an atomic load or store with the
 * ordering the spec asks for, and every guest value is read once.
 */
#ifndef VMM_VIRTQ_H
#define VMM_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct gm;

/* The largest queue the spec allows (§2.7: 32768); devices cap it lower. */
#define VIRTQ_MAX_SIZE		32768

/*
 * Most buffers (iovecs) in one chain, and most entries in one indirect
 * table.  Longer chains are rejected (-EBADMSG), as bhyve rejects chains of
 * more than VQ_MAX_DESCRIPTORS.
 */
#define VIRTQ_MAX_IOV		256

/* Feature bit numbers (§6); the same values as Linux's virtio_ring.h. */
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29

/* Descriptor flags (§2.7.5). */
#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4

/* avail->flags (§2.7.6) and used->flags (§2.7.8). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT	1
#define VIRTQ_USED_F_NO_NOTIFY		1

/* Ring layout (§2.7): byte sizes of the three parts for a queue of n. */
#define VIRTQ_DESC_SIZE(n)	(16 * (uint64_t)(n))
#define VIRTQ_AVAIL_SIZE(n)	(6 + 2 * (uint64_t)(n))	/* with used_event */
#define VIRTQ_USED_SIZE(n)	(6 + 8 * (uint64_t)(n))	/* with avail_event */

struct virtq {
	const struct gm	*vq_gm;
	uint16_t	 vq_size;	/* power of two; 0: not set up */
	uint64_t	 vq_features;	/* only the VIRTIO_RING_F_* bits */
	uint64_t	 vq_desc_gpa, vq_avail_gpa, vq_used_gpa;
	/*
	 * Host pointers to the three rings, checked at setup to cover each
	 * ring's whole extent inside one RAM region.  The memory they point
	 * to is guest-controlled.
	 */
	uint8_t		*vq_desc;
	uint8_t		*vq_avail;
	uint8_t		*vq_used;
	uint16_t	 vq_last_avail;	/* next avail slot to consume */
	uint16_t	 vq_avail_shadow; /* guest-controlled: avail->idx */
	uint16_t	 vq_used_idx;	/* next used slot; = used->idx */
	/* vq_used_idx at the last virtq_needs_notify(), and pushes since. */
	uint16_t	 vq_signalled_used;
	uint32_t	 vq_unsignalled; /* saturating */
	bool		 vq_broken;	/* ring-level corruption: reset */
	/* Heads popped and not yet pushed: one bit per descriptor index. */
	uint64_t	 vq_inflight[VIRTQ_MAX_SIZE / 64];
	const char	*vq_err;	/* why vq_broken, for the log */
};

/*
 * One descriptor chain, as virtq_pop() returns it.  The iovecs point into
 * guest RAM (host addresses); the first vc_nout are device-readable, the
 * next vc_nin device-writable.  The device must not write through a
 * readable iovec, and must treat the bytes behind every iovec as
 * guest-controlled: the driver may change them at any time, so a header is
 * copied out once before it is checked and used.
 */
struct virtq_chain {
	uint16_t	 vc_head;	/* the head index, < queue size */
	unsigned int	 vc_nout;	/* readable iovecs: vc_iov[0..nout) */
	unsigned int	 vc_nin;	/* writable iovecs: after them */
	uint32_t	 vc_out_bytes;	/* sum of the readable lengths */
	uint32_t	 vc_in_bytes;	/* sum of the writable lengths */
	const char	*vc_err;	/* why -EBADMSG, for the device's log */
	struct iovec	 vc_iov[VIRTQ_MAX_IOV];
};

/*
 * Set vq up for a queue of size entries whose rings the driver placed at
 * desc_gpa, avail_gpa and used_gpa, with the negotiated features (a mask of
 * 1ULL << VIRTIO_RING_F_*; other bits are ignored).  Checks that size is a
 * power of two in 1..VIRTQ_MAX_SIZE (the transport caps it further to the
 * model's maximum), the alignments of §2.7 (16, 2, 4), and that each ring's
 * whole extent lies in one RAM region: 16 * size for the table, 4 + 2 *
 * size for the avail ring and 4 + 8 * size for the used ring, each plus the
 * 2-byte event field when EVENT_IDX is negotiated (only then is it read or
 * written).  Indices start at 0.
 *
 * Returns 0, or -EINVAL leaving vq not set up (virtq_pop() fails on it).
 * gm is borrowed: it must outlive vq and its regions must not move.  The
 * rings are not touched; the device owns them only from DRIVER_OK.
 */
int	virtq_setup(struct virtq *vq, const struct gm *gm, uint16_t size,
	    uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
	    uint64_t features);

/*
 * Take the next available chain into *ch (caller-owned, about 4 KiB).
 *
 * Returns:
 *  1	    a chain: ch->vc_head and the iovecs are valid.  The device must
 *	    complete it with virtq_push(vq, ch->vc_head, len).
 *  0	    the avail ring is empty.
 *  -EBADMSG the chain at a valid head is malformed (ch->vc_err says how:
 *	    a bad next, a loop, an address outside RAM, an unnegotiated or
 *	    nested indirect table, readable after writable, more than
 *	    VIRTQ_MAX_IOV buffers, ...).  The chain is consumed: ch->vc_head
 *	    is set and no iovecs are; the device completes it with
 *	    virtq_push(vq, ch->vc_head, 0) and goes on (it has no buffer to
 *	    put a status in).
 *  -EINVAL the ring itself is corrupt (avail->idx more than the queue size
 *	    ahead of the used index or moved backwards, a head >= size, a
 *	    head that is already in flight) or vq is not set up.
 *	    vq->vq_broken is set, nothing is consumed and every later pop
 *	    fails the same way: the device sets DEVICE_NEEDS_RESET.
 * Reads avail->idx with acquire ordering, then each descriptor exactly
 * once into a local copy.
 */
int	virtq_pop(struct virtq *vq, struct virtq_chain *ch);

/*
 * Put head on the used ring with len bytes written into its writable
 * buffers, then publish it (release store of used->idx).  Returns 0, or
 * -EINVAL if head >= size or head is not in flight (never popped, or
 * already pushed: a device bug).  Allowed on a broken queue so in-flight
 * requests can complete.  A head is in flight from the virtq_pop() that
 * returned it (1 or -EBADMSG) to its virtq_push(), so a device may key
 * per-request state on the head: no two chains in flight share one.
 */
int	virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * Whether to interrupt the driver for the pushes since the last call.
 * false if nothing was pushed.  With EVENT_IDX: true iff used->idx crossed
 * used_event since the last call (vring_need_event, §2.7.10); otherwise
 * true unless avail->flags has VIRTQ_AVAIL_F_NO_INTERRUPT.  Issues a full
 * fence between the used->idx store and the driver's field.  Call it after
 * each batch of pushes (at most every 65535 pushes; more forces true).
 */
bool	virtq_needs_notify(struct virtq *vq);

/*
 * With EVENT_IDX: write avail_event = the next index to consume, so that
 * the driver kicks when it makes that buffer available, then a full fence,
 * so that a virtq_has_buffers() after it cannot miss a buffer the driver
 * published without kicking.  Without EVENT_IDX: no-op.  The usual idle
 * sequence is virtq_pop() == 0, virtq_set_avail_event(), then pop again if
 * virtq_has_buffers() (or virtq_enable_notify(), which does both).
 */
void	virtq_set_avail_event(struct virtq *vq);

/*
 * Notification suppression (§2.7.10).  disable: without EVENT_IDX set
 * VIRTQ_USED_F_NO_NOTIFY; with it do nothing (avail_event is simply not
 * advanced).  enable: clear the flag or virtq_set_avail_event(), then a
 * full fence, then re-check the avail ring: returns true if buffers arrived
 * meanwhile (the driver may not have kicked for them), so the device must
 * pop again rather than sleep.
 */
void	virtq_disable_notify(struct virtq *vq);
bool	virtq_enable_notify(struct virtq *vq);

/* Whether avail->idx is ahead of the next index to consume. */
bool	virtq_has_buffers(struct virtq *vq);

/* Whether the ring is corrupt and the device needs a reset. */
static inline bool
virtq_is_broken(const struct virtq *vq)
{
	return vq->vq_broken;
}

#endif /* VMM_VIRTQ_H */
