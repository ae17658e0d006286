# Shared helpers for mkkit.sh and ../lab/mklab.sh (sourced, bash).
# Everything comes from Debian packages: kernels are fetched with
# `apt-get download` and unpacked with `dpkg-deb -x`, never installed.

set -euo pipefail

# kernel_pkg FLAVOUR: print "PACKAGE VERSION" of the versioned image behind
# the metapackage linux-image-FLAVOUR (amd64, cloud-amd64).  Resolving it
# ourselves pins the exact kernel into the kit's stamp.
kernel_pkg() {
	local meta=linux-image-$1 pkg ver
	if ! apt-cache show "$meta" >/dev/null 2>&1; then
		apt-get update -qq
	fi
	pkg=$(apt-cache depends "$meta" | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || { echo "kit: cannot resolve $meta" >&2; return 1; }
	ver=$(apt-cache policy "$pkg" | awk '$1 == "Candidate:" { print $2 }')
	echo "$pkg $ver"
}

# kernel_unpack PACKAGE VERSION CACHEDIR DEST: download the .deb once into
# CACHEDIR and unpack it into DEST; prints the kernel release (uname -r).
kernel_unpack() {
	local pkg=$1 ver=$2 cache=$3 dest=$4 deb
	mkdir -p "$cache" "$dest"
	deb=$(ls "$cache"/"${pkg}_${ver//:/%3a}"_amd64.deb 2>/dev/null || true)
	if [ -z "$deb" ]; then
		# apt drops privileges to _apt, which cannot write into build/.
		(cd "$cache" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >&2)
		deb=$(ls "$cache"/"${pkg}"_*_amd64.deb | tail -1)
	fi
	dpkg-deb -x "$deb" "$dest"
	ls "$dest/lib/modules"
}

# mods_copy SRCROOT KVER DSTROOT MODULE...: copy MODULEs and their
# dependencies (modprobe --show-depends needs a modules.dep, so depmod the
# source tree first) and write DSTROOT's own modules.dep for busybox modprobe.
mods_copy() {
	local src=$1 kver=$2 dst=$3 f
	shift 3
	[ -f "$src/lib/modules/$kver/modules.dep" ] || depmod -b "$src" "$kver"
	mkdir -p "$dst/lib/modules/$kver"
	cp "$src/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} \
	    "$dst/lib/modules/$kver/"
	for f in $(modprobe -d "$src" -S "$kver" --show-depends -a "$@" |
	    awk '$1 == "insmod" { print $2 }'); do
		f=${f#"$src"}
		mkdir -p "$dst$(dirname "$f")"
		cp "$src$f" "$dst$f"
	done
	depmod -b "$dst" "$kver"
}

# libs_copy DSTROOT BINARY...: copy binaries' shared libraries (from ldd),
# keeping their paths so the dynamic loader finds them.
libs_copy() {
	local dst=$1 l
	shift
	for l in $(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/lib/ { print $1 }' | sort -u); do
		mkdir -p "$dst$(dirname "$l")"
		cp -L "$l" "$dst$l"
	done
}

# busybox_root DIR: a minimal root with busybox applets as symlinks in /bin
# and the nodes the kernel needs before /init mounts devtmpfs (without
# /dev/console, /init would have no stdout).
busybox_root() {
	local d=$1 a
	mkdir -p "$d"/{bin,dev,proc,sys,tmp,run,mnt,etc,root,lib,lib64,usr/bin}
	ln -s bin "$d/sbin"
	ln -s ../bin "$d/usr/sbin"
	cp /bin/busybox "$d/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
	done
	# /init is not busybox init, so poweroff/reboot must act directly
	# (without -f they would signal pid 1, which ignores them).
	for a in poweroff reboot halt; do
		rm -f "$d/bin/$a"
		printf '#!/bin/sh\n# Not busybox init: act directly, after flushing disks.\nsync\nexec busybox %s -f\n' "$a" >"$d/bin/$a"
		chmod 755 "$d/bin/$a"
	done
	mknod -m 600 "$d/dev/console" c 5 1
	mknod -m 666 "$d/dev/null" c 1 3
	chmod 1777 "$d/tmp"
}

# cpio_pack DIR OUT: a reproducible newc archive (sorted names, fixed
# mtimes, --reproducible inode numbers), gzip -n without a timestamp.
cpio_pack() {
	local d=$1 out=$2
	find "$d" -exec touch -h -d @0 {} +
	(cd "$d" && find . -mindepth 1 | LC_ALL=C sort |
	    cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -6 >"$out.tmp"
	mv "$out.tmp" "$out"
}

# pkgs_of FILE...: the Debian packages owning FILEs.  With merged /usr, dpkg
# knows a file by either its /lib or its /usr/lib name, so ask for all the
# spellings in one (slow) dpkg -S call; the misses are ignored.
pkgs_of() {
	local f r
	for f in "$@"; do
		r=$(realpath "$f")
		printf '%s\n' "$f" "$r" "${r#/usr}" "/usr$f"
	done | sort -u | { xargs dpkg -S 2>/dev/null || true; } | cut -d: -f1 | sort -u
}
