/*
 * Unit tests for the ACPI tables (devices/acpi.c, with the MCFG and the
 * DSDT's PCI host bridge checked against include/pci.h) and the PM1
 * register device (devices/acpi_pm.c).  The tables are decoded here from the byte
 * offsets of the ACPI 6.0 specification, not from acpi.c's structures, so
 * that a layout mistake there cannot hide itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "acpi.h"
#include "bus.h"
#include "pci.h"
#include "vm.h"

extern const unsigned char acpi_dsdt_aml[];
extern const size_t acpi_dsdt_aml_len;

/* Little-endian field readers. */
static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t
sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len-- > 0)
		s += *p++;
	return s;
}

/* A built table set, with the tables located through the pointers. */
struct tables {
	uint8_t		*buf;
	size_t		 len;
	uint64_t	 base;
	const uint8_t	*rsdp, *xsdt, *fadt, *facs, *madt, *mcfg, *dsdt;
};

/* The table at gpa, checked to lie inside the build with its length. */
static const uint8_t *
table_at(const struct tables *t, uint64_t gpa, size_t minlen)
{
	uint64_t off;

	assert_true(gpa >= t->base);
	off = gpa - t->base;
	assert_true(off < t->len);
	assert_true(minlen <= t->len - off);
	return t->buf + off;
}

/* Check the common header: signature, length inside the build, checksum. */
static void
check_sdt(const struct tables *t, const uint8_t *p, const char *sig)
{
	uint32_t len;

	assert_memory_equal(p, sig, 4);
	len = rd32(p + 4);
	assert_true(len >= 36);
	assert_true(len <= t->len - (size_t)(p - t->buf));
	assert_int_equal(sum8(p, len), 0);
	if (strcmp(sig, "DSDT") != 0) {
		assert_memory_equal(p + 10, "HULL  ", 6);
		assert_memory_equal(p + 28, "HULL", 4);
	}
}

static void
build_tables(struct tables *t, unsigned int ncpus)
{
	struct acpi_cfg cfg = { .ac_ncpus = ncpus };
	uint64_t rsdp_gpa = 0, ent;
	uint32_t n, i;
	long len;

	memset(t, 0, sizeof(*t));
	t->base = ACPI_TABLES_GPA;
	t->buf = malloc(ACPI_TABLES_SIZE);
	assert_non_null(t->buf);
	len = acpi_build(&cfg, t->buf, ACPI_TABLES_SIZE, t->base, &rsdp_gpa);
	assert_true(len > 0);
	assert_true((size_t)len <= ACPI_TABLES_SIZE);
	t->len = (size_t)len;

	/* RSDP: 16-aligned, revision 2, both checksums, 36 bytes. */
	assert_int_equal(rsdp_gpa % 16, 0);
	t->rsdp = table_at(t, rsdp_gpa, 36);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum8(t->rsdp, 20), 0);
	assert_int_equal(t->rsdp[15], 2);
	assert_memory_equal(t->rsdp + 9, "HULL  ", 6);
	assert_int_equal(rd32(t->rsdp + 20), 36);
	assert_int_equal(sum8(t->rsdp, 36), 0);

	/* XSDT: exactly the FADT, the MADT and the MCFG. */
	t->xsdt = table_at(t, rd64(t->rsdp + 24), 36);
	check_sdt(t, t->xsdt, "XSDT");
	n = (rd32(t->xsdt + 4) - 36) / 8;
	assert_int_equal(rd32(t->xsdt + 4), 36 + n * 8);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		const uint8_t *p;

		ent = rd64(t->xsdt + 36 + 8 * i);
		p = table_at(t, ent, 36);
		if (memcmp(p, "FACP", 4) == 0) {
			assert_null(t->fadt);
			t->fadt = p;
		} else if (memcmp(p, "APIC", 4) == 0) {
			assert_null(t->madt);
			t->madt = p;
		} else if (memcmp(p, "MCFG", 4) == 0) {
			assert_null(t->mcfg);
			t->mcfg = p;
		} else
			fail_msg("unexpected table %.4s in the XSDT", p);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	assert_non_null(t->mcfg);
	check_sdt(t, t->fadt, "FACP");
	check_sdt(t, t->madt, "APIC");
	check_sdt(t, t->mcfg, "MCFG");

	/* FADT -> DSDT and FACS through the 64-bit fields. */
	assert_int_equal(rd32(t->fadt + 4), 276);
	t->dsdt = table_at(t, rd64(t->fadt + 140), 36);
	check_sdt(t, t->dsdt, "DSDT");
	assert_int_equal(rd32(t->dsdt + 4), acpi_dsdt_aml_len);
	assert_memory_equal(t->dsdt, acpi_dsdt_aml, acpi_dsdt_aml_len);
	assert_int_equal(rd64(t->fadt + 132) % 64, 0);
	t->facs = table_at(t, rd64(t->fadt + 132), 64);
	assert_memory_equal(t->facs, "FACS", 4);
	assert_int_equal(rd32(t->facs + 4), 64);
}

