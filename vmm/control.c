/*
 * The control socket server (include/ctl.h, docs/control.md).  Runs on the
 * VMM's main thread, polled with the console and the stop eventfd.  Peers
 * are checked with SO_PEERCRED (root or our own user); requests are
 * bounded (CTL_MSG_MAX) and decoded by ctl_decode alone; a few clients at
 * a time.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "acpi.h"
#include "ctl.h"
#include "sbx_seccomp.h"
#include "machine.h"
#include "session.h"
#include "spec.h"
#include "virtio.h"
#include "virtio_pci.h"

struct ctl_client {
	int	cc_fd;		/* -1: free */
	size_t	cc_len;
	char	cc_buf[CTL_MSG_MAX];
};

struct ctlsrv {
	int			cs_listen;
	char			cs_path[108];
	struct ctl_client	cs_client[CTLSRV_CLIENTS];
};

int
ctlsrv_open(const char *path, struct ctlsrv **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctlsrv *cs;
	unsigned int i;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path too long for a socket", path);
		return -ENAMETOOLONG;
	}
	cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < CTLSRV_CLIENTS; i++)
		cs->cs_client[i].cc_fd = -1;
	snprintf(cs->cs_path, sizeof(cs->cs_path), "%s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cs->cs_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	(void)unlink(path);
	if (cs->cs_listen < 0 ||
	    bind(cs->cs_listen, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(cs->cs_listen, 8) < 0) {
		rc = -errno;
		snprintf(err, errlen, "control socket %s: %s", path,
		    strerror(errno));
		if (cs->cs_listen >= 0)
			close(cs->cs_listen);
		free(cs);
		return rc;
	}
	*out = cs;
	return 0;
}

void
ctlsrv_pollfds(struct ctlsrv *cs, struct pollfd *p)
{
	unsigned int i;

	p[0] = (struct pollfd){ .fd = cs->cs_listen, .events = POLLIN };
	for (i = 0; i < CTLSRV_CLIENTS; i++)
		p[1 + i] = (struct pollfd){ .fd = cs->cs_client[i].cc_fd,
		    .events = POLLIN };
}

static void
ctl_drop(struct ctl_client *c)
{
	if (c->cc_fd >= 0)
		close(c->cc_fd);
	c->cc_fd = -1;
	c->cc_len = 0;
}

/* Send one JSON answer and its newline; a peer that stalls is dropped. */
static void
ctl_send(struct ctl_client *c, json_t *ans)
{
	char *s = json_dumps(ans, JSON_COMPACT);
	size_t n, off = 0;
	ssize_t w;

	json_decref(ans);
	if (s == NULL) {
		ctl_drop(c);
		return;
	}
	n = strlen(s);
	s[n] = '\n';		/* json_dumps leaves room: the NUL */
	n++;
	while (off < n) {
		w = send(c->cc_fd, s + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ctl_drop(c);
			break;
		}
		off += (size_t)w;
	}
	free(s);
}

static json_t *
ctl_error(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/* Milliseconds since the VMM started (whole: JSON readers want no 1e-17). */
static json_int_t
ctl_uptime(const struct vmm_session *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (json_int_t)(now.tv_sec - s->ss_started.tv_sec) * 1000 +
	    (now.tv_nsec - s->ss_started.tv_nsec) / 1000000;
}

/* The spec's name of the i-th virtio device: disks first, then nics. */
static void
ctl_dev_name(const struct vmm_session *s, unsigned int i, char *buf,
    size_t len)
{
	if (i < s->ss_spec->vs_ndisks)
		snprintf(buf, len, "disks[%u]", i);
	else
		snprintf(buf, len, "nics[%u]", i - s->ss_spec->vs_ndisks);
}

static json_t *
ctl_status(const struct vmm_session *s)
{
	return json_pack("{s:b, s:s, s:s, s:i, s:I, s:i, s:i, s:I}",
	    "ok", 1, "name", s->ss_spec->vs_name,
	    "state", s->ss_vm != NULL ? "running" : "rebooting",
	    "pid", (int)getpid(), "uptime_ms", ctl_uptime(s),
	    "boots", (int)s->ss_boots, "vcpus", (int)s->ss_spec->vs_vcpus,
	    "ram_mib", (json_int_t)s->ss_spec->vs_ram_mib);
}

/* KVM exit reasons by number, for the ones a guest makes. */
static const char *
ctl_exit_name(unsigned int r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] =
		"exception", [KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] =
		"hypercall", [KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] =
		"irq_window_open", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
		[KVM_EXIT_SET_TPR] = "set_tpr", [KVM_EXIT_INTERNAL_ERROR] =
		"internal_error", [KVM_EXIT_SYSTEM_EVENT] = "system_event",
	};

	return r < sizeof(names) / sizeof(names[0]) ? names[r] : NULL;
}

