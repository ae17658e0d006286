"""virtio-blk guest tests: a Debian guest makes ext4 on a virtio disk and
writes files; a second boot finds every file intact and the host's e2fsck
finds the image clean; a second disk shows up with its serial; fio with
verify=crc32c passes; a read-only disk reads, refuses writes, and its image
stays byte-identical.  Needs a /dev/kvm with VMX or SVM (the lab has one)."""
import hashlib
import os
import subprocess
import sys

from hulltest import BUILD, VM, WORK, Runner, TestFailure

KIT = os.path.join(BUILD, "kit")
KERNEL = os.path.join(KIT, "vmlinuz-cloud")
INITRD = os.path.join(KIT, "initrd.img")
TIMEOUT = int(os.environ.get("HULL_BOOT_TIMEOUT", "240"))


def image(name, mib):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def boot(name, steps, disks, vcpus=2):
    vm = VM({"name": name, "vcpus": vcpus, "ram": 512, "kernel": KERNEL,
             "initrd": INITRD, "disks": disks,
             "cmdline": f"console=ttyS0 quiet panic=-1 hull.job=disk hull.disk={steps}"},
            args=["--no-reboot"])
    try:
        vm.expect(r"HULL: disk done", TIMEOUT)
        vm.expect_exit(0, 60)
    finally:
        vm.kill()
    return vm


STATE = {}


def check_vm(vm, cond, msg):
    """Like check, but shows the guest's console when it fails."""
    if not cond:
        vm.fail(msg)


def t_ext4_write():
    img = STATE["ext4"] = image("ext4.img", 96)
    vm = boot("disk-write", "write", [{"path": img, "serial": "EXT4-1"}])
    check_vm(vm, "HULL: vda=yes serial=EXT4-1" in vm.console(), "vda or its serial missing")
    check_vm(vm, "HULL: disk write ok" in vm.console(), "write step failed")


def t_ext4_verify_two_disks():
    img = STATE["ext4"]
    second = image("second.img", 8)
    vm = boot("disk-verify", "verify,two",
              [{"path": img, "cache": "writeback"},
               {"path": second, "serial": "SECOND", "readonly": True}])
    check_vm(vm, "HULL: disk verify ok 20 files" in vm.console(), "files not intact")
    check_vm(vm, "vdb=SECOND vdb_sectors=16384" in vm.console(), "second disk wrong")
    r = subprocess.run(["e2fsck", "-fn", img], capture_output=True, text=True)
    check_vm(vm, r.returncode == 0, f"e2fsck on the host: {r.returncode}\n{r.stdout}{r.stderr}")


def t_fio_verify():
    img = image("fio.img", 32)
    vm = boot("disk-fio", "fio", [{"path": img}])
    check_vm(vm, "HULL: fio verify ok" in vm.console(), "fio verify failed")


def t_readonly():
    img = STATE["ext4"]
    before = sha256(img)
    vm = boot("disk-ro", "ro", [{"path": img, "readonly": True}])
    check_vm(vm, "HULL: ro read ok" in vm.console(), "read from a read-only disk failed")
    check_vm(vm, "HULL: ro write refused" in vm.console(), "write to a read-only disk worked")
    check_vm(vm, sha256(img) == before, "read-only image changed")


def main():
    r = Runner("disk")
    missing = [p for p in (KERNEL, INITRD) if not os.path.exists(p)]
    if missing:
        print(f"disk: guest kit missing: {missing} (make kit)")
        r.failed += 1
        r.finish()
    if not os.path.exists("/dev/kvm"):
        r.skip("disk", "no /dev/kvm")
        r.finish()
    if not r.run("disk/ext4-write", t_ext4_write):
        r.skip("disk/ext4-verify", "nothing written")
    else:
        r.run("disk/ext4-verify+two-disks+e2fsck", t_ext4_verify_two_disks)
        r.run("disk/readonly", t_readonly)
    r.run("disk/fio-verify", t_fio_verify)
    r.finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