static void
free_tables(struct tables *t)
{
	free(t->buf);
	t->buf = NULL;
}

/* MADT: one enabled LAPIC per CPU, the IOAPIC, the overrides, LINT1 NMI. */
static void
check_madt(unsigned int ncpus)
{
	struct tables t;
	const uint8_t *p, *end;
	unsigned int nlapic = 0, nioapic = 0, nnmi = 0;
	int iso0 = 0, iso9 = 0;

	build_tables(&t, ncpus);
	assert_int_equal(t.madt[8], 4);			/* revision */
	assert_int_equal(rd32(t.madt + 36), 0xfee00000);
	assert_int_equal(rd32(t.madt + 40) & 1, 1);	/* PCAT_COMPAT */
	p = t.madt + 44;
	end = t.madt + rd32(t.madt + 4);
	while (p < end) {
		assert_true(p + 2 <= end);
		assert_true(p[1] >= 2);
		assert_true(p + p[1] <= end);
		switch (p[0]) {
		case 0:		/* Processor Local APIC */
			assert_int_equal(p[1], 8);
			assert_int_equal(p[2], nlapic);		/* UID */
			assert_int_equal(p[3], nlapic);		/* APIC ID */
			assert_int_equal(rd32(p + 4), 1);	/* enabled */
			nlapic++;
			break;
		case 1:		/* I/O APIC */
			assert_int_equal(p[1], 12);
			assert_int_equal(p[2], 0);		/* ID */
			assert_int_equal(rd32(p + 4), 0xfec00000);
			assert_int_equal(rd32(p + 8), 0);	/* GSI base */
			nioapic++;
			break;
		case 2:		/* Interrupt Source Override */
			assert_int_equal(p[1], 10);
			assert_int_equal(p[2], 0);		/* ISA */
			if (p[3] == 0) {
				assert_int_equal(rd32(p + 4), 2);
				assert_int_equal(rd16(p + 8), 0);
				iso0++;
			} else if (p[3] == 9) {
				assert_int_equal(rd32(p + 4), 9);
				assert_int_equal(rd16(p + 8), 0xd);
				iso9++;
			} else
				fail_msg("override for IRQ %u", p[3]);
			break;
		case 4:		/* Local APIC NMI */
			assert_int_equal(p[1], 6);
			assert_int_equal(p[2], 0xff);		/* all CPUs */
			assert_int_equal(rd16(p + 3), 0);
			assert_int_equal(p[5], 1);		/* LINT1 */
			nnmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", p[0]);
		}
		p += p[1];
	}
	assert_ptr_equal(p, end);
	assert_int_equal(nlapic, ncpus);
	assert_int_equal(nioapic, 1);
	assert_int_equal(iso0, 1);
	assert_int_equal(iso9, 1);
	assert_int_equal(nnmi, 1);
	free_tables(&t);
}

static void
test_madt_1(void **state)
{
	(void)state;
	check_madt(1);
}

static void
test_madt_2(void **state)
{
	(void)state;
	check_madt(2);
}

static void
test_madt_64(void **state)
{
	(void)state;
	check_madt(64);
}

static void
test_madt_255(void **state)
{
	(void)state;
	check_madt(255);
}

