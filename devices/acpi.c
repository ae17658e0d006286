/*
 * ACPI table builder (ACPI 6.0): RSDP, XSDT, FADT, FACS, MADT, MCFG and
 * the DSDT compiled from devices/dsdt.asl.
 *
 * Section numbers below are those of the ACPI 6.0 specification, chapter 5
 * "ACPI Software Programming Model".  The platform described is a legacy
 * (not hardware-reduced) PC without CMOS RTC or VGA: KVM's in-kernel PIC,
 * IOAPIC, LAPICs and PIT, a COM1 UART, an i8042 used only for reset, and
 * the fixed-hardware PM1 registers of devices/acpi_pm.c, and the PCI host
 * bridge of devices/pci.c (MCFG here, \_SB.PCI0 in the DSDT).  docs/acpi.md
 * describes each table and why its fields have the values they have.
 *
 * All tables go into one caller-provided buffer that the caller copies to
 * guest-physical gpa_base, so that every pointer between tables is a
 * guest-physical address computed from gpa_base.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "acpi.h"
#include "pci.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ACPI tables are little-endian; acpi.c assumes a little-endian host"
#endif

/* The DSDT AML, generated from devices/dsdt.asl by devices/aml2c.sh. */
extern const unsigned char acpi_dsdt_aml[];
extern const size_t acpi_dsdt_aml_len;

#define ACPI_OEM_ID		"HULL  "	/* 6 bytes, space padded */
#define ACPI_OEM_REVISION	1
#define ACPI_CREATOR_ID		"HULL"
#define ACPI_CREATOR_REVISION	1

