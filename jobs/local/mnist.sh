#!/usr/bin/env bash
# The main job: set up, build, learn mnist28 from the 2,000 bundled digits on 2 MPI ranks,
# then sample, reconstruct unseen test digits (against the PCA baseline) and interpolate.
# train ends by drawing samples.png with abp sample's default prior (gmm:10 fitted to the
# latents, batch norm recomputed on its draws): the best samples abp makes of this model.
#   bash jobs/local/mnist.sh [OUT_DIR]        (default: runs/mnist28; about 5 minutes on 2 cores)
# Settings can be changed through the environment: RANKS, ITERS, TEST_N.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/mnist28}
ranks=${RANKS:-2} iters=${ITERS:-1000} test_n=${TEST_N:-300}
data=$here/datasets/mnist-small
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bash "$here/jobs/setup.sh"
mkdir -p "$out/test"
abp=$here/build/abp
if [ -e "$out/checkpoint.h5" ]; then
  echo "mnist: $out already holds a run; continuing it (delete the folder to start over)"
  resume=(--resume "$out/checkpoint.h5")
else
  resume=()
fi

mpirun -np "$ranks" "$abp" train --data "$data/train-images-idx3-ubyte" --model mnist28 \
  --out "$out" --iters "$iters" --batch 64 --lr 1e-3 "${resume[@]}"
"$abp" interpolate --ckpt "$out/checkpoint.h5" --out "$out/interpolation.png" --pairs 8 --steps 10
"$abp" reconstruct --ckpt "$out/checkpoint.h5" --data "$data/t10k-images-idx3-ubyte" \
  --limit "$test_n" --out "$out/test" | tee "$out/test/abp.txt"
"$abp" pca --train "$data/train-images-idx3-ubyte" --test "$data/t10k-images-idx3-ubyte" \
  --dim 30 --test-limit "$test_n" | tee "$out/test/pca.txt"
echo
echo "mnist: done. Pictures:"
echo "  $out/samples.png            64 new digits, drawn as abp sample draws them by default: z from a"
echo "                               Gaussian mixture fitted to the training latents (docs/sampling.md)"
echo "  $out/reconstructions.png    training digits (odd rows) and their reconstructions g(z_i)"
echo "  $out/interpolation.png      8 walks between inferred latents of training digits"
echo "  $out/test/reconstructions.png  unseen test digits and their reconstructions"
echo "  $out/metrics.csv            loss and reconstruction error per iteration"
