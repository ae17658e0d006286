/*
 * libFuzzer target for the virtio-net device (virtio/net.c) as a whole: the
 * control queue and a transmit queue, walked by the real model over a RAM
 * image the input supplies (descriptor table, avail ring, buffers), with a
 * real tap behind it in a network namespace of the fuzzer's own.  Where
 * fuzz_net_req.c fuzzes the pure checks, this one fuzzes their use: the
 * chain walk feeding them, acks written into guest RAM, VQ_PAIRS_SET and
 * GUEST_OFFLOADS reaching the tap, the TX budget, DEVICE_NEEDS_RESET.
 *
 * Input: byte 0 picks the queue (even: control, odd: transmit of pair
 * 0 or 1), bytes 1..8 the driver's features (masked to what the device
 * offers), byte 9 the queue size (a power of two up to 256); the rest is
 * guest RAM from address 0, with the rings at fixed addresses.
 * Invariants: no sanitizer report; the used index moves by at most the
 * queue size; control completions are 0 or 1 bytes long, transmit ones 0;
 * a broken ring is reported with DEVICE_NEEDS_RESET.
 *
 * Needs root for unshare(CLONE_NEWNET) and /dev/net/tun; without them
 * every input is a no-op (and a note says so once).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gm.h"
#include "ioloop.h"
#include "spec.h"
#include "virtio.h"
#include "../net.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RAM		(64u << 10)
#define FZ_DESC		0x0000u
#define FZ_AVAIL	0x1000u
#define FZ_USED		0x2000u
#define FZ_HDR		10

extern const struct virtio_model virtio_net_model;

static struct gm	 fz_gm;
static uint8_t		*fz_ram;
static struct virtio_dev fz_dev;
static struct ioloop	*fz_loop;
static void		*fz_priv;
static unsigned int	 fz_nq;
static uint64_t		 fz_offered;
static bool		 fz_ready;
static bool		 fz_needs_reset;

/* The transport's half, without a transport. */
void
virtio_dev_interrupt(struct virtio_dev *vd, unsigned int q)
{
	(void)vd;
	if (q >= fz_nq) {
		fprintf(stderr, "BUG: interrupt for queue %u\n", q);
		abort();
	}
}

void
virtio_dev_needs_reset(struct virtio_dev *vd, const char *why)
{
	(void)vd;
	(void)why;
	fz_needs_reset = true;
}

/*
 * No vhost-net here (the spec does not ask for it), and net_vhost.c is not
 * linked: clang refuses its vhost_memory table (a flexible array member
 * inside a struct, -Wgnu-variable-sized-type-not-at-end).
 */
int
vnet_vhost_open(struct vnet *vn, char *err, size_t errlen)
{
	(void)vn;
	snprintf(err, errlen, "vhost-net not in this build");
	return -ENODEV;
}

int
vnet_vhost_start(struct vnet *vn)
{
	(void)vn;
	return -ENODEV;
}

void
vnet_vhost_stop(struct vnet *vn)
{
	(void)vn;
}

void
vnet_vhost_close(struct vnet *vn)
{
	(void)vn;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct nic_spec ns;
	struct virtio_create vc;
	char err[256] = "";
	size_t cfg;
	int fd;

	(void)argc;
	(void)argv;
	if (unshare(CLONE_NEWNET) < 0 ||
	    (fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0) {
		fprintf(stderr, "fuzz_net_dev: no network namespace or "
		    "/dev/net/tun (%s): every input is a no-op\n",
		    strerror(errno));
		return 0;
	}
	close(fd);
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6",
	    O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
	fz_ram = aligned_alloc(4096, FZ_RAM);
	fz_loop = ioloop_create();	/* watched fds only; never started */
	if (fz_ram == NULL || fz_loop == NULL)
		abort();
	gm_init_from(&fz_gm, fz_ram, FZ_RAM);
	snprintf(ns.ns_tap, sizeof(ns.ns_tap), "fuzz0");
	ns.ns_queues = 2;
	vc = (struct virtio_create){ .vc_spec = &ns, .vc_nvcpus = 1,
	    .vc_loop = fz_loop, .vc_vmname = "fuzz", .vc_err = err,
	    .vc_errlen = sizeof(err) };
	fz_dev.vd_model = &virtio_net_model;
	fz_dev.vd_gm = &fz_gm;
	if (virtio_net_model.create(&fz_dev, &vc, &fz_priv, &fz_nq,
	    &cfg) < 0) {
		fprintf(stderr, "fuzz_net_dev: %s\n", err);
		abort();
	}
	fz_dev.vd_priv = fz_priv;
	fz_dev.vd_nqueues = fz_nq;
	fz_offered = virtio_net_model.features(fz_priv) |
	    (1ULL << VIRTIO_F_VERSION_1) |
	    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	    (1ULL << VIRTIO_RING_F_EVENT_IDX);
	fz_ready = true;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int q, used, i;
	uint16_t qsize, used_idx;
	uint64_t feat;

	if (!fz_ready || size < FZ_HDR)
		return 0;
	/* queues: rx0 tx0 rx1 tx1 ctrl */
	q = data[0] % 3 == 0 ? fz_nq - 1 : data[0] % 3 == 1 ? 1 : 3;
	memcpy(&feat, data + 1, 8);
	feat = (feat & fz_offered) | (1ULL << VIRTIO_F_VERSION_1);
	qsize = (uint16_t)(1u << (data[9] % 9));
	data += FZ_HDR;
	size -= FZ_HDR;
	memset(fz_ram, 0, FZ_RAM);
	memcpy(fz_ram, data, size < FZ_RAM ? size : FZ_RAM);
	memset(fz_ram + FZ_USED, 0, 0x1000);	/* the device's */

	fz_needs_reset = false;
	memset(fz_dev.vd_vq, 0, sizeof(fz_dev.vd_vq));
	fz_dev.vd_acked = feat;
	if (virtq_setup(&fz_dev.vd_vq[q], &fz_gm, qsize, FZ_DESC, FZ_AVAIL,
	    FZ_USED, feat) < 0)
		abort();
	if (virtio_net_model.activate(fz_priv, feat) < 0)
		abort();
	virtio_net_model.notify(fz_priv, q);

	memcpy(&used_idx, fz_ram + FZ_USED + 2, 2);
	used = used_idx;
	if (used > qsize)
		abort();	/* more completions than the ring can hold */
	for (i = 0; i < used; i++) {
		uint32_t id, len;

		memcpy(&id, fz_ram + FZ_USED + 4 + 8 * i, 4);
		memcpy(&len, fz_ram + FZ_USED + 8 + 8 * i, 4);
		if (id >= qsize || (q == fz_nq - 1 ? len > 1 : len != 0)) {
			fprintf(stderr, "BUG: used id %u len %u on queue %u\n",
			    id, len, q);
			abort();
		}
	}
	if (fz_dev.vd_vq[q].vq_broken && !fz_needs_reset)
		abort();	/* a broken ring must ask for a reset */
	virtio_net_model.reset(fz_priv);
	return 0;
}
