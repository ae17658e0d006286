/*
 * ACPI fixed-hardware PM1 register blocks (ACPI 6.0 4.8.3 "Fixed Hardware
 * Registers", 4.8.3.1 PM1 Event Grouping, 4.8.3.2 PM1 Control Grouping).
 *
 * PM1a_EVT_BLK (ACPI_PM1A_EVT_PORT, 4 bytes):
 *	+0	PM1_STS (16 bits, write 1 to clear): PWRBTN_STS is bit 8
 *	+2	PM1_EN  (16 bits): PWRBTN_EN is bit 8, GBL_EN bit 5
 * PM1a_CNT_BLK (ACPI_PM1A_CNT_PORT, 2 bytes):
 *	SCI_EN (bit 0) always reads 1: there is no legacy mode to leave;
 *	SLP_TYP (bits 10-12) read/write; SLP_EN (bit 13) write-only.
 *
 * The SCI (ISA IRQ ACPI_SCI_IRQ, level, active high) is asserted while
 * PM1_STS & PM1_EN != 0.  Writing SLP_TYP ACPI_S5_SLP_TYP with SLP_EN powers
 * the VM off.  There is no PM timer, no GPE block and no sleep button.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "acpi.h"
#include "bus.h"
#include "vm.h"

/* PM1_STS and PM1_EN bits (4.8.3.1.1, 4.8.3.1.2). */
#define ACPI_PM1_GBL		(1u << 5)	/* GBL_STS / GBL_EN */
#define ACPI_PM1_PWRBTN		(1u << 8)	/* PWRBTN_STS / PWRBTN_EN */

/*
 * Enable bits that stick.  ACPICA enables GBL_EN at boot and reads it back;
 * a bit that does not stick is logged as "No response from Global Lock
 * hardware".  GBL_STS itself never gets set: no firmware uses the lock.
 */
#define ACPI_PM1_EN_MASK	(ACPI_PM1_GBL | ACPI_PM1_PWRBTN)

/* PM1_CNT bits (4.8.3.2.1). */
#define ACPI_PM1_SCI_EN		(1u << 0)
#define ACPI_PM1_SLP_TYP_SHIFT	10
#define ACPI_PM1_SLP_TYP_MASK	(7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN		(1u << 13)

struct acpi_pm {
	pthread_mutex_t		 pm_lock;	/* everything below */
	struct vm_events	 pm_ev;
	uint16_t		 pm_sts;	/* guest-controlled (W1C) */
	uint16_t		 pm_en;		/* guest-controlled */
	uint16_t		 pm_slp_typ;	/* guest-controlled */
	int			 pm_sci;	/* level last driven */
	struct bus_dev		 pm_evt_dev;
	struct bus_dev		 pm_cnt_dev;
};

/* 1-, 2- and 4-byte accesses that lie wholly inside a block of size bytes. */
static bool
acpi_pm_access_ok(uint64_t off, size_t len, size_t size)
{
	if (len != 1 && len != 2 && len != 4)
		return false;
	return off < size && len <= size - off;
}

/*
 * Drive the SCI to (sts & en) != 0.  Called with pm_lock held, so that the
 * level last driven always matches the registers, whichever vCPU writes.
 */
static void
acpi_pm_update_sci(struct acpi_pm *pm)
{
	int level = (pm->pm_sts & pm->pm_en) != 0;

	if (level == pm->pm_sci)
		return;
	/* On failure keep the old level so the next update tries again. */
	if (pm->pm_ev.ve_set_irq(pm->pm_ev.ve_ctx, ACPI_SCI_IRQ, level) == 0)
		pm->pm_sci = level;
}

/* Little-endian bytes [off, off + len) of a register block value. */
static void
acpi_pm_get_bytes(uint32_t val, uint64_t off, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(val >> (8 * (off + i)));
}

/* val with bytes [off, off + len) replaced by buf; *mask gets those bytes. */
static uint32_t
acpi_pm_put_bytes(uint32_t val, uint64_t off, const uint8_t *buf, size_t len,
    uint32_t *mask)
{
	size_t i;

	*mask = 0;
	for (i = 0; i < len; i++) {
		unsigned int sh = 8 * (unsigned int)(off + i);

		val = (val & ~(0xffu << sh)) | ((uint32_t)buf[i] << sh);
		*mask |= 0xffu << sh;
	}
	return val;
}

static int
acpi_pm_evt_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct acpi_pm *pm = priv;
	uint32_t val;

	if (!acpi_pm_access_ok(off, len, ACPI_PM1A_EVT_LEN))
		return -EINVAL;
	pthread_mutex_lock(&pm->pm_lock);
	val = pm->pm_sts | (uint32_t)pm->pm_en << 16;
	pthread_mutex_unlock(&pm->pm_lock);
	acpi_pm_get_bytes(val, off, buf, len);
	return 0;
}

