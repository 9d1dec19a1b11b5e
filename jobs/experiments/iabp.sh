#!/usr/bin/env bash
# The HiABP paper's MNIST experiments (Sun, Liu and Zhou 2021; docs/encoder.md) on the bundled
# digits, with IABP (--objective iabp) against its baselines:
#  table1  Table 1: test reconstruction error (mean squared error per pixel on the [0, 1]
#          scale, on the first TEST_N held-out t10k digits) of
#            VAE                  --objective vae; test: g(mu), the encoder's mean
#            ABP, non-persistent  --objective iabp --init prior; test: ABP_STEPS Langevin
#                                 steps from N(0, I) (abp reconstruct, the ABP paper's protocol)
#            ABP, persistent      --objective iabp --init persistent; test: the same
#            IABP [E]             --objective iabp; test: g(mu) (--init encoder --langevin-steps 0)
#            IABP [E+L]           the same model; test: T Langevin steps from mu (--init encoder)
#          all trained for ITERS iterations with the same settings (the paper's T Langevin
#          steps of size STEP, sigma 0.3 and Adamax; batch BATCH), and 64 samples from the prior of
#          each (OUT/ROW/samples.png); the paper's MNIST column beside. HiABP rows: L = 2 (a spec)
#          and L = 3 (hiabp-mnist28), trained and tested as IABP [E+L].
#          The ABP rows train with --objective iabp so that every row runs the same code with
#          the same settings; the encoder trained beside them does not touch the generator.
#  table3  Table 3: error against T (TABLE3_T, trained and tested with the same T), on the
#          first TEST_N training digits and the first TEST_N test digits, IABP [E+L].
#  cost    wall time per learning iteration (ABP persistent against IABP), and the test error
#          against the Langevin steps spent at test time: ABP from N(0, I) (COST_ABP_STEPS)
#          against IABP from the encoder (COST_IABP_STEPS), with the seconds abp reconstruct
#          took; the fewest IABP steps that reach ABP's error at ABP_STEPS.
#
#   bash jobs/experiments/iabp.sh [OUT]                 (default OUT: runs/iabp)
#
# Writes OUT/table1.md, OUT/table3.md, OUT/cost.md, OUT/commands.txt (every abp command it
# ran), a folder per model. Finished trainings and measurements are reused (a one-line .txt
# per measurement), so an interrupted run continues; remove OUT to start over.
#
# Environment (defaults: a small run, about 45 minutes here with table1 and table3 side by
# side, PARTS=table1 and PARTS=table3 on one OUT, then PARTS=cost; 2 cores shared at load 9-22):
#   ITERS=100          learning iterations of every model   (the paper: 300000)
#   N=1000             training digits                      (2000 are bundled)
#   TEST_N=100         digits reconstructed per measurement (the bundled t10k has 1000)
#   BATCH=50           examples per iteration               (the paper: 100)
#   T=15 STEP=0.15 SIGMA=0.3                                 (the paper's)
#   OPTIMIZER=adamax BETA1=0.9 LR=1e-3                       (the paper: Adamax, lr 3e-4 for both
#                                                             networks over 3e5 updates; a short
#                                                             run learns little at 3e-4)
#   ABP_STEPS=300      test steps of the ABP rows           (the ABP paper: 300)
#   TABLE3_T="5 10 15 30"
#   COST_ABP_STEPS="10 30 100 300"  COST_IABP_STEPS="0 5 15 30 100"
#   RANKS=1 THREADS=1  MPI ranks of training, threads per process
#   PARTS="table1 table3 cost"
# The paper's scale on a cluster node (hours):
#   ITERS=300000 LR=3e-4 BATCH=100 N=60000 TEST_N=1000 RANKS=4 THREADS=2 \
#     bash jobs/experiments/iabp.sh runs/iabp-full
# (with the full MNIST as --data: DATA=train-images-idx3-ubyte TEST_DATA=t10k-images-idx3-ubyte)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/iabp}
iters=${ITERS:-100} n=${N:-1000} test_n=${TEST_N:-100} batch=${BATCH:-50} T=${T:-15} step=${STEP:-0.15}
sigma=${SIGMA:-0.3} optimizer=${OPTIMIZER:-adamax} beta1=${BETA1:-0.9} lr=${LR:-1e-3} abp_steps=${ABP_STEPS:-300}
table3_t=${TABLE3_T:-5 10 15 30} cost_abp=${COST_ABP_STEPS:-10 30 100 300} cost_iabp=${COST_IABP_STEPS:-0 5 15 30 100}
ranks=${RANKS:-1} threads=${THREADS:-1} parts=${PARTS:-table1 table3 cost}
data=${DATA:-$here/datasets/mnist-small/train-images-idx3-ubyte}
test_data=${TEST_DATA:-$here/datasets/mnist-small/t10k-images-idx3-ubyte}
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=$threads # abp reconstruct takes OpenBLAS's default
abp=${ABP:-$here/build/abp}
[ -x "$abp" ] || bash "$here/jobs/setup.sh" > /dev/null
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$out/commands.txt
touch "$log"

