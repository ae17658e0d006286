# The guest kit and the lab (docs/lab.md).  Both scripts keep a stamp and
# return at once when nothing changed, so the targets are always run.

# `kit`: build/kit/{vmlinuz-amd64,vmlinuz-cloud,initrd.img}.
# deps only when a tool the build needs is missing (apt-get is slow-ish).
kit: $(if $(shell command -v busybox iperf3 fio cpio depmod >/dev/null 2>&1 && echo y),,deps)
	@bash guest-tests/kit/mkkit.sh $(BUILD)

# `lab`: build/lab/{vmlinuz,initrd.img}, booted by guest-tests/lab/lab-run.
lab: $(if $(shell command -v busybox qemu-system-x86_64 cpio depmod >/dev/null 2>&1 && echo y),,deps)
	@bash guest-tests/lab/mklab.sh $(BUILD)

# Boot both kit kernels with QEMU inside the lab: proves kit + lab work.
lab-smoke: kit lab
	guest-tests/lab/lab-run --timeout 1200 -- guest-tests/lab/qemu-smoke

.PHONY: lab-smoke
