/*
 * The Linux x86 boot protocol, 64-bit entry (Documentation/arch/x86/
 * boot.rst): load the protected-mode part of a bzImage, fill the zero page
 * (struct boot_params) with the setup header, command line, initrd and e820
 * map, and build identity page tables and a GDT so vCPU 0 can enter the
 * kernel's startup_64 directly.  No real-mode code runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine.h"
#include "spec.h"

/* Guest-physical layout of what the loader writes below 1 MiB. */
#define BOOT_GDT_GPA		0x500ULL
#define BOOT_ZERO_PAGE_GPA	0x7000ULL
#define BOOT_STACK_GPA		0x8ff0ULL
#define BOOT_PML4_GPA		0x9000ULL
#define BOOT_PDPT_GPA		0xa000ULL
#define BOOT_PD_GPA		0xb000ULL	/* four pages: 4 GiB in 2 MiB pages */
#define BOOT_CMDLINE_GPA	0x20000ULL
#define BOOT_CMDLINE_ROOM	0x10000ULL
#define BOOT_EBDA_GPA		0x9fc00ULL
#define BOOT_BIOS_GPA		0xe0000ULL
#define BOOT_HIGH_GPA		0x100000ULL	/* 1 MiB */
#define BOOT_KVM_PAGES_GPA	0xfffbc000ULL	/* TSS and identity map page */

/* struct boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP		0x070
#define BP_EXT_RAMDISK_IMAGE	0x0c0
#define BP_EXT_RAMDISK_SIZE	0x0c4
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_HDR			0x1f1
#define BP_E820_TABLE		0x2d0
#define BP_E820_MAX		128
#define BP_SIZE			4096

/* Setup header offsets, from the start of the file / zero page. */
#define HDR_SETUP_SECTS		0x1f1
#define HDR_BOOT_FLAG		0x1fe
#define HDR_JUMP_END		0x201
#define HDR_MAGIC		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21c
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22c
#define HDR_KERNEL_ALIGNMENT	0x230
#define HDR_RELOCATABLE		0x234
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260

#define LOADFLAGS_LOADED_HIGH	0x01
#define XLF_KERNEL_64		0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02

#define E820_RAM		1
#define E820_RESERVED		2

/* Page-table and GDT bits. */
#define PTE_P			(1ULL << 0)
#define PTE_RW			(1ULL << 1)
#define PTE_PS			(1ULL << 7)

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static inline uint64_t
get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* Read exactly len bytes at off; -EIO on a short file. */
static int
boot_pread(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Open a regular file for the loader; what is wrong goes into err. */
static int
boot_open(const char *what, const char *path, off_t *size, char *err,
    size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s: %s", what, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s: %s: not a regular file", what, path);
		return -EINVAL;
	}
	*size = st.st_size;
	return fd;
}

static void
boot_e820_add(uint8_t *zp, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t n = zp[BP_E820_ENTRIES];
	uint8_t *e = zp + BP_E820_TABLE + 20 * n;

	if (n >= BP_E820_MAX || size == 0)
		return;
	put64(e, addr);
	put64(e + 8, size);
	put32(e + 16, type);
	zp[BP_E820_ENTRIES] = n + 1;
}

/*
 * The memory map: low RAM below the EBDA, the BIOS area holding the ACPI
 * tables, RAM from 1 MiB to the PCI hole, and RAM above 4 GiB.
 */
static void
boot_e820(const struct gm *gm, uint8_t *zp)
{
	const struct gm_region *low = &gm->gm_regions[0];

	boot_e820_add(zp, 0, BOOT_EBDA_GPA, E820_RAM);
	boot_e820_add(zp, BOOT_EBDA_GPA, 0xa0000 - BOOT_EBDA_GPA, E820_RESERVED);
	boot_e820_add(zp, BOOT_BIOS_GPA, BOOT_HIGH_GPA - BOOT_BIOS_GPA,
	    E820_RESERVED);
	boot_e820_add(zp, BOOT_HIGH_GPA, low->gr_size - BOOT_HIGH_GPA, E820_RAM);
	boot_e820_add(zp, BOOT_KVM_PAGES_GPA, GM_HIGH_START - BOOT_KVM_PAGES_GPA,
	    E820_RESERVED);
	if (gm->gm_nregions > 1)
		boot_e820_add(zp, gm->gm_regions[1].gr_gpa,
		    gm->gm_regions[1].gr_size, E820_RAM);
}

