"""The jail (docs/jail.md) around running guests and around the probe.

  running   a jailed VM (2 vCPUs, a disk, a nic on a bridge, cpu_cap 50):
            its VMM's /proc status shows CapEff 0, NoNewPrivs 1, Seccomp 2
            on every thread, its own uid; its mount, pid, net, ipc, uts and
            cgroup namespaces are not the host's; its root holds exactly
            its device nodes, disk and sockets; its net namespace holds
            exactly its tap, veth and bridge; its cgroup has cpu.max,
            memory.max and pids.max from the spec; the guest still pings
            the host through the jail's veth
  cpu-cap   two busy loops in the guest: the cgroup's cpu.stat shows about
            half a CPU used (loosely: 0.2 to 0.7)
  probe     build/test/jail_probe through the same jail: cannot open a host
            file, has no /proc, cannot see its keeper or the running VM's
            VMM, cannot reach that VM's control socket, has no capability
            and its own uid; a forbidden system call (execve) kills it and
            the keeper says so
  stop      after a graceful stop: no cgroup, jail directory, veth, tap,
            uid claim or record of the VM is left
  kill-vmm  SIGKILL of a jailed VMM: the keeper reports status 5 and cleans
            up the same way
  kill-keeper  SIGKILL of the keeper: the jailed VMM dies with it, and the
            next vmctl verb on that VM (stop) cleans up what was left
  no-jail   "jail": false runs the guest unconfined and warns

Everything under a VM root in /tmp and one network namespace made here.
Needs a /dev/kvm with VMX or SVM (the lab), root, cgroup v2."""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
import test_lifecycle as L  # noqa: E402
from hulltest import BUILD, VMCTL, Runner, TestFailure, check  # noqa: E402

PROBE = os.path.join(BUILD, "test", "jail_probe")
TINY = os.path.join(BUILD, "tiny", "tiny.bzImage")
S = {}


