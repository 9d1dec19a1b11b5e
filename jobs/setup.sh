#!/usr/bin/env bash
# Installs what abp needs on Debian 12 (when missing) and builds it.
#   bash jobs/setup.sh [BUILD_DIR] [extra cmake options...]     (default build dir: build)
# Needs root (or sudo) only when packages are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}; shift || true

packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev
          liblapacke-dev libhdf5-openmpi-dev hdf5-tools libstb-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
cmake --build "$build" -j "$(nproc)" > /dev/null
echo "setup: built $build/abp"
