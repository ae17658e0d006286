/*
 * The PCI side of the machine: the host bridge (devices/pci.c), one
 * virtio-pci device per spec disk and NIC, the I/O thread they run on, and the
 * interrupt callbacks that turn MSI-X table entries into KVM MSI routes with
 * one irqfd per vector, and INTx into IOAPIC lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"
#include "irq.h"
#include "machine.h"
#include "pci.h"
#include "spec.h"
#include "virtio.h"
#include "virtio_pci.h"

/* Per-device MSI-X state: a GSI and an irqfd per vector, made on first use. */
struct pcihost_msix {
	unsigned int	pm_nvec;
	struct {
		unsigned int	pv_gsi;	/* 0: not yet allocated */
		int		pv_fd;
		bool		pv_on;	/* fd assigned as an irqfd to pv_gsi */
	} pm_vec[VIRTIO_MAX_QUEUES + 1];
};

static int
pcihost_intx(void *ctx, unsigned int gsi, int level)
{
	struct vm *vm = ctx;

	return vm->vm_ev.ve_set_irq(vm->vm_ev.ve_ctx, gsi, level);
}

static int
pcihost_msix_update(void *ctx, struct pci_dev *dev, unsigned int vector,
    uint64_t addr, uint32_t data, bool masked)
{
	struct vm *vm = ctx;
	struct pcihost_msix *pm = pci_dev_irq_data(dev);
	int rc;

	if (pm == NULL || vector >= pm->pm_nvec)
		return -EINVAL;
	if (pm->pm_vec[vector].pv_gsi == 0) {
		if (masked)
			return 0;	/* nothing to route yet */
		rc = irq_msi_alloc(vm, &pm->pm_vec[vector].pv_gsi);
		if (rc < 0)
			return rc;
	}
	rc = irq_msi_set(vm, pm->pm_vec[vector].pv_gsi, true, addr, data);
	if (rc < 0)
		return rc;
	/*
	 * While masked the irqfd is unhooked: pci_msix keeps our own
	 * interrupts in the PBA, and signals from the kernel (vhost) stay
	 * counted in the eventfd, which KVM delivers when it is hooked up
	 * again.  So masking holds interrupts back whoever raises them.
	 */
	if (masked == pm->pm_vec[vector].pv_on) {
		rc = irq_irqfd(vm, pm->pm_vec[vector].pv_fd,
		    pm->pm_vec[vector].pv_gsi, !masked);
		if (rc < 0)
			return rc;
		__atomic_store_n(&pm->pm_vec[vector].pv_on, !masked,
		    __ATOMIC_RELEASE);
	}
	return 0;
}

/* The eventfd that raises vector, for the kernel to signal; -1 if off. */
static int
pcihost_irqfd(void *ctx, struct pci_dev *dev, unsigned int vector)
{
	struct pcihost_msix *pm = pci_dev_irq_data(dev);

	(void)ctx;
	if (pm == NULL || vector >= pm->pm_nvec ||
	    !__atomic_load_n(&pm->pm_vec[vector].pv_on, __ATOMIC_ACQUIRE))
		return -1;
	return pm->pm_vec[vector].pv_fd;
}

static int
pcihost_msix_fire(void *ctx, struct pci_dev *dev, unsigned int vector)
{
	struct pcihost_msix *pm = pci_dev_irq_data(dev);
	uint64_t one = 1;

	(void)ctx;
	if (pm == NULL || vector >= pm->pm_nvec || pm->pm_vec[vector].pv_gsi == 0)
		return -EINVAL;
	return write(pm->pm_vec[vector].pv_fd, &one, sizeof(one)) ==
	    sizeof(one) ? 0 : -errno;
}

static const struct pci_irq_ops pcihost_irq_ops = {
	.intx = pcihost_intx,
	.msix_update = pcihost_msix_update,
	.msix_fire = pcihost_msix_fire,
};

static int
pcihost_ioeventfd(void *ctx, int fd, uint64_t addr, unsigned int len,
    bool assign)
{
	return irq_ioeventfd(ctx, fd, addr, len, false, assign);
}

static struct pcihost_msix *
pcihost_msix_new(unsigned int nvec)
{
	struct pcihost_msix *pm = calloc(1, sizeof(*pm));
	unsigned int i;

	if (pm == NULL)
		return NULL;
	pm->pm_nvec = nvec;
	for (i = 0; i < nvec; i++) {
		pm->pm_vec[i].pv_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (pm->pm_vec[i].pv_fd < 0) {
			while (i-- > 0)
				close(pm->pm_vec[i].pv_fd);
			free(pm);
			return NULL;
		}
	}
	return pm;
}

