"""Rate limits in a real guest (docs/net.md, docs/blk.md): one Debian guest
with limits.disk_iops, limits.disk_bps and a NIC's rate_limit runs fio on
its disk and iperf3 both ways against the host (hull.job=limits: the
fiobench job, then the net job), and every figure must be near its limit.

  disk  4k random reads and writes at queue depth 32 reach about
        disk_iops (IOPS); 1 MiB sequential reads and writes at depth 4
        reach about disk_bps (bytes/s).  The lab's unthrottled figures are
        over ten times both (docs/bench.md), so the limit is what binds.
  net   iperf3 guest->host (guest transmit) and host->guest (guest
        receive) reach about bytes_per_sec, as TCP goodput (Mbit/s; frame
        headers make goodput a few per cent less than the byte rate).
        Receive comes out lower (about 0.8 of the rate in 5 s): the tap's
        queue drops what overflows it and the host's TCP recovers slowly
        (docs/net.md, "Rate limits").  HULL_LIMITS_VERBOSE=1 prints
        iperf3's own output.

"Near" is loose on purpose, 0.5 to 1.2 times the limit: the lab is nested
TCG on a shared 2-core host.  Under the limit means throttling happened
(the unthrottled figures are far above); a little over is the bucket's
first burst (100 ms of the rate).  The NIC is on a bridge in a network
namespace made here (netlab.py), with iperf3 -s on the host side.

Needs root, /dev/net/tun and `ip netns`; the guest needs a /dev/kvm with
VMX or SVM (the lab has one)."""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from hulltest import BUILD, VM, Runner, TestFailure  # noqa: E402

KIT = os.path.join(BUILD, "kit")
KERNEL = os.path.join(KIT, "vmlinuz-cloud")
INITRD = os.path.join(KIT, "initrd.img")
TIMEOUT = int(os.environ.get("HULL_LIMITS_TIMEOUT", "300"))
FIO_SECS = int(os.environ.get("HULL_LIMITS_FIOSECS", "5"))
NET_SECS = int(os.environ.get("HULL_LIMITS_NETSECS", "5"))
VERBOSE = os.environ.get("HULL_LIMITS_VERBOSE") == "1"   # iperf3's own output
DISK_IOPS = 200
DISK_BPS = 16 << 20              # 16 MiB/s
NET_BPS = 2000000                # 2 MB/s, 16 Mbit/s
LOW, HIGH = 0.5, 1.2
BR, BR_NET = "br0", "10.78.0"

S = {}


def near(vm, what, got, limit, unit):
    """Print the figure beside its limit; fail when it is not near it."""
    ratio = got / limit
    print(f"     {what}: {got:.1f} {unit} (limit {limit:.1f} {unit}, "
          f"ratio {ratio:.2f})", flush=True)
    if not LOW <= ratio <= HIGH:
        vm.fail(f"{what}: {got:.1f} {unit} is not within {LOW} to {HIGH} "
                f"times the limit {limit:.1f} {unit}")