static void
test_fadt_fields(void **state)
{
	struct tables t;
	const uint8_t *f;
	uint32_t flags;

	(void)state;
	build_tables(&t, 4);
	f = t.fadt;
	assert_int_equal(f[8], 6);			/* revision */
	assert_int_equal(f[131], 0);			/* minor version */
	assert_int_equal(rd32(f + 36), 0);		/* FIRMWARE_CTRL: X_ used */
	assert_int_equal(rd32(f + 40), 0);		/* DSDT: X_DSDT used */
	assert_int_equal(rd16(f + 46), 9);		/* SCI_INT */
	assert_int_equal(rd32(f + 48), 0);		/* SMI_CMD */
	assert_int_equal(rd32(f + 56), 0x600);		/* PM1a_EVT_BLK */
	assert_int_equal(rd32(f + 60), 0);		/* PM1b_EVT_BLK */
	assert_int_equal(rd32(f + 64), 0x604);		/* PM1a_CNT_BLK */
	assert_int_equal(rd32(f + 68), 0);		/* PM1b_CNT_BLK */
	assert_int_equal(rd32(f + 76), 0);		/* PM_TMR_BLK */
	assert_int_equal(rd32(f + 80), 0);		/* GPE0_BLK */
	assert_int_equal(f[88], 4);			/* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);			/* PM1_CNT_LEN */
	assert_int_equal(f[91], 0);			/* PM_TMR_LEN */
	assert_int_equal(f[92], 0);			/* GPE0_BLK_LEN */
	assert_true(rd16(f + 96) > 100);		/* no C2 */
	assert_true(rd16(f + 98) > 1000);		/* no C3 */
	/* Legacy devices, no 8042 keyboard, no VGA, no CMOS RTC; MSI allowed. */
	assert_int_equal(rd16(f + 109), 0x25);

	flags = rd32(f + 112);
	assert_int_equal(flags & (1u << 4), 0);		/* PWR_BUTTON: fixed */
	assert_int_equal(flags & (1u << 5), 1u << 5);	/* no fixed SLP_BUTTON */
	assert_int_equal(flags & (1u << 20), 0);	/* not HW_REDUCED */
	assert_int_equal(flags & (1u << 10), 1u << 10);	/* RESET_REG_SUP */
	/* RESET_REG: the i8042 command port, value 0xfe. */
	assert_int_equal(f[116], 1);
	assert_int_equal(f[117], 8);
	assert_int_equal(rd64(f + 120), 0x64);
	assert_int_equal(f[128], 0xfe);

	/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK agree with the 32-bit fields. */
	assert_int_equal(f[148], 1);			/* SystemIO */
	assert_int_equal(f[149], 32);
	assert_int_equal(rd64(f + 152), 0x600);
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(rd64(f + 176), 0x604);
	assert_int_equal(rd64(f + 160 + 4), 0);		/* no X_PM1b_EVT */
	assert_int_equal(rd64(f + 208 + 4), 0);		/* no X_PM_TMR */
	assert_int_equal(rd64(f + 220 + 4), 0);		/* no X_GPE0 */

	free_tables(&t);
}

/* The DSDT names the things the brief asked for. */
static int
aml_has(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + n <= acpi_dsdt_aml_len; i++)
		if (memcmp(acpi_dsdt_aml + i, s, n) == 0)
			return 1;
	return 0;
}

static void
test_dsdt_content(void **state)
{
	/* EisaId("PNP0501") = 0x0105d041, little-endian in the AML. */
	static const char pnp0501[] = { 0x41, (char)0xd0, 0x05, 0x01 };
	/* Package (4) { 5, 5, 0, 0 } right after the _S5_ name. */
	static const char s5[] = { '_', 'S', '5', '_', 0x12 };

	(void)state;
	assert_true(aml_has("DSDT", 4));
	assert_true(aml_has(s5, sizeof(s5)));
	assert_true(aml_has("COM1", 4));
	assert_true(aml_has(pnp0501, sizeof(pnp0501)));
	assert_int_equal(ACPI_S5_SLP_TYP, 5);
}

/*
 * MCFG (PCI Firmware 3.0, 4.1.2): 36-byte header, 8 reserved bytes, one
 * 16-byte allocation: ECAM base, segment 0, buses 0-0.
 */
static void
test_mcfg(void **state)
{
	struct tables t;
	const uint8_t *a;
	size_t i;

	(void)state;
	build_tables(&t, 2);
	assert_int_equal(rd32(t.mcfg + 4), 36 + 8 + 16);
	assert_int_equal(t.mcfg[8], 1);			/* revision */
	assert_memory_equal(t.mcfg + 16, "HULLMCFG", 8);
	for (i = 36; i < 44; i++)
		assert_int_equal(t.mcfg[i], 0);
	a = t.mcfg + 44;
	assert_int_equal(rd64(a), 0xe0000000ULL);
	assert_int_equal(rd64(a), PCI_ECAM_BASE);
	assert_int_equal(rd16(a + 8), 0);		/* segment */
	assert_int_equal(a[10], 0);			/* start bus */
	assert_int_equal(a[11], 0);			/* end bus */
	assert_int_equal(rd32(a + 12), 0);
	/* One bus is 1 MiB of ECAM: what the bridge registers. */
	assert_int_equal(PCI_ECAM_SIZE, (uint64_t)(a[11] - a[10] + 1) << 20);
	/* 16-byte aligned like every other table. */
	assert_int_equal((t.base + (size_t)(t.mcfg - t.buf)) % 16, 0);
	free_tables(&t);
}

