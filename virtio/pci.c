/*
 * Virtio over PCI, the modern (1.x) transport: virtio 1.2 §4.1.
 *
 * BAR0 (16 KiB) holds the four structures the virtio capabilities point at:
 *	0x0000	common configuration (§4.1.4.3)
 *	0x1000	ISR status (§4.1.4.5)
 *	0x2000	device-specific configuration
 *	0x3000	notifications: queue q's doorbell at 0x3000 + 4 * q
 * BAR2 holds the MSI-X table (0x0000) and PBA (0x1000), emulated by
 * devices/pci_msix.c.  Doorbells are ioeventfds, so a kick reaches the I/O
 * thread without a VM exit; a write KVM did not catch (another width, or no
 * ioeventfd support) lands in virtio_pci_notify_write and signals the same
 * eventfd.  Every register value the guest writes is checked before use.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus.h"
#include "ioloop.h"
#include "pci.h"
#include "virtio.h"
#include "virtio_pci.h"

#define VP_BAR0_SIZE		0x4000
#define VP_COMMON_OFF		0x0000
#define VP_COMMON_LEN		0x40
#define VP_ISR_OFF		0x1000
#define VP_DEVCFG_OFF		0x2000
#define VP_DEVCFG_MAX		0x1000
#define VP_NOTIFY_OFF		0x3000
#define VP_NOTIFY_MULT		4
#define VP_BAR2_SIZE		0x2000
#define VP_MSIX_TABLE_OFF	0x0000
#define VP_MSIX_PBA_OFF		0x1000
#define VP_NO_VECTOR		0xffff

#define VP_PCI_VENDOR		0x1af4		/* virtio */
#define VP_PCI_DEVICE_BASE	0x1040		/* + device ID: modern-only */

#define VP_CAP_COMMON		1
#define VP_CAP_NOTIFY		2
#define VP_CAP_ISR		3
#define VP_CAP_DEVICE		4

/* Common configuration register offsets (§4.1.4.3). */
#define VC_DFSELECT	0
#define VC_DF		4
#define VC_GFSELECT	8
#define VC_GF		12
#define VC_MSIX		16
#define VC_NUMQ		18
#define VC_STATUS	20
#define VC_CFGGEN	21
#define VC_QSELECT	22
#define VC_QSIZE	24
#define VC_QMSIX	26
#define VC_QENABLE	28
#define VC_QNOFF	30
#define VC_QDESC	32
#define VC_QDRIVER	40
#define VC_QDEVICE	48

struct vp_queue {
	uint16_t	vq_size;	/* guest-controlled, checked on enable */
	uint16_t	vq_vector;	/* guest-controlled */
	bool		vq_enabled;
	uint64_t	vq_desc, vq_driver, vq_device;	/* guest-controlled */
	int		vq_kick_fd;
};

struct virtio_pci;

struct vp_kick {
	struct virtio_pci	*vk_vp;
	unsigned int		 vk_q;
};

struct virtio_pci {
	struct virtio_dev	 vp_dev;
	struct pci_dev		*vp_pci;
	const struct virtio_pci_host *vp_host;
	struct ioloop		*vp_loop;
	pthread_mutex_t		 vp_lock;	/* registers below */
	uint64_t		 vp_features;	/* offered */
	uint32_t		 vp_dfselect, vp_gfselect;	/* guest-controlled */
	uint64_t		 vp_driver_features;		/* guest-controlled */
	uint8_t			 vp_status;
	uint16_t		 vp_qselect;			/* guest-controlled */
	uint16_t		 vp_config_vector;		/* guest-controlled */
	uint8_t			 vp_isr;
	bool			 vp_live;	/* DRIVER_OK and not broken */
	bool			 vp_logged;
	size_t			 vp_cfg_size;
	uint64_t		 vp_bar0;	/* where the doorbells are */
	struct vp_queue		 vp_q[VIRTIO_MAX_QUEUES];
	struct vp_kick		 vp_kick[VIRTIO_MAX_QUEUES];
	/*
	 * Statistics over the VM's life (a device reset keeps them).  Relaxed
	 * atomics: the I/O thread and vCPUs add, the main thread reads.
	 */
	uint64_t		 vp_kicks[VIRTIO_MAX_QUEUES];	/* doorbells */
	uint64_t		 vp_intrs[VIRTIO_MAX_QUEUES];	/* interrupts */
	uint8_t			 vp_caps[4][20];
	struct pci_cap_desc	 vp_capdesc[4];
};

