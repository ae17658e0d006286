/*
 * Unit tests for the 16550A UART (devices/uart8250.c), driven through the
 * PIO bus as a vCPU would, with a pipe for the console output and a fake
 * struct vm_events that records irq levels.  The register sequences are the
 * ones Linux's 8250 driver uses to probe and run the port.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"
#include "uart.h"
#include "vm.h"

#define T_BASE	UART_COM1_PORT
#define T_IRQ	UART_COM1_IRQ
#define T_RING	4096	/* the receive ring size uart8250.c promises */

enum {
	REG_RBR = 0, REG_IER = 1, REG_IIR = 2, REG_LCR = 3, REG_MCR = 4,
	REG_LSR = 5, REG_MSR = 6, REG_SCR = 7
};

struct fake_vm {
	pthread_mutex_t	fv_lock;
	unsigned int	fv_gsi;
	int		fv_level;
	unsigned int	fv_nirq;	/* ve_set_irq calls */
	unsigned int	fv_nstop;
};

struct t_ctx {
	struct fake_vm		 tc_vm;
	struct vm_events	 tc_ev;
	struct bus		 tc_bus;
	struct uart		*tc_uart;
	int			 tc_rfd, tc_wfd;	/* console pipe */
};

static int
fake_set_irq(void *ctx, unsigned int gsi, int level)
{
	struct fake_vm *fv = ctx;

	pthread_mutex_lock(&fv->fv_lock);
	fv->fv_gsi = gsi;
	fv->fv_level = level;
	fv->fv_nirq++;
	pthread_mutex_unlock(&fv->fv_lock);
	return 0;
}

static void
fake_stop(void *ctx, enum vm_stop why)
{
	struct fake_vm *fv = ctx;

	(void)why;
	fv->fv_nstop++;
}

static int
setup(void **state)
{
	struct t_ctx *tc;
	int fds[2];

	tc = calloc(1, sizeof(*tc));
	assert_non_null(tc);
	pthread_mutex_init(&tc->tc_vm.fv_lock, NULL);
	tc->tc_ev.ve_ctx = &tc->tc_vm;
	tc->tc_ev.ve_set_irq = fake_set_irq;
	tc->tc_ev.ve_stop = fake_stop;
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	tc->tc_rfd = fds[0];
	tc->tc_wfd = fds[1];
	tc->tc_uart = uart_create(&tc->tc_ev, T_IRQ, tc->tc_wfd);
	assert_non_null(tc->tc_uart);
	bus_init(&tc->tc_bus);
	assert_int_equal(uart_attach(tc->tc_uart, &tc->tc_bus, T_BASE), 0);
	*state = tc;
	return 0;
}

static int
teardown(void **state)
{
	struct t_ctx *tc = *state;

	uart_destroy(tc->tc_uart);
	if (tc->tc_rfd >= 0)
		close(tc->tc_rfd);
	close(tc->tc_wfd);
	pthread_mutex_destroy(&tc->tc_vm.fv_lock);
	free(tc);
	return 0;
}

static void
outb(struct t_ctx *tc, unsigned int reg, uint8_t val)
{
	assert_int_equal(bus_write(&tc->tc_bus, BUS_PIO, T_BASE + reg, &val, 1),
	    0);
}

static uint8_t
inb(struct t_ctx *tc, unsigned int reg)
{
	uint8_t val = 0;

	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, T_BASE + reg, &val, 1),
	    0);
	return val;
}

/* What the console pipe holds now (up to len bytes); the count. */
static size_t
drain_out(struct t_ctx *tc, char *buf, size_t len)
{
	ssize_t n = read(tc->tc_rfd, buf, len);

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return (size_t)n;
}

static bool
room_fd_readable(struct t_ctx *tc)
{
	uint64_t v;
	ssize_t n = read(uart_room_fd(tc->tc_uart), &v, sizeof(v));

	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return false;
	}
	assert_int_equal(n, sizeof(v));
	assert_true(v > 0);
	return true;
}

static void
test_tx_reaches_out_fd(void **state)
{
	struct t_ctx *tc = *state;
	const char *msg = "Linux version\r\n";
	char buf[64];
	size_t i;

	for (i = 0; i < strlen(msg); i++) {
		/* What serial8250_console_putchar() polls for. */
		assert_int_equal(inb(tc, REG_LSR) & 0x60, 0x60);
		outb(tc, REG_RBR, (uint8_t)msg[i]);
	}
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	assert_int_equal(inb(tc, REG_LSR), 0x60);
	assert_int_equal(tc->tc_vm.fv_nirq, 0);
}

