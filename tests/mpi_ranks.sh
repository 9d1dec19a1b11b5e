#!/usr/bin/env bash
# Full-batch training on 1, 2 and 3 ranks (and as a singleton) gives the same parameters and
# latents up to floating-point summation order (DESIGN §4). Usage: mpi_ranks.sh ABP SRCDIR
# Bitwise equality (singleton against -np 1) holds only at the same BLAS thread count: on some
# kernels (OpenBLAS Haswell on AMD EPYC) sgemm's summation order depends on the threads, so the
# exact comparisons pin --threads 1 and a two-thread run is compared with a tolerance. abp's
# own loops (OpenMP, the same --threads) give the same floats on any thread count: that is
# test_threads, which varies them with the BLAS held on one thread.
set -euo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
run() { # ranks out
  mpirun --oversubscribe -np "$1" "$abp" train --data "$data" --model "$model" --full-batch \
    --limit 13 --iters 4 --threads 1 --out "$2" --quiet
}
"$abp" train --data "$data" --model "$model" --full-batch --limit 13 --iters 4 --threads 1 --out "$tmp/single" --quiet
"$abp" train --data "$data" --model "$model" --full-batch --limit 13 --iters 4 --threads 2 --out "$tmp/two" --quiet
run 1 "$tmp/np1"
run 2 "$tmp/np2"
run 3 "$tmp/np3"
"$bin/ckpt_diff" "$tmp/single/checkpoint.h5" "$tmp/np1/checkpoint.h5" 0
"$bin/ckpt_diff" "$tmp/single/checkpoint.h5" "$tmp/two/checkpoint.h5" 1e-4
"$bin/ckpt_diff" "$tmp/np1/checkpoint.h5" "$tmp/np2/checkpoint.h5" 1e-4
"$bin/ckpt_diff" "$tmp/np1/checkpoint.h5" "$tmp/np3/checkpoint.h5" 1e-4
# The check must be able to fail: a different seed gives a different model.
"$abp" train --data "$data" --model "$model" --full-batch --limit 13 --iters 4 --seed 2 --out "$tmp/other" --quiet
if "$bin/ckpt_diff" "$tmp/np1/checkpoint.h5" "$tmp/other/checkpoint.h5" 1e-4 > /dev/null; then
  echo "FAIL: ckpt_diff did not see a different seed"; exit 1
fi
echo "mpi_ranks: 5 passed, 0 failed"
