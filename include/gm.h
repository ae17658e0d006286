/*
 * Guest physical memory: the only way Hull code reaches guest RAM.
 *
 * RAM is at most two regions: [0, min(ram, 3 GiB)) and, when the guest has
 * more than 3 GiB, [4 GiB, 4 GiB + rest).  The gap below 4 GiB is the 32-bit
 * PCI hole (MMIO, IOAPIC, LAPIC).
 */
#ifndef VMM_GM_H
#define VMM_GM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS		2
#define GM_LOW_END		0xc0000000ULL	/* start of the 32-bit PCI hole */
#define GM_HIGH_START		0x100000000ULL	/* RAM resumes at 4 GiB */

struct gm_region {
	uint64_t	 gr_gpa;
	uint64_t	 gr_size;
	uint8_t		*gr_hva;
};

struct gm {
	struct gm_region gm_regions[GM_MAX_REGIONS];
	unsigned int	 gm_nregions;
	uint64_t	 gm_ram_size;	/* total bytes of RAM */
	void		*gm_map;	/* the one host mapping behind all regions */
	size_t		 gm_map_size;
};

/*
 * Allocate ram_size bytes of anonymous, 2 MiB-aligned memory and lay out the
 * regions.  Returns 0 or -errno.
 */
int	gm_init(struct gm *, uint64_t ram_size);

/* Lay out regions over caller-owned memory (tests); no allocation. */
void	gm_init_from(struct gm *, void *mem, uint64_t ram_size);

void	gm_fini(struct gm *);

/*
 * Host pointer for [gpa, gpa + len), or NULL unless the whole range lies in
 * one RAM region (no wrap-around).  len 0 is treated as 1.
 */
void	*gm_ptr(const struct gm *, uint64_t gpa, uint64_t len);

/* Copy between guest and host; -EFAULT unless the range is in one region. */
int	gm_copy_to(const struct gm *, uint64_t gpa, const void *src, size_t len);
int	gm_copy_from(const struct gm *, void *dst, uint64_t gpa, size_t len);

/* Whether [gpa, gpa + len) lies inside one region. */
bool	gm_valid(const struct gm *, uint64_t gpa, uint64_t len);

#endif /* VMM_GM_H */