static void
test_dlab(void **state)
{
	struct t_ctx *tc = *state;
	char buf[4];

	outb(tc, REG_IER, 0x05);
	outb(tc, REG_LCR, 0x83);
	outb(tc, REG_RBR, 0x01);	/* DLL: 115200 baud */
	outb(tc, REG_IER, 0x00);	/* DLM */
	assert_int_equal(inb(tc, REG_RBR), 0x01);
	assert_int_equal(inb(tc, REG_IER), 0x00);
	assert_int_equal(inb(tc, REG_LCR), 0x83);
	/* A divisor write is not a transmitted byte. */
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), 0);

	outb(tc, REG_LCR, 0x03);
	assert_int_equal(inb(tc, REG_IER), 0x05);
	assert_int_equal(inb(tc, REG_LCR), 0x03);

	outb(tc, REG_LCR, 0x80);
	outb(tc, REG_IER, 0x12);
	assert_int_equal(inb(tc, REG_RBR), 0x01);
	assert_int_equal(inb(tc, REG_IER), 0x12);
	outb(tc, REG_LCR, 0x00);
	assert_int_equal(inb(tc, REG_IER), 0x05);
}

static void
test_scratch(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, REG_SCR, 0xa5);
	assert_int_equal(inb(tc, REG_SCR), 0xa5);
	outb(tc, REG_SCR, 0x5a);
	assert_int_equal(inb(tc, REG_SCR), 0x5a);
}

/* autoconfig(): IER holds exactly its low nibble; UUE (bit 6) is not kept. */
static void
test_ier_probe(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, REG_IER, 0x00);
	assert_int_equal(inb(tc, REG_IER) & 0x0f, 0x00);
	outb(tc, REG_IER, 0x0f);
	assert_int_equal(inb(tc, REG_IER) & 0x0f, 0x0f);
	outb(tc, REG_IER, 0x40);
	assert_int_equal(inb(tc, REG_IER), 0x00);
	outb(tc, REG_IER, 0xff);
	assert_int_equal(inb(tc, REG_IER), 0x0f);
}

static void
test_loopback_probe(void **state)
{
	struct t_ctx *tc = *state;
	char buf[4];

	/* Outside loopback: a terminal with CTS, DSR, DCD up. */
	assert_int_equal(inb(tc, REG_MSR) & 0xf0, 0xb0);

	/* autoconfig(): UART_MCR_LOOP | 0x0a must give DCD | CTS. */
	outb(tc, REG_MCR, 0x10 | 0x0a);
	assert_int_equal(inb(tc, REG_MCR), 0x1a);
	assert_int_equal(inb(tc, REG_MSR) & 0xf0, 0x90);
	outb(tc, REG_MCR, 0x1f);
	assert_int_equal(inb(tc, REG_MSR) & 0xf0, 0xf0);
	outb(tc, REG_MCR, 0x10);
	assert_int_equal(inb(tc, REG_MSR) & 0xf0, 0x00);
	outb(tc, REG_MCR, 0x11);	/* DTR -> DSR */
	assert_int_equal(inb(tc, REG_MSR), 0x20 | 0x02);	/* DSR, DDSR */
	assert_int_equal(inb(tc, REG_MSR), 0x20);	/* delta cleared */

	/* THR loops back into RBR; nothing reaches out_fd. */
	outb(tc, REG_RBR, 'L');
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), 0);
	assert_int_equal(inb(tc, REG_LSR) & 0x01, 0x01);
	assert_int_equal(inb(tc, REG_RBR), 'L');
	assert_int_equal(inb(tc, REG_LSR) & 0x01, 0x00);

	/* In loopback the OUT2 pin is inactive: no interrupt escapes. */
	outb(tc, REG_IER, 0x01);
	outb(tc, REG_MCR, 0x18);
	outb(tc, REG_RBR, 'M');
	assert_int_equal(inb(tc, REG_IIR) & 0x0f, 0x04);
	assert_int_equal(tc->tc_vm.fv_nirq, 0);
	outb(tc, REG_MCR, 0x08);	/* restore: the byte is still there */
	assert_int_equal(tc->tc_vm.fv_level, 1);
	assert_int_equal(inb(tc, REG_MSR) & 0xf0, 0xb0);
	assert_int_equal(inb(tc, REG_RBR), 'M');
	assert_int_equal(tc->tc_vm.fv_level, 0);
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), 0);
}

