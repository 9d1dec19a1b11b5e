#!/usr/bin/env bash
# abp train --objective classify and abp score --features CKPT (issue 11 §4): a small
# classifier learns digits (test accuracy well above chance, 0.1); a full-batch run on 1 rank
# and on 3 ranks gives the same classifier (up to summation order); a resumed run is bitwise
# the uninterrupted one (1 and 2 ranks); labels from HDF5 (/labels of abp prepare --labels,
# or an int32 /labels of its own) train bitwise the classifier of the IDX labels; abp score
# with it prints confidence and coverage; bad input fails with one line: no --labels, HDF5
# labels of the wrong type, rank, range, length or class, a generator checkpoint as
# --features, images of the wrong size, bad priors of the samples drawn.
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
small=(train --objective classify --classifier "$net" --limit 60 --threads 1 --quiet)
common=("${small[@]}" --data "$d/train-images-idx3-ubyte" --labels "$d/train-labels-idx1-ubyte")
"$abp" "${common[@]}" --full-batch --iters 5 --out "$tmp/r1" > /dev/null
"${mpi[@]}" "$abp" "${common[@]}" --full-batch --iters 5 --out "$tmp/r3" > /dev/null
"$diff" "$tmp/r1/checkpoint.h5" "$tmp/r3/checkpoint.h5" 1e-4 > /dev/null || fail "1 rank and 3 ranks differ"
info=$("$abp" info "$tmp/r1/checkpoint.h5")
grep -q -- "--labels=" <<<"$info" && ! grep -qE -- "--(descriptor|chains|encoder|init)=" <<<"$info" ||
  fail "/config should hold the classifier's options and no other objective's: $info"

# exact resume: 2 minibatch iterations, then --resume to 5, bit for bit the 5-iteration run,
# on 1 rank and on 2 (parameters, Adam's moments, the iteration; the batch order is keyed
# by the iteration)
for np in 1 2; do
  run=("$abp"); [ $np -gt 1 ] && run=(mpirun --oversubscribe -np $np "$abp")
  "${run[@]}" "${common[@]}" --batch 20 --iters 5 --out "$tmp/whole$np" > /dev/null
  "${run[@]}" "${common[@]}" --batch 20 --iters 2 --out "$tmp/part$np" > /dev/null
  "${run[@]}" "${common[@]}" --batch 20 --iters 5 --resume "$tmp/part$np/checkpoint.h5" --out "$tmp/part$np" > /dev/null
  "$diff" "$tmp/whole$np/checkpoint.h5" "$tmp/part$np/checkpoint.h5" 0 > /dev/null ||
    fail "resumed on $np rank(s) is not bitwise the uninterrupted run"
done

# labels from HDF5: abp prepare --labels stores /labels next to the images, and training on
# that file with --labels FILE.h5 is bitwise the run on the IDX files; so is a /labels of
# another integer type (int32, as h5import and h5py write it) in a file of its own
"$abp" prepare --idx "$d/train-images-idx3-ubyte" --labels "$d/train-labels-idx1-ubyte" --limit 60 --quiet \
  --out "$tmp/digits.h5" > "$tmp/prep"
