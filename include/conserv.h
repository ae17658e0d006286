/*
 * The console of a VM running in the background (vmm/conserv.c): the
 * UART writes into a pipe; the VMM's main loop copies that into a ring of
 * recent output, an append-only log file, and the one attached client on a
 * unix socket, and moves what the client types into the UART.  A client
 * that attaches first gets the ring (recent output replayed).
 */
#ifndef VMM_CONSERV_H
#define VMM_CONSERV_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

struct conserv;
struct uart;

#define CONSERV_RING	(64 * 1024)	/* replayed on attach */
#define CONSERV_LOG_MAX	(8 << 20)	/* console.log rotates to .1 past this */
#define CONSERV_NFDS	3		/* pipe, listener, client */

/*
 * Listen on sock_path (replacing a stale socket), log to log_path (may be
 * NULL).  0 or -errno with err filled.
 */
int	conserv_open(const char *sock_path, const char *log_path,
	    struct conserv **out, char *err, size_t errlen);

/* The fd the UART writes the guest's output to (non-blocking). */
int	conserv_out_fd(const struct conserv *);

/*
 * Fill p[0..CONSERV_NFDS) for poll; input from the client is only read
 * while the UART has room (u may be NULL between boots).
 */
void	conserv_pollfds(struct conserv *, struct uart *u, struct pollfd *p);

/* Act on what poll reported in p[0..CONSERV_NFDS). */
void	conserv_handle(struct conserv *, struct uart *u,
	    const struct pollfd *p);

/* Copy what the UART wrote so far (e.g. before exit).  */
void	conserv_drain(struct conserv *);

void	conserv_close(struct conserv *);

/*
 * Send the log to fd (a pipe to the jail's keeper) instead of a file: the
 * writer with the file rotates it.  Takes fd.
 */
void	conserv_log_to(struct conserv *, int fd);

/*
 * The console log file, shared with the jail's keeper: open path for
 * appending (size gets its length), and append n bytes, rotating the file
 * to path.1 past CONSERV_LOG_MAX (*fd is reopened, -1 if that fails).
 */
int	conserv_log_open(const char *path, off_t *size);
void	conserv_log_write(int *fd, off_t *size, const char *path,
	    const void *b, size_t n);

#endif /* VMM_CONSERV_H */
