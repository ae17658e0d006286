/*
 * Blocks and trees.  A volume is a tree of fixed shape: data blocks of
 * dr_bsize bytes at level 0, indirect blocks of 256 block pointers above
 * them, dr_nlevels of them, the top one named by the dataset's root bp.
 * Writes gather in memory (v_dirty) and reach the disk only when a txg
 * commits (vol_sync_tree): every changed block goes to a new place, then
 * its parent is rewritten, up to the root.  A live block is never
 * overwritten.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vol_impl.h"

char vol_holebuf[1];
static const unsigned char vol_zeros[VOL_MAX_BSIZE];

#define NODE_KEY(l, i)	((uint64_t)(l) << 56 | (i))

unsigned int
vol_nlevels(uint32_t bsize)
{
	unsigned int bits = 50 - (unsigned int)__builtin_ctz(bsize);

	return (bits + VOL_IND_SHIFT - 1) / VOL_IND_SHIFT;
}

static uint64_t
stored_size(uint64_t psize)
{
	return (psize + VOL_UNIT - 1) & ~(uint64_t)(VOL_UNIT - 1);
}

int
vblk_read(struct vol_pool *p, const struct vol_bp *bp, void *buf)
{
	int c, rc = -EIO;

	if (bp->bp_psize == 0 || bp->bp_psize > VOL_MAX_BLOCK ||
	    bp->bp_lsize == 0 || bp->bp_lsize > VOL_MAX_BLOCK ||
	    bp->bp_comp > VOL_COMPRESS_ZSTD)
		return -EIO;
	for (c = 0; c < 2; c++) {
		const unsigned char *src;

		if (!bp->bp_dva[c])
			continue;
		if (bp->bp_dva[c] < VOL_DATA_OFF ||
		    bp->bp_dva[c] + bp->bp_psize > p->p_label.lb_size)
			continue;
		/* Verified where it lies (the mapping), copied only if good. */
		src = vio_peek(p, bp->bp_psize, bp->bp_dva[c]);
		if (!src) {
			unsigned char *dst = bp->bp_comp ? p->p_rbuf : buf;

			if ((rc = vio_read(p, dst, bp->bp_psize, bp->bp_dva[c])) < 0)
				continue;
			src = dst;
		}
		if (!vol_cksum_ok(src, bp->bp_psize, bp->bp_cksum)) {
			rc = -EIO;
			continue;
		}
		if (bp->bp_comp == VOL_COMPRESS_OFF) {
			if (bp->bp_psize != bp->bp_lsize)
				return -EIO;
			if (src != buf)
				memcpy(buf, src, bp->bp_lsize);
			return 0;
		}
		rc = vol_decompress_block(bp->bp_comp, src, bp->bp_psize, buf,
		    bp->bp_lsize);
		if (rc == 0)
			return 0;
	}
	return rc == -ENOMEM ? rc : -EIO;
}

int
vblk_write(struct vol_pool *p, const void *buf, uint32_t lsize, enum vol_bt type,
    uint8_t level, enum vol_compress comp, unsigned int copies, uint64_t birth,
    struct vol_bp *out)
{
	const unsigned char *src = buf;
	struct vol_bp bp;
	size_t psize = 0;
	uint64_t ssize;
	unsigned int c;
	int rc;

	memset(&bp, 0, sizeof(bp));
	if (comp != VOL_COMPRESS_OFF)
		psize = vol_compress_block(comp, buf, lsize, p->p_wbuf);
	if (psize) {
		src = p->p_wbuf;
		bp.bp_comp = (uint8_t)comp;
	} else {
		psize = lsize;
		if (lsize % VOL_UNIT) {
			memcpy(p->p_wbuf, buf, lsize);
			src = p->p_wbuf;
		}
	}
	ssize = stored_size(psize);
	if (src == p->p_wbuf)
		memset(p->p_wbuf + psize, 0, ssize - psize);
	bp.bp_psize = (uint32_t)psize;
	bp.bp_lsize = lsize;
	bp.bp_type = (uint8_t)type;
	bp.bp_level = level;
	bp.bp_birth = birth;
	vol_cksum(src, psize, bp.bp_cksum);
	for (c = 0; c < (copies == 2 ? 2u : 1u); c++) {
		if ((rc = vspace_alloc(p, ssize, &bp.bp_dva[c])) < 0)
			goto err;
		if ((rc = vio_write(p, src, ssize, bp.bp_dva[c])) < 0)
			goto err;
	}
	*out = bp;
	return 0;
err:
	for (c = 0; c < 2; c++)
		if (bp.bp_dva[c])
			vspace_free_now(p, bp.bp_dva[c], ssize);
	return rc;
}

