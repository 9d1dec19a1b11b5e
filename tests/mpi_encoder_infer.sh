#!/usr/bin/env bash
# Inference from the encoder after training (docs/encoder.md), the resumed encoder settings,
# and --optimizer adamax:
#   1. abp reconstruct --init encoder gives the same mse and the same picture on 1 and 2
#      ranks; its default T and step size are the checkpoint's; --langevin-steps 0 ([E]) is
#      another result; complete --init encoder the same on 1 and 2 ranks;
#   2. abp interpolate --init encoder: ends inferred from the images, keyed by example (the
#      same example gives the same end wherever it is in --examples);
#   3. resume takes --encoder, --init and --encoder-lr from the checkpoint; any given must
#      agree (one clear line otherwise);
#   4. --optimizer adamax: resume is bitwise exact, the kind is in the checkpoint, and resuming
#      with another optimizer is one line;
#   5. bad input: one line, a non-zero exit, earlier outputs left as they were.
# Usage: mpi_encoder_infer.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
test=$src/datasets/mnist-small/t10k-images-idx3-ubyte
model="z 4 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
encoder="z 28x28x1 | conv 4 k5 s4 | bn | lrelu 0.2 | linear 8"
common=(--data "$data" --model "$model" --objective iabp --encoder "$encoder" --limit 24 --langevin-steps 2 --quiet)
mpi=(mpirun --oversubscribe)
source "$(dirname "$0")/lib.sh"
mse() { sed -n 's/.*mse=\([0-9.]*\).*/\1/p' <<<"$1"; }

"$abp" train "${common[@]}" --batch 8 --iters 6 --out "$tmp/iabp"
ckpt=$tmp/iabp/checkpoint.h5
ok "config records the encoder's spec" '"$abp" info "$ckpt" | grep -qF -- "--encoder=z 28x28x1 | conv 4 k5x5 s4x4"'

# 1. reconstruct and complete from the encoder
recon=(reconstruct --ckpt "$ckpt" --data "$test" --limit 30 --batch 8 --init encoder)
one=$("$abp" "${recon[@]}" --out "$tmp/r1")
two=$("${mpi[@]}" -np 2 "$abp" "${recon[@]}" --out "$tmp/r2")
ok "reconstruct --init encoder: 1 vs 2 ranks, same mse" '[ -n "$(mse "$one")" ] && [ "$(mse "$one")" = "$(mse "$two")" ]'
ok "reconstruct --init encoder: 1 vs 2 ranks, same picture" 'cmp -s "$tmp/r1/reconstructions.png" "$tmp/r2/reconstructions.png"'
ok "the checkpoint's T and step size by default" 'grep -q "2 Langevin steps of size 0.1 from the encoder" <<<"$one"'
e=$("$abp" "${recon[@]}" --langevin-steps 0 --out "$tmp/r0")
prior=$("$abp" reconstruct --ckpt "$ckpt" --data "$test" --limit 30 --batch 8 --langevin-steps 2 --out "$tmp/rp")
ok "[E]: 0 steps" 'grep -q "0 Langevin steps of size 0.1 from the encoder" <<<"$e" && [ "$(mse "$e")" != "$(mse "$one")" ]'
ok "the prior start is another result" 'grep -q "from N(0, I)" <<<"$prior" && [ "$(mse "$prior")" != "$(mse "$one")" ]'
comp=(complete --ckpt "$ckpt" --data "$test" --limit 30 --batch 8 --init encoder --mask pepper:0.3)
c1=$("$abp" "${comp[@]}" --out "$tmp/c1")
c2=$("${mpi[@]}" -np 2 "$abp" "${comp[@]}" --out "$tmp/c2")
err_of() { sed -n 's/.*recovery_error=\([0-9.]*\).*/\1/p' <<<"$1"; }
ok "complete --init encoder: 1 vs 2 ranks" '[ -n "$(err_of "$c1")" ] && [ "$(err_of "$c1")" = "$(err_of "$c2")" ]'
ok "complete --init encoder: the same picture" 'cmp -s "$tmp/c1/completions.png" "$tmp/c2/completions.png"'

# 2. interpolate between ends from the encoder
"$abp" interpolate --ckpt "$ckpt" --init encoder --examples 0,1,0,2 --steps 3 --out "$tmp/i.png" \
  --latents "$tmp/i.csv" > "$tmp/i.txt"
"$abp" interpolate --ckpt "$ckpt" --examples 0,1 --steps 3 --out "$tmp/s.png" --latents "$tmp/s.csv" > /dev/null
row() { sed -n "$2p" "$1" | cut -d, -f4-; } # the latent of CSV line N
ok "interpolate --init encoder writes the picture" '[ -s "$tmp/i.png" ] && grep -q "row 1: example 0" "$tmp/i.txt"'
ok "the same example, the same end" '[ "$(row "$tmp/i.csv" 2)" = "$(row "$tmp/i.csv" 5)" ]'
ok "ends from the encoder are not the stored latents" '[ "$(row "$tmp/i.csv" 2)" != "$(row "$tmp/s.csv" 2)" ]'

