#!/usr/bin/env bash
# Cooperative learning on the bundled digits (issue 12 §3; docs/descriptor.md): the same
# generator trained alone by ABP and trained cooperatively with a descriptor (CoopNets), for
# the same iterations, batch, learning rate and seed; their samples side by side; and abp score
# of each against the held-out test digits, with the memorisation distance nn_train.
#   bash jobs/experiments/coop.sh [OUT]      (default runs/coop)
# Settings (environment):
#   ITERS (300), BATCH (64), LIMIT (0: all 2,000 bundled training digits), LR (1e-3, both
#   generators), MODEL (mnist28), DESCRIPTOR (descriptor-mnist28), DSTEPS (15: the descriptor's
#   Langevin steps), LATENT_STEPS (0: CoopNets' default), NP (ranks, 1), THREADS (1),
#   N (1000 samples scored), FEATURES (pca:50, or a classify checkpoint of --objective classify).
#   here (2 shared cores, small):  ITERS=300 bash jobs/experiments/coop.sh
#   a cluster node:                ITERS=3000 NP=8 THREADS=4 FEATURES=runs/classify/checkpoint.h5 bash jobs/experiments/coop.sh
# Prints a markdown table (also OUT/table.md); the pictures are OUT/*.png.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/coop}
iters=${ITERS:-300} batch=${BATCH:-64} limit=${LIMIT:-0} lr=${LR:-1e-3} model=${MODEL:-mnist28}
desc=${DESCRIPTOR:-descriptor-mnist28} dsteps=${DSTEPS:-15} lsteps=${LATENT_STEPS:-0}
np=${NP:-1} threads=${THREADS:-1} n=${N:-1000} features=${FEATURES:-pca:50}
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
train=$here/datasets/mnist-small/train-images-idx3-ubyte
test=$here/datasets/mnist-small/t10k-images-idx3-ubyte
run=("$abp"); [ "$np" -gt 1 ] && run=(mpirun --oversubscribe -np "$np" "$abp")
common=(--data "$train" --limit "$limit" --model "$model" --batch "$batch" --iters "$iters" --lr "$lr"
        --threads "$threads" --quiet)
mkdir -p "$out"
# the two runs (skipped when already there, so the script can be re-run for the table)
[ -e "$out/abp/checkpoint.h5" ] || "${run[@]}" train "${common[@]}" --out "$out/abp"
[ -e "$out/coop/checkpoint.h5" ] || "${run[@]}" train "${common[@]}" --objective coop --descriptor "$desc" \
    --descriptor-steps "$dsteps" --coop-latent-steps "$lsteps" --out "$out/coop"
# the pictures: 64 samples of each generator from N(0, I), the same z for both
for name in abp coop; do
  "$abp" sample --ckpt "$out/$name/checkpoint.h5" --prior normal --n 64 --out "$out/$name-samples.png" > /dev/null
done
"$abp" sample --ckpt "$out/abp/checkpoint.h5" --n 64 --out "$out/abp-samples-fitted.png" > /dev/null
cp "$out/coop/revisions.png" "$out/coop-revisions.png"
# the scores: every row against the 1,000 test digits, nn_train against the training digits;
# the training digits themselves are the floor the fd and kid of a perfect model sit at
score() { # LABEL SAMPLES [score options...]
  local label=$1 samples=$2; shift 2
  "$abp" score --features "$features" --ref "$test" --samples "$samples" --train "$train" --n "$n" "$@" \
    | awk -F= -v l="$label" '{ v[$1] = $2 } END { printf "| %s | %s | %s | %s | %s | %s | %s |\n", l, v["fd"], v["kid"], v["precision"], v["recall"], v["nn_train"], v["ref_nn_train"] }'
}
abp_s=$(awk -F, 'END { print $(NF - 5) }' "$out/abp/metrics.csv")
coop_s=$(awk -F, 'END { print $(NF - 5) }' "$out/coop/metrics.csv")
{
  echo "features $features, $n samples against the $(basename "$test") digits; $iters iterations, batch $batch, lr $lr, $np rank(s) x $threads thread(s)"
  echo "ABP: ${abp_s} s; coop: ${coop_s} s (training)"
  echo
  echo "| samples | fd | kid | precision | recall | nn_train | ref_nn_train |"
  echo "|---|---|---|---|---|---|---|"
  score "ABP, z ~ N(0, I)" "$out/abp/checkpoint.h5" --prior normal
  score "ABP, fitted prior (abp sample's default)" "$out/abp/checkpoint.h5"
  score "coop, z ~ N(0, I)" "$out/coop/checkpoint.h5" --prior normal
  score "real: the training digits themselves (the floor; nn_train 0 by construction)" "$train"
} | tee "$out/table.md"
echo "pictures: $out/abp-samples.png $out/coop-samples.png $out/abp-samples-fitted.png $out/coop-revisions.png"