/* A new node of zeros, or the one bp points to, verified. */
static int
node_load(struct vol *v, const struct vol_bp *bp, unsigned int level,
    struct vol_node **out)
{
	struct vol_node *n = calloc(1, sizeof(*n));
	int rc;

	if (!n || !(n->n_bps = calloc(VOL_IND_FANOUT, sizeof(struct vol_bp)))) {
		free(n);
		return -ENOMEM;
	}
	n->n_bp = *bp;
	if (!vol_bp_hole(bp)) {
		if (bp->bp_lsize != VOL_IND_SIZE || bp->bp_level != level ||
		    bp->bp_type != VOL_BT_IND)
			rc = -EIO;
		else
			rc = vblk_read(v->v_pool, bp, n->n_bps);
		if (rc < 0) {
			free(n->n_bps);
			free(n);
			return rc;
		}
	}
	*out = n;
	return 0;
}

int
vol_node_get(struct vol *v, unsigned int level, uint64_t index, struct vol_node **out)
{
	struct vol_node *n = vmap_get(&v->v_nodes, NODE_KEY(level, index)), *parent;
	const struct vol_bp *bp;
	int rc;

	if (n) {
		*out = n;
		return 0;
	}
	if (level == v->v_rec.dr_nlevels) {
		bp = &v->v_rec.dr_root;
	} else {
		if ((rc = vol_node_get(v, level + 1, index >> VOL_IND_SHIFT, &parent)) < 0)
			return rc;
		bp = &parent->n_bps[index & (VOL_IND_FANOUT - 1)];
	}
	if ((rc = node_load(v, bp, level, &n)) < 0)
		return rc;
	if ((rc = vmap_put(&v->v_nodes, NODE_KEY(level, index), n)) < 0) {
		free(n->n_bps);
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

static void
node_free(uint64_t key, void *val, void *arg)
{
	struct vol_node *n = val;

	(void)key;
	(void)arg;
	free(n->n_bps);
	free(n);
}

void
vol_cache_drop(struct vol *v)
{
	vmap_each(&v->v_nodes, node_free, NULL);
	vmap_free(&v->v_nodes);
}

/* The committed bp of data block b, or NULL when an ancestor is a hole. */
static int
data_bp(struct vol *v, uint64_t b, const struct vol_bp **out)
{
	unsigned int l;
	struct vol_node *n;
	int rc;

	/* Look down from the top so a hole high up costs no node. */
	*out = NULL;
	if (vol_bp_hole(&v->v_rec.dr_root) &&
	    !vmap_get(&v->v_nodes, NODE_KEY(v->v_rec.dr_nlevels, 0)))
		return 0;
	for (l = v->v_rec.dr_nlevels; l >= 1; l--) {
		if ((rc = vol_node_get(v, l, b >> (VOL_IND_SHIFT * l), &n)) < 0)
			return rc;
		if (l == 1)
			break;
		if (vol_bp_hole(&n->n_bps[(b >> (VOL_IND_SHIFT * (l - 1))) &
		    (VOL_IND_FANOUT - 1)]) &&
		    !vmap_get(&v->v_nodes, NODE_KEY(l - 1, b >> (VOL_IND_SHIFT * (l - 1)))))
			return 0;
	}
	*out = &n->n_bps[b & (VOL_IND_FANOUT - 1)];
	return 0;
}

/* Data block b (bsize bytes) as the volume holds it now. */
static int
block_read(struct vol *v, uint64_t b, void *buf)
{
	void *d = vmap_get(&v->v_dirty, b);
	const struct vol_bp *bp;
	int rc;

	if (d && d != VOL_HOLEBUF) {
		memcpy(buf, d, v->v_rec.dr_bsize);
		return 0;
	}
	if (d == VOL_HOLEBUF)
		goto zeros;
	if ((rc = data_bp(v, b, &bp)) < 0)
		return rc;
	if (!bp || vol_bp_hole(bp))
		goto zeros;
	if (bp->bp_lsize != v->v_rec.dr_bsize || bp->bp_type != VOL_BT_DATA)
		return -EIO;
	return vblk_read(v->v_pool, bp, buf);
zeros:
	memset(buf, 0, v->v_rec.dr_bsize);
	return 0;
}

/*
 * Data block b where it lies, verified: the dirty buffer, zeros, or the
 * pool's mapping (uncompressed blocks), so a partial read copies only what
 * it wants.  Falls back to block_read into the pool's block buffer.
 */
static int
block_peek(struct vol *v, uint64_t b, const unsigned char **out)
{
	struct vol_pool *p = v->v_pool;
	void *d = vmap_get(&v->v_dirty, b);
	const struct vol_bp *bp;
	int c, rc;

	if (d && d != VOL_HOLEBUF) {
		*out = d;
		return 0;
	}
	if (d == VOL_HOLEBUF) {
		*out = vol_zeros;
		return 0;
	}
	if ((rc = data_bp(v, b, &bp)) < 0)
		return rc;
	if (!bp || vol_bp_hole(bp)) {
		*out = vol_zeros;
		return 0;
	}
	if (bp->bp_comp == VOL_COMPRESS_OFF && bp->bp_type == VOL_BT_DATA &&
	    bp->bp_psize == v->v_rec.dr_bsize && bp->bp_lsize == v->v_rec.dr_bsize) {
		for (c = 0; c < 2; c++) {
			const unsigned char *m;

			if (!bp->bp_dva[c] || bp->bp_dva[c] < VOL_DATA_OFF)
				continue;
			m = vio_peek(p, bp->bp_psize, bp->bp_dva[c]);
			if (m && vol_cksum_ok(m, bp->bp_psize, bp->bp_cksum)) {
				*out = m;
				return 0;
			}
		}
	}
	if ((rc = block_read(v, b, p->p_bbuf)) < 0)
		return rc;
	*out = p->p_bbuf;
	return 0;
}

static int
range_ok(const struct vol *v, uint64_t off, uint64_t len)
{
	return len <= v->v_rec.dr_size && off <= v->v_rec.dr_size - len;
}

int
vol_pread(struct vol *v, void *buf, size_t len, uint64_t off)
{
	uint32_t bs = v->v_rec.dr_bsize;
	unsigned char *out = buf;
	int rc;

	if (!range_ok(v, off, len))
		return -EINVAL;
	while (len) {
		uint64_t b = off / bs, in = off % bs;
		size_t n = bs - in < len ? bs - in : len;

		if (n == bs) {
			if ((rc = block_read(v, b, out)) < 0)
				return rc;
		} else {
			const unsigned char *src;

			if ((rc = block_peek(v, b, &src)) < 0)
				return rc;
			memcpy(out, src + in, n);
		}
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

static void
dirtied(struct vol *v)
{
	struct vol_pool *p = v->v_pool;

	v->v_changed = true;
	if (!p->p_dirty_since)
		p->p_dirty_since = vol_now_ns();
}

/* The dirty buffer of block b, made (with its old contents) if needed. */
static int
block_dirty(struct vol *v, uint64_t b, bool whole, unsigned char **out)
{
	uint32_t bs = v->v_rec.dr_bsize;
	void *d = vmap_get(&v->v_dirty, b);
	unsigned char *buf;
	int rc;

	if (d && d != VOL_HOLEBUF) {
		*out = d;
		return 0;
	}
	if (!(buf = malloc(bs)))
		return -ENOMEM;
	if (d == VOL_HOLEBUF)
		memset(buf, 0, bs);
	else if (!whole && (rc = block_read(v, b, buf)) < 0) {
		free(buf);
		return rc;
	}
	if ((rc = vmap_put(&v->v_dirty, b, buf)) < 0) {
		free(buf);
		return rc;
	}
	if (!d)
		v->v_dirty_n++;
	v->v_pool->p_dirty_bytes += bs;
	dirtied(v);
	*out = buf;
	return 0;
}

static int
maybe_commit(struct vol *v)
{
	struct vol_pool *p = v->v_pool;

	if (p->p_dirty_bytes < VOL_DIRTY_MAX && v->v_dirty_n < VOL_DIRTY_MAX / VOL_UNIT)
		return 0;
	if (v->v_id == 0)
		return 0;	/* a receive commits once, at the end */
	return vol_pool_sync(p);
}

int
vol_pwrite(struct vol *v, const void *buf, size_t len, uint64_t off)
{
	uint32_t bs = v->v_rec.dr_bsize;
	const unsigned char *in = buf;
	unsigned char *d;
	int rc;

	if (v->v_ro)
		return -EROFS;
	if (!range_ok(v, off, len))
		return -EINVAL;
	while (len) {
		uint64_t b = off / bs, at = off % bs;
		size_t n = bs - at < len ? bs - at : len;

		if ((rc = block_dirty(v, b, n == bs, &d)) < 0)
			return rc;
		memcpy(d + at, in, n);
		in += n;
		off += n;
		len -= n;
	}
	return maybe_commit(v);
}

int
vol_discard(struct vol *v, uint64_t off, uint64_t len)
{
	uint32_t bs = v->v_rec.dr_bsize;
	uint64_t b, end;
	int rc;

	if (v->v_ro)
		return -EROFS;
	if (!range_ok(v, off, len))
		return -EINVAL;
	/* Partial blocks at either end are written with zeros. */
	if (off % bs) {
		uint64_t n = bs - off % bs < len ? bs - off % bs : len;

		if ((rc = vol_pwrite(v, vol_zeros, n, off)) < 0)
			return rc;
		off += n;
		len -= n;
	}
	if (len % bs) {
		uint64_t n = len % bs;

		if ((rc = vol_pwrite(v, vol_zeros, n, off + len - n)) < 0)
			return rc;
		len -= n;
	}
	end = (off + len) / bs;
	for (b = off / bs; b < end; b++) {
		void *d = vmap_get(&v->v_dirty, b);
		const struct vol_bp *bp = NULL;

		if (d == VOL_HOLEBUF)
			continue;
		if (!d) {
			if ((rc = data_bp(v, b, &bp)) < 0)
				return rc;
			if (!bp) {
				/* A hole above level 1: the rest of its span too. */
				b |= VOL_IND_FANOUT - 1;
				continue;
			}
			if (vol_bp_hole(bp))
				continue;
			v->v_dirty_n++;
		} else {
			free(d);
			v->v_pool->p_dirty_bytes -= bs;
		}
		if ((rc = vmap_put(&v->v_dirty, b, VOL_HOLEBUF)) < 0)
			return rc;
		dirtied(v);
		if ((rc = maybe_commit(v)) < 0)
			return rc;
	}
	return 0;
}

/* Free old unless an older snapshot (or a clone's origin) still has it. */
static void
free_old(struct vol *v, const struct vol_bp *old)
{
	if (vol_bp_hole(old) || old->bp_birth <= v->v_rec.dr_prev_snap_txg)
		return;
	vspace_free_bp(v->v_pool, old);
}

static bool
all_holes(const struct vol_bp *bps)
{
	unsigned int i;

	for (i = 0; i < VOL_IND_FANOUT; i++)
		if (!vol_bp_hole(&bps[i]))
			return false;
	return true;
}

static int
track_alloc(struct vol *v, const struct vol_bp *bp)
{
	unsigned int c;

	if (v->v_id != 0 || vol_bp_hole(bp))
		return 0;
	for (c = 0; c < 2; c++) {
		if (!bp->bp_dva[c])
			continue;
		if (v->v_nallocs == v->v_allocs_cap) {
			size_t cap = v->v_allocs_cap ? 2 * v->v_allocs_cap : 256;
			struct vol_free *f = realloc(v->v_allocs, cap * sizeof(*f));

			if (!f)
				return -ENOMEM;
			v->v_allocs = f;
			v->v_allocs_cap = cap;
		}
		v->v_allocs[v->v_nallocs].f_off = bp->bp_dva[c];
		v->v_allocs[v->v_nallocs].f_len = vol_bp_asize(bp) / (bp->bp_dva[1] ? 2 : 1);
		v->v_nallocs++;
	}
	return 0;
}

/* Write the pending data blocks; their parents (level 1) become dirty. */
static int
sync_data(struct vol *v, uint64_t birth)
{
	struct vol_pool *p = v->v_pool;
	uint32_t bs = v->v_rec.dr_bsize;
	size_t nk, i;
	uint64_t *keys = vmap_keys(&v->v_dirty, &nk);
	int rc = 0;

	for (i = 0; i < nk; i++) {
		uint64_t b = keys[i];
		unsigned char *d = vmap_get(&v->v_dirty, b);
		struct vol_node *n;
		struct vol_bp *slot, nbp;

		if ((rc = vol_node_get(v, 1, b >> VOL_IND_SHIFT, &n)) < 0)
			break;
		slot = &n->n_bps[b & (VOL_IND_FANOUT - 1)];
		memset(&nbp, 0, sizeof(nbp));
		if ((void *)d == VOL_HOLEBUF || !memcmp(d, vol_zeros, bs)) {
			/* Zeros take no space (ZFS's hole detection). */
			if (vol_bp_hole(slot))
				goto next;
			nbp.bp_birth = birth;
			nbp.bp_type = VOL_BT_DATA;
		} else {
			rc = vblk_write(p, d, bs, VOL_BT_DATA, 0, v->v_rec.dr_comp,
			    v->v_rec.dr_copies, birth, &nbp);
			if (rc < 0 || (rc = track_alloc(v, &nbp)) < 0)
				break;
		}
		free_old(v, slot);
		*slot = nbp;
		n->n_dirty = true;
next:
		if ((void *)d != VOL_HOLEBUF) {
			free(d);
			p->p_dirty_bytes -= bs;
		}
		vmap_del(&v->v_dirty, b);
		v->v_dirty_n--;
	}
	free(keys);
	return rc;
}

int
vol_flush_data(struct vol *v)
{
	return sync_data(v, v->v_birth);
}

int
vol_sync_tree(struct vol *v, uint64_t txg)
{
	struct vol_pool *p = v->v_pool;
	uint64_t birth = v->v_birth ? v->v_birth : txg;
	unsigned int l;
	int rc;

	if ((rc = sync_data(v, birth)) < 0)
		return rc;
	for (l = 1; l <= v->v_rec.dr_nlevels; l++) {
		size_t nk, i;
		uint64_t *keys = vmap_keys(&v->v_nodes, &nk);

		for (i = 0; i < nk; i++) {
			struct vol_node *n, *parent;
			struct vol_bp nbp, *slot;
			uint64_t idx;

			if (keys[i] >> 56 != l)
				continue;
			n = vmap_get(&v->v_nodes, keys[i]);
			if (!n->n_dirty)
				continue;
			idx = keys[i] & ((1ull << 56) - 1);
			if (l == v->v_rec.dr_nlevels) {
				slot = &v->v_rec.dr_root;
			} else {
				if ((rc = vol_node_get(v, l + 1, idx >> VOL_IND_SHIFT, &parent)) < 0)
					break;
				slot = &parent->n_bps[idx & (VOL_IND_FANOUT - 1)];
				parent->n_dirty = true;
			}
			memset(&nbp, 0, sizeof(nbp));
			if (all_holes(n->n_bps)) {
				nbp.bp_birth = birth;
				nbp.bp_type = VOL_BT_IND;
				nbp.bp_level = (uint8_t)l;
			} else {
				rc = vblk_write(p, n->n_bps, VOL_IND_SIZE, VOL_BT_IND,
				    (uint8_t)l, VOL_COMPRESS_LZ4, v->v_rec.dr_copies,
				    birth, &nbp);
				if (rc < 0 || (rc = track_alloc(v, &nbp)) < 0)
					break;
			}
			free_old(v, slot);
			*slot = nbp;
			n->n_bp = nbp;
			n->n_dirty = false;
		}
		free(keys);
		if (rc < 0)
			return rc;
	}
	v->v_changed = false;
	if (v->v_nodes.m_count > VOL_CACHE_MAX)
		vol_cache_drop(v);
	return 0;
}

static void
dirty_free(uint64_t key, void *val, void *arg)
{
	struct vol *v = arg;

	(void)key;
	if (val != VOL_HOLEBUF) {
		free(val);
		v->v_pool->p_dirty_bytes -= v->v_rec.dr_bsize;
	}
}

void
vol_discard_pending(struct vol *v)
{
	vmap_each(&v->v_dirty, dirty_free, v);
	vmap_free(&v->v_dirty);
	v->v_dirty_n = 0;
	vol_cache_drop(v);
	v->v_changed = false;
}

/* Walks. */

static int
walk_bp(struct vol_pool *p, const struct vol_bp *bp, unsigned int level,
    uint64_t first, uint64_t min_birth, bool holes, vol_walk_fn *fn, void *arg)
{
	struct vol_bp *bps;
	unsigned int s;
	int rc;

	if (vol_bp_hole(bp)) {
		if (holes && bp->bp_birth > min_birth)
			return fn(arg, bp, level, first) < 0 ? -1 : 0;
		return 0;
	}
	if (bp->bp_birth <= min_birth)
		return 0;
	rc = fn(arg, bp, level, first);
	if (rc < 0)
		return rc;
	if (rc == 1 || level == 0)
		return 0;
	if (bp->bp_lsize != VOL_IND_SIZE || bp->bp_level != level)
		return -EIO;
	if (!(bps = malloc(VOL_IND_SIZE)))
		return -ENOMEM;
	if ((rc = vblk_read(p, bp, bps)) < 0) {
		free(bps);
		return rc;
	}
	for (s = 0; s < VOL_IND_FANOUT && rc >= 0; s++)
		rc = walk_bp(p, &bps[s], level - 1,
		    first + ((uint64_t)s << (VOL_IND_SHIFT * (level - 1))),
		    min_birth, holes, fn, arg);
	free(bps);
	return rc;
}

int
vol_walk(struct vol_pool *p, const struct vol_bp *root, unsigned int nlevels,
    uint64_t min_birth, bool holes, vol_walk_fn *fn, void *arg)
{
	return walk_bp(p, root, nlevels, 0, min_birth, holes, fn, arg);
}

static int
unique_bp(struct vol_pool *p, const struct vol_bp *a, const struct vol_bp *b,
    unsigned int level, uint64_t first, uint64_t min_birth, vol_walk_fn *fn,
    void *arg)
{
	struct vol_bp *abps = NULL, *bbps = NULL;
	unsigned int s;
	int rc;

	if (vol_bp_hole(a) || a->bp_birth <= min_birth)
		return 0;
	if (b && vol_bp_same(a, b))
		return 0;
	rc = fn(arg, a, level, first);
	if (rc < 0)
		return rc;
	if (rc == 1 || level == 0)
		return 0;
	rc = -ENOMEM;
	if (!(abps = malloc(VOL_IND_SIZE)))
		goto out;
	if ((rc = vblk_read(p, a, abps)) < 0)
		goto out;
	if (b && !vol_bp_hole(b) && b->bp_level == level && b->bp_type == VOL_BT_IND) {
		rc = -ENOMEM;
		if (!(bbps = malloc(VOL_IND_SIZE)))
			goto out;
		if ((rc = vblk_read(p, b, bbps)) < 0)
			goto out;
	}
	for (s = 0, rc = 0; s < VOL_IND_FANOUT && rc >= 0; s++)
		rc = unique_bp(p, &abps[s], bbps ? &bbps[s] : NULL, level - 1,
		    first + ((uint64_t)s << (VOL_IND_SHIFT * (level - 1))),
		    min_birth, fn, arg);
out:
	free(abps);
	free(bbps);
	return rc;
}

int
vol_walk_unique(struct vol_pool *p, const struct vol_bp *a, const struct vol_bp *b,
    unsigned int nlevels, uint64_t min_birth, vol_walk_fn *fn, void *arg)
{
	return unique_bp(p, a, b, nlevels, 0, min_birth, fn, arg);
}

uint64_t
vol_size(const struct vol *v)
{
	return v->v_rec.dr_size;
}

uint32_t
vol_bsize(const struct vol *v)
{
	return v->v_rec.dr_bsize;
}

bool
vol_readonly(const struct vol *v)
{
	return v->v_ro;
}
