/*
 * The pool: its label, the uberblock ring, the dataset directory, the
 * locks that let several processes share it, and the commit of a
 * transaction group (docs/volume-format.md):
 *   1. every changed volume writes its changed blocks to new places and
 *      its tree up to a new root (vol_sync_tree);
 *   2. a new directory block names the new roots;
 *   3. fdatasync;
 *   4. the uberblock for the new txg goes into its ring slot;
 *   5. fdatasync.
 * A crash before 5 leaves the previous uberblock the newest valid one, and
 * nothing it reaches was overwritten, so the pool opens as it was.
 */
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vol_impl.h"

int
vol_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

uint64_t
vol_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t
vol_random64(void)
{
	uint64_t r = 0;

	while (getrandom(&r, sizeof(r), 0) != sizeof(r))
		;
	return r ? r : 1;
}

static int
ofd_lock(struct vol_pool *p, uint64_t byte, short type, bool wait)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET,
		.l_start = (off_t)byte, .l_len = 1,
	};

	while (fcntl(p->p_fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0) {
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
	}
	return 0;
}

int
vpool_trylock(struct vol_pool *p, uint64_t byte, bool excl)
{
	return ofd_lock(p, byte, excl && !p->p_ro ? F_WRLCK : F_RDLCK, false);
}

int
vpool_unlock_byte(struct vol_pool *p, uint64_t byte)
{
	return ofd_lock(p, byte, F_UNLCK, false);
}

int
vpool_lock(struct vol_pool *p)
{
	int rc;

	if ((rc = ofd_lock(p, VOL_LK_COMMIT, p->p_ro ? F_RDLCK : F_WRLCK, true)) < 0)
		return rc;
	p->p_locked = true;
	if ((rc = vpool_reload(p)) < 0)
		vpool_unlock(p);
	return rc;
}

void
vpool_unlock(struct vol_pool *p)
{
	ofd_lock(p, VOL_LK_COMMIT, F_UNLCK, false);
	p->p_locked = false;
}

static bool
label_ok(const struct vol_label *lb)
{
	return !memcmp(lb->lb_magic, VOL_LABEL_MAGIC, 8) &&
	    lb->lb_version == VOL_VERSION && lb->lb_unit == VOL_UNIT &&
	    vol_cksum_ok(lb, offsetof(struct vol_label, lb_cksum), lb->lb_cksum) &&
	    lb->lb_size >= VOL_MIN_POOL && lb->lb_ms_size >= VOL_UNIT &&
	    lb->lb_ms_size % VOL_UNIT == 0 && memchr(lb->lb_name, 0, sizeof(lb->lb_name));
}

static bool
ub_ok(const struct vol_pool *p, const struct vol_ub *ub)
{
	return ub->ub_magic == VOL_UB_MAGIC && ub->ub_version == VOL_VERSION &&
	    ub->ub_guid == p->p_label.lb_guid &&
	    vol_cksum_ok(ub, offsetof(struct vol_ub, ub_cksum), ub->ub_cksum);
}

/* Parse a directory block into a new array of records. */
static int
dir_decode(const unsigned char *buf, size_t len, struct vol_dsrec **out,
    uint32_t *count, uint64_t *next_id)
{
	const struct vol_dirhdr *h = (const void *)buf;
	struct vol_dsrec *ds = NULL;
	uint32_t i;

	*out = NULL;
	*count = 0;
	if (len < sizeof(*h) || h->dh_magic != VOL_DIR_MAGIC ||
	    h->dh_recsize != sizeof(struct vol_dsrec) || h->dh_count > VOL_MAX_DATASETS ||
	    sizeof(*h) + (size_t)h->dh_count * sizeof(*ds) > len)
		return -EIO;
	if (h->dh_count && !(ds = malloc(h->dh_count * sizeof(*ds))))
		return -ENOMEM;
	if (h->dh_count)
		memcpy(ds, buf + sizeof(*h), h->dh_count * sizeof(*ds));
	for (i = 0; i < h->dh_count; i++) {
		if (ds[i].dr_name[sizeof(ds[i].dr_name) - 1] ||
		    ds[i].dr_nlevels != vol_nlevels(ds[i].dr_bsize ? ds[i].dr_bsize : VOL_UNIT) ||
		    ds[i].dr_bsize < VOL_MIN_BSIZE || ds[i].dr_bsize > VOL_MAX_BSIZE) {
			free(ds);
			return -EIO;
		}
	}
	*out = ds;
	*count = h->dh_count;
	*next_id = h->dh_next_id;
	return 0;
}

