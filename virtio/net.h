/*
 * virtio-net's device state, shared by the userspace data path
 * (virtio/net.c), the vhost-net data path (virtio/net_vhost.c) and the
 * device's tests and bench harness.  Not an interface for anything else.
 */
#ifndef VMM_VIRTIO_NET_H
#define VMM_VIRTIO_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net_req.h"
#include "tap.h"
#include "tbucket.h"
#include "virtq.h"

struct ioloop;
struct virtio_dev;

#define VNET_QSIZE_MAX		256	/* the largest queue offered */
#define VNET_POOL_SEGS		20	/* Linux "big" chains: 19 pieces */
#define VNET_NPAIRS_MAX		16	/* TAP_MAX_QUEUES */

/*
 * Counters, under vn_lock: written on the I/O thread, read by the stats
 * hook (the main thread) and after the I/O thread stops.
 */
struct vnet_stats {
	uint64_t	ns_rx_packets, ns_rx_bytes;
	uint64_t	ns_rx_dropped;	/* did not fit, or the read failed */
	uint64_t	ns_rx_bad;	/* malformed receive chains */
	uint64_t	ns_rx_nodriver;	/* dropped: no driver / queue off */
	uint64_t	ns_rx_waits;	/* times the ring ran dry */
	uint64_t	ns_tx_packets, ns_tx_bytes;
	uint64_t	ns_tx_dropped;	/* the tap refused the packet */
	uint64_t	ns_tx_bad;	/* malformed chain or header */
	uint64_t	ns_ctrl_bad;	/* refused control commands */
	uint64_t	ns_rx_throttled; /* receive stopped by rate_limit */
	uint64_t	ns_tx_throttled; /* transmit stopped by rate_limit */
};

/* A receive chain taken off the ring and not yet filled. */
struct vnet_pool_ent {
	uint16_t	pe_head;
	uint16_t	pe_niov;
	uint32_t	pe_cap;		/* bytes, header included */
	bool		pe_busy;	/* in the pool (np_ring names it) */
	bool		pe_used;	/* filled: leaves at vnet_pool_compact */
	struct iovec	pe_iov[VNET_POOL_SEGS];
};

/*
 * Tap reads or writes per system call (tap_readv_batch, tap_writev_batch):
 * receive reads each into its own group of the pool's chains, transmit
 * writes a chain each; 1 without io_uring or under a rate limit.
 */
#define VNET_BATCH		16

/* One read of a batch: its pool chains, then the chains of its overflow. */
struct vnet_rxg {
	unsigned int	rg_first, rg_n;		/* pool offsets */
	unsigned int	rg_spill_first, rg_spill_n;
	size_t		rg_cap;			/* bytes in rg_n chains */
	uint8_t		*rg_drop;		/* overflow lands here */
};

struct vnet;

struct vnet_pair {
	struct vnet		*np_net;
	unsigned int		 np_idx;
	int			 np_fd;		/* tap queue fd, not ours */
	bool			 np_rx_blocked;	/* tap unwatched: no buffers */
	bool			 np_rx_pushed;
	bool			 np_tx_more;	/* out of budget: go on later */
	/* Out of rate_limit tokens: vn_timer_fd takes it up again. */
	bool			 np_rx_throttled; /* tap unwatched meanwhile */
	bool			 np_tx_throttled; /* ring left as it is */
	/*
	 * The receive pool: chains popped and not yet filled, in ring order.
	 * np_pool is indexed by descriptor head (VNET_QSIZE_MAX entries),
	 * np_ring lists the heads, np_pool_n of them from np_pool_head.
	 */
	struct vnet_pool_ent	*np_pool;
	uint16_t		 np_ring[VNET_QSIZE_MAX];
	unsigned int		 np_pool_head, np_pool_n;
	unsigned int		 np_pool_used;	/* pe_used entries */
	size_t			 np_pool_cap;
	uint32_t		 np_chain_max;	/* the largest chain's bytes */
	size_t			 np_rx_avg;	/* recent packet size, header in */
	/* vhost-net: one kernel device per pair (virtio/net_vhost.c). */
	int			 np_vhost_fd;
	int			 np_call_fd[2];	/* rx, tx: vhost signals these */
};

