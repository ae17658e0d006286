/*
 * Datasets: the directory of volumes, snapshots and clones, and the
 * operations on it.  Each operation takes the pool's commit lock, reloads
 * the newest directory, changes it in memory and commits one txg, so it
 * either happens whole or not at all.
 *
 * Who owns a block (ZFS's birth-time rule): a volume's block born after
 * the volume's newest snapshot (dr_prev_snap_txg) is the volume's alone
 * and is freed when overwritten; an older one belongs to a snapshot (or,
 * for a clone, to its origin) and stays.  A snapshot's own blocks are
 * those born after the snapshot before it that the next snapshot (or the
 * volume) no longer shares; the trees have the same shape, so a walk of
 * the two side by side finds them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vol_impl.h"

int
vol_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > VOL_NAME_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

int
vol_name_split(const char *name, char *vol, char *snap, char *err, size_t errlen)
{
	const char *at = strchr(name, '@');
	size_t vl = at ? (size_t)(at - name) : strlen(name);

	vol[0] = snap[0] = 0;
	if (vl > VOL_NAME_MAX || (at && strlen(at + 1) > VOL_NAME_MAX))
		return vol_err(err, errlen, -EINVAL, "\"%s\": name too long (at most %d "
		    "characters a part)", name, VOL_NAME_MAX);
	memcpy(vol, name, vl);
	vol[vl] = 0;
	if (at)
		strcpy(snap, at + 1);
	if (!vol_name_ok(vol) || (at && !vol_name_ok(snap)))
		return vol_err(err, errlen, -EINVAL, "\"%s\": not a valid name (parts of "
		    "1-63 of A-Z a-z 0-9 _ . : -, not starting with . or -)", name);
	return 0;
}

struct vol_dsrec *
vdir_by_id(struct vol_pool *p, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < p->p_nds; i++)
		if (p->p_ds[i].dr_id == id)
			return &p->p_ds[i];
	return NULL;
}

struct vol_dsrec *
vdir_find(struct vol_pool *p, const char *vol, const char *snap)
{
	struct vol_dsrec *h = NULL;
	uint32_t i;

	for (i = 0; i < p->p_nds && !h; i++)
		if (p->p_ds[i].dr_type == VOL_T_VOLUME && !strcmp(p->p_ds[i].dr_name, vol))
			h = &p->p_ds[i];
	if (!h || !snap || !snap[0])
		return h;
	for (i = 0; i < p->p_nds; i++)
		if (p->p_ds[i].dr_type == VOL_T_SNAPSHOT && p->p_ds[i].dr_parent == h->dr_id &&
		    !strcmp(p->p_ds[i].dr_name, snap))
			return &p->p_ds[i];
	return NULL;
}

void
vol_full_name(struct vol_pool *p, const struct vol_dsrec *r, char *out, size_t len)
{
	const struct vol_dsrec *h;

	if (r->dr_type == VOL_T_SNAPSHOT && (h = vdir_by_id(p, r->dr_parent)))
		snprintf(out, len, "%s@%s", h->dr_name, r->dr_name);
	else
		snprintf(out, len, "%s", r->dr_name);
}

int
vdir_add(struct vol_pool *p, const struct vol_dsrec *r, struct vol_dsrec **out)
{
	struct vol_dsrec *ds;

	if (p->p_nds >= VOL_MAX_DATASETS)
		return -ENOSPC;
	if (!(ds = realloc(p->p_ds, (p->p_nds + 1) * sizeof(*ds))))
		return -ENOMEM;
	p->p_ds = ds;
	ds[p->p_nds] = *r;
	if (out)
		*out = &ds[p->p_nds];
	p->p_nds++;
	return 0;
}

void
vdir_remove(struct vol_pool *p, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < p->p_nds; i++)
		if (p->p_ds[i].dr_id == id) {
			memmove(&p->p_ds[i], &p->p_ds[i + 1],
			    (p->p_nds - i - 1) * sizeof(*p->p_ds));
			p->p_nds--;
			return;
		}
}

static int
snap_cmp(const void *a, const void *b, void *arg)
{
	struct vol_pool *p = arg;
	const struct vol_dsrec *x = vdir_by_id(p, *(const uint64_t *)a);
	const struct vol_dsrec *y = vdir_by_id(p, *(const uint64_t *)b);

	return x->dr_txg < y->dr_txg ? -1 : x->dr_txg > y->dr_txg;
}

size_t
vdir_snapshots(struct vol_pool *p, uint64_t id, uint64_t **ids)
{
	size_t n = 0;
	uint32_t i;

	*ids = malloc((p->p_nds + 1) * sizeof(**ids));
	if (!*ids)
		return 0;
	for (i = 0; i < p->p_nds; i++)
		if (p->p_ds[i].dr_type == VOL_T_SNAPSHOT && p->p_ds[i].dr_parent == id)
			(*ids)[n++] = p->p_ds[i].dr_id;
	qsort_r(*ids, n, sizeof(**ids), snap_cmp, p);
	return n;
}

/* The origin snapshot's txg for a clone, else 0. */
static uint64_t
origin_txg(struct vol_pool *p, const struct vol_dsrec *h)
{
	const struct vol_dsrec *o = h->dr_origin ? vdir_by_id(p, h->dr_origin) : NULL;

	return o ? o->dr_txg : 0;
}

