#!/usr/bin/env bash
# Checkpoints that survive anything (issue 3 §2), under mpirun:
#   1. SIGUSR1 to mpirun (what a Slurm batch script forwards) makes every rank finish its
#      iteration, checkpoint and exit 3; the very same command line plus --resume then
#      ends bit for bit where an uninterrupted run ends.
#   2. The same after SIGTERM sent to the ranks themselves.
#   3. A checkpoint written by 2 ranks is read back by 3 ranks (each its new shard rows of
#      /latents) and written again unchanged; training then goes on on 3 ranks.
#   4. Full-batch training interrupted on 2 ranks and resumed on 3 agrees with an
#      uninterrupted 2-rank run up to summation order.
#   5. A rank killed with SIGKILL in the middle of a checkpoint write leaves the previous
#      checkpoint intact and loadable, and a resume from it ends where an uninterrupted run
#      ends.
#   6. --keep-checkpoints K keeps the newest K numbered files.
# Usage: mpi_resume.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
common=(--data "$data" --model "$model" --limit 96 --batch 16 --langevin-steps 2 --quiet)
mpi=(mpirun --oversubscribe)
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }

rows() { [ -f "$1/metrics.csv" ] && echo $(($(wc -l < "$1/metrics.csv") - 1)) || echo 0; }
iteration_of() { "$abp" info "$1" | sed -n 's/.*iteration \([0-9]*\).*/\1/p' | head -1; }
# Waits (up to 120 s) until the run writing folder $1 has more than $2 metrics rows.
wait_rows() {
  for _ in $(seq 1200); do [ "$(rows "$1")" -gt "$2" ] && return 0; sleep 0.1; done
  fail "$1: no progress"
}
# Every iteration 1..$2 exactly once in $1/metrics.csv.
check_rows() {
  [ "$(tail -n +2 "$1/metrics.csv" | cut -d, -f1 | tr '\n' ' ')" = "$(seq -s ' ' 1 "$2") " ] ||
    fail "$1/metrics.csv does not list iterations 1..$2 once each"
}

N=400
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --iters $N --out "$tmp/whole"

# 1. SIGUSR1 to mpirun.
run=("${mpi[@]}" -np 2 "$abp" train "${common[@]}" --iters $N --out "$tmp/usr1")
"${run[@]}" > "$tmp/usr1.log" 2>&1 & pid=$!; pids+=("$pid")
wait_rows "$tmp/usr1" 20
kill -USR1 "$pid"
set +e; wait "$pid"; status=$?; set -e
[ "$status" -eq 3 ] || { cat "$tmp/usr1.log"; fail "SIGUSR1: exit status $status, not 3"; }; ok
k=$(iteration_of "$tmp/usr1/checkpoint.h5")
[ "$k" -gt 20 ] && [ "$k" -lt $N ] || fail "SIGUSR1: checkpoint at iteration '$k'"; ok
[ -f "$tmp/usr1/samples.png" ] && fail "a stopped run should not draw pictures"
cp "$tmp/usr1/checkpoint.h5" "$tmp/at_k.h5"
"${run[@]}" --resume "$tmp/usr1/checkpoint.h5"
"$bin/ckpt_diff" "$tmp/whole/checkpoint.h5" "$tmp/usr1/checkpoint.h5" 0 > /dev/null ||
  fail "SIGUSR1 + resume is not bitwise the uninterrupted run"; ok
check_rows "$tmp/usr1" $N; ok

# 2. SIGTERM to the ranks (what a scheduler sends to every task it is about to kill).
run=("${mpi[@]}" -np 2 "$abp" train "${common[@]}" --iters $N --out "$tmp/term")
"${run[@]}" > "$tmp/term.log" 2>&1 & pid=$!; pids+=("$pid")
wait_rows "$tmp/term" 20
pkill -TERM -P "$pid" || fail "no rank processes under mpirun"
set +e; wait "$pid"; set -e
grep -q "stopped by signal" "$tmp/term.log" || { cat "$tmp/term.log"; fail "SIGTERM: no stop message"; }; ok
"${run[@]}" --resume "$tmp/term/checkpoint.h5"
"$bin/ckpt_diff" "$tmp/whole/checkpoint.h5" "$tmp/term/checkpoint.h5" 0 > /dev/null ||
  fail "SIGTERM + resume is not bitwise the uninterrupted run"; ok

# 3. Another rank count: 3 ranks read the 2-rank checkpoint's rows and write them back unchanged.
"${mpi[@]}" -np 3 "$abp" train "${common[@]}" --iters "$k" --out "$tmp/np3" --resume "$tmp/at_k.h5"
"$bin/ckpt_diff" "$tmp/at_k.h5" "$tmp/np3/checkpoint.h5" 0 > /dev/null ||
  fail "2 -> 3 ranks: re-sharded latents do not round-trip"; ok
