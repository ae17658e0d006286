"""Tiny-guest tests: Hull's exits, console and exit statuses on a payload of
a few thousand instructions (guest-tests/tiny).  Needs a /dev/kvm; cheap
enough to run under KVM-PVM's emulator or in the lab."""
import os
import pty
import signal
import termios
import time

from hulltest import BUILD, VM, Runner, check

TINY = os.path.join(BUILD, "tiny", "tiny.bzImage")


def spec(name, cmdline, vcpus=1, ram=64):
    return {"name": name, "vcpus": vcpus, "ram": ram, "kernel": TINY,
            "cmdline": cmdline}


def t_poweroff_mmio():
    vm = VM(spec("tiny-mmio", "mmio-test"))
    vm.expect(r"TINY: hello cmdline=\[mmio-test\]", 60)
    vm.expect(r"TINY: mmio ok", 60)
    vm.expect(r"TINY: poweroff", 60)
    vm.expect_exit(0, 60)
    check("still running" not in vm.console(), "guest ran on after power-off")


def t_smp_poweroff():
    # vCPUs 1..3 wait for a SIPI that never comes; power-off must end them.
    vm = VM(spec("tiny-smp", "smp", vcpus=4))
    vm.expect(r"TINY: mmio ok", 60)
    vm.expect_exit(0, 60)


def t_triple_fault():
    vm = VM(spec("tiny-triple", "triple"))
    vm.expect(r"TINY: triple fault", 60)
    vm.expect_exit(3, 60)
    check("triple fault" in vm.stderr(), "stderr does not say triple fault")


def t_reset_no_reboot():
    vm = VM(spec("tiny-reset", "reset"), args=["--no-reboot"])
    vm.expect(r"TINY: reset", 60)
    vm.expect_exit(4, 60)
    check("reset" in vm.stderr(), "stderr does not mention the reset")


def t_reset_reboots_in_place():
    # A reset rebuilds the VM: the guest boots again on the same console.
    vm = VM(spec("tiny-reboot", "echo"))
    vm.expect(r"TINY: ready", 60)
    vm.send("reset\r")
    m = vm.expect(r"TINY: got reset", 60)
    m = vm.expect(r"TINY: ready", 60, start=m.end())     # the second boot
    vm.send("done\r")
    vm.expect(r"TINY: got done", 60, start=m.end())
    vm.expect_exit(0, 60)
    check(vm.console().count("TINY: hello") == 2, "not exactly two boots")


def t_console_input():
    vm = VM(spec("tiny-echo", "echo"))
    vm.expect(r"TINY: ready", 60)
    vm.send("hull-echo-4711\r")
    vm.expect(r"TINY: got hull-echo-4711", 60)
    vm.expect_exit(0, 60)


def t_sigterm_hang():
    vm = VM(spec("tiny-hang", "hang", vcpus=2))
    vm.expect(r"TINY: hang", 60)
    vm.signal(signal.SIGTERM)
    vm.expect_exit(5, 60)
    check("signal" in vm.stderr(), "stderr does not say which signal")


def t_tty_escape_restores_terminal():
    # On a terminal vmctl goes raw; Ctrl-] stops the VM and the terminal
    # settings come back exactly as they were.
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    vm = VM(spec("tiny-tty", "hang"), stdin_fd=slave)
    vm.expect(r"TINY: hang", 60)
    during = termios.tcgetattr(slave)
    check(not (during[3] & termios.ICANON), "console not in raw mode")
    os.write(master, b"\x1d")
    vm.expect_exit(5, 60)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    check(after == before, "terminal settings not restored")
    check("Ctrl-]" in vm.stderr(), "stderr does not say Ctrl-]")


def t_startup_time_reported():
    # HULL_TRACE prints when vCPU 0 first enters the guest (used by bench).
    env = dict(os.environ, HULL_TRACE="1")
    vm = VM(spec("tiny-trace", "mmio-test"), env=env)
    vm.expect_exit(0, 60)
    check("hull-trace: first-run" in vm.stderr(), "no trace line")


def main():
    r = Runner("tiny")
    if not os.path.exists("/dev/kvm"):
        r.skip("tiny", "no /dev/kvm")
        r.finish()
    for name, fn in [("poweroff+mmio", t_poweroff_mmio),
                     ("smp-poweroff", t_smp_poweroff),
                     ("triple-fault", t_triple_fault),
                     ("reset-no-reboot", t_reset_no_reboot),
                     ("reset-reboots", t_reset_reboots_in_place),
                     ("console-input", t_console_input),
                     ("sigterm", t_sigterm_hang),
                     ("tty-escape", t_tty_escape_restores_terminal),
                     ("trace", t_startup_time_reported)]:
        r.run("tiny/" + name, fn)
    r.finish()


if __name__ == "__main__":
    main()
