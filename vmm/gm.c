/*
 * Guest physical memory.  One anonymous mapping, 2 MiB aligned so that
 * transparent huge pages can back it, split into at most two regions around
 * the 32-bit PCI hole (include/gm.h).  Every access to guest RAM goes through
 * gm_ptr(), which checks the whole [gpa, gpa + len) range.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "gm.h"

#define GM_ALIGN	(2ULL << 20)

static void
gm_layout(struct gm *gm, uint8_t *mem, uint64_t ram_size)
{
	uint64_t low = ram_size < GM_LOW_END ? ram_size : GM_LOW_END;

	gm->gm_ram_size = ram_size;
	gm->gm_regions[0] = (struct gm_region){ 0, low, mem };
	gm->gm_nregions = 1;
	if (ram_size > low) {
		gm->gm_regions[1] = (struct gm_region){ GM_HIGH_START,
		    ram_size - low, mem + low };
		gm->gm_nregions = 2;
	}
}

int
gm_init(struct gm *gm, uint64_t ram_size)
{
	size_t map_size;
	uint8_t *raw, *mem;

	memset(gm, 0, sizeof(*gm));
	if (ram_size == 0 || ram_size % 4096 != 0 ||
	    ram_size > (uint64_t)SIZE_MAX - GM_ALIGN)
		return -EINVAL;
	/* Over-map by 2 MiB so an aligned start can be cut out of it. */
	map_size = ram_size + GM_ALIGN;
	raw = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	mem = (uint8_t *)(((uintptr_t)raw + GM_ALIGN - 1) & ~(GM_ALIGN - 1));
	if (mem > raw)
		munmap(raw, mem - raw);
	if (mem + ram_size < raw + map_size)
		munmap(mem + ram_size, raw + map_size - (mem + ram_size));
	/* Best effort: THP makes 2 MiB mappings possible; not an error if off. */
	(void)madvise(mem, ram_size, MADV_HUGEPAGE);
	/* A guest's RAM in a core dump is the guest's data, not ours. */
	(void)madvise(mem, ram_size, MADV_DONTDUMP);
	gm->gm_map = mem;
	gm->gm_map_size = ram_size;
	gm_layout(gm, mem, ram_size);
	return 0;
}

void
gm_init_from(struct gm *gm, void *mem, uint64_t ram_size)
{
	memset(gm, 0, sizeof(*gm));
	gm_layout(gm, mem, ram_size);
}

void
gm_fini(struct gm *gm)
{
	if (gm->gm_map != NULL)
		munmap(gm->gm_map, gm->gm_map_size);
	memset(gm, 0, sizeof(*gm));
}

void *
gm_ptr(const struct gm *gm, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (len == 0)
		len = 1;
	for (i = 0; i < gm->gm_nregions; i++) {
		const struct gm_region *r = &gm->gm_regions[i];

		/* Written so that no sum can overflow. */
		if (gpa >= r->gr_gpa && gpa - r->gr_gpa < r->gr_size &&
		    len <= r->gr_size - (gpa - r->gr_gpa))
			return r->gr_hva + (gpa - r->gr_gpa);
	}
	return NULL;
}

bool
gm_valid(const struct gm *gm, uint64_t gpa, uint64_t len)
{
	return gm_ptr(gm, gpa, len) != NULL;
}

int
gm_copy_to(const struct gm *gm, uint64_t gpa, const void *src, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (p == NULL)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int
gm_copy_from(const struct gm *gm, void *dst, uint64_t gpa, size_t len)
{
	const void *p = gm_ptr(gm, gpa, len);

	if (p == NULL)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
