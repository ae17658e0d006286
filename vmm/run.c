/*
 * vmm_run: build a VM from a spec, run it, tear it down, and again on a
 * guest reset.  The calling thread becomes the event loop: it feeds console
 * input to the UART, takes SIGINT/SIGTERM/SIGHUP through a signalfd, and
 * waits for a stop request from a vCPU or device.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "conserv.h"
#include "ioloop.h"
#include "machine.h"
#include "sbx.h"
#include "sbx_seccomp.h"
#include "session.h"
#include "spec.h"
#include "trace.h"
#include "uart.h"
#include "vmm.h"
#include "vol.h"

struct console {
	int		co_in;		/* -1: no input, or input hit EOF */
	bool		co_tty;		/* co_in is a tty in raw mode */
	struct termios	co_saved;
	/* In the background: the console and control sockets. */
	struct conserv	*co_srv;
	struct ctlsrv	*co_ctl;
	struct vmm_session co_sess;
};

static void
console_open(struct console *co, const struct vmm_opts *o)
{
	struct termios raw;

	co->co_in = o->vo_console_in;
	co->co_tty = false;
	if (co->co_in < 0 || !o->vo_raw_tty || !isatty(co->co_in) ||
	    tcgetattr(co->co_in, &co->co_saved) < 0)
		return;
	raw = co->co_saved;
	cfmakeraw(&raw);
	/* Keep output processing so host messages still start a new line. */
	raw.c_oflag |= OPOST;
	if (tcsetattr(co->co_in, TCSANOW, &raw) == 0)
		co->co_tty = true;
}

static void
console_close(struct console *co)
{
	if (co->co_tty)
		(void)tcsetattr(co->co_in, TCSANOW, &co->co_saved);
	co->co_tty = false;
}

/* Move what the user typed into the UART; false at EOF or on the escape. */
static void
console_input(struct vm *vm, struct console *co)
{
	uint8_t buf[512];
	size_t room = uart_input_room(vm->vm_uart), i;
	ssize_t n;

	if (room == 0)
		return;
	n = read(co->co_in, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		co->co_in = -1;		/* EOF: the guest keeps running */
		return;
	}
	if (co->co_tty)
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] == VMM_CONSOLE_ESCAPE) {
				vm_request_stop(vm, VM_STOP_KILLED,
				    "stopped from the console (Ctrl-])");
				n = (ssize_t)i;
				break;
			}
	uart_input(vm->vm_uart, buf, (size_t)n);
}

