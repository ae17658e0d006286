"""The lifecycle verbs on running guests (docs/vmctl.md): Debian's cloud
kernel with the guest kit (hull.job=console) under `vmctl start`, in the
background, driven only through vmctl and the files of the VM store.

  main      start (returns running), console (type, read, detach; attach
            again and see the replay; a second typist is refused), stats
            (exit counters move while the guest prints), info (vCPU tids are threads of the jailed VMM),
            graceful stop (exit.json status 0), start again (a second start
            is refused), reboot (boots 2, a second boot on the console),
            delete refused while running, delete -F
  five      five VMs started together all run and all stop gracefully
  nobutton  a guest that ignores the power button (hull.nopowerbutton) is
            forced off by `stop -t 3`, and the message says so
  sigkill   kill -9 of a VMM: state "failed" in list and info with the log
            tail; start works again

All VMs start at once (the boots overlap), under a root in /tmp (the lab's
build/ is 9p, where unix sockets cannot be made).  Needs a /dev/kvm with
VMX or SVM (the lab provides one)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from hulltest import BUILD, VMCTL, LabStall, Runner, TestFailure, check, lab_stall

KIT = os.path.join(BUILD, "kit")
KERNEL = os.path.join(KIT, "vmlinuz-cloud")
INITRD = os.path.join(KIT, "initrd.img")
RAM = 256
CMDLINE = "console=ttyS0 quiet panic=-1 hull.job=console"
BOOT_TIMEOUT = int(os.environ.get("HULL_BOOT_TIMEOUT", "240"))
# Generous for TCG; the times are printed.
STOP_LIMIT = 15

ROOT = None
FIVE = [f"lc-five{i}" for i in range(1, 6)]
ALL = ["lc-main", "lc-nobutton", "lc-kill"] + FIVE


def vmctl(args, timeout=120, stdin=subprocess.DEVNULL):
    p = subprocess.run([VMCTL, "--root", ROOT, *args], capture_output=True,
                       text=True, timeout=timeout, stdin=stdin)
    return p.returncode, p.stdout, p.stderr


def ok(args, timeout=120):
    rc, out, err = vmctl(args, timeout)
    check(rc == 0, f"vmctl {' '.join(args)}: status {rc}: {err.strip()!r} {out.strip()!r}")
    return out


def js(args):
    out = ok(args)
    try:
        return json.loads(out)
    except ValueError:
        raise TestFailure(f"vmctl {' '.join(args)}: not JSON: {out!r}")


def path(name, f):
    return os.path.join(ROOT, name, f)


def read(name, f):
    try:
        with open(path(name, f), "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def console_log(name):
    return read(name, "console.log").decode("utf-8", "replace")


def exit_json(name):
    try:
        return json.loads(read(name, "exit.json"))
    except ValueError:
        return None


def show(name):
    print(f"--- {name}: console.log (end) ---\n{console_log(name)[-3000:]}\n"
          f"--- {name}: vmm.log (end) ---\n"
          f"{read(name, 'vmm.log').decode('utf-8', 'replace')[-2000:]}\n---", flush=True)


def wait_console(name, pattern, timeout=BOOT_TIMEOUT, start=0):
    """Wait for pattern in console.log from offset start; the match."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        # exit.json first: a VMM that ended cannot print the pattern later.
        ended = os.path.exists(path(name, "exit.json"))
        m = rx.search(console_log(name), start)
        if m:
            return m
        if ended or time.monotonic() > deadline:
            show(name)
            msg = (f"{name}: the VMM ended before {pattern!r} was on the console: "
                   f"{exit_json(name)}" if ended else
                   f"{name}: no {pattern!r} on the console after {timeout}s")
            stall = lab_stall(read(name, "console.log"), read(name, "vmm.log"))
            if stall:
                raise LabStall(f"{msg} [lab stall: {stall}]")
            raise TestFailure(msg)
        time.sleep(0.25)


