/*
 * Interrupt plumbing between devices and KVM: the GSI routing table (the
 * in-kernel PIC and IOAPIC pins, plus one MSI route per MSI-X vector in
 * use), irqfds that inject a GSI when an eventfd is written, and ioeventfds
 * that turn a guest write to a doorbell into an eventfd signal without an
 * exit to user space.  KVM API: KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "irq.h"
#include "machine.h"

/* Write the whole table: KVM_SET_GSI_ROUTING replaces every route. */
static int
irq_commit(struct vm *vm)
{
	struct irq_table *t = &vm->vm_irq;
	struct kvm_irq_routing *r;
	unsigned int i, n = 0;
	int rc = 0;

	r = calloc(1, sizeof(*r) + IRQ_MAX_ROUTES * sizeof(r->entries[0]));
	if (r == NULL)
		return -ENOMEM;
	/* KVM's defaults: GSI 0-15 on the PIC and the IOAPIC, 16-23 IOAPIC. */
	for (i = 0; i < IRQ_IOAPIC_PINS; i++) {
		if (i < 16)
			r->entries[n++] = (struct kvm_irq_routing_entry){
				.gsi = i, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = i < 8 ?
				    KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				    .pin = i % 8 } };
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = i, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = i } };
	}
	for (i = 0; i < t->it_nmsi; i++) {
		if (!t->it_msi[i].im_valid)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = IRQ_MSI_GSI_BASE + i, .type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)t->it_msi[i].im_addr,
			    .address_hi = (uint32_t)(t->it_msi[i].im_addr >> 32),
			    .data = t->it_msi[i].im_data } };
	}
	r->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		rc = -errno;
	free(r);
	return rc;
}

int
irq_msi_alloc(struct vm *vm, unsigned int *gsi)
{
	struct irq_table *t = &vm->vm_irq;

	pthread_mutex_lock(&t->it_lock);
	if (t->it_nmsi == IRQ_MAX_MSI) {
		pthread_mutex_unlock(&t->it_lock);
		return -ENOSPC;
	}
	*gsi = IRQ_MSI_GSI_BASE + t->it_nmsi++;
	pthread_mutex_unlock(&t->it_lock);
	return 0;
}

int
irq_msi_set(struct vm *vm, unsigned int gsi, bool valid, uint64_t addr,
    uint32_t data)
{
	struct irq_table *t = &vm->vm_irq;
	struct irq_msi *m;
	int rc;

	if (gsi < IRQ_MSI_GSI_BASE || gsi - IRQ_MSI_GSI_BASE >= t->it_nmsi)
		return -EINVAL;
	pthread_mutex_lock(&t->it_lock);
	m = &t->it_msi[gsi - IRQ_MSI_GSI_BASE];
	if (m->im_valid == valid && m->im_addr == addr && m->im_data == data) {
		pthread_mutex_unlock(&t->it_lock);
		return 0;	/* the guest rewrote what it had: no ioctl */
	}
	m->im_valid = valid;
	m->im_addr = addr;
	m->im_data = data;
	rc = irq_commit(vm);
	pthread_mutex_unlock(&t->it_lock);
	return rc;
}

int
irq_irqfd(struct vm *vm, int fd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)fd, .gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int
irq_ioeventfd(struct vm *vm, int fd, uint64_t addr, unsigned int len,
    bool pio, bool assign)
{
	struct kvm_ioeventfd e = {
		.addr = addr, .len = len, .fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
		    (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}

void
irq_init(struct vm *vm)
{
	memset(&vm->vm_irq, 0, sizeof(vm->vm_irq));
	pthread_mutex_init(&vm->vm_irq.it_lock, NULL);
}

void
irq_fini(struct vm *vm)
{
	pthread_mutex_destroy(&vm->vm_irq.it_lock);
}
