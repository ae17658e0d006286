"""vmctl's bad-input paths: each gives a clear message naming the problem,
a documented non-zero status, and leaves nothing running.  No KVM needed:
vmctl checks the spec and every file it names before it opens /dev/kvm.

The lifecycle verbs (create, start, stop, ...; docs/vmctl.md) are checked
here too, against a VM store in a temporary root that is removed at the
end: usage, names, VMs that do not exist or do not run, a start that fails
and how the failure is recorded, list/get/delete, the per-VM lock and the
root's selection.  Running guests are test_lifecycle.py's (lab)."""
import fcntl
import json
import os
import shutil
import subprocess
import tempfile

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


# ---- the lifecycle verbs, against a VM store in a temporary root ----

LC_ROOT = None          # set by main(): a fresh directory, removed at the end
VERBS_BY_NAME = ["start", "stop", "reboot", "delete", "get", "info", "stats",
                 "console"]


def lc(args, root=None, env=None, stdin=subprocess.DEVNULL):
    """vmctl --root ROOT ARGS: (status, stdout, stderr)."""
    argv = [VMCTL] + (["--root", root or LC_ROOT] if root is not False else []) + args
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                       env=env, stdin=stdin)
    return p.returncode, p.stdout, p.stderr


def lc_expect(args, status, message, **kw):
    rc, out, err = lc(args, **kw)
    check(rc == status and message in err,
          f"vmctl {' '.join(args)}: status {rc} (want {status}), stderr {err!r} "
          f"(want {message!r}), stdout {out!r}")
    return out, err


def lc_spec(name, spec_dir=None, **kw):
    """Write a spec for name (tiny payload unless kernel= says otherwise)."""
    d = {"name": name, "ram": 64, "kernel": TINY, "cmdline": "hang"}
    d.update(kw)
    d = {k: v for k, v in d.items() if v is not None}
    spec_dir = spec_dir or os.path.join(WORK, "lc-specs")
    os.makedirs(spec_dir, exist_ok=True)
    path = os.path.join(spec_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(d, f)
    return path


def lc_create(name, **kw):
    rc, out, err = lc(["create", lc_spec(name, **kw)])
    check(rc == 0 and out == f"{name}\n", f"create {name}: {rc} {out!r} {err!r}")


def lc_dir(name, root=None):
    return os.path.join(root or LC_ROOT, name)


def lc_json(args, **kw):
    rc, out, err = lc(args, **kw)
    check(rc == 0, f"vmctl {' '.join(args)}: status {rc}: {err!r}")
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"vmctl {' '.join(args)}: not JSON: {out!r}")