grep -q "with their labels" "$tmp/prep" || fail "prepare --labels: $(cat "$tmp/prep")"
"$abp" info "$tmp/digits.h5" | grep -q "/labels: a label per example" || fail "abp info does not show /labels"
"$abp" "${small[@]}" --data "$tmp/digits.h5" --labels "$tmp/digits.h5" --full-batch --iters 5 --out "$tmp/h5" > /dev/null
"$diff" "$tmp/r1/checkpoint.h5" "$tmp/h5/checkpoint.h5" 0 > /dev/null || fail "labels from /labels train another classifier"
# mk_labels OUT IN|FP "DIMS" VALUES...: an HDF5 file with /labels made by h5import
mk_labels() {
  local out=$1 class=$2 dims=$3; shift 3
  echo "$@" > "$tmp/values.txt"
  printf 'PATH labels\nINPUT-CLASS TEXT%s\nRANK %d\nDIMENSION-SIZES %s\nOUTPUT-CLASS %s\nOUTPUT-SIZE 32\n' \
    "$([ "$class" = IN ] && echo IN || echo FP)" "$(wc -w <<<"$dims")" "$dims" "$class" > "$tmp/import.txt"
  h5import "$tmp/values.txt" -c "$tmp/import.txt" -o "$out" > /dev/null
}
read -r -a first60 <<<"$(od -A n -v -t u1 -j 8 -N 60 "$d/train-labels-idx1-ubyte" | tr -s ' \n' '  ')"
[ "${#first60[@]}" -eq 60 ] || fail "could not read 60 labels with od"
mk_labels "$tmp/int32.h5" IN 60 "${first60[@]}"
"$abp" "${small[@]}" --data "$d/train-images-idx3-ubyte" --labels "$tmp/int32.h5" --full-batch --iters 5 --out "$tmp/i32" > /dev/null
"$diff" "$tmp/r1/checkpoint.h5" "$tmp/i32/checkpoint.h5" 0 > /dev/null || fail "int32 /labels train another classifier"

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
# bad HDF5 labels: each one line naming the file and what is wrong, nothing written
bad_labels() { # FILE TEXT
  fails_with "$2" "$abp" "${small[@]}" --data "$d/train-images-idx3-ubyte" --labels "$1" --batch 20 --iters 1 --out "$tmp/bad"
  [ ! -e "$tmp/bad/checkpoint.h5" ] || fail "a refused --labels $1 left a checkpoint"
}
mk_labels "$tmp/float.h5" FP 60 "${first60[@]}"
bad_labels "$tmp/float.h5" "--labels: $tmp/float.h5: /labels holds floating-point numbers"
mk_labels "$tmp/rank2.h5" IN "2 30" "${first60[@]}"
bad_labels "$tmp/rank2.h5" "$tmp/rank2.h5: /labels has 2 dimensions; expected 1"
big=("${first60[@]}"); big[2]=300
mk_labels "$tmp/big.h5" IN 60 "${big[@]}"
bad_labels "$tmp/big.h5" "$tmp/big.h5: /labels[2] is 300; labels must be 0 to 255"
neg=("${first60[@]}"); neg[5]=-1
mk_labels "$tmp/neg.h5" IN 60 "${neg[@]}"
bad_labels "$tmp/neg.h5" "$tmp/neg.h5: /labels[5] is -1"
mk_labels "$tmp/short.h5" IN 10 "${first60[@]:0:10}"
bad_labels "$tmp/short.h5" "--labels $tmp/short.h5: 10 labels for 60 examples"
cls=("${first60[@]}"); cls[1]=12
mk_labels "$tmp/class.h5" IN 60 "${cls[@]}"
bad_labels "$tmp/class.h5" "label 12 of example 1, but the classifier has 10 classes"
"$abp" prepare --idx "$d/train-images-idx3-ubyte" --limit 60 --quiet --out "$tmp/unlabelled.h5" > /dev/null
bad_labels "$tmp/unlabelled.h5" "$tmp/unlabelled.h5: an HDF5 file without /labels"
bad_labels "$d/train-images-idx3-ubyte" "not an IDX labels file"
"$abp" train --data "$d/train-images-idx3-ubyte" --limit 16 --batch 8 --iters 1 --langevin-steps 1 --threads 1 --quiet --out "$tmp/g" > /dev/null
fails_with "not a feature network" "$abp" score --features "$tmp/g/checkpoint.h5" --ref "$d/t10k-images-idx3-ubyte" --samples "$d/train-images-idx3-ubyte"
fails_with "25x25x1 images" "$abp" score --features "$tmp/c/checkpoint.h5" --ref "$faces" --samples "$faces"
fails_with "$faces: 25x25x1 images, but the classifier features take 28x28x1 images" \
  "$abp" score --features "$tmp/c/checkpoint.h5" --ref "$d/t10k-images-idx3-ubyte" --ref-limit 50 --samples "$faces"
# a classifier where a generator is needed
fails_with "holds no generator" "$abp" score --features pixels --ref "$d/t10k-images-idx3-ubyte" --samples "$tmp/c/checkpoint.h5"
fails_with "holds no generator" "$abp" sample --ckpt "$tmp/c/checkpoint.h5" --out "$tmp/s.png"
[ ! -e "$tmp/s.png" ] || fail "a refused sample wrote $tmp/s.png"
echo "cli_classify: all passed (test accuracy $acc)"
