"""Network namespaces for the net tests and the net bench (docs/net-tests.md).

Everything lives in namespaces made here (`ip netns add`): bridges, taps,
veths, servers and the VMMs (started with `ip netns exec NS ...`).  Each
namespace is deleted, and each process started here is killed by its pid,
on close(), and again at exit (atexit) for whatever a failure left behind.
Deleting a namespace deletes every interface in it.

Host-side services of Servers (all in one namespace, on every address):
  iperf3 -s        TCP 5201
  busybox httpd    TCP 8080, serves DIR/blob (random bytes, sha256 known)
  upload sink      TCP 5202: reads to EOF, answers "SHA256 BYTES\\n" and
                   records (client address, sha256, bytes) in .uploads"""
import atexit
import contextlib
import ctypes
import fcntl
import glob
import hashlib
import os
import signal
import socket
import struct
import subprocess
import threading
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x400454ca, 0x0002, 0x1000, 0x4000
IPERF_PORT, HTTP_PORT, UPLOAD_PORT = 5201, 8080, 5202

_namespaces = []     # NetNS objects not yet closed
_procs = []          # Popen objects we started


def _cleanup():
    for p in list(_procs):
        stop(p)
    for ns in list(_namespaces):
        ns.close()


atexit.register(_cleanup)


def stop(p, timeout=5):
    """Stop a process we started: SIGTERM, then SIGKILL, by its pid."""
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGTERM)
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        except ProcessLookupError:
            pass
    if p in _procs:
        _procs.remove(p)


def run(args, check=True, timeout=30):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: status {p.returncode}: {p.stderr.strip()}")
    return p


def namespaces():
    p = run(["ip", "netns", "list"], check=False)
    return {line.split()[0] for line in p.stdout.splitlines() if line.strip()}


