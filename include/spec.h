/*
 * A VM spec: the typed form of the JSON a user writes.  spec.c is the only
 * code that parses JSON specs; everything after it uses struct vm_spec.
 */
#ifndef VMM_SPEC_H
#define VMM_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPEC_NAME_MAX		63	/* bytes, [A-Za-z0-9._-], first alnum */
#define SPEC_PATH_MAX		4095
#define SPEC_CMDLINE_MAX	4095
#define SPEC_VCPUS_MAX		255	/* xAPIC IDs; KVM's own limit is checked at start */
#define SPEC_RAM_MIN_MIB	16
#define SPEC_RAM_MAX_MIB	(1024 * 1024)	/* 1 TiB; host memory is checked at start */
#define SPEC_MAX_BYTES		(1024 * 1024)	/* a spec file larger than this is refused */

#define SPEC_DISKS_MAX		16
#define SPEC_SERIAL_MAX		20	/* virtio-blk GET_ID is 20 bytes */

enum spec_cache {
	SPEC_CACHE_NONE = 0,	/* O_DIRECT where the host allows it (default) */
	SPEC_CACHE_WRITEBACK,	/* the host page cache */
};

/* One element of "disks". */
struct disk_spec {
	char		ds_path[SPEC_PATH_MAX + 1];	/* file or block device */
	/*
	 * "pool/vol" for a volume (include/vol.h), else "".  ds_path is then
	 * the pool's file, filled in by vmm_run from the pool registry.
	 */
	char		ds_volume[SPEC_PATH_MAX + 1];
	bool		ds_readonly;			/* default false */
	char		ds_serial[SPEC_SERIAL_MAX + 1];	/* "" when none given */
	enum spec_cache	ds_cache;
	/*
	 * limits.disk_iops and limits.disk_bps, copied here by spec.c: the
	 * virtio-blk model sees only its disk_spec.  0: no limit.
	 */
	uint64_t	ds_iops;
	uint64_t	ds_bps;
};

#define SPEC_NICS_MAX		8
#define SPEC_IFNAME_MAX		15	/* IFNAMSIZ - 1 */
#define SPEC_NIC_QUEUES_MAX	16
#define SPEC_MTU_MIN		68
#define SPEC_MTU_MAX		65535

/* One element of "nics": a virtio-net device on a tap. */
struct nic_spec {
	char		ns_tap[SPEC_IFNAME_MAX + 1];	/* "" : create one */
	char		ns_bridge[SPEC_IFNAME_MAX + 1];	/* "" : none */
	bool		ns_has_mac;
	uint8_t		ns_mac[6];	/* else derived from the VM's name */
	unsigned int	ns_mtu;		/* 0: the tap's */
	unsigned int	ns_queues;	/* 0: one pair per vCPU */
	bool		ns_vhost;
	bool		ns_no_offloads;	/* "offloads": false */
	/*
	 * "rate_limit": token buckets inside the device, each direction
	 * (guest transmit, guest receive) on its own.  0: no limit.
	 */
	uint64_t	ns_rate_bps;	/* bytes per second */
	uint64_t	ns_rate_pps;	/* packets per second */
};

#define SPEC_META_MAX		32	/* entries in "metadata" */
#define SPEC_META_KEY_MAX	64
#define SPEC_META_VAL_MAX	1024

/* One "metadata" entry: a key and a string value, both the user's. */
struct spec_meta {
	char		sm_key[SPEC_META_KEY_MAX + 1];
	char		sm_val[SPEC_META_VAL_MAX + 1];
};

/* Upper bounds of "limits" and "rate_limit"; 0 is no limit. */
#define SPEC_CPU_CAP_MAX	(100 * SPEC_VCPUS_MAX)	/* percent of one CPU */
#define SPEC_RATE_BYTES_MAX	(1ULL << 40)	/* bytes/s: 1 TiB/s */
#define SPEC_RATE_OPS_MAX	1000000000ULL	/* packets or requests/s */

/*
 * "limits": what the VM's jail holds it to (docs/jail.md).  0: no limit of
 * that kind.  Disk limits apply to each disk on its own, both as cgroup
 * io.max and as token buckets in the device (io.max does not see the page
 * cache or io_uring's own workers).
 */
struct limits_spec {
	unsigned int	ls_cpu_cap;	/* percent of one CPU, as vmadm's cpu_cap */
	uint64_t	ls_disk_iops;	/* requests per second, reads and writes */
	uint64_t	ls_disk_bps;	/* bytes per second, reads and writes */
};

struct vm_spec {
	char		vs_name[SPEC_NAME_MAX + 1];
	unsigned int	vs_vcpus;		/* default 1 */
	uint64_t	vs_ram_mib;		/* default 256 */
	char		vs_kernel[SPEC_PATH_MAX + 1];
	char		vs_initrd[SPEC_PATH_MAX + 1];	/* "" when none */
	char		vs_cmdline[SPEC_CMDLINE_MAX + 1];	/* "" when none */
	unsigned int	vs_ndisks;
	struct disk_spec vs_disks[SPEC_DISKS_MAX];
	unsigned int	vs_nnics;
	struct nic_spec	vs_nics[SPEC_NICS_MAX];
	bool		vs_autoboot;		/* `vmctl autoboot` starts it */
	bool		vs_jail;		/* default true; false: debugging only */
	struct limits_spec vs_limits;
	unsigned int	vs_nmeta;
	struct spec_meta vs_meta[SPEC_META_MAX];	/* in the spec's order */
};

#define SPEC_ERRS_MAX		32
#define SPEC_ERR_LEN		256

/* Every error found, each "path: message" (e.g. "vcpus: must be 1 to 255"). */
struct spec_errs {
	unsigned int	se_n;
	char		se_msg[SPEC_ERRS_MAX][SPEC_ERR_LEN];
};

/*
 * Parse and validate a spec from memory (len bytes, need not be
 * NUL-terminated).  Fills *out and returns 0, or returns -EINVAL with every
 * problem in *errs.  Paths in the spec are taken as given.
 */
int	spec_parse(const char *json, size_t len, struct vm_spec *out,
	    struct spec_errs *errs);

/*
 * Read the file at path and spec_parse it.  A file that cannot be read or is
 * larger than SPEC_MAX_BYTES yields one error naming the file.  Relative
 * kernel/initrd paths are resolved against the spec file's directory.
 */
int	spec_load(const char *path, struct vm_spec *out, struct spec_errs *errs);

/*
 * The spec as canonical JSON: every key, defaults filled in, paths as
 * resolved, ram in MiB.  spec_parse of it gives *spec back.  A new
 * reference (json_t *; declared void * to keep jansson out of this header)
 * for json_decref, or NULL on allocation failure.
 */
void	*spec_to_json(const struct vm_spec *spec);

#endif /* VMM_SPEC_H */