static void
pcihost_msix_free(struct vm *vm, struct pcihost_msix *pm)
{
	unsigned int i;

	if (pm == NULL)
		return;
	for (i = 0; i < pm->pm_nvec; i++) {
		if (pm->pm_vec[i].pv_on)
			(void)irq_irqfd(vm, pm->pm_vec[i].pv_fd,
			    pm->pm_vec[i].pv_gsi, false);
		close(pm->pm_vec[i].pv_fd);
	}
	free(pm);
}

/* One virtio-pci device of model mo for a spec element (disk or NIC). */
static int
pcihost_add_virtio(struct vm *vm, const struct virtio_model *mo,
    const void *elem, unsigned int index, const char *key)
{
	struct virtio_create vc = {
		.vc_spec = elem, .vc_index = index,
		.vc_nvcpus = vm->vm_nvcpus, .vc_loop = vm->vm_loop,
		.vc_vmname = vm->vm_spec->vs_name,
	};
	struct pcihost_msix *pm;
	struct virtio_pci *vp;
	char err[300];
	int rc;

	err[0] = '\0';
	vc.vc_err = err;
	vc.vc_errlen = sizeof(err);
	if (vm->vm_nvirtio == VM_MAX_VIRTIO)
		return vm_fail(vm, -ENOSPC, "too many virtio devices");
	rc = virtio_pci_create(vm->vm_pci, &vm->vm_gm, mo, &vc, &vm->vm_vhost,
	    &vp);
	if (rc < 0) {
		/*
		 * A disk that cannot be opened, a bridge that does not exist:
		 * the spec's fault, and the message names the key.
		 */
		vm->vm_badspec = strncmp(err, key, strlen(key)) == 0 &&
		    err[strlen(key)] == '[';
		return vm_fail(vm, rc, "%s", err[0] ? err : strerror(-rc));
	}
	vm->vm_virtio[vm->vm_nvirtio++] = vp;
	pm = pcihost_msix_new(VIRTIO_MAX_QUEUES + 1);
	if (pm == NULL)
		return vm_fail(vm, -ENOMEM, "out of memory");
	pci_dev_set_irq_data(virtio_pci_dev(vp), pm);
	return 0;
}

int
pcihost_create(struct vm *vm)
{
	const struct vm_spec *spec = vm->vm_spec;
	const struct virtio_model *blk = virtio_model_find("virtio-blk");
	const struct virtio_model *net = virtio_model_find("virtio-net");
	unsigned int i;
	int rc;

	vm->vm_vhost = (struct virtio_pci_host){ vm, pcihost_ioeventfd,
	    pcihost_irqfd };
	vm->vm_loop = ioloop_create();
	if (vm->vm_loop == NULL)
		return vm_fail(vm, -errno, "cannot create the I/O thread: %s",
		    strerror(errno));
	rc = pci_bus_create(&vm->vm_bus, &pcihost_irq_ops, vm, &vm->vm_pci);
	if (rc < 0)
		return vm_fail(vm, rc, "cannot create the PCI bus: %s",
		    strerror(-rc));
	for (i = 0; i < spec->vs_ndisks; i++) {
		rc = pcihost_add_virtio(vm, blk, &spec->vs_disks[i], i, "disks");
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < spec->vs_nnics; i++) {
		rc = pcihost_add_virtio(vm, net, &spec->vs_nics[i], i, "nics");
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
pcihost_start(struct vm *vm)
{
	int rc = ioloop_start(vm->vm_loop);

	return rc < 0 ? vm_fail(vm, rc, "cannot start the I/O thread: %s",
	    strerror(-rc)) : 0;
}

/* After the vCPUs have stopped: nothing dispatches to the devices now. */
void
pcihost_destroy(struct vm *vm)
{
	unsigned int i;

	if (vm->vm_loop != NULL)
		ioloop_stop(vm->vm_loop);
	for (i = 0; i < vm->vm_nvirtio; i++) {
		struct pci_dev *pd = virtio_pci_dev(vm->vm_virtio[i]);

		pcihost_msix_free(vm, pci_dev_irq_data(pd));
		virtio_pci_destroy(vm->vm_virtio[i]);
	}
	vm->vm_nvirtio = 0;
	pci_bus_destroy(vm->vm_pci);
	vm->vm_pci = NULL;
	ioloop_destroy(vm->vm_loop);
	vm->vm_loop = NULL;
}
