/*
 * The I/O thread (include/ioloop.h): one epoll instance, a table of
 * watched fds, and an eventfd that asks the thread to stop.
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ioloop.h"

#define IOLOOP_MAX_WATCH	128

struct ioloop_watch {
	int		 iw_fd;		/* -1: free */
	ioloop_fn	*iw_fn;
	void		*iw_arg;
};

struct ioloop {
	int			il_epfd;
	int			il_stopfd;
	pthread_t		il_thread;
	bool			il_running;
	struct ioloop_watch	il_watch[IOLOOP_MAX_WATCH];
};

struct ioloop *
ioloop_create(void)
{
	struct ioloop *il = calloc(1, sizeof(*il));
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	unsigned int i;

	if (il == NULL)
		return NULL;
	il->il_stopfd = -1;
	for (i = 0; i < IOLOOP_MAX_WATCH; i++)
		il->il_watch[i].iw_fd = -1;
	il->il_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (il->il_epfd >= 0)
		il->il_stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (il->il_epfd < 0 || il->il_stopfd < 0 ||
	    epoll_ctl(il->il_epfd, EPOLL_CTL_ADD, il->il_stopfd, &ev) < 0) {
		int e = errno;

		ioloop_destroy(il);
		errno = e;
		return NULL;
	}
	return il;
}

int
ioloop_add(struct ioloop *il, int fd, ioloop_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int i;

	for (i = 0; i < IOLOOP_MAX_WATCH; i++)
		if (il->il_watch[i].iw_fd < 0)
			break;
	if (i == IOLOOP_MAX_WATCH)
		return -ENOSPC;
	ev.data.u32 = i;
	il->il_watch[i] = (struct ioloop_watch){ fd, fn, arg };
	if (epoll_ctl(il->il_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		il->il_watch[i].iw_fd = -1;
		return -errno;
	}
	return 0;
}

int
ioloop_del(struct ioloop *il, int fd)
{
	unsigned int i;

	for (i = 0; i < IOLOOP_MAX_WATCH; i++)
		if (il->il_watch[i].iw_fd == fd) {
			(void)epoll_ctl(il->il_epfd, EPOLL_CTL_DEL, fd, NULL);
			il->il_watch[i].iw_fd = -1;
			return 0;
		}
	return -ENOENT;
}

int
ioloop_enable(struct ioloop *il, int fd, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0 };
	unsigned int i;

	/*
	 * Only epoll_ctl(MOD) here, never the table: that makes it safe from
	 * any thread (the table changes only on the I/O thread or before it
	 * runs, and a watch being enabled is not being removed).
	 */
	for (i = 0; i < IOLOOP_MAX_WATCH; i++)
		if (__atomic_load_n(&il->il_watch[i].iw_fd, __ATOMIC_RELAXED) ==
		    fd) {
			ev.data.u32 = i;
			return epoll_ctl(il->il_epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ?
			    -errno : 0;
		}
	return -ENOENT;
}

int	(*ioloop_thread_init)(char *err, size_t errlen);

static void *
ioloop_thread(void *arg)
{
	struct ioloop *il = arg;
	struct epoll_event evs[32];
	char err[128];
	int n, i;

	(void)pthread_setname_np(pthread_self(), "io");
	/* A jailed VMM never moves guest data unfiltered (its seccomp). */
	if (ioloop_thread_init != NULL &&
	    ioloop_thread_init(err, sizeof(err)) < 0) {
		fprintf(stderr, "hull: I/O thread: %s\n", err);
		_exit(1);
	}
	for (;;) {
		n = epoll_wait(il->il_epfd, evs, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		for (i = 0; i < n; i++) {
			uint32_t w = evs[i].data.u32;

			if (w == UINT32_MAX)
				return NULL;	/* stop requested */
			/* A callback may have removed a later watch. */
			if (w < IOLOOP_MAX_WATCH && il->il_watch[w].iw_fd >= 0)
				il->il_watch[w].iw_fn(il->il_watch[w].iw_arg);
		}
	}
}

int
ioloop_start(struct ioloop *il)
{
	sigset_t all, old;
	int rc;

	/* The I/O thread takes no signals: they belong to the main loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&il->il_thread, NULL, ioloop_thread, il);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	il->il_running = true;
	return 0;
}

void
ioloop_stop(struct ioloop *il)
{
	uint64_t one = 1;

	if (!il->il_running)
		return;
	(void)!write(il->il_stopfd, &one, sizeof(one));
	pthread_join(il->il_thread, NULL);
	il->il_running = false;
}

void
ioloop_destroy(struct ioloop *il)
{
	if (il == NULL)
		return;
	ioloop_stop(il);
	if (il->il_epfd >= 0)
		close(il->il_epfd);
	if (il->il_stopfd >= 0)
		close(il->il_stopfd);
	free(il);
}
