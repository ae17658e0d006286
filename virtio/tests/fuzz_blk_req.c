/*
 * libFuzzer target for vblk_parse: the input is a chain layout (how many
 * readable and writable buffers, and their lengths) followed by the bytes
 * the buffers hold.  Invariants: every data iovec and the status byte lie
 * inside the writable/readable buffers they came from, counts stay within
 * the caps, and a status is always returned or -EBADMSG.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../blk_req.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_fail(const char *what)
{
	fprintf(stderr, "BUG: %s\n", what);
	abort();
}

static int
fz_inside(const void *p, size_t len, const uint8_t *buf, size_t size)
{
	const uint8_t *b = p;

	return b >= buf && len <= size && (size_t)(b - buf) <= size - len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vblk_req req;
	struct iovec iov[VBLK_MAX_IOV + 8];
	struct vblk_limits lim = {
		.vl_capacity = 4096, .vl_flush = true, .vl_discard = true,
		.vl_write_zeroes = true, .vl_max_discard_sectors = 256,
		.vl_max_wz_sectors = 256, .vl_max_segs = 8,
	};
	unsigned int nout, nin, n, i;
	uint8_t *buf;
	size_t off = 0, len;
	int rc;

	if (size < 3)
		return 0;
	nout = data[0] % 8;
	nin = data[1] % 8;
	lim.vl_readonly = data[2] & 1;
	data += 3;
	size -= 3;
	n = nout + nin;
	if (size < n)
		return 0;
	/* One byte per buffer gives its length; the rest is the contents. */
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	for (i = 0; i < n; i++) {
		len = (size_t)data[i] * 4;
		if (len > size - n - off)
			len = size - n - off;
		iov[i].iov_base = buf + n + off;
		iov[i].iov_len = len;
		off += len;
	}
	rc = vblk_parse(iov, nout, nin, &lim, &req);
	if (rc == -EBADMSG) {
		free(buf);
		return 0;
	}
	if (rc != VBLK_S_OK && rc != VBLK_S_IOERR && rc != VBLK_S_UNSUPP)
		fz_fail("unexpected return value");
	if (req.vr_status == NULL || !fz_inside(req.vr_status, 1, buf, size))
		fz_fail("status byte outside the buffers");
	if (rc == VBLK_S_OK) {
		uint64_t total = 0;

		if (req.vr_niov > VBLK_MAX_IOV || req.vr_nseg > VBLK_MAX_SEGS)
			fz_fail("count past its cap");
		for (i = 0; i < req.vr_niov; i++) {
			if (!fz_inside(req.vr_iov[i].iov_base,
			    req.vr_iov[i].iov_len, buf, size))
				fz_fail("data iovec outside the buffers");
			total += req.vr_iov[i].iov_len;
		}
		if (total != req.vr_len)
			fz_fail("vr_len is not the sum of the iovecs");
		if ((req.vr_type == VBLK_T_IN || req.vr_type == VBLK_T_OUT) &&
		    (req.vr_len % 512 != 0 ||
		    req.vr_sector + req.vr_len / 512 > lim.vl_capacity))
			fz_fail("accepted an I/O outside the disk");
		if (req.vr_type == VBLK_T_OUT && lim.vl_readonly)
			fz_fail("accepted a write to a read-only disk");
	}
	free(buf);
	return 0;
}
