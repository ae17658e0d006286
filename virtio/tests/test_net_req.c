/*
 * virtio-net buffer and header checks: every guest-controlled input of a
 * TX chain, an RX chain and a control command, well-formed and hostile,
 * with the outcome expected for each; and the MAC derivation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../net_req.h"

#define F(b)	(1ULL << VIRTIO_NET_F_##b)

static uint8_t hdrb[64], frame[VNET_MAX_FRAME + 64], rxb[4][4096];
static struct vnet_tx tx;
static struct vnet_rx rx;
static struct vnet_ctrl ctl;

static void
set_hdr(uint8_t flags, uint8_t gso, uint16_t gso_size, uint16_t cstart,
    uint16_t coff)
{
	struct vnet_hdr h = {
		.vh_flags = flags, .vh_gso_type = gso, .vh_hdr_len = 54,
		.vh_gso_size = gso_size, .vh_csum_start = cstart,
		.vh_csum_offset = coff,
	};

	memset(hdrb, 0, sizeof(hdrb));
	memcpy(hdrb, &h, sizeof(h));
}

/* header | frame of flen bytes, two readable buffers. */
static int
tx2(size_t flen, uint64_t feat)
{
	struct iovec iov[2] = { { hdrb, VNET_HDR_LEN }, { frame, flen } };

	return vnet_tx_parse(iov, 2, 0, feat, &tx);
}

static void
test_tx_ok(void **state)
{
	(void)state;
	set_hdr(0, VNET_HDR_GSO_NONE, 0, 0, 0);
	assert_int_equal(tx2(60, 0), 0);
	assert_int_equal(tx.vt_frame_len, 60);
	assert_int_equal(tx.vt_niov, 2);
	assert_ptr_equal(tx.vt_iov[0].iov_base, &tx.vt_hdr);
	assert_int_equal(tx.vt_iov[0].iov_len, VNET_HDR_LEN);
	assert_ptr_equal(tx.vt_iov[1].iov_base, frame);
	assert_int_equal(tx.vt_iov[1].iov_len, 60);
	assert_int_equal(tx.vt_hdr.vh_hdr_len, 54);
	/* Header and frame in one buffer (Linux's usual layout). */
	{
		struct iovec one = { frame, VNET_HDR_LEN + 100 };

		memcpy(frame, hdrb, VNET_HDR_LEN);
		assert_int_equal(vnet_tx_parse(&one, 1, 0, 0, &tx), 0);
		assert_int_equal(tx.vt_niov, 2);
		assert_ptr_equal(tx.vt_iov[1].iov_base, frame + VNET_HDR_LEN);
		assert_int_equal(tx.vt_iov[1].iov_len, 100);
		assert_int_equal(tx.vt_frame_len, 100);
	}
}

static void
test_tx_header_split(void **state)
{
	struct iovec iov[4] = {
		{ hdrb, 3 }, { hdrb + 3, 0 }, { hdrb + 3, 9 }, { frame, 64 },
	};

	(void)state;
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_TCPV4, 1448, 34, 16);
	assert_int_equal(vnet_tx_parse(iov, 4, 0, F(CSUM) | F(HOST_TSO4), &tx),
	    0);
	assert_int_equal(tx.vt_hdr.vh_gso_size, 1448);
	assert_int_equal(tx.vt_hdr.vh_csum_start, 34);
	assert_int_equal(tx.vt_niov, 2);
	/* The header copy is what the tap sees, not the guest's bytes. */
	hdrb[0] = 0xff;
	assert_int_equal(((uint8_t *)tx.vt_iov[0].iov_base)[0],
	    VNET_HDR_F_NEEDS_CSUM);
	/* Header and frame sharing a buffer boundary at byte 7 of the frame. */
	{
		struct iovec s[3] = {
			{ frame, 10 }, { frame + 10, 9 }, { frame + 19, 60 },
		};

		set_hdr(0, 0, 0, 0, 0);
		memcpy(frame, hdrb, VNET_HDR_LEN);
		assert_int_equal(vnet_tx_parse(s, 3, 0, 0, &tx), 0);
		assert_int_equal(tx.vt_frame_len, 67);
		assert_int_equal(tx.vt_niov, 3);
		assert_ptr_equal(tx.vt_iov[1].iov_base, frame + 12);
		assert_int_equal(tx.vt_iov[1].iov_len, 7);
	}
}

