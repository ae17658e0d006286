/*
 * Space: the pool's data area is cut into metaslabs, and a process
 * allocates only inside metaslabs it has claimed (an OFD lock each, so
 * processes sharing a pool never hand out the same block and a killed
 * process's claims vanish with it).  Free space is not stored on disk: a
 * metaslab's map is built when it is claimed, by marking every block the
 * newest committed trees reach.  So nothing leaks across a crash, and
 * space freed by another process comes back the next time the metaslab
 * is claimed.
 *
 * Deferred frees: a block freed while txg N is open goes on p_pending and
 * becomes allocatable only after N's uberblock is durable, because until
 * then the newest durable tree (N-1) may still point at it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vol_impl.h"

static uint64_t
ms_size(const struct vol_pool *p)
{
	return p->p_label.lb_ms_size;
}

static uint64_t
ms_units(const struct vol_pool *p, uint64_t i)
{
	uint64_t start = VOL_DATA_OFF + i * ms_size(p);
	uint64_t end = start + ms_size(p);

	if (end > p->p_label.lb_size)
		end = p->p_label.lb_size;
	return (end - start) >> VOL_UNIT_SHIFT;
}

static bool
bit_get(const uint64_t *m, uint64_t i)
{
	return m[i / 64] >> (i % 64) & 1;
}

static void
bits_set(struct vol_ms *ms, uint64_t i, uint64_t n, bool used)
{
	for (; n; n--, i++) {
		if (bit_get(ms->ms_map, i) == used)
			continue;
		if (used) {
			ms->ms_map[i / 64] |= 1ull << (i % 64);
			ms->ms_free--;
		} else {
			ms->ms_map[i / 64] &= ~(1ull << (i % 64));
			ms->ms_free++;
		}
	}
}

/* Mark [off, off+len) in the maps of claimed metaslabs (used or free). */
static void
mark(struct vol_pool *p, uint64_t off, uint64_t len, bool used, int64_t only)
{
	uint64_t u, n, i;

	if (off < VOL_DATA_OFF || off >= p->p_label.lb_size)
		return;
	u = (off - VOL_DATA_OFF) >> VOL_UNIT_SHIFT;
	n = (len + VOL_UNIT - 1) >> VOL_UNIT_SHIFT;
	while (n) {
		uint64_t per = ms_size(p) >> VOL_UNIT_SHIFT;
		uint64_t m = u / per, first = u % per, take;
		struct vol_ms *ms;

		if (m >= p->p_nms)
			return;
		ms = &p->p_ms[m];
		take = ms_units(p, m) - first;
		if (take > n)
			take = n;
		if (ms->ms_claimed && (only < 0 || (uint64_t)only == m))
			bits_set(ms, first, take, used);
		u += take;
		n -= take;
	}
	(void)i;
}

struct mark_ctx {
	struct vol_pool	*p;
	int64_t		 ms;
	struct vmap	 seen;
};

static int
mark_bp(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid)
{
	struct mark_ctx *c = arg;
	uint64_t asz = vol_bp_asize(bp) / (bp->bp_dva[1] ? 2 : 1);

	(void)blkid;
	if (vol_bp_hole(bp))
		return 0;
	/* Shared subtrees (snapshots, clones) are marked once. */
	if (level > 0) {
		if (vmap_get(&c->seen, bp->bp_dva[0]))
			return 1;
		if (vmap_put(&c->seen, bp->bp_dva[0], (void *)1) < 0)
			return -ENOMEM;
	}
	mark(c->p, bp->bp_dva[0], asz, true, c->ms);
	if (bp->bp_dva[1])
		mark(c->p, bp->bp_dva[1], asz, true, c->ms);
	return 0;
}

/* Build metaslab m's map from the newest committed trees (lock held). */
static int
ms_load(struct vol_pool *p, uint64_t m)
{
	struct vol_ms *ms = &p->p_ms[m];
	struct mark_ctx c = { .p = p, .ms = (int64_t)m };
	uint64_t units = ms_units(p, m);
	uint32_t i;
	int rc = 0;

	ms->ms_map = calloc((units + 63) / 64, sizeof(uint64_t));
	if (!ms->ms_map)
		return -ENOMEM;
	ms->ms_free = units;
	ms->ms_cursor = 0;
	ms->ms_claimed = true;
	struct vol_dsrec *durable;
	uint32_t nd;

	/*
	 * What the newest durable txg reaches, and what the open txg does:
	 * a block this txg dropped (a destroyed dataset, an overwritten
	 * block) stays in use until the txg is durable.
	 */
	mark_bp(&c, &p->p_dirbp, 0, 0);
	rc = vpool_durable_dir(p, &durable, &nd);
	for (i = 0; i < nd && rc >= 0; i++) {
		rc = vol_walk(p, &durable[i].dr_root, durable[i].dr_nlevels, 0, false,
		    mark_bp, &c);
		if (rc == -EIO)
			rc = 0;		/* unreadable: scrub reports it */
	}
	free(durable);
	for (i = 0; i < p->p_nds && rc >= 0; i++) {
		const struct vol_dsrec *r = &p->p_ds[i];

		rc = vol_walk(p, &r->dr_root, r->dr_nlevels, 0, false, mark_bp, &c);
		if (rc == -EIO)
			rc = 0;
	}
	vmap_free(&c.seen);
	if (rc < 0) {
		free(ms->ms_map);
		ms->ms_map = NULL;
		ms->ms_claimed = false;
	}
	return rc;
}

