/*
 * GSI routing, irqfd and ioeventfd (vmm/irq.c).  Private to vmm/.
 */
#ifndef VMM_IRQ_H
#define VMM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define IRQ_IOAPIC_PINS		24
#define IRQ_MSI_GSI_BASE	24	/* MSI routes follow the IOAPIC pins */
#define IRQ_MAX_MSI		256
#define IRQ_MAX_ROUTES		(16 + IRQ_IOAPIC_PINS + IRQ_MAX_MSI)

struct irq_msi {
	bool		im_valid;	/* guest-controlled address and data */
	uint64_t	im_addr;
	uint32_t	im_data;
};

struct irq_table {
	pthread_mutex_t	it_lock;
	unsigned int	it_nmsi;
	struct irq_msi	it_msi[IRQ_MAX_MSI];
};

void	irq_init(struct vm *);
void	irq_fini(struct vm *);

/* Reserve the next MSI GSI (no route until irq_msi_set).  0 or -ENOSPC. */
int	irq_msi_alloc(struct vm *, unsigned int *gsi);

/*
 * Point an allocated MSI GSI at addr/data (valid) or remove its route, and
 * push the whole table to KVM.  Unchanged values cost nothing.  Thread-safe.
 */
int	irq_msi_set(struct vm *, unsigned int gsi, bool valid, uint64_t addr,
	    uint32_t data);

/* Have KVM inject gsi whenever fd (an eventfd) is written.  0 or -errno. */
int	irq_irqfd(struct vm *, int fd, unsigned int gsi, bool assign);

/*
 * Have KVM signal fd on a guest write of len bytes at addr (MMIO, or a port
 * when pio) instead of exiting to the VMM.  0 or -errno.
 */
int	irq_ioeventfd(struct vm *, int fd, uint64_t addr, unsigned int len,
	    bool pio, bool assign);

#endif /* VMM_IRQ_H */
