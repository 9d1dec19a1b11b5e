#!/usr/bin/env bash
# Compressed sensing end to end: train --sense K gives the same model as a singleton and under
# mpirun -np 2 (full batch: S and the projections do not depend on the ranks), differs from
# training on the pixels, says in metrics.csv that its error is on projections, is kept by
# resume; abp recover reports recovery_error and the minimum-norm baseline and writes its
# picture; bad uses of --sense fail with one line naming the option.
# Usage: mpi_sense.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
common=(--data "$data" --model "$model" --full-batch --limit 13 --iters 4 --threads 1 --quiet)
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

"$abp" train "${common[@]}" --sense 30 --out "$tmp/single" || fail "singleton --sense run"
mpirun --oversubscribe -np 2 "$abp" train "${common[@]}" --sense 30 --out "$tmp/np2" || fail "mpirun -np 2 --sense run"
"$abp" train "${common[@]}" --out "$tmp/pixels" || fail "run without --sense"
if "$bin/ckpt_diff" "$tmp/single/checkpoint.h5" "$tmp/np2/checkpoint.h5" 1e-4 > /dev/null; then ok
else fail "--sense: singleton and 2 ranks differ"; fi
if "$bin/ckpt_diff" "$tmp/single/checkpoint.h5" "$tmp/pixels/checkpoint.h5" 1e-4 > /dev/null; then
  fail "--sense 30 did not change training"; else ok; fi
head -1 "$tmp/single/metrics.csv" | grep -q '^iteration,epoch,loss,proj_mse,' && ok || fail "metrics.csv header: $(head -1 "$tmp/single/metrics.csv")"
head -1 "$tmp/pixels/metrics.csv" | grep -q ',recon_mse,' && ok || fail "metrics.csv without --sense lost recon_mse"
"$abp" info "$tmp/single/checkpoint.h5" | grep -q -- '--sense=30' && ok || fail "abp info does not show --sense=30"

# Resume keeps the observation: the same --sense goes on, another is refused.
"$abp" train "${common[@]}" --sense 30 --iters 6 --resume "$tmp/single/checkpoint.h5" --out "$tmp/single" && ok || fail "resume with --sense 30"
[ "$(tail -1 "$tmp/single/metrics.csv" | cut -d, -f1)" = 6 ] && ok || fail "resume did not reach iteration 6"
err=$("$abp" train "${common[@]}" --iters 8 --resume "$tmp/single/checkpoint.h5" --out "$tmp/single" 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q -- "--sense 30" <<<"$err" && ok || fail "resume without --sense: '$err'"

# abp recover: from S y alone, and from the learned latents of the training examples.
line=$("$abp" recover --ckpt "$tmp/single/checkpoint.h5" --data "$data" --limit 13 --langevin-steps 5 --out "$tmp/rec" 2>/dev/null)
rec=$(sed -n 's/.*recovery_error=\([0-9.]*\).*/\1/p' <<<"$line")
base=$(sed -n 's/.*baseline_error=\([0-9.]*\).*/\1/p' <<<"$line")
[ -n "$rec" ] && [ -n "$base" ] && awk -v r="$rec" -v b="$base" 'BEGIN { exit !(r > 0 && r < 1 && b > 0 && b < 1) }' && ok || fail "recover: '$line'"
grep -q "30 projections" <<<"$line" && ok || fail "recover did not take K = 30 from the checkpoint: '$line'"
[ -s "$tmp/rec/recoveries.png" ] && ok || fail "no recoveries.png"
line=$("$abp" recover --ckpt "$tmp/single/checkpoint.h5" --data "$data" --limit 13 --init checkpoint --langevin-steps 0 --out "$tmp/rec1" 2>"$tmp/rec1.err")
grep -q "z from the checkpoint" <<<"$line" && ok || fail "recover --init checkpoint: '$line' $(cat "$tmp/rec1.err")"

# expect NAME TEXT -- COMMAND...: non-zero exit and one line on stderr containing TEXT.
expect() {
  local name=$1 want=$2; shift 3
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then fail "$name: exit 0"; return; fi
  if [ "$(printf '%s\n' "$out" | grep -c .)" -ne 1 ]; then fail "$name: not one line: $out"; return; fi
  grep -qF -- "$want" <<<"$out" && ok || fail "$name: '$out' does not mention '$want'"
}
expect "sense and mask" "--mask"  -- "$abp" train "${common[@]}" --sense 30 --mask pepper:0.5 --out "$tmp/e1"
expect "sense -1"       "--sense" -- "$abp" train "${common[@]}" --sense -1 --out "$tmp/e2"
expect "sense garbage"  "--sense" -- "$abp" train "${common[@]}" --sense lots --out "$tmp/e3"
expect "recover sense 0" "--sense" -- "$abp" recover --ckpt "$tmp/single/checkpoint.h5" --data "$data" --sense 0 --out "$tmp/e4"
expect "recover, no K"  "--sense" -- "$abp" recover --ckpt "$tmp/pixels/checkpoint.h5" --data "$data" --out "$tmp/e5"
expect "recover, other data" "--init checkpoint" -- "$abp" recover --ckpt "$tmp/single/checkpoint.h5" --data "$src/datasets/mnist-small/t10k-images-idx3-ubyte" --limit 13 --init checkpoint --out "$tmp/e6"
[ ! -e "$tmp/e1" ] && [ ! -e "$tmp/e2" ] && ok || fail "a refused run created its --out"

echo "mpi_sense: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
