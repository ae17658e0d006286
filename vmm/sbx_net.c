/*
 * The jail's network step: the jailed VMM gets a network namespace of its
 * own and its taps move in with it.  Each tap Hull made for a nic with a
 * "bridge" reaches that bridge through a veth pair (docs/jail.md):
 *
 *   host namespace                 the VM's namespace
 *   bridge <- hv<keeper>n<i> ====== veth<i> -> br<i> <- tap (the guest)
 *
 * A tap the spec names that existed before (the operator's) stays where it
 * is: the VMM keeps only its file descriptors.  Links are made with
 * rtnetlink (rtnetlink(7)); a socket opened before the unshare still
 * speaks for the host namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sbx.h"
#include "spec.h"

/* A request being built: header, ifinfomsg, attributes. */
struct nlreq {
	struct nlmsghdr	*nr_h;
	char		 nr_buf[1024];
	struct rtattr	*nr_nest[4];
	unsigned int	 nr_depth;
};

static struct ifinfomsg *
nl_begin(struct nlreq *r, uint16_t type, uint16_t flags, int ifindex)
{
	struct ifinfomsg *ifi;

	memset(r, 0, sizeof(*r));
	r->nr_h = (struct nlmsghdr *)r->nr_buf;
	r->nr_h->nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	r->nr_h->nlmsg_type = type;
	r->nr_h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ifi = NLMSG_DATA(r->nr_h);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return ifi;
}

static struct rtattr *
nl_attr(struct nlreq *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(r->nr_buf +
	    NLMSG_ALIGN(r->nr_h->nlmsg_len));

	/* Requests here are a few hundred bytes; the buffer is fixed. */
	if (NLMSG_ALIGN(r->nr_h->nlmsg_len) + RTA_SPACE(len) >
	    sizeof(r->nr_buf))
		return NULL;
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(a), data, len);
	r->nr_h->nlmsg_len = NLMSG_ALIGN(r->nr_h->nlmsg_len) +
	    (unsigned int)RTA_SPACE(len);
	return a;
}

static void
nl_str(struct nlreq *r, uint16_t type, const char *s)
{
	(void)nl_attr(r, type, s, strlen(s) + 1);
}

static void
nl_u32(struct nlreq *r, uint16_t type, uint32_t v)
{
	(void)nl_attr(r, type, &v, sizeof(v));
}

static void
nl_nest(struct nlreq *r, uint16_t type)
{
	r->nr_nest[r->nr_depth++] = nl_attr(r, type, NULL, 0);
}

static void
nl_end(struct nlreq *r)
{
	struct rtattr *a = r->nr_nest[--r->nr_depth];

	if (a != NULL)
		a->rta_len = (unsigned short)(r->nr_buf +
		    r->nr_h->nlmsg_len - (char *)a);
}

/* Send the request and wait for its acknowledgement; 0 or -errno. */
static int
nl_talk(int fd, struct nlreq *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	struct nlmsghdr *h;
	struct nlmsgerr *e;
	ssize_t n;

	r->nr_h->nlmsg_seq = 1;
	if (sendto(fd, r->nr_buf, r->nr_h->nlmsg_len, 0,
	    (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		    h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			e = NLMSG_DATA(h);
			return e->error;
		}
	}
}

int
sbx_nl_open(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/* Set the link called name up, and into master (ifindex, 0: none). */
static int
nl_link_up(int fd, const char *name, int master)
{
	struct nlreq r;
	struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK, 0, 0);

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	nl_str(&r, IFLA_IFNAME, name);
	if (master > 0)
		nl_u32(&r, IFLA_MASTER, (uint32_t)master);
	return nl_talk(fd, &r);
}

/* Make a veth pair: host in fd's namespace, into bridge; peer in ns_fd. */
static int
nl_veth(int fd, const char *host, int bridge, const char *peer, int ns_fd,
    unsigned int mtu)
{
	struct nlreq r;
	struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK,
	    NLM_F_CREATE | NLM_F_EXCL, 0), *pi;

	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	nl_str(&r, IFLA_IFNAME, host);
	nl_u32(&r, IFLA_MTU, mtu);
	nl_u32(&r, IFLA_MASTER, (uint32_t)bridge);
	nl_nest(&r, IFLA_LINKINFO);
	nl_str(&r, IFLA_INFO_KIND, "veth");
	nl_nest(&r, IFLA_INFO_DATA);
	nl_nest(&r, VETH_INFO_PEER);
	/* The peer's attributes follow an ifinfomsg of its own. */
	pi = RTA_DATA(r.nr_nest[r.nr_depth - 1]);
	memset(pi, 0, sizeof(*pi));
	r.nr_h->nlmsg_len += NLMSG_ALIGN(sizeof(*pi));
	nl_str(&r, IFLA_IFNAME, peer);
	nl_u32(&r, IFLA_MTU, mtu);
	nl_u32(&r, IFLA_NET_NS_FD, (uint32_t)ns_fd);
	nl_end(&r);
	nl_end(&r);
	nl_end(&r);
	return nl_talk(fd, &r);
}

/* Make a bridge called name in fd's namespace. */
static int
nl_bridge(int fd, const char *name, unsigned int mtu)
{
	struct nlreq r;
	struct ifinfomsg *ifi = nl_begin(&r, RTM_NEWLINK,
	    NLM_F_CREATE | NLM_F_EXCL, 0);

	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	nl_str(&r, IFLA_IFNAME, name);
	nl_u32(&r, IFLA_MTU, mtu);
	nl_nest(&r, IFLA_LINKINFO);
	nl_str(&r, IFLA_INFO_KIND, "bridge");
	nl_end(&r);
	return nl_talk(fd, &r);
}

