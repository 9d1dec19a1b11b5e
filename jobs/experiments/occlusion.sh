#!/usr/bin/env bash
# Learning from occluded digits (Han et al. 2017, §4.2, Table 1): for each occlusion, train
# mnist28 on the bundled training digits with that mask (the occluded pixels are never seen),
# then recover them with abp complete on the same digits and masks (the same seed), and
# collect recovery_error next to the baseline (occluded pixels filled with the mean of the
# observed ones) into OUT/occlusion.md.
#   bash jobs/experiments/occlusion.sh [OUT]      (default runs/occlusion; RANKS, ITERS, N, TEST_N)
# Recovery is measured on the first TEST_N (300) of the N (2,000) training digits.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/occlusion}
ranks=${RANKS:-2} iters=${ITERS:-300} n=${N:-2000} test_n=${TEST_N:-300}
data=$here/datasets/mnist-small/train-images-idx3-ubyte
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
mkdir -p "$out"
table=$out/occlusion.md
{
  echo "| occlusion | abp \`--mask\` | ABP recovery error | baseline (mean of observed) |"
  echo "|---|---|---|---|"
} > "$table"
for spec in "P.5 pepper:0.5" "P.7 pepper:0.7" "P.9 pepper:0.9" "M20 region:20" "M30 region:30"; do
  read -r name mask <<< "$spec"
  run=$out/${mask/:/-}
  # An interrupted script continues: a run with a checkpoint resumes (a finished one at
  # once), a run cut off before its first checkpoint starts again.
  resume=()
  if [ -e "$run/checkpoint.h5" ]; then resume=(--resume "$run/checkpoint.h5"); else rm -rf "$run"; fi
  mpirun -np "$ranks" "$abp" train --data "$data" --limit "$n" --mask "$mask" --iters "$iters" \
    --lr 1e-3 --out "$run" --quiet "${resume[@]}"
  line=$("$abp" complete --ckpt "$run/checkpoint.h5" --data "$data" --limit "$test_n" --mask "$mask" \
           --seed 1 --out "$run/complete") || { echo "occlusion: abp complete failed for $mask" >&2; exit 1; }
  echo "$name: $line"
  rec=$(sed -n 's/.*recovery_error=\([0-9.]*\).*/\1/p' <<< "$line")
  base=$(sed -n 's/.*baseline_error=\([0-9.]*\).*/\1/p' <<< "$line")
  echo "| $name | \`$mask\` | $rec | $base |" >> "$table"
done
echo "occlusion: wrote $table"; cat "$table"
