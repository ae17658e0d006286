/*
 * The virtio-pci transport with the real virtio-blk model and backend, no
 * KVM: a test driver negotiates features through BAR0, sets up a queue in
 * simulated guest RAM, rings the doorbell (the MMIO fallback), and reads the
 * used ring.  Also: a driver without VERSION_1 is refused, rings outside RAM
 * are refused, a reset clears the device, and the statistics and the
 * describe line say what happened.  With limits.disk_iops or disk_bps,
 * requests are at least as slow as the token bucket allows, none is lost,
 * and the device sleeps while it waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus.h"
#include "gm.h"
#include "ioloop.h"
#include "pci.h"
#include "spec.h"
#include "virtio.h"
#include "virtio_pci.h"

#define RAM_SIZE	(4 << 20)
#define DESC_GPA	0x10000
#define AVAIL_GPA	0x11000
#define USED_GPA	0x12000
#define HDR_GPA		0x20000
#define DATA_GPA	0x21000
#define STATUS_GPA	0x23000
#define QSIZE		16

static int
fake_intx(void *ctx, unsigned int gsi, int level)
{
	(void)ctx; (void)gsi; (void)level;
	return 0;
}

static int
fake_update(void *ctx, struct pci_dev *d, unsigned int v, uint64_t a,
    uint32_t data, bool m)
{
	(void)ctx; (void)d; (void)v; (void)a; (void)data; (void)m;
	return 0;
}

static int
fake_fire(void *ctx, struct pci_dev *d, unsigned int v)
{
	(void)ctx; (void)d; (void)v;
	return 0;
}

static const struct pci_irq_ops irq_ops = { fake_intx, fake_update, fake_fire };
static const struct virtio_pci_host host = { NULL, NULL, NULL }; /* no ioeventfd, no irqfd */

struct rig {
	struct bus		 bus;
	struct pci_bus		*pcb;
	struct ioloop		*loop;
	struct virtio_pci	*vp;
	struct gm		 gm;
	uint8_t			*ram;
	uint64_t		 bar0;
	char			 img[64];
	struct disk_spec	 ds;
};

static struct rig R;

static void
w(uint64_t off, uint64_t v, size_t len)
{
	assert_int_equal(bus_write(&R.bus, BUS_MMIO, R.bar0 + off, &v, len), 0);
}

static uint64_t
r(uint64_t off, size_t len)
{
	uint64_t v = 0;

	assert_int_equal(bus_read(&R.bus, BUS_MMIO, R.bar0 + off, &v, len), 0);
	return v;
}

/* A virtio-blk device on a fresh 1 MiB image, with these limits. */
static void
rig_setup(uint64_t iops, uint64_t bps)
{
	char err[256];
	struct virtio_create vc = { .vc_spec = &R.ds, .vc_nvcpus = 1,
	    .vc_err = err, .vc_errlen = sizeof(err) };
	int fd;

	memset(&R, 0, sizeof(R));
	R.ds.ds_iops = iops;
	R.ds.ds_bps = bps;
	snprintf(R.img, sizeof(R.img), "/tmp/hull-vp-XXXXXX");
	fd = mkstemp(R.img);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(R.ds.ds_path, sizeof(R.ds.ds_path), "%s", R.img);
	R.ds.ds_cache = SPEC_CACHE_WRITEBACK;
	memcpy(R.ds.ds_serial, "VP-TEST", 8);
	R.ram = aligned_alloc(4096, RAM_SIZE);
	memset(R.ram, 0, RAM_SIZE);
	gm_init_from(&R.gm, R.ram, RAM_SIZE);
	bus_init(&R.bus);
	assert_int_equal(pci_bus_create(&R.bus, &irq_ops, NULL, &R.pcb), 0);
	R.loop = ioloop_create();
	vc.vc_loop = R.loop;
	assert_int_equal(virtio_pci_create(R.pcb, &R.gm,
	    virtio_model_find("virtio-blk"), &vc, &host, &R.vp), 0);
	assert_int_equal(ioloop_start(R.loop), 0);
	R.bar0 = pci_bar_addr(virtio_pci_dev(R.vp), 0);
	assert_true(R.bar0 != PCI_BAR_UNMAPPED);
}

