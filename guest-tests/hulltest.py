"""Drive `vmctl run` from tests: write a spec, start the VM, wait for console
output, type on the console, and check how it ended.  Every wait is bounded;
on failure the console and vmctl's stderr are printed.  Only processes this
module started are ever signalled, by pid."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("HULL_BUILD", os.path.join(ROOT, "build"))
VMCTL = os.path.join(BUILD, "vmctl")
WORK = os.path.join(BUILD, "guest-tests")


class TestFailure(Exception):
    pass


class LabStall(TestFailure):
    """The lab's nested guest stalled the way any VMM's does there
    (docs/lab.md, "Known problems"); Runner retries the test once."""


def _in_lab():
    try:
        with open("/proc/cmdline") as f:
            return "hull.ctl=" in f.read()
    except OSError:
        return False


IN_LAB = _in_lab()

# What the lab's stalls look like on an L2 console or in vmctl's stderr.  A
# triple fault counts only with no kernel message before it: a guest bug
# would oops or panic first.
STALLS = (rb"rcu: INFO: rcu_(preempt|sched) detected stalls",
          rb"watchdog: BUG: soft lockup", rb"rcu_preempt kthread timer wakeup didn't happen")


def lab_stall(console, stderr):
    """The stall signature in a failed guest's output, or None."""
    if not IN_LAB:
        return None
    for pat in STALLS:
        m = re.search(pat, console)
        if m:
            return m.group(0).decode()
    if b"triple fault" in stderr and not re.search(rb"Kernel panic|BUG:|Oops", console):
        return "triple fault with no kernel message before it"
    return None


class VM:
    def __init__(self, spec, args=(), stdin_fd=None, env=None, prefix=(), argv=None):
        """Runs `vmctl run ARGS SPEC`, after the words of prefix if any (for
        example ["ip", "netns", "exec", "ns1"]: that tool must exec the
        command, so that the pid is vmctl's).  With argv, runs prefix + argv
        instead (another VMM, say), and spec only gives the name."""
        os.makedirs(WORK, exist_ok=True)
        self.name = spec["name"]
        self.spec_path = os.path.join(WORK, self.name + ".json")
        if argv is None:
            with open(self.spec_path, "w") as f:
                json.dump(spec, f)
            argv = [VMCTL, "run", *args, self.spec_path]
        self.out = bytearray()   # appended in place: a chatty guest is cheap
        self.err = bytearray()
        self.lock = threading.Condition()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [*prefix, *argv],
            stdin=stdin_fd if stdin_fd is not None else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env)
        self.readers = [threading.Thread(target=self._read, args=(s, k), daemon=True)
                        for s, k in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))]
        for t in self.readers:
            t.start()

    def _read(self, stream, attr):
        while True:
            b = os.read(stream.fileno(), 65536)
            with self.lock:
                if b:
                    getattr(self, attr).extend(b)
                self.lock.notify_all()
            if not b:
                return

    def console(self):
        with self.lock:
            return bytes(self.out).decode("utf-8", "replace")

    def stderr(self):
        with self.lock:
            return bytes(self.err).decode("utf-8", "replace")

    def fail(self, msg):
        print(f"--- console of {self.name} ---\n{self.console()}\n"
              f"--- vmctl stderr ---\n{self.stderr()}\n---", flush=True)
        with self.lock:
            stall = lab_stall(bytes(self.out), bytes(self.err))
        if stall:
            raise LabStall(f"{msg} [lab stall: {stall}]")
        raise TestFailure(msg)

    def expect(self, pattern, timeout, start=0):
        """Wait until the console matches pattern (from byte offset start)."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.out, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self.readers)):
                    break
                self.lock.wait(min(left, 0.5))
        self.fail(f"{self.name}: no {pattern!r} on the console after {timeout}s")

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Exit status of vmctl; kills it (by pid) and fails on timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.fail(f"{self.name}: vmctl still running after {timeout}s")
        for t in self.readers:
            t.join(5)
        self.elapsed = time.monotonic() - self.t0
        return rc

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def leftovers(self):
        """Processes still in vmctl's session (there must be none)."""
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.proc.pid:
                pids.append(int(p))
        return pids

    def expect_exit(self, status, timeout):
        rc = self.wait(timeout)
        if rc != status:
            self.fail(f"{self.name}: vmctl exited {rc}, expected {status}")
        left = self.leftovers()
        if left:
            self.fail(f"{self.name}: processes left behind: {left}")


class Runner:
    """Runs test functions, prints one line each and a summary line."""

    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            try:
                fn(*args)
            except LabStall as e:
                # Seen with QEMU as the L2 VMM as well: not Hull's.  Once.
                print(f"     {name}: {e}; running it once more (docs/lab.md)", flush=True)
                fn(*args)
        except TestFailure as e:
            self.failed += 1
            print(f"FAIL {name}: {e}", flush=True)
            return False
        except Exception as e:  # a bug in the test is a failure too
            self.failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            return False
        self.passed += 1
        print(f"ok   {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        return True

    def skip(self, name, why):
        self.skipped += 1
        print(f"skip {name}: {why}", flush=True)

    def finish(self):
        print(f"{self.label}: {self.passed} passed, {self.failed} failed, "
              f"{self.skipped} skipped", flush=True)
        sys.exit(1 if self.failed else 0)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)
