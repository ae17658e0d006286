/*
 * PCI host bridge: bus 0 of segment 0, configuration mechanism #1 (ports
 * 0xcf8/0xcfc, PCI Local Bus 3.0 3.2.2.3.2) and ECAM (PCI Express Base 4.0
 * 7.2.2), type 0 headers (PCI Local Bus 3.0 6.1, 6.2), memory BARs with the
 * sizing protocol (6.2.5.1), the capability list (6.7) and INTx.
 *
 * Function 00.0 is the bridge itself; devices are function 0 of slots
 * 1-31.  Every BAR is a bus_dev of its own on BUS_MMIO, registered exactly
 * while the function decodes memory at a non-zero address, so BAR accesses
 * go from the bus straight to the device (through pci_bar_ops, which peels
 * off the MSI-X table and PBA for devices/pci_msix.c).  docs/pci.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "pci.h"
#include "pci_priv.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "PCI configuration space is little-endian; pci.c assumes the host is"
#endif

/* CONFIG_ADDRESS: enable, bus 23:16, device 15:11, function 10:8, reg 7:2. */
#define PCI_CONF1_ENABLE	0x80000000u
#define PCI_CONF1_MASK		0x80fffffcu	/* reserved bits read 0 */

static uint16_t
cfg16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
cfg32(const uint8_t *p)
{
	return (uint32_t)cfg16(p) | (uint32_t)cfg16(p + 2) << 16;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

void
pci_log_once(unsigned int *n, const char *name, const char *what, int rc)
{
	/* A guest can repeat the access that fails forever: say it once. */
	if (__atomic_fetch_add(n, 1, __ATOMIC_RELAXED) == 0)
		fprintf(stderr, "hull: pci %s: %s failed: %s (further errors "
		    "not shown)\n", name, what, strerror(rc < 0 ? -rc : rc));
}

static bool
pci_is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* The address BAR i is programmed with (the low BAR of a 64-bit pair). */
static uint64_t
pci_bar_programmed(const struct pci_dev *dv, unsigned int i)
{
	const uint8_t *r = dv->dv_cfg + PCI_BAR0 + 4 * i;
	uint64_t addr = cfg32(r) & ~(uint64_t)PCI_BAR_FLAGS;

	if (dv->dv_desc.pd_bars[i].pb_64bit)
		addr |= (uint64_t)cfg32(r + 4) << 32;
	return addr;
}

/* Where BAR i should be decoded now (pcb_lock held). */
static uint64_t
pci_bar_wanted(const struct pci_dev *dv, unsigned int i)
{
	uint64_t addr;

	if (!(cfg16(dv->dv_cfg + PCI_COMMAND) & PCI_CMD_MEM))
		return PCI_BAR_UNMAPPED;
	addr = pci_bar_programmed(dv, i);
	/* 0 is "unassigned" for every OS; KVM's RAM would shadow it anyway. */
	return addr == 0 ? PCI_BAR_UNMAPPED : addr;
}

/*
 * Bring every BAR's bus registration in line with the command registers
 * and BAR values (pcb_lock held).  All moves are unregistered first, so two
 * BARs that swap places, or a BAR that moves onto the old place of another,
 * both land.  A range that collides with something else stays unmapped and
 * is tried again at the next change.
 */
static void
pci_update_maps(struct pci_bus *pcb)
{
	unsigned int s, i;

	for (s = 1; s <= PCI_MAX_SLOT; s++) {
		struct pci_dev *dv = pcb->pcb_devs[s];

		if (dv == NULL)
			continue;
		for (i = 0; i < PCI_NBARS; i++) {
			struct pci_bar *br = &dv->dv_bars[i];

			br->br_prev = br->br_mapped;
			if (dv->dv_desc.pd_bars[i].pb_size == 0 ||
			    br->br_mapped == PCI_BAR_UNMAPPED ||
			    br->br_mapped == pci_bar_wanted(dv, i))
				continue;
			(void)bus_unregister(pcb->pcb_iobus, BUS_MMIO,
			    &br->br_bd);
			br->br_mapped = PCI_BAR_UNMAPPED;
		}
	}
	for (s = 1; s <= PCI_MAX_SLOT; s++) {
		struct pci_dev *dv = pcb->pcb_devs[s];

		if (dv == NULL)
			continue;
		for (i = 0; i < PCI_NBARS; i++) {
			struct pci_bar *br = &dv->dv_bars[i];
			uint64_t want = pci_bar_wanted(dv, i);
			int rc;

			if (dv->dv_desc.pd_bars[i].pb_size == 0)
				continue;
			if (want != PCI_BAR_UNMAPPED &&
			    br->br_mapped != want) {
				br->br_bd.bd_base = want;
				rc = bus_register(pcb->pcb_iobus, BUS_MMIO,
				    &br->br_bd);
				if (rc == 0)
					br->br_mapped = want;
				else if (!br->br_logged) {
					br->br_logged = true;
					fprintf(stderr, "hull: pci %s: BAR %u "
					    "at %#llx not decoded: %s\n",
					    dv->dv_desc.pd_name, i,
					    (unsigned long long)want,
					    strerror(-rc));
				}
			}
			if (br->br_mapped != br->br_prev &&
			    dv->dv_desc.pd_bar_moved != NULL)
				dv->dv_desc.pd_bar_moved(dv->dv_desc.pd_priv,
				    i, br->br_prev, br->br_mapped);
		}
	}
}

/*
 * Drive the device's GSI from its INTx level, the INTx Disable bit and the
 * MSI-X enable (pcb_lock held).  Devices that share a GSI share a level:
 * the line is high while any of them drives it.
 */
static int
pci_intx_sync(struct pci_dev *dv)
{
	struct pci_bus *pcb = dv->dv_bus;
	unsigned int *cnt;
	bool out;
	int rc = 0;

	if (dv->dv_gsi == 0)
		return 0;
	out = dv->dv_intx_level &&
	    !(cfg16(dv->dv_cfg + PCI_COMMAND) & PCI_CMD_INTX_DISABLE) &&
	    !(dv->dv_msix != NULL && pci_msix_enabled(dv->dv_msix));
	if (out == dv->dv_intx_out)
		return 0;
	cnt = &pcb->pcb_gsi_count[dv->dv_gsi - PCI_INTX_GSI_BASE];
	if (out && (*cnt)++ == 0)
		rc = pcb->pcb_irq->intx(pcb->pcb_irq_ctx, dv->dv_gsi, 1);
	else if (!out && --(*cnt) == 0)
		rc = pcb->pcb_irq->intx(pcb->pcb_irq_ctx, dv->dv_gsi, 0);
	dv->dv_intx_out = out;
	if (rc < 0)
		pci_log_once(&dv->dv_errors, dv->dv_desc.pd_name, "INTx", rc);
	return rc;
}

/* The device capability holding config byte off, or -1. */
static int
pci_cap_at(const struct pci_dev *dv, unsigned int off)
{
	unsigned int c;

	for (c = 0; c < dv->dv_desc.pd_ncaps; c++)
		if (off >= dv->dv_cap_off[c] &&
		    off < dv->dv_cap_off[c] + dv->dv_desc.pd_caps[c].pc_len)
			return (int)c;
	return -1;
}

/*
 * Tell the device about an access to its capabilities, one call per
 * capability touched, clipped to it (pcb_lock held).
 */
static void
pci_cap_notify(struct pci_dev *dv, unsigned int reg, size_t len, bool write)
{
	unsigned int o = reg;

	if (dv->dv_desc.pd_cap_access == NULL)
		return;
	while (o < reg + len) {
		int c = pci_cap_at(dv, o);
		unsigned int start, end;

		if (c < 0) {
			o++;
			continue;
		}
		start = dv->dv_cap_off[c];
		end = start + dv->dv_desc.pd_caps[c].pc_len;
		if (end > reg + len)
			end = (unsigned int)(reg + len);
		dv->dv_desc.pd_cap_access(dv->dv_desc.pd_priv, (unsigned int)c,
		    write, o - start, end - o, dv->dv_cfg + start);
		o = end;
	}
}

static bool
pci_overlaps(unsigned int reg, size_t len, unsigned int start,
    unsigned int n)
{
	return reg < start + n && start < reg + len;
}

/* Configuration read of a present function; pcb_lock held. */
static void
pci_cfg_read(struct pci_dev *dv, unsigned int reg, uint8_t *buf, size_t len)
{
	size_t i;

	/* No extended capabilities: 256-4095 read 0 (PCIe 7.9.1 "none"). */
	if (reg >= PCI_CFG_SIZE) {
		memset(buf, 0, len);
		return;
	}
	pci_cap_notify(dv, reg, len, false);
	for (i = 0; i < len; i++)
		buf[i] = dv->dv_cfg[reg + i];
}

/* Configuration write to a present function; pcb_lock held. */
static void
pci_cfg_write(struct pci_dev *dv, unsigned int reg, const uint8_t *buf,
    size_t len)
{
	struct pci_bus *pcb = dv->dv_bus;
	size_t i;

	if (reg >= PCI_CFG_SIZE)
		return;
	/* Read-only bits keep their value: writes to them are ignored. */
	for (i = 0; i < len; i++) {
		uint8_t m = dv->dv_wmask[reg + i];

		dv->dv_cfg[reg + i] = (uint8_t)((dv->dv_cfg[reg + i] & ~m) |
		    (buf[i] & m));
	}
	if (dv->dv_msix_cap != 0 &&
	    pci_overlaps(reg, len, dv->dv_msix_cap + PCI_MSIX_CTL, 2))
		pci_msix_ctl_written(dv->dv_msix,
		    cfg16(dv->dv_cfg + dv->dv_msix_cap + PCI_MSIX_CTL));
	if (pci_overlaps(reg, len, PCI_COMMAND, 2) ||
	    pci_overlaps(reg, len, PCI_BAR0, 4 * PCI_NBARS))
		pci_update_maps(pcb);
	if (pci_overlaps(reg, len, PCI_COMMAND, 2) ||
	    (dv->dv_msix_cap != 0 &&
	    pci_overlaps(reg, len, dv->dv_msix_cap + PCI_MSIX_CTL, 2)))
		(void)pci_intx_sync(dv);
	pci_cap_notify(dv, reg, len, true);
}

/*
 * One configuration access from either mechanism: bus/slot/fn decoded,
 * reg + len inside one dword.  Absent functions read all ones and ignore
 * writes (a master abort).
 */
static void
pci_cfg_access(struct pci_bus *pcb, unsigned int busno, unsigned int slot,
    unsigned int fn, unsigned int reg, void *buf, size_t len, bool write)
{
	struct pci_dev *dv;

	pthread_mutex_lock(&pcb->pcb_lock);
	dv = busno == 0 && fn == 0 && slot <= PCI_MAX_SLOT ?
	    pcb->pcb_devs[slot] : NULL;
	if (dv == NULL) {
		if (!write)
			memset(buf, 0xff, len);
	} else if (write)
		pci_cfg_write(dv, reg, buf, len);
	else
		pci_cfg_read(dv, reg, buf, len);
	pthread_mutex_unlock(&pcb->pcb_lock);
}

/* Ports 0xcf8-0xcff: off 0-3 CONFIG_ADDRESS, off 4-7 CONFIG_DATA. */
static int
pci_conf1_io(struct pci_bus *pcb, uint64_t off, void *buf, size_t len,
    bool write)
{
	uint32_t addr;

	if (len != 1 && len != 2 && len != 4)
		return -EINVAL;
	if (off < 4) {
		/*
		 * Only a dword access at 0xcf8 is CONFIG_ADDRESS (3.2.2.3.2);
		 * byte and word accesses are ordinary I/O to nothing, which
		 * is what makes Linux's mechanism #2 probe fail.
		 */
		if (off != 0 || len != 4) {
			if (!write)
				memset(buf, 0xff, len);
			return 0;
		}
		pthread_mutex_lock(&pcb->pcb_lock);
		if (write) {
			memcpy(&addr, buf, 4);
			pcb->pcb_addr = addr & PCI_CONF1_MASK;
		} else
			memcpy(buf, &pcb->pcb_addr, 4);
		pthread_mutex_unlock(&pcb->pcb_lock);
		return 0;
	}
	/* The bus keeps the access inside 0xcf8-0xcff, so off + len <= 8. */
	pthread_mutex_lock(&pcb->pcb_lock);
	addr = pcb->pcb_addr;
	pthread_mutex_unlock(&pcb->pcb_lock);
	if (!(addr & PCI_CONF1_ENABLE)) {
		if (!write)
			memset(buf, 0xff, len);
		return 0;
	}
	pci_cfg_access(pcb, (addr >> 16) & 0xff, (addr >> 11) & 0x1f,
	    (addr >> 8) & 0x7, (addr & 0xfc) + (unsigned int)(off - 4), buf,
	    len, write);
	return 0;
}

static int
pci_conf1_read(void *priv, uint64_t off, void *buf, size_t len)
{
	return pci_conf1_io(priv, off, buf, len, false);
}

static int
pci_conf1_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	/* pci_conf1_io only reads buf when write is true. */
	return pci_conf1_io(priv, off, (void *)(uintptr_t)buf, len, true);
}

