/*
 * Send and receive: a snapshot as a stream of records, whole or as the
 * change since an older snapshot (docs/volume-format.md, "Streams").
 * Every record carries its own XXH3-128, and the END record the checksum
 * of the whole stream before it, so a receiver can tell a cut or altered
 * stream before it changes anything.  A receive builds the new tree off
 * to the side (blocks written, nothing pointing at them) and links it into
 * the directory in one commit after END verifies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "vol_impl.h"
#include "stream.h"

struct sender {
	int		 fd;
	XXH3_state_t	*st;
	uint32_t	 bsize;
	uint64_t	 size;
	vol_progress_fn	*progress;
	void		*arg;
	struct vol_pool	*p;
	unsigned char	*buf;
	int		 werr;
};

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
emit(struct sender *s, uint32_t type, uint64_t blkid, uint64_t count,
    const void *payload, uint32_t len)
{
	struct vol_rec_hdr h = {
		.rh_type = type, .rh_len = len, .rh_blkid = blkid, .rh_count = count,
	};
	XXH3_state_t *rs = XXH3_createState();
	XXH128_canonical_t c;
	int rc;

	if (!rs)
		return -ENOMEM;
	XXH3_128bits_reset(rs);
	XXH3_128bits_update(rs, &h, offsetof(struct vol_rec_hdr, rh_cksum));
	if (len)
		XXH3_128bits_update(rs, payload, len);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(rs));
	XXH3_freeState(rs);
	memcpy(h.rh_cksum, c.digest, 16);
	if ((rc = write_all(s->fd, &h, sizeof(h))) < 0 ||
	    (len && (rc = write_all(s->fd, payload, len)) < 0))
		return rc;
	XXH3_128bits_update(s->st, &h, sizeof(h));
	if (len)
		XXH3_128bits_update(s->st, payload, len);
	return 0;
}

static int
send_fn(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid)
{
	struct sender *s = arg;
	uint64_t span = 1ull << (VOL_IND_SHIFT * level);
	int rc;

	if (vol_bp_hole(bp))
		return emit(s, VOL_REC_FREE, blkid, span, NULL, 0);
	if (level > 0)
		return 0;
	if (bp->bp_lsize != s->bsize)
		return -EIO;
	if ((rc = vblk_read(s->p, bp, s->buf)) < 0)
		return rc;
	if (s->progress && (blkid & 63) == 0)
		s->progress(s->arg, blkid * s->bsize, s->size);
	return emit(s, VOL_REC_WRITE, blkid, 1, s->buf, s->bsize);
}

int
vol_send(struct vol_pool *p, const char *snap, const char *from, int fd,
    vol_progress_fn *progress, void *arg, char *err, size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1], fv[VOL_NAME_MAX + 1];
	char fs[VOL_NAME_MAX + 1];
	struct vol_dsrec s, f, *r;
	struct vol_stream_hdr h;
	struct sender sd = { .fd = fd, .progress = progress, .arg = arg, .p = p };
	XXH128_canonical_t c;
	bool have_from = from && from[0];
	int rc;

	if ((rc = vol_name_split(snap, vn, sn, err, errlen)) < 0)
		return rc;
	if (!sn[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": send needs a snapshot (vol@snap)", snap);
	if (have_from) {
		if (from[0] == '@') {
			snprintf(fv, sizeof(fv), "%s", vn);
			if (strlen(from + 1) > VOL_NAME_MAX || !vol_name_ok(from + 1))
				return vol_err(err, errlen, -EINVAL, "\"%s\": not a valid name", from);
			snprintf(fs, sizeof(fs), "%s", from + 1);
		} else if ((rc = vol_name_split(from, fv, fs, err, errlen)) < 0) {
			return rc;
		}
		if (!fs[0] || strcmp(fv, vn))
			return vol_err(err, errlen, -EINVAL, "\"%s\": the base must be an older "
			    "snapshot of %s", from, vn);
	}
	if ((rc = vpool_lock(p)) < 0)
		return vol_err(err, errlen, rc, "%s: %s", p->p_label.lb_name, strerror(-rc));
	if (!(r = vdir_find(p, vn, sn))) {
		vpool_unlock(p);
		return vol_err(err, errlen, -ENOENT, "%s/%s: no such snapshot", p->p_label.lb_name, snap);
	}
	s = *r;
	memset(&f, 0, sizeof(f));
	if (have_from) {
		if (!(r = vdir_find(p, fv, fs))) {
			vpool_unlock(p);
			return vol_err(err, errlen, -ENOENT, "%s/%s@%s: no such snapshot",
			    p->p_label.lb_name, fv, fs);
		}
		f = *r;
		if (f.dr_txg >= s.dr_txg) {
			vpool_unlock(p);
			return vol_err(err, errlen, -EINVAL, "%s/%s@%s is not older than %s",
			    p->p_label.lb_name, fv, fs, snap);
		}
	}
	/* Held while we read: nobody destroys the snapshots under us. */
	if (vpool_trylock(p, VOL_LK_DS(s.dr_id), false) < 0 ||
	    (have_from && vpool_trylock(p, VOL_LK_DS(f.dr_id), false) < 0)) {
		vpool_unlock(p);
		return vol_err(err, errlen, -EBUSY, "%s/%s: being destroyed", p->p_label.lb_name, snap);
	}
	vpool_unlock(p);

	memset(&h, 0, sizeof(h));
	h.sh_magic = VOL_STREAM_MAGIC;
	h.sh_version = VOL_STREAM_VERSION;
	h.sh_flags = have_from ? VOL_SF_INCREMENTAL : 0;
	h.sh_size = s.dr_size;
	h.sh_bsize = s.dr_bsize;
	h.sh_comp = s.dr_comp;
	h.sh_copies = s.dr_copies;
	h.sh_to_guid = s.dr_guid;
	h.sh_to_txg = s.dr_txg;
	h.sh_from_guid = f.dr_guid;
	h.sh_from_txg = f.dr_txg;
	snprintf(h.sh_snap, sizeof(h.sh_snap), "%s", sn);
	if (have_from)
		snprintf(h.sh_from, sizeof(h.sh_from), "%s", fs);
	vol_cksum(&h, offsetof(struct vol_stream_hdr, sh_cksum), h.sh_cksum);

	sd.bsize = s.dr_bsize;
	sd.size = s.dr_size;
	sd.st = XXH3_createState();
	sd.buf = malloc(VOL_MAX_BSIZE);
	if (!sd.st || !sd.buf) {
		rc = vol_err(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	XXH3_128bits_reset(sd.st);
	if ((rc = write_all(fd, &h, sizeof(h))) < 0) {
		vol_err(err, errlen, rc, "writing the stream: %s", strerror(-rc));
		goto out;
	}
	XXH3_128bits_update(sd.st, &h, sizeof(h));
	rc = vol_walk(p, &s.dr_root, s.dr_nlevels, f.dr_txg, have_from, send_fn, &sd);
	if (rc < 0) {
		vol_err(err, errlen, rc, rc == -EIO ?
		    "%s/%s: a block does not verify (run scrub): %s" :
		    "%s/%s: writing the stream: %s", p->p_label.lb_name, snap, strerror(-rc));
		goto out;
	}
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(sd.st));
	if ((rc = emit(&sd, VOL_REC_END, 0, 0, c.digest, 16)) < 0) {
		vol_err(err, errlen, rc, "writing the stream: %s", strerror(-rc));
		goto out;
	}
	if (progress)
		progress(arg, s.dr_size, s.dr_size);
out:
	vpool_unlock_byte(p, VOL_LK_DS(s.dr_id));
	if (have_from)
		vpool_unlock_byte(p, VOL_LK_DS(f.dr_id));
	if (sd.st)
		XXH3_freeState(sd.st);
	free(sd.buf);
	return rc;
}