uint64_t
vdir_floor_txg(struct vol_pool *p, const struct vol_dsrec *r)
{
	uint64_t *ids, floor;
	size_t n, i;
	const struct vol_dsrec *h;

	if (r->dr_type == VOL_T_VOLUME)
		return r->dr_prev_snap_txg;
	/* A snapshot: the one before it, or the volume's origin. */
	if (!(h = vdir_by_id(p, r->dr_parent)))
		return 0;
	floor = origin_txg(p, h);
	n = vdir_snapshots(p, h->dr_id, &ids);
	for (i = 0; i < n && ids[i] != r->dr_id; i++)
		floor = vdir_by_id(p, ids[i])->dr_txg;
	free(ids);
	return floor;
}

/* What comes after snapshot r: the next snapshot, or the volume. */
static struct vol_dsrec *
next_of(struct vol_pool *p, const struct vol_dsrec *r)
{
	uint64_t *ids, next = r->dr_parent;
	size_t n, i;

	n = vdir_snapshots(p, r->dr_parent, &ids);
	for (i = 0; i < n; i++)
		if (ids[i] == r->dr_id && i + 1 < n)
			next = ids[i + 1];
	free(ids);
	return vdir_by_id(p, next);
}

static bool
has_clones(struct vol_pool *p, uint64_t snap_id, char *who, size_t len)
{
	uint32_t i;

	for (i = 0; i < p->p_nds; i++)
		if (p->p_ds[i].dr_origin == snap_id) {
			snprintf(who, len, "%s", p->p_ds[i].dr_name);
			return true;
		}
	return false;
}

struct vol *
vol_open_here(struct vol_pool *p, uint64_t id)
{
	struct vol *v;

	for (v = p->p_vols; v; v = v->v_next)
		if (v->v_id == id)
			return v;
	return NULL;
}

/* Lock dataset id against every other user, or say who has it. */
static int
busy_check(struct vol_pool *p, const struct vol_dsrec *r, const char *name,
    char *err, size_t errlen)
{
	if (vol_open_here(p, r->dr_id) || vpool_trylock(p, VOL_LK_DS(r->dr_id), true) < 0)
		return vol_err(err, errlen, -EBUSY, "%s/%s: in use (open by a VM or "
		    "another command)", p->p_label.lb_name, name);
	return 0;
}

int
vol_free_fn(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid)
{
	(void)level;
	(void)blkid;
	vspace_free_bp(arg, bp);
	return 0;
}

