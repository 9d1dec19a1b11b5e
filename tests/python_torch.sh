#!/usr/bin/env bash
# Every built-in model (as `generate --models` lists abp_model_names()) is trained for two
# iterations at a tiny batch, and python/abp_torch.py's rebuild of its checkpoint must give
# abp's g(z) (tests/python_torch.py). Exit 77 (skipped) only when torch is not importable.
#   bash tests/python_torch.sh ABP GENERATE_TOOL SOURCE_DIR
set -euo pipefail
abp=$1 tool=$2 src=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python=/usr/bin/python3
if ! "$python" -c "import torch, h5py" 2> "$tmp/import.log"; then
  echo "python_torch: SKIPPED: $(tail -1 "$tmp/import.log") (apt-get install python3-torch python3-h5py)"
  exit 77
fi
args=()
while read -r name c h w; do
  # a signal of one row is a sound: the bundled clip; images: two digits, resized
  if [ "$h" = 1 ]; then data=(--data "$src/datasets/sound/drum_roll.wav" --batch 1)
  else data=(--data "$src/datasets/mnist-small/train-images-idx3-ubyte" --limit 2 --batch 2); fi
  "$abp" train "${data[@]}" --model "$name" --iters 2 --langevin-steps 2 --lr 1e-2 --threads 1 \
    --quiet --out "$tmp/$name" > "$tmp/$name.log" || { cat "$tmp/$name.log"; echo "FAIL: abp train --model $name"; exit 1; }
  args+=("$name=$tmp/$name/checkpoint.h5")
done < <("$tool" --models)
[ "${#args[@]}" -ge 5 ] || { echo "FAIL: only ${#args[@]} built-in models"; exit 1; }
"$python" "$src/tests/python_torch.py" "$tool" "$tmp" "${args[@]}"
