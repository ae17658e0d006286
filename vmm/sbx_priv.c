/*
 * The jail's privilege step: the jailed VMM becomes a uid and gid of its
 * own (SBX_UID_BASE + n, claimed by the keeper, docs/jail.md says why not
 * a user namespace), with no capabilities in any set (libcap-ng), no way
 * to gain any (no_new_privs), no core dumps, and bounded files and tasks.
 * Every file it needs is open already; from here on it can open nothing
 * of the host's, and the seccomp filters (include/sbx_seccomp.h) narrow
 * what it can ask of the kernel.
 */
#include <cap-ng.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sbx.h"
#include "spec.h"

/* Open files: the VM's own plus eventfds, timers and clients made later. */
#define SBX_NOFILE	4096

static int
priv_rlimits(const struct sbx *sb, char *err, size_t errlen)
{
	const struct { int res; rlim_t val; const char *name; } lim[] = {
		/* A core would hold guest memory: none. */
		{ RLIMIT_CORE, 0, "RLIMIT_CORE" },
		{ RLIMIT_NOFILE, SBX_NOFILE, "RLIMIT_NOFILE" },
		/* Counted per uid: the VMM's threads and io_uring workers. */
		{ RLIMIT_NPROC, sb->sb_spec->vs_vcpus + SBX_TASKS_EXTRA,
		    "RLIMIT_NPROC" },
	};
	struct rlimit rl;
	unsigned int i;

	for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		rl.rlim_cur = rl.rlim_max = lim[i].val;
		if (setrlimit(lim[i].res, &rl) < 0) {
			snprintf(err, errlen, "jail: %s: %s", lim[i].name,
			    strerror(errno));
			return -errno;
		}
	}
	return 0;
}

int
sbx_priv_drop(struct sbx *sb, char *err, size_t errlen)
{
	int rc;

	if ((rc = priv_rlimits(sb, err, errlen)) < 0)
		return rc;
	/* Empty every set, the bounding set too, then change ids. */
	capng_clear(CAPNG_SELECT_BOTH);
	rc = capng_change_id((int)sb->sb_uid, (int)sb->sb_uid,
	    CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (rc != 0) {
		snprintf(err, errlen, "jail: becoming uid/gid %u without "
		    "capabilities: libcap-ng capng_change_id failed (%d)",
		    (unsigned int)sb->sb_uid, rc);
		return -EPERM;
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_BOTH) != CAPNG_NONE ||
	    getuid() != sb->sb_uid || geteuid() != sb->sb_uid) {
		snprintf(err, errlen, "jail: capabilities or ids are left "
		    "after dropping them");
		return -EPERM;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "jail: no_new_privs: %s",
		    strerror(errno));
		return -errno;
	}
	/* Not even our own uid may ptrace or read us; no dumps. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Changing ids cleared it: the VMM dies with its keeper. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		snprintf(err, errlen, "jail: parent-death signal: %s",
		    strerror(errno));
		return -errno;
	}
	return 0;
}
