/*
 * create, start, stop, reboot, delete, autoboot.  Every verb that changes a
 * VM holds its lock (store_lock) from its first look at the VM's state to
 * its last change, so two vmctl runs on one VM are serialized and the
 * second says which one it lost to.
 *
 * start forks twice: the VMM runs in its own session, detached from the
 * terminal, its stderr in vmm.log, its working directory the VM's (so its
 * sockets have short relative paths).  It tells the waiting vmctl through a
 * pipe when the vCPUs run, or why they will not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "spec.h"
#include "vmctl.h"
#include "vmm.h"

#define START_WAIT_MS	120000	/* spec checks, tap, KVM: never this long */
#define STOP_DEFAULT_S	60
#define KILL_WAIT_MS	5000

static bool	wait_gone(const struct store *, const char *, int);

int
load_spec_verbose(const char *path, struct vm_spec *spec)
{
	struct spec_errs errs;
	unsigned int i;

	if (spec_load(path, spec, &errs) == 0)
		return 0;
	for (i = 0; i < errs.se_n; i++)
		if (strncmp(errs.se_msg[i], path, strlen(path)) == 0)
			fprintf(stderr, "vmctl: %s\n", errs.se_msg[i]);
		else
			fprintf(stderr, "vmctl: %s: %s\n", path, errs.se_msg[i]);
	return -1;
}

int
cmd_create(struct store *st, int argc, char **argv)
{
	struct vm_spec *spec;
	char dir[PATH_MAX], p[PATH_MAX], *text = NULL;
	json_t *j;
	int rc = VMCTL_FAIL;

	if (argc != 2) {
		fprintf(stderr, "usage: vmctl create SPEC.json\n");
		return VMCTL_USAGE;
	}
	spec = calloc(1, sizeof(*spec));
	if (spec == NULL)
		return VMCTL_FAIL;
	if (load_spec_verbose(argv[1], spec) < 0) {
		free(spec);
		return VMCTL_USAGE;	/* a spec with any error creates nothing */
	}
	if (store_path(st, spec->vs_name, NULL, dir, sizeof(dir)) < 0 ||
	    store_path(st, spec->vs_name, "spec.json", p, sizeof(p)) < 0) {
		fprintf(stderr, "vmctl: %s: path too long\n", spec->vs_name);
		goto out;
	}
	/* mkdir is the atomic test: two creates of one name, one wins. */
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "vmctl: %s: a VM of that name exists\n",
			    spec->vs_name);
		else
			fprintf(stderr, "vmctl: %s: %s\n", dir, strerror(errno));
		goto out;
	}
	j = spec_to_json(spec);
	text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) :
	    NULL;
	json_decref(j);
	if (text == NULL || store_write(p, text, strlen(text)) < 0) {
		fprintf(stderr, "vmctl: %s: cannot write: %s\n", p,
		    strerror(errno));
		(void)rmdir(dir);
		goto out;
	}
	printf("%s\n", spec->vs_name);
	rc = VMCTL_OK;
out:
	free(text);
	free(spec);
	return rc;
}