static const struct bus_ops pci_conf1_ops = { pci_conf1_read, pci_conf1_write };

/* ECAM: off = bus << 20 | device << 15 | function << 12 | register. */
static int
pci_ecam_io(struct pci_bus *pcb, uint64_t off, void *buf, size_t len,
    bool write)
{
	/* 1-, 2- and 4-byte naturally aligned accesses only (PCIe 7.2.2.2). */
	if ((len != 1 && len != 2 && len != 4) || off % len != 0 ||
	    off >= PCI_ECAM_SIZE)
		return -EINVAL;
	pci_cfg_access(pcb, (unsigned int)(off >> 20), (off >> 15) & 0x1f,
	    (off >> 12) & 0x7, off & (PCI_ECAM_FN_SIZE - 1), buf, len, write);
	return 0;
}

static int
pci_ecam_read(void *priv, uint64_t off, void *buf, size_t len)
{
	return pci_ecam_io(priv, off, buf, len, false);
}

static int
pci_ecam_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	return pci_ecam_io(priv, off, (void *)(uintptr_t)buf, len, true);
}

static const struct bus_ops pci_ecam_ops = { pci_ecam_read, pci_ecam_write };

/*
 * A BAR's contents: MSI-X structures go to pci_msix.c, the rest to the
 * device.  No PCI lock: the device locks its own state.
 */