/* Free a snapshot's own blocks and drop its record (checks done). */
static int
snap_destroy(struct vol_pool *p, struct vol_dsrec *s)
{
	uint64_t floor = vdir_floor_txg(p, s), id = s->dr_id;
	struct vol_dsrec *n = next_of(p, s);
	struct vol_bp root = s->dr_root;
	int rc;

	rc = vol_walk_unique(p, &root, n ? &n->dr_root : NULL, s->dr_nlevels, floor,
	    vol_free_fn, p);
	if (rc < 0)
		p->p_npending = 0;	/* unreadable: leave the space to the next claim */
	if (n && n->dr_type == VOL_T_VOLUME && n->dr_prev_snap_txg == s->dr_txg)
		n->dr_prev_snap_txg = floor;
	vdir_remove(p, id);
	return 0;
}

static int
lock_err(struct vol_pool *p, int rc, char *err, size_t errlen)
{
	return vol_err(err, errlen, rc, "%s: %s", p->p_label.lb_name, strerror(-rc));
}

static int
commit_err(struct vol_pool *p, int rc, char *err, size_t errlen)
{
	if (rc == -ENOSPC)
		return vol_err(err, errlen, rc, "%s: pool is full", p->p_label.lb_name);
	return vol_err(err, errlen, rc, "%s: commit failed: %s", p->p_label.lb_name,
	    strerror(-rc));
}

static int
no_such(struct vol_pool *p, const char *name, char *err, size_t errlen)
{
	return vol_err(err, errlen, -ENOENT, "%s/%s: no such %s", p->p_label.lb_name,
	    name, strchr(name, '@') ? "snapshot" : "volume");
}

int
vol_create(struct vol_pool *p, const char *name, uint64_t size,
    const struct vol_props *props, char *err, size_t errlen)
{
	struct vol_props d = { 0 };
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1];
	struct vol_dsrec r;
	int rc;

	if (!props)
		props = &d;
	if ((rc = vol_name_split(name, vn, sn, err, errlen)) < 0)
		return rc;
	if (sn[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": a volume name has no @", name);
	if (p->p_ro)
		return vol_err(err, errlen, -EROFS, "%s: pool is open read-only", p->p_label.lb_name);
	memset(&r, 0, sizeof(r));
	r.dr_bsize = props->vp_bsize ? props->vp_bsize : VOL_DEF_BSIZE;
	if (r.dr_bsize < VOL_MIN_BSIZE || r.dr_bsize > VOL_MAX_BSIZE ||
	    (r.dr_bsize & (r.dr_bsize - 1)))
		return vol_err(err, errlen, -EINVAL, "%s/%s: block size %u: not a power of two "
		    "from 4K to 128K", p->p_label.lb_name, name, r.dr_bsize);
	if (size == 0 || size % 512)
		return vol_err(err, errlen, -EINVAL, "%s/%s: size %llu: not a positive "
		    "multiple of 512", p->p_label.lb_name, name, (unsigned long long)size);
	if (size > p->p_label.lb_size - VOL_DATA_OFF)
		return vol_err(err, errlen, -EFBIG, "%s/%s: size %llu does not fit in the "
		    "pool (%llu bytes)", p->p_label.lb_name, name, (unsigned long long)size,
		    (unsigned long long)(p->p_label.lb_size - VOL_DATA_OFF));
	if (props->vp_compress > VOL_COMPRESS_ZSTD)
		return vol_err(err, errlen, -EINVAL, "%s/%s: unknown compression",
		    p->p_label.lb_name, name);
	if (props->vp_copies > 2)
		return vol_err(err, errlen, -EINVAL, "%s/%s: copies %u: must be 1 or 2",
		    p->p_label.lb_name, name, props->vp_copies);
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (vdir_find(p, vn, NULL)) {
		rc = vol_err(err, errlen, -EEXIST, "%s/%s: volume exists", p->p_label.lb_name, vn);
		goto out;
	}
	r.dr_id = p->p_next_id++;
	r.dr_guid = vol_random64();
	r.dr_type = VOL_T_VOLUME;
	r.dr_size = size;
	r.dr_txg = p->p_txg + 1;
	r.dr_comp = (uint8_t)props->vp_compress;
	r.dr_copies = (uint8_t)(props->vp_copies ? props->vp_copies : 1);
	r.dr_nlevels = (uint8_t)vol_nlevels(r.dr_bsize);
	snprintf(r.dr_name, sizeof(r.dr_name), "%s", vn);
	if ((rc = vdir_add(p, &r, NULL)) < 0) {
		vol_err(err, errlen, rc, "%s: too many datasets", p->p_label.lb_name);
		goto out;
	}
	if ((rc = vpool_commit(p)) < 0)
		commit_err(p, rc, err, errlen);
out:
	if (rc < 0)
		p->p_txg = 0;	/* the next lock reloads the durable directory */
	vpool_unlock(p);
	return rc;
}

