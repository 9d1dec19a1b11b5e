#!/usr/bin/env bash
# abp train --objective classify and abp score --features CKPT (issue 11 §4): a small
# classifier learns digits (test accuracy well above chance, 0.1); a full-batch run on 1 rank
# and on 3 ranks gives the same classifier (up to summation order); abp score with it prints
# confidence and coverage; bad input fails with one line: no --labels, a generator checkpoint
# as --features, images of the wrong size.
# Usage: cli_classify.sh ABP SRCDIR [CKPT_DIFF]
set -euo pipefail
abp=$1 src=$2 diff=${3:-$(dirname "$abp")/ckpt_diff}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
d=$src/datasets/mnist-small
faces=$src/datasets/lfw/faces-25x25-idx3-ubyte
fail() { echo "FAIL: $*"; exit 1; }
net="z 28x28x1 | conv 8 k5 s2 | lrelu 0.2 | conv 8 k5 s2 | lrelu 0.2 | linear 32 | lrelu 0.2 | linear 10"
"$abp" train --objective classify --classifier "$net" --data "$d/train-images-idx3-ubyte" \
  --labels "$d/train-labels-idx1-ubyte" --test-data "$d/t10k-images-idx3-ubyte" \
  --test-labels "$d/t10k-labels-idx1-ubyte" --iters 60 --lr 2e-3 --threads 1 --out "$tmp/c" > "$tmp/log"
acc=$(sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$tmp/log")
[ -n "$acc" ] || fail "no test_accuracy in: $(cat "$tmp/log")"
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "test accuracy $acc is not above 0.5"

# rank count: full batch on 1 and on 3 ranks
mpi=(mpirun --oversubscribe -np 3)
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common=(train --objective classify --classifier "$net" --data "$d/train-images-idx3-ubyte" --limit 60
  --labels "$d/train-labels-idx1-ubyte" --full-batch --iters 5 --threads 1 --quiet)
"$abp" "${common[@]}" --out "$tmp/r1" > /dev/null
"${mpi[@]}" "$abp" "${common[@]}" --out "$tmp/r3" > /dev/null
"$diff" "$tmp/r1/checkpoint.h5" "$tmp/r3/checkpoint.h5" 1e-4 > /dev/null || fail "1 rank and 3 ranks differ"

# score with the classifier's features: real test digits against training digits
"$abp" score --features "$tmp/c/checkpoint.h5" --ref "$d/t10k-images-idx3-ubyte" --ref-limit 200 \
  --samples "$d/train-images-idx3-ubyte" > "$tmp/score"
grep -q '^features=classifier$' "$tmp/score" || fail "features: $(cat "$tmp/score")"
grep -q '^confidence=0\.[0-9]*$' "$tmp/score" || fail "no confidence: $(cat "$tmp/score")"
grep -q '^coverage=1\.0000$' "$tmp/score" || fail "real digits should cover all classes: $(cat "$tmp/score")"

fails_with() {
  local text=$1; shift
  local rc=0
  "$@" > "$tmp/out.txt" 2> "$tmp/err.txt" || rc=$?
  [ "$rc" -ne 0 ] || fail "$* succeeded"
  [ "$(wc -l < "$tmp/err.txt")" -eq 1 ] || fail "$* said more than one line: $(cat "$tmp/err.txt")"
  grep -qF -- "$text" "$tmp/err.txt" || fail "$* said: $(cat "$tmp/err.txt") (wanted: $text)"
}
fails_with "needs --labels FILE" "$abp" train --objective classify --data "$d/train-images-idx3-ubyte" --iters 1 --out "$tmp/x"
"$abp" train --data "$d/train-images-idx3-ubyte" --limit 16 --batch 8 --iters 1 --langevin-steps 1 --threads 1 --quiet --out "$tmp/g" > /dev/null
fails_with "not a feature network" "$abp" score --features "$tmp/g/checkpoint.h5" --ref "$d/t10k-images-idx3-ubyte" --samples "$d/train-images-idx3-ubyte"
fails_with "25x25x1 images" "$abp" score --features "$tmp/c/checkpoint.h5" --ref "$faces" --samples "$faces"
echo "cli_classify: all passed (test accuracy $acc)"
