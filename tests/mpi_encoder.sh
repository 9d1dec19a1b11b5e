#!/usr/bin/env bash
# The encoder objective (--objective iabp, docs/encoder.md) across ranks and resumes:
#   1. full-batch training gives the same generator, encoder and latents on 1 and 3 ranks
#      (up to summation order), for --init encoder and --init prior;
#   2. stopping at iteration 3 and resuming to 6 is bitwise the uninterrupted run (both
#      networks, both optimizers, the latents), and a 3-rank run resumed on 1 rank agrees;
#   (and --objective vae: the same on 1 and 3 ranks)
#   3. the checkpoint has /encoder and /optimizer/encoder and abp info lists both networks;
#   4. bad input is one clear line, a non-zero exit, and earlier outputs left as they were.
# Usage: mpi_encoder.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
encoder="z 28x28x1 | conv 4 k5 s4 | bn | lrelu 0.2 | linear 8"
common=(--data "$data" --model "$model" --objective iabp --encoder "$encoder" --limit 24 --langevin-steps 2 --quiet)
mpi=(mpirun --oversubscribe)
source "$(dirname "$0")/lib.sh"

# 1. rank count, full batch
for init in encoder prior; do
  "$abp" train "${common[@]}" --full-batch --iters 4 --init $init --out "$tmp/one-$init"
  "${mpi[@]}" -np 3 "$abp" train "${common[@]}" --full-batch --iters 4 --init $init --out "$tmp/three-$init"
  ok "1 vs 3 ranks, --init $init" 'diff_ok "$tmp/one-$init/checkpoint.h5" "$tmp/three-$init/checkpoint.h5" 1e-4'
done
# the VAE baseline: the same on 1 and 3 ranks, and its KL column
"$abp" train "${common[@]}" --objective vae --full-batch --iters 3 --out "$tmp/one-vae"
"${mpi[@]}" -np 3 "$abp" train "${common[@]}" --objective vae --full-batch --iters 3 --out "$tmp/three-vae"
ok "vae: 1 vs 3 ranks" 'diff_ok "$tmp/one-vae/checkpoint.h5" "$tmp/three-vae/checkpoint.h5" 1e-4'
ok "vae: metrics has kl" 'head -1 "$tmp/one-vae/metrics.csv" | grep -q ",kl,"'
ok "--init changes the result" '! diff_ok "$tmp/one-encoder/checkpoint.h5" "$tmp/one-prior/checkpoint.h5" 1e-4'

# 2. exact resume (minibatches, 2 ranks), and resume on another rank count
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 6 --out "$tmp/straight"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 3 --out "$tmp/first"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 6 --resume "$tmp/first/checkpoint.h5" --out "$tmp/second"
ok "resume is bitwise exact" 'diff_ok "$tmp/straight/checkpoint.h5" "$tmp/second/checkpoint.h5" 0'
"${mpi[@]}" -np 3 "$abp" train "${common[@]}" --full-batch --iters 2 --out "$tmp/half"
"$abp" train "${common[@]}" --full-batch --iters 4 --resume "$tmp/half/checkpoint.h5" --out "$tmp/rest"
ok "3 ranks resumed on 1" 'diff_ok "$tmp/one-encoder/checkpoint.h5" "$tmp/rest/checkpoint.h5" 1e-4'

# 3. the checkpoint's groups
info=$("$abp" info "$tmp/one-encoder/checkpoint.h5")
ok "info lists the encoder" 'grep -qE "^    encoder +/encoder, [0-9]+ parameters" <<<"$info"'
ok "info lists the generator" 'grep -qE "^    generator +/model, [0-9]+ parameters" <<<"$info"'
ok "encoder optimizer group" 'grep -q "optimizer/encoder/" <<<"$info"'
ok "config records the encoder" 'grep -q -- "--init=encoder" <<<"$info"'

# 4. bad input

before=$(md5sum "$tmp/one-encoder/checkpoint.h5")
expect "bad --init" "--init sideways: unknown" -- "$abp" train "${common[@]}" --batch 8 --init sideways --out "$tmp/bad"
expect "wrong encoder size" "needs 8 (mu, log sigma^2)" -- "$abp" train "${common[@]}" --batch 8 --encoder "z 28x28x1 | linear 6" --out "$tmp/bad"
expect "encoder input shape" "--encoder: it reads 14x14x1" -- "$abp" train "${common[@]}" --batch 8 --encoder "z 14x14x1 | linear 8" --out "$tmp/bad"
expect "auto without a built-in" "has no built-in encoder" -- "$abp" train "${common[@]}" --batch 8 --encoder auto --out "$tmp/bad"
expect "no mask" "takes no --mask or --sense" -- "$abp" train "${common[@]}" --batch 8 --mask pepper:0.5 --out "$tmp/bad"
expect "bad encoder spec" "--encoder" -- "$abp" train "${common[@]}" --batch 8 --encoder "z 28x28x1 | wobble" --out "$tmp/bad"
ok "outputs left intact" '[ "$(md5sum "$tmp/one-encoder/checkpoint.h5")" = "$before" ] && [ ! -e "$tmp/bad/checkpoint.h5" ]'
expect "resume with another objective" "--objective iabp" -- "$abp" train --data "$data" --model "$model" --limit 24 --batch 8 --quiet \
  --resume "$tmp/one-encoder/checkpoint.h5" --out "$tmp/bad"

echo "mpi_encoder: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