/* 5.2.3.2 Generic Address Structure. */
struct acpi_gas {
	uint8_t		ga_space;
	uint8_t		ga_bit_width;
	uint8_t		ga_bit_offset;
	uint8_t		ga_access_size;
	uint64_t	ga_address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO	1
#define ACPI_GAS_ACCESS_BYTE	1
#define ACPI_GAS_ACCESS_WORD	2

/* 5.2.5.3 Root System Description Pointer, revision 2. */
struct acpi_rsdp {
	char		rp_signature[8];	/* "RSD PTR " */
	uint8_t		rp_checksum;		/* first 20 bytes */
	char		rp_oem_id[6];
	uint8_t		rp_revision;		/* 2: ACPI 2.0 and later */
	uint32_t	rp_rsdt_addr;
	uint32_t	rp_length;
	uint64_t	rp_xsdt_addr;
	uint8_t		rp_ext_checksum;	/* whole structure */
	uint8_t		rp_reserved[3];
} __attribute__((packed));

#define ACPI_RSDP_V1_LEN	20

/* 5.2.6 System Description Table Header. */
struct acpi_header {
	char		ah_signature[4];
	uint32_t	ah_length;
	uint8_t		ah_revision;
	uint8_t		ah_checksum;
	char		ah_oem_id[6];
	char		ah_oem_table_id[8];
	uint32_t	ah_oem_revision;
	char		ah_creator_id[4];
	uint32_t	ah_creator_revision;
} __attribute__((packed));

/* 5.2.8 Extended System Description Table: the header, then 64-bit pointers. */
#define ACPI_XSDT_NENTRIES	3	/* FADT, MADT, MCFG */

/* 5.2.9 Fixed ACPI Description Table, revision 6 (ACPI 6.0). */
struct acpi_fadt {
	struct acpi_header fa_header;
	uint32_t	fa_firmware_ctrl;
	uint32_t	fa_dsdt;
	uint8_t		fa_reserved0;
	uint8_t		fa_pm_profile;
	uint16_t	fa_sci_int;
	uint32_t	fa_smi_cmd;
	uint8_t		fa_acpi_enable;
	uint8_t		fa_acpi_disable;
	uint8_t		fa_s4bios_req;
	uint8_t		fa_pstate_cnt;
	uint32_t	fa_pm1a_evt_blk;
	uint32_t	fa_pm1b_evt_blk;
	uint32_t	fa_pm1a_cnt_blk;
	uint32_t	fa_pm1b_cnt_blk;
	uint32_t	fa_pm2_cnt_blk;
	uint32_t	fa_pm_tmr_blk;
	uint32_t	fa_gpe0_blk;
	uint32_t	fa_gpe1_blk;
	uint8_t		fa_pm1_evt_len;
	uint8_t		fa_pm1_cnt_len;
	uint8_t		fa_pm2_cnt_len;
	uint8_t		fa_pm_tmr_len;
	uint8_t		fa_gpe0_blk_len;
	uint8_t		fa_gpe1_blk_len;
	uint8_t		fa_gpe1_base;
	uint8_t		fa_cst_cnt;
	uint16_t	fa_p_lvl2_lat;
	uint16_t	fa_p_lvl3_lat;
	uint16_t	fa_flush_size;
	uint16_t	fa_flush_stride;
	uint8_t		fa_duty_offset;
	uint8_t		fa_duty_width;
	uint8_t		fa_day_alrm;
	uint8_t		fa_mon_alrm;
	uint8_t		fa_century;
	uint16_t	fa_iapc_boot_arch;
	uint8_t		fa_reserved1;
	uint32_t	fa_flags;
	struct acpi_gas	fa_reset_reg;
	uint8_t		fa_reset_value;
	uint16_t	fa_arm_boot_arch;
	uint8_t		fa_minor_version;
	uint64_t	fa_x_firmware_ctrl;
	uint64_t	fa_x_dsdt;
	struct acpi_gas	fa_x_pm1a_evt_blk;
	struct acpi_gas	fa_x_pm1b_evt_blk;
	struct acpi_gas	fa_x_pm1a_cnt_blk;
	struct acpi_gas	fa_x_pm1b_cnt_blk;
	struct acpi_gas	fa_x_pm2_cnt_blk;
	struct acpi_gas	fa_x_pm_tmr_blk;
	struct acpi_gas	fa_x_gpe0_blk;
	struct acpi_gas	fa_x_gpe1_blk;
	struct acpi_gas	fa_sleep_control_reg;
	struct acpi_gas	fa_sleep_status_reg;
	uint64_t	fa_hypervisor_id;
} __attribute__((packed));

#define ACPI_FADT_REVISION	6
#define ACPI_FADT_MINOR		0

/* 5.2.9.3 IA-PC Boot Architecture Flags. */
#define ACPI_BOOT_LEGACY_DEVICES	(1u << 0)
#define ACPI_BOOT_8042			(1u << 1)
#define ACPI_BOOT_NO_VGA		(1u << 2)
#define ACPI_BOOT_NO_CMOS_RTC		(1u << 5)

/* 5.2.9 Table 5-34 Fixed ACPI Description Table Fixed Feature Flags. */
#define ACPI_FADT_WBINVD		(1u << 0)
#define ACPI_FADT_PROC_C1		(1u << 2)
#define ACPI_FADT_PWR_BUTTON		(1u << 4)	/* 0: fixed feature */
#define ACPI_FADT_SLP_BUTTON		(1u << 5)	/* 1: none fixed */
#define ACPI_FADT_FIX_RTC		(1u << 6)	/* 1: no RTC_STS */
#define ACPI_FADT_RESET_REG_SUP		(1u << 10)

/* C2/C3 latencies above these limits mean "not supported" (5.2.9). */
#define ACPI_FADT_NO_C2_LAT	101
#define ACPI_FADT_NO_C3_LAT	1001

/* The i8042 turns command 0xfe on port 0x64 into a reset (include/i8042.h). */
#define ACPI_RESET_PORT		0x64
#define ACPI_RESET_VALUE	0xfe

/* 5.2.10 Firmware ACPI Control Structure; 64-byte aligned, no checksum. */
struct acpi_facs {
	char		fc_signature[4];	/* "FACS" */
	uint32_t	fc_length;
	uint32_t	fc_hw_signature;
	uint32_t	fc_waking_vector;
	uint32_t	fc_global_lock;
	uint32_t	fc_flags;
	uint64_t	fc_x_waking_vector;
	uint8_t		fc_version;
	uint8_t		fc_reserved0[3];
	uint32_t	fc_ospm_flags;
	uint8_t		fc_reserved1[24];
} __attribute__((packed));

#define ACPI_FACS_VERSION	2
#define ACPI_FACS_ALIGN		64

/* 5.2.12 Multiple APIC Description Table. */
struct acpi_madt {
	struct acpi_header ma_header;
	uint32_t	ma_lapic_addr;
	uint32_t	ma_flags;
} __attribute__((packed));

#define ACPI_MADT_REVISION	4	/* ACPI 6.0 */
#define ACPI_MADT_PCAT_COMPAT	(1u << 0)	/* dual 8259 present */

/* 5.2.12.2 Processor Local APIC Structure. */
struct acpi_madt_lapic {
	uint8_t		ml_type;		/* 0 */
	uint8_t		ml_length;		/* 8 */
	uint8_t		ml_uid;
	uint8_t		ml_apic_id;
	uint32_t	ml_flags;
} __attribute__((packed));

#define ACPI_MADT_LAPIC		0
#define ACPI_MADT_LAPIC_ENABLED	(1u << 0)

/* 5.2.12.3 I/O APIC Structure. */
struct acpi_madt_ioapic {
	uint8_t		mi_type;		/* 1 */
	uint8_t		mi_length;		/* 12 */
	uint8_t		mi_id;
	uint8_t		mi_reserved;
	uint32_t	mi_addr;
	uint32_t	mi_gsi_base;
} __attribute__((packed));

#define ACPI_MADT_IOAPIC	1
/* KVM's in-kernel IOAPIC resets its ID register to 0; say the same. */
#define ACPI_IOAPIC_ID		0

/* 5.2.12.5 Interrupt Source Override Structure. */
struct acpi_madt_iso {
	uint8_t		mo_type;		/* 2 */
	uint8_t		mo_length;		/* 10 */
	uint8_t		mo_bus;			/* 0: ISA */
	uint8_t		mo_source;		/* ISA IRQ */
	uint32_t	mo_gsi;
	uint16_t	mo_flags;		/* MPS INTI flags */
} __attribute__((packed));

#define ACPI_MADT_ISO		2
/* MPS INTI flags (Table 5-50): polarity bits 0-1, trigger mode bits 2-3. */
#define ACPI_MPS_CONFORMS	0x0
#define ACPI_MPS_HIGH_LEVEL	0xd	/* active high (01), level (11) */

/* 5.2.12.7 Local APIC NMI Structure. */
struct acpi_madt_lapic_nmi {
	uint8_t		mn_type;		/* 4 */
	uint8_t		mn_length;		/* 6 */
	uint8_t		mn_uid;			/* 0xff: all processors */
	uint16_t	mn_flags;
	uint8_t		mn_lint;
} __attribute__((packed));

#define ACPI_MADT_LAPIC_NMI	4
#define ACPI_UID_ALL		0xff

/* The overrides: the PIT's IRQ0 is wired to IOAPIC pin 2; the SCI is level. */
#define ACPI_MADT_NISO		2

/*
 * PCI Firmware Specification 3.0, 4.1.2 "MCFG Table Description": the
 * header, 8 reserved bytes, then one allocation per ECAM range.
 */
struct acpi_mcfg_alloc {
	uint64_t	mc_base;	/* ECAM address of bus mc_bus_start */
	uint16_t	mc_segment;
	uint8_t		mc_bus_start;
	uint8_t		mc_bus_end;
	uint32_t	mc_reserved;
} __attribute__((packed));

#define ACPI_MCFG_REVISION	1
#define ACPI_MCFG_RESERVED	8
#define ACPI_MCFG_LEN		(sizeof(struct acpi_header) + \
				 ACPI_MCFG_RESERVED + \
				 sizeof(struct acpi_mcfg_alloc))

