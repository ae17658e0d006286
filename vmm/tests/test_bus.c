/*
 * Unit tests for PIO/MMIO dispatch (vmm/bus.c, include/bus.h): range
 * registration (sorted, no overlap, adjacent ranges allowed, empty and
 * wrapping ranges refused, a full bus), unregistration and registration at
 * a new base, dispatch to the owning device with the offset into its range,
 * unclaimed and straddling accesses, and a device whose handler fails (all
 * ones, logged once).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"

/* A device that records its last access and reads back a pattern. */
struct tdev {
	unsigned int	td_id;
	unsigned int	td_reads, td_writes;
	uint64_t	td_off;
	size_t		td_len;
	uint8_t		td_data[8];
	int		td_rc;		/* what the handlers return */
};

static int
tdev_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct tdev *td = priv;
	uint8_t *p = buf;
	size_t i;

	td->td_reads++;
	td->td_off = off;
	td->td_len = len;
	if (td->td_rc < 0)
		return td->td_rc;
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(td->td_id << 4 | (off + i));
	return 0;
}

static int
tdev_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct tdev *td = priv;

	td->td_writes++;
	td->td_off = off;
	td->td_len = len;
	if (td->td_rc < 0)
		return td->td_rc;
	memcpy(td->td_data, buf, len < sizeof(td->td_data) ? len :
	    sizeof(td->td_data));
	return 0;
}

static const struct bus_ops tdev_ops = { tdev_read, tdev_write };

static void
tb_dev(struct bus_dev *d, struct tdev *td, const char *name, uint64_t base,
    uint64_t size)
{
	memset(d, 0, sizeof(*d));
	d->bd_name = name;
	d->bd_ops = &tdev_ops;
	d->bd_base = base;
	d->bd_size = size;
	d->bd_priv = td;
}

static void
tb_assert_sorted(const struct bus *bus, enum bus_space sp)
{
	unsigned int i;

	for (i = 1; i < bus->bu_ndevs[sp]; i++) {
		const struct bus_dev *a = bus->bu_devs[sp][i - 1];
		const struct bus_dev *b = bus->bu_devs[sp][i];

		assert_true(a->bd_base + a->bd_size <= b->bd_base);
	}
}

static void
test_register_sorted(void **state)
{
	static const uint64_t bases[] = { 0x3f8, 0x60, 0x2f8, 0x64, 0x0, 0x600,
	    0xcf8 };
	struct bus_dev d[7];
	struct tdev td[7];
	struct bus bus;
	unsigned int i;

	(void)state;
	bus_init(&bus);
	memset(td, 0, sizeof(td));
	for (i = 0; i < 7; i++) {
		tb_dev(&d[i], &td[i], "t", bases[i], 4);
		assert_int_equal(bus_register(&bus, BUS_PIO, &d[i]), 0);
		tb_assert_sorted(&bus, BUS_PIO);
	}
	assert_int_equal(bus.bu_ndevs[BUS_PIO], 7);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 0);
	assert_ptr_equal(bus.bu_devs[BUS_PIO][0], &d[4]);
	assert_ptr_equal(bus.bu_devs[BUS_PIO][6], &d[6]);
}

static void
test_register_overlap(void **state)
{
	struct bus_dev a, b, c;
	struct tdev td;
	struct bus bus;
	/* Ranges that touch [0x100, 0x110) by at least one byte. */
	static const struct {
		uint64_t base, size;
	} over[] = {
		{ 0x100, 0x10 }, { 0x100, 1 }, { 0x10f, 1 }, { 0xff, 2 },
		{ 0x10f, 0x100 }, { 0x0, 0x1000 }, { 0x108, 4 }, { 0x0, 0x101 },
	};
	size_t i;

	(void)state;
	memset(&td, 0, sizeof(td));
	bus_init(&bus);
	tb_dev(&a, &td, "a", 0x100, 0x10);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &a), 0);
	for (i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		tb_dev(&b, &td, "b", over[i].base, over[i].size);
		assert_int_equal(bus_register(&bus, BUS_MMIO, &b), -EEXIST);
	}
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 1);

	/* Adjacent on both sides is fine. */
	tb_dev(&b, &td, "below", 0xf0, 0x10);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &b), 0);
	tb_dev(&c, &td, "above", 0x110, 0x10);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &c), 0);
	tb_assert_sorted(&bus, BUS_MMIO);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 3);

	/* The same range in the other space does not overlap. */
	tb_dev(&b, &td, "pio", 0x100, 0x10);
	assert_int_equal(bus_register(&bus, BUS_PIO, &b), 0);
}

