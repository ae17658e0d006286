"""Linux guest tests: Debian's kernels (generic and cloud) boot under Hull
to the guest kit's /init with 1 and 2 vCPUs; inside, nproc and MemTotal
match the spec; a command typed on the console runs; `poweroff` ends
`vmctl run` with status 0 and nothing left behind.  Needs a /dev/kvm with
VMX or SVM (the lab provides one on machines without)."""
import os
import random
import sys

from hulltest import BUILD, VM, Runner, check

KIT = os.path.join(BUILD, "kit")
KERNELS = {"amd64": os.path.join(KIT, "vmlinuz-amd64"),
           "cloud": os.path.join(KIT, "vmlinuz-cloud")}
INITRD = os.path.join(KIT, "initrd.img")
BOOT_TIMEOUT = int(os.environ.get("HULL_BOOT_TIMEOUT", "240"))
RAM = 512   # the kit's initramfs unpacks to ~100 MB of rootfs


def t_boot_console(kernel, vcpus):
    name = f"linux-{kernel}-{vcpus}cpu"
    # panic=-1 with --no-reboot turns a guest panic into a quick exit 4.
    vm = VM({"name": name, "vcpus": vcpus, "ram": RAM,
             "kernel": KERNELS[kernel], "initrd": INITRD,
             "cmdline": "console=ttyS0 quiet panic=-1 hull.job=console"},
            args=["--no-reboot"])
    try:
        vm.expect(r"HULL-INIT", BOOT_TIMEOUT)
        nproc = int(vm.expect(r"HULL: nproc=(\d+)\r?\n", 60).group(1))
        mem_kb = int(vm.expect(r"HULL: memtotal_kb=(\d+)\r?\n", 60).group(1))
        vm.expect(r"HULL: console ready", 60)
        check("Initramfs unpacking failed" not in vm.console(),
              "the initramfs did not unpack")
        check(nproc == vcpus, f"nproc is {nproc}, spec says {vcpus}")
        # MemTotal is RAM less what the kernel keeps for itself.
        check(RAM * 1024 * 0.75 <= mem_kb <= RAM * 1024,
              f"MemTotal {mem_kb} kB does not match ram {RAM} MiB")
        token = f"{random.randrange(1 << 30):x}"
        vm.send(f"echo typed-$((0x{token} + 1))\n")
        vm.expect(rf"typed-{int(token, 16) + 1}", 60)
        vm.send("poweroff\n")
        vm.expect_exit(0, 120)
    finally:
        vm.kill()


def main():
    r = Runner("linux")
    missing = [p for p in list(KERNELS.values()) + [INITRD] if not os.path.exists(p)]
    if missing:
        print(f"linux: guest kit missing: {missing} (make kit)")
        r.failed += 1
        r.finish()
    if not os.path.exists("/dev/kvm"):
        r.skip("linux", "no /dev/kvm")
        r.finish()
    cases = [(k, n) for k in ("cloud", "amd64") for n in (1, 2)]
    only = os.environ.get("HULL_LINUX_ONLY")
    for kernel, vcpus in cases:
        if only and only not in f"{kernel}-{vcpus}":
            continue
        r.run(f"linux/{kernel}/{vcpus}cpu", t_boot_console, kernel, vcpus)
    r.finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
