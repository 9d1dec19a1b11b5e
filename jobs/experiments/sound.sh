#!/usr/bin/env bash
# Sound synthesis (Han et al., arXiv 1606.08571 §5.2, Figure 4): a 1-D fully convolutional
# generator learned from ONE clip (the bundled 2 s drum roll, 8 kHz), then
# `abp sample --latent-shape 1x32` synthesizes clips twice as long. Waveform pictures of the
# training clip, its reconstruction and the syntheses are drawn with sox + gnuplot.
#   bash jobs/experiments/sound.sh [OUT]        (default runs/sound)
# Settings (environment): ITERS (600), LR (1e-3), THREADS (1), CLIP (datasets/sound/drum_roll.wav),
# MODEL (sound: 1x16x8 latent -> 16,000 samples).
#   here (2 shared cores, about 2 minutes):     bash jobs/experiments/sound.sh
#   a cluster node, longer:                     ITERS=3000 THREADS=8 bash jobs/experiments/sound.sh
# Writes OUT/ (checkpoint, metrics, WAV files: reconstruction.wav and samples.wav from train,
# synth-1..3.wav at 4 s, synth-short.wav at 2 s)
# and docs/results/sound/*.png (waveforms).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/runs/sound}
iters=${ITERS:-600} lr=${LR:-1e-3} threads=${THREADS:-1} model=${MODEL:-sound}
clip=${CLIP:-$here/datasets/sound/drum_roll.wav}
bash "$here/jobs/setup.sh" > /dev/null
# shellcheck source=jobs/packages.sh
source "$here/jobs/packages.sh"
ensure_packages sox gnuplot-nox
abp=$here/build/abp
pictures=$here/docs/results/sound
mkdir -p "$out" "$pictures"
[ -e "$out/checkpoint.h5" ] || "$abp" train --data "$clip" --model "$model" --batch 1 \
    --iters "$iters" --lr "$lr" --threads "$threads" --out "$out" --quiet
tail -n 1 "$out/metrics.csv" | awk -F, '{printf "sound: iteration %s loss %s recon_mse %s (%.0f s)\n", $1, $3, $4, $5}'
for seed in 1 2 3; do
  "$abp" sample --ckpt "$out/checkpoint.h5" --latent-shape 1x32 --seed "$seed" --out "$out/synth-$seed.wav"
done
"$abp" sample --ckpt "$out/checkpoint.h5" --out "$out/synth-short.wav"

# One waveform picture per clip: time in seconds against amplitude, all on the same scale.
plot() { # WAV PNG TITLE SECONDS
  sox "$1" -t dat - | awk '!/^;/ {print $1, $2}' > "$out/wave.dat"
  gnuplot -e "set terminal png size 900,170 font ',9' noenhanced; set output '$2'; set title '$3';
    set xrange [0:$4]; set yrange [-1:1]; set xlabel 'seconds'; set ytics 1; unset key;
    set lmargin 6; set bmargin 3; plot '$out/wave.dat' with lines lw 1 lc rgb '#204a87'"
}
plot "$clip" "$pictures/training.png" "training clip ($(basename "$clip"))" 4
plot "$out/reconstruction.wav" "$pictures/reconstruction.png" "reconstruction g(z) of the training clip (z inferred in training)" 4
plot "$out/synth-short.wav" "$pictures/synth-short.png" "synthesized, latent 1x16 (as trained)" 4
for seed in 1 2 3; do
  plot "$out/synth-$seed.wav" "$pictures/synth-$seed.png" "synthesized, latent 1x32 (twice as long), seed $seed" 4
done
rm -f "$out/wave.dat"
echo "sound: WAV files in $out, waveforms in $pictures"
