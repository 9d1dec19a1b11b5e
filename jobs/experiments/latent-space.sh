#!/usr/bin/env bash
# The latent space (issue 5 §7; Han et al., "Learning Generative ConvNet with Continuous
# Latent Factors by ABP", Figures 5 and 6):
#   (a) mnist28 with d = 2 on the 2,000 bundled digits, then `abp interpolate --grid`: g(z)
#       for z on the 9 x 9 grid over [-2, 2]^2 (the paper's Figure 5 panel) and over [-6, 6]^2;
#       once with the paper's sigma = 0.3 and once with sigma = 1;
#   (b) faces25 (d = 20) on the 100 LFW faces of datasets/lfw, then spherical interpolation
#       between inferred training latents: rows between pairs, and the paper's Figure 6 panel
#       with four training faces at its corners (and the same rows drawn linearly, to compare);
#   (c) the same spherical rows and corner panel on digits (mnist28, d = 30).
# It also measures how long the latents on each path are (spherical vs straight), and how
# the inferred d = 2 latents of the training digits fill [-2, 2]^2.
#   bash jobs/experiments/latent-space.sh [OUT]     (default runs/latent-space)
# Settings (environment): ITERS_DIGITS (300), ITERS_FACES (400), THREADS (1), RANKS (1).
#   here (2 shared cores): the defaults, about 15-20 minutes of training per digit model
#   with other work on the machine (under 6 minutes each when idle), 7 for the faces;
#   a cluster node: ITERS_DIGITS=1000 ITERS_FACES=1000 RANKS=4 THREADS=2 (the paper: T = 600).
# A run folder that already holds checkpoint.h5 is not trained again (delete it to redo).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/latent-space}
iters_digits=${ITERS_DIGITS:-300} iters_faces=${ITERS_FACES:-400} threads=${THREADS:-1} ranks=${RANKS:-1}
digits=$here/datasets/mnist-small/train-images-idx3-ubyte
labels=$here/datasets/mnist-small/train-labels-idx1-ubyte
faces=$here/datasets/lfw/faces-25x25-idx3-ubyte
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
bash "$here/jobs/setup.sh" > /dev/null
abp=$here/build/abp
mkdir -p "$out"

train() { # OUT_DIR ABP_TRAIN_OPTIONS...
  local run=$1; shift
  [ -e "$run/checkpoint.h5" ] && { echo "latent-space: $run already trained"; return; }
  local launch=()
  [ "$ranks" -le 1 ] || launch=(mpirun -np "$ranks")
  "${launch[@]}" "$abp" train "$@" --threads "$threads" --out "$run" --quiet
}
train "$out/faces"      --data "$faces"  --model faces25 --full-batch --iters "$iters_faces" --lr 1e-3
train "$out/digits-d2"  --data "$digits" --model mnist28 --latent-dim 2 --iters "$iters_digits" --batch 64 --lr 1e-3
train "$out/digits-d30" --data "$digits" --model mnist28 --iters "$iters_digits" --batch 64 --lr 1e-3
# (a) again with sigma = 1: the prior |z|^2/2 then weighs 11 times more against the residual
train "$out/digits-d2-sigma1" --data "$digits" --model mnist28 --latent-dim 2 --sigma 1 --iters "$iters_digits" --batch 64 --lr 1e-3

