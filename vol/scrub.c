/*
 * Scrub: read every block every dataset reaches, once, and check each copy
 * against the checksum its parent holds.  A bad copy whose twin is good is
 * rewritten in place from the twin (the only in-place write the pool ever
 * makes: the block's contents do not change, only the damage goes).
 * Runs under the commit lock, so the trees hold still.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vol_impl.h"

struct scrub {
	struct vol_pool		*p;
	struct vol_scrub_result	*res;
	void			(*report)(void *, const char *);
	vol_progress_fn		*progress;
	void			*arg;
	struct vmap		 seen;
	unsigned char		*raw[2];
	char			 ds[2 * VOL_NAME_MAX + 2];
	uint32_t		 bsize;
	uint64_t		 done, total;
};

static void
say(struct scrub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct scrub *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->report)
		s->report(s->arg, line);
}

static void
where(struct scrub *s, const struct vol_bp *bp, uint64_t first, char *out, size_t len)
{
	if (bp->bp_type == VOL_BT_DIR)
		snprintf(out, len, "%s: the dataset directory", s->p->p_label.lb_name);
	else if (bp->bp_level == 0)
		snprintf(out, len, "%s/%s: offset %llu", s->p->p_label.lb_name, s->ds,
		    (unsigned long long)(first * s->bsize));
	else
		snprintf(out, len, "%s/%s: metadata (level %u) for offset %llu",
		    s->p->p_label.lb_name, s->ds, bp->bp_level,
		    (unsigned long long)(first * s->bsize));
}

/* Check every copy of bp; decode a good one into out (lsize) if asked. */
static int
scrub_block(struct scrub *s, const struct vol_bp *bp, uint64_t first, void *out)
{
	struct vol_pool *p = s->p;
	int ncopies = bp->bp_dva[1] ? 2 : 1, c, good = -1;
	bool ok[2] = { false, false };
	char at[300];

	where(s, bp, first, at, sizeof(at));
	if (bp->bp_psize == 0 || bp->bp_psize > VOL_MAX_BLOCK ||
	    bp->bp_lsize > VOL_MAX_BLOCK) {
		s->res->sr_errors++;
		say(s, "%s: damaged block pointer", at);
		return -EIO;
	}
	for (c = 0; c < ncopies; c++) {
		uint64_t off = bp->bp_dva[c];

		if (off < VOL_DATA_OFF || off + bp->bp_psize > p->p_label.lb_size)
			continue;
		if (vio_read(p, s->raw[c], bp->bp_psize, off) < 0)
			continue;
		ok[c] = vol_cksum_ok(s->raw[c], bp->bp_psize, bp->bp_cksum);
		if (ok[c] && good < 0)
			good = c;
	}
	s->res->sr_blocks++;
	s->res->sr_bytes += (uint64_t)bp->bp_psize * (uint64_t)ncopies;
	if (good < 0) {
		s->res->sr_errors++;
		say(s, "%s: checksum mismatch (%s), not repaired", at,
		    ncopies == 2 ? "both copies" : "the only copy");
		return -EIO;
	}
	for (c = 0; c < ncopies; c++) {
		uint64_t len;

		if (ok[c])
			continue;
		len = (bp->bp_psize + VOL_UNIT - 1) & ~(uint64_t)(VOL_UNIT - 1);
		memset(s->raw[good] + bp->bp_psize, 0, len - bp->bp_psize);
		if (p->p_ro || vio_write(p, s->raw[good], len, bp->bp_dva[c]) < 0) {
			s->res->sr_errors++;
			say(s, "%s: checksum mismatch (copy %d of 2), not repaired%s", at,
			    c + 1, p->p_ro ? " (pool open read-only)" : "");
			continue;
		}
		s->res->sr_repaired++;
		say(s, "%s: checksum mismatch (copy %d of 2), repaired", at, c + 1);
	}
	if (!out)
		return 0;
	if (bp->bp_comp == VOL_COMPRESS_OFF) {
		memcpy(out, s->raw[good], bp->bp_lsize);
		return bp->bp_psize == bp->bp_lsize ? 0 : -EIO;
	}
	return vol_decompress_block(bp->bp_comp, s->raw[good], bp->bp_psize, out,
	    bp->bp_lsize);
}

static int
scrub_tree(struct scrub *s, const struct vol_bp *bp, unsigned int level, uint64_t first)
{
	struct vol_bp *bps;
	unsigned int i;
	int rc;

	if (vol_bp_hole(bp))
		return 0;
	if (vmap_get(&s->seen, bp->bp_dva[0]))
		return 0;	/* shared with a dataset already scrubbed */
	if ((rc = vmap_put(&s->seen, bp->bp_dva[0], (void *)1)) < 0)
		return rc;
	if (level == 0) {
		scrub_block(s, bp, first, NULL);
		s->done += s->bsize;
		if (s->progress && (s->res->sr_blocks & 255) == 0)
			s->progress(s->arg, s->done, s->total);
		return 0;
	}
	if (!(bps = malloc(VOL_IND_SIZE)))
		return -ENOMEM;
	if (bp->bp_lsize != VOL_IND_SIZE || bp->bp_level != level ||
	    scrub_block(s, bp, first, bps) < 0) {
		free(bps);
		return 0;	/* counted and reported; its children are out of reach */
	}
	for (i = 0, rc = 0; i < VOL_IND_FANOUT && rc >= 0; i++)
		rc = scrub_tree(s, &bps[i], level - 1,
		    first + ((uint64_t)i << (VOL_IND_SHIFT * (level - 1))));
	free(bps);
	return rc;
}

static int
used_fn(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid)
{
	struct scrub *s = arg;

	(void)blkid;
	if (level == 0)
		s->total += bp->bp_lsize;
	return 0;
}

int
vol_scrub(struct vol_pool *p, void (*report)(void *arg, const char *line),
    vol_progress_fn *progress, void *arg, struct vol_scrub_result *res, char *err,
    size_t errlen)
{
	struct scrub s = {
		.p = p, .res = res, .report = report, .progress = progress, .arg = arg,
	};
	uint32_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	s.raw[0] = malloc(VOL_MAX_BLOCK + VOL_UNIT);
	s.raw[1] = malloc(VOL_MAX_BLOCK + VOL_UNIT);
	if (!s.raw[0] || !s.raw[1]) {
		rc = vol_err(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = vpool_lock(p)) < 0) {
		vol_err(err, errlen, rc, "%s: %s", p->p_label.lb_name, strerror(-rc));
		goto out;
	}
	scrub_block(&s, &p->p_dirbp, 0, NULL);
	/* Progress counts logical bytes; a failed count only dims progress. */
	for (i = 0; i < p->p_nds; i++)
		vol_walk(p, &p->p_ds[i].dr_root, p->p_ds[i].dr_nlevels, 0, false, used_fn, &s);
	for (i = 0, rc = 0; i < p->p_nds && rc >= 0; i++) {
		vol_full_name(p, &p->p_ds[i], s.ds, sizeof(s.ds));
		s.bsize = p->p_ds[i].dr_bsize;
		rc = scrub_tree(&s, &p->p_ds[i].dr_root, p->p_ds[i].dr_nlevels, 0);
	}
	if (res->sr_repaired && !p->p_ro)
		vio_sync(p);
	vpool_unlock(p);
	if (progress)
		progress(arg, s.total, s.total);
	if (rc < 0)
		vol_err(err, errlen, rc, "%s: scrub stopped: %s", p->p_label.lb_name,
		    strerror(-rc));
out:
	vmap_free(&s.seen);
	free(s.raw[0]);
	free(s.raw[1]);
	return rc;
}