static void
vp_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);	/* x86 is little-endian, as virtio is */
}

static void
vp_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Read len (1, 2, 4 or 8) bytes of a little-endian value from a buffer. */
static uint64_t
vp_val(const void *buf, size_t len)
{
	uint64_t v = 0;

	memcpy(&v, buf, len < 8 ? len : 8);
	return v;
}

/*
 * DEVICE_NEEDS_RESET (§2.1.2).  Lock-free: the I/O thread calls it from a
 * model while a vCPU may hold vp_lock waiting in the model's reset.
 */
static void
vp_set_needs_reset(struct virtio_pci *vp, const char *why)
{
	uint16_t vec;

	if (!__atomic_exchange_n(&vp->vp_logged, true, __ATOMIC_SEQ_CST))
		fprintf(stderr, "hull: %s: %s (further errors not shown)\n",
		    vp->vp_dev.vd_model->mo_name, why);
	__atomic_store_n(&vp->vp_live, false, __ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&vp->vp_status, __ATOMIC_SEQ_CST) &
	    VIRTIO_STATUS_DRIVER_OK))
		return;
	__atomic_or_fetch(&vp->vp_status, VIRTIO_STATUS_NEEDS_RESET,
	    __ATOMIC_SEQ_CST);
	__atomic_or_fetch(&vp->vp_isr, 2, __ATOMIC_SEQ_CST);	/* config change */
	vec = __atomic_load_n(&vp->vp_config_vector, __ATOMIC_RELAXED);
	if (vec == VP_NO_VECTOR ||
	    pci_msix_notify(vp->vp_pci, vec) == PCI_MSIX_DISABLED)
		(void)pci_set_intx(vp->vp_pci, 1);
}

void
virtio_dev_needs_reset(struct virtio_dev *vd, const char *why)
{
	vp_set_needs_reset(vd->vd_transport, why);
}

void
virtio_dev_interrupt(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_pci *vp = vd->vd_transport;
	uint16_t vec;

	if (q >= vd->vd_nqueues)
		return;
	__atomic_fetch_add(&vp->vp_intrs[q], 1, __ATOMIC_RELAXED);
	__atomic_or_fetch(&vp->vp_isr, 1, __ATOMIC_SEQ_CST);
	vec = __atomic_load_n(&vp->vp_q[q].vq_vector, __ATOMIC_RELAXED);
	if (vec == VP_NO_VECTOR ||
	    pci_msix_notify(vp->vp_pci, vec) == PCI_MSIX_DISABLED)
		(void)pci_set_intx(vp->vp_pci, 1);
}

int
virtio_dev_kick_fd(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_pci *vp = vd->vd_transport;

	return q < vd->vd_nqueues ? vp->vp_q[q].vq_kick_fd : -1;
}

int
virtio_dev_irqfd(struct virtio_dev *vd, unsigned int q)
{
	struct virtio_pci *vp = vd->vd_transport;
	uint16_t vec;

	if (q >= vd->vd_nqueues || vp->vp_host->vh_irqfd == NULL)
		return -1;
	vec = __atomic_load_n(&vp->vp_q[q].vq_vector, __ATOMIC_RELAXED);
	if (vec == VP_NO_VECTOR)
		return -1;
	return vp->vp_host->vh_irqfd(vp->vp_host->vh_ctx, vp->vp_pci, vec);
}

/* The doorbell rang: the I/O thread hands the kick to the model. */
static void
vp_kick(void *arg)
{
	struct vp_kick *k = arg;
	struct virtio_pci *vp = k->vk_vp;
	uint64_t v;

	if (read(vp->vp_q[k->vk_q].vq_kick_fd, &v, sizeof(v)) != sizeof(v))
		return;
	/* The eventfd adds up the doorbells rung since the last read. */
	__atomic_fetch_add(&vp->vp_kicks[k->vk_q], v, __ATOMIC_RELAXED);
	if (__atomic_load_n(&vp->vp_live, __ATOMIC_ACQUIRE))
		vp->vp_dev.vd_model->notify(vp->vp_dev.vd_priv, k->vk_q);
}

