"""vmctl's bad-input paths: each gives a clear message naming the problem,
a documented non-zero status, and leaves nothing running.  No KVM needed:
vmctl checks the spec and every file it names before it opens /dev/kvm."""
import os
import subprocess

from hulltest import BUILD, VMCTL, WORK, Runner, check

TINY = os.path.join(BUILD, "tiny", "tiny.bzImage")


def run(args, timeout=30):
    p = subprocess.run([VMCTL, *args], capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def write(name, text):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def expect_error(specname, text, status, message):
    path = write(specname, text)
    rc, out, err = run(["run", "--no-reboot", path])
    check(rc == status, f"{specname}: status {rc}, expected {status}; stderr: {err!r}")
    check(message in err, f"{specname}: stderr {err!r} lacks {message!r}")


def tiny_spec(**kw):
    import json
    d = {"name": "bad", "vcpus": 1, "ram": 64, "kernel": TINY}
    d.update(kw)
    return json.dumps(d)


def t_missing_kernel():
    expect_error("missing-kernel.json", tiny_spec(kernel="/nonexistent/vmlinuz"),
                 2, "kernel: /nonexistent/vmlinuz: No such file or directory")


def t_kernel_not_bzimage():
    junk = write("junk.bin", "this is not a kernel\n" * 200)
    expect_error("junk-kernel.json", tiny_spec(kernel=junk), 2,
                 f"kernel: {junk}: not a Linux bzImage")


def t_kernel_directory():
    expect_error("dir-kernel.json", tiny_spec(kernel="/"), 2,
                 "kernel: /: not a regular file")


def t_initrd_too_big():
    os.makedirs(WORK, exist_ok=True)
    big = os.path.join(WORK, "big.initrd")
    with open(big, "wb") as f:
        f.truncate(200 << 20)          # sparse: costs no disk
    expect_error("big-initrd.json", tiny_spec(initrd=big), 2,
                 f"initrd: {big}: 200 MiB does not fit in guest RAM")


def t_missing_initrd():
    expect_error("missing-initrd.json", tiny_spec(initrd="/nonexistent/initrd"),
                 2, "initrd: /nonexistent/initrd: No such file or directory")


def t_ram_zero():
    expect_error("ram0.json", tiny_spec(ram=0), 2, "ram:")


def t_ram_beyond_host():
    expect_error("ram-huge.json", tiny_spec(ram=512 * 1024), 2,
                 "is more than this host's memory")


def t_vcpus_zero():
    expect_error("vcpus0.json", tiny_spec(vcpus=0), 2, "vcpus:")


def t_vcpus_too_many():
    expect_error("vcpus-many.json", tiny_spec(vcpus=100000), 2, "vcpus:")


def t_malformed_json():
    expect_error("malformed.json", '{"name": "bad",\n "kernel": }\n', 2,
                 "malformed.json:2:")


def t_unknown_key():
    expect_error("unknown.json", tiny_spec(vcpu=2), 2, "vcpu")


def t_missing_spec():
    rc, _, err = run(["run", "/nonexistent/spec.json"])
    check(rc == 2 and "/nonexistent/spec.json" in err, f"status {rc}: {err!r}")


def t_disk_missing():
    expect_error("disk-missing.json", tiny_spec(disks=[{"path": "/nonexistent/d.img"}]),
                 2, "disks[0].path: /nonexistent/d.img: No such file or directory")


def t_disk_directory():
    expect_error("disk-dir.json", tiny_spec(disks=[{"path": "/tmp"}]), 2,
                 "disks[0].path: /tmp: is a directory")


def t_disk_odd_size():
    odd = write("odd.img", "x" * 1000)
    expect_error("disk-odd.json", tiny_spec(disks=[{"path": odd}]), 2,
                 f"disks[0].path: {odd}: size 1000 bytes is not a non-zero multiple of 512")


def t_disk_bad_key():
    expect_error("disk-key.json", tiny_spec(disks=[{"path": "/x", "cache": "unsafe"}]),
                 2, 'disks[0].cache: "unsafe" is not a cache mode')


def t_nics_bad_mac():
    expect_error("nic-mac.json", tiny_spec(nics=[{"bridge": "br0", "mac": "nope"}]),
                 2, "nics[0].mac: not a MAC address")


def t_nics_host_checks():
    # Checked before KVM, so the same on every host; nothing is created.
    expect_error("nic-nobridge.json", tiny_spec(nics=[{"bridge": "hullnobr0"}]), 2,
                 "nics[0].bridge: bridge hullnobr0 does not exist")
    expect_error("nic-notbridge.json", tiny_spec(nics=[{"bridge": "lo"}]), 2,
                 "nics[0].bridge: lo is not a bridge")
    expect_error("nic-nottap.json", tiny_spec(nics=[{"tap": "lo"}]), 2,
                 "nics[0].tap: lo exists and is not a tap")


def t_usage():
    rc, _, err = run(["frobnicate"])
    check(rc == 2 and "frobnicate: unknown verb" in err, f"status {rc}: {err!r}")
    rc, _, err = run(["run"])
    check(rc == 2 and "usage" in err, f"status {rc}: {err!r}")


def t_validate():
    good = write("good.json", tiny_spec())
    rc, out, _ = run(["validate", good])
    check(rc == 0 and "valid" in out, f"validate good: {rc} {out!r}")


def main():
    r = Runner("cli")
    for name, fn in sorted((k, v) for k, v in globals().items() if k.startswith("t_")):
        r.run("cli/" + name[2:], fn)
    r.finish()


if __name__ == "__main__":
    main()
