#!/usr/bin/env bash
# Wall time until a model trained on the bundled digits reconstructs unseen test digits to a
# given error: abp against the PyTorch peer running the same algorithm and settings
# (bench/abp_torch_quality.py, a copy of ../shared/bench/peer/abp_torch.py that trains on
# real digits and measures the test error).
#
#   bash bench/time-to-quality.sh [options] [OUT]          (default OUT: runs/time-to-quality)
#
# Both train mnist28 (d = 30) on the first --limit training digits: batch 64, L = 10
# Langevin steps of size 0.1, sigma 0.3, Adam (lr --lr, beta1 0.5), a new permutation of
# the examples every epoch. Every --every iterations the test error is measured on the
# first --test-n test digits the way `abp reconstruct` does (z from N(0, I), --eval-steps
# Langevin steps of size 0.05, batch norm's running statistics, mean squared error per
# pixel on the [0, 1] scale): for abp from its numbered checkpoints, for the peer inside its
# run. Only training time counts (abp: metrics.csv's seconds minus checkpoint I/O; the
# peer: its clock stops while it evaluates).
#
# The target error is --factor (1.2) times the larger of the two final errors, so that both
# programs reach it; each program's time to quality is its training time at the first
# measurement at or below the target (so it is resolved to --every iterations). Prints both
# curves, both times and their ratio (peer / abp); last lines are "name value" pairs.
#
# Options:
#   --iters N        learning iterations of each program            [200]
#   --every K        measure the test error every K iterations      [20]
#   --limit N        training digits                                [2000]
#   --test-n N       test digits                                    [100]
#   --eval-steps N   Langevin steps of each test reconstruction     [100]
#   --lr X           Adam's learning rate (both programs)           [1e-3]
#   --ranks R        abp's MPI ranks                                [1]
#   --threads T      abp's threads per rank                         [cores / ranks]
#   --peer-threads P the peer's threads (its best setting: on 2 cores
#                    here 1 thread ran 3-4x faster than 2)           [ranks x T]
#   --factor F       target = F x the larger final error            [1.2]
#   --abp-args "..." extra arguments of abp train: the switch for a variant of abp's
#                    training, e.g. "--objective iabp" (the encoder-initialised one)
#   --recon-args "..." extra arguments of abp reconstruct (after --eval-steps, so they win),
#                    e.g. "--init encoder --langevin-steps 10" (T steps from the encoder)
#   --label NAME     what to call that variant in the output        [abp]
#   --encoder        the encoder-initialised run in one switch: --abp-args "--objective iabp"
#                    --recon-args "--init encoder --langevin-steps 10" --label iabp
# The default run takes about 5 minutes on 2 cores here (the peer most of it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
iters=200 every=20 limit=2000 test_n=100 eval_steps=100 lr=1e-3 ranks=1 threads= peer_threads= factor=1.2
abp_args= recon_args= label=abp out=
abp=$here/build/abp peer=$here/bench/abp_torch_quality.py
data=$here/datasets/mnist-small
die() { echo "time-to-quality: $*" >&2; exit 1; }
usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --iters) iters=$2; shift ;;
    --every) every=$2; shift ;;
    --limit) limit=$2; shift ;;
    --test-n) test_n=$2; shift ;;
    --eval-steps) eval_steps=$2; shift ;;
    --lr) lr=$2; shift ;;
    --ranks) ranks=$2; shift ;;
    --threads) threads=$2; shift ;;
    --peer-threads) peer_threads=$2; shift ;;
    --factor) factor=$2; shift ;;
    --abp-args) abp_args=$2; shift ;;
    --recon-args) recon_args=$2; shift ;;
    --encoder) abp_args="--objective iabp" recon_args="--init encoder --langevin-steps 10" label=iabp ;;
    --label) label=$2; shift ;;
    -h|--help) usage 0 ;;
    -*) echo "time-to-quality: unknown option '$1'" >&2; usage 2 ;;
    *) out=$1 ;;
  esac
  shift