static void
vp_doorbells(struct virtio_pci *vp, uint64_t bar0, bool assign)
{
	unsigned int q;

	if (bar0 == PCI_BAR_UNMAPPED || vp->vp_host->vh_ioeventfd == NULL)
		return;
	for (q = 0; q < vp->vp_dev.vd_nqueues; q++)
		/* Failure is fine: the MMIO fallback signals the same fd. */
		(void)vp->vp_host->vh_ioeventfd(vp->vp_host->vh_ctx,
		    vp->vp_q[q].vq_kick_fd, bar0 + VP_NOTIFY_OFF +
		    VP_NOTIFY_MULT * q, 2, assign);
}

static void
vp_bar_moved(void *priv, unsigned int bar, uint64_t old, uint64_t new)
{
	struct virtio_pci *vp = priv;

	if (bar != 0)
		return;
	vp_doorbells(vp, old, false);
	vp_doorbells(vp, new, true);
	vp->vp_bar0 = new;
}

/* Device reset (status 0): called with vp_lock held. */
static void
vp_reset(struct virtio_pci *vp)
{
	unsigned int q;

	__atomic_store_n(&vp->vp_live, false, __ATOMIC_SEQ_CST);
	vp->vp_dev.vd_model->reset(vp->vp_dev.vd_priv);
	vp->vp_status = 0;
	vp->vp_driver_features = 0;
	vp->vp_dfselect = vp->vp_gfselect = 0;
	vp->vp_qselect = 0;
	vp->vp_config_vector = VP_NO_VECTOR;
	vp->vp_isr = 0;
	__atomic_store_n(&vp->vp_logged, false, __ATOMIC_SEQ_CST);
	for (q = 0; q < vp->vp_dev.vd_nqueues; q++) {
		struct vp_queue *vq = &vp->vp_q[q];

		vq->vq_size = vp->vp_dev.vd_model->mo_max_qsize;
		vq->vq_vector = VP_NO_VECTOR;
		vq->vq_enabled = false;
		vq->vq_desc = vq->vq_driver = vq->vq_device = 0;
		memset(&vp->vp_dev.vd_vq[q], 0, sizeof(vp->vp_dev.vd_vq[q]));
	}
	(void)pci_set_intx(vp->vp_pci, 0);
}

static void
vp_write_status(struct virtio_pci *vp, uint8_t st)
{
	struct virtio_dev *vd = &vp->vp_dev;
	unsigned int q;

	if (st == 0) {
		vp_reset(vp);
		return;
	}
	if ((st & VIRTIO_STATUS_FEATURES_OK) &&
	    !(vp->vp_status & VIRTIO_STATUS_FEATURES_OK)) {
		/* Accept only what was offered, and only as virtio 1.x. */
		if ((vp->vp_driver_features & ~vp->vp_features) != 0 ||
		    !(vp->vp_driver_features & (1ULL << VIRTIO_F_VERSION_1)))
			st &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		else
			vd->vd_acked = vp->vp_driver_features;
	}
	if ((st & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vp->vp_status & VIRTIO_STATUS_DRIVER_OK)) {
		vp->vp_status = st;
		if (!(st & VIRTIO_STATUS_FEATURES_OK)) {
			vp_set_needs_reset(vp, "DRIVER_OK without FEATURES_OK");
			return;
		}
		if (vd->vd_model->activate(vd->vd_priv, vd->vd_acked) < 0) {
			vp_set_needs_reset(vp, "device activation failed");
			return;
		}
		__atomic_store_n(&vp->vp_live, true, __ATOMIC_RELEASE);
		/* Buffers made available before DRIVER_OK are not lost. */
		for (q = 0; q < vd->vd_nqueues; q++) {
			uint64_t one = 1;

			if (vp->vp_q[q].vq_enabled)
				(void)!write(vp->vp_q[q].vq_kick_fd, &one,
				    sizeof(one));
		}
		return;
	}
	__atomic_store_n(&vp->vp_status, st | (__atomic_load_n(&vp->vp_status,
	    __ATOMIC_SEQ_CST) & VIRTIO_STATUS_NEEDS_RESET), __ATOMIC_SEQ_CST);
}

