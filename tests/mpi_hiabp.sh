#!/usr/bin/env bash
# Hierarchical latents (HiABP, docs/encoder.md) through the program:
#   1. --objective iabp with latent layers and an encoder with heads: full-batch training gives
#      the same networks and latents on 1 and 3 ranks (up to summation order);
#   2. stopping at iteration 3 and resuming to 6 is bitwise the uninterrupted run;
#   3. plain ABP and the VAE train the same hierarchical generator; the built-in hiabp-mnist28
#      trains with --encoder auto;
#   4. abp sample --vary-layer L: along a row only level L's rows of z change, down a column
#      level L's code stays; a model without levels or a level out of range is one line;
#   5. a latent layer in the encoder, a head in the generator, levels that differ: one line each,
#      earlier outputs intact.
# Usage: mpi_hiabp.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
# levels (bottom first): z^1 2 numbers, z^2 2, the top z^3 3; z rows [z^3 | z^2 | z^1] = [0,3) [3,5) [5,7)
model="z 3 | linear 7x7x4 | bn | lrelu 0.2 | latent 2 | deconv 4 k5 s2 | bn | lrelu 0.2 | latent 2 | deconv 1 k5 s2 | tanh"
encoder="z 28x28x1 | conv 4 k5 s2 | bn | lrelu 0.2 | head 2 | conv 4 k5 s2 | bn | lrelu 0.2 | head 2 | linear 6"
common=(--data "$data" --model "$model" --objective iabp --encoder "$encoder" --limit 24 --langevin-steps 2 --threads 1 --quiet)
mpi=(mpirun --oversubscribe)
source "$(dirname "$0")/lib.sh"

# 1. rank count, full batch
"$abp" train "${common[@]}" --full-batch --iters 4 --out "$tmp/one"
"${mpi[@]}" -np 3 "$abp" train "${common[@]}" --full-batch --iters 4 --out "$tmp/three"
ok "iabp, hierarchical: 1 vs 3 ranks" 'diff_ok "$tmp/one/checkpoint.h5" "$tmp/three/checkpoint.h5" 1e-4'
ok "the latents are the 7 numbers of the three levels" 'h5ls "$tmp/one/checkpoint.h5/latents" | grep -q "{24, 7}"'
ok "the heads are checkpointed" 'h5ls -r "$tmp/one/checkpoint.h5" | grep -q "^/encoder/03_head/weight"'

# 2. exact resume (minibatches, 2 ranks)
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 6 --out "$tmp/straight"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 3 --out "$tmp/first"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --batch 8 --iters 6 --resume "$tmp/first/checkpoint.h5" --out "$tmp/second"
ok "resume is bitwise exact" 'diff_ok "$tmp/straight/checkpoint.h5" "$tmp/second/checkpoint.h5" 0'

# 3. the other objectives, and the built-in pair
"$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --iters 2 --langevin-steps 2 --threads 1 --quiet --out "$tmp/abp"
ok "plain abp on a hierarchical generator" '[ -s "$tmp/abp/checkpoint.h5" ]'
"$abp" train "${common[@]}" --objective vae --batch 8 --iters 2 --out "$tmp/vae"
ok "vae on a hierarchical pair" '[ -s "$tmp/vae/checkpoint.h5" ]'
"$abp" train --data "$data" --model hiabp-mnist28 --objective iabp --encoder auto --limit 8 --batch 8 --iters 1 \
  --langevin-steps 1 --threads 1 --quiet --out "$tmp/builtin"
ok "hiabp-mnist28 with --encoder auto" 'h5ls "$tmp/builtin/checkpoint.h5/latents" | grep -q "{8, 30}"'