_Static_assert(sizeof(struct acpi_gas) == 12, "GAS layout");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "header layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout");
_Static_assert(offsetof(struct acpi_fadt, fa_x_dsdt) == 140, "FADT layout");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT layout");
_Static_assert(sizeof(struct acpi_madt_lapic) == 8, "MADT LAPIC layout");
_Static_assert(sizeof(struct acpi_madt_ioapic) == 12, "MADT IOAPIC layout");
_Static_assert(sizeof(struct acpi_madt_iso) == 10, "MADT ISO layout");
_Static_assert(sizeof(struct acpi_madt_lapic_nmi) == 6, "MADT NMI layout");
_Static_assert(sizeof(struct acpi_mcfg_alloc) == 16, "MCFG layout");
/* One ECAM range for bus 0 (1 MiB per bus, PCIe 7.2.2). */
_Static_assert(PCI_ECAM_SIZE == 1u << 20, "MCFG describes bus 0 only");

/* Where each table goes, as offsets into the buffer. */
struct acpi_layout {
	size_t	al_rsdp, al_xsdt, al_fadt, al_facs, al_madt, al_mcfg, al_dsdt;
	size_t	al_xsdt_len, al_madt_len;
	size_t	al_end;
};

static uint8_t
acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len-- > 0)
		sum += *b++;
	return (uint8_t)-sum;
}