/* Parse a directory block into p (replacing what was there). */
static int
dir_parse(struct vol_pool *p, const unsigned char *buf, size_t len)
{
	struct vol_dsrec *ds;
	uint32_t n;
	uint64_t next;
	int rc;

	if ((rc = dir_decode(buf, len, &ds, &n, &next)) < 0)
		return rc;
	free(p->p_ds);
	p->p_ds = ds;
	p->p_nds = n;
	p->p_next_id = next;
	return 0;
}

int
vpool_durable_dir(struct vol_pool *p, struct vol_dsrec **out, uint32_t *n)
{
	unsigned char *buf;
	uint64_t next;
	int rc;

	*out = NULL;
	*n = 0;
	if (vol_bp_hole(&p->p_dirbp))
		return 0;
	if (!(buf = malloc(p->p_dirbp.bp_lsize + 1)))
		return -ENOMEM;
	rc = vblk_read(p, &p->p_dirbp, buf);
	if (rc == 0)
		rc = dir_decode(buf, p->p_dirbp.bp_lsize, out, n, &next);
	free(buf);
	return rc;
}

/* Open volumes learn what changed in the directory (their snapshot floor). */
void
vpool_refresh_open(struct vol_pool *p)
{
	struct vol *v;

	for (v = p->p_vols; v; v = v->v_next) {
		struct vol_dsrec *r = v->v_id ? vdir_by_id(p, v->v_id) : NULL;

		if (r)
			v->v_rec.dr_prev_snap_txg = r->dr_prev_snap_txg;
	}
}

int
vpool_reload(struct vol_pool *p)
{
	unsigned char *raw;
	struct vol_ub *ring;
	unsigned int i, n = 0;
	int rc;

	raw = malloc(VOL_RING_SLOTS * VOL_RING_SLOT);
	ring = malloc(VOL_RING_SLOTS * sizeof(*ring));
	if (!raw || !ring) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = vio_read(p, raw, VOL_RING_SLOTS * VOL_RING_SLOT, VOL_RING_OFF)) < 0)
		goto out;
	for (i = 0; i < VOL_RING_SLOTS; i++) {
		struct vol_ub ub;

		memcpy(&ub, raw + i * VOL_RING_SLOT, sizeof(ub));
		if (ub_ok(p, &ub) && ub.ub_txg % VOL_RING_SLOTS == i)
			ring[n++] = ub;
	}
	/* Newest first (insertion sort: qsort is not for the jail, vmap.c). */
	for (i = 1; i < n; i++) {
		struct vol_ub t = ring[i];
		unsigned int j = i;

		for (; j > 0 && ring[j - 1].ub_txg < t.ub_txg; j--)
			ring[j] = ring[j - 1];
		ring[j] = t;
	}
	rc = -EIO;
	/* Newest first; an older one only if the newer one's directory is damaged. */
	for (i = 0; i < n; i++) {
		const struct vol_ub *ub = &ring[i];

		if (ub->ub_txg == p->p_txg && p->p_txg) {
			rc = 0;
			break;
		}
		if (ub->ub_dir.bp_type != VOL_BT_DIR ||
		    ub->ub_dir.bp_lsize > VOL_MAX_BLOCK || ub->ub_dir.bp_lsize < sizeof(struct vol_dirhdr))
			continue;
		if (vblk_read(p, &ub->ub_dir, p->p_rbuf + VOL_MAX_BLOCK) < 0)
			continue;
		if (dir_parse(p, p->p_rbuf + VOL_MAX_BLOCK, ub->ub_dir.bp_lsize) < 0)
			continue;
		p->p_txg = ub->ub_txg;
		p->p_dirbp = ub->ub_dir;
		vpool_refresh_open(p);
		rc = 0;
		break;
	}
out:
	free(raw);
	free(ring);
	return rc;
}