static void
put32le(char *p, uint32_t v)
{
	p[0] = (char)v;
	p[1] = (char)(v >> 8);
	p[2] = (char)(v >> 16);
	p[3] = (char)(v >> 24);
}

/*
 * \_SB.PCI0 and \_SB.ECAM: names, IDs, and _CRS descriptors (ACPI 6.0
 * 6.4.2, 6.4.3) with the numbers of include/pci.h.
 */
static void
test_dsdt_pci(void **state)
{
	/* EisaId: PNP0A08, PNP0A03, PNP0C02, little-endian in the AML. */
	static const char pnp0a08[] = { 0x41, (char)0xd0, 0x0a, 0x08 };
	static const char pnp0a03[] = { 0x41, (char)0xd0, 0x0a, 0x03 };
	static const char pnp0c02[] = { 0x41, (char)0xd0, 0x0c, 0x02 };
	/* IO (Decode16, 0xcf8, 0xcf8, 1, 8): the config ports, consumed. */
	static const char conf1[] = { 0x47, 0x01, (char)0xf8, 0x0c,
	    (char)0xf8, 0x0c, 0x01, 0x08 };
	/* WordBusNumber: producer, bus 0 to 0, length 1. */
	static const char busnr[] = { (char)0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00 };
	char io[10], mem[16], ecam[12], prt[16];
	unsigned int slot, pin, gsi;
	size_t n;

	(void)state;
	assert_true(aml_has("PCI0", 4));
	assert_true(aml_has("_PRT", 4));
	assert_true(aml_has("_SEG", 4));
	assert_true(aml_has("_BBN", 4));
	assert_true(aml_has("ECAM", 4));
	assert_true(aml_has(pnp0a08, sizeof(pnp0a08)));
	assert_true(aml_has(pnp0a03, sizeof(pnp0a03)));
	assert_true(aml_has(pnp0c02, sizeof(pnp0c02)));
	assert_true(aml_has(conf1, sizeof(conf1)));
	assert_true(aml_has(busnr, sizeof(busnr)));

	/* WordIO window: min, max, translation 0, length. */
	io[0] = (char)PCI_IO_WINDOW_BASE;
	io[1] = (char)(PCI_IO_WINDOW_BASE >> 8);
	io[2] = (char)PCI_IO_WINDOW_END;
	io[3] = (char)(PCI_IO_WINDOW_END >> 8);
	io[4] = io[5] = 0;
	io[6] = (char)(PCI_IO_WINDOW_END - PCI_IO_WINDOW_BASE + 1);
	io[7] = (char)((PCI_IO_WINDOW_END - PCI_IO_WINDOW_BASE + 1) >> 8);
	assert_true(aml_has(io, 8));

	/* DWordMemory window: min, max, translation 0, length. */
	put32le(mem, (uint32_t)PCI_MMIO32_BASE);
	put32le(mem + 4, (uint32_t)(PCI_MMIO32_BASE + PCI_MMIO32_SIZE - 1));
	put32le(mem + 8, 0);
	put32le(mem + 12, (uint32_t)PCI_MMIO32_SIZE);
	assert_true(aml_has(mem, sizeof(mem)));

	/* Memory32Fixed (ReadWrite, ECAM base, ECAM size) in ECAM's _CRS. */
	ecam[0] = (char)0x86;
	ecam[1] = 0x09;
	ecam[2] = 0x00;
	ecam[3] = 0x01;
	put32le(ecam + 4, (uint32_t)PCI_ECAM_BASE);
	put32le(ecam + 8, (uint32_t)PCI_ECAM_SIZE);
	assert_true(aml_has(ecam, sizeof(ecam)));

	/*
	 * _PRT: for every slot and pin, Package { 0xSSSSFFFF, pin, Zero, gsi }
	 * with gsi = PCI_INTX_GSI (pin counted from 1 there, from 0 here).
	 */
	for (slot = 1; slot <= PCI_MAX_SLOT; slot++) {
		for (pin = 0; pin < 4; pin++) {
			gsi = PCI_INTX_GSI(slot, pin + 1);
			assert_true(gsi >= 16 && gsi <= 23);
			n = 0;
			prt[n++] = 0x0c;		/* DWordPrefix */
			put32le(prt + n, slot << 16 | 0xffff);
			n += 4;
			if (pin <= 1)
				prt[n++] = (char)pin;	/* ZeroOp, OneOp */
			else {
				prt[n++] = 0x0a;	/* BytePrefix */
				prt[n++] = (char)pin;
			}
			prt[n++] = 0x00;		/* Zero: a GSI */
			prt[n++] = 0x0a;
			prt[n++] = (char)gsi;
			if (!aml_has(prt, n))
				fail_msg("_PRT: no entry for slot %u pin %u "
				    "-> GSI %u", slot, pin, gsi);
		}
	}
}

