"""make bench: Hull beside QEMU on the same kernel, initrd and command line.

  boot   exec -> the kit's HULL-INIT marker, and exec -> exit after the
         guest powers off (hull.job=report), for Hull, QEMU -M microvm and
         QEMU -M q35 (KVM, -cpu host), both Debian kernels.
  rss    the VMM's resident memory beyond guest RAM, read from
         /proc/PID/smaps when the marker appears: every mapping's Rss except
         the guest-RAM mapping (the largest anonymous one).
  tiny   exec -> vCPU 0's first KVM_RUN and exec -> exit, Hull's tiny payload.
  net    iperf3 through virtio-net, Hull and QEMU, userspace and vhost-net
         (guest-tests/bench_net.py, docs/net-tests.md).
  volume fio in the guest on a volume vs a raw file (same data, same
         directory), and the time of `vmctl volume clone`.
  vms    VM creation rate: `vmctl create` and `vmctl start` of 50 tiny VMs
         (HULL_BENCH_VMS) that stay running, the starts nproc at a time:
         VMs per second per core, and the memory of the 50 VMMs together.

Medians of HULL_BENCH_RUNS runs (default 5).  Absolute times in the lab are
TCG times and mean little; read the ratios."""
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
VMCTL = os.path.join(BUILD, "vmctl")
KIT = os.path.join(BUILD, "kit")
WORK = os.path.join(BUILD, "bench")
RUNS = int(os.environ.get("HULL_BENCH_RUNS", "5"))
RAM = 512
CMDLINE = "console=ttyS0 quiet panic=-1 hull.job=report"
TIMEOUT = 300
# Inside the lab (guest-tests/lab/lab-run): TCG under everything.
LAB = os.path.exists("/proc/cmdline") and "hull.ctl=" in open("/proc/cmdline").read()


def smaps_overhead_kb(pid, ram_mib):
    """Rss of everything but the guest RAM mapping, in kB."""
    total = 0
    biggest = 0
    size = 0
    rss = 0
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    a, b = line.split()[0].split("-")
                    size = (int(b, 16) - int(a, 16)) // 1024
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
                    total += rss
                    if size >= ram_mib * 1024 and rss > biggest:
                        biggest = rss
    except OSError:
        return None
    return total - biggest


