/*
 * ACPI tables for a Hull guest (ACPI 6.x): RSDP, XSDT, FADT, MADT, MCFG,
 * DSDT, and the fixed-hardware power-management registers they describe.
 * The PCI numbers (ECAM, windows, INTx routing) come from include/pci.h.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct vm_events;

/* Where the tables live in guest memory: the BIOS area Linux scans. */
#define ACPI_TABLES_GPA		0xe0000ULL
#define ACPI_TABLES_SIZE	0x10000ULL	/* up to 0xf0000 */

/* PM1a event and control blocks (ports) and the SCI line. */
#define ACPI_PM1A_EVT_PORT	0x600
#define ACPI_PM1A_EVT_LEN	4
#define ACPI_PM1A_CNT_PORT	0x604
#define ACPI_PM1A_CNT_LEN	2
#define ACPI_SCI_IRQ		9
#define ACPI_S5_SLP_TYP		5	/* the value \_S5 hands the OS */

#define ACPI_IOAPIC_GPA		0xfec00000ULL
#define ACPI_LAPIC_GPA		0xfee00000ULL

/* xAPIC IDs are 8 bits and 0xff is the broadcast ID: at most 255 CPUs. */
#define ACPI_MAX_CPUS		255

struct acpi_cfg {
	unsigned int	ac_ncpus;	/* APIC IDs 0 .. ncpus-1 */
};

/*
 * Build every table into buf (bufsz bytes, to be copied to gpa_base in guest
 * memory).  Pointers between tables are guest-physical.  On success returns
 * the number of bytes used and sets *rsdp_gpa; -ENOSPC if buf is too small,
 * -EINVAL for a bad cfg.
 */
long	acpi_build(const struct acpi_cfg *, uint8_t *buf, size_t bufsz,
	    uint64_t gpa_base, uint64_t *rsdp_gpa);

/* The PM1 register block device (ports ACPI_PM1A_*). */
struct acpi_pm;

/*
 * Create the PM device.  A write of SLP_EN with SLP_TYP ACPI_S5_SLP_TYP to
 * PM1a_CNT calls ev->ve_stop(VM_STOP_POWEROFF).  Returns NULL on ENOMEM.
 * *ev is copied; its callbacks must be non-NULL.  ve_set_irq is called with
 * the device lock held (so it must not call back into the device), ve_stop
 * without it.  Register accesses may come from any vCPU thread at once.
 */
struct acpi_pm	*acpi_pm_create(const struct vm_events *ev);
/* Free the device; only once no bus can dispatch to it any more. */
void		 acpi_pm_destroy(struct acpi_pm *);

/*
 * Press the power button: sets PWRBTN_STS and raises the SCI if the guest
 * enabled PWRBTN_EN.  Thread-safe (e.g. from the control thread).
 */
void		 acpi_pm_power_button(struct acpi_pm *);

/*
 * Register the PM ports on the PIO bus as two ranges, "acpi-pm-evt" and
 * "acpi-pm-cnt"; 0 or the -errno of bus_register.  On failure the event
 * range may stay registered: the caller tears the whole bus down.
 */
struct bus;
int		 acpi_pm_attach(struct acpi_pm *, struct bus *);

#endif /* VMM_ACPI_H */
