/*
 * Unit tests for the tap backend (devices/tap.c).  Every test that touches
 * the network runs in a forked child inside fresh network and mount
 * namespaces (unshare(CLONE_NEWNET | CLONE_NEWNS), with /sys remounted so
 * that /sys/class/net shows the new namespace).  Whatever a child creates
 * dies with its namespace when it exits, pass or fail, so the host's
 * namespace is never touched.  A child reports 0 (pass), 1 (fail, with a
 * message on stderr) or CHILD_SKIP; where namespaces or /dev/net/tun are
 * not available the tests skip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>

#include <cmocka.h>

#include "tap.h"

#define CHILD_SKIP	77
#define CHILD_TIMEOUT	30	/* seconds before SIGALRM ends a stuck child */

/* In a child: fail loudly; the namespace takes everything with it. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		_exit(1);						\
	}								\
} while (0)

#define CHECK_ERR(r, want, err, substr) do {				\
	if ((r) != (want) || strstr((err), (substr)) == NULL) {		\
		fprintf(stderr, "%s:%d: got %d \"%s\", want %d \"%s\"\n",\
		    __FILE__, __LINE__, (int)(r), (err), (int)(want),	\
		    (substr));						\
		_exit(1);						\
	}								\
} while (0)

static struct tap_opts
opts(const char *name, const char *bridge, unsigned int queues)
{
	struct tap_opts o;

	memset(&o, 0, sizeof(o));
	snprintf(o.to_name, sizeof(o.to_name), "%s", name);
	snprintf(o.to_bridge, sizeof(o.to_bridge), "%s", bridge);
	o.to_queues = queues;
	return o;
}

/* Enter new namespaces and run fn; only ever called in a child. */
static int
netns_child(int (*fn)(void))
{
	int fd;

	alarm(CHILD_TIMEOUT);
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		fprintf(stderr, "skip: unshare(CLONE_NEWNET|CLONE_NEWNS): "
		    "%s\n", strerror(errno));
		return CHILD_SKIP;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL) < 0) {
		fprintf(stderr, "skip: remounting /sys: %s\n",
		    strerror(errno));
		return CHILD_SKIP;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "skip: /dev/net/tun: %s\n", strerror(errno));
		return CHILD_SKIP;
	}
	close(fd);
	return fn();
}

