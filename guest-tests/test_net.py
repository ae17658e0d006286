"""virtio-net guest tests (docs/net-tests.md).  Everything happens in one
network namespace made here, hull-net<pid>: two bridges with the host's
addresses and the host-side servers (iperf3, busybox httpd, an upload sink,
guest-tests/netlab.py); each vmctl runs inside it (`ip netns exec`), so
the taps and jail veths Hull creates are there too.

  bad-input   nics that must be refused before the guest runs, with status 2
              and a message naming the key, and no tap left behind: a
              missing bridge, a non-bridge, a bad MAC, a non-tap, a tap held
              by another process, a second NIC failing after the first one's
              tap exists
  jumbo       one guest, 2 vCPUs, MTU 9000, the spec's MAC: ping, iperf3 both
              ways (1 and 4 streams), ping -s 8000 without fragments, a
              download and an upload checked with sha256; MAC, MTU, 2
              queues, the jail's veth in the bridge while it runs and gone after
  no-offloads one guest, MTU 1500, "offloads": false: no checksum or TSO
              feature negotiated, iperf3 and both transfers intact
  two-guests  two guests on one bridge ping each other and run iperf3, one
              on a tap made beforehand (left in place), the other with
              vhost-net where the host has it, also downloading and
              uploading; the default MAC of a name is the same as in the
              boot before
  cleanup     no namespace, tap or process of ours is left

Needs root, /dev/net/tun and `ip netns`; the guests need a /dev/kvm with
VMX or SVM (the lab has one)."""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from hulltest import BUILD, VM, VMCTL, WORK, Runner, TestFailure, check  # noqa: E402

KIT = os.path.join(BUILD, "kit")
KERNEL = os.path.join(KIT, "vmlinuz-cloud")
INITRD = os.path.join(KIT, "initrd.img")
# Boot (10-20 s in the lab) and every step (each has its own timeout) take
# 15-40 s; a guest not done in this many seconds has hung.
TIMEOUT = int(os.environ.get("HULL_NET_TIMEOUT", "150"))
SECS = int(os.environ.get("HULL_NET_SECS", "3"))      # per iperf3 run
MAC_A = "02:00:5e:10:00:01"
BR, BR_NET = "br0", "10.77.0"            # MTU 1500
BR9K, BR9K_NET = "br9k", "10.77.9"       # MTU 9000
# virtio-net feature bits (virtio 1.2 section 5.1.3)
F = {"CSUM": 0, "GUEST_CSUM": 1, "MTU": 3, "MAC": 5, "GUEST_TSO4": 7,
     "GUEST_TSO6": 8, "HOST_TSO4": 11, "HOST_TSO6": 12, "MRG_RXBUF": 15,
     "STATUS": 16, "CTRL_VQ": 17, "MQ": 22}
OFFLOADS = ("CSUM", "GUEST_CSUM", "GUEST_TSO4", "GUEST_TSO6", "HOST_TSO4", "HOST_TSO6")

S = {}      # ns, servers, links: shared by the tests


def check_vm(vm, cond, msg):
    if not cond:
        vm.fail(msg)


def spec(name, nics, vcpus=1, cmdline=""):
    return {"name": name, "vcpus": vcpus, "ram": 512, "kernel": KERNEL,
            "initrd": INITRD, "cmdline": cmdline, "nics": nics}


def start(name, nics, ip, peer, steps, vcpus=1, extra=""):
    if {"iperf", "iperfR"} & set(steps):
        S["srv"].restart_iperf()
    cmdline = netlab.net_cmdline(ip, peer, steps,
                                 f"hull.netsecs={SECS} hull.dlsha={S['srv'].blob_sha} {extra}")
    return VM(spec(name, nics, vcpus, cmdline), args=["--no-reboot"],
              prefix=S["ns"].prefix())


def finish(vm):
    try:
        vm.expect(r"HULL: net done", TIMEOUT)
    except TestFailure:
        print("\n".join(f"     {vm.name}: {l}" for l in netlab.vmm_state(vm.proc)), flush=True)
        raise
    vm.expect_exit(0, 60)


