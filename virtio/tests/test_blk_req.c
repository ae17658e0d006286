/*
 * virtio-blk request parsing: every guest-controlled field of a request,
 * well-formed and hostile, with the outcome expected for each.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../blk_req.h"

static const struct vblk_limits lim = {
	.vl_capacity = 2048,		/* 1 MiB */
	.vl_flush = true, .vl_discard = true, .vl_write_zeroes = true,
	.vl_max_discard_sectors = 1024, .vl_max_wz_sectors = 1024,
	.vl_max_segs = 4,
};

static uint8_t hdr[64], data[8192], status[4];
static struct vblk_req req;

static void
set_hdr(uint32_t type, uint64_t sector)
{
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
}

/* header | data (readable for OUT) | status */
static int
parse3(uint32_t type, uint64_t sector, size_t dlen, bool data_writable,
    const struct vblk_limits *l)
{
	struct iovec iov[3] = {
		{ hdr, 16 }, { data, dlen }, { status, 1 },
	};

	set_hdr(type, sector);
	if (data_writable) {
		/* IN: header readable; data and status writable. */
		return vblk_parse(iov, 1, 2, l, &req);
	}
	return vblk_parse(iov, 2, 1, l, &req);
}

static void
test_read_write_ok(void **state)
{
	(void)state;
	assert_int_equal(parse3(VBLK_T_IN, 8, 4096, true, &lim), VBLK_S_OK);
	assert_int_equal(req.vr_len, 4096);
	assert_int_equal(req.vr_niov, 1);
	assert_ptr_equal(req.vr_iov[0].iov_base, data);
	assert_ptr_equal(req.vr_status, status);
	assert_int_equal(req.vr_sector, 8);
	assert_int_equal(parse3(VBLK_T_OUT, 2040, 4096, false, &lim), VBLK_S_OK);
	assert_int_equal(req.vr_len, 4096);
}

static void
test_header_split_across_descriptors(void **state)
{
	struct iovec iov[4] = {
		{ hdr, 5 }, { hdr + 5, 11 }, { data, 512 }, { status, 1 },
	};

	(void)state;
	set_hdr(VBLK_T_OUT, 3);
	assert_int_equal(vblk_parse(iov, 3, 1, &lim, &req), VBLK_S_OK);
	assert_int_equal(req.vr_sector, 3);
	assert_int_equal(req.vr_len, 512);
}

static void
test_header_and_data_in_one_buffer(void **state)
{
	/* Some drivers put header and data in one descriptor. */
	static uint8_t buf[16 + 1024];
	struct iovec iov[2] = { { buf, sizeof(buf) }, { status, 1 } };
	uint32_t t = VBLK_T_OUT;

	(void)state;
	memset(buf, 0, 16);
	memcpy(buf, &t, 4);
	assert_int_equal(vblk_parse(iov, 1, 1, &lim, &req), VBLK_S_OK);
	assert_ptr_equal(req.vr_iov[0].iov_base, buf + 16);
	assert_int_equal(req.vr_len, 1024);
}

static void
test_status_and_data_in_one_buffer(void **state)
{
	static uint8_t buf[513];
	struct iovec iov[2] = { { hdr, 16 }, { buf, sizeof(buf) } };

	(void)state;
	set_hdr(VBLK_T_IN, 0);
	assert_int_equal(vblk_parse(iov, 1, 1, &lim, &req), VBLK_S_OK);
	assert_int_equal(req.vr_len, 512);
	assert_ptr_equal(req.vr_status, buf + 512);
}

static void
test_no_status_byte(void **state)
{
	struct iovec iov[2] = { { hdr, 16 }, { data, 512 } };
	struct iovec iov0[2] = { { hdr, 16 }, { status, 0 } };

	(void)state;
	set_hdr(VBLK_T_OUT, 0);
	assert_int_equal(vblk_parse(iov, 2, 0, &lim, &req), -EBADMSG);
	assert_int_equal(vblk_parse(iov0, 1, 1, &lim, &req), -EBADMSG);
}

