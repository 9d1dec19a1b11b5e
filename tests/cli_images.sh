#!/usr/bin/env bash
# The image decoders refuse what abp does not read, in one line naming the file: GIF and
# TGA files (their stb decoders are compiled out), a GIF named .png, a PNG header claiming
# 30000 x 30000 pixels (refused from its header, before any pixel is allocated), a side
# beyond STBI_MAX_DIMENSIONS, PGM/PPM headers with numbers too large for stb 2.27 to read
# safely, JPEGs whose Huffman tables stb 2.27 mishandles (a table of more than 256 codes; a
# scan naming a table the file never defines), and any image over ABP_MAX_PIXELS; a folder with one such
# file is refused by abp train and abp prepare alike, and a raised limit lets a large
# image through. The crafted files are made here, a few bytes each (stb skips PNG CRCs).
# Usage: cli_images.sh ABP SRCDIR
set -uo pipefail
abp=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# expect NAME EXPECTED-TEXT -- COMMAND...: exit non-zero, one stderr line containing the text.
expect() {
  local name=$1 want=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then fail "$name: exit 0"; return; fi
  if [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name: expected one line, got: $err"; return; fi
  if grep -qF -- "$want" <<<"$err"; then ok; else fail "$name: '$err' does not mention '$want'"; fi
}

# png_header W H: a PNG signature and an IHDR chunk of a W x H grey image (no pixels).
png_header() {
  printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR'
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($2 >> 24 & 255)) $(($2 >> 16 & 255)) $(($2 >> 8 & 255)) $(($2 & 255)))"
  printf '\x08\x00\x00\x00\x00\x00\x00\x00\x00'
}
# An 8 x 8 two-colour GIF89a that any GIF decoder reads.
printf 'GIF89a\x08\x00\x08\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\x2c\x00\x00\x00\x00\x08\x00\x08\x00\x00\x02\x02\x44\x01\x00\x3b' > "$tmp/a.gif"
# An uncompressed 2 x 2 true-colour TGA.
{ printf '\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x02\x00\x18\x00'; head -c 12 /dev/zero; } > "$tmp/a.tga"
cp "$tmp/a.gif" "$tmp/gif-named.png"
png_header 30000 30000 > "$tmp/huge.png"
png_header 200000 1 > "$tmp/wide.png"
real=$src/datasets/tree/frame-000.png   # 64 x 64 RGB

expect "GIF"               "a.gif: GIF images are not read"  -- "$abp" train --data "$tmp/a.gif" --out "$tmp/o1"
expect "TGA"               "a.tga: TGA images are not read"  -- "$abp" train --data "$tmp/a.tga" --out "$tmp/o2"
expect "GIF named .png"    "gif-named.png: not an image abp reads" -- "$abp" train --data "$tmp/gif-named.png" --out "$tmp/o3"
expect "30000 x 30000 PNG" "huge.png: 30000 x 30000 = 900000000 pixels, more than the limit of 67108864" -- "$abp" train --data "$tmp/huge.png" --out "$tmp/o4"
expect "side over STBI_MAX_DIMENSIONS" "wide.png: not an image abp reads" -- env ABP_MAX_PIXELS=1000000000 "$abp" train --data "$tmp/wide.png" --out "$tmp/o5"
expect "lowered limit"     "frame-000.png: 64 x 64 = 4096 pixels, more than the limit of 4095" -- env ABP_MAX_PIXELS=4095 "$abp" train --data "$real" --out "$tmp/o6"
expect "nonsense limit"    "ABP_MAX_PIXELS=lots"             -- env ABP_MAX_PIXELS=lots "$abp" train --data "$real" --out "$tmp/o7"

# PGM/PPM headers whose numbers do not fit an int (stb 2.27 overflows reading them: found by
# fuzzing, tests/fuzz-regressions/images/pnm-*-overflow) are refused before stb reads them;
# the largest legal maximum value (65535, 16-bit samples) is read.
cp "$src/tests/fuzz-regressions/images/pnm-width-overflow" "$tmp/wide.pgm"
cp "$src/tests/fuzz-regressions/images/pnm-height-overflow" "$tmp/tall.ppm"
cp "$src/tests/fuzz-regressions/images/pnm-maxval-overflow" "$tmp/deep.pgm"
mkdir "$tmp/pgms"; { printf 'P5\n8 8\n65536\n'; head -c 128 /dev/zero; } > "$tmp/pgms/maxval.pgm"
{ printf 'P5\n# 16-bit\n8 8\n65535\n'; head -c 128 /dev/zero; } > "$tmp/sixteen.pgm"
expect "PGM width 2^31"   "wide.pgm: a PGM header with a width of more than 131072 pixels" -- "$abp" train --data "$tmp/wide.pgm" --out "$tmp/o10"
expect "PPM height 1e11"  "tall.ppm: a PPM header with a height of more than 131072 pixels" -- "$abp" train --data "$tmp/tall.ppm" --out "$tmp/o11"
expect "PGM maxval 2^32"  "deep.pgm: a PGM header with a maximum value of more than 65535" -- "$abp" train --data "$tmp/deep.pgm" --out "$tmp/o12"
expect "PGM maxval 65536" "maxval.pgm: a PGM header with a maximum value of more than 65535" -- "$abp" prepare --out "$tmp/p16.h5" --images "$tmp/pgms"
[ ! -e "$tmp/o10/checkpoint.h5" ] && [ ! -e "$tmp/p16.h5" ] && ok || fail "a refused PGM left a checkpoint or data set"
if "$abp" info "$tmp/sixteen.pgm" > /dev/null; then ok; else fail "a 16-bit PGM (maximum value 65535) was refused"; fi

