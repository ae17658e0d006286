#!/bin/sh
# make demo: boot Debian's kernel under Hull with 2 vCPUs and show its
# console; the guest kit's demo job prints what it sees, then powers off.
set -u
cd "$(dirname "$0")/.."
mkdir -p build/demo
cat >build/demo/demo.json <<JSON
{
	"name": "demo",
	"vcpus": 2,
	"ram": 512,
	"kernel": "$PWD/build/kit/vmlinuz-amd64",
	"initrd": "$PWD/build/kit/initrd.img",
	"cmdline": "console=ttyS0 panic=-1 hull.job=demo"
}
JSON
run="build/vmctl run --no-reboot build/demo/demo.json"
if guest-tests/lab/have-kvm; then
	$run </dev/null
else
	echo "demo: /dev/kvm here has no VMX/SVM: booting the lab (a nested SVM"
	echo "demo: host under QEMU TCG, about a minute) and running Hull inside it"
	guest-tests/lab/lab-run --timeout 900 -- sh -c "$run </dev/null"
fi
st=$?
echo "demo: vmctl run exited with status $st (0 = the guest powered off)"
exit $st