static void
test_tx_short_header(void **state)
{
	struct iovec iov[2] = { { hdrb, 11 }, { frame, 0 } };

	(void)state;
	set_hdr(0, 0, 0, 0, 0);
	assert_int_equal(vnet_tx_parse(iov, 1, 0, 0, &tx), -EBADMSG);
	assert_int_equal(vnet_tx_parse(iov, 2, 0, 0, &tx), -EBADMSG);
	assert_int_equal(vnet_tx_parse(iov, 0, 0, 0, &tx), -EBADMSG);
}

static void
test_tx_zero_length_buffers(void **state)
{
	struct iovec iov[5] = {
		{ hdrb, 0 }, { hdrb, VNET_HDR_LEN }, { frame, 0 },
		{ frame, 20 }, { frame + 20, 0 },
	};
	struct iovec none[3] = { { hdrb, 0 }, { frame, 0 }, { frame, 0 } };

	(void)state;
	set_hdr(0, 0, 0, 0, 0);
	assert_int_equal(vnet_tx_parse(iov, 5, 0, 0, &tx), 0);
	assert_int_equal(tx.vt_niov, 2);	/* empty pieces dropped */
	assert_int_equal(tx.vt_frame_len, 20);
	assert_int_equal(vnet_tx_parse(none, 3, 0, 0, &tx), -EBADMSG);
}

static void
test_tx_frame_length(void **state)
{
	struct iovec big[3] = {
		{ hdrb, VNET_HDR_LEN }, { frame, VNET_MAX_FRAME },
		{ frame, SIZE_MAX },
	};

	(void)state;
	set_hdr(0, 0, 0, 0, 0);
	assert_int_equal(tx2(0, 0), -ENODATA);
	assert_int_equal(tx2(13, 0), -ENODATA);
	assert_int_equal(tx2(14, 0), 0);
	assert_int_equal(tx2(VNET_MAX_FRAME, 0), 0);
	assert_int_equal(tx2(VNET_MAX_FRAME + 1, 0), -EMSGSIZE);
	/* A sum that would wrap size_t is still "too long". */
	assert_int_equal(vnet_tx_parse(big, 3, 0, 0, &tx), -EMSGSIZE);
}

static void
test_tx_writable_descriptors(void **state)
{
	struct iovec iov[3] = {
		{ hdrb, VNET_HDR_LEN }, { frame, 60 }, { rxb[0], 1 },
	};

	(void)state;
	set_hdr(0, 0, 0, 0, 0);
	assert_int_equal(vnet_tx_parse(iov, 2, 1, 0, &tx), -EINVAL);
	assert_int_equal(vnet_tx_parse(iov, 0, 3, 0, &tx), -EINVAL);
}

static void
test_tx_too_many_buffers(void **state)
{
	static struct iovec iov[VIRTQ_MAX_IOV + 1];
	unsigned int i;

	(void)state;
	set_hdr(0, 0, 0, 0, 0);
	iov[0] = (struct iovec){ hdrb, VNET_HDR_LEN };
	for (i = 1; i <= VIRTQ_MAX_IOV; i++)
		iov[i] = (struct iovec){ frame + i, 1 };
	assert_int_equal(vnet_tx_parse(iov, VIRTQ_MAX_IOV + 1, 0, 0, &tx),
	    -E2BIG);
	assert_int_equal(vnet_tx_parse(iov, VIRTQ_MAX_IOV, 0, 0, &tx), 0);
	assert_int_equal(tx.vt_niov, VIRTQ_MAX_IOV);
	assert_true(tx.vt_niov <= VNET_MAX_IOV);
}

