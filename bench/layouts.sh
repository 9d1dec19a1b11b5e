#!/usr/bin/env bash
# abp bench in both layouts of this machine's cores — 1 rank x all cores, and a rank per core
# — alternated in every round with the PyTorch peer (../shared/bench/peer/abp_torch.py, at 1
# and at all threads) and, optionally, with a second abp build (a baseline, e.g. main's).
#
#   bash bench/layouts.sh [--model mnist28|faces64] [--rounds 3] [--iters 7] [--baseline ABP]
#
# One line per run: "round program layout seconds_per_iteration percent_of_sgemm
# outside_gemm% load", then per program and layout the median over rounds, and with a
# baseline the median over rounds of baseline s/iter / abp s/iter in each layout. OPENBLAS_CORETYPE
# is removed from the environment so that abp picks its kernel itself; each rank is bound to
# as many cores as it runs threads (mpirun --map-by slot:PE=T).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=mnist28 rounds=3 iters=7 baseline=
peer=${ABP_PEER:-$here/../shared/bench/peer/abp_torch.py}
[ -f "$peer" ] || peer=/work/shared/bench/peer/abp_torch.py
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --iters) iters=$2; shift ;;
    --baseline) baseline=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "layouts: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ $rounds =~ ^[1-9][0-9]*$ && $iters =~ ^[1-9][0-9]*$ ]] || { echo "layouts: --rounds and --iters take a positive whole number" >&2; exit 2; }
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset OPENBLAS_CORETYPE
cores=$(nproc)
value() { sed -n "s/^$1 //p" | tail -1; }
load() { cut -d' ' -f1 /proc/loadavg; }
results=$(mktemp); trap 'rm -f "$results"' EXIT
bench() { # label abp ranks threads
  local out
  # Each rank gets as many cores as it has threads: Open MPI binds each of up to 2 ranks to
  # one core by default, which would run a 1 x 2 layout's two threads on one core.
  out=$(mpirun --oversubscribe --map-by "slot:PE=$4" -np "$3" "$2" bench --model "$model" --threads "$4" --iters "$iters" --layers 0) ||
    { echo "layouts: $2 bench failed" >&2; exit 1; }
  local outside
  outside=$(sed -n 's/.*outside GEMM \([0-9.]*\)%.*/\1/p' <<< "$out")
  echo "$r $1 $3x$4 $(value seconds_per_iteration <<< "$out") $(value percent_of_sgemm <<< "$out") ${outside:--} $(load)" | tee -a "$results"
}
# abp and the baseline run side by side in each layout, and which goes first swaps every
# round: on a 2-core Zen 3 VM (2026-12-03) the program that ran first in a round was 10-15%
# slower, whichever it was, so an order kept the same in every round biased the comparison.
for r in $(seq "$rounds"); do
  for ranks in 1 "$cores"; do
    threads=$((cores / ranks))
    if [ -n "$baseline" ] && [ $((r % 2)) -eq 0 ]; then
      bench baseline "$baseline" "$ranks" "$threads"
      bench abp "$here/build/abp" "$ranks" "$threads"
    else
      bench abp "$here/build/abp" "$ranks" "$threads"
      [ -z "$baseline" ] || bench baseline "$baseline" "$ranks" "$threads"
    fi
  done
  for t in 1 "$cores"; do
    p=$(/usr/bin/python3 "$peer" --config "$model" --threads "$t" --iters "$iters") || { echo "layouts: the peer failed" >&2; exit 1; }
    echo "$r pytorch ${t}threads $(value seconds_per_iteration <<< "$p") - - $(load)" | tee -a "$results"
  done
done
echo "medians over $rounds rounds ($model): program layout s/iter %sgemm"
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for k in $(awk '{print $2 "/" $3}' "$results" | sort -u); do
  prog=${k%/*} lay=${k#*/}
  sec=$(awk -v p="$prog" -v l="$lay" '$2 == p && $3 == l {print $4}' "$results" | median)
  pct=$(awk -v p="$prog" -v l="$lay" '$2 == p && $3 == l && $5 != "-" {print $5}' "$results" | median)
  echo "$prog $lay $sec ${pct:--}"
done
# The ratio of each round's pair, run side by side: steadier than a ratio of medians when
# the machine's speed drifts between rounds.
if [ -n "$baseline" ]; then
  for lay in "1x$cores" "${cores}x1"; do
    ratio=$(awk -v l="$lay" '$3 == l && $2 == "abp" {a[$1] = $4} $3 == l && $2 == "baseline" {b[$1] = $4}
                END {for (r in a) if (r in b && a[r] > 0) print b[r] / a[r]}' "$results" | median)
    echo "baseline/abp $lay ${ratio:--} (median of the rounds' ratios of s/iter; above 1: abp is faster)"
  done
fi