static int
write_ub(struct vol_pool *p, uint64_t txg, const struct vol_bp *dir)
{
	unsigned char slot[VOL_RING_SLOT];
	struct vol_ub *ub = (void *)slot;

	memset(slot, 0, sizeof(slot));
	ub->ub_magic = VOL_UB_MAGIC;
	ub->ub_version = VOL_VERSION;
	ub->ub_guid = p->p_label.lb_guid;
	ub->ub_txg = txg;
	ub->ub_time = (uint64_t)time(NULL);
	ub->ub_dir = *dir;
	vol_cksum(ub, offsetof(struct vol_ub, ub_cksum), ub->ub_cksum);
	return vio_write(p, slot, sizeof(slot),
	    VOL_RING_OFF + (txg % VOL_RING_SLOTS) * VOL_RING_SLOT);
}

int
vpool_commit(struct vol_pool *p)
{
	uint64_t txg = p->p_txg + 1;
	struct vol_dirhdr *h;
	struct vol_bp dirbp;
	struct vol *v;
	size_t len;
	unsigned char *buf;
	int rc;

	for (v = p->p_vols; v; v = v->v_next) {
		struct vol_dsrec *r;

		if (!v->v_changed || v->v_id == 0)
			continue;
		if ((rc = vol_sync_tree(v, txg)) < 0)
			goto fail;
		if ((r = vdir_by_id(p, v->v_id)))
			r->dr_root = v->v_rec.dr_root;
	}
	len = sizeof(*h) + (size_t)p->p_nds * sizeof(struct vol_dsrec);
	buf = p->p_rbuf + VOL_MAX_BLOCK;	/* not p_wbuf: vblk_write uses it */
	memset(buf, 0, len);
	h = (void *)buf;
	h->dh_magic = VOL_DIR_MAGIC;
	h->dh_count = p->p_nds;
	h->dh_recsize = sizeof(struct vol_dsrec);
	h->dh_next_id = p->p_next_id;
	if (p->p_nds)
		memcpy(buf + sizeof(*h), p->p_ds, p->p_nds * sizeof(struct vol_dsrec));
	/* The directory always has two copies: it is the root of everything. */
	if ((rc = vblk_write(p, buf, (uint32_t)len, VOL_BT_DIR, 0, VOL_COMPRESS_LZ4, 2,
	    txg, &dirbp)) < 0)
		goto fail;
	if ((rc = vio_sync(p)) < 0 || (rc = write_ub(p, txg, &dirbp)) < 0 ||
	    (rc = vio_sync(p)) < 0)
		goto fail;
	vspace_free_bp(p, &p->p_dirbp);
	p->p_txg = txg;
	p->p_dirbp = dirbp;
	vspace_release(p);
	if (p->p_dirty_bytes == 0)
		p->p_dirty_since = 0;
	return 0;
fail:
	/* What was freed may still be reachable from the durable txg. */
	p->p_npending = 0;
	return rc;
}

static uint64_t
ms_size_for(uint64_t size)
{
	uint64_t ms = 16ull << 20;

	while (ms < (1ull << 30) && size / ms > 64)
		ms *= 2;
	return ms;
}

static int
pool_setup(struct vol_pool *p)
{
	p->p_nms = (p->p_label.lb_size - VOL_DATA_OFF + p->p_label.lb_ms_size - 1) /
	    p->p_label.lb_ms_size;
	p->p_ms = calloc(p->p_nms, sizeof(*p->p_ms));
	p->p_rbuf = malloc(2 * (size_t)VOL_MAX_BLOCK);
	p->p_wbuf = malloc(VOL_MAX_BLOCK + VOL_UNIT);
	p->p_bbuf = malloc(VOL_MAX_BSIZE);
	p->p_drop_after = -1;
	vio_init(p);
	return p->p_ms && p->p_rbuf && p->p_wbuf && p->p_bbuf ? 0 : -ENOMEM;
}

static void
pool_free(struct vol_pool *p)
{
	vio_fini(p);
	vspace_fini(p);
	free(p->p_rbuf);
	free(p->p_wbuf);
	free(p->p_bbuf);
	free(p->p_ds);
	if (p->p_fd >= 0)
		close(p->p_fd);
	free(p);
}