static int
acpi_pm_evt_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct acpi_pm *pm = priv;
	uint32_t val, mask;

	if (!acpi_pm_access_ok(off, len, ACPI_PM1A_EVT_LEN))
		return -EINVAL;
	val = acpi_pm_put_bytes(0, off, buf, len, &mask);

	pthread_mutex_lock(&pm->pm_lock);
	/* Status bits are write-1-to-clear; bytes not written clear nothing. */
	pm->pm_sts &= (uint16_t)~(val & mask);
	if (mask >> 16 != 0)
		pm->pm_en = (uint16_t)((pm->pm_en & ~(mask >> 16)) |
		    ((val >> 16) & ACPI_PM1_EN_MASK));
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->pm_lock);
	return 0;
}

static int
acpi_pm_cnt_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct acpi_pm *pm = priv;
	uint32_t val;

	if (!acpi_pm_access_ok(off, len, ACPI_PM1A_CNT_LEN))
		return -EINVAL;
	pthread_mutex_lock(&pm->pm_lock);
	val = ACPI_PM1_SCI_EN |
	    (uint32_t)pm->pm_slp_typ << ACPI_PM1_SLP_TYP_SHIFT;
	pthread_mutex_unlock(&pm->pm_lock);
	acpi_pm_get_bytes(val, off, buf, len);
	return 0;
}

static int
acpi_pm_cnt_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct acpi_pm *pm = priv;
	uint32_t val, mask;
	bool poweroff = false;

	if (!acpi_pm_access_ok(off, len, ACPI_PM1A_CNT_LEN))
		return -EINVAL;
	/* SLP_TYP and SLP_EN share the high byte: one write carries both. */
	val = acpi_pm_put_bytes(0, off, buf, len, &mask);

	pthread_mutex_lock(&pm->pm_lock);
	if (mask & ACPI_PM1_SLP_TYP_MASK)
		pm->pm_slp_typ = (uint16_t)((val & ACPI_PM1_SLP_TYP_MASK) >>
		    ACPI_PM1_SLP_TYP_SHIFT);
	/*
	 * Only S5 is offered (\_S5 in the DSDT); a request for any other
	 * sleep type is ignored and the guest simply keeps running.
	 */
	if ((val & mask & ACPI_PM1_SLP_EN) &&
	    pm->pm_slp_typ == ACPI_S5_SLP_TYP)
		poweroff = true;
	pthread_mutex_unlock(&pm->pm_lock);

	/* Outside the lock: ve_stop kicks every vCPU, this one included. */
	if (poweroff)
		pm->pm_ev.ve_stop(pm->pm_ev.ve_ctx, VM_STOP_POWEROFF);
	return 0;
}

static const struct bus_ops acpi_pm_evt_ops = {
	.read = acpi_pm_evt_read,
	.write = acpi_pm_evt_write,
};

static const struct bus_ops acpi_pm_cnt_ops = {
	.read = acpi_pm_cnt_read,
	.write = acpi_pm_cnt_write,
};

struct acpi_pm *
acpi_pm_create(const struct vm_events *ev)
{
	struct acpi_pm *pm;

	assert(ev != NULL && ev->ve_set_irq != NULL && ev->ve_stop != NULL);
	pm = calloc(1, sizeof(*pm));
	if (pm == NULL)
		return NULL;
	if (pthread_mutex_init(&pm->pm_lock, NULL) != 0) {
		free(pm);
		return NULL;
	}
	pm->pm_ev = *ev;

	pm->pm_evt_dev.bd_name = "acpi-pm-evt";
	pm->pm_evt_dev.bd_ops = &acpi_pm_evt_ops;
	pm->pm_evt_dev.bd_base = ACPI_PM1A_EVT_PORT;
	pm->pm_evt_dev.bd_size = ACPI_PM1A_EVT_LEN;
	pm->pm_evt_dev.bd_priv = pm;

	pm->pm_cnt_dev.bd_name = "acpi-pm-cnt";
	pm->pm_cnt_dev.bd_ops = &acpi_pm_cnt_ops;
	pm->pm_cnt_dev.bd_base = ACPI_PM1A_CNT_PORT;
	pm->pm_cnt_dev.bd_size = ACPI_PM1A_CNT_LEN;
	pm->pm_cnt_dev.bd_priv = pm;
	return pm;
}

void
acpi_pm_destroy(struct acpi_pm *pm)
{
	if (pm == NULL)
		return;
	pthread_mutex_destroy(&pm->pm_lock);
	free(pm);
}

void
acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->pm_lock);
	pm->pm_sts |= ACPI_PM1_PWRBTN;
	acpi_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->pm_lock);
}

int
acpi_pm_attach(struct acpi_pm *pm, struct bus *bus)
{
	int rc;

	rc = bus_register(bus, BUS_PIO, &pm->pm_evt_dev);
	if (rc < 0)
		return rc;
	return bus_register(bus, BUS_PIO, &pm->pm_cnt_dev);
}
