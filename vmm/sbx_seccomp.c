/*
 * Seccomp allowlists per thread class (include/sbx_seccomp.h,
 * docs/seccomp.md), in the manner of Firecracker's per-thread policies:
 * every allowed system call and ioctl has a line saying which class needs
 * it and why.  Anything else kills the VMM.
 *
 * What runs after the filters are in: a vCPU thread runs KVM_RUN and the
 * device register accesses of its exits (which activate, reset and wire
 * devices: irqfds, ioeventfds, vhost-net, tap queues); the I/O thread moves
 * virtqueue data between guest memory and disks and taps; the main thread
 * serves the console and control sockets, takes stop signals and tears the
 * VM down.  Files are all open before the jail: no class may open, exec,
 * make sockets or change ids.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>

#include "sbx_seccomp.h"

bool	sbx_filter_threads;

#define V	(1u << SBX_VCPU)
#define I	(1u << SBX_IO)
#define M	(1u << SBX_MAIN)
#define ALL	(V | I | M)

struct sbx_sys {
	int		 ss_nr;
	unsigned int	 ss_classes;
	const char	*ss_why;
};

/* System calls allowed with any arguments (ioctl, mmap, ... are below). */
static const struct sbx_sys sbx_calls[] = {
	{ SCMP_SYS(read), ALL, "eventfds, tap frames, signalfd, console and control input" },
	{ SCMP_SYS(write), ALL, "eventfds (interrupts, kicks, stop), console output, stderr" },
	{ SCMP_SYS(readv), I, "tap receive into guest buffers" },
	{ SCMP_SYS(writev), I | M, "tap transmit from guest buffers; stdio" },
	{ SCMP_SYS(pread64), I | M, "disk reads (sync engine, read-modify-write); a volume pool's last commit at teardown" },
	{ SCMP_SYS(pwrite64), I | M, "disk writes (sync engine, read-modify-write); a volume pool's last commit at teardown" },
	{ SCMP_SYS(preadv), I, "disk reads into guest buffers (sync engine)" },
	{ SCMP_SYS(pwritev), I, "disk writes from guest buffers (sync engine)" },
	{ SCMP_SYS(preadv2), I, "disk reads (sync engine)" },
	{ SCMP_SYS(pwritev2), I, "disk writes (sync engine)" },
	{ SCMP_SYS(fdatasync), I | M, "virtio-blk FLUSH; disks closed at teardown" },
	{ SCMP_SYS(fsync), I | M, "virtio-blk FLUSH on files that need it" },
	{ SCMP_SYS(fallocate), I, "DISCARD and WRITE_ZEROES on files (punch hole, zero range)" },
	{ SCMP_SYS(io_uring_enter), I | M, "the io_uring disk engine and tap batches; draining at teardown" },
	{ SCMP_SYS(io_submit), I, "the libaio disk engine" },
	{ SCMP_SYS(io_getevents), I | M, "the libaio disk engine; draining it at teardown" },
	{ SCMP_SYS(epoll_wait), I, "the I/O thread's event loop" },
	{ SCMP_SYS(epoll_pwait), I, "the I/O thread's event loop" },
	{ SCMP_SYS(epoll_ctl), ALL, "watching and unwatching fds (activation, throttling, teardown)" },
	{ SCMP_SYS(timerfd_settime), I | V | M, "rate-limit wake-ups (token buckets)" },
	{ SCMP_SYS(timerfd_gettime), I, "rate-limit wake-ups (token buckets)" },
	{ SCMP_SYS(eventfd2), V, "vhost-net call fds made when the driver sets up queues" },
	{ SCMP_SYS(poll), M, "the main loop: console, sockets, stop eventfd, signals" },
	{ SCMP_SYS(ppoll), M, "the main loop (glibc may use ppoll for poll)" },
	{ SCMP_SYS(accept4), M, "a console or control client connects" },
	{ SCMP_SYS(recvfrom), M, "control requests" },
	{ SCMP_SYS(recvmsg), M, "control requests" },
	{ SCMP_SYS(sendto), M, "control answers, console output to the client" },
	{ SCMP_SYS(sendmsg), M, "control answers" },
	{ SCMP_SYS(getsockopt), M, "SO_PEERCRED: who is the client" },
	{ SCMP_SYS(setsockopt), M, "SO_SNDTIMEO on client sockets" },
	{ SCMP_SYS(shutdown), M, "ending a client" },
	{ SCMP_SYS(close), ALL, "fds of clients, devices and the VM at reset and teardown" },
	{ SCMP_SYS(fstat), ALL, "stdio's first write" },
	{ SCMP_SYS(newfstatat), ALL, "stdio's first write (fstat in glibc)" },
	{ SCMP_SYS(lseek), M, "stdio" },
	{ SCMP_SYS(futex), ALL, "mutexes and condition variables; pthread_join" },
	{ SCMP_SYS(clock_gettime), ALL, "time for stats, uptime and token buckets (if not vDSO)" },
	{ SCMP_SYS(clock_nanosleep), ALL, "short waits (io_uring drain, stop)" },
	{ SCMP_SYS(nanosleep), ALL, "short waits" },
	{ SCMP_SYS(sched_yield), I | M, "waiting for io_uring completions to drain" },
	{ SCMP_SYS(munmap), ALL, "malloc; guest RAM and rings at teardown" },
	{ SCMP_SYS(madvise), ALL, "malloc trimming; a thread's stack when it exits" },
	{ SCMP_SYS(mremap), ALL, "realloc of big buffers" },
	{ SCMP_SYS(brk), ALL, "malloc" },
	{ SCMP_SYS(rt_sigprocmask), ALL, "signal masks (glibc, the kick signal)" },
	{ SCMP_SYS(rt_sigreturn), V, "return from the kick signal's handler" },
	{ SCMP_SYS(tgkill), M | V, "kick vCPUs out of KVM_RUN (pthread_kill); abort()" },
	{ SCMP_SYS(gettid), ALL, "thread ids for stats and pthread_kill" },
	{ SCMP_SYS(getpid), ALL, "glibc (raise, pthread_kill)" },
	{ SCMP_SYS(exit), ALL, "a thread ends" },
	{ SCMP_SYS(exit_group), ALL, "the VMM ends" },
	{ SCMP_SYS(restart_syscall), ALL, "a call interrupted by the kick signal resumes" },
	{ SCMP_SYS(getrandom), ALL, "glibc malloc's tcache randomisation" },
};

