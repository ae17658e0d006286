#!/bin/bash
# Build the lab's level-1 system in build/lab: Debian's generic kernel and
# an initramfs (busybox + kvm-amd, 9p, virtio and networking modules) whose
# /init (lab-init) runs one command chrooted into the host's root.
#   usage: mklab.sh BUILDDIR
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../kit/common.sh"
build=$(realpath -m "${1:-build}")
out=$build/lab

# kvm-amd needs ccp (SEV); the 9p stack shares the host root; virtio_console
# carries the command's output; tun..vhost_net are for network tests.
MODS="irqbypass kvm ccp kvm-amd tun tap veth bridge vhost vhost_net
      9pnet 9pnet_virtio 9p netfs fscache virtio_pci virtio_console af_packet"

read -r pkg ver < <(kernel_pkg amd64)
stamp=$( { cat "$here/../kit/common.sh" "$here/mklab.sh" "$here/lab-init";
    echo "$pkg=$ver"; dpkg-query -W -f='${Version}\n' busybox-static; } |
    sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ]; then
	echo "lab: up to date ($out)"
	exit 0
fi

echo "lab: building $out ($pkg $ver)"
work=$(mktemp -d "$build/lab-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
busybox_root "$work/root"
cp "$here/lab-init" "$work/root/init"
kver=$(kernel_unpack "$pkg" "$ver" "$build/debs" "$work/k")
mods_copy "$work/k" "$kver" "$work/root" $MODS
mkdir -p "$out"
cp "$work/k/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
cpio_pack "$work/root" "$out/initrd.img"
echo "$stamp" >"$out/stamp"
ls -l "$out"