/* Advance off so that gpa_base + off is a multiple of align (a power of 2). */
static size_t
acpi_align(uint64_t gpa_base, size_t off, size_t align)
{
	uint64_t gpa = gpa_base + off;

	return off + (size_t)(((gpa + align - 1) & ~(uint64_t)(align - 1)) - gpa);
}

static void
acpi_layout(const struct acpi_cfg *cfg, uint64_t gpa_base,
    struct acpi_layout *l)
{
	/* The RSDP comes first: gpa_base is 16-aligned, as the scan needs. */
	l->al_rsdp = 0;
	l->al_xsdt = acpi_align(gpa_base, sizeof(struct acpi_rsdp), 16);
	l->al_xsdt_len = sizeof(struct acpi_header) +
	    ACPI_XSDT_NENTRIES * sizeof(uint64_t);
	l->al_fadt = acpi_align(gpa_base, l->al_xsdt + l->al_xsdt_len, 16);
	l->al_facs = acpi_align(gpa_base, l->al_fadt + sizeof(struct acpi_fadt),
	    ACPI_FACS_ALIGN);
	l->al_madt = acpi_align(gpa_base, l->al_facs + sizeof(struct acpi_facs),
	    16);
	l->al_madt_len = sizeof(struct acpi_madt) +
	    cfg->ac_ncpus * sizeof(struct acpi_madt_lapic) +
	    sizeof(struct acpi_madt_ioapic) +
	    ACPI_MADT_NISO * sizeof(struct acpi_madt_iso) +
	    sizeof(struct acpi_madt_lapic_nmi);
	l->al_mcfg = acpi_align(gpa_base, l->al_madt + l->al_madt_len, 16);
	l->al_dsdt = acpi_align(gpa_base, l->al_mcfg + ACPI_MCFG_LEN, 16);
	l->al_end = l->al_dsdt + acpi_dsdt_aml_len;
}

static void
acpi_header_init(struct acpi_header *h, const char sig[4], size_t len,
    uint8_t rev, const char table_id[8])
{
	memcpy(h->ah_signature, sig, sizeof(h->ah_signature));
	h->ah_length = (uint32_t)len;
	h->ah_revision = rev;
	h->ah_checksum = 0;
	memcpy(h->ah_oem_id, ACPI_OEM_ID, sizeof(h->ah_oem_id));
	memcpy(h->ah_oem_table_id, table_id, sizeof(h->ah_oem_table_id));
	h->ah_oem_revision = ACPI_OEM_REVISION;
	memcpy(h->ah_creator_id, ACPI_CREATOR_ID, sizeof(h->ah_creator_id));
	h->ah_creator_revision = ACPI_CREATOR_REVISION;
}

