#!/usr/bin/env bash
# cmake --install into a temporary prefix; every public header compiles alone; both examples
# build from the prefix through find_package(abp) and through pkg-config, and run.
#   bash tests/install_examples.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
SECONDS=0
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
libdir=$(cd "$prefix" && ls -d lib*/ | head -1); libdir=${libdir%/}
[ -f "$prefix/$libdir/cmake/abp/abpConfig.cmake" ] || libdir=$(dirname "$(cd "$prefix" && ls -d lib*/*/cmake | head -1)")
for f in bin/abp "$libdir/libabp.a" "$libdir/libabp.so" "$libdir/pkgconfig/abp.pc" \
         "$libdir/cmake/abp/abpConfig.cmake" "$libdir/cmake/abp/abpTargets.cmake" \
         share/man/man1/abp.1 share/man/man1/abp-train.1 include/abp/train.h; do
  [ -e "$prefix/$f" ] || fail "the install has no $f"
done
echo "install: bin/abp, libabp.a, libabp.so, headers, CMake package, abp.pc, man pages in the prefix"

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
pkg-config --exists abp || fail "pkg-config does not find abp in $PKG_CONFIG_PATH"
[ "$(pkg-config --modversion abp)" = "$("$prefix/bin/abp" --version | cut -d' ' -f2)" ] \
  || fail "abp.pc's version is not the program's"
cflags=$(pkg-config --cflags abp)

# Each public header compiles on its own (includes what it uses), as C11 with every warning.
n=0
for h in "$prefix"/include/abp/*.h; do
  printf '#include "abp/%s"\n' "$(basename "$h")" > "$tmp/one.c"
  # shellcheck disable=SC2086
  cc -std=c11 -Wall -Wextra -Werror -pedantic $cflags -fsyntax-only "$tmp/one.c" 2> "$tmp/cc.log" \
    || { cat "$tmp/cc.log"; fail "include/abp/$(basename "$h") does not compile alone"; }
  n=$((n + 1))
done
[ "$n" -ge 8 ] || fail "only $n headers installed"
echo "headers: all $n compile alone"

check_train() { # the output of train_in_memory
  grep -q "^trained 60 iterations" "$1" || { cat "$1"; fail "train_in_memory did not report training"; }
  awk '/^trained/ { if (!($8 < $6 / 2)) exit 1 }' "$1" || { cat "$1"; fail "the error did not halve: $(grep trained "$1")"; }
  sed -n 's/.*values in \[\(.*\), \(.*\)\]/\1 \2/p' "$1" | awk '{ if (!($1 >= -1 && $2 <= 1 && $1 < $2)) exit 1 }' \
    || { cat "$1"; fail "samples are not in [-1, 1] or are constant"; }
}
check_recon() {
  awk '/after 300 Langevin steps/ { ok = 1; b = $(NF - 4); a = $NF; sub(",", "", b); if (!(a < b)) exit 1 } END { if (!ok) exit 1 }' "$1" \
    || { cat "$1"; fail "reconstruct_one did not lower the error"; }
}

# A checkpoint for the second example, made by the installed program.
"$prefix/bin/abp" train --data "$src/datasets/mnist-small/train-images-idx3-ubyte" --limit 64 --batch 32 \
  --iters 30 --langevin-steps 3 --lr 1e-3 --out "$tmp/run" --quiet > "$tmp/train.log" || { cat "$tmp/train.log"; fail "abp train"; }
test_digits=$src/datasets/mnist-small/t10k-images-idx3-ubyte

# Through find_package(abp): train_in_memory links libabp.so, reconstruct_one libabp.a.
cmake -S "$src/examples" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > "$tmp/cfg.log" \
  || { cat "$tmp/cfg.log"; fail "configuring the examples with find_package(abp)"; }
cmake --build "$tmp/cmake" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "building the examples"; }
ldd "$tmp/cmake/train_in_memory" > "$tmp/ldd1"; ldd "$tmp/cmake/reconstruct_one" > "$tmp/ldd2"
grep -q "libabp.so" "$tmp/ldd1" || fail "train_in_memory is not linked to libabp.so"
grep -q "libabp.so" "$tmp/ldd2" && fail "reconstruct_one should link libabp.a"
"$tmp/cmake/train_in_memory" 60 > "$tmp/t1.log"; check_train "$tmp/t1.log"
mpirun -np 2 "$tmp/cmake/train_in_memory" 60 > "$tmp/t2.log"; check_train "$tmp/t2.log"
"$tmp/cmake/reconstruct_one" "$tmp/run/checkpoint.h5" "$test_digits" 3 "$tmp/one.png" > "$tmp/r1.log"; check_recon "$tmp/r1.log"
[ -s "$tmp/one.png" ] || fail "reconstruct_one wrote no PNG"
if "$tmp/cmake/reconstruct_one" "$tmp/run/checkpoint.h5" "$test_digits" 5000 2> "$tmp/err.log"; then
  fail "reconstruct_one accepted an example that does not exist"
fi
grep -q "t10k-images-idx3-ubyte" "$tmp/err.log" || { cat "$tmp/err.log"; fail "the error does not name the file"; }
echo "find_package: both examples built and ran (shared and static), under mpirun too"

# Through pkg-config, with the shared library found by an rpath.
for ex in train_in_memory reconstruct_one; do
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Werror "$src/examples/$ex.c" $(pkg-config --cflags --libs abp) -lm \
    -Wl,-rpath,"$prefix/$libdir" -o "$tmp/$ex" 2> "$tmp/cc.log" || { cat "$tmp/cc.log"; fail "cc $ex.c with pkg-config"; }
done
"$tmp/train_in_memory" 60 > "$tmp/p1.log"; check_train "$tmp/p1.log"
"$tmp/reconstruct_one" "$tmp/run/checkpoint.h5" "$test_digits" 3 > "$tmp/p2.log"; check_recon "$tmp/p2.log"
cmp <(grep after "$tmp/r1.log") <(grep after "$tmp/p2.log") > /dev/null || fail "the two builds of reconstruct_one disagree"
echo "pkg-config: both examples built and ran; $(cat "$tmp/p1.log" | head -1)"
echo "install_examples: ok (${SECONDS} s)"