static int
ms_claim(struct vol_pool *p, uint64_t *out)
{
	bool had_lock = p->p_locked;
	uint64_t i;
	int rc;

	if (!had_lock && (rc = vpool_lock(p)) < 0)
		return rc;
	rc = -ENOSPC;
	for (i = 0; i < p->p_nms; i++) {
		uint64_t m = (p->p_ms_cur + 1 + i) % p->p_nms;

		if (p->p_ms[m].ms_claimed)
			continue;
		if (vpool_trylock(p, VOL_LK_MS(m), true) < 0)
			continue;
		if ((rc = ms_load(p, m)) < 0) {
			vpool_unlock_byte(p, VOL_LK_MS(m));
			break;
		}
		if (p->p_ms[m].ms_free == 0)
			continue;	/* full: keep the claim, look on */
		*out = m;
		rc = 0;
		break;
	}
	if (!had_lock)
		vpool_unlock(p);
	return rc;
}

/* n free units in a row in ms, next-fit; the first unit or -1. */
static int64_t
ms_find(struct vol_ms *ms, uint64_t units, uint64_t n)
{
	uint64_t start = ms->ms_cursor, i, run = 0, pass;

	if (ms->ms_free < n)
		return -1;
	for (pass = 0; pass < 2; pass++) {
		run = 0;
		for (i = pass ? 0 : start; i < units; i++) {
			if (run == 0 && (i & 63) == 0 && ms->ms_map[i / 64] == ~0ull &&
			    i + 64 <= units) {
				i += 63;
				continue;
			}
			if (bit_get(ms->ms_map, i)) {
				run = 0;
				continue;
			}
			if (++run == n)
				return (int64_t)(i + 1 - n);
		}
	}
	return -1;
}

int
vspace_alloc(struct vol_pool *p, uint64_t len, uint64_t *off)
{
	uint64_t n = (len + VOL_UNIT - 1) >> VOL_UNIT_SHIFT, m, tries;
	int rc;

	for (tries = 0; tries <= p->p_nms; tries++) {
		for (m = 0; m < p->p_nms; m++) {
			uint64_t idx = (p->p_ms_cur + m) % p->p_nms;
			struct vol_ms *ms = &p->p_ms[idx];
			int64_t u;

			if (!ms->ms_claimed)
				continue;
			u = ms_find(ms, ms_units(p, idx), n);
			if (u < 0)
				continue;
			bits_set(ms, (uint64_t)u, n, true);
			ms->ms_cursor = (uint64_t)u + n;
			p->p_ms_cur = idx;
			*off = VOL_DATA_OFF + idx * ms_size(p) +
			    ((uint64_t)u << VOL_UNIT_SHIFT);
			return 0;
		}
		if ((rc = ms_claim(p, &m)) < 0)
			return rc;
		p->p_ms_cur = m;
	}
	return -ENOSPC;
}

void
vspace_free_deferred(struct vol_pool *p, uint64_t off, uint64_t len)
{
	if (p->p_npending == p->p_pending_cap) {
		size_t cap = p->p_pending_cap ? 2 * p->p_pending_cap : 256;
		struct vol_free *f = realloc(p->p_pending, cap * sizeof(*f));

		if (!f)
			return;		/* the space comes back at the next claim */
		p->p_pending = f;
		p->p_pending_cap = cap;
	}
	p->p_pending[p->p_npending].f_off = off;
	p->p_pending[p->p_npending].f_len = len;
	p->p_npending++;
}

void
vspace_free_bp(struct vol_pool *p, const struct vol_bp *bp)
{
	uint64_t one;

	if (vol_bp_hole(bp))
		return;
	one = vol_bp_asize(bp) / (bp->bp_dva[1] ? 2 : 1);
	vspace_free_deferred(p, bp->bp_dva[0], one);
	if (bp->bp_dva[1])
		vspace_free_deferred(p, bp->bp_dva[1], one);
}

void
vspace_free_now(struct vol_pool *p, uint64_t off, uint64_t len)
{
	mark(p, off, len, false, -1);
}

void
vspace_release(struct vol_pool *p)
{
	size_t i;

	uint64_t m;

	for (i = 0; i < p->p_npending; i++)
		mark(p, p->p_pending[i].f_off, p->p_pending[i].f_len, false, -1);
	p->p_npending = 0;
	/*
	 * Next-fit within a txg, first-fit across them: the space just freed
	 * is used again first, which keeps a sparse pool file small.
	 */
	for (m = 0; m < p->p_nms; m++)
		p->p_ms[m].ms_cursor = 0;
}

void
vspace_fini(struct vol_pool *p)
{
	uint64_t i;

	for (i = 0; i < p->p_nms; i++)
		free(p->p_ms[i].ms_map);
	free(p->p_ms);
	p->p_ms = NULL;
	free(p->p_pending);
	p->p_pending = NULL;
	p->p_npending = p->p_pending_cap = 0;
}
