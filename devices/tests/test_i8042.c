/*
 * Unit tests for the minimal i8042 (devices/i8042.c): status reads, the
 * reset commands a guest can use, and everything else being ignored.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bus.h"
#include "i8042.h"
#include "vm.h"

struct fake_vm {
	unsigned int	fv_nstop;
	enum vm_stop	fv_why;
	unsigned int	fv_nirq;
};

struct t_ctx {
	struct fake_vm		 tc_vm;
	struct vm_events	 tc_ev;
	struct bus		 tc_bus;
	struct i8042		*tc_ic;
};

static int
fake_set_irq(void *ctx, unsigned int gsi, int level)
{
	struct fake_vm *fv = ctx;

	(void)gsi;
	(void)level;
	fv->fv_nirq++;
	return 0;
}

static void
fake_stop(void *ctx, enum vm_stop why)
{
	struct fake_vm *fv = ctx;

	fv->fv_nstop++;
	fv->fv_why = why;
}

static int
setup(void **state)
{
	struct t_ctx *tc;

	tc = calloc(1, sizeof(*tc));
	assert_non_null(tc);
	tc->tc_ev.ve_ctx = &tc->tc_vm;
	tc->tc_ev.ve_set_irq = fake_set_irq;
	tc->tc_ev.ve_stop = fake_stop;
	tc->tc_ic = i8042_create(&tc->tc_ev);
	assert_non_null(tc->tc_ic);
	bus_init(&tc->tc_bus);
	assert_int_equal(i8042_attach(tc->tc_ic, &tc->tc_bus), 0);
	*state = tc;
	return 0;
}

static int
teardown(void **state)
{
	struct t_ctx *tc = *state;

	i8042_destroy(tc->tc_ic);
	free(tc);
	return 0;
}

static void
outb(struct t_ctx *tc, uint16_t port, uint8_t val)
{
	assert_int_equal(bus_write(&tc->tc_bus, BUS_PIO, port, &val, 1), 0);
}

static uint8_t
inb(struct t_ctx *tc, uint16_t port)
{
	uint8_t val = 0xaa;

	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, port, &val, 1), 0);
	return val;
}

static void
test_status_reads_zero(void **state)
{
	struct t_ctx *tc = *state;

	/* Linux's kb_wait() spins while bit 1 (input buffer full) is set. */
	assert_int_equal(inb(tc, I8042_CMD_PORT), 0);
	assert_int_equal(inb(tc, I8042_DATA_PORT), 0);
	outb(tc, I8042_CMD_PORT, 0xaa);		/* self test: no answer */
	assert_int_equal(inb(tc, I8042_CMD_PORT), 0);
	assert_int_equal(inb(tc, I8042_DATA_PORT), 0);
	assert_int_equal(tc->tc_vm.fv_nstop, 0);
}

static void
test_reset_fe(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, I8042_CMD_PORT, 0xfe);
	assert_int_equal(tc->tc_vm.fv_nstop, 1);
	assert_int_equal(tc->tc_vm.fv_why, VM_STOP_REBOOT);
	/* Linux's reboot=kbd repeats it; each is a request. */
	outb(tc, I8042_CMD_PORT, 0xfe);
	assert_int_equal(tc->tc_vm.fv_nstop, 2);
}

/* Pulse commands 0xf0-0xff reset iff they pulse output port bit 0. */
static void
test_pulse_commands(void **state)
{
	struct t_ctx *tc = *state;
	unsigned int cmd, want = 0;

	for (cmd = 0xf0; cmd <= 0xff; cmd++) {
		outb(tc, I8042_CMD_PORT, (uint8_t)cmd);
		if (!(cmd & 1))
			want++;
		assert_int_equal(tc->tc_vm.fv_nstop, want);
	}
	assert_int_equal(want, 8);
}

static void
test_other_writes_ignored(void **state)
{
	struct t_ctx *tc = *state;
	unsigned int v;

	for (v = 0; v < 0xf0; v++)
		if (v != 0xd1)
			outb(tc, I8042_CMD_PORT, (uint8_t)v);
	for (v = 0; v <= 0xff; v++)
		outb(tc, I8042_DATA_PORT, (uint8_t)v);
	assert_int_equal(tc->tc_vm.fv_nstop, 0);
	assert_int_equal(tc->tc_vm.fv_nirq, 0);
}

/* Command 0xd1 (write output port): bit 0 low is the reset line. */
static void
test_write_output_port(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, I8042_CMD_PORT, 0xd1);
	outb(tc, I8042_DATA_PORT, 0xdf);	/* A20 on, reset high */
	assert_int_equal(tc->tc_vm.fv_nstop, 0);
	outb(tc, I8042_DATA_PORT, 0x00);	/* not after 0xd1 any more */
	assert_int_equal(tc->tc_vm.fv_nstop, 0);

	outb(tc, I8042_CMD_PORT, 0xd1);
	outb(tc, I8042_CMD_PORT, 0xad);		/* replaces the 0xd1 */
	outb(tc, I8042_DATA_PORT, 0x00);
	assert_int_equal(tc->tc_vm.fv_nstop, 0);

	outb(tc, I8042_CMD_PORT, 0xd1);
	outb(tc, I8042_DATA_PORT, 0xde);
	assert_int_equal(tc->tc_vm.fv_nstop, 1);
	assert_int_equal(tc->tc_vm.fv_why, VM_STOP_REBOOT);
}

static void
test_ports(void **state)
{
	struct t_ctx *tc = *state;
	struct bus_dev *d;
	uint8_t buf[4] = { 0 };
	unsigned int i;

	/* Two one-port ranges; 0x61 is the in-kernel PIT's. */
	assert_int_equal(tc->tc_bus.bu_ndevs[BUS_PIO], 2);
	for (i = 0; i < 2; i++) {
		d = tc->tc_bus.bu_devs[BUS_PIO][i];
		assert_int_equal(d->bd_size, 1);
		assert_int_equal(d->bd_base, i == 0 ? I8042_DATA_PORT :
		    I8042_CMD_PORT);
		assert_int_equal(d->bd_ops->read(d->bd_priv, 1, buf, 1),
		    -EINVAL);
		assert_int_equal(d->bd_ops->write(d->bd_priv, 1, buf, 1),
		    -EINVAL);
		assert_int_equal(d->bd_ops->read(d->bd_priv, 0, buf, 0),
		    -EINVAL);
		buf[0] = 0xfe;
		assert_int_equal(d->bd_ops->write(d->bd_priv, 2, buf, 1),
		    -EINVAL);
	}
	assert_int_equal(tc->tc_vm.fv_nstop, 0);
	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, 0x61, buf, 1),
	    -ENOENT);
	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, 0x62, buf, 1),
	    -ENOENT);
	/* A wide access does not fit a one-port range. */
	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, I8042_CMD_PORT, buf,
	    2), -ENOENT);
	assert_int_equal(i8042_attach(tc->tc_ic, &tc->tc_bus), -EEXIST);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_reads_zero, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset_fe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pulse_commands, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_writes_ignored,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_output_port, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