struct vnet {
	struct virtio_dev	*vn_dev;
	struct ioloop		*vn_loop;
	pthread_mutex_t		 vn_lock;
	unsigned int		 vn_index;	/* nics[vn_index] */
	struct tap		*vn_tap;
	unsigned int		 vn_npairs;	/* max_virtqueue_pairs */
	unsigned int		 vn_pairs_on;	/* VQ_PAIRS_SET */
	unsigned int		 vn_mtu;
	char			 vn_bridge[16];	/* "" or the tap's bridge */
	bool			 vn_tap_offloads; /* the tap takes TUN_F_* */
	bool			 vn_offloads;	/* offered to the driver */
	bool			 vn_want_vhost;	/* the spec asked for vhost */
	bool			 vn_vhost;	/* vhost runs the data path now */
	bool			 vn_active;	/* DRIVER_OK and not broken */
	uint64_t		 vn_acked;
	uint64_t		 vn_guest_offloads;	/* receive offloads on */
	size_t			 vn_rx_max;	/* largest packet + header */
	int			 vn_work_fd;
	struct vnet_config	 vn_cfg;
	struct vnet_pair	 vn_pair[VNET_NPAIRS_MAX];
	struct vnet_stats	 vn_stats;
	/*
	 * nics[].rate_limit: one limit per direction, shared by the queue
	 * pairs; a one-shot timer (-1 without a limit) wakes throttled queues.
	 */
	struct tb_limit		 vn_tx_lim, vn_rx_lim;
	bool			 vn_limited;
	int			 vn_timer_fd;
	uint64_t		 vn_timer_at;	/* armed for (ns); 0: not armed */
	unsigned int		 vn_timer_first; /* pair the timer takes first */
	/* Scratch for the I/O thread (large: not on its stack). */
	struct virtq_chain	 vn_chain;
	/* Transmit: packets checked and not yet written (vnet_tx_flush). */
	struct vnet_tx		 vn_txb[VNET_BATCH];
	uint16_t		 vn_txb_head[VNET_BATCH];
	struct tap_io		 vn_wr[VNET_BATCH];
	unsigned int		 vn_txb_n;
	struct vnet_rx		 vn_rx;
	struct vnet_ctrl	 vn_ctrl;
	struct iovec		 vn_rxiov[1024];
	uint8_t			 vn_drop[VNET_HDR_LEN + VNET_MAX_FRAME];
	/* Batches: up to vn_rx_batch reads, vn_tx_batch writes per call. */
	unsigned int		 vn_rx_batch, vn_tx_batch;
	struct vnet_rxg		 vn_rxg[VNET_BATCH];
	struct tap_io		 vn_rd[VNET_BATCH];
	uint8_t			*vn_bdrop;	/* overflow of reads 1.. */
	unsigned int		 vn_spill_at;	/* first chain no read has */
};

/* Recompute vn_rx_max from the MTU and the receive offloads. */
void	vnet_update_rx_max(struct vnet *);

/* The counters of a virtio-net model instance (its priv). */
const struct vnet_stats	*vnet_stats(void *priv);

/*
 * vhost-net (virtio/net_vhost.c).  open: at create, when the spec asks for
 * it; -errno with err filled ("nics[0].vhost: ...").  start: at DRIVER_OK,
 * hands every pair's rings and tap queue to the kernel (vn_lock held).
 * stop: takes them back (reset, destroy).  close: at destroy.
 */
int	vnet_vhost_open(struct vnet *, char *err, size_t errlen);
int	vnet_vhost_start(struct vnet *);
void	vnet_vhost_stop(struct vnet *);
void	vnet_vhost_close(struct vnet *);

#endif /* VMM_VIRTIO_NET_H */
