/*
 * A 16550A UART (8250 family) on an ISA port range: the guest's serial
 * console, as Linux's 8250 driver probes and drives it on COM1.
 *
 * Follows the National Semiconductor PC16550D datasheet (registers, FIFO
 * control, interrupt identification priorities, loopback mode) and the
 * probe sequence of Linux's drivers/tty/serial/8250 (autoconfig(): the IER
 * and loopback tests, the IIR FIFO bits; serial8250_do_startup(): the THRE
 * re-assertion test).
 *
 * Simplifications, all invisible to a driver:
 *  - Transmission is instantaneous: a THR write goes to out_fd at once, so
 *    LSR.THRE and LSR.TEMT are always set and the transmit FIFO is always
 *    empty.  A byte out_fd will not take (EAGAIN, EPIPE, ...) is dropped and
 *    counted; EINTR is retried.  out_fd should be O_NONBLOCK; a socket gets
 *    MSG_DONTWAIT anyway.  The VMM must ignore SIGPIPE (a pipe whose reader
 *    went away must give EPIPE, not kill the VMM).
 *  - The receive side is a UART_RX_RING byte ring rather than a 16-byte
 *    FIFO, so a paste from the host is not lost; it is used whether or not
 *    the FIFOs are enabled.  The received-data interrupt fires as soon as
 *    one byte is queued (no trigger level or character timeout).  FCR bit 1
 *    drops the whole ring.  Toggling FCR bit 0 does not clear it.
 *  - Baud rate, word length, parity and break are stored and ignored.
 *  - No modem: outside loopback mode MSR reports CTS, DSR and DCD asserted,
 *    never changing.
 *
 * The interrupt output is a level: asserted iff an enabled interrupt is
 * pending and MCR.OUT2 is set and loopback is off.  On a PC, OUT2 gates the
 * UART's interrupt onto the ISA line (Linux sets it for ports with an irq);
 * in loopback mode the datasheet forces the modem outputs, OUT2 among them,
 * inactive.
 *
 * Locking: one mutex per uart covers all state.  vCPU threads (register
 * accesses) and the host input thread (uart_input) call in concurrently.
 * ve_set_irq is called under the lock; it must not call back into the uart.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "uart.h"
#include "vm.h"

/* Register offsets. */
#define UART_RBR	0	/* read, DLAB=0 */
#define UART_THR	0	/* write, DLAB=0 */
#define UART_DLL	0	/* DLAB=1 */
#define UART_IER	1	/* DLAB=0 */
#define UART_DLM	1	/* DLAB=1 */
#define UART_IIR	2	/* read */
#define UART_FCR	2	/* write */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define UART_IER_ERBFI	0x01	/* received data available */
#define UART_IER_ETBEI	0x02	/* transmitter holding register empty */
#define UART_IER_ELSI	0x04	/* receiver line status */
#define UART_IER_EDSSI	0x08	/* modem status */
#define UART_IER_MASK	0x0f	/* 16550A: bits 4-7 read as zero */

#define UART_IIR_NO_INT	0x01
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_RLSI	0x06
#define UART_IIR_FIFO	0xc0	/* FIFOs enabled */

#define UART_FCR_ENABLE	0x01
#define UART_FCR_CLR_RX	0x02
#define UART_FCR_CLR_TX	0x04
#define UART_FCR_KEEP	0xc9	/* enable, DMA mode, RX trigger level */

#define UART_LCR_DLAB	0x80

#define UART_MCR_DTR	0x01
#define UART_MCR_RTS	0x02
#define UART_MCR_OUT1	0x04
#define UART_MCR_OUT2	0x08
#define UART_MCR_LOOP	0x10
#define UART_MCR_MASK	0x1f	/* 16550A: bits 5-7 read as zero */

#define UART_LSR_DR	0x01
#define UART_LSR_OE	0x02
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40

#define UART_MSR_DCTS	0x01
#define UART_MSR_DDSR	0x02
#define UART_MSR_TERI	0x04
#define UART_MSR_DDCD	0x08
#define UART_MSR_DELTA	0x0f
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80
#define UART_MSR_STATUS	0xf0

/* No modem: the lines a terminal would assert. */
#define UART_MSR_IDLE	(UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD)

