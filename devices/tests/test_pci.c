/*
 * Unit tests for the PCI host bridge (devices/pci.c) and MSI-X
 * (devices/pci_msix.c), driven the way a guest drives them: port and MMIO
 * accesses through a real struct bus.  A fake pci_irq_ops records what
 * the VM side would be asked to do.  Register offsets are the PCI Local Bus
 * 3.0 numbers, written out here rather than taken from pci_priv.h.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "pci.h"

/* The fake VM side. */
#define MAX_CALLS	64

struct call {
	struct pci_dev	*c_dev;
	unsigned int	 c_vec;
	uint64_t	 c_addr;
	uint32_t	 c_data;
	bool		 c_masked;
};

struct fake_irq {
	int		 fi_level[24];
	unsigned int	 fi_intx_calls;
	struct call	 fi_upd[MAX_CALLS];
	unsigned int	 fi_nupd;
	struct call	 fi_fire[MAX_CALLS];
	unsigned int	 fi_nfire;
};

static int
fake_intx(void *ctx, unsigned int gsi, int level)
{
	struct fake_irq *fi = ctx;

	assert_true(gsi < 24);
	fi->fi_level[gsi] = level;
	fi->fi_intx_calls++;
	return 0;
}

static int
fake_update(void *ctx, struct pci_dev *dev, unsigned int vec, uint64_t addr,
    uint32_t data, bool masked)
{
	struct fake_irq *fi = ctx;
	struct call *c;

	assert_true(fi->fi_nupd < MAX_CALLS);
	c = &fi->fi_upd[fi->fi_nupd++];
	c->c_dev = dev;
	c->c_vec = vec;
	c->c_addr = addr;
	c->c_data = data;
	c->c_masked = masked;
	return 0;
}

static int
fake_fire(void *ctx, struct pci_dev *dev, unsigned int vec)
{
	struct fake_irq *fi = ctx;
	struct call *c;

	assert_true(fi->fi_nfire < MAX_CALLS);
	c = &fi->fi_fire[fi->fi_nfire++];
	memset(c, 0, sizeof(*c));
	c->c_dev = dev;
	c->c_vec = vec;
	return 0;
}

static const struct pci_irq_ops fake_ops = { fake_intx, fake_update,
    fake_fire };

/* A device's BAR contents: records the last access, reads a pattern. */
struct tbar {
	unsigned int	tb_reads, tb_writes;
	uint64_t	tb_off;
	size_t		tb_len;
	uint32_t	tb_val;
};

static int
tbar_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct tbar *tb = priv;
	uint8_t *p = buf;
	size_t i;

	tb->tb_reads++;
	tb->tb_off = off;
	tb->tb_len = len;
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(0xa0 + off + i);
	return 0;
}

static int
tbar_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct tbar *tb = priv;

	tb->tb_writes++;
	tb->tb_off = off;
	tb->tb_len = len;
	tb->tb_val = 0;
	memcpy(&tb->tb_val, buf, len < 4 ? len : 4);
	return 0;
}

static const struct bus_ops tbar_ops = { tbar_read, tbar_write };

/* What the device's callbacks saw. */
struct moved {
	unsigned int	mv_bar;
	uint64_t	mv_old, mv_new;
};

struct tdev {
	struct tbar	td_bar[PCI_NBARS];
	struct moved	td_moved[MAX_CALLS];
	unsigned int	td_nmoved;
	unsigned int	td_cap_reads, td_cap_writes;
	unsigned int	td_cap, td_cap_off, td_cap_len;
	bool		td_live;	/* byte 12 of cap 1 counts reads */
};

static void
tdev_bar_moved(void *priv, unsigned int bar, uint64_t old, uint64_t new)
{
	struct tdev *td = priv;

	assert_true(td->td_nmoved < MAX_CALLS);
	td->td_moved[td->td_nmoved].mv_bar = bar;
	td->td_moved[td->td_nmoved].mv_old = old;
	td->td_moved[td->td_nmoved].mv_new = new;
	td->td_nmoved++;
}

static void
tdev_cap_access(void *priv, unsigned int cap, bool write, unsigned int off,
    unsigned int len, uint8_t *bytes)
{
	struct tdev *td = priv;

	if (write)
		td->td_cap_writes++;
	else {
		td->td_cap_reads++;
		if (td->td_live && cap == 1)
			bytes[12] = (uint8_t)td->td_cap_reads;
	}
	td->td_cap = cap;
	td->td_cap_off = off;
	td->td_cap_len = len;
}

/* Two vendor capabilities as a virtio device would build them. */
static const uint8_t cap0[16] = { 0x09, 0, 16, 1, 0, 0, 0, 0,
    0, 0x10, 0, 0, 0x40, 0, 0, 0 };
static const uint8_t cap1[20] = { 0x09, 0, 20, 5, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t cap1_wmask[20] = { 0xff, 0xff, 0, 0, 0xff, 0, 0, 0,
    0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
static const struct pci_cap_desc tcaps[2] = {
	{ cap0, NULL, sizeof(cap0) },
	{ cap1, cap1_wmask, sizeof(cap1) },
};

#define T_NVEC		70	/* two PBA qwords */
#define T_PBA_OFF	0x800

/* Test fixture: a bus, the bridge, one device "t" in slot 1. */
struct tb {
	struct bus	 bus;
	struct fake_irq	 fi;
	struct pci_bus	*pcb;
	struct tdev	 td;
	struct pci_dev	*dev;
};

static void
tdesc(struct pci_dev_desc *d, struct tdev *td)
{
	memset(d, 0, sizeof(*d));
	d->pd_name = "t";
	d->pd_vendor = 0x1af4;
	d->pd_device = 0x1042;
	d->pd_subsys_vendor = 0x1af4;
	d->pd_subsys = 0x0002;
	d->pd_class = 0x018000;
	d->pd_revision = 1;
	d->pd_intx_pin = 1;
	d->pd_bars[0].pb_size = 0x4000;
	d->pd_bars[0].pb_ops = &tbar_ops;
	d->pd_bars[0].pb_priv = &td->td_bar[0];
	d->pd_bars[2].pb_size = 0x1000;
	d->pd_bars[2].pb_64bit = true;
	d->pd_bars[2].pb_prefetch = true;
	d->pd_bars[2].pb_ops = &tbar_ops;
	d->pd_bars[2].pb_priv = &td->td_bar[2];
	d->pd_caps = tcaps;
	d->pd_ncaps = 2;
	d->pd_msix_nvec = T_NVEC;
	d->pd_msix_table_bar = 2;
	d->pd_msix_table_off = 0;
	d->pd_msix_pba_bar = 2;
	d->pd_msix_pba_off = T_PBA_OFF;
	d->pd_priv = td;
	d->pd_bar_moved = tdev_bar_moved;
	d->pd_cap_access = tdev_cap_access;
}

static int
tb_setup(void **state)
{
	struct tb *t = calloc(1, sizeof(*t));
	struct pci_dev_desc d;

	assert_non_null(t);
	bus_init(&t->bus);
	assert_int_equal(pci_bus_create(&t->bus, &fake_ops, &t->fi, &t->pcb),
	    0);
	tdesc(&d, &t->td);
	assert_int_equal(pci_add_device(t->pcb, &d, &t->dev), 0);
	assert_int_equal(pci_dev_slot(t->dev), 1);
	*state = t;
	return 0;
}

static int
tb_teardown(void **state)
{
	struct tb *t = *state;

	pci_bus_destroy(t->pcb);
	assert_int_equal(t->bus.bu_ndevs[BUS_PIO], 0);
	assert_int_equal(t->bus.bu_ndevs[BUS_MMIO], 0);
	free(t);
	return 0;
}

/* Configuration accesses, the two ways a guest makes them. */
static void
conf1_addr(struct tb *t, unsigned int busno, unsigned int slot,
    unsigned int fn, unsigned int reg)
{
	uint32_t a = 0x80000000u | busno << 16 | slot << 11 | fn << 8 |
	    (reg & 0xfc);

	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcf8, &a, 4), 0);
}