static void
run_in_netns(int (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		exit(netns_child(fn));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_SKIP)
		skip();
	if (WIFSIGNALED(st))
		fail_msg("child killed by signal %d", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* sysfs helpers, valid in the child after netns_child's remount. */
static bool
if_exists(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return access(path, F_OK) == 0;
}

static unsigned long
if_attr(const char *name, const char *attr)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", name, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n > 0);
	buf[n] = '\0';
	return strtoul(buf, NULL, 0);
}

/* Number of interfaces in the namespace, "lo" included. */
static int
if_count(void)
{
	struct if_nameindex *ni, *p;
	int n = 0;

	ni = if_nameindex();
	CHECK(ni != NULL);
	for (p = ni; p->if_index != 0; p++)
		n++;
	if_freenameindex(ni);
	return n;
}

/* ---------------------------------------------------------------- */

static int
child_create_close(void)
{
	struct tap_opts o = opts("", "", 1);
	char err[256] = "", name[TAP_NAME_MAX];
	struct tap *t;
	int fd;

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	CHECK(strncmp(tap_name(t), "hull", 4) == 0);
	CHECK(tap_created(t));
	CHECK(tap_queues(t) == 1);
	snprintf(name, sizeof(name), "%s", tap_name(t));
	CHECK(if_exists(name));
	CHECK(if_attr(name, "flags") & IFF_UP);
	fd = tap_fd(t, 0);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(tap_fd(t, 1) == -EINVAL);
	tap_close(t);
	CHECK(!if_exists(name));

	/* A chosen name and an MTU. */
	o = opts("hulltest0", "", 1);
	o.to_mtu = 1400;
	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	CHECK(strcmp(tap_name(t), "hulltest0") == 0);
	CHECK(if_attr("hulltest0", "mtu") == 1400);
	CHECK(if_attr("hulltest0", "flags") & IFF_UP);
	tap_close(t);
	CHECK(!if_exists("hulltest0"));
	CHECK(if_count() == 1);
	return 0;
}

static void
test_create_close(void **state)
{
	(void)state;
	run_in_netns(child_create_close);
}

static int
child_in_use(void)
{
	struct tap_opts o = opts("tap0", "", 1);
	struct tap *t, *t2;
	char err[256] = "";
	int r;

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	r = tap_open(&o, &t2, err, sizeof(err));
	CHECK_ERR(r, -EBUSY, err, "tap0: in use by another process");
	CHECK(t2 == NULL);
	/* The failed attempt must not have harmed the first. */
	CHECK(if_exists("tap0"));
	tap_close(t);
	CHECK(!if_exists("tap0"));
	return 0;
}

static void
test_in_use(void **state)
{
	(void)state;
	run_in_netns(child_in_use);
}

/* Make or unmake a persistent tap, as `ip tuntap add/del` would. */
static void
persist(const char *name, int on)
{
	struct ifreq ifr;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	CHECK(ioctl(fd, TUNSETIFF, &ifr) == 0);
	CHECK(ioctl(fd, TUNSETPERSIST, (unsigned long)on) == 0);
	close(fd);
}

static int
child_attach_persistent(void)
{
	struct tap_opts o = opts("ptap0", "", 1);
	char err[256] = "";
	struct tap *t;
	int r, s;

	persist("ptap0", 1);
	CHECK(if_exists("ptap0"));
	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	CHECK(!tap_created(t));
	CHECK(if_attr("ptap0", "flags") & IFF_UP);
	tap_close(t);
	CHECK(if_exists("ptap0"));	/* left as found */

	/* Only a tap we create joins a bridge. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	if (ioctl(s, SIOCBRADDBR, "br0") == 0) {
		o = opts("ptap0", "br0", 1);
		r = tap_open(&o, &t, err, sizeof(err));
		CHECK_ERR(r, -EEXIST, err, "ptap0: exists");
		CHECK(ioctl(s, SIOCBRDELBR, "br0") == 0);
	} else {
		fprintf(stderr, "note: SIOCBRADDBR: %s; bridge case not run\n",
		    strerror(errno));
	}
	close(s);

	persist("ptap0", 0);
	CHECK(!if_exists("ptap0"));
	return 0;
}

static void
test_attach_persistent(void **state)
{
	(void)state;
	run_in_netns(child_attach_persistent);
}

static int
child_bridge(void)
{
	struct tap_opts o = opts("btap0", "br0", 1);
	char err[256] = "", link[128], path[128];
	struct tap *t;
	ssize_t n;
	int r, s;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	if (ioctl(s, SIOCBRADDBR, "br0") < 0) {
		fprintf(stderr, "skip: SIOCBRADDBR: %s (no bridge module?)\n",
		    strerror(errno));
		return CHILD_SKIP;
	}

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	snprintf(path, sizeof(path), "/sys/class/net/%s/master", tap_name(t));
	n = readlink(path, link, sizeof(link) - 1);
	CHECK(n > 0);
	link[n] = '\0';
	CHECK(strlen(link) >= 4 && strcmp(link + strlen(link) - 4, "/br0")
	    == 0);
	CHECK(access("/sys/class/net/br0/brif/btap0", F_OK) == 0);
	CHECK(if_attr("btap0", "flags") & IFF_UP);
	tap_close(t);
	CHECK(!if_exists("btap0"));
	CHECK(access("/sys/class/net/br0/brif/btap0", F_OK) < 0);

	/* A missing bridge: an error, and no tap made. */
	o = opts("btap1", "br9", 1);
	r = tap_open(&o, &t, err, sizeof(err));
	CHECK_ERR(r, -ENODEV, err, "bridge br9 does not exist");
	CHECK(t == NULL);
	CHECK(!if_exists("btap1"));

	/* Something that is not a bridge: the tap made is deleted. */
	o = opts("btap2", "lo", 1);
	r = tap_open(&o, &t, err, sizeof(err));
	CHECK(r < 0);
	CHECK(strstr(err, "lo is not a bridge") != NULL);
	CHECK(!if_exists("btap2"));

	CHECK(ioctl(s, SIOCBRDELBR, "br0") == 0);
	close(s);
	CHECK(if_count() == 1);
	return 0;
}

static void
test_bridge(void **state)
{
	(void)state;
	run_in_netns(child_bridge);
}

/* Ethernet broadcast, IPv4, UDP 10.0.0.1:1234 -> 10.0.0.2:5678. */
static size_t
make_frame(uint8_t *f, const char *payload)
{
	size_t plen = strlen(payload), iplen = 20 + 8 + plen;
	uint32_t sum = 0;
	size_t i;

	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memcpy(f + 14, "\x45\x00\x00\x00\x12\x34\x40\x00\x40\x11\x00\x00"
	    "\x0a\x00\x00\x01\x0a\x00\x00\x02", 20);
	f[16] = (uint8_t)(iplen >> 8);
	f[17] = (uint8_t)iplen;
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(f[14 + i] << 8 | f[15 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	/* UDP; checksum 0 means none in IPv4. */
	memcpy(f + 34, "\x04\xd2\x16\x2e\x00\x00\x00\x00", 8);
	f[38] = (uint8_t)((8 + plen) >> 8);
	f[39] = (uint8_t)(8 + plen);
	memcpy(f + 42, payload, plen);
	return 42 + plen;
}

static int
packet_socket(const char *ifname)
{
	struct sockaddr_ll sll;
	int s;

	s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_ALL));
	CHECK(s >= 0);
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	CHECK(sll.sll_ifindex > 0);
	CHECK(bind(s, (struct sockaddr *)&sll, sizeof(sll)) == 0);
	return s;
}

/*
 * Read from fd until a packet whose bytes from off on equal want (other
 * traffic, such as IPv6 neighbour discovery, is skipped); its length, or
 * -1 after a 3-second wait.
 */
static ssize_t
await_frame(int fd, uint8_t *buf, size_t size, size_t off,
    const uint8_t *want, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (poll(&pfd, 1, 3000) == 1) {
		n = read(fd, buf, size);
		if (n < 0 && errno == EAGAIN)
			continue;
		CHECK(n >= 0);
		if ((size_t)n == off + len && memcmp(buf + off, want, len) == 0)
			return n;
	}
	return -1;
}

static int
child_vnet_hdr(void)
{
	struct tap_opts o = opts("vtap0", "", 1);
	uint8_t hdr[TAP_VNET_HDR_LEN], frame[128], buf[2048];
	struct iovec iov[2];
	char err[256] = "";
	struct tap *t;
	size_t len;
	ssize_t n;
	int s;

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	s = packet_socket("vtap0");

	/* Guest to host: header + frame on the fd, frame alone on the wire. */
	memset(hdr, 0, sizeof(hdr));
	len = make_frame(frame, "hull tap: guest to host");
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
	iov[1] = (struct iovec){ .iov_base = frame, .iov_len = len };
	CHECK(tap_writev(t, 0, iov, 2) == (ssize_t)(sizeof(hdr) + len));
	CHECK(await_frame(s, buf, sizeof(buf), 0, frame, len) ==
	    (ssize_t)len);

	/* Host to guest: the 12-byte header comes first, then the frame. */
	len = make_frame(frame, "hull tap: host to guest");
	CHECK(send(s, frame, len, 0) == (ssize_t)len);
	n = await_frame(tap_fd(t, 0), buf, sizeof(buf), TAP_VNET_HDR_LEN,
	    frame, len);
	CHECK(n == (ssize_t)(TAP_VNET_HDR_LEN + len));
	CHECK((buf[0] & 1) == 0);	/* no VIRTIO_NET_HDR_F_NEEDS_CSUM */
	CHECK(buf[1] == 0);		/* VIRTIO_NET_HDR_GSO_NONE */

	/* Nothing more waiting: the fd does not block. */
	iov[0] = (struct iovec){ .iov_base = buf, .iov_len = sizeof(buf) };
	while ((n = tap_readv(t, 0, iov, 1)) > 0)
		;
	CHECK(n == -EAGAIN);

	close(s);
	tap_close(t);
	return 0;
}

static void
test_vnet_hdr(void **state)
{
	(void)state;
	run_in_netns(child_vnet_hdr);
}

/*
 * Batches (tap_batch_init, tap_writev_batch, tap_readv_batch): packets go
 * out and come in whole and in order, and a batch read ends in -EAGAIN
 * once the queue is empty, on kernels that batch both ways or only writes.
 */
static int
child_batch(void)
{
	struct tap_opts o = opts("btap0", "", 1);
	static uint8_t frames[5][128], buf[16][2048], rbuf[2048];
	uint8_t hdr[TAP_VNET_HDR_LEN] = { 0 };
	struct iovec wiov[5][2], riov[16];
	struct tap_io io[16];
	char err[256] = "", payload[64];
	size_t len[5];
	unsigned int i, next = 0;
	struct tap *t;
	int s, rc;

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	/* Without io_uring (kernel.io_uring_disabled) the calls go one by one. */
	rc = tap_batch_init(t, 16);
	if (rc < 0)
		fprintf(stderr, "note: no io_uring batches here (%s): testing "
		    "the one-by-one path\n", strerror(-rc));
	else
		CHECK(tap_batch_can(t, true));
	s = packet_socket("btap0");

	for (i = 0; i < 5; i++) {
		snprintf(payload, sizeof(payload), "hull tap batch out %u", i);
		len[i] = make_frame(frames[i], payload);
		wiov[i][0] = (struct iovec){ hdr, sizeof(hdr) };
		wiov[i][1] = (struct iovec){ frames[i], len[i] };
		io[i] = (struct tap_io){ wiov[i], 2, 0 };
	}
	tap_writev_batch(t, 0, io, 5);
	for (i = 0; i < 5; i++)
		CHECK(io[i].ti_res == (ssize_t)(sizeof(hdr) + len[i]));
	/* In order: a frame seen out of turn makes a later wait fail. */
	for (i = 0; i < 5; i++)
		CHECK(await_frame(s, rbuf, sizeof(rbuf), 0, frames[i],
		    len[i]) == (ssize_t)len[i]);

	for (i = 0; i < 5; i++) {
		snprintf(payload, sizeof(payload), "hull tap batch in %u", i);
		len[i] = make_frame(frames[i], payload);
		CHECK(send(s, frames[i], len[i], 0) == (ssize_t)len[i]);
	}
	usleep(100 * 1000);
	for (i = 0; i < 16; i++) {
		riov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
		io[i] = (struct tap_io){ &riov[i], 1, 0 };
	}
	tap_readv_batch(t, 0, io, 16);
	/* Ours in order among whatever else came (IPv6 neighbour talk). */
	for (i = 0; i < 16 && io[i].ti_res != -EAGAIN; i++) {
		CHECK(io[i].ti_res > 0);
		if (next < 5 && (size_t)io[i].ti_res == TAP_VNET_HDR_LEN +
		    len[next] && memcmp(buf[i] + TAP_VNET_HDR_LEN,
		    frames[next], len[next]) == 0)
			next++;
	}
	CHECK(next == 5);
	CHECK(i < 16);
	for (; i < 16; i++)
		CHECK(io[i].ti_res == -EAGAIN);

	close(s);
	tap_close(t);
	return 0;
}

static void
test_batch(void **state)
{
	(void)state;
	run_in_netns(child_batch);
}

static int
child_multiqueue(void)
{
	struct tap_opts o = opts("mtap0", "", 2);
	char err[256] = "";
	struct tap *t, *t2;
	struct stat st0, st1;
	unsigned int q;
	int r;

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	CHECK(tap_queues(t) == 2);
	CHECK(tap_fd(t, 0) >= 0 && tap_fd(t, 1) >= 0);
	CHECK(tap_fd(t, 0) != tap_fd(t, 1));
	CHECK(fstat(tap_fd(t, 0), &st0) == 0 && fstat(tap_fd(t, 1), &st1)
	    == 0);
	CHECK(fcntl(tap_fd(t, 1), F_GETFL) & O_NONBLOCK);
	CHECK(tap_fd(t, 2) == -EINVAL);
	CHECK(if_attr("mtap0", "tun_flags") & IFF_MULTI_QUEUE);

	/* A single-queue open of a multi-queue tap is refused. */
	o = opts("mtap0", "", 1);
	r = tap_open(&o, &t2, err, sizeof(err));
	CHECK_ERR(r, -EINVAL, err, "mtap0: exists");
	tap_close(t);
	CHECK(!if_exists("mtap0"));

	/* The most queues allowed. */
	o = opts("mtap1", "", TAP_MAX_QUEUES);
	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	for (q = 0; q < TAP_MAX_QUEUES; q++)
		CHECK(tap_fd(t, q) >= 0);
	tap_close(t);
	CHECK(!if_exists("mtap1"));
	return 0;
}

static void
test_multiqueue(void **state)
{
	(void)state;
	run_in_netns(child_multiqueue);
}

static int
child_offload(void)
{
	struct tap_opts o = opts("", "", 1);
	char err[256] = "";
	struct tap *t;

	CHECK(tap_open(&o, &t, err, sizeof(err)) == 0);
	CHECK(tap_set_offload(t, TAP_F_CSUM | TAP_F_TSO4) == 0);
	CHECK(tap_set_offload(t, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
	    TUN_F_TSO_ECN) == 0);
	CHECK(tap_set_offload(t, 0) == 0);
	CHECK(tap_set_offload(t, 0x10000) == -EINVAL);
	/* TSO without checksum offload makes no sense to the kernel. */
	CHECK(tap_set_offload(t, TAP_F_TSO4) == -EINVAL);
	tap_close(t);
	return 0;
}

static void
test_offload(void **state)
{
	(void)state;
	run_in_netns(child_offload);
}

/* Option checks come before any open: safe in the test's own process. */
static void
test_bad_opts(void **state)
{
	static const char *const names[] = {
		"a/b", "a b", "tap%d", "..", ".", "a:1", "tap\n",
	};
	struct tap_opts o;
	char err[256];
	struct tap *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		o = opts(names[i], "", 1);
		err[0] = '\0';
		t = (struct tap *)1;
		assert_int_equal(tap_open(&o, &t, err, sizeof(err)), -EINVAL);
		assert_null(t);
		assert_non_null(strstr(err, "tap name"));
	}
	/* 16 characters: no room for the NUL. */
	o = opts("", "", 1);
	memset(o.to_name, 'a', sizeof(o.to_name));
	assert_int_equal(tap_open(&o, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "want 1..15 characters"));

	o = opts("", "br/0", 1);
	assert_int_equal(tap_open(&o, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bridge name"));

	o = opts("", "", 0);
	assert_int_equal(tap_open(&o, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tap queues 0: want 1..16");
	o = opts("", "", TAP_MAX_QUEUES + 1);
	assert_int_equal(tap_open(&o, &t, err, sizeof(err)), -EINVAL);

	o = opts("", "", 1);
	o.to_mtu = 10;
	assert_int_equal(tap_open(&o, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tap mtu 10: want 68..65535");
	/* No error buffer is fine. */
	assert_int_equal(tap_open(&o, &t, NULL, 0), -EINVAL);
	tap_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_create_close),
		cmocka_unit_test(test_in_use),
		cmocka_unit_test(test_attach_persistent),
		cmocka_unit_test(test_bridge),
		cmocka_unit_test(test_vnet_hdr),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_offload),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
