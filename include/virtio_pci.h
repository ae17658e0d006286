/*
 * The virtio 1.x modern PCI transport (virtio 1.2 §4.1).
 */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gm;
struct pci_bus;
struct pci_dev;
struct virtio_create;
struct virtio_model;
struct virtio_pci;

/* What the transport needs from the VM: doorbells that skip the VMM. */
struct virtio_pci_host {
	void	*vh_ctx;
	/* Signal fd on a guest write of len bytes at MMIO addr; 0 or -errno. */
	int	(*vh_ioeventfd)(void *ctx, int fd, uint64_t addr,
		    unsigned int len, bool assign);
	/*
	 * The eventfd whose signal raises MSI-X vector of dev in the guest
	 * (a KVM irqfd) while the vector is routed and unmasked, else -1.
	 * NULL: no such thing (tests).
	 */
	int	(*vh_irqfd)(void *ctx, struct pci_dev *dev, unsigned int vector);
};

/*
 * Create a device of the given model on the PCI bus.  host is not copied.
 * 0 or -errno with vc->vc_err filled.  Before the vCPUs run.
 */
int	virtio_pci_create(struct pci_bus *, const struct gm *,
	    const struct virtio_model *, const struct virtio_create *vc,
	    const struct virtio_pci_host *host, struct virtio_pci **out);

/* Quiesce the model (in-flight I/O finishes) and free.  After the vCPUs. */
void	virtio_pci_destroy(struct virtio_pci *);

struct pci_dev	*virtio_pci_dev(struct virtio_pci *);

struct virtio_stats_sink;

/*
 * Statistics of the device: per queue "q<N>_kicks" (doorbells the I/O
 * thread saw) and "q<N>_interrupts" (interrupts sent), then the model's
 * own.  From the main thread while the device runs.
 */
void	virtio_pci_stats(struct virtio_pci *, const struct virtio_stats_sink *);

/* The model's name ("virtio-blk") and its describe line ("" if none). */
const char	*virtio_pci_model_name(const struct virtio_pci *);
void	virtio_pci_describe(struct virtio_pci *, char *buf, size_t len);

#endif /* VMM_VIRTIO_PCI_H */