static uint32_t
conf1_rd(struct tb *t, unsigned int slot, unsigned int reg, size_t len)
{
	uint32_t v = 0;

	conf1_addr(t, 0, slot, 0, reg);
	bus_read(&t->bus, BUS_PIO, 0xcfc + (reg & 3), &v, len);
	return v;
}

static void
conf1_wr(struct tb *t, unsigned int slot, unsigned int reg, uint32_t v,
    size_t len)
{
	conf1_addr(t, 0, slot, 0, reg);
	bus_write(&t->bus, BUS_PIO, 0xcfc + (reg & 3), &v, len);
}

static uint64_t
ecam_addr(unsigned int slot, unsigned int fn, unsigned int reg)
{
	return PCI_ECAM_BASE + ((uint64_t)slot << 15 | fn << 12 | reg);
}

static uint32_t
ecam_rd(struct tb *t, unsigned int slot, unsigned int reg, size_t len)
{
	uint32_t v = 0;

	assert_int_equal(bus_read(&t->bus, BUS_MMIO, ecam_addr(slot, 0, reg),
	    &v, len), 0);
	return v;
}

static void
ecam_wr(struct tb *t, unsigned int slot, unsigned int reg, uint32_t v,
    size_t len)
{
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, ecam_addr(slot, 0, reg),
	    &v, len), 0);
}

static uint32_t
mmio_rd32(struct tb *t, uint64_t addr)
{
	uint32_t v = 0;

	assert_int_equal(bus_read(&t->bus, BUS_MMIO, addr, &v, 4), 0);
	return v;
}

static void
mmio_wr32(struct tb *t, uint64_t addr, uint32_t v)
{
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, addr, &v, 4), 0);
}

/* 00.0 is a host bridge that Linux's type 1 sanity check accepts. */
static void
test_host_bridge(void **state)
{
	struct tb *t = *state;

	assert_int_equal(conf1_rd(t, 0, 0x00, 4), 0x29c08086);
	assert_int_equal(ecam_rd(t, 0, 0x00, 4), 0x29c08086);
	assert_int_equal(conf1_rd(t, 0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(conf1_rd(t, 0, 0x0a, 2), 0x0600);
	assert_int_equal(conf1_rd(t, 0, 0x0e, 1), 0);
	assert_int_equal(conf1_rd(t, 0, 0x10, 4), 0);	/* no BARs */
	assert_int_equal(conf1_rd(t, 0, 0x06, 2) & 0x10, 0);
	/* The bridge decodes nothing of its own: command stays 0. */
	conf1_wr(t, 0, 0x04, 0x7, 2);
	assert_int_equal(conf1_rd(t, 0, 0x04, 2), 0);
}

/* CF8/CFC and ECAM reach the same registers, at every width. */
static void
test_conf1_ecam_same(void **state)
{
	struct tb *t = *state;
	unsigned int reg;

	for (reg = 0; reg < 0x100; reg += 4)
		assert_int_equal(conf1_rd(t, 1, reg, 4), ecam_rd(t, 1, reg, 4));
	assert_int_equal(ecam_rd(t, 1, 0x00, 4), 0x10421af4);
	assert_int_equal(conf1_rd(t, 1, 0x02, 2), 0x1042);
	assert_int_equal(conf1_rd(t, 1, 0x01, 1), 0x1a);
	assert_int_equal(ecam_rd(t, 1, 0x03, 1), 0x10);
	assert_int_equal(ecam_rd(t, 1, 0x2c, 4), 0x00021af4);
	assert_int_equal(ecam_rd(t, 1, 0x08, 4), 0x01800001);

	/* The interrupt line is scratch: written one way, read the other. */
	conf1_wr(t, 1, 0x3c, 0x0b, 1);
	assert_int_equal(ecam_rd(t, 1, 0x3c, 1), 0x0b);
	ecam_wr(t, 1, 0x3c, 0x0c, 1);
	assert_int_equal(conf1_rd(t, 1, 0x3c, 1), 0x0c);
	/* A word at CFC+2 reaches register bytes 2-3. */
	assert_int_equal(conf1_rd(t, 1, 0x3e, 2), ecam_rd(t, 1, 0x3e, 2));
	assert_int_equal(conf1_rd(t, 1, 0x3d, 1), 1);	/* INTA# */
}

/* CONFIG_ADDRESS is a dword register; other accesses there hit nothing. */
static void
test_conf1_address(void **state)
{
	struct tb *t = *state;
	uint32_t v = 0x80000000u, r = 0;
	uint8_t b = 0x01;

	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcf8, &v, 4), 0);
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcf8, &r, 4), 0);
	assert_int_equal(r, 0x80000000u);
	/* Reserved bits 30:24 and 1:0 read 0. */
	v = 0xffffffffu;
	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcf8, &v, 4), 0);
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcf8, &r, 4), 0);
	assert_int_equal(r, 0x80fffffcu);
	/* Linux's mechanism #2 probe: byte writes ignored, byte reads ~0. */
	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcfb, &b, 1), 0);
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcf8, &r, 4), 0);
	assert_int_equal(r, 0x80fffffcu);
	b = 0;
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcf8, &b, 1), 0);
	assert_int_equal(b, 0xff);
	r = 0;
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcfa, &r, 2), 0);
	assert_int_equal(r, 0xffff);

	/* Enable bit clear: CONFIG_DATA reads ones, writes go nowhere. */
	v = 1u << 11 | 0x3c;
	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcf8, &v, 4), 0);
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcfc, &r, 4), 0);
	assert_int_equal(r, 0xffffffffu);
	v = 0x55;
	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcfc, &v, 1), 0);
	assert_int_equal(ecam_rd(t, 1, 0x3c, 1), 17);
}

/* Absent slots, functions and buses read all ones and ignore writes. */
static void
test_absent(void **state)
{
	struct tb *t = *state;
	unsigned int s;
	uint32_t v = 0;

	for (s = 2; s <= 31; s++) {
		assert_int_equal(conf1_rd(t, s, 0, 4), 0xffffffffu);
		assert_int_equal(ecam_rd(t, s, 0, 4), 0xffffffffu);
		assert_int_equal(ecam_rd(t, s, 0x3c, 1), 0xff);
		ecam_wr(t, s, 0x04, 0x2, 2);
		conf1_wr(t, s, 0x3c, 0x5, 1);
		assert_int_equal(ecam_rd(t, s, 0x04, 2), 0xffff);
	}
	/* Functions 1-7 of a present slot. */
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, ecam_addr(1, 3, 0), &v,
	    4), 0);
	assert_int_equal(v, 0xffffffffu);
	conf1_addr(t, 0, 1, 7, 0);
	bus_read(&t->bus, BUS_PIO, 0xcfc, &v, 4);
	assert_int_equal(v, 0xffffffffu);
	/* Bus 1 through CF8, and ECAM beyond bus 0 (not even claimed). */
	conf1_addr(t, 1, 1, 0, 0);
	bus_read(&t->bus, BUS_PIO, 0xcfc, &v, 4);
	assert_int_equal(v, 0xffffffffu);
	v = 0;
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, PCI_ECAM_BASE +
	    PCI_ECAM_SIZE, &v, 4), -ENOENT);
	assert_int_equal(v, 0xffffffffu);
	v = 0;
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, PCI_ECAM_BASE +
	    (255u << 20), &v, 4), -ENOENT);
	assert_int_equal(v, 0xffffffffu);
}