/* queue_enable = 1: check and map the rings the driver described. */
static void
vp_enable_queue(struct virtio_pci *vp, unsigned int q)
{
	struct vp_queue *vq = &vp->vp_q[q];
	uint16_t size = vq->vq_size;
	int rc;

	if (size == 0 || (size & (size - 1)) != 0 ||
	    size > vp->vp_dev.vd_model->mo_max_qsize) {
		vp_set_needs_reset(vp, "queue size not a power of two within "
		    "the maximum");
		return;
	}
	rc = virtq_setup(&vp->vp_dev.vd_vq[q], vp->vp_dev.vd_gm, size,
	    vq->vq_desc, vq->vq_driver, vq->vq_device,
	    vp->vp_dev.vd_acked);
	if (rc < 0) {
		vp_set_needs_reset(vp, "queue rings misaligned or outside "
		    "guest RAM");
		return;
	}
	vq->vq_enabled = true;
}

static void
vp_common_read(struct virtio_pci *vp, uint64_t off, void *buf, size_t len)
{
	struct vp_queue *vq = vp->vp_qselect < vp->vp_dev.vd_nqueues ?
	    &vp->vp_q[vp->vp_qselect] : NULL;
	uint8_t r[VP_COMMON_LEN];

	memset(r, 0, sizeof(r));
	vp_put32(r + VC_DFSELECT, vp->vp_dfselect);
	if (vp->vp_dfselect < 2)
		vp_put32(r + VC_DF, (uint32_t)(vp->vp_features >>
		    (32 * vp->vp_dfselect)));
	vp_put32(r + VC_GFSELECT, vp->vp_gfselect);
	if (vp->vp_gfselect < 2)
		vp_put32(r + VC_GF, (uint32_t)(vp->vp_driver_features >>
		    (32 * vp->vp_gfselect)));
	vp_put16(r + VC_MSIX, vp->vp_config_vector);
	vp_put16(r + VC_NUMQ, (uint16_t)vp->vp_dev.vd_nqueues);
	r[VC_STATUS] = vp->vp_status;
	r[VC_CFGGEN] = 0;
	vp_put16(r + VC_QSELECT, vp->vp_qselect);
	if (vq != NULL) {
		vp_put16(r + VC_QSIZE, vq->vq_size);
		vp_put16(r + VC_QMSIX, vq->vq_vector);
		vp_put16(r + VC_QENABLE, vq->vq_enabled);
		vp_put16(r + VC_QNOFF, vp->vp_qselect);
		memcpy(r + VC_QDESC, &vq->vq_desc, 8);
		memcpy(r + VC_QDRIVER, &vq->vq_driver, 8);
		memcpy(r + VC_QDEVICE, &vq->vq_device, 8);
	}
	memcpy(buf, r + off, len);
}

static void
vp_common_write(struct virtio_pci *vp, uint64_t off, const void *buf,
    size_t len)
{
	struct vp_queue *vq = vp->vp_qselect < vp->vp_dev.vd_nqueues ?
	    &vp->vp_q[vp->vp_qselect] : NULL;
	uint64_t v = vp_val(buf, len);
	uint64_t *addr;
	unsigned int sh;

	switch (off) {
	case VC_DFSELECT:
		vp->vp_dfselect = (uint32_t)v;
		return;
	case VC_GFSELECT:
		vp->vp_gfselect = (uint32_t)v;
		return;
	case VC_GF:
		/* Features are fixed once FEATURES_OK is set. */
		if (vp->vp_gfselect < 2 &&
		    !(vp->vp_status & VIRTIO_STATUS_FEATURES_OK)) {
			sh = 32 * vp->vp_gfselect;
			vp->vp_driver_features = (vp->vp_driver_features &
			    ~(0xffffffffULL << sh)) | ((v & 0xffffffffULL) << sh);
		}
		return;
	case VC_MSIX:
		__atomic_store_n(&vp->vp_config_vector, (uint16_t)v,
		    __ATOMIC_RELAXED);
		return;
	case VC_STATUS:
		vp_write_status(vp, (uint8_t)v);
		return;
	case VC_QSELECT:
		vp->vp_qselect = (uint16_t)v;	/* checked on every use */
		return;
	}
	/* Queue registers: only for an existing queue not yet enabled. */
	if (vq == NULL || (vq->vq_enabled && off != VC_QMSIX))
		return;
	switch (off) {
	case VC_QSIZE:
		vq->vq_size = (uint16_t)v;
		return;
	case VC_QMSIX:
		__atomic_store_n(&vq->vq_vector, (uint16_t)v, __ATOMIC_RELAXED);
		return;
	case VC_QENABLE:
		if (v == 1)
			vp_enable_queue(vp, vp->vp_qselect);
		return;
	case VC_QDESC:
	case VC_QDESC + 4:
	case VC_QDRIVER:
	case VC_QDRIVER + 4:
	case VC_QDEVICE:
	case VC_QDEVICE + 4:
		addr = off < VC_QDRIVER ? &vq->vq_desc : off < VC_QDEVICE ?
		    &vq->vq_driver : &vq->vq_device;
		if (len == 8)
			*addr = v;
		else if (off % 8 == 0)
			*addr = (*addr & ~0xffffffffULL) | (v & 0xffffffffULL);
		else
			*addr = (*addr & 0xffffffffULL) | (v << 32);
		return;
	}
}