static void
test_bad_cfg(void **state)
{
	struct acpi_cfg cfg;
	uint8_t *buf = malloc(ACPI_TABLES_SIZE);
	uint64_t rsdp = 0x1234;

	(void)state;
	assert_non_null(buf);
	cfg.ac_ncpus = 0;
	assert_int_equal(acpi_build(&cfg, buf, ACPI_TABLES_SIZE,
	    ACPI_TABLES_GPA, &rsdp), -EINVAL);
	cfg.ac_ncpus = 256;
	assert_int_equal(acpi_build(&cfg, buf, ACPI_TABLES_SIZE,
	    ACPI_TABLES_GPA, &rsdp), -EINVAL);
	cfg.ac_ncpus = 100000;
	assert_int_equal(acpi_build(&cfg, buf, ACPI_TABLES_SIZE,
	    ACPI_TABLES_GPA, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(NULL, buf, ACPI_TABLES_SIZE,
	    ACPI_TABLES_GPA, &rsdp), -EINVAL);
	/* The RSDP must sit on a 16-byte boundary. */
	cfg.ac_ncpus = 1;
	assert_int_equal(acpi_build(&cfg, buf, ACPI_TABLES_SIZE,
	    ACPI_TABLES_GPA + 8, &rsdp), -EINVAL);
	/* Tables that would wrap the address space. */
	assert_int_equal(acpi_build(&cfg, buf, ACPI_TABLES_SIZE,
	    UINT64_MAX - 15, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0x1234);
	free(buf);
}

/* Exact-size heap buffers: ASan catches a single byte written past bufsz. */
static void
test_small_buffer(void **state)
{
	struct acpi_cfg cfg = { .ac_ncpus = 255 };
	uint64_t rsdp = 0;
	uint8_t *buf;
	size_t need, sz, i;
	long len;

	(void)state;
	buf = malloc(ACPI_TABLES_SIZE);
	assert_non_null(buf);
	len = acpi_build(&cfg, buf, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, &rsdp);
	assert_true(len > 0);
	need = (size_t)len;
	free(buf);

	for (sz = 0; sz < need; sz += (sz < 64 || need - sz < 64) ? 1 : 61) {
		buf = malloc(sz > 0 ? sz : 1);
		assert_non_null(buf);
		memset(buf, 0xa5, sz);
		rsdp = 0x77;
		assert_int_equal(acpi_build(&cfg, buf, sz, ACPI_TABLES_GPA,
		    &rsdp), -ENOSPC);
		assert_int_equal(rsdp, 0x77);
		for (i = 0; i < sz; i++)
			assert_int_equal(buf[i], 0xa5);
		free(buf);
	}

	buf = malloc(need);
	assert_non_null(buf);
	assert_int_equal(acpi_build(&cfg, buf, need, ACPI_TABLES_GPA, &rsdp),
	    (long)need);
	assert_int_equal(rsdp, ACPI_TABLES_GPA);
	free(buf);

	/* The largest configuration fits in the area reserved for it. */
	assert_true(need <= ACPI_TABLES_SIZE);
}

/* Every table's length and checksum, whatever the CPU count. */
static void
test_checksums(void **state)
{
	static const unsigned int n[] = { 1, 2, 3, 7, 64, 128, 254, 255 };
	struct tables t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		build_tables(&t, n[i]);
		assert_int_equal(rd32(t.madt + 4),
		    44 + 8 * n[i] + 12 + 2 * 10 + 6);
		assert_int_equal(rd32(t.xsdt + 4), 36 + 3 * 8);
		assert_int_equal(rd32(t.mcfg + 4), 60);
		free_tables(&t);
	}
}

/* The tables do not depend on the buffer's old contents. */
static void
test_deterministic(void **state)
{
	struct acpi_cfg cfg = { .ac_ncpus = 3 };
	uint8_t *a = malloc(ACPI_TABLES_SIZE), *b = malloc(ACPI_TABLES_SIZE);
	long la, lb;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	memset(a, 0x00, ACPI_TABLES_SIZE);
	memset(b, 0xff, ACPI_TABLES_SIZE);
	la = acpi_build(&cfg, a, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, NULL);
	lb = acpi_build(&cfg, b, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, NULL);
	assert_true(la > 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, (size_t)la);
	free(a);
	free(b);
}

/*
 * Optional: Debian's iasl disassembles every table without complaint.
 * Skipped when iasl is not installed.
 */
static int
write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void
test_iasl_decodes(void **state)
{
	static const char *const names[] = { "facp", "apic", "mcfg", "dsdt" };
	struct tables t;
	char dir[] = "/tmp/hull-acpi-XXXXXX", cmd[512], path[256];
	const uint8_t *tab[4];
	size_t i;
	int rc;

	(void)state;
	if (system("command -v iasl >/dev/null 2>&1") != 0)
		skip();
	build_tables(&t, 8);
	tab[0] = t.fadt;
	tab[1] = t.madt;
	tab[2] = t.mcfg;
	tab[3] = t.dsdt;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s.dat", dir, names[i]);
		assert_int_equal(write_file(path, tab[i], rd32(tab[i] + 4)), 0);
		/* Any "Error"/"Invalid"/"Incorrect" in the log is a failure. */
		snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >%s.log "
		    "2>&1 && test -s %s.dsl && ! grep -qiE "
		    "'error|invalid|incorrect|unknown' %s.log %s.dsl",
		    dir, names[i], names[i], names[i], names[i], names[i]);
		rc = system(cmd);
		if (rc != 0) {
			snprintf(cmd, sizeof(cmd), "cat %s/%s.log; grep -iE "
			    "'error|invalid|incorrect|unknown' %s/%s.dsl",
			    dir, names[i], dir, names[i]);
			(void)system(cmd);
		}
		assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free_tables(&t);
}

