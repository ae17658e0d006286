/*
 * Running a VM: the entry point vmctl (and later the VMM daemon) calls.
 */
#ifndef VMM_VMM_H
#define VMM_VMM_H

#include <stdbool.h>
#include <stddef.h>

struct vm_spec;

/*
 * Exit statuses of `vmctl run` (docs/statuses.md).  vmm_run returns one.
 */
enum vmm_status {
	VMM_ST_POWEROFF	= 0,	/* the guest powered off */
	VMM_ST_ERROR	= 1,	/* the VMM or the host failed */
	VMM_ST_BADSPEC	= 2,	/* the spec is invalid, or does not fit this host */
	VMM_ST_CRASH	= 3,	/* the guest crashed: triple fault, internal error */
	VMM_ST_REBOOT	= 4,	/* the guest asked for a reset and rebooting is off */
	VMM_ST_KILLED	= 5,	/* stopped by a signal or the console escape */
};

struct vmm_opts {
	int	vo_console_in;	/* fd the console reads; -1 for none */
	int	vo_console_out;	/* fd the guest's serial output goes to */
	bool	vo_no_reboot;	/* a guest reset ends the run (VMM_ST_REBOOT) */
	bool	vo_raw_tty;	/* put console_in in raw mode if it is a tty */
	/*
	 * A VM in the background (vmctl start): when vo_console_sock is set,
	 * the console is served on that unix socket (and appended to
	 * vo_console_log if set) instead of console_in/out.  vo_control_sock:
	 * the control socket (include/ctl.h), or NULL.  vo_ready_fd: once the
	 * vCPUs run, "ok\n" is written there, or "error <status>
	 * <message>\n" if the VM could not be built; then it is closed.  -1
	 * for none.
	 */
	const char	*vo_console_sock;
	const char	*vo_console_log;
	const char	*vo_control_sock;
	int		 vo_ready_fd;
	/*
	 * Where the jail's keeper records what to remove should it be
	 * killed (sbx_cleanup_record), or NULL.
	 */
	const char	*vo_jail_record;
};

/* The console escape: Ctrl-] ends the VM, as telnet and virsh use it. */
#define VMM_CONSOLE_ESCAPE	0x1d

/*
 * Build the VM the spec describes, run it until it stops and tear it down.
 * A guest reset rebuilds the VM in place unless vo_no_reboot.  Returns an
 * enum vmm_status; when it is not VMM_ST_POWEROFF, err holds a one-line
 * reason (without a trailing newline).
 */
int	vmm_run(const struct vm_spec *, const struct vmm_opts *, char *err,
	    size_t errlen);

#endif /* VMM_VMM_H */
