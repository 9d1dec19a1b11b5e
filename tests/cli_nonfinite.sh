#!/usr/bin/env bash
# Numerical faults: a run that diverges stops within the iteration with exit status 4 and
# one line naming the iteration, the part (latents; a layer's gradient) and a hint; it
# writes no checkpoint, leaves the last good checkpoint.h5 as it was, and stops the same
# way on 3 ranks. A checkpoint holding a NaN (in a layer's weights, in the latents) is
# refused on load, naming the array. Usage: cli_nonfinite.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 3 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# expect_status NAME STATUS EXPECTED-TEXT -- COMMAND...: exits STATUS, one stderr line with the text.
expect_status() {
  local name=$1 status=$2 want=$3; shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne "$status" ]; then fail "$name: exit $rc, expected $status: $err"; return; fi
  if [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name: expected one line, got: $err"; return; fi
  if grep -qF -- "$want" <<<"$err"; then ok; else fail "$name: '$err' does not mention '$want'"; fi
}
# poke FILE DATASET INDEX: writes a float NaN over element INDEX of a contiguous dataset.
poke() {
  local offset
  offset=$(h5dump -p -H -d "$2" "$1" | awk '/OFFSET/ {print $2}')
  [ -n "$offset" ] || { fail "no offset of $2 in $1"; return; }
  printf '\x00\x00\xc0\x7f' | dd of="$1" bs=1 seek=$((offset + 4 * $3)) conv=notrunc status=none
}

train=(--data "$data" --model "$model" --limit 16 --batch 8 --langevin-steps 2 --quiet)
"$abp" train "${train[@]}" --iters 2 --out "$tmp/run" || fail "the first run failed"
before=$(cd "$tmp/run" && sha256sum checkpoint.h5 checkpoint-00000002.h5)

# Langevin steps far too large: the latents blow up in iteration 3.
expect_status "latents diverge" 4 "iteration 3: " -- "$abp" train "${train[@]}" --iters 6 --checkpoint-every 1 \
  --langevin-steps 20 --langevin-step-size 20 --out "$tmp/run" --resume "$tmp/run/checkpoint.h5"
err=$("$abp" train "${train[@]}" --iters 6 --checkpoint-every 1 --langevin-steps 20 --langevin-step-size 20 \
  --out "$tmp/run" --resume "$tmp/run/checkpoint.h5" 2>&1 >/dev/null)
grep -q "latent (or per-example state) values became NaN or infinite" <<<"$err" && grep -q -- "--langevin-step-size (now 20)" <<<"$err" &&
  ok || fail "latents: the message names neither the part nor the hint: $err"
after=$(cd "$tmp/run" && sha256sum checkpoint.h5 checkpoint-00000002.h5)
[ "$before" = "$after" ] && ok || fail "a diverged run changed the last good checkpoint"
ls "$tmp/run" | grep -qE 'checkpoint-0*[3-9]\.h5|\.tmp' && fail "a diverged run wrote a checkpoint: $(ls "$tmp/run")" || ok
# The kept checkpoint still resumes.
"$abp" train "${train[@]}" --iters 3 --out "$tmp/run" --resume "$tmp/run/checkpoint.h5" && ok ||
  fail "the last good checkpoint does not resume"

# A learning rate far too large: a layer's gradient overflows (latents stay finite: L = 0).
lin=(--data "$data" --model "z 3 | linear 28x28x1" --limit 16 --batch 8 --optimizer sgd --lr 100 --sigma 0.000001
     --langevin-steps 0 --iters 20 --quiet)
expect_status "gradient diverges" 4 "the gradient of generator/00_linear/weight is NaN or infinite" -- "$abp" train "${lin[@]}" --out "$tmp/lin1"
one=$("$abp" train "${lin[@]}" --full-batch --out "$tmp/lin2" 2>&1 >/dev/null)
three=$(timeout 120 mpirun --oversubscribe -np 3 "$abp" train "${lin[@]}" --full-batch --out "$tmp/lin3" 2>&1 >/dev/null); rc=$?
[ $rc -eq 4 ] && ok || fail "3 ranks: exit $rc, expected 4: $three"
# The same iteration, part and hint (how many values overflow depends on summation order).
same() { grep '^abp:' | sed 's/lin[23]/linN/; s/([0-9]* values/(N values/'; }
[ "$(same <<<"$one")" = "$(same <<<"$three")" ] && ok || fail "3 ranks stop otherwise than 1: '$one' vs '$three'"
[ ! -e "$tmp/lin1/checkpoint.h5" ] && ok || fail "a run that diverged before its first checkpoint wrote one"

# A checkpoint with a NaN in one layer's weights, as a diverging step leaves them.
cp "$tmp/run/checkpoint-00000002.h5" "$tmp/nan-weight.h5"
poke "$tmp/nan-weight.h5" /model/03_deconv/weight 17
expect_status "resume, NaN weight" 1 "model/03_deconv/weight holds 1 NaN or infinite values" -- \
  "$abp" train "${train[@]}" --iters 4 --out "$tmp/run2" --resume "$tmp/nan-weight.h5"
expect_status "sample, NaN weight" 1 "model/03_deconv/weight holds 1 NaN" -- \
  "$abp" sample --ckpt "$tmp/nan-weight.h5" --out "$tmp/x.png"
cp "$tmp/run/checkpoint-00000002.h5" "$tmp/nan-latent.h5"
poke "$tmp/nan-latent.h5" /latents 5
expect_status "resume, NaN latent" 1 "/latents holds 1 NaN or infinite values" -- \
  "$abp" train "${train[@]}" --iters 4 --out "$tmp/run2" --resume "$tmp/nan-latent.h5"
[ ! -e "$tmp/x.png" ] && ok || fail "sample wrote a picture from a NaN checkpoint"

echo "cli_nonfinite: $pass passed, $failed failed"
[ $failed -eq 0 ]
