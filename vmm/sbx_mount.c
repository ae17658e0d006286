/*
 * The jail's mount step: a root of its own for the jailed VMM, a small
 * tmpfs holding only what this VM uses, each bound from the host:
 *
 *   /dev/kvm, /dev/net/tun (nics), /dev/vhost-net (vhost nics)
 *   /disks/<i>                      each disk, read-only when the spec says
 *   /run/console.sock, control.sock the VM's sockets (vmctl start)
 *
 * and nothing else: no /proc, no /etc, no other VM.  Everything the VMM
 * uses is open before this step; the paths are there so that what the
 * jail holds can be seen (vmctl info, /proc/PID/root) and so the files
 * keep their identity (a disk's path is the disk).  The root is mounted on
 * an empty directory under SBX_RUN_DIR in the VMM's own mount namespace,
 * so the host sees only the empty directory, which the keeper removes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sbx.h"
#include "spec.h"

/* Bind src onto root/dst (a file made for it), read-only if ro. */
static int
mnt_bind(const char *root, const char *src, const char *dst, bool ro,
    char *err, size_t errlen)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s%s", root, dst);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	close(fd);
	if (mount(src, p, NULL, MS_BIND, NULL) < 0)
		goto fail;
	/* A bind takes its flags only on a remount. */
	if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC |
	    (ro ? MS_RDONLY : 0), NULL) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "jail: root: %s on %s: %s", src, dst,
	    strerror(errno));
	return -errno;
}

static int
mnt_dir(const char *root, const char *dir, char *err, size_t errlen)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s%s", root, dir);
	if (mkdir(p, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "jail: root: %s: %s", dir,
		    strerror(errno));
		return -errno;
	}
	return 0;
}

/* Fill the new root with this VM's nodes, disks and sockets. */
static int
mnt_fill(struct sbx *sb, const char *root, char *err, size_t errlen)
{
	const struct vm_spec *spec = sb->sb_spec;
	bool vhost = false;
	char dst[64];
	unsigned int i;
	int rc;

	if ((rc = mnt_dir(root, "/dev", err, errlen)) < 0 ||
	    (rc = mnt_bind(root, "/dev/kvm", "/dev/kvm", false, err,
	    errlen)) < 0)
		return rc;
	if (spec->vs_nnics > 0 &&
	    ((rc = mnt_dir(root, "/dev/net", err, errlen)) < 0 ||
	    (rc = mnt_bind(root, "/dev/net/tun", "/dev/net/tun", false, err,
	    errlen)) < 0))
		return rc;
	for (i = 0; i < spec->vs_nnics; i++)
		vhost |= spec->vs_nics[i].ns_vhost;
	if (vhost && (rc = mnt_bind(root, "/dev/vhost-net", "/dev/vhost-net",
	    false, err, errlen)) < 0)
		return rc;
	if (spec->vs_ndisks > 0 && (rc = mnt_dir(root, "/disks", err,
	    errlen)) < 0)
		return rc;
	for (i = 0; i < spec->vs_ndisks; i++) {
		snprintf(dst, sizeof(dst), "/disks/%u", i);
		if ((rc = mnt_bind(root, spec->vs_disks[i].ds_path, dst,
		    spec->vs_disks[i].ds_readonly, err, errlen)) < 0)
			return rc;
	}
	if (sb->sb_socks[0] == NULL && sb->sb_socks[1] == NULL)
		return 0;
	if ((rc = mnt_dir(root, "/run", err, errlen)) < 0)
		return rc;
	for (i = 0; i < 2; i++) {
		const char *s = sb->sb_socks[i];

		if (s == NULL)
			continue;
		snprintf(dst, sizeof(dst), "/run/%s", strrchr(s, '/') != NULL ?
		    strrchr(s, '/') + 1 : s);
		if ((rc = mnt_bind(root, s, dst, false, err, errlen)) < 0)
			return rc;
	}
	return 0;
}

int
sbx_mount_enter(struct sbx *sb, char *err, size_t errlen)
{
	const char *root = sb->sb_root;
	int rc;

	/* Nothing done in here may reach the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		snprintf(err, errlen, "jail: making mounts private: %s",
		    strerror(errno));
		return -errno;
	}
	if (mount("hull-jail", root, "tmpfs", MS_NOSUID | MS_NOEXEC,
	    "size=64k,nr_inodes=64,mode=0755") < 0) {
		snprintf(err, errlen, "jail: tmpfs on %s: %s", root,
		    strerror(errno));
		return -errno;
	}
	if ((rc = mnt_fill(sb, root, err, errlen)) < 0)
		return rc;
	/*
	 * pivot_root(".", ".") stacks the old root on the new one; detaching
	 * it then leaves only the new root (pivot_root(2), NOTES).
	 */
	if (chdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		snprintf(err, errlen, "jail: pivot_root to %s: %s", root,
		    strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID |
	    MS_NOEXEC, NULL) < 0) {
		snprintf(err, errlen, "jail: root read-only: %s",
		    strerror(errno));
		return -errno;
	}
	return 0;
}