/* Wait until something asks the VM to stop. */
static void
vmm_loop(struct vm *vm, struct console *co, int sig_fd)
{
	enum { P_STOP, P_SIG, P_ROOM, P_IN, P_SRV, P_CTL = P_SRV + CONSERV_NFDS,
	    P_N = P_CTL + CTLSRV_NFDS };

	while (__atomic_load_n(&vm->vm_stop, __ATOMIC_ACQUIRE) == VM_STOP_NONE) {
		struct pollfd p[P_N];
		uint64_t v;
		int i;

		for (i = 0; i < P_N; i++)
			p[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
		p[P_STOP].fd = vm->vm_stop_fd;
		p[P_SIG].fd = sig_fd;
		p[P_ROOM].fd = uart_room_fd(vm->vm_uart);
		if (co->co_in >= 0 && uart_input_room(vm->vm_uart) > 0)
			p[P_IN].fd = co->co_in;
		if (co->co_srv != NULL)
			conserv_pollfds(co->co_srv, vm->vm_uart, &p[P_SRV]);
		if (co->co_ctl != NULL)
			ctlsrv_pollfds(co->co_ctl, &p[P_CTL]);
		if (poll(p, P_N, -1) < 0) {
			if (errno == EINTR)
				continue;
			vm_request_stop(vm, VM_STOP_ERROR, "poll: %s",
			    strerror(errno));
			break;
		}
		if (p[P_SIG].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				vm_request_stop(vm, VM_STOP_KILLED, "stopped by "
				    "signal %s", strsignal((int)si.ssi_signo));
		}
		if (p[P_ROOM].revents & POLLIN)
			(void)!read(p[P_ROOM].fd, &v, sizeof(v));
		if (p[P_IN].revents & (POLLIN | POLLHUP | POLLERR))
			console_input(vm, co);
		if (co->co_srv != NULL)
			conserv_handle(co->co_srv, vm->vm_uart, &p[P_SRV]);
		if (co->co_ctl != NULL)
			ctlsrv_handle(co->co_ctl, &p[P_CTL], &co->co_sess);
	}
	if (co->co_srv != NULL)
		conserv_drain(co->co_srv);
}

/*
 * Each disk is a regular file or a block device whose size is a non-zero
 * multiple of 512 bytes: checked before KVM, so the message is the same on
 * every host.  The backend checks again when it opens the file.
 */
static int
vmm_check_disks(const struct vm_spec *spec, char *err, size_t errlen)
{
	unsigned int i;
	struct stat st;

	for (i = 0; i < spec->vs_ndisks; i++) {
		const char *p = spec->vs_disks[i].ds_path;

		if (stat(p, &st) < 0) {
			snprintf(err, errlen, "disks[%u].path: %s: %s", i, p,
			    strerror(errno));
			return -errno;
		}
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "disks[%u].path: %s: is a directory",
			    i, p);
			return -EISDIR;
		}
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			snprintf(err, errlen, "disks[%u].path: %s: not a file or "
			    "a block device", i, p);
			return -EINVAL;
		}
		if (S_ISREG(st.st_mode) && (st.st_size == 0 ||
		    st.st_size % 512 != 0)) {
			snprintf(err, errlen, "disks[%u].path: %s: size %lld bytes "
			    "is not a non-zero multiple of 512", i, p,
			    (long long)st.st_size);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * What a NIC needs from the host, checked before KVM for the same reason
 * as disks: a bridge that exists and is a bridge, a named tap that is a
 * tap if it exists, /dev/vhost-net if asked for.  Whether a tap is in use
 * shows only when it is opened (devices/tap.c says so then).
 */
static int
vmm_check_nics(const struct vm_spec *spec, char *err, size_t errlen)
{
	char path[96];
	unsigned int i;
	struct stat st;

	for (i = 0; i < spec->vs_nnics; i++) {
		const struct nic_spec *ns = &spec->vs_nics[i];

		if (ns->ns_bridge[0] != '\0') {
			snprintf(path, sizeof(path), "/sys/class/net/%s",
			    ns->ns_bridge);
			if (stat(path, &st) < 0) {
				snprintf(err, errlen, "nics[%u].bridge: bridge %s "
				    "does not exist", i, ns->ns_bridge);
				return -ENODEV;
			}
			snprintf(path, sizeof(path), "/sys/class/net/%s/bridge",
			    ns->ns_bridge);
			if (stat(path, &st) < 0) {
				snprintf(err, errlen, "nics[%u].bridge: %s is not "
				    "a bridge", i, ns->ns_bridge);
				return -EINVAL;
			}
		}
		if (ns->ns_tap[0] != '\0') {
			snprintf(path, sizeof(path), "/sys/class/net/%s",
			    ns->ns_tap);
			if (stat(path, &st) == 0) {
				snprintf(path, sizeof(path),
				    "/sys/class/net/%s/tun_flags", ns->ns_tap);
				if (stat(path, &st) < 0) {
					snprintf(err, errlen, "nics[%u].tap: %s "
					    "exists and is not a tap", i,
					    ns->ns_tap);
					return -EINVAL;
				}
			}
		}
		if (ns->ns_vhost && access("/dev/vhost-net", R_OK | W_OK) < 0) {
			snprintf(err, errlen, "nics[%u].vhost: /dev/vhost-net: "
			    "%s", i, strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* Host limits a spec can exceed although it is valid on its own. */
static int
vmm_check_host(const struct vm_spec *spec, char *err, size_t errlen)
{
	unsigned long long kb = 0;
	char line[128];
	FILE *f;

	if (vmm_check_disks(spec, err, errlen) < 0 ||
	    vmm_check_nics(spec, err, errlen) < 0)
		return -EINVAL;
	f = fopen("/proc/meminfo", "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	if (kb != 0 && spec->vs_ram_mib > kb / 1024) {
		snprintf(err, errlen, "ram: %llu MiB is more than this host's "
		    "memory (%llu MiB)", (unsigned long long)spec->vs_ram_mib,
		    kb / 1024);
		return -E2BIG;
	}
	return 0;
}

static void
vmm_teardown(struct vm *vm)
{
	vcpu_kick_all(vm);
	vcpu_join_all(vm);
	/* Devices go after the vCPUs, so no exit can reach a freed one. */
	pcihost_destroy(vm);
	vcpu_destroy_all(vm);
	platform_destroy(vm);
	vm_destroy(vm);
}

/*
 * Tell whoever started us in the background that the VM runs (status 0)
 * or why it does not; once.
 */
static void
vmm_ready(const struct vmm_opts *o, int status, const char *err)
{
	static bool told;
	char line[700];
	int n;

	if (o->vo_ready_fd < 0 || told)
		return;
	told = true;
	if (status == 0)
		n = snprintf(line, sizeof(line), "ok\n");
	else
		n = snprintf(line, sizeof(line), "error %d %s\n", status, err);
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	(void)!write(o->vo_ready_fd, line, (size_t)n);
	close(o->vo_ready_fd);
}

static int
vmm_io_seccomp(char *err, size_t errlen)
{
	return sbx_seccomp_install(SBX_IO, err, errlen);
}

/* One boot of the VM: the stop reason, or a status for a failed build. */
static int
vmm_boot(struct vm *vm, int kvm_fd, const struct vm_spec *spec,
    const struct boot_image *bim, const struct vmm_opts *o,
    struct console *co, int sig_fd, struct sbx *sb, char *err, size_t errlen)
{
	uint64_t rsdp = 0;
	int rc, status;

	rc = vm_create(vm, kvm_fd, spec);
	trace_point("vm-created");
	if (rc == 0)
		rc = platform_create(vm, co->co_srv != NULL ?
		    conserv_out_fd(co->co_srv) : o->vo_console_out, &rsdp);
	if (rc == 0)
		rc = pcihost_create(vm);
	if (rc == 0)
		rc = boot_linux(vm, bim, rsdp);
	trace_point("loaded");
	if (rc == 0)
		rc = vcpu_create_all(vm);
	/* Everything is open: into the jail before any thread starts. */
	if (rc == 0 && sb != NULL && (rc = sbx_enter(sb, vm->vm_err,
	    sizeof(vm->vm_err))) == 0) {
		trace_point("jailed");
		sbx_filter_threads = true;
		ioloop_thread_init = vmm_io_seccomp;
	}
	if (rc == 0)
		rc = pcihost_start(vm);
	if (rc == 0)
		rc = vcpu_start_all(vm);
	if (rc == 0 && sb != NULL)
		rc = sbx_seccomp_install(SBX_MAIN, vm->vm_err,
		    sizeof(vm->vm_err));
	if (rc < 0) {
		snprintf(err, errlen, "%s", vm->vm_err);
		vmm_teardown(vm);
		return rc == -E2BIG || vm->vm_badspec ? VMM_ST_BADSPEC :
		    VMM_ST_ERROR;
	}
	co->co_sess.ss_vm = vm;
	co->co_sess.ss_boots++;
	vmm_ready(o, 0, NULL);
	vmm_loop(vm, co, sig_fd);
	co->co_sess.ss_vm = NULL;
	trace_point("stopping");
	vmm_teardown(vm);
	snprintf(err, errlen, "%s", vm->vm_err);
	switch (vm->vm_stop) {
	case VM_STOP_POWEROFF:
		status = VMM_ST_POWEROFF;
		break;
	case VM_STOP_REBOOT:
		status = VMM_ST_REBOOT;
		if (err[0] == '\0')
			snprintf(err, errlen, "the guest asked for a reset");
		break;
	case VM_STOP_CRASH:
		status = VMM_ST_CRASH;
		break;
	case VM_STOP_KILLED:
		status = VMM_ST_KILLED;
		break;
	default:
		status = VMM_ST_ERROR;
		break;
	}
	return status;
}

/* The background sockets, when asked for; 0 or VMM_ST_ERROR with err. */
static int
vmm_sockets(struct console *co, const struct vmm_opts *o, char *err,
    size_t errlen)
{
	if (o->vo_console_sock != NULL &&
	    conserv_open(o->vo_console_sock, o->vo_console_log, &co->co_srv,
	    err, errlen) < 0)
		return VMM_ST_ERROR;
	if (o->vo_control_sock != NULL &&
	    ctlsrv_open(o->vo_control_sock, &co->co_ctl, err, errlen) < 0)
		return VMM_ST_ERROR;
	return 0;
}

static int
vmm_run_checked(const struct vm_spec *spec, const struct vmm_opts *o,
    struct sbx *sb, char *err, size_t errlen)
{
	struct boot_image bim;
	struct console co;
	struct vm vm;
	sigset_t stop_sigs, kick, old;
	int kvm_fd, sig_fd, status;

	/* Everything the spec names is checked before KVM is touched. */
	if (vmm_check_host(spec, err, errlen) < 0 ||
	    boot_probe(spec, &bim, err, errlen) < 0)
		return VMM_ST_BADSPEC;
	trace_point("probed");
	if (vm_open_kvm(&kvm_fd, err, errlen) < 0) {
		boot_close(&bim);
		return VMM_ST_ERROR;
	}

	/* A console reader that goes away must not kill the VMM mid-write. */
	signal(SIGPIPE, SIG_IGN);
	/* Signals that stop the VM arrive on a signalfd; no thread takes them. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	sigaddset(&stop_sigs, SIGHUP);
	sigemptyset(&kick);
	sigaddset(&kick, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, &old);
	pthread_sigmask(SIG_BLOCK, &kick, NULL);
	sig_fd = signalfd(-1, &stop_sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		boot_close(&bim);
		close(kvm_fd);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return VMM_ST_ERROR;
	}

	memset(&co, 0, sizeof(co));
	co.co_sess.ss_spec = spec;
	clock_gettime(CLOCK_MONOTONIC, &co.co_sess.ss_started);
	if (sb != NULL) {
		/* One jailed VMM per boot: the keeper counts the VM's. */
		co.co_sess.ss_started = sb->sb_started;
		co.co_sess.ss_boots = sb->sb_boots;
	}
	status = vmm_sockets(&co, o, err, errlen);
	if (status == 0 && sb != NULL && sb->sb_log_fd >= 0 && co.co_srv != NULL)
		conserv_log_to(co.co_srv, sb->sb_log_fd);
	if (status == 0)
		console_open(&co, o);
	while (status == 0) {
		err[0] = '\0';
		status = vmm_boot(&vm, kvm_fd, spec, &bim, o, &co, sig_fd, sb,
		    err, errlen);
		boot_close(&bim);
		if (status != VMM_ST_REBOOT || o->vo_no_reboot)
			break;
		/* A reset boots the files as they are now. */
		if (boot_probe(spec, &bim, err, errlen) < 0) {
			status = VMM_ST_BADSPEC;
			break;
		}
		status = 0;
	}
	console_close(&co);
	ctlsrv_close(co.co_ctl);
	conserv_close(co.co_srv);

	close(sig_fd);
	close(kvm_fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return status;
}

static int	vmm_run_resolved(const struct vm_spec *, const struct vmm_opts *,
		    char *, size_t);

/* What the jail cannot change is checked before it is built. */
static int
vmm_precheck(const struct vm_spec *spec, char *err, size_t errlen)
{
	struct boot_image bim;
	int kvm_fd;

	if (vmm_check_host(spec, err, errlen) < 0 ||
	    boot_probe(spec, &bim, err, errlen) < 0)
		return VMM_ST_BADSPEC;
	boot_close(&bim);
	if (vm_open_kvm(&kvm_fd, err, errlen) < 0)
		return VMM_ST_ERROR;
	close(kvm_fd);
	return 0;
}

/*
 * A volume disk ("pool/vol") runs on its pool's file: look the pool up in
 * the registry (include/vol.h) and fill in ds_path, so the checks, the
 * jail's bind mounts and the cgroup's io.max see the file like any disk.
 */
static int
vmm_resolve_volumes(struct vm_spec *spec, char *err, size_t errlen)
{
	char pool[SPEC_PATH_MAX + 1], verr[512];
	unsigned int i, j;

	for (i = 0; i < spec->vs_ndisks; i++) {
		struct disk_spec *d = &spec->vs_disks[i];

		if (d->ds_volume[0] == '\0')
			continue;
		snprintf(pool, sizeof(pool), "%s", d->ds_volume);
		*strchr(pool, '/') = '\0';
		if (vol_registry_path(NULL, pool, d->ds_path, sizeof(d->ds_path),
		    verr, sizeof(verr)) < 0) {
			snprintf(err, errlen, "disks[%u].volume: %s", i, verr);
			return VMM_ST_BADSPEC;
		}
		for (j = 0; j < i; j++)
			if (spec->vs_disks[j].ds_volume[0] == '\0' &&
			    strcmp(spec->vs_disks[j].ds_path, d->ds_path) == 0) {
				snprintf(err, errlen, "disks[%u].volume: its pool %s "
				    "is disks[%u]'s file", i, d->ds_path, j);
				return VMM_ST_BADSPEC;
			}
	}
	return 0;
}

int
vmm_run(const struct vm_spec *spec_in, const struct vmm_opts *o, char *err,
    size_t errlen)
{
	struct vm_spec *spec;
	int status;

	err[0] = '\0';
	/*
	 * One malloc arena: glibc shrinks a thread arena's heap only after
	 * reading /proc/sys/vm/overcommit_memory, an open the jail forbids
	 * (seen when a volume's caches are freed at teardown).
	 */
	mallopt(M_ARENA_MAX, 1);
	if ((spec = malloc(sizeof(*spec))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return VMM_ST_ERROR;
	}
	*spec = *spec_in;
	status = vmm_resolve_volumes(spec, err, errlen);
	if (status == 0)
		status = vmm_run_resolved(spec, o, err, errlen);
	else
		vmm_ready(o, status, err);
	free(spec);
	return status;
}

static int
vmm_run_resolved(const struct vm_spec *spec, const struct vmm_opts *o,
    char *err, size_t errlen)
{
	int status;

	if (!spec->vs_jail) {
		fprintf(stderr, "hull: %s: WARNING: \"jail\": false: the VMM "
		    "runs unconfined, with all of vmctl's privileges; for "
		    "debugging only\n", spec->vs_name);
		status = vmm_run_checked(spec, o, NULL, err, errlen);
	} else {
		status = vmm_precheck(spec, err, errlen);
		/* The keeper passes on the jailed VMM's word. */
		if (status == 0)
			return sbx_run(spec, o, vmm_run_checked, err, errlen);
	}
	/* A VM that never ran: its starter learns why (no-op if it ran). */
	vmm_ready(o, status == 0 ? VMM_ST_ERROR : status, err[0] ? err :
	    "the VM stopped before it ran");
	return status;
}
