/*
 * Private to vol/: the on-disk structures (docs/volume-format.md, byte by
 * byte) and the in-memory pool, volume and cache.
 */
#ifndef VMM_VOL_IMPL_H
#define VMM_VOL_IMPL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vol.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
    "the pool format is little-endian and so is every host Hull runs on");

#define VOL_UNIT		4096u		/* allocation unit, bytes */
#define VOL_UNIT_SHIFT		12
#define VOL_LABEL_OFF0		0u		/* two copies of the label */
#define VOL_LABEL_OFF1		4096u
#define VOL_RING_OFF		8192u		/* the uberblock ring */
#define VOL_RING_SLOT		1024u
#define VOL_RING_SLOTS		128u
#define VOL_DATA_OFF		(1u << 20)	/* metaslab 0 starts here */
#define VOL_MIN_POOL		(64ull << 20)
#define VOL_IND_SIZE		16384u		/* an indirect block */
#define VOL_IND_SHIFT		8		/* 256 block pointers in it */
#define VOL_IND_FANOUT		(1u << VOL_IND_SHIFT)
#define VOL_VERSION		1u
#define VOL_MAX_DATASETS	4096u
#define VOL_MAX_BLOCK		(VOL_MAX_DATASETS * 256u + 4096u) /* the directory */
#define VOL_MAX_SIZE		(1ull << 50)	/* 1 PiB per volume */
#define VOL_DIRTY_MAX		(64ull << 20)	/* pending bytes before a commit */
#define VOL_CACHE_MAX		4096u		/* clean indirect blocks kept */

#define VOL_LABEL_MAGIC		"HULLPOOL"
#define VOL_UB_MAGIC		0x5245425552554c48ull	/* "HULUBER" + 'R' */
#define VOL_DIR_MAGIC		0x0052494444554c48ull	/* "HLUDDIR" */

/* Block pointer types. */
enum vol_bt { VOL_BT_NONE = 0, VOL_BT_DATA = 1, VOL_BT_IND = 2, VOL_BT_DIR = 3 };

/*
 * A block pointer (64 bytes): where the child is (up to two copies), how
 * big, how compressed, when written, and its checksum, so a parent
 * verifies its children and the whole pool is a Merkle tree.  A hole has
 * bp_dva[0] == 0 (offset 0 is the label, never a block); its bp_birth is
 * the txg that made it a hole (0: never written).
 */
struct vol_bp {
	uint64_t	bp_dva[2];	/* byte offsets of the copies; 0: none */
	uint32_t	bp_psize;	/* bytes stored (and checksummed) */
	uint32_t	bp_lsize;	/* bytes after decompression */
	uint8_t		bp_comp;	/* enum vol_compress */
	uint8_t		bp_type;	/* enum vol_bt */
	uint8_t		bp_level;	/* 0: data; n: indirect above n-1 */
	uint8_t		bp_pad[5];
	uint64_t	bp_birth;	/* txg */
	uint8_t		bp_cksum[16];	/* XXH3-128 of the psize bytes */
	uint64_t	bp_reserved;
};
_Static_assert(sizeof(struct vol_bp) == 64, "block pointer is 64 bytes");

static inline bool
vol_bp_hole(const struct vol_bp *bp)
{
	return bp->bp_dva[0] == 0;
}

/* Bytes a bp's copies take on disk. */
static inline uint64_t
vol_bp_asize(const struct vol_bp *bp)
{
	uint64_t one = ((uint64_t)bp->bp_psize + VOL_UNIT - 1) & ~(uint64_t)(VOL_UNIT - 1);

	if (vol_bp_hole(bp))
		return 0;
	return bp->bp_dva[1] ? 2 * one : one;
}

static inline bool
vol_bp_same(const struct vol_bp *a, const struct vol_bp *b)
{
	return a->bp_dva[0] == b->bp_dva[0] && a->bp_birth == b->bp_birth;
}

/* The pool label, 4 KiB, at offsets 0 and 4096. */
struct vol_label {
	char		lb_magic[8];	/* "HULLPOOL" */
	uint32_t	lb_version;
	uint32_t	lb_unit;	/* 4096 */
	uint64_t	lb_guid;
	uint64_t	lb_size;	/* bytes of the whole pool */
	uint64_t	lb_ms_size;	/* bytes per metaslab */
	uint64_t	lb_ctime;	/* seconds since the epoch */
	char		lb_name[64];
	uint8_t		lb_cksum[16];	/* XXH3-128 of the bytes above */
};

