/*
 * The guest-facing core of virtio-net (virtio 1.2 §5.1): the feature bits,
 * the virtio_net_hdr and device config layouts, and pure checks of the
 * buffers a driver hands over: a transmit chain (§5.1.6.2), a receive chain
 * (§5.1.6.3, §5.1.6.4), a control-queue command (§5.1.6.5).  No I/O, no
 * virtqueue: the device model (virtio/net.c) pops a chain, calls these, and
 * only then talks to its tap.
 *
 * Every function here treats the bytes behind the iovecs as guest-controlled:
 * a header is copied out once, checked on the copy, and only the copy is
 * used.  Hosts are little-endian (as for blk_req.c): the wire structs below
 * are the wire format.
 */
#ifndef VMM_VIRTIO_NET_REQ_H
#define VMM_VIRTIO_NET_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtq.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio-net wire structs assume a little-endian host"
#endif

/* Feature bits (§5.1.3); the same numbers as Linux's virtio_net.h. */
#define VIRTIO_NET_F_CSUM		0	/* device: partial csum on TX */
#define VIRTIO_NET_F_GUEST_CSUM		1	/* driver: partial csum on RX */
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_GUEST_TSO4		7
#define VIRTIO_NET_F_GUEST_TSO6		8
#define VIRTIO_NET_F_GUEST_ECN		9
#define VIRTIO_NET_F_GUEST_UFO		10
#define VIRTIO_NET_F_HOST_TSO4		11
#define VIRTIO_NET_F_HOST_TSO6		12
#define VIRTIO_NET_F_HOST_ECN		13
#define VIRTIO_NET_F_HOST_UFO		14
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_CTRL_RX		18
#define VIRTIO_NET_F_CTRL_VLAN		19
#define VIRTIO_NET_F_GUEST_ANNOUNCE	21
#define VIRTIO_NET_F_MQ			22
#define VIRTIO_NET_F_CTRL_MAC_ADDR	23
#define VIRTIO_NET_F_HOST_USO		56
#define VIRTIO_NET_F_SPEED_DUPLEX	63

/* config.status bits (§5.1.4). */
#define VNET_S_LINK_UP			1
#define VNET_S_ANNOUNCE			2

/* virtio_net_hdr.flags (§5.1.6). */
#define VNET_HDR_F_NEEDS_CSUM		1
#define VNET_HDR_F_DATA_VALID		2	/* device to driver only */
#define VNET_HDR_F_RSC_INFO		4	/* device to driver only */

/* virtio_net_hdr.gso_type (§5.1.6). */
#define VNET_HDR_GSO_NONE		0
#define VNET_HDR_GSO_TCPV4		1
#define VNET_HDR_GSO_UDP		3
#define VNET_HDR_GSO_TCPV6		4
#define VNET_HDR_GSO_UDP_L4		5
#define VNET_HDR_GSO_ECN		0x80

/* Sizes: the header is 12 bytes in virtio 1.x (num_buffers always there). */
#define VNET_HDR_LEN		12
#define VNET_ETH_HLEN		14
#define VNET_VLAN_HLEN		4
/* The longest frame after the header: a 64 KiB GSO payload, Ethernet, VLAN. */
#define VNET_MAX_FRAME		(65535 + VNET_ETH_HLEN + VNET_VLAN_HLEN)
/* A TX iovec list: the header copy, then at most one piece per buffer. */
#define VNET_MAX_IOV		(VIRTQ_MAX_IOV + 1)

/* Control queue (§5.1.6.5): classes, commands and the ack values. */
#define VNET_CTRL_RX			0
#define VNET_CTRL_MAC			1
#define VNET_CTRL_VLAN			2
#define VNET_CTRL_ANNOUNCE		3
#define VNET_CTRL_MQ			4
#define VNET_CTRL_MQ_VQ_PAIRS_SET	0
#define VNET_CTRL_MQ_VQ_PAIRS_MIN	1
#define VNET_CTRL_MQ_VQ_PAIRS_MAX	0x8000
#define VNET_CTRL_GUEST_OFFLOADS	5
#define VNET_OK				0
#define VNET_ERR			1
/* Most command data copied out (a MAC table of about 80 entries). */
#define VNET_CTRL_MAX_DATA		512