static int
pci_bar_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct pci_bar *br = priv;
	struct pci_dev *dv = br->br_dev;
	const struct pci_bar_desc *bd = &dv->dv_desc.pd_bars[br->br_index];

	if (dv->dv_msix != NULL &&
	    pci_msix_claims(dv->dv_msix, br->br_index, off, len))
		return pci_msix_read(dv->dv_msix, br->br_index, off, buf, len);
	if (bd->pb_ops == NULL) {
		memset(buf, 0, len);
		return 0;
	}
	return bd->pb_ops->read(bd->pb_priv, off, buf, len);
}

static int
pci_bar_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct pci_bar *br = priv;
	struct pci_dev *dv = br->br_dev;
	const struct pci_bar_desc *bd = &dv->dv_desc.pd_bars[br->br_index];

	if (dv->dv_msix != NULL &&
	    pci_msix_claims(dv->dv_msix, br->br_index, off, len))
		return pci_msix_write(dv->dv_msix, br->br_index, off, buf,
		    len);
	if (bd->pb_ops == NULL)
		return 0;
	return bd->pb_ops->write(bd->pb_priv, off, buf, len);
}

static const struct bus_ops pci_bar_ops = { pci_bar_read, pci_bar_write };

/* Identification registers and the fields every function has. */
static void
pci_header_init(struct pci_dev *dv)
{
	const struct pci_dev_desc *d = &dv->dv_desc;
	uint8_t *c = dv->dv_cfg, *m = dv->dv_wmask;

	put16(c + PCI_VENDOR_ID, d->pd_vendor);
	put16(c + PCI_DEVICE_ID, d->pd_device);
	c[PCI_REVISION] = d->pd_revision;
	c[PCI_CLASS_PROG] = (uint8_t)d->pd_class;
	put16(c + PCI_CLASS_PROG + 1, (uint16_t)(d->pd_class >> 8));
	c[PCI_HEADER_TYPE] = 0;		/* type 0, single function */
	put16(c + PCI_SUBSYS_VENDOR, d->pd_subsys_vendor);
	put16(c + PCI_SUBSYS_ID, d->pd_subsys);
	/* Firmware would have set memory decode; Hull is the firmware. */
	put16(c + PCI_COMMAND, PCI_CMD_MEM);
	put16(m + PCI_COMMAND, PCI_CMD_WMASK);
	/* Linux writes the cache line size; it has no effect here. */
	m[PCI_CACHE_LINE] = 0xff;
	c[PCI_INT_PIN] = d->pd_intx_pin;
	/* The line register is scratch for the OS; 0xff means "none". */
	c[PCI_INT_LINE] = dv->dv_gsi != 0 ? (uint8_t)dv->dv_gsi : 0xff;
	m[PCI_INT_LINE] = 0xff;
}

