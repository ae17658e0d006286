"""The net bench (docs/net-tests.md): iperf3 throughput of a virtio-net
guest, Hull beside QEMU, same kernel, initrd, vCPUs, RAM and queue pairs.

  guest->host, host->guest   guest 1 against iperf3 -s on the bridge
  guest->guest               guest 2 against iperf3 -s in guest 1
each with 1 and 4 streams (-P), for
  hull         vmctl, userspace data path      {"bridge": "br0"}
  hull-vhost   vmctl, vhost-net                {"bridge": "br0", "vhost": true}
  qemu         -M q35, virtio-net-pci, tap with vhost=off
  qemu-vhost   the same with vhost=on
and the ceiling: iperf3 between two namespaces over a veth pair.

Everything runs in network namespaces made here and deleted at the end
(guest-tests/netlab.py).  Guest 2 boots only when guest 1 has finished its
host runs and serves, so the two never compete during a measurement.
Absolute figures in the lab are TCG figures; read the ratios.
  HULL_NET_BENCH_SECS   seconds per iperf3 run (default 5)
  HULL_NET_BENCH_VMMS   which of the four to run (default all, comma list)
  HULL_NET_BENCH_ROUNDS rounds over the VMMs, interleaved; the table shows
                        the median of each figure (default 1: the lab's
                        figures vary by 2x between runs, so read ratios
                        near 1 as equal)"""
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from hulltest import BUILD, VM, TestFailure  # noqa: E402

KIT = os.path.join(BUILD, "kit")
KERNEL = os.path.join(KIT, "vmlinuz-cloud")
INITRD = os.path.join(KIT, "initrd.img")
SECS = int(os.environ.get("HULL_NET_BENCH_SECS", "5"))
ROUNDS = int(os.environ.get("HULL_NET_BENCH_ROUNDS", "1"))
VMMS = os.environ.get("HULL_NET_BENCH_VMMS", "hull,hull-vhost,qemu,qemu-vhost").split(",")
VCPUS, RAM, QUEUES = 2, 512, 2
STREAMS = (1, 4)
TIMEOUT = 150       # boot + 4 iperf3 runs, or boot + 2 runs; they take 30-60 s
BR, NET = "br0", "10.77.0"


def start(ns, vmm, idx, steps, peer):
    """Guest idx (1 or 2) under vmm; returns the VM (console reader)."""
    name = f"nb-{vmm}-{idx}"
    mac = f"02:00:5e:10:01:{idx:02x}"
    cmdline = netlab.net_cmdline(f"{NET}.{idx + 1}/24", peer, steps,
                                 f"hull.netsecs={SECS} hull.streams={','.join(map(str, STREAMS))} "
                                 f"hull.waitsecs=120")
    vhost = vmm.endswith("-vhost")
    if vmm.startswith("hull"):
        spec = {"name": name, "vcpus": VCPUS, "ram": RAM, "kernel": KERNEL,
                "initrd": INITRD, "cmdline": cmdline,
                "nics": [{"bridge": BR, "mac": mac, "queues": QUEUES, "vhost": vhost}]}
        if vmm == "hull-nojail":        # make bench's jail part: the cost of the jail
            spec["jail"] = False
        return VM(spec, args=["--no-reboot"], prefix=ns.prefix())
    tap = f"qt{idx}"
    ns.tap(tap, BR, queues=QUEUES)
    argv = netlab.qemu_net_argv(KERNEL, INITRD, cmdline, tap, vcpus=VCPUS, ram=RAM,
                                queues=QUEUES, vhost=vhost, mac=mac)
    return VM({"name": name}, argv=argv, prefix=ns.prefix())


def diagnose(vm):
    for line in netlab.vmm_state(vm.proc):
        print(f"net   {vm.name}: {line}", flush=True)


def rates(vm):
    return {(d, int(p)): float(v) / 1000 for d, p, v in
            re.findall(r"HULL: net (iperf tx|iperf rx|client) P=(\d+) mbps=([\d.]+) ok",
                       vm.console())}


def bench_vmm(ns, vmm):
    """{(test, streams): Gbit/s} for one VMM; failures are left out."""
    res = {}
    g1 = g2 = None
    # A fresh server each time: a guest that died during a test leaves
    # iperf3 -s busy for minutes.
    iperf = ns.popen(["iperf3", "-s", "-p", str(netlab.IPERF_PORT)])
    ns.wait_port(netlab.IPERF_PORT)
    try:
        g1 = start(ns, vmm, 1, ["iperf", "iperfR", "serve"], f"{NET}.1")
        g1.expect(r"HULL: net serving", TIMEOUT)
        g2 = start(ns, vmm, 2, ["client"], f"{NET}.2")
        for g in (g1, g2):
            g.expect(r"HULL: net done", TIMEOUT)
        for g in (g1, g2):
            g.wait(60)
    except TestFailure as e:
        print(f"net   {vmm}: {e}", flush=True)
        for g in (g1, g2):
            if g:
                diagnose(g)
    finally:
        for g in (g1, g2):
            if g:
                g.kill()
                counters = re.findall(r".*nics\[\d+\]: rx .*", g.stderr())
                for c in counters:
                    print(f"net   {g.name}: {c.strip()}", flush=True)
        for tap in ("qt1", "qt2"):
            if tap in ns.links():
                ns.ip("link", "del", tap, check=False)
        netlab.stop(iperf)
        ns.procs.remove(iperf)
    for g in (g1, g2):
        if g:
            lines = g.console().splitlines()
            if any("FAILED" in l for l in lines):   # the steps and their output
                i = min(i for i, l in enumerate(lines) if "HULL: net up" in l or "FAILED" in l)
                print("\n".join(f"net   {g.name}: {l.rstrip()}" for l in lines[i:][-40:]),
                      flush=True)
            for (d, p), v in rates(g).items():
                res[({"iperf tx": "guest->host", "iperf rx": "host->guest",
                      "client": "guest->guest"}[d], p)] = v
    return res


