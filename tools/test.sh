#!/bin/sh
# make test: every stage runs even if an earlier one failed; each prints
# "stage: N passed, N failed"; the last line is the total.
set -u
cd "$(dirname "$0")/.."
log=build/test-summary
: >"$log"
stage() {
	name=$1; shift
	echo "=== $name"
	{ "$@" 2>&1; echo "stage-exit: $?"; } | tee build/test-$name.log
	line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' build/test-$name.log)
	rc=$(sed -n 's/^stage-exit: //p' build/test-$name.log)
	# A stage that printed no summary (it crashed, or the lab failed) failed.
	[ -n "$line" ] || line="$name: 0 passed, 1 failed (no summary line)"
	echo "$line" >>"$log"
	# So did one that exited non-zero without counting a failure (a lab
	# timeout cuts the later suites off after earlier ones reported).
	if [ "$rc" != 0 ] && ! echo "$line" | grep -qE ' [1-9][0-9]* failed'; then
		echo "$name: 0 passed, 1 failed (exit status $rc)" >>"$log"
	fi
}
# A short fuzz run of each libFuzzer target; a crash fails it.
fuzz() {
	if make -s fuzz FUZZ_SECONDS="${HULL_FUZZ_SECONDS:-10}" >build/fuzz.log 2>&1; then
		echo "fuzz: 1 passed, 0 failed"
	else
		tail -30 build/fuzz.log; echo "fuzz: 0 passed, 1 failed"
	fi
}
stage unit sh tools/run-unit.sh build/test/test_*
stage fuzz fuzz
stage cli python3 guest-tests/test_cli.py
stage volume-cli python3 guest-tests/test_volume_cli.py
stage guest sh guest-tests/run-guest-tests.sh
echo "=== summary"
cat "$log"
awk '{ for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "total: %d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
