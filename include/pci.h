/*
 * The PCI host bridge: one PCI segment with bus 0 only, configuration space
 * through ports 0xcf8/0xcfc (PCI Local Bus 3.0, 3.2.2.3.2, mechanism #1) and
 * ECAM (PCI Express Base 4.0, 7.2.2), 32-bit and 64-bit memory BARs placed in
 * a fixed window, MSI-X (PCI Local Bus 3.0, 6.8.2) and INTx.  docs/pci.md
 * describes the layout and the behaviour a guest sees.
 *
 * The bridge never sees KVM: interrupts leave through struct pci_irq_ops,
 * which the VM side implements with KVM_IRQ_LINE, GSI routes and irqfds.
 */
#ifndef VMM_PCI_H
#define VMM_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct bus_ops;
struct pci_bus;
struct pci_dev;

/*
 * Guest-physical layout, inside the 32-bit hole [GM_LOW_END, 4 GiB).  The
 * DSDT (devices/dsdt.asl) and the MCFG (devices/acpi.c) repeat these values;
 * devices/tests/test_acpi.c checks that they agree.
 */
#define PCI_MMIO32_BASE		0xc0000000ULL	/* BAR window */
#define PCI_MMIO32_SIZE		0x20000000ULL	/* 512 MiB, to 0xdfffffff */
#define PCI_ECAM_BASE		0xe0000000ULL	/* bus 0 only */
#define PCI_ECAM_SIZE		0x100000ULL	/* 32 dev x 8 fn x 4 KiB */
#define PCI_CONF1_PORT		0xcf8		/* CONFIG_ADDRESS, CONFIG_DATA */
#define PCI_CONF1_LEN		8
#define PCI_IO_WINDOW_BASE	0x1000		/* advertised; no I/O BARs yet */
#define PCI_IO_WINDOW_END	0xffff

/* The host bridge is 00.0; devices get slots 1 .. PCI_MAX_SLOT, function 0. */
#define PCI_MAX_SLOT		31
#define PCI_HOST_VENDOR		0x8086		/* as q35's MCH */
#define PCI_HOST_DEVICE		0x29c0
#define PCI_CLASS_HOST_BRIDGE	0x060000

/* INTx: pin p (1 = INTA# .. 4 = INTD#) of slot s drives this IOAPIC input. */
#define PCI_INTX_GSI_BASE	16
#define PCI_INTX_NGSI		8
#define PCI_INTX_GSI(slot, pin) \
	(PCI_INTX_GSI_BASE + ((unsigned int)(slot) + (unsigned int)(pin) - 1) % \
	    PCI_INTX_NGSI)

#define PCI_NBARS		6
#define PCI_BAR_MIN_SIZE	16		/* smallest memory BAR */
#define PCI_BAR_UNMAPPED	UINT64_MAX	/* BAR not decoded */

#define PCI_MSIX_MAX_VECTORS	2048		/* table size field is 11 bits */
#define PCI_MAX_CAPS		16		/* device-provided capabilities */

/*
 * Interrupt delivery, implemented by the VM side.  ctx is the irq_ctx given
 * to pci_bus_create.  Every callback may run on any vCPU thread and on the
 * threads that call pci_set_intx / pci_msix_notify, with a PCI lock held:
 * it must not call back into the bus (no pci_* call).  Return 0 or -errno;
 * a failure is logged once per device and otherwise ignored.
 *
 * intx:	drive IOAPIC input gsi to level (1 asserted, 0 deasserted;
 *		logical level: polarity is the IOAPIC's business).  It has the
 *		signature of struct vm_events' ve_set_irq.
 * msix_update:	vector's entry (addr, data) or its masked state changed;
 *		masked is true when the vector, the function or MSI-X as a
 *		whole is masked or disabled.  Program the GSI route here.
 *		addr and data are guest-controlled: validate them.
 * msix_fire:	deliver vector now (e.g. write its irqfd).  Only called while
 *		the vector is enabled and unmasked, after an msix_update that
 *		said so.
 */
struct pci_irq_ops {
	int	(*intx)(void *ctx, unsigned int gsi, int level);
	int	(*msix_update)(void *ctx, struct pci_dev *, unsigned int vector,
		    uint64_t addr, uint32_t data, bool masked);
	int	(*msix_fire)(void *ctx, struct pci_dev *, unsigned int vector);
};

/* One memory BAR.  pb_size 0: the BAR is not implemented (reads 0). */
struct pci_bar_desc {
	uint64_t		 pb_size;	/* power of 2, >= PCI_BAR_MIN_SIZE */
	bool			 pb_64bit;	/* uses this BAR and the next */
	bool			 pb_prefetch;
	/*
	 * Accesses to the BAR's contents, off relative to the BAR.  The bus
	 * rules of include/bus.h apply (any vCPU thread, no PCI lock held).
	 * Accesses to the MSI-X table and PBA never reach these.  NULL: the
	 * BAR holds only MSI-X structures; other offsets read 0.
	 */
	const struct bus_ops	*pb_ops;
	void			*pb_priv;
};

/*
 * A capability the device builds itself (e.g. a virtio_pci_cap), linked
 * into the list after the bridge's own.  pc_data[0] is the capability ID;
 * pc_data[1] (next) is overwritten by the bridge.  Bytes whose pc_wmask bit
 * is set are guest-writable (ID and next never are); pc_wmask may be NULL.
 */
struct pci_cap_desc {
	const uint8_t	*pc_data;
	const uint8_t	*pc_wmask;
	uint8_t		 pc_len;	/* 2 .. 192 */
};