def run_once(cmd, ram, env=None):
    """(secs to marker, secs to exit, overhead kB, status)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    marker = None
    over = None
    buf = b""
    err = []
    et = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    et.start()
    deadline = t0 + TIMEOUT
    while True:
        b = os.read(p.stdout.fileno(), 4096)
        if not b:
            break
        buf += b
        if marker is None and b"HULL-INIT" in buf:
            marker = time.monotonic() - t0
            over = smaps_overhead_kb(p.pid, ram)
        if time.monotonic() > deadline:
            p.kill()
            break
    try:
        rc = p.wait(max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    end = time.monotonic() - t0
    et.join(5)
    ok = marker is not None and re.search(rb"HULL: memtotal_kb=\d+\r?\n", buf) is not None
    if not ok:
        sys.stderr.write(f"bench: run failed ({' '.join(cmd[:3])} ...), status {rc}\n"
                         f"{buf[-2000:].decode('utf-8', 'replace')}\n"
                         f"{(err[0] if err else b'').decode('utf-8', 'replace')[-1000:]}\n")
    return (marker, end, over, rc, ok)


def hull_cmd(kernel, vcpus):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, f"bench-{os.path.basename(kernel)}-{vcpus}.json")
    with open(path, "w") as f:
        json.dump({"name": "bench", "vcpus": vcpus, "ram": RAM, "kernel": kernel,
                   "initrd": os.path.join(KIT, "initrd.img"),
                   "cmdline": CMDLINE}, f)
    return [VMCTL, "run", "--no-reboot", path]


def qemu_cmd(machine, kernel, vcpus):
    m = {"q35": "q35", "microvm": "microvm,acpi=on"}[machine]
    return ["qemu-system-x86_64", "-enable-kvm", "-M", m, "-cpu", "host",
            "-smp", str(vcpus), "-m", str(RAM), "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", os.path.join(KIT, "initrd.img"),
            "-append", CMDLINE]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, unit):
    return "n/a" if x is None else f"{x:.3f}{unit}" if unit == "s" else f"{x:.0f}{unit}"


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def bench_boot(vcpus=1):
    rows = []
    for kname in ("cloud", "amd64"):
        kernel = os.path.join(KIT, f"vmlinuz-{kname}")
        res = {}
        for vmm in ("hull", "qemu-microvm", "qemu-q35"):
            cmd = hull_cmd(kernel, vcpus) if vmm == "hull" else \
                qemu_cmd(vmm.split("-")[1], kernel, vcpus)
            runs = [run_once(cmd, RAM) for _ in range(RUNS)]
            good = [r for r in runs if r[4]]
            res[vmm] = (med([r[0] for r in good]), med([r[1] for r in good]),
                        med([r[2] for r in good]), len(good))
            print(f"boot {kname:5} {vmm:13} marker {fmt(res[vmm][0], 's'):>9}  "
                  f"exit {fmt(res[vmm][1], 's'):>9}  rss-beyond-guest "
                  f"{fmt(res[vmm][2], ' kB'):>9}  ({res[vmm][3]}/{RUNS} ok)", flush=True)
        h = res["hull"]
        for q in ("qemu-microvm", "qemu-q35"):
            print(f"ratio {kname:5} hull/{q:12} marker {ratio(h[0], res[q][0])}  "
                  f"exit {ratio(h[1], res[q][1])}  rss {ratio(h[2], res[q][2])}", flush=True)
        rows.append((kname, res))
    return rows


def bench_tiny():
    tiny = os.path.join(BUILD, "tiny", "tiny.bzImage")
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, "tiny.json")
    with open(path, "w") as f:
        json.dump({"name": "tiny", "ram": 64, "kernel": tiny, "cmdline": "x"}, f)
    first, total, bare = [], [], []
    env = dict(os.environ, HULL_TRACE="1")
    # The floor: what one exec of a trivial program costs on this machine
    # (about 0.5 ms on hardware, ~100x that under the lab's TCG).
    for _ in range(max(RUNS, 10)):
        t0 = time.monotonic_ns()
        subprocess.run(["/bin/true"])
        bare.append((time.monotonic_ns() - t0) / 1e6)
    for _ in range(max(RUNS, 10)):
        t0 = time.monotonic_ns()
        p = subprocess.run([VMCTL, "run", path], capture_output=True, env=env)
        t1 = time.monotonic_ns()
        m = re.search(rb"hull-trace: first-run (\d+)", p.stderr)
        if p.returncode != 0 or not m:
            sys.stderr.write(f"bench: tiny run failed: {p.returncode} {p.stderr[-500:]!r}\n")
            continue
        first.append((int(m.group(1)) - t0) / 1e6)
        total.append((t1 - t0) / 1e6)
    if first:
        print(f"tiny  hull exec->first KVM_RUN {med(first):.2f} ms (target 3 ms), "
              f"exec->exit {med(total):.2f} ms (median of {len(first)}); "
              f"exec of /bin/true {med(bare):.2f} ms; first KVM_RUN = "
              f"{med(first) / med(bare):.2f}x a bare exec", flush=True)
    else:
        print("tiny  hull: no successful run", flush=True)


def bench_disk():
    """fio inside the guest on a virtio-blk disk backed by the same file:
    Hull (io_uring, O_DIRECT) vs QEMU q35 (virtio-blk-pci, aio=io_uring,
    cache=none), same kernel and initrd."""
    os.makedirs(WORK, exist_ok=True)
    img = os.path.join(WORK, "disk.img")
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    kernel = os.path.join(KIT, "vmlinuz-cloud")
    cmdline = "console=ttyS0 quiet panic=-1 hull.job=fiobench"
    spec = os.path.join(WORK, "disk.json")
    with open(spec, "w") as f:
        json.dump({"name": "benchdisk", "vcpus": 2, "ram": RAM, "kernel": kernel,
                   "initrd": os.path.join(KIT, "initrd.img"), "cmdline": cmdline,
                   "disks": [{"path": img}]}, f)
    cmds = {
        "hull": [VMCTL, "run", "--no-reboot", spec],
        "qemu": ["qemu-system-x86_64", "-enable-kvm", "-M", "q35", "-cpu", "host",
                 "-smp", "2", "-m", str(RAM), "-nodefaults", "-no-user-config",
                 "-display", "none", "-serial", "stdio", "-no-reboot",
                 "-kernel", kernel, "-initrd", os.path.join(KIT, "initrd.img"),
                 "-append", cmdline,
                 "-drive", f"file={img},if=none,id=d0,format=raw,cache=none,aio=io_uring",
                 "-device", "virtio-blk-pci,drive=d0"],
    }
    res = {}
    for vmm, cmd in cmds.items():
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        out = p.stdout.decode("utf-8", "replace")
        res[vmm] = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
                    re.finditer(r"HULL: fio (\S+) iops=(\d+) bw_kib=(\d+)", out)}
        if not res[vmm]:
            sys.stderr.write(f"bench: {vmm} disk run failed: {out[-1500:]}\n"
                             f"{p.stderr.decode('utf-8', 'replace')[-800:]}\n")
    for name in ("randread-4k-qd32", "randwrite-4k-qd32", "read-1M-qd4", "write-1M-qd4"):
        h = res.get("hull", {}).get(name)
        q = res.get("qemu", {}).get(name)
        fmtr = lambda r: "n/a" if r is None else f"{r[0]:>7} IOPS {r[1] / 1024:7.1f} MiB/s"
        print(f"disk  {name:18} hull {fmtr(h)}   qemu {fmtr(q)}   "
              f"ratio {ratio(h[0] if h else None, q[0] if q else None)}", flush=True)


def fio_in_guest(spec_path):
    """{job: (iops, KiB/s)} of the kit's fiobench job under `vmctl run`."""
    p = subprocess.run([VMCTL, "run", "--no-reboot", spec_path], capture_output=True,
                       timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    out = p.stdout.decode("utf-8", "replace")
    res = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
           re.finditer(r"HULL: fio (\S+) iops=(\d+) bw_kib=(\d+)", out)}
    if not res:
        sys.stderr.write(f"bench: fio run failed: {out[-1500:]}\n"
                         f"{p.stderr.decode('utf-8', 'replace')[-800:]}\n")
    return res


