/*
 * The KVM VM: /dev/kvm, the VM fd, the capabilities Hull relies on, guest
 * RAM in memory slots, the in-kernel irqchip (PIC, IOAPIC, LAPICs) and PIT.
 * KVM API: Documentation/virt/kvm/api.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "machine.h"
#include "spec.h"

/* Addresses KVM needs for Intel's real-mode support, inside the PCI hole. */
#define VM_TSS_GPA		0xfffbd000ULL
#define VM_IDENTITY_MAP_GPA	0xfffbc000ULL

int
vm_fail(struct vm *vm, int rc, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->vm_err_lock);
	if (vm->vm_err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(vm->vm_err, sizeof(vm->vm_err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&vm->vm_err_lock);
	return rc;
}

void
vm_request_stop(struct vm *vm, enum vm_stop why, const char *fmt, ...)
{
	int none = VM_STOP_NONE;
	uint64_t one = 1;
	va_list ap;

	if (!__atomic_compare_exchange_n(&vm->vm_stop, &none, (int)why, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	if (fmt != NULL) {
		pthread_mutex_lock(&vm->vm_err_lock);
		va_start(ap, fmt);
		vsnprintf(vm->vm_err, sizeof(vm->vm_err), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&vm->vm_err_lock);
	}
	/* An eventfd write only fails if the counter would overflow. */
	(void)!write(vm->vm_stop_fd, &one, sizeof(one));
}

int
vm_open_kvm(int *kvm_fd, char *err, size_t errlen)
{
	int fd, ver;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			snprintf(err, errlen, "/dev/kvm: not found: this host has "
			    "no KVM (load kvm-intel or kvm-amd, or enable "
			    "virtualization in the firmware)");
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "/dev/kvm: permission denied: run "
			    "as root or join the group that owns /dev/kvm");
		else
			snprintf(err, errlen, "/dev/kvm: %s", strerror(e));
		return -e;
	}
	ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: KVM API version %d, Hull needs %d",
		    ver, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	*kvm_fd = fd;
	return 0;
}

/* Capabilities probed on the VM itself (KVM_CHECK_EXTENSION on the VM fd). */
static const struct {
	int		 cap;
	const char	*name;
} vm_needed_caps[] = {
	{ KVM_CAP_IRQCHIP,		"KVM_CAP_IRQCHIP" },
	{ KVM_CAP_USER_MEMORY,		"KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR,		"KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_PIT2,			"KVM_CAP_PIT2" },
	{ KVM_CAP_EXT_CPUID,		"KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT,	"KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQ_ROUTING,		"KVM_CAP_IRQ_ROUTING" },
};

static int
vm_check_caps(struct vm *vm)
{
	unsigned int i;
	int max;

	for (i = 0; i < sizeof(vm_needed_caps) / sizeof(vm_needed_caps[0]); i++)
		if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, vm_needed_caps[i].cap) <= 0)
			return vm_fail(vm, -ENOTSUP, "/dev/kvm: this KVM lacks %s",
			    vm_needed_caps[i].name);
	max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4;	/* what api.rst says to assume */
	if (vm->vm_nvcpus > (unsigned int)max)
		return vm_fail(vm, -E2BIG, "vcpus: %u is more than this host's "
		    "KVM allows (%d)", vm->vm_nvcpus, max);
	return 0;
}

static int
vm_get_cpuid(struct vm *vm)
{
	unsigned int nent = 128;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
		    nent * sizeof(struct kvm_cpuid_entry2));

		if (c == NULL)
			return vm_fail(vm, -ENOMEM, "out of memory");
		c->nent = nent;
		if (ioctl(vm->vm_kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->vm_cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || nent >= 4096)
			return vm_fail(vm, -errno, "KVM_GET_SUPPORTED_CPUID: %s",
			    strerror(errno));
		nent *= 2;
	}
}

static int
vm_map_memory(struct vm *vm)
{
	unsigned int i;
	int rc;

	rc = gm_init(&vm->vm_gm, vm->vm_spec->vs_ram_mib << 20);
	if (rc < 0)
		return vm_fail(vm, rc, "ram: cannot allocate %llu MiB: %s",
		    (unsigned long long)vm->vm_spec->vs_ram_mib, strerror(-rc));
	for (i = 0; i < vm->vm_gm.gm_nregions; i++) {
		const struct gm_region *r = &vm->vm_gm.gm_regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gr_gpa,
			.memory_size = r->gr_size,
			.userspace_addr = (uintptr_t)r->gr_hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return vm_fail(vm, -errno, "KVM_SET_USER_MEMORY_REGION "
			    "(slot %u, %llu MiB at %#llx): %s", i,
			    (unsigned long long)(r->gr_size >> 20),
			    (unsigned long long)r->gr_gpa, strerror(errno));
	}
	return 0;
}

static int
vm_set_irq_line(void *ctx, unsigned int gsi, int level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

static void
vm_dev_stop(void *ctx, enum vm_stop why)
{
	vm_request_stop(ctx, why, NULL);
}

int
vm_create(struct vm *vm, int kvm_fd, const struct vm_spec *spec)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t addr = VM_IDENTITY_MAP_GPA;
	int rc;

	memset(vm, 0, sizeof(*vm));
	pthread_mutex_init(&vm->vm_err_lock, NULL);
	vm->vm_spec = spec;
	vm->vm_kvm_fd = kvm_fd;
	vm->vm_nvcpus = spec->vs_vcpus;
	vm->vm_fd = -1;
	irq_init(vm);
	vm->vm_ev = (struct vm_events){ vm, vm_set_irq_line, vm_dev_stop };
	bus_init(&vm->vm_bus);
	vm->vm_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->vm_stop_fd < 0)
		return vm_fail(vm, -errno, "eventfd: %s", strerror(errno));

	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return vm_fail(vm, -errno, "/dev/kvm: cannot create a VM: %s",
		    strerror(errno));
	if ((rc = vm_check_caps(vm)) < 0)
		return rc;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VM_TSS_GPA) < 0)
		return vm_fail(vm, -errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	/* Optional: only Intel without unrestricted guests uses it. */
	(void)ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return vm_fail(vm, -errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return vm_fail(vm, -errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	if ((rc = vm_get_cpuid(vm)) < 0)
		return rc;
	return vm_map_memory(vm);
}

void
vm_destroy(struct vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	gm_fini(&vm->vm_gm);
	free(vm->vm_cpuid);
	if (vm->vm_stop_fd >= 0)
		close(vm->vm_stop_fd);
	pthread_mutex_destroy(&vm->vm_err_lock);
	irq_fini(vm);
	vm->vm_fd = vm->vm_stop_fd = -1;
	vm->vm_cpuid = NULL;
}