/* An uberblock, one 1 KiB slot of the ring (slot = txg % 128). */
struct vol_ub {
	uint64_t	ub_magic;
	uint64_t	ub_version;
	uint64_t	ub_guid;	/* the pool's */
	uint64_t	ub_txg;
	uint64_t	ub_time;
	struct vol_bp	ub_dir;		/* the dataset directory */
	uint8_t		ub_cksum[16];	/* XXH3-128 of the bytes above */
};

/* The directory block: this header, then ndatasets records. */
struct vol_dirhdr {
	uint64_t	dh_magic;
	uint32_t	dh_count;
	uint32_t	dh_recsize;	/* sizeof(struct vol_dsrec) */
	uint64_t	dh_next_id;
	uint64_t	dh_pad;
};

/* One dataset, 256 bytes. */
struct vol_dsrec {
	uint64_t	dr_id;		/* never reused; 0 is no dataset */
	uint64_t	dr_guid;	/* random: names it across pools */
	uint64_t	dr_parent;	/* snapshots: the volume's id */
	uint64_t	dr_origin;	/* clones: the origin snapshot's id */
	uint64_t	dr_size;	/* logical bytes */
	uint64_t	dr_txg;		/* created / taken */
	uint64_t	dr_prev_snap_txg; /* volumes: newest snapshot's (or origin's) txg */
	uint32_t	dr_bsize;
	uint8_t		dr_type;	/* enum vol_type */
	uint8_t		dr_comp;
	uint8_t		dr_copies;
	uint8_t		dr_nlevels;
	struct vol_bp	dr_root;
	char		dr_name[64];	/* "vol", or "snap" for snapshots */
	uint8_t		dr_pad[64];
};
_Static_assert(sizeof(struct vol_dsrec) == 256, "dataset record is 256 bytes");

/* A u64-keyed hash map (vol/vmap.c). */
struct vmap_ent {
	uint64_t	 me_key;
	void		*me_val;
	struct vmap_ent	*me_next;
};
struct vmap {
	struct vmap_ent	**m_tab;
	size_t		 m_nbuckets;
	size_t		 m_count;
};
void	*vmap_get(const struct vmap *, uint64_t key);
int	 vmap_put(struct vmap *, uint64_t key, void *val);	/* replaces */
void	*vmap_del(struct vmap *, uint64_t key);
/* Call fn on every entry; fn may not change the map. */
void	 vmap_each(const struct vmap *, void (*fn)(uint64_t, void *, void *), void *arg);
/* Keys in an array (malloc'ed, sorted); NULL with *n = 0 when empty. */
uint64_t *vmap_keys(const struct vmap *, size_t *n);
void	 vmap_free(struct vmap *);
/* Sort ascending, without qsort (vol/vmap.c says why). */
void	 vol_sort_u64(uint64_t *, size_t);

/* A cached indirect block of an open volume. */
struct vol_node {
	struct vol_bp	 n_bp;		/* as its parent points to it */
	struct vol_bp	*n_bps;		/* VOL_IND_FANOUT of them */
	bool		 n_dirty;
};

/* A block freed in txg f_txg, reusable once f_txg is durable. */
struct vol_free {
	uint64_t	f_off, f_len;
};

struct vol_pool;

struct vol {
	struct vol_pool	*v_pool;
	struct vol	*v_next;	/* the pool's open volumes */
	uint64_t	 v_id;		/* 0: being received, not in the directory */
	char		 v_name[2 * VOL_NAME_MAX + 2];
	bool		 v_ro;
	struct vol_dsrec v_rec;		/* root, size, bsize, ... as committed */
	struct vmap	 v_nodes;	/* key (level << 56 | index) */
	struct vmap	 v_dirty;	/* block id -> bsize buffer, or VOL_HOLEBUF */
	uint64_t	 v_dirty_n;
	bool		 v_changed;	/* something to commit */
	uint64_t	 v_birth;	/* fixed birth (receive), else 0 */
	struct vol_free	*v_allocs;	/* receive: what it allocated */
	size_t		 v_nallocs, v_allocs_cap;
};