def lc_vmm_procs(name):
    """Pids of processes named like the VMM of name (comm "hull:NAME")."""
    comm = ("hull:" + name)[:15]
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/comm") as f:
                c = f.read().strip()
            with open(f"/proc/{p}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if c == comm and not zombie:
            pids.append(int(p))
    return pids


def t_lc_usage():
    for args, msg in [(["create"], "usage: vmctl create SPEC.json"),
                      (["create", "a.json", "b.json"], "usage: vmctl create SPEC.json"),
                      (["start"], "usage: vmctl start NAME"),
                      (["start", "a", "b"], "usage: vmctl start NAME"),
                      (["stop"], "usage: vmctl stop [-t SECONDS] [-F] NAME"),
                      (["stop", "-F"], "usage: vmctl stop [-t SECONDS] [-F] NAME"),
                      (["stop", "-t", "abc", "x"], "vmctl stop: -t abc: not a number of seconds (0 to 86400)"),
                      (["stop", "-t", "-1", "x"], "vmctl stop: -t -1: not a number of seconds"),
                      (["stop", "-t", "86401", "x"], "vmctl stop: -t 86401: not a number of seconds"),
                      (["stop", "-x", "x"], "vmctl stop: unknown option -x"),
                      (["reboot"], "usage: vmctl reboot NAME"),
                      (["delete"], "usage: vmctl delete [-F] NAME"),
                      (["delete", "-F"], "usage: vmctl delete [-F] NAME"),
                      (["list", "-x"], "usage: vmctl list [-j] [-o FIELD,...]"),
                      (["list", "extra"], "usage: vmctl list [-j] [-o FIELD,...]"),
                      (["get"], "usage: vmctl get NAME"),
                      (["get", "a", "b"], "usage: vmctl get NAME"),
                      (["info"], "usage: vmctl info NAME"),
                      (["stats"], "usage: vmctl stats NAME"),
                      (["console"], "usage: vmctl console NAME"),
                      (["autoboot", "x"], "usage: vmctl autoboot"),
                      (["frobnicate"], "vmctl: frobnicate: unknown verb")]:
        lc_expect(args, 2, msg)
    rc, out, err = lc(["--help"], root=False)
    check(rc == 0 and "usage: vmctl [--root DIR] VERB" in out and "console NAME" in out,
          f"--help: {rc} {out!r} {err!r}")
    rc, out, err = lc([], root=False)
    check(rc == 2 and "usage: vmctl" in err, f"no verb: {rc} {err!r}")


def t_lc_bad_names():
    bad = ["a/b", "../etc", ".hidden", "_x", "a b", "x" * 64, "caf\u00e9", "a:b"]
    for verb in VERBS_BY_NAME:
        for name in bad:
            lc_expect([verb, name], 2, f'"{name}" is not a VM name')
    # The longest name is fine (it just does not exist).
    lc_expect(["get", "x" * 63], 1, f"vmctl: {'x' * 63}: no such VM")
    check(not os.path.exists(lc_dir("a")), "a bad name created something")


def t_lc_create_bad_spec():
    path = lc_spec("lc-bad", vcpus=0)
    lc_expect(["create", path], 2, f"vmctl: {path}: vcpus: 0 is out of range (1 to 255)")
    check(not os.path.exists(lc_dir("lc-bad")), "a bad spec created a VM directory")
    path = lc_spec("lc-bad", autoboot="yes", metadata={"k": 1})
    _, err = lc_expect(["create", path], 2, "autoboot: expected a boolean, got a string")
    check("metadata.k: expected a string, got an integer" in err, f"not every error: {err!r}")
    check(not os.path.exists(lc_dir("lc-bad")), "a bad spec created a VM directory")
    junk = write("lc-junk.json", '{"name": "lc-junk",\n "kernel": }\n')
    lc_expect(["create", junk], 2, "lc-junk.json:2:")
    lc_expect(["create", "/nonexistent/spec.json"], 2,
              "/nonexistent/spec.json: No such file or directory")
    check(not os.path.exists(lc_dir("lc-junk")), "a bad spec created a VM directory")
    names = [v["name"] for v in lc_json(["list", "-j"])]
    check("lc-bad" not in names and "lc-junk" not in names, f"list: {names}")


def t_lc_create_twice():
    lc_create("lc-twice", vcpus=1)
    # The same name again, whatever else differs, is refused.
    path = lc_spec("lc-twice", vcpus=3)
    lc_expect(["create", path], 1, "vmctl: lc-twice: a VM of that name exists")
    got = lc_json(["get", "lc-twice"])
    check(got["spec"]["vcpus"] == 1, f"the record changed: {got['spec']}")
    lc(["delete", "lc-twice"])


def t_lc_no_such_vm():
    for verb in VERBS_BY_NAME:
        lc_expect([verb, "lc-ghost"], 1, "vmctl: lc-ghost: no such VM")
    lc_expect(["stop", "-F", "lc-ghost"], 1, "vmctl: lc-ghost: no such VM")
    lc_expect(["delete", "-F", "lc-ghost"], 1, "vmctl: lc-ghost: no such VM")
    check(not os.path.exists(lc_dir("lc-ghost")), "a missing VM got a directory")


def t_lc_not_running():
    lc_create("lc-idle")
    lc_expect(["stop", "lc-idle"], 1, "vmctl: lc-idle: not running")
    lc_expect(["stop", "-F", "-t", "0", "lc-idle"], 1, "vmctl: lc-idle: not running")
    lc_expect(["stats", "lc-idle"], 1, "vmctl: lc-idle: not running")
    lc_expect(["console", "lc-idle"], 1, "vmctl: lc-idle: not running")
    lc_expect(["reboot", "lc-idle"], 1, "vmctl: lc-idle: not running")
    info = lc_json(["info", "lc-idle"])
    check(info["state"] == "stopped" and "pid" not in info and "last_exit" not in info
          and info["log_tail"] == [], f"info of a VM never started: {info}")
    rc, out, _ = lc(["delete", "lc-idle"])
    check(rc == 0 and out == "lc-idle: deleted\n", f"delete: {rc} {out!r}")


def t_lc_start_no_kvm():
    if os.path.exists("/dev/kvm"):
        return      # this host can run guests: test_lifecycle.py's business
    lc_create("lc-nokvm")
    _, err = lc_expect(["start", "lc-nokvm"], 1,
                       "vmctl: lc-nokvm: /dev/kvm: not found: this host has no KVM")
    check(err.count("\n") == 1, f"more than one line: {err!r}")
    info = lc_json(["info", "lc-nokvm"])
    check(info["state"] == "stopped", f"state {info['state']}")
    le = info.get("last_exit", {})
    check(le.get("status") == 1 and "/dev/kvm" in le.get("reason", "") and
          isinstance(le.get("time"), int), f"last_exit: {le}")
    tail = "\n".join(info["log_tail"])
    check("lc-nokvm: VMM pid" in tail and "VMM exits with status 1: /dev/kvm" in tail,
          f"log_tail: {info['log_tail']}")
    left = sorted(os.listdir(lc_dir("lc-nokvm")))
    check(left == ["exit.json", "lock", "spec.json", "vmm.log"], f"files left: {left}")
    check(lc_vmm_procs("lc-nokvm") == [], "a VMM is left running")
    # list says the same; a second start fails the same way (nothing stale).
    row = [v for v in lc_json(["list", "-j"]) if v["name"] == "lc-nokvm"][0]
    check(row["state"] == "stopped" and row["last_exit"]["status"] == 1, f"list: {row}")
    lc_expect(["start", "lc-nokvm"], 1, "/dev/kvm: not found")
    rc, _, _ = lc(["delete", "lc-nokvm"])
    check(rc == 0 and not os.path.exists(lc_dir("lc-nokvm")), "delete after a failed start")


def t_lc_start_missing_kernel():
    # Files are checked when the VM starts, before KVM: the same on every host.
    lc_create("lc-nokernel", kernel="/nonexistent/vmlinuz")
    _, err = lc_expect(["start", "lc-nokernel"], 2,
                       "vmctl: lc-nokernel: kernel: /nonexistent/vmlinuz: No such file or directory")
    info = lc_json(["info", "lc-nokernel"])
    check(info["state"] == "stopped" and info["last_exit"]["status"] == 2 and
          "No such file or directory" in info["last_exit"]["reason"], f"info: {info}")
    check(any("VMM exits with status 2" in ln for ln in info["log_tail"]),
          f"log_tail: {info['log_tail']}")
    check(not os.path.exists(os.path.join(lc_dir("lc-nokernel"), "vmm.pid")), "vmm.pid left")
    lc(["delete", "lc-nokernel"])


def t_lc_list():
    root = tempfile.mkdtemp(prefix="hull-cli-list-")
    try:
        rc, out, err = lc(["list"], root=root)
        check(rc == 0 and out.split() == ["NAME", "STATE", "PID", "VCPUS", "RAM",
                                          "UPTIME", "AUTOBOOT"], f"empty list: {out!r}")
        check(lc(["list", "-j"], root=root)[1].strip() == "[]", "empty list -j")
        for name, kw in [("zz-3", {}), ("aa-1", {"vcpus": 2, "ram": "1G", "autoboot": True}),
                         ("mm-2", {"ram": "512M"})]:
            rc, _, err = lc(["create", lc_spec(name, **kw)], root=root)
            check(rc == 0, f"create {name}: {err!r}")
        rc, out, _ = lc(["list"], root=root)
        lines = out.splitlines()
        check(len(lines) == 4, f"list: {out!r}")
        check(lines[1].split() == ["aa-1", "stopped", "-", "2", "1024", "-", "yes"], lines[1])
        check(lines[2].split() == ["mm-2", "stopped", "-", "1", "512", "-", "no"], lines[2])
        check(lines[3].split() == ["zz-3", "stopped", "-", "1", "64", "-", "no"], lines[3])
        rows = lc_json(["list", "-j"], root=root)
        check([r["name"] for r in rows] == ["aa-1", "mm-2", "zz-3"], f"order: {rows}")
        check(rows[0] == {"name": "aa-1", "state": "stopped", "vcpus": 2, "ram_mib": 1024,
                          "autoboot": True}, f"row: {rows[0]}")
        rc, out, _ = lc(["list", "-o", "state,name"], root=root)
        check(rc == 0 and [ln.split() for ln in out.splitlines()] ==
              [["STATE", "NAME"], ["stopped", "aa-1"], ["stopped", "mm-2"],
               ["stopped", "zz-3"]], f"list -o: {out!r}")
        rc, out, _ = lc(["list", "-o", "ram"], root=root)
        check(out.split() == ["RAM", "1024", "512", "64"], f"list -o ram: {out!r}")
        lc_expect(["list", "-o", "name,bogus"], 2,
                  "vmctl list: -o bogus: not a field (name state pid vcpus ram uptime autoboot)",
                  root=root)
        lc_expect(["list", "-o", "NAME"], 2, "-o NAME: not a field", root=root)
        # -o and -j together: JSON wins (every field).
        rows2 = lc_json(["list", "-j", "-o", "name"], root=root)
        check(rows2 == rows, "list -j -o differs from list -j")
        # A directory without a spec.json is not a VM.
        os.mkdir(os.path.join(root, "not-a-vm"))
        check("not-a-vm" not in lc(["list"], root=root)[1], "a stray directory is listed")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def t_lc_get():
    spec_dir = os.path.join(WORK, "lc-get-specs")
    os.makedirs(spec_dir, exist_ok=True)
    with open(os.path.join(spec_dir, "k.bzImage"), "wb") as f:
        f.write(b"create does not read the kernel\n")
    with open(os.path.join(spec_dir, "d.img"), "wb") as f:
        f.truncate(1 << 20)
    # Relative paths, ram with a unit, most keys left out.
    path = os.path.join(spec_dir, "lc-get.json")
    with open(path, "w") as f:
        json.dump({"name": "lc-get", "ram": "1G", "kernel": "k.bzImage",
                   "initrd": "sub/../k.bzImage", "disks": [{"path": "d.img"}],
                   "metadata": {"role": "web", "owner": "ops"}}, f)
    rc, out, err = lc(["create", path])
    check(rc == 0 and out == "lc-get\n", f"create: {rc} {out!r} {err!r}")
    got = lc_json(["get", "lc-get"])
    sd = os.path.abspath(spec_dir)
    want_spec = {"name": "lc-get", "vcpus": 1, "ram": 1024,
                 "kernel": f"{sd}/k.bzImage", "cmdline": "",
                 "disks": [{"path": f"{sd}/d.img", "readonly": False, "cache": "none"}],
                 "nics": [], "autoboot": False, "jail": True,
                 "limits": {"cpu_cap": 0, "disk_iops": 0, "disk_bps": 0},
                 "metadata": {"role": "web", "owner": "ops"},
                 "initrd": f"{sd}/sub/../k.bzImage"}
    check(got["spec"] == want_spec, f"spec: {got['spec']}\nwant: {want_spec}")
    check(list(got["spec"]["metadata"]) == ["role", "owner"], "metadata order changed")
    check({k: v for k, v in got.items() if k != "spec"} ==
          {"name": "lc-get", "state": "stopped", "vcpus": 1, "ram_mib": 1024,
           "autoboot": False}, f"get: {got}")
    with open(os.path.join(lc_dir("lc-get"), "spec.json")) as f:
        check(json.load(f) == want_spec, "spec.json differs from get's spec")
    # The record is itself a valid spec.
    rc, out, err = run(["validate", os.path.join(lc_dir("lc-get"), "spec.json")])
    check(rc == 0, f"the record is not a valid spec: {err!r}")
    # Defaults, all of them, for a minimal spec.
    lc_create("lc-min", ram=None, cmdline=None)
    s = lc_json(["get", "lc-min"])["spec"]
    check(s == {"name": "lc-min", "vcpus": 1, "ram": 256, "kernel": TINY, "cmdline": "",
                "disks": [], "nics": [], "autoboot": False, "jail": True,
                "limits": {"cpu_cap": 0, "disk_iops": 0, "disk_bps": 0}, "metadata": {}},
          f"defaults: {s}")
    lc(["delete", "lc-get"])
    lc(["delete", "lc-min"])


def t_lc_delete():
    lc_create("lc-del")
    # What a failed run leaves (exit.json, vmm.log) goes too.
    lc(["start", "lc-del"])
    rc, out, err = lc(["delete", "lc-del"])
    check(rc == 0 and out == "lc-del: deleted\n", f"delete: {rc} {out!r} {err!r}")
    check(not os.path.exists(lc_dir("lc-del")), "the VM's directory is left")
    check(all(v["name"] != "lc-del" for v in lc_json(["list", "-j"])), "still listed")
    lc_expect(["get", "lc-del"], 1, "lc-del: no such VM")
    lc_expect(["delete", "lc-del"], 1, "lc-del: no such VM")
    # The name is free again.
    lc_create("lc-del")
    rc, out, _ = lc(["delete", "-F", "lc-del"])
    check(rc == 0 and out == "lc-del: deleted\n" and not os.path.exists(lc_dir("lc-del")),
          f"delete -F of a stopped VM: {rc} {out!r}")


def t_lc_busy():
    lc_create("lc-busy")
    lock = os.path.join(lc_dir("lc-busy"), "lock")
    with open(lock, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.truncate(0)
        f.write("vmctl frob, pid 4242\n")
        f.flush()
        who = "lc-busy: busy: another vmctl is working on it (vmctl frob, pid 4242)"
        for args in (["start", "lc-busy"], ["stop", "lc-busy"], ["stop", "-F", "lc-busy"],
                     ["reboot", "lc-busy"], ["delete", "lc-busy"], ["delete", "-F", "lc-busy"]):
            lc_expect(args, 1, who)
        check(os.path.exists(os.path.join(lc_dir("lc-busy"), "spec.json")),
              "a refused delete removed something")
        # Readers take no lock.
        check(lc(["get", "lc-busy"])[0] == 0 and lc(["info", "lc-busy"])[0] == 0
              and lc(["list"])[0] == 0, "get/info/list wait for the lock")
        # Without a note in the file, vmctl says it does not know who.
        f.truncate(0)
        f.flush()
        lc_expect(["delete", "lc-busy"], 1, "busy: another vmctl is working on it (unknown)")
    # Released (closed): the verbs work again.
    rc, out, err = lc(["delete", "lc-busy"])
    check(rc == 0 and not os.path.exists(lc_dir("lc-busy")), f"delete after unlock: {err!r}")


def t_lc_autoboot():
    lc_create("lc-auto-on", kernel="/nonexistent/vmlinuz", autoboot=True)
    lc_create("lc-auto-off", kernel="/nonexistent/vmlinuz", autoboot=False)
    rc, out, err = lc(["autoboot"])
    check(rc == 1 and "lc-auto-on: kernel: /nonexistent/vmlinuz" in err and
          "lc-auto-off" not in err, f"autoboot: {rc} {err!r}")
    check(os.path.exists(os.path.join(lc_dir("lc-auto-on"), "exit.json")), "autoboot did not try")
    check(not os.path.exists(os.path.join(lc_dir("lc-auto-off"), "exit.json")),
          "autoboot started a VM without autoboot")
    lc(["delete", "lc-auto-on"])
    lc(["delete", "lc-auto-off"])


def t_lc_root_selection():
    base = tempfile.mkdtemp(prefix="hull-cli-root-")
    try:
        a, b = os.path.join(base, "a"), os.path.join(base, "deep", "er", "b")
        env_a = dict(os.environ, HULL_ROOT=a)
        env_b = dict(os.environ, HULL_ROOT=b)
        # $HULL_ROOT when there is no --root; the root is made (mkdir -p).
        rc, out, err = lc(["create", lc_spec("lc-root")], root=False, env=env_a)
        check(rc == 0 and os.path.isfile(os.path.join(a, "lc-root", "spec.json")),
              f"create under $HULL_ROOT: {rc} {err!r}")
        check("lc-root" in lc(["list"], root=False, env=env_a)[1], "not listed under $HULL_ROOT")
        rc, out, _ = lc(["list"], root=False, env=env_b)
        check(rc == 0 and "lc-root" not in out and os.path.isdir(b),
              f"another $HULL_ROOT: {out!r}")
        # --root wins over $HULL_ROOT.
        check("lc-root" in lc(["list"], root=a, env=env_b)[1], "--root lost to $HULL_ROOT")
        lc_expect(["get", "lc-root"], 1, "lc-root: no such VM", root=b, env=env_a)
        check(oct(os.stat(a).st_mode & 0o777) == "0o700", "the root is not 0700")
        check(oct(os.stat(os.path.join(a, "lc-root")).st_mode & 0o777) == "0o700",
              "a VM directory is not 0700")
        # A root that cannot be made is an error, status 1.
        lc_expect(["list"], 1, "vmctl: /proc/hull-root: ", root="/proc/hull-root")
        rc, out, _ = lc(["delete", "lc-root"], root=a, env=env_b)
        check(rc == 0 and not os.path.exists(os.path.join(a, "lc-root")), "delete with --root")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main():
    global LC_ROOT
    r = Runner("cli")
    LC_ROOT = tempfile.mkdtemp(prefix="hull-cli-")
    try:
        for name, fn in sorted((k, v) for k, v in globals().items() if k.startswith("t_")):
            r.run("cli/" + name[2:], fn)
        if os.path.exists("/dev/kvm"):
            r.skip("cli/lc_start_no_kvm", "this host has /dev/kvm")
    finally:
        shutil.rmtree(LC_ROOT, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    main()
