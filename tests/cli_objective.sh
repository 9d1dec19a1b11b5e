#!/usr/bin/env bash
# --objective and the network groups of a checkpoint (DESIGN §8): the objective is recorded
# in /config, abp info lists the networks, and the bad cases are one clear line with a
# non-zero exit and nothing earlier touched. Usage: cli_objective.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 3 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
source "$(dirname "$0")/lib.sh"

"$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --iters 2 --langevin-steps 1 --objective abp \
  --out "$tmp/run" --quiet
info=$("$abp" info "$tmp/run/checkpoint.h5")
ok "objective recorded in /config" 'grep -q -- "--objective=abp" <<<"$info"'
ok "info lists the generator" 'grep -qE "^    generator +/model, [0-9]+ parameters" <<<"$info"'
# /config holds the options of the objective trained, not every objective's defaults
ok "abp's /config has no other objective's options" '! grep -qE -- "--(descriptor|chains|encoder|init|labels|classifier)=" <<<"$info"'
"$abp" train --data "$data" --objective descriptor --descriptor "z 28x28x1 | conv 2 k4 s4 | lrelu 0.2 | linear 1" \
  --limit 8 --batch 4 --chains 4 --descriptor-steps 1 --iters 1 --out "$tmp/desc" --quiet
dinfo=$("$abp" info "$tmp/desc/checkpoint.h5")
ok "descriptor's /config: its options only" 'grep -q -- "--chains=4" <<<"$dinfo" && ! grep -qE -- "--(encoder|init|labels|classifier)=" <<<"$dinfo"'
"$abp" train --data "$data" --model "$model" --objective iabp --encoder "z 28x28x1 | linear 6" --limit 8 --batch 4 \
  --iters 1 --langevin-steps 1 --out "$tmp/iabp" --quiet
iinfo=$("$abp" info "$tmp/iabp/checkpoint.h5")
ok "iabp's /config: its options only" 'grep -q -- "--init=encoder" <<<"$iinfo" && ! grep -qE -- "--(descriptor|chains|labels|classifier)=" <<<"$iinfo"'
# the default is abp: the same checkpoint without the option
"$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --iters 2 --langevin-steps 1 --out "$tmp/default" --quiet
ok "default objective is abp" '"$bin/ckpt_diff" "$tmp/run/checkpoint.h5" "$tmp/default/checkpoint.h5" 0 >/dev/null'

expect "unknown objective" "--objective wobble: unknown; expected one of: abp, iabp, vae" -- \
  "$abp" train --data "$data" --model "$model" --objective wobble --out "$tmp/vae"
ok "unknown objective creates nothing" '[ ! -e "$tmp/vae" ]'
sum_before=$(cd "$tmp/run" && sha256sum checkpoint.h5 metrics.csv)
expect "resume with another objective" "was trained with --objective abp" -- \
  "$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --iters 3 --objective vae --encoder "z 28x28x1 | linear 6" --resume "$tmp/run/checkpoint.h5" --out "$tmp/run"
ok "run left intact" '[ "$(cd "$tmp/run" && sha256sum checkpoint.h5 metrics.csv)" = "$sum_before" ]'

# A checkpoint without a generator (test_chains writes one: chains only)
"$bin/test_chains" write "$tmp/nogen.h5" >/dev/null
expect "sample without a generator" "holds no generator" -- "$abp" sample --ckpt "$tmp/nogen.h5" --out "$tmp/s.png"
ok "nothing drawn" '[ ! -e "$tmp/s.png" ]'
ok "info lists the chains" '"$abp" info "$tmp/nogen.h5" | grep -q "persistent state: /chains/descriptor 7x1x2x3"'

echo "cli_objective: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
