#!/usr/bin/env bash
# Samples users can take elsewhere, fitted priors and abp score, end to end (issue 11);
# train's own samples.png is abp sample's default draw of its final checkpoint:
# --out DIR/ writes one PNG of exactly h x w per sample; --out FILE.h5 writes /samples
# [n, h, w, c] on [-1, 1] and /z with attributes naming the prior and seed; the same seed and
# prior give the same latents, another prior other latents; scoring the .h5 file and drawing
# the same samples from the checkpoint give the same numbers; a set scored against itself
# has fd 0 and precision = recall = 1; bad priors and bad score inputs fail with one line and
# leave earlier outputs alone.
# Usage: cli_priors.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
faces=$src/datasets/lfw/faces-25x25-idx3-ubyte
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }
"$abp" train --data "$data" --limit 40 --batch 8 --langevin-steps 3 --iters 6 --threads 1 --quiet \
  --model "z 5 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh" --out "$tmp/m"
ck=$tmp/m/checkpoint.h5

# Fails with exit status $1 and exactly one line on stderr containing $2.
fails_with() {
  local want=$1 text=$2; shift 2
  local rc=0
  "$@" > "$tmp/out.txt" 2> "$tmp/err.txt" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$* exited $rc, not $want: $(cat "$tmp/err.txt")"
  [ "$(wc -l < "$tmp/err.txt")" -eq 1 ] || fail "$* said more than one line: $(cat "$tmp/err.txt")"
  grep -qF -- "$text" "$tmp/err.txt" || fail "$* said: $(cat "$tmp/err.txt") (wanted: $text)"
}
# Width and height of a PNG from its IHDR chunk.
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }
value() { grep "^$1=" "$2" | cut -d= -f2; }

# --- the default prior: gmm:10 with 100 latents or more, else normal, and says which ---
"$abp" sample --ckpt "$ck" --out "$tmp/dir/" --n 5 > "$tmp/auto.txt"
grep -q "^prior: normal (--prior auto: too few latents for a mixture)" "$tmp/auto.txt" || fail "auto on 40 latents: $(cat "$tmp/auto.txt")"; ok
grep -q "^prior: batch norm recomputed on 1000 draws" "$tmp/auto.txt" || fail "batch norm is not recomputed by default"; ok
"$abp" train --data "$data" --limit 100 --batch 50 --langevin-steps 1 --iters 1 --threads 1 \
  --model "z 3 | linear 7x7x2 | bn | lrelu 0.2 | deconv 2 k5 s2 | deconv 1 k5 s2 | tanh" --out "$tmp/m100" > "$tmp/train.txt"
# train's samples.png is abp sample's default draw of the final checkpoint, and says so
grep -q "^prior: gmm:10 fitted to 100 of 100 latents" "$tmp/train.txt" && grep -q "^sample: wrote 64 samples of 28x28x1 to $tmp/m100/samples.png" "$tmp/train.txt" ||
  fail "train did not redraw samples.png from the fitted prior: $(cat "$tmp/train.txt")"; ok
"$abp" sample --ckpt "$tmp/m100/checkpoint.h5" --out "$tmp/again.png" --threads 1 > /dev/null
cmp -s "$tmp/m100/samples.png" "$tmp/again.png" || fail "train's samples.png is not abp sample's default draw"; ok
"$abp" sample --ckpt "$tmp/m100/checkpoint.h5" --out "$tmp/old.png" --prior normal --batchnorm running --threads 1 > /dev/null
! cmp -s "$tmp/m100/samples.png" "$tmp/old.png" || fail "train's samples.png is still the N(0, I) draw"; ok
"$abp" sample --ckpt "$ck" --out "$tmp/again40.png" --threads 1 --quiet > "$tmp/quiet.txt"
cmp -s "$tmp/m/samples.png" "$tmp/again40.png" && [ ! -s "$tmp/quiet.txt" ] || fail "40 latents: samples.png, or sample --quiet printed"; ok
"$abp" sample --ckpt "$tmp/m100/checkpoint.h5" --out "$tmp/auto.h5" --n 2 > "$tmp/auto.txt"
grep -q "^prior: gmm:10 fitted to 100 of 100 latents" "$tmp/auto.txt" || fail "auto on 100 latents: $(cat "$tmp/auto.txt")"; ok
h5dump -a /prior "$tmp/auto.h5" | grep -q '"gmm:10"' || fail "the file names auto's choice"; ok

