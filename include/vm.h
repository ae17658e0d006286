/*
 * What devices may ask of the virtual machine they belong to.  Devices see
 * only this, never KVM: so a device model links into a unit test with a fake
 * struct vm_irq / vm_events (see devices/tests).
 */
#ifndef VMM_VM_H
#define VMM_VM_H

#include <stdint.h>

/* Why a VM stopped; vmm_run maps these to exit statuses (docs/statuses.md). */
enum vm_stop {
	VM_STOP_NONE = 0,
	VM_STOP_POWEROFF,	/* ACPI S5: the guest powered off */
	VM_STOP_REBOOT,		/* guest asked for a reset (i8042, triple fault is not this) */
	VM_STOP_CRASH,		/* triple fault, internal error, failed entry */
	VM_STOP_ERROR,		/* the VMM failed */
	VM_STOP_KILLED,		/* the user stopped it (signal, console escape) */
};

/*
 * Interrupt line and stop request callbacks a device is given at creation.
 * set_irq drives an ISA/IOAPIC input pin to level (0 or 1); stop records a
 * stop reason and makes every vCPU leave KVM_RUN.  Both are thread-safe.
 */
struct vm_events {
	void	*ve_ctx;
	int	(*ve_set_irq)(void *ctx, unsigned int gsi, int level);
	void	(*ve_stop)(void *ctx, enum vm_stop why);
};

#endif /* VMM_VM_H */
