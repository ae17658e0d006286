/*
 * Unit tests for guest memory (vmm/gm.c, include/gm.h): the region layout
 * around the 32-bit PCI hole, the bounds checks of gm_ptr() at the edges of
 * each region, gm_copy_to/from, and the 2 MiB-aligned mapping.
 *
 * gm_init() maps with MAP_NORESERVE, so a guest of several GiB costs only the
 * pages a test touches; no /dev/kvm is needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gm.h"

#define TG_MIB		(1ULL << 20)
#define TG_GIB		(1ULL << 30)
#define TG_ALIGN	(2 * TG_MIB)

/* A guest with only low RAM. */
static void
test_low_only(void **state)
{
	struct gm gm;
	uint64_t ram = 256 * TG_MIB;
	uint8_t *base;

	(void)state;
	assert_int_equal(gm_init(&gm, ram), 0);
	base = gm.gm_map;
	assert_non_null(base);
	assert_int_equal(gm.gm_nregions, 1);
	assert_int_equal(gm.gm_ram_size, ram);
	assert_int_equal(gm.gm_map_size, ram);
	assert_int_equal(gm.gm_regions[0].gr_gpa, 0);
	assert_int_equal(gm.gm_regions[0].gr_size, ram);
	assert_ptr_equal(gm.gm_regions[0].gr_hva, base);

	assert_ptr_equal(gm_ptr(&gm, 0, 1), base);
	assert_ptr_equal(gm_ptr(&gm, 0, ram), base);
	assert_null(gm_ptr(&gm, 0, ram + 1));
	assert_ptr_equal(gm_ptr(&gm, ram - 1, 1), base + ram - 1);
	assert_ptr_equal(gm_ptr(&gm, ram - 4, 4), base + ram - 4);
	assert_null(gm_ptr(&gm, ram - 4, 5));
	assert_null(gm_ptr(&gm, ram, 1));
	assert_null(gm_ptr(&gm, ram + 4096, 1));
	/* Nothing above low RAM, not even where high RAM would be. */
	assert_null(gm_ptr(&gm, GM_LOW_END, 1));
	assert_null(gm_ptr(&gm, GM_HIGH_START, 1));

	/* len 0 is treated as 1: valid at the last byte, not one past it. */
	assert_ptr_equal(gm_ptr(&gm, ram - 1, 0), base + ram - 1);
	assert_null(gm_ptr(&gm, ram, 0));
	assert_ptr_equal(gm_ptr(&gm, 0, 0), base);

	/* gpa + len overflowing 64 bits must not wrap into RAM. */
	assert_null(gm_ptr(&gm, UINT64_MAX, 1));
	assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	assert_null(gm_ptr(&gm, UINT64_MAX - 15, 32));
	assert_null(gm_ptr(&gm, 16, UINT64_MAX));
	assert_null(gm_ptr(&gm, 0, UINT64_MAX));
	assert_null(gm_ptr(&gm, ram - 1, UINT64_MAX));

	assert_true(gm_valid(&gm, ram - 1, 1));
	assert_false(gm_valid(&gm, ram - 1, 2));
	assert_false(gm_valid(&gm, UINT64_MAX, 1));

	/* The last byte is really writable. */
	base[ram - 1] = 0x5a;
	assert_int_equal(*(uint8_t *)gm_ptr(&gm, ram - 1, 1), 0x5a);
	gm_fini(&gm);
	assert_null(gm.gm_map);
	assert_int_equal(gm.gm_nregions, 0);
}