/* Accesses must be naturally aligned and inside one field's region. */
static bool
vp_access_ok(uint64_t off, size_t len, uint64_t limit)
{
	return (len == 1 || len == 2 || len == 4 || len == 8) &&
	    off % len == 0 && off < limit && len <= limit - off;
}

static int
vp_bar0_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct virtio_pci *vp = priv;

	memset(buf, 0, len);
	pthread_mutex_lock(&vp->vp_lock);
	if (off < VP_COMMON_OFF + VP_COMMON_LEN) {
		if (vp_access_ok(off, len, VP_COMMON_LEN))
			vp_common_read(vp, off, buf, len);
	} else if (off == VP_ISR_OFF && len == 1) {
		/* Reading the ISR clears it and lowers INTx (§4.1.4.5). */
		*(uint8_t *)buf = __atomic_exchange_n(&vp->vp_isr, 0,
		    __ATOMIC_SEQ_CST);
		(void)pci_set_intx(vp->vp_pci, 0);
	} else if (off >= VP_DEVCFG_OFF && off < VP_DEVCFG_OFF + VP_DEVCFG_MAX) {
		off -= VP_DEVCFG_OFF;
		if (off < vp->vp_cfg_size && len <= vp->vp_cfg_size - off)
			vp->vp_dev.vd_model->cfg_read(vp->vp_dev.vd_priv, off,
			    buf, len);
	}
	pthread_mutex_unlock(&vp->vp_lock);
	return 0;
}

static int
vp_bar0_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct virtio_pci *vp = priv;
	uint64_t one = 1;

	if (off >= VP_NOTIFY_OFF) {
		/* A doorbell KVM did not catch: same eventfd, same path. */
		off -= VP_NOTIFY_OFF;
		if (off % VP_NOTIFY_MULT == 0 &&
		    off / VP_NOTIFY_MULT < vp->vp_dev.vd_nqueues)
			(void)!write(vp->vp_q[off / VP_NOTIFY_MULT].vq_kick_fd,
			    &one, sizeof(one));
		return 0;
	}
	pthread_mutex_lock(&vp->vp_lock);
	if (off < VP_COMMON_OFF + VP_COMMON_LEN) {
		if (vp_access_ok(off, len, VP_COMMON_LEN))
			vp_common_write(vp, off, buf, len);
	} else if (off >= VP_DEVCFG_OFF && off < VP_DEVCFG_OFF + VP_DEVCFG_MAX) {
		off -= VP_DEVCFG_OFF;
		if (off < vp->vp_cfg_size && len <= vp->vp_cfg_size - off)
			vp->vp_dev.vd_model->cfg_write(vp->vp_dev.vd_priv, off,
			    buf, len);
	}
	pthread_mutex_unlock(&vp->vp_lock);
	return 0;
}

static const struct bus_ops vp_bar0_ops = {
	.read = vp_bar0_read,
	.write = vp_bar0_write,
};

