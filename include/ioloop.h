/*
 * The I/O thread: an epoll loop that runs device work (virtqueue kicks from
 * ioeventfds, backend completions) off the vCPU threads.
 */
#ifndef VMM_IOLOOP_H
#define VMM_IOLOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ioloop;

/* Called on the I/O thread when fd is readable; it must drain or read fd. */
typedef void	ioloop_fn(void *arg);

/* Create a loop (not yet running).  NULL with errno set on failure. */
struct ioloop	*ioloop_create(void);

/*
 * Watch fd for readability.  Callers own fd.  Safe before ioloop_start and,
 * afterwards, from the I/O thread itself (callbacks).  0 or -errno.
 */
int		 ioloop_add(struct ioloop *, int fd, ioloop_fn *fn, void *arg);
int		 ioloop_del(struct ioloop *, int fd);

/*
 * Stop (on = false) or resume watching a watched fd without removing it,
 * e.g. a tap while the guest has no receive buffers.  Safe from any
 * thread.  0, -ENOENT if fd is not watched, or -errno.
 */
int		 ioloop_enable(struct ioloop *, int fd, bool on);

/* Start the thread; 0 or -errno. */
int		 ioloop_start(struct ioloop *);

/* Stop the thread (joins it); callbacks have all returned afterwards. */
void		 ioloop_stop(struct ioloop *);
void		 ioloop_destroy(struct ioloop *);

/*
 * Called first thing on every I/O thread when set (the jail installs the
 * I/O thread's seccomp filter this way); a failure ends the process.
 */
extern int	(*ioloop_thread_init)(char *err, size_t errlen);

#endif /* VMM_IOLOOP_H */