/* Set the checksum of the table of len bytes at p (header at its start). */
static void
acpi_table_sum(uint8_t *p, size_t len)
{
	p[offsetof(struct acpi_header, ah_checksum)] = 0;
	p[offsetof(struct acpi_header, ah_checksum)] = acpi_checksum(p, len);
}

static void
acpi_gas_io(struct acpi_gas *g, uint16_t port, unsigned int len,
    uint8_t access)
{
	g->ga_space = ACPI_GAS_SYSTEM_IO;
	g->ga_bit_width = (uint8_t)(len * 8);
	g->ga_bit_offset = 0;
	g->ga_access_size = access;
	g->ga_address = port;
}

static void
acpi_build_rsdp(uint8_t *buf, const struct acpi_layout *l, uint64_t gpa_base)
{
	struct acpi_rsdp r;

	memset(&r, 0, sizeof(r));
	memcpy(r.rp_signature, "RSD PTR ", sizeof(r.rp_signature));
	memcpy(r.rp_oem_id, ACPI_OEM_ID, sizeof(r.rp_oem_id));
	r.rp_revision = 2;
	/* No RSDT: every OS that reads revision 2 uses the XSDT. */
	r.rp_rsdt_addr = 0;
	r.rp_length = sizeof(r);
	r.rp_xsdt_addr = gpa_base + l->al_xsdt;
	r.rp_checksum = acpi_checksum(&r, ACPI_RSDP_V1_LEN);
	r.rp_ext_checksum = acpi_checksum(&r, sizeof(r));
	memcpy(buf + l->al_rsdp, &r, sizeof(r));
}

static void
acpi_build_xsdt(uint8_t *buf, const struct acpi_layout *l, uint64_t gpa_base)
{
	struct acpi_header h;
	uint64_t ent[ACPI_XSDT_NENTRIES];
	uint8_t *p = buf + l->al_xsdt;

	acpi_header_init(&h, "XSDT", l->al_xsdt_len, 1, "HULLXSDT");
	ent[0] = gpa_base + l->al_fadt;
	ent[1] = gpa_base + l->al_madt;
	ent[2] = gpa_base + l->al_mcfg;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), ent, sizeof(ent));
	acpi_table_sum(p, l->al_xsdt_len);
}

static void
acpi_build_fadt(uint8_t *buf, const struct acpi_layout *l, uint64_t gpa_base)
{
	struct acpi_fadt f;

	memset(&f, 0, sizeof(f));
	acpi_header_init(&f.fa_header, "FACP", sizeof(f), ACPI_FADT_REVISION,
	    "HULLFACP");
	/*
	 * ACPI 6.0 5.2.9: when the X_ field holds the address, the 32-bit
	 * FIRMWARE_CTRL and DSDT fields must be 0.
	 */
	f.fa_x_firmware_ctrl = gpa_base + l->al_facs;
	f.fa_x_dsdt = gpa_base + l->al_dsdt;
	f.fa_pm_profile = 0;		/* unspecified */
	f.fa_sci_int = ACPI_SCI_IRQ;
	/* No SMI command port: the platform is always in ACPI mode. */
	f.fa_smi_cmd = 0;

	/*
	 * The PM1a blocks, in both the 32-bit and the GAS forms (ACPICA warns
	 * when the two disagree).  No PM1b, PM2, PM timer or GPE blocks.
	 */
	f.fa_pm1a_evt_blk = ACPI_PM1A_EVT_PORT;
	f.fa_pm1_evt_len = ACPI_PM1A_EVT_LEN;
	acpi_gas_io(&f.fa_x_pm1a_evt_blk, ACPI_PM1A_EVT_PORT, ACPI_PM1A_EVT_LEN,
	    ACPI_GAS_ACCESS_WORD);
	f.fa_pm1a_cnt_blk = ACPI_PM1A_CNT_PORT;
	f.fa_pm1_cnt_len = ACPI_PM1A_CNT_LEN;
	acpi_gas_io(&f.fa_x_pm1a_cnt_blk, ACPI_PM1A_CNT_PORT, ACPI_PM1A_CNT_LEN,
	    ACPI_GAS_ACCESS_WORD);

	f.fa_p_lvl2_lat = ACPI_FADT_NO_C2_LAT;
	f.fa_p_lvl3_lat = ACPI_FADT_NO_C3_LAT;
	/*
	 * 8042 is left clear: the i8042 only resets, and with the bit set
	 * Linux's i8042 driver probes the ports and waits for a keyboard that
	 * never answers.  Reset does not depend on it (RESET_REG below).
	 */
	f.fa_iapc_boot_arch = ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_NO_VGA |
	    ACPI_BOOT_NO_CMOS_RTC;
	/* PWR_BUTTON clear: the power button is the fixed-feature one. */
	f.fa_flags = ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 |
	    ACPI_FADT_SLP_BUTTON | ACPI_FADT_FIX_RTC | ACPI_FADT_RESET_REG_SUP;
	acpi_gas_io(&f.fa_reset_reg, ACPI_RESET_PORT, 1, ACPI_GAS_ACCESS_BYTE);
	f.fa_reset_value = ACPI_RESET_VALUE;
	f.fa_minor_version = ACPI_FADT_MINOR;

	f.fa_header.ah_checksum = acpi_checksum(&f, sizeof(f));
	memcpy(buf + l->al_fadt, &f, sizeof(f));
}

