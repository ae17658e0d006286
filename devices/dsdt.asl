/*
 * Hull's DSDT: the static part of the ACPI namespace (ACPI 6.0, chapter 5
 * "ACPI Software Programming Model" and chapter 19 "ACPI Source Language").
 *
 * Compiled by Debian's iasl at build time (devices/aml2c.sh, warnings are
 * errors).  Everything that depends on the VM configuration (CPUs, interrupt
 * routing) lives in the MADT built by devices/acpi.c; this block only names
 * the fixed platform devices and the sleep states.  docs/acpi.md explains it.
 *
 * To extend: new platform devices go in Scope (\_SB).  PCI devices need no
 * AML: Linux finds them by scanning \_SB.PCI0's bus (docs/pci.md).
 */
DefinitionBlock ("", "DSDT", 2, "HULL  ", "HULLDSDT", 1)
{
	/*
	 * Sleep states: Package { SLP_TYPa, SLP_TYPb, reserved, reserved }.
	 * Only S0 (working) and S5 (soft off) exist.  The OS writes SLP_TYPa
	 * with SLP_EN to PM1a_CNT; devices/acpi_pm.c turns S5 into a power-off.
	 * Keep the S5 value equal to ACPI_S5_SLP_TYP in include/acpi.h.
	 */
	Name (\_S0, Package (0x04) { 0x00, 0x00, 0x00, 0x00 })
	Name (\_S5, Package (0x04) { 0x05, 0x05, 0x00, 0x00 })

	Scope (\_SB)
	{
		/*
		 * COM1, the 16550A-compatible UART of devices/uart8250.c, so
		 * that Linux's PNP layer (8250_pnp) finds it.
		 */
		Device (COM1)
		{
			Name (_HID, EisaId ("PNP0501"))
			Name (_UID, 0x01)
			Name (_STA, 0x0F)
			Name (_CRS, ResourceTemplate ()
			{
				IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
				IRQNoFlags () { 4 }
			})
		}

		/*
		 * The PCI host bridge of devices/pci.c: segment 0, bus 0 only,
		 * configuration through ports 0xcf8-0xcff and the ECAM of the
		 * MCFG table.  The numbers repeat include/pci.h (PCI_*);
		 * devices/tests/test_acpi.c checks that they agree.
		 */
		Device (PCI0)
		{
			Name (_HID, EisaId ("PNP0A08"))		/* PCI Express */
			Name (_CID, EisaId ("PNP0A03"))		/* PCI */
			Name (_SEG, Zero)
			Name (_BBN, Zero)
			Name (_UID, Zero)
			Name (_STA, 0x0F)
			Name (_CRS, ResourceTemplate ()
			{
				WordBusNumber (ResourceProducer, MinFixed,
				    MaxFixed, PosDecode,
				    0x0000,		/* granularity */
				    0x0000,		/* bus 0 */
				    0x0000,		/* to bus 0 */
				    0x0000,		/* translation */
				    0x0001)		/* one bus */
				/* Consumed: the bridge's own config ports. */
				IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
				/* PCI_IO_WINDOW_BASE..END; no I/O BARs yet. */
				WordIO (ResourceProducer, MinFixed, MaxFixed,
				    PosDecode, EntireRange,
				    0x0000, 0x1000, 0xFFFF, 0x0000, 0xF000)
				/* PCI_MMIO32_BASE, PCI_MMIO32_SIZE: the BARs. */
				DWordMemory (ResourceProducer, PosDecode,
				    MinFixed, MaxFixed, NonCacheable, ReadWrite,
				    0x00000000, 0xC0000000, 0xDFFFFFFF,
				    0x00000000, 0x20000000)
			})

			/*
			 * INTx routing, straight to IOAPIC inputs (GSI form:
			 * source Zero).  Pin p (0 = INTA#) of slot s is GSI
			 * 16 + (s + p) % 8: PCI_INTX_GSI() in include/pci.h.
			 * Linux takes such entries as level, active low.
			 */
			Name (_PRT, Package ()
			{
				Package () { 0x0001FFFF, 0, Zero, 17 },
				Package () { 0x0001FFFF, 1, Zero, 18 },
				Package () { 0x0001FFFF, 2, Zero, 19 },
				Package () { 0x0001FFFF, 3, Zero, 20 },
				Package () { 0x0002FFFF, 0, Zero, 18 },
				Package () { 0x0002FFFF, 1, Zero, 19 },
				Package () { 0x0002FFFF, 2, Zero, 20 },
				Package () { 0x0002FFFF, 3, Zero, 21 },
				Package () { 0x0003FFFF, 0, Zero, 19 },
				Package () { 0x0003FFFF, 1, Zero, 20 },
				Package () { 0x0003FFFF, 2, Zero, 21 },
				Package () { 0x0003FFFF, 3, Zero, 22 },
				Package () { 0x0004FFFF, 0, Zero, 20 },
				Package () { 0x0004FFFF, 1, Zero, 21 },
				Package () { 0x0004FFFF, 2, Zero, 22 },
				Package () { 0x0004FFFF, 3, Zero, 23 },
				Package () { 0x0005FFFF, 0, Zero, 21 },
				Package () { 0x0005FFFF, 1, Zero, 22 },
				Package () { 0x0005FFFF, 2, Zero, 23 },
				Package () { 0x0005FFFF, 3, Zero, 16 },
				Package () { 0x0006FFFF, 0, Zero, 22 },
				Package () { 0x0006FFFF, 1, Zero, 23 },
				Package () { 0x0006FFFF, 2, Zero, 16 },
				Package () { 0x0006FFFF, 3, Zero, 17 },
				Package () { 0x0007FFFF, 0, Zero, 23 },
				Package () { 0x0007FFFF, 1, Zero, 16 },
				Package () { 0x0007FFFF, 2, Zero, 17 },
				Package () { 0x0007FFFF, 3, Zero, 18 },
				Package () { 0x0008FFFF, 0, Zero, 16 },
				Package () { 0x0008FFFF, 1, Zero, 17 },
				Package () { 0x0008FFFF, 2, Zero, 18 },
				Package () { 0x0008FFFF, 3, Zero, 19 },
				Package () { 0x0009FFFF, 0, Zero, 17 },
				Package () { 0x0009FFFF, 1, Zero, 18 },
				Package () { 0x0009FFFF, 2, Zero, 19 },
				Package () { 0x0009FFFF, 3, Zero, 20 },
				Package () { 0x000AFFFF, 0, Zero, 18 },
				Package () { 0x000AFFFF, 1, Zero, 19 },
				Package () { 0x000AFFFF, 2, Zero, 20 },
				Package () { 0x000AFFFF, 3, Zero, 21 },
				Package () { 0x000BFFFF, 0, Zero, 19 },
				Package () { 0x000BFFFF, 1, Zero, 20 },
				Package () { 0x000BFFFF, 2, Zero, 21 },
				Package () { 0x000BFFFF, 3, Zero, 22 },
				Package () { 0x000CFFFF, 0, Zero, 20 },
				Package () { 0x000CFFFF, 1, Zero, 21 },
				Package () { 0x000CFFFF, 2, Zero, 22 },
				Package () { 0x000CFFFF, 3, Zero, 23 },
				Package () { 0x000DFFFF, 0, Zero, 21 },
				Package () { 0x000DFFFF, 1, Zero, 22 },
				Package () { 0x000DFFFF, 2, Zero, 23 },
				Package () { 0x000DFFFF, 3, Zero, 16 },
				Package () { 0x000EFFFF, 0, Zero, 22 },
				Package () { 0x000EFFFF, 1, Zero, 23 },
				Package () { 0x000EFFFF, 2, Zero, 16 },
				Package () { 0x000EFFFF, 3, Zero, 17 },
				Package () { 0x000FFFFF, 0, Zero, 23 },
				Package () { 0x000FFFFF, 1, Zero, 16 },
				Package () { 0x000FFFFF, 2, Zero, 17 },
				Package () { 0x000FFFFF, 3, Zero, 18 },
				Package () { 0x0010FFFF, 0, Zero, 16 },
				Package () { 0x0010FFFF, 1, Zero, 17 },
				Package () { 0x0010FFFF, 2, Zero, 18 },
				Package () { 0x0010FFFF, 3, Zero, 19 },
				Package () { 0x0011FFFF, 0, Zero, 17 },
				Package () { 0x0011FFFF, 1, Zero, 18 },
				Package () { 0x0011FFFF, 2, Zero, 19 },
				Package () { 0x0011FFFF, 3, Zero, 20 },
				Package () { 0x0012FFFF, 0, Zero, 18 },
				Package () { 0x0012FFFF, 1, Zero, 19 },
				Package () { 0x0012FFFF, 2, Zero, 20 },
				Package () { 0x0012FFFF, 3, Zero, 21 },
				Package () { 0x0013FFFF, 0, Zero, 19 },
				Package () { 0x0013FFFF, 1, Zero, 20 },
				Package () { 0x0013FFFF, 2, Zero, 21 },
				Package () { 0x0013FFFF, 3, Zero, 22 },
				Package () { 0x0014FFFF, 0, Zero, 20 },
				Package () { 0x0014FFFF, 1, Zero, 21 },
				Package () { 0x0014FFFF, 2, Zero, 22 },
				Package () { 0x0014FFFF, 3, Zero, 23 },
				Package () { 0x0015FFFF, 0, Zero, 21 },
				Package () { 0x0015FFFF, 1, Zero, 22 },
				Package () { 0x0015FFFF, 2, Zero, 23 },
				Package () { 0x0015FFFF, 3, Zero, 16 },
				Package () { 0x0016FFFF, 0, Zero, 22 },
				Package () { 0x0016FFFF, 1, Zero, 23 },
				Package () { 0x0016FFFF, 2, Zero, 16 },
				Package () { 0x0016FFFF, 3, Zero, 17 },
				Package () { 0x0017FFFF, 0, Zero, 23 },
				Package () { 0x0017FFFF, 1, Zero, 16 },
				Package () { 0x0017FFFF, 2, Zero, 17 },
				Package () { 0x0017FFFF, 3, Zero, 18 },
				Package () { 0x0018FFFF, 0, Zero, 16 },
				Package () { 0x0018FFFF, 1, Zero, 17 },
				Package () { 0x0018FFFF, 2, Zero, 18 },
				Package () { 0x0018FFFF, 3, Zero, 19 },
				Package () { 0x0019FFFF, 0, Zero, 17 },
				Package () { 0x0019FFFF, 1, Zero, 18 },
				Package () { 0x0019FFFF, 2, Zero, 19 },
				Package () { 0x0019FFFF, 3, Zero, 20 },
				Package () { 0x001AFFFF, 0, Zero, 18 },
				Package () { 0x001AFFFF, 1, Zero, 19 },
				Package () { 0x001AFFFF, 2, Zero, 20 },
				Package () { 0x001AFFFF, 3, Zero, 21 },
				Package () { 0x001BFFFF, 0, Zero, 19 },
				Package () { 0x001BFFFF, 1, Zero, 20 },
				Package () { 0x001BFFFF, 2, Zero, 21 },
				Package () { 0x001BFFFF, 3, Zero, 22 },
				Package () { 0x001CFFFF, 0, Zero, 20 },
				Package () { 0x001CFFFF, 1, Zero, 21 },
				Package () { 0x001CFFFF, 2, Zero, 22 },
				Package () { 0x001CFFFF, 3, Zero, 23 },
				Package () { 0x001DFFFF, 0, Zero, 21 },
				Package () { 0x001DFFFF, 1, Zero, 22 },
				Package () { 0x001DFFFF, 2, Zero, 23 },
				Package () { 0x001DFFFF, 3, Zero, 16 },
				Package () { 0x001EFFFF, 0, Zero, 22 },
				Package () { 0x001EFFFF, 1, Zero, 23 },
				Package () { 0x001EFFFF, 2, Zero, 16 },
				Package () { 0x001EFFFF, 3, Zero, 17 },
				Package () { 0x001FFFFF, 0, Zero, 23 },
				Package () { 0x001FFFFF, 1, Zero, 16 },
				Package () { 0x001FFFFF, 2, Zero, 17 },
				Package () { 0x001FFFFF, 3, Zero, 18 }
			})
		}

		/*
		 * Motherboard resources: the ECAM window (PCI_ECAM_BASE,
		 * PCI_ECAM_SIZE).  Linux uses the MCFG's ECAM only once it
		 * finds the range reserved here (or in e820); otherwise it
		 * says "MMCONFIG ... not reserved" and keeps to port 0xcf8.
		 */
		Device (ECAM)
		{
			Name (_HID, EisaId ("PNP0C02"))
			Name (_UID, 0x02)
			Name (_STA, 0x0F)
			Name (_CRS, ResourceTemplate ()
			{
				Memory32Fixed (ReadWrite, 0xE0000000, 0x00100000)
			})
		}
	}
}
