/*
 * Private to devices/pci.c and devices/pci_msix.c: the bridge's and the
 * functions' state.  Nothing else includes this.
 *
 * Locking: one mutex per bridge (pcb_lock) covers configuration space,
 * BAR placement and INTx; one mutex per MSI-X function (mx_lock) covers the
 * table, the PBA and the enable/mask mirrors.  Order: pcb_lock, then mx_lock.
 * The MSI-X fast path (pci_msix_notify, table accesses) takes only mx_lock.
 */
#ifndef VMM_PCI_PRIV_H
#define VMM_PCI_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "pci.h"

#define PCI_CFG_SIZE		256	/* what is stored; 256-4095 read 0 */
#define PCI_ECAM_FN_SIZE	4096

/* Type 0 header offsets (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_REVISION		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_CACHE_LINE		0x0c
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SUBSYS_VENDOR	0x2c
#define PCI_SUBSYS_ID		0x2e
#define PCI_ROM_BAR		0x30
#define PCI_CAP_PTR		0x34
#define PCI_INT_LINE		0x3c
#define PCI_INT_PIN		0x3d
#define PCI_CAP_START		0x40

#define PCI_CMD_IO		(1u << 0)
#define PCI_CMD_MEM		(1u << 1)
#define PCI_CMD_MASTER		(1u << 2)
#define PCI_CMD_INTX_DISABLE	(1u << 10)
#define PCI_CMD_WMASK		(PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER | \
				 PCI_CMD_INTX_DISABLE)

#define PCI_STS_INTX		(1u << 3)
#define PCI_STS_CAP_LIST	(1u << 4)

#define PCI_BAR_MEM_64		0x4
#define PCI_BAR_MEM_PREFETCH	0x8
#define PCI_BAR_FLAGS		0xf

/* MSI-X capability (PCI Local Bus 3.0, 6.8.2). */
#define PCI_CAP_ID_MSIX		0x11
#define PCI_MSIX_CAP_LEN	12
#define PCI_MSIX_CTL		2	/* message control, in the capability */
#define PCI_MSIX_CTL_ENABLE	(1u << 15)
#define PCI_MSIX_CTL_FMASK	(1u << 14)
#define PCI_MSIX_TABLE		4	/* table offset | BIR */
#define PCI_MSIX_PBA		8	/* PBA offset | BIR */
#define PCI_MSIX_ENTRY_SIZE	16
#define PCI_MSIX_VEC_MASKED	1u	/* vector control bit 0 */

struct pci_dev;

struct pci_bar {
	struct pci_dev	*br_dev;
	unsigned int	 br_index;
	struct bus_dev	 br_bd;		/* registered iff br_mapped is set */
	char		 br_name[48];
	uint64_t	 br_mapped;	/* decoded address or PCI_BAR_UNMAPPED */
	uint64_t	 br_prev;	/* scratch for pci_update_maps */
	bool		 br_logged;	/* placement failure reported */
};

struct pci_msix_entry {			/* guest-controlled */
	uint32_t	me_addr_lo;
	uint32_t	me_addr_hi;
	uint32_t	me_data;
	uint32_t	me_ctrl;
};

/* What msix_update was last told about a vector. */
struct pci_msix_sent {
	uint64_t	ms_addr;
	uint32_t	ms_data;
	bool		ms_masked;
};

struct pci_msix {
	pthread_mutex_t		 mx_lock;
	struct pci_dev		*mx_dev;
	const struct pci_irq_ops *mx_irq;
	void			*mx_ctx;
	unsigned int		 mx_nvec;
	unsigned int		 mx_table_bar, mx_pba_bar;
	uint64_t		 mx_table_off, mx_table_len;
	uint64_t		 mx_pba_off, mx_pba_len;
	bool			 mx_enabled;	/* guest-controlled */
	bool			 mx_fmask;	/* guest-controlled */
	struct pci_msix_entry	*mx_table;	/* guest-controlled */
	struct pci_msix_sent	*mx_sent;
	uint64_t		*mx_pba;
	unsigned int		 mx_errors;
};

struct pci_bus;

struct pci_dev {
	struct pci_bus		*dv_bus;
	unsigned int		 dv_slot;
	struct pci_dev_desc	 dv_desc;	/* copy */
	uint8_t			 dv_cfg[PCI_CFG_SIZE];	/* guest-controlled */
	uint8_t			 dv_wmask[PCI_CFG_SIZE];
	struct pci_bar		 dv_bars[PCI_NBARS];
	unsigned int		 dv_msix_cap;	/* offset, 0: none */
	struct pci_msix		*dv_msix;
	unsigned int		 dv_cap_off[PCI_MAX_CAPS];
	unsigned int		 dv_gsi;	/* INTx, 0: no pin */
	bool			 dv_intx_level;	/* what the device drives */
	bool			 dv_intx_out;	/* counted in pcb_gsi_count */
	void			*dv_irq_data;
	unsigned int		 dv_errors;
};

struct pci_bus {
	pthread_mutex_t		 pcb_lock;
	struct bus		*pcb_iobus;
	const struct pci_irq_ops *pcb_irq;
	void			*pcb_irq_ctx;
	struct bus_dev		 pcb_conf1;
	struct bus_dev		 pcb_ecam;
	uint32_t		 pcb_addr;	/* CONFIG_ADDRESS, guest-controlled */
	struct pci_dev		*pcb_devs[PCI_MAX_SLOT + 1];	/* [0]: bridge */
	uint64_t		 pcb_next;	/* window offset for the next BAR */
	unsigned int		 pcb_gsi_count[PCI_INTX_NGSI];
};

/* Log the first failure of a device's callbacks (errors counted in *n). */
void	pci_log_once(unsigned int *n, const char *name, const char *what,
	    int rc);

/*
 * MSI-X, devices/pci_msix.c.  pci_msix_create checks the desc's MSI-X fields
 * against its BARs and allocates; -EINVAL or -ENOMEM.  It writes the
 * capability (PCI_MSIX_CAP_LEN bytes) at dv_cfg[cap] and its write mask.
 */
int	pci_msix_create(struct pci_dev *, unsigned int cap);
void	pci_msix_destroy(struct pci_msix *);

/* The guest wrote the message control word; pcb_lock held. */
void	pci_msix_ctl_written(struct pci_msix *, uint16_t ctl);

/* MSI-X is enabled (INTx is then off).  pcb_lock or mx_lock held. */
bool	pci_msix_enabled(const struct pci_msix *);

/* Any byte of [off, off + len) in bar falls in the table or the PBA. */
bool	pci_msix_claims(const struct pci_msix *, unsigned int bar, uint64_t off,
	    size_t len);
/* Table/PBA accesses, claimed as above; -EINVAL for a malformed one. */
int	pci_msix_read(struct pci_msix *, unsigned int bar, uint64_t off,
	    void *buf, size_t len);
int	pci_msix_write(struct pci_msix *, unsigned int bar, uint64_t off,
	    const void *buf, size_t len);

#endif /* VMM_PCI_PRIV_H */
