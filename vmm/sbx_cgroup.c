/*
 * The VM's cgroup (cgroup v2, Documentation/admin-guide/cgroup-v2.rst):
 * <cgroup2 mount>/hull/<name>.<keeper pid>, holding the jailed VMM and its
 * threads, with
 *
 *   cpu.max      limits.cpu_cap percent of one CPU (as vmadm's cpu_cap)
 *   memory.max   ram + SBX_MEM_ALLOWANCE_MIB (the VMM's own memory)
 *   pids.max     vcpus + SBX_TASKS_EXTRA
 *   io.max       limits.disk_iops / disk_bps on each disk's block device
 *
 * "hull" itself holds no process (cgroup v2's no-internal-process rule);
 * it only hands the controllers down.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"
#include "spec.h"

#define CG_DEFAULT	"/sys/fs/cgroup"

/* Write s to dir/file; 0 or -errno. */
static int
cg_write(const char *dir, const char *file, const char *s)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd, rc = 0;

	if (snprintf(p, sizeof(p), "%s/%s", dir, file) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != strlen(s))
		rc = -EIO;
	close(fd);
	return rc;
}

/* Read dir/file into buf (NUL-terminated); 0 or -errno. */
static int
cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(p, sizeof(p), "%s/%s", dir, file) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Where cgroup2 is mounted, per /proc/self/mountinfo. */
static bool
cg_find(char *out, size_t outlen)
{
	char line[4096], mnt[PATH_MAX], *dash;
	FILE *f;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "... mount-point opts ... - fstype source opts" */
		dash = strstr(line, " - ");
		if (dash == NULL || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			fclose(f);
			snprintf(out, outlen, "%s", mnt);
			return true;
		}
	}
	fclose(f);
	return false;
}

/* Where cgroup2 is mounted, mounting it at /sys/fs/cgroup if nowhere. */
static int
cg_mount_point(char *out, size_t outlen, char *err, size_t errlen)
{
	struct stat st, up;
	int e;

	if (cg_find(out, outlen))
		return 0;
	/* Not mounted: take /sys/fs/cgroup if it is a plain empty place. */
	if (stat(CG_DEFAULT, &st) == 0 && stat("/sys/fs", &up) == 0 &&
	    st.st_dev == up.st_dev &&
	    mount("cgroup2", CG_DEFAULT, "cgroup2", MS_NOSUID | MS_NODEV |
	    MS_NOEXEC, NULL) == 0) {
		snprintf(out, outlen, "%s", CG_DEFAULT);
		return 0;
	}
	e = errno;
	/* Another VM starting at the same moment may have mounted it. */
	if (cg_find(out, outlen))
		return 0;
	snprintf(err, errlen, "cgroup v2 is not mounted and cannot be mounted "
	    "at %s (%s); mount it with `mount -t cgroup2 none %s`, or set "
	    "\"jail\": false", CG_DEFAULT, strerror(e), CG_DEFAULT);
	return -ENOENT;
}

/* Whether the space-separated list has word. */
static bool
cg_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' ||
		    p[n] == '\n' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

/*
 * The whole-disk device under the file or device at path, for io.max (it
 * takes no partitions); false when the path is on no block device (tmpfs,
 * 9p, overlayfs: there the token buckets in the device do the limiting).
 */
static bool
cg_disk_dev(const char *path, unsigned int *maj, unsigned int *min)
{
	char p[PATH_MAX], buf[32];
	struct stat st;
	dev_t d;
	int fd;
	ssize_t n;

	if (stat(path, &st) < 0)
		return false;
	d = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	if (major(d) == 0)
		return false;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", major(d),
	    minor(d));
	if (access(p, F_OK) == 0) {
		/* A partition: its parent directory in sysfs is the disk. */
		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../dev", major(d),
		    minor(d));
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return false;
		buf[n] = '\0';
		return sscanf(buf, "%u:%u", maj, min) == 2;
	}
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(d), minor(d));
	if (access(p, F_OK) < 0)
		return false;
	*maj = major(d);
	*min = minor(d);
	return true;
}