/* The VMM process: never returns. */
static void __attribute__((noreturn))
vmm_child(const struct store *st, const char *name, struct vm_spec *spec,
    int ready_fd)
{
	struct vmm_opts o = {
		.vo_console_in = -1,
		.vo_console_out = -1,
		.vo_console_sock = "console.sock",
		.vo_console_log = "console.log",
		.vo_control_sock = "control.sock",
		.vo_ready_fd = ready_fd,
		.vo_jail_record = "jail.rec",
	};
	char dir[PATH_MAX], line[128], err[600], comm[16];
	json_t *ex;
	char *text;
	int fd, status;

	if (store_path(st, name, NULL, dir, sizeof(dir)) < 0 || chdir(dir) < 0)
		_exit(VMM_ST_ERROR);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	fd = open("vmm.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	snprintf(comm, sizeof(comm), "hull:%s", name);
	(void)prctl(PR_SET_NAME, comm);
	snprintf(line, sizeof(line), "%d %llu %lld\n", (int)getpid(),
	    store_starttime(getpid()), (long long)time(NULL));
	if (store_write("vmm.pid", line, strlen(line)) < 0)
		_exit(VMM_ST_ERROR);
	(void)unlink("exit.json");
	fprintf(stderr, "vmctl: %s: VMM pid %d starting\n", name, (int)getpid());
	status = vmm_run(spec, &o, err, sizeof(err));
	fprintf(stderr, "vmctl: %s: VMM exits with status %d: %s\n", name,
	    status, err[0] ? err : "the guest powered off");
	ex = json_pack("{s:i, s:s, s:I}", "status", status, "reason",
	    err[0] ? err : "the guest powered off", "time",
	    (json_int_t)time(NULL));
	text = ex != NULL ? json_dumps(ex, JSON_COMPACT) : NULL;
	if (text != NULL)
		(void)store_write("exit.json", text, strlen(text));
	(void)unlink("vmm.pid");
	_exit(status);
}

/* Wait for the VMM's first word: 0 when the guest runs, else a status. */
static int
start_wait(int fd, const char *name)
{
	char buf[700];
	size_t len = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int st;

	while (len < sizeof(buf) - 1) {
		if (poll(&p, 1, START_WAIT_MS) <= 0) {
			fprintf(stderr, "vmctl: %s: the VMM did not report in "
			    "%d s; see vmctl info %s\n", name,
			    START_WAIT_MS / 1000, name);
			return VMCTL_FAIL;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "ok") == 0)
		return VMCTL_OK;
	if (sscanf(buf, "error %d", &st) == 1 && strchr(buf + 6, ' ') != NULL) {
		fprintf(stderr, "vmctl: %s: %s\n", name, strchr(buf + 6, ' ') + 1);
		return st == VMM_ST_BADSPEC ? VMCTL_USAGE : VMCTL_FAIL;
	}
	fprintf(stderr, "vmctl: %s: the VMM exited before the guest ran; see "
	    "vmctl info %s\n", name, name);
	return VMCTL_FAIL;
}

/* Start name, whose lock we hold. */
static int
start_locked(struct store *st, const char *name, int lockfd)
{
	struct vm_status vs;
	struct vm_spec *spec;
	char p[PATH_MAX];
	int pfd[2], rc;
	pid_t pid;

	if (store_status(st, name, &vs) < 0) {
		fprintf(stderr, "vmctl: %s: no such VM\n", name);
		return VMCTL_FAIL;
	}
	if (vs.vs_state == VMS_RUNNING) {
		fprintf(stderr, "vmctl: %s: already running (pid %d)\n", name,
		    (int)vs.vs_pid);
		return VMCTL_FAIL;
	}
	store_clean_run(st, name);	/* what a failed VMM left */
	spec = calloc(1, sizeof(*spec));
	if (spec == NULL)
		return VMCTL_FAIL;
	/* The VMM re-validates what it runs: the record may be edited. */
	if (store_path(st, name, "spec.json", p, sizeof(p)) < 0 ||
	    load_spec_verbose(p, spec) < 0) {
		free(spec);
		return VMCTL_USAGE;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(spec);
		return VMCTL_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "vmctl: fork: %s\n", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		free(spec);
		return VMCTL_FAIL;
	}
	if (pid == 0) {
		/* The VMM must not hold our lock, nor our terminal. */
		close(lockfd);
		close(pfd[0]);
		if (setsid() < 0 || (pid = fork()) < 0)
			_exit(1);
		if (pid > 0)
			_exit(0);
		vmm_child(st, name, spec, pfd[1]);
	}
	close(pfd[1]);
	(void)waitpid(pid, NULL, 0);
	rc = start_wait(pfd[0], name);
	close(pfd[0]);
	/*
	 * A VMM that said why it will not run still has to record it
	 * (exit.json) and exit: wait, or the next verb would find it running.
	 */
	if (rc != VMCTL_OK)
		(void)wait_gone(st, name, KILL_WAIT_MS);
	if (rc == VMCTL_OK && store_status(st, name, &vs) == 0)
		printf("%s: running (pid %d)\n", name, (int)vs.vs_pid);
	free(spec);
	return rc;
}

static int
name_arg(int argc, char **argv, int i, const char *usage)
{
	char err[128];

	if (i != argc - 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return -1;
	}
	if (vm_name_check(argv[i], err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return -1;
	}
	return 0;
}

int
cmd_start(struct store *st, int argc, char **argv)
{
	char err[300];
	int fd, rc;

	if (name_arg(argc, argv, 1, "vmctl start NAME") < 0)
		return VMCTL_USAGE;
	if (store_lock(st, argv[1], "start", &fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	rc = start_locked(st, argv[1], fd);
	store_unlock(fd);
	return rc;
}

/* Wait up to ms for the VMM of vs to be gone. */
static bool
wait_gone(const struct store *st, const char *name, int ms)
{
	struct vm_status vs;
	int waited;

	for (waited = 0; ; waited += 50) {
		if (store_status(st, name, &vs) < 0 ||
		    vs.vs_state != VMS_RUNNING)
			return true;
		if (waited >= ms)
			return false;
		usleep(50 * 1000);
	}
}

/* Stop the running VMM of name (lock held); how it went in *how. */
static int
stop_locked(struct store *st, const char *name, int timeout_s, bool force,
    const char **how)
{
	struct vm_status vs;
	char err[300];
	void *ans;

	if (store_status(st, name, &vs) < 0 || vs.vs_state != VMS_RUNNING) {
		if (vs.vs_state == VMS_FAILED)
			store_clean_run(st, name);
		*how = "not running";
		return -ESRCH;
	}
	if (!force) {
		*how = "shut down";
		if (vm_call(st, name, "{\"op\":\"stop\"}", &ans, err,
		    sizeof(err)) == 0) {
			json_decref(ans);
			if (wait_gone(st, name, timeout_s * 1000))
				return 0;
		}
		*how = "forced off after the timeout";
	} else {
		*how = "forced off";
	}
	if (vm_call(st, name, "{\"op\":\"stop\",\"force\":true}", &ans, err,
	    sizeof(err)) == 0) {
		json_decref(ans);
		if (wait_gone(st, name, KILL_WAIT_MS))
			return 0;
	}
	/* A VMM that no longer answers: the one process we started. */
	if (store_status(st, name, &vs) == 0 && vs.vs_state == VMS_RUNNING) {
		*how = "killed (the VMM did not answer)";
		(void)kill(vs.vs_pid, SIGKILL);
		if (!wait_gone(st, name, KILL_WAIT_MS))
			return -ETIMEDOUT;
	}
	store_clean_run(st, name);
	return 0;
}

int
cmd_stop(struct store *st, int argc, char **argv)
{
	const char *how = "";
	bool force = false;
	int i, t = STOP_DEFAULT_S, fd, rc;
	char err[300], *end;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-F") == 0) {
			force = true;
		} else if (strcmp(argv[i], "-t") == 0 && i + 1 >= argc) {
			fprintf(stderr, "vmctl stop: -t needs a number of "
			    "seconds\n");
			return VMCTL_USAGE;
		} else if (strcmp(argv[i], "-t") == 0) {
			t = (int)strtol(argv[++i], &end, 10);
			if (argv[i][0] == '\0' || *end != '\0' || t < 0 ||
			    t > 86400) {
				fprintf(stderr, "vmctl stop: -t %s: not a number "
				    "of seconds (0 to 86400)\n", argv[i]);
				return VMCTL_USAGE;
			}
		} else {
			fprintf(stderr, "vmctl stop: unknown option %s\n",
			    argv[i]);
			return VMCTL_USAGE;
		}
	}
	if (name_arg(argc, argv, i, "vmctl stop [-t SECONDS] [-F] NAME") < 0)
		return VMCTL_USAGE;
	if (store_lock(st, argv[i], "stop", &fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	rc = stop_locked(st, argv[i], t, force, &how);
	store_unlock(fd);
	if (rc == -ESRCH) {
		fprintf(stderr, "vmctl: %s: not running\n", argv[i]);
		return VMCTL_FAIL;
	}
	if (rc < 0) {
		fprintf(stderr, "vmctl: %s: still running after SIGKILL\n",
		    argv[i]);
		return VMCTL_FAIL;
	}
	printf("%s: stopped (%s)\n", argv[i], how);
	return VMCTL_OK;
}

int
cmd_reboot(struct store *st, int argc, char **argv)
{
	char err[300];
	void *ans;
	int fd, rc;

	if (name_arg(argc, argv, 1, "vmctl reboot NAME") < 0)
		return VMCTL_USAGE;
	if (store_lock(st, argv[1], "reboot", &fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	rc = vm_call(st, argv[1], "{\"op\":\"reboot\"}", &ans, err,
	    sizeof(err));
	store_unlock(fd);
	if (rc < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	json_decref(ans);
	printf("%s: rebooting\n", argv[1]);
	return VMCTL_OK;
}

/* Whether name's directory holds a file not in files; its name in buf. */
static bool
delete_foreign(const struct store *st, const char *name,
    const char *const *files, size_t nfiles, char *buf, size_t len)
{
	struct dirent *de;
	char dir[PATH_MAX];
	bool found = false;
	size_t f;
	DIR *d;

	if (store_path(st, name, NULL, dir, sizeof(dir)) < 0 ||
	    (d = opendir(dir)) == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		for (f = 0; f < nfiles; f++)
			if (strcmp(de->d_name, files[f]) == 0)
				break;
		if (f == nfiles) {
			snprintf(buf, len, "%s", de->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

int
cmd_delete(struct store *st, int argc, char **argv)
{
	static const char *const files[] = { "spec.json", "exit.json",
	    "vmm.log", "console.log", "console.log.1", "vmm.pid",
	    "console.sock", "control.sock", "spec.json.tmp", "exit.json.tmp",
	    "vmm.pid.tmp", "jail.rec", "lock" };
	struct vm_status vs;
	const char *how;
	char err[300], p[PATH_MAX];
	bool force = false;
	int i = 1, fd;
	size_t f;

	if (argc > 1 && strcmp(argv[1], "-F") == 0) {
		force = true;
		i++;
	}
	if (name_arg(argc, argv, i, "vmctl delete [-F] NAME") < 0)
		return VMCTL_USAGE;
	if (store_lock(st, argv[i], "delete", &fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	if (store_status(st, argv[i], &vs) == 0 && vs.vs_state == VMS_RUNNING) {
		if (!force) {
			fprintf(stderr, "vmctl: %s: running (pid %d); stop it "
			    "first, or delete -F\n", argv[i], (int)vs.vs_pid);
			store_unlock(fd);
			return VMCTL_FAIL;
		}
		if (stop_locked(st, argv[i], 0, true, &how) < 0 &&
		    store_status(st, argv[i], &vs) == 0 &&
		    vs.vs_state == VMS_RUNNING) {
			fprintf(stderr, "vmctl: %s: cannot stop it\n", argv[i]);
			store_unlock(fd);
			return VMCTL_FAIL;
		}
	}
	store_clean_run(st, argv[i]);	/* a killed keeper's jail */
	/* Files Hull did not put there: say so before removing anything. */
	if (delete_foreign(st, argv[i], files, sizeof(files) / sizeof(files[0]),
	    p, sizeof(p))) {
		fprintf(stderr, "vmctl: %s: holds %s, which is not Hull's; "
		    "nothing was deleted\n", argv[i], p);
		store_unlock(fd);
		return VMCTL_FAIL;
	}
	/* The lock file goes last; we still hold it open. */
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++)
		if (store_path(st, argv[i], files[f], p, sizeof(p)) == 0)
			(void)unlink(p);
	store_path(st, argv[i], NULL, p, sizeof(p));
	if (rmdir(p) < 0) {
		fprintf(stderr, "vmctl: %s: %s (files that are not Hull's are "
		    "left)\n", p, strerror(errno));
		store_unlock(fd);
		return VMCTL_FAIL;
	}
	store_unlock(fd);
	printf("%s: deleted\n", argv[i]);
	return VMCTL_OK;
}

/* Start every stopped VM whose spec says autoboot (e.g. at host boot). */
int
cmd_autoboot(struct store *st, int argc, char **argv)
{
	char (*names)[STORE_NAME_MAX + 1] = NULL, p[PATH_MAX], err[300];
	int n, i, fd, rc = VMCTL_OK;
	struct vm_spec *spec;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: vmctl autoboot\n");
		return VMCTL_USAGE;
	}
	n = store_list(st, &names);
	spec = calloc(1, sizeof(*spec));
	for (i = 0; spec != NULL && i < n; i++) {
		struct spec_errs errs;
		struct vm_status vs;

		if (store_path(st, names[i], "spec.json", p, sizeof(p)) < 0 ||
		    spec_load(p, spec, &errs) < 0 || !spec->vs_autoboot ||
		    store_status(st, names[i], &vs) < 0 ||
		    vs.vs_state == VMS_RUNNING)
			continue;
		if (store_lock(st, names[i], "autoboot", &fd, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "vmctl: %s\n", err);
			rc = VMCTL_FAIL;
			continue;
		}
		if (start_locked(st, names[i], fd) != VMCTL_OK)
			rc = VMCTL_FAIL;
		store_unlock(fd);
	}
	free(spec);
	free(names);
	return rc;
}
