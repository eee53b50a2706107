#!/bin/sh
# Measures the runs of matrix.jsonl, each in its own Python process (so no
# allocator state leaks between runs), and appends the rows to OUT.
#
#   tools/measure/run_matrix.sh OUT.jsonl [--limit N] [--timeout SEC]
#
# Runs are taken in file order (cheapest and most informative first). A run
# whose dependencies are missing is skipped and says why; one that times
# out is reported and the matrix goes on.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUT.jsonl [--limit N] [--timeout SEC]" >&2; exit 2; }
out=$1; shift
limit=0 timeout=300
while [ $# -gt 0 ]; do
	case $1 in
	--limit) limit=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	*) echo "$0: unknown option $1" >&2; exit 2 ;;
	esac
done
n=0 failed=0
for id in $(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    l.strip() and print(json.loads(l)["id"])' "$here/matrix.jsonl"); do
	[ "$limit" -gt 0 ] && [ "$n" -ge "$limit" ] && break
	n=$((n + 1))
	timeout "$timeout" python3 "$here/measure.py" --id "$id" --out "$out"
	rc=$?
	case $rc in
	0|4) ;;                                   # measured, or skipped (said why)
	124) echo "run_matrix: $id timed out after ${timeout}s" >&2; failed=$((failed + 1)) ;;
	*) echo "run_matrix: $id failed ($rc)" >&2; failed=$((failed + 1)) ;;
	esac
done
echo "run_matrix: $n runs, $failed failed; rows in $out" >&2
[ "$failed" -eq 0 ]