/* Read exactly len bytes: 0, -EPIPE at a short end, or -errno. */
static int
read_full(int fd, void *buf, size_t len)
{
	char *b = buf;

	while (len) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
stream_err(char *err, size_t errlen, int rc, const char *what)
{
	if (rc == -EPIPE)
		return vol_err(err, errlen, -EINVAL, "stream: cut short (%s); nothing "
		    "was changed", what);
	if (rc == -EBADMSG)
		return vol_err(err, errlen, -EINVAL, "stream: %s does not verify; nothing "
		    "was changed", what);
	return vol_err(err, errlen, rc, "stream: reading %s: %s", what, strerror(-rc));
}

int
vol_receive(struct vol_pool *p, const char *name, int fd, bool force,
    vol_progress_fn *progress, void *arg, char *err, size_t errlen)
{
	char vn[VOL_NAME_MAX + 1], sn[VOL_NAME_MAX + 1];
	struct vol_stream_hdr h;
	struct vol_rec_hdr rh;
	struct vol_dsrec *r, base, head;
	struct vol *v = NULL;
	XXH3_state_t *st = NULL, *rs = NULL;
	XXH128_canonical_t c;
	unsigned char *buf = NULL;
	bool incr, have_base = false, locked_head = false;
	uint64_t nblocks, txg;
	int rc;

	memset(&base, 0, sizeof(base));
	memset(&head, 0, sizeof(head));
	if ((rc = vol_name_split(name, vn, sn, err, errlen)) < 0)
		return rc;
	if (sn[0])
		return vol_err(err, errlen, -EINVAL, "\"%s\": receive into a volume name "
		    "(the stream names its snapshot)", name);
	if (p->p_ro)
		return vol_err(err, errlen, -EROFS, "%s: pool is open read-only", p->p_label.lb_name);
	if ((rc = read_full(fd, &h, sizeof(h))) < 0)
		return stream_err(err, errlen, rc, "the header");
	if (h.sh_magic != VOL_STREAM_MAGIC)
		return vol_err(err, errlen, -EINVAL, "stream: not a volume stream");
	if (!vol_cksum_ok(&h, offsetof(struct vol_stream_hdr, sh_cksum), h.sh_cksum))
		return stream_err(err, errlen, -EBADMSG, "the header");
	if (h.sh_version != VOL_STREAM_VERSION || h.sh_bsize < VOL_MIN_BSIZE ||
	    h.sh_bsize > VOL_MAX_BSIZE || (h.sh_bsize & (h.sh_bsize - 1)) ||
	    h.sh_size == 0 || h.sh_size % 512 || h.sh_size > VOL_MAX_SIZE ||
	    h.sh_comp > VOL_COMPRESS_ZSTD || h.sh_copies < 1 || h.sh_copies > 2 ||
	    !memchr(h.sh_snap, 0, sizeof(h.sh_snap)) || !vol_name_ok(h.sh_snap) ||
	    !memchr(h.sh_from, 0, sizeof(h.sh_from)))
		return vol_err(err, errlen, -EINVAL, "stream: unsupported version or bad header");
	if (h.sh_size > p->p_label.lb_size - VOL_DATA_OFF)
		return vol_err(err, errlen, -EFBIG, "%s/%s: the stream's volume (%llu bytes) "
		    "does not fit in the pool", p->p_label.lb_name, vn,
		    (unsigned long long)h.sh_size);
	incr = h.sh_flags & VOL_SF_INCREMENTAL;
	nblocks = (h.sh_size + h.sh_bsize - 1) / h.sh_bsize;

	if ((rc = vpool_lock(p)) < 0)
		return vol_err(err, errlen, rc, "%s: %s", p->p_label.lb_name, strerror(-rc));
	r = vdir_find(p, vn, NULL);
	if (!incr && r) {
		vpool_unlock(p);
		return vol_err(err, errlen, -EEXIST, "%s/%s: volume exists (a full stream "
		    "makes a new volume)", p->p_label.lb_name, vn);
	}
	if (incr) {
		uint64_t *ids;
		size_t n;

		if (!r) {
			vpool_unlock(p);
			return vol_err(err, errlen, -ENOENT, "%s/%s: no such volume (an "
			    "incremental stream needs one with @%s)", p->p_label.lb_name, vn,
			    h.sh_from);
		}
		head = *r;
		n = vdir_snapshots(p, r->dr_id, &ids);
		if (n)
			base = *vdir_by_id(p, ids[n - 1]);
		free(ids);
		if (!n || base.dr_guid != h.sh_from_guid) {
			vpool_unlock(p);
			return vol_err(err, errlen, -EINVAL, "%s/%s: its newest snapshot is not "
			    "the stream's base @%s", p->p_label.lb_name, vn, h.sh_from);
		}
		if (base.dr_bsize != h.sh_bsize) {
			vpool_unlock(p);
			return vol_err(err, errlen, -EINVAL, "stream: block size differs from %s/%s",
			    p->p_label.lb_name, vn);
		}
		if (!vol_bp_same(&head.dr_root, &base.dr_root) && !force) {
			vpool_unlock(p);
			return vol_err(err, errlen, -EBUSY, "%s/%s: changed since @%s; use -F to "
			    "roll the changes back", p->p_label.lb_name, vn, base.dr_name);
		}
		if (vol_open_here(p, head.dr_id) ||
		    vpool_trylock(p, VOL_LK_DS(head.dr_id), true) < 0) {
			vpool_unlock(p);
			return vol_err(err, errlen, -EBUSY, "%s/%s: in use (open by a VM or "
			    "another command)", p->p_label.lb_name, vn);
		}
		locked_head = true;
		have_base = true;
	}
	/* The new tree: empty, or the base's, which it then changes. */
	rc = -ENOMEM;
	if (!(v = calloc(1, sizeof(*v))))
		goto fail_unlock;
	v->v_pool = p;
	v->v_id = 0;
	snprintf(v->v_name, sizeof(v->v_name), "%s", vn);
	memset(&v->v_rec, 0, sizeof(v->v_rec));
	v->v_rec.dr_bsize = h.sh_bsize;
	v->v_rec.dr_comp = h.sh_comp;
	v->v_rec.dr_copies = h.sh_copies;
	v->v_rec.dr_nlevels = (uint8_t)vol_nlevels(h.sh_bsize);
	v->v_rec.dr_size = h.sh_size;
	if (have_base) {
		v->v_rec.dr_root = base.dr_root;
		v->v_rec.dr_prev_snap_txg = base.dr_txg;
		v->v_rec.dr_comp = head.dr_comp;
		v->v_rec.dr_copies = head.dr_copies;
	}
	v->v_birth = p->p_txg + 1;
	vpool_unlock(p);

	rc = -ENOMEM;
	st = XXH3_createState();
	rs = XXH3_createState();
	buf = malloc(VOL_MAX_BSIZE);
	if (!st || !rs || !buf) {
		vol_err(err, errlen, rc, "out of memory");
		goto fail;
	}
	XXH3_128bits_reset(st);
	XXH3_128bits_update(st, &h, sizeof(h));
	for (;;) {
		XXH128_canonical_t rc_c;
		uint64_t off, len;

		if ((rc = read_full(fd, &rh, sizeof(rh))) < 0) {
			stream_err(err, errlen, rc, "a record");
			goto fail;
		}
		if (rh.rh_len > VOL_MAX_BSIZE ||
		    (rh.rh_type == VOL_REC_WRITE && rh.rh_len != h.sh_bsize) ||
		    (rh.rh_type == VOL_REC_END && rh.rh_len != 16) ||
		    (rh.rh_type == VOL_REC_FREE && rh.rh_len != 0) ||
		    rh.rh_type < VOL_REC_WRITE || rh.rh_type > VOL_REC_END) {
			rc = vol_err(err, errlen, -EINVAL, "stream: a malformed record; nothing "
			    "was changed");
			goto fail;
		}
		if (rh.rh_len && (rc = read_full(fd, buf, rh.rh_len)) < 0) {
			stream_err(err, errlen, rc, "a record");
			goto fail;
		}
		XXH3_128bits_reset(rs);
		XXH3_128bits_update(rs, &rh, offsetof(struct vol_rec_hdr, rh_cksum));
		if (rh.rh_len)
			XXH3_128bits_update(rs, buf, rh.rh_len);
		XXH128_canonicalFromHash(&rc_c, XXH3_128bits_digest(rs));
		if (memcmp(rc_c.digest, rh.rh_cksum, 16)) {
			rc = stream_err(err, errlen, -EBADMSG, "a record");
			goto fail;
		}
		if (rh.rh_type == VOL_REC_END) {
			XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
			if (memcmp(c.digest, buf, 16)) {
				rc = stream_err(err, errlen, -EBADMSG, "the stream");
				goto fail;
			}
			break;
		}
		XXH3_128bits_update(st, &rh, sizeof(rh));
		if (rh.rh_len)
			XXH3_128bits_update(st, buf, rh.rh_len);
		if (rh.rh_blkid >= nblocks) {
			if (rh.rh_type == VOL_REC_FREE)
				continue;	/* a hole past the end: nothing to do */
			rc = vol_err(err, errlen, -EINVAL, "stream: block %llu is past the "
			    "volume's end; nothing was changed", (unsigned long long)rh.rh_blkid);
			goto fail;
		}
		off = rh.rh_blkid * h.sh_bsize;
		if (rh.rh_type == VOL_REC_WRITE) {
			len = h.sh_size - off < h.sh_bsize ? h.sh_size - off : h.sh_bsize;
			rc = vol_pwrite(v, buf, len, off);
		} else {
			uint64_t cnt = rh.rh_count > nblocks - rh.rh_blkid ?
			    nblocks - rh.rh_blkid : rh.rh_count;

			len = cnt * h.sh_bsize;
			if (len > h.sh_size - off)
				len = h.sh_size - off;
			rc = vol_discard(v, off, len);
		}
		if (rc == 0 && p->p_dirty_bytes >= VOL_DIRTY_MAX)
			rc = vol_flush_data(v);
		if (rc < 0) {
			vol_err(err, errlen, rc, rc == -ENOSPC ? "%s: pool is full" :
			    "%s: writing: %s", p->p_label.lb_name, strerror(-rc));
			goto fail;
		}
		if (progress && (rh.rh_blkid & 63) == 0)
			progress(arg, off, h.sh_size);
	}

	/* Verified: link it in, in one txg. */
	if ((rc = vpool_lock(p)) < 0) {
		vol_err(err, errlen, rc, "%s: %s", p->p_label.lb_name, strerror(-rc));
		goto fail;
	}
	txg = p->p_txg + 1;
	if ((!incr && vdir_find(p, vn, NULL)) ||
	    (incr && (!(r = vdir_find(p, vn, NULL)) || r->dr_id != head.dr_id))) {
		rc = vol_err(err, errlen, -EEXIST, "%s/%s: changed while receiving",
		    p->p_label.lb_name, vn);
		goto fail_unlock;
	}
	if ((rc = vol_sync_tree(v, txg)) < 0) {
		vol_err(err, errlen, rc, rc == -ENOSPC ? "%s: pool is full" :
		    "%s: writing: %s", p->p_label.lb_name, strerror(-rc));
		goto fail_unlock;
	}
	{
		struct vol_dsrec nh, snap, *hp;

		if (incr) {
			hp = vdir_by_id(p, head.dr_id);
			/* -F: what the volume wrote since the base goes. */
			if (!vol_bp_same(&hp->dr_root, &base.dr_root))
				vol_walk_unique(p, &hp->dr_root, &base.dr_root, hp->dr_nlevels,
				    base.dr_txg, vol_free_fn, p);
			hp->dr_root = v->v_rec.dr_root;
			hp->dr_size = h.sh_size;
			hp->dr_prev_snap_txg = txg;
			nh = *hp;
		} else {
			memset(&nh, 0, sizeof(nh));
			nh = v->v_rec;
			nh.dr_id = p->p_next_id++;
			nh.dr_guid = vol_random64();
			nh.dr_type = VOL_T_VOLUME;
			nh.dr_txg = txg;
			nh.dr_prev_snap_txg = txg;
			snprintf(nh.dr_name, sizeof(nh.dr_name), "%s", vn);
			if ((rc = vdir_add(p, &nh, NULL)) < 0) {
				vol_err(err, errlen, rc, "%s: too many datasets", p->p_label.lb_name);
				goto fail_unlock;
			}
		}
		snap = nh;
		snap.dr_id = p->p_next_id++;
		snap.dr_guid = h.sh_to_guid;	/* so later incrementals find their base */
		snap.dr_type = VOL_T_SNAPSHOT;
		snap.dr_parent = nh.dr_id;
		snap.dr_origin = 0;
		snap.dr_txg = txg;
		snap.dr_prev_snap_txg = 0;
		snprintf(snap.dr_name, sizeof(snap.dr_name), "%s", h.sh_snap);
		if (vdir_find(p, vn, h.sh_snap)) {
			rc = vol_err(err, errlen, -EEXIST, "%s/%s@%s: snapshot exists",
			    p->p_label.lb_name, vn, h.sh_snap);
			goto fail_unlock;
		}
		if ((rc = vdir_add(p, &snap, NULL)) < 0) {
			vol_err(err, errlen, rc, "%s: too many datasets", p->p_label.lb_name);
			goto fail_unlock;
		}
	}
	if ((rc = vpool_commit(p)) < 0) {
		vol_err(err, errlen, rc, rc == -ENOSPC ? "%s: pool is full" :
		    "%s: commit failed: %s", p->p_label.lb_name, strerror(-rc));
		goto fail_unlock;
	}
	vpool_refresh_open(p);
	if (progress)
		progress(arg, h.sh_size, h.sh_size);
	rc = 0;
fail_unlock:
	if (rc < 0) {
		p->p_txg = 0;	/* the next lock reloads the durable directory */
		p->p_npending = 0;
	}
	vpool_unlock(p);
fail:
	/*
	 * On failure the blocks written so far are referenced by nothing
	 * durable; they are left for the next claim of their metaslab
	 * rather than freed here (vol/alloc.c).
	 */
	if (locked_head)
		vpool_unlock_byte(p, VOL_LK_DS(head.dr_id));
	if (v) {
		vol_discard_pending(v);
		free(v->v_allocs);
		free(v);
	}
	if (st)
		XXH3_freeState(st);
	if (rs)
		XXH3_freeState(rs);
	free(buf);
	return rc;
}