def wait_state(name, state, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        g = js(["get", name])
        if g["state"] == state:
            return g
        if time.monotonic() > deadline:
            show(name)
            raise TestFailure(f"{name}: state {g['state']}, not {state} after {timeout}s")
        time.sleep(0.2)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def create(name, cmdline=CMDLINE):
    spec = os.path.join(ROOT, f"{name}.json")
    with open(spec, "w") as f:
        json.dump({"name": name, "vcpus": 1, "ram": RAM, "kernel": KERNEL,
                   "initrd": INITRD, "cmdline": cmdline}, f)
    out = ok(["create", spec])
    check(out == f"{name}\n", f"create {name}: {out!r}")


def start(name):
    """vmctl start; the pid it reports, checked against get."""
    out = ok(["start", name])
    m = re.fullmatch(rf"{re.escape(name)}: running \(pid (\d+)\)\n", out)
    check(m is not None, f"start {name}: {out!r}")
    pid = int(m.group(1))
    STARTED.append(pid)
    g = js(["get", name])
    check(g["state"] == "running" and g["pid"] == pid and alive(pid),
          f"{name}: after start: {g}")
    return pid


def parallel(fn, items):
    """fn(item) for every item at once; the results, or the first failure."""
    res, errs = {}, []

    def one(it):
        try:
            res[it] = fn(it)
        except Exception as e:   # noqa: BLE001 - reported below
            errs.append((it, e))
    ts = [threading.Thread(target=one, args=(it,)) for it in items]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        msg = "; ".join(f"{it}: {type(e).__name__}: {e}" for it, e in errs)
        # Only lab stalls: the Runner may run the test once more.
        if all(isinstance(e, LabStall) for _, e in errs):
            raise LabStall(msg)
        raise TestFailure(msg)
    return res


def timed_stop(name, args=()):
    t0 = time.monotonic()
    rc, out, err = vmctl(["stop", *args, name])
    return rc, out, err, time.monotonic() - t0


PIDS = {}       # the first VMM of each VM
STARTED = []    # every VMM pid vmctl start reported


# ---- the phases (one Runner line each) ----

def t_start_all():
    for name in ALL:
        create(name, CMDLINE + (" hull.nopowerbutton" if name == "lc-nobutton" else ""))
    t0 = time.monotonic()
    PIDS.update(parallel(start, ALL))
    took = time.monotonic() - t0
    rows = {r["name"]: r for r in js(["list", "-j"])}
    for name in ALL:
        check(rows[name]["state"] == "running" and rows[name]["pid"] == PIDS[name],
              f"list: {rows[name]}")
    check(len(set(PIDS.values())) == len(ALL), f"pids not distinct: {PIDS}")
    table = ok(["list", "-o", "name,state"])
    for name in ALL:
        check(re.search(rf"^{name}\s+running$", table, re.M), f"list table: {table!r}")
    print(f"     {len(ALL)} VMs started together in {took:.1f}s", flush=True)


def t_sigkill():
    name = "lc-kill"
    pid = js(["get", name])["pid"]
    os.kill(pid, signal.SIGKILL)      # the VMM we started, by its pid
    g = wait_state(name, "failed")
    check(g["pid"] == pid and "last_exit" not in g, f"get after SIGKILL: {g}")
    info = js(["info", name])
    check(info["state"] == "failed" and info["pid"] == pid, f"info: {info}")
    check(any(f"VMM pid {pid} starting" in ln for ln in info["log_tail"]),
          f"log_tail: {info['log_tail']}")
    check(re.search(rf"^{name}\s+failed\s+{pid}\s", ok(["list"]), re.M),
          "list does not show it failed")
    # Readers and stop say it is not running; start cleans up and runs it.
    rc, _, err = vmctl(["stats", name])
    check(rc == 1 and "not running" in err, f"stats of a failed VM: {rc} {err!r}")
    pid2 = start(name)
    check(pid2 != pid, "the same pid again")
    rc, out, err, took = timed_stop(name, ["-F"])
    check(rc == 0 and out == f"{name}: stopped (forced off)\n", f"stop -F: {rc} {out!r} {err!r}")
    ex = exit_json(name)
    check(ex and ex["status"] == 5 and "forced" in ex["reason"], f"exit.json: {ex}")
    check(not alive(pid2), "the VMM is still there")
    check(js(["get", name])["state"] == "stopped", "not stopped")
    print(f"     failed seen, restarted, stop -F in {took:.1f}s", flush=True)


def t_nobutton():
    name = "lc-nobutton"
    wait_console(name, r"HULL: power button ignored")
    wait_console(name, r"HULL: console ready")
    rc, out, err, took = timed_stop(name, ["-t", "3"])
    check(rc == 0 and out == f"{name}: stopped (forced off after the timeout)\n",
          f"stop -t 3: {rc} {out!r} {err!r}")
    check(3 <= took < 3 + STOP_LIMIT, f"stop -t 3 took {took:.1f}s")
    ex = exit_json(name)
    check(ex and ex["status"] == 5, f"exit.json: {ex}")
    check("HULL: power button pressed" not in console_log(name), "the button was handled")
    check(not alive(PIDS[name]), "the VMM is still there")
    print(f"     stop -t 3: forced off after {took:.1f}s", flush=True)


def t_five():
    # On the Runner's second try after a lab stall, start what is down.
    down = [n for n in FIVE if js(["get", n])["state"] != "running"]
    if down:
        print(f"     starting {' '.join(down)} again", flush=True)
        PIDS.update(parallel(start, down))
    try:
        parallel(lambda name: wait_console(name, r"HULL: console ready"), FIVE)
    except TestFailure:
        # The rest of the suite (delete) should not fail for this too.
        for name in FIVE:
            vmctl(["stop", "-F", name])
        raise

    def stop(name):
        rc, out, err, took = timed_stop(name, ["-t", "60"])
        check(rc == 0 and out == f"{name}: stopped (shut down)\n",
              f"stop {name}: {rc} {out!r} {err!r}")
        return took
    took = parallel(stop, FIVE)
    for name in FIVE:
        ex = exit_json(name)
        check(ex and ex["status"] == 0 and ex["reason"] == "the guest powered off",
              f"{name}: exit.json {ex}")
        check("HULL: power button pressed" in console_log(name) and
              "reboot: Power down" in console_log(name), f"{name}: no power-off on the console")
        check(not alive(PIDS[name]), f"{name}: the VMM is still there")
        check(took[name] < STOP_LIMIT, f"{name}: stop took {took[name]:.1f}s")
    rows = {r["name"]: r for r in js(["list", "-j"])}
    check(all(rows[n]["state"] == "stopped" for n in FIVE), f"list: {rows}")
    print("     graceful stops: " + " ".join(f"{took[n]:.1f}s" for n in FIVE), flush=True)


class Console:
    """vmctl console NAME on pipes; output collected by a thread."""

    def __init__(self, name):
        self.out = bytearray()
        self.cv = threading.Condition()
        self.p = subprocess.Popen([VMCTL, "--root", ROOT, "console", name],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        while True:
            b = os.read(self.p.stdout.fileno(), 65536)
            with self.cv:
                self.out.extend(b)
                self.cv.notify_all()
            if not b:
                return

    def send(self, b):
        self.p.stdin.write(b)
        self.p.stdin.flush()

    def expect(self, pattern, timeout=60):
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        with self.cv:
            while not rx.search(self.out):
                left = deadline - time.monotonic()
                if left <= 0 or not self.t.is_alive():
                    self.close()
                    raise TestFailure(f"console: no {pattern!r} in "
                                      f"{bytes(self.out[-1500:])!r}")
                self.cv.wait(min(left, 0.5))

    def detach(self):
        self.send(b"\x1d")
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.close()
            raise TestFailure("console: Ctrl-] did not detach")
        err = self.p.stderr.read().decode()
        self.t.join(5)
        return rc, err

    def close(self):
        if self.p.poll() is None:
            self.p.kill()    # our own vmctl console, by its pid
            self.p.wait()


def t_main_console():
    name = "lc-main"
    wait_console(name, r"HULL: console ready")
    c = Console(name)
    try:
        c.send(b"echo HELLO-$((6*7))\n")
        c.expect(r"HELLO-42")
        # One typist at a time: a second attach is told and let go.
        rc, out, err = vmctl(["console", name], timeout=30, stdin=subprocess.PIPE)
        check(rc == 1 and "attached elsewhere" in out and "the console closed" in err,
              f"second attach: {rc} {out!r} {err!r}")
        rc, err = c.detach()
    finally:
        c.close()
    check(rc == 0 and f"vmctl: detached from {name}" in err, f"detach: {rc} {err!r}")
    check(js(["get", name])["state"] == "running", "the VM stopped on detach")
    # Attach again: the earlier output is replayed first.
    c = Console(name)
    try:
        c.expect(r"HULL: console ready[\s\S]*HELLO-42")
        c.send(b"echo AGAIN-$((7*6))\n")
        c.expect(r"AGAIN-42")
        rc, err = c.detach()
    finally:
        c.close()
    check(rc == 0, f"second detach: {rc} {err!r}")
    check("AGAIN-42" in console_log(name), "console.log lacks the output")


def exits_total(st):
    return sum(n for v in st["vcpus"] for n in v["exits"].values())


def t_main_stats_info():
    name = "lc-main"
    s1 = js(["stats", name])
    # An idle guest may not exit to the VMM at all (HLT and the timers are
    # KVM's): make it print something, each byte a port I/O exit.
    c = Console(name)
    try:
        c.send(b"echo STATS-$((40+2))\n")
        c.expect(r"STATS-42")
        c.detach()
    finally:
        c.close()
    s2 = js(["stats", name])
    check([v["id"] for v in s1["vcpus"]] == [0] and s1["devices"] == [],
          f"stats: {s1}")
    check(s2["uptime_ms"] > s1["uptime_ms"], "uptime did not move")
    io1, io2 = (st["vcpus"][0]["exits"].get("io", 0) for st in (s1, s2))
    check(exits_total(s2) > exits_total(s1) > 0 and io2 >= io1 + len("STATS-42"),
          f"exit counters did not move: {s1['vcpus']} -> {s2['vcpus']}")
    info = js(["info", name])
    pid = PIDS[name]
    check(info["state"] == "running" and info["pid"] == pid and info["boots"] == 1 and
          info["vcpus"] == 1 and info["ram_mib"] == RAM, f"info: {info}")
    # pid is the keeper; the vCPUs are threads of the jailed VMM
    # (docs/jail.md), whose host tids vmctl info reports.
    vmm = info["jail"]["vmm"]
    tasks = set(int(t) for t in os.listdir(f"/proc/{vmm}/task"))
    tids = [v["tid"] for v in info["vcpu_threads"]]
    check(len(tids) == 1 and all(t in tasks and t != vmm for t in tids),
          f"vcpu tids {tids} are not threads of the jailed VMM {vmm} ({sorted(tasks)})")
    with open(f"/proc/{pid}/comm") as f:
        check(f.read().strip() == f"hull:{name}", "the VMM's name")
    check(any(f"VMM pid {pid} starting" in ln for ln in info["log_tail"]),
          f"log_tail: {info['log_tail']}")
    print(f"     exits {exits_total(s1)} -> {exits_total(s2)} (io {io1} -> {io2}); "
          f"vCPU tid {tids[0]}",
          flush=True)


def t_main_stop_start_reboot():
    name = "lc-main"
    rc, out, err, took = timed_stop(name)
    check(rc == 0 and out == f"{name}: stopped (shut down)\n", f"stop: {rc} {out!r} {err!r}")
    ex = exit_json(name)
    check(ex and ex["status"] == 0, f"exit.json: {ex}")
    check(took < STOP_LIMIT, f"graceful stop took {took:.1f}s")
    check(not alive(PIDS[name]), "the VMM is still there")
    print(f"     graceful stop in {took:.1f}s", flush=True)
    # Start again (the log is appended to: look past what is there).
    mark = len(console_log(name))
    pid = start(name)
    rc, _, err = vmctl(["start", name])
    check(rc == 1 and f"{name}: already running (pid {pid})" in err, f"second start: {rc} {err!r}")
    check(exit_json(name) is None, "exit.json of the last run is still there")
    m = wait_console(name, r"HULL-INIT", start=mark)
    check(js(["info", name])["boots"] == 1, "boots is not 1 after a start")
    mark = m.end()
    out = ok(["reboot", name])
    check(out == f"{name}: rebooting\n", f"reboot: {out!r}")
    wait_console(name, r"HULL-INIT", start=mark)
    deadline = time.monotonic() + 30
    while True:
        info = js(["info", name])
        if info.get("boots") == 2 and info.get("state") == "running":
            break
        check(time.monotonic() < deadline, f"info after reboot: {info}")
        time.sleep(0.2)
    check(info["pid"] == pid, "the reboot changed the VMM")
    # Delete: refused while it runs, -F stops it first.
    rc, _, err = vmctl(["delete", name])
    check(rc == 1 and f"{name}: running (pid {pid}); stop it first, or delete -F" in err,
          f"delete of a running VM: {rc} {err!r}")
    out = ok(["delete", "-F", name])
    check(out == f"{name}: deleted\n" and not os.path.exists(os.path.join(ROOT, name)),
          f"delete -F: {out!r}")
    check(not alive(pid), "the VMM is still there after delete -F")


def t_delete_all():
    for name in ALL:
        if os.path.exists(os.path.join(ROOT, name)):
            ok(["delete", name])
    check(js(["list", "-j"]) == [], "VMs left")
    left = [n for n in os.listdir(ROOT) if not n.endswith(".json")]
    check(left == [], f"files left in the root: {left}")
    for pid in STARTED:
        check(not alive(pid), f"VMM {pid} left running")


def main():
    global ROOT
    r = Runner("lifecycle")
    missing = [p for p in (KERNEL, INITRD) if not os.path.exists(p)]
    if missing:
        print(f"lifecycle: guest kit missing: {missing} (make kit)")
        r.failed += 1
        r.finish()
    if not os.path.exists("/dev/kvm"):
        r.skip("lifecycle", "no /dev/kvm")
        r.finish()
    ROOT = tempfile.mkdtemp(prefix="hull-test-", dir=os.environ.get("HULL_TEST_TMP", "/tmp"))
    t0 = time.monotonic()
    try:
        if r.run("lifecycle/start-all", t_start_all):
            r.run("lifecycle/sigkill", t_sigkill)
            r.run("lifecycle/stop-timeout", t_nobutton)
            r.run("lifecycle/five-stop", t_five)
            if r.run("lifecycle/console", t_main_console):
                r.run("lifecycle/stats-info", t_main_stats_info)
            r.run("lifecycle/stop-start-reboot-delete", t_main_stop_start_reboot)
        r.run("lifecycle/delete", t_delete_all)
    finally:
        # Whatever a failure left: stop and remove our VMs, then the root.
        for name in ALL:
            if os.path.exists(os.path.join(ROOT, name)):
                vmctl(["delete", "-F", name])
        for pid in STARTED:
            if alive(pid):
                print(f"lifecycle: VMM {pid} still alive; killing it", flush=True)
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(ROOT, ignore_errors=True)
    print(f"lifecycle: {time.monotonic() - t0:.0f}s in all", flush=True)
    r.finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
