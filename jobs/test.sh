#!/usr/bin/env bash
# Sets up, builds with warnings as errors, and runs the whole test suite twice: in a
# Release build, and in a build with AddressSanitizer and UndefinedBehaviorSanitizer.
#   bash jobs/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# Open MPI refuses to run as root unless told; CI and containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bash "$here/jobs/setup.sh" "$here/build" -DABP_WERROR=ON
# tests/slurm_requeue.sh runs jobs/slurm/train.sbatch on a private one-node Slurm cluster: it
# needs Slurm and MUNGE (about 10 s to install), and must not be skipped here.
missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
(cd "$here/build" && ABP_REQUIRE_SLURM=1 ctest --output-on-failure --timeout 600)

bash "$here/jobs/setup.sh" "$here/build-asan" -DABP_WERROR=ON -DABP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
# Open MPI and HDF5 keep allocations until exit that LeakSanitizer would report as leaks
# (the same 122 KB with a program that only calls MPI_Init, H5open and MPI_Finalize), so
# leak detection is off; every other AddressSanitizer and UBSan check is on.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$here/build-asan" && ctest --output-on-failure --timeout 900)