/* A guest with RAM on both sides of the hole: [0, 3G) and [4G, 4G + rest). */
static void
test_low_and_high(void **state)
{
	struct gm gm;
	uint64_t ram = 5000 * TG_MIB, high = ram - GM_LOW_END;
	uint64_t hend = GM_HIGH_START + high;
	uint8_t *base;

	(void)state;
	assert_int_equal(gm_init(&gm, ram), 0);
	base = gm.gm_map;
	assert_int_equal(gm.gm_nregions, 2);
	assert_int_equal(gm.gm_ram_size, ram);
	assert_int_equal(gm.gm_regions[0].gr_gpa, 0);
	assert_int_equal(gm.gm_regions[0].gr_size, GM_LOW_END);
	assert_ptr_equal(gm.gm_regions[0].gr_hva, base);
	assert_int_equal(gm.gm_regions[1].gr_gpa, GM_HIGH_START);
	assert_int_equal(gm.gm_regions[1].gr_size, high);
	assert_ptr_equal(gm.gm_regions[1].gr_hva, base + GM_LOW_END);

	/* Low region edges. */
	assert_ptr_equal(gm_ptr(&gm, GM_LOW_END - 1, 1), base + GM_LOW_END - 1);
	assert_ptr_equal(gm_ptr(&gm, 0, GM_LOW_END), base);
	assert_null(gm_ptr(&gm, 0, GM_LOW_END + 1));
	assert_null(gm_ptr(&gm, GM_LOW_END, 1));
	assert_null(gm_ptr(&gm, GM_LOW_END, 0));

	/* The hole. */
	assert_null(gm_ptr(&gm, GM_LOW_END + 4096, 1));
	assert_null(gm_ptr(&gm, 0xfee00000ULL, 4));	/* LAPIC */
	assert_null(gm_ptr(&gm, GM_HIGH_START - 1, 1));

	/* Ranges straddling the hole, from either side or across it. */
	assert_null(gm_ptr(&gm, GM_LOW_END - 8, 16));
	assert_null(gm_ptr(&gm, GM_HIGH_START - 8, 16));
	assert_null(gm_ptr(&gm, GM_LOW_END - 1, GM_HIGH_START - GM_LOW_END + 2));
	assert_null(gm_ptr(&gm, 0, ram));

	/* High region edges. */
	assert_ptr_equal(gm_ptr(&gm, GM_HIGH_START, 1), base + GM_LOW_END);
	assert_ptr_equal(gm_ptr(&gm, GM_HIGH_START, high), base + GM_LOW_END);
	assert_null(gm_ptr(&gm, GM_HIGH_START, high + 1));
	assert_ptr_equal(gm_ptr(&gm, hend - 1, 1), base + ram - 1);
	assert_ptr_equal(gm_ptr(&gm, hend - 1, 0), base + ram - 1);
	assert_ptr_equal(gm_ptr(&gm, hend - 8, 8), base + ram - 8);
	assert_null(gm_ptr(&gm, hend - 8, 9));
	assert_null(gm_ptr(&gm, hend, 1));
	assert_null(gm_ptr(&gm, hend, 0));

	/* Overflow: gpa + len wrapping past 2^64 into either region. */
	assert_null(gm_ptr(&gm, GM_HIGH_START, UINT64_MAX));
	assert_null(gm_ptr(&gm, GM_HIGH_START + 10, UINT64_MAX - GM_HIGH_START - 5));
	assert_null(gm_ptr(&gm, hend - 1, UINT64_MAX));
	assert_null(gm_ptr(&gm, UINT64_MAX - 7, 16));

	/* Both ends of each region are backed by distinct memory. */
	*(uint8_t *)gm_ptr(&gm, GM_LOW_END - 1, 1) = 0x11;
	*(uint8_t *)gm_ptr(&gm, GM_HIGH_START, 1) = 0x22;
	*(uint8_t *)gm_ptr(&gm, hend - 1, 1) = 0x33;
	assert_int_equal(base[GM_LOW_END - 1], 0x11);
	assert_int_equal(base[GM_LOW_END], 0x22);
	assert_int_equal(base[ram - 1], 0x33);
	gm_fini(&gm);
}

/* Exactly 3 GiB has no high region; one page more has a one-page one. */
static void
test_hole_boundary(void **state)
{
	struct gm gm;

	(void)state;
	assert_int_equal(gm_init(&gm, GM_LOW_END), 0);
	assert_int_equal(gm.gm_nregions, 1);
	assert_int_equal(gm.gm_regions[0].gr_size, GM_LOW_END);
	assert_non_null(gm_ptr(&gm, GM_LOW_END - 1, 1));
	assert_null(gm_ptr(&gm, GM_HIGH_START, 1));
	gm_fini(&gm);

	assert_int_equal(gm_init(&gm, GM_LOW_END + 4096), 0);
	assert_int_equal(gm.gm_nregions, 2);
	assert_int_equal(gm.gm_regions[1].gr_gpa, GM_HIGH_START);
	assert_int_equal(gm.gm_regions[1].gr_size, 4096);
	assert_non_null(gm_ptr(&gm, GM_HIGH_START + 4095, 1));
	assert_null(gm_ptr(&gm, GM_HIGH_START + 4095, 2));
	assert_null(gm_ptr(&gm, GM_HIGH_START + 4096, 1));
	gm_fini(&gm);
}