static int
pci_check_bars(const struct pci_dev_desc *d)
{
	unsigned int i;

	for (i = 0; i < PCI_NBARS; i++) {
		const struct pci_bar_desc *b = &d->pd_bars[i];

		if (b->pb_size == 0) {
			if (b->pb_64bit || b->pb_prefetch || b->pb_ops != NULL)
				return -EINVAL;
			continue;
		}
		if (!pci_is_pow2(b->pb_size) || b->pb_size < PCI_BAR_MIN_SIZE ||
		    b->pb_size > PCI_MMIO32_SIZE)
			return -EINVAL;
		if (b->pb_ops != NULL &&
		    (b->pb_ops->read == NULL || b->pb_ops->write == NULL))
			return -EINVAL;
		if (b->pb_64bit) {
			/* The upper half is the next register, left empty. */
			if (i + 1 >= PCI_NBARS ||
			    d->pd_bars[i + 1].pb_size != 0)
				return -EINVAL;
			i++;
		}
	}
	return 0;
}

/* Give each BAR a naturally aligned place in the window; -ENOSPC if full. */
static int
pci_place_bars(struct pci_bus *pcb, struct pci_dev *dv)
{
	uint64_t next = pcb->pcb_next, base[PCI_NBARS];
	unsigned int i;

	for (i = 0; i < PCI_NBARS; i++) {
		uint64_t size = dv->dv_desc.pd_bars[i].pb_size;

		base[i] = 0;
		if (size == 0)
			continue;
		next = (next + size - 1) & ~(size - 1);
		if (next > PCI_MMIO32_SIZE - size)
			return -ENOSPC;
		base[i] = PCI_MMIO32_BASE + next;
		next += size;
	}
	for (i = 0; i < PCI_NBARS; i++) {
		const struct pci_bar_desc *b = &dv->dv_desc.pd_bars[i];
		uint8_t *r = dv->dv_cfg + PCI_BAR0 + 4 * i;
		uint32_t flags, mask_lo;

		if (b->pb_size == 0)
			continue;
		flags = (b->pb_64bit ? PCI_BAR_MEM_64 : 0) |
		    (b->pb_prefetch ? PCI_BAR_MEM_PREFETCH : 0);
		/* Sizing: the bits below the size are read-only zeroes. */
		mask_lo = (uint32_t)~(b->pb_size - 1) & ~PCI_BAR_FLAGS;
		put32(r, (uint32_t)base[i] | flags);
		put32(dv->dv_wmask + PCI_BAR0 + 4 * i, mask_lo);
		if (b->pb_64bit) {
			put32(r + 4, (uint32_t)(base[i] >> 32));
			put32(dv->dv_wmask + PCI_BAR0 + 4 * i + 4,
			    (uint32_t)(~(b->pb_size - 1) >> 32));
		}
	}
	pcb->pcb_next = next;
	return 0;
}

