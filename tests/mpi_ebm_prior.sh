#!/usr/bin/env bash
# The latent energy-based prior (abp train --prior ebm, docs/sampling.md) across ranks and resumes:
#   1. full-batch training gives the same generator, prior and latents on 1 and 3 ranks
#      (up to summation order: 1e-4 of each array's largest value), with SGD: under Adam a
#      parameter whose gradient is zero in exact arithmetic (a hidden bias when as many
#      posterior as prior chains sit on each side of its kink) takes steps of up to
#      lr * noise / eps from the rounding noise of that zero, which differs with the split
#      (docs/sampling.md); the computation itself is what this compares;
#   2. stopping at iteration 3 and resuming to 6 is bitwise the uninterrupted run (both
#      networks, both optimizers, the latents), on 2 ranks with minibatches;
#   3. the checkpoint has /prior and /optimizer/prior, /config the prior's options, metrics.csv
#      the f_posterior and f_prior columns;
#   4. abp sample draws through the learned prior (auto picks it), the same on 1 and 2 ranks;
#   5. bad input is one clear line, a non-zero exit, and earlier outputs left as they were.
# Usage: mpi_ebm_prior.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
# a prior learning rate that moves f in a few iterations, so that the comparisons can fail
common=(--data "$data" --model "$model" --prior ebm --prior-lr 1e-3 --prior-steps 10 --limit 24 --langevin-steps 2 --quiet)
mpi=(mpirun --oversubscribe)
source "$(dirname "$0")/lib.sh"

# 1. rank count, full batch (SGD; a prior learning rate that moves f well beyond 1e-4)
sgd=(--optimizer sgd --prior-lr 2 --full-batch --iters 4)
"$abp" train "${common[@]}" "${sgd[@]}" --out "$tmp/sgd-one"
"${mpi[@]}" -np 3 "$abp" train "${common[@]}" "${sgd[@]}" --out "$tmp/sgd-three"
ok "1 vs 3 ranks" 'diff_ok "$tmp/sgd-one/checkpoint.h5" "$tmp/sgd-three/checkpoint.h5" 1e-4'
"$abp" train "${common[@]}" "${sgd[@]}" --prior-lr 0 --out "$tmp/sgd-still"
ok "the prior moved (the comparison can fail)" '! diff_ok "$tmp/sgd-one/checkpoint.h5" "$tmp/sgd-still/checkpoint.h5" 1e-3'
"$abp" train "${common[@]}" --full-batch --iters 4 --out "$tmp/one"
# a plain ABP run of the same settings, for the resume check below
"$abp" train --data "$data" --model "$model" --limit 24 --langevin-steps 2 --quiet --full-batch --iters 4 --out "$tmp/normal"

# 2. exact resume (minibatches, 2 ranks)
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 6 --out "$tmp/straight"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 3 --out "$tmp/first"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 6 --resume "$tmp/first/checkpoint.h5" --out "$tmp/second"
ok "resume is bitwise exact" 'diff_ok "$tmp/straight/checkpoint.h5" "$tmp/second/checkpoint.h5" 0'

# 3. the checkpoint's groups, /config, metrics.csv
info=$("$abp" info "$tmp/one/checkpoint.h5")
ok "info lists the prior" 'grep -qE "^    prior +/prior, [0-9]+ parameters" <<<"$info"'
ok "prior optimizer group" 'grep -q "optimizer/prior/" <<<"$info"'
ok "config records the prior" 'grep -q -- "--prior=ebm" <<<"$info" && grep -q -- "--prior-steps=10" <<<"$info"'
ok "metrics has f_posterior, f_prior" 'head -1 "$tmp/one/metrics.csv" | grep -q ",f_posterior,f_prior,"'
ok "samples.png written" '[ -s "$tmp/one/samples.png" ]'

# 4. sampling through the learned prior
out=$("$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/s1/" --n 70 2>&1)
ok "auto picks the learned prior" 'grep -q "prior: ebm" <<<"$out"'
"${mpi[@]}" -np 2 "$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/s2/" --n 70 --prior ebm > /dev/null
ok "70 samples, the same on 1 and 2 ranks" '[ "$(ls "$tmp/s1" | wc -l)" -eq 70 ] && diff -r "$tmp/s1" "$tmp/s2" >/dev/null'
"$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/n1/" --n 70 --prior normal > /dev/null
ok "ebm samples are not the N(0, I) draws" '! diff -r "$tmp/s1" "$tmp/n1" >/dev/null'

# 5. bad input
before=$(md5sum "$tmp/one/checkpoint.h5")
expect "--prior ebm with iabp" "--prior ebm: --objective iabp does not support a learned prior" -- \
  "$abp" train "${common[@]}" --objective iabp --encoder "z 28x28x1 | conv 4 k5 s4 | linear 8" --batch 8 --out "$tmp/bad"
expect "--prior gmm:3 to train" "train learns with --prior normal (N(0, I)) or ebm" -- \
  "$abp" train "${common[@]}" --prior gmm:3 --batch 8 --out "$tmp/bad"
expect "a prior for another latent" "--prior-net: it reads 1x1x5 latents, but the generator's are 1x1x4" -- \
  "$abp" train "${common[@]}" --prior-net "z 5 | linear 1" --batch 8 --out "$tmp/bad"
expect "a prior of several numbers" "end the spec with linear 1" -- \
  "$abp" train "${common[@]}" --prior-net "z 4 | linear 3" --batch 8 --out "$tmp/bad"
expect "resume without the prior" "was trained with --prior ebm; resume it with the same --prior" -- \
  "$abp" train --data "$data" --model "$model" --limit 24 --batch 8 --quiet --iters 8 --resume "$tmp/one/checkpoint.h5" --out "$tmp/bad"
expect "resume with a prior it does not have" "was trained with --prior normal; resume it with the same --prior" -- \
  "$abp" train "${common[@]}" --batch 8 --iters 8 --resume "$tmp/normal/checkpoint.h5" --out "$tmp/bad"
ok "outputs left intact" '[ "$(md5sum "$tmp/one/checkpoint.h5")" = "$before" ] && [ ! -e "$tmp/bad/checkpoint.h5" ]'

echo "mpi_ebm_prior: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