/* Identity-map the first 4 GiB with 2 MiB pages, and a flat GDT. */
static int
boot_page_tables(struct vm *vm)
{
	uint8_t *pml4 = gm_ptr(&vm->vm_gm, BOOT_PML4_GPA, 4096);
	uint8_t *pdpt = gm_ptr(&vm->vm_gm, BOOT_PDPT_GPA, 4096);
	uint8_t *pd = gm_ptr(&vm->vm_gm, BOOT_PD_GPA, 4 * 4096);
	uint8_t *gdt = gm_ptr(&vm->vm_gm, BOOT_GDT_GPA, 7 * 8);
	unsigned int i;

	if (pml4 == NULL || pdpt == NULL || pd == NULL || gdt == NULL)
		return vm_fail(vm, -ENOMEM, "ram: too small for the boot page "
		    "tables");
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	put64(pml4, BOOT_PDPT_GPA | PTE_P | PTE_RW);
	for (i = 0; i < 4; i++)
		put64(pdpt + 8 * i, (BOOT_PD_GPA + 4096 * i) | PTE_P | PTE_RW);
	for (i = 0; i < 4 * 512; i++)
		put64(pd + 8 * i, ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_PS);

	/*
	 * The boot protocol wants __BOOT_CS = 0x10 and __BOOT_DS = 0x18, both
	 * flat.  0x20 is a 64-bit TSS so that TR holds something valid.
	 */
	memset(gdt, 0, 7 * 8);
	put64(gdt + 0x10, 0x00af9b000000ffffULL);	/* code: L, P, DPL0, XR */
	put64(gdt + 0x18, 0x00cf93000000ffffULL);	/* data: DB, G, P, RW */
	put64(gdt + 0x20, 0x00008b0000000067ULL);	/* TSS (busy), base 0 */
	vm->vm_boot.bi_gdt = BOOT_GDT_GPA;
	vm->vm_boot.bi_gdt_limit = 6 * 8 - 1;
	vm->vm_boot.bi_pml4 = BOOT_PML4_GPA;
	vm->vm_boot.bi_stack = BOOT_STACK_GPA;
	return 0;
}

/* Check the setup header read from the start of the kernel file. */
static int
boot_check_header(const char *path, const uint8_t *h, off_t size, char *err,
    size_t errlen)
{
	unsigned int setup;
	uint16_t version;

	if (size < 1024 || get16(h + HDR_BOOT_FLAG) != 0xaa55 ||
	    memcmp(h + HDR_MAGIC, "HdrS", 4) != 0) {
		snprintf(err, errlen, "kernel: %s: not a Linux bzImage (no boot "
		    "sector signature or HdrS header)", path);
		return -ENOEXEC;
	}
	version = get16(h + HDR_VERSION);
	if (version < 0x020c) {
		snprintf(err, errlen, "kernel: %s: boot protocol %u.%02u is too "
		    "old (Hull needs 2.12 or later)", path, version >> 8,
		    version & 0xff);
		return -ENOEXEC;
	}
	if (!(get16(h + HDR_XLOADFLAGS) & XLF_KERNEL_64)) {
		snprintf(err, errlen, "kernel: %s: has no 64-bit entry point "
		    "(XLF_KERNEL_64); Hull boots x86-64 kernels only", path);
		return -ENOEXEC;
	}
	setup = h[HDR_SETUP_SECTS] ? h[HDR_SETUP_SECTS] : 4;
	if ((off_t)(setup + 1) * 512 >= size) {
		snprintf(err, errlen, "kernel: %s: truncated (setup is %u sectors "
		    "but the file has %lld bytes)", path, setup, (long long)size);
		return -ENOEXEC;
	}
	return 0;
}

static uint64_t
boot_mib_up(uint64_t bytes)
{
	return (bytes + (1 << 20) - 1) >> 20;
}