"${mpi[@]}" -np 3 "$abp" train "${common[@]}" --iters $((k + 10)) --out "$tmp/np3" --resume "$tmp/np3/checkpoint.h5"
[ "$(iteration_of "$tmp/np3/checkpoint.h5")" -eq $((k + 10)) ] || fail "3 ranks did not go on"; ok
"$abp" info "$tmp/np3/checkpoint.h5" | grep -q "3 ranks" || fail "info should say 3 ranks wrote it"; ok

# 4. Full batch: 2 ranks to 5, then 3 ranks to 10, against 2 ranks to 10.
fb=(--data "$data" --model "$model" --limit 13 --full-batch --langevin-steps 2 --quiet)
"${mpi[@]}" -np 2 "$abp" train "${fb[@]}" --iters 10 --out "$tmp/fb_whole"
"${mpi[@]}" -np 2 "$abp" train "${fb[@]}" --iters 5 --out "$tmp/fb"
"${mpi[@]}" -np 3 "$abp" train "${fb[@]}" --iters 10 --out "$tmp/fb" --resume "$tmp/fb/checkpoint.h5"
"$bin/ckpt_diff" "$tmp/fb_whole/checkpoint.h5" "$tmp/fb/checkpoint.h5" 1e-4 > /dev/null ||
  fail "full batch, 2 ranks then 3: differs from 2 ranks throughout"; ok

# 5. SIGKILL in the middle of writing the checkpoint of iteration 20. strace slows down
#    every write to that one file (-P), so the kill lands while it is being written.
part=$tmp/kill/checkpoint-00000020.h5.tmp
mkdir -p "$tmp/kill"
"${mpi[@]}" -np 2 strace -f -qq -o /dev/null -P "$part" -e trace=pwrite64,pwritev,write,writev \
  -e inject=pwrite64,pwritev,write,writev:delay_enter=300000 \
  "$abp" train "${common[@]}" --iters 30 --checkpoint-every 10 --out "$tmp/kill" > "$tmp/kill.log" 2>&1 &
pid=$!; pids+=("$pid")
for _ in $(seq 1200); do [ -s "$part" ] && break; sleep 0.1; done
[ -s "$part" ] || { cat "$tmp/kill.log"; fail "the checkpoint of iteration 20 was never started"; }
victim=
for p in $(pgrep -f "abp train.*$tmp/kill"); do
  [ "$(ps -o comm= -p "$p")" = abp ] && { victim=$p; break; }
done
[ -n "$victim" ] || fail "no rank to kill"
kill -9 "$victim"
set +e; wait "$pid"; status=$?; set -e
[ "$status" -ne 0 ] || fail "mpirun should fail when a rank is killed"
[ -e "$part" ] || fail "the kill did not land in the middle of the write"
[ "$(iteration_of "$tmp/kill/checkpoint.h5")" -eq 10 ] || fail "checkpoint.h5 is not the complete one of iteration 10"; ok
[ -e "$tmp/kill/checkpoint-00000020.h5" ] && fail "a half-written checkpoint got its final name"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --iters 30 --checkpoint-every 10 --out "$tmp/kill" \
  --resume "$tmp/kill/checkpoint.h5"
"${mpi[@]}" -np 2 "$abp" train "${common[@]}" --iters 30 --checkpoint-every 10 --out "$tmp/kill_whole"
"$bin/ckpt_diff" "$tmp/kill_whole/checkpoint.h5" "$tmp/kill/checkpoint.h5" 0 > /dev/null ||
  fail "resume after SIGKILL is not the uninterrupted run"; ok
check_rows "$tmp/kill" 30; ok

# 6. --keep-checkpoints: 30 iterations, one every 5, keep 2 -> 25 and 30; checkpoint.h5 = 30.
"$abp" train "${common[@]}" --iters 30 --checkpoint-every 5 --keep-checkpoints 2 --out "$tmp/keep"
[ "$(cd "$tmp/keep" && ls checkpoint-*.h5 | tr '\n' ' ')" = "checkpoint-00000025.h5 checkpoint-00000030.h5 " ] ||
  fail "--keep-checkpoints 2 kept: $(ls "$tmp/keep")"; ok
cmp -s "$tmp/keep/checkpoint.h5" "$tmp/keep/checkpoint-00000030.h5" || fail "checkpoint.h5 is not the newest"; ok

echo "mpi_resume: $pass passed, 0 failed"
