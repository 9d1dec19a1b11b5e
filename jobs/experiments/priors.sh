#!/usr/bin/env bash
# Priors fitted to the latents (issue 11 §2, §5): one trained generator sampled with each
# prior (normal, gaussian, gmm:K for several K) and each batch-norm choice (running
# statistics, or recomputed on the prior's draws), every abp score figure for each, and a
# picture row of 10 samples each. The floor: the first N training digits scored as if they
# were samples (real digits against the held-out test digits).
#   bash jobs/experiments/priors.sh [OUT]      (default runs/priors; trains the main job's
#                                              model first unless CKPT is given)
# Environment: CKPT=<checkpoint> N=1000 (samples per prior) KS="2 5 10 20 50" RANKS=2 ITERS=1000
# Features are the stand-ins (pixels, pca:50 of the test digits), not a classifier: their
# numbers rank priors against each other but are not comparable with published FIDs.
# Measurements are kept as one .txt each and reused; remove OUT to start over.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/priors}
n=${N:-1000} ks=${KS:-2 5 10 20 50} ranks=${RANKS:-2} iters=${ITERS:-1000}
data=$here/datasets/mnist-small/train-images-idx3-ubyte
test=$here/datasets/mnist-small/t10k-images-idx3-ubyte
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=${ABP:-$here/build/abp}
mkdir -p "$out/scores" "$out/pictures"
ckpt=${CKPT:-$out/model/checkpoint.h5}
if [ ! -e "$ckpt" ]; then # the main job's training (jobs/local/mnist.sh)
  mpirun -np "$ranks" "$abp" train --data "$data" --model mnist28 --out "$out/model" --iters "$iters" \
    --batch 64 --lr 1e-3
fi

# score FEATURES NAME SAMPLE-ARGS...: one measurement, kept in scores/NAME.FEATURES.txt
score() {
  local features=$1 name=$2; shift 2
  local file=$out/scores/$name.${features//:/}.txt
  [ -s "$file" ] && return 0
  "$abp" score --features "$features" --ref "$test" --train "$data" "$@" > "$file.tmp"
  mv "$file.tmp" "$file"
}
field() { grep "^$2=" "$1" | cut -d= -f2; }

priors="normal gaussian"
for k in $ks; do priors="$priors gmm:$k"; done
rows=()
for prior in $priors; do
  for bn in running prior; do
    name=${prior//:/}-$bn
    for features in pca:50 pixels; do
      score "$features" "$name" --samples "$ckpt" --n "$n" --prior "$prior" --batchnorm "$bn" --seed 1
    done
    [ -s "$out/pictures/$name.png" ] ||
      "$abp" sample --ckpt "$ckpt" --out "$out/pictures/$name.png" --n 10 --cols 10 --prior "$prior" \
        --batchnorm "$bn" --seed 1 > /dev/null
    rows+=("$prior $bn $name")
  done
done
# The floor: N real training digits against the test digits.
for features in pca:50 pixels; do score "$features" real --samples "$data" ; done

table=$out/priors.md
{
  echo "| prior | batch norm | fd pca:50 | kid pca:50 | precision | recall | fd pixels | kid pixels | precision | recall | nn_train |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}" "real-training-digits - real"; do
    set -- $row
    p=$out/scores/$3.pca50.txt x=$out/scores/$3.pixels.txt
    echo "| $1 | $2 | $(field "$p" fd) | $(field "$p" kid) | $(field "$p" precision) | $(field "$p" recall) |" \
      "$(field "$x" fd) | $(field "$x" kid) | $(field "$x" precision) | $(field "$x" recall) | $(field "$x" nn_train) |"
  done
  echo
  echo "ref_nn_train (test digits to their nearest training digit): $(field "$out/scores/real.pixels.txt" ref_nn_train)"
} > "$table"
cat "$table"
