#!/bin/sh
# Run the measurement matrix (or a subset), one python process per run, appending rows to OUT.
#
#   tools/measure/run_matrix.sh OUT [--limit N] [--ids a,b,c] [--timeout SECONDS] [--steps N]
#
# Skipped and timed-out runs are recorded in OUT.skipped.jsonl, never in OUT.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUT [--limit N] [--ids a,b] [--timeout S] [--steps N]" >&2; exit 2; }
out=$1; shift
matrix="$here/matrix.jsonl"; timeout_s=120; sel=""; steps=""
while [ $# -gt 0 ]; do
  case $1 in
    --limit) sel="$sel --limit $2"; shift 2 ;;
    --ids) sel="$sel --ids $2"; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --steps) steps="--steps $2"; shift 2 ;;
    --matrix) matrix=$2; shift 2 ;;
    *) echo "$0: unknown argument $1" >&2; exit 2 ;;
  esac
done
py=${PYTHON:-python3}
# shellcheck disable=SC2086
ids=$("$py" "$here/measure.py" --matrix "$matrix" --list-ids $sel)
n_ok=0; n_fail=0
for id in $ids; do
  echo "== $id" >&2
  # shellcheck disable=SC2086
  if timeout -k 10 "$timeout_s" "$py" "$here/measure.py" --matrix "$matrix" --ids "$id" \
       --out "$out" $steps; then
    n_ok=$((n_ok + 1))
  else
    rc=$?
    n_fail=$((n_fail + 1))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      printf '{"id": "%s", "skipped": "timeout after %s s"}\n' "$id" "$timeout_s" \
        >> "$out.skipped.jsonl"
      echo "$id: timeout after $timeout_s s" >&2
    fi
  fi
done
echo "measured $n_ok, skipped or failed $n_fail; rows in $out" >&2
