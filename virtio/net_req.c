/*
 * virtio-net buffer and header checks (virtio 1.2 §5.1.6), see net_req.h.
 * The guest controls every byte here: how a packet is split into buffers,
 * their lengths, and each header field.  Lengths are summed with a cap so
 * no sum can wrap; header fields are checked on a private copy.
 */
#include <errno.h>
#include <string.h>

#include "iov.h"
#include "net_req.h"

/* The most a TX or RX chain is ever used for: a header and a max frame. */
#define VNET_MAX_CHAIN	((size_t)VNET_HDR_LEN + VNET_MAX_FRAME)

/* Sum of the lengths, saturating at cap + 1 so that it cannot wrap. */
static size_t
vnet_iov_sum(const struct iovec *iov, unsigned int n, size_t cap)
{
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (iov[i].iov_len > cap - total)
			return cap + 1;
		total += iov[i].iov_len;
	}
	return total;
}

/* The header against the negotiated features and the frame (§5.1.6.2). */
static int
vnet_tx_check_hdr(const struct vnet_hdr *h, uint64_t acked, size_t frame_len)
{
	uint8_t gso = h->vh_gso_type & (uint8_t)~VNET_HDR_GSO_ECN;
	unsigned int need;

	/* DATA_VALID and RSC_INFO go device to driver only. */
	if ((h->vh_flags & ~VNET_HDR_F_NEEDS_CSUM) != 0)
		return -EOPNOTSUPP;
	if (h->vh_flags & VNET_HDR_F_NEEDS_CSUM) {
		if (!(acked & (1ULL << VIRTIO_NET_F_CSUM)))
			return -EOPNOTSUPP;
		/* 32-bit sum of two 16-bit fields: cannot wrap. */
		if ((uint32_t)h->vh_csum_start + h->vh_csum_offset + 2 >
		    frame_len)
			return -ERANGE;
	}
	switch (gso) {
	case VNET_HDR_GSO_NONE:
		if (h->vh_gso_type & VNET_HDR_GSO_ECN)
			return -EPROTO;
		return 0;
	case VNET_HDR_GSO_TCPV4:
		need = VIRTIO_NET_F_HOST_TSO4;
		break;
	case VNET_HDR_GSO_TCPV6:
		need = VIRTIO_NET_F_HOST_TSO6;
		break;
	case VNET_HDR_GSO_UDP:
		need = VIRTIO_NET_F_HOST_UFO;
		break;
	case VNET_HDR_GSO_UDP_L4:
		need = VIRTIO_NET_F_HOST_USO;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (!(acked & (1ULL << need)))
		return -EOPNOTSUPP;
	if ((h->vh_gso_type & VNET_HDR_GSO_ECN) &&
	    !(acked & (1ULL << VIRTIO_NET_F_HOST_ECN)))
		return -EOPNOTSUPP;
	if (h->vh_gso_size == 0)
		return -EPROTO;
	return 0;
}

int
vnet_tx_parse(const struct iovec *iov, unsigned int nout, unsigned int nin,
    uint64_t acked_features, struct vnet_tx *out)
{
	size_t total, frame;
	int rc;

	out->vt_niov = 0;
	out->vt_frame_len = 0;
	if (nin != 0)
		return -EINVAL;
	if (nout > VIRTQ_MAX_IOV)
		return -E2BIG;
	total = vnet_iov_sum(iov, nout, VNET_MAX_CHAIN);
	if (total < VNET_HDR_LEN)
		return -EBADMSG;
	frame = total - VNET_HDR_LEN;
	if (frame < VNET_ETH_HLEN)
		return -ENODATA;
	if (frame > VNET_MAX_FRAME)
		return -EMSGSIZE;
	/* The one read of the header; only the copy is checked and used. */
	if (!viov_copy_from(iov, nout, 0, &out->vt_hdr, VNET_HDR_LEN))
		return -EBADMSG;
	rc = vnet_tx_check_hdr(&out->vt_hdr, acked_features, frame);
	if (rc < 0)
		return rc;
	out->vt_iov[0].iov_base = &out->vt_hdr;
	out->vt_iov[0].iov_len = VNET_HDR_LEN;
	out->vt_niov = 1;
	rc = viov_slice(out->vt_iov, &out->vt_niov, VNET_MAX_IOV, iov, nout,
	    VNET_HDR_LEN, frame);
	if (rc < 0)
		return rc;
	out->vt_frame_len = frame;
	return 0;
}

int
vnet_rx_buffers(const struct iovec *iov, unsigned int nout, unsigned int nin,
    bool mrg_rxbuf, size_t need, struct vnet_rx *out)
{
	size_t total;

	out->vr_niov = 0;
	out->vr_len = 0;
	if (nout != 0)
		return -EINVAL;
	if (nin > VIRTQ_MAX_IOV)
		return -E2BIG;
	if (need > VNET_MAX_FRAME)
		return -EMSGSIZE;
	total = vnet_iov_sum(iov, nin, VNET_MAX_CHAIN);
	if (total < VNET_HDR_LEN)
		return -EBADMSG;
	if (!mrg_rxbuf && total < VNET_HDR_LEN + need)
		return -ENOBUFS;
	if (total > VNET_MAX_CHAIN)
		total = VNET_MAX_CHAIN;
	/* nin <= VIRTQ_MAX_IOV pieces: this cannot fail. */
	(void)viov_slice(out->vr_iov, &out->vr_niov, VIRTQ_MAX_IOV, iov, nin,
	    0, total);
	out->vr_len = total;
	return 0;
}

int
vnet_rx_write_hdr(const struct vnet_rx *rx, const struct vnet_hdr *hdr)
{
	if (rx->vr_len < VNET_HDR_LEN ||
	    !viov_copy_to(rx->vr_iov, rx->vr_niov, 0, hdr, VNET_HDR_LEN))
		return -EINVAL;
	return 0;
}

int
vnet_rx_set_num_buffers(const struct vnet_rx *rx, uint16_t n)
{
	if (n == 0 || rx->vr_len < VNET_HDR_LEN ||
	    !viov_copy_to(rx->vr_iov, rx->vr_niov,
	    offsetof(struct vnet_hdr, vh_num_buffers), &n, sizeof(n)))
		return -EINVAL;
	return 0;
}

int
vnet_ctrl_parse(const struct iovec *iov, unsigned int nout, unsigned int nin,
    struct vnet_ctrl *out)
{
	const struct iovec *win = iov + nout;
	uint8_t cc[2];
	size_t total;

	out->vct_class = 0;
	out->vct_cmd = 0;
	out->vct_len = 0;
	out->vct_ack = NULL;
	if (nout > VIRTQ_MAX_IOV || nin > VIRTQ_MAX_IOV - nout)
		return -E2BIG;
	/* The ack is the last byte the device may write. */
	while (nin > 0 && win[nin - 1].iov_len == 0)
		nin--;
	if (nin == 0)
		return -EBADMSG;
	out->vct_ack = (uint8_t *)win[nin - 1].iov_base +
	    win[nin - 1].iov_len - 1;

	total = vnet_iov_sum(iov, nout, 2 + VNET_CTRL_MAX_DATA);
	if (total < 2 || !viov_copy_from(iov, nout, 0, cc, sizeof(cc)))
		return -EINVAL;
	if (total > 2 + VNET_CTRL_MAX_DATA)
		return -E2BIG;
	out->vct_class = cc[0];
	out->vct_cmd = cc[1];
	if (!viov_copy_from(iov, nout, 2, out->vct_data, total - 2))
		return -EINVAL;
	out->vct_len = total - 2;
	return 0;
}

int
vnet_ctrl_mq_pairs(const struct vnet_ctrl *c, uint16_t max_pairs,
    uint16_t *pairs)
{
	uint16_t n;

	if (c->vct_class != VNET_CTRL_MQ ||
	    c->vct_cmd != VNET_CTRL_MQ_VQ_PAIRS_SET)
		return -EOPNOTSUPP;
	if (c->vct_len != sizeof(n))
		return -EINVAL;
	memcpy(&n, c->vct_data, sizeof(n));
	if (n < VNET_CTRL_MQ_VQ_PAIRS_MIN || n > max_pairs ||
	    n > VNET_CTRL_MQ_VQ_PAIRS_MAX)
		return -EINVAL;
	*pairs = n;
	return 0;
}

#define VNET_FNV_OFFSET	0xcbf29ce484222325ULL
#define VNET_FNV_PRIME	0x100000001b3ULL

static uint64_t
vnet_fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= VNET_FNV_PRIME;
	}
	return h;
}

void
vnet_mac_from_name(const char *name, unsigned int index, uint8_t mac[6])
{
	uint8_t sep = 0, idx[4];
	uint64_t h = VNET_FNV_OFFSET;
	unsigned int i;

	if (name == NULL)
		name = "";
	for (i = 0; i < 4; i++)
		idx[i] = (uint8_t)(index >> (8 * i));
	h = vnet_fnv1a(h, (const uint8_t *)name, strlen(name));
	h = vnet_fnv1a(h, &sep, 1);
	h = vnet_fnv1a(h, idx, sizeof(idx));
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	/* Locally administered unicast: never all zero, never multicast. */
	mac[0] = (uint8_t)((mac[0] & ~0x01) | 0x02);
}