int
vol_destroy(struct vol_pool *p, const char *name, bool recursive, char *err,
    size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1], who[VOL_NAME_MAX + 1];
	struct vol_dsrec *r;
	uint64_t *ids = NULL, id, locked[VOL_MAX_DATASETS];
	size_t n = 0, i, nlocked = 0;
	int rc;

	if ((rc = vol_name_split(name, vn, sn, err, errlen)) < 0)
		return rc;
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(r = vdir_find(p, vn, sn))) {
		rc = no_such(p, name, err, errlen);
		goto out;
	}
	id = r->dr_id;
	if (sn[0]) {
		if (has_clones(p, id, who, sizeof(who))) {
			rc = vol_err(err, errlen, -EBUSY, "%s/%s: snapshot has clones (%s/%s); "
			    "destroy them first", p->p_label.lb_name, name, p->p_label.lb_name, who);
			goto out;
		}
		if ((rc = busy_check(p, r, name, err, errlen)) < 0)
			goto out;
		locked[nlocked++] = id;
		snap_destroy(p, r);
	} else {
		if ((rc = busy_check(p, r, name, err, errlen)) < 0)
			goto out;
		locked[nlocked++] = id;
		n = vdir_snapshots(p, id, &ids);
		if (n && !recursive) {
			rc = vol_err(err, errlen, -EBUSY, "%s/%s: volume has %zu snapshot%s; "
			    "destroy them first or use -r", p->p_label.lb_name, name, n,
			    n == 1 ? "" : "s");
			goto out;
		}
		for (i = 0; i < n; i++) {
			struct vol_dsrec *s = vdir_by_id(p, ids[i]);

			if (has_clones(p, s->dr_id, who, sizeof(who))) {
				rc = vol_err(err, errlen, -EBUSY, "%s/%s@%s: snapshot has clones "
				    "(%s/%s); destroy them first", p->p_label.lb_name, vn,
				    s->dr_name, p->p_label.lb_name, who);
				goto out;
			}
			if ((rc = busy_check(p, s, s->dr_name, err, errlen)) < 0)
				goto out;
			locked[nlocked++] = s->dr_id;
		}
		for (i = n; i-- > 0;)
			snap_destroy(p, vdir_by_id(p, ids[i]));
		r = vdir_by_id(p, id);
		if (vol_walk_unique(p, &r->dr_root, NULL, r->dr_nlevels,
		    r->dr_prev_snap_txg, vol_free_fn, p) < 0)
			p->p_npending = 0;
		vdir_remove(p, id);
	}
	if ((rc = vpool_commit(p)) < 0)
		commit_err(p, rc, err, errlen);
out:
	if (rc < 0) {
		p->p_txg = 0;
		p->p_npending = 0;
	}
	for (i = 0; i < nlocked; i++)
		vpool_unlock_byte(p, VOL_LK_DS(locked[i]));
	free(ids);
	vpool_unlock(p);
	return rc;
}

