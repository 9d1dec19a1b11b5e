#!/usr/bin/env bash
# Scaling study of `abp train`: strong scaling (fixed global batch) and weak scaling (fixed
# batch per rank) over p = 1, 2, 4, ... ranks. Writes OUT/scaling.csv and OUT/scaling.png and
# keeps every run's folder (metrics.csv, abp.log) under OUT/runs/. Run with --help.
set -euo pipefail

prog=bench/scaling.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=("$@")

usage() {
  cat <<EOF
usage: $prog [options] [-- extra abp train options]

Runs \`abp train\` under MPI for p = 1, 2, 4, ... up to --max-ranks (and --max-ranks itself
if it is not a power of two), once with a fixed global batch (strong scaling) and once with a
fixed batch per rank (weak scaling), each with 1 BLAS thread per rank (--threads 1), so that
p ranks use p cores. From each run's metrics.csv (rank 0's split of each iteration) it takes
the iterations after the warm-up: the median compute and allreduce time per iteration, the
I/O time (a checkpoint every K iterations: the median write time divided by K), their sum T,
and the largest rank's peak RSS. Each configuration runs --repeat times, in rounds (every
configuration once per round); the table keeps the round with the smallest T (other programs
on the machine only ever add time) and the spread of the rounds. Efficiency: strong
T(1) / (p T(p)), weak T(1) / T(p).

Writes OUT/scaling.csv, OUT/scaling.png (gnuplot), OUT/scaling.txt (the command, machine and
table) and OUT/runs/{strong,weak}-pP-rR/ (each run's metrics.csv, abp.log and command).

scaling.csv, one row per (mode, p): seconds_per_iteration = compute_s + allreduce_s + io_s;
compute_s and allreduce_s (time inside MPI_Allreduce on rank 0: the gradient sum, batch
norm's statistic sums, and waiting for slower ranks) are medians over the measured iterations
without a checkpoint; io_s = checkpoint_write_s / checkpoint_every; median_wall_s is the median
wall time of those iterations, as a check; peak_rss_mb is the largest rank's; oversubscribed is
1 when p * threads_per_rank > the cores; repeat_spread = slowest / fastest round;
cpu_busy_before = how busy (%) other programs kept the CPUs just before the counted run.

options:
  --out DIR              output folder [runs/scaling]; must not hold results, unless --force
  --force                replace earlier results in DIR (scaling.*, runs/)
  --max-ranks P          largest number of ranks [4]
  --model NAME|SPEC      abp model [mnist28]
  --data PATH            training data [datasets/mnist-small/train-images-idx3-ubyte]
  --limit N              use only the first N examples (abp train --limit) [all]
  --batch B              strong scaling: global batch [64]
  --batch-per-rank b     weak scaling: batch per rank; global batch p*b [64]
  --warmup W             iterations dropped before measuring [3]
  --measure M            iterations measured after the warm-up [15]
  --repeat R             rounds of runs; the fastest round of each configuration counts [3]
  --checkpoint-every K   checkpoint every K iterations (0: none; I/O is then 0) [5]
  --langevin-steps L     abp train --langevin-steps [abp's default, 10]
  --threads T            BLAS threads per rank [1]
  --cores N              cores available; runs with p*T > N are marked oversubscribed and get
                         \$OVERSUBSCRIBE [\$SLURM_NTASKS, else nproc]
  --modes LIST           strong,weak or one of them [strong,weak]
  --abp PATH             the abp program [\$ABP, else build/abp]
  --no-plot              skip the PNG (no gnuplot needed)
  -h, --help             this text

environment:
  MPIRUN        launcher prefix; "-np P" and the program follow it [mpirun]
                (e.g. MPIRUN="mpirun --bind-to core" or MPIRUN="mpiexec")
  OVERSUBSCRIBE flag added to the launcher when p*T exceeds the cores [--oversubscribe]
                (Open MPI's; set it empty for MPICH, which allows oversubscription anyway)
  As root, Open MPI also needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.

Exit status: 0 success, 1 a run or the plot failed, 2 a usage error.
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; echo "(see $prog --help)" >&2; exit 2; }
need_int() { # name value min
  [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] || usage_error "$1 needs an integer >= $3, not '$2'"
}

out=runs/scaling force=0 max_ranks=4 model=mnist28
data=$here/datasets/mnist-small/train-images-idx3-ubyte
limit=0 batch=64 batch_per_rank=64 warmup=3 measure=15 repeat=3 ckpt_every=5 langevin='' threads=1
cores=${SLURM_NTASKS:-$(nproc)} modes=strong,weak abp=${ABP:-$here/build/abp} plot=1
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --force) force=1; shift; continue ;;
    --no-plot) plot=0; shift; continue ;;
    --) shift; extra=("$@"); break ;;
    --out|--max-ranks|--model|--data|--limit|--batch|--batch-per-rank|--warmup|--measure|\
    --checkpoint-every|--langevin-steps|--threads|--cores|--modes|--abp|--repeat)
      [ $# -ge 2 ] || usage_error "$1 needs a value"
      case $1 in
        --out) out=$2 ;; --max-ranks) max_ranks=$2 ;; --model) model=$2 ;; --data) data=$2 ;;
        --limit) limit=$2 ;; --batch) batch=$2 ;; --batch-per-rank) batch_per_rank=$2 ;;
        --warmup) warmup=$2 ;; --measure) measure=$2 ;; --checkpoint-every) ckpt_every=$2 ;;
        --langevin-steps) langevin=$2 ;; --threads) threads=$2 ;; --cores) cores=$2 ;;
        --modes) modes=$2 ;; --abp) abp=$2 ;; --repeat) repeat=$2 ;;
      esac
      shift 2 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done

need_int --max-ranks "$max_ranks" 1
need_int --limit "$limit" 0
need_int --batch "$batch" 1
need_int --batch-per-rank "$batch_per_rank" 1
need_int --warmup "$warmup" 0
need_int --measure "$measure" 1
need_int --repeat "$repeat" 1
need_int --checkpoint-every "$ckpt_every" 0
[ -z "$langevin" ] || need_int --langevin-steps "$langevin" 0
need_int --threads "$threads" 1
need_int --cores "$cores" 1
run_strong=0 run_weak=0
IFS=, read -r -a mode_list <<< "$modes"
for m in "${mode_list[@]}"; do
  case $m in strong) run_strong=1 ;; weak) run_weak=1 ;; *) usage_error "--modes takes strong and/or weak, not '$m'" ;; esac
done
[ $((run_strong + run_weak)) -gt 0 ] || usage_error "--modes is empty"
iters=$((warmup + measure))
if [ "$ckpt_every" -gt 0 ]; then
  # abp writes a checkpoint after iteration i when i % K == 0 and i < iters (the last one is
  # written after the loop and not timed), so the measured window must hold one.
  first=$(( (warmup / ckpt_every + 1) * ckpt_every ))
  [ "$first" -lt "$iters" ] || usage_error "no checkpoint falls among the measured iterations $((warmup + 1))..$iters with --checkpoint-every $ckpt_every (needs a multiple of K below $iters); lower K or raise --measure, or use --checkpoint-every 0"
fi

# Everything the runs need, checked before the first one starts.
[ -x "$abp" ] || die "abp program '$abp' not found or not executable (build it: cmake -S . -B build && cmake --build build; or pass --abp PATH)"
[ -e "$data" ] || die "--data $data: no such file or folder"
MPIRUN=${MPIRUN:-mpirun}
OVERSUBSCRIBE=${OVERSUBSCRIBE---oversubscribe}
read -r -a launcher <<< "$MPIRUN"
command -v "${launcher[0]}" > /dev/null || die "launcher '${launcher[0]}' (from MPIRUN) not found; install Open MPI (openmpi-bin) or set MPIRUN"
if [ "$plot" -eq 1 ] && ! command -v gnuplot > /dev/null; then
  die "gnuplot not found: the plot needs it. Install Debian's gnuplot-nox (apt-get install gnuplot-nox), or pass --no-plot for the CSV alone"
fi
n_examples=$("$abp" info "$data" 2>/dev/null | sed -n 's/.*: [a-z0-9 ]*data, \([0-9][0-9]*\) examples.*/\1/p' | head -1 || true)
if [ -n "$n_examples" ] && [ "$limit" -gt 0 ] && [ "$limit" -lt "$n_examples" ]; then n_examples=$limit; fi

ranks=()
for ((p = 1; p <= max_ranks; p *= 2)); do ranks+=("$p"); done
[ "${ranks[-1]}" -eq "$max_ranks" ] || ranks+=("$max_ranks")
if [ -n "$n_examples" ]; then
  [ "$max_ranks" -le "$n_examples" ] || die "--max-ranks $max_ranks is more than the $n_examples examples"
  [ "$run_strong" -eq 0 ] || [ "$batch" -le "$n_examples" ] || die "--batch $batch is larger than the $n_examples examples"
  [ "$run_weak" -eq 0 ] || [ $((batch_per_rank * max_ranks)) -le "$n_examples" ] ||
    die "weak scaling on $max_ranks ranks needs a global batch of $((batch_per_rank * max_ranks)) examples, but the data has $n_examples; lower --batch-per-rank or use more data"
fi
[ "$run_strong" -eq 0 ] || [ "$batch" -ge "$max_ranks" ] || die "--batch $batch is smaller than --max-ranks $max_ranks (every rank needs an example)"

if [ -e "$out/scaling.csv" ] || [ -e "$out/runs" ]; then
  [ "$force" -eq 1 ] || die "$out already holds results (scaling.csv or runs/); choose another --out, or pass --force to replace them"
  rm -rf "$out/runs" "$out/plot"
  rm -f "$out/scaling.csv" "$out/scaling.png" "$out/scaling.txt"
fi
mkdir -p "$out/runs" || die "cannot create $out/runs"
out=$(cd "$out" && pwd)

# One run: mode p global_batch dir; its log on failure; sets run_seconds and busy_before.
run_one() {
  local mode=$1 p=$2 B=$3 dir=$4
  local -a cmd=("${launcher[@]}" -np "$p")
  if [ $((p * threads)) -gt "$cores" ]; then
    local -a flags
    read -r -a flags <<< "$OVERSUBSCRIBE"
    cmd+=("${flags[@]}")
  fi
  cmd+=("$abp" train --data "$data" --model "$model" --out "$dir" --iters "$iters" --batch "$B"
        --threads "$threads" --checkpoint-every "$ckpt_every" --keep-checkpoints 1)
  [ "$limit" -eq 0 ] || cmd+=(--limit "$limit")
  [ -z "$langevin" ] || cmd+=(--langevin-steps "$langevin")
  cmd+=("${extra[@]}")
  mkdir -p "$dir"
  printf '%q ' "${cmd[@]}" > "$dir/command.txt"; echo >> "$dir/command.txt"
  busy_before=$(cpu_busy 0.5)
  printf '%s: %-6s p=%-4s global batch %-5s ... ' "$prog" "$mode" "$p" "$B"
  local t0=$SECONDS rc=0
  "${cmd[@]}" > "$dir/abp.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "failed"
    echo "$prog: the $mode run with p=$p failed (exit $rc): $(cat "$dir/command.txt")" >&2
    tail -n 15 "$dir/abp.log" | sed 's/^/  | /' >&2
    echo "$prog: its folder is $dir" >&2
    exit 1
  fi
  [ -s "$dir/metrics.csv" ] || die "the $mode run on $p ranks wrote no $dir/metrics.csv (see $dir/abp.log)"
  run_seconds=$((SECONDS - t0))
}

# How busy the machine's CPUs were (percent) over the next $1 seconds, from /proc/stat:
# measured between runs, it is the other programs, which make timings noisy ("nan" if unknown).
cpu_busy() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat 2> /dev/null) || { echo nan; return; }
  sleep "$1"
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat 2> /dev/null) || { echo nan; return; }
  [ -n "$a" ] && [ -n "$b" ] || { echo nan; return; }
  echo "$a $b" | awk '{ d = ($3 + $4) - ($1 + $2); printf "%.0f", (d > 0 ? 100 * ($3 - $1) / d : 0) }'
}

# The median of numbers on stdin ("nan" if none).
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "nan"; else if (NR % 2) printf "%.6f\n", v[(NR + 1) / 2];
    else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Column NAME of the measured rows (iteration > warm-up) of a metrics.csv; FILTER picks rows.
column_of() { # file name [ckpt|noio|all]
  awk -F, -v name="$2" -v w="$warmup" -v which="${3:-all}" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { if (!(name in col)) { exit 3 } }
    $col["iteration"] > w {
      io = $col["io_s"] + 0
      if (which == "ckpt" && io <= 0) next
      if (which == "noio" && io > 0) next
      print $col[name] }' "$1"
}
# Wall time of each measured iteration without a checkpoint (differences of the seconds column).
wall_of() {
  awk -F, -v w="$warmup" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { s = $col["seconds"]; it = $col["iteration"]
      if (it > w && have && $col["io_s"] + 0 <= 0) print s - prev
      prev = s; have = 1 }' "$1"
}

# One run's figures: "iterations compute allreduce io checkpoint wall rss total".
run_stats() {
  local m=$1/metrics.csv n compute allreduce ckpt io wall rss T
  n=$(column_of "$m" iteration | wc -l)
  [ "$n" -ge 1 ] || die "$m has no iterations after the warm-up of $warmup"
  compute=$(column_of "$m" compute_s noio | median)
  allreduce=$(column_of "$m" allreduce_s noio | median)
  ckpt=$(column_of "$m" io_s ckpt | median)
  if [ "$ckpt_every" -gt 0 ] && [ "$ckpt" != nan ]; then
    io=$(awk -v c="$ckpt" -v k="$ckpt_every" 'BEGIN { printf "%.6f", c / k }')
  else
    io=0.000000 ckpt=-
  fi
  wall=$(wall_of "$m" | median)
  rss=$(column_of "$m" peak_rss_mb | sort -g | tail -1)
  T=$(awk -v a="$compute" -v b="$allreduce" -v c="$io" 'BEGIN { printf "%.6f", a + b + c }')
  awk -v a="$T" 'BEGIN { exit !(a > 0) }' || die "$m: time per iteration is not positive ($T)"
  echo "$n $compute $allreduce $io $ckpt $wall $rss $T"
}

# The runs, in rounds: every round runs each (mode, p) once, so that a burst of load from other
# programs hits one repeat of several configurations rather than every repeat of one. Strong
# and weak scaling on 1 rank are the same run when B == b.
host=$(hostname 2>/dev/null || echo unknown)
{
  echo "# $prog $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $host: $(nproc) cores online, --cores $cores"
  echo "# command: $prog ${args[*]}"
  echo "# launcher: ${launcher[*]} -np P${OVERSUBSCRIBE:+ ($OVERSUBSCRIBE when p*T > $cores)}; abp: $abp"
} > "$out/scaling.txt"
lim=; [ "$limit" -eq 0 ] || lim=" (first $limit examples)"
echo "$prog: $model on $data$lim; ranks ${ranks[*]}; $threads BLAS thread(s) per rank, so p ranks use p*$threads cores of the $cores here (more: oversubscribed)"
echo "$prog: $repeat round(s) of $iters iterations per run, the first $warmup dropped; a checkpoint every $ckpt_every; results in $out"
l=$(cpu_busy 1)
if [ "$l" != nan ] && [ "$l" -gt 20 ]; then
  echo "$prog: note: other programs keep the CPUs $l% busy: the timings will be noisy (see the columns cpu_busy_before and repeat_spread)"
fi
configs=()
for mode in strong weak; do
  [ "$mode" = strong ] && [ "$run_strong" -eq 0 ] && continue
  [ "$mode" = weak ] && [ "$run_weak" -eq 0 ] && continue
  for p in "${ranks[@]}"; do configs+=("$mode $p"); done
done
declare -A stats busy dirs
for ((r = 1; r <= repeat; r++)); do
  for c in "${configs[@]}"; do
    read -r mode p <<< "$c"
    if [ "$mode" = strong ]; then B=$batch; else B=$((batch_per_rank * p)); fi
    key="$mode $p $r"
    if [ "$mode" = weak ] && [ "$p" -eq 1 ] && [ "$run_strong" -eq 1 ] && [ "$B" -eq "$batch" ]; then
      # the same run as strong scaling on 1 rank
      stats[$key]=${stats["strong 1 $r"]} busy[$key]=${busy["strong 1 $r"]} dirs[$key]=${dirs["strong 1 $r"]}
      printf '%s: %-6s p=%-4s global batch %-5s ... the strong p=1 run\n' "$prog" "$mode" "$p" "$B"
      continue
    fi
    dir=$out/runs/$mode-p$p-r$r
    run_one "$mode" "$p" "$B" "$dir"
    stats[$key]=$(run_stats "$dir")
    busy[$key]=$busy_before dirs[$key]=${dir#"$out"/}
    echo "$run_seconds s, $(echo "${stats[$key]}" | awk '{ printf "%.3f", $8 }') s per iteration"
  done
done

# The table: for each (mode, p), the round with the smallest time per iteration (other
# programs only ever add time), and the spread of the rounds (largest / smallest).
csv=$out/scaling.csv
echo "mode,ranks,threads_per_rank,global_batch,batch_per_rank,iterations_measured,seconds_per_iteration,compute_s,allreduce_s,io_s,efficiency,peak_rss_mb,oversubscribed,checkpoint_every,checkpoint_write_s,median_wall_s,examples_per_s,repeats,repeat_spread,cpu_busy_before,run_dir" > "$csv"
declare -A t1
for c in "${configs[@]}"; do
  read -r mode p <<< "$c"
  if [ "$mode" = strong ]; then B=$batch; else B=$((batch_per_rank * p)); fi
  best=1
  for ((r = 2; r <= repeat; r++)); do
    awk -v a="$(echo "${stats["$mode $p $r"]}" | cut -d' ' -f8)" -v b="$(echo "${stats["$mode $p $best"]}" | cut -d' ' -f8)" \
      'BEGIN { exit !(a < b) }' && best=$r
  done
  spread=$(for ((r = 1; r <= repeat; r++)); do echo "${stats["$mode $p $r"]}" | cut -d' ' -f8; done |
    sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f", hi / lo }')
  read -r n compute allreduce io ckpt wall rss T <<< "${stats["$mode $p $best"]}"
  [ "$ckpt" != - ] || ckpt=
  [ "$p" -ne 1 ] || t1[$mode]=$T
  eff=$(awk -v t1="${t1[$mode]}" -v t="$T" -v p="$p" -v mode="$mode" \
    'BEGIN { printf "%.4f", mode == "strong" ? t1 / (p * t) : t1 / t }')
  bpr=$(awk -v B="$B" -v p="$p" 'BEGIN { printf "%g", B / p }')
  eps=$(awk -v B="$B" -v t="$T" 'BEGIN { printf "%.1f", B / t }')
  over=$([ $((p * threads)) -gt "$cores" ] && echo 1 || echo 0)
  echo "$mode,$p,$threads,$B,$bpr,$n,$T,$compute,$allreduce,$io,$eff,$rss,$over,$ckpt_every,$ckpt,$wall,$eps,$repeat,$spread,${busy["$mode $p $best"]},${dirs["$mode $p $best"]}" >> "$csv"
done
table() { if command -v column > /dev/null; then column -s, -t; else cat; fi; }
{ echo "#"; table < "$csv" | sed 's/^/# /'; } >> "$out/scaling.txt"
echo
cut -d, -f1-13 "$csv" | table
echo

[ "$plot" -eq 1 ] || { echo "$prog: wrote $csv (no plot: --no-plot)"; exit 0; }

# The plot: per mode, a data file for gnuplot (label, compute, allreduce, io, p, efficiency,
# rss, oversubscribed).
mkdir -p "$out/plot"
for mode in strong weak; do
  awk -F, -v mode="$mode" 'NR > 1 && $1 == mode {
      print ($13 == 1 ? $2 "*" : $2), $8, $9, $10, $2, $11, $12, $13, $7 }' "$csv" > "$out/plot/$mode.dat"
done
any_over=$(awk -F, 'NR > 1 && $13 == 1 { print 1; exit }' "$csv")
emax=$(awk -F, 'NR > 1 && $11 > m { m = $11 } END { print (m > 1.05 ? m * 1.1 : 1.15) }' "$csv")
xtics=$(IFS=,; echo "${ranks[*]}")
mname=$model; [[ $model != *"|"* ]] || mname="(spec)"
title="abp train --model $mname, $threads BLAS thread per rank: median of $measure iterations after $warmup warm-up, fastest of $repeat rounds"
note="I/O: one checkpoint every $ckpt_every iterations, amortised"
[ -z "$any_over" ] || note="$note.   p* = oversubscribed: more ranks than the $cores cores"
gp=$out/plot/scaling.gp
done_modes=()
[ "$run_strong" -eq 0 ] || done_modes+=(strong)
[ "$run_weak" -eq 0 ] || done_modes+=(weak)
if [ "${#done_modes[@]}" -eq 2 ]; then layout="2,2" size="1400,1000"; else layout="1,3" size="1800,560"; fi
declare -A what=([strong]="strong scaling: global batch $batch" [weak]="weak scaling: batch $batch_per_rank per rank")
declare -A colour=([strong]="#4477aa" [weak]="#ee6677") point=([strong]=7 [weak]=5)
series() { # column: one line per mode, then the oversubscribed points
  local sep="" m
  for m in "${done_modes[@]}"; do
    printf '%s"%s" using 5:%s title "%s" lw 2 pt %s ps 1.5 lc rgb "%s"' "$sep" "$out/plot/$m.dat" "$1" "$m" "${point[$m]}" "${colour[$m]}"
    sep=", \\"$'\n'"     "
  done
  local t='title "oversubscribed"'
  [ -n "$any_over" ] || return 0
  for m in "${done_modes[@]}"; do
    printf '%s"%s" using 5:($8 > 0 ? $%s : 1/0) %s with points pt 6 ps 3.5 lw 2 lc rgb "black"' "$sep" "$out/plot/$m.dat" "$1" "$t"
    t=notitle
  done
}
{
  cat <<EOF
set terminal pngcairo size $size font "sans,12"
set output "$out/scaling.png"
set datafile missing "nan"
set multiplot layout $layout title "$title\n{/*0.85 $note}"
set style fill solid 0.85 border lc rgb "black"
set boxwidth 0.6
set grid ytics
set xlabel "ranks p"
EOF
  for m in "${done_modes[@]}"; do
    cat <<EOF
set style data histograms
set style histogram rowstacked
set key inside top center horizontal
set yrange [0:*]
set offsets 0, 0, graph 0.22, 0
set ylabel "seconds per iteration"
set title "${what[$m]}"
plot "$out/plot/$m.dat" using 2:xtic(1) title "compute" lc rgb "#4477aa", \\
     "" using 3 title "allreduce" lc rgb "#ee6677", "" using 4 title "I/O" lc rgb "#228833", \\
     "" using 0:9:(sprintf("%.3g s", \$9)) with labels offset 0,0.8 font ",10" notitle
EOF
  done
  cat <<EOF
set style data linespoints
set offsets 0, 0, 0, 0
set logscale x 2
set xtics ($xtics)
set xrange [0.8:${max_ranks}*1.25]
set key inside bottom left vertical
set title "parallel efficiency (strong: T(1)/(p T(p)); weak: T(1)/T(p))"
set ylabel "efficiency"
set yrange [0:$emax]
set arrow 1 from $cores, graph 0 to $cores, graph 1 nohead dt 2 lc rgb "gray40"
set label 1 " $cores cores" at $cores, graph 0.04 left tc rgb "gray40"
plot $(series 6), \\
     1 notitle with lines dt 3 lc rgb "gray50"
set title "peak resident memory of the largest rank"
set ylabel "MB"
set yrange [0:*]
set key inside bottom right vertical
unset label 1
plot $(series 7)
unset multiplot
EOF
} > "$gp"
gnuplot "$gp" > "$out/plot/gnuplot.log" 2>&1 || { sed 's/^/  | /' "$out/plot/gnuplot.log" >&2; die "gnuplot failed on $gp"; }
[ -s "$out/scaling.png" ] || die "gnuplot wrote no $out/scaling.png (see $out/plot/gnuplot.log)"
echo "$prog: wrote $csv and $out/scaling.png (runs under $out/runs)"
