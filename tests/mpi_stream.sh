#!/usr/bin/env bash
# Shards of bytes and --stream (issue 14 §1, §2): the checkpoint does not depend on how the
# data are held.
#   1. The IDX file and the HDF5 data set packed from it train to the same checkpoint, and
#      --stream (each batch read from the data set, the next on the I/O thread) to the same
#      again: on 1 and 2 ranks, with periodic checkpoints (the I/O thread must be out of
#      HDF5 when a checkpoint is written), and with --sense.
#   2. An exact resume across the two: a run stopped at a checkpoint in memory and resumed
#      with --stream ends bit for bit where an uninterrupted run ends.
#   3. --stream on data that is not an HDF5 data set: one line naming the file and the fix,
#      a non-zero exit, the earlier run's files untouched.
#   4. With ABP_REF=path/to/an-older-abp (one that kept shards as floats), its checkpoint
#      is bitwise the same too (the release check of issue 14; skipped when unset).
# Usage: mpi_stream.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
idx=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
common=(--model "$model" --limit 120 --batch 24 --langevin-steps 2 --iters 12 --threads 1 --quiet)
# --threads 1: BLAS results depend on the thread count, and a singleton and mpirun would pick
# different counts.
mpi=(mpirun --oversubscribe)
pass=0
fail() { echo "FAIL: $*"; exit 1; }
same() { "$bin/ckpt_diff" "$1" "$2" 0 > /dev/null || fail "$3"; pass=$((pass + 1)); }

"$abp" prepare --idx "$idx" --out "$tmp/digits.h5" > /dev/null

# 1. IDX, HDF5 in memory and streamed, 1 and 2 ranks, plain and sensed.
# run NAME RANKS DATA [options]: trains into $tmp/NAME.
run() { local name=$1 np=$2 data=$3; shift 3; "${mpi[@]}" -np "$np" "$abp" train --data "$data" "${common[@]}" "$@" --out "$tmp/$name"; }
run idx-1 1 "$idx"
run h5-1 1 "$tmp/digits.h5" --checkpoint-every 5
same "$tmp/idx-1/checkpoint.h5" "$tmp/h5-1/checkpoint.h5" "IDX and HDF5 in memory differ"
for np in 1 2; do
  [ $np = 1 ] || run idx-$np $np "$idx"
  run stream-$np $np "$tmp/digits.h5" --checkpoint-every 5 --stream
  same "$tmp/idx-$np/checkpoint.h5" "$tmp/stream-$np/checkpoint.h5" "$np rank(s): in memory and --stream differ"
done
# --sense projects the whole shard at start-up, a chunk of rows at a time.
run idx-sense 1 "$idx" --sense 20
run stream-sense 1 "$tmp/digits.h5" --sense 20 --stream
same "$tmp/idx-sense/checkpoint.h5" "$tmp/stream-sense/checkpoint.h5" "--sense: in memory and --stream differ"
cmp -s "$tmp/idx-1/reconstructions.png" "$tmp/stream-1/reconstructions.png" ||
  fail "reconstructions.png differs between in memory and --stream"; pass=$((pass + 1))

# metrics.csv's read_s: the wait for the batch's rows, 0 in memory, measured with --stream.
[ "$(head -1 "$tmp/stream-1/metrics.csv" | awk -F, '{ print $NF }')" = read_s ] &&
  awk -F, 'NR > 1 && $NF != 0 { bad = 1 } END { exit bad }' "$tmp/idx-1/metrics.csv" &&
  awk -F, 'NR > 1 && !($NF >= 0) { bad = 1 } END { exit bad }' "$tmp/stream-1/metrics.csv" ||
  fail "metrics.csv's read_s column"; pass=$((pass + 1))

# 2. Stop at a checkpoint (a shorter --iters) in memory, resume with --stream: the prefetch
#    then starts at the checkpoint's iteration.
part=(--data "$tmp/digits.h5" "${common[@]}" --checkpoint-every 5 --out "$tmp/part")
"${mpi[@]}" -np 2 "$abp" train "${part[@]}" --iters 5
"${mpi[@]}" -np 2 "$abp" train "${part[@]}" --stream --resume "$tmp/part/checkpoint.h5"
same "$tmp/idx-2/checkpoint.h5" "$tmp/part/checkpoint.h5" "5 iterations in memory resumed with --stream are not the uninterrupted run"

# 3. --stream needs an HDF5 data set.
before=$(sha256sum "$tmp/idx-1/checkpoint.h5" "$tmp/idx-1/metrics.csv")
set +e
err=$("$abp" train --data "$idx" "${common[@]}" --stream --out "$tmp/idx-1" --resume "$tmp/idx-1/checkpoint.h5" 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -ne 0 ] || fail "--stream on an IDX file exited 0"
[ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] && grep -qF -- "--stream" <<<"$err" && grep -qF "$idx" <<<"$err" &&
  grep -qF "abp prepare" <<<"$err" || fail "--stream on an IDX file said: $err"
[ "$before" = "$(sha256sum "$tmp/idx-1/checkpoint.h5" "$tmp/idx-1/metrics.csv")" ] ||
  fail "a refused --stream run changed the earlier run's files"
pass=$((pass + 3))

# The first lines say how the data are held and where the ranks run.
"${mpi[@]}" -np 3 "$abp" train --data "$tmp/digits.h5" --model "$model" --limit 30 --batch 6 --iters 1 \
  --langevin-steps 1 --threads 1 --stream --out "$tmp/talk" > "$tmp/talk.log"
grep -q "^abp train: layout: 3 ranks on 1 host ($(hostname): 3), 1 BLAS thread per rank$" "$tmp/talk.log" &&
  grep -q "^abp train: data streamed from $tmp/digits.h5" "$tmp/talk.log" || { cat "$tmp/talk.log"; fail "the layout or data line"; }
"$abp" train --data "$idx" --model "$model" --limit 30 --batch 6 --iters 1 --langevin-steps 1 --out "$tmp/talk1" > "$tmp/talk1.log"
grep -q "^abp train: data held as bytes, 0.0 MB on rank 0 (30 examples)$" "$tmp/talk1.log" || fail "the data line in memory"
pass=$((pass + 2))

# 4. An older abp, if given.
if [ -n "${ABP_REF:-}" ]; then
  "$ABP_REF" train --data "$idx" "${common[@]}" --threads 1 --out "$tmp/ref"
  "$ABP_REF" train --data "$idx" "${common[@]}" --sense 20 --out "$tmp/ref-sense"
  same "$tmp/ref-sense/checkpoint.h5" "$tmp/stream-sense/checkpoint.h5" "$ABP_REF's --sense checkpoint differs"
  same "$tmp/ref/checkpoint.h5" "$tmp/stream-1/checkpoint.h5" "$ABP_REF's checkpoint differs from this abp's"
  echo "compared with $ABP_REF"
fi
echo "mpi_stream: $pass passed"