struct sbx_ioctl {
	unsigned long	 si_req;
	unsigned int	 si_classes;
	const char	*si_why;
};

/* ioctl requests allowed, by number. */
static const struct sbx_ioctl sbx_ioctls[] = {
	{ KVM_RUN, V, "run the vCPU" },
	{ KVM_GET_REGS, V, "the registers for a crash report" },
	{ KVM_GET_SREGS, V, "the registers for a crash report" },
	{ KVM_IRQFD, V | M, "MSI-X vector (un)masked, device set up or torn down" },
	{ KVM_IOEVENTFD, V | M, "doorbells follow BAR0 when the guest moves it; teardown" },
	{ KVM_SET_GSI_ROUTING, V | M, "MSI-X vectors the guest programs" },
	{ KVM_IRQ_LINE, ALL, "INTx and legacy interrupts (UART, ACPI SCI)" },
	{ KVM_SIGNAL_MSI, ALL, "an MSI without an irqfd" },
	{ TUNSETOFFLOAD, ALL, "offloads the driver negotiated (activation, control queue), off at reset" },
	{ TUNSETQUEUE, V | I | M, "tap queues attached or detached (queue pairs, reset)" },
	{ VHOST_SET_OWNER, V, "vhost-net set up when the driver starts" },
	{ VHOST_GET_FEATURES, V, "vhost-net set up" },
	{ VHOST_SET_FEATURES, V, "vhost-net set up" },
	{ VHOST_SET_MEM_TABLE, V, "vhost-net set up: guest RAM" },
	{ VHOST_SET_VRING_NUM, V, "vhost-net queue set up" },
	{ VHOST_SET_VRING_BASE, V, "vhost-net queue set up" },
	{ VHOST_SET_VRING_ADDR, V, "vhost-net queue set up" },
	{ VHOST_SET_VRING_CALL, V | M, "vhost-net interrupts; unhooked at teardown" },
	{ VHOST_SET_VRING_KICK, V | M, "vhost-net doorbells; unhooked at reset and teardown" },
	{ VHOST_NET_SET_BACKEND, V | M, "vhost-net attached to the tap; detached at reset" },
	{ VHOST_GET_VRING_BASE, V | M, "vhost-net stopped at reset and teardown" },
	{ TCGETS, M, "vmctl run's terminal, put back as it was at exit (tcsetattr)" },
	{ TCSETS, M, "vmctl run's terminal, put back as it was at exit (tcsetattr)" },
	{ BLKDISCARD, I, "virtio-blk DISCARD on a block device" },
	{ BLKZEROOUT, I, "virtio-blk WRITE_ZEROES on a block device" },
};

