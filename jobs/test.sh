#!/usr/bin/env bash
# Sets up, builds with warnings as errors, and runs the whole test suite twice: in a
# Release build, and in a build with AddressSanitizer and UndefinedBehaviorSanitizer.
#   bash jobs/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# Open MPI refuses to run as root unless told; CI and containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bash "$here/jobs/setup.sh" "$here/build" -DABP_WERROR=ON
(cd "$here/build" && ctest --output-on-failure --timeout 600)

bash "$here/jobs/setup.sh" "$here/build-asan" -DABP_WERROR=ON -DABP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
# Open MPI and HDF5 keep allocations until exit that LeakSanitizer would report as leaks
# (the same 122 KB with a program that only calls MPI_Init, H5open and MPI_Finalize), so
# leak detection is off; every other AddressSanitizer and UBSan check is on.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$here/build-asan" && ctest --output-on-failure --timeout 900)