/* Identification, class, header type, pin: writes are ignored. */
static void
test_readonly(void **state)
{
	struct tb *t = *state;
	static const unsigned int regs[] = { 0x00, 0x08, 0x0c, 0x2c, 0x30,
	    0x34 };
	uint32_t before[6];
	size_t i;

	for (i = 0; i < 6; i++)
		before[i] = ecam_rd(t, 1, regs[i], 4);
	for (i = 0; i < 6; i++) {
		ecam_wr(t, 1, regs[i], 0x12345678, 4);
		conf1_wr(t, 1, regs[i] + 1, 0xabcd, 2);
		ecam_wr(t, 1, regs[i] + 3, 0x99, 1);
	}
	for (i = 0; i < 6; i++) {
		uint32_t now = ecam_rd(t, 1, regs[i], 4);

		if (regs[i] == 0x0c)	/* the cache line size is writable */
			assert_int_equal(now & 0xffffff00u,
			    before[i] & 0xffffff00u);
		else
			assert_int_equal(now, before[i]);
	}
	ecam_wr(t, 1, 0x3d, 3, 1);
	assert_int_equal(ecam_rd(t, 1, 0x3d, 1), 1);
	/* Command: only I/O, memory, bus master and INTx disable stick. */
	ecam_wr(t, 1, 0x04, 0xffff, 2);
	assert_int_equal(ecam_rd(t, 1, 0x04, 2), 0x0407);
	/* Status: the capability list bit; nothing else sets or clears. */
	ecam_wr(t, 1, 0x06, 0xffff, 2);
	assert_int_equal(ecam_rd(t, 1, 0x06, 2), 0x0010);
}

/* Write all ones, read back the size mask with the flags; restore. */
static void
test_bar_sizing_32(void **state)
{
	struct tb *t = *state;
	uint32_t orig = ecam_rd(t, 1, 0x10, 4);

	assert_int_equal(orig & 0xf, 0);	/* memory, 32-bit, not pref. */
	ecam_wr(t, 1, 0x04, 0, 2);		/* as Linux: decode off */
	ecam_wr(t, 1, 0x10, 0xffffffffu, 4);
	assert_int_equal(ecam_rd(t, 1, 0x10, 4), 0xffffc000u);
	ecam_wr(t, 1, 0x10, orig, 4);
	assert_int_equal(ecam_rd(t, 1, 0x10, 4), orig);
	/* Unimplemented BARs (1, 4, 5) and the ROM BAR size to 0. */
	ecam_wr(t, 1, 0x14, 0xffffffffu, 4);
	ecam_wr(t, 1, 0x20, 0xffffffffu, 4);
	ecam_wr(t, 1, 0x24, 0xffffffffu, 4);
	ecam_wr(t, 1, 0x30, 0xffffffffu, 4);
	assert_int_equal(ecam_rd(t, 1, 0x14, 4), 0);
	assert_int_equal(ecam_rd(t, 1, 0x20, 4), 0);
	assert_int_equal(ecam_rd(t, 1, 0x24, 4), 0);
	assert_int_equal(ecam_rd(t, 1, 0x30, 4), 0);
	/* Byte writes size too (bits below the size are read-only). */
	ecam_wr(t, 1, 0x11, 0xff, 1);
	assert_int_equal(ecam_rd(t, 1, 0x10, 4) & 0xff00, 0xc000);
	ecam_wr(t, 1, 0x10, orig, 4);
	ecam_wr(t, 1, 0x04, 0x2, 2);
	assert_int_equal(pci_bar_addr(t->dev, 0), orig);
}

static void
test_bar_sizing_64(void **state)
{
	struct tb *t = *state;
	uint32_t lo = ecam_rd(t, 1, 0x18, 4), hi = ecam_rd(t, 1, 0x1c, 4);

	assert_int_equal(lo & 0xf, 0xc);	/* 64-bit, prefetchable */
	assert_int_equal(hi, 0);
	assert_int_equal(pci_bar_addr(t->dev, 2), lo & ~0xfu);
	assert_int_equal(pci_bar_addr(t->dev, 3), PCI_BAR_UNMAPPED);
	ecam_wr(t, 1, 0x04, 0, 2);
	ecam_wr(t, 1, 0x18, 0xffffffffu, 4);
	ecam_wr(t, 1, 0x1c, 0xffffffffu, 4);
	assert_int_equal(ecam_rd(t, 1, 0x18, 4), 0xfffff00cu);
	assert_int_equal(ecam_rd(t, 1, 0x1c, 4), 0xffffffffu);
	ecam_wr(t, 1, 0x18, lo, 4);
	ecam_wr(t, 1, 0x1c, hi, 4);
	assert_int_equal(ecam_rd(t, 1, 0x18, 4), lo);
	assert_int_equal(ecam_rd(t, 1, 0x1c, 4), hi);
	ecam_wr(t, 1, 0x04, 0x2, 2);
	assert_int_equal(pci_bar_addr(t->dev, 2), lo & ~0xfu);
}

/* Many devices of mixed BAR sizes: aligned, inside, disjoint; then full. */
static void
test_bar_alignment(void **state)
{
	struct tb *t = *state;
	static const uint64_t sizes[] = { 0x10, 0x1000, 0x100000, 0x4000,
	    0x20, 0x8000000, 0x1000, 0x200000 };
	struct pci_dev *devs[8];
	struct pci_dev_desc d;
	struct tbar tb;
	uint64_t lo[8], hi[8];
	unsigned int i, j;
	uint8_t b;

	memset(&tb, 0, sizeof(tb));
	for (i = 0; i < 8; i++) {
		memset(&d, 0, sizeof(d));
		d.pd_name = "align";
		d.pd_vendor = 0x1af4;
		d.pd_device = 0x1000;
		d.pd_bars[i % 2 ? 4 : 0].pb_size = sizes[i];
		d.pd_bars[i % 2 ? 4 : 0].pb_64bit = i % 4 == 1;
		d.pd_bars[i % 2 ? 4 : 0].pb_ops = &tbar_ops;
		d.pd_bars[i % 2 ? 4 : 0].pb_priv = &tb;
		assert_int_equal(pci_add_device(t->pcb, &d, &devs[i]), 0);
		assert_int_equal(pci_dev_slot(devs[i]), i + 2);
		lo[i] = pci_bar_addr(devs[i], i % 2 ? 4 : 0);
		hi[i] = lo[i] + sizes[i];
		assert_int_equal(lo[i] % sizes[i], 0);
		assert_true(lo[i] >= PCI_MMIO32_BASE);
		assert_true(hi[i] <= PCI_MMIO32_BASE + PCI_MMIO32_SIZE);
		assert_int_equal(ecam_rd(t, i + 2, i % 2 ? 0x20 : 0x10, 4) &
		    ~0xfu, lo[i]);
		/* The BAR answers at its address, at its last byte too. */
		assert_int_equal(bus_read(&t->bus, BUS_MMIO, hi[i] - 1, &b, 1),
		    0);
	}
	for (i = 0; i < 8; i++)
		for (j = 0; j < i; j++)
			assert_true(hi[i] <= lo[j] || hi[j] <= lo[i]);

	/* A BAR bigger than what is left of the window. */
	memset(&d, 0, sizeof(d));
	d.pd_name = "huge";
	d.pd_vendor = 0x1af4;
	d.pd_bars[0].pb_size = PCI_MMIO32_SIZE;
	assert_int_equal(pci_add_device(t->pcb, &d, &devs[0]), -ENOSPC);
	/* The failed device left its slot and the window as they were. */
	d.pd_bars[0].pb_size = 0x1000;
	assert_int_equal(pci_add_device(t->pcb, &d, &devs[0]), 0);
	assert_int_equal(pci_dev_slot(devs[0]), 10);
	assert_int_equal(pci_bar_addr(devs[0], 0) % 0x1000, 0);
}