/* Lay out MSI-X then the device's capabilities from 0x40; -EINVAL if > 256. */
static int
pci_place_caps(struct pci_dev *dv)
{
	const struct pci_dev_desc *d = &dv->dv_desc;
	unsigned int off = PCI_CAP_START, prev = PCI_CAP_PTR, c, j;

	if (d->pd_ncaps > PCI_MAX_CAPS || (d->pd_ncaps > 0 && d->pd_caps == NULL))
		return -EINVAL;
	for (c = 0; c < d->pd_ncaps; c++)
		if (d->pd_caps[c].pc_data == NULL ||
		    d->pd_caps[c].pc_len < 2 ||
		    d->pd_caps[c].pc_len > PCI_CFG_SIZE - PCI_CAP_START)
			return -EINVAL;
	if (d->pd_msix_nvec != 0) {
		dv->dv_msix_cap = off;
		dv->dv_cfg[prev] = (uint8_t)off;
		prev = off + 1;
		off += PCI_MSIX_CAP_LEN;
	}
	for (c = 0; c < d->pd_ncaps; c++) {
		const struct pci_cap_desc *cd = &d->pd_caps[c];

		off = (off + 3) & ~3u;
		if (off + cd->pc_len > PCI_CFG_SIZE)
			return -EINVAL;
		dv->dv_cap_off[c] = off;
		memcpy(dv->dv_cfg + off, cd->pc_data, cd->pc_len);
		if (cd->pc_wmask != NULL)
			for (j = 2; j < cd->pc_len; j++)
				dv->dv_wmask[off + j] = cd->pc_wmask[j];
		dv->dv_cfg[prev] = (uint8_t)off;
		prev = off + 1;
		off += cd->pc_len;
	}
	dv->dv_cfg[prev] = 0;		/* the end of the list */
	if (prev != PCI_CAP_PTR)
		put16(dv->dv_cfg + PCI_STATUS, PCI_STS_CAP_LIST);
	return 0;
}

