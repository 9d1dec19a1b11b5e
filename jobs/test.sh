#!/usr/bin/env bash
# Sets up, builds with warnings as errors, and runs the whole test suite twice: in a
# Release build, and in a build with AddressSanitizer and UndefinedBehaviorSanitizer.
#   bash jobs/test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# Open MPI refuses to run as root unless told; CI and containers run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

bash "$here/jobs/setup.sh" "$here/build" -DABP_WERROR=ON -DABP_ONEDNN=on
# What only the tests need: tests/slurm_requeue.sh runs jobs/slurm/train.sbatch on a private
# one-node Slurm cluster (slurm-wlm, munge: about 10 s to install; it must not be skipped
# here); tests/mpi_resume.sh slows a checkpoint write down with strace; tests/cli_scaling.sh
# draws its plot with gnuplot; tests/man_pages.sh renders the manual pages with man (man-db,
# groff-base); tests/python_torch.sh rebuilds every built-in generator in PyTorch from a
# checkpoint (python3-torch, python3-h5py: it must not be skipped here either);
# tests/net_two_hosts.sh makes two network namespaces with ip (iproute2; skipped, visibly,
# where namespaces cannot be made).
# shellcheck source=jobs/packages.sh
source "$here/jobs/packages.sh"
ensure_packages slurm-wlm munge strace gnuplot-nox man-db groff-base python3-torch python3-h5py iproute2
(cd "$here/build" && ABP_REQUIRE_SLURM=1 ctest --output-on-failure --timeout 600)

bash "$here/jobs/setup.sh" "$here/build-asan" -DABP_WERROR=ON -DABP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DABP_ONEDNN=on
# Every AddressSanitizer and UBSan check is on, and fatal. ctest gives each test of this
# build its ASAN_OPTIONS, LSAN_OPTIONS and UBSAN_OPTIONS (CMakeLists.txt): LeakSanitizer in
# the unit tests, the fuzz replays and cli_workflow, where Open MPI's and HDF5's own
# allocations kept until exit are suppressed by tests/lsan.supp, so a leak of abp's fails
# the test it happens in (tests/sanitizer_leaks.sh proves it).
(cd "$here/build-asan" && ctest --output-on-failure --timeout 900)

# Fuzzing: every harness of fuzz/ for 15 s under libFuzzer, ASan and UBSan (about 4 min
# with the clang build); jobs/fuzz.sh says which crashes fail it. 15 s, not 30: on a 2-core
# AMD Zen 5 VM the whole of .ci/run took 28 min with 30 s each (2026-12-02), against CI's
# 30-minute limit; longer fuzzing is `bash jobs/fuzz.sh SECONDS` on its own.
# Fuzzing finds new inputs by chance, so a fault it finds in this run is reported loudly but
# does not fail CI; the gate is the replay of every corpus and regression input, which ctest
# runs in both builds above (tests/fuzz-regressions: add each new crash input there with its fix).
if ! bash "$here/jobs/fuzz.sh" 15; then
  echo "fuzz: NEW FAULT FOUND above (input kept in build-fuzz/crash-*); not failing this run"
fi
