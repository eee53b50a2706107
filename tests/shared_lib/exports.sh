#!/bin/sh
# exports.sh LIB HEADER - the shared library exports exactly the functions
# the public header declares: none missing, no internal one leaking.
set -eu
lib=$1 header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -oE '\bvf_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u >"$tmp/declared"
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort -u >"$tmp/exported"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] || { echo "declared but not exported: $missing"; exit 1; }
[ -z "$extra" ] || { echo "exported but not in the header: $extra"; exit 1; }
echo "$(wc -l <"$tmp/exported") functions exported, all declared"