/* Write the spec's limits into the VM's cgroup at dir. */
static int
cg_limits(const struct vm_spec *spec, const char *dir, char *err,
    size_t errlen)
{
	const struct limits_spec *l = &spec->vs_limits;
	char v[160], rw[96];
	unsigned int i, maj, min;
	int rc;

	snprintf(v, sizeof(v), "%llu", (unsigned long long)
	    (spec->vs_ram_mib + SBX_MEM_ALLOWANCE_MIB) << 20);
	if ((rc = cg_write(dir, "memory.max", v)) < 0) {
		snprintf(err, errlen, "cgroup %s: memory.max: %s", dir,
		    strerror(-rc));
		return rc;
	}
	snprintf(v, sizeof(v), "%u", spec->vs_vcpus + SBX_TASKS_EXTRA);
	if ((rc = cg_write(dir, "pids.max", v)) < 0) {
		snprintf(err, errlen, "cgroup %s: pids.max: %s", dir,
		    strerror(-rc));
		return rc;
	}
	if (l->ls_cpu_cap != 0) {
		/* cap percent of one CPU: quota/period, period 100 ms. */
		snprintf(v, sizeof(v), "%u 100000", l->ls_cpu_cap * 1000);
		if ((rc = cg_write(dir, "cpu.max", v)) < 0) {
			snprintf(err, errlen, "limits.cpu_cap: cgroup %s: "
			    "cpu.max: %s", dir, strerror(-rc));
			return rc;
		}
	}
	if (l->ls_disk_iops == 0 && l->ls_disk_bps == 0)
		return 0;
	rw[0] = '\0';
	if (l->ls_disk_iops != 0)
		snprintf(rw, sizeof(rw), " riops=%llu wiops=%llu",
		    (unsigned long long)l->ls_disk_iops,
		    (unsigned long long)l->ls_disk_iops);
	if (l->ls_disk_bps != 0)
		snprintf(rw + strlen(rw), sizeof(rw) - strlen(rw),
		    " rbps=%llu wbps=%llu", (unsigned long long)l->ls_disk_bps,
		    (unsigned long long)l->ls_disk_bps);
	for (i = 0; i < spec->vs_ndisks; i++) {
		if (!cg_disk_dev(spec->vs_disks[i].ds_path, &maj, &min))
			continue;
		snprintf(v, sizeof(v), "%u:%u%s", maj, min, rw);
		/* Some devices (loop, nbd) refuse; the token buckets hold. */
		if ((rc = cg_write(dir, "io.max", v)) < 0)
			fprintf(stderr, "hull: disks[%u]: io.max on %u:%u: %s "
			    "(the device's own limit still holds)\n", i, maj,
			    min, strerror(-rc));
	}
	return 0;
}

int
sbx_cgroup_create(const struct vm_spec *spec, pid_t keeper, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	static const char *const ctl[] = { "memory", "pids", "cpu", "io" };
	char mnt[PATH_MAX], top[PATH_MAX], have[512], want[64];
	unsigned int i;
	bool need;
	int rc;

	if ((rc = cg_mount_point(mnt, sizeof(mnt), err, errlen)) < 0)
		return rc;
	if ((rc = cg_read(mnt, "cgroup.controllers", have, sizeof(have))) < 0) {
		snprintf(err, errlen, "%s/cgroup.controllers: %s", mnt,
		    strerror(-rc));
		return rc;
	}
	want[0] = '\0';
	for (i = 0; i < 4; i++) {
		need = i < 2 || (i == 2 && spec->vs_limits.ls_cpu_cap != 0);
		if (!cg_has(have, ctl[i])) {
			if (!need)
				continue;
			snprintf(err, errlen, "cgroup v2 at %s has no %s "
			    "controller (the host gives it to a cgroup v1 "
			    "hierarchy?); boot with systemd.unified_cgroup_"
			    "hierarchy=1, or set \"jail\": false", mnt, ctl[i]);
			return -ENOTSUP;
		}
		snprintf(want + strlen(want), sizeof(want) - strlen(want),
		    "%s+%s", want[0] ? " " : "", ctl[i]);
	}
	if (snprintf(top, sizeof(top), "%s/hull", mnt) >= (int)sizeof(top)) {
		snprintf(err, errlen, "cgroup %s: path too long", mnt);
		return -ENAMETOOLONG;
	}
	if (mkdir(top, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cgroup %s: %s", top, strerror(errno));
		return -errno;
	}
	if ((rc = cg_write(mnt, "cgroup.subtree_control", want)) < 0 ||
	    (rc = cg_write(top, "cgroup.subtree_control", want)) < 0) {
		snprintf(err, errlen, "cgroup %s: enabling %s: %s", top, want,
		    strerror(-rc));
		return rc;
	}
	if (snprintf(path, pathlen, "%s/%s.%d", top, spec->vs_name,
	    (int)keeper) >= (int)pathlen) {
		snprintf(err, errlen, "cgroup %s: path too long", top);
		path[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (mkdir(path, 0755) < 0) {
		snprintf(err, errlen, "cgroup %s: %s", path, strerror(errno));
		path[0] = '\0';
		return -errno;
	}
	if ((rc = cg_limits(spec, path, err, errlen)) < 0) {
		(void)rmdir(path);
		path[0] = '\0';
	}
	return rc;
}

int
sbx_cgroup_join(const char *path, char *err, size_t errlen)
{
	int rc = cg_write(path, "cgroup.procs", "0");

	if (rc < 0)
		snprintf(err, errlen, "cgroup %s: joining: %s", path,
		    strerror(-rc));
	return rc;
}

int
sbx_cgroup_remove(const char *path, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	char mnt[PATH_MAX], here[PATH_MAX + 64], err[8];
	const char *base = strrchr(path, '/');
	int waited;

	/*
	 * The keeper's cgroup2 mount may not be ours (ip netns exec mounts
	 * a fresh /sys): the hierarchy is one, so find the cgroup in ours.
	 */
	if (access(path, F_OK) < 0 && errno == ENOENT && base != NULL &&
	    cg_mount_point(mnt, sizeof(mnt), err, sizeof(err)) == 0 &&
	    snprintf(here, sizeof(here), "%s/hull%s", mnt, base) <
	    (int)sizeof(here))
		path = here;

	/* The tasks of a killed VMM leave the cgroup a moment later. */
	for (waited = 0; rmdir(path) < 0; waited += 10) {
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY || waited >= ms)
			return -errno;
		nanosleep(&ts, NULL);
	}
	return 1;
}