/* Memory decode off: the BARs are not claimed; on again: they are. */
static void
test_bar_decode(void **state)
{
	struct tb *t = *state;
	uint64_t a0 = pci_bar_addr(t->dev, 0), a2 = pci_bar_addr(t->dev, 2);
	uint32_t v = 0;

	/* tbar_read answers byte i of offset off with 0xa0 + off + i. */
	assert_int_equal(mmio_rd32(t, a0 + 8), 0xabaaa9a8u);
	assert_int_equal(t->td.td_bar[0].tb_off, 8);
	mmio_wr32(t, a0 + 0x100, 0x1234);
	assert_int_equal(t->td.td_bar[0].tb_val, 0x1234);
	assert_int_equal(t->td.td_bar[0].tb_off, 0x100);

	ecam_wr(t, 1, 0x04, 0x4, 2);		/* bus master only */
	assert_int_equal(pci_bar_addr(t->dev, 0), PCI_BAR_UNMAPPED);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, a0, &v, 4), -ENOENT);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, a0, &v, 4), -ENOENT);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, a2, &v, 4), -ENOENT);
	assert_int_equal(t->td.td_bar[0].tb_reads, 1);
	assert_int_equal(t->td.td_nmoved, 2);
	assert_int_equal(t->td.td_moved[0].mv_bar, 0);
	assert_int_equal(t->td.td_moved[0].mv_old, a0);
	assert_int_equal(t->td.td_moved[0].mv_new, PCI_BAR_UNMAPPED);
	assert_int_equal(t->td.td_moved[1].mv_bar, 2);

	ecam_wr(t, 1, 0x04, 0x6, 2);
	assert_int_equal(pci_bar_addr(t->dev, 0), a0);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, a0, &v, 4), 0);
	assert_int_equal(t->td.td_bar[0].tb_reads, 2);
	assert_int_equal(t->td.td_nmoved, 4);
	assert_int_equal(t->td.td_moved[2].mv_old, PCI_BAR_UNMAPPED);
	assert_int_equal(t->td.td_moved[2].mv_new, a0);
	/* Rewriting the same command moves nothing. */
	ecam_wr(t, 1, 0x04, 0x6, 2);
	assert_int_equal(t->td.td_nmoved, 4);
}

/* The guest relocates BARs, 32-bit and 64-bit (above 4 GiB). */
static void
test_bar_move(void **state)
{
	struct tb *t = *state;
	uint64_t a0 = pci_bar_addr(t->dev, 0);
	uint32_t v;

	ecam_wr(t, 1, 0x10, 0xd0000000u, 4);
	assert_int_equal(pci_bar_addr(t->dev, 0), 0xd0000000u);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, a0, &v, 4), -ENOENT);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, 0xd0003ffcu, &v, 4), 0);
	assert_int_equal(t->td.td_bar[0].tb_off, 0x3ffc);
	assert_int_equal(t->td.td_nmoved, 1);
	assert_int_equal(t->td.td_moved[0].mv_old, a0);
	assert_int_equal(t->td.td_moved[0].mv_new, 0xd0000000u);

	/* Low bits below the size are ignored. */
	ecam_wr(t, 1, 0x10, 0xd0001234u, 4);
	assert_int_equal(pci_bar_addr(t->dev, 0), 0xd0000000u);

	/* 64-bit: decode off, both halves, decode on: one move. */
	ecam_wr(t, 1, 0x04, 0, 2);
	ecam_wr(t, 1, 0x18, 0x00002000u, 4);
	ecam_wr(t, 1, 0x1c, 0x00000008u, 4);
	ecam_wr(t, 1, 0x04, 0x2, 2);
	assert_int_equal(pci_bar_addr(t->dev, 2), 0x800002000ULL);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, 0x800002000ULL + 0x10,
	    &v, 4), 0);
	assert_int_equal(pci_bar_addr(t->dev, 0), 0xd0000000u);

	/* Address 0 is "unassigned": not decoded. */
	ecam_wr(t, 1, 0x10, 0, 4);
	assert_int_equal(pci_bar_addr(t->dev, 0), PCI_BAR_UNMAPPED);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, 0, &v, 4), -ENOENT);
}

/* A BAR moved onto another device's stays off until that one leaves. */
static void
test_bar_collision(void **state)
{
	struct tb *t = *state;
	struct pci_dev_desc d;
	struct pci_dev *b;
	struct tbar tb;
	uint64_t ab, a0 = pci_bar_addr(t->dev, 0);
	uint32_t v;

	memset(&tb, 0, sizeof(tb));
	memset(&d, 0, sizeof(d));
	d.pd_name = "other";
	d.pd_vendor = 0x1af4;
	d.pd_bars[0].pb_size = 0x4000;
	d.pd_bars[0].pb_ops = &tbar_ops;
	d.pd_bars[0].pb_priv = &tb;
	assert_int_equal(pci_add_device(t->pcb, &d, &b), 0);
	ab = pci_bar_addr(b, 0);

	/* The first device's BAR 0 onto the other's: refused, unmapped. */
	ecam_wr(t, 1, 0x10, (uint32_t)ab, 4);
	assert_int_equal(pci_bar_addr(t->dev, 0), PCI_BAR_UNMAPPED);
	assert_int_equal(pci_bar_addr(b, 0), ab);
	assert_int_equal(mmio_rd32(t, ab) != 0, 1);
	assert_int_equal(tb.tb_reads, 1);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, a0, &v, 4), -ENOENT);

	/* The other moves to the freed place: both land (a swap). */
	ecam_wr(t, 2, 0x10, (uint32_t)a0, 4);
	assert_int_equal(pci_bar_addr(b, 0), a0);
	assert_int_equal(pci_bar_addr(t->dev, 0), ab);
	(void)mmio_rd32(t, ab + 4);
	assert_int_equal(t->td.td_bar[0].tb_reads, 1);
	(void)mmio_rd32(t, a0 + 4);
	assert_int_equal(tb.tb_reads, 2);

	/* A BAR onto the ECAM window is refused too. */
	ecam_wr(t, 2, 0x10, (uint32_t)PCI_ECAM_BASE, 4);
	assert_int_equal(pci_bar_addr(b, 0), PCI_BAR_UNMAPPED);
	assert_int_equal(ecam_rd(t, 2, 0, 4), 0x00001af4);
}