/* struct virtio_net_hdr (§5.1.6), wire layout. */
struct vnet_hdr {
	uint8_t		vh_flags;	/* guest-controlled on TX */
	uint8_t		vh_gso_type;
	uint16_t	vh_hdr_len;	/* a hint; the tap re-checks it */
	uint16_t	vh_gso_size;
	uint16_t	vh_csum_start;
	uint16_t	vh_csum_offset;
	uint16_t	vh_num_buffers;	/* RX with MRG_RXBUF; TX: ignored */
};
_Static_assert(sizeof(struct vnet_hdr) == VNET_HDR_LEN, "vnet_hdr layout");

/* struct virtio_net_config (§5.1.4), wire layout, the fields Hull offers. */
struct vnet_config {
	uint8_t		vcfg_mac[6];
	uint16_t	vcfg_status;		/* VNET_S_* */
	uint16_t	vcfg_max_virtqueue_pairs;
	uint16_t	vcfg_mtu;
};
_Static_assert(sizeof(struct vnet_config) == 12, "vnet_config layout");

/* A checked transmit packet. */
struct vnet_tx {
	struct vnet_hdr	 vt_hdr;	/* the one copy of the header, checked */
	/*
	 * The packet as a tap with IFF_VNET_HDR (and a 12-byte vnet header
	 * size) wants it: vt_iov[0] is vt_hdr itself, never the guest's bytes;
	 * then the frame, pointing into guest RAM, without empty pieces.
	 */
	struct iovec	 vt_iov[VNET_MAX_IOV];
	unsigned int	 vt_niov;
	size_t		 vt_frame_len;	/* bytes after the header */
};

/*
 * Check a transmit chain: iov[0..nout) readable, nin writable, as a
 * virtqueue delivers them; acked_features is the negotiated mask (1ULL <<
 * VIRTIO_NET_F_*).  The 12-byte header may span buffers; it is copied into
 * out->vt_hdr once.  Returns 0 and fills *out, or (out then undefined):
 *   -EINVAL     writable buffers in a TX chain (nin != 0);
 *   -E2BIG      more than VIRTQ_MAX_IOV buffers;
 *   -EBADMSG    fewer than VNET_HDR_LEN bytes: no header;
 *   -ENODATA    frame shorter than VNET_ETH_HLEN (a runt);
 *   -EMSGSIZE   frame longer than VNET_MAX_FRAME;
 *   -EOPNOTSUPP a flag or gso_type the driver did not negotiate or that
 *               does not exist: NEEDS_CSUM without CSUM; DATA_VALID,
 *               RSC_INFO or unknown flags; TCPV4 / TCPV6 / UDP / UDP_L4
 *               without HOST_TSO4 / HOST_TSO6 / HOST_UFO / HOST_USO; ECN
 *               without HOST_ECN; an unknown gso_type;
 *   -ERANGE     NEEDS_CSUM with csum_start + csum_offset + 2 past the end
 *               of the frame (computed without overflow);
 *   -EPROTO     a GSO type with gso_size 0, or the ECN bit on GSO_NONE.
 * On an error the device counts the packet, drops it and completes the
 * chain with used length 0.  out->vt_iov[0] points into *out: keep *out in
 * place until the writev.
 */
int	vnet_tx_parse(const struct iovec *iov, unsigned int nout,
	    unsigned int nin, uint64_t acked_features, struct vnet_tx *out);

/* A checked receive chain. */
struct vnet_rx {
	/* The writable buffers, without empty ones, trimmed to vr_len. */
	struct iovec	 vr_iov[VIRTQ_MAX_IOV];
	unsigned int	 vr_niov;
	/* Usable bytes, header included: <= VNET_HDR_LEN + VNET_MAX_FRAME. */
	size_t		 vr_len;
};