static void
test_short_header(void **state)
{
	struct iovec iov[2] = { { hdr, 15 }, { status, 1 } };

	(void)state;
	assert_int_equal(vblk_parse(iov, 1, 1, &lim, &req), VBLK_S_IOERR);
	assert_ptr_equal(req.vr_status, status);
}

static void
test_out_of_range(void **state)
{
	(void)state;
	/* Past the end, straddling the end, and sectors that overflow. */
	assert_int_equal(parse3(VBLK_T_IN, 2048, 512, true, &lim), VBLK_S_IOERR);
	assert_int_equal(parse3(VBLK_T_OUT, 2047, 1024, false, &lim),
	    VBLK_S_IOERR);
	assert_int_equal(parse3(VBLK_T_IN, UINT64_MAX, 512, true, &lim),
	    VBLK_S_IOERR);
	assert_int_equal(parse3(VBLK_T_IN, UINT64_MAX / 512 + 1, 512, true,
	    &lim), VBLK_S_IOERR);
	/* The last sector is fine. */
	assert_int_equal(parse3(VBLK_T_IN, 2047, 512, true, &lim), VBLK_S_OK);
}

static void
test_partial_sector(void **state)
{
	(void)state;
	assert_int_equal(parse3(VBLK_T_OUT, 0, 100, false, &lim), VBLK_S_IOERR);
	assert_int_equal(parse3(VBLK_T_IN, 0, 513, true, &lim), VBLK_S_IOERR);
}

static void
test_readonly(void **state)
{
	struct vblk_limits ro = lim;

	(void)state;
	ro.vl_readonly = true;
	assert_int_equal(parse3(VBLK_T_OUT, 0, 512, false, &ro), VBLK_S_IOERR);
	assert_int_equal(parse3(VBLK_T_IN, 0, 512, true, &ro), VBLK_S_OK);
	assert_int_equal(parse3(VBLK_T_DISCARD, 0, 16, false, &ro),
	    VBLK_S_IOERR);
}

static void
test_flush_get_id_unknown(void **state)
{
	struct vblk_limits nof = lim;
	struct iovec iov[2] = { { hdr, 16 }, { status, 1 } };

	(void)state;
	set_hdr(VBLK_T_FLUSH, 0);
	assert_int_equal(vblk_parse(iov, 1, 1, &lim, &req), VBLK_S_OK);
	nof.vl_flush = false;
	assert_int_equal(vblk_parse(iov, 1, 1, &nof, &req), VBLK_S_UNSUPP);
	assert_int_equal(parse3(VBLK_T_GET_ID, 0, 20, true, &lim), VBLK_S_OK);
	assert_int_equal(req.vr_len, 20);
	assert_int_equal(parse3(VBLK_T_GET_ID, 0, 19, true, &lim), VBLK_S_IOERR);
	set_hdr(77, 0);
	assert_int_equal(vblk_parse(iov, 1, 1, &lim, &req), VBLK_S_UNSUPP);
}

static int
parse_segs(uint32_t type, const struct vblk_seg *segs, unsigned int n,
    const struct vblk_limits *l)
{
	struct iovec iov[3] = {
		{ hdr, 16 }, { data, 16 * (size_t)n }, { status, 1 },
	};
	unsigned int i;

	set_hdr(type, 0);
	for (i = 0; i < n; i++) {
		memcpy(data + 16 * i, &segs[i].vs_sector, 8);
		memcpy(data + 16 * i + 8, &segs[i].vs_nsectors, 4);
		memcpy(data + 16 * i + 12, &segs[i].vs_flags, 4);
	}
	return vblk_parse(iov, 2, 1, l, &req);
}