static void
pci_dev_free(struct pci_dev *dv)
{
	if (dv == NULL)
		return;
	pci_msix_destroy(dv->dv_msix);
	free(dv);
}

int
pci_add_device(struct pci_bus *pcb, const struct pci_dev_desc *desc,
    struct pci_dev **out)
{
	struct pci_dev *dv;
	unsigned int slot, i;
	uint64_t saved_next;
	int rc;

	if (pcb == NULL || desc == NULL || out == NULL ||
	    desc->pd_name == NULL || desc->pd_intx_pin > 4 ||
	    desc->pd_msix_nvec > PCI_MSIX_MAX_VECTORS)
		return -EINVAL;
	/* 0xffff is what an absent function reads: no OS would see it. */
	if (desc->pd_vendor == 0xffff || desc->pd_vendor == 0 ||
	    desc->pd_class > 0xffffff)
		return -EINVAL;
	rc = pci_check_bars(desc);
	if (rc < 0)
		return rc;
	for (slot = 1; slot <= PCI_MAX_SLOT; slot++)
		if (pcb->pcb_devs[slot] == NULL)
			break;
	if (slot > PCI_MAX_SLOT)
		return -ENOSPC;

	dv = calloc(1, sizeof(*dv));
	if (dv == NULL)
		return -ENOMEM;
	dv->dv_bus = pcb;
	dv->dv_slot = slot;
	dv->dv_desc = *desc;
	if (desc->pd_intx_pin != 0)
		dv->dv_gsi = PCI_INTX_GSI(slot, desc->pd_intx_pin);
	pci_header_init(dv);
	rc = pci_place_caps(dv);
	if (rc < 0)
		goto err_free;
	if (desc->pd_msix_nvec != 0) {
		rc = pci_msix_create(dv, dv->dv_msix_cap);
		if (rc < 0)
			goto err_free;
	}

