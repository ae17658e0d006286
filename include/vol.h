/*
 * Volumes: a ZFS-like pool of checksummed, copy-on-write virtual disks
 * with snapshots, clones, send/receive and scrub.  The library lives in
 * vol/ (no KVM in it); vmctl's `volume` commands and the virtio-blk
 * backend use it.  The on-disk format is docs/volume-format.md, the
 * commands docs/volumes.md.
 *
 * Names: a pool has a name (stored in its label); a volume is "vol" inside
 * its pool, a snapshot "vol@snap".  Names are 1-63 characters of
 * [A-Za-z0-9_.:-], not starting with '.' or '-'.
 *
 * Processes: any number of processes may open a pool.  Each dataset that
 * is open read-write (vol_open) is locked to its opener; each process
 * allocates only in the regions of the pool it has claimed; commits are
 * serialised by a lock in the pool file.  All locks are OFD locks, so a
 * killed process leaves none behind.
 *
 * Threads: a pool and its volumes are used by one thread at a time.
 *
 * Errors: every function returns 0 (or a count) or -errno, and on failure
 * writes one line to err[errlen] (when errlen > 0) that names what was
 * wrong, e.g. "tank/web: no such volume", "tank: pool is full".
 * A failed operation changes nothing on disk.
 */
#ifndef VMM_VOL_H
#define VMM_VOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vol_pool;
struct vol;

#define VOL_NAME_MAX	63		/* one component */
#define VOL_MIN_BSIZE	4096u
#define VOL_MAX_BSIZE	(128u * 1024)
#define VOL_DEF_BSIZE	(16u * 1024)

enum vol_compress {
	VOL_COMPRESS_OFF = 0,
	VOL_COMPRESS_LZ4 = 1,
	VOL_COMPRESS_ZSTD = 2,
};

/*
 * Create a pool of size bytes (at least 64 MiB) in path: a new file
 * (refused if it exists and is not empty) or a block device (size 0: the
 * whole device).  The file is sparse.
 */
int	vol_pool_create(const char *path, const char *name, uint64_t size,
	    char *err, size_t errlen);

/* Open flags. */
#define VOL_RDONLY	0x1

/*
 * Open the pool in path at its newest valid uberblock.  "not a pool" when
 * no label verifies.
 */
int	vol_pool_open(const char *path, unsigned int flags, struct vol_pool **out,
	    char *err, size_t errlen);

/* Commit what is pending (vol_pool_sync), then release everything. */
int	vol_pool_close(struct vol_pool *);

/* The pool's name and path (valid until close). */
const char	*vol_pool_name(const struct vol_pool *);
const char	*vol_pool_path(const struct vol_pool *);

/*
 * Commit a transaction group: every write made through this pool's
 * volumes so far is durable when it returns 0.  Called by flush, by the
 * timer (vol_pool_tick) and when enough data is pending.
 */
int	vol_pool_sync(struct vol_pool *);

/*
 * Commit if the oldest pending write is older than the commit interval
 * (VOL_TXG_SECONDS).  Returns how long until the next tick is useful, in
 * milliseconds (-1: nothing pending), or -errno.
 */
#define VOL_TXG_SECONDS	5
int	vol_pool_tick(struct vol_pool *);

struct vol_pool_stat {
	char		ps_name[VOL_NAME_MAX + 1];
	uint64_t	ps_guid;
	uint64_t	ps_size;	/* bytes of data area */
	uint64_t	ps_alloc;	/* bytes referenced by some dataset */
	uint64_t	ps_txg;		/* newest committed */
	unsigned int	ps_ndatasets;
};

/* Walks every tree to count ps_alloc. */
int	vol_pool_stat(struct vol_pool *, struct vol_pool_stat *, char *err,
	    size_t errlen);

/* Options for vol_create (zero: the defaults). */
struct vol_props {
	uint32_t		vp_bsize;	/* power of two, 4 KiB - 128 KiB; 0: 16 KiB */
	enum vol_compress	vp_compress;
	unsigned int		vp_copies;	/* 1 or 2; 0: 1 */
};

/* Parse "off"/"lz4"/"zstd"; 0 or -EINVAL. */
int	vol_compress_parse(const char *, enum vol_compress *);
const char	*vol_compress_name(enum vol_compress);

/* A new, empty (all zero) volume of size bytes (a multiple of 512). */
int	vol_create(struct vol_pool *, const char *name, uint64_t size,
	    const struct vol_props *, char *err, size_t errlen);

/*
 * Destroy a volume, a clone or a snapshot.  A volume with snapshots needs
 * recursive (its snapshots go first); a snapshot that clones depend on is
 * refused, as is anything open elsewhere (-EBUSY).
 */
int	vol_destroy(struct vol_pool *, const char *name, bool recursive,
	    char *err, size_t errlen);

/* Change a volume's size (a multiple of 512); shrinking drops the tail. */
int	vol_resize(struct vol_pool *, const char *name, uint64_t size,
	    char *err, size_t errlen);

/* "vol@snap": the volume as last committed (crash-consistent). */
int	vol_snapshot(struct vol_pool *, const char *name, char *err,
	    size_t errlen);

