/*
 * The jail's last step (docs/seccomp.md): a seccomp allowlist per thread
 * class, built with libseccomp.  Each thread installs its own filter on
 * itself, before it runs guest code or serves a client; a call outside the
 * list kills the whole VMM (SECCOMP_RET_KILL_PROCESS), and the keeper
 * reports it.  ioctl is allowed only for the request numbers that class
 * uses.
 */
#ifndef VMM_SBX_SECCOMP_H
#define VMM_SBX_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

enum sbx_class {
	SBX_VCPU,	/* a vCPU thread: KVM_RUN and the device exits */
	SBX_IO,		/* the I/O thread: virtqueues, disks, taps */
	SBX_MAIN,	/* the main thread: console, control socket, teardown */
};

/*
 * Set by the jail (run.c) before the VM's threads start: each installs its
 * class's filter first thing.  False without a jail.
 */
extern bool	sbx_filter_threads;

/*
 * Install class's filter on the calling thread (not on the others: each
 * class has its own).  Sets no_new_privs on the thread too (seccomp needs
 * it without CAP_SYS_ADMIN).  0 or -errno with err filled.
 */
int	sbx_seccomp_install(enum sbx_class, char *err, size_t errlen);

/* The class's name, for messages: "vcpu", "io", "main". */
const char	*sbx_class_name(enum sbx_class);

#endif /* VMM_SBX_SECCOMP_H */
