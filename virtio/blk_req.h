/*
 * Parsing one virtio-blk request (virtio 1.2 §5.2.6) from the iovecs of a
 * descriptor chain: the 16-byte header, the data buffers, the status byte,
 * and for DISCARD / WRITE_ZEROES the segment list.  No I/O, no virtqueue:
 * the device model calls this and then talks to its backend.
 */
#ifndef VMM_VIRTIO_BLK_REQ_H
#define VMM_VIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VBLK_T_IN		0
#define VBLK_T_OUT		1
#define VBLK_T_FLUSH		4
#define VBLK_T_GET_ID		8
#define VBLK_T_DISCARD		11
#define VBLK_T_WRITE_ZEROES	13

#define VBLK_S_OK		0
#define VBLK_S_IOERR		1
#define VBLK_S_UNSUPP		2

#define VBLK_SECTOR		512ULL
#define VBLK_ID_BYTES		20
#define VBLK_MAX_IOV		256	/* data iovecs in one request */
#define VBLK_MAX_SEGS		16	/* DISCARD / WRITE_ZEROES segments */
#define VBLK_DWZ_UNMAP		0x1

/* The limits a request is checked against (the device's configuration). */
struct vblk_limits {
	uint64_t	vl_capacity;	/* in 512-byte sectors */
	bool		vl_readonly;
	bool		vl_flush;	/* VIRTIO_BLK_F_FLUSH negotiated */
	bool		vl_discard;	/* VIRTIO_BLK_F_DISCARD negotiated */
	bool		vl_write_zeroes;
	uint32_t	vl_max_discard_sectors;	/* per segment */
	uint32_t	vl_max_wz_sectors;
	uint32_t	vl_max_segs;	/* <= VBLK_MAX_SEGS */
};

struct vblk_seg {
	uint64_t	vs_sector;
	uint32_t	vs_nsectors;
	uint32_t	vs_flags;
};

/* A parsed request; every field is a copy or a checked host pointer. */
struct vblk_req {
	uint32_t	vr_type;
	uint64_t	vr_sector;
	struct iovec	vr_iov[VBLK_MAX_IOV];	/* data, in order */
	unsigned int	vr_niov;
	uint64_t	vr_len;			/* bytes of data */
	uint8_t		*vr_status;		/* the status byte, in guest RAM */
	struct vblk_seg	vr_seg[VBLK_MAX_SEGS];
	unsigned int	vr_nseg;
};

/*
 * Parse a chain whose first nout iovecs are device-readable and the next
 * nin device-writable (as a virtqueue delivers them).  Returns:
 *   VBLK_S_OK      the request is valid: do it, then write *vr_status;
 *   VBLK_S_IOERR / VBLK_S_UNSUPP: complete it now with that status
 *                  (*vr_status is valid);
 *   -EBADMSG       no status byte at all: complete it with used length 0.
 * The header and segments are copied out of guest memory once; nothing in
 * *req points into the header.
 */
int	vblk_parse(const struct iovec *iov, unsigned int nout, unsigned int nin,
	    const struct vblk_limits *, struct vblk_req *req);

#endif /* VMM_VIRTIO_BLK_REQ_H */