#define UART_RX_RING	4096	/* bytes; a power of two */

struct uart {
	pthread_mutex_t		 ua_lock;
	const struct vm_events	*ua_ev;
	unsigned int		 ua_irq;
	int			 ua_out_fd;
	bool			 ua_out_sock;	/* out_fd is a socket */
	int			 ua_room_fd;	/* eventfd, owned */
	struct bus_dev		 ua_dev;
	bool			 ua_attached;

	/* Registers; guest-controlled. */
	uint8_t			 ua_ier;
	uint8_t			 ua_fcr;
	uint8_t			 ua_lcr;
	uint8_t			 ua_mcr;
	uint8_t			 ua_lsr_err;	/* OE, cleared by reading LSR */
	uint8_t			 ua_msr;	/* status and delta bits */
	uint8_t			 ua_scr;
	uint8_t			 ua_dll, ua_dlm;
	bool			 ua_thre_pending; /* THRE irq latched */
	int			 ua_irq_level;	/* last level sent */

	/* Receive ring. */
	uint8_t			 ua_rx[UART_RX_RING];
	size_t			 ua_rx_head;	/* next byte to read */
	size_t			 ua_rx_count;

	/* Statistics. */
	uint64_t		 ua_tx_bytes;
	uint64_t		 ua_tx_dropped;
	uint64_t		 ua_rx_overrun;	/* loopback bytes lost */
};

static int	uart_pio_read(void *, uint64_t, void *, size_t);
static int	uart_pio_write(void *, uint64_t, const void *, size_t);

static const struct bus_ops uart_ops = {
	.read = uart_pio_read,
	.write = uart_pio_write,
};

