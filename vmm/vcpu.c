/*
 * vCPUs: one thread each, running KVM_RUN and dispatching port I/O and MMIO
 * exits to the bus.  vCPU 0 starts at the kernel's 64-bit entry; the others
 * wait in the in-kernel LAPIC for the INIT/SIPI the guest sends them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine.h"
#include "sbx_seccomp.h"
#include "trace.h"

#define VCPU_KICK_SIGNAL	SIGUSR1

#define MSR_IA32_MISC_ENABLE		0x1a0
#define MISC_ENABLE_FAST_STRING		(1ULL << 0)

#define LAPIC_LVT0		0x350
#define LAPIC_LVT1		0x360
#define LAPIC_MODE_NMI		(4U << 8)
#define LAPIC_MODE_EXTINT	(7U << 8)

#define X86_CR0_PE		(1ULL << 0)
#define X86_CR0_ET		(1ULL << 4)
#define X86_CR0_PG		(1ULL << 31)
#define X86_CR4_PAE		(1ULL << 5)
#define EFER_LME		(1ULL << 8)
#define EFER_LMA		(1ULL << 10)

static void
vcpu_kick_handler(int sig)
{
	(void)sig;	/* only here to make KVM_RUN return EINTR */
}

static int
vcpu_set_msrs(struct vm *vm, struct vcpu *vc)
{
	struct {
		struct kvm_msrs		hdr;
		struct kvm_msr_entry	ent[1];
	} m = {
		.hdr.nmsrs = 1,
		.ent[0] = { .index = MSR_IA32_MISC_ENABLE,
		    .data = MISC_ENABLE_FAST_STRING },
	};

	if (ioctl(vc->vc_fd, KVM_SET_MSRS, &m) != 1)
		return vm_fail(vm, -EIO, "vcpu%u: KVM_SET_MSRS failed", vc->vc_id);
	return 0;
}

/* Route the legacy PIC through LINT0 and NMIs through LINT1, as a BIOS does. */
static int
vcpu_set_lapic(struct vm *vm, struct vcpu *vc)
{
	struct kvm_lapic_state la;
	uint32_t v;

	if (ioctl(vc->vc_fd, KVM_GET_LAPIC, &la) < 0)
		return vm_fail(vm, -errno, "vcpu%u: KVM_GET_LAPIC: %s", vc->vc_id,
		    strerror(errno));
	memcpy(&v, &la.regs[LAPIC_LVT0], 4);
	v = (v & ~0x700U) | LAPIC_MODE_EXTINT;
	memcpy(&la.regs[LAPIC_LVT0], &v, 4);
	memcpy(&v, &la.regs[LAPIC_LVT1], 4);
	v = (v & ~0x700U) | LAPIC_MODE_NMI;
	memcpy(&la.regs[LAPIC_LVT1], &v, 4);
	if (ioctl(vc->vc_fd, KVM_SET_LAPIC, &la) < 0)
		return vm_fail(vm, -errno, "vcpu%u: KVM_SET_LAPIC: %s", vc->vc_id,
		    strerror(errno));
	return 0;
}

static void
vcpu_flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .s = 1, .g = 1,
		.db = code ? 0 : 1, .l = code ? 1 : 0,
	};
}

/* vCPU 0's state at the 64-bit entry of the boot protocol. */
static int
vcpu_set_boot_state(struct vm *vm, struct vcpu *vc)
{
	const struct boot_info *bi = &vm->vm_boot;
	struct kvm_sregs sr;
	struct kvm_regs r;
	struct kvm_fpu fpu;

	if (ioctl(vc->vc_fd, KVM_GET_SREGS, &sr) < 0)
		return vm_fail(vm, -errno, "vcpu0: KVM_GET_SREGS: %s",
		    strerror(errno));
	vcpu_flat_segment(&sr.cs, 0x10, 0xb, true);
	vcpu_flat_segment(&sr.ds, 0x18, 0x3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20,
	    .type = 0xb, .present = 1 };
	sr.gdt.base = bi->bi_gdt;
	sr.gdt.limit = bi->bi_gdt_limit;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	sr.cr3 = bi->bi_pml4;
	sr.cr4 = X86_CR4_PAE;
	sr.efer = EFER_LME | EFER_LMA;
	if (ioctl(vc->vc_fd, KVM_SET_SREGS, &sr) < 0)
		return vm_fail(vm, -errno, "vcpu0: KVM_SET_SREGS: %s",
		    strerror(errno));

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vc->vc_fd, KVM_SET_FPU, &fpu) < 0)
		return vm_fail(vm, -errno, "vcpu0: KVM_SET_FPU: %s",
		    strerror(errno));

	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;
	r.rip = bi->bi_entry;
	r.rsi = bi->bi_zero_page;
	r.rsp = bi->bi_stack;
	if (ioctl(vc->vc_fd, KVM_SET_REGS, &r) < 0)
		return vm_fail(vm, -errno, "vcpu0: KVM_SET_REGS: %s",
		    strerror(errno));
	return 0;
}