int
vol_snapshot(struct vol_pool *p, const char *name, char *err, size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1];
	struct vol_dsrec *h, s;
	int rc;

	if ((rc = vol_name_split(name, vn, sn, err, errlen)) < 0)
		return rc;
	if (!sn[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": a snapshot is named vol@snap", name);
	if (p->p_ro)
		return vol_err(err, errlen, -EROFS, "%s: pool is open read-only", p->p_label.lb_name);
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(h = vdir_find(p, vn, NULL))) {
		rc = no_such(p, vn, err, errlen);
		goto out;
	}
	if (vdir_find(p, vn, sn)) {
		rc = vol_err(err, errlen, -EEXIST, "%s/%s: snapshot exists", p->p_label.lb_name, name);
		goto out;
	}
	/* Our own pending writes to the volume go in first. */
	if (vol_open_here(p, h->dr_id) && vol_open_here(p, h->dr_id)->v_changed) {
		uint64_t id = h->dr_id;

		if ((rc = vpool_commit(p)) < 0) {
			commit_err(p, rc, err, errlen);
			goto out;
		}
		h = vdir_by_id(p, id);
	}
	s = *h;
	s.dr_id = p->p_next_id++;
	s.dr_guid = vol_random64();
	s.dr_type = VOL_T_SNAPSHOT;
	s.dr_parent = h->dr_id;
	s.dr_origin = 0;
	s.dr_txg = p->p_txg + 1;
	s.dr_prev_snap_txg = 0;
	snprintf(s.dr_name, sizeof(s.dr_name), "%s", sn);
	h->dr_prev_snap_txg = s.dr_txg;
	if ((rc = vdir_add(p, &s, NULL)) < 0) {
		vol_err(err, errlen, rc, "%s: too many datasets", p->p_label.lb_name);
		goto out;
	}
	vpool_refresh_open(p);
	if ((rc = vpool_commit(p)) < 0)
		commit_err(p, rc, err, errlen);
out:
	if (rc < 0)
		p->p_txg = 0;
	vpool_unlock(p);
	return rc;
}

int
vol_rollback(struct vol_pool *p, const char *snap, bool destroy_newer, char *err,
    size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1], who[VOL_NAME_MAX + 1];
	struct vol_dsrec *h, *s;
	uint64_t *ids = NULL, sid, hid, locked[VOL_MAX_DATASETS];
	size_t n, i, at = 0, nlocked = 0;
	int rc;

	if ((rc = vol_name_split(snap, vn, sn, err, errlen)) < 0)
		return rc;
	if (!sn[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": rollback needs vol@snap", snap);
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(s = vdir_find(p, vn, sn))) {
		rc = no_such(p, snap, err, errlen);
		goto out;
	}
	sid = s->dr_id;
	h = vdir_find(p, vn, NULL);
	hid = h->dr_id;
	if ((rc = busy_check(p, h, vn, err, errlen)) < 0)
		goto out;
	locked[nlocked++] = hid;
	n = vdir_snapshots(p, hid, &ids);
	while (at < n && ids[at] != sid)
		at++;
	if (at + 1 < n && !destroy_newer) {
		rc = vol_err(err, errlen, -EBUSY, "%s/%s: not the newest snapshot (%s/%s@%s "
		    "is newer); use -r to destroy newer snapshots", p->p_label.lb_name, snap,
		    p->p_label.lb_name, vn, vdir_by_id(p, ids[n - 1])->dr_name);
		goto out;
	}
	for (i = at + 1; i < n; i++) {
		struct vol_dsrec *x = vdir_by_id(p, ids[i]);

		if (has_clones(p, x->dr_id, who, sizeof(who))) {
			rc = vol_err(err, errlen, -EBUSY, "%s/%s@%s: snapshot has clones (%s/%s); "
			    "destroy them first", p->p_label.lb_name, vn, x->dr_name,
			    p->p_label.lb_name, who);
			goto out;
		}
		if ((rc = busy_check(p, x, x->dr_name, err, errlen)) < 0)
			goto out;
		locked[nlocked++] = x->dr_id;
	}
	for (i = n; i-- > at + 1;)
		snap_destroy(p, vdir_by_id(p, ids[i]));
	h = vdir_by_id(p, hid);
	s = vdir_by_id(p, sid);
	/* Everything the volume wrote since the snapshot is its own. */
	if (vol_walk_unique(p, &h->dr_root, &s->dr_root, h->dr_nlevels, s->dr_txg,
	    vol_free_fn, p) < 0)
		p->p_npending = 0;
	h->dr_root = s->dr_root;
	h->dr_size = s->dr_size;
	h->dr_prev_snap_txg = s->dr_txg;
	if ((rc = vpool_commit(p)) < 0)
		commit_err(p, rc, err, errlen);
