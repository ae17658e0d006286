"""make bench: Hull beside QEMU on the same kernel, initrd and command line.

  boot   exec -> the kit's HULL-INIT marker, and exec -> exit after the
         guest powers off (hull.job=report), for Hull, QEMU -M microvm and
         QEMU -M q35 (KVM, -cpu host), both Debian kernels.
  rss    the VMM's resident memory beyond guest RAM, read from
         /proc/PID/smaps when the marker appears: every mapping's Rss except
         the guest-RAM mapping (the largest anonymous one).
  tiny   exec -> vCPU 0's first KVM_RUN and exec -> exit, Hull's tiny payload.

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


def main():
    if not os.path.exists("/dev/kvm"):
        print("bench: no /dev/kvm here")
        sys.exit(1)
    what = sys.argv[1:] or ["tiny", "boot", "disk"]
    if "tiny" in what:
        bench_tiny()
    if "boot" in what:
        bench_boot()
    if "disk" in what:
        bench_disk()


if __name__ == "__main__":
    main()
