#!/usr/bin/env bash
# Learning from occluded digits (Han et al. 2017, Experiment 5, Table 1): for each occlusion,
# train mnist28 on the bundled training digits with that mask (the occluded pixels are never
# seen), then
#   T1: recover the occluded pixels of the first TEST_N training digits (abp complete without
#       --mask: each digit under its own training mask), and
#   T3: recover NEW_N unseen test digits occluded by the same kind of mask (--mask, --seed 7),
# each next to the baseline (occluded pixels filled with the mean of the observed ones), into
# OUT/occlusion.md, with a picture per occlusion (occluded / recovered / original) in
# OUT/pictures/.
#   bash jobs/experiments/occlusion.sh [OUT]      (default runs/occlusion)
# Environment (defaults: a run of about 15 minutes on 2 cores here):
#   RANKS=2 ITERS=300 N=2000 TEST_N=300 NEW_N=100 DATA=<training IDX> TEST=<test IDX>
# The paper's scale on a cluster (CelebA 64x64, d = 100, 10,000 images):
#   DATA=celeba10k.h5 MODEL=faces64 N=10000 ITERS=600 RANKS=32 bash jobs/experiments/occlusion.sh
# Finished trainings and measurements (each kept as a one-line t1.txt / t3.txt) are reused,
# so an interrupted run continues where it stopped; remove OUT to start over.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/occlusion}
ranks=${RANKS:-2} iters=${ITERS:-300} n=${N:-2000} test_n=${TEST_N:-300} new_n=${NEW_N:-100}
model=${MODEL:-mnist28}
data=${DATA:-$here/datasets/mnist-small/train-images-idx3-ubyte}
test=${TEST:-$here/datasets/mnist-small/t10k-images-idx3-ubyte}
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=${ABP:-$here/build/abp}
mkdir -p "$out/pictures"
table=$out/occlusion.md
{
  echo "| occlusion | \`--mask\` | T1: training digits, ABP | T1 baseline | T3: unseen test digits, ABP | T3 baseline |"
  echo "|---|---|---|---|---|---|"
} > "$table"
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2"; }
for spec in "P.5 pepper:0.5" "P.7 pepper:0.7" "P.9 pepper:0.9" "M20 region:20" "M30 region:30"; do
  read -r name mask <<< "$spec"
  run=$out/${mask/:/-}
  # A run with a checkpoint resumes (a finished one at once); one cut off before its first
  # checkpoint starts again.
  resume=()
  if [ -e "$run/checkpoint.h5" ]; then resume=(--resume "$run/checkpoint.h5"); else rm -rf "$run"; fi
  mpirun -np "$ranks" "$abp" train --data "$data" --model "$model" --limit "$n" --mask "$mask" \
    --iters "$iters" --lr 1e-3 --out "$run" --quiet "${resume[@]}"
  if [ ! -s "$run/t1.txt" ]; then
    rm -rf "$run/t1"
    "$abp" complete --ckpt "$run/checkpoint.h5" --data "$data" --limit "$test_n" --out "$run/t1" > "$run/t1.tmp"
    mv "$run/t1.tmp" "$run/t1.txt"
  fi
  if [ ! -s "$run/t3.txt" ]; then
    rm -rf "$run/t3"
    "$abp" complete --ckpt "$run/checkpoint.h5" --data "$test" --limit "$new_n" --mask "$mask" --seed 7 \
      --out "$run/t3" > "$run/t3.tmp"
    mv "$run/t3.tmp" "$run/t3.txt"
  fi
  # The picture: the first 8 training digits (completions.png of 8 examples).
  rm -rf "$run/pic"
  "$abp" complete --ckpt "$run/checkpoint.h5" --data "$data" --limit 8 --out "$run/pic" > /dev/null 2>&1
  cp "$run/pic/completions.png" "$out/pictures/${name}.png"
  echo "$name: $(cat "$run/t1.txt")"
  echo "| $name | \`$mask\` | $(field recovery_error "$run/t1.txt") | $(field baseline_error "$run/t1.txt") |" \
       "$(field recovery_error "$run/t3.txt") | $(field baseline_error "$run/t3.txt") |" >> "$table"
done
echo "occlusion: wrote $table and $out/pictures/"; cat "$table"
