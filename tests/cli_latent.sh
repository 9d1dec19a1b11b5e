#!/usr/bin/env bash
# abp interpolate draws what it says (the latent space, §7 of issue 5): the --grid tiles sit
# at the paper's 9 x 9 latent values over [-2, 2]^2; the ends of every pair and the corners
# of --corners are the checkpoint's latents of the named examples, exactly (so their images
# are those examples' reconstructions); along a spherical path the length moves steadily from
# one end's to the other's; bad choices fail with one line and leave earlier outputs alone.
# Usage: cli_latent.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
net="linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }
common=(--data "$data" --limit 40 --batch 8 --langevin-steps 3 --iters 6 --threads 1 --quiet)
"$abp" train "${common[@]}" --model "z 2 | $net" --out "$tmp/d2"
"$abp" train "${common[@]}" --model "z 5 | $net" --out "$tmp/d5"

# Row R of FILE.csv's tile (row, col) = (R, C): its latent values, comma-separated.
tile() { awk -F, -v r="$2" -v c="$3" 'NR > 1 && $1 == r && $2 == c { s = $4; for (k = 5; k <= NF; k++) s = s "," $k; print s }' "$1"; }
# Row I of the checkpoint's /latents, printed as the CSV prints it (%.9g).
latent() {
  h5dump -d /latents -s "$2,0" -c "1,$3" -m %.9g -y -w 0 -o "$tmp/h5.txt" "$1" > /dev/null
  tr -d ' \n' < "$tmp/h5.txt"
}

# --- the grid (the paper's Figure 5) ---
line=$("$abp" interpolate --ckpt "$tmp/d2/checkpoint.h5" --out "$tmp/g.png" --grid --latents "$tmp/g.csv")
echo "$line" | grep -q "(9 x 9): z1 from -2 (left) to 2 (right), z2 from 2 (top) to -2 (bottom)" || fail "grid said: $line"; ok
[ -s "$tmp/g.png" ] && [ "$(wc -l < "$tmp/g.csv")" -eq 82 ] || fail "grid: no PNG or not 81 latents"; ok
[ "$(tile "$tmp/g.csv" 0 0)" = "-2,2" ] && [ "$(tile "$tmp/g.csv" 0 8)" = "2,2" ] &&
  [ "$(tile "$tmp/g.csv" 8 0)" = "-2,-2" ] && [ "$(tile "$tmp/g.csv" 8 8)" = "2,-2" ] ||
  fail "grid corners: $(tile "$tmp/g.csv" 0 0) $(tile "$tmp/g.csv" 0 8) $(tile "$tmp/g.csv" 8 0) $(tile "$tmp/g.csv" 8 8)"; ok
[ "$(tile "$tmp/g.csv" 4 4)" = "0,0" ] && [ "$(tile "$tmp/g.csv" 3 5)" = "0.5,0.5" ] || fail "grid inside: $(tile "$tmp/g.csv" 3 5)"; ok
"$abp" interpolate --ckpt "$tmp/d2/checkpoint.h5" --out "$tmp/g3.png" --grid --range 3 --steps 7 --latents "$tmp/g3.csv" > /dev/null
[ "$(wc -l < "$tmp/g3.csv")" -eq 50 ] && [ "$(tile "$tmp/g3.csv" 0 6)" = "3,3" ] && [ "$(tile "$tmp/g3.csv" 6 0)" = "-3,-3" ] &&
  [ "$(tile "$tmp/g3.csv" 5 2)" = "-1,-2" ] || fail "grid --range 3 --steps 7"; ok

# --- pairs: the ends are the examples' latents, bit for bit ---
ck=$tmp/d5/checkpoint.h5
for how in spherical linear; do
  line=$("$abp" interpolate --ckpt "$ck" --out "$tmp/$how.png" --examples 3,7,10,2 --steps 6 --$how --latents "$tmp/$how.csv")
  echo "$line" | grep -q "row 1: example 10 (train-images-idx3-ubyte#10) to example 2 (train-images-idx3-ubyte#2)" || fail "$how said: $line"
  [ "$(wc -l < "$tmp/$how.csv")" -eq 13 ] || fail "$how: not 2 x 6 latents"
  [ "$(tile "$tmp/$how.csv" 0 0)" = "$(latent "$ck" 3 5)" ] && [ "$(tile "$tmp/$how.csv" 0 5)" = "$(latent "$ck" 7 5)" ] &&
    [ "$(tile "$tmp/$how.csv" 1 0)" = "$(latent "$ck" 10 5)" ] && [ "$(tile "$tmp/$how.csv" 1 5)" = "$(latent "$ck" 2 5)" ] ||
    fail "$how: ends $(tile "$tmp/$how.csv" 0 0) / $(latent "$ck" 3 5)"
  ok
