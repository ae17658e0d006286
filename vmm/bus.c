/*
 * Port I/O and MMIO dispatch (include/bus.h).  Ranges are kept sorted and
 * never overlap, so a lookup is a binary search.  Registration happens before
 * the vCPUs start; dispatch is then read-only and needs no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"

static const char *const bus_space_name[BUS_NSPACES] = { "pio", "mmio" };

void
bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_rwlock_init(&bus->bu_lock, NULL);
}

static int
bus_register_locked(struct bus *bus, enum bus_space sp, struct bus_dev *dev)
{
	struct bus_dev **devs = bus->bu_devs[sp];
	unsigned int n = bus->bu_ndevs[sp], i;

	if (dev->bd_size == 0 || dev->bd_base + dev->bd_size - 1 < dev->bd_base)
		return -EINVAL;
	if (n == BUS_MAX_DEVS)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		uint64_t last = devs[i]->bd_base + devs[i]->bd_size - 1;

		if (dev->bd_base <= last &&
		    devs[i]->bd_base <= dev->bd_base + dev->bd_size - 1)
			return -EEXIST;
		if (devs[i]->bd_base > dev->bd_base)
			break;
	}
	memmove(&devs[i + 1], &devs[i], (n - i) * sizeof(devs[0]));
	devs[i] = dev;
	bus->bu_ndevs[sp] = n + 1;
	return 0;
}

int
bus_register(struct bus *bus, enum bus_space sp, struct bus_dev *dev)
{
	int rc;

	pthread_rwlock_wrlock(&bus->bu_lock);
	rc = bus_register_locked(bus, sp, dev);
	pthread_rwlock_unlock(&bus->bu_lock);
	return rc;
}

static int
bus_unregister_locked(struct bus *bus, enum bus_space sp, struct bus_dev *dev)
{
	struct bus_dev **devs = bus->bu_devs[sp];
	unsigned int n = bus->bu_ndevs[sp], i;

	for (i = 0; i < n; i++)
		if (devs[i] == dev)
			break;
	if (i == n)
		return -ENOENT;
	memmove(&devs[i], &devs[i + 1], (n - i - 1) * sizeof(devs[0]));
	devs[n - 1] = NULL;
	bus->bu_ndevs[sp] = n - 1;
	return 0;
}

int
bus_unregister(struct bus *bus, enum bus_space sp, struct bus_dev *dev)
{
	int rc;

	pthread_rwlock_wrlock(&bus->bu_lock);
	rc = bus_unregister_locked(bus, sp, dev);
	pthread_rwlock_unlock(&bus->bu_lock);
	return rc;
}

/* The device whose range holds all of [addr, addr + len), or NULL. */
static struct bus_dev *
bus_find(struct bus *bus, enum bus_space sp, uint64_t addr, size_t len)
{
	unsigned int lo = 0, hi = bus->bu_ndevs[sp];

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		struct bus_dev *d = bus->bu_devs[sp][mid];

		if (addr < d->bd_base)
			hi = mid;
		else if (addr - d->bd_base >= d->bd_size)
			lo = mid + 1;
		else
			return len <= d->bd_size - (addr - d->bd_base) ? d : NULL;
	}
	return NULL;
}

static void
bus_failed(struct bus_dev *d, enum bus_space sp, const char *op, uint64_t off,
    size_t len, int rc)
{
	/* A guest can repeat a bad access forever: say it once per device. */
	if (__atomic_fetch_add(&d->bd_errors, 1, __ATOMIC_RELAXED) == 0)
		fprintf(stderr, "hull: %s %s: %s of %zu bytes at offset %#llx "
		    "failed: %s (further errors not shown)\n", bus_space_name[sp],
		    d->bd_name, op, len, (unsigned long long)off, strerror(-rc));
}

/* Look dev up and take its offset under the read lock; NULL if none. */
static struct bus_dev *
bus_lookup(struct bus *bus, enum bus_space sp, uint64_t addr, size_t len,
    uint64_t *off)
{
	struct bus_dev *d;

	pthread_rwlock_rdlock(&bus->bu_lock);
	d = bus_find(bus, sp, addr, len);
	if (d != NULL)
		*off = addr - d->bd_base;
	pthread_rwlock_unlock(&bus->bu_lock);
	if (d == NULL)
		__atomic_add_fetch(&bus->bu_unclaimed[sp], 1, __ATOMIC_RELAXED);
	return d;
}

int
bus_read(struct bus *bus, enum bus_space sp, uint64_t addr, void *buf,
    size_t len)
{
	uint64_t off = 0;
	struct bus_dev *d = bus_lookup(bus, sp, addr, len, &off);
	int rc;

	if (d == NULL) {
		memset(buf, 0xff, len);
		return -ENOENT;
	}
	rc = d->bd_ops->read(d->bd_priv, off, buf, len);
	if (rc < 0) {
		bus_failed(d, sp, "read", off, len, rc);
		memset(buf, 0xff, len);
	}
	return 0;
}

int
bus_write(struct bus *bus, enum bus_space sp, uint64_t addr, const void *buf,
    size_t len)
{
	uint64_t off = 0;
	struct bus_dev *d = bus_lookup(bus, sp, addr, len, &off);
	int rc;

	if (d == NULL)
		return -ENOENT;
	rc = d->bd_ops->write(d->bd_priv, off, buf, len);
	if (rc < 0)
		bus_failed(d, sp, "write", off, len, rc);
	return 0;
}
