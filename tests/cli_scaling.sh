#!/usr/bin/env bash
# bench/scaling.sh end to end on a tiny model and 1-2 ranks: the CSV's header, one row per
# (mode, p), positive times, efficiency 1 on one rank, the oversubscribed column, the PNG,
# and its errors. Usage: cli_scaling.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
script=$src/bench/scaling.sh
model="z 2 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }
command -v gnuplot > /dev/null ||
  fail "gnuplot is not installed: bench/scaling.sh needs it for its plot (apt-get install gnuplot-nox; jobs/setup.sh installs it)"

# --cores 1 makes the 2-rank runs count as oversubscribed, whatever this machine has.
args=(--abp "$abp" --model "$model" --limit 40 --max-ranks 2 --batch 8 --batch-per-rank 4
      --warmup 1 --measure 3 --repeat 2 --checkpoint-every 2 --langevin-steps 2 --cores 1)
bash "$script" "${args[@]}" --out "$tmp/s" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "scaling.sh failed"; }
csv=$tmp/s/scaling.csv
want="mode,ranks,threads_per_rank,global_batch,batch_per_rank,iterations_measured,seconds_per_iteration,compute_s,allreduce_s,io_s,efficiency,peak_rss_mb,oversubscribed,checkpoint_every,checkpoint_write_s,median_wall_s,examples_per_s,repeats,repeat_spread,cpu_busy_before,run_dir"
[ "$(head -1 "$csv")" = "$want" ] || fail "header: $(head -1 "$csv")"; ok
[ "$(tail -n +2 "$csv" | cut -d, -f1,2 | tr '\n' ' ')" = "strong,1 strong,2 weak,1 weak,2 " ] ||
  fail "rows: $(tail -n +2 "$csv" | cut -d, -f1,2 | tr '\n' ' ')"; ok
awk -F, 'NR > 1 && !($7 > 0 && $8 > 0 && $10 > 0 && $15 > 0 && $12 > 0 && $6 == 3) { bad = 1; print }
         END { exit bad }' "$csv" || fail "times, I/O and RSS must be positive, 3 iterations measured"; ok
awk -F, 'NR > 1 && $2 == 1 && $11 != 1 { bad = 1; print } END { exit bad }' "$csv" || fail "efficiency on 1 rank must be 1"; ok
awk -F, 'NR > 1 && $13 != ($2 > 1) { bad = 1; print } END { exit bad }' "$csv" || fail "oversubscribed column"; ok
awk -F, 'NR > 1 && $1 == "weak" && $4 != 4 * $2 { bad = 1; print } END { exit bad }' "$csv" || fail "weak batch per rank"; ok
for run in strong-p1-r1 strong-p2-r2 weak-p2-r1 weak-p2-r2; do
  [ -s "$tmp/s/runs/$run/metrics.csv" ] || fail "no runs/$run/metrics.csv kept"
done; ok
awk -F, 'NR > 1 && !($18 == 2 && $19 >= 1 && $NF ~ /^runs\/(strong|weak)-p[12]-r[12]$/) { bad = 1; print }
         END { exit bad }' "$csv" || fail "repeats, spread or run_dir"; ok
[ "$(head -c 8 "$tmp/s/scaling.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "scaling.png is not a PNG"; ok

# Errors: exit 2 on usage, 1 on a refused or failed run, and a message naming the problem.
rc=0; bash "$script" --max-ranks zero > "$tmp/e" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--max-ranks" "$tmp/e" || fail "bad --max-ranks: rc $rc: $(cat "$tmp/e")"; ok
rc=0; bash "$script" "${args[@]}" --out "$tmp/s" > "$tmp/e" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "already holds results" "$tmp/e" || fail "reused --out: rc $rc: $(cat "$tmp/e")"; ok
rc=0; bash "$script" "${args[@]}" --out "$tmp/w" --batch-per-rank 30 > "$tmp/e" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "needs a global batch of 60" "$tmp/e" || fail "too few examples: rc $rc: $(cat "$tmp/e")"; ok
rc=0; bash "$script" "${args[@]}" --out "$tmp/f" -- --lr -1 > "$tmp/e" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "strong run with p=1 failed" "$tmp/e" || fail "failed run: rc $rc: $(cat "$tmp/e")"; ok
bash "$script" --help | grep -q "^usage: bench/scaling.sh" || fail "--help"; ok
echo "cli_scaling: $pass passed, 0 failed"
