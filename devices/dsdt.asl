/*
 * Hull's DSDT: the static part of the ACPI namespace.
 */
DefinitionBlock ("", "DSDT", 2, "HULL  ", "HULLDSDT", 1)
{
	/* Sleep state S5 (soft off): SLP_TYP values for PM1a/PM1b. */
	Name (\_S5, Package (4) { 5, 5, 0, 0 })
}