	pthread_mutex_lock(&pcb->pcb_lock);
	saved_next = pcb->pcb_next;
	rc = pci_place_bars(pcb, dv);
	if (rc < 0)
		goto err_unlock;
	for (i = 0; i < PCI_NBARS; i++) {
		struct pci_bar *br = &dv->dv_bars[i];

		br->br_dev = dv;
		br->br_index = i;
		br->br_mapped = PCI_BAR_UNMAPPED;
		snprintf(br->br_name, sizeof(br->br_name), "%s.bar%u",
		    desc->pd_name, i);
		br->br_bd.bd_name = br->br_name;
		br->br_bd.bd_ops = &pci_bar_ops;
		br->br_bd.bd_size = desc->pd_bars[i].pb_size;
		br->br_bd.bd_priv = br;
		if (br->br_bd.bd_size == 0)
			continue;
		br->br_bd.bd_base = pci_bar_wanted(dv, i);
		rc = bus_register(pcb->pcb_iobus, BUS_MMIO, &br->br_bd);
		if (rc < 0)
			goto err_unregister;
		br->br_mapped = br->br_bd.bd_base;
	}
	pcb->pcb_devs[slot] = dv;
	pthread_mutex_unlock(&pcb->pcb_lock);
	*out = dv;
	return 0;

err_unregister:
	while (i-- > 0)
		if (dv->dv_bars[i].br_mapped != PCI_BAR_UNMAPPED)
			(void)bus_unregister(pcb->pcb_iobus, BUS_MMIO,
			    &dv->dv_bars[i].br_bd);
	pcb->pcb_next = saved_next;
err_unlock:
	pthread_mutex_unlock(&pcb->pcb_lock);
err_free:
	pci_dev_free(dv);
	return rc;
}

int
pci_bus_create(struct bus *iobus, const struct pci_irq_ops *irq,
    void *irq_ctx, struct pci_bus **out)
{
	static const struct pci_dev_desc host = {
		.pd_name = "host-bridge",
		.pd_vendor = PCI_HOST_VENDOR,
		.pd_device = PCI_HOST_DEVICE,
		.pd_class = PCI_CLASS_HOST_BRIDGE,
	};
	struct pci_bus *pcb;
	struct pci_dev *dv;
	int rc;

	if (iobus == NULL || irq == NULL || out == NULL || irq->intx == NULL ||
	    irq->msix_update == NULL || irq->msix_fire == NULL)
		return -EINVAL;
	pcb = calloc(1, sizeof(*pcb));
	dv = calloc(1, sizeof(*dv));
	if (pcb == NULL || dv == NULL) {
		rc = -ENOMEM;
		goto err_free;
	}
	if (pthread_mutex_init(&pcb->pcb_lock, NULL) != 0) {
		rc = -ENOMEM;
		goto err_free;
	}
	pcb->pcb_iobus = iobus;
	pcb->pcb_irq = irq;
	pcb->pcb_irq_ctx = irq_ctx;

	dv->dv_bus = pcb;
	dv->dv_desc = host;
	pci_header_init(dv);
	/* The bridge has no BARs and no interrupt; decode bits read 0. */
	put16(dv->dv_cfg + PCI_COMMAND, 0);
	put16(dv->dv_wmask + PCI_COMMAND, 0);
	dv->dv_cfg[PCI_INT_LINE] = 0;
	dv->dv_wmask[PCI_INT_LINE] = 0;
	pcb->pcb_devs[0] = dv;

	pcb->pcb_conf1.bd_name = "pci-conf1";
	pcb->pcb_conf1.bd_ops = &pci_conf1_ops;
	pcb->pcb_conf1.bd_base = PCI_CONF1_PORT;
	pcb->pcb_conf1.bd_size = PCI_CONF1_LEN;
	pcb->pcb_conf1.bd_priv = pcb;
	pcb->pcb_ecam.bd_name = "pci-ecam";
	pcb->pcb_ecam.bd_ops = &pci_ecam_ops;
	pcb->pcb_ecam.bd_base = PCI_ECAM_BASE;
	pcb->pcb_ecam.bd_size = PCI_ECAM_SIZE;
	pcb->pcb_ecam.bd_priv = pcb;
	rc = bus_register(iobus, BUS_PIO, &pcb->pcb_conf1);
	if (rc < 0)
		goto err_mutex;
	rc = bus_register(iobus, BUS_MMIO, &pcb->pcb_ecam);
	if (rc < 0)
		goto err_unregister_conf1;
	*out = pcb;
	return 0;

err_unregister_conf1:
	(void)bus_unregister(iobus, BUS_PIO, &pcb->pcb_conf1);
err_mutex:
	pthread_mutex_destroy(&pcb->pcb_lock);
err_free:
	free(dv);
	free(pcb);
	return rc;
}