/* The modem status interrupt in loopback, where MCR drives the inputs. */
static void
test_modem_status(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, REG_MCR, 0x10);
	(void)inb(tc, REG_MSR);
	outb(tc, REG_IER, 0x08);
	assert_int_equal(inb(tc, REG_IIR) & 0x0f, 0x01);
	outb(tc, REG_MCR, 0x12);	/* RTS -> CTS */
	assert_int_equal(inb(tc, REG_IIR) & 0x0f, 0x00);
	assert_int_equal(inb(tc, REG_MSR), 0x10 | 0x01);
	assert_int_equal(inb(tc, REG_IIR) & 0x0f, 0x01);
	/* RI: only the trailing edge sets TERI. */
	outb(tc, REG_MCR, 0x14);
	assert_int_equal(inb(tc, REG_MSR), 0x40 | 0x01);
	outb(tc, REG_MCR, 0x10);
	assert_int_equal(inb(tc, REG_MSR), 0x04);
}

static void
test_fifo_detect(void **state)
{
	struct t_ctx *tc = *state;

	assert_int_equal(inb(tc, REG_IIR), 0x01);	/* FIFOs off at reset */
	outb(tc, REG_LCR, 0x00);
	outb(tc, REG_IIR, 0x01);
	assert_int_equal(inb(tc, REG_IIR) >> 6, 3);	/* 16550A */
	assert_int_equal(inb(tc, REG_IIR), 0xc1);

	/* Not a 16750: bit 5 does not follow FCR bit 5, with or w/o DLAB. */
	outb(tc, REG_IIR, 0x21);
	assert_int_equal(inb(tc, REG_IIR) >> 5, 6);
	outb(tc, REG_LCR, 0x80);
	outb(tc, REG_IIR, 0x21);
	assert_int_equal(inb(tc, REG_IIR) >> 5, 6);
	/* No EFR: offset 2 with LCR 0xbf still reads IIR, never 0. */
	outb(tc, REG_LCR, 0xbf);
	assert_int_not_equal(inb(tc, REG_IIR), 0);
	outb(tc, REG_LCR, 0x00);

	outb(tc, REG_IIR, 0x00);
	assert_int_equal(inb(tc, REG_IIR) & 0xc0, 0x00);
}

static void
test_rx(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, REG_IIR, 0x01);
	outb(tc, REG_IER, 0x01);	/* ERBFI */
	outb(tc, REG_MCR, 0x0b);	/* DTR RTS OUT2, as Linux opens it */
	assert_int_equal(tc->tc_vm.fv_nirq, 0);
	assert_int_equal(inb(tc, REG_LSR) & 0x01, 0);

	assert_int_equal(uart_input(tc->tc_uart, "abc", 3), 3);
	assert_int_equal(uart_input_room(tc->tc_uart), T_RING - 3);
	assert_int_equal(tc->tc_vm.fv_nirq, 1);
	assert_int_equal(tc->tc_vm.fv_level, 1);
	assert_int_equal(tc->tc_vm.fv_gsi, T_IRQ);
	assert_int_equal(inb(tc, REG_IIR), 0xc4);
	assert_int_equal(inb(tc, REG_LSR), 0x61);

	assert_int_equal(inb(tc, REG_RBR), 'a');
	assert_int_equal(inb(tc, REG_RBR), 'b');
	assert_int_equal(tc->tc_vm.fv_nirq, 1);	/* only level changes */
	assert_int_equal(inb(tc, REG_RBR), 'c');
	assert_int_equal(tc->tc_vm.fv_nirq, 2);
	assert_int_equal(tc->tc_vm.fv_level, 0);
	assert_int_equal(inb(tc, REG_LSR), 0x60);
	assert_int_equal(inb(tc, REG_IIR), 0xc1);
	assert_int_equal(uart_input_room(tc->tc_uart), T_RING);
}

