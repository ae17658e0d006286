"""`vmctl volume` from the command line (docs/volumes.md): pools and
volumes made, listed, snapshotted, cloned, sent and received, scrubbed;
every bad input gets a clear message, the right exit status, and changes
nothing.  No KVM needed."""
import os
import shutil
import subprocess
import sys
import tempfile

from hulltest import VMCTL, Runner, TestFailure, check

TOP = tempfile.mkdtemp(prefix="hull-volcli-", dir="/tmp")
ENV = dict(os.environ, HULL_ROOT=os.path.join(TOP, "root"))


def v(*args, status=0, stdin=None):
    r = subprocess.run([VMCTL, "volume", *args], env=ENV, capture_output=True,
                       timeout=120, stdin=stdin)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    if status is not None and r.returncode != status:
        raise TestFailure(f"vmctl volume {' '.join(args)}: status {r.returncode}, "
                          f"wanted {status}\n{out}{err}")
    return out, err


def state():
    """What a failed command must not change."""
    return v("list")[0] + v("pool-list")[0]


def refused(args, status, words):
    before = state()
    _, err = v(*args, status=status)
    for w in words:
        check(w in err, f"vmctl volume {' '.join(args)}: {w!r} not in {err!r}")
    check(state() == before, f"vmctl volume {' '.join(args)} changed something")


def t_pool():
    v("pool-create", "tank", os.path.join(TOP, "tank.pool"), "256M")
    out, _ = v("pool-list")
    check("tank" in out and "256M" in out or "255M" in out, out)
    out, _ = v("pool-status", "tank")
    check("datasets: 0" in out and "pool:     tank" in out, out)


def t_create_list():
    v("create", "tank/web", "64M")
    v("create", "-b", "4K", "-o", "compression=zstd", "-o", "copies=2", "tank/db", "128M")
    out, _ = v("list")
    lines = {l.split()[0]: l.split() for l in out.splitlines()[1:]}
    check(lines["tank/web"][1] == "volume" and lines["tank/web"][2] == "64.0M", out)
    check(lines["tank/db"][2] == "128M", out)
    # Data in and out: a raw image becomes a volume and comes back the same.
    img = os.path.join(TOP, "img")
    with open(img, "wb") as f:
        for i in range(40):
            f.write(os.urandom(65536) if i % 3 else b"\0" * 65536)
        f.write(b"z" * 1000)            # not a multiple of 512: padded
    v("import-raw", img, "tank/data")
    out_img = os.path.join(TOP, "img.out")
    v("export-raw", "tank/data", out_img)
    a, b = open(img, "rb").read(), open(out_img, "rb").read()
    check(b[:len(a)] == a and b[len(a):] == b"\0" * (len(b) - len(a)) and len(b) % 512 == 0,
          "export-raw differs from the imported image")
    out, _ = v("list", "tank")
    used = [l.split() for l in out.splitlines() if l.startswith("tank/data ")][0]
    check(used[4] != "0B", out)


def t_bad_input():
    refused(["create", "nope/x", "1M"], 1, ['pool "nope": no such pool'])
    refused(["create", "tank/x", "12Q"], 2, ['size "12Q": not a size'])
    refused(["create", "tank/x", "1000"], 1, ["not a positive multiple of 512"])
    refused(["create", "tank/x", "10G"], 1, ["does not fit in the pool"])
    refused(["create", "tank/web", "1M"], 1, ["tank/web: volume exists"])
    refused(["create", "-b", "3K", "tank/x", "1M"], 1, ["block size"])
    refused(["create", "-o", "compression=gzip", "tank/x", "1M"], 2, ["compression"])
    refused(["create", "tank/-x", "1M"], 1, ["not a valid name"])
    refused(["create", "tank", "1M"], 2, ["not POOL/VOLUME"])
    refused(["snapshot", "tank/nope@a"], 1, ["tank/nope: no such volume"])
    refused(["destroy", "tank/web@nope"], 1, ["tank/web@nope: no such snapshot"])
    refused(["clone", "tank/web@nope", "tank/c"], 1, ["no such snapshot"])
    refused(["frobnicate"], 2, ["unknown command"])
    junk = os.path.join(TOP, "junk")
    with open(junk, "wb") as f:
        f.write(os.urandom(1 << 20))
    refused(["pool-import", "junk", junk], 1, ["not a pool"])
    refused(["pool-create", "tank2", junk, "256M"], 1, ["file exists and is not empty"])
    refused(["pool-create", "tank", os.path.join(TOP, "other.pool"), "256M"], 1,
            ["already" if False else "registered"])
    check(not os.path.exists(os.path.join(TOP, "other.pool")), "pool file left behind")
    refused(["pool-create", "small", os.path.join(TOP, "small.pool"), "1M"], 1,
            ["at least 64 MiB"])
    refused(["import-raw", os.path.join(TOP, "missing"), "tank/x"], 1, ["No such file"])
    refused(["export-raw", "tank/data", os.path.join(TOP, "img")], 1, ["File exists"])