def bench_volume():
    """fio inside the guest on a volume vs on a raw file in the same
    directory, same data (the raw image imported into the volume), Hull
    both times (docs/volumes.md); then clone time of a volume in use."""
    import tempfile
    top = tempfile.mkdtemp(prefix="hull-benchvol-", dir="/tmp")
    env = dict(os.environ, HULL_ROOT=top)
    raw = os.path.join(top, "raw.img")
    try:
        with open(raw, "wb") as f:
            for _ in range(256):
                f.write(os.urandom(1 << 20))
        vol = [VMCTL, "volume"]
        subprocess.run(vol + ["pool-create", "bench", os.path.join(top, "bench.pool"), "1G"],
                       env=env, check=True)
        subprocess.run(vol + ["import-raw", raw, "bench/v"], env=env, check=True,
                       stdin=subprocess.DEVNULL)
        kernel = os.path.join(KIT, "vmlinuz-cloud")
        res = {}
        for name, disk in (("volume", {"volume": "bench/v"}), ("raw", {"path": raw})):
            spec = os.path.join(top, f"{name}.json")
            with open(spec, "w") as f:
                json.dump({"name": f"benchvol-{name}", "vcpus": 2, "ram": RAM,
                           "kernel": kernel, "initrd": os.path.join(KIT, "initrd.img"),
                           "cmdline": "console=ttyS0 quiet panic=-1 hull.job=fiobench",
                           "disks": [disk]}, f)
            p = subprocess.run([VMCTL, "run", "--no-reboot", spec], capture_output=True,
                               timeout=TIMEOUT, stdin=subprocess.DEVNULL, env=env)
            out = p.stdout.decode("utf-8", "replace")
            res[name] = {m.group(1): (int(m.group(2)), int(m.group(3))) for m in
                         re.finditer(r"HULL: fio (\S+) iops=(\d+) bw_kib=(\d+)", out)}
            if not res[name]:
                sys.stderr.write(f"bench: volume {name} run failed: {out[-1500:]}\n"
                                 f"{p.stderr.decode('utf-8', 'replace')[-800:]}\n")
        targets = {"randread-4k-qd32": 0.90, "randwrite-4k-qd32": 0.60}
        for job in ("randread-4k-qd32", "randwrite-4k-qd32", "read-1M-qd4", "write-1M-qd4"):
            v = res.get("volume", {}).get(job)
            r = res.get("raw", {}).get(job)
            fmtr = lambda x: "n/a" if x is None else f"{x[0]:>7} IOPS {x[1] / 1024:7.1f} MiB/s"
            t = f"   target >= {targets[job]:.2f}" if job in targets else ""
            print(f"volume {job:18} vol {fmtr(v)}   raw {fmtr(r)}   vol/raw "
                  f"{ratio(v[0] if v else None, r[0] if r else None)}{t}", flush=True)
        # Clone of the volume the guests used, by the command a user runs.
        subprocess.run(vol + ["snapshot", "bench/v@s"], env=env, check=True)
        ts = []
        for i in range(RUNS):
            t0 = time.monotonic()
            subprocess.run(vol + ["clone", "bench/v@s", f"bench/c{i}"], env=env, check=True)
            ts.append(time.monotonic() - t0)
        print(f"volume clone (256 MiB volume, whole vmctl command) {fmt(med(ts) * 1000 if ts else None, 'ms')}",
              flush=True)
    finally:
        subprocess.run(["rm", "-rf", top])


