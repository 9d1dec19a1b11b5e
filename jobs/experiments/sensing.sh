#!/usr/bin/env bash
# Learning from indirect data: compressed sensing (Han et al. 2017, Experiment 6, Table 2).
# For each latent dimension d, train mnist28 with --sense K on the bundled training digits:
# each digit is seen only through its K projections onto white-noise images (N(0, 0.5^2)
# pixels). Then, with abp recover:
#   T1: the training digits as learned, g(z_i) from the checkpoint's latents (no further steps);
#   T3: unseen test digits recovered from their K projections (z inferred from N(0, I)),
# each next to the linear answer, the minimum-norm image S^+ S y. Recovery error = mean
# |recovered - original| over all pixels / pixel range. Writes OUT/sensing.md.
#   bash jobs/experiments/sensing.sh [OUT]        (default runs/sensing)
# Settings (env): RANKS (2), THREADS (1), K (200), DIMS ("10 20 40"), ITERS (200), N (2000),
#   TEST_N (200), TEST_STEPS (100). Here: the defaults, 10 CPU-minutes (about 6 minutes on 2
#   idle cores; 36 minutes on 2 cores shared with four other jobs).
#   On a cluster node, closer to the paper: ITERS=600 TEST_N=1000 TEST_STEPS=300 DIMS="10 20 40 60".
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/sensing}
ranks=${RANKS:-2} threads=${THREADS:-1} k=${K:-200} dims=${DIMS:-"10 20 40"} iters=${ITERS:-200}
n=${N:-2000} test_n=${TEST_N:-200} test_steps=${TEST_STEPS:-100}
train=$here/datasets/mnist-small/train-images-idx3-ubyte
test=$here/datasets/mnist-small/t10k-images-idx3-ubyte
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
mkdir -p "$out"
table=$out/sensing.md
err() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<< "$2"; }
{
  echo "| d | T1: training digits, g(z_i) learned from S y | T1 min-norm S^+ S y | T3: test digits, z inferred from S y | T3 min-norm S^+ S y |"
  echo "|---|---|---|---|---|"
} > "$table"
for d in $dims; do
  run=$out/d$d
  [ -e "$run/checkpoint.h5" ] || mpirun -np "$ranks" "$abp" train --data "$train" --limit "$n" --sense "$k" \
      --latent-dim "$d" --iters "$iters" --lr 1e-3 --threads "$threads" --out "$run" --quiet
  t1=$("$abp" recover --ckpt "$run/checkpoint.h5" --data "$train" --limit "$n" --init checkpoint \
         --langevin-steps 0 --out "$run/train" 2>/dev/null)
  t3=$("$abp" recover --ckpt "$run/checkpoint.h5" --data "$test" --limit "$test_n" \
         --langevin-steps "$test_steps" --seed 1 --out "$run/test" 2>/dev/null)
  echo "d=$d T1: $t1"
  echo "d=$d T3: $t3"
  echo "| $d | $(err recovery_error "$t1") | $(err baseline_error "$t1") | $(err recovery_error "$t3") | $(err baseline_error "$t3") |" >> "$table"
done
echo "sensing: wrote $table"; cat "$table"
