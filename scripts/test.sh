#!/bin/sh
# The README's second command, and what CI runs: every test.
#   1. the unit, CLI and network tests (ctest, cmocka),
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the measurement harness's CPU tests (Python, no GPU needed),
#   4. accuracy against the calibration data: fails when the median error
#      or the unsafe count is worse than the figures in docs/accuracy.md.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh

echo "== build and test"
make test

echo "== AddressSanitizer + UBSan"
make asan

if [ -d tools/measure ]; then
	echo "== measurement harness (CPU)"
	python3 -m unittest discover -s tools/measure -p 'test_*.py'
fi

echo "== accuracy gate (docs/accuracy.md)"
. ./scripts/accuracy-gate.env
rc=0
./build/vramfit validate --max-median "$VF_MAX_MEDIAN" \
	--max-unsafe "$VF_MAX_UNSAFE" >build/validate.txt || rc=$?
grep -A 20 '^SUMMARY' build/validate.txt
[ "$rc" -eq 0 ] || { echo "accuracy gate failed (exit $rc)" >&2; exit "$rc"; }
echo "all tests passed"