/* A new range spanning a gap but overlapping a later device. */
static void
test_register_overlap_later(void **state)
{
	struct bus_dev d[4];
	struct tdev td;
	struct bus bus;

	(void)state;
	memset(&td, 0, sizeof(td));
	bus_init(&bus);
	tb_dev(&d[0], &td, "a", 0x1000, 0x100);
	tb_dev(&d[1], &td, "b", 0x3000, 0x100);
	tb_dev(&d[2], &td, "c", 0x5000, 0x100);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[0]), 0);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[1]), 0);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[2]), 0);
	tb_dev(&d[3], &td, "x", 0x2000, 0x3001);	/* ends in c */
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[3]), -EEXIST);
	tb_dev(&d[3], &td, "x", 0x1100, 0x1f00);	/* fills the gap */
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[3]), 0);
	tb_assert_sorted(&bus, BUS_MMIO);
}

static void
test_register_invalid(void **state)
{
	struct bus_dev d;
	struct tdev td;
	struct bus bus;

	(void)state;
	memset(&td, 0, sizeof(td));
	bus_init(&bus);
	tb_dev(&d, &td, "zero", 0x100, 0);
	assert_int_equal(bus_register(&bus, BUS_PIO, &d), -EINVAL);
	tb_dev(&d, &td, "wrap", UINT64_MAX, 2);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d), -EINVAL);
	tb_dev(&d, &td, "wrap", 2, UINT64_MAX);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d), -EINVAL);
	tb_dev(&d, &td, "wrap", UINT64_MAX - 0xff, 0x101);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d), -EINVAL);
	assert_int_equal(bus.bu_ndevs[BUS_PIO], 0);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 0);

	/* Up to the very top of the address space is not a wrap. */
	tb_dev(&d, &td, "top", UINT64_MAX - 0xff, 0x100);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d), 0);
}

static void
test_register_full(void **state)
{
	struct bus_dev d[BUS_MAX_DEVS + 1];
	struct tdev td;
	struct bus bus;
	unsigned int i;

	(void)state;
	memset(&td, 0, sizeof(td));
	bus_init(&bus);
	for (i = 0; i < BUS_MAX_DEVS; i++) {
		tb_dev(&d[i], &td, "d", 0x1000 * (BUS_MAX_DEVS - i), 0x10);
		assert_int_equal(bus_register(&bus, BUS_MMIO, &d[i]), 0);
	}
	tb_assert_sorted(&bus, BUS_MMIO);
	tb_dev(&d[i], &td, "one too many", 0x100000, 0x10);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[i]), -ENOSPC);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], BUS_MAX_DEVS);
	/* The other space has its own table. */
	assert_int_equal(bus_register(&bus, BUS_PIO, &d[i]), 0);
}

/* Unregistering frees the range for dispatch and for a new registration. */
static void
test_unregister(void **state)
{
	struct bus_dev d[3], other;
	struct tdev td[3];
	struct bus bus;
	uint32_t v = 0;
	unsigned int i;

	(void)state;
	memset(td, 0, sizeof(td));
	bus_init(&bus);
	for (i = 0; i < 3; i++) {
		td[i].td_id = i + 1;
		tb_dev(&d[i], &td[i], "d", 0x1000 * (i + 1), 0x100);
		assert_int_equal(bus_register(&bus, BUS_MMIO, &d[i]), 0);
	}
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &d[1]), 0);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 2);
	tb_assert_sorted(&bus, BUS_MMIO);
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x2000, &v, 4), -ENOENT);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(td[1].td_reads, 0);
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x3000, &v, 1), 0);
	assert_int_equal(td[2].td_reads, 1);
	/* Twice, in the wrong space, or never registered: -ENOENT. */
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &d[1]), -ENOENT);
	assert_int_equal(bus_unregister(&bus, BUS_PIO, &d[0]), -ENOENT);
	tb_dev(&other, &td[0], "other", 0x1000, 0x100);
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &other), -ENOENT);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 2);

	/* Moved: registered again at a new base. */
	d[1].bd_base = 0x8000;
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d[1]), 0);
	tb_assert_sorted(&bus, BUS_MMIO);
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x8004, &v, 1), 0);
	assert_int_equal(td[1].td_reads, 1);
	assert_int_equal(td[1].td_off, 4);

	/* First and last entries, down to an empty bus. */
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &d[1]), 0);
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &d[0]), 0);
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &d[2]), 0);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 0);
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x3000, &v, 1), -ENOENT);
}