done
# Spherical: the length goes steadily from one end's to the other's (never outside them);
# linear: the middle of a straight line is shorter than the great circle's.
awk -F, 'NR > 1 { n[$1, $2] = $3 } END {
  for (r = 0; r < 2; r++) {
    d = (n[r, 5] - n[r, 0]) / 5
    for (c = 0; c <= 5; c++) if ((n[r, c] - (n[r, 0] + c * d))^2 > 1e-10 * n[r, 0]^2) { print "row " r " col " c ": " n[r, c]; exit 1 }
  } }' "$tmp/spherical.csv" || fail "spherical lengths not linear between the ends"; ok
lin=$(awk -F, '$1 == 0 && $2 == 2 { print $3 }' "$tmp/linear.csv") sph=$(awk -F, '$1 == 0 && $2 == 2 { print $3 }' "$tmp/spherical.csv")
awk -v l="$lin" -v s="$sph" 'BEGIN { exit !(l < s) }' || fail "linear middle $lin not shorter than spherical $sph"; ok
# With 2 steps a row is just its two ends: the spherical and the linear picture are the same.
"$abp" interpolate --ckpt "$ck" --out "$tmp/s2.png" --examples 3,7,10,2 --steps 2 --spherical > /dev/null
"$abp" interpolate --ckpt "$ck" --out "$tmp/l2.png" --examples 3,7,10,2 --steps 2 --linear > /dev/null
cmp -s "$tmp/s2.png" "$tmp/l2.png" || fail "the ends' images differ between spherical and linear"; ok
cmp -s "$tmp/spherical.png" "$tmp/linear.png" && fail "spherical and linear walks drew the same picture"; ok
# The default pairs: examples 0 to 1, 2 to 3, ...
"$abp" interpolate --ckpt "$ck" --out "$tmp/d.png" --pairs 2 --steps 3 --latents "$tmp/d.csv" | grep -q "row 1: example 2 (.*) to example 3" || fail "default pairs"
[ "$(tile "$tmp/d.csv" 1 2)" = "$(latent "$ck" 3 5)" ] || fail "default pairs: row 1 does not end at example 3"; ok

# --- corners (the paper's face figure) ---
line=$("$abp" interpolate --ckpt "$ck" --out "$tmp/c.png" --corners --examples 5,6,7,8 --steps 4 --spherical --latents "$tmp/c.csv")
echo "$line" | grep -q "bottom right example 8 (train-images-idx3-ubyte#8)" || fail "corners said: $line"
[ "$(wc -l < "$tmp/c.csv")" -eq 17 ] || fail "corners: not 4 x 4 latents"
[ "$(tile "$tmp/c.csv" 0 0)" = "$(latent "$ck" 5 5)" ] && [ "$(tile "$tmp/c.csv" 0 3)" = "$(latent "$ck" 6 5)" ] &&
  [ "$(tile "$tmp/c.csv" 3 0)" = "$(latent "$ck" 7 5)" ] && [ "$(tile "$tmp/c.csv" 3 3)" = "$(latent "$ck" 8 5)" ] ||
  fail "corners are not the examples' latents"; ok
# A 2 x 2 panel is its 4 corners: the same picture as the two pairs 3-7 and 10-2.
"$abp" interpolate --ckpt "$ck" --out "$tmp/c2.png" --corners --examples 3,7,10,2 --steps 2 --spherical > /dev/null
cmp -s "$tmp/c2.png" "$tmp/l2.png" || fail "2 x 2 corner panel differs from its corners"; ok

# --- mistakes: one line naming the option or file, status 2 (usage) or 1, outputs untouched ---
cp "$tmp/spherical.png" "$tmp/keep.png"; cp "$tmp/spherical.csv" "$tmp/keep.csv"
expect() { # STATUS WORD -- COMMAND...
  local want=$1 word=$2; shift 3
  set +e; "$@" > /dev/null 2> "$tmp/err"; local rc=$?; set -e
  [ "$rc" -eq "$want" ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q -- "$word" "$tmp/err" ||
    fail "$* -> status $rc (want $want), said: $(cat "$tmp/err")"
  cmp -s "$tmp/spherical.png" "$tmp/keep.png" && cmp -s "$tmp/spherical.csv" "$tmp/keep.csv" || fail "$*: touched earlier outputs"
  [ ! -e "$tmp/spherical.csv.tmp" ] || fail "$*: left a .tmp"
  ok
}
keep=(--ckpt "$ck" --out "$tmp/spherical.png" --latents "$tmp/spherical.csv")
expect 2 "--examples" -- "$abp" interpolate "${keep[@]}" --examples 1,2,3
expect 2 "needs 4" -- "$abp" interpolate "${keep[@]}" --corners --examples 0,1
expect 1 "not example 40" -- "$abp" interpolate "${keep[@]}" --examples 0,40
expect 2 "--grid" -- "$abp" interpolate "${keep[@]}" --grid --spherical
expect 1 "d = 2" -- "$abp" interpolate "${keep[@]}" --grid
expect 1 "nodir" -- "$abp" interpolate --ckpt "$ck" --out "$tmp/spherical.png" --latents "$tmp/nodir/x.csv"
echo "cli_latent: $pass passed, 0 failed"