int
vcpu_create_all(struct vm *vm)
{
	int mmap_size, rc;
	unsigned int i;

	mmap_size = ioctl(vm->vm_kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		return vm_fail(vm, -EIO, "KVM_GET_VCPU_MMAP_SIZE: %s",
		    strerror(errno));
	vm->vm_vcpus = calloc(vm->vm_nvcpus, sizeof(*vm->vm_vcpus));
	if (vm->vm_vcpus == NULL)
		return vm_fail(vm, -ENOMEM, "out of memory");
	for (i = 0; i < vm->vm_nvcpus; i++)
		vm->vm_vcpus[i].vc_fd = -1;

	for (i = 0; i < vm->vm_nvcpus; i++) {
		struct vcpu *vc = &vm->vm_vcpus[i];

		vc->vc_vm = vm;
		vc->vc_id = i;
		vc->vc_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (vc->vc_fd < 0)
			return vm_fail(vm, -errno, "vcpu%u: KVM_CREATE_VCPU: %s", i,
			    strerror(errno));
		vc->vc_run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, vc->vc_fd, 0);
		if (vc->vc_run == MAP_FAILED) {
			vc->vc_run = NULL;
			return vm_fail(vm, -errno, "vcpu%u: mmap kvm_run: %s", i,
			    strerror(errno));
		}
		vc->vc_run_size = (size_t)mmap_size;
		if ((rc = cpuid_setup(vm, vc)) < 0 ||
		    (rc = vcpu_set_msrs(vm, vc)) < 0 ||
		    (rc = vcpu_set_lapic(vm, vc)) < 0)
			return rc;
		if (i == 0 && (rc = vcpu_set_boot_state(vm, vc)) < 0)
			return rc;
	}
	return 0;
}

static void
vcpu_crash(struct vcpu *vc, const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs sr;

	memset(&r, 0, sizeof(r));
	memset(&sr, 0, sizeof(sr));
	(void)ioctl(vc->vc_fd, KVM_GET_REGS, &r);
	(void)ioctl(vc->vc_fd, KVM_GET_SREGS, &sr);
	/*
	 * On AMD, KVM reinitialises the VMCB after a shutdown intercept, so
	 * a triple fault reads back as the reset state: say so rather than
	 * let the registers mislead.
	 */
	vm_request_stop(vc->vc_vm, VM_STOP_CRASH, "vcpu%u: %s (rip %#llx rsp "
	    "%#llx cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx%s)", vc->vc_id, what,
	    (unsigned long long)r.rip, (unsigned long long)r.rsp,
	    (unsigned long long)sr.cr0, (unsigned long long)sr.cr3,
	    (unsigned long long)sr.cr4, (unsigned long long)sr.efer,
	    r.rip == 0xfff0 && sr.cs.base == 0xffff0000 ?
	    "; KVM has reset the vCPU, these are not the faulting registers" : "");
}

static void
vcpu_pio(struct vcpu *vc)
{
	struct kvm_run *run = vc->vc_run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t i;

	/* String I/O (rep ins/outs) hands over count items of size bytes. */
	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vc->vc_vm->vm_bus, BUS_PIO, run->io.port, data,
			    run->io.size);
		else
			bus_read(&vc->vc_vm->vm_bus, BUS_PIO, run->io.port, data,
			    run->io.size);
	}
}

static void
vcpu_mmio(struct vcpu *vc)
{
	struct kvm_run *run = vc->vc_run;
	size_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return;
	if (run->mmio.is_write)
		bus_write(&vc->vc_vm->vm_bus, BUS_MMIO, run->mmio.phys_addr,
		    run->mmio.data, len);
	else
		bus_read(&vc->vc_vm->vm_bus, BUS_MMIO, run->mmio.phys_addr,
		    run->mmio.data, len);
}

static void
vcpu_system_event(struct vcpu *vc)
{
	switch (vc->vc_run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vc->vc_vm, VM_STOP_POWEROFF, NULL);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vc->vc_vm, VM_STOP_REBOOT, NULL);
		break;
	default:
		vcpu_crash(vc, "guest reported a crash (KVM system event)");
		break;
	}
}