def t_snapshots_clones():
    v("snapshot", "tank/web@a")
    v("clone", "tank/web@a", "tank/web2")
    out, _ = v("list", "tank")
    check("tank/web@a" in out and "tank/web@a" in out.split("tank/web2")[1], out)
    refused(["destroy", "tank/web@a"], 1, ["snapshot has clones (tank/web2)"])
    refused(["destroy", "tank/web"], 1, ["has 1 snapshot", "-r"])
    refused(["clone", "tank/web@a", "other/x"], 2, ["same pool" if False else "its origin's pool"])
    v("snapshot", "tank/web@b")
    refused(["rollback", "tank/web@a"], 1, ["not the newest snapshot", "tank/web@b"])
    v("destroy", "tank/web2")
    v("rollback", "-r", "tank/web@a")
    out, _ = v("list", "tank")
    check("tank/web@b" not in out and "tank/web2" not in out, out)


def sha(path):
    import hashlib
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def t_send_receive():
    stream = os.path.join(TOP, "data.stream")
    v("snapshot", "tank/data@a")
    v("send", "tank/data@a", "-o", stream)
    v("receive", "tank/copy", "-i", stream)
    with open(stream, "rb") as f:
        v("receive", "tank/copy2", stdin=f)
    v("export-raw", "tank/data@a", os.path.join(TOP, "a.raw"))
    v("export-raw", "tank/copy@a", os.path.join(TOP, "copy-a.raw"))
    v("export-raw", "tank/copy2", os.path.join(TOP, "copy2.raw"))
    check(sha(os.path.join(TOP, "a.raw")) == sha(os.path.join(TOP, "copy-a.raw")) ==
          sha(os.path.join(TOP, "copy2.raw")), "a received volume differs")
    data = open(stream, "rb").read()
    cut = os.path.join(TOP, "cut.stream")
    for n in (0, 100, 512, 600, len(data) // 2, len(data) - 1):
        with open(cut, "wb") as f:
            f.write(data[:n])
        refused(["receive", "tank/copy3", "-i", cut], 1, ["stream", "nothing was changed" if n else "cut short"])
    for pos in (10, 600, len(data) // 3, len(data) - 5):
        bad = bytearray(data)
        bad[pos] ^= 1
        with open(cut, "wb") as f:
            f.write(bad)
        refused(["receive", "tank/copy3", "-i", cut], 1, ["stream"])
    refused(["receive", "tank/copy", "-i", stream], 1, ["volume exists"])
    # Incremental: change data, snapshot, send the difference.
    v("export-raw", "tank/data", os.path.join(TOP, "scratch.raw"))
    v("destroy", "-r", "tank/copy2")
    img2 = os.path.join(TOP, "img2")
    with open(img2, "wb") as f:
        f.write(os.urandom(1 << 20))
    v("import-raw", img2, "tank/other")
    v("snapshot", "tank/other@x")
    v("send", "tank/other@x", "-o", stream)
    v("receive", "tank/other2", "-i", stream)
    v("clone", "tank/other@x", "tank/oc")
    v("snapshot", "tank/other@y")
    v("send", "-i", "@x", "tank/other@y", "-o", stream)
    small = os.path.getsize(stream)
    v("receive", "tank/other2", "-i", stream)
    v("export-raw", "tank/other2@y", os.path.join(TOP, "o2y.raw"))
    v("export-raw", "tank/other@y", os.path.join(TOP, "oy.raw"))
    check(sha(os.path.join(TOP, "o2y.raw")) == sha(os.path.join(TOP, "oy.raw")),
          "incremental receive differs")
    check(small < 4096, f"an incremental stream with no changes is {small} bytes")
    refused(["receive", "tank/other2", "-i", stream], 1, ["not the stream's base"])


def t_scrub():
    out, _ = v("scrub", "tank")
    check("0 errors" in out, out)


def t_export_import():
    path = os.readlink(os.path.join(ENV["HULL_ROOT"], "pools", "tank"))
    v("pool-export", "tank")
    refused(["list", "tank"], 1, ['pool "tank": no such pool'])
    v("pool-import", "tank", path)
    out, _ = v("list", "tank")
    check("tank/copy@a" in out, out)


def main():
    r = Runner("volume-cli")
    try:
        if r.run("volume-cli/pool", t_pool):
            r.run("volume-cli/create+list", t_create_list)
            r.run("volume-cli/bad-input", t_bad_input)
            r.run("volume-cli/snapshots+clones", t_snapshots_clones)
            r.run("volume-cli/send+receive", t_send_receive)
            r.run("volume-cli/scrub", t_scrub)
            r.run("volume-cli/export+import", t_export_import)
    finally:
        shutil.rmtree(TOP, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