/* The dirty map's marker for a block that became a hole (discard). */
extern char vol_holebuf[];
#define VOL_HOLEBUF	((void *)vol_holebuf)

struct vol_ms {
	bool		 ms_claimed;
	uint64_t	*ms_map;	/* one bit per unit: 1 used */
	uint64_t	 ms_cursor;	/* next-fit, units */
	uint64_t	 ms_free;	/* units */
};

struct vol_pool {
	int		 p_fd;
	bool		 p_ro;
	char		 p_path[4096];
	struct vol_label p_label;
	uint64_t	 p_txg;		/* newest committed that we know */
	struct vol_bp	 p_dirbp;
	struct vol_dsrec *p_ds;		/* the directory */
	uint32_t	 p_nds;
	uint64_t	 p_next_id;
	bool		 p_locked;	/* we hold the commit lock */
	struct vol	*p_vols;
	uint64_t	 p_dirty_bytes;
	uint64_t	 p_dirty_since;	/* CLOCK_MONOTONIC ns of the oldest */
	struct vol_ms	*p_ms;
	uint64_t	 p_nms;
	uint64_t	 p_ms_cur;
	struct vol_free	*p_pending;	/* freed in the open txg */
	size_t		 p_npending, p_pending_cap;
	unsigned char	*p_rbuf;	/* scratch: a stored block */
	unsigned char	*p_wbuf;	/* scratch: a block to store */
	unsigned char	*p_bbuf;	/* scratch: one data block */
	struct vio_ring	*p_ring;	/* io_uring write-behind, or NULL */
	const unsigned char *p_map;	/* the pool mapped read-only, or NULL */
	long		 p_drop_after;	/* test hook; < 0 off */
	uint64_t	 p_nwrites;
};

/* vol/io.c: the pool file. */
struct vio_ring;
/*
 * Set up io_uring for the pool's writes (without it they are pwrite()s)
 * and map the pool for reads (without it they are pread()s).
 */
void	vio_init(struct vol_pool *);
void	vio_fini(struct vol_pool *);
int	vio_read(struct vol_pool *, void *buf, size_t len, uint64_t off);
/* [off, off+len) of the pool in memory (the mapping), or NULL: use vio_read. */
const void	*vio_peek(struct vol_pool *, size_t len, uint64_t off);
int	vio_write(struct vol_pool *, const void *buf, size_t len, uint64_t off);
int	vio_sync(struct vol_pool *);
void	vol_cksum(const void *buf, size_t len, uint8_t out[16]);
bool	vol_cksum_ok(const void *buf, size_t len, const uint8_t want[16]);
/*
 * Compress src[len] into dst (capacity len): returns the stored size, or 0
 * when it does not save at least 1/8 (store it raw).
 */
size_t	vol_compress_block(enum vol_compress, const void *src, size_t len, void *dst);
int	vol_decompress_block(enum vol_compress, const void *src, size_t slen,
	    void *dst, size_t dlen);

/* vol/alloc.c: space. */
/* Allocate len bytes (a multiple of VOL_UNIT); the offset, or -ENOSPC. */
int	vspace_alloc(struct vol_pool *, uint64_t len, uint64_t *off);
/* Freed in the open txg: reusable after the next commit is durable. */
void	vspace_free_deferred(struct vol_pool *, uint64_t off, uint64_t len);
/* Never referenced by a durable uberblock: reusable now. */
void	vspace_free_now(struct vol_pool *, uint64_t off, uint64_t len);
/* After a commit is durable: pending frees become free space. */
void	vspace_release(struct vol_pool *);
void	vspace_fini(struct vol_pool *);
/* Free a bp's copies (deferred). */
void	vspace_free_bp(struct vol_pool *, const struct vol_bp *);

/* vol/tree.c: blocks and trees. */
/* Read, verify and decompress bp into buf (bp_lsize bytes); -EIO if no copy verifies. */
int	vblk_read(struct vol_pool *, const struct vol_bp *, void *buf);
/* Compress, checksum, allocate and write buf as a new block. */
int	vblk_write(struct vol_pool *, const void *buf, uint32_t lsize,
	    enum vol_bt, uint8_t level, enum vol_compress, unsigned int copies,
	    uint64_t birth, struct vol_bp *out);
