/*
 * Hull's DSDT: the static part of the ACPI namespace (ACPI 6.0, chapter 5
 * "ACPI Software Programming Model" and chapter 19 "ACPI Source Language").
 *
 * Compiled by Debian's iasl at build time (devices/aml2c.sh, warnings are
 * errors).  Everything that depends on the VM configuration (CPUs, interrupt
 * routing) lives in the MADT built by devices/acpi.c; this block only names
 * the fixed platform devices and the sleep states.  docs/acpi.md explains it.
 *
 * To extend: new devices go in Scope (\_SB); a PCI host bridge becomes
 * \_SB.PCI0 (PNP0A08/PNP0A03) with its _CRS and _PRT next to COM1.
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
	}
}