static void
test_tx_gso_not_negotiated(void **state)
{
	uint64_t all = F(CSUM) | F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_UFO) |
	    F(HOST_ECN) | F(HOST_USO);

	(void)state;
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_TCPV4, 1448, 34, 16);
	assert_int_equal(tx2(1000, all), 0);
	assert_int_equal(tx2(1000, all & ~F(HOST_TSO4)), -EOPNOTSUPP);
	assert_int_equal(tx2(1000, F(CSUM) | F(HOST_TSO6)), -EOPNOTSUPP);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_TCPV6, 1428, 54, 16);
	assert_int_equal(tx2(1000, all), 0);
	assert_int_equal(tx2(1000, all & ~F(HOST_TSO6)), -EOPNOTSUPP);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_UDP, 1400, 34, 6);
	assert_int_equal(tx2(1000, all), 0);
	assert_int_equal(tx2(1000, all & ~F(HOST_UFO)), -EOPNOTSUPP);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_UDP_L4, 1400, 34, 6);
	assert_int_equal(tx2(1000, all), 0);
	assert_int_equal(tx2(1000, all & ~F(HOST_USO)), -EOPNOTSUPP);
	/* ECN on a TSO packet needs HOST_ECN. */
	set_hdr(VNET_HDR_F_NEEDS_CSUM,
	    VNET_HDR_GSO_TCPV4 | VNET_HDR_GSO_ECN, 1448, 34, 16);
	assert_int_equal(tx2(1000, all), 0);
	assert_int_equal(tx2(1000, all & ~F(HOST_ECN)), -EOPNOTSUPP);
	/* ECN alone is no GSO type. */
	set_hdr(0, VNET_HDR_GSO_ECN, 0, 0, 0);
	assert_int_equal(tx2(1000, all), -EPROTO);
	/* Unknown types (2, 6..0x7f) are refused whatever was negotiated. */
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 2, 1448, 34, 16);
	assert_int_equal(tx2(1000, ~0ULL), -EOPNOTSUPP);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0x7f, 1448, 34, 16);
	assert_int_equal(tx2(1000, ~0ULL), -EOPNOTSUPP);
}

static void
test_tx_gso_size_zero(void **state)
{
	(void)state;
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_TCPV4, 0, 34, 16);
	assert_int_equal(tx2(1000, ~0ULL), -EPROTO);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, VNET_HDR_GSO_UDP, 0, 34, 6);
	assert_int_equal(tx2(1000, ~0ULL), -EPROTO);
	/* gso_size is meaningless without GSO: not checked. */
	set_hdr(0, VNET_HDR_GSO_NONE, 0, 0, 0);
	assert_int_equal(tx2(1000, 0), 0);
}

static void
test_tx_flags(void **state)
{
	(void)state;
	/* NEEDS_CSUM needs VIRTIO_NET_F_CSUM. */
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
	assert_int_equal(tx2(100, F(CSUM)), 0);
	assert_int_equal(tx2(100, ~F(CSUM)), -EOPNOTSUPP);
	/* Device-to-driver flags and unknown flags from a driver. */
	set_hdr(VNET_HDR_F_DATA_VALID, 0, 0, 0, 0);
	assert_int_equal(tx2(100, ~0ULL), -EOPNOTSUPP);
	set_hdr(VNET_HDR_F_RSC_INFO, 0, 0, 0, 0);
	assert_int_equal(tx2(100, ~0ULL), -EOPNOTSUPP);
	set_hdr(0x80, 0, 0, 0, 0);
	assert_int_equal(tx2(100, ~0ULL), -EOPNOTSUPP);
}

static void
test_tx_csum_range(void **state)
{
	(void)state;
	/* The checksum field's last byte is the frame's last byte. */
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 34, 16);
	assert_int_equal(tx2(52, F(CSUM)), 0);
	assert_int_equal(tx2(51, F(CSUM)), -ERANGE);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 100, 0);
	assert_int_equal(tx2(60, F(CSUM)), -ERANGE);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 0, 100);
	assert_int_equal(tx2(60, F(CSUM)), -ERANGE);
	/* 16-bit fields that would wrap a 16-bit sum. */
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0xffff);
	assert_int_equal(tx2(VNET_MAX_FRAME, F(CSUM)), -ERANGE);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 0xfffe, 0x0002);
	assert_int_equal(tx2(VNET_MAX_FRAME, F(CSUM)), 0);
	set_hdr(VNET_HDR_F_NEEDS_CSUM, 0, 0, 0xffff, 0x0001);
	assert_int_equal(tx2(100, F(CSUM)), -ERANGE);
	/* Without NEEDS_CSUM the fields are not used: not checked. */
	set_hdr(0, 0, 0, 0xffff, 0xffff);
	assert_int_equal(tx2(100, 0), 0);
}