/* From 0x34: MSI-X, then the device's two capabilities, then the end. */
static void
test_cap_walk(void **state)
{
	struct tb *t = *state;
	unsigned int off, n = 0, ids[8], offs[8];

	assert_int_equal(ecam_rd(t, 1, 0x06, 2) & 0x10, 0x10);
	off = ecam_rd(t, 1, 0x34, 1);
	while (off != 0) {
		assert_true(n < 8);
		assert_true(off >= 0x40 && off <= 0xfc);
		assert_int_equal(off % 4, 0);
		ids[n] = ecam_rd(t, 1, off, 1);
		offs[n++] = off;
		off = conf1_rd(t, 1, off + 1, 1);
	}
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 0x11);
	assert_int_equal(ids[1], 0x09);
	assert_int_equal(ids[2], 0x09);
	/* The device's bytes, as built (byte 1 is the bridge's). */
	assert_int_equal(ecam_rd(t, 1, offs[1] + 2, 1), 16);
	assert_int_equal(ecam_rd(t, 1, offs[1] + 8, 4), 0x00001000);
	assert_int_equal(ecam_rd(t, 1, offs[1] + 12, 4), 0x40);
	assert_int_equal(ecam_rd(t, 1, offs[2] + 3, 1), 5);
	assert_true(offs[2] >= offs[1] + 16);

	/* A device without capabilities: status bit clear, pointer 0. */
	{
		struct pci_dev_desc d;
		struct pci_dev *p;

		memset(&d, 0, sizeof(d));
		d.pd_name = "plain";
		d.pd_vendor = 0x1af4;
		assert_int_equal(pci_add_device(t->pcb, &d, &p), 0);
		assert_int_equal(ecam_rd(t, 2, 0x06, 2) & 0x10, 0);
		assert_int_equal(ecam_rd(t, 2, 0x34, 1), 0);
		assert_int_equal(ecam_rd(t, 2, 0x10, 4), 0);
		assert_int_equal(ecam_rd(t, 2, 0x3d, 1), 0);
		assert_int_equal(ecam_rd(t, 2, 0x3c, 1), 0xff);
	}
}

static unsigned int
find_cap(struct tb *t, unsigned int slot, unsigned int id, unsigned int nth)
{
	unsigned int off = ecam_rd(t, slot, 0x34, 1), hops = 0;

	while (off != 0 && hops++ < 48) {
		if (ecam_rd(t, slot, off, 1) == id && nth-- == 0)
			return off;
		off = ecam_rd(t, slot, off + 1, 1);
	}
	fail_msg("capability %#x not found", id);
	return 0;
}

/* Writable capability bytes follow pc_wmask; the device hears of it. */
static void
test_cap_write(void **state)
{
	struct tb *t = *state;
	unsigned int c0 = find_cap(t, 1, 0x09, 0), c1 = find_cap(t, 1, 0x09, 1);
	unsigned int next = ecam_rd(t, 1, c1 + 1, 1), live;

	/* ID, next and cap_len are read-only whatever the mask says. */
	ecam_wr(t, 1, c1, 0xffffffffu, 4);
	assert_int_equal(t->td.td_cap_writes, 1);
	assert_int_equal(t->td.td_cap, 1);
	assert_int_equal(t->td.td_cap_off, 0);
	assert_int_equal(t->td.td_cap_len, 4);
	assert_int_equal(ecam_rd(t, 1, c1, 1), 0x09);
	assert_int_equal(ecam_rd(t, 1, c1 + 1, 1), next);
	assert_int_equal(ecam_rd(t, 1, c1 + 2, 1), 20);
	assert_int_equal(ecam_rd(t, 1, c1 + 3, 1), 5);
	assert_int_equal(t->td.td_cap_off, 3);
	assert_int_equal(t->td.td_cap_len, 1);

	/* bar (byte 4) and offset (8-11) are writable, byte 5 is not. */
	conf1_wr(t, 1, c1 + 4, 0x0303, 2);
	assert_int_equal(ecam_rd(t, 1, c1 + 4, 2), 0x0003);
	ecam_wr(t, 1, c1 + 8, 0xdeadbeefu, 4);
	assert_int_equal(t->td.td_cap_off, 8);
	assert_int_equal(t->td.td_cap_len, 4);
	assert_int_equal(ecam_rd(t, 1, c1 + 8, 4), 0xdeadbeefu);

	/* An access past a capability's end is clipped to it. */
	ecam_wr(t, 1, c1 + 16, 0x01020304u, 4);
	assert_int_equal(t->td.td_cap_off, 16);
	assert_int_equal(t->td.td_cap_len, 4);

	/* A live byte the device refreshes before each read. */
	t->td.td_live = true;
	live = ecam_rd(t, 1, c1 + 12, 1);
	assert_int_equal(live, t->td.td_cap_reads);
	live = ecam_rd(t, 1, c1 + 12, 1);
	assert_int_equal(live, t->td.td_cap_reads);
	assert_int_equal(t->td.td_cap_off, 12);
	assert_int_equal(t->td.td_cap_len, 1);

	/* Cap 0 has no mask: read-only. */
	ecam_wr(t, 1, c0 + 8, 0xffffffffu, 4);
	assert_int_equal(ecam_rd(t, 1, c0 + 8, 4), 0x00001000);
}

/* The MSI-X capability describes the table and the PBA. */
static void
test_msix_cap(void **state)
{
	struct tb *t = *state;
	unsigned int c = find_cap(t, 1, 0x11, 0);

	assert_int_equal(ecam_rd(t, 1, c + 2, 2), T_NVEC - 1);
	assert_int_equal(ecam_rd(t, 1, c + 4, 4), 0 | 2);
	assert_int_equal(ecam_rd(t, 1, c + 8, 4), T_PBA_OFF | 2);
	/* Only Enable and Function Mask are writable. */
	ecam_wr(t, 1, c + 2, 0xffff, 2);
	assert_int_equal(ecam_rd(t, 1, c + 2, 2), 0xc000 | (T_NVEC - 1));
	ecam_wr(t, 1, c + 4, 0, 4);
	ecam_wr(t, 1, c + 8, 0, 4);
	assert_int_equal(ecam_rd(t, 1, c + 4, 4), 2);
	assert_int_equal(ecam_rd(t, 1, c + 8, 4), T_PBA_OFF | 2);
	/* Byte write of the upper control byte, as some drivers do. */
	ecam_wr(t, 1, c + 3, 0x00, 1);
	assert_int_equal(ecam_rd(t, 1, c + 2, 2), T_NVEC - 1);
}

static void
msix_ctl(struct tb *t, uint16_t bits)
{
	unsigned int c = find_cap(t, 1, 0x11, 0);

	ecam_wr(t, 1, c + 2, bits, 2);
}

static void
msix_entry(struct tb *t, unsigned int v, uint64_t addr, uint32_t data,
    uint32_t ctrl)
{
	uint64_t e = pci_bar_addr(t->dev, 2) + 16 * v;

	mmio_wr32(t, e, (uint32_t)addr);
	mmio_wr32(t, e + 4, (uint32_t)(addr >> 32));
	mmio_wr32(t, e + 8, data);
	mmio_wr32(t, e + 12, ctrl);
}

