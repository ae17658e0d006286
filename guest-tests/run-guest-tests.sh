#!/bin/sh
# Guest tests: the tiny payload and Debian's kernels under Hull.  Where
# /dev/kvm has VMX/SVM they run here; otherwise inside the lab (a nested
# SVM host under QEMU TCG, docs/lab.md), one lab boot per suite.
#
# A lab boot per suite costs about 8 s, and buys this: the lab's own
# kernel has been seen to lock up (soft lockups on both L1 CPUs, no output
# until lab-run's timeout; docs/lab.md, "Known problems").  When a suite's
# lab times out or locks up (status 124, or 125 when the lab fails) it is
# run again in a fresh lab, up to three tries, and each retry is said out
# loud.  A suite whose tests fail is never retried.
set -u
cd "$(dirname "$0")/.."
# suite and its lab timeout in seconds (each boot inside is bounded too)
suites="tiny:150 linux:400 disk:400 lifecycle:400 net:500 limits:400 jail:400 volume:400"
if guest-tests/lab/have-kvm; then
	echo "guest-tests: /dev/kvm has VMX/SVM: running directly"
	in_lab=false
else
	echo "guest-tests: no VMX/SVM KVM here: running in the lab"
	in_lab=true
fi
t=0
for s in $suites; do
	name=${s%%:*}
	secs=${s#*:}
	if ! $in_lab; then
		python3 "guest-tests/test_$name.py" || t=1
		continue
	fi
	try=1
	while :; do
		guest-tests/lab/lab-run --timeout "$secs" -- python3 "guest-tests/test_$name.py"
		rc=$?
		{ [ "$rc" = 124 ] || [ "$rc" = 125 ]; } && [ "$try" -lt 3 ] || break
		try=$((try + 1))
		echo "guest-tests: the lab failed during $name (lab-run status $rc); running $name again in a fresh lab (try $try of 3)"
	done
	# A lab that failed every try printed no summary for the suite: say so
	# in the summary's words, so the failure is counted and named.
	if [ "$rc" = 124 ] || [ "$rc" = 125 ]; then
		echo "$name: 0 passed, 1 failed (the lab failed 3 times, lab-run status $rc)"
	fi
	[ "$rc" = 0 ] || t=1
done
exit $t