/* OUT2 gates the line; ERBFI masks the source. */
static void
test_rx_gating(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, REG_MCR, 0x03);
	assert_int_equal(uart_input(tc->tc_uart, "x", 1), 1);
	assert_int_equal(tc->tc_vm.fv_nirq, 0);	/* IER 0 */
	assert_int_equal(inb(tc, REG_IIR), 0x01);
	outb(tc, REG_IER, 0x01);
	assert_int_equal(inb(tc, REG_IIR), 0x04);
	assert_int_equal(tc->tc_vm.fv_nirq, 0);	/* OUT2 clear */
	outb(tc, REG_MCR, 0x0b);
	assert_int_equal(tc->tc_vm.fv_level, 1);
	outb(tc, REG_MCR, 0x03);
	assert_int_equal(tc->tc_vm.fv_level, 0);
	outb(tc, REG_MCR, 0x0b);
	assert_int_equal(tc->tc_vm.fv_level, 1);
	outb(tc, REG_IER, 0x00);
	assert_int_equal(tc->tc_vm.fv_level, 0);
	assert_int_equal(tc->tc_vm.fv_nirq, 4);
	assert_int_equal(inb(tc, REG_RBR), 'x');
}

static void
test_thre(void **state)
{
	struct t_ctx *tc = *state;
	char buf[8];

	outb(tc, REG_MCR, 0x08);
	outb(tc, REG_IER, 0x02);	/* enabling ETBEI with THR empty */
	assert_int_equal(tc->tc_vm.fv_level, 1);
	assert_int_equal(inb(tc, REG_IIR), 0x02);	/* reading acks it */
	assert_int_equal(tc->tc_vm.fv_level, 0);
	assert_int_equal(inb(tc, REG_IIR), 0x01);

	outb(tc, REG_RBR, 'z');		/* THR empties at once: due again */
	assert_int_equal(tc->tc_vm.fv_level, 1);
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), 1);
	outb(tc, REG_RBR, 'z');		/* a THR write also acks it */
	assert_int_equal(tc->tc_vm.fv_level, 1);
	assert_int_equal(inb(tc, REG_IIR), 0x02);
	assert_int_equal(tc->tc_vm.fv_level, 0);

	/* serial8250_do_startup(): IER 0 then THRI must re-assert THRE. */
	outb(tc, REG_IER, 0x00);
	outb(tc, REG_IER, 0x02);
	assert_int_equal(inb(tc, REG_IIR), 0x02);
	outb(tc, REG_IER, 0x00);
	outb(tc, REG_IER, 0x02);
	assert_int_equal(inb(tc, REG_IIR), 0x02);
	/* Rewriting IER with ETBEI already set does not. */
	outb(tc, REG_IER, 0x02);
	assert_int_equal(inb(tc, REG_IIR), 0x01);

	/* Priority: received data before THRE, THRE before modem status. */
	outb(tc, REG_IER, 0x00);
	outb(tc, REG_MCR, 0x10);
	outb(tc, REG_MCR, 0x12);	/* loopback: a CTS delta pending */
	outb(tc, REG_IER, 0x0b);
	assert_int_equal(uart_input(tc->tc_uart, "q", 1), 1);
	assert_int_equal(inb(tc, REG_IIR), 0x04);
	assert_int_equal(inb(tc, REG_RBR), 'q');
	assert_int_equal(inb(tc, REG_IIR), 0x02);
	assert_int_equal(inb(tc, REG_IIR), 0x00);
	(void)inb(tc, REG_MSR);
	assert_int_equal(inb(tc, REG_IIR), 0x01);
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), 1);
}

static void
test_fcr_clear_rx(void **state)
{
	struct t_ctx *tc = *state;

	outb(tc, REG_IIR, 0x01);
	outb(tc, REG_IER, 0x01);
	outb(tc, REG_MCR, 0x08);
	assert_int_equal(uart_input(tc->tc_uart, "dropme", 6), 6);
	assert_int_equal(tc->tc_vm.fv_level, 1);
	assert_false(room_fd_readable(tc));

	outb(tc, REG_IIR, 0x01 | 0x04);	/* clearing TX keeps RX */
	assert_int_equal(inb(tc, REG_LSR) & 0x01, 0x01);
	outb(tc, REG_IIR, 0x01 | 0x02);	/* clear RX */
	assert_int_equal(inb(tc, REG_LSR), 0x60);
	assert_int_equal(tc->tc_vm.fv_level, 0);
	assert_int_equal(uart_input_room(tc->tc_uart), T_RING);
	assert_true(room_fd_readable(tc));
	assert_int_equal(inb(tc, REG_IIR), 0xc1);

	assert_int_equal(uart_input(tc->tc_uart, "k", 1), 1);
	assert_int_equal(inb(tc, REG_RBR), 'k');
}

