/*
 * Where vmctl keeps VMs (docs/vmctl.md): a root directory (--root, else
 * $HULL_ROOT, else /var/lib/hull) with one directory per VM:
 *
 *	spec.json	the spec as created (canonical, paths absolute)
 *	lock		flock()ed by the vmctl acting on the VM; says who
 *	vmm.pid		"PID STARTTIME EPOCH" while a VMM runs (or died)
 *	exit.json	how the last run ended: status, reason, time
 *	vmm.log		the VMM's own messages (stderr)
 *	console.log	the guest's serial output (rotated at 8 MiB)
 *	console.sock	attach to the serial console
 *	control.sock	the control socket (include/ctl.h)
 */
#ifndef VMCTL_STORE_H
#define VMCTL_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define STORE_DEFAULT_ROOT	"/var/lib/hull"
#define STORE_NAME_MAX		63

struct store {
	char	st_root[PATH_MAX];
};

enum vm_state {
	VMS_STOPPED,	/* no VMM */
	VMS_RUNNING,	/* a VMM runs */
	VMS_FAILED,	/* a VMM ran and died without saying how */
};

struct vm_status {
	enum vm_state	vs_state;
	pid_t		vs_pid;		/* RUNNING, FAILED */
	time_t		vs_since;	/* when the VMM started */
	bool		vs_has_exit;	/* exit.json read */
	int		vs_exit_status;	/* enum vmm_status */
	char		vs_exit_reason[300];
	time_t		vs_exit_time;
};

/* Find (and make, 0700) the root.  0 or -errno with err. */
int	store_open(struct store *, const char *root, char *err, size_t errlen);

/* root/name[/file] into buf; -ENAMETOOLONG if it does not fit. */
int	store_path(const struct store *, const char *name, const char *file,
	    char *buf, size_t len);

bool	store_exists(const struct store *, const char *name);

/*
 * Take the VM's lock for verb, without waiting: 0 and *fd, or -EBUSY with
 * err naming the vmctl that holds it, or -ENOENT if no such VM.
 */
int	store_lock(const struct store *, const char *name, const char *verb,
	    int *fd, char *err, size_t errlen);
void	store_unlock(int fd);

/* The VM's state from its pid and exit files.  0 or -errno. */
int	store_status(const struct store *, const char *name,
	    struct vm_status *);
const char	*store_state_name(enum vm_state);

/* Whether pid is alive and is the process that started at starttime. */
bool	store_pid_alive(pid_t pid, unsigned long long starttime);

/* This process's start time in clock ticks (/proc/self/stat field 22). */
unsigned long long	store_starttime(pid_t pid);

/* Names of every VM, sorted; the count, or -errno.  *names: free() */
int	store_list(const struct store *, char (**names)[STORE_NAME_MAX + 1]);

/* Remove what a run leaves (pid file, sockets) after the VMM is gone. */
void	store_clean_run(const struct store *, const char *name);

/* Read a small file whole (NUL-terminated, malloc'ed), or NULL. */
char	*store_read(const char *path, size_t max);

/* Write data to path atomically (a temporary file, then rename). */
int	store_write(const char *path, const char *data, size_t len);

#endif /* VMCTL_STORE_H */
