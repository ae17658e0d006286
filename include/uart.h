/*
 * 16550A UART (8250 family) on an ISA port range: the guest's serial console.
 */
#ifndef VMM_UART_H
#define VMM_UART_H

#include <stddef.h>
#include <stdint.h>

struct bus;
struct vm_events;

#define UART_COM1_PORT	0x3f8
#define UART_COM1_IRQ	4
#define UART_NPORTS	8

struct uart;

/*
 * Create a UART that raises irq through ev and writes transmitted bytes to
 * out_fd (write errors other than EAGAIN are counted and the byte dropped: a
 * guest must never block on its console).  NULL on ENOMEM.
 */
struct uart	*uart_create(const struct vm_events *ev, unsigned int irq, int out_fd);
void		 uart_destroy(struct uart *);

/* Register ports [base, base + UART_NPORTS) on the PIO bus; 0 or -errno. */
int		 uart_attach(struct uart *, struct bus *, uint16_t base);

/*
 * Queue bytes the host typed for the guest to receive.  Takes at most the
 * free space in the receive buffer and returns how many bytes it took
 * (0 when full).  Thread-safe with respect to guest accesses.
 */
size_t		 uart_input(struct uart *, const void *buf, size_t len);

/* Free space in the receive buffer now. */
size_t		 uart_input_room(struct uart *);

/*
 * An fd (eventfd) that becomes readable whenever the guest drains receive
 * data, so a host loop that stopped reading its input can resume.  Owned by
 * the uart; read it to clear.
 */
int		 uart_room_fd(struct uart *);

#endif /* VMM_UART_H */