static void
test_rx_ok(void **state)
{
	struct iovec iov[2] = { { rxb[0], 1514 + 12 }, { rxb[1], 100 } };
	struct vnet_hdr h = { .vh_flags = VNET_HDR_F_DATA_VALID };

	(void)state;
	assert_int_equal(vnet_rx_buffers(iov, 0, 1, false, 1514, &rx), 0);
	assert_int_equal(rx.vr_len, 1526);
	assert_int_equal(rx.vr_niov, 1);
	assert_int_equal(vnet_rx_buffers(iov, 0, 2, false, 1514, &rx), 0);
	assert_int_equal(rx.vr_len, 1626);
	assert_int_equal(rx.vr_niov, 2);
	memset(rxb, 0xaa, sizeof(rxb));
	assert_int_equal(vnet_rx_write_hdr(&rx, &h), 0);
	assert_int_equal(rxb[0][0], VNET_HDR_F_DATA_VALID);
	assert_int_equal(rxb[0][11], 0);
	assert_int_equal(rxb[0][12], 0xaa);
}

static void
test_rx_readable_descriptors(void **state)
{
	struct iovec iov[2] = { { rxb[0], 100 }, { rxb[1], 2000 } };

	(void)state;
	assert_int_equal(vnet_rx_buffers(iov, 1, 1, false, 60, &rx), -EINVAL);
	assert_int_equal(vnet_rx_buffers(iov, 1, 1, true, 60, &rx), -EINVAL);
	assert_int_equal(vnet_rx_buffers(iov, 2, 0, true, 60, &rx), -EINVAL);
}

static void
test_rx_short_and_small(void **state)
{
	struct iovec iov[4] = {
		{ rxb[0], 0 }, { rxb[0], 11 }, { rxb[1], 0 }, { rxb[2], 1 },
	};
	struct iovec ok[2] = { { rxb[0], 12 }, { rxb[1], 60 } };

	(void)state;
	/* Fewer than 12 bytes: no room for a header, merged or not. */
	assert_int_equal(vnet_rx_buffers(iov, 0, 0, true, 60, &rx), -EBADMSG);
	assert_int_equal(vnet_rx_buffers(iov, 0, 1, true, 60, &rx), -EBADMSG);
	assert_int_equal(vnet_rx_buffers(iov, 0, 2, true, 60, &rx), -EBADMSG);
	assert_int_equal(vnet_rx_buffers(iov, 0, 3, true, 0, &rx), -EBADMSG);
	/* 12 bytes over two buffers (with an empty one): a header. */
	assert_int_equal(vnet_rx_buffers(iov, 0, 4, true, 60, &rx), 0);
	assert_int_equal(rx.vr_len, 12);
	assert_int_equal(rx.vr_niov, 2);
	/* Without MRG_RXBUF the chain must take header + frame. */
	assert_int_equal(vnet_rx_buffers(iov, 0, 4, false, 60, &rx), -ENOBUFS);
	assert_int_equal(vnet_rx_buffers(ok, 0, 2, false, 60, &rx), 0);
	assert_int_equal(vnet_rx_buffers(ok, 0, 2, false, 61, &rx), -ENOBUFS);
	assert_int_equal(vnet_rx_buffers(ok, 0, 2, true, 61, &rx), 0);
	assert_int_equal(rx.vr_len, 72);
	/* A host-side bug: a frame no chain should be asked for. */
	assert_int_equal(vnet_rx_buffers(ok, 0, 2, true, VNET_MAX_FRAME + 1,
	    &rx), -EMSGSIZE);
}

static void
test_rx_huge_chain_capped(void **state)
{
	struct iovec iov[3] = {
		{ rxb[0], 12 }, { frame, VNET_MAX_FRAME }, { frame, SIZE_MAX },
	};

	(void)state;
	/* Lengths that would wrap: vr_len stays at a header + a max frame. */
	assert_int_equal(vnet_rx_buffers(iov, 0, 3, false, VNET_MAX_FRAME,
	    &rx), 0);
	assert_int_equal(rx.vr_len, VNET_HDR_LEN + VNET_MAX_FRAME);
	assert_int_equal(rx.vr_niov, 2);
}

