#!/usr/bin/env bash
# Bad input: one clear line naming the file or option, a non-zero exit, and nothing
# earlier touched. Usage: cli_errors.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 3 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
pass=0 failed=0

# expect NAME EXPECTED-TEXT -- COMMAND...: exit non-zero, one stderr line containing the text.
expect() {
  local name=$1 want=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then echo "FAIL $name: exit 0"; failed=$((failed + 1)); return; fi
  if [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then
    echo "FAIL $name: expected one line, got:"; printf '%s\n' "$err"; failed=$((failed + 1)); return
  fi
  if ! grep -qF -- "$want" <<<"$err"; then
    echo "FAIL $name: '$err' does not mention '$want'"; failed=$((failed + 1)); return
  fi
  pass=$((pass + 1))
}

# A finished run whose files must survive every failure below.
"$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --iters 2 --langevin-steps 1 --out "$tmp/run" --quiet
ck=$tmp/run/checkpoint.h5
sum_before=$(cd "$tmp/run" && sha256sum checkpoint.h5 metrics.csv samples.png)

printf 'not an image' > "$tmp/bad.png"
mkdir "$tmp/folder" && cp "$tmp/bad.png" "$tmp/folder/a.png"
head -c 1000 "$data" > "$tmp/short-idx3-ubyte"
head -c 3000 "$ck" > "$tmp/truncated.h5"
printf 'hello' > "$tmp/text.h5"

expect "missing data"      "$tmp/nope"        -- "$abp" train --data "$tmp/nope" --out "$tmp/o1"
expect "not an image"      "bad.png"          -- "$abp" train --data "$tmp/bad.png" --out "$tmp/o2"
expect "folder, bad image" "a.png"            -- "$abp" train --data "$tmp/folder" --out "$tmp/o3"
expect "truncated IDX"     "short-idx3-ubyte" -- "$abp" train --data "$tmp/short-idx3-ubyte" --out "$tmp/o4"
expect "unknown model"     "layer 0 'mnist29'" -- "$abp" train --data "$data" --model mnist29 --out "$tmp/o5"
expect "malformed spec"    "unknown layer kind" -- "$abp" train --data "$data" --model "z 3 | linaer 10" --out "$tmp/o6"
expect "unknown option"    "--frobnicate"     -- "$abp" train --data "$data" --out "$tmp/o7" --frobnicate 3
expect "not a number"      "--sigma"          -- "$abp" train --data "$data" --out "$tmp/o8" --sigma abc
expect "out of range"      "--langevin-steps" -- "$abp" train --data "$data" --out "$tmp/o9" --langevin-steps -1
expect "missing required"  "--out"            -- "$abp" train --data "$data"
expect "bad choice"        "--optimizer"      -- "$abp" train --data "$data" --out "$tmp/o10" --optimizer rmsprop
expect "batch too large"   "--batch"          -- "$abp" train --data "$data" --limit 10 --batch 64 --out "$tmp/o11"
expect "out not fresh"     "already holds"    -- "$abp" train --data "$data" --model "$model" --out "$tmp/run"
expect "truncated ckpt"    "truncated.h5"     -- "$abp" sample --ckpt "$tmp/truncated.h5" --out "$tmp/x.png"
expect "foreign ckpt"      "text.h5"          -- "$abp" sample --ckpt "$tmp/text.h5" --out "$tmp/x.png"
expect "missing ckpt"      "nope.h5"          -- "$abp" sample --ckpt "$tmp/nope.h5" --out "$tmp/x.png"
expect "resume, other model" "model/"         -- "$abp" train --data "$data" --limit 16 --batch 8 --out "$tmp/run" --resume "$ck" --model "z 3 | linear 7x7x6 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh"
expect "resume, other data" "examples"        -- "$abp" train --data "$data" --model "$model" --limit 20 --batch 8 --out "$tmp/run" --resume "$ck"
expect "resume, same count, other examples" "in the checkpoint but" -- "$abp" train --data "$src/datasets/mnist-small/t10k-images-idx3-ubyte" --model "$model" --limit 16 --batch 8 --out "$tmp/run" --resume "$ck"
expect "keep no checkpoint" "keep-checkpoints" -- "$abp" train --data "$data" --out "$tmp/o6" --keep-checkpoints 0
expect "complete without a mask" "--mask" -- "$abp" complete --ckpt "$ck" --data "$data" --out "$tmp/o7"
expect "nonsense mask" "blur:2" -- "$abp" train --data "$data" --model "$model" --limit 16 --batch 8 --out "$tmp/o8" --mask blur:2
expect "unwritable png"    "nodir"            -- "$abp" sample --ckpt "$ck" --out "$tmp/nodir/x.png"
expect "grid needs d=2"    "d = 2"            -- "$abp" interpolate --ckpt "$ck" --out "$tmp/x.png" --grid
expect "unknown command"   "frob"             -- "$abp" frob
expect "info, missing"     "nope"             -- "$abp" info "$tmp/nope"

# Nothing of the finished run was touched, and no failed run left a partial output.
sum_after=$(cd "$tmp/run" && sha256sum checkpoint.h5 metrics.csv samples.png)
if [ "$sum_before" = "$sum_after" ]; then pass=$((pass + 1)); else echo "FAIL: earlier outputs changed"; failed=$((failed + 1)); fi
if ls "$tmp"/o*/checkpoint.h5 "$tmp"/x.png 2>/dev/null | grep -q .; then
  echo "FAIL: a failed command left an output"; failed=$((failed + 1))
else pass=$((pass + 1)); fi
echo "cli_errors: $pass passed, $failed failed"
[ $failed -eq 0 ]