static void
acpi_build_facs(uint8_t *buf, const struct acpi_layout *l)
{
	struct acpi_facs f;

	/*
	 * A legacy FADT needs a FACS: it holds the Global Lock, which ACPICA
	 * sets up at boot (no firmware ever contends for it here).
	 */
	memset(&f, 0, sizeof(f));
	memcpy(f.fc_signature, "FACS", sizeof(f.fc_signature));
	f.fc_length = sizeof(f);
	f.fc_version = ACPI_FACS_VERSION;
	memcpy(buf + l->al_facs, &f, sizeof(f));
}

static void
acpi_build_madt(const struct acpi_cfg *cfg, uint8_t *buf,
    const struct acpi_layout *l)
{
	static const struct {
		uint8_t		irq;
		uint32_t	gsi;
		uint16_t	flags;
	} iso[ACPI_MADT_NISO] = {
		{ 0, 2, ACPI_MPS_CONFORMS },		/* PIT */
		{ ACPI_SCI_IRQ, ACPI_SCI_IRQ, ACPI_MPS_HIGH_LEVEL },
	};
	struct acpi_madt m;
	struct acpi_madt_lapic la;
	struct acpi_madt_ioapic io;
	struct acpi_madt_iso o;
	struct acpi_madt_lapic_nmi nmi;
	uint8_t *p = buf + l->al_madt, *q;
	unsigned int i;

	memset(&m, 0, sizeof(m));
	acpi_header_init(&m.ma_header, "APIC", l->al_madt_len,
	    ACPI_MADT_REVISION, "HULLAPIC");
	m.ma_lapic_addr = (uint32_t)ACPI_LAPIC_GPA;
	m.ma_flags = ACPI_MADT_PCAT_COMPAT;
	memcpy(p, &m, sizeof(m));
	q = p + sizeof(m);

	/* Processor UID i is APIC ID i; the BSP (APIC ID 0) comes first. */
	for (i = 0; i < cfg->ac_ncpus; i++) {
		la.ml_type = ACPI_MADT_LAPIC;
		la.ml_length = sizeof(la);
		la.ml_uid = (uint8_t)i;
		la.ml_apic_id = (uint8_t)i;
		la.ml_flags = ACPI_MADT_LAPIC_ENABLED;
		memcpy(q, &la, sizeof(la));
		q += sizeof(la);
	}

	io.mi_type = ACPI_MADT_IOAPIC;
	io.mi_length = sizeof(io);
	io.mi_id = ACPI_IOAPIC_ID;
	io.mi_reserved = 0;
	io.mi_addr = (uint32_t)ACPI_IOAPIC_GPA;
	io.mi_gsi_base = 0;
	memcpy(q, &io, sizeof(io));
	q += sizeof(io);

	for (i = 0; i < ACPI_MADT_NISO; i++) {
		o.mo_type = ACPI_MADT_ISO;
		o.mo_length = sizeof(o);
		o.mo_bus = 0;
		o.mo_source = iso[i].irq;
		o.mo_gsi = iso[i].gsi;
		o.mo_flags = iso[i].flags;
		memcpy(q, &o, sizeof(o));
		q += sizeof(o);
	}

	/* LINT1 is the NMI input of every LAPIC, as on a PC. */
	nmi.mn_type = ACPI_MADT_LAPIC_NMI;
	nmi.mn_length = sizeof(nmi);
	nmi.mn_uid = ACPI_UID_ALL;
	nmi.mn_flags = ACPI_MPS_CONFORMS;
	nmi.mn_lint = 1;
	memcpy(q, &nmi, sizeof(nmi));
	q += sizeof(nmi);

	assert((size_t)(q - p) == l->al_madt_len);
	acpi_table_sum(p, l->al_madt_len);
}

