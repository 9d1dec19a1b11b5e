#!/usr/bin/env bash
# Storage faults. Checksums: a checkpoint damaged in the middle of a dataset (finite bytes,
# so only the checksum can tell) fails `abp info --verify` naming the dataset, a resume
# from it as a file is refused when the damage is in the model, and `--resume DIR` skips it
# (naming it and why) for the newest checkpoint that verifies. Durability: strace shows the
# checkpoint synced before its rename and the folder synced after. A full disk (a 400 KB
# tmpfs; skipped, saying so, when mount is not permitted): one clear line, exit 1, the
# previous checkpoint intact and verifying, no .tmp left. Usage: cli_storage.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d)
cleanup() { mountpoint -q "$tmp/disk" 2>/dev/null && umount "$tmp/disk"; rm -rf "$tmp"; }
trap cleanup EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 3 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
train=(--data "$data" --model "$model" --limit 16 --batch 8 --langevin-steps 1 --quiet)
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# expect NAME STATUS TEXT -- COMMAND...: exits STATUS, its last stderr line holds TEXT.
expect() {
  local name=$1 status=$2 want=$3; shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne "$status" ]; then fail "$name: exit $rc, expected $status: $err"; return; fi
  if grep -qF -- "$want" <<<"$(tail -n 1 <<<"$err")"; then ok; else fail "$name: '$err' does not end in '$want'"; fi
}
# damage FILE DATASET INDEX: overwrites element INDEX of a contiguous float dataset with 1.0.
damage() {
  local offset
  offset=$(h5dump -p -H -d "$2" "$1" | awk '/OFFSET/ {print $2}')
  [ -n "$offset" ] || { fail "no offset of $2 in $1"; return; }
  printf '\x00\x00\x80\x3f' | dd of="$1" bs=1 seek=$((offset + 4 * $3)) conv=notrunc status=none
}

"$abp" train "${train[@]}" --iters 4 --checkpoint-every 1 --out "$tmp/run" || fail "training failed"
out=$("$abp" info --verify "$tmp/run/checkpoint-00000004.h5") && grep -q "verified, the checksums of all 20 datasets match" <<<"$out" &&
  ok || fail "a good checkpoint does not verify: $out"

# Damaged in the middle of /latents: the newest one.
damage "$tmp/run/checkpoint-00000004.h5" /latents 20
expect "verify, damaged latents" 1 "/latents fails its checksum" -- "$abp" info --verify "$tmp/run/checkpoint-00000004.h5"
expect "verify, a data set" 1 "not an abp checkpoint" -- "$abp" info --verify "$data"
# ... and a copy damaged in a layer's weights, resumed as a file.
cp "$tmp/run/checkpoint-00000003.h5" "$tmp/weights.h5"
damage "$tmp/weights.h5" /model/00_linear/weight 100
expect "resume file, damaged weights" 1 "model/00_linear/weight fails its checksum" -- \
  "$abp" train "${train[@]}" --iters 6 --out "$tmp/other" --resume "$tmp/weights.h5"

# --resume DIR skips the damaged newest one, names it and why, and takes iteration 3.
log=$("$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --langevin-steps 1 --iters 5 \
      --out "$tmp/run" --resume "$tmp/run" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && ok || fail "--resume DIR: exit $rc: $(cat "$tmp/err")"
grep -q "skipping $tmp/run/checkpoint-00000004.h5: .*/latents fails its checksum" "$tmp/err" && ok ||
  fail "--resume DIR does not name the skipped checkpoint: $(cat "$tmp/err")"
grep -q "resuming from $tmp/run/checkpoint-00000003.h5" <<<"$log" && grep -q "iterations 3..5" <<<"$log" && ok ||
  fail "--resume DIR did not take iteration 3: $log"
"$abp" info --verify "$tmp/run/checkpoint.h5" > /dev/null && ok || fail "the resumed run's checkpoint does not verify"
# Every one damaged: refused, naming each.
mkdir "$tmp/bad" && cp "$tmp/run/checkpoint-00000004.h5" "$tmp/run/checkpoint-00000005.h5" "$tmp/bad/"
damage "$tmp/bad/checkpoint-00000004.h5" /latents 1; damage "$tmp/bad/checkpoint-00000005.h5" /model/03_deconv/weight 3
expect "resume DIR, none verifies" 1 "no checkpoint in the folder verifies (2 tried" -- \
  "$abp" train "${train[@]}" --iters 8 --out "$tmp/bad" --resume "$tmp/bad"
[ "$("$abp" train "${train[@]}" --iters 8 --out "$tmp/bad" --resume "$tmp/bad" 2>&1 | grep -c skipping)" -eq 2 ] && ok ||
  fail "not both damaged checkpoints were named"

# Durable: the checkpoint file is synced before its rename, the folder after it.
if command -v strace > /dev/null; then
  # LeakSanitizer (sanitizer build) cannot run under ptrace: no leak check for this one run.
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    strace -f -o "$tmp/trace" -e trace=openat,fsync,rename "$abp" train "${train[@]}" --iters 1 --out "$tmp/sync" ||
    fail "training under strace failed"
  seq=$(grep -E 'fsync|rename|openat.*(checkpoint-00000001.h5.tmp|/sync", O_RDONLY)' "$tmp/trace" |
        sed -E 's/^[0-9]+ +//' | grep -vE 'O_CREAT' | awk '
          /openat.*checkpoint-00000001.h5.tmp/ { kind[$NF] = "file" }
          /openat.*sync", O_RDONLY/           { kind[$NF] = "dir" }
          /^fsync/ { fd = $0; sub(/^fsync\(/, "", fd); sub(/\).*/, "", fd)
                     if (fd in kind) print "sync-" kind[fd] }
          /^rename.*checkpoint-00000001.h5.tmp/ { print "rename" }' | uniq | tr '\n' ' ')
  [[ $seq == *"sync-file rename sync-dir"* ]] && ok || fail "checkpoint not synced around its rename: '$seq'"
else
  echo "cli_storage: strace not installed: the fsync check is skipped"
fi

# A full disk.
mkdir "$tmp/disk"
if mount -t tmpfs -o size=400k tmpfs "$tmp/disk" 2>/dev/null; then
  big=(--data "$data" --model "z 8 | linear 7x7x16 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh" --limit 64
       --batch 8 --langevin-steps 1 --checkpoint-every 1 --keep-checkpoints 100 --quiet)
  expect "full disk" 1 "the disk has less free (No space left on device); the previous checkpoint is kept" -- \
    "$abp" train "${big[@]}" --iters 40 --out "$tmp/disk/run"
  "$abp" info --verify "$tmp/disk/run/checkpoint.h5" > /dev/null && ok || fail "full disk: checkpoint.h5 does not verify"
  ls "$tmp/disk/run" | grep -qE '\.tmp|\.reserve|\.link' && fail "full disk left: $(ls "$tmp/disk/run")" || ok
  n=$(ls "$tmp/disk/run" | grep -c 'checkpoint-')
  [ "$("$abp" info "$tmp/disk/run/checkpoint.h5" | grep -o 'iteration [0-9]*')" = "iteration $n" ] && ok ||
    fail "checkpoint.h5 is not the last one written"
  umount "$tmp/disk"
else
  echo "cli_storage: SKIPPED the full-disk case: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)"
fi

echo "cli_storage: $pass passed, $failed failed"
[ $failed -eq 0 ]
