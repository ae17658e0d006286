/*
 * The jail probe (test build only, guest-tests/test_jail.py): goes through
 * the same jail as a VMM -- sbx_run, the keeper, clone into the namespaces,
 * sbx_enter, the main thread's seccomp filter -- but instead of running a
 * guest it tries to get out, and prints one line per attempt:
 *
 *   PROBE <what> ok|FAIL <detail>
 *
 * "ok" means the jail held.  Arguments: a spec file (the jail is built for
 * it: its disks, its nics), then what to try to reach:
 *
 *   jail_probe SPEC HOST_FILE OTHER_SOCKET OTHER_PID [forbidden]
 *
 * The jail's own checks run before the main thread's seccomp filter is in
 * (they make calls the filter forbids); then the filter goes in, as in a
 * VMM.  With "forbidden" it ends with a system call no thread class allows
 * (execve), which must kill it with SIGSYS; the keeper's message says so.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "sbx.h"
#include "sbx_seccomp.h"
#include "spec.h"
#include "vmm.h"

static const char *host_file, *other_sock;
static int other_pid;
static bool forbidden;

static void __attribute__((format(printf, 3, 4)))
say(const char *what, bool ok, const char *fmt, ...)
{
	va_list ap;
	char detail[256];

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	printf("PROBE %s %s %s\n", what, ok ? "ok" : "FAIL", detail);
	fflush(stdout);
}

static void
probe_files(void)
{
	struct dirent *de;
	char names[512] = "";
	DIR *d;
	int fd;

	fd = open(host_file, O_RDONLY | O_CLOEXEC);
	say("host-file", fd < 0, "open %s", host_file);
	if (fd >= 0)
		close(fd);
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	say("no-proc", fd < 0, "%s", fd < 0 ? "no /proc" : "/proc is there");
	if (fd >= 0)
		close(fd);
	/* What the root holds, for the test to compare. */
	if ((d = opendir("/")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				snprintf(names + strlen(names), sizeof(names) -
				    strlen(names), "%s%s", names[0] ? "," : "",
				    de->d_name);
		closedir(d);
	}
	say("root", true, "%s", names);
	fd = open("/probe-write", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	say("root-readonly", fd < 0, "%s", fd < 0 ? strerror(errno) :
	    "created a file");
	if (fd >= 0)
		close(fd);
}

static void
probe_procs(const struct sbx *sb)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)getpid());
	say("pid-1", getpid() == 1, "getpid %s", v);
	say("keeper-invisible", kill(sb->sb_keeper, 0) < 0 && errno == ESRCH,
	    "kill(keeper, 0): %s", strerror(errno));
	errno = 0;
	say("other-vm-invisible", other_pid <= 0 ||
	    (kill(other_pid, 0) < 0 && errno == ESRCH),
	    "kill(other VMM, 0): %s", strerror(errno));
}

static void
probe_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", other_sock);
	if (s >= 0)
		rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
	say("other-socket", rc < 0, "connect %s", other_sock);
	if (s >= 0)
		close(s);
}

static void
probe_privs(const struct sbx *sb)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct c[2];
	char v[64];
	bool none;

	memset(c, 0xff, sizeof(c));
	none = syscall(SYS_capget, &h, c) == 0 && c[0].effective == 0 &&
	    c[1].effective == 0 && c[0].permitted == 0 && c[1].permitted == 0;
	say("no-capabilities", none, "%s", none ? "CapEff 0" : "capabilities");
	snprintf(v, sizeof(v), "%u/%u", (unsigned int)getuid(),
	    (unsigned int)sb->sb_uid);
	say("own-uid", getuid() == sb->sb_uid && getuid() != 0, "uid %s", v);
	say("no-new-privs", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1,
	    "%s", "PR_GET_NO_NEW_PRIVS");
	/* A setuid-root binary would be the way back: there is none, and
	 * no_new_privs; setuid(0) itself must fail. */
	say("no-setuid", setuid(0) < 0, "setuid(0): %s", strerror(errno));
}

/* The sbx_boot_fn: the jail is entered as a VMM enters it. */
static int
probe_boot(const struct vm_spec *spec, const struct vmm_opts *o,
    struct sbx *sb, char *err, size_t errlen)
{
	char *argv[] = { "/bin/true", NULL };

	(void)spec;
	(void)o;
	if (sbx_enter(sb, err, errlen) < 0)
		return VMM_ST_ERROR;
	/* The jail holds without seccomp: these calls are its own. */
	probe_files();
	probe_procs(sb);
	probe_socket();
	probe_privs(sb);
	/* Then the main thread's filter, as a VMM installs it. */
	if (sbx_seccomp_install(SBX_MAIN, err, errlen) < 0)
		return VMM_ST_ERROR;
	say("seccomp", prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2, "%s",
	    "PR_GET_SECCOMP is 2 (filter)");
	if (forbidden) {
		printf("PROBE forbidden-syscall next\n");
		fflush(stdout);
		execve(argv[0], argv, NULL);
		say("forbidden-syscall", false, "execve returned: %s",
		    strerror(errno));
	}
	return VMM_ST_POWEROFF;
}

int
main(int argc, char **argv)
{
	struct vmm_opts o = { .vo_console_in = -1, .vo_console_out = 1,
	    .vo_ready_fd = -1 };
	static struct vm_spec spec;
	struct spec_errs se;
	char err[600];
	int st;

	if (argc < 5) {
		fprintf(stderr, "usage: jail_probe SPEC HOST_FILE OTHER_SOCKET "
		    "OTHER_PID [forbidden]\n");
		return 2;
	}
	if (spec_load(argv[1], &spec, &se) < 0) {
		fprintf(stderr, "jail_probe: %s\n", se.se_msg[0]);
		return 2;
	}
	host_file = argv[2];
	other_sock = argv[3];
	other_pid = atoi(argv[4]);
	forbidden = argc > 5 && strcmp(argv[5], "forbidden") == 0;
	st = sbx_run(&spec, &o, probe_boot, err, sizeof(err));
	printf("PROBE-END status %d %s\n", st, err);
	return 0;
}
