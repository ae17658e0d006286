#!/bin/sh
# Run each unit-test binary; print one summary line that CI can read.
# Results are appended to build/results (one "name pass|fail" per binary run).
set -u
pass=0 fail=0
mkdir -p build
for t in "$@"; do
	echo "== $t"
	if "$t"; then pass=$((pass + 1)); echo "$(basename "$t") pass" >>build/results
	else fail=$((fail + 1)); echo "$(basename "$t") fail" >>build/results; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