static void
test_rx_num_buffers(void **state)
{
	struct iovec iov[3] = { { rxb[0], 5 }, { rxb[1], 6 }, { rxb[2], 50 } };

	(void)state;
	memset(rxb, 0, sizeof(rxb));
	assert_int_equal(vnet_rx_buffers(iov, 0, 3, true, 1500, &rx), 0);
	/* num_buffers at header bytes 10..11: rxb[1][5], rxb[2][0]. */
	assert_int_equal(vnet_rx_set_num_buffers(&rx, 0x0203), 0);
	assert_int_equal(rxb[1][5], 0x03);
	assert_int_equal(rxb[2][0], 0x02);
	assert_int_equal(rxb[2][1], 0);
	assert_int_equal(vnet_rx_set_num_buffers(&rx, 0), -EINVAL);
	memset(&rx, 0, sizeof(rx));
	assert_int_equal(vnet_rx_set_num_buffers(&rx, 1), -EINVAL);
}

/* class | cmd, data..., ack */
static int
ctrl(const uint8_t *cmd, size_t clen, size_t split)
{
	struct iovec iov[3] = {
		{ hdrb, split }, { hdrb + split, clen - split }, { rxb[0], 1 },
	};

	memcpy(hdrb, cmd, clen);
	return vnet_ctrl_parse(iov, 2, 1, &ctl);
}

static void
test_ctrl_mq(void **state)
{
	const uint8_t set4[] = { VNET_CTRL_MQ, VNET_CTRL_MQ_VQ_PAIRS_SET, 4, 0 };
	const uint8_t set0[] = { VNET_CTRL_MQ, VNET_CTRL_MQ_VQ_PAIRS_SET, 0, 0 };
	const uint8_t set9[] = { VNET_CTRL_MQ, VNET_CTRL_MQ_VQ_PAIRS_SET, 9, 0 };
	const uint8_t setbig[] = { VNET_CTRL_MQ, 0, 0x01, 0x80 };
	const uint8_t rxcmd[] = { VNET_CTRL_RX, 0, 1 };
	uint16_t pairs = 0;

	(void)state;
	assert_int_equal(ctrl(set4, 4, 1), 0);
	assert_int_equal(ctl.vct_class, VNET_CTRL_MQ);
	assert_int_equal(ctl.vct_len, 2);
	assert_ptr_equal(ctl.vct_ack, rxb[0]);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 8, &pairs), 0);
	assert_int_equal(pairs, 4);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 4, &pairs), 0);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 3, &pairs), -EINVAL);
	assert_int_equal(ctrl(set0, 4, 2), 0);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 8, &pairs), -EINVAL);
	assert_int_equal(ctrl(set9, 4, 3), 0);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 8, &pairs), -EINVAL);
	assert_int_equal(ctrl(setbig, 4, 2), 0);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 0xffff, &pairs), -EINVAL);
	/* Pairs truncated to one byte, or with a trailing byte. */
	assert_int_equal(ctrl(set4, 3, 2), 0);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 8, &pairs), -EINVAL);
	{
		const uint8_t set4x[] = { VNET_CTRL_MQ, 0, 4, 0, 0 };

		assert_int_equal(ctrl(set4x, 5, 2), 0);
		assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 8, &pairs),
		    -EINVAL);
	}
	/* Another class is not an MQ command. */
	assert_int_equal(ctrl(rxcmd, 3, 2), 0);
	assert_int_equal(vnet_ctrl_mq_pairs(&ctl, 8, &pairs), -EOPNOTSUPP);
}