class NetNS:
    """One network namespace named NAME (prefix + our pid, so parallel runs
    and stale ones from a killed run never clash)."""

    def __init__(self, tag):
        self.name = f"hull{tag}{os.getpid()}"[:32]
        if self.name in namespaces():
            run(["ip", "netns", "del", self.name], check=False)
        run(["ip", "netns", "add", self.name])
        _namespaces.append(self)
        self.procs = []
        self.ip("link", "set", "lo", "up")

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def sh(self, *args, check=True, timeout=30):
        return run(self.prefix() + list(args), check=check, timeout=timeout)

    def ip(self, *args, check=True):
        return self.sh("ip", *args, check=check)

    def popen(self, args, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        p = subprocess.Popen(self.prefix() + list(args), **kw)
        _procs.append(p)
        self.procs.append(p)
        return p

    def links(self):
        """Interface names in the namespace."""
        out = self.ip("-o", "link").stdout
        return sorted(l.split(":")[1].strip().split("@")[0] for l in out.splitlines())

    def bridge(self, name, addr, mtu=1500):
        self.ip("link", "add", name, "type", "bridge")
        self.ip("link", "set", name, "mtu", str(mtu))
        self.ip("addr", "add", addr, "dev", name)
        self.ip("link", "set", name, "up")

    def tap(self, name, bridge, mtu=1500, queues=1):
        """A persistent tap in the bridge (for QEMU; Hull makes its own)."""
        args = ["tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"]
        if queues > 1:
            args.append("multi_queue")
        self.ip(*args)
        self.ip("link", "set", name, "mtu", str(mtu), "master", bridge, "up")

    def wait_port(self, port, timeout=20):
        """Until something listens on TCP port in the namespace."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.sh("cat", "/proc/net/tcp", "/proc/net/tcp6").stdout
            for line in out.splitlines()[1:]:
                f = line.split()
                if len(f) > 3 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    return True
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: nothing listens on port {port} after {timeout}s")

    @contextlib.contextmanager
    def inside(self):
        """Run the body with this thread in the namespace (setns: a network
        namespace is per thread).  Sockets and taps made there stay there."""
        libc = ctypes.CDLL(None, use_errno=True)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        there = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            if libc.setns(there, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            try:
                yield
            finally:
                if libc.setns(home, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back")
        finally:
            os.close(home)
            os.close(there)

    def socket_in(self, *args, **kw):
        with self.inside():
            return socket.socket(*args, **kw)

    def hold_tap(self, name):
        """Create tap NAME and keep its only queue open (an fd of ours), so
        that it is in use by another process.  Close the fd to delete it."""
        with self.inside():
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
            try:
                ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
                fcntl.ioctl(fd, TUNSETIFF, ifr)
            except OSError:
                os.close(fd)
                raise
        return fd

    def close(self):
        for p in list(self.procs):
            stop(p)
        self.procs = []
        if self in _namespaces:
            run(["ip", "netns", "del", self.name], check=False)
            _namespaces.remove(self)


class Servers:
    """iperf3, httpd and the upload sink in a namespace (see the top)."""

    def __init__(self, ns, workdir, blob_mib=4):
        self.ns = ns
        self.dir = os.path.join(workdir, "www")
        os.makedirs(self.dir, exist_ok=True)
        data = os.urandom(blob_mib << 20)
        with open(os.path.join(self.dir, "blob"), "wb") as f:
            f.write(data)
        self.blob_sha = hashlib.sha256(data).hexdigest()
        self.blob_len = len(data)
        self.iperf = None
        self.restart_iperf(wait=False)
        self.httpd = ns.popen(["busybox", "httpd", "-f", "-p", str(HTTP_PORT), "-h", self.dir])
        self.uploads = []
        self.lock = threading.Lock()
        self.sock = ns.socket_in(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", UPLOAD_PORT))
        self.sock.listen(8)
        threading.Thread(target=self._sink, daemon=True).start()
        for port in (IPERF_PORT, HTTP_PORT):
            ns.wait_port(port)

    def restart_iperf(self, wait=True):
        """A fresh iperf3 server: one serves one test at a time, and a guest
        that died during a test leaves it busy for minutes."""
        if self.iperf:
            stop(self.iperf)
            if self.iperf in self.ns.procs:
                self.ns.procs.remove(self.iperf)
        self.iperf = self.ns.popen(["iperf3", "-s", "-p", str(IPERF_PORT)])
        if wait:
            self.ns.wait_port(IPERF_PORT)

    def _sink(self):
        while True:
            try:
                c, addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c, addr), daemon=True).start()

    def _one(self, c, addr):
        h = hashlib.sha256()
        n = 0
        try:
            c.settimeout(120)
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
            c.sendall(f"{h.hexdigest()} {n}\n".encode())
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.uploads.append((addr[0], h.hexdigest(), n))

    def uploads_from(self, ip):
        with self.lock:
            return [(s, n) for a, s, n in self.uploads if a == ip]

    def close(self):
        self.sock.close()
        for p in (self.iperf, self.httpd):
            stop(p)
            if p in self.ns.procs:
                self.ns.procs.remove(p)


def qemu_net_argv(kernel, initrd, cmdline, tap, vcpus=2, ram=512, queues=1,
                  vhost=False, mac=None, accel="kvm"):
    """QEMU q35 with one virtio-net-pci on an existing tap (the tap must be
    multi_queue when queues > 1)."""
    netdev = f"tap,id=n0,ifname={tap},script=no,downscript=no,vhost={'on' if vhost else 'off'}"
    dev = "virtio-net-pci,netdev=n0"
    if queues > 1:
        netdev += f",queues={queues}"
        dev += f",mq=on,vectors={2 * queues + 2}"
    if mac:
        dev += f",mac={mac}"
    cpu = ["-enable-kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg"]
    return ["qemu-system-x86_64", *cpu, "-M", "q35", "-smp", str(vcpus),
            "-m", str(ram), "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
            "-append", cmdline, "-netdev", netdev, "-device", dev]


def net_cmdline(ip, peer, steps, extra=""):
    return (f"console=ttyS0 quiet panic=-1 hull.job=net hull.ip={ip} hull.peer={peer} "
            f"hull.net={','.join(steps)} {extra}").strip()


def vmm_state(proc):
    """Lines on how a VMM that did not finish is doing: its exit status, or
    the state, CPU time and kernel stack of each thread, twice, 2 s apart
    (a spinning thread shows as utime/stime growing)."""
    rc = proc.poll()
    if rc is not None:
        return [f"the VMM exited with status {rc}"]
    lines = []
    for n in range(2):
        lines.append("threads" + (" 2 s later" if n else "") + ":")
        for t in sorted(glob.glob(f"/proc/{proc.pid}/task/*")):
            try:
                with open(f"{t}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                with open(f"{t}/comm") as f:
                    comm = f.read().strip()
                with open(f"{t}/stack") as f:
                    stack = f.read().split()
            except OSError:
                continue
            funcs = [w.split("+")[0] for w in stack if "+0x" in w][:6]
            lines.append(f"  {t.rsplit('/', 1)[1]} {comm:15} {st[0]} utime {st[11]} "
                         f"stime {st[12]} {' < '.join(funcs)}")
        if not n:
            time.sleep(2)
    return lines