# The first training digit of each class 0..9 (from the label file: 8-byte header, 1 byte each).
first=($(od -An -v -tu1 -j8 "$labels" | tr -s ' ' '\n' | awk 'NF { if (!($1 in seen)) seen[$1] = i; i++ }
  END { for (k = 0; k <= 9; k++) printf "%d ", seen[k] }'))
dpairs="${first[0]},${first[1]},${first[2]},${first[3]},${first[4]},${first[5]},${first[6]},${first[7]},${first[8]},${first[9]},${first[1]},${first[7]},${first[3]},${first[8]},${first[4]},${first[9]}"
dcorners="${first[0]},${first[1]},${first[6]},${first[9]}"
fpairs=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15   # the LFW subset's faces are a random draw already

# (a) the grids: the paper's [-2, 2]^2, and [-6, 6]^2, where the inferred latents are (below)
for run in digits-d2 digits-d2-sigma1; do
  "$abp" interpolate --ckpt "$out/$run/checkpoint.h5" --out "$out/$run-grid.png" --grid --latents "$out/$run-grid.csv"
  "$abp" interpolate --ckpt "$out/$run/checkpoint.h5" --out "$out/$run-grid-range6.png" --grid --range 6 \
    --latents "$out/$run-grid-range6.csv"
done
# (b) faces and (c) digits: spherical rows, linear rows (to compare), the 4-corner panel
for set in faces digits-d30; do
  ck=$out/$set/checkpoint.h5
  if [ "$set" = faces ]; then pairs=$fpairs corners=0,1,2,3; else pairs=$dpairs corners=$dcorners; fi
  "$abp" interpolate --ckpt "$ck" --out "$out/$set-spherical.png" --examples "$pairs" --steps 10 --spherical \
    --latents "$out/$set-spherical.csv"
  "$abp" interpolate --ckpt "$ck" --out "$out/$set-linear.png" --examples "$pairs" --steps 10 --linear \
    --latents "$out/$set-linear.csv"
  "$abp" interpolate --ckpt "$ck" --out "$out/$set-corners.png" --examples "$corners" --steps 8 --corners --spherical \
    --latents "$out/$set-corners.csv"
done

# How long are the latents along the rows? Middle of each row (t = 4/9, 5/9) over the mean
# of its two ends' lengths, averaged over the rows; and the smallest ratio, anywhere on any
# row, of a latent's length to the shorter end's (below 1: the path dips inside both ends).
{
  echo "| model | d | path | middle length / ends' mean | shortest / shorter end |"
  echo "|---|---|---|---|---|"
  for set in faces digits-d30; do
    d=$(head -1 "$out/$set-spherical.csv" | tr ',' '\n' | grep -c '^z')
    for how in spherical linear; do
      awk -F, -v set="$set" -v d="$d" -v how="$how" 'NR > 1 { n[$1, $2] = $3; if ($1 > rows) rows = $1 }
        END { for (r = 0; r <= rows; r++) { e = (n[r, 0] + n[r, 9]) / 2; m += (n[r, 4] + n[r, 5]) / 2 / e
                s = n[r, 0] < n[r, 9] ? n[r, 0] : n[r, 9]
                for (c = 0; c <= 9; c++) if (lo == "" || n[r, c] / s < lo) lo = n[r, c] / s }
              printf "| %s | %d | %s | %.3f | %.3f |\n", set, d, how, m / (rows + 1), lo }' "$out/$set-$how.csv"
    done
  done
} > "$out/path-lengths.md"
cat "$out/path-lengths.md"

# Where the d = 2 models put the 2,000 training digits: spread, length, share inside the grids.
{
  echo "| run | z1 mean | z1 sd | z2 mean | z2 sd | rms length | inside [-2,2]^2 | inside [-6,6]^2 | length < 1 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for run in digits-d2 digits-d2-sigma1; do
    h5dump -d /latents -m %.9g -y -w 0 -o "$out/$run-latents.txt" "$out/$run/checkpoint.h5" > /dev/null
    tr ',' '\n' < "$out/$run-latents.txt" | awk -v run="$run" 'NF { v[n++] = $1 } END {
      for (i = 0; i < n; i += 2) { x = v[i]; y = v[i + 1]; sx += x; sy += y; sxx += x * x; syy += y * y
        a2 += (x >= -2 && x <= 2 && y >= -2 && y <= 2); a6 += (x >= -6 && x <= 6 && y >= -6 && y <= 6)
        near += (x * x + y * y < 1) }
      m = n / 2; printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f%% | %.1f%% | %.1f%% |\n", run, sx / m,
        sqrt(sxx / m - (sx / m)^2), sy / m, sqrt(syy / m - (sy / m)^2), sqrt((sxx + syy) / m),
        100 * a2 / m, 100 * a6 / m, 100 * near / m }'
  done
} > "$out/digits-d2-latents.md"
cat "$out/digits-d2-latents.md"
echo "latent-space: pictures and tables in $out"