/* Table writes produce msix_update with the entry's values. */
static void
test_msix_table_update(void **state)
{
	struct tb *t = *state;
	uint64_t tab = pci_bar_addr(t->dev, 2);
	struct call *c;
	uint64_t q = 0;

	/* Reset state: every vector masked, the table zero. */
	assert_int_equal(mmio_rd32(t, tab + 16 * 5 + 12), 1);
	assert_int_equal(mmio_rd32(t, tab + 16 * 5), 0);

	msix_ctl(t, 0x8000);
	/* Enabling with every vector masked changes nothing visible. */
	assert_int_equal(t->fi.fi_nupd, 0);

	msix_entry(t, 5, 0xfee01003ULL, 0x4041, 0);
	assert_true(t->fi.fi_nupd >= 1);
	c = &t->fi.fi_upd[t->fi.fi_nupd - 1];
	assert_ptr_equal(c->c_dev, t->dev);
	assert_int_equal(c->c_vec, 5);
	assert_int_equal(c->c_addr, 0xfee01000ULL);	/* bits 1:0 read 0 */
	assert_int_equal(c->c_data, 0x4041);
	assert_false(c->c_masked);
	assert_int_equal(mmio_rd32(t, tab + 16 * 5), 0xfee01000u);
	assert_int_equal(mmio_rd32(t, tab + 16 * 5 + 8), 0x4041);
	assert_int_equal(mmio_rd32(t, tab + 16 * 5 + 12), 0);

	/* Only bit 0 of vector control sticks. */
	mmio_wr32(t, tab + 16 * 5 + 12, 0xfffffffeu);
	assert_int_equal(mmio_rd32(t, tab + 16 * 5 + 12), 0);

	/* Qword writes of address and data/control, as some OSes do. */
	q = 0x00000001fee02000ULL;
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, tab + 16 * 69, &q, 8), 0);
	q = (uint64_t)0 << 32 | 0x77;
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, tab + 16 * 69 + 8, &q, 8),
	    0);
	c = &t->fi.fi_upd[t->fi.fi_nupd - 1];
	assert_int_equal(c->c_vec, 69);
	assert_int_equal(c->c_addr, 0x1fee02000ULL);
	assert_int_equal(c->c_data, 0x77);
	assert_false(c->c_masked);
	q = 0;
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, tab + 16 * 69, &q, 8), 0);
	assert_int_equal(q, 0x1fee02000ULL);

	/* Disable: every unmasked vector reported masked, then re-enabled. */
	t->fi.fi_nupd = 0;
	msix_ctl(t, 0);
	assert_int_equal(t->fi.fi_nupd, 2);
	assert_true(t->fi.fi_upd[0].c_masked && t->fi.fi_upd[1].c_masked);
	msix_ctl(t, 0x8000);
	assert_int_equal(t->fi.fi_nupd, 4);
	assert_false(t->fi.fi_upd[3].c_masked);
	assert_int_equal(t->fi.fi_nfire, 0);
}

/* A masked vector pends in the PBA; unmasking sends it and clears it. */
static void
test_msix_pending(void **state)
{
	struct tb *t = *state;
	uint64_t tab = pci_bar_addr(t->dev, 2), pba = tab + T_PBA_OFF, q;

	msix_ctl(t, 0x8000);
	msix_entry(t, 3, 0xfee00000ULL, 0x30, 1);
	msix_entry(t, 66, 0xfee00000ULL, 0x31, 1);
	assert_int_equal(pci_msix_notify(t->dev, 3), PCI_MSIX_PENDING);
	assert_int_equal(pci_msix_notify(t->dev, 66), PCI_MSIX_PENDING);
	assert_int_equal(t->fi.fi_nfire, 0);
	assert_int_equal(mmio_rd32(t, pba), 1u << 3);
	assert_int_equal(mmio_rd32(t, pba + 8), 1u << 2);
	q = 0;
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, pba, &q, 8), 0);
	assert_int_equal(q, 1u << 3);
	/* The PBA is read-only. */
	mmio_wr32(t, pba, 0);
	assert_int_equal(mmio_rd32(t, pba), 1u << 3);

	/* Unmask 3: route first (update), then the pending message. */
	t->fi.fi_nupd = 0;
	mmio_wr32(t, tab + 16 * 3 + 12, 0);
	assert_int_equal(t->fi.fi_nupd, 1);
	assert_false(t->fi.fi_upd[0].c_masked);
	assert_int_equal(t->fi.fi_nfire, 1);
	assert_int_equal(t->fi.fi_fire[0].c_vec, 3);
	assert_ptr_equal(t->fi.fi_fire[0].c_dev, t->dev);
	assert_int_equal(mmio_rd32(t, pba), 0);
	assert_int_equal(mmio_rd32(t, pba + 8), 1u << 2);

	/* Unmasked: straight out. */
	assert_int_equal(pci_msix_notify(t->dev, 3), PCI_MSIX_SENT);
	assert_int_equal(t->fi.fi_nfire, 2);
	/* Mask again; unmasking with nothing pending sends nothing. */
	mmio_wr32(t, tab + 16 * 3 + 12, 1);
	mmio_wr32(t, tab + 16 * 3 + 12, 0);
	assert_int_equal(t->fi.fi_nfire, 2);
	mmio_wr32(t, tab + 16 * 66 + 12, 0);
	assert_int_equal(t->fi.fi_nfire, 3);
	assert_int_equal(t->fi.fi_fire[2].c_vec, 66);
	assert_int_equal(mmio_rd32(t, pba + 8), 0);
}

/* The function mask holds back every vector; clearing it sends them. */
static void
test_msix_function_mask(void **state)
{
	struct tb *t = *state;
	uint64_t pba = pci_bar_addr(t->dev, 2) + T_PBA_OFF;

	msix_ctl(t, 0x8000);
	msix_entry(t, 0, 0xfee00000ULL, 0x20, 0);
	msix_entry(t, 1, 0xfee00000ULL, 0x21, 0);
	t->fi.fi_nupd = 0;
	msix_ctl(t, 0xc000);
	assert_int_equal(t->fi.fi_nupd, 2);
	assert_true(t->fi.fi_upd[0].c_masked);
	assert_int_equal(pci_msix_notify(t->dev, 1), PCI_MSIX_PENDING);
	assert_int_equal(pci_msix_notify(t->dev, 0), PCI_MSIX_PENDING);
	assert_int_equal(mmio_rd32(t, pba), 3);
	assert_int_equal(t->fi.fi_nfire, 0);
	msix_ctl(t, 0x8000);
	assert_int_equal(t->fi.fi_nfire, 2);
	assert_int_equal(mmio_rd32(t, pba), 0);
	assert_int_equal(pci_msix_notify(t->dev, 0), PCI_MSIX_SENT);
	assert_int_equal(t->fi.fi_nfire, 3);
}

/* MSI-X disabled: nothing is sent or recorded. */
static void
test_msix_disabled(void **state)
{
	struct tb *t = *state;
	uint64_t pba = pci_bar_addr(t->dev, 2) + T_PBA_OFF;

	msix_entry(t, 2, 0xfee00000ULL, 0x22, 0);
	assert_int_equal(pci_msix_notify(t->dev, 2), PCI_MSIX_DISABLED);
	assert_int_equal(t->fi.fi_nfire, 0);
	assert_int_equal(mmio_rd32(t, pba), 0);
	/* Updates say "masked" while the function is disabled. */
	assert_true(t->fi.fi_nupd == 0 ||
	    t->fi.fi_upd[t->fi.fi_nupd - 1].c_masked);
	msix_ctl(t, 0x8000);
	assert_false(t->fi.fi_upd[t->fi.fi_nupd - 1].c_masked);
	assert_int_equal(t->fi.fi_nfire, 0);
	assert_int_equal(pci_msix_notify(t->dev, 2), PCI_MSIX_SENT);
}

