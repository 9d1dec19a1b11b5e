#!/usr/bin/env bash
# abp against the PyTorch peer (../shared/bench/peer/abp_torch.py): the same ABP iteration,
# model, batch and L, run alternately, several rounds each, on this machine.
#
#   bash bench/vs-pytorch.sh [--model mnist28|faces64] [--batch 64] [--langevin-steps 10]
#                            [--rounds 3] [--ranks 2] [--peer PATH] [--abp PATH]
#
# abp runs as `mpirun -np RANKS abp bench` (its threads per rank: cores / ranks); the peer runs
# with 1 and with 2 threads in every round and its faster setting counts (its best thread
# setting). Each program reports the median of its own measured iterations; this script
# prints the median over rounds of each, and their ratio. Last lines are "name value" pairs:
#   abp_seconds_per_iteration, pytorch_seconds_per_iteration, pytorch_threads,
#   speedup_vs_pytorch (pytorch / abp), percent_of_sgemm (abp's, median over rounds).
# Needs Debian's python3-torch; runs the peer with /usr/bin/python3.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=mnist28 batch=64 steps=10 rounds=3 ranks=2
abp=$here/build/abp
peer=${ABP_PEER:-$here/../shared/bench/peer/abp_torch.py}
die() { echo "vs-pytorch: $*" >&2; exit 1; }
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift ;;
    --batch) batch=$2; shift ;;
    --langevin-steps) steps=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --peer) peer=$2; shift ;;
    --abp) abp=$2; shift ;;
    -h|--help) usage 0 ;;
    *) echo "vs-pytorch: unknown option '$1'" >&2; usage 2 ;;
  esac
  shift
done
[ -x "$abp" ] || die "no abp at $abp (build it: bash jobs/setup.sh)"
[ -f "$peer" ] || die "no peer script at $peer (set --peer or ABP_PEER)"
/usr/bin/python3 -c "import torch" 2>/dev/null || die "PyTorch is missing: apt-get install python3-torch"
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
over=(); [ "$ranks" -le "$(nproc)" ] || over=(--oversubscribe)

value() { sed -n "s/^$1 //p" | tail -1; }
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

abp_times=() peer_times=() peer_threads=() percents=()
for r in $(seq "$rounds"); do
  out=$(mpirun "${over[@]}" -np "$ranks" "$abp" bench --model "$model" --batch "$batch" \
          --langevin-steps "$steps" --layers 0) || die "abp bench failed"
  abp_times+=("$(value seconds_per_iteration <<< "$out")")
  percents+=("$(value percent_of_sgemm <<< "$out")")
  best= best_t=
  for t in 1 2; do
    p=$(/usr/bin/python3 "$peer" --config "$model" --batch "$batch" --langevin-steps "$steps" \
          --threads "$t" --iters 5) || die "the peer failed"
    s=$(value seconds_per_iteration <<< "$p")
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$s best_t=$t; fi
  done
  peer_times+=("$best") peer_threads+=("$best_t")
  echo "round $r: abp ${abp_times[-1]} s (${percents[-1]}% of sgemm), pytorch $best s ($best_t threads)"
done
a=$(printf '%s\n' "${abp_times[@]}" | median)
p=$(printf '%s\n' "${peer_times[@]}" | median)
echo "model $model"
echo "batch $batch"
echo "langevin_steps $steps"
echo "abp_ranks $ranks"
echo "abp_seconds_per_iteration $a"
echo "percent_of_sgemm $(printf '%s\n' "${percents[@]}" | median)"
echo "pytorch_seconds_per_iteration $p"
echo "pytorch_threads $(printf '%s\n' "${peer_threads[@]}" | sort | uniq -c | sort -rn | awk 'NR == 1 {print $2}')"
echo "speedup_vs_pytorch $(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.2f", p / a}')"
