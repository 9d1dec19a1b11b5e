#!/usr/bin/env bash
# Priors fitted to the latents (issue 11 §2, §5): one trained generator sampled with each
# prior (normal, gaussian, gmm:K for several K) and each batch-norm choice (running
# statistics, or recomputed on the prior's draws), every abp score figure for each, and a
# picture row of 10 samples each.
#   bash jobs/experiments/priors.sh [OUT]      (default runs/priors; trains the main job's
#                                              model first unless CKPT is given)
# Environment: CKPT=<generator checkpoint> CLASSIFIER=<classify checkpoint> N=1000 (samples
# per prior, stand-in features) CN=500 (samples per prior, classifier features) KS="2 5 10 20 50"
# RANKS=2 ITERS=1000 CLASSIFY_ITERS=1000; EBM_CKPT=<checkpoint> EBM_ARGS="--prior ebm" adds
# the row of another model (the hook model_row below: name, checkpoint, sampling options).
#
# Two sets of features:
#   - the stand-ins pixels and pca:50 (of the test digits): N samples against the 1,000 test
#     digits; they rank priors against each other but are not a classifier FID;
#   - a classify28 trained here on the 2,000 bundled training digits and their labels
#     (abp train --objective classify; its test accuracy on the 1,000 held-out digits is
#     printed and kept in classifier.txt): CN samples against test digits 0-499. Its floor
#     is real held-out data: test digits 500-999 scored as if they were samples (neither
#     the generator nor the classifier saw any test digit).
# The stand-ins' floor: the 2,000 training digits scored as samples against the test digits.
# Measurements are kept as one .txt each and reused; remove OUT to start over.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/priors}
n=${N:-1000} cn=${CN:-500} ks=${KS:-2 5 10 20 50} ranks=${RANKS:-2} iters=${ITERS:-1000}
citers=${CLASSIFY_ITERS:-1000}
digits=$here/datasets/mnist-small
data=$digits/train-images-idx3-ubyte labels=$digits/train-labels-idx1-ubyte
test=$digits/t10k-images-idx3-ubyte test_labels=$digits/t10k-labels-idx1-ubyte
for f in "$data" "$labels" "$test" "$test_labels"; do
  [ -s "$f" ] || { echo "priors: $f is missing (see datasets/mnist-small/README.md)" >&2; exit 1; }
done
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=${ABP:-$here/build/abp}
mkdir -p "$out/scores" "$out/pictures"
ckpt=${CKPT:-$out/model/checkpoint.h5}
if [ ! -e "$ckpt" ]; then # the main job's training (jobs/local/mnist.sh)
  mpirun -np "$ranks" "$abp" train --data "$data" --model mnist28 --out "$out/model" --iters "$iters" \
    --batch 64 --lr 1e-3
fi

# The feature network: classify28 on the training digits, its accuracy on the test digits.
classifier=${CLASSIFIER:-$out/classifier/checkpoint.h5}
if [ ! -e "$classifier" ]; then
  mpirun -np "$ranks" "$abp" train --objective classify --classifier classify28 --data "$data" --labels "$labels" \
    --test-data "$test" --test-labels "$test_labels" --iters "$citers" --batch 64 --lr 1e-3 \
    --out "$out/classifier" | tee "$out/classifier.log"
  grep -o 'test_accuracy=[0-9.]* on [0-9]* examples' "$out/classifier.log" > "$out/classifier.txt"
fi

# The held-out floor of the classifier features: test digits 500-999 as an IDX file of their own.
# idx_rows SRC FIRST COUNT OUT: rows FIRST .. FIRST + COUNT - 1 of an IDX image file.
idx_rows() {
  local src=$1 first=$2 count=$3 dst=$4 side
  side=$(od -A n -t u1 -j 8 -N 8 "$src" | awk '{ print ($1*16777216+$2*65536+$3*256+$4) * ($5*16777216+$6*65536+$7*256+$8) }')
  local be
  be=$(printf '\\%03o\\%03o\\%03o\\%03o' $((count >> 24 & 255)) $((count >> 16 & 255)) $((count >> 8 & 255)) $((count & 255)))
  { head -c 4 "$src"; printf "$be"; tail -c +9 "$src" | head -c 8
    tail -c +$((17 + first * side)) "$src" | head -c $((count * side)); } > "$dst.tmp"
  mv "$dst.tmp" "$dst"
}
held_out=$out/test-500-999-idx3-ubyte
[ -s "$held_out" ] || idx_rows "$test" 500 500 "$held_out"

