/*
 * Volume operations at host speed (docs/bench.md, "Volumes"): the time to
 * clone a 10 GiB volume, and send and receive throughput.
 *
 * Usage: vol_bench DIR [SEND_MIB]
 * Makes DIR/bench.pool (sparse), a 10 GiB volume with a 16 KiB block
 * written every MiB (its tree is as wide as a full volume's), and a
 * SEND_MIB volume (default 512) of random data.  Prints:
 *   vol clone-10g ms=<median of 21>
 *   vol send mib=<n> secs=<s> mbps=<MB/s>
 *   vol receive mib=<n> secs=<s> mbps=<MB/s>
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vol.h"

static char err[512];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
ck(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "vol_bench: %s: %s (%s)\n", what, err, strerror(-rc));
		exit(1);
	}
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	char pool[4096], stream[4096], name[64];
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 0) : 512, i;
	struct vol_pool *p;
	struct vol *v;
	unsigned char *buf;
	double t[21], t0, secs;
	int fd, k;

	if (argc < 2) {
		fprintf(stderr, "usage: vol_bench DIR [SEND_MIB]\n");
		return 2;
	}
	snprintf(pool, sizeof(pool), "%s/bench.pool", argv[1]);
	snprintf(stream, sizeof(stream), "%s/bench.stream", argv[1]);
	unlink(pool);
	ck(vol_pool_create(pool, "bench", 16ull << 30, err, sizeof(err)), "pool create");
	ck(vol_pool_open(pool, 0, &p, err, sizeof(err)), "pool open");
	if (!(buf = malloc(1 << 20)))
		return 1;
	for (i = 0; i < (1 << 20); i++)
		buf[i] = (unsigned char)rand();

	ck(vol_create(p, "big", 10ull << 30, NULL, err, sizeof(err)), "create big");
	ck(vol_open(p, "big", &v, err, sizeof(err)), "open big");
	for (i = 0; i < 10240; i++)
		ck(vol_pwrite(v, buf, 16384, i << 20), "write big");
	vol_close(v);
	ck(vol_snapshot(p, "big@s", err, sizeof(err)), "snapshot big");
	for (k = 0; k < 21; k++) {
		snprintf(name, sizeof(name), "c%d", k);
		t0 = now();
		ck(vol_clone(p, "big@s", name, err, sizeof(err)), "clone");
		t[k] = (now() - t0) * 1000;
	}
	qsort(t, 21, sizeof(t[0]), dcmp);
	printf("vol clone-10g ms=%.2f\n", t[10]);
	fflush(stdout);

	ck(vol_create(p, "data", mib << 20, NULL, err, sizeof(err)), "create data");
	ck(vol_open(p, "data", &v, err, sizeof(err)), "open data");
	for (i = 0; i < mib; i++) {
		buf[i % 4096] ^= 0x5a;	/* no two MiB alike */
		ck(vol_pwrite(v, buf, 1 << 20, i << 20), "write data");
	}
	vol_close(v);
	ck(vol_snapshot(p, "data@s", err, sizeof(err)), "snapshot data");

	fd = open(stream, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 1;
	t0 = now();
	ck(vol_send(p, "data@s", NULL, fd, NULL, NULL, err, sizeof(err)), "send");
	secs = now() - t0;
	printf("vol send mib=%llu secs=%.2f mbps=%.0f\n", (unsigned long long)mib,
	    secs, (double)(mib << 20) / 1e6 / secs);
	fflush(stdout);
	lseek(fd, 0, SEEK_SET);
	t0 = now();
	ck(vol_receive(p, "copy", fd, false, NULL, NULL, err, sizeof(err)), "receive");
	secs = now() - t0;
	printf("vol receive mib=%llu secs=%.2f mbps=%.0f\n", (unsigned long long)mib,
	    secs, (double)(mib << 20) / 1e6 / secs);
	close(fd);
	unlink(stream);
	ck(vol_pool_close(p), "close");
	unlink(pool);
	free(buf);
	return 0;
}
