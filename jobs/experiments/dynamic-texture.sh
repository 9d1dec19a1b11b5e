#!/usr/bin/env bash
# Dynamic texture (Han et al. 2017, "dynamic texture" experiment, after Doretto et al. 2003):
# learn a generator with d = 20 from the 68 distinct frames of OpenCV's tree.avi
# (datasets/tree, 64x64 grey), fit a vector auto-regression z_{t+1} - m = A (z_t - m) + e_t to
# the inferred latents in frame order, and synthesize a new sequence (burn-in 15 frames, as
# the paper) as PNG frames, a looping GIF and a strip (training frames / their
# reconstructions / synthesized frames).
#   bash jobs/experiments/dynamic-texture.sh [OUT]     (default runs/dynamic-texture)
# Settings (environment):
#   small run here (2 shared cores, ~10 min):  ITERS=400 BATCH=34 LANGEVIN=10 THREADS=1
#   bigger run on a cluster node:              ITERS=3000 BATCH=68 LANGEVIN=30 THREADS=8
#   MODEL (a spec for 64x64x1 with z 20), FRAMES (60), BURN_IN (15), SEEDS ("1": the synthesis
#   seeds, e.g. "1 2 3 4 5"), LR (1e-3),
#   INFERENCE (langevin | gd: gradient descent, deterministic latents), SIGMA (0.3)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/dynamic-texture}
iters=${ITERS:-400} batch=${BATCH:-34} langevin=${LANGEVIN:-10} threads=${THREADS:-1}
frames=${FRAMES:-60} burn_in=${BURN_IN:-15} seeds=${SEEDS:-1} lr=${LR:-1e-3}
inference=${INFERENCE:-langevin} sigma=${SIGMA:-0.3}
model=${MODEL:-"z 20 | linear 4x4x128 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | deconv 32 k5 s2 | bn | lrelu 0.2 | deconv 16 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"}
data=$here/datasets/tree
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
mkdir -p "$out"

# 1. The generator and every frame's latent (a finished run is reused, not repeated).
[ -e "$out/train/checkpoint.h5" ] || "$abp" train --data "$data" --model "$model" --iters "$iters" \
    --batch "$batch" --langevin-steps "$langevin" --inference "$inference" --sigma "$sigma" --lr "$lr" \
    --threads "$threads" \
    --out "$out/train" --quiet
tail -n 1 "$out/train/metrics.csv"

# 2. The dynamics of the latents and new sequences, one per seed (a new folder each time:
#    outputs are never replaced), and a table of what abp dynamic measured.
table=$out/dynamic-texture-burnin$burn_in.md
{
  echo "| burn-in | seed | fit | residual variance | latent variance | spectral radius | step (video: VIDEO) | nearest training frame |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table.tmp"
for seed in $seeds; do
  dyn=$out/dynamic-seed$seed-burnin$burn_in
  [ ! -e "$dyn/dynamic.gif" ] || dyn=$dyn-$(date +%s)
  log=$("$abp" dynamic --ckpt "$out/train/checkpoint.h5" --data "$data" --out "$dyn" --frames "$frames" \
          --burn-in "$burn_in" --seed "$seed" --strip 8 2>&1)
  echo "$log"
  num() { sed -n "s/.*$1=\([-0-9.e+]*\).*/\1/p" <<< "$2" | head -n 1; }
  abp_fit=$(grep "^dynamic: .* frames of" <<< "$log") pca_fit=$(grep "baseline PCA + VAR (" <<< "$log")
  abp_row=$(grep "^  abp " <<< "$log") pca_row=$(grep "^  baseline PCA + VAR step" <<< "$log")
  video=$(num step "$(grep "^  training frames" <<< "$log")")
  echo "| $burn_in | $seed | ABP (g, d = 20) | $(num residual_variance "$abp_fit") | $(num latent_variance "$abp_fit") | $(num spectral_radius "$abp_fit") | $(num step "$abp_row") | $(num nearest "$abp_row") |" >> "$table.tmp"
  echo "| $burn_in | $seed | PCA (Doretto et al.) | $(num residual_variance "$pca_fit") | $(num score_variance "$pca_fit") | $(num spectral_radius "$pca_fit") | $(num step "$pca_row") | $(num nearest "$pca_row") |" >> "$table.tmp"
  echo "dynamic-texture: $dyn/strip.png (rows: training frames, g(z_t), synthesized, baseline), $dyn/dynamic.gif"
done
sed "s/VIDEO/$video/" "$table.tmp" > "$table" && rm "$table.tmp"
echo "dynamic-texture: wrote $table"; cat "$table"