static void
ctl_sink_counter(void *ctx, const char *name, uint64_t v)
{
	json_object_set_new(json_object_get(ctx, "counters"), name,
	    json_integer((json_int_t)v));
}

static void
ctl_sink_hist(void *ctx, const char *name, const char *unit,
    const uint64_t *b, unsigned int n)
{
	json_t *a = json_array();
	unsigned int i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)b[i]));
	json_object_set_new(json_object_get(ctx, "histograms"), name,
	    json_pack("{s:s, s:o}", "unit", unit, "log2_buckets", a));
}

static json_t *
ctl_stats(const struct vmm_session *s)
{
	const struct vm *vm = s->ss_vm;
	json_t *ans, *vcpus, *devs;
	char name[32];
	unsigned int i, r;

	if (vm == NULL)
		return ctl_error("the VM is between boots; ask again");
	vcpus = json_array();
	for (i = 0; i < vm->vm_nvcpus; i++) {
		json_t *ex = json_object();

		for (r = 0; r < VCPU_EXIT_REASONS; r++) {
			uint64_t n = __atomic_load_n(&vm->vm_vcpus[i].vc_exits[r],
			    __ATOMIC_RELAXED);
			const char *nm = ctl_exit_name(r);
			char other[24];

			if (n == 0)
				continue;
			if (nm == NULL) {
				snprintf(other, sizeof(other), "exit_%u", r);
				nm = other;
			}
			json_object_set_new(ex, nm, json_integer((json_int_t)n));
		}
		json_array_append_new(vcpus, json_pack("{s:i, s:o}", "id",
		    (int)i, "exits", ex));
	}
	devs = json_array();
	for (i = 0; i < vm->vm_nvirtio; i++) {
		json_t *d;
		struct virtio_stats_sink sink = { NULL, ctl_sink_counter,
		    ctl_sink_hist };

		ctl_dev_name(s, i, name, sizeof(name));
		d = json_pack("{s:s, s:s, s:o, s:o}", "name", name, "model",
		    virtio_pci_model_name(vm->vm_virtio[i]), "counters",
		    json_object(), "histograms", json_object());
		sink.ss_ctx = d;
		virtio_pci_stats(vm->vm_virtio[i], &sink);
		json_array_append_new(devs, d);
	}
	ans = json_pack("{s:b, s:I, s:o, s:o}", "ok", 1, "uptime_ms",
	    ctl_uptime(s), "vcpus", vcpus, "devices", devs);
	return ans;
}

static json_t *
ctl_info(const struct vmm_session *s)
{
	const struct vm *vm = s->ss_vm;
	json_t *ans, *devs, *vcpus;
	char name[32], line[256];
	unsigned int i;

	ans = ctl_status(s);
	if (vm == NULL)
		return ans;
	vcpus = json_array();
	for (i = 0; i < vm->vm_nvcpus; i++)
		json_array_append_new(vcpus, json_pack("{s:i, s:i}", "id",
		    (int)i, "tid", (int)__atomic_load_n(&vm->vm_vcpus[i].vc_tid,
		    __ATOMIC_RELAXED)));
	devs = json_array();
	for (i = 0; i < vm->vm_nvirtio; i++) {
		ctl_dev_name(s, i, name, sizeof(name));
		virtio_pci_describe(vm->vm_virtio[i], line, sizeof(line));
		json_array_append_new(devs, json_pack("{s:s, s:s, s:s}", "name",
		    name, "model", virtio_pci_model_name(vm->vm_virtio[i]),
		    "backend", line));
	}
	json_object_set_new(ans, "vcpu_threads", vcpus);
	json_object_set_new(ans, "devices", devs);
	return ans;
}

