#!/usr/bin/env bash
# The descriptor objective end to end (docs/descriptor.md):
#   1. full batch, a singleton and mpirun -np 3 end with the same descriptor and the same
#      chains up to summation order (chains and noise keyed by global chain id), with
#      persistent chains and with --cd;
#   2. an exact resume: 2 iterations, then --resume to 4, bit for bit a 4-iteration run
#      (the chains come back from /chains/descriptor), on 1 rank and on 2;
#   3. bad input is one line and a non-zero exit: a descriptor checkpoint given to
#      reconstruct, --chains out of range or fewer than the ranks, a bad spec, --mask, and
#      a diverging step size, which stops with the earlier checkpoint left as it was.
# Usage: mpi_descriptor.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
desc="z 28x28x1 | conv 4 k4 s2 p1 | lrelu 0.2 | conv 8 k4 s2 p1 | lrelu 0.2 | linear 4"
common=(--objective descriptor --data "$data" --descriptor "$desc" --limit 12 --batch 4 --chains 6 --descriptor-steps 3 --quiet)
mpi=(mpirun --oversubscribe)
source "$(dirname "$0")/lib.sh"

# 1. rank count
for mode in chains cd; do
  extra=(); [ $mode = cd ] && extra=(--cd)
  "$abp" train "${common[@]}" "${extra[@]}" --full-batch --iters 4 --out "$tmp/one-$mode"
  "${mpi[@]}" -np 3 "$abp" train "${common[@]}" "${extra[@]}" --full-batch --iters 4 --out "$tmp/three-$mode"
  # With --cd the chains start at the observed images, so the descriptor's gradient is a
  # small difference of two nearly equal means: its summation-order noise (1 rank x 2
  # threads against 3 ranks x 1) reaches 4e-4 relative in the Adam moments of a near-zero
  # bias gradient, while the parameters agree within 1e-4.
  tol=1e-4; [ $mode = cd ] && tol=1e-3
  ok "rank count ($mode): 1 and 3 ranks agree" \
    '"$bin/ckpt_diff" "$tmp/one-$mode/checkpoint.h5" "$tmp/three-$mode/checkpoint.h5" $tol >/dev/null'
done
info=$("$abp" info "$tmp/one-chains/checkpoint.h5")
ok "chains in the checkpoint" 'grep -qE "chains/descriptor +6x28x28x1" <<<"$info"'
ok "descriptor group in the checkpoint" 'grep -qE "^    descriptor +/descriptor, [0-9]+ parameters" <<<"$info"'
ok "the chains moved from their start" '! "$bin/ckpt_diff" "$tmp/one-chains/checkpoint.h5" "$tmp/one-cd/checkpoint.h5" 0 >/dev/null 2>&1'

"$abp" train --data "$data" --model "z 3 | linear 7x7x4 | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh" --limit 8 \
  --batch 4 --iters 1 --langevin-steps 1 --out "$tmp/gen" --quiet

# 2. exact resume
for np in 1 2; do
  run=("$abp"); [ $np -gt 1 ] && run=("${mpi[@]}" -np $np "$abp")
  "${run[@]}" train "${common[@]}" --iters 4 --out "$tmp/whole$np"
  "${run[@]}" train "${common[@]}" --iters 2 --out "$tmp/part$np"
  "${run[@]}" train "${common[@]}" --iters 4 --resume "$tmp/part$np/checkpoint.h5" --out "$tmp/part$np"
  ok "exact resume on $np rank(s)" '"$bin/ckpt_diff" "$tmp/whole$np/checkpoint.h5" "$tmp/part$np/checkpoint.h5" 0 >/dev/null'
done

# 4. abp sample on a descriptor checkpoint: from the reference, from the stored chains, and a
#    fully convolutional descriptor at a larger size
"$abp" sample --ckpt "$tmp/whole1/checkpoint.h5" --out "$tmp/s.png" --n 4 --langevin-steps 5 >/dev/null
ok "sample from the reference" '[ -s "$tmp/s.png" ]'
"$abp" sample --ckpt "$tmp/whole1/checkpoint.h5" --out "$tmp/c.png" --from-chains --langevin-steps 0 >"$tmp/c.log"
ok "sample from the chains: all 6" 'grep -q "wrote 6 descriptor samples" "$tmp/c.log"'
"$abp" train "${common[@]}" --descriptor "z 28x28x1 | conv 4 k4 s2 p1 | lrelu 0.2 | conv 2 k3 s1" --iters 1 --out "$tmp/conv"
"$abp" sample --ckpt "$tmp/conv/checkpoint.h5" --out "$tmp/big.png" --n 2 --size 40x56 --langevin-steps 2 >"$tmp/big.log"
ok "a fully convolutional descriptor samples 40x56" 'grep -q "of 40x56x1" "$tmp/big.log"'
expect "--size on a descriptor with a linear layer" "not fully convolutional" -- \
  "$abp" sample --ckpt "$tmp/whole1/checkpoint.h5" --out "$tmp/x.png" --size 40x40
expect "--from-chains on a generator checkpoint" "--from-chains and --size are for descriptor checkpoints" -- \
  "$abp" sample --ckpt "$tmp/gen/checkpoint.h5" --out "$tmp/x.png" --from-chains

# 3. bad input
expect "reconstruct on a descriptor checkpoint" "holds no generator" -- \
  "$abp" reconstruct --ckpt "$tmp/whole1/checkpoint.h5" --data "$data" --out "$tmp/rec"
expect "--chains 0" "--chains" -- "$abp" train "${common[@]}" --chains 0 --iters 1 --out "$tmp/bad1"
expect_mpi "fewer chains than ranks" "2 chains cannot be shared by 3 ranks" -- \
  "${mpi[@]}" -np 3 "$abp" train "${common[@]}" --chains 2 --iters 1 --out "$tmp/bad2"
expect "bad descriptor spec" "layer 1 'conv 4 k0'" -- \
  "$abp" train "${common[@]}" --descriptor "z 28x28x1 | conv 4 k0" --iters 1 --out "$tmp/bad3"
expect "--mask with a descriptor" "--mask and --sense do not apply" -- \
  "$abp" train "${common[@]}" --mask pepper:0.5 --iters 1 --out "$tmp/bad4"
sum_before=$(sha256sum < "$tmp/whole1/checkpoint.h5")
expect "divergence stops the run" "NaN or infinite" -- \
  "$abp" train "${common[@]}" --iters 6 --descriptor-step-size 60 --resume "$tmp/whole1/checkpoint.h5" --out "$tmp/whole1"
ok "the last good checkpoint is kept" '[ "$(sha256sum < "$tmp/whole1/checkpoint.h5")" = "$sum_before" ]'

echo "$pass passed, $failed failed"
[ $failed -eq 0 ]
