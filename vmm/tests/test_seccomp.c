/*
 * The seccomp allowlists (vmm/sbx_seccomp.c): in a child per case, the
 * class's filter is installed; what the class needs still reaches the
 * kernel, and what it must not do kills the process with SIGSYS.  The
 * same filters run in the lab's jailed VMMs (guest-tests/test_jail.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbx_seccomp.h"

enum outcome { LIVES, KILLED };

/* Run fn in a child under class's filter; how the child ended. */
static enum outcome
under(enum sbx_class c, int (*fn)(void))
{
	char err[128];
	pid_t p;
	int ws;

	p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		if (sbx_seccomp_install(c, err, sizeof(err)) < 0)
			_exit(99);
		/*
		 * Raw calls: no library code between us and the filter (ASan's
		 * _exit would call sigaltstack, which no class needs).
		 */
		syscall(SYS_exit_group, fn() == 0 ? 0 : 98);
	}
	assert_int_equal(waitpid(p, &ws, 0), p);
	if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGSYS)
		return KILLED;
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
	return LIVES;
}

/* An allowed ioctl on a bad fd reaches the kernel: EBADF, not death. */
static int
do_kvm_run(void)
{
	return syscall(SYS_ioctl, -1, KVM_RUN, 0) == -1 && errno == EBADF ? 0 : 1;
}

static int
do_tunsetqueue(void)
{
	return syscall(SYS_ioctl, -1, TUNSETQUEUE, 0) == -1 && errno == EBADF ?
	    0 : 1;
}

static int
do_kvm_create_vm(void)
{
	(void)syscall(SYS_ioctl, -1, KVM_CREATE_VM, 0);
	return 0;
}

static int
do_tunsetiff(void)
{
	(void)syscall(SYS_ioctl, -1, TUNSETIFF, 0);
	return 0;
}

/* A write of nothing to stderr: the console and eventfds need write. */
static int
do_pipe_rw(void)
{
	char c = 'x';

	return syscall(SYS_write, 2, &c, 0) == 0 ? 0 : 1;
}

static int
do_openat(void)
{
	(void)syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
	return 0;
}

static int
do_execve(void)
{
	char *argv[] = { "/bin/true", NULL };

	(void)syscall(SYS_execve, argv[0], argv, NULL);
	return 0;
}

static int
do_socket(void)
{
	(void)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return 0;
}

static int
do_mmap_exec(void)
{
	(void)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 0;
}

static int
do_mmap_rw(void)
{
	void *p = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p != MAP_FAILED && syscall(SYS_munmap, p, 4096) == 0 ? 0 : 1;
}

static int
do_setuid(void)
{
	(void)syscall(SYS_setuid, 0);
	return 0;
}

static int
do_ptrace(void)
{
	(void)syscall(SYS_ptrace, 0, 0, 0, 0);
	return 0;
}

static int
do_prctl_name(void)
{
	return syscall(SYS_prctl, PR_SET_NAME, "t", 0, 0, 0) == 0 ? 0 : 1;
}

static int
do_prctl_caps(void)
{
	(void)syscall(SYS_prctl, PR_CAPBSET_READ, 0, 0, 0, 0);
	return 0;
}

static int
do_epoll_wait(void)
{
	return syscall(SYS_epoll_wait, -1, NULL, 1, 0) == -1 ? 0 : 1;
}

static void
test_vcpu(void **state)
{
	(void)state;
	assert_int_equal(under(SBX_VCPU, do_kvm_run), LIVES);
	assert_int_equal(under(SBX_VCPU, do_tunsetqueue), LIVES);
	assert_int_equal(under(SBX_VCPU, do_pipe_rw), LIVES);
	assert_int_equal(under(SBX_VCPU, do_mmap_rw), LIVES);
	assert_int_equal(under(SBX_VCPU, do_prctl_name), LIVES);
	/* A vCPU makes no VM, opens nothing, waits on no epoll. */
	assert_int_equal(under(SBX_VCPU, do_kvm_create_vm), KILLED);
	assert_int_equal(under(SBX_VCPU, do_tunsetiff), KILLED);
	assert_int_equal(under(SBX_VCPU, do_epoll_wait), KILLED);
}

static void
test_io(void **state)
{
	(void)state;
	assert_int_equal(under(SBX_IO, do_epoll_wait), LIVES);
	assert_int_equal(under(SBX_IO, do_tunsetqueue), LIVES);
	assert_int_equal(under(SBX_IO, do_pipe_rw), LIVES);
	/* The I/O thread never runs a vCPU. */
	assert_int_equal(under(SBX_IO, do_kvm_run), KILLED);
}

static void
test_main(void **state)
{
	(void)state;
	assert_int_equal(under(SBX_MAIN, do_pipe_rw), LIVES);
	assert_int_equal(under(SBX_MAIN, do_mmap_rw), LIVES);
	assert_int_equal(under(SBX_MAIN, do_kvm_run), KILLED);
}

/* What no class may do. */
static void
test_forbidden_everywhere(void **state)
{
	int (*const bad[])(void) = { do_openat, do_execve, do_socket,
	    do_mmap_exec, do_setuid, do_ptrace, do_prctl_caps };
	unsigned int c, i;

	(void)state;
	for (c = SBX_VCPU; c <= SBX_MAIN; c++)
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(under((enum sbx_class)c, bad[i]),
			    KILLED);
}

static void
test_bad_class(void **state)
{
	char err[128];

	(void)state;
	assert_int_equal(sbx_seccomp_install((enum sbx_class)7, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "class"));
	assert_string_equal(sbx_class_name(SBX_IO), "io");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu),
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_main),
		cmocka_unit_test(test_forbidden_everywhere),
		cmocka_unit_test(test_bad_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
