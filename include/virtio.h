/*
 * Virtio devices (virtio 1.2): the interface between a transport (PCI,
 * virtio/pci.c) and a device model (virtio/blk.c, ...).  The transport owns
 * the registers, feature negotiation, queue setup and interrupts; a model
 * owns what requests mean.  Models never see KVM, JSON or registers.
 */
#ifndef VMM_VIRTIO_H
#define VMM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtq.h"

struct gm;
struct ioloop;
struct virtio_dev;

#define VIRTIO_F_VERSION_1		32
#define VIRTIO_MAX_QUEUES		64

#define VIRTIO_ID_NET			1
#define VIRTIO_ID_BLOCK			2

#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

/* What a model gets to create an instance: its config and its context. */
struct virtio_create {
	const void		*vc_spec;	/* model-specific, e.g. disk_spec */
	unsigned int		 vc_index;	/* instance number, for names */
	unsigned int		 vc_nvcpus;	/* e.g. one queue per vCPU */
	struct ioloop		*vc_loop;	/* the I/O thread models run on */
	const char		*vc_vmname;	/* the spec's name, e.g. for MACs */
	char			*vc_err;	/* a one-line reason on failure */
	size_t			 vc_errlen;
};

/*
 * Where a device's statistics go: vmm/control.c turns them into JSON for
 * `vmctl stats`.  Names are short snake_case keys ("rx_packets"); a
 * histogram's bucket i counts samples in [2^i, 2^(i+1)) of unit (bucket 0
 * also holds 0), the last bucket everything above.
 */
struct virtio_stats_sink {
	void	*ss_ctx;
	void	(*ss_counter)(void *ctx, const char *name, uint64_t value);
	void	(*ss_hist)(void *ctx, const char *name, const char *unit,
		    const uint64_t *buckets, unsigned int nbuckets);
};

struct virtio_model {
	const char	*mo_name;	/* e.g. "virtio-blk" */
	uint32_t	 mo_devid;	/* VIRTIO_ID_* */
	uint16_t	 mo_max_qsize;	/* power of two */
	/*
	 * Create an instance bound to vdev (which lives until destroy).  Sets
	 * *nqueues and *cfg_size.  0 or -errno with vc_err filled.
	 */
	int	 (*create)(struct virtio_dev *, const struct virtio_create *,
		    void **priv, unsigned int *nqueues, size_t *cfg_size);
	uint64_t (*features)(void *priv);	/* device feature bits */
	/*
	 * Device configuration space: the transport reads and writes through
	 * these (bounds already checked against cfg_size).
	 */
	void	 (*cfg_read)(void *priv, size_t off, void *buf, size_t len);
	void	 (*cfg_write)(void *priv, size_t off, const void *buf,
		    size_t len);
	/* DRIVER_OK: queues are set up; acked is what the driver accepted. */
	int	 (*activate)(void *priv, uint64_t acked);
	/* The driver kicked queue q (on the I/O thread). */
	void	 (*notify)(void *priv, unsigned int q);
	/* Device reset: wait for in-flight requests; queues are reused after. */
	void	 (*reset)(void *priv);
	void	 (*destroy)(void *priv);
	/*
	 * Report counters (requests, bytes, errors, ...) to the sink.  Called
	 * from the VMM's main thread while the device runs: take the model's
	 * lock.  NULL: none.
	 */
	void	 (*stats)(void *priv, const struct virtio_stats_sink *);
	/*
	 * One line on the backend, for `vmctl info`: e.g. "/img/a.raw
	 * io_uring O_DIRECT" or "tap hull0 on br0, 2 queue pairs, vhost-net".
	 * NULL: none.
	 */
	void	 (*describe)(void *priv, char *buf, size_t len);
};

/* The transport-owned state a model may use. */
struct virtio_dev {
	const struct virtio_model	*vd_model;
	void				*vd_priv;
	const struct gm			*vd_gm;
	unsigned int			 vd_nqueues;
	struct virtq			 vd_vq[VIRTIO_MAX_QUEUES];
	uint64_t			 vd_acked;
	void				*vd_transport;
};

/*
 * Tell the driver that queue q has new used buffers (the model checks
 * virtq_needs_notify first).  Thread-safe.
 */
void	virtio_dev_interrupt(struct virtio_dev *, unsigned int q);

/*
 * A ring-level error: set DEVICE_NEEDS_RESET and tell the driver; the model
 * stops using the queues until reset.  why is logged once.
 */
void	virtio_dev_needs_reset(struct virtio_dev *, const char *why);

/*
 * The eventfd that the driver's doorbell for queue q signals (an
 * ioeventfd), or -1.  The transport watches it on the I/O thread and calls
 * the model's notify; a model that hands the queue to the kernel (vhost)
 * pauses that watch with ioloop_enable(loop, fd, false).
 */
int	virtio_dev_kick_fd(struct virtio_dev *, unsigned int q);

/*
 * An eventfd that interrupts the driver for queue q straight from the
 * kernel (an irqfd on the queue's MSI-X vector), for a model whose queue
 * the kernel serves (vhost); -1 when there is none (INTx, no vector, the
 * vector masked): then signal a fd of the model's own and call
 * virtio_dev_interrupt.  Valid from DRIVER_OK until reset; the vector
 * being masked later holds the interrupts back, as MSI-X says.
 */
int	virtio_dev_irqfd(struct virtio_dev *, unsigned int q);

/* Look up a model by its spec name; NULL if none (virtio/models.c). */
const struct virtio_model	*virtio_model_find(const char *name);

#endif /* VMM_VIRTIO_H */
