/*
 * The part of an Intel 8042 keyboard controller a Linux guest needs to
 * reboot: the data port (0x60) and the status/command port (0x64).
 *
 * Follows the 8042 command set as the IBM PC/AT Technical Reference
 * describes it.  Bit 0 of the controller's output port drives the CPU reset
 * line (active low), so a reset request reaches the VMM as
 * ve_stop(VM_STOP_REBOOT) either way the guest can ask:
 *  - commands 0xf0-0xff pulse the output port bits whose mask bit is clear;
 *    with bit 0 clear (0xfe is the usual one, Linux's reboot=kbd) that is
 *    the reset line;
 *  - command 0xd1 (write output port) followed by a data byte with bit 0
 *    clear.
 *
 * There is no keyboard or mouse: the status register reads 0 (output buffer
 * empty, input buffer empty), so Linux's kb_wait() loop before the 0xfe
 * write ends at once; the data port reads 0; every other command and data
 * byte is ignored.  Port 0x61 (system control port B) belongs to the
 * in-kernel PIT, not here.
 *
 * Locking: a mutex covers the pending-command state (vCPUs may write
 * concurrently).  ve_stop is called without it held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "i8042.h"
#include "vm.h"

#define I8042_CMD_WRITE_OUTPORT	0xd1
#define I8042_CMD_PULSE_FIRST	0xf0	/* 0xf0-0xff pulse output port bits */
#define I8042_OUTPORT_RESET	0x01	/* output port bit 0, active low */

struct i8042 {
	pthread_mutex_t		 ic_lock;
	const struct vm_events	*ic_ev;
	struct bus_dev		 ic_data_dev;
	struct bus_dev		 ic_cmd_dev;
	bool			 ic_want_outport; /* after 0xd1; guest-controlled */
	uint64_t		 ic_resets;
};

static int	i8042_data_read(void *, uint64_t, void *, size_t);
static int	i8042_data_write(void *, uint64_t, const void *, size_t);
static int	i8042_cmd_read(void *, uint64_t, void *, size_t);
static int	i8042_cmd_write(void *, uint64_t, const void *, size_t);

static const struct bus_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

static const struct bus_ops i8042_cmd_ops = {
	.read = i8042_cmd_read,
	.write = i8042_cmd_write,
};

/*
 * Each range is one port wide, so the bus passes only byte accesses at
 * offset 0.  Be lenient anyway: a wider access is a byte access to the port
 * (the other bytes read as zero and are ignored on write).
 */
static bool
i8042_access_ok(uint64_t off, size_t len)
{
	return off == 0 && len > 0;
}

static void
i8042_reset(struct i8042 *ic)
{
	ic->ic_ev->ve_stop(ic->ic_ev->ve_ctx, VM_STOP_REBOOT);
}

static int
i8042_data_read(void *priv, uint64_t off, void *buf, size_t len)
{
	(void)priv;
	if (!i8042_access_ok(off, len))
		return -EINVAL;
	memset(buf, 0, len);	/* no keyboard: nothing to read */
	return 0;
}

static int
i8042_data_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct i8042 *ic = priv;
	uint8_t val;
	bool reset;

	if (!i8042_access_ok(off, len))
		return -EINVAL;
	val = *(const uint8_t *)buf;
	pthread_mutex_lock(&ic->ic_lock);
	reset = ic->ic_want_outport && !(val & I8042_OUTPORT_RESET);
	ic->ic_want_outport = false;
	if (reset)
		ic->ic_resets++;
	pthread_mutex_unlock(&ic->ic_lock);
	if (reset)
		i8042_reset(ic);
	return 0;
}

static int
i8042_cmd_read(void *priv, uint64_t off, void *buf, size_t len)
{
	(void)priv;
	if (!i8042_access_ok(off, len))
		return -EINVAL;
	memset(buf, 0, len);	/* status: both buffers empty */
	return 0;
}

static int
i8042_cmd_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct i8042 *ic = priv;
	uint8_t cmd;
	bool reset;

	if (!i8042_access_ok(off, len))
		return -EINVAL;
	cmd = *(const uint8_t *)buf;
	reset = cmd >= I8042_CMD_PULSE_FIRST && !(cmd & I8042_OUTPORT_RESET);
	pthread_mutex_lock(&ic->ic_lock);
	/* A new command replaces one still waiting for its data byte. */
	ic->ic_want_outport = cmd == I8042_CMD_WRITE_OUTPORT;
	if (reset)
		ic->ic_resets++;
	pthread_mutex_unlock(&ic->ic_lock);
	if (reset)
		i8042_reset(ic);
	return 0;
}

struct i8042 *
i8042_create(const struct vm_events *ev)
{
	struct i8042 *ic;

	ic = calloc(1, sizeof(*ic));
	if (ic == NULL)
		return NULL;
	if (pthread_mutex_init(&ic->ic_lock, NULL) != 0) {
		free(ic);
		return NULL;
	}
	ic->ic_ev = ev;
	ic->ic_data_dev.bd_name = "i8042";
	ic->ic_data_dev.bd_ops = &i8042_data_ops;
	ic->ic_data_dev.bd_base = I8042_DATA_PORT;
	ic->ic_data_dev.bd_size = 1;
	ic->ic_data_dev.bd_priv = ic;
	ic->ic_cmd_dev.bd_name = "i8042";
	ic->ic_cmd_dev.bd_ops = &i8042_cmd_ops;
	ic->ic_cmd_dev.bd_base = I8042_CMD_PORT;
	ic->ic_cmd_dev.bd_size = 1;
	ic->ic_cmd_dev.bd_priv = ic;
	return ic;
}

void
i8042_destroy(struct i8042 *ic)
{
	if (ic == NULL)
		return;
	pthread_mutex_destroy(&ic->ic_lock);
	free(ic);
}

int
i8042_attach(struct i8042 *ic, struct bus *bus)
{
	int error;

	error = bus_register(bus, BUS_PIO, &ic->ic_data_dev);
	if (error != 0)
		return error;
	/* No bus_unregister: a failure here leaves 0x60 registered. */
	return bus_register(bus, BUS_PIO, &ic->ic_cmd_dev);
}
