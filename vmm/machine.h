/*
 * The machine: one KVM VM, its vCPUs, memory, buses and platform devices.
 * Private to vmm/.
 */
#ifndef VMM_MACHINE_H
#define VMM_MACHINE_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"
#include "gm.h"
#include "irq.h"
#include "virtio_pci.h"
#include "vm.h"

struct vm_spec;
struct uart;
struct i8042;
struct acpi_pm;
struct ioloop;
struct pci_bus;
struct virtio_pci;

#define VM_MAX_VIRTIO		16

#define VCPU_EXIT_REASONS	64

struct vcpu {
	struct vm	*vc_vm;
	unsigned int	 vc_id;
	int		 vc_fd;
	struct kvm_run	*vc_run;
	size_t		 vc_run_size;
	pthread_t	 vc_thread;
	bool		 vc_started;
	int		 vc_tid;	/* the thread's id, once it runs */
	uint64_t	 vc_exits[VCPU_EXIT_REASONS];	/* by KVM exit reason */
};

/* Where the boot loader put things; vCPU 0 starts from here. */
struct boot_info {
	uint64_t	bi_entry;	/* 64-bit entry point */
	uint64_t	bi_zero_page;	/* struct boot_params, passed in %rsi */
	uint64_t	bi_pml4;	/* identity-mapping page tables */
	uint64_t	bi_gdt;
	uint16_t	bi_gdt_limit;
	uint64_t	bi_stack;
};

struct vm {
	const struct vm_spec	*vm_spec;
	int			 vm_kvm_fd;
	int			 vm_fd;
	struct gm		 vm_gm;
	struct bus		 vm_bus;
	unsigned int		 vm_nvcpus;
	struct vcpu		*vm_vcpus;
	struct kvm_cpuid2	*vm_cpuid;	/* KVM_GET_SUPPORTED_CPUID */
	struct boot_info	 vm_boot;
	struct vm_events	 vm_ev;
	struct irq_table	 vm_irq;		/* GSI routes */
	int			 vm_stop;	/* enum vm_stop; first reason wins */
	int			 vm_stop_fd;	/* eventfd: a stop was requested */
	pthread_mutex_t		 vm_err_lock;
	char			 vm_err[512];	/* why it stopped, if not poweroff */
	struct uart		*vm_uart;
	struct i8042		*vm_kbc;
	struct acpi_pm		*vm_pm;
	struct ioloop		*vm_loop;	/* the I/O thread */
	struct pci_bus		*vm_pci;
	struct virtio_pci_host	 vm_vhost;
	struct virtio_pci	*vm_virtio[VM_MAX_VIRTIO];
	unsigned int		 vm_nvirtio;
	bool			 vm_badspec;	/* vm_err is about the spec */
};

/* vm.c: the KVM VM and its memory.  All return 0 or -errno with vm_err set. */
int	vm_open_kvm(int *kvm_fd, char *err, size_t errlen);
int	vm_create(struct vm *, int kvm_fd, const struct vm_spec *);
void	vm_destroy(struct vm *);
/* Record why the VM stops (first caller wins) and wake the main loop. */
void	vm_request_stop(struct vm *, enum vm_stop why, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Record an error message; returns rc so callers can `return vm_fail(...)`. */
int	vm_fail(struct vm *, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* vcpu.c */
int	vcpu_create_all(struct vm *);
int	vcpu_start_all(struct vm *);
void	vcpu_kick_all(struct vm *);
void	vcpu_join_all(struct vm *);
void	vcpu_destroy_all(struct vm *);

/* cpuid.c: the CPUID table for one vCPU (topology, APIC ID). */
int	cpuid_setup(struct vm *, struct vcpu *);

/*
 * boot.c: the Linux boot protocol in two steps.  boot_probe opens and checks
 * the kernel and initrd against the spec before any VM exists (errors in
 * err, naming the spec key); boot_linux loads them into a VM and fills
 * vm_boot.  boot_close releases the files.
 */
struct boot_image {
	int		bim_kfd, bim_ifd;
	off_t		bim_ksize, bim_isize;
	off_t		bim_koff;	/* protected-mode image in the file */
	uint64_t	bim_load;	/* where it goes */
	uint64_t	bim_need;	/* bytes it occupies there (init_size) */
	uint64_t	bim_initrd_gpa;
	uint8_t		bim_hdr[1024];	/* boot sector and setup header */
};
int	boot_probe(const struct vm_spec *, struct boot_image *, char *err,
	    size_t errlen);
int	boot_linux(struct vm *, const struct boot_image *, uint64_t rsdp_gpa);
void	boot_close(struct boot_image *);

/* pcihost.c: the PCI bus, virtio devices and the I/O thread. */
int	pcihost_create(struct vm *);
int	pcihost_start(struct vm *);
void	pcihost_destroy(struct vm *);

/* platform.c: ACPI tables and legacy devices. */
int	platform_create(struct vm *, int console_out, uint64_t *rsdp_gpa);
void	platform_destroy(struct vm *);

#endif /* VMM_MACHINE_H */
