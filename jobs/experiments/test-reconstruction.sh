#!/usr/bin/env bash
# Model evaluation by reconstruction of unseen test images (Han et al. 2017, Experiment 7,
# Table 3), on MNIST instead of CelebA:
#  (a) the table: for each latent dimension d (20, 60, 100) train mnist28 --latent-dim d on
#      the bundled training digits, infer z for the first TEST_N test digits with
#      abp reconstruct (z from N(0, I), STEPS Langevin steps of size 0.05: the paper's 300
#      by default) and report the mean squared error per pixel, next to PCA with the same d
#      fitted to the same training digits (abp pca) on the same test digits;
#  (b) the curve: train on the digits 0-4 only, checkpointing every CKPT_EVERY iterations,
#      and at each checkpoint reconstruct CURVE_N training digits 0-4, CURVE_N test digits
#      0-4 and CURVE_N test digits 5-9 (a class never seen), the same way; one CSV row per
#      checkpoint and a gnuplot PNG of the three errors against the iteration.
#
#   bash jobs/experiments/test-reconstruction.sh [OUT]     (default runs/test-reconstruction)
#
# Writes OUT/table.md, OUT/curve.csv, OUT/curve.png and OUT/commands.txt (every abp command
# it ran); a run folder per model under OUT. Finished trainings and measurements in OUT
# (each kept as a one-line abp.txt / pca.txt) are reused, so an interrupted run continues
# where it stopped, and the two parts can run at once (PARTS=table and PARTS=curve, same
# OUT); remove OUT to start over.
#
# Environment (defaults: a small run, about 10 minutes of one core here):
#   DIMS="20 60 100"  latent dimensions of the table
#   ITERS=100         learning iterations of each table model      (full protocol: 600)
#   N=2000            training digits for the table                (all the bundled ones)
#   TEST_N=100        test digits reconstructed for the table      (the paper: 300)
#   STEPS=300         Langevin steps of the table's reconstruction (the paper: 300)
#   CURVE_ITERS=100   learning iterations of the curve model       (full protocol: 600)
#   CKPT_EVERY=20     a point of the curve every this many         (full protocol: 50)
#   CURVE_N=100       digits of each of the three curve sets       (full protocol: 200)
#   CURVE_STEPS=100   Langevin steps of the curve's reconstruction (full protocol: 300)
#   RANKS=1 THREADS=1 MPI ranks of training, BLAS threads per process (a cluster: more)
#   LR=1e-3           learning rate (as jobs/local/mnist.sh)
#   PARTS="table curve"  which parts to run
# The full protocol on a cluster node (about an hour on 8 cores):
#   ITERS=600 TEST_N=300 CURVE_ITERS=600 CKPT_EVERY=50 CURVE_N=200 CURVE_STEPS=300 RANKS=4 \
#     bash jobs/experiments/test-reconstruction.sh runs/test-reconstruction-full
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/test-reconstruction}
dims=${DIMS:-20 60 100} iters=${ITERS:-100} n=${N:-2000} test_n=${TEST_N:-100} steps=${STEPS:-300}
curve_iters=${CURVE_ITERS:-100} ckpt_every=${CKPT_EVERY:-20} curve_n=${CURVE_N:-100}
curve_steps=${CURVE_STEPS:-100} ranks=${RANKS:-1} threads=${THREADS:-1} lr=${LR:-1e-3}
parts=${PARTS:-table curve}
data=$here/datasets/mnist-small
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=$threads   # abp reconstruct and abp pca take OpenBLAS's default
bash "$here/jobs/setup.sh" > /dev/null
# shellcheck source=jobs/packages.sh
source "$here/jobs/packages.sh"
ensure_packages gnuplot-nox   # the curve's plot
abp=$here/build/abp
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/commands.txt

