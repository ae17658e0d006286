/*
 * virtio-blk request parsing (virtio 1.2 §5.2.6), see blk_req.h.  The guest
 * controls every byte here: the header's type and sector, how buffers are
 * split into descriptors, their lengths.  Each is checked before use;
 * sector arithmetic is overflow-safe.
 */
#include <errno.h>
#include <string.h>

#include "blk_req.h"
#include "iov.h"

/* Append iov[from..n) minus skip bytes at the front and trim at the end. */
static int
vblk_add_data(struct vblk_req *req, const struct iovec *iov, unsigned int n,
    size_t skip, size_t trim)
{
	unsigned int i;
	size_t total = 0, want;

	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (total < skip + trim)
		return -EINVAL;
	want = total - skip - trim;
	if (viov_slice(req->vr_iov, &req->vr_niov, VBLK_MAX_IOV, iov, n, skip,
	    want) < 0)
		return -E2BIG;
	req->vr_len += want;
	return 0;
}

/* [sector, sector + bytes / 512) inside the disk, without overflow. */
static bool
vblk_in_range(const struct vblk_limits *lim, uint64_t sector, uint64_t bytes)
{
	uint64_t n = bytes / VBLK_SECTOR;

	return sector <= lim->vl_capacity && n <= lim->vl_capacity - sector;
}

static int
vblk_parse_segs(const struct iovec *iov, unsigned int nout,
    const struct vblk_limits *lim, struct vblk_req *req)
{
	bool discard = req->vr_type == VBLK_T_DISCARD;
	uint32_t max = discard ? lim->vl_max_discard_sectors :
	    lim->vl_max_wz_sectors;
	uint8_t raw[16];
	size_t bytes = 0, off;
	unsigned int i, n;

	for (i = 0; i < nout; i++)
		bytes += iov[i].iov_len;
	bytes -= 16;	/* the header */
	if (bytes == 0 || bytes % 16 != 0)
		return VBLK_S_IOERR;
	n = (unsigned int)(bytes / 16 < VBLK_MAX_SEGS + 1 ? bytes / 16 :
	    VBLK_MAX_SEGS + 1);
	/* vr_seg[] holds VBLK_MAX_SEGS whatever the device configured. */
	if (n > lim->vl_max_segs || n > VBLK_MAX_SEGS)
		return VBLK_S_UNSUPP;
	for (i = 0, off = 16; i < n; i++, off += 16) {
		struct vblk_seg *s = &req->vr_seg[i];

		if (!viov_copy_from(iov, nout, off, raw, sizeof(raw)))
			return VBLK_S_IOERR;
		memcpy(&s->vs_sector, raw, 8);
		memcpy(&s->vs_nsectors, raw + 8, 4);
		memcpy(&s->vs_flags, raw + 12, 4);
		/* Unknown flags, or unmap on a discard, are unsupported. */
		if ((s->vs_flags & ~(uint32_t)VBLK_DWZ_UNMAP) != 0 ||
		    (discard && s->vs_flags != 0))
			return VBLK_S_UNSUPP;
		if (s->vs_nsectors == 0 || s->vs_nsectors > max ||
		    !vblk_in_range(lim, s->vs_sector,
		    (uint64_t)s->vs_nsectors * VBLK_SECTOR))
			return VBLK_S_IOERR;
	}
	req->vr_nseg = n;
	return VBLK_S_OK;
}

int
vblk_parse(const struct iovec *iov, unsigned int nout, unsigned int nin,
    const struct vblk_limits *lim, struct vblk_req *req)
{
	const struct iovec *win = iov + nout;
	uint8_t hdr[16];

	req->vr_niov = 0;
	req->vr_len = 0;
	req->vr_nseg = 0;
	req->vr_status = NULL;
	/* The status byte is the last byte the device may write. */
	while (nin > 0 && win[nin - 1].iov_len == 0)
		nin--;
	if (nin == 0)
		return -EBADMSG;
	req->vr_status = (uint8_t *)win[nin - 1].iov_base +
	    win[nin - 1].iov_len - 1;

	if (!viov_copy_from(iov, nout, 0, hdr, sizeof(hdr)))
		return VBLK_S_IOERR;
	memcpy(&req->vr_type, hdr, 4);		/* little-endian host */
	memcpy(&req->vr_sector, hdr + 8, 8);

	switch (req->vr_type) {
	case VBLK_T_IN:
		/* Data goes to the writable buffers, minus the status byte. */
		if (vblk_add_data(req, win, nin, 0, 1) < 0)
			return VBLK_S_IOERR;
		break;
	case VBLK_T_OUT:
		if (lim->vl_readonly)
			return VBLK_S_IOERR;
		if (vblk_add_data(req, iov, nout, 16, 0) < 0)
			return VBLK_S_IOERR;
		break;
	case VBLK_T_FLUSH:
		return lim->vl_flush ? VBLK_S_OK : VBLK_S_UNSUPP;
	case VBLK_T_GET_ID:
		if (vblk_add_data(req, win, nin, 0, 1) < 0 ||
		    req->vr_len < VBLK_ID_BYTES)
			return VBLK_S_IOERR;
		return VBLK_S_OK;
	case VBLK_T_DISCARD:
	case VBLK_T_WRITE_ZEROES:
		if ((req->vr_type == VBLK_T_DISCARD && !lim->vl_discard) ||
		    (req->vr_type == VBLK_T_WRITE_ZEROES &&
		    !lim->vl_write_zeroes))
			return VBLK_S_UNSUPP;
		if (lim->vl_readonly)
			return VBLK_S_IOERR;
		return vblk_parse_segs(iov, nout, lim, req);
	default:
		return VBLK_S_UNSUPP;
	}
	/* IN and OUT: whole sectors, inside the disk. */
	if (req->vr_len % VBLK_SECTOR != 0 ||
	    !vblk_in_range(lim, req->vr_sector, req->vr_len))
		return VBLK_S_IOERR;
	return VBLK_S_OK;
}
