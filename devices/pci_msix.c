/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2): the capability structure, the vector
 * table and the Pending Bit Array, emulated inside the device's BARs.
 *
 * Capability (12 bytes): ID 0x11, next, message control (table size - 1
 * in bits 10:0, read-only; Function Mask bit 14 and MSI-X Enable bit 15
 * writable), table offset | BIR, PBA offset | BIR.
 * Table entry (16 bytes): message address low (bits 1:0 read 0), address
 * high, data, vector control (bit 0 Mask, set at reset; the rest read 0).
 * The table takes dword and aligned qword accesses (6.8.2.9); the PBA is
 * read-only and takes the same.
 *
 * The VM side is told each vector's (addr, data, masked) whenever that
 * changes (msix_update) and asked to deliver unmasked vectors (msix_fire);
 * a vector signalled while masked sets its pending bit and goes out when
 * both it and the function are unmasked again.  docs/pci.md.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pci.h"
#include "pci_priv.h"

/* Both structures must lie inside their BAR, 8-aligned, and not overlap. */
static int
pci_msix_check(const struct pci_dev_desc *d, uint64_t table_len,
    uint64_t pba_len)
{
	uint64_t tsz, psz;

	if (d->pd_msix_nvec == 0 || d->pd_msix_nvec > PCI_MSIX_MAX_VECTORS ||
	    d->pd_msix_table_bar >= PCI_NBARS || d->pd_msix_pba_bar >= PCI_NBARS)
		return -EINVAL;
	tsz = d->pd_bars[d->pd_msix_table_bar].pb_size;
	psz = d->pd_bars[d->pd_msix_pba_bar].pb_size;
	if (d->pd_msix_table_off % 8 != 0 || d->pd_msix_pba_off % 8 != 0)
		return -EINVAL;
	if (tsz < table_len || d->pd_msix_table_off > tsz - table_len)
		return -EINVAL;
	if (psz < pba_len || d->pd_msix_pba_off > psz - pba_len)
		return -EINVAL;
	if (d->pd_msix_table_bar == d->pd_msix_pba_bar &&
	    d->pd_msix_table_off < d->pd_msix_pba_off + pba_len &&
	    d->pd_msix_pba_off < d->pd_msix_table_off + table_len)
		return -EINVAL;
	return 0;
}

int
pci_msix_create(struct pci_dev *dv, unsigned int cap)
{
	const struct pci_dev_desc *d = &dv->dv_desc;
	struct pci_msix *mx;
	uint64_t table_len, pba_len;
	uint8_t *c = dv->dv_cfg + cap;
	unsigned int v;
	int rc;

	table_len = (uint64_t)d->pd_msix_nvec * PCI_MSIX_ENTRY_SIZE;
	pba_len = ((uint64_t)d->pd_msix_nvec + 63) / 64 * 8;
	rc = pci_msix_check(d, table_len, pba_len);
	if (rc < 0)
		return rc;
	mx = calloc(1, sizeof(*mx));
	if (mx == NULL)
		return -ENOMEM;
	mx->mx_table = calloc(d->pd_msix_nvec, sizeof(*mx->mx_table));
	mx->mx_sent = calloc(d->pd_msix_nvec, sizeof(*mx->mx_sent));
	mx->mx_pba = calloc(pba_len / 8, sizeof(*mx->mx_pba));
	if (mx->mx_table == NULL || mx->mx_sent == NULL || mx->mx_pba == NULL)
		goto err_free;
	if (pthread_mutex_init(&mx->mx_lock, NULL) != 0)
		goto err_free;
	mx->mx_dev = dv;
	mx->mx_irq = dv->dv_bus->pcb_irq;
	mx->mx_ctx = dv->dv_bus->pcb_irq_ctx;
	mx->mx_nvec = d->pd_msix_nvec;
	mx->mx_table_bar = d->pd_msix_table_bar;
	mx->mx_table_off = d->pd_msix_table_off;
	mx->mx_table_len = table_len;
	mx->mx_pba_bar = d->pd_msix_pba_bar;
	mx->mx_pba_off = d->pd_msix_pba_off;
	mx->mx_pba_len = pba_len;
	/* Reset state: every vector masked, and the VM side knows it. */
	for (v = 0; v < mx->mx_nvec; v++) {
		mx->mx_table[v].me_ctrl = PCI_MSIX_VEC_MASKED;
		mx->mx_sent[v].ms_masked = true;
	}

	c[0] = PCI_CAP_ID_MSIX;
	c[PCI_MSIX_CTL] = (uint8_t)(mx->mx_nvec - 1);
	c[PCI_MSIX_CTL + 1] = (uint8_t)((mx->mx_nvec - 1) >> 8);
	dv->dv_wmask[cap + PCI_MSIX_CTL + 1] =
	    (uint8_t)((PCI_MSIX_CTL_ENABLE | PCI_MSIX_CTL_FMASK) >> 8);
	for (v = 0; v < 4; v++) {
		c[PCI_MSIX_TABLE + v] = (uint8_t)((d->pd_msix_table_off |
		    d->pd_msix_table_bar) >> (8 * v));
		c[PCI_MSIX_PBA + v] = (uint8_t)((d->pd_msix_pba_off |
		    d->pd_msix_pba_bar) >> (8 * v));
	}
	dv->dv_msix = mx;
	return 0;

err_free:
	free(mx->mx_pba);
	free(mx->mx_sent);
	free(mx->mx_table);
	free(mx);
	return -ENOMEM;
}

