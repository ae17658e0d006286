/*
 * libFuzzer target for the virtio-net checks: the input is a chain layout
 * (which check, how many readable and writable buffers, the negotiated
 * features, MRG_RXBUF and the RX packet size, one length byte per buffer)
 * followed by the bytes the buffers hold.  Invariants: every output iovec,
 * ack byte and header write lies inside the buffers it came from (the
 * buffers sit in one exact-size allocation, so ASan sees any overrun), the
 * counts stay within their caps, lengths add up, and an accepted TX header
 * really is consistent with the features and the frame.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../net_req.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAXBUF	24
#define FZ_HDR		14	/* layout bytes before the length bytes */

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

static void
fz_tx(const struct iovec *iov, unsigned int nout, unsigned int nin,
    uint64_t feat, const uint8_t *buf, size_t size)
{
	static struct vnet_tx tx;
	static uint8_t flat[VNET_HDR_LEN + VNET_MAX_FRAME];
	const struct vnet_hdr *h = &tx.vt_hdr;
	size_t total = 0, sum = 0, off;
	unsigned int i;
	uint8_t gso;
	int rc;

	rc = vnet_tx_parse(iov, nout, nin, feat, &tx);
	if (rc != 0 && rc != -EINVAL && rc != -E2BIG && rc != -EBADMSG &&
	    rc != -ENODATA && rc != -EMSGSIZE && rc != -EOPNOTSUPP &&
	    rc != -ERANGE && rc != -EPROTO)
		fz_fail("tx: unexpected return value");
	if (rc != 0)
		return;
	if (nin != 0)
		fz_fail("tx: accepted writable buffers");
	for (i = 0; i < nout; i++) {
		memcpy(flat + total, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	if (tx.vt_niov < 1 || tx.vt_niov > VNET_MAX_IOV)
		fz_fail("tx: iovec count past its cap");
	if (tx.vt_iov[0].iov_base != &tx.vt_hdr ||
	    tx.vt_iov[0].iov_len != VNET_HDR_LEN)
		fz_fail("tx: iov[0] is not the header copy");
	if (memcmp(h, flat, VNET_HDR_LEN) != 0)
		fz_fail("tx: header copy differs from the chain");
	if (tx.vt_frame_len < VNET_ETH_HLEN ||
	    tx.vt_frame_len > VNET_MAX_FRAME ||
	    tx.vt_frame_len + VNET_HDR_LEN != total)
		fz_fail("tx: frame length");
	for (i = 1, off = VNET_HDR_LEN; i < tx.vt_niov; i++) {
		const struct iovec *v = &tx.vt_iov[i];

		if (v->iov_len == 0 ||
		    !fz_inside(v->iov_base, v->iov_len, buf, size))
			fz_fail("tx: frame iovec empty or outside the buffers");
		if (memcmp(v->iov_base, flat + off, v->iov_len) != 0)
			fz_fail("tx: frame iovecs out of order");
		off += v->iov_len;
		sum += v->iov_len;
	}
	if (sum != tx.vt_frame_len)
		fz_fail("tx: iovecs do not add up to the frame");
	if (h->vh_flags & ~VNET_HDR_F_NEEDS_CSUM)
		fz_fail("tx: accepted a device-only flag");
	if ((h->vh_flags & VNET_HDR_F_NEEDS_CSUM) &&
	    (!(feat & (1ULL << VIRTIO_NET_F_CSUM)) ||
	    (size_t)h->vh_csum_start + h->vh_csum_offset + 2 >
	    tx.vt_frame_len))
		fz_fail("tx: accepted a bad NEEDS_CSUM");
	gso = h->vh_gso_type & (uint8_t)~VNET_HDR_GSO_ECN;
	if (gso != VNET_HDR_GSO_NONE && h->vh_gso_size == 0)
		fz_fail("tx: accepted GSO with gso_size 0");
	if ((gso == VNET_HDR_GSO_TCPV4 &&
	    !(feat & (1ULL << VIRTIO_NET_F_HOST_TSO4))) ||
	    (gso == VNET_HDR_GSO_TCPV6 &&
	    !(feat & (1ULL << VIRTIO_NET_F_HOST_TSO6))) ||
	    (gso == VNET_HDR_GSO_UDP &&
	    !(feat & (1ULL << VIRTIO_NET_F_HOST_UFO))) ||
	    (gso == VNET_HDR_GSO_UDP_L4 &&
	    !(feat & (1ULL << VIRTIO_NET_F_HOST_USO))) ||
	    (gso != VNET_HDR_GSO_NONE && gso != VNET_HDR_GSO_TCPV4 &&
	    gso != VNET_HDR_GSO_TCPV6 && gso != VNET_HDR_GSO_UDP &&
	    gso != VNET_HDR_GSO_UDP_L4))
		fz_fail("tx: accepted an unnegotiated GSO type");
	if ((h->vh_gso_type & VNET_HDR_GSO_ECN) &&
	    (gso == VNET_HDR_GSO_NONE ||
	    !(feat & (1ULL << VIRTIO_NET_F_HOST_ECN))))
		fz_fail("tx: accepted an unnegotiated ECN bit");
}

static void
fz_rx(const struct iovec *iov, unsigned int nout, unsigned int nin,
    bool mrg, size_t need, uint16_t nbufs, const uint8_t *buf, size_t size)
{
	static struct vnet_rx rx;
	struct vnet_hdr h = { .vh_flags = VNET_HDR_F_DATA_VALID };
	size_t sum = 0;
	unsigned int i;
	int rc;

	rc = vnet_rx_buffers(iov, nout, nin, mrg, need, &rx);
	if (rc != 0 && rc != -EINVAL && rc != -E2BIG && rc != -EBADMSG &&
	    rc != -EMSGSIZE && rc != -ENOBUFS)
		fz_fail("rx: unexpected return value");
	if (rc != 0)
		return;
	if (nout != 0)
		fz_fail("rx: accepted readable buffers");
	if (rx.vr_niov > VIRTQ_MAX_IOV || rx.vr_niov > nin)
		fz_fail("rx: iovec count past its cap");
	if (rx.vr_len < VNET_HDR_LEN ||
	    rx.vr_len > VNET_HDR_LEN + VNET_MAX_FRAME)
		fz_fail("rx: usable length out of range");
	if (!mrg && rx.vr_len < VNET_HDR_LEN + need)
		fz_fail("rx: accepted a buffer too small without MRG_RXBUF");
	for (i = 0; i < rx.vr_niov; i++) {
		if (rx.vr_iov[i].iov_len == 0 ||
		    !fz_inside(rx.vr_iov[i].iov_base, rx.vr_iov[i].iov_len,
		    buf, size))
			fz_fail("rx: iovec empty or outside the buffers");
		sum += rx.vr_iov[i].iov_len;
	}
	if (sum != rx.vr_len)
		fz_fail("rx: iovecs do not add up to vr_len");
	if (vnet_rx_write_hdr(&rx, &h) != 0)
		fz_fail("rx: header write failed on a checked chain");
	rc = vnet_rx_set_num_buffers(&rx, nbufs);
	if ((nbufs == 0) != (rc == -EINVAL) || (rc != 0 && rc != -EINVAL))
		fz_fail("rx: num_buffers");
}

static void
fz_ctrl(const struct iovec *iov, unsigned int nout, unsigned int nin,
    uint16_t max, const uint8_t *buf, size_t size)
{
	static struct vnet_ctrl c;
	uint16_t pairs = 0;
	int rc;

	rc = vnet_ctrl_parse(iov, nout, nin, &c);
	if (rc != 0 && rc != -EINVAL && rc != -E2BIG && rc != -EBADMSG)
		fz_fail("ctrl: unexpected return value");
	if (rc == -EBADMSG) {
		if (c.vct_ack != NULL)
			fz_fail("ctrl: ack without writable bytes");
		return;
	}
	if (c.vct_ack == NULL || !fz_inside(c.vct_ack, 1, buf, size))
		fz_fail("ctrl: ack outside the buffers");
	*c.vct_ack = VNET_ERR;
	if (rc != 0)
		return;
	if (c.vct_len > VNET_CTRL_MAX_DATA)
		fz_fail("ctrl: data past its cap");
	if (vnet_ctrl_mq_pairs(&c, max, &pairs) == 0 &&
	    (pairs < 1 || pairs > max))
		fz_fail("ctrl: pairs out of range");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec iov[FZ_MAXBUF];
	unsigned int mode, nout, nin, n, i;
	uint64_t feat;
	size_t need, off = 0, len, bsize;
	uint16_t u16;
	uint8_t *buf;
	bool mrg;

	if (size < FZ_HDR)
		return 0;
	mode = data[0] % 3;
	nout = data[1] % (FZ_MAXBUF / 2);
	nin = data[2] % (FZ_MAXBUF / 2);
	memcpy(&feat, data + 3, 8);
	mrg = data[11] & 1;
	memcpy(&u16, data + 12, 2);
	need = u16;
	data += FZ_HDR;
	size -= FZ_HDR;
	n = nout + nin;
	if (size < n)
		return 0;
	bsize = size - n;
	/* Exactly the bytes the buffers hold: ASan catches any overrun. */
	buf = malloc(bsize ? bsize : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + n, bsize);
	/* One byte per buffer gives its length (times 8, 0xff: the rest). */
	for (i = 0; i < n; i++) {
		len = data[i] == 0xff ? bsize - off : (size_t)data[i] * 8;
		if (len > bsize - off)
			len = bsize - off;
		iov[i].iov_base = buf + off;
		iov[i].iov_len = len;
		off += len;
	}
	switch (mode) {
	case 0:
		fz_tx(iov, nout, nin, feat, buf, bsize);
		break;
	case 1:
		fz_rx(iov, nout, nin, mrg, need, (uint16_t)(feat >> 48),
		    buf, bsize);
		break;
	default:
		fz_ctrl(iov, nout, nin, (uint16_t)feat, buf, bsize);
		break;
	}
	free(buf);
	return 0;
}