static void
test_input_overflow(void **state)
{
	struct t_ctx *tc = *state;
	uint8_t *big;
	size_t i;

	big = malloc(T_RING + 1000);
	assert_non_null(big);
	for (i = 0; i < T_RING + 1000; i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(uart_input(tc->tc_uart, big, T_RING + 1000), T_RING);
	assert_int_equal(uart_input_room(tc->tc_uart), 0);
	assert_int_equal(uart_input(tc->tc_uart, big, 10), 0);
	assert_false(room_fd_readable(tc));

	assert_int_equal(inb(tc, REG_RBR), big[0]);
	assert_true(room_fd_readable(tc));
	assert_false(room_fd_readable(tc));	/* reading cleared it */
	assert_int_equal(uart_input_room(tc->tc_uart), 1);
	assert_int_equal(uart_input(tc->tc_uart, &big[T_RING], 5), 1);

	/* In order, across the ring's wrap. */
	for (i = 1; i <= T_RING; i++)
		assert_int_equal(inb(tc, REG_RBR), big[i]);
	assert_int_equal(inb(tc, REG_LSR) & 0x01, 0);
	assert_int_equal(inb(tc, REG_RBR), 0);	/* empty: no underflow */
	assert_int_equal(uart_input(tc->tc_uart, big, 0), 0);
	free(big);
}

static void
test_bad_offsets(void **state)
{
	struct t_ctx *tc = *state;
	struct bus_dev *d;
	struct uart *ua2;
	uint8_t buf[8] = { 0 };

	assert_int_equal(tc->tc_bus.bu_ndevs[BUS_PIO], 1);
	d = tc->tc_bus.bu_devs[BUS_PIO][0];
	assert_string_equal(d->bd_name, "uart");
	assert_int_equal(d->bd_base, T_BASE);
	assert_int_equal(d->bd_size, UART_NPORTS);

	assert_int_equal(d->bd_ops->read(d->bd_priv, 8, buf, 1), -EINVAL);
	assert_int_equal(d->bd_ops->write(d->bd_priv, 8, buf, 1), -EINVAL);
	assert_int_equal(d->bd_ops->read(d->bd_priv, UINT64_MAX, buf, 1),
	    -EINVAL);
	assert_int_equal(d->bd_ops->read(d->bd_priv, 7, buf, 2), -EINVAL);
	assert_int_equal(d->bd_ops->write(d->bd_priv, 4, buf, 8), -EINVAL);
	assert_int_equal(d->bd_ops->read(d->bd_priv, 0, buf, 0), -EINVAL);

	/* Past the range the bus does not even call us. */
	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, T_BASE + 8, buf, 1),
	    -ENOENT);

	/* Attaching twice, or a second UART over the first, is refused. */
	assert_int_equal(uart_attach(tc->tc_uart, &tc->tc_bus, T_BASE + 8),
	    -EBUSY);
	ua2 = uart_create(&tc->tc_ev, T_IRQ, tc->tc_wfd);
	assert_non_null(ua2);
	assert_int_equal(uart_attach(ua2, &tc->tc_bus, T_BASE + 4), -EEXIST);
	assert_int_equal(tc->tc_bus.bu_ndevs[BUS_PIO], 1);
	uart_destroy(ua2);
}

/* A wider access is split into byte accesses to consecutive registers. */
static void
test_wide_access(void **state)
{
	struct t_ctx *tc = *state;
	uint8_t w[2] = { 0x03, 0x0b }, r[2] = { 0, 0 };

	assert_int_equal(bus_write(&tc->tc_bus, BUS_PIO, T_BASE + REG_LCR, w,
	    2), 0);
	assert_int_equal(inb(tc, REG_LCR), 0x03);
	assert_int_equal(inb(tc, REG_MCR), 0x0b);
	outb(tc, REG_SCR, 0x77);
	assert_int_equal(bus_read(&tc->tc_bus, BUS_PIO, T_BASE + REG_MSR, r, 2),
	    0);
	assert_int_equal(r[0] & 0xf0, 0xb0);
	assert_int_equal(r[1], 0x77);
}

