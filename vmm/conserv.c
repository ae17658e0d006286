/*
 * Console server (include/conserv.h).  Runs on the VMM's main thread; the
 * UART (vCPU threads) only writes into a pipe, so a slow or absent client
 * never stalls the guest: when nobody reads fast enough, output is dropped
 * for that client (it is still in the log and the ring).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conserv.h"
#include "sbx_seccomp.h"
#include "uart.h"

struct conserv {
	int		cs_pipe[2];	/* UART -> main loop */
	int		cs_listen;
	int		cs_client;	/* -1: nobody attached */
	int		cs_log;		/* -1: no log */
	char		cs_log_path[256];
	off_t		cs_log_size;
	char		cs_sock_path[108];
	uint8_t		cs_ring[CONSERV_RING];
	size_t		cs_ring_len;	/* bytes held, <= CONSERV_RING */
	size_t		cs_ring_head;	/* next write position */
};

int
conserv_open(const char *sock_path, const char *log_path,
    struct conserv **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conserv *cs;
	int rc;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket",
		    sock_path);
		return -ENAMETOOLONG;
	}
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cs->cs_listen = cs->cs_client = cs->cs_log = -1;
	cs->cs_pipe[0] = cs->cs_pipe[1] = -1;
	snprintf(cs->cs_sock_path, sizeof(cs->cs_sock_path), "%s", sock_path);
	if (pipe2(cs->cs_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail_errno;
	/* A big pipe rides out bursts (a boot log) while the loop is busy. */
	(void)fcntl(cs->cs_pipe[1], F_SETPIPE_SZ, 1 << 20);
	if (log_path != NULL) {
		snprintf(cs->cs_log_path, sizeof(cs->cs_log_path), "%s",
		    log_path);
		cs->cs_log = conserv_log_open(log_path, &cs->cs_log_size);
		if (cs->cs_log < 0)
			goto fail_errno;
	}
	cs->cs_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (cs->cs_listen < 0)
		goto fail_errno;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	(void)unlink(sock_path);
	if (bind(cs->cs_listen, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sock_path, 0600) < 0 || listen(cs->cs_listen, 4) < 0)
		goto fail_errno;
	*out = cs;
	return 0;
fail_errno:
	rc = -errno;
	snprintf(err, errlen, "console %s: %s", sock_path, strerror(errno));
	conserv_close(cs);
	return rc;
}

int
conserv_out_fd(const struct conserv *cs)
{
	return cs->cs_pipe[1];
}

void
conserv_pollfds(struct conserv *cs, struct uart *u, struct pollfd *p)
{
	p[0] = (struct pollfd){ .fd = cs->cs_pipe[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = cs->cs_listen, .events = POLLIN };
	p[2] = (struct pollfd){ .fd = -1 };
	if (cs->cs_client >= 0) {
		p[2].fd = cs->cs_client;
		/* Hang-ups are seen even when input is held back. */
		p[2].events = u != NULL && uart_input_room(u) > 0 ? POLLIN : 0;
	}
}

static void
conserv_detach(struct conserv *cs)
{
	if (cs->cs_client >= 0)
		close(cs->cs_client);
	cs->cs_client = -1;
}

int
conserv_log_open(const char *path, off_t *size)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	*size = fd >= 0 && fstat(fd, &st) == 0 ? st.st_size : 0;
	return fd;
}

void
conserv_log_write(int *fd, off_t *size, const char *path, const void *b,
    size_t n)
{
	char old[PATH_MAX];

	if (*fd < 0)
		return;
	if (path != NULL && *size + (off_t)n > CONSERV_LOG_MAX) {
		/* Keep one old log; the disk does not fill with output. */
		snprintf(old, sizeof(old), "%s.1", path);
		(void)rename(path, old);
		close(*fd);
		*fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC |
		    O_CLOEXEC, 0640);
		*size = 0;
		if (*fd < 0)
			return;
	}
	/* A pipe to the keeper may be full: that output is not logged. */
	if (write(*fd, b, n) == (ssize_t)n)
		*size += (off_t)n;
}

void
conserv_log_to(struct conserv *cs, int fd)
{
	if (cs->cs_log >= 0)
		close(cs->cs_log);
	cs->cs_log = fd;
	cs->cs_log_path[0] = '\0';
}

