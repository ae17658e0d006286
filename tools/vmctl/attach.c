/*
 * vmctl console NAME: the VM's serial console on this terminal.  The VMM
 * replays its recent output first; Ctrl-] detaches (the VM keeps running),
 * on a terminal or not, so scripts can detach too.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "vmctl.h"
#include "vmm.h"

static int
copy_out(int from, int to)
{
	char buf[4096];
	ssize_t n, w, off;

	n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	for (off = 0; off < n; off += w) {
		w = write(to, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w < 0)
			return -1;
	}
	return 0;
}

int
cmd_console(struct store *st, int argc, char **argv)
{
	struct termios saved, raw;
	bool tty = false, in_open = true;
	char err[300], buf[512], *esc;
	int fd, rc = VMCTL_OK;
	ssize_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: vmctl console NAME  (Ctrl-] detaches)\n");
		return VMCTL_USAGE;
	}
	if (vm_name_check(argv[1], err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_USAGE;
	}
	if (!store_exists(st, argv[1])) {
		fprintf(stderr, "vmctl: %s: no such VM\n", argv[1]);
		return VMCTL_FAIL;
	}
	fd = vm_connect(st, argv[1], "console.sock", err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST;
		tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		fprintf(stderr, "vmctl: attached to %s; Ctrl-] detaches\r\n",
		    argv[1]);
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (copy_out(fd, STDOUT_FILENO) < 0) {
				fprintf(stderr, "%svmctl: %s: the console closed "
				    "(the VM stopped, or another vmctl is "
				    "attached)\n", tty ? "\r\n" : "", argv[1]);
				rc = VMCTL_FAIL;
				break;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;	/* keep showing output */
				continue;
			}
			esc = memchr(buf, VMM_CONSOLE_ESCAPE, (size_t)n);
			if (esc != NULL)
				n = esc - buf;
			if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
				break;
			if (esc != NULL) {
				fprintf(stderr, "%svmctl: detached from %s\n",
				    tty ? "\r\n" : "", argv[1]);
				break;
			}
		}
	}
	if (tty)
		(void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(fd);
	return rc;
}