int
boot_probe(const struct vm_spec *spec, struct boot_image *bim, char *err,
    size_t errlen)
{
	uint64_t ram = spec->vs_ram_mib << 20;
	uint64_t low_end = ram < GM_LOW_END ? ram : GM_LOW_END, initrd_max;
	uint32_t align, init_size, cmdline_max;
	uint8_t *hdr = bim->bim_hdr;
	size_t clen;
	int rc;

	memset(bim, 0, sizeof(*bim));
	bim->bim_ifd = -1;
	bim->bim_kfd = boot_open("kernel", spec->vs_kernel, &bim->bim_ksize,
	    err, errlen);
	if (bim->bim_kfd < 0)
		return bim->bim_kfd;
	if ((rc = boot_pread(bim->bim_kfd, hdr, sizeof(bim->bim_hdr), 0)) < 0) {
		snprintf(err, errlen, "kernel: %s: not a Linux bzImage (%s)",
		    spec->vs_kernel, rc == -EIO ? "file too short" :
		    strerror(-rc));
		rc = -ENOEXEC;
		goto fail;
	}
	if ((rc = boot_check_header(spec->vs_kernel, hdr, bim->bim_ksize, err,
	    errlen)) < 0)
		goto fail;

	/*
	 * A relocatable kernel goes at its preferred address when aligned,
	 * else at the first aligned address above 1 MiB; others at 1 MiB.
	 */
	bim->bim_koff = (off_t)((hdr[HDR_SETUP_SECTS] ? hdr[HDR_SETUP_SECTS] :
	    4) + 1) * 512;
	align = get32(hdr + HDR_KERNEL_ALIGNMENT);
	bim->bim_load = BOOT_HIGH_GPA;
	if (hdr[HDR_RELOCATABLE]) {
		uint64_t pref = get64(hdr + HDR_PREF_ADDRESS);

		if (align == 0 || (align & (align - 1)) != 0 || align > (1U << 30))
			align = 2U << 20;
		bim->bim_load = pref >= BOOT_HIGH_GPA && pref % align == 0 &&
		    pref < GM_LOW_END ? pref :
		    (BOOT_HIGH_GPA + align - 1) & ~((uint64_t)align - 1);
	}
	init_size = get32(hdr + HDR_INIT_SIZE);
	bim->bim_need = (uint64_t)(bim->bim_ksize - bim->bim_koff);
	if (bim->bim_need < init_size)
		bim->bim_need = init_size;
	if (bim->bim_load + bim->bim_need > low_end) {
		snprintf(err, errlen, "ram: %llu MiB is too small for kernel %s "
		    "(it needs %llu MiB)", (unsigned long long)spec->vs_ram_mib,
		    spec->vs_kernel,
		    (unsigned long long)boot_mib_up(bim->bim_load + bim->bim_need));
		rc = -E2BIG;
		goto fail;
	}

	cmdline_max = get32(hdr + HDR_CMDLINE_SIZE);
	if (cmdline_max == 0 || cmdline_max >= BOOT_CMDLINE_ROOM)
		cmdline_max = BOOT_CMDLINE_ROOM - 1;
	clen = strlen(spec->vs_cmdline);
	if (clen > cmdline_max) {
		snprintf(err, errlen, "cmdline: %zu bytes is longer than kernel %s "
		    "accepts (%u)", clen, spec->vs_kernel, cmdline_max);
		rc = -E2BIG;
		goto fail;
	}

	if (spec->vs_initrd[0] == '\0')
		return 0;
	bim->bim_ifd = boot_open("initrd", spec->vs_initrd, &bim->bim_isize, err,
	    errlen);
	if (bim->bim_ifd < 0) {
		rc = bim->bim_ifd;
		goto fail;
	}
	/* An empty initrd is no initrd, as for the kernel itself. */
	if (bim->bim_isize == 0) {
		close(bim->bim_ifd);
		bim->bim_ifd = -1;
		return 0;
	}
	/* The initrd goes as high as the kernel allows, below the PCI hole. */
	initrd_max = (uint64_t)get32(hdr + HDR_INITRD_ADDR_MAX) + 1;
	if ((get16(hdr + HDR_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G) ||
	    initrd_max > low_end)
		initrd_max = low_end;
	if ((uint64_t)bim->bim_isize > initrd_max ||
	    ((initrd_max - (uint64_t)bim->bim_isize) & ~0xfffULL) <
	    bim->bim_load + bim->bim_need) {
		snprintf(err, errlen, "initrd: %s: %llu MiB does not fit in guest "
		    "RAM (ram is %llu MiB and the kernel takes %llu MiB)",
		    spec->vs_initrd,
		    (unsigned long long)boot_mib_up((uint64_t)bim->bim_isize),
		    (unsigned long long)spec->vs_ram_mib,
		    (unsigned long long)boot_mib_up(bim->bim_load + bim->bim_need));
		rc = -E2BIG;
		goto fail;
	}
	bim->bim_initrd_gpa = (initrd_max - (uint64_t)bim->bim_isize) & ~0xfffULL;
	return 0;
fail:
	boot_close(bim);
	return rc;
}

void
boot_close(struct boot_image *bim)
{
	if (bim->bim_kfd >= 0)
		close(bim->bim_kfd);
	if (bim->bim_ifd >= 0)
		close(bim->bim_ifd);
	bim->bim_kfd = bim->bim_ifd = -1;
}

int
boot_linux(struct vm *vm, const struct boot_image *bim, uint64_t rsdp_gpa)
{
	const struct vm_spec *spec = vm->vm_spec;
	struct gm *gm = &vm->vm_gm;
	const uint8_t *hdr = bim->bim_hdr;
	uint8_t *zp, *kmem;
	size_t hdr_end;
	int rc;

	kmem = gm_ptr(gm, bim->bim_load, bim->bim_need);
	zp = gm_ptr(gm, BOOT_ZERO_PAGE_GPA, BP_SIZE);
	if (kmem == NULL || zp == NULL)
		return vm_fail(vm, -E2BIG, "ram: too small for kernel %s",
		    spec->vs_kernel);
	rc = boot_pread(bim->bim_kfd, kmem, (size_t)(bim->bim_ksize -
	    bim->bim_koff), bim->bim_koff);
	if (rc < 0)
		return vm_fail(vm, -EIO, "kernel: %s: read: %s", spec->vs_kernel,
		    strerror(-rc));

	/* The zero page starts as the setup header copied from the file. */
	memset(zp, 0, BP_SIZE);
	hdr_end = 0x202 + hdr[HDR_JUMP_END];
	if (hdr_end > sizeof(bim->bim_hdr))
		hdr_end = sizeof(bim->bim_hdr);
	memcpy(zp + BP_HDR, hdr + BP_HDR, hdr_end - BP_HDR);
	zp[HDR_TYPE_OF_LOADER] = 0xff;	/* an unregistered boot loader */
	zp[HDR_LOADFLAGS] |= LOADFLAGS_LOADED_HIGH;

	if (gm_copy_to(gm, BOOT_CMDLINE_GPA, spec->vs_cmdline,
	    strlen(spec->vs_cmdline) + 1) < 0)
		return vm_fail(vm, -E2BIG, "ram: too small for the command line");
	put32(zp + HDR_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_GPA);
	/* boot.rst: no initrd means ramdisk_image and ramdisk_size are 0. */
	put32(zp + HDR_RAMDISK_IMAGE, 0);
	put32(zp + HDR_RAMDISK_SIZE, 0);

	if (bim->bim_ifd >= 0) {
		uint8_t *imem = gm_ptr(gm, bim->bim_initrd_gpa,
		    (uint64_t)bim->bim_isize);

		if (imem == NULL)
			return vm_fail(vm, -E2BIG, "initrd: %s: does not fit in "
			    "guest RAM", spec->vs_initrd);
		rc = boot_pread(bim->bim_ifd, imem, (size_t)bim->bim_isize, 0);
		if (rc < 0)
			return vm_fail(vm, -EIO, "initrd: %s: read: %s",
			    spec->vs_initrd, strerror(-rc));
		put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)bim->bim_initrd_gpa);
		put32(zp + HDR_RAMDISK_SIZE, (uint32_t)bim->bim_isize);
		put32(zp + BP_EXT_RAMDISK_IMAGE,
		    (uint32_t)(bim->bim_initrd_gpa >> 32));
		put32(zp + BP_EXT_RAMDISK_SIZE,
		    (uint32_t)((uint64_t)bim->bim_isize >> 32));
	}

	put64(zp + BP_ACPI_RSDP, rsdp_gpa);
	boot_e820(gm, zp);
	if ((rc = boot_page_tables(vm)) < 0)
		return rc;
	/* startup_64 sits 0x200 bytes into the protected-mode image. */
	vm->vm_boot.bi_entry = bim->bim_load + 0x200;
	vm->vm_boot.bi_zero_page = BOOT_ZERO_PAGE_GPA;
	return 0;
}
