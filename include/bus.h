/*
 * Port I/O and MMIO dispatch.  Devices register a range with one ops table;
 * the vCPU exit loop hands each access to the device that owns the address.
 */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

enum bus_space {
	BUS_PIO,
	BUS_MMIO,
	BUS_NSPACES
};

/*
 * Access handlers.  off is relative to bd_base; len is 1, 2, 4 or 8.
 * Return 0, or -errno, which the bus logs once per device and otherwise
 * treats like an access to nothing (reads give all ones).
 * Handlers may run on any vCPU thread at once: devices lock their own state.
 */
struct bus_ops {
	int	(*read)(void *priv, uint64_t off, void *buf, size_t len);
	int	(*write)(void *priv, uint64_t off, const void *buf, size_t len);
};

struct bus_dev {
	const char		*bd_name;
	const struct bus_ops	*bd_ops;
	uint64_t		 bd_base, bd_size;
	void			*bd_priv;
	unsigned int		 bd_errors;	/* failed accesses, logged once */
};

#define BUS_MAX_DEVS	64

/*
 * bu_lock guards the tables, not the devices: dispatch looks a device up
 * under the read lock and calls it after dropping it, so a handler may move
 * ranges (a guest reprogramming a PCI BAR) without deadlocking.  A bus_dev
 * must stay allocated while any vCPU can still dispatch.
 */
struct bus {
	pthread_rwlock_t bu_lock;
	struct bus_dev	*bu_devs[BUS_NSPACES][BUS_MAX_DEVS];	/* sorted by base */
	unsigned int	 bu_ndevs[BUS_NSPACES];
	uint64_t	 bu_unclaimed[BUS_NSPACES];	/* accesses to no device */
};

void	bus_init(struct bus *);

/*
 * Register dev (caller-owned, must outlive the bus) in space.  Returns 0,
 * -EEXIST when the range overlaps a registered one, -EINVAL for an empty or
 * wrapping range, -ENOSPC when the bus is full.  Not safe against concurrent
 * dispatch: register before the vCPUs run.
 */
int	bus_register(struct bus *, enum bus_space, struct bus_dev *);

/*
 * Remove dev, registered earlier in space, from the bus.  Returns 0, or
 * -ENOENT when dev is not registered there.  dev may be registered again
 * (e.g. at a new bd_base, as PCI BAR relocation does).  Like bus_register,
 * not safe against concurrent dispatch: while vCPUs run, the caller needs
 * the lock that serialises registration with dispatch (not there yet: the
 * dispatch path is lock-free today).
 */
int	bus_unregister(struct bus *, enum bus_space, struct bus_dev *);

/*
 * Dispatch an access of len bytes at addr.  Reads of unclaimed addresses fill
 * buf with 0xff; writes to them are dropped.  Returns 0 if a device claimed
 * the access, -ENOENT if none did.
 */
int	bus_read(struct bus *, enum bus_space, uint64_t addr, void *buf, size_t len);
int	bus_write(struct bus *, enum bus_space, uint64_t addr, const void *buf,
	    size_t len);

#endif /* VMM_BUS_H */