run() { echo "$*" >> "$log"; "$@"; }
# value NAME LINE: the NAME= number of an abp output line.
value() { sed -n "s/.*$1=\([0-9.e+-]*\).*/\1/p" <<< "$2"; }
# seconds LINE: the ", 12.3 s," of an abp reconstruct line.
seconds() { sed -n 's/.*, \([0-9.]*\) s, mse=.*/\1/p' <<< "$1"; }
# measure FILE COMMAND...: the mse= line of COMMAND, kept in FILE and reused from there.
measure() {
  local file=$1; shift
  if [ ! -s "$file" ]; then
    mkdir -p "$(dirname "$file")"
    run "$@" 2>/dev/null | grep 'mse=' > "$file.tmp"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}
# train DIR ARGS...: trains into DIR for ITERS iterations with the common settings, unless DIR
# holds that finished run; continues one that was interrupted.
train() {
  local dir=$1; shift
  [ -e "$dir/metrics.csv" ] && [ "$(tail -1 "$dir/metrics.csv" | cut -d, -f1)" = "$iters" ] && return 0
  [ -e "$dir/checkpoint.h5" ] && set -- "$@" --resume "$dir/checkpoint.h5"
  run mpirun -np "$ranks" "$abp" train --data "$data" --limit "$n" --iters "$iters" --batch "$batch" \
    --sigma "$sigma" --langevin-step-size "$step" --optimizer "$optimizer" --beta1 "$beta1" --lr "$lr" \
    --encoder-lr "$lr" --threads "$threads" --out "$dir" --quiet "$@"
}
# test DIR KIND [DATA [NAME]]: the mse line of DIR's model on the first TEST_N digits of DATA
# (default: the test digits): KIND prior (ABP_STEPS steps from N(0, I)), E (the encoder
# alone), EL (T steps from the encoder: the checkpoint's T and step size).
test_line() {
  local dir=$1 kind=$2 set=${3:-$test_data} name=${4:-test}
  local args=()
  # the same measurement under one name: priorABP_STEPS is prior, EL0 is E, ELT is EL
  [ "$kind" != "prior$abp_steps" ] || kind=prior
  [ "$kind" != EL0 ] || kind=E
  [ "$kind" != "EL$T" ] || kind=EL
  case $kind in
    prior) args=(--langevin-steps "$abp_steps") ;;
    prior*) args=(--langevin-steps "${kind#prior}") ;; # prior30: 30 steps from N(0, I)
    E) args=(--init encoder --langevin-steps 0) ;;
    EL) args=(--init encoder) ;;
    EL*) args=(--init encoder --langevin-steps "${kind#EL}") ;; # EL30: 30 steps from the encoder
    *) echo "iabp: unknown test kind $kind" >&2; exit 1 ;;
  esac
  measure "$dir/$name-$kind/line.txt" mpirun -np "$ranks" "$abp" reconstruct --ckpt "$dir/checkpoint.h5" \
    --data "$set" --limit "$test_n" --batch 100 --threads "$threads" --out "$dir/$name-$kind" "${args[@]}"
}
# per_iteration DIR: seconds per learning iteration (metrics.csv's seconds column / iterations).
per_iteration() {
  awk -F, 'NR == 1 {for (k = 1; k <= NF; k++) if ($k == "seconds") c = k}
           END {printf "%.3f", $c / $1}' "$1/metrics.csv"
}