# run COMMAND...: runs it, after noting it in commands.txt.
run() { echo "$*" >> "$log"; "$@"; }
# mse LINE: the mse= value of an abp reconstruct / abp pca line.
mse() { sed -n 's/.*mse=\([0-9.]*\).*/\1/p' <<< "$1"; }
# measure FILE COMMAND...: the result line of COMMAND, kept in FILE and reused from there.
measure() {
  local file=$1; shift
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    run "$@" 2>/dev/null | grep 'mse=' > "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}
# train DIR ITERS ARGS...: trains mnist28 into DIR for ITERS iterations, unless DIR holds
# that finished run already; continues one that was interrupted.
train() {
  local dir=$1 iters=$2; shift 2
  [ -e "$dir/metrics.csv" ] && [ "$(tail -1 "$dir/metrics.csv" | cut -d, -f1)" = "$iters" ] && return 0
  [ -e "$dir/checkpoint.h5" ] && set -- "$@" --resume "$dir/checkpoint.h5"
  run mpirun -np "$ranks" "$abp" train --model mnist28 --lr "$lr" --threads "$threads" --iters "$iters" \
    --out "$dir" --quiet "$@"
}

# ---------------------------------------------------------------- (a) the table
if [[ " $parts " == *" table "* ]]; then
  rows=()
  for d in $dims; do
    dir=$out/d$d
    train "$dir" "$iters" --data "$data/train-images-idx3-ubyte" --limit "$n" --latent-dim "$d"
    abp_line=$(measure "$dir/test/abp.txt" "$abp" reconstruct --ckpt "$dir/checkpoint.h5" \
                 --data "$data/t10k-images-idx3-ubyte" --limit "$test_n" --langevin-steps "$steps" --out "$dir/test")
    pca_line=$(measure "$dir/test/pca.txt" "$abp" pca --train "$data/train-images-idx3-ubyte" --limit "$n" \
                 --test "$data/t10k-images-idx3-ubyte" --test-limit "$test_n" --dim "$d")
    echo "d=$d: $abp_line"
    echo "d=$d: $pca_line"
    rows+=("| $d | $(mse "$abp_line") | $(mse "$pca_line") |")
  done
  table=$out/table.md
  {
    echo "| d | ABP (abp reconstruct) | PCA (abp pca) |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } > "$table"
  echo "test-reconstruction: wrote $table"; cat "$table"
fi
[[ " $parts " == *" curve "* ]] || exit 0

# ---------------------------------------------------------------- (b) the curve
# The three sets, as HDF5 data sets of the selected digits (original names kept).
sets=$out/sets
mkdir -p "$sets"
prepare() { # OUT IMAGES LABELS CLASSES [LIMIT]
  [ -e "$1" ] || run "$abp" prepare --idx "$2" --labels "$3" --classes "$4" --limit "${5:-0}" --out "$1" --quiet > /dev/null
}
prepare "$sets/train-0-4.h5" "$data/train-images-idx3-ubyte" "$data/train-labels-idx1-ubyte" 0-4
prepare "$sets/test-0-4.h5" "$data/t10k-images-idx3-ubyte" "$data/t10k-labels-idx1-ubyte" 0-4 "$curve_n"
prepare "$sets/test-5-9.h5" "$data/t10k-images-idx3-ubyte" "$data/t10k-labels-idx1-ubyte" 5-9 "$curve_n"

dir=$out/curve
train "$dir" "$curve_iters" --data "$sets/train-0-4.h5" --checkpoint-every "$ckpt_every" --keep-checkpoints 1000000
csv=$out/curve.csv
echo "iteration,train_0_4_mse,test_0_4_mse,test_5_9_mse" > "$csv.tmp"
for ckpt in "$dir"/checkpoint-*.h5; do
  it=$(basename "$ckpt" .h5); it=$((10#${it#checkpoint-}))
  row=$it
  for set in train-0-4 test-0-4 test-5-9; do
    line=$(measure "$dir/recon-$it/$set/abp.txt" "$abp" reconstruct --ckpt "$ckpt" --data "$sets/$set.h5" \
             --limit "$curve_n" --langevin-steps "$curve_steps" --out "$dir/recon-$it/$set")
    row=$row,$(mse "$line")
  done
  echo "$row" | tee -a "$csv.tmp"
done
mv "$csv.tmp" "$csv"

gp=$out/curve.gp
cat > "$gp" <<EOF
set terminal pngcairo size 900,560 font "sans,12"
set output "$out/curve.png"
set datafile separator ","
set title "mnist28 trained on digits 0-4: reconstruction of $curve_n digits per set\\n(z from N(0, I), $curve_steps Langevin steps of size 0.05)"
set xlabel "learning iteration"
set ylabel "mean squared error per pixel ([0, 1] scale)"
set grid
set key top right
plot "$csv" using 1:2 with linespoints lw 2 pt 7 lc rgb "#4477aa" title "training digits 0-4", \\
     "$csv" using 1:3 with linespoints lw 2 pt 5 lc rgb "#228833" title "test digits 0-4", \\
     "$csv" using 1:4 with linespoints lw 2 pt 9 lc rgb "#ee6677" title "test digits 5-9 (class not trained on)"
EOF
gnuplot "$gp" > "$out/gnuplot.log" 2>&1 || { cat "$out/gnuplot.log" >&2; exit 1; }
echo "test-reconstruction: wrote $csv and $out/curve.png"
