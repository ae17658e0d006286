/*
 * vmctl volume: pools and volumes (docs/volumes.md) through the volume
 * library (include/vol.h).  A pool is registered by name as the symlink
 * <root>/pools/NAME to its file, so specs and commands say "tank/web".
 * Every command opens the pool, does one thing (one txg) and closes it;
 * the library's locks let it share the pool with running VMs.
 */
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmctl.h"
#include "vol.h"

static const struct store *vst;

static void
vusage(FILE *f)
{
	fprintf(f,
	    "usage: vmctl volume COMMAND ...\n"
	    "  pool-create NAME PATH SIZE      make a pool in a new file (or a "
	    "device) and register it\n"
	    "  pool-import NAME PATH           register an existing pool\n"
	    "  pool-export NAME                forget a pool (its file stays)\n"
	    "  pool-list                       the registered pools\n"
	    "  pool-status NAME                one pool's figures\n"
	    "  create [-b BS] [-o compression=off|lz4|zstd] [-o copies=1|2] "
	    "POOL/VOL SIZE\n"
	    "  list [POOL]                     volumes, snapshots, clones, "
	    "with space\n"
	    "  destroy [-r] POOL/VOL[@SNAP]    -r: with its snapshots\n"
	    "  resize POOL/VOL SIZE\n"
	    "  snapshot POOL/VOL@SNAP\n"
	    "  rollback [-r] POOL/VOL@SNAP     -r: destroy newer snapshots\n"
	    "  clone POOL/VOL@SNAP POOL/NEW\n"
	    "  send [-i @OLD] POOL/VOL@SNAP [-o FILE]   a stream to stdout or "
	    "FILE\n"
	    "  receive [-F] POOL/VOL [-i FILE] a stream from stdin or FILE\n"
	    "  scrub POOL                      verify every block, repair "
	    "copies=2\n"
	    "  import-raw IMAGE POOL/VOL       a raw disk image into a new "
	    "volume\n"
	    "  export-raw POOL/VOL[@SNAP] IMAGE   a volume out to a new raw "
	    "image\n"
	    "SIZE: bytes, or with K, M, G, T (powers of 1024).\n");
}

/* "10G" -> bytes; -1 when it is not a size. */
static long long
parse_size(const char *s)
{
	char *end;
	unsigned long long v, m = 1;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'T': case 't': m <<= 10; /* FALLTHROUGH */
	case 'G': case 'g': m <<= 10; /* FALLTHROUGH */
	case 'M': case 'm': m <<= 10; /* FALLTHROUGH */
	case 'K': case 'k': m <<= 10; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end != '\0' || v > (unsigned long long)LLONG_MAX / m)
		return -1;
	return (long long)(v * m);
}

static const char *
human(uint64_t b, char *buf, size_t len)
{
	static const char u[] = "BKMGTP";
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)b);
	else
		snprintf(buf, len, "%.*f%c", v < 10 ? 2 : v < 100 ? 1 : 0, v, u[i]);
	return buf;
}

static void
pools_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/pools", vst->st_root);
}

/* Split "pool/rest"; prints the error. */
static int
split(const char *full, char *pool, size_t plen, const char **rest)
{
	const char *slash = strchr(full, '/');

	if (slash == NULL || slash == full || slash[1] == '\0' ||
	    (size_t)(slash - full) >= plen) {
		fprintf(stderr, "vmctl: \"%s\": not POOL/VOLUME\n", full);
		return -1;
	}
	memcpy(pool, full, (size_t)(slash - full));
	pool[slash - full] = '\0';
	*rest = slash + 1;
	return 0;
}

