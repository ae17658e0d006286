#!/bin/bash
# Build the guest kit in build/kit: two Debian kernels (generic and cloud)
# and one initramfs that boots with both.  Rebuilt only when the stamp (hash
# of these scripts + versions of every package used) changes.
#   usage: mkkit.sh BUILDDIR
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
build=$(realpath -m "${1:-build}")
out=$build/kit
debs=$build/debs

# Modules every guest job may want; the rest of each kernel is left out.
MODS="virtio_pci virtio_blk virtio_net virtio_console virtio_rng
      ext4 crc32c_generic crc16 af_packet button evdev"
BINS="/usr/bin/iperf3 /usr/bin/fio /sbin/mke2fs /sbin/e2fsck"

read -r gen_pkg gen_ver < <(kernel_pkg amd64)
read -r cld_pkg cld_ver < <(kernel_pkg cloud-amd64)
# Versions of the host packages whose files go into the initramfs.
hostpkgs=$(pkgs_of /bin/busybox $BINS $(ldd $BINS | awk '$3 ~ /^\// { print $3 }') |
    xargs dpkg-query -W -f='${Package}=${Version}\n')
stamp=$( { cat "$here"/common.sh "$here"/mkkit.sh "$here"/init "$here"/jobs/*;
    echo "$gen_pkg=$gen_ver $cld_pkg=$cld_ver"; echo "$hostpkgs"; } | sha256sum | cut -d' ' -f1)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
   [ -f "$out/initrd.img" ]; then
	echo "kit: up to date ($out)"
	exit 0
fi

echo "kit: building $out ($gen_pkg $gen_ver, $cld_pkg $cld_ver)"
work=$(mktemp -d "$build/kit-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
busybox_root "$root"
cp "$here/init" "$root/init"
mkdir -p "$root/jobs"
cp "$here"/jobs/* "$root/jobs/"
cp $BINS "$root/usr/bin/"
libs_copy "$root" $BINS

mkdir -p "$out"
for k in "gen $gen_pkg $gen_ver amd64" "cld $cld_pkg $cld_ver cloud"; do
	read -r tag pkg ver name <<<"$k"
	kver=$(kernel_unpack "$pkg" "$ver" "$debs" "$work/$tag")
	cp "$work/$tag/boot/vmlinuz-$kver" "$out/vmlinuz-$name.tmp"
	mv "$out/vmlinuz-$name.tmp" "$out/vmlinuz-$name"
	mods_copy "$work/$tag" "$kver" "$root" $MODS
	rm -rf "${work:?}/$tag"
done
cpio_pack "$root" "$out/initrd.img"
# Keep only the newest .debs, so build/debs does not grow forever.
find "$debs" -name 'linux-image-*.deb' ! -name "${gen_pkg}_*" ! -name "${cld_pkg}_*" -delete
{ echo "$gen_pkg=$gen_ver"; echo "$cld_pkg=$cld_ver"; echo "$hostpkgs"; } >"$out/versions"
echo "$stamp" >"$out/stamp"
ls -l "$out"