static void
conserv_log(struct conserv *cs, const uint8_t *b, size_t n)
{
	conserv_log_write(&cs->cs_log, &cs->cs_log_size,
	    cs->cs_log_path[0] != '\0' ? cs->cs_log_path : NULL, b, n);
}

static void
conserv_ring(struct conserv *cs, const uint8_t *b, size_t n)
{
	size_t k;

	if (n >= CONSERV_RING) {
		b += n - CONSERV_RING;
		n = CONSERV_RING;
	}
	while (n > 0) {
		k = CONSERV_RING - cs->cs_ring_head;
		if (k > n)
			k = n;
		memcpy(cs->cs_ring + cs->cs_ring_head, b, k);
		cs->cs_ring_head = (cs->cs_ring_head + k) % CONSERV_RING;
		b += k;
		n -= k;
		cs->cs_ring_len += k;
	}
	if (cs->cs_ring_len > CONSERV_RING)
		cs->cs_ring_len = CONSERV_RING;
}

static void
conserv_send(struct conserv *cs, const uint8_t *b, size_t n)
{
	ssize_t w;

	while (cs->cs_client >= 0 && n > 0) {
		w = send(cs->cs_client, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;		/* a slow client misses output */
		if (w <= 0) {
			conserv_detach(cs);
			return;
		}
		b += w;
		n -= (size_t)w;
	}
}

void
conserv_drain(struct conserv *cs)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = read(cs->cs_pipe[0], buf, sizeof(buf))) > 0) {
		conserv_ring(cs, buf, (size_t)n);
		conserv_log(cs, buf, (size_t)n);
		conserv_send(cs, buf, (size_t)n);
	}
}

/* Replay the ring to a new client, oldest byte first. */
static void
conserv_replay(struct conserv *cs)
{
	size_t start = (cs->cs_ring_head + CONSERV_RING - cs->cs_ring_len) %
	    CONSERV_RING;
	size_t first = CONSERV_RING - start;

	if (first > cs->cs_ring_len)
		first = cs->cs_ring_len;
	conserv_send(cs, cs->cs_ring + start, first);
	conserv_send(cs, cs->cs_ring, cs->cs_ring_len - first);
}

static void
conserv_accept(struct conserv *cs)
{
	static const char busy[] = "hull: the console is attached elsewhere\r\n";
	int fd;

	fd = accept4(cs->cs_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (cs->cs_client >= 0) {
		/* One typist at a time; the second is told and let go. */
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		close(fd);
		return;
	}
	cs->cs_client = fd;
	conserv_replay(cs);
}

static void
conserv_input(struct conserv *cs, struct uart *u)
{
	uint8_t buf[512];
	size_t room = uart_input_room(u);
	ssize_t n;

	if (room == 0)
		return;
	n = recv(cs->cs_client, buf, room < sizeof(buf) ? room : sizeof(buf),
	    MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		conserv_detach(cs);
		return;
	}
	uart_input(u, buf, (size_t)n);
}

void
conserv_handle(struct conserv *cs, struct uart *u, const struct pollfd *p)
{
	if (p[0].revents & POLLIN)
		conserv_drain(cs);
	if (p[1].revents & POLLIN)
		conserv_accept(cs);
	if (p[2].fd >= 0 && cs->cs_client == p[2].fd) {
		if ((p[2].revents & POLLIN) && u != NULL)
			conserv_input(cs, u);
		else if (p[2].revents & (POLLHUP | POLLERR))
			conserv_detach(cs);
	}
}

void
conserv_close(struct conserv *cs)
{
	if (cs == NULL)
		return;
	conserv_detach(cs);
	if (cs->cs_listen >= 0) {
		close(cs->cs_listen);
		/* A jailed VMM cannot reach the path: its keeper removes it. */
		if (!sbx_filter_threads)
			(void)unlink(cs->cs_sock_path);
	}
	if (cs->cs_pipe[0] >= 0)
		close(cs->cs_pipe[0]);
	if (cs->cs_pipe[1] >= 0)
		close(cs->cs_pipe[1]);
	if (cs->cs_log >= 0)
		close(cs->cs_log);
	free(cs);
}