def facts(vm):
    m = re.search(r"HULL: net eth0 mac=(\S+) mtu=(\d+) queues=(\d+)/(\d+) features=([01]*)",
                  vm.console())
    check_vm(vm, m, "no eth0 facts line (no NIC in the guest?)")
    mac, mtu, rxq, txq, bits = m.groups()
    feats = {k for k, b in F.items() if b < len(bits) and bits[b] == "1"}
    return mac, int(mtu), (int(rxq), int(txq)), feats


def check_steps(vm, ip, steps, streams=(1,)):
    """Every step printed its ok line, none FAILED; returns the iperf rates."""
    out = vm.console()
    bad = [l for l in out.splitlines() if l.startswith("HULL: net") and "FAILED" in l]
    check_vm(vm, not bad, "guest steps failed: " + "; ".join(bad))
    want = {"ping": [r"HULL: net ping ok"], "mtu": [r"HULL: net mtu ok size=8000 frag=0 reasm=0"],
            "wget": [rf"HULL: net wget ok bytes={S['srv'].blob_len} sha256={S['srv'].blob_sha}"],
            "upload": [r"HULL: net upload ok bytes=\d+ sha256=[0-9a-f]{64}"],
            "serve": [rf"HULL: net serve ok runs={len(streams)}"],
            "iperf": [rf"HULL: net iperf tx P={p} mbps=[\d.]+ ok" for p in streams],
            "iperfR": [rf"HULL: net iperf rx P={p} mbps=[\d.]+ ok" for p in streams],
            "client": [rf"HULL: net client P={p} mbps=[\d.]+ ok" for p in streams]}
    for st in steps:
        for rx in want[st]:
            check_vm(vm, re.search(rx, out), f"no {rx!r} on the console")
    if "upload" in steps:
        m = re.search(r"HULL: net upload ok bytes=(\d+) sha256=([0-9a-f]{64})", out)
        got = S["srv"].uploads_from(ip.split("/")[0])
        check_vm(vm, (m.group(2), int(m.group(1))) in got,
                 f"the host received {got}, the guest sent {m.group(2)} {m.group(1)} bytes")
    return {f"{d} P={p}": float(v) for d, p, v in
            re.findall(r"HULL: net (iperf tx|iperf rx|client) P=(\d+) mbps=([\d.]+) ok", out)}


