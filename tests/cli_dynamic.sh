#!/usr/bin/env bash
# abp dynamic end to end on a tiny model (d = 3, 8x8 frames of datasets/tree): the frames,
# the looping GIF (header, loop extension, one image per frame), strip.png, determinism in
# the seed, the frame order by name, and the error cases. Usage: cli_dynamic.sh ABP SRCDIR
set -euo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/tree
model="z 3 | linear 2x2x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
pass=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; exit 1; }
# The GIF's bytes as one line of hex pairs.
hex() { od -An -v -tx1 "$1" | tr -s ' \n' ' '; }

# A high learning rate, so that 20 iterations give frames that depend on z.
"$abp" train --data "$data" --model "$model" --limit 20 --batch 10 --iters 20 --lr 1e-2 --langevin-steps 3 \
  --threads 1 --out "$tmp/run" --quiet
ckpt=$tmp/run/checkpoint.h5

out=$("$abp" dynamic --ckpt "$ckpt" --out "$tmp/a" --frames 12 --burn-in 5 --delay 7 --data "$data")
echo "$out" | grep -Eq "20 frames of .*d = 3: residual_variance=[0-9.e+-]+ latent_variance=[0-9.e+-]+ spectral_radius=[0-9.]+ rank=3" \
  || fail "dynamic printed: $out"; ok
echo "$out" | grep -Eq "baseline PCA \+ VAR .*d = 3: residual_variance=[0-9.e+-]+ score_variance=[0-9.e+-]+ spectral_radius=[0-9.]+" \
  || fail "no baseline line: $out"; ok
echo "$out" | grep -Eq "^  abp +step=[0-9.]+ nearest=[0-9.]+$" && echo "$out" | grep -Eq "^  training frames +step=[0-9.]+$" \
  || fail "no step/nearest lines: $out"; ok
[[ $(hex "$tmp/a/baseline.gif") == " 47 49 46 38 39 61 08 00 08 00 "* ]] || fail "no baseline.gif"; ok
[ "$(ls "$tmp/a"/frame-*.png | wc -l)" -eq 12 ] || fail "want 12 frame PNGs: $(ls "$tmp/a")"; ok
[ -e "$tmp/a/frame-0011.png" ] && [ ! -e "$tmp/a/frame-0012.png" ] || fail "frames not numbered 0000..0011"; ok
[ -s "$tmp/a/strip.png" ] || fail "no strip.png"; ok
! cmp -s "$tmp/a/frame-0000.png" "$tmp/a/frame-0001.png" || fail "the texture does not move"; ok
g=$(hex "$tmp/a/dynamic.gif")
[[ $g == " 47 49 46 38 39 61 08 00 08 00 "* ]] || fail "not a GIF89a of 8x8: ${g:0:40}"; ok
# NETSCAPE2.0 application extension, looping forever (sub-block 1, count 0).
[[ $g == *" 21 ff 0b 4e 45 54 53 43 41 50 45 32 2e 30 03 01 00 00 00 "* ]] || fail "no NETSCAPE2.0 loop"; ok
# One graphics control (delay 7 cs) followed by an image descriptor per frame; then the trailer.
n=$(grep -o "21 f9 04 00 07 00 [0-9a-f][0-9a-f] 00 2c" <<< "$g" | wc -l)
[ "$n" -eq 12 ] || fail "the GIF holds $n frames, want 12"; ok
[[ $g == *" 3b " ]] || fail "no GIF trailer"; ok

# The same seed, the same texture; another seed, another one.
"$abp" dynamic --ckpt "$ckpt" --out "$tmp/b" --frames 12 --burn-in 5 --delay 7 > /dev/null
cmp -s "$tmp/a/dynamic.gif" "$tmp/b/dynamic.gif" || fail "the same seed gave another GIF"; ok
"$abp" dynamic --ckpt "$ckpt" --out "$tmp/c" --frames 12 --burn-in 5 --delay 7 --seed 2 > /dev/null
! cmp -s "$tmp/a/dynamic.gif" "$tmp/c/dynamic.gif" || fail "seed 2 gave the same GIF"; ok

# Frames named f-8 ... f-13 are read in strcmp order (f-10 first); dynamic restores time order.
mkdir "$tmp/named"
for k in 8 9 10 11 12 13; do cp "$data/$(printf 'frame-%03d.png' "$k")" "$tmp/named/f-$k.png"; done
"$abp" train --data "$tmp/named" --model "$model" --batch 6 --iters 2 --langevin-steps 2 --threads 1 \
  --out "$tmp/named-run" --quiet
"$abp" dynamic --ckpt "$tmp/named-run/checkpoint.h5" --out "$tmp/d" --frames 3 --data "$tmp/named" 2>/dev/null |
  grep -q "rows reordered by name" || fail "names f-8 ... f-13 not put in order"; ok

# Errors: one line naming the option or file, a non-zero exit, earlier outputs untouched.
expect() { # expect STATUS PATTERN COMMAND...
  local want=$1 pattern=$2 status=0 msg; shift 2
  msg=$("$@" 2>&1 > /dev/null) || status=$?
  [ "$status" -eq "$want" ] || fail "$* exited $status, want $want ($msg)"
  [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] && grep -q -- "$pattern" <<< "$msg" || fail "$*: '$msg'"
  ok
}
expect 1 "$tmp/none.h5" "$abp" dynamic --ckpt "$tmp/none.h5" --out "$tmp/e"
expect 2 "--frames" "$abp" dynamic --ckpt "$ckpt" --out "$tmp/e" --frames 0
expect 2 "--burn-in" "$abp" dynamic --ckpt "$ckpt" --out "$tmp/e" --burn-in -1
"$abp" train --data "$data" --model "$model" --limit 4 --batch 4 --iters 1 --langevin-steps 1 --threads 1 \
  --out "$tmp/few" --quiet
expect 1 "needs at least d + 2 = 5" "$abp" dynamic --ckpt "$tmp/few/checkpoint.h5" --out "$tmp/e"
[ ! -e "$tmp/e" ] || fail "a failed dynamic left $tmp/e"; ok
cp "$tmp/a/dynamic.gif" "$tmp/a.gif"
expect 1 "already exists" "$abp" dynamic --ckpt "$ckpt" --out "$tmp/a" --frames 3 --seed 5
cmp -s "$tmp/a/dynamic.gif" "$tmp/a.gif" || fail "a refused run changed dynamic.gif"; ok
"$abp" dynamic --help | grep -q "^usage: abp dynamic" || fail "dynamic --help"; ok
echo "cli_dynamic: $pass passed, 0 failed"
