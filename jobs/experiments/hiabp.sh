#!/usr/bin/env bash
# HiABP on the bundled digits (Sun, Liu and Zhou 2021; docs/encoder.md): the hierarchical rows
# of Table 1 and Figure 7.
#  (a) train, with --objective iabp and the same settings each, IABP L = 1 (mnist28 and its
#      encoder; and hiabp-mnist28's layers without latent layers, the control), HiABP L = 2 (the
#      spec of docs/encoder.md) and HiABP L = 3 (hiabp-mnist28 and hiabp-mnist28-encoder); every
#      model has d = 30 in all;
#  (b) test reconstruction MSE per pixel ([0, 1] scale) on the first TEST_N t10k digits: with
#      the encoder's start and T Langevin steps ([E+L]) and the encoder alone ([E], T = 0) when
#      abp reconstruct has --init encoder; always also from N(0, I) with STEPS Langevin steps
#      (the ABP protocol of test-reconstruction.sh), so every row has one number measured
#      the same way;
#  (c) samples from the prior of each model, and the L = 3 model's --vary-layer grids for
#      levels 1, 2, 3 (Figure 7).
#
#   bash jobs/experiments/hiabp.sh [OUT]     (default runs/hiabp)
#
# Writes OUT/table.md, OUT/commands.txt (every abp command it ran), OUT/L{1,1d,2,3}/ (the runs,
# samples.png) and OUT/vary-layer-{1,2,3}.png. Finished trainings and measurements are reused
# (a rerun continues); remove OUT to start over.
#
# Environment (defaults: a small run, about 20 minutes of one core here):
#   ITERS=100        learning iterations of each model        (the paper: 3e5 updates)
#   N=1000           training digits                          (the bundled 2000: N=2000)
#   BATCH=50         global batch                             (the paper: 100)
#   T=15             Langevin steps per iteration and of [E+L] (the paper: 15)
#   STEP=0.15        Langevin step size                       (the paper: 0.15)
#   LR=1e-3          learning rate of both networks           (the paper: 3e-4 with Adamax)
#   TEST_N=100       test digits reconstructed
#   STEPS=300        Langevin steps of the N(0, I) protocol
#   RANKS=1 THREADS=1 MPI ranks of training, BLAS threads per process
# The paper's scale on a cluster node:
#   ITERS=30000 N=2000 BATCH=100 LR=3e-4 TEST_N=1000 RANKS=4 bash jobs/experiments/hiabp.sh runs/hiabp-full
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/hiabp}
iters=${ITERS:-100} n=${N:-1000} batch=${BATCH:-50} T=${T:-15} step=${STEP:-0.15} lr=${LR:-1e-3}
test_n=${TEST_N:-100} steps=${STEPS:-300} ranks=${RANKS:-1} threads=${THREADS:-1}
data=$here/datasets/mnist-small
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=$threads
abp=$here/build/abp
[ -x "$abp" ] || { echo "hiabp.sh: build abp first ($abp)"; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/commands.txt

# The three models; every one has d = 30 (mnist28's), so the rows differ in structure only.
l2_model="z 22 | linear 7x7x128 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | latent 8 | deconv 32 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
l2_encoder="z 28x28x1 | conv 64 k5 s2 | bn | lrelu 0.2 | head 8 | conv 128 k5 s2 | bn | lrelu 0.2 | linear 256 | lrelu 0.2 | linear 44"
# L1d is the control: hiabp-mnist28's layers with all 30 numbers at the top (no latent layers),
# so that L1d against L2 and L3 is the hierarchy alone, mnist28 against L1d the extra layers.
l1d_model="z 30 | linear 7x7x128 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | deconv 32 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
l1d_encoder="z 28x28x1 | conv 64 k5 s2 | bn | lrelu 0.2 | conv 128 k5 s2 | bn | lrelu 0.2 | linear 256 | lrelu 0.2 | linear 60"
models=(L1 L1d L2 L3)
declare -A model=([L1]=mnist28 [L1d]="$l1d_model" [L2]="$l2_model" [L3]=hiabp-mnist28)
declare -A encoder=([L1]=auto [L1d]="$l1d_encoder" [L2]="$l2_encoder" [L3]=auto)
declare -A label=([L1]="IABP (L = 1, mnist28)" [L1d]="IABP (L = 1, hiabp-mnist28's layers)" [L2]="HiABP (L = 2, spec)"
                  [L3]="HiABP (L = 3, hiabp-mnist28)")

run() { echo "$*" >> "$log"; "$@"; }
mse() { sed -n 's/.*mse=\([0-9.]*\).*/\1/p' <<< "$1"; }
# measure FILE COMMAND...: the mse line of COMMAND, kept in FILE and reused from there.
measure() {
  local file=$1; shift
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    run "$@" 2>/dev/null | grep 'mse=' > "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}
train() { # DIR MODEL ENCODER
  local dir=$1
  [ -e "$dir/metrics.csv" ] && [ "$(tail -1 "$dir/metrics.csv" | cut -d, -f1)" = "$iters" ] && return 0
  local resume=()
  [ -e "$dir/checkpoint.h5" ] && resume=(--resume "$dir/checkpoint.h5")
  run mpirun -np "$ranks" "$abp" train --data "$data/train-images-idx3-ubyte" --limit "$n" --model "$2" \
    --objective iabp --encoder "$3" --init encoder --batch "$batch" --iters "$iters" --langevin-steps "$T" \
    --langevin-step-size "$step" --lr "$lr" --encoder-lr "$lr" --threads "$threads" --quiet --out "$dir" "${resume[@]}"
}

encoder_init=0
"$abp" reconstruct --help 2>&1 | grep -q -- '--init' && encoder_init=1
test_data=(--data "$data/t10k-images-idx3-ubyte" --limit "$test_n")
rows=()
for m in "${models[@]}"; do
  dir=$out/$m
  start=$(date +%s)
  train "$dir" "${model[$m]}" "${encoder[$m]}"
  echo "$m: trained in $(( $(date +%s) - start )) s (0 if reused)"
  prior_line=$(measure "$dir/test/prior.txt" "$abp" reconstruct --ckpt "$dir/checkpoint.h5" "${test_data[@]}" \
                 --langevin-steps "$steps" --out "$dir/test/prior")
  el="n/a" e="n/a"
  if [ $encoder_init = 1 ]; then
    el_line=$(measure "$dir/test/el.txt" "$abp" reconstruct --ckpt "$dir/checkpoint.h5" "${test_data[@]}" --init encoder \
                --langevin-steps "$T" --langevin-step-size "$step" --out "$dir/test/el")
    e_line=$(measure "$dir/test/e.txt" "$abp" reconstruct --ckpt "$dir/checkpoint.h5" "${test_data[@]}" --init encoder \
               --langevin-steps 0 --out "$dir/test/e")
    el=$(mse "$el_line") e=$(mse "$e_line")
  fi
  train_mse=$(awk -F, 'NR == 1 { for (k = 1; k <= NF; k++) if ($k == "recon_mse") c = k } END { print $c }' "$dir/metrics.csv")
  [ -e "$dir/samples.png" ] || run "$abp" sample --ckpt "$dir/checkpoint.h5" --out "$dir/samples.png" --n 64 --prior normal > /dev/null
  rows+=("| ${label[$m]} | $e | $el | $(mse "$prior_line") | $train_mse |")
done
for level in 1 2 3; do
  [ -e "$out/vary-layer-$level.png" ] ||
    run "$abp" sample --ckpt "$out/L3/checkpoint.h5" --out "$out/vary-layer-$level.png" --n 64 --cols 8 \
      --vary-layer $level --prior normal > /dev/null
done
# How much each level moves the image: the mean over rows and pixels of the standard
# deviation along a row of its --vary-layer grid ([0, 1] scale; python3's standard library).
spread_py='import re, sys, statistics
v = [float(t) for t in re.split(r"[,\s]+", open(sys.argv[1]).read().strip()) if t]
cols, n = int(sys.argv[2]), int(sys.argv[3]); per = len(v) // n
print("%.4f" % statistics.mean(statistics.pstdev(v[(r * cols + c) * per + p] / 2 for c in range(cols))
                               for r in range(n // cols) for p in range(per)))'
spreads=()
for level in 1 2 3; do
  [ -e "$out/vary-layer-$level.h5" ] ||
    run "$abp" sample --ckpt "$out/L3/checkpoint.h5" --out "$out/vary-layer-$level.h5" --n 64 --cols 8 \
      --vary-layer $level --prior normal > /dev/null
  h5dump -d /samples -m %.6g -y -w 0 -o "$out/vary-layer-$level.txt" "$out/vary-layer-$level.h5" > /dev/null
  spreads+=("level $level: $(python3 -c "$spread_py" "$out/vary-layer-$level.txt" 8 64)")
done
echo "along-row spread of the --vary-layer grids (L = 3): ${spreads[*]}" | tee "$out/spread.txt"
{
  echo "| model | test MSE [E] | test MSE [E+L], T = $T | test MSE, $steps steps from N(0, I) | last training recon_mse |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$out/table.md"
echo "hiabp: wrote $out/table.md"; cat "$out/table.md"