/* A full nonblocking out_fd drops bytes instead of blocking the vCPU. */
static void
test_tx_full_pipe(void **state)
{
	struct t_ctx *tc = *state;
	char chunk[4096], buf[8];
	unsigned int i;

	memset(chunk, '.', sizeof(chunk));
	while (write(tc->tc_wfd, chunk, sizeof(chunk)) > 0)
		;
	while (write(tc->tc_wfd, chunk, 1) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	for (i = 0; i < 1000; i++)
		outb(tc, REG_RBR, 'X');
	assert_int_equal(inb(tc, REG_LSR), 0x60);

	while (drain_out(tc, chunk, sizeof(chunk)) > 0)
		;
	outb(tc, REG_RBR, 'Y');
	assert_int_equal(drain_out(tc, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'Y');
}

/* A pipe whose reader went away: EPIPE, byte dropped, no crash. */
static void
test_tx_closed_pipe(void **state)
{
	struct t_ctx *tc = *state;

	/* The VMM ignores SIGPIPE; so does this test. */
	signal(SIGPIPE, SIG_IGN);
	close(tc->tc_rfd);
	tc->tc_rfd = -1;
	outb(tc, REG_RBR, 'A');
	outb(tc, REG_RBR, 'B');
	assert_int_equal(inb(tc, REG_LSR), 0x60);
	signal(SIGPIPE, SIG_DFL);
}

/* A socket out_fd gets MSG_NOSIGNAL: a gone peer is no SIGPIPE. */
static void
test_tx_socket(void **state)
{
	struct fake_vm fv = { .fv_level = 0 };
	struct vm_events ev = {
		.ve_ctx = &fv, .ve_set_irq = fake_set_irq, .ve_stop = fake_stop
	};
	struct bus bus;
	struct uart *ua;
	int sv[2];
	uint8_t c = 's';
	char buf[4];

	(void)state;
	pthread_mutex_init(&fv.fv_lock, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	    0);
	ua = uart_create(&ev, T_IRQ, sv[0]);
	assert_non_null(ua);
	bus_init(&bus);
	assert_int_equal(uart_attach(ua, &bus, T_BASE), 0);
	assert_int_equal(bus_write(&bus, BUS_PIO, T_BASE, &c, 1), 0);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 's');
	close(sv[1]);
	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(bus_write(&bus, BUS_PIO, T_BASE, &c, 1), 0);
	assert_int_equal(bus_write(&bus, BUS_PIO, T_BASE, &c, 1), 0);
	uart_destroy(ua);
	close(sv[0]);

	/* An invalid out_fd is no worse. */
	ua = uart_create(&ev, T_IRQ, -1);
	assert_non_null(ua);
	bus_init(&bus);
	assert_int_equal(uart_attach(ua, &bus, T_BASE), 0);
	assert_int_equal(bus_write(&bus, BUS_PIO, T_BASE, &c, 1), 0);
	uart_destroy(ua);
	pthread_mutex_destroy(&fv.fv_lock);
}

#define T_STREAM	(64 * 1024 + 123)

static uint8_t
stream_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 8));
}

/* A host input thread feeding a stream, pausing on the room eventfd. */
static void *
feeder(void *arg)
{
	struct t_ctx *tc = arg;
	uint8_t chunk[1000];
	size_t sent = 0, n, i;
	uint64_t v;

	while (sent < T_STREAM) {
		n = T_STREAM - sent < sizeof(chunk) ? T_STREAM - sent :
		    sizeof(chunk);
		for (i = 0; i < n; i++)
			chunk[i] = stream_byte(sent + i);
		n = uart_input(tc->tc_uart, chunk, n);
		sent += n;
		if (n == 0) {
			/* Ring full: a real loop would poll() the eventfd. */
			while (read(uart_room_fd(tc->tc_uart), &v,
			    sizeof(v)) < 0 && uart_input_room(tc->tc_uart) == 0)
				usleep(100);
		}
	}
	return NULL;
}

static void
test_threaded_stream(void **state)
{
	struct t_ctx *tc = *state;
	pthread_t t;
	size_t got = 0;

	outb(tc, REG_IIR, 0x01);
	outb(tc, REG_IER, 0x01);
	outb(tc, REG_MCR, 0x0b);
	assert_int_equal(pthread_create(&t, NULL, feeder, tc), 0);
	while (got < T_STREAM) {
		if (!(inb(tc, REG_LSR) & 0x01))
			continue;
		assert_int_equal(inb(tc, REG_RBR), stream_byte(got));
		got++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(inb(tc, REG_LSR), 0x60);
	assert_int_equal(tc->tc_vm.fv_level, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_reaches_out_fd, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ier_probe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loopback_probe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_modem_status, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fifo_detect, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_gating, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_thre, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcr_clear_rx, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_input_overflow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_offsets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wide_access, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tx_full_pipe, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tx_closed_pipe, setup,
		    teardown),
		cmocka_unit_test(test_tx_socket),
		cmocka_unit_test_setup_teardown(test_threaded_stream, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
