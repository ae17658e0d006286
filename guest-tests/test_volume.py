"""Volumes under real guests (docs/volumes.md): a Debian guest makes ext4 on
a volume and writes files; a snapshot and a clone follow; the volume's
guest (writing more) and a second guest on the clone run at the same time
on the same pool, and the clone sees the files but never the later writes;
fstrim in the guest gives the blocks back; rollback undoes the later
writes; scrub finds the pool clean.  Needs a /dev/kvm with VMX or SVM (the
lab has one)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from hulltest import BUILD, VM, VMCTL, Runner, TestFailure, check

KIT = os.path.join(BUILD, "kit")
KERNEL = os.path.join(KIT, "vmlinuz-cloud")
INITRD = os.path.join(KIT, "initrd.img")
TIMEOUT = int(os.environ.get("HULL_BOOT_TIMEOUT", "240"))

# The pool registry and the pool live in a root of our own (the lab's /tmp
# is a tmpfs; the pool file is sparse).
TOP = tempfile.mkdtemp(prefix="hull-vol-", dir="/tmp")
ENV = dict(os.environ, HULL_ROOT=TOP)


def vmctl(*args, ok=True):
    r = subprocess.run([VMCTL, "volume", *args], env=ENV, capture_output=True,
                       text=True, timeout=300)
    if ok and r.returncode != 0:
        raise TestFailure(f"vmctl volume {' '.join(args)}: status {r.returncode}\n"
                          f"{r.stdout}{r.stderr}")
    return r


def listing():
    """vmctl volume list as {name: {column: value}}."""
    out = vmctl("list", "tank").stdout.splitlines()
    head = out[0].split()
    rows = {}
    for line in out[1:]:
        cols = line.split()
        if cols:
            rows[cols[0]] = dict(zip(head, cols))
    return rows


def size_bytes(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if s[-1] in mult:
        return float(s[:-1]) * mult[s[-1]]
    return float(s.rstrip("B"))


def boot(name, steps, vol, start_only=False):
    vm = VM({"name": name, "vcpus": 1, "ram": 512, "kernel": KERNEL,
             "initrd": INITRD, "disks": [{"volume": vol, "serial": name[-8:]}],
             "cmdline": f"console=ttyS0 quiet panic=-1 hull.job=disk hull.disk={steps}"},
            args=["--no-reboot"], env=ENV)
    if not start_only:
        finish(vm)
    return vm


def finish(vm):
    try:
        vm.expect(r"HULL: disk done", TIMEOUT)
        vm.expect_exit(0, 60)
    finally:
        vm.kill()


def saw(vm, text, what):
    if text not in vm.console():
        vm.fail(what)


def t_write():
    vmctl("pool-create", "tank", os.path.join(TOP, "tank.pool"), "2G")
    vmctl("create", "tank/web", "128M", "-o", "compression=lz4")
    vm = boot("vol-write", "write", "tank/web")
    saw(vm, "HULL: vda=yes", "no /dev/vda")
    saw(vm, "HULL: disk write ok", "mkfs or the files failed")
    check("volume" in vm.stderr(), "vmctl did not say the disk is a volume:\n" + vm.stderr())


def t_snapshot_clone():
    vmctl("snapshot", "tank/web@s1")
    t0 = time.monotonic()
    vmctl("clone", "tank/web@s1", "tank/web2")
    print(f"     clone took {1000 * (time.monotonic() - t0):.1f} ms (vmctl, whole command)")
    rows = listing()
    check("tank/web@s1" in rows and "tank/web2" in rows, f"list: {rows}")


def t_two_guests_one_pool():
    # Both VMMs have the pool open at once: the writer and the clone's reader.
    a = boot("vol-more", "verify,more", "tank/web", start_only=True)
    b = boot("vol-clone", "verify,nolater", "tank/web2", start_only=True)
    finish(a)
    finish(b)
    saw(a, "HULL: disk verify ok 20 files", "the volume's files are not intact")
    saw(a, "HULL: disk more ok", "writing LATER failed")
    saw(b, "HULL: disk verify ok 20 files", "the clone's files are not intact")
    saw(b, "HULL: disk nolater ok", "the clone sees a later write")


def t_clone_stays():
    # After the writer is gone and committed, the clone still has no LATER.
    b = boot("vol-clone2", "nolater", "tank/web2")
    saw(b, "HULL: disk nolater ok", "the clone sees the volume's later write")


def t_trim_frees():
    before = size_bytes(listing()["tank/web"]["REFER"])
    vm = boot("vol-trim", "trim", "tank/web")
    saw(vm, "HULL: disk trim ok", "fstrim failed")
    after = size_bytes(listing()["tank/web"]["REFER"])
    check(after < before, f"REFER did not shrink after fstrim: {before} -> {after}")


def t_rollback_scrub():
    vmctl("destroy", "tank/web2")
    vmctl("rollback", "tank/web@s1")
    vm = boot("vol-rollback", "verify,nolater", "tank/web")
    saw(vm, "HULL: disk verify ok 20 files", "files not intact after rollback")
    saw(vm, "HULL: disk nolater ok", "LATER survived the rollback")
    r = vmctl("scrub", "tank")
    check("errors" in r.stdout + r.stderr, f"scrub said:\n{r.stdout}{r.stderr}")


def t_busy():
    # A volume in use by a VM cannot be destroyed or rolled back under it.
    vm = boot("vol-busy", "verify", "tank/web", start_only=True)
    try:
        vm.expect(r"HULL: disk verify", TIMEOUT)
        r = vmctl("destroy", "-r", "tank/web", ok=False)
        check(r.returncode != 0 and "in use" in r.stderr,
              f"destroy of a volume in use: {r.returncode} {r.stderr}")
    finally:
        finish(vm)


def main():
    r = Runner("volume")
    missing = [p for p in (KERNEL, INITRD) if not os.path.exists(p)]
    if missing:
        print(f"volume: guest kit missing: {missing} (make kit)")
        r.failed += 1
        r.finish()
    if not os.path.exists("/dev/kvm"):
        r.skip("volume", "no /dev/kvm")
        r.finish()
    try:
        if r.run("volume/ext4-write", t_write) and \
                r.run("volume/snapshot+clone", t_snapshot_clone):
            r.run("volume/two-guests-one-pool", t_two_guests_one_pool)
            r.run("volume/clone-unchanged", t_clone_stays)
            r.run("volume/fstrim-frees", t_trim_frees)
            r.run("volume/busy", t_busy)
            r.run("volume/rollback+scrub", t_rollback_scrub)
    finally:
        shutil.rmtree(TOP, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
