#!/usr/bin/env bash
# The descriptor (Xie et al. 2016): Experiment 1 (a descriptor per bundled texture, synthesized
# at the training size and larger), Experiment 2 (an object pattern from about 10 images of one
# digit class; the bundled mnist-small's first 10 images stand in), Experiment 3 (contrastive
# divergence reconstructs its training images). docs/descriptor.md states the updates.
#   bash jobs/experiments/descriptor.sh [OUT]      (default runs/descriptor)
# Settings (environment): ITERS (200), CHAINS (16), STEPS (15), THREADS (1),
# TEXTURES (brick grass gravel), TEXTURE_DESC (a small fully convolutional net; the paper's
# descriptor-texture costs about 40 MFLOP a step per image, for a cluster node).
#   here (2 shared cores, small):  ITERS=100 bash jobs/experiments/descriptor.sh
#   a cluster node:                ITERS=2000 TEXTURE_DESC=descriptor-texture THREADS=8 bash jobs/experiments/descriptor.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/descriptor}
iters=${ITERS:-200} chains=${CHAINS:-16} steps=${STEPS:-15} threads=${THREADS:-1}
textures=${TEXTURES:-brick grass gravel}
tdesc=${TEXTURE_DESC:-"z 128x128x1 | conv 32 k7 s2 | relu | conv 32 k5 s2 | relu | conv 16 k3 s1"}
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
common=(--objective descriptor --iters "$iters" --descriptor-steps "$steps" --threads "$threads" --quiet)
mkdir -p "$out"
# Experiment 1: textures, one image each; samples at 128x128 (the chains) and at 192x192.
for name in $textures; do
  run=$out/texture-$name
  [ -e "$run/checkpoint.h5" ] || "$abp" train "${common[@]}" --data "$here/datasets/textures/$name.png" \
      --descriptor "$tdesc" --batch 1 --chains "$chains" --out "$run"
  tail -n 1 "$run/metrics.csv" | awk -F, -v n="$name" '{printf "texture %s: iteration %s f(obs) %s f(syn) %s\n", n, $1, $3, $4}'
  "$abp" sample --ckpt "$run/checkpoint.h5" --from-chains --langevin-steps 0 --out "$run/chains.png"
  "$abp" sample --ckpt "$run/checkpoint.h5" --n 2 --size 192x192 --langevin-steps $((10 * steps)) --out "$run/large.png"
done
# Experiment 2: an object pattern from 10 digits.
digits=$here/datasets/mnist-small/train-images-idx3-ubyte
run=$out/digits10
[ -e "$run/checkpoint.h5" ] || "$abp" train "${common[@]}" --data "$digits" --limit 10 --full-batch \
    --descriptor descriptor-mnist28 --chains "$chains" --out "$run"
tail -n 1 "$run/metrics.csv" | awk -F, '{printf "digits10: iteration %s f(obs) %s f(syn) %s\n", $1, $3, $4}'
# Experiment 3: contrastive divergence with L = 1 reconstructs its training images.
run=$out/cd
[ -e "$run/checkpoint.h5" ] || "$abp" train --objective descriptor --iters "$iters" --descriptor-steps 1 \
    --threads "$threads" --quiet --cd --data "$digits" --limit 64 --batch 32 --descriptor descriptor-mnist28 --out "$run"
echo "cd: $run/reconstructions.png (observed rows, each followed by its revision)"
