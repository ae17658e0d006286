#!/bin/sh
# Hull's virtio-net model (build/bench/net_harness, no KVM) beside raw tap
# writes and reads of the same frames, each run on a tap in a network
# namespace of its own: transmit and receive of 64-byte, 1514-byte and
# 64 KiB TSO (65214-byte, 45 x 1448 MSS) frames.  Each pair alternates
# hull and raw NET_BENCH_ROUNDS times and keeps each side's best run (this
# machine is shared and has two CPUs: the best run is the least disturbed).
# Prints packets/s, Gbit/s (Ethernet frame bytes), CPU ns per packet of
# the thread doing the I/O, and hull/raw ratios of both (target: 0.90 or
# more); then Hull with HULL_NET_BATCH=1 (no io_uring batches: one call
# per packet, like the raw loop) and its ratio to raw.  See the top of net_harness.c for the method.
#
# Environment: NET_BENCH_SECS (timed seconds per run, default 0.7),
# NET_BENCH_ROUNDS (default 3), NET_HARNESS_ARGS (e.g. "--no-guest-tso").
# Needs root (unshare(CLONE_NEWNET), /dev/net/tun); skips without them.
set -eu
cd "$(dirname "$0")/../.."
SECS=${NET_BENCH_SECS:-0.7}
ROUNDS=${NET_BENCH_ROUNDS:-3}
HARNESS=build/bench/net_harness
OUT=build/bench/out
mkdir -p "$OUT"

[ -x "$HARNESS" ] || { echo "net_bench: $HARNESS missing (make $HARNESS)" >&2; exit 1; }

# One run; "pps dev_ns" on stdout, the line kept in $OUT.
run() {
	dir=$1 size=$2 mode=$3 round=$4
	log="$OUT/net-$dir-$size-$mode-$round"
	rc=0
	batch=
	[ "$mode" = hull1 ] && batch=1
	# shellcheck disable=SC2086
	HULL_NET_BATCH=$batch "$HARNESS" -d "$dir" -s "$size" -t "$SECS" \
	    ${NET_HARNESS_ARGS:-} $([ "$mode" = raw ] && echo --raw) \
	    >"$log.txt" 2>"$log.err" || rc=$?
	if [ "$rc" -eq 77 ]; then
		echo "net_bench: skipped: $(cat "$log.err")" >&2
		exit 77
	fi
	if [ "$rc" -ne 0 ]; then
		echo "net_bench: $dir $size $mode failed:" >&2
		cat "$log.err" >&2
		exit 1
	fi
	sed -n 's/.* pps=\([0-9]*\).* dev_ns=\([0-9]*\).*/\1 \2/p' "$log.txt"
}

# A run that skipped (77: no namespaces or tun) skips the bench, quietly.
done_rc() {
	[ "$1" -eq 77 ] && exit 0
	exit "$1"
}

ratio() {
	awk "BEGIN{printf \"%.2f\", $1/$2}"
}

gbps() {
	awk "BEGIN{printf \"%.2f\", $1*$2*8/1e9}"
}

FMT='%-3s %-6s %9s %8s %6s  %9s %8s %6s  %5s %5s  %9s %5s\n'
printf "$FMT" dir frame hull-pps Gbit/s ns/pkt raw-pps Gbit/s ns/pkt x x-cpu \
    1-pps x-1
for dir in tx rx; do
	for size in 64 1514 65214; do
		hp=0 rp=0 op=0 hn=999999999 rn=999999999 r=1
		while [ "$r" -le "$ROUNDS" ]; do
			# shellcheck disable=SC2046
			set -- $(run "$dir" "$size" hull "$r") || done_rc $?
			[ "$1" -gt "$hp" ] && hp=$1
			[ "$2" -lt "$hn" ] && hn=$2
			# shellcheck disable=SC2046
			set -- $(run "$dir" "$size" raw "$r") || done_rc $?
			[ "$1" -gt "$rp" ] && rp=$1
			[ "$2" -lt "$rn" ] && rn=$2
			# shellcheck disable=SC2046
			set -- $(run "$dir" "$size" hull1 "$r") || done_rc $?
			[ "$1" -gt "$op" ] && op=$1
			r=$((r + 1))
		done
		printf "$FMT" "$dir" "$size" "$hp" "$(gbps "$hp" "$size")" "$hn" \
		    "$rp" "$(gbps "$rp" "$size")" "$rn" "$(ratio "$hp" "$rp")" \
		    "$(ratio "$rn" "$hn")" "$op" "$(ratio "$op" "$rp")"
	done
done
echo "x = hull/raw packets per second (best of $ROUNDS runs of ${SECS}s);" \
    "x-cpu = raw/hull CPU ns per packet of the"
echo "thread doing the I/O (Hull's I/O thread; the raw loop), best of" \
    "$ROUNDS: steadier when other work shares the CPUs.  Raw lines:" \
    "$OUT/net-*"
echo "1-pps, x-1 = Hull with HULL_NET_BATCH=1 (one read or write per" \
    "packet, as the raw loop makes), and its ratio to raw."
