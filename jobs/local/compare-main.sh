#!/usr/bin/env bash
# The same commands through main's abp (old=, e.g. a build of `git archive main` in build-main/)
# and this tree's (new=): the checkpoints must be bitwise equal. Usage: bash jobs/local/compare-main.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
new=${new:-$here/build/abp} old=${old:-$here/build-main/abp} diff=$here/build/ckpt_diff
data=$here/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for variant in plain "mask pepper:0.5" "sense 20" "optimizer sgd"; do
  set -- $variant; extra=(); [ "$1" != plain ] && extra=(--$1 $2)
  tag=${1}
  for which in old new; do
    bin=${!which}
    $bin train --data $data --model "$model" --limit 24 --batch 8 --iters 6 --checkpoint-every 3 --threads 1 --quiet "${extra[@]}" --out $tmp/$tag-$which
  done
  $diff $tmp/$tag-old/checkpoint.h5 $tmp/$tag-new/checkpoint.h5 0
  cmp <(cut -d, -f1-4 $tmp/$tag-old/metrics.csv) <(cut -d, -f1-4 $tmp/$tag-new/metrics.csv) && echo "$tag: metrics columns equal"
done
# mpirun -np 3 through both
for which in old new; do
  mpirun --oversubscribe -np 3 ${!which} train --data $data --model "$model" --limit 24 --full-batch --iters 4 --threads 1 --quiet --out $tmp/np3-$which
done
$diff $tmp/np3-old/checkpoint.h5 $tmp/np3-new/checkpoint.h5 0
# main's checkpoint at iteration 3, resumed by this tree, ends where main's uninterrupted run does
$new train --data $data --model "$model" --limit 24 --batch 8 --iters 6 --threads 1 --quiet \
  --resume $tmp/plain-old/checkpoint-00000003.h5 --out $tmp/resumed
$diff $tmp/plain-old/checkpoint.h5 $tmp/resumed/checkpoint.h5 0
