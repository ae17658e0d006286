/*
 * CPUID for one vCPU: KVM's supported table with the topology and APIC ID
 * filled in, so a guest with N vCPUs sees one package of N cores, one thread
 * each, and each vCPU finds its own APIC ID.  Leaves per Intel SDM vol. 2A
 * (CPUID) and AMD APM vol. 3 (CPUID Fn8000_00xx).
 */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "machine.h"

#define CPUID_1_ECX_TSC_DEADLINE	(1U << 24)
#define CPUID_1_ECX_HYPERVISOR		(1U << 31)
#define CPUID_1_EDX_HTT			(1U << 28)
#define CPUID_TOPO_SMT			1
#define CPUID_TOPO_CORE			2

/* Bits needed to number n items: ceil(log2(n)). */
static unsigned int
cpuid_width(unsigned int n)
{
	unsigned int w = 0;

	while ((1U << w) < n)
		w++;
	return w;
}

static void
cpuid_topology_leaf(struct kvm_cpuid_entry2 *e, unsigned int id,
    unsigned int n)
{
	/* Extended topology (0xB / 0x1F): level 0 = SMT, level 1 = core. */
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (CPUID_TOPO_SMT << 8) | 0;
		break;
	case 1:
		e->eax = cpuid_width(n);
		e->ebx = n;
		e->ecx = (CPUID_TOPO_CORE << 8) | 1;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;	/* level type 0: invalid, ends the list */
		break;
	}
	e->edx = id;
}

int
cpuid_setup(struct vm *vm, struct vcpu *vc)
{
	const struct kvm_cpuid2 *sup = vm->vm_cpuid;
	unsigned int n = vm->vm_nvcpus, id = vc->vc_id, i;
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c;
	bool deadline;
	int rc = 0;

	c = malloc(sz);
	if (c == NULL)
		return vm_fail(vm, -ENOMEM, "out of memory");
	memcpy(c, sup, sz);
	deadline = ioctl(vm->vm_kvm_fd, KVM_CHECK_EXTENSION,
	    KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0x1:
			e->ebx = (e->ebx & 0x0000ffff) | (id << 24) |
			    ((n > 1 ? n : 1) << 16);
			if (n > 1)
				e->edx |= CPUID_1_EDX_HTT;
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			/* The in-kernel LAPIC emulates the TSC-deadline timer. */
			if (deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			break;
		case 0x4:
			/* Deterministic cache: cores per package - 1 in 31:26. */
			e->eax = (e->eax & 0x03ffffff) |
			    ((n - 1 < 63 ? n - 1 : 63) << 26);
			/* One thread shares each cache level 1 and 2. */
			if (((e->eax >> 5) & 7) <= 2)
				e->eax &= ~(0xfffU << 14);
			break;
		case 0xb:
		case 0x1f:
			cpuid_topology_leaf(e, id, n);
			break;
		case 0x80000008:
			/* AMD: NC (cores - 1) and the APIC ID width for cores. */
			e->ecx = (e->ecx & ~0xf0ffU) | (n - 1) |
			    (cpuid_width(n) << 12);
			break;
		case 0x80000002:
		case 0x80000003:
		case 0x80000004:
			/*
			 * The brand string: KVM leaves it empty, and a guest
			 * then shows "model name: 17/01".  Use the host's, as
			 * QEMU's -cpu host does (a name, not a feature flag).
			 */
			if ((e->eax | e->ebx | e->ecx | e->edx) == 0)
				__cpuid(e->function, e->eax, e->ebx, e->ecx,
				    e->edx);
			break;
		case 0x8000001e:
			/* AMD: extended APIC ID, core ID, one thread per core. */
			e->eax = id;
			e->ebx = (e->ebx & ~0xffffU) | (id & 0xff);
			e->ecx &= ~0xffU;
			break;
		}
	}
	if (ioctl(vc->vc_fd, KVM_SET_CPUID2, c) < 0)
		rc = vm_fail(vm, -errno, "vcpu%u: KVM_SET_CPUID2: %s", id,
		    strerror(errno));
	free(c);
	return rc;
}
