#!/usr/bin/env bash
# The command line end to end on a tiny model: train, resume (bit-exact), sample,
# reconstruct, interpolate, info, pca. Usage: cli_workflow.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
test=$src/datasets/mnist-small/t10k-images-idx3-ubyte
model="z 2 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }

common=(--data "$data" --model "$model" --limit 40 --batch 8 --langevin-steps 3)
"$abp" train "${common[@]}" --iters 6 --out "$tmp/full" --quiet
for f in checkpoint.h5 metrics.csv samples.png reconstructions.png; do
  [ -s "$tmp/full/$f" ] || fail "train did not write $f"; ok
done
[ "$(wc -l < "$tmp/full/metrics.csv")" -eq 7 ] || fail "metrics.csv should have a header and 6 rows"; ok

# Interrupted at 3 and resumed with the same command line: the same result, bit for bit.
"$abp" train "${common[@]}" --iters 3 --out "$tmp/part" --quiet
"$abp" train "${common[@]}" --iters 6 --out "$tmp/part" --resume "$tmp/part/checkpoint.h5" --quiet
"$bin/ckpt_diff" "$tmp/full/checkpoint.h5" "$tmp/part/checkpoint.h5" 0 || fail "resume is not exact"; ok
[ "$(wc -l < "$tmp/part/metrics.csv")" -eq 7 ] || fail "resumed metrics.csv should list 6 iterations"; ok

"$abp" sample --ckpt "$tmp/full/checkpoint.h5" --out "$tmp/s.png" --n 10 | grep -q "wrote 10 samples" || fail sample
[ -s "$tmp/s.png" ] || fail "no sample PNG"; ok

out=$("$abp" reconstruct --ckpt "$tmp/full/checkpoint.h5" --data "$test" --limit 20 --langevin-steps 5 --out "$tmp/rec" 2>/dev/null)
echo "$out" | grep -Eq "mse=0\.[0-9]+" || fail "reconstruct printed: $out"
[ -s "$tmp/rec/reconstructions.png" ] || fail "no reconstructions PNG"; ok

"$abp" interpolate --ckpt "$tmp/full/checkpoint.h5" --out "$tmp/i.png" --pairs 2 --steps 5 --spherical > /dev/null || fail interpolate
"$abp" interpolate --ckpt "$tmp/full/checkpoint.h5" --out "$tmp/g.png" --grid > /dev/null || fail "interpolate --grid"
[ -s "$tmp/i.png" ] && [ -s "$tmp/g.png" ] || fail "no interpolation PNGs"; ok

info=$("$abp" info "$tmp/full/checkpoint.h5")
echo "$info" | grep -q "iteration 6" || fail "info: $info"
echo "$info" | grep -q "latents: 40 examples x 2" || fail "info: $info"; ok
"$abp" info "$data" | grep -q "2000 examples of 28x28x1" || fail "info on IDX"; ok

p=$("$abp" pca --train "$data" --test "$test" --dim 10 --limit 500 --test-limit 100)
echo "$p" | grep -Eq "mse=0\.0[0-9]+" || fail "pca printed: $p"; ok

# Occluded data: training sees only the observed pixels (so the model differs from the
# unmasked one); abp complete reports both errors, with a mask given or, by default, with
# each training example's own training mask.
"$abp" train "${common[@]}" --iters 6 --mask pepper:0.5 --out "$tmp/masked" --quiet
if "$bin/ckpt_diff" "$tmp/full/checkpoint.h5" "$tmp/masked/checkpoint.h5" 1e-6 > /dev/null; then
  fail "--mask pepper:0.5 did not change training"
fi; ok
c=$("$abp" complete --ckpt "$tmp/masked/checkpoint.h5" --data "$test" --limit 10 --langevin-steps 5 --mask region:20 --out "$tmp/comp" 2>/dev/null)
echo "$c" | grep -Eq "recovery_error=0\.[0-9]+ baseline_error=0\.[0-9]+" || fail "complete printed: $c"
[ -s "$tmp/comp/completions.png" ] || fail "no completions PNG"; ok
c=$("$abp" complete --ckpt "$tmp/masked/checkpoint.h5" --data "$data" --limit 10 --langevin-steps 5 --out "$tmp/comp2" 2>/dev/null)
echo "$c" | grep -Eq "mask pepper:0.5, .*recovery_error=0\.[0-9]+" || fail "complete with the training mask printed: $c"; ok

# abp bench on the tiny model: its name-value lines, with figures that make sense.
b=$("$abp" bench --model "$model" --batch 8 --langevin-steps 2 --iters 3 --warmup 1 --sgemm-size 256 --threads 1)
for k in seconds_per_iteration gflops_per_iteration sgemm_gflops sgemm_gflops_before sgemm_gflops_after \
         percent_of_sgemm peak_rss_mb; do
  v=$(echo "$b" | sed -n "s/^$k //p")
  awk -v v="$v" 'BEGIN {exit !(v > 0)}' || fail "bench: $k is '$v'"
done; ok
# The reference rate is the mean of the two measurements, and the percentage is against it.
echo "$b" | awk '/^sgemm_gflops /{m=$2} /^sgemm_gflops_before /{b=$2} /^sgemm_gflops_after /{a=$2}
  /^iteration_gflops_per_second /{r=$2} /^percent_of_sgemm /{p=$2}
  END {d = p - 100 * r / m; exit !(m > 0 && (m - (a + b) / 2)^2 < 0.01 && d * d < (0.02 * p + 0.02)^2)}' ||
  fail "bench: sgemm_gflops is not the mean of before and after, or the percentage not against it"; ok
echo "$b" | grep -Eq "^the GEMMs alone: [0-9.]+ GFLOP/s, [0-9.]+% of sgemm" || fail "bench: no GEMMs-alone line"; ok
echo "$b" | grep -q "^03_deconv\|  03_deconv" || fail "bench: no per-layer line for 03_deconv"; ok

for cmd in train sample reconstruct complete interpolate info pca bench prepare; do
  # the whole text first: grep -q stops reading at the match, and the rest of a help text over
  # stdio's 4 KB buffer would then kill abp with SIGPIPE (seen in the sanitizer build)
  grep -q "^usage: abp $cmd" <<<"$("$abp" "$cmd" --help)" || fail "$cmd --help"
done; ok
echo "cli_workflow: $pass passed, 0 failed"