static struct vol_pool *
open_pool(const char *name, bool ro)
{
	char path[PATH_MAX], err[600];
	struct vol_pool *p;

	if (vol_registry_path(vst->st_root, name, path, sizeof(path), err,
	    sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return NULL;
	}
	if (vol_pool_open(path, ro ? VOL_RDONLY : 0, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: pool \"%s\": %s\n", name, err);
		return NULL;
	}
	if (strcmp(vol_pool_name(p), name) != 0)
		fprintf(stderr, "vmctl: warning: pool \"%s\" is named \"%s\" in its "
		    "label\n", name, vol_pool_name(p));
	return p;
}

static int
done(struct vol_pool *p, int rc, const char *err)
{
	if (rc < 0)
		fprintf(stderr, "vmctl: %s\n", err);
	if (p != NULL && vol_pool_close(p) < 0 && rc >= 0) {
		fprintf(stderr, "vmctl: closing the pool failed\n");
		rc = -EIO;
	}
	return rc < 0 ? VMCTL_FAIL : VMCTL_OK;
}

static int
reg_add(const char *name, const char *path)
{
	char dir[PATH_MAX + 16], link[PATH_MAX + 96], abs[PATH_MAX];

	if (realpath(path, abs) == NULL) {
		fprintf(stderr, "vmctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	pools_dir(dir, sizeof(dir));
	(void)mkdir(dir, 0755);
	snprintf(link, sizeof(link), "%s/%s", dir, name);
	if (symlink(abs, link) < 0) {
		fprintf(stderr, "vmctl: pool \"%s\": %s\n", name, errno == EEXIST ?
		    "a pool of that name is registered" : strerror(errno));
		return -1;
	}
	return 0;
}

static bool
registered(const char *name)
{
	char dir[PATH_MAX + 16], link[PATH_MAX + 96];
	struct stat st;

	pools_dir(dir, sizeof(dir));
	snprintf(link, sizeof(link), "%s/%s", dir, name);
	return lstat(link, &st) == 0;
}

static int
v_pool_create(int argc, char **argv)
{
	char err[600];
	long long size;

	if (argc != 4) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if ((size = parse_size(argv[3])) < 0) {
		fprintf(stderr, "vmctl: size \"%s\": not a size\n", argv[3]);
		return VMCTL_USAGE;
	}
	if (registered(argv[1])) {
		fprintf(stderr, "vmctl: pool \"%s\": a pool of that name is "
		    "registered\n", argv[1]);
		return VMCTL_FAIL;
	}
	if (vol_pool_create(argv[2], argv[1], (uint64_t)size, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	if (reg_add(argv[1], argv[2]) < 0) {
		unlink(argv[2]);
		return VMCTL_FAIL;
	}
	return VMCTL_OK;
}

static int
v_pool_import(int argc, char **argv)
{
	struct vol_pool *p;
	char err[600];

	if (argc != 3) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (vol_pool_open(argv[2], VOL_RDONLY, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "vmctl: %s\n", err);
		return VMCTL_FAIL;
	}
	if (strcmp(vol_pool_name(p), argv[1]) != 0) {
		fprintf(stderr, "vmctl: %s: the pool in it is named \"%s\", not "
		    "\"%s\"\n", argv[2], vol_pool_name(p), argv[1]);
		vol_pool_close(p);
		return VMCTL_FAIL;
	}
	vol_pool_close(p);
	return reg_add(argv[1], argv[2]) < 0 ? VMCTL_FAIL : VMCTL_OK;
}

static int
v_pool_export(int argc, char **argv)
{
	char dir[PATH_MAX + 16], link[PATH_MAX + 96];

	if (argc != 2) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (!registered(argv[1])) {
		fprintf(stderr, "vmctl: pool \"%s\": no such pool (vmctl volume "
		    "pool-list)\n", argv[1]);
		return VMCTL_FAIL;
	}
	pools_dir(dir, sizeof(dir));
	snprintf(link, sizeof(link), "%s/%s", dir, argv[1]);
	return unlink(link) < 0 ? VMCTL_FAIL : VMCTL_OK;
}

static int
print_pool(const char *name, bool header)
{
	struct vol_pool_stat ps;
	struct vol_pool *p;
	char err[600], a[16], b[16];
	int rc;

	if (header)
		printf("%-16s %8s %8s %5s %8s  %s\n", "NAME", "SIZE", "ALLOC", "CAP",
		    "TXG", "PATH");
	if ((p = open_pool(name, true)) == NULL)
		return -1;
	rc = vol_pool_stat(p, &ps, err, sizeof(err));
	if (rc == 0)
		printf("%-16s %8s %8s %4.0f%% %8llu  %s\n", name,
		    human(ps.ps_size, a, sizeof(a)), human(ps.ps_alloc, b, sizeof(b)),
		    100.0 * (double)ps.ps_alloc / (double)ps.ps_size,
		    (unsigned long long)ps.ps_txg, vol_pool_path(p));
	else
		fprintf(stderr, "vmctl: %s\n", err);
	vol_pool_close(p);
	return rc;
}

static int
pool_names(char ***out)
{
	char dir[PATH_MAX + 16];
	char **names = NULL;
	int n = 0;
	struct dirent **ents;
	int i, k;

	pools_dir(dir, sizeof(dir));
	k = scandir(dir, &ents, NULL, alphasort);
	for (i = 0; i < k; i++) {
		if (ents[i]->d_name[0] != '.') {
			char **nn = realloc(names, (size_t)(n + 1) * sizeof(*nn));

			if (nn != NULL) {
				names = nn;
				names[n++] = strdup(ents[i]->d_name);
			}
		}
		free(ents[i]);
	}
	if (k > 0)
		free(ents);
	*out = names;
	return n;
}

static int
v_pool_list(int argc, char **argv)
{
	char **names;
	int n, i, rc = VMCTL_OK;

	(void)argv;
	if (argc != 1) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	n = pool_names(&names);
	if (n == 0)
		printf("%-16s %8s %8s %5s %8s  %s\n", "NAME", "SIZE", "ALLOC", "CAP",
		    "TXG", "PATH");
	for (i = 0; i < n; i++) {
		if (print_pool(names[i], i == 0) < 0)
			rc = VMCTL_FAIL;
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
v_pool_status(int argc, char **argv)
{
	struct vol_pool_stat ps;
	struct vol_pool *p;
	char err[600], a[16], b[16];
	int rc;

	if (argc != 2) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if ((p = open_pool(argv[1], true)) == NULL)
		return VMCTL_FAIL;
	if ((rc = vol_pool_stat(p, &ps, err, sizeof(err))) == 0)
		printf("pool:     %s\npath:     %s\nguid:     %016llx\nsize:     %s\n"
		    "alloc:    %s\ntxg:      %llu\ndatasets: %u\n", ps.ps_name,
		    vol_pool_path(p), (unsigned long long)ps.ps_guid,
		    human(ps.ps_size, a, sizeof(a)), human(ps.ps_alloc, b, sizeof(b)),
		    (unsigned long long)ps.ps_txg, ps.ps_ndatasets);
	return done(p, rc, err);
}

static int
v_create(int argc, char **argv)
{
	struct vol_props pr = { 0 };
	struct vol_pool *p;
	char pool[VOL_NAME_MAX + 2], err[600];
	const char *vol;
	long long size, bs;
	int c, rc;

	optind = 0;
	while ((c = getopt(argc, argv, "b:o:")) != -1) {
		switch (c) {
		case 'b':
			if ((bs = parse_size(optarg)) < 0 || bs > (long long)VOL_MAX_BSIZE) {
				fprintf(stderr, "vmctl: block size \"%s\": not a power of "
				    "two from 4K to 128K\n", optarg);
				return VMCTL_USAGE;
			}
			pr.vp_bsize = (uint32_t)bs;
			break;
		case 'o':
			if (strncmp(optarg, "compression=", 12) == 0) {
				if (vol_compress_parse(optarg + 12, &pr.vp_compress) < 0) {
					fprintf(stderr, "vmctl: -o %s: compression is off, "
					    "lz4 or zstd\n", optarg);
					return VMCTL_USAGE;
				}
			} else if (strcmp(optarg, "copies=1") == 0) {
				pr.vp_copies = 1;
			} else if (strcmp(optarg, "copies=2") == 0) {
				pr.vp_copies = 2;
			} else {
				fprintf(stderr, "vmctl: -o %s: unknown property (compression=, "
				    "copies=)\n", optarg);
				return VMCTL_USAGE;
			}
			break;
		default:
			vusage(stderr);
			return VMCTL_USAGE;
		}
	}
	if (argc - optind != 2) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if ((size = parse_size(argv[optind + 1])) < 0) {
		fprintf(stderr, "vmctl: size \"%s\": not a size\n", argv[optind + 1]);
		return VMCTL_USAGE;
	}
	if (split(argv[optind], pool, sizeof(pool), &vol) < 0)
		return VMCTL_USAGE;
	if ((p = open_pool(pool, false)) == NULL)
		return VMCTL_FAIL;
	rc = vol_create(p, vol, (uint64_t)size, &pr, err, sizeof(err));
	return done(p, rc, err);
}

static int
v_list(int argc, char **argv)
{
	char **names;
	int n, i, rc = VMCTL_OK;

	if (argc > 2) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (argc == 2) {
		names = malloc(sizeof(*names));
		names[0] = strdup(argv[1]);
		n = 1;
	} else {
		n = pool_names(&names);
	}
	printf("%-32s %-8s %8s %8s %8s %6s  %s\n", "NAME", "TYPE", "SIZE", "USED",
	    "REFER", "RATIO", "ORIGIN");
	for (i = 0; i < n; i++) {
		struct vol_pool *p = open_pool(names[i], true);
		struct vol_info *vi;
		size_t nv, j;
		char err[600], full[256], a[16], b[16], c[16];

		if (p == NULL) {
			rc = VMCTL_FAIL;
			free(names[i]);
			continue;
		}
		if (vol_list(p, &vi, &nv, err, sizeof(err)) < 0) {
			fprintf(stderr, "vmctl: %s\n", err);
			rc = VMCTL_FAIL;
		} else {
			for (j = 0; j < nv; j++) {
				snprintf(full, sizeof(full), "%s/%s", names[i], vi[j].vi_name);
				printf("%-32s %-8s %8s %8s %8s %5.2fx  %s%s%s\n", full,
				    vi[j].vi_type == VOL_T_SNAPSHOT ? "snapshot" : "volume",
				    human(vi[j].vi_size, a, sizeof(a)),
				    human(vi[j].vi_used, b, sizeof(b)),
				    human(vi[j].vi_referenced, c, sizeof(c)),
				    vi[j].vi_physical ? (double)vi[j].vi_logical /
				    (double)vi[j].vi_physical : 1.0,
				    vi[j].vi_origin[0] ? names[i] : "-",
				    vi[j].vi_origin[0] ? "/" : "", vi[j].vi_origin);
			}
			free(vi);
		}
		vol_pool_close(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* POOL/NAME commands with an optional -r. */
static int
v_named(int argc, char **argv, int (*fn)(struct vol_pool *, const char *, bool,
    char *, size_t))
{
	char pool[VOL_NAME_MAX + 2], err[600];
	struct vol_pool *p;
	const char *name;
	bool r = false;
	int c;

	optind = 0;
	while ((c = getopt(argc, argv, "r")) != -1) {
		if (c != 'r') {
			vusage(stderr);
			return VMCTL_USAGE;
		}
		r = true;
	}
	if (argc - optind != 1) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (split(argv[optind], pool, sizeof(pool), &name) < 0)
		return VMCTL_USAGE;
	if ((p = open_pool(pool, false)) == NULL)
		return VMCTL_FAIL;
	return done(p, fn(p, name, r, err, sizeof(err)), err);
}

static int
snap_fn(struct vol_pool *p, const char *n, bool r, char *err, size_t len)
{
	(void)r;
	return vol_snapshot(p, n, err, len);
}

static int
v_resize(int argc, char **argv)
{
	char pool[VOL_NAME_MAX + 2], err[600];
	struct vol_pool *p;
	const char *name;
	long long size;

	if (argc != 3) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if ((size = parse_size(argv[2])) < 0) {
		fprintf(stderr, "vmctl: size \"%s\": not a size\n", argv[2]);
		return VMCTL_USAGE;
	}
	if (split(argv[1], pool, sizeof(pool), &name) < 0)
		return VMCTL_USAGE;
	if ((p = open_pool(pool, false)) == NULL)
		return VMCTL_FAIL;
	return done(p, vol_resize(p, name, (uint64_t)size, err, sizeof(err)), err);
}

static int
v_clone(int argc, char **argv)
{
	char pool[VOL_NAME_MAX + 2], pool2[VOL_NAME_MAX + 2], err[600];
	struct vol_pool *p;
	const char *snap, *name;

	if (argc != 3) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (split(argv[1], pool, sizeof(pool), &snap) < 0 ||
	    split(argv[2], pool2, sizeof(pool2), &name) < 0)
		return VMCTL_USAGE;
	if (strcmp(pool, pool2) != 0) {
		fprintf(stderr, "vmctl: a clone lives in its origin's pool (%s), not "
		    "%s; use send | receive to copy across pools\n", pool, pool2);
		return VMCTL_USAGE;
	}
	if ((p = open_pool(pool, false)) == NULL)
		return VMCTL_FAIL;
	return done(p, vol_clone(p, snap, name, err, sizeof(err)), err);
}

/* Progress on a terminal: one line, rewritten. */
static void
progress(void *arg, uint64_t d, uint64_t total)
{
	char a[16], b[16];

	if (!isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\r%s: %3.0f%% (%s of %s) ", (const char *)arg,
	    total ? 100.0 * (double)d / (double)total : 100.0,
	    human(d, a, sizeof(a)), human(total, b, sizeof(b)));
	if (d >= total)
		fputc('\n', stderr);
}

static int
v_send(int argc, char **argv)
{
	char pool[VOL_NAME_MAX + 2], err[600];
	const char *from = NULL, *file = NULL, *snap;
	struct vol_pool *p;
	int c, fd = STDOUT_FILENO, rc;

	optind = 0;
	while ((c = getopt(argc, argv, "i:o:")) != -1) {
		switch (c) {
		case 'i': from = optarg; break;
		case 'o': file = optarg; break;
		default:
			vusage(stderr);
			return VMCTL_USAGE;
		}
	}
	if (argc - optind != 1) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (split(argv[optind], pool, sizeof(pool), &snap) < 0)
		return VMCTL_USAGE;
	/* "-i tank/web@old" or "-i @old": the library wants "web@old"/"@old". */
	if (from != NULL && strchr(from, '/') != NULL)
		from = strchr(from, '/') + 1;
	if (file == NULL && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "vmctl: send: stdout is a terminal; redirect it or "
		    "use -o FILE\n");
		return VMCTL_USAGE;
	}
	if ((p = open_pool(pool, true)) == NULL)
		return VMCTL_FAIL;
	if (file != NULL && (fd = open(file, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) < 0) {
		fprintf(stderr, "vmctl: %s: %s\n", file, strerror(errno));
		vol_pool_close(p);
		return VMCTL_FAIL;
	}
	rc = vol_send(p, snap, from, fd, progress, "send", err, sizeof(err));
	if (file != NULL && (close(fd) < 0 && rc == 0)) {
		snprintf(err, sizeof(err), "%s: %s", file, strerror(errno));
		rc = -EIO;
	}
	if (rc < 0 && file != NULL)
		unlink(file);
	return done(p, rc, err);
}

static int
v_receive(int argc, char **argv)
{
	char pool[VOL_NAME_MAX + 2], err[600];
	const char *file = NULL, *name;
	struct vol_pool *p;
	bool force = false;
	int c, fd = STDIN_FILENO, rc;

	optind = 0;
	while ((c = getopt(argc, argv, "Fi:")) != -1) {
		switch (c) {
		case 'F': force = true; break;
		case 'i': file = optarg; break;
		default:
			vusage(stderr);
			return VMCTL_USAGE;
		}
	}
	if (argc - optind != 1) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (split(argv[optind], pool, sizeof(pool), &name) < 0)
		return VMCTL_USAGE;
	if (file != NULL && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "vmctl: %s: %s\n", file, strerror(errno));
		return VMCTL_FAIL;
	}
	if ((p = open_pool(pool, false)) == NULL) {
		if (file != NULL)
			close(fd);
		return VMCTL_FAIL;
	}
	rc = vol_receive(p, name, fd, force, progress, "receive", err, sizeof(err));
	if (file != NULL)
		close(fd);
	return done(p, rc, err);
}

/*
 * A raw image into a new volume (zeros stay holes), or a volume or
 * snapshot out to a raw image: moving disks between files and volumes.
 */
static int
v_import_raw(int argc, char **argv)
{
	char pool[VOL_NAME_MAX + 2], err[600];
	struct vol_pool *p;
	struct vol *v = NULL;
	const char *name;
	unsigned char *buf = NULL;
	struct stat st;
	uint64_t off, size;
	int fd, rc;

	if (argc != 3) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (split(argv[2], pool, sizeof(pool), &name) < 0)
		return VMCTL_USAGE;
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "vmctl: %s: %s\n", argv[1], strerror(errno));
		if (fd >= 0)
			close(fd);
		return VMCTL_FAIL;
	}
	size = ((uint64_t)st.st_size + 511) & ~511ull;
	if ((p = open_pool(pool, false)) == NULL) {
		close(fd);
		return VMCTL_FAIL;
	}
	err[0] = '\0';
	rc = vol_create(p, name, size, NULL, err, sizeof(err));
	if (rc == 0)
		rc = vol_open(p, name, &v, err, sizeof(err));
	if (rc == 0 && !(buf = calloc(1, 1 << 20)))
		rc = -ENOMEM;
	for (off = 0; rc == 0 && off < size; off += 1 << 20) {
		size_t n = size - off < (1u << 20) ? (size_t)(size - off) : 1u << 20;
		ssize_t got = pread(fd, buf, n, (off_t)off);

		if (got < 0) {
			snprintf(err, sizeof(err), "%s: %s", argv[1], strerror(errno));
			rc = -EIO;
			break;
		}
		memset(buf + got, 0, n - (size_t)got);	/* the tail up to 512 */
		if ((rc = vol_pwrite(v, buf, n, off)) < 0)
			snprintf(err, sizeof(err), "%s/%s: writing: %s", pool, name,
			    strerror(-rc));
		progress("import", off + n, size);
	}
	if (v != NULL)
		vol_close(v);
	if (rc < 0 && v != NULL) {
		char e2[600];

		vol_destroy(p, name, false, e2, sizeof(e2));	/* half an image is none */
	}
	free(buf);
	close(fd);
	return done(p, rc, err);
}

static int
v_export_raw(int argc, char **argv)
{
	char pool[VOL_NAME_MAX + 2], err[600];
	struct vol_pool *p;
	struct vol *v;
	const char *name;
	unsigned char *buf;
	uint64_t off, size;
	int fd, rc;

	if (argc != 3) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if (split(argv[1], pool, sizeof(pool), &name) < 0)
		return VMCTL_USAGE;
	if ((p = open_pool(pool, true)) == NULL)
		return VMCTL_FAIL;
	if ((rc = vol_open(p, name, &v, err, sizeof(err))) < 0)
		return done(p, rc, err);
	if ((fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, sizeof(err), "%s: %s", argv[2], strerror(errno));
		vol_close(v);
		return done(p, -errno, err);
	}
	size = vol_size(v);
	buf = malloc(1 << 20);
	rc = buf ? 0 : -ENOMEM;
	for (off = 0; rc == 0 && off < size; off += 1 << 20) {
		size_t n = size - off < (1u << 20) ? (size_t)(size - off) : 1u << 20;

		if ((rc = vol_pread(v, buf, n, off)) < 0) {
			snprintf(err, sizeof(err), "%s/%s: offset %llu: %s", pool, name,
			    (unsigned long long)off, strerror(-rc));
			break;
		}
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			snprintf(err, sizeof(err), "%s: %s", argv[2], strerror(errno));
			rc = -EIO;
		}
		progress("export", off + n, size);
	}
	free(buf);
	vol_close(v);
	if (close(fd) < 0 && rc == 0) {
		snprintf(err, sizeof(err), "%s: %s", argv[2], strerror(errno));
		rc = -EIO;
	}
	if (rc < 0)
		unlink(argv[2]);
	return done(p, rc, err);
}

static void
scrub_line(void *arg, const char *line)
{
	(void)arg;
	if (isatty(STDERR_FILENO))
		fputc('\n', stderr);
	printf("%s\n", line);
	fflush(stdout);
}

static int
v_scrub(int argc, char **argv)
{
	struct vol_scrub_result r;
	struct vol_pool *p;
	char err[600], b[16];
	int rc;

	if (argc != 2) {
		vusage(stderr);
		return VMCTL_USAGE;
	}
	if ((p = open_pool(argv[1], false)) == NULL)
		return VMCTL_FAIL;
	rc = vol_scrub(p, scrub_line, progress, "scrub", &r, err, sizeof(err));
	if (rc == 0)
		printf("scrub %s: %llu blocks, %s verified, %llu errors, %llu "
		    "repaired\n", argv[1], (unsigned long long)r.sr_blocks,
		    human(r.sr_bytes, b, sizeof(b)), (unsigned long long)r.sr_errors,
		    (unsigned long long)r.sr_repaired);
	if (done(p, rc, err) != VMCTL_OK)
		return VMCTL_FAIL;
	return r.sr_errors ? VMCTL_FAIL : VMCTL_OK;
}

int
cmd_volume(struct store *st, int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*fn)(int, char **);
	} cmds[] = {
		{ "pool-create", v_pool_create }, { "pool-import", v_pool_import },
		{ "pool-export", v_pool_export }, { "pool-list", v_pool_list },
		{ "pool-status", v_pool_status }, { "create", v_create },
		{ "list", v_list }, { "resize", v_resize }, { "clone", v_clone },
		{ "send", v_send }, { "receive", v_receive }, { "scrub", v_scrub },
		{ "import-raw", v_import_raw }, { "export-raw", v_export_raw },
	};
	size_t i;

	vst = st;
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0) {
		vusage(argc < 2 ? stderr : stdout);
		return argc < 2 ? VMCTL_USAGE : VMCTL_OK;
	}
	if (strcmp(argv[1], "destroy") == 0)
		return v_named(argc - 1, argv + 1, vol_destroy);
	if (strcmp(argv[1], "rollback") == 0)
		return v_named(argc - 1, argv + 1, vol_rollback);
	if (strcmp(argv[1], "snapshot") == 0)
		return v_named(argc - 1, argv + 1, snap_fn);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vmctl: volume %s: unknown command\n", argv[1]);
	vusage(stderr);
	return VMCTL_USAGE;
}