def bench_jail():
    """What the jail costs (docs/jail.md): `vmctl run` of the tiny payload
    to its exit, jailed and not, alternating; fio in a guest jailed and not;
    iperf3 jailed and not (bench_net's hull and hull-nojail rows)."""
    os.makedirs(WORK, exist_ok=True)
    tiny = os.path.join(BUILD, "tiny", "tiny.bzImage")
    runs = int(os.environ.get("HULL_BENCH_JAIL_RUNS", "15"))
    t = {True: [], False: []}
    for jail in (True, False):
        with open(os.path.join(WORK, f"jail-{jail}.json"), "w") as f:
            json.dump({"name": "benchjail", "ram": 64, "kernel": tiny, "cmdline": "x",
                       "jail": jail}, f)
    for _ in range(runs):
        for jail in (True, False):
            t0 = time.monotonic()
            p = subprocess.run([VMCTL, "run", os.path.join(WORK, f"jail-{jail}.json")],
                               capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            if p.returncode == 0:
                t[jail].append(time.monotonic() - t0)
    j, u = med(t[True]), med(t[False])
    print(f"jail  start+stop of the tiny payload, median of {runs}: jailed {fmt(j, 's')}, "
          f"unjailed {fmt(u, 's')}, the jail costs "
          f"{'n/a' if j is None or u is None else f'{(j - u) * 1000:.1f} ms'} "
          f"(target < 5 ms{'; lab: TCG makes every clone, mount and exec slow' if LAB else ''})",
          flush=True)
    img = os.path.join(WORK, "jail-disk.img")
    with open(img, "wb") as f:
        f.truncate(512 << 20)
    res = {}
    for jail in (True, False):
        spec = os.path.join(WORK, f"jail-disk-{jail}.json")
        with open(spec, "w") as f:
            json.dump({"name": "benchjaildisk", "vcpus": 2, "ram": RAM,
                       "kernel": os.path.join(KIT, "vmlinuz-cloud"),
                       "initrd": os.path.join(KIT, "initrd.img"),
                       "cmdline": "console=ttyS0 quiet panic=-1 hull.job=fiobench",
                       "disks": [{"path": img}], "jail": jail}, f)
        res[jail] = fio_in_guest(spec)
    for name in ("randread-4k-qd32", "randwrite-4k-qd32", "read-1M-qd4", "write-1M-qd4"):
        a, b = res[True].get(name), res[False].get(name)
        print(f"jail  disk {name:18} jailed {a[0] if a else 'n/a':>7} IOPS  unjailed "
              f"{b[0] if b else 'n/a':>7} IOPS  jailed/unjailed "
              f"{ratio(a[0] if a else None, b[0] if b else None)}", flush=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_net
    bench_net.VMMS = ["hull", "hull-nojail"]
    print("jail  network: the hull/hull-nojail column below is jailed/unjailed", flush=True)
    bench_net.main()


def vmm_mem_kb(pid):
    """(Rss, Pss) of a process in kB, from /proc/PID/smaps_rollup."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def bench_vms(n=None):
    """VM creation rate: `vmctl create` then `vmctl start` of N tiny VMs
    (the tiny payload's "hang": cli; hlt, so each stays running and idle
    until stopped), the starts from nproc threads at once; the total memory
    of the N VMMs while all run; then `stop -F` and `delete` of all."""
    import shutil
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    n = n or int(os.environ.get("HULL_BENCH_VMS", "50"))
    ncpu = os.cpu_count() or 1
    tiny = os.path.join(BUILD, "tiny", "tiny.bzImage")
    # A root where unix sockets can be made (the lab's build/ is 9p).
    root = tempfile.mkdtemp(prefix="hull-bench-", dir=os.environ.get("HULL_TEST_TMP", "/tmp"))
    names = [f"bench{i:03d}" for i in range(n)]

    def vmctl(*args):
        return subprocess.run([VMCTL, "--root", root, *args], capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)

    def timed(fn, items, workers):
        lat = []

        def one(it):
            t0 = time.monotonic()
            p = fn(it)
            lat.append(time.monotonic() - t0)
            return it, p
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as ex:
            res = list(ex.map(one, items))
        return time.monotonic() - t0, lat, res

    def failed(what, res):
        bad = [(it, p.returncode, p.stderr.strip()) for it, p in res if p.returncode != 0]
        if bad:
            sys.stderr.write(f"bench: vms: {len(bad)} {what} failed, e.g. {bad[:3]}\n")
        return len(bad)

    try:
        specs = []
        for name in names:
            path = os.path.join(root, f"{name}.json")
            with open(path, "w") as f:
                json.dump({"name": name, "ram": 64, "kernel": tiny, "cmdline": "hang"}, f)
            specs.append(path)
        t_create, _, res = timed(lambda s: vmctl("create", s), specs, 1)
        bad = failed("creates", res)
        t_start, lat, res = timed(lambda nm: vmctl("start", nm), names, ncpu)
        bad += failed("starts", res)
        pids, running = [], 0
        for nm in names:
            g = vmctl("info", nm)
            if g.returncode == 0 and json.loads(g.stdout).get("state") == "running":
                info = json.loads(g.stdout)
                running += 1
                pids.append(info["pid"])          # the keeper
                if "jail" in info:
                    pids.append(info["jail"]["vmm"])   # and the jailed VMM
        mem = [vmm_mem_kb(p) for p in pids]
        rss = sum(m[0] for m in mem if m[0] is not None)
        pss = sum(m[1] for m in mem if m[1] is not None)
        threads = sum(len(os.listdir(f"/proc/{p}/task")) for p in pids
                      if os.path.isdir(f"/proc/{p}/task"))
        t_stop, _, res = timed(lambda nm: vmctl("stop", "-F", nm), names, ncpu)
        bad += failed("stops", res)
        t_delete, _, res = timed(lambda nm: vmctl("delete", nm), names, 1)
        bad += failed("deletes", res)
        rate = n / t_start
        print(f"vms   {n} tiny VMs (64 MiB, 1 vCPU), {ncpu} CPUs here"
              f"{' (lab: TCG)' if LAB else ''}", flush=True)
        print(f"vms   create {n / t_create:7.1f} VMs/s (one at a time, {t_create:.2f}s)",
              flush=True)
        print(f"vms   start  {rate:7.1f} VMs/s with {ncpu} at once = {rate / ncpu:.1f} "
              f"VMs/s per core ({t_start:.2f}s for {n}; one start: median "
              f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms); "
              f"{running}/{n} running", flush=True)
        print(f"vms   memory of {running} running VMs (keeper + jailed VMM): Rss "
              f"{rss / 1024:.1f} MiB in all ({rss / max(running, 1):.0f} kB each), Pss "
              f"{pss / 1024:.1f} MiB ({pss / max(running, 1):.0f} kB each); {threads} threads",
              flush=True)
        print(f"vms   stop -F {n / t_stop:7.1f} VMs/s, delete {n / t_delete:7.1f} VMs/s"
              f"{f'; {bad} verbs failed' if bad else ''}", flush=True)
        if LAB:
            print("vms   (the lab is QEMU TCG: every exec and KVM call is emulated, "
                  "so these rates are far below a real host's; compare runs, not hosts)",
                  flush=True)
    finally:
        for nm in names:
            if os.path.isdir(os.path.join(root, nm)):
                vmctl("delete", "-F", nm)
        shutil.rmtree(root, ignore_errors=True)


def main():
    if not os.path.exists("/dev/kvm"):
        print("bench: no /dev/kvm here")
        sys.exit(1)
    what = sys.argv[1:] or ["tiny", "vms", "boot", "disk", "net", "jail", "volume"]
    if "tiny" in what:
        bench_tiny()
    if "vms" in what:
        bench_vms()
    if "boot" in what:
        bench_boot()
    if "disk" in what:
        bench_disk()
    if "net" in what:
        # iperf3 through virtio-net, Hull and QEMU (guest-tests/bench_net.py)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_net
        bench_net.main()
    if "jail" in what:
        bench_jail()
    if "volume" in what:
        bench_volume()


if __name__ == "__main__":
    main()