/*
 * fcntl commands allowed: the OFD locks a volume pool's commit takes
 * (vol/pool.c), in the I/O thread, and at teardown when the pool closes.
 */
static const int sbx_fcntls[] = {
	F_OFD_SETLK,
	F_OFD_SETLKW,
};

/* prctl options allowed (thread names; harmless queries). */
static const int sbx_prctls[] = {
	PR_SET_NAME,		/* vCPU and I/O threads name themselves */
	PR_GET_NAME,
	PR_GET_NO_NEW_PRIVS,
	PR_GET_SECCOMP,
};

static const char *const sbx_names[] = { "vcpu", "io", "main" };

const char *
sbx_class_name(enum sbx_class c)
{
	return (unsigned int)c < 3 ? sbx_names[c] : "?";
}

static int
sbx_rules(scmp_filter_ctx ctx, unsigned int bit)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(sbx_calls) / sizeof(sbx_calls[0]); i++) {
		if (!(sbx_calls[i].ss_classes & bit))
			continue;
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    sbx_calls[i].ss_nr, 0)) < 0)
			return rc;
	}
	for (i = 0; i < sizeof(sbx_ioctls) / sizeof(sbx_ioctls[0]); i++) {
		if (!(sbx_ioctls[i].si_classes & bit))
			continue;
		/* The request is an unsigned int in the kernel: compare 32 bits. */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
		    sbx_ioctls[i].si_req & 0xffffffffu))) < 0)
			return rc;
	}
	for (i = 0; i < sizeof(sbx_fcntls) / sizeof(sbx_fcntls[0]); i++)
		if ((bit & (I | M)) && (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
		    SCMP_SYS(fcntl), 1, SCMP_A1(SCMP_CMP_EQ,
		    (scmp_datum_t)sbx_fcntls[i]))) < 0)
			return rc;
	for (i = 0; i < sizeof(sbx_prctls) / sizeof(sbx_prctls[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl),
		    1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)sbx_prctls[i]))) < 0)
			return rc;
	/* Memory for malloc and thread stacks, never executable. */
	if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
	    (rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0)
		return rc;
	return 0;
}

int
sbx_seccomp_install(enum sbx_class c, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((unsigned int)c >= 3) {
		snprintf(err, errlen, "seccomp: no thread class %d", (int)c);
		return -EINVAL;
	}
	/* Filters may only be added by a thread that cannot gain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "seccomp (%s): no_new_privs: %s",
		    sbx_names[c], strerror(errno));
		return -errno;
	}
#ifdef SBX_SECCOMP_LOG
	/* Development only: log what would be killed (dmesg, audit). */
	ctx = seccomp_init(SCMP_ACT_LOG);
#else
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
#endif
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp (%s): out of memory",
		    sbx_names[c]);
		return -ENOMEM;
	}
	/* This thread only: each class installs its own. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0);
	if (rc == 0)
		rc = sbx_rules(ctx, 1u << c);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		snprintf(err, errlen, "seccomp (%s): %s", sbx_names[c],
		    strerror(-rc));
	return rc;
}
