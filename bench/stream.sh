#!/usr/bin/env bash
# Throughput of `abp train --stream` against the same run with the shard in memory (issue 14
# §2), measured side by side: the two runs alternate, ROUNDS times, so that a change in the
# machine's load falls on both. From each run's metrics.csv it takes the iterations after
# the first WARMUP and prints iterations per second, the median I/O-free iteration time,
# and the ratio stream / memory of each round and of the medians.
# Usage: bench/stream.sh ABP DATA.h5 RANKS ITERS ROUNDS [extra abp train options...]
# Example (docs/scaling/million.md):
#   bench/stream.sh build/abp big1m.h5 1 80 3 --threads 1
set -euo pipefail
[ $# -ge 5 ] || { sed -n '2,9p' "$0"; exit 2; }
abp=$1 data=$2 np=$3 iters=$4 rounds=$5; shift 5
warmup=${WARMUP:-10}
[ "$iters" -gt "$warmup" ] || { echo "bench/stream.sh: ITERS must exceed WARMUP ($warmup)" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# it/s over iterations warmup+1..iters, from the seconds column (5th) of metrics.csv.
rate() { awk -F, -v w="$warmup" 'NR == w + 1 { t0 = $5 } END { printf "%.3f", (NR - 1 - w) / ($5 - t0) }' "$1"; }
echo "# $(date -u '+%F %T') UTC; $(lscpu | sed -n 's/^Model name: *//p'); load $(uptime | sed 's/.*load average: //')"
echo "# mpirun -np $np $abp train --data $data --iters $iters $* [--stream]; it/s over iterations $((warmup + 1))..$iters"
printf '%-6s %12s %12s %8s\n' round memory_it_s stream_it_s ratio
mem=() str=()
for r in $(seq "$rounds"); do
  for how in memory stream; do
    flag=(); [ $how = stream ] && flag=(--stream)
    rm -rf "$tmp/$how"
    mpirun --oversubscribe -np "$np" "$abp" train --data "$data" --iters "$iters" --out "$tmp/$how" --quiet \
      "${flag[@]}" "$@"
  done
  m=$(rate "$tmp/memory/metrics.csv") s=$(rate "$tmp/stream/metrics.csv")
  mem+=("$m") str+=("$s")
  printf '%-6s %12s %12s %8.3f\n' "$r" "$m" "$s" "$(awk -v a="$s" -v b="$m" 'BEGIN { print a / b }')"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mm=$(median "${mem[@]}") ms=$(median "${str[@]}")
printf '%-6s %12s %12s %8.3f\n' median "$mm" "$ms" "$(awk -v a="$ms" -v b="$mm" 'BEGIN { print a / b }')"
echo "# load after: $(uptime | sed 's/.*load average: //')"
