/*
 * Shared by the volume tests: a pool in a temporary directory, a
 * deterministic random generator, and checks that compare a volume with a
 * flat reference image.
 */
#ifndef VOL_TESTUTIL_H
#define VOL_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vol.h"

static char vt_err[600];
static char vt_dir[64];

static inline const char *
vt_path(const char *name)
{
	static char buf[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", vt_dir, name);
	return buf[i];
}

static inline void
vt_setup_dir(void)
{
	snprintf(vt_dir, sizeof(vt_dir), "/tmp/hull-voltest.XXXXXX");
	assert_non_null(mkdtemp(vt_dir));
}

static inline void
vt_remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", vt_dir);
	assert_int_equal(system(cmd), 0);
}

/* A new pool "t" of mib MiB at name; returns it open. */
static inline struct vol_pool *
vt_pool(const char *name, unsigned int mib)
{
	struct vol_pool *p;

	unlink(vt_path(name));
	if (vol_pool_create(vt_path(name), "t", (uint64_t)mib << 20, vt_err,
	    sizeof(vt_err)) < 0 ||
	    vol_pool_open(vt_path(name), 0, &p, vt_err, sizeof(vt_err)) < 0)
		fail_msg("pool %s: %s", name, vt_err);
	return p;
}

#define VT_OK(call) do {						\
	int vt_rc_ = (call);						\
	if (vt_rc_ < 0)							\
		fail_msg("%s: %d: %s", #call, vt_rc_, vt_err);		\
} while (0)

static inline uint64_t
vt_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Fill with a mix: random bytes, a repeated byte (compressible), zeros. */
static inline void
vt_fill(uint64_t *s, unsigned char *b, size_t n)
{
	size_t i;
	unsigned int kind = (unsigned int)(vt_rand(s) % 4);
	unsigned char c = (unsigned char)vt_rand(s);

	for (i = 0; i < n; i++)
		b[i] = kind == 0 ? 0 : kind == 1 ? c : (unsigned char)vt_rand(s);
}

/* The whole volume equals ref[size]. */
static inline void
vt_same(struct vol *v, const unsigned char *ref, size_t size, const char *what)
{
	unsigned char *got = malloc(size);
	size_t i;

	assert_non_null(got);
	assert_int_equal(vol_pread(v, got, size, 0), 0);
	if (memcmp(got, ref, size) != 0) {
		for (i = 0; i < size && got[i] == ref[i]; i++)
			;
		free(got);
		fail_msg("%s: differs from the reference at byte %zu", what, i);
	}
	free(got);
}

#endif /* VOL_TESTUTIL_H */
