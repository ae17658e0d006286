/*
 * The VM store (store.h): directories, locks and the state of a VM as the
 * files say it.  A VMM's pid alone could be reused by another process, so
 * the pid file also holds the process's start time, checked against /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sbx.h"
#include "store.h"

int
store_open(struct store *st, const char *root, char *err, size_t errlen)
{
	char *p;

	if (root == NULL || root[0] == '\0')
		root = getenv("HULL_ROOT");
	if (root == NULL || root[0] == '\0')
		root = STORE_DEFAULT_ROOT;
	if (strlen(root) >= sizeof(st->st_root) - STORE_NAME_MAX - 32) {
		snprintf(err, errlen, "%s: root path too long", root);
		return -ENAMETOOLONG;
	}
	snprintf(st->st_root, sizeof(st->st_root), "%s", root);
	/* mkdir -p, so a fresh host needs no setup. */
	for (p = st->st_root + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(st->st_root, 0755);
		*p = '/';
	}
	if (mkdir(st->st_root, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", st->st_root, strerror(errno));
		return -errno;
	}
	return 0;
}

int
store_path(const struct store *st, const char *name, const char *file,
    char *buf, size_t len)
{
	int n;

	if (file == NULL)
		n = snprintf(buf, len, "%s/%s", st->st_root, name);
	else
		n = snprintf(buf, len, "%s/%s/%s", st->st_root, name, file);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool
store_exists(const struct store *st, const char *name)
{
	char p[PATH_MAX];
	struct stat sb;

	return store_path(st, name, "spec.json", p, sizeof(p)) == 0 &&
	    stat(p, &sb) == 0;
}

char *
store_read(const char *path, size_t max)
{
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, max);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

int
store_write(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		(void)unlink(tmp);
	return rc;
}

int
store_lock(const struct store *st, const char *name, const char *verb,
    int *fdp, char *err, size_t errlen)
{
	char p[PATH_MAX], who[128];
	ssize_t n;
	int fd;

	if (!store_exists(st, name)) {
		snprintf(err, errlen, "%s: no such VM", name);
		return -ENOENT;
	}
	if (store_path(st, name, "lock", p, sizeof(p)) < 0)
		return -ENAMETOOLONG;
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(fd, who, sizeof(who) - 1, 0);
		who[n > 0 ? n : 0] = '\0';
		who[strcspn(who, "\n")] = '\0';
		snprintf(err, errlen, "%s: busy: another vmctl is working on "
		    "it (%s)", name, who[0] ? who : "unknown");
		close(fd);
		return -EBUSY;
	}
	/* Say who holds it, for the one that loses. */
	n = snprintf(who, sizeof(who), "vmctl %s, pid %d\n", verb,
	    (int)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, who, (size_t)n, 0);
	*fdp = fd;
	return 0;
}

void
store_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

/*
 * Read pid's state letter and start time (/proc/PID/stat fields 3 and 22)
 * in one read.  false if there is no such process.
 */
static bool
store_proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char p[64], *buf, *s;
	int i;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	buf = store_read(p, 4096);
	if (buf == NULL)
		return false;
	*state = '?';
	*start = 0;
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	s = strrchr(buf, ')');
	if (s != NULL && s[1] == ' ') {
		s += 2;
		*state = *s;
		/* state is field 3; starttime is field 22. */
		for (i = 3; i < 22 && s != NULL; i++) {
			s = strchr(s, ' ');
			if (s != NULL)
				s++;
		}
		if (s != NULL)
			*start = strtoull(s, NULL, 10);
	}
	free(buf);
	return true;
}

unsigned long long
store_starttime(pid_t pid)
{
	unsigned long long t;
	char state;

	return store_proc_stat(pid, &state, &t) ? t : 0;
}

bool
store_pid_alive(pid_t pid, unsigned long long starttime)
{
	unsigned long long t;
	char state;

	/* A zombie is dead: its parent has not reaped it yet. */
	return pid > 0 && store_proc_stat(pid, &state, &t) &&
	    t == starttime && state != 'Z';
}

int
store_status(const struct store *st, const char *name, struct vm_status *vs)
{
	unsigned long long start;
	char p[PATH_MAX], *buf;
	long long since;
	json_t *j;
	int pid;

	memset(vs, 0, sizeof(*vs));
	if (!store_exists(st, name))
		return -ENOENT;
	vs->vs_state = VMS_STOPPED;
	if (store_path(st, name, "exit.json", p, sizeof(p)) == 0 &&
	    (buf = store_read(p, 4096)) != NULL) {
		j = json_loads(buf, 0, NULL);
		if (json_is_object(j)) {
			vs->vs_has_exit = true;
			vs->vs_exit_status = (int)json_integer_value(
			    json_object_get(j, "status"));
			vs->vs_exit_time = (time_t)json_integer_value(
			    json_object_get(j, "time"));
			snprintf(vs->vs_exit_reason, sizeof(vs->vs_exit_reason),
			    "%s", json_string_value(json_object_get(j,
			    "reason")) ? json_string_value(json_object_get(j,
			    "reason")) : "");
		}
		json_decref(j);
		free(buf);
	}
	if (store_path(st, name, "vmm.pid", p, sizeof(p)) < 0 ||
	    (buf = store_read(p, 256)) == NULL)
		return 0;
	if (sscanf(buf, "%d %llu %lld", &pid, &start, &since) == 3) {
		vs->vs_pid = pid;
		vs->vs_since = (time_t)since;
		vs->vs_state = store_pid_alive(pid, start) ? VMS_RUNNING :
		    VMS_FAILED;
	} else {
		vs->vs_state = VMS_FAILED;	/* a torn pid file */
	}
	free(buf);
	return 0;
}

const char *
store_state_name(enum vm_state s)
{
	switch (s) {
	case VMS_RUNNING:
		return "running";
	case VMS_FAILED:
		return "failed";
	default:
		return "stopped";
	}
}

static int
store_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
store_list(const struct store *st, char (**names)[STORE_NAME_MAX + 1])
{
	char (*v)[STORE_NAME_MAX + 1] = NULL, (*nv)[STORE_NAME_MAX + 1];
	struct dirent *de;
	int n = 0, cap = 0;
	DIR *d;

	d = opendir(st->st_root);
	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strlen(de->d_name) > STORE_NAME_MAX ||
		    !store_exists(st, de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
		}
		snprintf(v[n++], sizeof(v[0]), "%s", de->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(v, (size_t)n, sizeof(v[0]), store_cmp);
	*names = v;
	return n;
}

void
store_clean_run(const struct store *st, const char *name)
{
	static const char *const files[] = { "vmm.pid", "console.sock",
	    "control.sock" };
	char p[PATH_MAX];
	size_t i;

	/* A keeper killed with SIGKILL left its jail's cgroup and dirs. */
	if (store_path(st, name, "jail.rec", p, sizeof(p)) == 0)
		(void)sbx_cleanup_record(p);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (store_path(st, name, files[i], p, sizeof(p)) == 0)
			(void)unlink(p);
}