/*
 * Where the PCI host bridge's ECAM is.  Linux uses it only once the range
 * is also reserved by a PNP0C02 device's _CRS in the DSDT (\_SB.ECAM)
 * or in the e820 map: see docs/pci.md.
 */
static void
acpi_build_mcfg(uint8_t *buf, const struct acpi_layout *l)
{
	struct acpi_header h;
	struct acpi_mcfg_alloc a;
	uint8_t *p = buf + l->al_mcfg;

	acpi_header_init(&h, "MCFG", ACPI_MCFG_LEN, ACPI_MCFG_REVISION,
	    "HULLMCFG");
	memset(&a, 0, sizeof(a));
	a.mc_base = PCI_ECAM_BASE;
	a.mc_segment = 0;
	a.mc_bus_start = 0;
	a.mc_bus_end = 0;
	memcpy(p, &h, sizeof(h));
	memset(p + sizeof(h), 0, ACPI_MCFG_RESERVED);
	memcpy(p + sizeof(h) + ACPI_MCFG_RESERVED, &a, sizeof(a));
	acpi_table_sum(p, ACPI_MCFG_LEN);
}

static void
acpi_build_dsdt(uint8_t *buf, const struct acpi_layout *l)
{
	struct acpi_header h;

	/* iasl wrote the header and checksum; check we embed what we think. */
	assert(acpi_dsdt_aml_len >= sizeof(h));
	memcpy(&h, acpi_dsdt_aml, sizeof(h));
	assert(memcmp(h.ah_signature, "DSDT", 4) == 0);
	assert(h.ah_length == acpi_dsdt_aml_len);
	memcpy(buf + l->al_dsdt, acpi_dsdt_aml, acpi_dsdt_aml_len);
}

long
acpi_build(const struct acpi_cfg *cfg, uint8_t *buf, size_t bufsz,
    uint64_t gpa_base, uint64_t *rsdp_gpa)
{
	struct acpi_layout l;

	if (cfg == NULL || cfg->ac_ncpus == 0 || cfg->ac_ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	/* The RSDP is found by a scan on 16-byte boundaries. */
	if (gpa_base % 16 != 0)
		return -EINVAL;

	acpi_layout(cfg, gpa_base, &l);

	if (l.al_end > UINT64_MAX - gpa_base)
		return -EINVAL;
	if (l.al_end > bufsz)
		return -ENOSPC;

	/* Alignment gaps are zero, not leftovers from the caller's buffer. */
	memset(buf, 0, l.al_end);
	acpi_build_xsdt(buf, &l, gpa_base);
	acpi_build_fadt(buf, &l, gpa_base);
	acpi_build_facs(buf, &l);
	acpi_build_madt(cfg, buf, &l);
	acpi_build_mcfg(buf, &l);
	acpi_build_dsdt(buf, &l);
	acpi_build_rsdp(buf, &l, gpa_base);

	if (rsdp_gpa != NULL)
		*rsdp_gpa = gpa_base + l.al_rsdp;
	return (long)l.al_end;
}
