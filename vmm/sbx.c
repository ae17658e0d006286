/*
 * The keeper (include/sbx.h): one jailed VMM per boot, started with clone()
 * into new pid, mount, ipc and uts namespaces; the cgroup it joins, the uid
 * it becomes and the directory its root is mounted on are made here first,
 * and removed here when it is gone.  The keeper holds no guest memory and
 * runs no guest code; it writes the console log so that the jailed VMM
 * needs no writable host file.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conserv.h"
#include "sbx.h"
#include "spec.h"
#include "tap.h"
#include "vmm.h"

#define SBX_STACK	(256 * 1024)	/* the clone child's until it execs nothing */

/* What the keeper hands the jailed VMM across clone(). */
struct sbx_child {
	struct sbx		 sc_sb;
	const struct vmm_opts	*sc_opts;
	sbx_boot_fn		*sc_boot;
	int			 sc_ready;	/* write ends, -1: none */
	int			 sc_log;
	int			 sc_result;
	bool			 sc_first;	/* the first boot reports ready */
};

/* Claim a uid no other live jail has: SBX_RUN_DIR/uids/<n>. */
static int
uid_claim(const char *name, uid_t *uid, char *claim, size_t claimlen,
    char *err, size_t errlen)
{
	unsigned int h = 2166136261u, i, n;
	char line[32], p[PATH_MAX];
	ssize_t len;
	int fd, pid;

	/* Start at the name's hash: a VM tends to keep its uid. */
	for (i = 0; name[i] != '\0'; i++)
		h = (h ^ (unsigned char)name[i]) * 16777619u;
	if ((mkdir(SBX_RUN_DIR, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(SBX_RUN_DIR "/uids", 0700) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "jail: %s/uids: %s", SBX_RUN_DIR,
		    strerror(errno));
		return -errno;
	}
	for (i = 0; i < SBX_UID_COUNT; i++) {
		n = (h + i) % SBX_UID_COUNT;
		snprintf(p, sizeof(p), SBX_RUN_DIR "/uids/%u", n);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			snprintf(line, sizeof(line), "%d\n", (int)getpid());
			(void)!write(fd, line, strlen(line));
			close(fd);
			*uid = SBX_UID_BASE + n;
			snprintf(claim, claimlen, "%s", p);
			return 0;
		}
		if (errno != EEXIST)
			break;
		/* A claim whose keeper is gone (SIGKILL) is free again. */
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, line, sizeof(line) - 1);
		close(fd);
		line[len > 0 ? len : 0] = '\0';
		if (sscanf(line, "%d", &pid) == 1 && pid > 0 &&
		    kill(pid, 0) < 0 && errno == ESRCH && unlink(p) == 0)
			i--;
	}
	snprintf(err, errlen, "jail: no free uid in %s/uids: %s", SBX_RUN_DIR,
	    strerror(errno));
	return -EAGAIN;
}

/* What vmctl needs to clean up after a keeper killed with SIGKILL. */
static void
record_write(const struct sbx *sb)
{
	char v[16];
	unsigned int i;
	FILE *f;

	if (sb->sb_record == NULL || (f = fopen(sb->sb_record, "we")) == NULL)
		return;
	fprintf(f, "pid %d\nvmm %d\nuid %u\nroot %s\ncgroup %s\nclaim %s\n",
	    (int)sb->sb_keeper, (int)sb->sb_vmm, (unsigned int)sb->sb_uid,
	    sb->sb_root, sb->sb_cgroup, sb->sb_claim);
	for (i = 0; i < sb->sb_spec->vs_nnics; i++) {
		sbx_veth_name(sb->sb_keeper, i, v);
		fprintf(f, "veth %s\n", v);
	}
	fclose(f);
}

int
sbx_cleanup_record(const char *record)
{
	char line[PATH_MAX + 16], val[PATH_MAX];
	int n = 0, nl = -1, pid = 0;
	FILE *f;

	if ((f = fopen(record, "re")) == NULL)
		return -errno;
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "pid %d", &pid) != 1 || pid <= 0 ||
	    kill(pid, 0) == 0) {
		/* A keeper still alive cleans up after itself. */
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "cgroup %4095s", val) == 1)
			n += sbx_cgroup_remove(val, 2000) > 0;
		else if (sscanf(line, "root %4095s", val) == 1)
			n += rmdir(val) == 0;
		else if (sscanf(line, "claim %4095s", val) == 1)
			n += unlink(val) == 0;
		else if (sscanf(line, "veth %15s", val) == 1) {
			if (nl < 0)
				nl = sbx_nl_open();
			/* Usually gone with the namespace already. */
			n += nl >= 0 && sbx_nl_del(nl, val) == 0;
		}
	}
	fclose(f);
	if (nl >= 0)
		close(nl);
	(void)unlink(record);
	return n;
}

