/*
 * vhost-net: the kernel moves packets between a pair's rings and its tap
 * queue, without the I/O thread (Documentation: linux/vhost.h).  One
 * /dev/vhost-net device per queue pair, opened when the VM is made (so an
 * error names the spec key, and a later sandbox need not reach /dev); its
 * rings are handed over at DRIVER_OK and taken back at reset.  The control
 * queue stays in userspace.
 *
 * Interrupts: with MSI-X, the kernel's device signals the vector's KVM
 * irqfd directly (virtio_dev_irqfd; masking unhooks it, so a masked vector
 * holds interrupts back).  Without MSI-X it signals a per-ring eventfd of
 * ours, which the I/O thread turns into virtio_dev_interrupt (ISR, INTx).
 *
 * The tap keeps its 12-byte vnet header and vhost is not asked to add one
 * (VHOST_NET_F_VIRTIO_NET_HDR off): headers pass through unchanged, as on
 * the userspace path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "gm.h"
#include "ioloop.h"
#include "net.h"
#include "tap.h"
#include "virtio.h"

#define VHOST_NET_PATH		"/dev/vhost-net"

/* The ring and header features vhost-net must know; the rest is the tap's. */
#define VNET_VHOST_FEATURES	((1ULL << VIRTIO_F_VERSION_1) | \
				 (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
				 (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
				 (1ULL << VIRTIO_NET_F_MRG_RXBUF))

/* vhost signalled a ring: pass the interrupt on. */
static void
vnet_vhost_call(void *arg)
{
	struct vnet_pair *p = arg;
	struct vnet *vn = p->np_net;
	unsigned int r;
	uint64_t v;

	for (r = 0; r < 2; r++)
		if (read(p->np_call_fd[r], &v, sizeof(v)) == sizeof(v))
			virtio_dev_interrupt(vn->vn_dev, 2 * p->np_idx + r);
}

int
vnet_vhost_open(struct vnet *vn, char *err, size_t errlen)
{
	unsigned int i, r;
	uint64_t f;
	int rc;

	for (i = 0; i < vn->vn_npairs; i++) {
		struct vnet_pair *p = &vn->vn_pair[i];

		p->np_vhost_fd = open(VHOST_NET_PATH, O_RDWR | O_CLOEXEC);
		if (p->np_vhost_fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "nics[%u].vhost: %s: %s",
			    vn->vn_index, VHOST_NET_PATH, strerror(-rc));
			return rc;
		}
		if (ioctl(p->np_vhost_fd, VHOST_SET_OWNER) < 0 ||
		    ioctl(p->np_vhost_fd, VHOST_GET_FEATURES, &f) < 0) {
			rc = -errno;
			snprintf(err, errlen, "nics[%u].vhost: %s: %s",
			    vn->vn_index, VHOST_NET_PATH, strerror(-rc));
			return rc;
		}
		if ((f & VNET_VHOST_FEATURES) != VNET_VHOST_FEATURES) {
			snprintf(err, errlen, "nics[%u].vhost: this kernel's "
			    "vhost-net lacks virtio 1.x features (it offers "
			    "%#llx)", vn->vn_index, (unsigned long long)f);
			return -ENOTSUP;
		}
		for (r = 0; r < 2; r++) {
			p->np_call_fd[r] = eventfd(0, EFD_CLOEXEC |
			    EFD_NONBLOCK);
			if (p->np_call_fd[r] < 0) {
				rc = -errno;
				snprintf(err, errlen, "nics[%u].vhost: eventfd: "
				    "%s", vn->vn_index, strerror(-rc));
				return rc;
			}
		}
		/* Both rings of a pair share one callback; it reads both. */
		for (r = 0; r < 2; r++) {
			rc = ioloop_add(vn->vn_loop, p->np_call_fd[r],
			    vnet_vhost_call, p);
			if (rc < 0) {
				snprintf(err, errlen, "nics[%u].vhost: cannot "
				    "watch interrupts: %s", vn->vn_index,
				    strerror(-rc));
				return rc;
			}
		}
	}
	return 0;
}

/* The guest's RAM regions, as vhost reads them: one table per device. */
static int
vnet_vhost_mem(int fd, const struct gm *gm)
{
	/* struct vhost_memory ends in a flexible array: lay it out by hand. */
	uint64_t buf[(sizeof(struct vhost_memory) + GM_MAX_REGIONS *
	    sizeof(struct vhost_memory_region)) / sizeof(uint64_t) + 1];
	struct vhost_memory *m = (struct vhost_memory *)buf;
	unsigned int i;

	memset(buf, 0, sizeof(buf));
	m->nregions = gm->gm_nregions;
	for (i = 0; i < gm->gm_nregions; i++) {
		m->regions[i].guest_phys_addr = gm->gm_regions[i].gr_gpa;
		m->regions[i].memory_size = gm->gm_regions[i].gr_size;
		m->regions[i].userspace_addr = (uint64_t)(uintptr_t)
		    gm->gm_regions[i].gr_hva;
	}
	return ioctl(fd, VHOST_SET_MEM_TABLE, m) < 0 ? -errno : 0;
}