# 3. resume: the encoder settings come from the checkpoint
"$abp" train "${common[@]}" --batch 8 --iters 6 --init prior --encoder-lr 1e-3 --out "$tmp/straight"
"$abp" train "${common[@]}" --batch 8 --iters 3 --init prior --encoder-lr 1e-3 --out "$tmp/first"
"$abp" train --data "$data" --model "$model" --objective iabp --limit 24 --langevin-steps 2 --quiet --batch 8 --iters 6 \
  --resume "$tmp/first/checkpoint.h5" --out "$tmp/second"
ok "resume without the encoder options is exact" 'diff_ok "$tmp/straight/checkpoint.h5" "$tmp/second/checkpoint.h5" 0'
expect "resume with another --init" "--init encoder: $tmp/first/checkpoint.h5 was trained with --init prior" -- \
  "$abp" train "${common[@]}" --batch 8 --iters 6 --init encoder --resume "$tmp/first/checkpoint.h5" --out "$tmp/bad"
expect "resume with another --encoder-lr" "was trained with --encoder-lr 0.001" -- \
  "$abp" train "${common[@]}" --batch 8 --iters 6 --init prior --encoder-lr 2e-3 --resume "$tmp/first/checkpoint.h5" --out "$tmp/bad"
expect "resume with another --encoder" "was trained with the encoder 'z 28x28x1 | conv 4 k5x5 s4x4" -- \
  "$abp" train "${common[@]}" --batch 8 --iters 6 --encoder "z 28x28x1 | conv 2 k5 s4 | bn | lrelu 0.2 | linear 8" \
  --resume "$tmp/first/checkpoint.h5" --out "$tmp/bad"

# 4. Adamax
"$abp" train "${common[@]}" --batch 8 --iters 6 --optimizer adamax --beta1 0.9 --out "$tmp/ax-straight"
"$abp" train "${common[@]}" --batch 8 --iters 3 --optimizer adamax --beta1 0.9 --out "$tmp/ax-first"
"$abp" train "${common[@]}" --batch 8 --iters 6 --optimizer adamax --beta1 0.9 --resume "$tmp/ax-first/checkpoint.h5" \
  --out "$tmp/ax-second"
ok "adamax: resume is bitwise exact" 'diff_ok "$tmp/ax-straight/checkpoint.h5" "$tmp/ax-second/checkpoint.h5" 0'
ok "adamax: not the same run as adam" '! diff_ok "$tmp/ax-straight/checkpoint.h5" "$tmp/iabp/checkpoint.h5" 1e-4'
info=$("$abp" info "$tmp/ax-straight/checkpoint.h5")
ok "adamax: the kind is recorded" 'grep -q "optimizer adamax" <<<"$info" && grep -q -- "--optimizer=adamax" <<<"$info"'
ok "adamax: u is checkpointed (.v)" 'grep -q "optimizer/encoder/.*weight.v" <<<"$info"'
expect "resume with another optimizer" "was trained with --optimizer adamax" -- \
  "$abp" train "${common[@]}" --batch 8 --iters 6 --resume "$tmp/ax-first/checkpoint.h5" --out "$tmp/bad"

# 5. bad input
"$abp" train --data "$data" --model "$model" --limit 24 --batch 8 --iters 2 --langevin-steps 1 --quiet --out "$tmp/abp"
before=$(md5sum "$tmp/r1/reconstructions.png")
expect "no encoder in the checkpoint" "holds no encoder (no /encoder group; it was trained with --objective abp)" -- \
  "$abp" reconstruct --ckpt "$tmp/abp/checkpoint.h5" --data "$test" --limit 8 --init encoder --out "$tmp/r1"
expect "complete: no encoder" "holds no encoder" -- \
  "$abp" complete --ckpt "$tmp/abp/checkpoint.h5" --data "$test" --limit 8 --init encoder --mask pepper:0.3 --out "$tmp/r1"
expect "interpolate: no encoder" "holds no encoder" -- \
  "$abp" interpolate --ckpt "$tmp/abp/checkpoint.h5" --init encoder --out "$tmp/r1/i.png"
expect "interpolate: --data without --init encoder" "are for --init encoder" -- \
  "$abp" interpolate --ckpt "$ckpt" --data "$test" --out "$tmp/r1/i.png"
expect "interpolate: an example past the data" "not example 5000" -- \
  "$abp" interpolate --ckpt "$ckpt" --init encoder --examples 0,5000 --out "$tmp/r1/i.png"
expect "reconstruct: bad --init" "--init: 'persistent' is not one of prior|encoder" -- \
  "$abp" reconstruct --ckpt "$ckpt" --data "$test" --init persistent --out "$tmp/r1"
expect "train: unknown optimizer" "--optimizer: 'adagrad' is not one of adam|sgd|adamax" -- \
  "$abp" train "${common[@]}" --optimizer adagrad --out "$tmp/bad"
ok "outputs left intact" '[ "$(md5sum "$tmp/r1/reconstructions.png")" = "$before" ] && [ ! -e "$tmp/r1/i.png" ] && [ ! -e "$tmp/bad/checkpoint.h5" ]'

echo "mpi_encoder_infer: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