int
vol_pool_create(const char *path, const char *name, uint64_t size, char *err,
    size_t errlen)
{
	struct vol_pool *p;
	struct stat st;
	bool created = false;
	int rc;

	if (!vol_name_ok(name))
		return vol_err(err, errlen, -EINVAL, "pool name \"%s\": not a valid name "
		    "(1-63 of A-Z a-z 0-9 _ . : -, not starting with . or -)", name);
	if (!(p = calloc(1, sizeof(*p))))
		return vol_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	p->p_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->p_fd < 0) {
		rc = -errno;
		free(p);
		return vol_err(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(p->p_fd, &st) < 0) {
		rc = vol_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t dev = 0;

		if (ioctl(p->p_fd, BLKGETSIZE64, &dev) < 0) {
			rc = vol_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (size == 0 || size > dev)
			size = dev;
	} else if (S_ISREG(st.st_mode)) {
		if (st.st_size != 0) {
			rc = vol_err(err, errlen, -EEXIST, "%s: file exists and is not empty", path);
			goto out;
		}
		created = true;
	} else {
		rc = vol_err(err, errlen, -EINVAL, "%s: not a file or block device", path);
		goto out;
	}
	size &= ~(uint64_t)(VOL_UNIT - 1);
	if (size < VOL_MIN_POOL) {
		rc = vol_err(err, errlen, -EINVAL, "%s: a pool needs at least 64 MiB", path);
		goto out;
	}
	if (created && ftruncate(p->p_fd, (off_t)size) < 0) {
		rc = vol_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	memcpy(p->p_label.lb_magic, VOL_LABEL_MAGIC, 8);
	p->p_label.lb_version = VOL_VERSION;
	p->p_label.lb_unit = VOL_UNIT;
	p->p_label.lb_guid = vol_random64();
	p->p_label.lb_size = size;
	p->p_label.lb_ms_size = ms_size_for(size);
	p->p_label.lb_ctime = (uint64_t)time(NULL);
	snprintf(p->p_label.lb_name, sizeof(p->p_label.lb_name), "%s", name);
	snprintf(p->p_path, sizeof(p->p_path), "%s", path);
	vol_cksum(&p->p_label, offsetof(struct vol_label, lb_cksum), p->p_label.lb_cksum);
	if ((rc = pool_setup(p)) < 0) {
		vol_err(err, errlen, rc, "%s: out of memory", path);
		goto out;
	}
	{
		/* Two labels, then an empty ring (a block device has old data). */
		unsigned char *z = calloc(1, VOL_DATA_OFF);

		if (!z) {
			rc = vol_err(err, errlen, -ENOMEM, "%s: out of memory", path);
			goto out;
		}
		memcpy(z + VOL_LABEL_OFF0, &p->p_label, sizeof(p->p_label));
		memcpy(z + VOL_LABEL_OFF1, &p->p_label, sizeof(p->p_label));
		rc = vio_write(p, z, VOL_DATA_OFF, 0);
		free(z);
		if (rc < 0) {
			vol_err(err, errlen, rc, "%s: %s", path, strerror(-rc));
			goto out;
		}
	}
	/* Nobody else knows the pool yet: txg 1 is an empty directory. */
	p->p_locked = true;
	p->p_next_id = 1;
	if ((rc = vpool_commit(p)) < 0)
		vol_err(err, errlen, rc, "%s: writing the first txg: %s", path, strerror(-rc));
out:
	pool_free(p);
	if (rc < 0 && created)
		unlink(path);
	return rc;
}

int
vol_pool_open(const char *path, unsigned int flags, struct vol_pool **out, char *err,
    size_t errlen)
{
	struct vol_pool *p;
	struct vol_label lb[2];
	struct stat st;
	int rc, i;

	if (!(p = calloc(1, sizeof(*p))))
		return vol_err(err, errlen, -ENOMEM, "%s: out of memory", path);
	p->p_ro = flags & VOL_RDONLY;
	p->p_fd = open(path, (p->p_ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (p->p_fd < 0) {
		rc = -errno;
		free(p);
		if (rc == -ENOENT)
			return vol_err(err, errlen, rc, "%s: no such file", path);
		return vol_err(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	snprintf(p->p_path, sizeof(p->p_path), "%s", path);
	p->p_drop_after = -1;
	if (fstat(p->p_fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		rc = vol_err(err, errlen, -EINVAL, "%s: not a pool (not a file or block device)", path);
		goto fail;
	}
	if ((rc = vio_read(p, lb, sizeof(lb[0]), VOL_LABEL_OFF0)) < 0 ||
	    (rc = vio_read(p, &lb[1], sizeof(lb[1]), VOL_LABEL_OFF1)) < 0) {
		vol_err(err, errlen, rc, "%s: %s", path, strerror(-rc));
		goto fail;
	}
	for (i = 0; i < 2 && !label_ok(&lb[i]); i++)
		;
	if (i == 2) {
		rc = vol_err(err, errlen, -EINVAL, "%s: not a pool (no valid label)", path);
		goto fail;
	}
	p->p_label = lb[i];
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < p->p_label.lb_size) {
		rc = vol_err(err, errlen, -EINVAL, "%s: pool is truncated (%llu of %llu bytes)",
		    path, (unsigned long long)st.st_size,
		    (unsigned long long)p->p_label.lb_size);
		goto fail;
	}
	if ((rc = pool_setup(p)) < 0) {
		vol_err(err, errlen, rc, "%s: out of memory", path);
		goto fail;
	}
	if ((rc = vpool_lock(p)) < 0) {
		vol_err(err, errlen, rc, "%s: no valid uberblock: the pool is damaged", path);
		goto fail;
	}
	vpool_unlock(p);
	*out = p;
	return 0;
fail:
	pool_free(p);
	return rc;
}

static bool
pending(const struct vol_pool *p)
{
	const struct vol *v;

	for (v = p->p_vols; v; v = v->v_next)
		if (v->v_changed && v->v_id)
			return true;
	return false;
}

int
vol_pool_sync(struct vol_pool *p)
{
	int rc;

	if (p->p_ro || !pending(p))
		return 0;
	if ((rc = vpool_lock(p)) < 0)
		return rc;
	rc = vpool_commit(p);
	vpool_unlock(p);
	return rc;
}

int
vol_pool_tick(struct vol_pool *p)
{
	uint64_t age, limit = (uint64_t)VOL_TXG_SECONDS * 1000000000ull;
	int rc;

	if (!p->p_dirty_since && !pending(p))
		return -1;
	if (!p->p_dirty_since)
		p->p_dirty_since = vol_now_ns();
	age = vol_now_ns() - p->p_dirty_since;
	if (age < limit)
		return (int)((limit - age) / 1000000) + 1;
	if ((rc = vol_pool_sync(p)) < 0)
		return rc;
	p->p_dirty_since = 0;
	return -1;
}

int
vol_pool_close(struct vol_pool *p)
{
	int rc = vol_pool_sync(p);

	while (p->p_vols) {
		struct vol *v = p->p_vols;

		v->v_changed = false;	/* what the sync could not write is lost */
		vol_close(v);
	}
	pool_free(p);
	return rc;
}

const char *
vol_pool_name(const struct vol_pool *p)
{
	return p->p_label.lb_name;
}

const char *
vol_pool_path(const struct vol_pool *p)
{
	return p->p_path;
}

struct stat_ctx {
	struct vmap	seen;
	uint64_t	alloc;
};

static int
stat_bp(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid)
{
	struct stat_ctx *c = arg;

	(void)level;
	(void)blkid;
	if (vmap_get(&c->seen, bp->bp_dva[0]))
		return 1;
	if (vmap_put(&c->seen, bp->bp_dva[0], (void *)1) < 0)
		return -ENOMEM;
	c->alloc += vol_bp_asize(bp);
	return 0;
}

int
vol_pool_stat(struct vol_pool *p, struct vol_pool_stat *st, char *err, size_t errlen)
{
	struct stat_ctx c = { .alloc = 0 };
	uint32_t i;
	int rc;

	if ((rc = vpool_lock(p)) < 0)
		return vol_err(err, errlen, rc, "%s: %s", p->p_label.lb_name, strerror(-rc));
	c.alloc = vol_bp_asize(&p->p_dirbp);
	for (i = 0, rc = 0; i < p->p_nds && rc >= 0; i++)
		rc = vol_walk(p, &p->p_ds[i].dr_root, p->p_ds[i].dr_nlevels, 0, false,
		    stat_bp, &c);
	vmap_free(&c.seen);
	memset(st, 0, sizeof(*st));
	snprintf(st->ps_name, sizeof(st->ps_name), "%s", p->p_label.lb_name);
	st->ps_guid = p->p_label.lb_guid;
	st->ps_size = p->p_label.lb_size - VOL_DATA_OFF;
	st->ps_alloc = c.alloc;
	st->ps_txg = p->p_txg;
	st->ps_ndatasets = p->p_nds;
	vpool_unlock(p);
	if (rc < 0)
		return vol_err(err, errlen, rc, "%s: reading the trees: %s",
		    p->p_label.lb_name, strerror(-rc));
	return 0;
}