def links_back(vm=None, timeout=5):
    """The namespace has the interfaces it had before the VM (its tap is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        now = S["ns"].links()
        if now == S["links"]:
            return
        if time.monotonic() > deadline:
            msg = f"interfaces left behind: {sorted(set(now) - set(S['links']))}"
            if vm:
                vm.fail(msg)
            raise TestFailure(msg)
        time.sleep(0.2)


def ports_of(bridge):
    out = S["ns"].ip("-o", "link", "show", "master", bridge).stdout
    # "5: hv210n0@if2: <...>": a veth shows its peer after the @
    return [l.split(":")[1].strip().split("@")[0] for l in out.splitlines()]


def show(vm, rates):
    print(f"     {vm.name}: " + ", ".join(f"{k} {v:.0f} Mbit/s" for k, v in rates.items()),
          flush=True)


# --- bad input: refused before the guest runs, nothing left behind --------

def vmctl(name, nics, vcpus=1):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, name + ".json")
    with open(path, "w") as f:
        json.dump(spec(name, nics, vcpus, "console=ttyS0 quiet hull.job=report"), f)
    p = subprocess.run(S["ns"].prefix() + [VMCTL, "run", "--no-reboot", path],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def refused(name, nics, message, vcpus=1):
    rc, err = vmctl(name, nics, vcpus)
    check(rc == 2, f"{name}: status {rc}, expected 2; stderr: {err!r}")
    check(message in err, f"{name}: stderr {err!r} lacks {message!r}")
    links_back()


def t_bad_input():
    ns = S["ns"]
    refused("bad-nobridge", [{"bridge": "nobr0"}], "nics[0].bridge: bridge nobr0 does not exist")
    refused("bad-notbridge", [{"bridge": "vx0"}], "nics[0].bridge: vx0 is not a bridge")
    refused("bad-mac", [{"bridge": BR, "mac": "02:00:5e:10:00"}], "nics[0].mac: not a MAC address")
    refused("bad-mcast", [{"bridge": BR}, {"bridge": BR, "mac": "01:00:5e:00:00:01"}],
            "nics[1].mac: 01:00:5e:00:00:01 is a multicast address")
    refused("bad-nottap", [{"tap": BR}], f"nics[0].tap: {BR} exists and is not a tap")
    refused("bad-nomac", [{"bridge": BR, "mac": "00:00:00:00:00:00"}], "nics[0].mac:")
    if not os.path.exists("/dev/vhost-net"):
        refused("bad-vhost", [{"bridge": BR, "vhost": True}],
                "nics[0].vhost: /dev/vhost-net: No such file or directory")
    if not os.path.exists("/dev/kvm"):
        print("     (no /dev/kvm: the tap-in-use cases need the VM to be built; skipped)")
        return
    fd = ns.hold_tap("busy0")
    try:
        S["links"] = ns.links()          # busy0 is ours while we hold it
        refused("bad-busy", [{"tap": "busy0"}], "nics[0].tap: busy0: in use by another process")
        # The first NIC's tap exists when the second one fails: it must go.
        refused("bad-second", [{"bridge": BR}, {"tap": "busy0"}],
                "nics[1].tap: busy0: in use by another process")
        check(ports_of(BR) == [], f"{BR} still has ports: {ports_of(BR)}")
    finally:
        os.close(fd)
        S["links"] = [l for l in S["links"] if l != "busy0"]
    links_back()


# --- guests ---------------------------------------------------------------

def t_jumbo():
    steps = ["ping", "iperf", "iperfR", "mtu", "wget", "upload"]
    ip = f"{BR9K_NET}.2/24"
    vm = start("net-a", [{"bridge": BR9K, "mac": MAC_A, "mtu": 9000}], ip, f"{BR9K_NET}.1",
               steps, vcpus=2, extra="hull.streams=1,4")
    try:
        vm.expect(r"HULL: net up", TIMEOUT)
        # The jail's veth (docs/jail.md) is the VM's one port in the bridge.
        ports = ports_of(BR9K)
        check_vm(vm, len(ports) == 1 and ports[0].startswith("hv"),
                 f"expected one jail veth (hv...) in {BR9K} while the guest runs: {ports}")
        mtu = S["ns"].sh("cat", f"/sys/class/net/{ports[0]}/mtu").stdout.strip()
        check_vm(vm, mtu == "9000", f"veth {ports[0]} has MTU {mtu}, not 9000")
        finish(vm)
    finally:
        vm.kill()
    mac, mtu, queues, feats = facts(vm)
    check_vm(vm, mac == MAC_A, f"guest MAC {mac}, spec {MAC_A}")
    check_vm(vm, mtu == 9000, f"guest eth0 MTU {mtu}, not 9000")
    check_vm(vm, queues == (2, 2), f"guest queues rx/tx {queues}, not 2/2 (2 vCPUs)")
    need = {"MTU", "MAC", "MQ", "CTRL_VQ", "MRG_RXBUF", *OFFLOADS}
    check_vm(vm, need <= feats, f"features {sorted(feats)} lack {sorted(need - feats)}")
    show(vm, check_steps(vm, ip, steps, (1, 4)))
    links_back(vm)


def t_no_offloads():
    steps = ["ping", "iperf", "iperfR", "wget", "upload"]
    ip = f"{BR_NET}.2/24"
    vm = start("net-b", [{"bridge": BR, "offloads": False}], ip, f"{BR_NET}.1", steps)
    try:
        finish(vm)
    finally:
        vm.kill()
    mac, mtu, queues, feats = facts(vm)
    S["mac-b"] = mac
    check_vm(vm, mtu == 1500, f"guest eth0 MTU {mtu}, not 1500")
    check_vm(vm, queues == (1, 1), f"guest queues {queues}, not 1/1")
    check_vm(vm, not feats & set(OFFLOADS),
             f"offloads negotiated with \"offloads\": false: {sorted(feats & set(OFFLOADS))}")
    first = int(mac.split(":")[0], 16)
    check_vm(vm, first & 2 and not first & 1,
             f"default MAC {mac} is not a locally administered unicast address")
    show(vm, check_steps(vm, ip, steps))
    links_back(vm)


def t_two_guests():
    """net-b attaches to a tap we made (and must leave it as found); net-c
    uses vhost-net where the host has it and checks both transfers too."""
    ns = S["ns"]
    b_ip, c_ip = f"{BR_NET}.12/24", f"{BR_NET}.13/24"
    # A run cut short (a lab stall, then the retry) may have left it.
    if "tapb" in ns.links():
        ns.ip("link", "del", "tapb")
    ns.tap("tapb", BR)
    c_nic = {"bridge": BR}
    if os.path.exists("/dev/vhost-net"):
        c_nic["vhost"] = True
    else:
        print("     (no /dev/vhost-net: net-c uses the userspace data path)", flush=True)
    c_steps = ["ping", "wget", "upload", "client"]
    vb = start("net-b", [{"tap": "tapb"}], b_ip, c_ip.split("/")[0], ["ping", "serve"])
    vms = [vb]
    try:
        vc = start("net-c", [c_nic], c_ip, b_ip.split("/")[0], c_steps,
                   extra=f"hull.waitsecs={TIMEOUT} hull.host={BR_NET}.1")
        vms.append(vc)
        for vm in vms:
            finish(vm)
    finally:
        for vm in vms:
            vm.kill()
    check_steps(vb, b_ip, ["ping", "serve"])
    show(vc, check_steps(vc, c_ip, c_steps))
    mb, mc = facts(vb)[0], facts(vc)[0]
    check_vm(vb, mb != mc, f"net-b and net-c have the same MAC {mb}")
    if "mac-b" in S:
        check_vm(vb, mb == S["mac-b"],
                 f"net-b's default MAC changed between boots: {S['mac-b']} then {mb}")
    check_vm(vb, ports_of(BR) == ["tapb"],
             f"the tap net-b attached to is not left as found: ports of {BR}: {ports_of(BR)}")
    ns.ip("link", "del", "tapb")
    links_back(vb)


def t_cleanup():
    ns, srv = S["ns"], S.pop("srv")
    srv.close()
    ino = os.stat(f"/run/netns/{ns.name}").st_ino
    inside = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and os.stat(f"/proc/{p}/ns/net").st_ino == ino:
                inside.append(p)
        except OSError:
            pass
    ns.close()
    check(not inside, f"processes still in {ns.name}: {inside}")
    check(ns.name not in netlab.namespaces(), f"namespace {ns.name} still exists")
    check(not netlab._procs, f"helpers still running: {[p.pid for p in netlab._procs]}")


def setup():
    ns = S["ns"] = netlab.NetNS("-net")
    ns.bridge(BR, f"{BR_NET}.1/24")
    ns.bridge(BR9K, f"{BR9K_NET}.1/24", mtu=9000)
    ns.ip("link", "add", "vx0", "type", "veth", "peer", "name", "vx1")
    S["srv"] = netlab.Servers(ns, os.path.join(WORK, "net"))
    S["links"] = ns.links()


def main():
    r = Runner("net")
    missing = [p for p in (KERNEL, INITRD) if not os.path.exists(p)]
    if missing:
        print(f"net: guest kit missing: {missing} (make kit)")
        r.failed += 1
        r.finish()
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        r.skip("net", "needs root and /dev/net/tun")
        r.finish()
    try:
        setup()
    except Exception as e:
        print(f"FAIL net/setup: {e}")
        r.failed += 1
        netlab._cleanup()
        r.finish()
    try:
        r.run("net/bad-input", t_bad_input)
        if not os.path.exists("/dev/kvm"):
            for t in ("jumbo", "no-offloads", "two-guests"):
                r.skip(f"net/{t}", "no /dev/kvm")
        else:
            r.run("net/jumbo-mtu9000-2vcpu", t_jumbo)
            r.run("net/no-offloads-mtu1500", t_no_offloads)
            r.run("net/two-guests+stable-mac", t_two_guests)
    finally:
        r.run("net/cleanup", t_cleanup)
    r.finish()


if __name__ == "__main__":
    main()