/* Close every fd but 0-2 and those in keep (sorted, -1 ignored). */
static void
close_others(int *keep, unsigned int n)
{
	unsigned int i, j;
	int lo = 3, t;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (keep[j] < keep[i]) {
				t = keep[i];
				keep[i] = keep[j];
				keep[j] = t;
			}
	for (i = 0; i < n; i++) {
		if (keep[i] < lo)
			continue;
		if (keep[i] > lo)
			(void)close_range((unsigned int)lo,
			    (unsigned int)keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	(void)close_range((unsigned int)lo, ~0U, 0);
}

/* The jailed VMM, from clone(): join the cgroup, then build and run. */
static int
sbx_child(void *arg)
{
	struct sbx_child *c = arg;
	struct sbx *sb = &c->sc_sb;
	struct vmm_opts o = *c->sc_opts;
	struct vm_spec *spec;
	char err[600], line[640];
	int keep[3] = { c->sc_ready, c->sc_log, c->sc_result };
	unsigned int i;
	int status, n;

	/* It must not outlive its keeper (a SIGKILL of the keeper). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	close_others(keep, 3);
	err[0] = '\0';
	spec = malloc(sizeof(*spec));
	status = VMM_ST_ERROR;
	if (spec == NULL) {
		snprintf(err, sizeof(err), "jail: out of memory");
		goto out;
	}
	*spec = *sb->sb_spec;
	/* The taps the jail moves into its namespace get names it knows. */
	for (i = 0; i < spec->vs_nnics; i++)
		if (spec->vs_nics[i].ns_bridge[0] != '\0' &&
		    spec->vs_nics[i].ns_tap[0] == '\0')
			sbx_tap_name(sb->sb_keeper, i, spec->vs_nics[i].ns_tap);
	sb->sb_spec = spec;
	/* The uts namespace is its own: the VM's name, not the host's. */
	(void)!sethostname(spec->vs_name, strlen(spec->vs_name));
	if (sb->sb_cgroup[0] != '\0' &&
	    (sbx_cgroup_join(sb->sb_cgroup, err, sizeof(err)) < 0 ||
	    unshare(CLONE_NEWCGROUP) < 0)) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "jail: cgroup namespace: %s",
			    strerror(errno));
		goto out;
	}
	if ((sb->sb_nl = sbx_nl_open()) < 0) {
		snprintf(err, sizeof(err), "jail: rtnetlink: %s",
		    strerror(errno));
		goto out;
	}
	o.vo_no_reboot = true;		/* the keeper reboots: a new jail */
	o.vo_ready_fd = c->sc_first ? c->sc_ready : -1;
	o.vo_console_log = NULL;	/* sb_log_fd, to the keeper */
	sb->sb_socks[0] = o.vo_console_sock;
	sb->sb_socks[1] = o.vo_control_sock;
	status = c->sc_boot(spec, &o, sb, err, sizeof(err));
out:
	n = snprintf(line, sizeof(line), "%d %s", status, err);
	(void)!write(c->sc_result, line, n < (int)sizeof(line) ? (size_t)n :
	    sizeof(line) - 1);
	_exit(status);
}

/* The keeper's state while one jailed VMM runs. */
struct keeper {
	int	kp_sig;			/* signalfd: stops and SIGCHLD */
	int	kp_log_r, kp_ready_r, kp_result_r;
	bool	kp_told;		/* the first boot said ok or error */
	int	kp_conlog;		/* console.log, -1: none */
	off_t	kp_conlog_size;
	const char *kp_conlog_path;
};

/* Copy what the VMM logged into console.log; false at EOF. */
static bool
keeper_log(struct keeper *k)
{
	char buf[16384];
	ssize_t n;

	while ((n = read(k->kp_log_r, buf, sizeof(buf))) > 0)
		conserv_log_write(&k->kp_conlog, &k->kp_conlog_size,
		    k->kp_conlog_path, buf, (size_t)n);
	return n != 0;
}