out:
	if (rc < 0) {
		p->p_txg = 0;
		p->p_npending = 0;
	}
	for (i = 0; i < nlocked; i++)
		vpool_unlock_byte(p, VOL_LK_DS(locked[i]));
	free(ids);
	vpool_unlock(p);
	return rc;
}

int
vol_clone(struct vol_pool *p, const char *snap, const char *newname, char *err,
    size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1];
	char nn[VOL_NAME_MAX + 1], ns[VOL_NAME_MAX + 1];
	struct vol_dsrec *s, c;
	int rc;

	if ((rc = vol_name_split(snap, vn, sn, err, errlen)) < 0 ||
	    (rc = vol_name_split(newname, nn, ns, err, errlen)) < 0)
		return rc;
	if (!sn[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": a clone is made from vol@snap", snap);
	if (ns[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": a volume name has no @", newname);
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(s = vdir_find(p, vn, sn))) {
		rc = no_such(p, snap, err, errlen);
		goto out;
	}
	if (vdir_find(p, nn, NULL)) {
		rc = vol_err(err, errlen, -EEXIST, "%s/%s: volume exists", p->p_label.lb_name, nn);
		goto out;
	}
	c = *s;
	c.dr_id = p->p_next_id++;
	c.dr_guid = vol_random64();
	c.dr_type = VOL_T_VOLUME;
	c.dr_parent = 0;
	c.dr_origin = s->dr_id;
	c.dr_txg = p->p_txg + 1;
	c.dr_prev_snap_txg = s->dr_txg;	/* the origin's blocks are not ours */
	snprintf(c.dr_name, sizeof(c.dr_name), "%s", nn);
	if ((rc = vdir_add(p, &c, NULL)) < 0) {
		vol_err(err, errlen, rc, "%s: too many datasets", p->p_label.lb_name);
		goto out;
	}
	if ((rc = vpool_commit(p)) < 0)
		commit_err(p, rc, err, errlen);
out:
	if (rc < 0)
		p->p_txg = 0;
	vpool_unlock(p);
	return rc;
}

static struct vol *
vol_new(struct vol_pool *p, const struct vol_dsrec *r, const char *name, bool ro)
{
	struct vol *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->v_pool = p;
	v->v_id = r->dr_id;
	v->v_rec = *r;
	v->v_ro = ro || p->p_ro || r->dr_type == VOL_T_SNAPSHOT;
	snprintf(v->v_name, sizeof(v->v_name), "%s", name);
	v->v_next = p->p_vols;
	p->p_vols = v;
	return v;
}

static void
vol_unlink(struct vol *v)
{
	struct vol **pp;

	for (pp = &v->v_pool->p_vols; *pp; pp = &(*pp)->v_next)
		if (*pp == v) {
			*pp = v->v_next;
			break;
		}
}