/* A fake VM: records the SCI level and stop requests. */
struct fake_vm {
	int		 fv_level;	/* -1: never driven */
	unsigned int	 fv_irq_calls;
	unsigned int	 fv_bad_gsi;
	unsigned int	 fv_stops;
	enum vm_stop	 fv_why;
};

static int
fake_set_irq(void *ctx, unsigned int gsi, int level)
{
	struct fake_vm *fv = ctx;

	if (gsi != ACPI_SCI_IRQ)
		fv->fv_bad_gsi++;
	fv->fv_level = level;
	fv->fv_irq_calls++;
	return 0;
}

static void
fake_stop(void *ctx, enum vm_stop why)
{
	struct fake_vm *fv = ctx;

	fv->fv_stops++;
	fv->fv_why = why;
}

struct pm_fixture {
	struct fake_vm	 pf_vm;
	struct vm_events pf_ev;
	struct acpi_pm	*pf_pm;
	struct bus	 pf_bus;
};

static int
pm_setup(void **state)
{
	struct pm_fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->pf_vm.fv_level = -1;
	f->pf_ev.ve_ctx = &f->pf_vm;
	f->pf_ev.ve_set_irq = fake_set_irq;
	f->pf_ev.ve_stop = fake_stop;
	f->pf_pm = acpi_pm_create(&f->pf_ev);
	if (f->pf_pm == NULL) {
		free(f);
		return -1;
	}
	bus_init(&f->pf_bus);
	if (acpi_pm_attach(f->pf_pm, &f->pf_bus) != 0) {
		acpi_pm_destroy(f->pf_pm);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
pm_teardown(void **state)
{
	struct pm_fixture *f = *state;

	acpi_pm_destroy(f->pf_pm);
	free(f);
	return 0;
}

/* Port accesses through the bus, as a vCPU exit would make them. */
static uint32_t
pio_in(struct pm_fixture *f, uint16_t port, size_t len)
{
	uint8_t b[4] = { 0 };

	assert_int_equal(bus_read(&f->pf_bus, BUS_PIO, port, b, len), 0);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static void
pio_out(struct pm_fixture *f, uint16_t port, size_t len, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 24) };

	assert_int_equal(bus_write(&f->pf_bus, BUS_PIO, port, b, len), 0);
}

#define STS	ACPI_PM1A_EVT_PORT
#define EN	(ACPI_PM1A_EVT_PORT + 2)
#define CNT	ACPI_PM1A_CNT_PORT
#define PWRBTN	(1u << 8)
#define SLP_EN	(1u << 13)
#define SLP_TYP(t) ((uint32_t)(t) << 10)

static void
test_pm_poweroff(void **state)
{
	struct pm_fixture *f = *state;

	/* ACPICA writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	pio_out(f, CNT, 2, SLP_TYP(5) | 1);
	assert_int_equal(f->pf_vm.fv_stops, 0);
	assert_int_equal(pio_in(f, CNT, 2), SLP_TYP(5) | 1);
	pio_out(f, CNT, 2, SLP_TYP(5) | SLP_EN | 1);
	assert_int_equal(f->pf_vm.fv_stops, 1);
	assert_int_equal(f->pf_vm.fv_why, VM_STOP_POWEROFF);
	/* SLP_EN is write-only; SCI_EN stays 1. */
	assert_int_equal(pio_in(f, CNT, 2) & SLP_EN, 0);
	assert_int_equal(pio_in(f, CNT, 2) & 1, 1);
}

static void
test_pm_poweroff_byte(void **state)
{
	struct pm_fixture *f = *state;

	/* SLP_TYP and SLP_EN are both in the high byte. */
	pio_out(f, CNT + 1, 1, (SLP_TYP(5) | SLP_EN) >> 8);
	assert_int_equal(f->pf_vm.fv_stops, 1);
	assert_int_equal(f->pf_vm.fv_why, VM_STOP_POWEROFF);
	/* A low-byte write does not touch SLP_TYP nor trigger anything. */
	pio_out(f, CNT, 1, 0xff);
	assert_int_equal(f->pf_vm.fv_stops, 1);
	assert_int_equal(pio_in(f, CNT + 1, 1), SLP_TYP(5) >> 8);
}

static void
test_pm_other_sleep_types(void **state)
{
	struct pm_fixture *f = *state;
	unsigned int typ;

	for (typ = 0; typ < 8; typ++) {
		if (typ == ACPI_S5_SLP_TYP)
			continue;
		pio_out(f, CNT, 2, SLP_TYP(typ) | SLP_EN | 1);
		pio_out(f, CNT + 1, 1, (SLP_TYP(typ) | SLP_EN) >> 8);
	}
	/* S5 without SLP_EN, and SLP_EN written as 0 in a byte access. */
	pio_out(f, CNT, 2, SLP_TYP(5));
	pio_out(f, CNT + 1, 1, SLP_TYP(5) >> 8);
	pio_out(f, CNT, 1, 0x01);
	assert_int_equal(f->pf_vm.fv_stops, 0);
	assert_int_equal(pio_in(f, CNT, 2), SLP_TYP(5) | 1);
}

static void
test_pm_power_button_disabled(void **state)
{
	struct pm_fixture *f = *state;

	acpi_pm_power_button(f->pf_pm);
	assert_int_equal(pio_in(f, STS, 2), PWRBTN);
	assert_true(f->pf_vm.fv_level != 1);
	/* Enabling it with the status pending raises the SCI. */
	pio_out(f, EN, 2, PWRBTN);
	assert_int_equal(f->pf_vm.fv_level, 1);
	assert_int_equal(pio_in(f, EN, 2), PWRBTN);
	/* Disabling lowers it again, status still pending. */
	pio_out(f, EN, 2, 0);
	assert_int_equal(f->pf_vm.fv_level, 0);
	assert_int_equal(pio_in(f, STS, 2), PWRBTN);
	assert_int_equal(f->pf_vm.fv_bad_gsi, 0);
}

static void
test_pm_power_button(void **state)
{
	struct pm_fixture *f = *state;

	pio_out(f, EN, 2, PWRBTN);
	assert_true(f->pf_vm.fv_level != 1);
	acpi_pm_power_button(f->pf_pm);
	assert_int_equal(f->pf_vm.fv_level, 1);
	assert_int_equal(pio_in(f, STS, 2) & PWRBTN, PWRBTN);
	/* Writing 0 clears nothing. */
	pio_out(f, STS, 2, 0);
	assert_int_equal(pio_in(f, STS, 2), PWRBTN);
	assert_int_equal(f->pf_vm.fv_level, 1);
	/* Write 1 to clear: status gone, SCI low. */
	pio_out(f, STS, 2, PWRBTN);
	assert_int_equal(pio_in(f, STS, 2), 0);
	assert_int_equal(f->pf_vm.fv_level, 0);
	/* Pressed again, cleared with a byte write to the high byte. */
	acpi_pm_power_button(f->pf_pm);
	assert_int_equal(f->pf_vm.fv_level, 1);
	pio_out(f, STS + 1, 1, PWRBTN >> 8);
	assert_int_equal(f->pf_vm.fv_level, 0);
	/* Pressed again, cleared by a 4-byte write that keeps PWRBTN_EN. */
	acpi_pm_power_button(f->pf_pm);
	assert_int_equal(pio_in(f, STS, 4), PWRBTN | PWRBTN << 16);
	pio_out(f, STS, 4, PWRBTN | PWRBTN << 16);
	assert_int_equal(f->pf_vm.fv_level, 0);
	assert_int_equal(pio_in(f, STS, 4), PWRBTN << 16);
	assert_int_equal(f->pf_vm.fv_bad_gsi, 0);
}

static void
test_pm_enable_bits(void **state)
{
	struct pm_fixture *f = *state;

	/* GBL_EN and PWRBTN_EN stick (ACPICA reads them back); others not. */
	pio_out(f, EN, 2, 0xffff);
	assert_int_equal(pio_in(f, EN, 2), (1u << 5) | PWRBTN);
	assert_int_equal(pio_in(f, EN, 1), 1u << 5);
	assert_int_equal(pio_in(f, EN + 1, 1), PWRBTN >> 8);
	/* A byte write to the low half keeps the high half. */
	pio_out(f, EN, 1, 0);
	assert_int_equal(pio_in(f, EN, 2), PWRBTN);
	/* No other status bits ever set; writing them is harmless. */
	pio_out(f, STS, 2, 0xffff);
	assert_int_equal(pio_in(f, STS, 2), 0);
	assert_true(f->pf_vm.fv_level != 1);
}

static void
test_pm_bad_access(void **state)
{
	static const struct {
		uint64_t	off;
		size_t		len;
		int		evt;
	} bad[] = {
		{ 0, 0, 1 }, { 0, 3, 1 }, { 0, 8, 1 }, { 4, 1, 1 },
		{ 3, 2, 1 }, { 2, 4, 1 }, { 1, 4, 1 }, { UINT64_MAX, 2, 1 },
		{ 0, 0, 0 }, { 0, 4, 0 }, { 0, 8, 0 }, { 1, 2, 0 },
		{ 2, 1, 0 }, { UINT64_MAX, 1, 0 },
	};
	struct pm_fixture *f = *state;
	struct bus_dev *evt = NULL, *cnt = NULL;
	uint8_t b[8];
	unsigned int i;
	int rc;

	/* Find the two ranges attach registered, by name. */
	for (i = 0; i < f->pf_bus.bu_ndevs[BUS_PIO]; i++) {
		struct bus_dev *d = f->pf_bus.bu_devs[BUS_PIO][i];

		if (strcmp(d->bd_name, "acpi-pm-evt") == 0)
			evt = d;
		if (strcmp(d->bd_name, "acpi-pm-cnt") == 0)
			cnt = d;
	}
	assert_non_null(evt);
	assert_non_null(cnt);
	assert_int_equal(evt->bd_base, 0x600);
	assert_int_equal(evt->bd_size, 4);
	assert_int_equal(cnt->bd_base, 0x604);
	assert_int_equal(cnt->bd_size, 2);

	acpi_pm_power_button(f->pf_pm);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bus_dev *d = bad[i].evt ? evt : cnt;

		memset(b, 0xff, sizeof(b));
		rc = d->bd_ops->read(d->bd_priv, bad[i].off, b, bad[i].len);
		assert_int_equal(rc, -EINVAL);
		rc = d->bd_ops->write(d->bd_priv, bad[i].off, b, bad[i].len);
		assert_int_equal(rc, -EINVAL);
	}
	/* Nothing changed: no power-off, status pending, nothing enabled. */
	assert_int_equal(f->pf_vm.fv_stops, 0);
	assert_int_equal(pio_in(f, STS, 4), PWRBTN);
	assert_true(f->pf_vm.fv_level != 1);

	/* Every good access works directly too, at every offset. */
	for (i = 0; i < 4; i++)
		assert_int_equal(evt->bd_ops->read(evt->bd_priv, i, b, 1), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(evt->bd_ops->read(evt->bd_priv, i, b, 2), 0);
	assert_int_equal(cnt->bd_ops->read(cnt->bd_priv, 1, b, 1), 0);
}

static void
test_pm_attach_twice(void **state)
{
	struct pm_fixture *f = *state;

	/* The ports are taken. */
	assert_int_equal(acpi_pm_attach(f->pf_pm, &f->pf_bus), -EEXIST);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksums),
		cmocka_unit_test(test_madt_1),
		cmocka_unit_test(test_madt_2),
		cmocka_unit_test(test_madt_64),
		cmocka_unit_test(test_madt_255),
		cmocka_unit_test(test_fadt_fields),
		cmocka_unit_test(test_dsdt_content),
		cmocka_unit_test(test_mcfg),
		cmocka_unit_test(test_dsdt_pci),
		cmocka_unit_test(test_bad_cfg),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_iasl_decodes),
		cmocka_unit_test_setup_teardown(test_pm_poweroff, pm_setup,
		    pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_poweroff_byte, pm_setup,
		    pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_other_sleep_types,
		    pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_power_button_disabled,
		    pm_setup, pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_power_button, pm_setup,
		    pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_enable_bits, pm_setup,
		    pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_bad_access, pm_setup,
		    pm_teardown),
		cmocka_unit_test_setup_teardown(test_pm_attach_twice, pm_setup,
		    pm_teardown),
	};

	return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