static void
test_discard_write_zeroes(void **state)
{
	struct vblk_seg ok[2] = { { 0, 8, 0 }, { 100, 1024, 0 } };
	struct vblk_seg unmap = { 0, 8, VBLK_DWZ_UNMAP };
	struct vblk_seg badflag = { 0, 8, 0x4 };
	struct vblk_seg zero = { 0, 0, 0 };
	struct vblk_seg big = { 0, 1025, 0 };
	struct vblk_seg past = { 2047, 2, 0 };
	struct vblk_seg wrap = { UINT64_MAX - 1, 8, 0 };
	struct vblk_seg many[17];
	struct vblk_limits nod = lim, huge = lim;

	(void)state;
	assert_int_equal(parse_segs(VBLK_T_DISCARD, ok, 2, &lim), VBLK_S_OK);
	assert_int_equal(req.vr_nseg, 2);
	assert_int_equal(req.vr_seg[1].vs_sector, 100);
	assert_int_equal(parse_segs(VBLK_T_WRITE_ZEROES, &unmap, 1, &lim),
	    VBLK_S_OK);
	assert_int_equal(parse_segs(VBLK_T_DISCARD, &unmap, 1, &lim),
	    VBLK_S_UNSUPP);
	assert_int_equal(parse_segs(VBLK_T_WRITE_ZEROES, &badflag, 1, &lim),
	    VBLK_S_UNSUPP);
	assert_int_equal(parse_segs(VBLK_T_DISCARD, &zero, 1, &lim),
	    VBLK_S_IOERR);
	assert_int_equal(parse_segs(VBLK_T_DISCARD, &big, 1, &lim),
	    VBLK_S_IOERR);
	assert_int_equal(parse_segs(VBLK_T_DISCARD, &past, 1, &lim),
	    VBLK_S_IOERR);
	assert_int_equal(parse_segs(VBLK_T_DISCARD, &wrap, 1, &lim),
	    VBLK_S_IOERR);
	memset(many, 0, sizeof(many));
	for (unsigned int i = 0; i < 17; i++)
		many[i].vs_nsectors = 1;
	assert_int_equal(parse_segs(VBLK_T_DISCARD, many, 5, &lim),
	    VBLK_S_UNSUPP);
	/* A device that allows more than the parser holds is still safe. */
	huge.vl_max_segs = 1000;
	assert_int_equal(parse_segs(VBLK_T_DISCARD, many, 17, &huge),
	    VBLK_S_UNSUPP);
	nod.vl_discard = false;
	assert_int_equal(parse_segs(VBLK_T_DISCARD, ok, 1, &nod),
	    VBLK_S_UNSUPP);
	/* Segment bytes not a multiple of 16. */
	{
		struct iovec iov[3] = { { hdr, 16 }, { data, 20 }, { status, 1 } };

		set_hdr(VBLK_T_DISCARD, 0);
		assert_int_equal(vblk_parse(iov, 2, 1, &lim, &req),
		    VBLK_S_IOERR);
	}
}

static void
test_too_many_iovecs(void **state)
{
	static struct iovec iov[VBLK_MAX_IOV + 3];
	unsigned int i;

	(void)state;
	set_hdr(VBLK_T_OUT, 0);
	iov[0] = (struct iovec){ hdr, 16 };
	for (i = 1; i <= VBLK_MAX_IOV + 1; i++)
		iov[i] = (struct iovec){ data, 512 };
	iov[i] = (struct iovec){ status, 1 };
	assert_int_equal(vblk_parse(iov, VBLK_MAX_IOV + 2, 1, &lim, &req),
	    VBLK_S_IOERR);
	assert_int_equal(vblk_parse(iov, VBLK_MAX_IOV + 1, 1, &lim, &req),
	    VBLK_S_OK);
	assert_int_equal(req.vr_niov, VBLK_MAX_IOV);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write_ok),
		cmocka_unit_test(test_header_split_across_descriptors),
		cmocka_unit_test(test_header_and_data_in_one_buffer),
		cmocka_unit_test(test_status_and_data_in_one_buffer),
		cmocka_unit_test(test_no_status_byte),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_partial_sector),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_flush_get_id_unknown),
		cmocka_unit_test(test_discard_write_zeroes),
		cmocka_unit_test(test_too_many_iovecs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
