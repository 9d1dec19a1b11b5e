#!/usr/bin/env bash
# Peak resident memory per rank of `abp train` (issue 14 §1): for each rank count P it runs
# mpirun -np P ABP train --data DATA --iters ITERS [extra options] under GNU time, and
# prints one line per P: the largest and smallest rank's peak RSS (maximum resident set
# size, as the kernel counts it: the whole process, MPI and BLAS included) and the bytes per
# example of the largest rank's shard.
# Usage: bench/memory.sh ABP DATA "1 2 4" ITERS [extra abp train options...]
# Example (the table of docs/scaling/memory.md):
#   bench/memory.sh build/abp big1m.h5 "1 2 4" 20 --threads 1
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,9p' "$0"; exit 2; }
abp=$1 data=$2 ranks=$3 iters=$4; shift 4
command -v /usr/bin/time > /dev/null || { echo "bench/memory.sh: needs GNU time (apt-get install time)" >&2; exit 1; }
n=$("$abp" info "$data" | sed -n 's/.* \([0-9][0-9]*\) examples.*/\1/p;s/.* \([0-9][0-9]*\) images.*/\1/p' | head -1)
[ -n "$n" ] || n=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '%-3s %12s %12s %16s  %s\n' P max_rss_MB min_rss_MB bytes_per_example "abp train ... $*"
for p in $ranks; do
  rm -rf "$tmp/out" "$tmp"/rss.*
  # Each rank's peak RSS in its own file (GNU time's %M: kilobytes).
  mpirun --oversubscribe -np "$p" sh -c '/usr/bin/time -f %M -o "$0.$$" "$@"' "$tmp/rss" \
    "$abp" train --data "$data" --iters "$iters" --out "$tmp/out" --quiet "$@"
  max=$(cat "$tmp"/rss.* | sort -n | tail -1) min=$(cat "$tmp"/rss.* | sort -n | head -1)
  per=$([ "$n" -gt 0 ] && echo $((max * 1024 * p / n)) || echo "?")
  printf '%-3s %12.0f %12.0f %16s\n' "$p" "$((max / 1024))" "$((min / 1024))" "$per"
done