static void
test_dispatch(void **state)
{
	struct bus_dev d[3];
	struct tdev td[3];
	struct bus bus;
	uint8_t buf[8];
	uint32_t v = 0xdeadbeef;
	unsigned int i;

	(void)state;
	memset(td, 0, sizeof(td));
	for (i = 0; i < 3; i++)
		td[i].td_id = i + 1;
	bus_init(&bus);
	tb_dev(&d[0], &td[0], "a", 0x3f8, 8);
	tb_dev(&d[1], &td[1], "b", 0x400, 8);	/* adjacent to a */
	tb_dev(&d[2], &td[2], "c", 0x60, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(bus_register(&bus, BUS_PIO, &d[i]), 0);

	assert_int_equal(bus_read(&bus, BUS_PIO, 0x3fd, buf, 1), 0);
	assert_int_equal(td[0].td_reads, 1);
	assert_int_equal(td[0].td_off, 5);
	assert_int_equal(td[0].td_len, 1);
	assert_int_equal(buf[0], 0x15);

	/* The last bytes of a, then the first of b. */
	assert_int_equal(bus_read(&bus, BUS_PIO, 0x3fc, buf, 4), 0);
	assert_int_equal(td[0].td_off, 4);
	assert_int_equal(td[0].td_len, 4);
	assert_int_equal(bus_read(&bus, BUS_PIO, 0x400, buf, 2), 0);
	assert_int_equal(td[1].td_reads, 1);
	assert_int_equal(td[1].td_off, 0);
	assert_int_equal(buf[0], 0x20);
	assert_int_equal(buf[1], 0x21);

	assert_int_equal(bus_write(&bus, BUS_PIO, 0x404, &v, 4), 0);
	assert_int_equal(td[1].td_writes, 1);
	assert_int_equal(td[1].td_off, 4);
	assert_int_equal(td[1].td_len, 4);
	assert_memory_equal(td[1].td_data, &v, 4);

	assert_int_equal(bus_write(&bus, BUS_PIO, 0x60, &v, 1), 0);
	assert_int_equal(td[2].td_writes, 1);
	assert_int_equal(td[2].td_off, 0);

	/* No access leaked to another device, none counted as unclaimed. */
	assert_int_equal(td[0].td_reads, 2);
	assert_int_equal(td[0].td_writes, 0);
	assert_int_equal(td[2].td_reads, 0);
	assert_int_equal(bus.bu_unclaimed[BUS_PIO], 0);

	/* A PIO device is not reachable through MMIO. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x3f8, buf, 1), -ENOENT);
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(td[0].td_reads, 2);
}

/* Many devices, so the binary search goes both ways. */
static void
test_dispatch_many(void **state)
{
	struct bus_dev d[BUS_MAX_DEVS];
	struct tdev td[BUS_MAX_DEVS];
	struct bus bus;
	uint8_t b;
	unsigned int i;

	(void)state;
	memset(td, 0, sizeof(td));
	bus_init(&bus);
	for (i = 0; i < BUS_MAX_DEVS; i++) {
		/* Registered in a scrambled order. */
		unsigned int k = (i * 7) % BUS_MAX_DEVS;

		td[k].td_id = k;
		tb_dev(&d[k], &td[k], "d", 0x10000 + 0x100 * k, 0x10);
		assert_int_equal(bus_register(&bus, BUS_MMIO, &d[k]), 0);
	}
	tb_assert_sorted(&bus, BUS_MMIO);
	for (i = 0; i < BUS_MAX_DEVS; i++) {
		assert_int_equal(bus_read(&bus, BUS_MMIO, 0x10000 + 0x100 * i +
		    0xf, &b, 1), 0);
		assert_int_equal(td[i].td_reads, 1);
		assert_int_equal(td[i].td_off, 0xf);
		/* The gap after each device is unclaimed. */
		assert_int_equal(bus_read(&bus, BUS_MMIO, 0x10000 + 0x100 * i +
		    0x10, &b, 1), -ENOENT);
	}
	assert_int_equal(bus.bu_unclaimed[BUS_MMIO], BUS_MAX_DEVS);
}

static void
test_unclaimed(void **state)
{
	struct bus_dev d;
	struct tdev td;
	struct bus bus;
	uint8_t buf[8];
	uint64_t v = 0;

	(void)state;
	memset(&td, 0, sizeof(td));
	bus_init(&bus);
	tb_dev(&d, &td, "a", 0x1000, 0x10);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d), 0);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x2000, buf, 8), -ENOENT);
	assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	assert_int_equal(bus.bu_unclaimed[BUS_MMIO], 1);
	assert_int_equal(bus_write(&bus, BUS_MMIO, 0xfff, &v, 1), -ENOENT);
	assert_int_equal(bus.bu_unclaimed[BUS_MMIO], 2);
	assert_int_equal(bus.bu_unclaimed[BUS_PIO], 0);

	/* Straddling the end, or the start, of the device: unclaimed. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x100c, buf, 8), -ENOENT);
	assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	assert_int_equal(bus_write(&bus, BUS_MMIO, 0x100f, &v, 2), -ENOENT);
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0xffe, buf, 4), -ENOENT);
	assert_int_equal(bus.bu_unclaimed[BUS_MMIO], 5);
	assert_int_equal(td.td_reads, 0);
	assert_int_equal(td.td_writes, 0);

	/* The last whole 8 bytes are claimed. */
	assert_int_equal(bus_read(&bus, BUS_MMIO, 0x1008, buf, 8), 0);
	assert_int_equal(td.td_off, 8);

	/* An empty bus, and addresses at the very top. */
	assert_int_equal(bus_read(&bus, BUS_PIO, 0, buf, 1), -ENOENT);
	assert_int_equal(bus_read(&bus, BUS_MMIO, UINT64_MAX, buf, 1), -ENOENT);
	assert_int_equal(bus_read(&bus, BUS_MMIO, UINT64_MAX - 3, buf, 8),
	    -ENOENT);
}

