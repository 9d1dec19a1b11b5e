#!/usr/bin/env bash
# Textures and sounds end to end on tiny fully convolutional models: train on ONE image
# and on ONE WAV clip (batch 1), then `abp sample --latent-shape` makes larger images and
# longer clips (.wav out, 16-bit and float), deterministically; the errors (a model with a
# linear layer, a bad shape, an image model to .wav, a truncated WAV, no sample rate) are
# one line and leave earlier outputs alone. Usage: cli_texsound.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }
# The width and height of a PNG, from its IHDR chunk (a grid of one: the image and a 1-pixel border).
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $3*256+$4 "x" $7*256+$8}'; }
# Runs a command that must fail with status $1 and print exactly one line naming $2.
expect_fail() {
  local want=$1 needle=$2; shift 2
  local status=0
  "$@" > "$tmp/out" 2> "$tmp/err" || status=$?
  [ "$status" -eq "$want" ] || fail "'$*' exited $status, not $want: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "'$*' printed more than one line: $(cat "$tmp/err")"
  grep -qF -- "$needle" "$tmp/err" || fail "'$*' said '$(cat "$tmp/err")', not '$needle'"
  ok
}

# ---- a texture from one image: 3x3 latent -> 12x12 image
tex="z 3x3x2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
"$abp" train --data "$src/datasets/textures/brick.png" --model "$tex" --batch 1 --iters 5 \
  --langevin-steps 3 --threads 1 --out "$tmp/tex" --quiet
[ -s "$tmp/tex/checkpoint.h5" ] || fail "texture training wrote no checkpoint"; ok
"$abp" sample --ckpt "$tmp/tex/checkpoint.h5" --out "$tmp/t1.png" --n 1 | grep -q "of 12x12x1" || fail "sample at the trained size"
[ "$(png_size "$tmp/t1.png")" = "14x14" ] || fail "t1.png is $(png_size "$tmp/t1.png")"; ok
"$abp" sample --ckpt "$tmp/tex/checkpoint.h5" --out "$tmp/t2.png" --n 1 --latent-shape 6x6 | grep -q "of 24x24x1" || fail "sample at 6x6"
[ "$(png_size "$tmp/t2.png")" = "26x26" ] || fail "t2.png is $(png_size "$tmp/t2.png")"; ok
"$abp" sample --ckpt "$tmp/tex/checkpoint.h5" --out "$tmp/t3.png" --n 1 --latent-shape 6x6 > /dev/null
cmp -s "$tmp/t2.png" "$tmp/t3.png" || fail "sampling twice with the same seed differs"; ok
"$abp" sample --ckpt "$tmp/tex/checkpoint.h5" --out "$tmp/t4.png" --n 1 --latent-shape 6x6 --seed 2 > /dev/null
! cmp -s "$tmp/t2.png" "$tmp/t4.png" || fail "another seed gives the same texture"; ok

# Errors: a model with a linear layer, a bad shape, an image model written as WAV.
mn="z 2 | linear 7x7x4 | lrelu 0.2 | deconv 1 k5 s2 | tanh"
"$abp" train --data "$src/datasets/mnist-small/train-images-idx3-ubyte" --model "$mn" --limit 4 \
  --batch 2 --iters 1 --langevin-steps 1 --threads 1 --out "$tmp/mn" --quiet
cp "$tmp/t1.png" "$tmp/keep.png"
expect_fail 1 "not fully convolutional (layer 1 is 'linear')" \
  "$abp" sample --ckpt "$tmp/mn/checkpoint.h5" --out "$tmp/keep.png" --latent-shape 14x14
cmp -s "$tmp/t1.png" "$tmp/keep.png" || fail "a failed sample touched its output"; ok
expect_fail 2 "--latent-shape: '14' is not HxW" "$abp" sample --ckpt "$tmp/tex/checkpoint.h5" --out "$tmp/x.png" --latent-shape 14
expect_fail 1 "not sounds" "$abp" sample --ckpt "$tmp/tex/checkpoint.h5" --out "$tmp/x.wav"
[ ! -e "$tmp/x.wav" ] || fail "a failed sample left x.wav"; ok

# ---- a sound from one clip: 1x4 latent -> 400 samples (the first 400 of the clip)
snd="z 1x4x2 | deconv1d 4 k25 s10 | bn | lrelu 0.2 | deconv1d 1 k25 s10 | tanh"
cp "$src/datasets/sound/drum_roll.wav" "$tmp/clip.wav"
"$abp" train --data "$tmp/clip.wav" --model "$snd" --batch 1 --iters 5 --langevin-steps 3 \
  --threads 1 --out "$tmp/snd" --quiet
[ -s "$tmp/snd/checkpoint.h5" ] || fail "sound training wrote no checkpoint"; ok
for f in samples.wav reconstruction.wav; do
  [ "$(stat -c %s "$tmp/snd/$f")" -eq $((44 + 2 * 400)) ] || fail "train wrote no 400-sample $f"; ok
done
"$abp" sample --ckpt "$tmp/snd/checkpoint.h5" --out "$tmp/long.wav" --latent-shape 1x8 \
  | grep -q "1 sample of 800 values at 8000 Hz" || fail "sample to WAV"
[ "$(stat -c %s "$tmp/long.wav")" -eq $((44 + 2 * 800)) ] || fail "long.wav is $(stat -c %s "$tmp/long.wav") bytes"
[ "$(head -c 4 "$tmp/long.wav")" = RIFF ] || fail "long.wav is not RIFF"; ok
"$abp" sample --ckpt "$tmp/snd/checkpoint.h5" --out "$tmp/f.wav" --latent-shape 1x8 --n 2 --wav-format float > /dev/null
[ "$(stat -c %s "$tmp/f.wav")" -eq $((58 + 4 * 1600)) ] || fail "f.wav (2 float clips) is $(stat -c %s "$tmp/f.wav") bytes"; ok

# The training clip gone: the sample rate must be given; with it, the same samples.
mv "$tmp/clip.wav" "$tmp/moved.wav"
expect_fail 1 "pass --rate" "$abp" sample --ckpt "$tmp/snd/checkpoint.h5" --out "$tmp/r.wav" --latent-shape 1x8
"$abp" sample --ckpt "$tmp/snd/checkpoint.h5" --out "$tmp/r.wav" --latent-shape 1x8 --rate 8000 > /dev/null
cmp -s "$tmp/long.wav" "$tmp/r.wav" || fail "--rate 8000 gives another file"; ok

# A truncated WAV and a short one as data: one line naming the file.
head -c 1000 "$tmp/moved.wav" > "$tmp/cut.wav"
expect_fail 1 "$tmp/cut.wav: truncated" "$abp" train --data "$tmp/cut.wav" --model "$snd" --batch 1 --iters 1 --out "$tmp/cut"
[ ! -e "$tmp/cut/checkpoint.h5" ] || fail "training on a truncated file wrote a checkpoint"; ok
expect_fail 1 "16000 samples, but the model makes signals of 32000" \
  "$abp" train --data "$tmp/moved.wav" --model "z 1x32x2 | deconv1d 1 k25 s10 | deconv1d 1 k25 s10 | deconv1d 1 k25 s10 | tanh" \
  --batch 1 --iters 1 --out "$tmp/short"
echo "cli_texsound: $pass checks passed"