done
for v in "$iters" "$every" "$limit" "$test_n" "$eval_steps" "$ranks"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || die "'$v' is not a positive whole number"
done
[ -z "$threads" ] || [[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads '$threads' is not a positive whole number"
[ -n "$threads" ] || threads=$(( $(nproc) / ranks > 0 ? $(nproc) / ranks : 1 ))
[ -z "$peer_threads" ] || [[ $peer_threads =~ ^[1-9][0-9]*$ ]] || die "--peer-threads '$peer_threads' is not a positive whole number"
[ -n "$peer_threads" ] || peer_threads=$((threads * ranks))
[ -x "$abp" ] || die "no abp at $abp (build it: bash jobs/setup.sh)"
/usr/bin/python3 -c "import torch" 2>/dev/null || die "PyTorch is missing: apt-get install python3-torch"
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=${out:-$here/runs/time-to-quality}
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/commands.txt
: > "$log"
run() { echo "$*" >> "$log"; "$@"; }
export OPENBLAS_NUM_THREADS=$threads # abp reconstruct takes OpenBLAS's default
# Each rank on as many cores as it runs threads (--map-by slot:PE=T): Open MPI binds each of up
# to 2 ranks to one core by default, where T threads would take turns on it.
if [ "$ranks" -gt "$(nproc)" ]; then over=(--oversubscribe)
elif [ $((ranks * threads)) -le "$(nproc)" ]; then over=(--map-by "slot:PE=$threads")
else over=(--bind-to none); fi

# ---- abp: train with a checkpoint every K iterations, then reconstruct at each ----
rm -rf "$out/abp"
# shellcheck disable=SC2086  # --abp-args is a list of words
run mpirun "${over[@]}" -np "$ranks" "$abp" train --model mnist28 --data "$data/train-images-idx3-ubyte" \
  --limit "$limit" --iters "$iters" --lr "$lr" --threads "$threads" --checkpoint-every "$every" \
  --keep-checkpoints 1000000 --out "$out/abp" --quiet $abp_args || die "abp train failed"
# Training seconds at each iteration: the seconds column less the checkpoint I/O so far.
# Columns by name: each objective adds its own metrics before the timing columns.
awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) col[$i] = i; if (!col["seconds"] || !col["io_s"]) exit 1; next}
         {io += $col["io_s"]; print $1, $col["seconds"] - io}' "$out/abp/metrics.csv" > "$out/abp/train-seconds.txt" ||
  die "$out/abp/metrics.csv has no seconds and io_s columns"
: > "$out/abp-curve.txt"
for ckpt in "$out"/abp/checkpoint-*.h5; do
  it=$(basename "$ckpt" .h5); it=$((10#${it#checkpoint-}))
  # shellcheck disable=SC2086  # --recon-args is a list of words
  line=$(run "$abp" reconstruct --ckpt "$ckpt" --data "$data/t10k-images-idx3-ubyte" --limit "$test_n" \
           --langevin-steps "$eval_steps" $recon_args --out "$out/abp/recon-$it") || die "abp reconstruct failed"
  mse=$(sed -n 's/.*mse=\([0-9.e+-]*\).*/\1/p' <<< "$line" | tail -1)
  [ -n "$mse" ] || die "no mse= in abp reconstruct's output: $line"
  sec=$(awk -v it="$it" '$1 == it {print $2}' "$out/abp/train-seconds.txt")
  echo "$it $sec $mse" >> "$out/abp-curve.txt"
done
sort -n -o "$out/abp-curve.txt" "$out/abp-curve.txt"

# ---- the peer ----
peer_out=$(run /usr/bin/python3 "$peer" --train "$data/train-images-idx3-ubyte" --test "$data/t10k-images-idx3-ubyte" \
             --limit "$limit" --test-n "$test_n" --iters "$iters" --eval-every "$every" \
             --eval-steps "$eval_steps" --lr "$lr" --threads "$peer_threads") || die "the peer failed"
sed -n 's/^eval //p' <<< "$peer_out" > "$out/pytorch-curve.txt"

# ---- the target and the times to reach it ----
final() { tail -1 "$1" | cut -d' ' -f3; }
target=$(awk -v a="$(final "$out/abp-curve.txt")" -v b="$(final "$out/pytorch-curve.txt")" -v f="$factor" \
           'BEGIN {printf "%.6f", f * (a > b ? a : b)}')
reach() { awk -v t="$target" '$3 <= t {print $2, $1; exit}' "$1"; }
read -r abp_s abp_it <<< "$(reach "$out/abp-curve.txt")"
read -r peer_s peer_it <<< "$(reach "$out/pytorch-curve.txt")"
{
  echo "iteration  $label: training s, test mse  |  pytorch: training s, test mse"
  join "$out/abp-curve.txt" "$out/pytorch-curve.txt" | awk '{printf "%9d  %10.2f %9.5f  |  %10.2f %9.5f\n", $1, $2, $3, $4, $5}'
  echo "target: test mse <= $target ($factor x the larger final error)"
  echo "$label reaches it at iteration $abp_it after $abp_s s; pytorch at iteration $peer_it after $peer_s s"
  echo "${label}_seconds_to_quality $abp_s"
  echo "pytorch_seconds_to_quality $peer_s"
  echo "target_mse $target"
  awk -v a="$abp_s" -v b="$peer_s" 'BEGIN {printf "speedup_to_quality %.2f\n", b / a}'
} | tee "$out/summary.txt"