/* An access near 2^64 to a device that ends there must not wrap. */
static void
test_top_of_space(void **state)
{
	struct bus_dev d;
	struct tdev td;
	struct bus bus;
	uint8_t buf[8];

	(void)state;
	memset(&td, 0, sizeof(td));
	bus_init(&bus);
	tb_dev(&d, &td, "top", UINT64_MAX - 7, 8);
	assert_int_equal(bus_register(&bus, BUS_MMIO, &d), 0);
	assert_int_equal(bus_read(&bus, BUS_MMIO, UINT64_MAX - 7, buf, 8), 0);
	assert_int_equal(td.td_off, 0);
	assert_int_equal(bus_read(&bus, BUS_MMIO, UINT64_MAX, buf, 1), 0);
	assert_int_equal(td.td_off, 7);
	assert_int_equal(bus_read(&bus, BUS_MMIO, UINT64_MAX, buf, 2), -ENOENT);
	assert_int_equal(td.td_reads, 2);
}

/* Run fn with stderr going to a temporary file; return what was written. */
static char *
tb_capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/test_bus.XXXXXX", *out;
	int fd, saved;
	off_t n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = lseek(fd, 0, SEEK_END);
	assert_true(n >= 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	assert_int_equal(pread(fd, out, (size_t)n, 0), n);
	close(fd);
	return out;
}

struct tb_fail_ctx {
	struct bus	*fc_bus;
	int		 fc_rc[4];
};

static void
tb_failing_accesses(void *arg)
{
	struct tb_fail_ctx *fc = arg;
	uint32_t v = 0;
	uint8_t buf[4];

	memset(buf, 0, sizeof(buf));
	fc->fc_rc[0] = bus_read(fc->fc_bus, BUS_PIO, 0x70, buf, 4);
	assert_memory_equal(buf, "\xff\xff\xff\xff", 4);
	memset(buf, 0, sizeof(buf));
	fc->fc_rc[1] = bus_read(fc->fc_bus, BUS_PIO, 0x71, buf, 1);
	assert_int_equal(buf[0], 0xff);
	fc->fc_rc[2] = bus_write(fc->fc_bus, BUS_PIO, 0x70, &v, 1);
	fc->fc_rc[3] = bus_read(fc->fc_bus, BUS_PIO, 0x72, buf, 2);
}

static unsigned int
tb_count(const char *hay, const char *needle)
{
	unsigned int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static void
test_device_error(void **state)
{
	struct tb_fail_ctx fc;
	struct bus_dev d;
	struct tdev td;
	struct bus bus;
	char *log;

	(void)state;
	memset(&td, 0, sizeof(td));
	td.td_rc = -EIO;
	bus_init(&bus);
	tb_dev(&d, &td, "rtc", 0x70, 4);
	assert_int_equal(bus_register(&bus, BUS_PIO, &d), 0);
	fc.fc_bus = &bus;
	log = tb_capture_stderr(tb_failing_accesses, &fc);

	/* The device claimed every access, and failed every one. */
	assert_int_equal(fc.fc_rc[0], 0);
	assert_int_equal(fc.fc_rc[1], 0);
	assert_int_equal(fc.fc_rc[2], 0);
	assert_int_equal(fc.fc_rc[3], 0);
	assert_int_equal(td.td_reads, 3);
	assert_int_equal(td.td_writes, 1);
	assert_int_equal(d.bd_errors, 4);
	assert_int_equal(bus.bu_unclaimed[BUS_PIO], 0);

	/* Logged once, naming the space, the device, the access and why. */
	assert_int_equal(tb_count(log, "hull: "), 1);
	assert_string_equal(log, "hull: pio rtc: read of 4 bytes at offset 0 "
	    "failed: Input/output error (further errors not shown)\n");
	free(log);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_sorted),
		cmocka_unit_test(test_register_overlap),
		cmocka_unit_test(test_register_overlap_later),
		cmocka_unit_test(test_register_invalid),
		cmocka_unit_test(test_register_full),
		cmocka_unit_test(test_unregister),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_dispatch_many),
		cmocka_unit_test(test_unclaimed),
		cmocka_unit_test(test_top_of_space),
		cmocka_unit_test(test_device_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