def nsvmctl(args, timeout=120):
    """vmctl in the test's network namespace (where the bridge is)."""
    p = subprocess.run(S["ns"].prefix() + [VMCTL, "--root", L.ROOT, *args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def nsok(args, timeout=120):
    rc, out, err = nsvmctl(args, timeout)
    check(rc == 0, f"vmctl {' '.join(args)}: status {rc}: {err.strip()!r} {out.strip()!r}")
    return out


def create(name, **kw):
    spec = {"name": name, "vcpus": 1, "ram": 256, "kernel": L.KERNEL,
            "initrd": L.INITRD, "cmdline": L.CMDLINE}
    spec.update(kw)
    path = os.path.join(L.ROOT, f"{name}.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    nsok(["create", path])


def start(name):
    out = nsok(["start", name])
    m = re.fullmatch(rf"{re.escape(name)}: running \(pid (\d+)\)\n", out)
    check(m is not None, f"start {name}: {out!r}")
    jail = L.js(["info", name]).get("jail")
    check(jail and jail.get("vmm", 0) > 0, f"info {name}: no jail: {jail}")
    return jail


def status_of(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def tree(top):
    """Every path under top, relative, without following links."""
    out = set()
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), top))
    return out


def leftovers(name, jail):
    """What of the VM's jail is still on the host."""
    left = []
    if os.path.exists(jail["cgroup"]):
        left.append(jail["cgroup"])
    left += glob.glob(f"/run/hull/jail/{name}.*")
    links = S["ns"].links()
    left += [l for l in links if l.startswith((f"hv{jail['keeper']}n", f"ht{jail['keeper']}n"))]
    if os.path.exists(L.path(name, "jail.rec")):
        left.append("jail.rec")
    for c in glob.glob("/run/hull/uids/*"):
        try:
            if open(c).read().strip() == str(jail["keeper"]):
                left.append(c)
        except OSError:
            pass
    return left


def no_leftovers(name, jail, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        left = leftovers(name, jail)
        if not left:
            return
        if time.monotonic() > deadline:
            raise TestFailure(f"{name}: left after it stopped: {left}")
        time.sleep(0.2)


# ---- the phases ----

def t_running():
    name = "jl-a"
    create(name, vcpus=2, ram=512, disks=[{"path": S["disk"]}], nics=[{"bridge": "br0"}],
           limits={"cpu_cap": 50})
    jail = S["a"] = start(name)
    L.wait_console(name, r"HULL: console ready")
    # The guest reaches the host's bridge through the jail's veth.
    c = L.Console(name)
    try:
        c.send(b"modprobe virtio_pci; modprobe virtio_net; sleep 2; ip link set eth0 up; ip addr add 10.78.0.2/24 dev eth0; "
               b"ping -c 1 -W 10 10.78.0.1 >/dev/null && echo PING-$((6*7))\n")
        c.expect(r"PING-42", 60)
        c.detach()
    finally:
        c.close()
    vmm, keeper, uid = jail["vmm"], jail["keeper"], jail["uid"]
    check(L.js(["get", name])["pid"] == keeper, "get's pid is not the keeper")
    # Privileges, on every thread of the VMM.
    tasks = os.listdir(f"/proc/{vmm}/task")
    check(len(tasks) >= 4, f"the VMM has threads {tasks}: main, io, 2 vcpus")
    for t in tasks:
        st = status_of(f"{vmm}/task/{t}")
        for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            check(int(st[k], 16) == 0, f"task {t} ({st['Name']}): {k} {st[k]}")
        check(st["NoNewPrivs"].strip() == "1", f"task {t}: NoNewPrivs {st['NoNewPrivs']}")
        check(st["Seccomp"].strip() == "2", f"task {t} ({st['Name']}): Seccomp {st['Seccomp']}")
        check(st["Uid"].split() == [str(uid)] * 4 and st["Gid"].split() == [str(uid)] * 4,
              f"task {t}: Uid {st['Uid']} Gid {st['Gid']}, not {uid}")
        check(st["Groups"].strip() == "", f"task {t}: Groups {st['Groups']}")
    check(uid >= 0x48550000, f"uid {uid} not from Hull's range")
    # Namespaces: none is the host's (nor the keeper's, which is the host's).
    for ns in ("mnt", "pid", "net", "ipc", "uts", "cgroup"):
        mine = os.readlink(f"/proc/self/ns/{ns}")
        theirs = os.readlink(f"/proc/{vmm}/ns/{ns}")
        check(theirs != mine, f"{ns} namespace is the host's: {theirs}")
    # The root: its nodes, its disk, its sockets, nothing else.
    want = {"dev", "dev/kvm", "dev/net", "dev/net/tun", "disks", "disks/0",
            "run", "run/console.sock", "run/control.sock"}
    got = tree(f"/proc/{vmm}/root")
    check(got == want, f"the jail's root holds {sorted(got)}, not {sorted(want)}")
    # Its network namespace: its tap, the veth to the host, a bridge.
    out = subprocess.run(["nsenter", "-t", str(vmm), "-n", "ip", "-o", "link"],
                         capture_output=True, text=True, check=True).stdout
    links = sorted(l.split(":")[1].strip().split("@")[0] for l in out.splitlines())
    check(links == sorted(["lo", f"ht{keeper}n0", "veth0", "br0"]),
          f"links in the VM's namespace: {links}")
    check(f"hv{keeper}n0" in S["ns"].links(), "no veth of the VM on the host")
    # The cgroup and its limits.
    with open(f"/proc/{vmm}/cgroup") as f:
        cg = f.read().strip()
    check(cg == "0::" + jail["cgroup"].split("/sys/fs/cgroup", 1)[-1], f"/proc/PID/cgroup {cg}, jail {jail['cgroup']}")
    files = os.listdir(jail["cgroup"])
    check("cpu.max" in files and "memory.max" in files and "pids.max" in files,
          f"controllers missing in {jail['cgroup']}: {sorted(files)}")
    rd = lambda f: open(os.path.join(jail["cgroup"], f)).read().strip()  # noqa: E731
    check(rd("cpu.max") == "50000 100000", f"cpu.max {rd('cpu.max')}")
    check(int(rd("memory.max")) == (512 + 128) << 20, f"memory.max {rd('memory.max')}")
    check(rd("pids.max") == "130", f"pids.max {rd('pids.max')}")
    check(str(keeper) not in rd("cgroup.procs").split(), "the keeper is in the VM's cgroup")
    print(f"     vmm {vmm} uid {uid}: {len(tasks)} threads confined; cgroup {jail['cgroup']}",
          flush=True)


def usage(cg):
    with open(os.path.join(cg, "cpu.stat")) as f:
        return int(re.search(r"usage_usec (\d+)", f.read()).group(1))


def t_cpu_cap():
    name, jail = "jl-a", S["a"]
    c = L.Console(name)
    try:
        c.send(b"\n")
        c.send(b"for i in 1 2; do (while :; do :; done) & done; echo BUSY-$((6*7))\n")
        c.expect(r"BUSY-42")
        time.sleep(2)
        u0, t0 = usage(jail["cgroup"]), time.monotonic()
        time.sleep(6)
        used = (usage(jail["cgroup"]) - u0) / 1e6 / (time.monotonic() - t0)
        c.send(b"kill %1 %2; echo IDLE-$((6*7))\n")
        c.expect(r"IDLE-42")
        c.detach()
    finally:
        c.close()
    print(f"     cpu_cap 50, two busy vCPUs: {used:.2f} CPUs used", flush=True)
    check(0.2 <= used <= 0.7, f"cpu_cap 50 but {used:.2f} CPUs used")


def t_probe():
    name, jail = "jl-a", S["a"]
    spec = os.path.join(L.ROOT, "probe.json")
    with open(spec, "w") as f:
        json.dump({"name": "jl-probe", "kernel": L.KERNEL,
                   "disks": [{"path": S["disk2"], "readonly": True}]}, f)
    other = L.path(name, "control.sock")
    args = [PROBE, spec, L.KERNEL, other, str(jail["vmm"])]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stdout.splitlines() if l.startswith("PROBE ")]
    bad = [l for l in lines if " ok " not in l + " "]
    check(p.returncode == 0 and lines and not bad,
          f"probe: status {p.returncode}, failed: {bad}\n{p.stdout}{p.stderr}")
    seen = {l.split()[1] for l in lines}
    for w in ("host-file", "no-proc", "root", "root-readonly", "pid-1", "keeper-invisible", "seccomp",
              "other-vm-invisible", "other-socket", "no-capabilities", "own-uid",
              "no-new-privs", "no-setuid"):
        check(w in seen, f"probe did not report {w}: {p.stdout}")
    root = next(l for l in lines if l.startswith("PROBE root "))
    check(root.split(" ok ", 1)[1].split(",") in (["dev", "disks"], ["disks", "dev"]),
          f"the probe's root: {root}")
    end = next((l for l in p.stdout.splitlines() if l.startswith("PROBE-END")), "")
    check(end.startswith("PROBE-END status 0"), f"probe end: {end!r}")
    p = subprocess.run(args + ["forbidden"], capture_output=True, text=True, timeout=60)
    end = next((l for l in p.stdout.splitlines() if l.startswith("PROBE-END")), "")
    check("PROBE forbidden-syscall next" in p.stdout and
          end.startswith("PROBE-END status 1") and "seccomp" in end and
          "forbidden-syscall FAIL" not in p.stdout,
          f"forbidden syscall: {p.stdout}{p.stderr}")
    print(f"     {len(lines)} escapes refused; {end}", flush=True)


def t_stop():
    name, jail = "jl-a", S["a"]
    out = nsok(["stop", "-t", "60", name])
    check(out.startswith(f"{name}: stopped"), f"stop: {out!r}")
    no_leftovers(name, jail)
    check(not os.path.exists(f"/proc/{jail['vmm']}"), "the jailed VMM is still there")


def t_kill_vmm():
    name = "jl-b"
    create(name)
    jail = start(name)
    L.wait_console(name, r"HULL: console ready")
    os.kill(jail["vmm"], signal.SIGKILL)     # the jailed VMM vmctl started
    L.wait_state(name, "stopped")
    ex = L.exit_json(name)
    check(ex and ex["status"] == 5 and "signal 9" in ex["reason"], f"exit.json: {ex}")
    no_leftovers(name, jail)


def t_kill_keeper():
    name = "jl-b"
    jail = start(name)
    L.wait_console(name, r"HULL: console ready")
    os.kill(jail["keeper"], signal.SIGKILL)  # the keeper vmctl started
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{jail['vmm']}") and time.monotonic() < deadline:
        time.sleep(0.1)
    check(not os.path.exists(f"/proc/{jail['vmm']}"), "the jailed VMM outlived its keeper")
    L.wait_state(name, "failed")
    check(os.path.exists(L.path(name, "jail.rec")), "no jail record to clean up from")
    rc, out, err = nsvmctl(["stop", name])
    check(rc == 1 and "not running" in err, f"stop of a failed VM: {rc} {out!r} {err!r}")
    no_leftovers(name, jail)
    nsok(["delete", name])


def t_no_jail():
    spec = os.path.join(L.ROOT, "nojail.json")
    with open(spec, "w") as f:
        json.dump({"name": "jl-nojail", "ram": 64, "kernel": TINY, "cmdline": "smp",
                   "jail": False}, f)
    p = subprocess.run([VMCTL, "run", spec], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "TINY: poweroff" in p.stdout, f"run: {p.returncode} {p.stdout!r}")
    check('"jail": false' in p.stderr and "WARNING" in p.stderr, f"no warning: {p.stderr!r}")


def setup():
    # The keepers run under `ip netns exec`, which mounts a fresh /sys: a
    # cgroup2 they mount there is not ours to see.  The hierarchy is one,
    # so mounting it here too shows the same cgroups.
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        subprocess.run(["mount", "-t", "cgroup2", "none", "/sys/fs/cgroup"], check=True)
        S["cgmount"] = True
    L.ROOT = tempfile.mkdtemp(prefix="hull-jail.")
    ns = S["ns"] = netlab.NetNS("-jail")
    ns.bridge("br0", "10.78.0.1/24")
    for k, size in (("disk", 64), ("disk2", 1)):
        S[k] = os.path.join(L.ROOT, f"{k}.img")
        with open(S[k], "wb") as f:
            f.truncate(size << 20)


def cleanup():
    for name in ("jl-a", "jl-b"):
        nsvmctl(["stop", "-F", name])
    netlab._cleanup()
    subprocess.run(["rm", "-rf", L.ROOT])
    if S.get("cgmount"):
        subprocess.run(["umount", "/sys/fs/cgroup"])


def main():
    r = Runner("jail")
    for f in (L.KERNEL, L.INITRD, PROBE, TINY):
        if not os.path.exists(f):
            print(f"jail: missing {f} (make test builds it)")
            r.failed += 1
            r.finish()
    if not os.path.exists("/dev/kvm"):
        for t in ("running", "cpu-cap", "probe", "stop", "kill-vmm", "kill-keeper", "no-jail"):
            r.skip(f"jail/{t}", "no /dev/kvm")
        r.finish()
    setup()
    try:
        if r.run("jail/running", t_running):
            r.run("jail/cpu-cap", t_cpu_cap)
            r.run("jail/probe", t_probe)
        r.run("jail/stop", t_stop)
        if r.run("jail/kill-vmm", t_kill_vmm):
            r.run("jail/kill-keeper", t_kill_keeper)
        r.run("jail/no-jail", t_no_jail)
    finally:
        cleanup()
    r.finish()


if __name__ == "__main__":
    main()
