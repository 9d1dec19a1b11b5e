#!/usr/bin/env bash
# abp prepare end to end: the HDF5 data set it writes (layout by h5dump), the same bytes as
# a singleton and on 3 ranks, concatenated sources, a folder of PPM/PGM images, training
# from the packed file = training from its source (bit for bit, on 1 and 2 ranks, and a
# resume across the two), and bad input. Usage: cli_prepare.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2 bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
train=$src/datasets/mnist-small/train-images-idx3-ubyte
test=$src/datasets/mnist-small/t10k-images-idx3-ubyte
model="z 2 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
mpi=(timeout 120 mpirun --oversubscribe)
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# shows WHAT TEXT H5DUMP_ARGS...: `h5dump H5DUMP_ARGS...` prints TEXT.
shows() {
  local what=$1 text=$2 out; shift 2
  out=$(h5dump "$@" 2>&1) || { fail "$what: h5dump $* failed: $out"; return; }
  if grep -qF -- "$text" <<<"$out"; then ok; else fail "$what: 'h5dump $*' does not show '$text'"; fi
}

# expect NAME EXPECTED-TEXT -- COMMAND...: exit non-zero, one stderr line containing the text.
expect() {
  local name=$1 want=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then fail "$name: exit 0"; return; fi
  if [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name: expected one line, got: $err"; return; fi
  if ! grep -qF -- "$want" <<<"$err"; then fail "$name: '$err' does not mention '$want'"; return; fi
  ok
}

# ---------------------------------------------------------------- one IDX file, 1 and 3 ranks
out=$("$abp" prepare --idx "$train" --limit 300 --out "$tmp/one.h5") || fail "prepare, singleton"
grep -qF "wrote $tmp/one.h5: 300 images 28x28x1" <<<"$out" && ok || fail "summary line: $out"
"${mpi[@]}" -np 3 "$abp" prepare --idx "$train" --limit 300 --out "$tmp/three.h5" --quiet > /dev/null ||
  fail "prepare on 3 ranks"
h5diff "$tmp/one.h5" "$tmp/three.h5" > /dev/null && ok || fail "1 and 3 ranks wrote different contents"
cmp -s "$tmp/one.h5" "$tmp/three.h5" && ok || fail "1 and 3 ranks wrote different bytes"
ls "$tmp"/*.tmp > /dev/null 2>&1 && fail "a .tmp file is left" || ok

f=$tmp/one.h5
shows "images type"  'H5T_STD_U8LE'                       -H -d /images "$f"
shows "images shape" 'SIMPLE { ( 300, 28, 28, 1 )'        -H -d /images "$f"
shows "chunks"       'CHUNKED ( 1, 28, 28, 1 )'           -p -H -d /images "$f"
shows "no filters"   'NONE'                               -p -H -d /images "$f"
shows "names"        'SIMPLE { ( 300 )'                   -H -d /examples "$f"
shows "name of 17"   '(17): "train-images-idx3-ubyte#17"' -d /examples -s 17 -c 1 "$f"
shows "format"       '"abp-images"'                       -a /format "$f"
shows "version"      '(0): 1'                             -a /format_version "$f"
shows "count"        '(0): 300'                           -a /count "$f"
shows "height"       '(0): 28'                            -a /height "$f"
shows "channels"     '(0): 1'                             -a /channels "$f"
# Pixel (row 12, column 11) of image 17 (part of the digit: 155) is byte
# 16 + 17*784 + 12*28 + 11 of the IDX file.
want=$(od -A n -t u1 -j $((16 + 17 * 784 + 12 * 28 + 11)) -N 1 "$train" | tr -d ' ')
[ "${want:-0}" -gt 0 ] && ok || fail "pixel (17, 12, 11) of the IDX file is '$want', expected ink"
shows "a pixel"      "(17,12,11,0): $want"                -d /images -s 17,12,11,0 -c 1,1,1,1 "$f"
"$abp" info "$f" | grep -qF "hdf5 data, 300 examples of 28x28x1" && ok || fail "info: $("$abp" info "$f" 2>&1)"

# ---------------------------------------------------------------- two sources, in order
"$abp" prepare --idx "$train" --idx "$test" --out "$tmp/both.h5" --quiet > /dev/null || fail "prepare two sources"
shows "count adds up" '(0): 3000'                         -a /count "$tmp/both.h5"
shows "first's last"  '(1999): "train-images-idx3-ubyte#1999"' -d /examples -s 1999 -c 1 "$tmp/both.h5"
shows "second's first" '(2000): "t10k-images-idx3-ubyte#0"' -d /examples -s 2000 -c 1 "$tmp/both.h5"

# ---------------------------------------------------------------- a folder of images
# ppm FILE W H R G B: a binary PPM whose red channel runs along the row (so a resize shows).
ppm() {
  local x y
  { printf 'P6\n%d %d\n255\n' "$2" "$3"
    for ((y = 0; y < $3; y++)); do for ((x = 0; x < $2; x++)); do
      printf "\\$(printf %03o $(( ($4 + 16 * x) % 256 )))\\$(printf %03o "$5")\\$(printf %03o "$6")"
    done; done; } > "$1"
}
mkdir "$tmp/pics"
ppm "$tmp/pics/a.ppm" 8 8 10 200 30
ppm "$tmp/pics/b.ppm" 12 8 90 40 250      # wider: centre-cropped, then as is
ppm "$tmp/pics/c.ppm" 16 16 0 128 128     # larger: resized
{ printf 'P5\n8 8\n255\n'; head -c 64 /dev/urandom; } > "$tmp/pics/d.pgm"   # grey: to RGB
printf 'a README is skipped' > "$tmp/pics/README.txt"
"$abp" prepare --images "$tmp/pics" --out "$tmp/pics.h5" --quiet > /dev/null || fail "prepare a folder"
"$abp" info "$tmp/pics.h5" | grep -qF "hdf5 data, 4 examples of 8x8x3" && ok || fail "info: $("$abp" info "$tmp/pics.h5" 2>&1)"
shows "folder names" '"a.ppm", "b.ppm", "c.ppm", "d.pgm"' -d /examples "$tmp/pics.h5"
rgb="z 2 | linear 2x2x4 | deconv 3 k5 s4 p1 op1 | tanh"   # makes 8x8x3
small=(--model "$rgb" --batch 2 --langevin-steps 2 --iters 2 --quiet)
"$abp" train --data "$tmp/pics" "${small[@]}" --out "$tmp/rgb-folder" || fail "train on the folder"
"$abp" train --data "$tmp/pics.h5" "${small[@]}" --out "$tmp/rgb-h5" || fail "train on pics.h5"
"$bin/ckpt_diff" "$tmp/rgb-folder/checkpoint.h5" "$tmp/rgb-h5/checkpoint.h5" 0 > /dev/null && ok ||
  fail "training on the folder and on its packed file differ"

# ---------------------------------------------------------------- training: IDX = packed file
common=(--model "$model" --limit 40 --batch 8 --langevin-steps 3 --quiet)
"$abp" train --data "$train" "${common[@]}" --iters 3 --out "$tmp/idx1" || fail "train on IDX"
"$abp" train --data "$tmp/one.h5" "${common[@]}" --iters 3 --out "$tmp/h51" || fail "train on one.h5"
"$bin/ckpt_diff" "$tmp/idx1/checkpoint.h5" "$tmp/h51/checkpoint.h5" 0 > /dev/null && ok ||
  fail "singleton: training on IDX and on its packed file differ"
"${mpi[@]}" -np 2 "$abp" train --data "$train" "${common[@]}" --iters 3 --out "$tmp/idx2" || fail "train on IDX, 2 ranks"
"${mpi[@]}" -np 2 "$abp" train --data "$tmp/three.h5" "${common[@]}" --iters 3 --out "$tmp/h52" || fail "train on .h5, 2 ranks"
"$bin/ckpt_diff" "$tmp/idx2/checkpoint.h5" "$tmp/h52/checkpoint.h5" 0 > /dev/null && ok ||
  fail "2 ranks: training on IDX and on its packed file differ"
# The names agree too: 2 iterations on the IDX file, resumed on the packed file to 3.
"$abp" train --data "$train" "${common[@]}" --iters 2 --out "$tmp/cross" || fail "train 2 on IDX"
"$abp" train --data "$tmp/one.h5" "${common[@]}" --iters 3 --out "$tmp/cross" --resume "$tmp/cross/checkpoint.h5" ||
  fail "resume on the packed file"
"$bin/ckpt_diff" "$tmp/idx1/checkpoint.h5" "$tmp/cross/checkpoint.h5" 0 > /dev/null && ok ||
  fail "resumed on the packed file, the result differs"

# ---------------------------------------------------------------- bad input
sum_before=$(sha256sum "$tmp/one.h5")
head -c 5000 "$tmp/one.h5" > "$tmp/cut.h5"
mkdir "$tmp/badpics" && cp "$tmp/pics/a.ppm" "$tmp/pics/b.ppm" "$tmp/pics/c.ppm" "$tmp/badpics/"
printf 'not a picture' > "$tmp/badpics/z.png"    # sorts last: found while decoding, on the last rank
expect "missing input"   "$tmp/nope"            -- "$abp" prepare --idx "$tmp/nope" --out "$tmp/e1.h5"
expect "--out exists"    "already exists"       -- "$abp" prepare --idx "$train" --out "$tmp/one.h5"
expect "not an image"    "z.png: not an image"  -- "$abp" prepare --images "$tmp/badpics" --out "$tmp/e2.h5"
expect "nonsense size"   "--size"               -- "$abp" prepare --idx "$train" --size 28by28 --out "$tmp/e3.h5"
expect "zero size"       "--size"               -- "$abp" prepare --idx "$train" --size 0x28 --out "$tmp/e4.h5"
expect "2 channels"      "--channels"           -- "$abp" prepare --idx "$train" --channels 2 --out "$tmp/e5.h5"
expect "no source"       "--idx FILE or --images DIR" -- "$abp" prepare --out "$tmp/e6.h5"
expect "folder as IDX"   "give it with --images" -- "$abp" prepare --idx "$tmp/pics" --out "$tmp/e7.h5"
expect "truncated .h5"   "cut.h5: truncated"    -- "$abp" train --data "$tmp/cut.h5" --out "$tmp/e8"
expect "checkpoint as data" "an abp checkpoint, not a data set" -- "$abp" train --data "$tmp/idx1/checkpoint.h5" --out "$tmp/e9"
expect "info, truncated" "cut.h5"               -- "$abp" info "$tmp/cut.h5"
# On 2 ranks the bad image is rank 1's: all ranks stop together, rank 0 says why.
err=$("${mpi[@]}" -np 2 "$abp" prepare --images "$tmp/badpics" --out "$tmp/e10.h5" 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -c "z.png: not an image" <<<"$err" | grep -qx 1 && ok ||
  fail "2 ranks, bad image: exit $rc, $err"
[ "$sum_before" = "$(sha256sum "$tmp/one.h5")" ] && ok || fail "--out exists: the file changed"
ls "$tmp"/e* "$tmp"/*.tmp > /dev/null 2>&1 && fail "a failed command left an output: $(ls "$tmp"/e* "$tmp"/*.tmp 2>/dev/null)" || ok

"$abp" prepare --help | grep -q "^usage: abp prepare" && ok || fail "prepare --help"
echo "cli_prepare: $pass passed, $failed failed"
[ $failed -eq 0 ]