# --- one PNG per sample ---
[ "$(ls "$tmp/dir" | tr '\n' ' ')" = "sample-000000.png sample-000001.png sample-000002.png sample-000003.png sample-000004.png " ] ||
  fail "folder holds: $(ls "$tmp/dir")"; ok
[ "$(png_size "$tmp/dir/sample-000003.png")" = "28x28" ] || fail "a sample PNG is $(png_size "$tmp/dir/sample-000003.png")"; ok
"$abp" sample --ckpt "$ck" --out "$tmp/grid.png" --n 5 > /dev/null
[ "$(png_size "$tmp/grid.png")" = "88x59" ] || fail "the grid is $(png_size "$tmp/grid.png")"; ok # 3 x 2 tiles with borders

# --- HDF5 samples and latents ---
"$abp" sample --ckpt "$ck" --out "$tmp/a.h5" --n 6 --prior gmm:2 --seed 4 > "$tmp/a.txt"
grep -q "prior: gmm:2 fitted to 40 of 40 latents" "$tmp/a.txt" || fail "sample said: $(cat "$tmp/a.txt")"; ok
h5dump -H "$tmp/a.h5" > "$tmp/a.head"
grep -A3 'DATASET "samples"' "$tmp/a.head" | grep -q "H5T_IEEE_F32LE" || fail "/samples is not float32"; ok
grep -A4 'DATASET "samples"' "$tmp/a.head" | grep -q "( 6, 28, 28, 1 )" || fail "/samples is not [6, 28, 28, 1]"; ok
grep -A4 'DATASET "z"' "$tmp/a.head" | grep -q "( 6, 5 )" || fail "/z is not [6, 5]"; ok
h5dump -a /prior "$tmp/a.h5" | grep -q '"gmm:2"' || fail "the prior attribute"; ok
h5dump -a /format "$tmp/a.h5" | grep -q '"abp-samples"' || fail "the format attribute"; ok
h5dump -a /seed "$tmp/a.h5" | grep -q '(0): 4' || fail "the seed attribute"; ok
h5dump -d /samples -m %.6f -y -w 0 -o "$tmp/s.txt" "$tmp/a.h5" > /dev/null
tr ', ' '\n\n' < "$tmp/s.txt" | awk 'NF { n++; if ($1 > 1 || $1 < -1) bad++ } END { exit !(n == 6 * 784 && bad == 0) }' ||
  fail "/samples holds values outside [-1, 1] or not 4704 of them"; ok
zdump() { h5dump -d /z -m %.9g -y -w 0 -o "$tmp/z.txt" "$1" > /dev/null; cat "$tmp/z.txt"; }
"$abp" sample --ckpt "$ck" --out "$tmp/b.h5" --n 6 --prior gmm:2 --seed 4 > /dev/null
[ "$(zdump "$tmp/a.h5")" = "$(zdump "$tmp/b.h5")" ] || fail "the same seed gave other latents"; ok
"$abp" sample --ckpt "$ck" --out "$tmp/c.h5" --n 6 --prior normal --seed 4 > /dev/null
[ "$(zdump "$tmp/a.h5")" != "$(zdump "$tmp/c.h5")" ] || fail "gmm:2 and normal drew the same latents"; ok
"$abp" sample --ckpt "$ck" --out "$tmp/r.h5" --n 6 --prior gaussian --batchnorm prior > "$tmp/r.txt"
grep -q "batch norm recomputed on 1000 draws" "$tmp/r.txt" || fail "recalibration said: $(cat "$tmp/r.txt")"; ok
h5dump -a /batchnorm "$tmp/r.h5" | grep -q '"prior"' || fail "the batchnorm attribute"; ok