/*
 * Check a receive chain for a packet of need bytes (the frame, without the
 * header; need <= VNET_MAX_FRAME).  iov[0..nout) readable, then nin
 * writable.  Returns 0 and fills *out, or:
 *   -EINVAL   readable buffers in an RX chain (nout != 0);
 *   -E2BIG    more than VIRTQ_MAX_IOV buffers;
 *   -EBADMSG  fewer than VNET_HDR_LEN writable bytes;
 *   -EMSGSIZE need > VNET_MAX_FRAME (a host-side bug);
 *   -ENOBUFS  without MRG_RXBUF, the chain cannot hold VNET_HDR_LEN + need
 *             ("buffer too small": the driver broke §5.1.6.3.1).
 * With mrg_rxbuf, any chain of VNET_HDR_LEN bytes or more is accepted and
 * out->vr_len says how much of the packet it takes; the device spreads the
 * rest over further chains (only the first carries a header) and then sets
 * num_buffers in the first with vnet_rx_set_num_buffers().
 * Nothing is written to guest memory.
 */
int	vnet_rx_buffers(const struct iovec *iov, unsigned int nout,
	    unsigned int nin, bool mrg_rxbuf, size_t need, struct vnet_rx *out);

/*
 * Write hdr into the first VNET_HDR_LEN bytes of a chain checked by
 * vnet_rx_buffers() (the header may span buffers).  Returns 0, or -EINVAL
 * if rx holds fewer than VNET_HDR_LEN bytes.
 */
int	vnet_rx_write_hdr(const struct vnet_rx *rx, const struct vnet_hdr *hdr);

/*
 * Write num_buffers (bytes 10..11 of the header) into the first chain of a
 * packet.  Returns 0, or -EINVAL if rx holds fewer than VNET_HDR_LEN bytes
 * or n is 0.
 */
int	vnet_rx_set_num_buffers(const struct vnet_rx *rx, uint16_t n);

/* A control-queue command (§5.1.6.5), copied out of the chain. */
struct vnet_ctrl {
	uint8_t		 vct_class;
	uint8_t		 vct_cmd;
	uint8_t		 vct_data[VNET_CTRL_MAX_DATA];
	size_t		 vct_len;	/* bytes in vct_data */
	uint8_t		*vct_ack;	/* last writable byte, in guest RAM */
};

/*
 * Parse a control command: readable class (1 byte), command (1 byte) and
 * data, in any split over buffers; the ack is the last writable byte.
 * Returns 0, or:
 *   -EBADMSG  no writable byte (vct_ack NULL): complete with length 0;
 *   -EINVAL   fewer than 2 readable bytes: no class and command;
 *   -E2BIG    more than VNET_CTRL_MAX_DATA bytes of data, or more than
 *             VIRTQ_MAX_IOV buffers.
 * For every return but -EBADMSG vct_ack is set: write VNET_ERR there on an
 * error, and complete the chain with used length 1.
 */
int	vnet_ctrl_parse(const struct iovec *iov, unsigned int nout,
	    unsigned int nin, struct vnet_ctrl *out);

/*
 * Decode VNET_CTRL_MQ / VQ_PAIRS_SET: data exactly a le16, in 1..max_pairs
 * (max_pairs is the device's max_virtqueue_pairs).  Returns 0 and sets
 * *pairs, -EOPNOTSUPP for another class or command, -EINVAL otherwise.
 */
int	vnet_ctrl_mq_pairs(const struct vnet_ctrl *c, uint16_t max_pairs,
	    uint16_t *pairs);

/*
 * A stable MAC address for interface index of the VM called name (NULL is
 * taken as ""): 64-bit FNV-1a over the name's bytes, a 0 byte, and index as
 * 4 little-endian bytes; the first six bytes of the hash, least significant
 * first, with bit 0x02 (locally administered) set and bit 0x01 (multicast)
 * cleared in the first byte, so it is never all zero nor multicast.
 */
void	vnet_mac_from_name(const char *name, unsigned int index,
	    uint8_t mac[6]);

#endif /* VMM_VIRTIO_NET_REQ_H */
