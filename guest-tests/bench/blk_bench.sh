#!/bin/sh
# Hull's virtio-blk model (build/bench/blk_harness, no KVM) beside
# fio --ioengine=io_uring --direct=1 on the same file, same patterns, same
# depth: 4k randread QD32, 4k randwrite QD32, 1M sequential read QD4.
# Prints IOPS, MB/s (10^6 bytes/s) and harness/fio ratios.
#
# Environment: BLK_BENCH_SECS (default 5), BLK_BENCH_FILE (default
# build/bench/disk.img), BLK_BENCH_MIB (default 1024),
# BLK_HARNESS_ARGS (e.g. "--direct-kick" or "--no-event-idx").
set -eu
cd "$(dirname "$0")/../.."
SECS=${BLK_BENCH_SECS:-5}
FILE=${BLK_BENCH_FILE:-build/bench/disk.img}
MIB=${BLK_BENCH_MIB:-1024}
HARNESS=build/bench/blk_harness
OUT=build/bench/out
mkdir -p "$(dirname "$FILE")" "$OUT"

[ -x "$HARNESS" ] || { echo "blk_bench: $HARNESS missing (make $HARNESS)" >&2; exit 1; }
command -v fio >/dev/null || { echo "blk_bench: fio not installed" >&2; exit 1; }

# Fully written, not sparse or fallocated: reads of holes or unwritten
# extents never reach the disk and would flatter both sides.
if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((MIB * 1048576)) ]; then
	echo "blk_bench: writing ${MIB} MiB to $FILE"
	dd if=/dev/zero of="$FILE" bs=1M count="$MIB" oflag=direct status=none
fi

# fio's JSON -> "iops mbps" for the job's direction.
fio_pick() {
	python3 -c 'import json,sys
j = json.load(open(sys.argv[1]))["jobs"][0][sys.argv[2]]
print("%.0f %.1f" % (j["iops"], j["bw_bytes"] / 1e6))' "$1" "$2"
}

printf '%-12s %-6s %3s  %10s %9s  %10s %9s  %6s %6s\n' pattern bs qd \
    "hull-iops" "hull-MB/s" "fio-iops" "fio-MB/s" "x-iops" "x-MB/s"
for spec in "randread 4k 4096 32" "randwrite 4k 4096 32" "read 1M 1048576 4"; do
	set -- $spec
	rw=$1 bsname=$2 bs=$3 qd=$4
	# shellcheck disable=SC2086
	"$HARNESS" -f "$FILE" -r "$rw" -b "$bs" -q "$qd" -t "$SECS" \
	    ${BLK_HARNESS_ARGS:-} >"$OUT/harness-$rw.txt" 2>"$OUT/harness-$rw.err" || {
		echo "blk_bench: harness $rw failed:" >&2
		cat "$OUT/harness-$rw.err" >&2
		exit 1
	}
	h=$(cat "$OUT/harness-$rw.txt")
	hiops=$(echo "$h" | sed -n 's/.* iops=\([0-9.]*\).*/\1/p')
	hmbps=$(echo "$h" | sed -n 's/.* mbps=\([0-9.]*\).*/\1/p')
	fio --name="$rw" --filename="$FILE" --ioengine=io_uring --direct=1 \
	    --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs=1 \
	    --runtime="$SECS" --time_based --randrepeat=0 \
	    --output-format=json --output="$OUT/fio-$rw.json" >/dev/null
	case $rw in *write*) dir=write ;; *) dir=read ;; esac
	set -- $(fio_pick "$OUT/fio-$rw.json" "$dir")
	fiops=$1 fmbps=$2
	printf '%-12s %-6s %3s  %10s %9s  %10s %9s  %6s %6s\n' "$rw" "$bsname" \
	    "$qd" "$hiops" "$hmbps" "$fiops" "$fmbps" \
	    "$(awk "BEGIN{printf \"%.2f\", $hiops/$fiops}")" \
	    "$(awk "BEGIN{printf \"%.2f\", $hmbps/$fmbps}")"
done
echo "(x = hull/fio; raw output in $OUT; the harness line has kicks= and irqs=)"
