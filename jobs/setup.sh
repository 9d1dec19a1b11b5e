#!/usr/bin/env bash
# Installs what abp needs on Debian 12 (when missing) and builds it.
#   bash jobs/setup.sh [BUILD_DIR] [extra cmake options...]     (default build dir: build)
# Needs root (or sudo) only when packages are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}; shift || true

# shellcheck source=jobs/packages.sh
source "$here/jobs/packages.sh"
# libopenblas-openmp-dev: the OpenMP build abp links (one thread pool); libopenblas0-pthread:
# the pthreads build, on which test_threads checks abp's own loops with the BLAS held on one
# thread (apt may otherwise satisfy libopenblas-dev with the OpenMP build alone).
# libdnnl-dev: oneDNN, which runs the wide convolutions without im2col/col2im columns.
ensure_packages build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev \
  libopenblas-openmp-dev libopenblas0-pthread libdnnl-dev \
  liblapacke-dev libhdf5-openmpi-dev hdf5-tools libstb-dev libgif-dev zlib1g-dev

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build "$build" -j "$(nproc)" > /dev/null
echo "setup: built $build/abp"
