#!/bin/sh
# Compile an ASL file with Debian's iasl and emit it as a C array.
# Warnings are errors (-we): the DSDT must compile cleanly.
#   aml2c.sh dsdt.asl out.c   ->  const unsigned char acpi_dsdt_aml[]; acpi_dsdt_aml_len
set -eu
asl=$1 out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$asl" "$tmp/dsdt.asl"
(cd "$tmp" && iasl -we -p dsdt dsdt.asl >iasl.log 2>&1) || { cat "$tmp/iasl.log" >&2; exit 1; }
{
	echo "/* Generated from $asl by devices/aml2c.sh; do not edit. */"
	echo "#include <stddef.h>"
	echo "extern const unsigned char acpi_dsdt_aml[];"
	echo "extern const size_t acpi_dsdt_aml_len;"
	echo "const unsigned char acpi_dsdt_aml[] = {"
	od -An -v -tx1 "$tmp/dsdt.aml" | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
	echo "};"
	echo "const size_t acpi_dsdt_aml_len = sizeof(acpi_dsdt_aml);"
} >"$out"