/* Bad vectors and malformed table accesses. */
static void
test_msix_bad(void **state)
{
	struct tb *t = *state;
	uint64_t tab = pci_bar_addr(t->dev, 2);
	struct pci_dev_desc d;
	struct pci_dev *p;
	uint32_t v;
	uint16_t w;

	msix_ctl(t, 0x8000);
	assert_int_equal(pci_msix_notify(t->dev, T_NVEC), -EINVAL);
	assert_int_equal(pci_msix_notify(t->dev, 0xffff), -EINVAL);
	assert_int_equal(pci_msix_notify(t->dev, UINT32_MAX), -EINVAL);
	/* Byte and word table accesses: all ones, no effect. */
	w = 0;
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, tab, &w, 2), 0);
	assert_int_equal(w, 0xffff);
	w = 0;
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, tab + 12, &w, 2), 0);
	assert_int_equal(mmio_rd32(t, tab + 12), 1);
	/* Misaligned dword. */
	v = 0;
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, tab + 2, &v, 4), 0);
	assert_int_equal(v, 0xffffffffu);
	/* An access straddling the table's end. */
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, tab + 16 * T_NVEC - 2, &v,
	    4), 0);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(t->fi.fi_nupd, 0);

	/* Past the table and the PBA the BAR is the device's. */
	t->td.td_bar[2].tb_reads = 0;
	(void)mmio_rd32(t, tab + 0x600);
	assert_int_equal(t->td.td_bar[2].tb_reads, 1);
	assert_int_equal(t->td.td_bar[2].tb_off, 0x600);
	(void)mmio_rd32(t, tab + T_PBA_OFF + 16);
	assert_int_equal(t->td.td_bar[2].tb_off, T_PBA_OFF + 16);
	(void)mmio_rd32(t, tab + 16 * 4);
	assert_int_equal(t->td.td_bar[2].tb_reads, 2);

	/* A device without MSI-X. */
	memset(&d, 0, sizeof(d));
	d.pd_name = "nomsix";
	d.pd_vendor = 0x1af4;
	assert_int_equal(pci_add_device(t->pcb, &d, &p), 0);
	assert_int_equal(pci_msix_notify(p, 0), -EINVAL);
	assert_int_equal(pci_set_intx(p, 1), -EINVAL);
}

/* A BAR that holds only MSI-X structures reads 0 elsewhere. */
static void
test_msix_only_bar(void **state)
{
	struct tb *t = *state;
	struct pci_dev_desc d;
	struct pci_dev *p;
	uint64_t a;

	memset(&d, 0, sizeof(d));
	d.pd_name = "msixonly";
	d.pd_vendor = 0x1af4;
	d.pd_bars[1].pb_size = 0x1000;
	d.pd_msix_nvec = 1;
	d.pd_msix_table_bar = 1;
	d.pd_msix_pba_bar = 1;
	d.pd_msix_pba_off = 0x10;
	assert_int_equal(pci_add_device(t->pcb, &d, &p), 0);
	a = pci_bar_addr(p, 1);
	assert_int_equal(mmio_rd32(t, a + 12), 1);
	assert_int_equal(mmio_rd32(t, a + 0x10), 0);
	assert_int_equal(mmio_rd32(t, a + 0x100), 0);
	mmio_wr32(t, a + 0x100, 5);
}

/* INTx: swizzled GSI, INTx Disable, MSI-X, shared lines. */
static void
test_intx(void **state)
{
	struct tb *t = *state;
	unsigned int gsi = pci_dev_intx_gsi(t->dev), s;
	struct pci_dev_desc d;
	struct pci_dev *p = NULL;
	struct tdev td;

	assert_int_equal(gsi, PCI_INTX_GSI(1, 1));
	assert_int_equal(gsi, 17);
	assert_int_equal(ecam_rd(t, 1, 0x3c, 1), 17);
	assert_int_equal(pci_set_intx(t->dev, 1), 0);
	assert_int_equal(t->fi.fi_level[gsi], 1);
	assert_int_equal(ecam_rd(t, 1, 0x06, 2) & 0x8, 0x8);
	/* INTx Disable drops the line, the status bit stays. */
	ecam_wr(t, 1, 0x04, 0x0402, 2);
	assert_int_equal(t->fi.fi_level[gsi], 0);
	assert_int_equal(ecam_rd(t, 1, 0x06, 2) & 0x8, 0x8);
	ecam_wr(t, 1, 0x04, 0x0002, 2);
	assert_int_equal(t->fi.fi_level[gsi], 1);
	/* MSI-X enabled: INTx off. */
	msix_ctl(t, 0x8000);
	assert_int_equal(t->fi.fi_level[gsi], 0);
	msix_ctl(t, 0);
	assert_int_equal(t->fi.fi_level[gsi], 1);
	assert_int_equal(pci_set_intx(t->dev, 0), 0);
	assert_int_equal(t->fi.fi_level[gsi], 0);
	assert_int_equal(ecam_rd(t, 1, 0x06, 2) & 0x8, 0);

	/* Slot 9 INTA# shares GSI 17 with slot 1: the line is their OR. */
	tdesc(&d, &td);
	memset(&td, 0, sizeof(td));
	d.pd_msix_nvec = 0;
	d.pd_bars[2].pb_ops = NULL;
	for (s = 2; s <= 9; s++)
		assert_int_equal(pci_add_device(t->pcb, &d, &p), 0);
	assert_int_equal(pci_dev_slot(p), 9);
	assert_int_equal(pci_dev_intx_gsi(p), 17);
	assert_int_equal(pci_set_intx(t->dev, 1), 0);
	assert_int_equal(pci_set_intx(p, 1), 0);
	assert_int_equal(t->fi.fi_level[17], 1);
	assert_int_equal(pci_set_intx(t->dev, 0), 0);
	assert_int_equal(t->fi.fi_level[17], 1);
	assert_int_equal(pci_set_intx(p, 0), 0);
	assert_int_equal(t->fi.fi_level[17], 0);
	/* Repeated levels make no calls. */
	s = t->fi.fi_intx_calls;
	assert_int_equal(pci_set_intx(p, 0), 0);
	assert_int_equal(t->fi.fi_intx_calls, s);
	/* Pin B of slot 1 would be GSI 18; every pin stays in 16-23. */
	for (s = 1; s <= 31; s++) {
		assert_true(PCI_INTX_GSI(s, 1) >= 16 && PCI_INTX_GSI(s, 4) <= 23);
		assert_true(PCI_INTX_GSI(s, 4) >= 16);
	}
}

/* Accesses the two mechanisms do not define. */
static void
test_cfg_weird(void **state)
{
	struct tb *t = *state;
	uint64_t q = 0;
	uint32_t v = 0;
	uint8_t b[3];

	/* ECAM: qword, misaligned word and dword, a 3-byte access. */
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, ecam_addr(1, 0, 0), &q,
	    8), 0);
	assert_int_equal(q, UINT64_MAX);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, ecam_addr(1, 0, 1), &v,
	    2), 0);
	assert_int_equal(v, 0xffff);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, ecam_addr(1, 0, 2), &v,
	    4), 0);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(bus_read(&t->bus, BUS_MMIO, ecam_addr(1, 0, 0), b,
	    3), 0);
	assert_int_equal(b[0] & b[1] & b[2], 0xff);
	v = 0x12;
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, ecam_addr(1, 0, 0x3d),
	    &v, 2), 0);
	assert_int_equal(ecam_rd(t, 1, 0x3c, 1), 17);
	q = 0;
	assert_int_equal(bus_write(&t->bus, BUS_MMIO, ecam_addr(1, 0, 0x3c),
	    &q, 8), 0);
	assert_int_equal(ecam_rd(t, 1, 0x3c, 1), 17);

	/* Extended configuration space: none, reads 0, writes ignored. */
	assert_int_equal(ecam_rd(t, 1, 0x100, 4), 0);
	assert_int_equal(ecam_rd(t, 1, 0xffc, 4), 0);
	ecam_wr(t, 1, 0x100, 0xffffffffu, 4);
	assert_int_equal(ecam_rd(t, 1, 0x100, 4), 0);
	assert_int_equal(ecam_rd(t, 1, 0xfff, 1), 0);

	/* CONFIG_DATA: a word at 0xcfe is fine; a dword at 0xcfe crosses
	 * the end of the ports and nothing claims it. */
	assert_int_equal(conf1_rd(t, 1, 0x02, 2), 0x1042);
	conf1_addr(t, 0, 1, 0, 0);
	v = 0;
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcfe, &v, 4), -ENOENT);
	assert_int_equal(v, 0xffffffffu);
	/* A dword at 0xcfa straddles both registers. */
	v = 0;
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcfa, &v, 4), 0);
	assert_int_equal(v, 0xffffffffu);
	v = 0;
	assert_int_equal(bus_write(&t->bus, BUS_PIO, 0xcfa, &v, 4), 0);
	v = 0;
	assert_int_equal(bus_read(&t->bus, BUS_PIO, 0xcf8, &v, 4), 0);
	assert_int_equal(v, 0x80000800u);
}