/* Move link ifindex of fd's namespace into ns_fd. */
static int
nl_move(int fd, int ifindex, int ns_fd)
{
	struct nlreq r;

	(void)nl_begin(&r, RTM_NEWLINK, 0, ifindex);
	nl_u32(&r, IFLA_NET_NS_FD, (uint32_t)ns_fd);
	return nl_talk(fd, &r);
}

int
sbx_nl_del(int fd, const char *name)
{
	struct nlreq r;

	(void)nl_begin(&r, RTM_DELLINK, 0, 0);
	nl_str(&r, IFLA_IFNAME, name);
	return nl_talk(fd, &r);
}

static unsigned int
link_mtu(const char *name)
{
	char p[64], buf[16];
	unsigned int mtu = 1500;
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/sys/class/net/%s/mtu", name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mtu;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		(void)sscanf(buf, "%u", &mtu);
	}
	return mtu;
}

/* Turn IPv6 off in the new namespace: its links must not talk themselves. */
static void
net_quiet(void)
{
	static const char *const knobs[] = {
		"/proc/sys/net/ipv6/conf/all/disable_ipv6",
		"/proc/sys/net/ipv6/conf/default/disable_ipv6",
	};
	unsigned int i;
	int fd;

	for (i = 0; i < 2; i++) {
		fd = open(knobs[i], O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
	}
}

int
sbx_net_enter(struct sbx *sb, char *err, size_t errlen)
{
	const struct vm_spec *spec = sb->sb_spec;
	int tap_idx[SPEC_NICS_MAX], br_idx[SPEC_NICS_MAX];
	unsigned int mtu[SPEC_NICS_MAX], i;
	char tap[16], veth[16], inner[16], br[16];
	int ns_fd = -1, nl = -1, rc;

	/* Find the host's links while their names still mean the host's. */
	for (i = 0; i < spec->vs_nnics; i++) {
		const struct nic_spec *ns = &spec->vs_nics[i];

		sbx_tap_name(sb->sb_keeper, i, tap);
		tap_idx[i] = br_idx[i] = 0;
		if (ns->ns_bridge[0] == '\0' || strcmp(ns->ns_tap, tap) != 0)
			continue;	/* the operator's tap: it stays */
		tap_idx[i] = (int)if_nametoindex(tap);
		br_idx[i] = (int)if_nametoindex(ns->ns_bridge);
		mtu[i] = link_mtu(tap);
		if (tap_idx[i] == 0 || br_idx[i] == 0) {
			snprintf(err, errlen, "jail: nics[%u]: %s or %s is gone",
			    i, tap, ns->ns_bridge);
			return -ENODEV;
		}
	}
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "jail: network namespace: %s",
		    strerror(errno));
		return -errno;
	}
	net_quiet();
	ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	nl = sbx_nl_open();
	if (ns_fd < 0 || nl < 0) {
		rc = -errno;
		snprintf(err, errlen, "jail: network namespace: %s",
		    strerror(errno));
		goto out;
	}
	rc = nl_link_up(nl, "lo", 0);
	for (i = 0; rc == 0 && i < spec->vs_nnics; i++) {
		if (tap_idx[i] == 0)
			continue;
		sbx_tap_name(sb->sb_keeper, i, tap);
		sbx_veth_name(sb->sb_keeper, i, veth);
		snprintf(inner, sizeof(inner), "veth%u", i);
		snprintf(br, sizeof(br), "br%u", i);
		if ((rc = nl_veth(sb->sb_nl, veth, br_idx[i], inner, ns_fd,
		    mtu[i])) < 0) {
			snprintf(err, errlen, "jail: nics[%u]: veth %s into "
			    "bridge %s: %s", i, veth, spec->vs_nics[i].ns_bridge,
			    strerror(-rc));
			break;
		}
		if ((rc = nl_move(sb->sb_nl, tap_idx[i], ns_fd)) < 0) {
			snprintf(err, errlen, "jail: nics[%u]: moving tap %s: "
			    "%s", i, tap, strerror(-rc));
			break;
		}
		if ((rc = nl_bridge(nl, br, mtu[i])) < 0 ||
		    (rc = nl_link_up(nl, inner, (int)if_nametoindex(br))) < 0 ||
		    (rc = nl_link_up(nl, tap, (int)if_nametoindex(br))) < 0) {
			snprintf(err, errlen, "jail: nics[%u]: bridge %s in the "
			    "VM's namespace: %s", i, br, strerror(-rc));
			break;
		}
	}
	if (rc < 0 && err[0] == '\0')
		snprintf(err, errlen, "jail: loopback: %s", strerror(-rc));
out:
	if (nl >= 0)
		close(nl);
	if (ns_fd >= 0)
		close(ns_fd);
	/* The host's rtnetlink is no use inside: keep nothing of the host. */
	close(sb->sb_nl);
	sb->sb_nl = -1;
	return rc;
}

void
sbx_tap_name(pid_t keeper, unsigned int i, char name[16])
{
	snprintf(name, 16, "ht%dn%u", (int)keeper, i);
}

void
sbx_veth_name(pid_t keeper, unsigned int i, char name[16])
{
	snprintf(name, 16, "hv%dn%u", (int)keeper, i);
}
