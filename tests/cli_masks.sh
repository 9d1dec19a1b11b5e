#!/usr/bin/env bash
# Data that come with their own masks: abp prepare --masks stores /masks beside /images; abp
# train on that data set (no --mask) learns exactly what --mask learns from the same masks
# generated (bitwise equal checkpoints, also on 2 ranks), abp complete uses them as it uses
# generated ones (same figures, same picture); the masks change training; a mask count or
# size that does not match, and --mask given beside stored masks, are one-line errors that
# leave nothing behind.
# Usage: cli_masks.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
train=(--model "$model" --limit 24 --full-batch --iters 4 --threads 1 --quiet --seed 7)
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
figures() { grep -o '[a-z_]*=[-0-9.e+]*' <<<"$1"; }

# The masks --mask pepper:0.5 --seed 7 generates, one per example of the 2000 in the file.
"$bin/mask_idx" pepper:0.5 7 2000 28 28 "$tmp/masks.idx" || fail "mask_idx"
"$abp" prepare --idx "$data" --masks "$tmp/masks.idx" --limit 24 --quiet --out "$tmp/masked.h5" > "$tmp/prep.out" || fail "prepare --masks: $(cat "$tmp/prep.out")"
grep -q "with their masks" "$tmp/prep.out" && ok || fail "prepare does not say it stored masks: $(cat "$tmp/prep.out")"
"$abp" info "$tmp/masked.h5" | grep -q "/masks uint8 \[24, 28, 28, 1\]" && ok || fail "abp info does not show /masks: $("$abp" info "$tmp/masked.h5")"

"$abp" train --data "$tmp/masked.h5" "${train[@]}" --out "$tmp/stored" || fail "train on stored masks"
"$abp" train --data "$data" "${train[@]}" --mask pepper:0.5 --out "$tmp/generated" || fail "train --mask"
"$abp" train --data "$data" "${train[@]}" --out "$tmp/none" || fail "train without masks"
# The rank-count comparison uses SGD: Adam turns the summation-order rounding of gradient
# elements near zero into steps of +-lr (seen on an Intel Xeon: 1.6e-6 after 2 iterations,
# 1.8e-2 after 3 with Adam; 2e-5 after 4 with SGD), which would hide nothing about the masks.
"$abp" train --data "$tmp/masked.h5" "${train[@]}" --optimizer sgd --out "$tmp/stored1" || fail "train on stored masks, sgd"
mpirun --oversubscribe -np 2 "$abp" train --data "$tmp/masked.h5" "${train[@]}" --optimizer sgd --out "$tmp/stored2" || fail "train on stored masks, 2 ranks"
"$bin/ckpt_diff" "$tmp/stored/checkpoint.h5" "$tmp/generated/checkpoint.h5" 0 > /dev/null && ok || fail "stored masks train differently from the same masks generated"
"$bin/ckpt_diff" "$tmp/stored/checkpoint.h5" "$tmp/none/checkpoint.h5" 1e-4 > /dev/null && fail "stored masks changed nothing" || ok
"$bin/ckpt_diff" "$tmp/stored1/checkpoint.h5" "$tmp/stored2/checkpoint.h5" 1e-4 > /dev/null && ok || fail "stored masks: 1 and 2 ranks differ"

# complete: the stored masks as the observation, as --mask with the same seed generates them.
c1=$("$abp" complete --ckpt "$tmp/stored/checkpoint.h5" --data "$tmp/masked.h5" --seed 7 --langevin-steps 5 --batch 8 --out "$tmp/c1" 2>&1) || fail "complete on stored masks: $c1"
c2=$("$abp" complete --ckpt "$tmp/stored/checkpoint.h5" --data "$data" --limit 24 --mask pepper:0.5 --seed 7 --langevin-steps 5 --batch 8 --out "$tmp/c2" 2>&1) || fail "complete --mask: $c2"
grep -q "mask stored in the data" <<<"$c1" && ok || fail "complete does not say it used the stored masks: $c1"
[ -n "$(figures "$c1")" ] && [ "$(figures "$c1")" = "$(figures "$c2")" ] && cmp -s "$tmp/c1/completions.png" "$tmp/c2/completions.png" && ok || fail "complete: stored '$c1' vs generated '$c2'"

# expect NAME TEXT -- COMMAND...: non-zero exit and one line on stderr containing TEXT.
expect() {
  local name=$1 want=$2; shift 3
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then fail "$name: exit 0"; return; fi
  if [ "$(printf '%s\n' "$out" | grep -c .)" -ne 1 ]; then fail "$name: not one line: $out"; return; fi
  grep -qF -- "$want" <<<"$out" && ok || fail "$name: '$out' does not mention '$want'"
}
"$bin/mask_idx" pepper:0.5 7 1999 28 28 "$tmp/short.idx"
"$bin/mask_idx" pepper:0.5 7 2000 14 14 "$tmp/small.idx"
expect "mask count" "1999 masks for 2000 examples" -- "$abp" prepare --idx "$data" --masks "$tmp/short.idx" --quiet --out "$tmp/e1.h5"
expect "mask size" "masks of 14x14" -- "$abp" prepare --idx "$data" --masks "$tmp/small.idx" --quiet --out "$tmp/e2.h5"
expect "missing masks" "missing.idx" -- "$abp" prepare --idx "$data" --masks "$tmp/missing.idx" --quiet --out "$tmp/e3.h5"
expect "train --mask and stored" "--mask" -- "$abp" train --data "$tmp/masked.h5" "${train[@]}" --mask pepper:0.3 --out "$tmp/e4"
expect "complete --mask and stored" "--mask" -- "$abp" complete --ckpt "$tmp/stored/checkpoint.h5" --data "$tmp/masked.h5" --mask region:10 --out "$tmp/e5"
expect "train --sense and stored" "--sense" -- "$abp" train --data "$tmp/masked.h5" "${train[@]}" --sense 20 --out "$tmp/e6"
[ ! -e "$tmp/e1.h5" ] && [ ! -e "$tmp/e2.h5" ] && [ ! -e "$tmp/e1.h5.tmp" ] && [ ! -e "$tmp/e5" ] && ok || fail "a refused command left output behind"

echo "cli_masks: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
