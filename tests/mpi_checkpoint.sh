#!/usr/bin/env bash
# Checkpoints on 3 ranks: runs test_checkpoint under mpirun, then checks with h5dump that a
# checkpoint it wrote has the layout of DESIGN.md section 5.
#
# Usage (as ctest runs it): bash tests/mpi_checkpoint.sh BUILD_DIR/abp SOURCE_DIR
# Only the folder of the first argument is used: test_checkpoint is built next to abp.
set -euo pipefail

fail() {
    echo "mpi_checkpoint: $*" >&2
    exit 1
}

[[ $# -ge 1 ]] || fail "usage: bash $0 BUILD_DIR/abp [SOURCE_DIR]"
test_bin="$(dirname "$1")/test_checkpoint"
[[ -x "$test_bin" ]] || fail "$test_bin is not built (cmake --build BUILD_DIR --target test_checkpoint)"
command -v mpirun >/dev/null || fail "mpirun not found: apt-get install openmpi-bin"
command -v h5dump >/dev/null || fail "h5dump not found: apt-get install hdf5-tools"

keep=$(mktemp -d "${TMPDIR:-/tmp}/abp_mpi_checkpoint.XXXXXX")
trap 'rm -rf "$keep"' EXIT

# The unit test itself, on 3 ranks: 10 examples shard as 3 + 3 + 4 rows.
ABP_TEST_KEEP="$keep" mpirun --oversubscribe -np 3 "$test_bin"

ckpt="$keep/checkpoint.h5"
[[ -f "$ckpt" ]] || fail "the test left no $ckpt"
[[ -z "$(find "$keep" -name '*.tmp')" ]] || fail "a .tmp file is left in $keep"

# expect WHAT TEXT H5DUMP_ARGS...: the output of `h5dump H5DUMP_ARGS...` contains TEXT.
expect() {
    local what=$1 text=$2 out
    shift 2
    out=$(h5dump "$@" 2>&1) || fail "$what: h5dump $* failed: $out"
    grep -qF -- "$text" <<<"$out" || fail "$what: 'h5dump $*' does not show '$text'; it shows:
$out"
}

# Root attributes, with their values.
expect "format" '"abp-checkpoint"' -a /format "$ckpt"
expect "format_version" '(0): 1' -a /format_version "$ckpt"
expect "iteration" '(0): 1234' -a /iteration "$ckpt"
expect "epoch" '(0): 7' -a /epoch "$ckpt"
expect "seed" '(0): 16045690984503111693' -a /seed "$ckpt"
expect "world_size" '(0): 3' -a /world_size "$ckpt"
expect "abp_version" 'H5T_STRING' -a /abp_version "$ckpt"

# The whole layout in one header.
header=$(h5dump -H "$ckpt") || fail "h5dump -H $ckpt failed"
for name in '"format"' '"format_version"' '"iteration"' '"epoch"' '"seed"' '"world_size"' \
    '"abp_version"' 'DATASET "config"' 'DATASET "latents"' 'DATASET "examples"' \
    'GROUP "model"' 'GROUP "optimizer"' 'GROUP "00_linear"' 'GROUP "03_deconv"' \
    'DATASET "weight"' 'DATASET "bias"' 'DATASET "weight.m"' 'ATTRIBUTE "kind"' 'ATTRIBUTE "step"'; do
    grep -qF -- "$name" <<<"$header" || fail "h5dump -H $ckpt shows no $name; it shows:
$header"
done

# Datasets: types and shapes.
expect "config" 'H5T_STRING' -d /config "$ckpt"
expect "config" 'linear 4x4x512' -d /config "$ckpt"
expect "latents type" 'H5T_IEEE_F32LE' -H -d /latents "$ckpt"
expect "latents shape" 'SIMPLE { ( 10, 3 )' -H -d /latents "$ckpt"
expect "examples type" 'H5T_STRING' -d /examples "$ckpt"
expect "examples shape" 'SIMPLE { ( 10 )' -d /examples "$ckpt"
expect "examples" '"ex#0", "ex#1"' -d /examples "$ckpt"
expect "examples" '"ex#9"' -d /examples "$ckpt"
expect "model array" 'SIMPLE { ( 4, 2, 3, 3 )' -H -d /model/03_deconv/weight "$ckpt"
expect "model array" 'H5T_IEEE_F32LE' -H -d /model/00_linear/bias "$ckpt"
expect "optimizer array" 'SIMPLE { ( 4, 2, 3, 3 )' -H -d /optimizer/03_deconv/weight.m "$ckpt"
expect "optimizer kind" '"adam"' -a /optimizer/kind "$ckpt"
expect "optimizer step" '(0): 1234' -a /optimizer/step "$ckpt"

# Latents whose rows are small images.
expect "2-D latents" 'SIMPLE { ( 10, 2, 2 )' -H -d /latents "$keep/checkpoint_2d.h5"

echo "mpi_checkpoint: layout of $ckpt matches DESIGN.md section 5"