# JPEG Huffman tables (docs/security.md): a table of more than 256 codes makes stb 2.27 write
# past its size table, and a scan naming a table the file never defines makes it decode with
# uninitialised memory (found by fuzzing: tests/fuzz-regressions/images/jpeg-*). Both are
# refused before stb reads the file. The good file is tests' baseline 8 x 8 JPEG: its DC and
# AC tables are 0; its one scan's table selector is byte 324, the DC table's 16th count byte 122.
# jpeg_with_byte FILE OFFSET BYTE: a copy of the 8 x 8 JPEG with one byte changed.
jpeg_with_byte() { cp "$src/fuzz/corpus/images/grey-8x8.jpg" "$1"; printf "\\x$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
jpeg_with_byte "$tmp/ok.jpg" 324 00
jpeg_with_byte "$tmp/undefined-both.jpg" 324 11
jpeg_with_byte "$tmp/undefined-ac.jpg" 324 01
jpeg_with_byte "$tmp/undefined-dc.jpg" 324 10
jpeg_with_byte "$tmp/many-codes.jpg" 122 ff
if "$abp" info "$tmp/ok.jpg" > /dev/null; then ok; else fail "the unpatched 8 x 8 JPEG was refused"; fi
expect "JPEG scan, tables 1 undefined" "undefined-both.jpg: a damaged JPEG (a scan uses a Huffman table the file never defines)" -- "$abp" info "$tmp/undefined-both.jpg"
expect "JPEG scan, AC table 1 undefined" "undefined-ac.jpg: a damaged JPEG (a scan uses a Huffman table" -- "$abp" info "$tmp/undefined-ac.jpg"
expect "JPEG scan, DC table 1 undefined" "undefined-dc.jpg: a damaged JPEG (a scan uses a Huffman table" -- "$abp" train --data "$tmp/undefined-dc.jpg" --out "$tmp/o13"
expect "JPEG table of 267 codes" "many-codes.jpg: a damaged JPEG (a Huffman table of more than 256 codes)" -- "$abp" info "$tmp/many-codes.jpg"
cp "$src/tests/fuzz-regressions/images/jpeg-undefined-huffman-table" "$tmp/fuzzed.jpg"
expect "fuzzed progressive JPEG" "fuzzed.jpg: a damaged JPEG (a scan uses a Huffman table the file never defines)" -- "$abp" info "$tmp/fuzzed.jpg"
# A progressive JPEG as libjpeg writes it defines each AC table just before its scan, after
# the DC scans, and a DC refinement scan needs no table: all of it is read.
if "$abp" info "$src/fuzz/corpus/images/rgb-progressive-16x12.jpg" > /dev/null &&
   "$abp" info "$src/fuzz/corpus/images/rgb-restart-16x12.jpg" > /dev/null; then ok; else fail "a sound progressive or restart-marker JPEG was refused"; fi

# A folder of good images with one GIF among them: refused, naming the GIF (not skipped).
mkdir "$tmp/folder"
cp "$src"/datasets/tree/frame-00[0-3].png "$tmp/folder/"
cp "$tmp/a.gif" "$tmp/folder/frame-002b.gif"
model="z 2 | linear 4x4x4 | bn | lrelu 0.2 | deconv 3 k4 s2 p1 | tanh"
expect "train, folder with a GIF"   "frame-002b.gif: GIF images are not read" -- "$abp" train --data "$tmp/folder" --model "$model" --batch 2 --iters 1 --out "$tmp/o8"
expect "prepare, folder with a GIF" "frame-002b.gif: GIF images are not read" -- "$abp" prepare --out "$tmp/p.h5" --images "$tmp/folder"
# ... and a huge header among them.
rm "$tmp/folder/frame-002b.gif"; cp "$tmp/huge.png" "$tmp/folder/frame-002b.png"
expect "prepare, folder with a huge PNG" "frame-002b.png: 30000 x 30000" -- "$abp" prepare --out "$tmp/p.h5" --images "$tmp/folder"
[ ! -e "$tmp/p.h5" ] && [ ! -e "$tmp/p.h5.tmp" ] && ok || fail "a refused prepare left a file"

# Without the bad file the folder trains, and at the limit exactly an image is accepted.
rm "$tmp/folder/frame-002b.png"
if ABP_MAX_PIXELS=4096 "$abp" train --data "$tmp/folder" --model "$model" --batch 2 --iters 1 --langevin-steps 1 \
     --out "$tmp/o9" --quiet; then ok; else fail "a folder of 64 x 64 PNGs at ABP_MAX_PIXELS=4096 was refused"; fi
if "$abp" prepare --out "$tmp/p.h5" --images "$tmp/folder" > /dev/null; then ok; else fail "prepare refused a good folder"; fi

echo "cli_images: $pass passed, $failed failed"
[ $failed -eq 0 ]
