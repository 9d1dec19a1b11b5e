#!/usr/bin/env bash
# Cooperative learning (--objective coop, docs/descriptor.md) end to end:
#   1. full batch, a singleton and mpirun -np 3 end with the same generator, descriptor and
#      latents up to summation order (1e-3, see below) (proposals and noise keyed by global example id), with
#      and without Langevin steps on z (--coop-latent-steps);
#   2. an exact resume: 2 iterations, then --resume to 4, bit for bit a 4-iteration run, on
#      1 rank and on 2 (minibatches);
#   3. the checkpoint holds the generator at /model and the descriptor at /descriptor, each
#      with its optimizer, and the coop options in /config;
#   4. the generator of a coop checkpoint works with sample, interpolate and reconstruct;
#   5. bad input is one line and a non-zero exit, earlier outputs left as they were.
# Usage: mpi_coop.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
desc="z 28x28x1 | conv 4 k4 s2 p1 | lrelu 0.2 | conv 8 k4 s2 p1 | lrelu 0.2 | linear 4"
common=(--objective coop --data "$data" --model "$model" --descriptor "$desc" --limit 12 --batch 4 --descriptor-steps 3 --quiet)
mpi=(mpirun --oversubscribe)
source "$(dirname "$0")/lib.sh"

# 1. rank count, full batch
for k in 0 2; do
  "$abp" train "${common[@]}" --coop-latent-steps $k --full-batch --iters 4 --out "$tmp/one-$k"
  "${mpi[@]}" -np 3 "$abp" train "${common[@]}" --coop-latent-steps $k --full-batch --iters 4 --out "$tmp/three-$k"
  # 1e-3: the descriptor's gradient is a difference of two means, some of whose components are
  # near Adam's epsilon; there the summation order of 1 rank against 3 (float partial sums)
  # reaches 4e-4 relative in the descriptor's weights after the first step (proportional to
  # --descriptor-lr), while the generator's parameters agree within 1e-6.
  ok "1 vs 3 ranks, --coop-latent-steps $k" 'diff_ok "$tmp/one-$k/checkpoint.h5" "$tmp/three-$k/checkpoint.h5" 1e-3'
done
ok "--coop-latent-steps changes the result" '! diff_ok "$tmp/one-0/checkpoint.h5" "$tmp/one-2/checkpoint.h5" 1e-4'
ok "metrics.csv has the coop columns" 'head -1 "$tmp/one-0/metrics.csv" | grep -q "^iteration,epoch,loss,score_obs,score_syn,score_gap,revision_mse,"'
ok "the descriptor revised the proposals" 'tail -1 "$tmp/one-0/metrics.csv" | awk -F, "{ exit !(\$7 > 0) }"'
ok "pictures: samples and revisions" '[ -s "$tmp/one-0/samples.png" ] && [ -s "$tmp/one-0/revisions.png" ]'

# 2. exact resume (minibatches)
for np in 1 2; do
  run=("$abp"); [ $np -gt 1 ] && run=("${mpi[@]}" -np $np "$abp")
  "${run[@]}" train "${common[@]}" --batch 4 --coop-latent-steps 1 --iters 4 --out "$tmp/whole$np"
  "${run[@]}" train "${common[@]}" --batch 4 --coop-latent-steps 1 --iters 2 --out "$tmp/part$np"
  "${run[@]}" train "${common[@]}" --batch 4 --coop-latent-steps 1 --iters 4 --resume "$tmp/part$np/checkpoint.h5" --out "$tmp/part$np"
  ok "exact resume on $np rank(s)" 'diff_ok "$tmp/whole$np/checkpoint.h5" "$tmp/part$np/checkpoint.h5" 0'
done

# 3. the checkpoint
info=$("$abp" info "$tmp/one-2/checkpoint.h5")
ok "info lists the generator at /model" 'grep -qE "^    generator +/model, [0-9]+ parameters" <<<"$info"'
ok "info lists the descriptor" 'grep -qE "^    descriptor +/descriptor, [0-9]+ parameters" <<<"$info"'
ok "the descriptor's optimizer" 'grep -q "optimizer/descriptor/" <<<"$info"'
ok "config records coop" 'grep -q -- "--objective=coop" <<<"$info" && grep -q -- "--coop-latent-steps=2" <<<"$info"'

# 4. every generator command on a coop checkpoint
ck=$tmp/one-2/checkpoint.h5
"$abp" sample --ckpt "$ck" --out "$tmp/s.png" --n 6 >"$tmp/s.log" 2>&1
ok "sample" 'grep -q "wrote 6 samples of 28x28x1" "$tmp/s.log" && [ -s "$tmp/s.png" ]'
"$abp" interpolate --ckpt "$ck" --out "$tmp/i.png" --pairs 2 --steps 4 >"$tmp/i.log" 2>&1
ok "interpolate" '[ -s "$tmp/i.png" ]'
"$abp" reconstruct --ckpt "$ck" --data "$data" --limit 5 --batch 5 --langevin-steps 3 --out "$tmp/rec" >"$tmp/r.log" 2>&1
ok "reconstruct" '[ -s "$tmp/rec/reconstructions.png" ] && grep -q "mse=" "$tmp/r.log"'

# 5. bad input
before=$(sha256sum < "$tmp/one-0/checkpoint.h5")
expect "--cd with coop" "--cd is for --objective descriptor" -- \
  "$abp" train "${common[@]}" --cd --iters 1 --out "$tmp/bad1"
expect "--mask with coop" "--mask and --sense do not apply" -- \
  "$abp" train "${common[@]}" --mask pepper:0.5 --iters 1 --out "$tmp/bad2"
expect "a descriptor of another image size" "--descriptor: it reads 14x14x1 images, but the model makes 28x28x1" -- \
  "$abp" train "${common[@]}" --descriptor "z 14x14x1 | conv 2 k3 s1 | linear 1" --iters 1 --out "$tmp/bad3"
expect "negative --coop-latent-steps" "--coop-latent-steps" -- \
  "$abp" train "${common[@]}" --coop-latent-steps -1 --iters 1 --out "$tmp/bad4"
expect "a bad descriptor spec" "--descriptor" -- \
  "$abp" train "${common[@]}" --descriptor "z 28x28x1 | wobble" --iters 1 --out "$tmp/bad5"
expect "resume a coop checkpoint as abp" "--objective coop" -- \
  "$abp" train --data "$data" --model "$model" --limit 12 --batch 4 --quiet --iters 6 --resume "$tmp/one-0/checkpoint.h5" --out "$tmp/one-0"
expect "divergence stops the run" "NaN or infinite" -- \
  "$abp" train "${common[@]}" --full-batch --iters 6 --descriptor-step-size 60 --resume "$tmp/one-0/checkpoint.h5" --out "$tmp/one-0"
ok "earlier outputs intact" '[ "$(sha256sum < "$tmp/one-0/checkpoint.h5")" = "$before" ] && [ ! -e "$tmp/bad1/checkpoint.h5" ]'

echo "mpi_coop: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
