/*
 * The control socket's client side (include/ctl.h for the protocol).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "vmctl.h"

#define VM_ANSWER_MAX	(1 << 20)

int
vm_name_check(const char *name, char *err, size_t errlen)
{
	size_t i, n = strlen(name);

	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			break;
	}
	if (n == 0 || n > STORE_NAME_MAX || i < n || name[0] == '.' ||
	    name[0] == '_' || name[0] == '-') {
		snprintf(err, errlen, "\"%.80s\" is not a VM name", name);
		return -EINVAL;
	}
	return 0;
}

int
vm_connect(const struct store *st, const char *name, const char *sock,
    char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	int dfd, fd, rc;

	if (store_path(st, name, NULL, dir, sizeof(dir)) < 0)
		return -ENAMETOOLONG;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, errlen, "%s: no such VM", name);
		return -ENOENT;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
	    sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: not running (%s: %s)", name, sock,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		close(dfd);
		return rc;
	}
	close(dfd);
	return fd;
}

int
vm_call(const struct store *st, const char *name, const char *req,
    void **ansp, char *err, size_t errlen)
{
	struct timeval tv = { .tv_sec = 10 };
	size_t len = 0, cap = 4096;
	char *buf, *nl = NULL;
	json_t *ans;
	ssize_t n;
	int fd;

	fd = vm_connect(st, name, "control.sock", err, errlen);
	if (fd < 0)
		return fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		snprintf(err, errlen, "%s: control socket: %s", name,
		    strerror(errno));
		close(fd);
		return -EIO;
	}
	buf = malloc(cap);
	while (buf != NULL && nl == NULL) {
		if (len + 1 >= cap) {
			char *nb = cap < VM_ANSWER_MAX ? realloc(buf, cap * 2) :
			    NULL;

			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		buf[len + (size_t)n] = '\0';
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL || nl == NULL) {
		snprintf(err, errlen, "%s: the VMM did not answer", name);
		free(buf);
		return -EIO;
	}
	ans = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
	free(buf);
	if (!json_is_object(ans)) {
		json_decref(ans);
		snprintf(err, errlen, "%s: the VMM's answer is not JSON", name);
		return -EIO;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		snprintf(err, errlen, "%s: %s", name,
		    json_string_value(json_object_get(ans, "error")) ?
		    json_string_value(json_object_get(ans, "error")) :
		    "refused");
		json_decref(ans);
		return -EINVAL;
	}
	*ansp = ans;
	return 0;
}