# --- abp score ---
"$abp" score --features pixels --ref "$data" --ref-limit 40 --samples "$tmp/a.h5" > "$tmp/s1.txt"
"$abp" score --features pixels --ref "$data" --ref-limit 40 --samples "$ck" --n 6 --prior gmm:2 --seed 4 > "$tmp/s2.txt"
for name in fd kid precision recall; do
  [ -n "$(value $name "$tmp/s1.txt")" ] && [ "$(value $name "$tmp/s1.txt")" = "$(value $name "$tmp/s2.txt")" ] ||
    fail "$name of the .h5 file ($(value $name "$tmp/s1.txt")) and of the same draws from the checkpoint ($(value $name "$tmp/s2.txt"))"
done; ok
grep -q "^# confidence and coverage: omitted" "$tmp/s1.txt" || fail "score does not say it leaves out confidence"; ok
"$abp" score --features pca:8 --ref "$data" --samples "$data" --train "$data" > "$tmp/s3.txt"
[ "$(value precision "$tmp/s3.txt")" = "1.0000" ] && [ "$(value recall "$tmp/s3.txt")" = "1.0000" ] &&
  awk -v fd="$(value fd "$tmp/s3.txt")" -v nn="$(value nn_train "$tmp/s3.txt")" 'BEGIN { exit !(fd < 1e-6 && nn < 1e-4) }' ||
  fail "a set against itself: $(tr '\n' ' ' < "$tmp/s3.txt")"; ok
[ "$(value samples_n "$tmp/s3.txt")" = "2000" ] && [ "$(value ref_n "$tmp/s3.txt")" = "2000" ] || fail "set sizes"; ok
OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -np 2 "$abp" score --features pixels --ref "$data" --ref-limit 40 \
  --samples "$tmp/a.h5" > "$tmp/s4.txt"
cmp -s "$tmp/s1.txt" "$tmp/s4.txt" || fail "score under mpirun -np 2 printed something else"; ok

# --- bad input: one line, earlier outputs intact ---
sum=$(md5sum < "$tmp/a.h5")
fails_with 2 "--prior: 'gmm:0': a mixture needs 1 to 10000 components" "$abp" sample --ckpt "$ck" --out "$tmp/a.h5" --prior gmm:0; ok
fails_with 1 "--prior gmm:41: $ck holds 40 latents, too few for 41 components" "$abp" sample --ckpt "$ck" --out "$tmp/a.h5" --prior gmm:41; ok
fails_with 2 "'flow' is not a prior (normal, gaussian, gmm:K or ebm)" "$abp" sample --ckpt "$ck" --out "$tmp/a.h5" --prior flow; ok
fails_with 1 "--prior ebm: $ck learned no prior" "$abp" sample --ckpt "$ck" --out "$tmp/a.h5" --prior ebm; ok
[ "$(md5sum < "$tmp/a.h5")" = "$sum" ] && [ ! -e "$tmp/a.h5.tmp" ] || fail "a failed sample touched the earlier output"; ok
# the same priors drawn by abp score: the same one line
fails_with 2 "--prior: 'gmm:0': a mixture needs 1 to 10000 components" \
  "$abp" score --features pixels --ref "$data" --ref-limit 40 --samples "$ck" --prior gmm:0; ok
fails_with 1 "--prior gmm:41: $ck holds 40 latents, too few for 41 components" \
  "$abp" score --features pixels --ref "$data" --ref-limit 40 --samples "$ck" --prior gmm:41; ok
fails_with 1 "a generator checkpoint (it maps latents to images), not a feature network" \
  "$abp" score --features "$ck" --ref "$data" --samples "$tmp/a.h5"; ok
fails_with 2 "--features 'pca:x'" "$abp" score --features pca:x --ref "$data" --samples "$tmp/a.h5"; ok
fails_with 1 "$faces: 25x25x1 images, but the pixels features take 28x28x1 images" \
  "$abp" score --features pixels --ref "$data" --ref-limit 40 --samples "$faces"; ok
fails_with 1 "--samples: $tmp/nothing.h5: not an HDF5 file" "$abp" score --features pixels --ref "$data" --samples "$tmp/nothing.h5"; ok
fails_with 1 "--train $faces: 25x25x1 images, the samples are 28x28x1" \
  "$abp" score --features pixels --ref "$data" --ref-limit 40 --samples "$tmp/a.h5" --train "$faces"; ok
echo "cli_priors: $pass passed"