void
pci_msix_destroy(struct pci_msix *mx)
{
	if (mx == NULL)
		return;
	pthread_mutex_destroy(&mx->mx_lock);
	free(mx->mx_pba);
	free(mx->mx_sent);
	free(mx->mx_table);
	free(mx);
}

bool
pci_msix_enabled(const struct pci_msix *mx)
{
	return mx->mx_enabled;
}

static bool
pci_msix_masked(const struct pci_msix *mx, unsigned int v)
{
	return !mx->mx_enabled || mx->mx_fmask ||
	    (mx->mx_table[v].me_ctrl & PCI_MSIX_VEC_MASKED) != 0;
}

static bool
pci_msix_pending(const struct pci_msix *mx, unsigned int v)
{
	return (mx->mx_pba[v / 64] >> (v % 64)) & 1;
}

/*
 * Vector v's entry or mask may have changed (mx_lock held): tell the VM
 * side what changed, then send what was pending if v is now deliverable.
 */
static void
pci_msix_sync(struct pci_msix *mx, unsigned int v)
{
	const struct pci_msix_entry *e = &mx->mx_table[v];
	struct pci_msix_sent now, *s = &mx->mx_sent[v];
	const char *name = mx->mx_dev->dv_desc.pd_name;
	int rc;

	now.ms_addr = (uint64_t)e->me_addr_hi << 32 | e->me_addr_lo;
	now.ms_data = e->me_data;
	now.ms_masked = pci_msix_masked(mx, v);
	if (now.ms_addr != s->ms_addr || now.ms_data != s->ms_data ||
	    now.ms_masked != s->ms_masked) {
		rc = mx->mx_irq->msix_update(mx->mx_ctx, mx->mx_dev, v,
		    now.ms_addr, now.ms_data, now.ms_masked);
		if (rc < 0)
			pci_log_once(&mx->mx_errors, name, "MSI-X update", rc);
		*s = now;
	}
	if (!now.ms_masked && pci_msix_pending(mx, v)) {
		mx->mx_pba[v / 64] &= ~(1ULL << (v % 64));
		rc = mx->mx_irq->msix_fire(mx->mx_ctx, mx->mx_dev, v);
		if (rc < 0)
			pci_log_once(&mx->mx_errors, name, "MSI-X fire", rc);
	}
}

void
pci_msix_ctl_written(struct pci_msix *mx, uint16_t ctl)
{
	bool en = (ctl & PCI_MSIX_CTL_ENABLE) != 0;
	bool fm = (ctl & PCI_MSIX_CTL_FMASK) != 0;
	unsigned int v;

	pthread_mutex_lock(&mx->mx_lock);
	if (en != mx->mx_enabled || fm != mx->mx_fmask) {
		mx->mx_enabled = en;
		mx->mx_fmask = fm;
		for (v = 0; v < mx->mx_nvec; v++)
			pci_msix_sync(mx, v);
	}
	pthread_mutex_unlock(&mx->mx_lock);
}

static bool
pci_msix_in(uint64_t off, size_t len, uint64_t start, uint64_t n)
{
	return off < start + n && start < off + len;
}