def bench_ceiling():
    """iperf3 over a veth pair between two namespaces."""
    a, b = netlab.NetNS("-nba"), netlab.NetNS("-nbb")
    res = {}
    try:
        a.ip("link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b.name)
        a.ip("addr", "add", "10.78.0.1/24", "dev", "va")
        a.ip("link", "set", "va", "up")
        b.ip("addr", "add", "10.78.0.2/24", "dev", "vb")
        b.ip("link", "set", "vb", "up")
        a.popen(["iperf3", "-s", "-p", str(netlab.IPERF_PORT)])
        a.wait_port(netlab.IPERF_PORT)
        for p in STREAMS:
            for rev, name in (([], "guest->host"), (["-R"], "host->guest")):
                out = b.sh("iperf3", "-c", "10.78.0.1", "-t", str(SECS), "-P", str(p),
                           "-f", "m", *rev, check=False, timeout=SECS + 30).stdout
                v = [l for l in out.splitlines() if "receiver" in l]
                m = re.search(r"([\d.]+) Mbits/sec", v[-1]) if v else None
                if m:
                    res[(name, p)] = float(m.group(1)) / 1000
    finally:
        a.close()
        b.close()
    return res


def main():
    if not os.path.exists("/dev/kvm"):
        print("bench-net: no /dev/kvm here")
        sys.exit(1)
    t0 = time.monotonic()
    vmms = list(VMMS)
    if not os.path.exists("/dev/vhost-net"):
        print("net   /dev/vhost-net is missing on this host: the vhost rows are skipped",
              flush=True)
        vmms = [v for v in vmms if not v.endswith("-vhost")]
    runs = {"veth": [bench_ceiling()]}
    ns = netlab.NetNS("-nb")
    try:
        ns.bridge(BR, f"{NET}.1/24")
        for rnd in range(ROUNDS):
            for vmm in vmms:
                t = time.monotonic()
                runs.setdefault(vmm, []).append(bench_vmm(ns, vmm))
                print(f"net   {vmm}: round {rnd + 1} done in {time.monotonic() - t:.0f}s: " +
                      ", ".join(f"{k[0]} P={k[1]} {v:.2f}" for k, v in runs[vmm][-1].items()),
                      flush=True)
    finally:
        ns.close()
    res = {vmm: {k: statistics.median([r[k] for r in rs if k in r])
                 for k in {k for r in rs for k in r}} for vmm, rs in runs.items()}
    cols = [v for v in ("hull", "hull-nojail", "hull-vhost", "qemu", "qemu-vhost")
            if v in res] + ["veth"]
    pairs = [(h, q) for h, q in (("hull", "qemu"), ("hull-vhost", "qemu-vhost"),
                                 ("hull", "hull-nojail")) if h in res and q in res]
    fmt = lambda x: "n/a" if x is None else f"{x:.2f}"
    ratio = lambda a, b: "n/a" if a is None or not b else f"{a / b:.2f}"
    print(f"net   iperf3 Gbit/s, {SECS} s per run, {VCPUS} vCPUs, {QUEUES} queue pairs, "
          f"median of {ROUNDS} round(s); veth = two namespaces, no VM", flush=True)
    hdr = f"net   {'test':13} {'P':>2} " + " ".join(f"{c:>10}" for c in cols) + \
        "".join(f" {h + '/' + q:>21}" for h, q in pairs)
    print(hdr, flush=True)
    for test in ("guest->host", "host->guest", "guest->guest"):
        for p in STREAMS:
            row = f"net   {test:13} {p:>2} " + " ".join(
                f"{fmt(res[c].get((test, p))):>10}" for c in cols)
            row += "".join(f" {ratio(res[h].get((test, p)), res[q].get((test, p))):>21}"
                           for h, q in pairs)
            print(row, flush=True)
    print(f"net   bench took {time.monotonic() - t0:.0f}s", flush=True)
    left = netlab.namespaces() & {ns.name}
    if left or netlab._procs:
        print(f"net   left behind: namespaces {left}, helpers {[p.pid for p in netlab._procs]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