# ---------------------------------------------------------------- Table 1
hiabp_l2_model="z 22 | linear 7x7x128 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | latent 8 | deconv 32 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
hiabp_l2_encoder="z 28x28x1 | conv 64 k5 s2 | bn | lrelu 0.2 | head 8 | conv 128 k5 s2 | bn | lrelu 0.2 | linear 256 | lrelu 0.2 | linear 44"
# row KEY "LABEL" PAPER KIND TRAIN_ARGS...: trains OUT/KEY (shared by rows of the same KEY)
# and adds a table row of its test error by KIND.
rows=()
row() {
  local key=$1 label=$2 paper=$3 kind=$4; shift 4
  train "$out/$key" "$@"
  local line
  line=$(test_line "$out/$key" "$kind")
  echo "iabp: $label: $line"
  rows+=("| $label | $(value mse "$line") | $paper | \`$key\` |")
}
if [[ " $parts " == *" table1 "* ]]; then
  row vae "VAE" 0.0202 E --objective vae --model mnist28
  row abp-prior "ABP, non-persistent" 0.0192 prior --objective iabp --init prior --model mnist28 --langevin-steps "$T"
  row abp-persistent "ABP, persistent" 0.0183 prior --objective iabp --init persistent --model mnist28 --langevin-steps "$T"
  row "iabp-T$T" "IABP [E]" 0.0195 E --objective iabp --init encoder --model mnist28 --langevin-steps "$T"
  row "iabp-T$T" "IABP [E+L]" 0.0180 EL --objective iabp --init encoder --model mnist28 --langevin-steps "$T"
  # ---- HiABP rows (issue 10 §2): the L = 2 spec of jobs/experiments/hiabp.sh (codes 22 + 8)
  # and the built-in hiabp-mnist28 (L = 3, codes 6 + 8 + 16); d = 30 as mnist28's.
  row hiabp-l2 "HiABP [E+L], L = 2" 0.0174 EL --objective iabp --model "$hiabp_l2_model" --encoder "$hiabp_l2_encoder" --langevin-steps "$T"
  row hiabp-l3 "HiABP [E+L], L = 3" 0.0162 EL --objective iabp --model hiabp-mnist28 --langevin-steps "$T"
  # ---- end of the HiABP rows
  {
    echo "| model | test mse (abp) | the paper's MNIST | run |"
    echo "|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  } > "$out/table1.md"
  echo "iabp: wrote $out/table1.md"; cat "$out/table1.md"
fi

# ---------------------------------------------------------------- Table 3
if [[ " $parts " == *" table3 "* ]]; then
  head="| | "; line="|---|"; train_row="| train mse |"; test_row="| test mse |"
  for t in $table3_t; do
    train "$out/iabp-T$t" --objective iabp --init encoder --model mnist28 --langevin-steps "$t"
    tr=$(test_line "$out/iabp-T$t" EL "$data" train)
    te=$(test_line "$out/iabp-T$t" EL)
    echo "iabp: T = $t: train $tr"
    echo "iabp: T = $t: test $te"
    head="$head T = $t |"; line="$line---|"
    train_row="$train_row $(value mse "$tr") |"; test_row="$test_row $(value mse "$te") |"
  done
  printf '%s\n' "$head" "$line" "$train_row" "$test_row" > "$out/table3.md"
  echo "iabp: wrote $out/table3.md"; cat "$out/table3.md"
fi

# ---------------------------------------------------------------- cost
if [[ " $parts " == *" cost "* ]]; then
  abp_dir=$out/abp-persistent iabp_dir=$out/iabp-T$T
  train "$abp_dir" --objective iabp --init persistent --model mnist28 --langevin-steps "$T"
  train "$iabp_dir" --objective iabp --init encoder --model mnist28 --langevin-steps "$T"
  target=
  {
    echo "Training: $(per_iteration "$abp_dir") s per iteration (ABP, persistent), $(per_iteration "$iabp_dir") s (IABP), T = $T"
    echo
    echo "| test-time Langevin steps | start | test mse | seconds for $test_n digits |"
    echo "|---|---|---|---|"
    for s in $cost_abp; do
      l=$(test_line "$abp_dir" "prior$s")
      echo "| $s | N(0, I), ABP model | $(value mse "$l") | $(seconds "$l") |"
      [ "$s" != "$abp_steps" ] || target=$(value mse "$l")
    done
    for s in $cost_iabp; do
      l=$(test_line "$iabp_dir" "EL$s")
      echo "| $s | encoder, IABP model | $(value mse "$l") | $(seconds "$l") |"
    done
  } > "$out/cost.md.tmp"
  if [ -n "$target" ]; then
    reached=
    for s in $cost_iabp; do
      m=$(value mse "$(test_line "$iabp_dir" "EL$s")")
      if awk -v a="$m" -v b="$target" 'BEGIN {exit !(a <= b)}'; then reached=$s; break; fi
    done
    { echo; if [ -n "$reached" ]; then
        echo "IABP reaches ABP's test mse at $abp_steps steps ($target) with $reached steps from the encoder."
      else
        echo "IABP does not reach ABP's test mse at $abp_steps steps ($target) within $cost_iabp steps from the encoder."
      fi; } >> "$out/cost.md.tmp"
  fi
  mv "$out/cost.md.tmp" "$out/cost.md"
  echo "iabp: wrote $out/cost.md"; cat "$out/cost.md"
fi