int
vol_resize(struct vol_pool *p, const char *name, uint64_t size, char *err,
    size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1];
	struct vol_dsrec *h;
	struct vol *v = NULL;
	uint64_t old;
	int rc;

	if ((rc = vol_name_split(name, vn, sn, err, errlen)) < 0)
		return rc;
	if (sn[0])
		return vol_err(err, errlen, -EINVAL, "%s/%s: a snapshot cannot be resized",
		    p->p_label.lb_name, name);
	if (size == 0 || size % 512)
		return vol_err(err, errlen, -EINVAL, "%s/%s: size %llu: not a positive "
		    "multiple of 512", p->p_label.lb_name, name, (unsigned long long)size);
	if (size > p->p_label.lb_size - VOL_DATA_OFF)
		return vol_err(err, errlen, -EFBIG, "%s/%s: size %llu does not fit in the "
		    "pool (%llu bytes)", p->p_label.lb_name, name, (unsigned long long)size,
		    (unsigned long long)(p->p_label.lb_size - VOL_DATA_OFF));
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(h = vdir_find(p, vn, NULL))) {
		rc = no_such(p, vn, err, errlen);
		goto out;
	}
	if ((rc = busy_check(p, h, vn, err, errlen)) < 0)
		goto out;
	old = h->dr_size;
	if (size < old) {
		/* The tail goes, so growing again later shows zeros. */
		if (!(v = vol_new(p, h, vn, false))) {
			rc = vol_err(err, errlen, -ENOMEM, "out of memory");
			goto unlock;
		}
		if ((rc = vol_discard(v, size, old - size)) < 0) {
			vol_err(err, errlen, rc, "%s/%s: %s", p->p_label.lb_name, vn, strerror(-rc));
			goto unlock;
		}
	}
	vdir_find(p, vn, NULL)->dr_size = size;
	if ((rc = vpool_commit(p)) < 0)
		commit_err(p, rc, err, errlen);
unlock:
	if (v) {
		vol_unlink(v);
		vol_discard_pending(v);
		free(v);
	}
	vpool_unlock_byte(p, VOL_LK_DS(h->dr_id));
out:
	if (rc < 0) {
		p->p_txg = 0;
		p->p_npending = 0;
	}
	vpool_unlock(p);
	return rc;
}