static void
test_copy(void **state)
{
	struct gm gm;
	uint64_t ram = GM_LOW_END + 64 * TG_MIB;
	uint64_t hend = GM_HIGH_START + 64 * TG_MIB;
	uint8_t src[64], dst[64], keep[64];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	memset(keep, 0xa5, sizeof(keep));
	assert_int_equal(gm_init(&gm, ram), 0);

	/* Round trips at the last bytes of each region. */
	assert_int_equal(gm_copy_to(&gm, GM_LOW_END - sizeof(src), src,
	    sizeof(src)), 0);
	memset(dst, 0, sizeof(dst));
	assert_int_equal(gm_copy_from(&gm, dst, GM_LOW_END - sizeof(dst),
	    sizeof(dst)), 0);
	assert_memory_equal(dst, src, sizeof(src));
	assert_int_equal(gm_copy_to(&gm, hend - sizeof(src), src, sizeof(src)),
	    0);
	memset(dst, 0, sizeof(dst));
	assert_int_equal(gm_copy_from(&gm, dst, hend - sizeof(dst),
	    sizeof(dst)), 0);
	assert_memory_equal(dst, src, sizeof(src));

	/* Out of range: -EFAULT and nothing copied. */
	memcpy(dst, keep, sizeof(dst));
	assert_int_equal(gm_copy_from(&gm, dst, GM_LOW_END - 32, sizeof(dst)),
	    -EFAULT);
	assert_int_equal(gm_copy_from(&gm, dst, GM_LOW_END, 1), -EFAULT);
	assert_int_equal(gm_copy_from(&gm, dst, GM_HIGH_START - 1, 2), -EFAULT);
	assert_int_equal(gm_copy_from(&gm, dst, hend - 1, 2), -EFAULT);
	assert_int_equal(gm_copy_from(&gm, dst, hend, 1), -EFAULT);
	assert_int_equal(gm_copy_from(&gm, dst, UINT64_MAX - 3, 8), -EFAULT);
	assert_memory_equal(dst, keep, sizeof(keep));

	assert_int_equal(gm_copy_to(&gm, GM_LOW_END - 32, src, sizeof(src)),
	    -EFAULT);
	assert_int_equal(gm_copy_to(&gm, GM_LOW_END, src, 1), -EFAULT);
	assert_int_equal(gm_copy_to(&gm, GM_HIGH_START - 1, src, 2), -EFAULT);
	assert_int_equal(gm_copy_to(&gm, hend - 1, src, 2), -EFAULT);
	assert_int_equal(gm_copy_to(&gm, hend, src, 1), -EFAULT);
	assert_int_equal(gm_copy_to(&gm, UINT64_MAX - 3, src, 8), -EFAULT);
	/* The partial copies that were refused left RAM as it was. */
	assert_memory_equal(gm_ptr(&gm, GM_LOW_END - 32, 32), src + 32, 32);

	/* Zero-length copies are fine inside RAM. */
	assert_int_equal(gm_copy_to(&gm, 0, src, 0), 0);
	assert_int_equal(gm_copy_from(&gm, dst, hend - 1, 0), 0);
	gm_fini(&gm);
}

static void
test_init_rejects(void **state)
{
	static const uint64_t bad[] = {
		0, 1, 4095, 4097, 2 * TG_MIB + 1, 256 * TG_MIB - 512,
		UINT64_MAX, UINT64_MAX & ~4095ULL,
		(uint64_t)SIZE_MAX - TG_ALIGN + 4096,
	};
	struct gm gm;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&gm, 0x5a, sizeof(gm));
		assert_int_equal(gm_init(&gm, bad[i]), -EINVAL);
		assert_null(gm.gm_map);
		assert_int_equal(gm.gm_nregions, 0);
		assert_null(gm_ptr(&gm, 0, 1));
		gm_fini(&gm);	/* harmless after a failed init */
	}
}

static void
test_aligned(void **state)
{
	static const uint64_t sizes[] = {
		4096, 8192, TG_ALIGN - 4096, TG_ALIGN, TG_ALIGN + 4096,
		256 * TG_MIB, 4 * TG_GIB,
	};
	struct gm gm[4];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* Several at once, so they cannot all land aligned by luck. */
		for (j = 0; j < 4; j++) {
			assert_int_equal(gm_init(&gm[j], sizes[i]), 0);
			assert_int_equal((uintptr_t)gm[j].gm_map % TG_ALIGN, 0);
			assert_int_equal(gm[j].gm_map_size, sizes[i]);
			((uint8_t *)gm[j].gm_map)[0] = 1;
			((uint8_t *)gm[j].gm_map)[sizes[i] - 1] = 2;
			/* Fresh RAM reads as zeros. */
			assert_int_equal(((uint8_t *)gm[j].gm_map)[sizes[i] / 2],
			    0);
		}
		for (j = 0; j < 4; j++)
			gm_fini(&gm[j]);
	}
}

/* gm_init_from lays out the same regions over a caller's buffer. */
static void
test_init_from(void **state)
{
	struct gm gm;
	uint8_t *buf;

	(void)state;
	buf = calloc(1, 64 * 1024);
	assert_non_null(buf);
	gm_init_from(&gm, buf, 64 * 1024);
	assert_int_equal(gm.gm_nregions, 1);
	assert_null(gm.gm_map);
	assert_ptr_equal(gm_ptr(&gm, 64 * 1024 - 1, 1), buf + 64 * 1024 - 1);
	assert_null(gm_ptr(&gm, 64 * 1024, 1));
	gm_fini(&gm);	/* must not unmap a buffer it does not own */
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_low_only),
		cmocka_unit_test(test_low_and_high),
		cmocka_unit_test(test_hole_boundary),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_aligned),
		cmocka_unit_test(test_init_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