static json_t *
ctl_exec(const struct ctl_req *r, struct vmm_session *s)
{
	struct vm *vm = s->ss_vm;

	switch (r->cr_op) {
	case CTL_STATUS:
		return ctl_status(s);
	case CTL_STATS:
		return ctl_stats(s);
	case CTL_INFO:
		return ctl_info(s);
	case CTL_STOP:
		if (vm == NULL)
			return ctl_error("the VM is between boots");
		if (r->cr_force)
			vm_request_stop(vm, VM_STOP_KILLED, "stopped by vmctl "
			    "stop (forced)");
		else
			acpi_pm_power_button(vm->vm_pm);
		return json_pack("{s:b}", "ok", 1);
	case CTL_REBOOT:
		if (vm == NULL)
			return ctl_error("the VM is between boots");
		vm_request_stop(vm, VM_STOP_REBOOT, "reset by vmctl reboot");
		return json_pack("{s:b}", "ok", 1);
	}
	return ctl_error("unknown request");
}

static void
ctl_accept(struct ctlsrv *cs)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct timeval tv = { .tv_sec = 2 };
	unsigned int i;
	int fd;

	fd = accept4(cs->cs_listen, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* Root, or the user the VMM runs as: nobody else drives it. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		close(fd);
		return;
	}
	/* An answer must not stall the VM's main loop for long. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (i = 0; i < CTLSRV_CLIENTS; i++)
		if (cs->cs_client[i].cc_fd < 0) {
			cs->cs_client[i].cc_fd = fd;
			cs->cs_client[i].cc_len = 0;
			return;
		}
	close(fd);	/* too many at once: the client retries */
}

/* Read what the client sent; answer each complete line. */
static void
ctl_read(struct ctl_client *c, struct vmm_session *s)
{
	char err[256];
	struct ctl_req r;
	ssize_t n;
	char *nl;

	n = recv(c->cc_fd, c->cc_buf + c->cc_len, sizeof(c->cc_buf) -
	    c->cc_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		ctl_drop(c);
		return;
	}
	c->cc_len += (size_t)n;
	while (c->cc_fd >= 0 &&
	    (nl = memchr(c->cc_buf, '\n', c->cc_len)) != NULL) {
		size_t line = (size_t)(nl - c->cc_buf);

		if (ctl_decode(c->cc_buf, line, &r, err, sizeof(err)) < 0)
			ctl_send(c, ctl_error(err));
		else
			ctl_send(c, ctl_exec(&r, s));
		if (c->cc_fd < 0)
			return;
		memmove(c->cc_buf, nl + 1, c->cc_len - line - 1);
		c->cc_len -= line + 1;
	}
	if (c->cc_len == sizeof(c->cc_buf)) {
		ctl_send(c, ctl_error("request longer than 4096 bytes"));
		ctl_drop(c);
	}
}

void
ctlsrv_handle(struct ctlsrv *cs, const struct pollfd *p,
    struct vmm_session *s)
{
	unsigned int i;

	if (p[0].revents & POLLIN)
		ctl_accept(cs);
	for (i = 0; i < CTLSRV_CLIENTS; i++) {
		struct ctl_client *c = &cs->cs_client[i];

		if (c->cc_fd < 0 || p[1 + i].fd != c->cc_fd)
			continue;
		if (p[1 + i].revents & POLLIN)
			ctl_read(c, s);
		else if (p[1 + i].revents & (POLLHUP | POLLERR))
			ctl_drop(c);
	}
}

void
ctlsrv_close(struct ctlsrv *cs)
{
	unsigned int i;

	if (cs == NULL)
		return;
	for (i = 0; i < CTLSRV_CLIENTS; i++)
		ctl_drop(&cs->cs_client[i]);
	close(cs->cs_listen);
	/* A jailed VMM cannot reach the path: its keeper removes it. */
	if (!sbx_filter_threads)
		(void)unlink(cs->cs_path);
	free(cs);
}