static int
setup(void **state)
{
	(void)state;
	rig_setup(0, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ioloop_stop(R.loop);
	virtio_pci_destroy(R.vp);
	pci_bus_destroy(R.pcb);
	ioloop_destroy(R.loop);
	free(R.ram);
	unlink(R.img);
	return 0;
}

/* Offsets of the common configuration (virtio 1.2 §4.1.4.3). */
enum { DFSEL = 0, DF = 4, GFSEL = 8, GF = 12, NUMQ = 18, STATUS = 20,
    QSEL = 22, QSIZE_R = 24, QENABLE = 28, QDESC = 32, QDRIVER = 40,
    QDEVICE = 48, NOTIFY = 0x3000, DEVCFG = 0x2000 };

static uint64_t
device_features(void)
{
	w(DFSEL, 0, 4);
	uint64_t lo = r(DF, 4);
	w(DFSEL, 1, 4);
	return lo | r(DF, 4) << 32;
}

static void
negotiate(uint64_t f)
{
	w(STATUS, 0, 1);
	w(STATUS, 1, 1);
	w(STATUS, 3, 1);
	w(GFSEL, 0, 4);
	w(GF, (uint32_t)f, 4);
	w(GFSEL, 1, 4);
	w(GF, f >> 32, 4);
	w(STATUS, 11, 1);	/* ACKNOWLEDGE | DRIVER | FEATURES_OK */
}

static void
test_negotiation(void **state)
{
	uint64_t f;

	(void)state;
	f = device_features();
	assert_true(f & (1ULL << 32));		/* VERSION_1 */
	assert_true(f & (1ULL << 9));		/* FLUSH */
	assert_int_equal(r(NUMQ, 2), 1);
	/* A legacy driver (no VERSION_1) does not get FEATURES_OK. */
	negotiate(f & ~(1ULL << 32));
	assert_int_equal(r(STATUS, 1) & 8, 0);
	/* Features the device did not offer are refused too. */
	negotiate(f | (1ULL << 60));
	assert_int_equal(r(STATUS, 1) & 8, 0);
	negotiate(f);
	assert_int_equal(r(STATUS, 1) & 8, 8);
	/* Device config: capacity in sectors (1 MiB = 2048). */
	assert_int_equal(r(DEVCFG, 4), 2048);
	/* Reset clears status. */
	w(STATUS, 0, 1);
	assert_int_equal(r(STATUS, 1), 0);
}

static void
test_queue_outside_ram_refused(void **state)
{
	(void)state;
	negotiate(device_features() & ((1ULL << 32) | (1ULL << 9)));
	w(QSEL, 0, 2);
	w(QSIZE_R, QSIZE, 2);
	w(QDESC, RAM_SIZE - 64, 8);	/* the table does not fit */
	w(QDRIVER, AVAIL_GPA, 8);
	w(QDEVICE, USED_GPA, 8);
	w(QENABLE, 1, 2);
	assert_int_equal(r(QENABLE, 2), 0);
	/* A queue size that is not a power of two is refused as well. */
	w(QSIZE_R, 12, 2);
	w(QDESC, DESC_GPA, 8);
	w(QENABLE, 1, 2);
	assert_int_equal(r(QENABLE, 2), 0);
	/* A queue that does not exist reads as size 0. */
	w(QSEL, 7, 2);
	assert_int_equal(r(QSIZE_R, 2), 0);
	w(STATUS, 0, 1);
}

static void
put_desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *d = R.ram + DESC_GPA + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* One request: header, data, status; returns the status byte. */
static uint8_t
do_request(uint32_t type, uint64_t sector, uint16_t *idx)
{
	uint16_t used_idx, want = (uint16_t)(*idx + 1);
	struct timespec ts = { 0, 1000000 };
	uint8_t *hdr = R.ram + HDR_GPA;
	int i;

	memset(hdr, 0, 16);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	R.ram[STATUS_GPA] = 0xff;
	put_desc(0, HDR_GPA, 16, 1, 1);
	put_desc(1, DATA_GPA, 4096, 1 | (type == 0 ? 2 : 0), 2);
	put_desc(2, STATUS_GPA, 1, 2, 0);
	memcpy(R.ram + AVAIL_GPA + 4 + 2 * (*idx % QSIZE), &(uint16_t){ 0 }, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(R.ram + AVAIL_GPA + 2, &want, 2);
	*idx = want;
	w(NOTIFY, 0, 2);	/* doorbell for queue 0 */
	for (i = 0; i < 5000; i++) {
		memcpy(&used_idx, R.ram + USED_GPA + 2, 2);
		if (used_idx == want)
			break;
		nanosleep(&ts, NULL);
	}
	assert_int_equal(used_idx, want);
	return R.ram[STATUS_GPA];
}

static void
test_request_roundtrip_and_reset(void **state)
{
	uint16_t idx = 0;
	unsigned int i;

	(void)state;
	negotiate(device_features() & ((1ULL << 32) | (1ULL << 9)));
	w(QSEL, 0, 2);
	w(QSIZE_R, QSIZE, 2);
	w(QDESC, DESC_GPA, 8);
	w(QDRIVER, AVAIL_GPA, 8);
	w(QDEVICE, USED_GPA, 8);
	w(QENABLE, 1, 2);
	assert_int_equal(r(QENABLE, 2), 1);
	w(STATUS, 15, 1);	/* DRIVER_OK */
	assert_int_equal(r(STATUS, 1), 15);

	for (i = 0; i < 4096; i++)
		R.ram[DATA_GPA + i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(do_request(1, 8, &idx), 0);		/* write */
	memset(R.ram + DATA_GPA, 0, 4096);
	assert_int_equal(do_request(0, 8, &idx), 0);		/* read back */
	for (i = 0; i < 4096; i++)
		assert_int_equal(R.ram[DATA_GPA + i], (uint8_t)(i * 7 + 3));
	assert_int_equal(do_request(4, 0, &idx), 0);		/* flush */
	assert_int_equal(do_request(1, 2048, &idx), 1);		/* past the end */

	/* Reset: the device drops its queues and status. */
	w(STATUS, 0, 1);
	assert_int_equal(r(STATUS, 1), 0);
	w(QSEL, 0, 2);
	assert_int_equal(r(QENABLE, 2), 0);
}

/* A stats sink that remembers what it was told, by name. */
#define SINK_MAX	64
#define HIST_MAX	32

struct sink_rec {
	unsigned int	sr_n;
	char		sr_name[SINK_MAX][32];
	uint64_t	sr_val[SINK_MAX];
	bool		sr_hist[SINK_MAX];
	char		sr_unit[SINK_MAX][8];
	uint64_t	sr_buckets[SINK_MAX][HIST_MAX];
	unsigned int	sr_nbuckets[SINK_MAX];
};

static unsigned int
sink_slot(struct sink_rec *sr, const char *name)
{
	unsigned int i;

	for (i = 0; i < sr->sr_n; i++)
		assert_string_not_equal(sr->sr_name[i], name);	/* once each */
	assert_true(sr->sr_n < SINK_MAX);
	assert_true(strlen(name) < sizeof(sr->sr_name[0]));
	snprintf(sr->sr_name[sr->sr_n], sizeof(sr->sr_name[0]), "%s", name);
	return sr->sr_n++;
}

static void
sink_counter(void *ctx, const char *name, uint64_t value)
{
	struct sink_rec *sr = ctx;

	sr->sr_val[sink_slot(sr, name)] = value;
}

static void
sink_hist(void *ctx, const char *name, const char *unit,
    const uint64_t *buckets, unsigned int nbuckets)
{
	struct sink_rec *sr = ctx;
	unsigned int i = sink_slot(sr, name);

	assert_true(nbuckets <= HIST_MAX);
	sr->sr_hist[i] = true;
	snprintf(sr->sr_unit[i], sizeof(sr->sr_unit[i]), "%s", unit);
	memcpy(sr->sr_buckets[i], buckets, nbuckets * sizeof(*buckets));
	sr->sr_nbuckets[i] = nbuckets;
}

static void
collect(struct sink_rec *sr)
{
	const struct virtio_stats_sink sink = { sr, sink_counter, sink_hist };

	memset(sr, 0, sizeof(*sr));
	virtio_pci_stats(R.vp, &sink);
}

static int
find(const struct sink_rec *sr, const char *name, bool hist)
{
	unsigned int i;

	for (i = 0; i < sr->sr_n; i++)
		if (strcmp(sr->sr_name[i], name) == 0) {
			assert_int_equal(sr->sr_hist[i], hist);
			return (int)i;
		}
	fail_msg("no statistic named %s", name);
	return -1;
}

static uint64_t
counter(const struct sink_rec *sr, const char *name)
{
	return sr->sr_val[find(sr, name, false)];
}

/* The samples in a histogram (after checking its shape). */
static uint64_t
hist_sum(const struct sink_rec *sr, const char *name)
{
	int i = find(sr, name, true);
	uint64_t sum = 0;
	unsigned int b;

	assert_int_equal(sr->sr_nbuckets[i], 24);
	assert_string_equal(sr->sr_unit[i], "us");
	for (b = 0; b < sr->sr_nbuckets[i]; b++)
		sum += sr->sr_buckets[i][b];
	return sum;
}

static void
setup_queue(void)
{
	memset(R.ram + DESC_GPA, 0, 0x3000);	/* fresh rings */
	negotiate(device_features() & ((1ULL << 32) | (1ULL << 9)));
	w(QSEL, 0, 2);
	w(QSIZE_R, QSIZE, 2);
	w(QDESC, DESC_GPA, 8);
	w(QDRIVER, AVAIL_GPA, 8);
	w(QDEVICE, USED_GPA, 8);
	w(QENABLE, 1, 2);
	assert_int_equal(r(QENABLE, 2), 1);
	w(STATUS, 15, 1);	/* DRIVER_OK */
	assert_int_equal(r(STATUS, 1), 15);
}

static void
test_stats_and_describe(void **state)
{
	static struct sink_rec before, after;
	uint16_t idx = 0;
	char line[512];
	unsigned int i;

	(void)state;
	/* The earlier tests' requests are counted too: compare deltas. */
	collect(&before);
	/* Transport counters first, queue by queue, then the model's. */
	assert_string_equal(before.sr_name[0], "q0_kicks");
	assert_string_equal(before.sr_name[1], "q0_interrupts");
	setup_queue();
	for (i = 0; i < 5; i++)
		assert_int_equal(do_request(1, 8 * i, &idx), 0);	/* write */
	for (i = 0; i < 3; i++)
		assert_int_equal(do_request(0, 8 * i, &idx), 0);	/* read */
	assert_int_equal(do_request(4, 0, &idx), 0);		/* flush */
	assert_int_equal(do_request(0, 2048, &idx), 1);		/* past the end */
	assert_int_equal(do_request(7, 0, &idx), 2);		/* unknown: UNSUPP */
	/*
	 * Eleven doorbells, each answered with an interrupt (INTx here).  The
	 * interrupt follows the used entry the test waited for: allow it a
	 * moment.
	 */
	for (i = 0; i < 1000; i++) {
		collect(&after);
		if (counter(&after, "q0_interrupts") -
		    counter(&before, "q0_interrupts") >= 11)
			break;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	assert_true(counter(&after, "q0_kicks") > 0);
	assert_true(counter(&after, "q0_kicks") - counter(&before, "q0_kicks")
	    >= 11);
	assert_true(counter(&after, "q0_interrupts") -
	    counter(&before, "q0_interrupts") >= 11);
	assert_int_equal(counter(&after, "writes") - counter(&before, "writes"),
	    5);
	assert_int_equal(counter(&after, "reads") - counter(&before, "reads"), 3);
	assert_int_equal(counter(&after, "flushes") -
	    counter(&before, "flushes"), 1);
	assert_int_equal(counter(&after, "written_bytes") -
	    counter(&before, "written_bytes"), 5 * 4096);
	assert_int_equal(counter(&after, "read_bytes") -
	    counter(&before, "read_bytes"), 3 * 4096);
	assert_int_equal(counter(&after, "bad_requests") -
	    counter(&before, "bad_requests"), 2);
	assert_int_equal(counter(&after, "io_errors"), 0);
	assert_int_equal(counter(&after, "discards"), 0);
	assert_int_equal(counter(&after, "write_zeroes"), 0);
	assert_int_equal(counter(&after, "get_ids"), 0);
	/* Every completed request is in its histogram, once. */
	assert_int_equal(hist_sum(&after, "read_latency"),
	    counter(&after, "reads"));
	assert_int_equal(hist_sum(&after, "write_latency"),
	    counter(&after, "writes"));
	assert_int_equal(hist_sum(&after, "flush_latency"),
	    counter(&after, "flushes"));
	assert_int_equal(hist_sum(&after, "read_latency") -
	    hist_sum(&before, "read_latency"), 3);

	/* A reset keeps the counters: they count over the VM's life. */
	w(STATUS, 0, 1);
	collect(&before);
	assert_int_equal(counter(&before, "q0_kicks"),
	    counter(&after, "q0_kicks"));
	assert_int_equal(counter(&before, "writes"), counter(&after, "writes"));

	/* describe: the image path, the engine and the cache mode. */
	assert_string_equal(virtio_pci_model_name(R.vp), "virtio-blk");
	virtio_pci_describe(R.vp, line, sizeof(line));
	assert_non_null(strstr(line, R.img));
	assert_non_null(strstr(line, "buffered"));
	assert_non_null(strstr(line, "cache writeback"));
	assert_true(strstr(line, "io_uring") != NULL ||
	    strstr(line, "libaio") != NULL || strstr(line, "sync") != NULL);
	/* A short buffer truncates, NUL-terminated. */
	virtio_pci_describe(R.vp, line, 5);
	assert_int_equal(strlen(line), 4);
}

/* ---- limits.disk_iops, limits.disk_bps ------------------------------ */

#define LQSIZE		64
#define LHDR_GPA	0x30000		/* 16 bytes per request */
#define LSTATUS_GPA	0x31000		/* 1 byte per request */
#define LDATA_GPA	0x100000	/* 64 KiB per request */
#define LMAX		21		/* three descriptors each */

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process so far, every thread. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint16_t
lused(void)
{
	return __atomic_load_n((uint16_t *)(void *)(R.ram + USED_GPA + 2),
	    __ATOMIC_ACQUIRE);
}

static bool
lwait(uint16_t n, unsigned int ms)
{
	unsigned int i;

	for (i = 0; i < ms && lused() < n; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return lused() >= n;
}

/* Make read i of len bytes at sector available (not kicked). */
static void
lread(unsigned int i, uint64_t sector, uint32_t len)
{
	uint8_t *hdr = R.ram + LHDR_GPA + 16 * i;
	uint16_t idx = (uint16_t)(i + 1);

	assert_true(i < LMAX);
	memset(hdr, 0, 16);
	memcpy(hdr + 8, &sector, 8);		/* type 0: IN */
	R.ram[LSTATUS_GPA + i] = 0xff;
	put_desc(3 * i, LHDR_GPA + 16 * i, 16, 1, (uint16_t)(3 * i + 1));
	put_desc(3 * i + 1, LDATA_GPA + 65536 * i, len, 1 | 2,
	    (uint16_t)(3 * i + 2));
	put_desc(3 * i + 2, LSTATUS_GPA + i, 1, 2, 0);
	memcpy(R.ram + AVAIL_GPA + 4 + 2 * i, &(uint16_t){ (uint16_t)(3 * i) },
	    2);
	__atomic_store_n((uint16_t *)(void *)(R.ram + AVAIL_GPA + 2), idx,
	    __ATOMIC_RELEASE);
}

/* Every read of n completed once, OK, with the image's bytes. */
static void
lcheck(unsigned int n, uint32_t len, const uint8_t *img)
{
	bool seen[LMAX] = { false };
	uint32_t id, ulen;
	unsigned int i;

	for (i = 0; i < n; i++) {
		memcpy(&id, R.ram + USED_GPA + 4 + 8 * i, 4);
		memcpy(&ulen, R.ram + USED_GPA + 8 + 8 * i, 4);
		assert_int_equal(id % 3, 0);
		assert_true(id / 3 < n);
		assert_false(seen[id / 3]);
		seen[id / 3] = true;
		assert_int_equal(ulen, len + 1);
	}
	for (i = 0; i < n; i++) {
		assert_int_equal(R.ram[LSTATUS_GPA + i], 0);
		assert_memory_equal(R.ram + LDATA_GPA + 65536 * i,
		    img + (size_t)i * len, len);
	}
}

/* The image gets a pattern; the queue is LQSIZE long. */
static void
lsetup(uint8_t *img, size_t len)
{
	size_t i;
	int fd;

	for (i = 0; i < len; i++)
		img[i] = (uint8_t)(i * 13 + i / 4096);
	fd = open(R.img, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, img, len, 0), (ssize_t)len);
	close(fd);
	memset(R.ram + DESC_GPA, 0, 0x3000);
	negotiate(device_features() & ((1ULL << 32) | (1ULL << 9)));
	w(QSEL, 0, 2);
	w(QSIZE_R, LQSIZE, 2);
	w(QDESC, DESC_GPA, 8);
	w(QDRIVER, AVAIL_GPA, 8);
	w(QDEVICE, USED_GPA, 8);
	w(QENABLE, 1, 2);
	assert_int_equal(r(QENABLE, 2), 1);
	w(STATUS, 15, 1);
}

static int
setup_iops(void **state)
{
	(void)state;
	rig_setup(10, 0);
	return 0;
}

static int
setup_bps(void **state)
{
	(void)state;
	rig_setup(0, 256 * 1024);
	return 0;
}

/*
 * 10 IOPS (a bucket of one request): 20 reads, half kicked at once and
 * half a little later (kicks while throttled change nothing), take at
 * least 1.9 s; never more done than the bucket allowed by then; all done
 * once with the right data; the wait is spent asleep.  Lower bounds on
 * time only: a loaded machine is slower, never faster.
 */
static void
test_iops_limit(void **state)
{
	static uint8_t img[20 * 4096];
	static struct sink_rec sr;
	double t0, c0, el;
	unsigned int i;
	uint16_t u;
	char line[512];

	(void)state;
	lsetup(img, sizeof(img));
	t0 = mono_s();
	c0 = cpu_s();
	for (i = 0; i < 10; i++)
		lread(i, 8 * i, 4096);
	w(NOTIFY, 0, 2);
	nanosleep(&(struct timespec){ 0, 300000000 }, NULL);
	for (i = 10; i < 20; i++)
		lread(i, 8 * i, 4096);
	w(NOTIFY, 0, 2);
	nanosleep(&(struct timespec){ 0, 300000000 }, NULL);
	w(NOTIFY, 0, 2);
	u = lused();
	el = mono_s() - t0;
	if (u > 1 + 10 * el + 1e-9)
		fail_msg("%u reads after %.3f s at 10 IOPS", u, el);
	assert_true(lwait(20, 30000));
	el = mono_s() - t0;
	if (el < 1.85)
		fail_msg("20 reads at 10 IOPS in %.3f s", el);
	if (cpu_s() - c0 > 1.0)
		fail_msg("%.3f s of CPU while throttled", cpu_s() - c0);
	lcheck(20, 4096, img);
	collect(&sr);
	assert_int_equal(counter(&sr, "reads"), 20);
	assert_int_equal(counter(&sr, "read_bytes"), 20 * 4096);
	assert_true(counter(&sr, "throttled") >= 1);
	virtio_pci_describe(R.vp, line, sizeof(line));
	assert_non_null(strstr(line, ", limits 10 IOPS"));
}

/*
 * 256 KiB/s (a bucket of 26214 bytes): 8 reads of 64 KiB take at least
 * 1.65 s (the first on the full bucket, each further one once the debt of
 * the one before is paid).
 */
static void
test_bps_limit(void **state)
{
	static uint8_t img[8 * 65536];
	static struct sink_rec sr;
	double t0, c0, el;
	unsigned int i;
	uint16_t u;
	char line[512];

	(void)state;
	lsetup(img, sizeof(img));
	t0 = mono_s();
	c0 = cpu_s();
	for (i = 0; i < 8; i++)
		lread(i, 128 * i, 65536);
	w(NOTIFY, 0, 2);
	nanosleep(&(struct timespec){ 0, 500000000 }, NULL);
	u = lused();
	el = mono_s() - t0;
	if (u * 65536.0 > 26214 + 262144 * el + 65536 + 1e-6)
		fail_msg("%u reads of 64 KiB after %.3f s at 256 KiB/s", u, el);
	assert_true(lwait(8, 30000));
	el = mono_s() - t0;
	if (el < 1.6)
		fail_msg("8 reads of 64 KiB at 256 KiB/s in %.3f s", el);
	if (cpu_s() - c0 > 1.0)
		fail_msg("%.3f s of CPU while throttled", cpu_s() - c0);
	lcheck(8, 65536, img);
	collect(&sr);
	assert_int_equal(counter(&sr, "read_bytes"), 8 * 65536);
	assert_true(counter(&sr, "throttled") >= 1);
	virtio_pci_describe(R.vp, line, sizeof(line));
	assert_non_null(strstr(line, ", limits 262144 bytes/s"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_queue_outside_ram_refused),
		cmocka_unit_test(test_request_roundtrip_and_reset),
		cmocka_unit_test(test_stats_and_describe),
	};
	const struct CMUnitTest limited[] = {
		cmocka_unit_test_setup_teardown(test_iops_limit, setup_iops,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bps_limit, setup_bps,
		    teardown),
	};
	int rc;

	rc = cmocka_run_group_tests(tests, setup, teardown);
	return cmocka_run_group_tests(limited, NULL, NULL) | rc;
}