# score FEATURES NAME SAMPLE-ARGS...: one measurement, kept in scores/NAME.FEATURES.txt
# (FEATURES pca:50, pixels, or classifier: the feature network above, CN samples against
# test digits 0-499)
score() {
  local features=$1 name=$2; shift 2
  local file=$out/scores/$name.${features//:/}.txt
  [ -s "$file" ] && return 0
  if [ "$features" = classifier ]; then
    "$abp" score --features "$classifier" --ref "$test" --ref-limit 500 --train "$data" "$@" > "$file.tmp"
  else
    "$abp" score --features "$features" --ref "$test" --train "$data" "$@" > "$file.tmp"
  fi
  mv "$file.tmp" "$file"
}
field() { grep "^$2=" "$1" | cut -d= -f2; }

# model_row LABEL BATCHNORM NAME CKPT SAMPLE-OPTIONS...: the hook for one table row: the
# samples of generator checkpoint CKPT drawn with SAMPLE-OPTIONS (e.g. --prior gmm:10),
# scored under NAME with every feature map, and their picture row pictures/NAME.png.
rows=()
model_row() {
  local label=$1 bn=$2 name=$3 ck=$4; shift 4
  for features in pca:50 pixels; do
    score "$features" "$name" --samples "$ck" --n "$n" --batchnorm "$bn" --seed 1 "$@"
  done
  score classifier "$name" --samples "$ck" --n "$cn" --batchnorm "$bn" --seed 1 "$@"
  [ -s "$out/pictures/$name.png" ] ||
    "$abp" sample --ckpt "$ck" --out "$out/pictures/$name.png" --n 10 --cols 10 --batchnorm "$bn" --seed 1 "$@" > /dev/null
  rows+=("$label|$bn|$name")
}

priors="normal gaussian"
for k in $ks; do priors="$priors gmm:$k"; done
for prior in $priors; do
  for bn in running prior; do model_row "$prior" "$bn" "${prior//:/}-$bn" "$ckpt" --prior "$prior"; done
done
# Another model's row (an EBM-prior checkpoint, issue 11 §3): EBM_CKPT, sampled with EBM_ARGS.
if [ -n "${EBM_CKPT:-}" ]; then
  # shellcheck disable=SC2086
  model_row "EBM prior (${EBM_ARGS:-its default})" prior ebm "$EBM_CKPT" ${EBM_ARGS:-}
fi
# The floors: real digits scored as if they were samples.
for features in pca:50 pixels; do score "$features" real --samples "$data"; done
score classifier real --samples "$held_out"

table=$out/priors.md
{
  echo "Stand-in features: $n samples against the 1,000 test digits"
  echo
  echo "| prior | batch norm | fd pca:50 | kid pca:50 | precision | recall | fd pixels | kid pixels | precision | recall | nn_train |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}" "real training digits|-|real"; do
    IFS='|' read -r label bn name <<<"$row"
    p=$out/scores/$name.pca50.txt x=$out/scores/$name.pixels.txt
    echo "| $label | $bn | $(field "$p" fd) | $(field "$p" kid) | $(field "$p" precision) | $(field "$p" recall) |" \
      "$(field "$x" fd) | $(field "$x" kid) | $(field "$x" precision) | $(field "$x" recall) | $(field "$x" nn_train) |"
  done
  echo
  echo "ref_nn_train (test digits to their nearest training digit): $(field "$out/scores/real.pixels.txt" ref_nn_train)"
  echo
  echo "Classifier features (classify28, $(cat "$out/classifier.txt" 2> /dev/null || echo "given as CLASSIFIER")):"
  echo "$cn samples against test digits 0-499"
  echo
  echo "| prior | batch norm | classifier fd | kid | precision | recall | confidence | coverage | nn_train |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}" "real held-out digits (test 500-999)|-|real"; do
    IFS='|' read -r label bn name <<<"$row"
    c=$out/scores/$name.classifier.txt
    echo "| $label | $bn | $(field "$c" fd) | $(field "$c" kid) | $(field "$c" precision) | $(field "$c" recall) |" \
      "$(field "$c" confidence) | $(field "$c" coverage) | $(field "$c" nn_train) |"
  done
} > "$table"
cat "$table"