bool
pci_msix_claims(const struct pci_msix *mx, unsigned int bar, uint64_t off,
    size_t len)
{
	return (bar == mx->mx_table_bar &&
	    pci_msix_in(off, len, mx->mx_table_off, mx->mx_table_len)) ||
	    (bar == mx->mx_pba_bar &&
	    pci_msix_in(off, len, mx->mx_pba_off, mx->mx_pba_len));
}

/*
 * Locate a claimed access: *table true for the table, *rel the offset into
 * the structure.  Dword or qword, naturally aligned, wholly inside.
 */
static int
pci_msix_locate(const struct pci_msix *mx, unsigned int bar, uint64_t off,
    size_t len, bool *table, uint64_t *rel)
{
	uint64_t start, n;

	if (len != 4 && len != 8)
		return -EINVAL;
	*table = bar == mx->mx_table_bar &&
	    pci_msix_in(off, len, mx->mx_table_off, mx->mx_table_len);
	start = *table ? mx->mx_table_off : mx->mx_pba_off;
	n = *table ? mx->mx_table_len : mx->mx_pba_len;
	if (off < start || off - start > n - len || (off - start) % len != 0)
		return -EINVAL;
	*rel = off - start;
	return 0;
}

int
pci_msix_read(struct pci_msix *mx, unsigned int bar, uint64_t off, void *buf,
    size_t len)
{
	uint32_t w[2];
	uint64_t rel;
	bool table;
	size_t i;
	int rc;

	rc = pci_msix_locate(mx, bar, off, len, &table, &rel);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&mx->mx_lock);
	for (i = 0; i < len / 4; i++) {
		uint64_t o = rel + 4 * i;

		if (table) {
			const struct pci_msix_entry *e =
			    &mx->mx_table[o / PCI_MSIX_ENTRY_SIZE];
			const uint32_t f[4] = { e->me_addr_lo, e->me_addr_hi,
			    e->me_data, e->me_ctrl };

			w[i] = f[(o % PCI_MSIX_ENTRY_SIZE) / 4];
		} else
			w[i] = (uint32_t)(mx->mx_pba[o / 8] >> (8 * (o % 8)));
	}
	pthread_mutex_unlock(&mx->mx_lock);
	memcpy(buf, w, len);
	return 0;
}

int
pci_msix_write(struct pci_msix *mx, unsigned int bar, uint64_t off,
    const void *buf, size_t len)
{
	struct pci_msix_entry *e;
	uint32_t w[2];
	uint64_t rel;
	bool table;
	size_t i;
	int rc;

	rc = pci_msix_locate(mx, bar, off, len, &table, &rel);
	if (rc < 0)
		return rc;
	/* The PBA is read-only (6.8.2.10). */
	if (!table)
		return 0;
	memcpy(w, buf, len);
	e = &mx->mx_table[rel / PCI_MSIX_ENTRY_SIZE];
	pthread_mutex_lock(&mx->mx_lock);
	for (i = 0; i < len / 4; i++) {
		switch ((rel + 4 * i) % PCI_MSIX_ENTRY_SIZE) {
		case 0:
			e->me_addr_lo = w[i] & ~3u;
			break;
		case 4:
			e->me_addr_hi = w[i];
			break;
		case 8:
			e->me_data = w[i];
			break;
		default:
			e->me_ctrl = w[i] & PCI_MSIX_VEC_MASKED;
			break;
		}
	}
	pci_msix_sync(mx, (unsigned int)(rel / PCI_MSIX_ENTRY_SIZE));
	pthread_mutex_unlock(&mx->mx_lock);
	return 0;
}

int
pci_msix_notify(struct pci_dev *dv, unsigned int vector)
{
	struct pci_msix *mx = dv->dv_msix;
	int rc;

	if (mx == NULL || vector >= mx->mx_nvec)
		return -EINVAL;
	pthread_mutex_lock(&mx->mx_lock);
	if (!mx->mx_enabled)
		rc = PCI_MSIX_DISABLED;
	else if (pci_msix_masked(mx, vector)) {
		mx->mx_pba[vector / 64] |= 1ULL << (vector % 64);
		rc = PCI_MSIX_PENDING;
	} else {
		rc = mx->mx_irq->msix_fire(mx->mx_ctx, dv, vector);
		if (rc < 0)
			pci_log_once(&mx->mx_errors, dv->dv_desc.pd_name,
			    "MSI-X fire", rc);
		else
			rc = PCI_MSIX_SENT;
	}
	pthread_mutex_unlock(&mx->mx_lock);
	return rc;
}
