/*
 * The jail (docs/jail.md): every VM's VMM runs in a sandbox of its own, the
 * second hull around a guest after KVM.
 *
 * Two processes.  The keeper stays where vmctl started it, privileged and
 * small: it makes the VM's cgroup, starts the jailed VMM for each boot,
 * writes the console log, forwards stop signals and, when the VMM is gone
 * (powered off, crashed, killed, even by SIGKILL), removes what the jail
 * left.  The jailed VMM builds the VM while it still may (opening /dev/kvm,
 * disks, taps, sockets), then enters the jail one step at a time, each step
 * its own function and error:
 *
 *   sbx_net_enter     a network namespace of its own, its taps moved in and
 *                     joined to the host bridge through a veth pair
 *   sbx_mount_enter   a mount namespace whose root (pivot_root) holds only
 *                     this VM's device nodes, disks and sockets
 *   sbx_priv_drop     its own uid and gid, no capabilities, no_new_privs,
 *                     rlimits
 *   then seccomp      each thread installs its class's allowlist
 *                     (include/sbx_seccomp.h) before it runs guest code
 *
 * The pid, ipc, uts and cgroup namespaces come with the process (clone).
 */
#ifndef VMM_SBX_H
#define VMM_SBX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct vm_spec;
struct vmm_opts;

#define SBX_RUN_DIR	"/run/hull"		/* jail roots and uid claims */
#define SBX_UID_BASE	0x48550000u		/* "HU": per-VM uids and gids */
#define SBX_UID_COUNT	65536u
/* Memory the VMM itself may use beyond guest RAM (memory.max). */
#define SBX_MEM_ALLOWANCE_MIB	128
/* Tasks of one VM beyond its vCPUs: main, I/O, io_uring workers. */
#define SBX_TASKS_EXTRA		128

/* One jailed VMM, as the keeper set it up and the VMM enters it. */
struct sbx {
	const struct vm_spec *sb_spec;
	pid_t		 sb_keeper;		/* the keeper, host pid */
	uid_t		 sb_uid;		/* also the gid */
	char		 sb_root[PATH_MAX];	/* mount point of the jail root */
	char		 sb_cgroup[PATH_MAX];	/* "" : no cgroup */
	int		 sb_nl;			/* rtnetlink, host namespace */
	const char	*sb_socks[2];		/* console, control (or NULL) */
	int		 sb_log_fd;		/* console log pipe to the keeper */
	bool		 sb_entered;
	/* The keeper's: the uid claim file and the running jailed VMM. */
	char		 sb_claim[PATH_MAX];
	pid_t		 sb_vmm;
	/* The VM's, not one boot's: its first start and boots so far. */
	struct timespec	 sb_started;
	unsigned int	 sb_boots;
	/* Where the record of this jail is kept for vmctl (NULL: none). */
	const char	*sb_record;
};

/*
 * The VMM's code for one boot, as the keeper runs it inside the jail:
 * vmm_run without the reboot loop.  sb is the jail to enter (sbx_enter)
 * once the VM is built.  Returns an enum vmm_status.
 */
typedef int sbx_boot_fn(const struct vm_spec *, const struct vmm_opts *,
    struct sbx *sb, char *err, size_t errlen);

/*
 * Run spec jailed, one jailed VMM per boot, until the guest powers off or
 * the VM stops (the keeper's side).  Returns an enum vmm_status, err says
 * why when it is not 0.
 */
int	sbx_run(const struct vm_spec *, const struct vmm_opts *,
	    sbx_boot_fn *boot, char *err, size_t errlen);

/*
 * The jailed VMM's side, called with the VM built but no thread started:
 * the network, mount and privilege steps.  0 or -errno, err naming the
 * step that failed.
 */
int	sbx_enter(struct sbx *, char *err, size_t errlen);

/* The steps sbx_enter takes, in order (vmm/sbx_net.c, sbx_mount.c, ...). */
int	sbx_net_enter(struct sbx *, char *err, size_t errlen);
int	sbx_mount_enter(struct sbx *, char *err, size_t errlen);
int	sbx_priv_drop(struct sbx *, char *err, size_t errlen);

/* rtnetlink (vmm/sbx_net.c): a socket in the caller's network namespace,
 * and deleting the link called name there.  -errno on failure. */
int	sbx_nl_open(void);
int	sbx_nl_del(int fd, const char *name);

/* The names the jail gives to nics[i]'s tap and host veth end. */
void	sbx_tap_name(pid_t keeper, unsigned int i, char name[16]);
void	sbx_veth_name(pid_t keeper, unsigned int i, char name[16]);

/*
 * vmm/sbx_cgroup.c.  Make the VM's cgroup with its limits (the keeper);
 * path gets its directory.  0 or -errno with err saying what to do.
 */
int	sbx_cgroup_create(const struct vm_spec *, pid_t keeper, char *path,
	    size_t pathlen, char *err, size_t errlen);
/* Move the calling process into the cgroup at path. */
int	sbx_cgroup_join(const char *path, char *err, size_t errlen);
/* Remove the cgroup at path, waiting up to ms for its tasks to go. */
int	sbx_cgroup_remove(const char *path, int ms);

/*
 * Remove what a jail whose keeper is gone left behind, as recorded in the
 * file at record (written by the keeper): its cgroup, root directory, host
 * veths and uid claim.  Quiet; returns how many things it removed, or
 * -errno when the record cannot be read.
 */
int	sbx_cleanup_record(const char *record);

#endif /* VMM_SBX_H */