/* One exit; false when this vCPU must stop running. */
static bool
vcpu_handle_exit(struct vcpu *vc)
{
	struct kvm_run *run = vc->vc_run;
	char why[96];

	/* Atomic: the main thread reads the counters while we run. */
	if (run->exit_reason < VCPU_EXIT_REASONS)
		__atomic_fetch_add(&vc->vc_exits[run->exit_reason], 1,
		    __ATOMIC_RELAXED);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_pio(vc);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_mmio(vc);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_crash(vc, "triple fault");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_system_event(vc);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed (hardware reason "
		    "%#llx)", (unsigned long long)
		    run->fail_entry.hardware_entry_failure_reason);
		vcpu_crash(vc, why);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error (suberror %u)",
		    run->internal.suberror);
		vcpu_crash(vc, why);
		return false;
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; this means no irqchip. */
		vcpu_crash(vc, "unexpected HLT exit");
		return false;
	default:
		snprintf(why, sizeof(why), "unhandled KVM exit reason %u",
		    run->exit_reason);
		vcpu_crash(vc, why);
		return false;
	}
}

static void *
vcpu_thread(void *arg)
{
	struct vcpu *vc = arg;
	struct vm *vm = vc->vc_vm;
	char name[16], why[128];
	sigset_t set;

	/* Named and numbered, so `vmctl info` and top can show them. */
	snprintf(name, sizeof(name), "vcpu%u", vc->vc_id);
	(void)pthread_setname_np(pthread_self(), name);
	__atomic_store_n(&vc->vc_tid, (int)gettid(), __ATOMIC_RELAXED);
	/* Only vCPU threads take the kick signal. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* The jail's last step, before any guest code runs on this thread. */
	if (sbx_filter_threads &&
	    sbx_seccomp_install(SBX_VCPU, why, sizeof(why)) < 0) {
		vm_request_stop(vm, VM_STOP_ERROR, "vcpu%u: %s", vc->vc_id, why);
		return NULL;
	}
	if (vc->vc_id == 0)
		trace_point("first-run");

	while (__atomic_load_n(&vm->vm_stop, __ATOMIC_ACQUIRE) == VM_STOP_NONE) {
		if (ioctl(vc->vc_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vc->vc_run->immediate_exit = 0;
				continue;
			}
			vm_request_stop(vm, VM_STOP_ERROR, "vcpu%u: KVM_RUN: %s",
			    vc->vc_id, strerror(errno));
			break;
		}
		if (!vcpu_handle_exit(vc))
			break;
	}
	return NULL;
}

/*
 * A vCPU thread needs little stack: the exit loop and a device access.  The
 * default 8 MiB stack is 2 MiB-aligned, so transparent huge pages would back
 * its first touch with a whole 2 MiB page of RSS; 256 KiB is not.
 */
#define VCPU_STACK_SIZE		(256 * 1024)

int
vcpu_start_all(struct vm *vm)
{
	struct sigaction sa;
	pthread_attr_t attr;
	unsigned int i;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;	/* no SA_RESTART: KVM_RUN must fail */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	for (i = 0; i < vm->vm_nvcpus; i++) {
		struct vcpu *vc = &vm->vm_vcpus[i];

		rc = pthread_create(&vc->vc_thread, &attr, vcpu_thread, vc);
		if (rc != 0) {
			pthread_attr_destroy(&attr);
			return vm_fail(vm, -rc, "vcpu%u: cannot start thread: %s",
			    i, strerror(rc));
		}
		vc->vc_started = true;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

void
vcpu_kick_all(struct vm *vm)
{
	unsigned int i;

	for (i = 0; vm->vm_vcpus != NULL && i < vm->vm_nvcpus; i++) {
		struct vcpu *vc = &vm->vm_vcpus[i];

		if (!vc->vc_started)
			continue;
		/* immediate_exit covers a kick that lands before KVM_RUN. */
		__atomic_store_n(&vc->vc_run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vc->vc_thread, VCPU_KICK_SIGNAL);
	}
}

void
vcpu_join_all(struct vm *vm)
{
	unsigned int i;

	for (i = 0; vm->vm_vcpus != NULL && i < vm->vm_nvcpus; i++) {
		struct vcpu *vc = &vm->vm_vcpus[i];

		if (vc->vc_started)
			pthread_join(vc->vc_thread, NULL);
		vc->vc_started = false;
	}
}

void
vcpu_destroy_all(struct vm *vm)
{
	unsigned int i;

	if (vm->vm_vcpus == NULL)
		return;
	for (i = 0; i < vm->vm_nvcpus; i++) {
		struct vcpu *vc = &vm->vm_vcpus[i];

		if (vc->vc_run != NULL)
			munmap(vc->vc_run, vc->vc_run_size);
		if (vc->vc_fd >= 0)
			close(vc->vc_fd);
	}
	free(vm->vm_vcpus);
	vm->vm_vcpus = NULL;
}