struct pci_dev_desc {
	const char	*pd_name;	/* for logs; e.g. "virtio-blk" */
	uint16_t	 pd_vendor, pd_device;
	uint16_t	 pd_subsys_vendor, pd_subsys;
	uint32_t	 pd_class;	/* base << 16 | sub << 8 | prog-if */
	uint8_t		 pd_revision;
	uint8_t		 pd_intx_pin;	/* 0: none, 1 = INTA# .. 4 = INTD# */

	struct pci_bar_desc pd_bars[PCI_NBARS];	/* 64-bit: next one empty */

	const struct pci_cap_desc *pd_caps;
	unsigned int	 pd_ncaps;	/* at most PCI_MAX_CAPS */

	/* MSI-X: pd_msix_nvec 0 for none. */
	unsigned int	 pd_msix_nvec;	/* 1 .. PCI_MSIX_MAX_VECTORS */
	unsigned int	 pd_msix_table_bar, pd_msix_pba_bar;
	uint32_t	 pd_msix_table_off;	/* 8-aligned, inside the BAR */
	uint32_t	 pd_msix_pba_off;	/* 8-aligned, inside the BAR */

	/* Passed to the callbacks below. */
	void		*pd_priv;
	/*
	 * Optional.  The decoded address of BAR bar changed from old to new
	 * (either may be PCI_BAR_UNMAPPED: memory decode off, address 0, or
	 * a range that collides with another device).  E.g. move the
	 * ioeventfds of a notify region.  Called with the bus lock held.
	 */
	void	(*pd_bar_moved)(void *priv, unsigned int bar, uint64_t old,
		    uint64_t new);
	/*
	 * Optional.  A guest access to bytes [off, off + len) of device
	 * capability cap (index into pd_caps).  Before a read (write false)
	 * the device may refresh bytes, the capability's live copy; after a
	 * write (write true) bytes already holds the value written through
	 * pc_wmask.  Called with the bus lock held.
	 */
	void	(*pd_cap_access)(void *priv, unsigned int cap, bool write,
		    unsigned int off, unsigned int len, uint8_t *bytes);
};

/*
 * Create the bridge and register its ranges on iobus: "pci-conf1" (ports
 * 0xcf8-0xcff) on BUS_PIO and "pci-ecam" on BUS_MMIO.  irq is not copied
 * and must outlive the bridge, as must iobus.  Returns 0 and sets *out, or
 * -ENOMEM, -EINVAL (an irq callback missing), or the -errno of
 * bus_register (nothing stays registered then).  Call before the vCPUs run.
 */
int	pci_bus_create(struct bus *iobus, const struct pci_irq_ops *irq,
	    void *irq_ctx, struct pci_bus **out);

/*
 * Unregister every range of the bridge and its devices and free them all.
 * Only once no vCPU can dispatch any more.  NULL is a no-op.
 */
void	pci_bus_destroy(struct pci_bus *);

/*
 * Add a device in the next free slot, function 0.  desc is copied, but the
 * memory it points to (caps, bus_ops) must outlive the bridge.  Each BAR
 * gets a naturally aligned address in [PCI_MMIO32_BASE, +PCI_MMIO32_SIZE),
 * memory decode starts enabled, so every BAR is registered on BUS_MMIO
 * ("<name>.bar<N>") and pci_bar_addr() tells where.  Returns 0 and sets *out
 * (owned by the bus), -EINVAL for a bad desc (sizes, flags, MSI-X placement,
 * capabilities not fitting in 256 bytes), -ENOSPC when the slots or the
 * window are full, -ENOMEM, or the -errno of bus_register.  Not safe
 * against concurrent dispatch: call before the vCPUs run.
 */
int	pci_add_device(struct pci_bus *, const struct pci_dev_desc *,
	    struct pci_dev **out);

/* Where BAR bar is decoded now, or PCI_BAR_UNMAPPED.  Takes the bus lock. */
uint64_t	pci_bar_addr(struct pci_dev *, unsigned int bar);
/* The slot (device number on bus 0) and the INTx GSI (0 without a pin). */
unsigned int	pci_dev_slot(const struct pci_dev *);
unsigned int	pci_dev_intx_gsi(const struct pci_dev *);

/*
 * A pointer for the VM side's per-device interrupt state (GSIs, irqfds),
 * NULL until set.  Set it before the vCPUs run.
 */
void	 pci_dev_set_irq_data(struct pci_dev *, void *);
void	*pci_dev_irq_data(const struct pci_dev *);

/*
 * Drive the device's INTx pin to level (0 or 1).  The line is asserted on
 * its GSI only while level is 1, the command register's INTx Disable bit is
 * clear and MSI-X is off; status bit 3 shows level regardless.  Returns 0,
 * -EINVAL if the device has no pin, or the intx callback's -errno.
 * Thread-safe.
 */
int	pci_set_intx(struct pci_dev *, int level);

/* pci_msix_notify results besides -errno. */
#define PCI_MSIX_SENT		0	/* msix_fire was called */
#define PCI_MSIX_PENDING	1	/* masked: PBA bit set, sent on unmask */
#define PCI_MSIX_DISABLED	2	/* MSI-X off: nothing sent (use INTx) */

/*
 * Signal MSI-X vector.  Returns PCI_MSIX_SENT (or the -errno of msix_fire),
 * PCI_MSIX_PENDING, PCI_MSIX_DISABLED, or -EINVAL for a device without
 * MSI-X or a vector beyond its table.  Thread-safe (I/O threads call it).
 */
int	pci_msix_notify(struct pci_dev *, unsigned int vector);

#endif /* VMM_PCI_H */