/* Pass the first boot's word to vmctl start, which is waiting. */
static void
keeper_ready(struct keeper *k, const struct vmm_opts *o)
{
	char buf[700];
	ssize_t n = read(k->kp_ready_r, buf, sizeof(buf));

	if (n > 0) {
		(void)!write(o->vo_ready_fd, buf, (size_t)n);
		k->kp_told = true;
	}
	close(k->kp_ready_r);
	k->kp_ready_r = -1;
}

/* Start one jailed VMM and wait for it; its status and reason. */
static int
keeper_boot(struct sbx *sb, const struct vmm_opts *o, sbx_boot_fn *boot,
    struct keeper *k, bool first, char *err, size_t errlen)
{
	int ready[2] = { -1, -1 }, logp[2] = { -1, -1 }, res[2];
	struct signalfd_siginfo si;
	struct sbx_child c;
	struct pollfd p[3];
	char *stack, buf[700];
	int ws, status = -1, st;
	ssize_t n;
	pid_t pid, w;

	if (pipe2(res, O_CLOEXEC) < 0 ||
	    (o->vo_console_log != NULL && pipe2(logp, O_CLOEXEC) < 0) ||
	    (first && o->vo_ready_fd >= 0 && pipe2(ready, O_CLOEXEC) < 0)) {
		snprintf(err, errlen, "jail: pipe: %s", strerror(errno));
		return VMM_ST_ERROR;
	}
	/* The VMM never waits on the log: a full pipe drops output there. */
	if (logp[1] >= 0) {
		(void)fcntl(logp[1], F_SETFL, O_NONBLOCK);
		(void)fcntl(logp[1], F_SETPIPE_SZ, 1 << 20);
		(void)fcntl(logp[0], F_SETFL, O_NONBLOCK);
	}
	memset(&c, 0, sizeof(c));
	c.sc_sb = *sb;
	c.sc_opts = o;
	c.sc_boot = boot;
	c.sc_ready = ready[1];
	c.sc_log = logp[1];
	c.sc_result = res[1];
	c.sc_first = first;
	c.sc_sb.sb_log_fd = logp[1];
	stack = mmap(NULL, SBX_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid = stack == MAP_FAILED ? -1 : clone(sbx_child, stack + SBX_STACK,
	    CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD,
	    &c);
	st = errno;
	close(res[1]);
	if (logp[1] >= 0)
		close(logp[1]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (pid < 0) {
		snprintf(err, errlen, "jail: starting the jailed VMM (clone "
		    "with new namespaces): %s", strerror(st));
		goto out;
	}
	sb->sb_vmm = pid;
	record_write(sb);
	k->kp_log_r = logp[0];
	k->kp_ready_r = ready[0];
	k->kp_result_r = res[0];
	for (;;) {
		p[0] = (struct pollfd){ .fd = k->kp_sig, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = k->kp_log_r, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = k->kp_ready_r, .events = POLLIN };
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents != 0 && !keeper_log(k)) {
			close(k->kp_log_r);
			k->kp_log_r = -1;
		}
		if (p[2].revents != 0)
			keeper_ready(k, o);
		if (!(p[0].revents & POLLIN) ||
		    read(k->kp_sig, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			/* vmctl stop, ^C: the VMM stops the guest itself. */
			(void)kill(pid, (int)si.ssi_signo);
			continue;
		}
		w = waitpid(pid, &ws, WNOHANG);
		if (w == pid)
			break;
	}
	if (k->kp_log_r >= 0)
		(void)keeper_log(k);
	if (k->kp_ready_r >= 0)
		keeper_ready(k, o);
	n = read(res[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (WIFEXITED(ws)) {
		status = WEXITSTATUS(ws);
		if (strchr(buf, ' ') != NULL)
			snprintf(err, errlen, "%s", strchr(buf, ' ') + 1);
	} else if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS) {
		status = VMM_ST_ERROR;
		snprintf(err, errlen, "the jailed VMM made a system call its "
		    "seccomp filter forbids and was killed (see the audit log "
		    "or dmesg for the call)");
	} else {
		status = VMM_ST_KILLED;
		snprintf(err, errlen, "the jailed VMM was killed by signal %d",
		    WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
	}
out:
	if (k->kp_log_r >= 0)
		close(k->kp_log_r);
	if (k->kp_ready_r >= 0)
		close(k->kp_ready_r);
	close(res[0]);
	k->kp_log_r = k->kp_ready_r = -1;
	if (stack != MAP_FAILED)
		munmap(stack, SBX_STACK);
	return status < 0 ? VMM_ST_ERROR : status;
}

/* Remove the host ends of the veths now: the namespace goes lazily. */
static void
keeper_unlink(const struct sbx *sb)
{
	char v[16];
	unsigned int i;
	int nl = sbx_nl_open();

	for (i = 0; nl >= 0 && i < sb->sb_spec->vs_nnics; i++) {
		sbx_veth_name(sb->sb_keeper, i, v);
		(void)sbx_nl_del(nl, v);
	}
	if (nl >= 0)
		close(nl);
}

int
sbx_run(const struct vm_spec *spec, const struct vmm_opts *o,
    sbx_boot_fn *boot, char *err, size_t errlen)
{
	struct sbx sb = { .sb_spec = spec, .sb_nl = -1, .sb_log_fd = -1 };
	struct keeper k = { .kp_log_r = -1, .kp_ready_r = -1,
	    .kp_conlog = -1 };
	sigset_t sigs, old;
	bool first = true;
	char buf[700];
	int status, n;

	/* vmctl start may have stopped listening for the ready word. */
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		snprintf(err, errlen, "jail: needs root (it makes namespaces, "
		    "a cgroup and a uid for the VM); run vmctl as root, or "
		    "set \"jail\": false to debug without it");
		status = VMM_ST_ERROR;
		goto tell;
	}
	sb.sb_keeper = getpid();
	sb.sb_record = o->vo_jail_record;
	clock_gettime(CLOCK_MONOTONIC, &sb.sb_started);
	status = VMM_ST_ERROR;
	if (uid_claim(spec->vs_name, &sb.sb_uid, sb.sb_claim,
	    sizeof(sb.sb_claim), err, errlen) < 0)
		goto tell;
	snprintf(sb.sb_root, sizeof(sb.sb_root), SBX_RUN_DIR "/jail/%s.%d",
	    spec->vs_name, (int)sb.sb_keeper);
	if ((mkdir(SBX_RUN_DIR "/jail", 0755) < 0 && errno != EEXIST) ||
	    mkdir(sb.sb_root, 0755) < 0) {
		snprintf(err, errlen, "jail: %s: %s", sb.sb_root,
		    strerror(errno));
		(void)unlink(sb.sb_claim);
		goto tell;
	}
	if (sbx_cgroup_create(spec, sb.sb_keeper, sb.sb_cgroup,
	    sizeof(sb.sb_cgroup), err, errlen) < 0)
		goto out;
	record_write(&sb);
	if (o->vo_console_log != NULL) {
		k.kp_conlog_path = o->vo_console_log;
		k.kp_conlog = conserv_log_open(o->vo_console_log,
		    &k.kp_conlog_size);
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	k.kp_sig = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (k.kp_sig < 0) {
		snprintf(err, errlen, "jail: signalfd: %s", strerror(errno));
		goto out_mask;
	}
	for (;;) {
		err[0] = '\0';
		status = keeper_boot(&sb, o, boot, &k, first, err, errlen);
		sb.sb_boots++;
		keeper_unlink(&sb);
		first = false;
		if (status != VMM_ST_REBOOT || o->vo_no_reboot)
			break;
	}
	close(k.kp_sig);
out_mask:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (k.kp_conlog >= 0)
		close(k.kp_conlog);
	(void)sbx_cgroup_remove(sb.sb_cgroup, 2000);
out:
	(void)rmdir(sb.sb_root);
	(void)unlink(sb.sb_claim);
	/* The jailed VMM could not remove its sockets from inside. */
	if (o->vo_console_sock != NULL)
		(void)unlink(o->vo_console_sock);
	if (o->vo_control_sock != NULL)
		(void)unlink(o->vo_control_sock);
	if (sb.sb_record != NULL)
		(void)unlink(sb.sb_record);
tell:
	if (!k.kp_told && o->vo_ready_fd >= 0) {
		/* Stopped before it could say: vmctl start still waits. */
		n = snprintf(buf, sizeof(buf), "error %d %s\n", status != 0 ?
		    status : VMM_ST_ERROR, err[0] != '\0' ? err :
		    "the VM stopped before it ran");
		(void)!write(o->vo_ready_fd, buf, (size_t)n);
	}
	return status;
}

int
sbx_enter(struct sbx *sb, char *err, size_t errlen)
{
	int rc;

	if ((rc = sbx_net_enter(sb, err, errlen)) < 0 ||
	    (rc = sbx_mount_enter(sb, err, errlen)) < 0 ||
	    (rc = sbx_priv_drop(sb, err, errlen)) < 0)
		return rc;
	tap_jailed();
	sb->sb_entered = true;
	return 0;
}
