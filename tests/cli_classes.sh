#!/usr/bin/env bash
# abp prepare --labels --classes: only the examples of the listed classes, in order, under
# their original names and with their original pixels (checked against the IDX files with
# od) and labels (/labels), the same bytes on 1 and 2 ranks, --limit counting kept examples, two sources with a
# labels file each; and bad --classes values, a labels file whose count does not match its
# images, and the other misuses, each one line and no file left. Usage: cli_classes.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small
train=$data/train-images-idx3-ubyte train_labels=$data/train-labels-idx1-ubyte
test=$data/t10k-images-idx3-ubyte test_labels=$data/t10k-labels-idx1-ubyte
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# expect NAME EXPECTED-TEXT STATUS -- COMMAND...: exits STATUS, one stderr line with the text.
expect() {
  local name=$1 want=$2 status=$3; shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne "$status" ]; then fail "$name: exit $rc, expected $status ($err)"; return; fi
  if [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name: expected one line, got: $err"; return; fi
  if ! grep -qF -- "$want" <<<"$err"; then fail "$name: '$err' does not mention '$want'"; return; fi
  ok
}

# labels FILE: one label per line, from the IDX labels file itself (8-byte header).
labels() { od -A n -v -t u1 -j 8 "$1" | tr -s ' ' '\n' | grep .; }
# names FILE.h5: the original index of every row, one per line.
names() { h5dump -d /examples "$1" | grep -o '#[0-9]*' | tr -d '#'; }

# ---------------------------------------------------------------- digits 0-4 of the training set
"$abp" prepare --idx "$train" --labels "$train_labels" --classes 0-4 --out "$tmp/a.h5" --quiet > /dev/null ||
  fail "prepare --classes 0-4"
want=$(labels "$train_labels" | awk '$1 <= 4 { print NR - 1 }')
[ "$(echo "$want" | wc -l)" -eq 1014 ] && ok || fail "the labels file should hold 1014 digits 0-4"
got=$(names "$tmp/a.h5")
[ "$got" = "$want" ] && ok || fail "rows are not exactly the digits 0-4, in order ($(echo "$got" | head -3 | tr '\n' ' ')...)"
h5dump -a /count "$tmp/a.h5" | grep -qF '(0): 1014' && ok || fail "/count is not 1014"
# /labels: the kept digits' own labels, in order (what --objective classify --labels reads)
h5dump -d /labels -y -w 0 -o "$tmp/l.txt" "$tmp/a.h5" > /dev/null || fail "h5dump /labels"
[ "$(tr ', ' '\n\n' < "$tmp/l.txt" | grep .)" = "$(labels "$train_labels" | awk '$1 <= 4')" ] && ok ||
  fail "/labels are not the labels of the kept digits"
# Row 500's pixels are the bytes of the image it names.
k=$(echo "$want" | sed -n 501p)
h5dump -d /images -s 500,0,0,0 -c 1,28,28,1 -b LE -o "$tmp/row.bin" "$tmp/a.h5" > /dev/null || fail "h5dump row 500"
dd if="$train" of="$tmp/orig.bin" bs=1 skip=$((16 + k * 784)) count=784 status=none
cmp -s "$tmp/row.bin" "$tmp/orig.bin" && ok || fail "row 500 is not the pixels of image $k"

# The same file on 2 ranks.
timeout 60 mpirun --oversubscribe -np 2 "$abp" prepare --idx "$train" --labels "$train_labels" --classes 0-4 \
  --out "$tmp/a2.h5" --quiet > /dev/null || fail "prepare --classes on 2 ranks"
cmp -s "$tmp/a.h5" "$tmp/a2.h5" && ok || fail "1 and 2 ranks wrote different bytes"

# A list with single classes and a range; --limit counts kept examples.
"$abp" prepare --idx "$test" --labels "$test_labels" --classes 1,3,7-9 --limit 50 --out "$tmp/b.h5" --quiet > /dev/null ||
  fail "prepare --classes 1,3,7-9 --limit 50"
want=$(labels "$test_labels" | awk '$1 == 1 || $1 == 3 || $1 >= 7 { print NR - 1 }' | head -50)
[ "$(names "$tmp/b.h5")" = "$want" ] && ok || fail "--classes 1,3,7-9 --limit 50 kept other rows"

# Two sources, a labels file each: the kept rows of both, in order.
"$abp" prepare --idx "$train" --labels "$train_labels" --idx "$test" --labels "$test_labels" --classes 5-9 \
  --out "$tmp/c.h5" --quiet > /dev/null || fail "prepare two sources with labels"
n_train=$(labels "$train_labels" | awk '$1 >= 5' | wc -l) n_test=$(labels "$test_labels" | awk '$1 >= 5' | wc -l)
h5dump -a /count "$tmp/c.h5" | grep -qF "(0): $((n_train + n_test))" && ok || fail "two sources: count is not $n_train + $n_test"
h5dump -d /examples -s "$n_train" -c 1 "$tmp/c.h5" | grep -qF '"t10k-images-idx3-ubyte#0"' && ok ||
  fail "two sources: the first kept test digit (#0, a 7) does not follow the training digits"

# abp train reads the selection.
"$abp" train --data "$tmp/b.h5" --model "z 2 | linear 7x7x4 | deconv 1 k5 s4 p1 op1 | tanh" --batch 10 \
  --langevin-steps 1 --iters 2 --threads 1 --quiet --out "$tmp/run" || fail "train on a selection"

# ---------------------------------------------------------------- misuse: one line, nothing written
bad() { # NAME TEXT STATUS ARGS...: prepare with ARGS fails so, and leaves no output
  local name=$1 text=$2 status=$3; shift 3
  expect "$name" "$text" "$status" -- "$abp" prepare "$@" --out "$tmp/bad.h5"
  ls "$tmp"/bad.h5* > /dev/null 2>&1 && fail "$name: left $(ls "$tmp"/bad.h5*)" || ok
}
for c in 4-0 a 1, 256 1-2-3 "0 - 4"; do
  bad "--classes '$c'" "--classes: '$c' is not a list of labels" 2 --idx "$train" --labels "$train_labels" --classes "$c"
done
bad "--classes ''" "--classes" 2 --idx "$train" --labels "$train_labels" --classes ""
bad "labels count" "1000 labels but $train holds 2000 images" 1 --idx "$train" --labels "$test_labels" --classes 0-4
bad "no --labels" "--classes needs one --labels file per source: 1 source, 0 --labels" 2 --idx "$train" --classes 1
bad "too few --labels" "2 sources, 1 --labels" 2 --idx "$train" --idx "$test" --labels "$train_labels" --classes 1
bad "too few --labels alone" "--labels needs one labels file per source: 2 sources, 1 --labels" 2 --idx "$train" \
  --idx "$test" --labels "$train_labels"
bad "labels count without --classes" "1000 labels but $train holds 2000 images" 1 --idx "$train" --labels "$test_labels"
bad "not labels" "$train: not an IDX labels file" 1 --idx "$train" --labels "$train" --classes 1
bad "missing labels" "$tmp/none: cannot open" 1 --idx "$train" --labels "$tmp/none" --classes 1
head -c 1000 "$train_labels" > "$tmp/short"
bad "short labels" "$tmp/short: IDX header says 2000 labels" 1 --idx "$train" --labels "$tmp/short" --classes 1
bad "no such class" "no examples of the selected classes" 1 --idx "$train" --labels "$train_labels" --classes 10-255

echo "cli_classes: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