static int
vnet_vhost_ring(struct vnet *vn, struct vnet_pair *p, unsigned int r)
{
	unsigned int q = 2 * p->np_idx + r;
	const struct virtq *vq = &vn->vn_dev->vd_vq[q];
	struct vhost_vring_state st = { .index = r };
	struct vhost_vring_addr a = { .index = r };
	struct vhost_vring_file f = { .index = r };
	int fd = p->np_vhost_fd;

	if (vq->vq_size == 0)
		return -EINVAL;		/* the driver did not enable it */
	st.num = vq->vq_size;
	if (ioctl(fd, VHOST_SET_VRING_NUM, &st) < 0)
		return -errno;
	st.num = vq->vq_last_avail;
	if (ioctl(fd, VHOST_SET_VRING_BASE, &st) < 0)
		return -errno;
	a.desc_user_addr = (uint64_t)(uintptr_t)vq->vq_desc;
	a.avail_user_addr = (uint64_t)(uintptr_t)vq->vq_avail;
	a.used_user_addr = (uint64_t)(uintptr_t)vq->vq_used;
	if (ioctl(fd, VHOST_SET_VRING_ADDR, &a) < 0)
		return -errno;
	/* Straight into KVM when MSI-X allows, else through the I/O thread. */
	f.fd = virtio_dev_irqfd(vn->vn_dev, q);
	if (f.fd < 0)
		f.fd = p->np_call_fd[r];
	if (ioctl(fd, VHOST_SET_VRING_CALL, &f) < 0)
		return -errno;
	/* The kernel takes the doorbell; the I/O thread stops watching it. */
	f.fd = virtio_dev_kick_fd(vn->vn_dev, q);
	(void)ioloop_enable(vn->vn_loop, f.fd, false);
	if (ioctl(fd, VHOST_SET_VRING_KICK, &f) < 0)
		return -errno;
	f.fd = p->np_fd;
	if (ioctl(fd, VHOST_NET_SET_BACKEND, &f) < 0)
		return -errno;
	return 0;
}

int
vnet_vhost_start(struct vnet *vn)
{
	uint64_t f = vn->vn_acked & VNET_VHOST_FEATURES;
	unsigned int i, r;
	int rc;

	vn->vn_vhost = true;	/* so that stop undoes a partial start */
	for (i = 0; i < vn->vn_npairs; i++) {
		struct vnet_pair *p = &vn->vn_pair[i];

		/* A driver without MQ sets up only the first pair. */
		if (vn->vn_dev->vd_vq[2 * i].vq_size == 0 ||
		    vn->vn_dev->vd_vq[2 * i + 1].vq_size == 0)
			continue;
		/* The tap's packets are the kernel's now. */
		(void)ioloop_enable(vn->vn_loop, p->np_fd, false);
		if (ioctl(p->np_vhost_fd, VHOST_SET_FEATURES, &f) < 0) {
			rc = -errno;
			goto fail;
		}
		rc = vnet_vhost_mem(p->np_vhost_fd, vn->vn_dev->vd_gm);
		if (rc < 0)
			goto fail;
		for (r = 0; r < 2; r++) {
			rc = vnet_vhost_ring(vn, p, r);
			if (rc < 0)
				goto fail;
		}
	}
	return 0;
fail:
	fprintf(stderr, "hull: nics[%u]: vhost-net: cannot start pair %u: "
	    "%s\n", vn->vn_index, i, strerror(-rc));
	vnet_vhost_stop(vn);
	return rc;
}

void
vnet_vhost_stop(struct vnet *vn)
{
	unsigned int i, r;

	if (!vn->vn_vhost)
		return;
	for (i = 0; i < vn->vn_npairs; i++) {
		struct vnet_pair *p = &vn->vn_pair[i];

		for (r = 0; r < 2; r++) {
			struct vhost_vring_file f = { .index = r, .fd = -1 };
			struct vhost_vring_state st = { .index = r };
			int kick = virtio_dev_kick_fd(vn->vn_dev,
			    2 * i + r);

			(void)ioctl(p->np_vhost_fd, VHOST_NET_SET_BACKEND, &f);
			(void)ioctl(p->np_vhost_fd, VHOST_SET_VRING_KICK, &f);
			/* Stops the ring; the kernel is done with it after. */
			(void)ioctl(p->np_vhost_fd, VHOST_GET_VRING_BASE, &st);
			if (kick >= 0)
				(void)ioloop_enable(vn->vn_loop, kick, true);
		}
		(void)ioloop_enable(vn->vn_loop, p->np_fd, true);
	}
	vn->vn_vhost = false;
}

void
vnet_vhost_close(struct vnet *vn)
{
	unsigned int i, r;

	for (i = 0; i < VNET_NPAIRS_MAX; i++) {
		struct vnet_pair *p = &vn->vn_pair[i];

		for (r = 0; r < 2; r++)
			if (p->np_call_fd[r] >= 0) {
				(void)ioloop_del(vn->vn_loop, p->np_call_fd[r]);
				close(p->np_call_fd[r]);
				p->np_call_fd[r] = -1;
			}
		if (p->np_vhost_fd >= 0) {
			close(p->np_vhost_fd);
			p->np_vhost_fd = -1;
		}
	}
}
