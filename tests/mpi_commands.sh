#!/usr/bin/env bash
# Every command after training is data-parallel and prints the same figures on any number
# of ranks: reconstruct, complete, recover (both starts), sample and pca, each run as a
# singleton and under mpirun -np 3 (and reconstruct under -np 4, where a rank gets no
# examples), comparing every printed name=value figure exactly and the written pictures
# byte for byte; an example's result does not depend on the batch it was inferred in
# (batch norm on running statistics); errors under mpirun are still one line.
# Usage: mpi_commands.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
test=$src/datasets/mnist-small/t10k-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
train=(--data "$data" --model "$model" --limit 40 --batch 20 --iters 6 --threads 1 --quiet)
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

"$abp" train "${train[@]}" --mask pepper:0.5 --out "$tmp/masked" > /dev/null || fail "train --mask"
"$abp" train "${train[@]}" --sense 30 --out "$tmp/sensed" > /dev/null || fail "train --sense"

# figures LINE: the name=value figures of a result line, one per line (the time is not one).
figures() { grep -o '[a-z_]*=[-0-9.e+]*' <<<"$1"; }

# same NAME OUTFILE -- ARGS...: runs abp ARGS with --out under a singleton and -np 3 (OUTFILE:
# the file each writes, relative to its --out), and compares figures and file.
same() {
  local name=$1 file=$2; shift 3
  local one three
  one=$("$abp" "$@" --threads 1 --out "$tmp/$name.1" 2>"$tmp/$name.1.err") || { fail "$name singleton: $(cat "$tmp/$name.1.err")"; return; }
  three=$(mpirun --oversubscribe -np 3 "$abp" "$@" --threads 1 --out "$tmp/$name.3" 2>"$tmp/$name.3.err") || { fail "$name -np 3: $(cat "$tmp/$name.3.err")"; return; }
  if [ -z "$(figures "$one")" ]; then fail "$name printed no figures: '$one'"; return; fi
  [ "$(figures "$one")" = "$(figures "$three")" ] && ok || fail "$name: figures differ: '$one' vs '$three'"
  [ "$(grep -c . <<<"$three")" -eq 1 ] && ok || fail "$name -np 3 printed more than one line: '$three'"
  grep -q " on 3 ranks" <<<"$three" && grep -q " on 1 rank," <<<"$one" && ok || fail "$name does not say it ran on 3 ranks: '$three'"
  cmp -s "$tmp/$name.1/$file" "$tmp/$name.3/$file" && ok || fail "$name: $file differs between 1 and 3 ranks"
}
same reconstruct reconstructions.png -- reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 23 --batch 4 --langevin-steps 5
same complete completions.png -- complete --ckpt "$tmp/masked/checkpoint.h5" --data "$data" --limit 23 --batch 4 --langevin-steps 5
same complete-region completions.png -- complete --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --mask region:20 --limit 23 --batch 4 --langevin-steps 5 --inference gd
same recover recoveries.png -- recover --ckpt "$tmp/sensed/checkpoint.h5" --data "$data" --limit 23 --batch 4 --langevin-steps 5
same recover-init recoveries.png -- recover --ckpt "$tmp/sensed/checkpoint.h5" --data "$data" --limit 23 --batch 4 --langevin-steps 3 --init checkpoint
# --threads of an inference command: two threads per rank give the one-thread figures (up to
# the BLAS's summation order, which may follow its threads), and a count out of range is
# refused in one line naming the option, before anything is written.
mse_of() { sed -n 's/.*mse=\([0-9.e+-]*\).*/\1/p' <<<"$1"; }
rt1=$("$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 23 --batch 4 --langevin-steps 5 --threads 1 --out "$tmp/rt.1" 2>&1) || fail "reconstruct --threads 1: $rt1"
rt2=$("$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 23 --batch 4 --langevin-steps 5 --threads 2 --out "$tmp/rt.2" 2>&1) || fail "reconstruct --threads 2: $rt2"
m1=$(mse_of "$rt1") m2=$(mse_of "$rt2")
[ -n "$m1" ] && awk -v a="$m1" -v b="$m2" 'BEGIN {d = a - b; if (d < 0) d = -d; exit !(b != "" && d <= 1e-5 * a)}' && ok ||
  fail "reconstruct: --threads 2 gives mse '$m2' against '$m1' on one thread"
for bad in -1 1025 2x; do
  if out=$("$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 23 --threads "$bad" --out "$tmp/rt.bad" 2>&1); then
    fail "reconstruct --threads $bad was accepted"
  else
    [ "$(grep -c . <<<"$out")" -eq 1 ] && grep -q -- "--threads" <<<"$out" && [ ! -e "$tmp/rt.bad" ] && ok ||
      fail "reconstruct --threads $bad: not one line naming --threads, or wrote output: '$out'"
  fi
done
s1=$("$abp" sample --ckpt "$tmp/masked/checkpoint.h5" --n 150 --out "$tmp/s1.png" 2>&1)
s3=$(mpirun --oversubscribe -np 3 "$abp" sample --ckpt "$tmp/masked/checkpoint.h5" --n 150 --threads 1 --out "$tmp/s3.png" 2>&1)
grep -q "wrote 150 samples.*on 3 ranks" <<<"$s3" && cmp -s "$tmp/s1.png" "$tmp/s3.png" && ok || fail "sample: 1 and 3 ranks differ: '$s1' '$s3'"
pca1=$("$abp" pca --train "$data" --limit 300 --test "$test" --test-limit 101 --dim 20)
pca3=$(mpirun --oversubscribe -np 3 "$abp" pca --train "$data" --limit 300 --test "$test" --test-limit 101 --dim 20)
[ -n "$(figures "$pca1")" ] && [ "$(figures "$pca1")" = "$(figures "$pca3")" ] && grep -q "on 3 ranks" <<<"$pca3" && ok || fail "pca: '$pca1' vs '$pca3'"

# -np 4 with 2 batches: two ranks have no examples and still take part.
r1=$("$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 7 --batch 4 --langevin-steps 5 --out "$tmp/r4.1" 2>&1)
r4=$(mpirun --oversubscribe -np 4 "$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 7 --batch 4 --langevin-steps 5 --threads 1 --out "$tmp/r4.4" 2>&1)
[ -n "$(figures "$r1")" ] && [ "$(figures "$r1")" = "$(figures "$r4")" ] && cmp -s "$tmp/r4.1/reconstructions.png" "$tmp/r4.4/reconstructions.png" && ok || fail "-np 4 with idle ranks: '$r1' vs '$r4'"

# An example's result does not depend on its batch: batch norm uses running statistics.
b4=$("$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 23 --batch 4 --langevin-steps 5 --out "$tmp/b4" 2>/dev/null | sed -n 's/.*mse=\([0-9.]*\).*/\1/p')
b23=$("$abp" reconstruct --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 23 --batch 23 --langevin-steps 5 --out "$tmp/b23" 2>/dev/null | sed -n 's/.*mse=\([0-9.]*\).*/\1/p')
[ -n "$b4" ] && awk -v a="$b4" -v b="$b23" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2e-6 * a) }' && ok || fail "reconstruct mse depends on --batch: $b4 (4) vs $b23 (23)"

# Errors under mpirun: one line, from rank 0, naming the file; no output folder made.
out=$(mpirun --oversubscribe -np 3 "$abp" complete --ckpt "$tmp/masked/checkpoint.h5" --data "$tmp/missing.idx" --out "$tmp/e1" 2>&1 >/dev/null)
[ $? -ne 0 ] && [ "$(grep -c 'abp:' <<<"$out")" -eq 1 ] && grep -q "missing.idx" <<<"$out" && [ ! -e "$tmp/e1" ] && ok || fail "missing --data under -np 3: '$out'"
out=$(mpirun --oversubscribe -np 3 "$abp" sample --ckpt "$tmp/missing.h5" --out "$tmp/e2.png" 2>&1 >/dev/null)
[ $? -ne 0 ] && [ "$(grep -c 'abp:' <<<"$out")" -eq 1 ] && grep -q "missing.h5" <<<"$out" && ok || fail "missing --ckpt under -np 3: '$out'"

echo "mpi_commands: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