int
vol_open(struct vol_pool *p, const char *name, struct vol **out, char *err,
    size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1];
	struct vol_dsrec *r;
	struct vol *v;
	bool ro;
	int rc;

	if ((rc = vol_name_split(name, vn, sn, err, errlen)) < 0)
		return rc;
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(r = vdir_find(p, vn, sn))) {
		rc = no_such(p, name, err, errlen);
		goto out;
	}
	ro = p->p_ro || r->dr_type == VOL_T_SNAPSHOT;
	if ((!ro && vol_open_here(p, r->dr_id)) ||
	    vpool_trylock(p, VOL_LK_DS(r->dr_id), !ro) < 0) {
		rc = vol_err(err, errlen, -EBUSY, "%s/%s: in use (open by a VM or another "
		    "command)", p->p_label.lb_name, name);
		goto out;
	}
	if (!(v = vol_new(p, r, name, ro))) {
		rc = vol_err(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	*out = v;
out:
	vpool_unlock(p);
	return rc;
}

void
vol_close(struct vol *v)
{
	struct vol_pool *p = v->v_pool;
	uint64_t id = v->v_id;

	if (v->v_changed && !v->v_ro)
		vol_pool_sync(p);
	vol_unlink(v);
	vol_discard_pending(v);
	free(v->v_allocs);
	free(v);
	/* The lock goes when nothing else here has the dataset open. */
	if (id && !vol_open_here(p, id))
		vpool_unlock_byte(p, VOL_LK_DS(id));
}

struct space_ctx {
	uint64_t	asize, logical, physical;
};

static int
space_fn(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid)
{
	struct space_ctx *c = arg;

	(void)blkid;
	c->asize += vol_bp_asize(bp);
	if (level == 0) {
		c->logical += bp->bp_lsize;
		c->physical += bp->bp_psize;
	}
	return 0;
}

static int
fill_info(struct vol_pool *p, const struct vol_dsrec *r, struct vol_info *vi)
{
	struct space_ctx ref = { 0 }, own = { 0 };
	const struct vol_dsrec *o;
	int rc;

	memset(vi, 0, sizeof(*vi));
	vol_full_name(p, r, vi->vi_name, sizeof(vi->vi_name));
	if (r->dr_origin && (o = vdir_by_id(p, r->dr_origin)))
		vol_full_name(p, o, vi->vi_origin, sizeof(vi->vi_origin));
	vi->vi_type = r->dr_type;
	vi->vi_guid = r->dr_guid;
	vi->vi_size = r->dr_size;
	vi->vi_bsize = r->dr_bsize;
	vi->vi_compress = r->dr_comp;
	vi->vi_copies = r->dr_copies;
	vi->vi_txg = r->dr_txg;
	if ((rc = vol_walk(p, &r->dr_root, r->dr_nlevels, 0, false, space_fn, &ref)) < 0)
		return rc;
	vi->vi_referenced = ref.asize;
	vi->vi_logical = ref.logical;
	vi->vi_physical = ref.physical;
	if (r->dr_type == VOL_T_VOLUME) {
		uint64_t *ids;
		size_t n = vdir_snapshots(p, r->dr_id, &ids), i;

		rc = vol_walk(p, &r->dr_root, r->dr_nlevels, r->dr_prev_snap_txg, false,
		    space_fn, &own);
		/* A volume's used space counts its snapshots' own blocks. */
		for (i = 0; i < n && rc >= 0; i++) {
			const struct vol_dsrec *s = vdir_by_id(p, ids[i]);
			const struct vol_dsrec *nx = next_of(p, s);

			rc = vol_walk_unique(p, &s->dr_root, nx ? &nx->dr_root : NULL,
			    s->dr_nlevels, vdir_floor_txg(p, s), space_fn, &own);
		}
		free(ids);
	} else {
		const struct vol_dsrec *nx = next_of(p, r);

		rc = vol_walk_unique(p, &r->dr_root, nx ? &nx->dr_root : NULL, r->dr_nlevels,
		    vdir_floor_txg(p, r), space_fn, &own);
	}
	vi->vi_used = own.asize;
	return rc;
}

static int
info_cmp(const void *a, const void *b)
{
	const struct vol_info *x = a, *y = b;
	size_t lx = strcspn(x->vi_name, "@"), ly = strcspn(y->vi_name, "@");
	int c = strncmp(x->vi_name, y->vi_name, lx < ly ? lx : ly);

	if (c || lx != ly)
		return c ? c : (lx < ly ? -1 : 1);
	if (x->vi_type != y->vi_type)
		return x->vi_type == VOL_T_VOLUME ? -1 : 1;
	return x->vi_txg < y->vi_txg ? -1 : x->vi_txg > y->vi_txg;
}

int
vol_list(struct vol_pool *p, struct vol_info **out, size_t *n, char *err, size_t errlen)
{
	struct vol_info *vi;
	uint32_t i;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = vpool_lock(p)) < 0)
		return lock_err(p, rc, err, errlen);
	if (!(vi = calloc(p->p_nds + 1, sizeof(*vi)))) {
		vpool_unlock(p);
		return vol_err(err, errlen, -ENOMEM, "out of memory");
	}
	for (i = 0; i < p->p_nds; i++) {
		if ((rc = fill_info(p, &p->p_ds[i], &vi[i])) < 0) {
			char full[2 * VOL_NAME_MAX + 2];

			vol_full_name(p, &p->p_ds[i], full, sizeof(full));
			vol_err(err, errlen, rc, "%s/%s: reading its tree: %s",
			    p->p_label.lb_name, full, strerror(-rc));
			free(vi);
			vpool_unlock(p);
			return rc;
		}
	}
	qsort(vi, p->p_nds, sizeof(*vi), info_cmp);
	*out = vi;
	*n = p->p_nds;
	vpool_unlock(p);
	return 0;
}