/*
 * Make the volume what snap ("vol@snap") holds.  Only the newest snapshot,
 * unless destroy_newer: then newer snapshots are destroyed (refused if
 * clones depend on them).
 */
int	vol_rollback(struct vol_pool *, const char *snap, bool destroy_newer,
	    char *err, size_t errlen);

/* A new volume that shares every block with snap until it is written. */
int	vol_clone(struct vol_pool *, const char *snap, const char *newname,
	    char *err, size_t errlen);

enum vol_type { VOL_T_VOLUME = 1, VOL_T_SNAPSHOT = 2 };

struct vol_info {
	char			vi_name[2 * VOL_NAME_MAX + 2];	/* "vol" or "vol@snap" */
	char			vi_origin[2 * VOL_NAME_MAX + 2]; /* clones: "vol@snap" */
	enum vol_type		vi_type;
	uint64_t		vi_guid;
	uint64_t		vi_size;	/* logical bytes */
	uint32_t		vi_bsize;
	enum vol_compress	vi_compress;
	unsigned int		vi_copies;
	uint64_t		vi_txg;		/* created (snapshots: taken) */
	uint64_t		vi_referenced;	/* bytes on disk it reaches */
	uint64_t		vi_used;	/* bytes destroying it would free */
	uint64_t		vi_logical;	/* data bytes before compression */
	uint64_t		vi_physical;	/* the same after compression */
};

/*
 * Every dataset, volumes before their snapshots (oldest first), with
 * space figures (a walk of the trees).  *out is malloc'ed: free() it.
 */
int	vol_list(struct vol_pool *, struct vol_info **out, size_t *n,
	    char *err, size_t errlen);

/*
 * Open a volume for I/O (read-write unless the pool is read-only), or a
 * snapshot (read-only).  A volume is open in one place at a time (-EBUSY).
 */
int	vol_open(struct vol_pool *, const char *name, struct vol **out,
	    char *err, size_t errlen);
void	vol_close(struct vol *);
uint64_t	vol_size(const struct vol *);
uint32_t	vol_bsize(const struct vol *);
bool	vol_readonly(const struct vol *);

/*
 * I/O at any byte offset; the range must lie inside the volume (-EINVAL).
 * Reads return -EIO when no copy of a block verifies (never wrong data).
 * Writes stay in memory until the next commit.  Discard makes the range
 * read as zeros and frees whole blocks.
 */
int	vol_pread(struct vol *, void *buf, size_t len, uint64_t off);
int	vol_pwrite(struct vol *, const void *buf, size_t len, uint64_t off);
int	vol_discard(struct vol *, uint64_t off, uint64_t len);

/* Progress of long operations: done of total bytes. */
typedef void vol_progress_fn(void *arg, uint64_t done, uint64_t total);

struct vol_scrub_result {
	uint64_t	sr_blocks;	/* verified */
	uint64_t	sr_bytes;
	uint64_t	sr_errors;	/* blocks with no good copy */
	uint64_t	sr_repaired;	/* copies rewritten from a good one */
};

/*
 * Read and verify every block of every dataset.  Each bad one is reported
 * through report (a line such as "tank/web: offset 1048576: checksum
 * mismatch (copy 1 of 2), repaired"); a bad copy with a good twin is
 * rewritten in place (copies=2).
 */
int	vol_scrub(struct vol_pool *, void (*report)(void *arg, const char *line),
	    vol_progress_fn *progress, void *arg, struct vol_scrub_result *res,
	    char *err, size_t errlen);

/*
 * Write snapshot snap ("vol@snap") to fd as a stream: everything (from
 * NULL) or what changed since the earlier snapshot from ("vol@old" or
 * "@old").  The stream is checksummed record by record and as a whole.
 */
int	vol_send(struct vol_pool *, const char *snap, const char *from, int fd,
	    vol_progress_fn *progress, void *arg, char *err, size_t errlen);

/*
 * Read a stream from fd into volume name (a full stream: a new volume
 * plus the stream's snapshot; an incremental one: an existing volume
 * whose newest snapshot is the stream's base, and which has no changes
 * since, unless force: then they are rolled back).  Atomic: a stream that
 * is cut short or does not verify changes nothing.
 */
int	vol_receive(struct vol_pool *, const char *name, int fd, bool force,
	    vol_progress_fn *progress, void *arg, char *err, size_t errlen);

/*
 * The pool registry: pool NAME is the symlink <root>/pools/NAME to its
 * file or device (vmctl volume pool-create/pool-import make it).  root
 * NULL: $HULL_ROOT, else /var/lib/hull.  Writes the target to path;
 * "pool \"tank\": no such pool (vmctl volume pool-list)" when missing.
 */
#define VOL_DEFAULT_ROOT	"/var/lib/hull"
int	vol_registry_path(const char *root, const char *pool, char *path,
	    size_t pathlen, char *err, size_t errlen);

/*
 * For crash tests only: after n more writes to the pool file, drop every
 * further write and fdatasync (they report success), as a power cut
 * would.  n < 0: off.  Returns how many writes the pool has made so far.
 */
long	vol_test_drop_writes_after(struct vol_pool *, long n);

#endif /* VMM_VOL_H */