/* Highest-priority enabled interrupt, as IIR bits 0-3 report it. */
static uint8_t
uart_pending_locked(const struct uart *ua)
{
	if ((ua->ua_ier & UART_IER_ELSI) && ua->ua_lsr_err != 0)
		return UART_IIR_RLSI;
	if ((ua->ua_ier & UART_IER_ERBFI) && ua->ua_rx_count > 0)
		return UART_IIR_RDI;
	if ((ua->ua_ier & UART_IER_ETBEI) && ua->ua_thre_pending)
		return UART_IIR_THRI;
	if ((ua->ua_ier & UART_IER_EDSSI) && (ua->ua_msr & UART_MSR_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void
uart_update_irq_locked(struct uart *ua)
{
	int level;

	level = uart_pending_locked(ua) != UART_IIR_NO_INT &&
	    (ua->ua_mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2;
	if (level == ua->ua_irq_level)
		return;
	ua->ua_irq_level = level;
	/* Nothing to do about a failure here; the VMM logs its own errors. */
	(void)ua->ua_ev->ve_set_irq(ua->ua_ev->ve_ctx, ua->ua_irq, level);
}

/* Tell a host loop waiting for room that there is some now. */
static void
uart_signal_room(struct uart *ua)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is saturated: readable already. */
	while (write(ua->ua_room_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Modem status inputs as MCR drives them in loopback mode. */
static uint8_t
uart_msr_status(uint8_t mcr)
{
	uint8_t st;

	if (!(mcr & UART_MCR_LOOP))
		return UART_MSR_IDLE;
	st = 0;
	if (mcr & UART_MCR_RTS)
		st |= UART_MSR_CTS;
	if (mcr & UART_MCR_DTR)
		st |= UART_MSR_DSR;
	if (mcr & UART_MCR_OUT1)
		st |= UART_MSR_RI;
	if (mcr & UART_MCR_OUT2)
		st |= UART_MSR_DCD;
	return st;
}

static void
uart_write_mcr_locked(struct uart *ua, uint8_t val)
{
	uint8_t old, new, delta;

	ua->ua_mcr = val & UART_MCR_MASK;
	old = ua->ua_msr & UART_MSR_STATUS;
	new = uart_msr_status(ua->ua_mcr);
	delta = 0;
	if ((old ^ new) & UART_MSR_CTS)
		delta |= UART_MSR_DCTS;
	if ((old ^ new) & UART_MSR_DSR)
		delta |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(new & UART_MSR_RI))
		delta |= UART_MSR_TERI;		/* trailing edge only */
	if ((old ^ new) & UART_MSR_DCD)
		delta |= UART_MSR_DDCD;
	ua->ua_msr = new | (ua->ua_msr & UART_MSR_DELTA) | delta;
}

static void
uart_rx_push_locked(struct uart *ua, uint8_t c)
{
	ua->ua_rx[(ua->ua_rx_head + ua->ua_rx_count) % UART_RX_RING] = c;
	ua->ua_rx_count++;
}

static void
uart_tx_locked(struct uart *ua, uint8_t c)
{
	ssize_t n;

	if (ua->ua_mcr & UART_MCR_LOOP) {
		/* The transmitter feeds the receiver; nothing goes out. */
		if (ua->ua_rx_count < UART_RX_RING)
			uart_rx_push_locked(ua, c);
		else {
			ua->ua_lsr_err |= UART_LSR_OE;
			ua->ua_rx_overrun++;
		}
		return;
	}
	do {
		if (ua->ua_out_sock)
			n = send(ua->ua_out_fd, &c, 1,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(ua->ua_out_fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1)
		ua->ua_tx_bytes++;
	else
		ua->ua_tx_dropped++;	/* never block the vCPU */
}

static uint8_t
uart_read_reg_locked(struct uart *ua, unsigned int reg)
{
	uint8_t val;
	bool dlab = (ua->ua_lcr & UART_LCR_DLAB) != 0;

	switch (reg) {
	case UART_RBR:
		if (dlab)
			return ua->ua_dll;
		if (ua->ua_rx_count == 0)
			return 0;
		val = ua->ua_rx[ua->ua_rx_head];
		ua->ua_rx_head = (ua->ua_rx_head + 1) % UART_RX_RING;
		ua->ua_rx_count--;
		uart_signal_room(ua);
		return val;
	case UART_IER:
		return dlab ? ua->ua_dlm : ua->ua_ier;
	case UART_IIR:
		val = uart_pending_locked(ua);
		/* Reading IIR while it reports THRE acknowledges it. */
		if (val == UART_IIR_THRI)
			ua->ua_thre_pending = false;
		if (ua->ua_fcr & UART_FCR_ENABLE)
			val |= UART_IIR_FIFO;
		return val;
	case UART_LCR:
		return ua->ua_lcr;
	case UART_MCR:
		return ua->ua_mcr;
	case UART_LSR:
		val = UART_LSR_THRE | UART_LSR_TEMT | ua->ua_lsr_err;
		if (ua->ua_rx_count > 0)
			val |= UART_LSR_DR;
		ua->ua_lsr_err = 0;
		return val;
	case UART_MSR:
		val = ua->ua_msr;
		ua->ua_msr &= ~UART_MSR_DELTA;
		return val;
	case UART_SCR:
	default:
		return ua->ua_scr;
	}
}

static void
uart_write_reg_locked(struct uart *ua, unsigned int reg, uint8_t val)
{
	bool dlab = (ua->ua_lcr & UART_LCR_DLAB) != 0;
	uint8_t old;

	switch (reg) {
	case UART_THR:
		if (dlab) {
			ua->ua_dll = val;
			break;
		}
		uart_tx_locked(ua, val);
		/* THR empties at once: the THRE interrupt is due again. */
		ua->ua_thre_pending = true;
		break;
	case UART_IER:
		if (dlab) {
			ua->ua_dlm = val;
			break;
		}
		old = ua->ua_ier;
		ua->ua_ier = val & UART_IER_MASK;
		/*
		 * Enabling ETBEI with THR empty raises THRE even if an IIR
		 * read had acknowledged it (Linux's startup tests for this).
		 */
		if (!(old & UART_IER_ETBEI) && (ua->ua_ier & UART_IER_ETBEI))
			ua->ua_thre_pending = true;
		break;
	case UART_FCR:
		ua->ua_fcr = val & UART_FCR_KEEP;
		if ((val & UART_FCR_CLR_RX) && ua->ua_rx_count > 0) {
			ua->ua_rx_head = 0;
			ua->ua_rx_count = 0;
			uart_signal_room(ua);
		}
		/* UART_FCR_CLR_TX: the transmitter is always empty. */
		break;
	case UART_LCR:
		ua->ua_lcr = val;
		break;
	case UART_MCR:
		uart_write_mcr_locked(ua, val);
		break;
	case UART_LSR:
	case UART_MSR:
		/* Factory test registers on a 16550A; writes are ignored. */
		break;
	case UART_SCR:
	default:
		ua->ua_scr = val;
		break;
	}
}

/*
 * An access wider than a byte is split into byte accesses to consecutive
 * registers, as an ISA bus splits a 16-bit cycle to an 8-bit device.
 */
static int
uart_pio_read(void *priv, uint64_t off, void *buf, size_t len)
{
	struct uart *ua = priv;
	uint8_t *p = buf;
	size_t i;

	if (off >= UART_NPORTS || len == 0 || len > UART_NPORTS - off)
		return -EINVAL;
	pthread_mutex_lock(&ua->ua_lock);
	for (i = 0; i < len; i++)
		p[i] = uart_read_reg_locked(ua, (unsigned int)(off + i));
	uart_update_irq_locked(ua);
	pthread_mutex_unlock(&ua->ua_lock);
	return 0;
}

static int
uart_pio_write(void *priv, uint64_t off, const void *buf, size_t len)
{
	struct uart *ua = priv;
	const uint8_t *p = buf;
	size_t i;

	if (off >= UART_NPORTS || len == 0 || len > UART_NPORTS - off)
		return -EINVAL;
	pthread_mutex_lock(&ua->ua_lock);
	for (i = 0; i < len; i++)
		uart_write_reg_locked(ua, (unsigned int)(off + i), p[i]);
	uart_update_irq_locked(ua);
	pthread_mutex_unlock(&ua->ua_lock);
	return 0;
}

struct uart *
uart_create(const struct vm_events *ev, unsigned int irq, int out_fd)
{
	struct uart *ua;
	struct stat st;

	ua = calloc(1, sizeof(*ua));
	if (ua == NULL)
		return NULL;
	ua->ua_room_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ua->ua_room_fd < 0)
		goto err_free;
	if (pthread_mutex_init(&ua->ua_lock, NULL) != 0)
		goto err_close_room;
	ua->ua_ev = ev;
	ua->ua_irq = irq;
	ua->ua_out_fd = out_fd;
	ua->ua_out_sock = fstat(out_fd, &st) == 0 && S_ISSOCK(st.st_mode);
	ua->ua_dll = 0x0c;		/* 9600 baud, the PC BIOS default */
	ua->ua_lcr = 0x03;		/* 8N1 */
	ua->ua_msr = UART_MSR_IDLE;
	ua->ua_dev.bd_name = "uart";
	ua->ua_dev.bd_ops = &uart_ops;
	ua->ua_dev.bd_size = UART_NPORTS;
	ua->ua_dev.bd_priv = ua;
	return ua;

err_close_room:
	close(ua->ua_room_fd);
err_free:
	free(ua);
	return NULL;
}

void
uart_destroy(struct uart *ua)
{
	if (ua == NULL)
		return;
	pthread_mutex_destroy(&ua->ua_lock);
	close(ua->ua_room_fd);
	free(ua);
}

/* -EBUSY if already attached: ua_dev may be on a bus, its base in use. */
int
uart_attach(struct uart *ua, struct bus *bus, uint16_t base)
{
	int error;

	if (ua->ua_attached)
		return -EBUSY;
	ua->ua_dev.bd_base = base;
	error = bus_register(bus, BUS_PIO, &ua->ua_dev);
	if (error == 0)
		ua->ua_attached = true;
	return error;
}

size_t
uart_input(struct uart *ua, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i, n;

	pthread_mutex_lock(&ua->ua_lock);
	n = UART_RX_RING - ua->ua_rx_count;
	if (n > len)
		n = len;
	for (i = 0; i < n; i++)
		uart_rx_push_locked(ua, p[i]);
	if (n > 0)
		uart_update_irq_locked(ua);
	pthread_mutex_unlock(&ua->ua_lock);
	return n;
}

size_t
uart_input_room(struct uart *ua)
{
	size_t room;

	pthread_mutex_lock(&ua->ua_lock);
	room = UART_RX_RING - ua->ua_rx_count;
	pthread_mutex_unlock(&ua->ua_lock);
	return room;
}

int
uart_room_fd(struct uart *ua)
{
	return ua->ua_room_fd;
}