static void
test_ctrl_malformed(void **state)
{
	const uint8_t set4[] = { VNET_CTRL_MQ, VNET_CTRL_MQ_VQ_PAIRS_SET, 4, 0 };
	static uint8_t big[VNET_CTRL_MAX_DATA + 8];
	struct iovec iov[4] = {
		{ hdrb, 1 }, { rxb[0], 4 }, { rxb[1], 0 }, { rxb[2], 0 },
	};
	struct iovec bigv[2] = { { big, 0 }, { rxb[0], 1 } };

	(void)state;
	memcpy(hdrb, set4, sizeof(set4));
	/* A short command: class only; the ack is still found. */
	assert_int_equal(vnet_ctrl_parse(iov, 1, 1, &ctl), -EINVAL);
	assert_ptr_equal(ctl.vct_ack, rxb[0] + 3);
	assert_int_equal(vnet_ctrl_parse(iov + 1, 0, 1, &ctl), -EINVAL);
	/* No writable byte at all (empty writable buffers are skipped). */
	assert_int_equal(vnet_ctrl_parse(iov, 1, 0, &ctl), -EBADMSG);
	assert_null(ctl.vct_ack);
	assert_int_equal(vnet_ctrl_parse(iov + 1, 0, 0, &ctl), -EBADMSG);
	{
		struct iovec e[3] = { { hdrb, 4 }, { rxb[1], 0 },
		    { rxb[2], 0 } };

		assert_int_equal(vnet_ctrl_parse(e, 1, 2, &ctl), -EBADMSG);
	}
	/* The ack is the last writable byte, past an empty last buffer. */
	iov[0].iov_len = 4;
	assert_int_equal(vnet_ctrl_parse(iov, 1, 3, &ctl), 0);
	assert_ptr_equal(ctl.vct_ack, rxb[0] + 3);
	/* Data bounded by VNET_CTRL_MAX_DATA. */
	bigv[0].iov_len = 2 + VNET_CTRL_MAX_DATA;
	assert_int_equal(vnet_ctrl_parse(bigv, 1, 1, &ctl), 0);
	assert_int_equal(ctl.vct_len, VNET_CTRL_MAX_DATA);
	bigv[0].iov_len = 3 + VNET_CTRL_MAX_DATA;
	assert_int_equal(vnet_ctrl_parse(bigv, 1, 1, &ctl), -E2BIG);
	assert_non_null(ctl.vct_ack);
	bigv[0].iov_len = SIZE_MAX;
	assert_int_equal(vnet_ctrl_parse(bigv, 1, 1, &ctl), -E2BIG);
}

static void
test_mac(void **state)
{
	static const char *names[] = { "", "a", "b", "web", "web1", "db",
	    "a-very-long-vm-name-with-many-characters" };
	uint8_t m[64][6], a[6], b[6], zero[6] = { 0 };
	unsigned int i, j, n = 0, k;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (k = 0; k < 8; k++, n++) {
			vnet_mac_from_name(names[i], k, m[n]);
			/* Locally administered, unicast, never zero. */
			assert_int_equal(m[n][0] & 0x03, 0x02);
			assert_memory_not_equal(m[n], zero, 6);
			/* Stable. */
			vnet_mac_from_name(names[i], k, a);
			assert_memory_equal(m[n], a, 6);
		}
	}
	/* Distinct across names and indices. */
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			assert_memory_not_equal(m[i], m[j], 6);
	/* "ab" index 0 vs "a" + something: the separator keeps them apart. */
	vnet_mac_from_name("web", 1, a);
	vnet_mac_from_name("web1", 0, b);
	assert_memory_not_equal(a, b, 6);
	vnet_mac_from_name(NULL, 0, a);
	vnet_mac_from_name("", 0, b);
	assert_memory_equal(a, b, 6);
	vnet_mac_from_name("vm", 0xffffffffu, a);
	assert_int_equal(a[0] & 0x03, 0x02);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_ok),
		cmocka_unit_test(test_tx_header_split),
		cmocka_unit_test(test_tx_short_header),
		cmocka_unit_test(test_tx_zero_length_buffers),
		cmocka_unit_test(test_tx_frame_length),
		cmocka_unit_test(test_tx_writable_descriptors),
		cmocka_unit_test(test_tx_too_many_buffers),
		cmocka_unit_test(test_tx_gso_not_negotiated),
		cmocka_unit_test(test_tx_gso_size_zero),
		cmocka_unit_test(test_tx_flags),
		cmocka_unit_test(test_tx_csum_range),
		cmocka_unit_test(test_rx_ok),
		cmocka_unit_test(test_rx_readable_descriptors),
		cmocka_unit_test(test_rx_short_and_small),
		cmocka_unit_test(test_rx_huge_chain_capped),
		cmocka_unit_test(test_rx_num_buffers),
		cmocka_unit_test(test_ctrl_mq),
		cmocka_unit_test(test_ctrl_malformed),
		cmocka_unit_test(test_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
