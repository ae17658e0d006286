#!/bin/sh
# make bench: directly where /dev/kvm has VMX/SVM, else inside the lab.
set -u
cd "$(dirname "$0")/.."
if guest-tests/lab/have-kvm; then
	python3 guest-tests/bench.py "$@"
else
	guest-tests/lab/lab-run --timeout "${HULL_LAB_TIMEOUT:-3000}" -- python3 guest-tests/bench.py "$@"
fi
