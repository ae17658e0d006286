#!/bin/sh
# Volumes at host speed (docs/bench.md, "Volumes").  Hull's virtio-blk
# model (build/bench/blk_harness, no KVM) on a volume beside the same model
# on a raw file in the same directory, both buffered (a pool is opened
# buffered): 4k randread QD32, 4k randwrite QD32, 1M sequential read QD4;
# the volume/raw ratios.  Then clone time of a 10 GiB volume and send and
# receive MB/s (build/bench/vol_bench).
#
# Environment: VOL_BENCH_SECS (default 5), VOL_BENCH_MIB (default 1024),
# VOL_BENCH_DIR (default build/bench).
set -eu
cd "$(dirname "$0")/../.."
SECS=${VOL_BENCH_SECS:-5}
MIB=${VOL_BENCH_MIB:-1024}
DIR=${VOL_BENCH_DIR:-build/bench}
HARNESS=build/bench/blk_harness
VMCTL=build/vmctl
mkdir -p "$DIR"
root=$(mktemp -d /tmp/hull-volbench.XXXXXX)
trap 'rm -rf "$root" "$DIR/vol.pool" "$DIR/vol-raw.img"' EXIT
export HULL_ROOT=$root

rm -f "$DIR/vol.pool"
dd if=/dev/urandom of="$DIR/vol-raw.img" bs=1M count="$MIB" status=none
$VMCTL volume pool-create vb "$DIR/vol.pool" $((MIB * 2))M >/dev/null
$VMCTL volume create vb/v "${MIB}M" >/dev/null
# Every block written (random data), like the raw file: no holes to flatter it.
$HARNESS -f "$DIR/vol.pool" -V vb/v -r write -b 1048576 -q 4 -t 3 >/dev/null
$HARNESS -f "$DIR/vol.pool" -V vb/v -r write -b 1048576 -q 4 -t 3 >/dev/null

pick() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
printf '%-12s %-4s %3s  %10s %9s  %10s %9s  %7s\n' pattern bs qd \
    "vol-iops" "vol-MB/s" "raw-iops" "raw-MB/s" "vol/raw"
for spec in "randread 4k 4096 32" "randwrite 4k 4096 32" "read 1M 1048576 4"; do
	set -- $spec
	v=$($HARNESS -f "$DIR/vol.pool" -V vb/v -r "$1" -b "$3" -q "$4" -t "$SECS")
	r=$($HARNESS -f "$DIR/vol-raw.img" --writeback -r "$1" -b "$3" -q "$4" -t "$SECS")
	vi=$(echo "$v" | pick iops) vm=$(echo "$v" | pick mbps)
	ri=$(echo "$r" | pick iops) rm=$(echo "$r" | pick mbps)
	printf '%-12s %-4s %3s  %10s %9s  %10s %9s  %7s\n' "$1" "$2" "$4" \
	    "$vi" "$vm" "$ri" "$rm" "$(echo "scale=2; $vi / $ri" | bc)"
done
build/bench/vol_bench "$DIR" 512