/* Descriptions the bridge refuses. */
static void
test_add_invalid(void **state)
{
	struct tb *t = *state;
	struct pci_dev_desc d, ok;
	struct pci_dev *p = NULL;
	struct tdev td;
	uint8_t big[200];
	struct pci_cap_desc caps[2];
	unsigned int i;

	memset(&td, 0, sizeof(td));
	memset(big, 0, sizeof(big));
	tdesc(&ok, &td);
#define REFUSE(stmt) do { d = ok; stmt; \
	assert_int_equal(pci_add_device(t->pcb, &d, &p), -EINVAL); } while (0)
	REFUSE(d.pd_bars[0].pb_size = 0x3000);
	REFUSE(d.pd_bars[0].pb_size = 8);
	REFUSE(d.pd_bars[0].pb_size = PCI_MMIO32_SIZE * 2);
	REFUSE(d.pd_bars[5].pb_size = 0x1000; d.pd_bars[5].pb_64bit = true);
	REFUSE(d.pd_bars[3].pb_size = 0x1000);		/* upper half of 2 */
	REFUSE(d.pd_bars[4].pb_64bit = true);		/* empty BAR flags */
	REFUSE(d.pd_intx_pin = 5);
	REFUSE(d.pd_vendor = 0xffff);
	REFUSE(d.pd_name = NULL);
	REFUSE(d.pd_class = 0x1000000);
	REFUSE(d.pd_msix_nvec = PCI_MSIX_MAX_VECTORS + 1);
	REFUSE(d.pd_msix_nvec = 129);			/* table over PBA */
	REFUSE(d.pd_msix_pba_off = 0x1000 - 8);		/* PBA past the end */
	REFUSE(d.pd_msix_pba_off = 0x804);		/* not 8-aligned */
	REFUSE(d.pd_msix_table_bar = 1);		/* no such BAR */
	REFUSE(d.pd_msix_pba_bar = 6);
	REFUSE(d.pd_msix_pba_off = 0x40);		/* inside the table */
	REFUSE(d.pd_ncaps = PCI_MAX_CAPS + 1);
	REFUSE(d.pd_caps = NULL);
	caps[0].pc_data = big;
	caps[0].pc_wmask = NULL;
	caps[0].pc_len = 180;
	caps[1] = caps[0];
	caps[1].pc_len = 1;
	REFUSE(d.pd_caps = caps; d.pd_ncaps = 2);	/* too short */
	caps[1].pc_len = 8;
	REFUSE(d.pd_caps = caps; d.pd_ncaps = 2);	/* past 256 bytes */
#undef REFUSE
	/* 180 bytes alone fit after MSI-X. */
	d = ok;
	d.pd_caps = caps;
	d.pd_ncaps = 1;
	assert_int_equal(pci_add_device(t->pcb, &d, &p), 0);
	assert_int_equal(pci_dev_slot(p), 2);

	/* Slots run out at 31. */
	d = ok;
	d.pd_msix_nvec = 0;
	d.pd_bars[0].pb_size = 0;
	d.pd_bars[0].pb_ops = NULL;
	d.pd_bars[2] = d.pd_bars[0];
	for (i = 3; i <= 31; i++)
		assert_int_equal(pci_add_device(t->pcb, &d, &p), 0);
	assert_int_equal(pci_dev_slot(p), 31);
	assert_int_equal(pci_add_device(t->pcb, &d, &p), -ENOSPC);
	assert_int_equal(ecam_rd(t, 31, 0, 4), 0x10421af4);
}

/* Bridge creation: bad arguments, ranges taken, teardown. */
static void
test_bus_create(void **state)
{
	static const struct pci_irq_ops no_fire = { fake_intx, fake_update,
	    NULL };
	struct bus bus;
	struct bus_dev taken;
	struct pci_bus *pcb = NULL;
	struct fake_irq fi;

	(void)state;
	bus_init(&bus);
	assert_int_equal(pci_bus_create(&bus, &no_fire, &fi, &pcb), -EINVAL);
	assert_int_equal(pci_bus_create(NULL, &fake_ops, &fi, &pcb), -EINVAL);
	assert_int_equal(pci_bus_create(&bus, NULL, &fi, &pcb), -EINVAL);

	/* Something already at the ECAM address: nothing stays behind. */
	memset(&taken, 0, sizeof(taken));
	taken.bd_name = "taken";
	taken.bd_ops = &tbar_ops;
	taken.bd_base = PCI_ECAM_BASE + 0x1000;
	taken.bd_size = 0x1000;
	assert_int_equal(bus_register(&bus, BUS_MMIO, &taken), 0);
	assert_int_equal(pci_bus_create(&bus, &fake_ops, &fi, &pcb), -EEXIST);
	assert_null(pcb);
	assert_int_equal(bus.bu_ndevs[BUS_PIO], 0);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 1);
	assert_int_equal(bus_unregister(&bus, BUS_MMIO, &taken), 0);

	assert_int_equal(pci_bus_create(&bus, &fake_ops, &fi, &pcb), 0);
	assert_int_equal(bus.bu_ndevs[BUS_PIO], 1);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 1);
	pci_bus_destroy(pcb);
	pci_bus_destroy(NULL);
	assert_int_equal(bus.bu_ndevs[BUS_PIO], 0);
	assert_int_equal(bus.bu_ndevs[BUS_MMIO], 0);
}

/* The VM side's per-device pointer. */
static void
test_irq_data(void **state)
{
	struct tb *t = *state;
	int x;

	assert_null(pci_dev_irq_data(t->dev));
	pci_dev_set_irq_data(t->dev, &x);
	assert_ptr_equal(pci_dev_irq_data(t->dev), &x);
	assert_int_equal(pci_bar_addr(t->dev, 6), PCI_BAR_UNMAPPED);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, tb_setup, tb_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_host_bridge),
		T(test_conf1_ecam_same),
		T(test_conf1_address),
		T(test_absent),
		T(test_readonly),
		T(test_bar_sizing_32),
		T(test_bar_sizing_64),
		T(test_bar_alignment),
		T(test_bar_decode),
		T(test_bar_move),
		T(test_bar_collision),
		T(test_cap_walk),
		T(test_cap_write),
		T(test_msix_cap),
		T(test_msix_table_update),
		T(test_msix_pending),
		T(test_msix_function_mask),
		T(test_msix_disabled),
		T(test_msix_bad),
		T(test_msix_only_bar),
		T(test_intx),
		T(test_cfg_weird),
		T(test_add_invalid),
		T(test_irq_data),
		cmocka_unit_test(test_bus_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