def t_limits():
    ns = S["ns"] = netlab.NetNS("-lim")
    ns.bridge(BR, f"{BR_NET}.1/24")
    S["iperf"] = ns.popen(["iperf3", "-s", "-p", str(netlab.IPERF_PORT)])
    ns.wait_port(netlab.IPERF_PORT)
    # tmpfs in the lab (build/ is 9p there); a sparse image.
    S["dir"] = tempfile.mkdtemp(prefix="hull-limits-")
    img = os.path.join(S["dir"], "disk.img")
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    cmdline = netlab.net_cmdline(f"{BR_NET}.2/24", f"{BR_NET}.1", ["ping", "iperf", "iperfR"],
                                 f"hull.netsecs={NET_SECS} hull.fiosecs={FIO_SECS}"
                                 + (" hull.netverbose=1" if VERBOSE else ""))
    cmdline = cmdline.replace("hull.job=net", "hull.job=limits")
    # Jailed (the default): the limits hold inside the jail's cgroup too.
    spec = {"name": "limits", "vcpus": 2, "ram": 512, "kernel": KERNEL,
            "initrd": INITRD, "cmdline": cmdline,
            "limits": {"disk_iops": DISK_IOPS, "disk_bps": DISK_BPS},
            "disks": [{"path": img}],
            "nics": [{"bridge": BR, "rate_limit": {"bytes_per_sec": NET_BPS}}]}
    vm = VM(spec, args=["--no-reboot"], prefix=ns.prefix())
    try:
        try:
            vm.expect(r"HULL: net done", TIMEOUT)
        except TestFailure:
            print("\n".join(f"     {vm.name}: {l}" for l in netlab.vmm_state(vm.proc)),
                  flush=True)
            raise
        vm.expect_exit(0, 60)
    finally:
        vm.kill()
    out = vm.console()
    if VERBOSE:
        print("\n".join(f"     {l}" for l in out.splitlines() if l.startswith("iperf3: ")),
              flush=True)
    # The VMM says what it enforces when it creates the devices.
    for want in (f"limits {DISK_IOPS} IOPS {DISK_BPS} bytes/s",
                 f"rate limit {NET_BPS} bytes/s"):
        if want not in vm.stderr():
            vm.fail(f"vmctl's stderr lacks {want!r}")
    fio = {m[0]: (int(m[1]), int(m[2])) for m in
           re.findall(r"HULL: fio (\S+) iops=(\d+) bw_kib=(\d+)", out)}
    for name in ("randread-4k-qd32", "randwrite-4k-qd32", "read-1M-qd4", "write-1M-qd4"):
        if name not in fio:
            vm.fail(f"no fio {name} figure on the console")
    near(vm, "disk randread 4k qd32", fio["randread-4k-qd32"][0], DISK_IOPS, "IOPS")
    near(vm, "disk randwrite 4k qd32", fio["randwrite-4k-qd32"][0], DISK_IOPS, "IOPS")
    near(vm, "disk read 1M qd4", fio["read-1M-qd4"][1] / 1024, DISK_BPS / (1 << 20), "MiB/s")
    near(vm, "disk write 1M qd4", fio["write-1M-qd4"][1] / 1024, DISK_BPS / (1 << 20), "MiB/s")
    bad = [l for l in out.splitlines() if l.startswith("HULL: net") and "FAILED" in l]
    if bad:
        vm.fail("guest steps failed: " + "; ".join(bad))
    rates = {d: float(v) for d, v in
             re.findall(r"HULL: net iperf (tx|rx) P=1 mbps=([\d.]+) ok", out)}
    for d in ("tx", "rx"):
        if d not in rates:
            vm.fail(f"no iperf {d} figure on the console")
    limit = NET_BPS * 8 / 1e6
    near(vm, "net guest->host (tx)", rates["tx"], limit, "Mbit/s")
    near(vm, "net host->guest (rx)", rates["rx"], limit, "Mbit/s")


def cleanup():
    if "iperf" in S:
        netlab.stop(S.pop("iperf"))
    if "ns" in S:
        S.pop("ns").close()
    if "dir" in S:
        shutil.rmtree(S.pop("dir"), ignore_errors=True)


def main():
    r = Runner("limits")
    missing = [p for p in (KERNEL, INITRD) if not os.path.exists(p)]
    if missing:
        print(f"limits: guest kit missing: {missing} (make kit)")
        r.failed += 1
        r.finish()
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        r.skip("limits", "needs root and /dev/net/tun")
        r.finish()
    if not os.path.exists("/dev/kvm"):
        r.skip("limits", "no /dev/kvm")
        r.finish()
    try:
        r.run("limits/disk-iops+bps+nic-rate", t_limits)
    finally:
        cleanup()
    r.finish()


if __name__ == "__main__":
    main()