unsigned int	vol_nlevels(uint32_t bsize);
int	vol_node_get(struct vol *, unsigned int level, uint64_t index,
	    struct vol_node **out);
void	vol_cache_drop(struct vol *);
/* Write this volume's pending blocks and tree as txg; updates v_rec.dr_root. */
int	vol_sync_tree(struct vol *, uint64_t txg);
/* Write pending data blocks now, births v_birth (receive); the tree waits. */
int	vol_flush_data(struct vol *);
/* Drop what was not committed. */
void	vol_discard_pending(struct vol *);

/*
 * Walk a tree.  fn is called for every bp (indirect and data, holes too
 * when holes is set) whose birth is above min_birth, parent first;
 * returning 1 skips its subtree, < 0 stops the walk.  blkid is the first
 * data block below the bp.
 */
typedef int vol_walk_fn(void *arg, const struct vol_bp *bp, unsigned int level,
    uint64_t blkid);
int	vol_walk(struct vol_pool *, const struct vol_bp *root, unsigned int nlevels,
	    uint64_t min_birth, bool holes, vol_walk_fn *fn, void *arg);

/*
 * Walk the bps of tree a (birth above min_birth) that tree b (same shape)
 * does not share; b NULL: every bp above min_birth.
 */
int	vol_walk_unique(struct vol_pool *, const struct vol_bp *a,
	    const struct vol_bp *b, unsigned int nlevels, uint64_t min_birth,
	    vol_walk_fn *fn, void *arg);

/* vol/pool.c */
int	vpool_lock(struct vol_pool *);		/* commit lock + reload */
void	vpool_unlock(struct vol_pool *);
/* With the lock held: write pending volumes, directory, uberblock. */
int	vpool_commit(struct vol_pool *);
int	vpool_reload(struct vol_pool *);
/* The records of the newest durable directory (p_dirbp), malloc'ed. */
int	vpool_durable_dir(struct vol_pool *, struct vol_dsrec **out, uint32_t *n);
/* Open volumes take their snapshot floor from the directory. */
void	vpool_refresh_open(struct vol_pool *);
/* OFD locks on byte ranges beyond the data; 0, -EBUSY, -errno. */
#define VOL_LK_BASE	(1ull << 62)
#define VOL_LK_COMMIT	VOL_LK_BASE
#define VOL_LK_MS(i)	(VOL_LK_BASE + 0x1000 + (i))
#define VOL_LK_DS(id)	(VOL_LK_BASE + (1ull << 40) + (id))
int	vpool_trylock(struct vol_pool *, uint64_t byte, bool excl);
int	vpool_unlock_byte(struct vol_pool *, uint64_t byte);
uint64_t	vol_now_ns(void);
uint64_t	vol_random64(void);

/* vol/dsl.c: the directory. */
struct vol_dsrec *vdir_find(struct vol_pool *, const char *vol, const char *snap);
struct vol_dsrec *vdir_by_id(struct vol_pool *, uint64_t id);
int	vdir_add(struct vol_pool *, const struct vol_dsrec *, struct vol_dsrec **out);
void	vdir_remove(struct vol_pool *, uint64_t id);
/* Snapshots of volume id, oldest first (by txg); malloc'ed ids. */
size_t	vdir_snapshots(struct vol_pool *, uint64_t id, uint64_t **ids);
/* The txg below which blocks of dataset r are shared with an older one. */
uint64_t	vdir_floor_txg(struct vol_pool *, const struct vol_dsrec *r);
/* Split "vol@snap"; 0 or -EINVAL with err set. */
int	vol_name_split(const char *name, char *vol, char *snap, char *err, size_t errlen);
int	vol_name_ok(const char *);
void	vol_full_name(struct vol_pool *, const struct vol_dsrec *, char *out, size_t len);

/* An open handle of dataset id in this pool handle, or NULL. */
struct vol	*vol_open_here(struct vol_pool *, uint64_t id);
/* A vol_walk_fn that frees (deferred) every bp it is given; arg: the pool. */
int	vol_free_fn(void *arg, const struct vol_bp *bp, unsigned int level, uint64_t blkid);

/* Errors: one line into err. */
int	vol_err(char *err, size_t errlen, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

#endif /* VMM_VOL_IMPL_H */