# 4. --vary-layer: 2 rows of 4 columns, z of each sample in the HDF5 output
z_of() { # FILE -> one line per sample, its 7 numbers
  h5dump -d /z -m %.9g -y -w 0 -o "$tmp/z.txt" "$1" > /dev/null
  tr -d ' \n' < "$tmp/z.txt" | tr ',' '\n' | paste -d, - - - - - - -
}
# the columns (1-based) of z that differ between two rows of z_of's output
differ() { awk -F, -v a="$2" -v b="$3" 'NR == a { split($0, x) } NR == b { split($0, y) }
  END { s = ""; for (k = 1; k <= 7; k++) if (x[k] != y[k]) s = s k; print s }' "$1"; }
for level in 1 2 3; do
  "$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/vary$level.h5" --n 8 --cols 4 --vary-layer $level > /dev/null
  z_of "$tmp/vary$level.h5" > "$tmp/vary$level.csv"
done
# level 1 is z rows 6-7 (1-based), level 2 rows 4-5, level 3 (the top) rows 1-3
ok "--vary-layer 1: along a row only z^1" '[ "$(differ "$tmp/vary1.csv" 1 2)" = 67 ] && [ "$(differ "$tmp/vary1.csv" 5 8)" = 67 ]'
ok "--vary-layer 1: down a column z^1 stays" '[ "$(differ "$tmp/vary1.csv" 2 6)" = 12345 ]'
ok "--vary-layer 2: along a row only z^2" '[ "$(differ "$tmp/vary2.csv" 1 4)" = 45 ]'
ok "--vary-layer 3: along a row only the top" '[ "$(differ "$tmp/vary3.csv" 2 3)" = 123 ]'
"${mpi[@]}" -np 3 "$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/vary1-3.h5" --n 8 --cols 4 --vary-layer 1 > /dev/null
ok "--vary-layer on 3 ranks: the same latents" '[ "$(z_of "$tmp/vary1-3.h5")" = "$(cat "$tmp/vary1.csv")" ]'
"$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/vary.png" --n 16 --vary-layer 2 > /dev/null
ok "--vary-layer grid PNG" '[ -s "$tmp/vary.png" ]'
expect "--vary-layer out of range" "the model's levels are 1 (bottom) to 3 (top)" -- \
  "$abp" sample --ckpt "$tmp/one/checkpoint.h5" --out "$tmp/bad.png" --vary-layer 4
"$abp" train --data "$data" --model "z 3 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh" --limit 8 \
  --batch 8 --iters 1 --langevin-steps 1 --threads 1 --quiet --out "$tmp/flat"
expect "--vary-layer on a flat model" "holds a model with one latent level" -- \
  "$abp" sample --ckpt "$tmp/flat/checkpoint.h5" --out "$tmp/bad.png" --vary-layer 1
ok "no picture from a bad --vary-layer" '[ ! -e "$tmp/bad.png" ]'

# 5. bad specs
before=$(md5sum "$tmp/one/checkpoint.h5")
expect "a latent layer in the encoder" "'latent 2': latent layers belong in a generator whose top latent is a vector" -- \
  "$abp" train "${common[@]}" --batch 8 --encoder "z 28x28x1 | conv 4 k5 s2 | latent 2 | linear 6" --out "$tmp/bad"
expect "a head in the generator" "'head 2': a head belongs in the encoder (--encoder), not in the generator" -- \
  "$abp" train --data "$data" --limit 8 --batch 8 --quiet --model "z 3 | linear 7x7x4 | head 2 | linear 784" --out "$tmp/bad"
expect "a generator ending in an image, with a head" "'tanh': heads belong in an encoder" -- \
  "$abp" train --data "$data" --limit 8 --batch 8 --quiet --model "z 3 | linear 7x7x4 | head 2 | deconv 1 k5 s4 p1 op1 | tanh" \
  --out "$tmp/bad"
expect "levels of other sizes" "--encoder: its heads and last layer give levels of 1, 3, 3 (bottom to top), but the model's latent has levels of 2, 2, 3" -- \
  "$abp" train "${common[@]}" --batch 8 --encoder "z 28x28x1 | conv 4 k5 s2 | head 1 | conv 4 k5 s2 | head 3 | linear 6" --out "$tmp/bad"
expect "too few levels" "levels of 4, 3 (bottom to top)" -- \
  "$abp" train "${common[@]}" --batch 8 --encoder "z 28x28x1 | conv 4 k5 s2 | head 4 | linear 6" --out "$tmp/bad"
expect "a latent layer on an image latent" "latent layers belong in a generator whose top latent is a vector" -- \
  "$abp" train --data "$data" --limit 8 --batch 8 --quiet --model "z 7x7x2 | latent 2 | deconv 1 k5 s4 p1 op1 | tanh" --out "$tmp/bad"
expect "head size" "expected 'head N'" -- \
  "$abp" train "${common[@]}" --batch 8 --encoder "z 28x28x1 | conv 4 k5 s2 | head -2 | linear 6" --out "$tmp/bad"
ok "outputs left intact" '[ "$(md5sum "$tmp/one/checkpoint.h5")" = "$before" ] && [ ! -e "$tmp/bad/checkpoint.h5" ]'

echo "mpi_hiabp: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