void
pci_bus_destroy(struct pci_bus *pcb)
{
	unsigned int s, i;

	if (pcb == NULL)
		return;
	for (s = 0; s <= PCI_MAX_SLOT; s++) {
		struct pci_dev *dv = pcb->pcb_devs[s];

		if (dv == NULL)
			continue;
		for (i = 0; i < PCI_NBARS; i++)
			if (dv->dv_bars[i].br_mapped != PCI_BAR_UNMAPPED)
				(void)bus_unregister(pcb->pcb_iobus, BUS_MMIO,
				    &dv->dv_bars[i].br_bd);
		pci_dev_free(dv);
	}
	(void)bus_unregister(pcb->pcb_iobus, BUS_MMIO, &pcb->pcb_ecam);
	(void)bus_unregister(pcb->pcb_iobus, BUS_PIO, &pcb->pcb_conf1);
	pthread_mutex_destroy(&pcb->pcb_lock);
	free(pcb);
}

uint64_t
pci_bar_addr(struct pci_dev *dv, unsigned int bar)
{
	uint64_t a;

	if (bar >= PCI_NBARS)
		return PCI_BAR_UNMAPPED;
	pthread_mutex_lock(&dv->dv_bus->pcb_lock);
	a = dv->dv_bars[bar].br_mapped;
	pthread_mutex_unlock(&dv->dv_bus->pcb_lock);
	return a;
}

unsigned int
pci_dev_slot(const struct pci_dev *dv)
{
	return dv->dv_slot;
}

unsigned int
pci_dev_intx_gsi(const struct pci_dev *dv)
{
	return dv->dv_gsi;
}

void
pci_dev_set_irq_data(struct pci_dev *dv, void *p)
{
	dv->dv_irq_data = p;
}

void *
pci_dev_irq_data(const struct pci_dev *dv)
{
	return dv->dv_irq_data;
}

int
pci_set_intx(struct pci_dev *dv, int level)
{
	struct pci_bus *pcb = dv->dv_bus;
	uint16_t sts;
	int rc;

	if (dv->dv_gsi == 0)
		return -EINVAL;
	pthread_mutex_lock(&pcb->pcb_lock);
	dv->dv_intx_level = level != 0;
	sts = cfg16(dv->dv_cfg + PCI_STATUS) & (uint16_t)~PCI_STS_INTX;
	put16(dv->dv_cfg + PCI_STATUS,
	    (uint16_t)(sts | (level ? PCI_STS_INTX : 0)));
	rc = pci_intx_sync(dv);
	pthread_mutex_unlock(&pcb->pcb_lock);
	return rc;
}
