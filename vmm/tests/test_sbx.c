/*
 * The jail's bookkeeping that runs without privileges: the names it gives
 * links, and the cleanup vmctl does from a killed keeper's record
 * (sbx_cleanup_record).  The jail itself is tested in the lab
 * (guest-tests/test_jail.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sbx.h"

static void
test_names(void **state)
{
	char n[16];

	(void)state;
	sbx_tap_name(4194304, 7, n);
	assert_string_equal(n, "ht4194304n7");
	sbx_veth_name(4194304, 7, n);
	assert_string_equal(n, "hv4194304n7");
	/* IFNAMSIZ: the longest pid and nic index still fit. */
	assert_true(strlen(n) <= 15);
}

/* A pid that no process has: a child that exited and was reaped. */
static pid_t
dead_pid(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	assert_true(p > 0);
	assert_int_equal(waitpid(p, NULL, 0), p);
	return p;
}

struct rec {
	char	dir[64], root[96], cg[96], claim[96], rec[96];
};

static void
rec_make(struct rec *r, pid_t keeper)
{
	FILE *f;
	int fd;

	snprintf(r->dir, sizeof(r->dir), "/tmp/hull-test-sbx.XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->root, sizeof(r->root), "%s/root", r->dir);
	snprintf(r->cg, sizeof(r->cg), "%s/cgroup", r->dir);
	snprintf(r->claim, sizeof(r->claim), "%s/claim", r->dir);
	snprintf(r->rec, sizeof(r->rec), "%s/jail.rec", r->dir);
	assert_int_equal(mkdir(r->root, 0755), 0);
	assert_int_equal(mkdir(r->cg, 0755), 0);
	fd = open(r->claim, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	f = fopen(r->rec, "w");
	assert_non_null(f);
	fprintf(f, "pid %d\nvmm 0\nuid 1213530112\nroot %s\ncgroup %s\n"
	    "claim %s\nveth hv%dn0\n", (int)keeper, r->root, r->cg, r->claim,
	    (int)keeper);
	fclose(f);
}

static void
rec_free(struct rec *r)
{
	(void)rmdir(r->root);
	(void)rmdir(r->cg);
	(void)unlink(r->claim);
	(void)unlink(r->rec);
	assert_int_equal(rmdir(r->dir), 0);
}

/* A dead keeper's leftovers go, the record last. */
static void
test_cleanup_dead_keeper(void **state)
{
	struct rec r;
	int n;

	(void)state;
	rec_make(&r, dead_pid());
	n = sbx_cleanup_record(r.rec);
	/* root, cgroup, claim; the veth does not exist here. */
	assert_int_equal(n, 3);
	assert_int_equal(access(r.root, F_OK), -1);
	assert_int_equal(access(r.cg, F_OK), -1);
	assert_int_equal(access(r.claim, F_OK), -1);
	assert_int_equal(access(r.rec, F_OK), -1);
	rec_free(&r);
}

/* A keeper still alive cleans up after itself: nothing is touched. */
static void
test_cleanup_live_keeper(void **state)
{
	struct rec r;

	(void)state;
	rec_make(&r, getpid());
	assert_int_equal(sbx_cleanup_record(r.rec), 0);
	assert_int_equal(access(r.root, F_OK), 0);
	assert_int_equal(access(r.cg, F_OK), 0);
	assert_int_equal(access(r.claim, F_OK), 0);
	assert_int_equal(access(r.rec, F_OK), 0);
	rec_free(&r);
}

static void
test_cleanup_no_record(void **state)
{
	(void)state;
	assert_int_equal(sbx_cleanup_record("/nonexistent/jail.rec"),
	    -ENOENT);
}

/* A root that is not empty is not removed (rmdir, never rm -r). */
static void
test_cleanup_keeps_foreign_files(void **state)
{
	char f[128];
	struct rec r;
	int fd;

	(void)state;
	rec_make(&r, dead_pid());
	snprintf(f, sizeof(f), "%s/someone-elses", r.root);
	fd = open(f, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sbx_cleanup_record(r.rec), 2);
	assert_int_equal(access(f, F_OK), 0);
	assert_int_equal(unlink(f), 0);
	rec_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cleanup_dead_keeper),
		cmocka_unit_test(test_cleanup_live_keeper),
		cmocka_unit_test(test_cleanup_no_record),
		cmocka_unit_test(test_cleanup_keeps_foreign_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
