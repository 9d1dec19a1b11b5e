#!/usr/bin/env bash
# Texture synthesis (Han et al., arXiv 1606.08571 §5.1, Figures 1-2): one fully
# convolutional generator per texture image, learned from that ONE image with a 7x7 latent
# image; `abp sample --latent-shape 14x14` then synthesizes a texture twice as large.
#   bash jobs/experiments/textures.sh [OUT]     (default runs/textures)
# Settings (environment): ITERS (600), LR (1e-3), THREADS (1), TEXTURES (brick grass gravel),
# MODEL (texture: 7x7x8 latent -> 112x112 grey; pass a spec to try others).
#   here (2 shared cores, about 2-3 minutes per texture):  bash jobs/experiments/textures.sh
#   a cluster node, the paper's length of training:        ITERS=3000 THREADS=8 bash jobs/experiments/textures.sh
# Writes OUT/<texture>/ (checkpoint, metrics) and, per texture, the training image as the
# model sees it, one synthesis at the training size and two at twice it into
# docs/results/textures/ (small PNGs).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/textures}
iters=${ITERS:-600} lr=${LR:-1e-3} threads=${THREADS:-1} model=${MODEL:-texture}
textures=${TEXTURES:-brick grass gravel}
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
pictures=$here/docs/results/textures
mkdir -p "$out" "$pictures"
for name in $textures; do
  run=$out/$name
  [ -e "$run/checkpoint.h5" ] || "$abp" train --data "$here/datasets/textures/$name.png" \
      --model "$model" --batch 1 --iters "$iters" --lr "$lr" --threads "$threads" --out "$run" --quiet
  tail -n 1 "$run/metrics.csv" | awk -F, -v n="$name" '{printf "%s: iteration %s loss %s recon_mse %s (%.0f s)\n", n, $1, $3, $4, $5}'
  "$abp" sample --ckpt "$run/checkpoint.h5" --n 1 --out "$pictures/$name-7x7.png"
  "$abp" sample --ckpt "$run/checkpoint.h5" --n 2 --cols 2 --latent-shape 14x14 --out "$pictures/$name-14x14.png"
  cp "$run/reconstructions.png" "$pictures/$name-reconstruction.png"
done
echo "textures: pictures in $pictures"
