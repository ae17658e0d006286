#!/bin/sh
# Guest tests: the tiny payload and Debian's kernels under Hull.  Where
# /dev/kvm has VMX/SVM they run here; otherwise inside the lab (a nested
# SVM host under QEMU TCG, docs/lab.md), all in one lab boot.
set -u
cd "$(dirname "$0")/.."
tests="python3 guest-tests/test_tiny.py; t=\$?; python3 guest-tests/test_linux.py || t=1; python3 guest-tests/test_disk.py || t=1; python3 guest-tests/test_lifecycle.py || t=1; python3 guest-tests/test_net.py || t=1; exit \$t"
if guest-tests/lab/have-kvm; then
	echo "guest-tests: /dev/kvm has VMX/SVM: running directly"
	sh -c "$tests"
else
	echo "guest-tests: no VMX/SVM KVM here: running in the lab"
	guest-tests/lab/lab-run --timeout "${HULL_LAB_TIMEOUT:-1100}" -- sh -c "$tests"
fi
