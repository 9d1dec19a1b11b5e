#!/usr/bin/env bash
# abp train draws OUT/metrics.png from metrics.csv with gnuplot when gnuplot is installed (a
# real PNG, replaced on resume); without gnuplot on PATH it says in one line how to get it,
# and training still succeeds with every other output written.
# Usage: cli_metrics_plot.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
data=$src/datasets/mnist-small/train-images-idx3-ubyte
model="z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"
train=(--data "$data" --model "$model" --limit 20 --batch 10 --iters 3 --threads 1)
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
is_png() { [ "$(od -An -tx1 -N8 "$1" 2>/dev/null | tr -d ' \n')" = 89504e470d0a1a0a ]; }

if command -v gnuplot > /dev/null; then
  out=$("$abp" train "${train[@]}" --out "$tmp/with" 2>&1) || fail "train with gnuplot: $out"
  is_png "$tmp/with/metrics.png" && ok || fail "no PNG metrics.png with gnuplot installed: $out"
  grep -q "drew $tmp/with/metrics.png" <<<"$out" && ok || fail "train did not say it drew metrics.png: $out"
  [ ! -e "$tmp/with/metrics.png.tmp" ] && ok || fail "metrics.png.tmp left behind"
  before=$(cksum < "$tmp/with/metrics.png")
  "$abp" train "${train[@]}" --iters 6 --quiet --resume "$tmp/with/checkpoint.h5" --out "$tmp/with" || fail "resume"
  is_png "$tmp/with/metrics.png" && [ "$(cksum < "$tmp/with/metrics.png")" != "$before" ] && ok || fail "resume did not redraw metrics.png"
else
  echo "gnuplot is not installed: only the message without it is tested (jobs/test.sh installs gnuplot-nox)"
fi

# Without gnuplot: a PATH of everything but gnuplot (Open MPI's singleton start needs the rest).
mkdir "$tmp/bin"
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do ln -s "$dir"/* "$tmp/bin/" 2>/dev/null; done # the first of a name wins
rm -f "$tmp/bin"/gnuplot*
out=$(PATH=$tmp/bin "$abp" train "${train[@]}" --out "$tmp/without" 2>&1); rc=$?
[ $rc -eq 0 ] && ok || fail "train without gnuplot failed ($rc): $out"
[ "$(grep -c 'gnuplot' <<<"$out")" -eq 1 ] && grep -q "apt-get install gnuplot-nox" <<<"$out" && ok || fail "no one-line hint without gnuplot: $out"
[ ! -e "$tmp/without/metrics.png" ] && [ -s "$tmp/without/metrics.csv" ] && [ -s "$tmp/without/checkpoint.h5" ] && [ -s "$tmp/without/samples.png" ] && ok || fail "outputs without gnuplot"

echo "cli_metrics_plot: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
