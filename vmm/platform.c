/*
 * The PC platform around the vCPUs: ACPI tables in the BIOS area, the ACPI
 * power-management block, the COM1 UART and the i8042 reset line.  The PIC,
 * IOAPIC, LAPICs and PIT are KVM's in-kernel models (vm.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "i8042.h"
#include "machine.h"
#include "uart.h"

int
platform_create(struct vm *vm, int console_out, uint64_t *rsdp_gpa)
{
	struct acpi_cfg cfg = { .ac_ncpus = vm->vm_nvcpus };
	uint8_t *tables;
	long n;
	int rc;

	tables = gm_ptr(&vm->vm_gm, ACPI_TABLES_GPA, ACPI_TABLES_SIZE);
	if (tables == NULL)
		return vm_fail(vm, -ENOMEM, "ram: too small for the ACPI tables");
	n = acpi_build(&cfg, tables, ACPI_TABLES_SIZE, ACPI_TABLES_GPA, rsdp_gpa);
	if (n < 0)
		return vm_fail(vm, (int)n, "cannot build ACPI tables: %s",
		    strerror((int)-n));

	vm->vm_uart = uart_create(&vm->vm_ev, UART_COM1_IRQ, console_out);
	vm->vm_kbc = i8042_create(&vm->vm_ev);
	vm->vm_pm = acpi_pm_create(&vm->vm_ev);
	if (vm->vm_uart == NULL || vm->vm_kbc == NULL || vm->vm_pm == NULL)
		return vm_fail(vm, -ENOMEM, "out of memory");
	if ((rc = uart_attach(vm->vm_uart, &vm->vm_bus, UART_COM1_PORT)) < 0 ||
	    (rc = i8042_attach(vm->vm_kbc, &vm->vm_bus)) < 0 ||
	    (rc = acpi_pm_attach(vm->vm_pm, &vm->vm_bus)) < 0)
		return vm_fail(vm, rc, "cannot register platform devices: %s",
		    strerror(-rc));
	return 0;
}

void
platform_destroy(struct vm *vm)
{
	if (vm->vm_uart != NULL)
		uart_destroy(vm->vm_uart);
	if (vm->vm_kbc != NULL)
		i8042_destroy(vm->vm_kbc);
	if (vm->vm_pm != NULL)
		acpi_pm_destroy(vm->vm_pm);
	vm->vm_uart = NULL;
	vm->vm_kbc = NULL;
	vm->vm_pm = NULL;
}