/* A virtio_pci_cap (§4.1.4): vendor-specific capability 0x09. */
static void
vp_cap(struct virtio_pci *vp, unsigned int i, uint8_t type, uint32_t off,
    uint32_t len)
{
	uint8_t *c = vp->vp_caps[i];
	uint8_t clen = type == VP_CAP_NOTIFY ? 20 : 16;

	memset(c, 0, sizeof(vp->vp_caps[i]));
	c[0] = 0x09;		/* PCI_CAP_ID_VNDR */
	c[2] = clen;
	c[3] = type;
	c[4] = 0;		/* BAR0 */
	vp_put32(c + 8, off);
	vp_put32(c + 12, len);
	if (type == VP_CAP_NOTIFY)
		vp_put32(c + 16, VP_NOTIFY_MULT);
	vp->vp_capdesc[i] = (struct pci_cap_desc){ .pc_data = c,
	    .pc_len = clen };
}

int
virtio_pci_create(struct pci_bus *bus, const struct gm *gm,
    const struct virtio_model *mo, const struct virtio_create *vc,
    const struct virtio_pci_host *host, struct virtio_pci **out)
{
	struct pci_dev_desc d;
	struct virtio_pci *vp;
	unsigned int q, nq = 0;
	size_t cfg_size = 0;
	int rc;

	vp = calloc(1, sizeof(*vp));
	if (vp == NULL) {
		snprintf(vc->vc_err, vc->vc_errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&vp->vp_lock, NULL);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->vp_q[q].vq_kick_fd = -1;
	vp->vp_dev.vd_model = mo;
	vp->vp_dev.vd_gm = gm;
	vp->vp_dev.vd_transport = vp;
	vp->vp_host = host;
	vp->vp_loop = vc->vc_loop;
	vp->vp_config_vector = VP_NO_VECTOR;

	rc = mo->create(&vp->vp_dev, vc, &vp->vp_dev.vd_priv, &nq, &cfg_size);
	if (rc < 0) {
		pthread_mutex_destroy(&vp->vp_lock);
		free(vp);
		return rc;
	}
	if (nq == 0 || nq > VIRTIO_MAX_QUEUES || cfg_size > VP_DEVCFG_MAX) {
		snprintf(vc->vc_err, vc->vc_errlen, "%s: bad model layout",
		    mo->mo_name);
		rc = -EINVAL;
		goto err_destroy;
	}
	vp->vp_dev.vd_nqueues = nq;
	vp->vp_cfg_size = cfg_size;
	vp->vp_features = mo->features(vp->vp_dev.vd_priv) |
	    (1ULL << VIRTIO_F_VERSION_1) |
	    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
	    (1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (q = 0; q < nq; q++) {
		vp->vp_q[q].vq_size = mo->mo_max_qsize;
		vp->vp_q[q].vq_vector = VP_NO_VECTOR;
		vp->vp_q[q].vq_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->vp_kick[q] = (struct vp_kick){ vp, q };
		if (vp->vp_q[q].vq_kick_fd < 0 ||
		    ioloop_add(vp->vp_loop, vp->vp_q[q].vq_kick_fd, vp_kick,
		    &vp->vp_kick[q]) < 0) {
			snprintf(vc->vc_err, vc->vc_errlen, "%s: cannot set up "
			    "doorbell %u", mo->mo_name, q);
			rc = -EIO;
			goto err_destroy;
		}
	}

	vp_cap(vp, 0, VP_CAP_COMMON, VP_COMMON_OFF, VP_COMMON_LEN);
	vp_cap(vp, 1, VP_CAP_NOTIFY, VP_NOTIFY_OFF, VP_NOTIFY_MULT * nq);
	vp_cap(vp, 2, VP_CAP_ISR, VP_ISR_OFF, 1);
	vp_cap(vp, 3, VP_CAP_DEVICE, VP_DEVCFG_OFF, (uint32_t)cfg_size);
	memset(&d, 0, sizeof(d));
	d.pd_name = mo->mo_name;
	d.pd_vendor = VP_PCI_VENDOR;
	d.pd_device = (uint16_t)(VP_PCI_DEVICE_BASE + mo->mo_devid);
	d.pd_subsys_vendor = VP_PCI_VENDOR;
	d.pd_subsys = (uint16_t)mo->mo_devid;
	/* Storage (other) and network (Ethernet), as QEMU's devices say. */
	d.pd_class = mo->mo_devid == VIRTIO_ID_BLOCK ? 0x018000 :
	    mo->mo_devid == VIRTIO_ID_NET ? 0x020000 : 0xff0000;
	d.pd_revision = 1;		/* modern-only device */
	d.pd_intx_pin = 1;
	d.pd_bars[0] = (struct pci_bar_desc){ .pb_size = VP_BAR0_SIZE,
	    .pb_ops = &vp_bar0_ops, .pb_priv = vp };
	d.pd_bars[2] = (struct pci_bar_desc){ .pb_size = VP_BAR2_SIZE };
	d.pd_caps = vp->vp_capdesc;
	d.pd_ncaps = 4;
	d.pd_msix_nvec = nq + 1;
	d.pd_msix_table_bar = 2;
	d.pd_msix_pba_bar = 2;
	d.pd_msix_table_off = VP_MSIX_TABLE_OFF;
	d.pd_msix_pba_off = VP_MSIX_PBA_OFF;
	d.pd_priv = vp;
	d.pd_bar_moved = vp_bar_moved;
	rc = pci_add_device(bus, &d, &vp->vp_pci);
	if (rc < 0) {
		snprintf(vc->vc_err, vc->vc_errlen, "%s: cannot add the PCI "
		    "device: %s", mo->mo_name, strerror(-rc));
		goto err_destroy;
	}
	vp->vp_bar0 = pci_bar_addr(vp->vp_pci, 0);
	vp_doorbells(vp, vp->vp_bar0, true);
	*out = vp;
	return 0;

err_destroy:
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (vp->vp_q[q].vq_kick_fd >= 0) {
			(void)ioloop_del(vp->vp_loop, vp->vp_q[q].vq_kick_fd);
			close(vp->vp_q[q].vq_kick_fd);
		}
	mo->destroy(vp->vp_dev.vd_priv);
	pthread_mutex_destroy(&vp->vp_lock);
	free(vp);
	return rc;
}

void
virtio_pci_destroy(struct virtio_pci *vp)
{
	unsigned int q;

	if (vp == NULL)
		return;
	vp->vp_dev.vd_model->destroy(vp->vp_dev.vd_priv);
	for (q = 0; q < vp->vp_dev.vd_nqueues; q++)
		if (vp->vp_q[q].vq_kick_fd >= 0)
			close(vp->vp_q[q].vq_kick_fd);
	pthread_mutex_destroy(&vp->vp_lock);
	free(vp);
}

struct pci_dev *
virtio_pci_dev(struct virtio_pci *vp)
{
	return vp->vp_pci;
}

void
virtio_pci_stats(struct virtio_pci *vp, const struct virtio_stats_sink *sink)
{
	const struct virtio_model *mo = vp->vp_dev.vd_model;
	char name[32];
	unsigned int q;

	/*
	 * Interrupts the kernel raises itself (a vhost queue's irqfd) do not
	 * pass through here and are not counted; nor are doorbells of a
	 * queue whose kick fd vhost reads.
	 */
	for (q = 0; q < vp->vp_dev.vd_nqueues; q++) {
		snprintf(name, sizeof(name), "q%u_kicks", q);
		sink->ss_counter(sink->ss_ctx, name,
		    __atomic_load_n(&vp->vp_kicks[q], __ATOMIC_RELAXED));
		snprintf(name, sizeof(name), "q%u_interrupts", q);
		sink->ss_counter(sink->ss_ctx, name,
		    __atomic_load_n(&vp->vp_intrs[q], __ATOMIC_RELAXED));
	}
	if (mo->stats != NULL)
		mo->stats(vp->vp_dev.vd_priv, sink);
}

const char *
virtio_pci_model_name(const struct virtio_pci *vp)
{
	return vp->vp_dev.vd_model->mo_name;
}

void
virtio_pci_describe(struct virtio_pci *vp, char *buf, size_t len)
{
	const struct virtio_model *mo = vp->vp_dev.vd_model;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (mo->describe != NULL)
		mo->describe(vp->vp_dev.vd_priv, buf, len);
}
