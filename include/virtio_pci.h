/*
 * The virtio 1.x modern PCI transport (virtio 1.2 §4.1).
 */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

#include <stdbool.h>
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

#endif /* VMM_VIRTIO_PCI_H */
