#!/usr/bin/env bash
# Scaling study on this workstation: strong and weak scaling of `abp train` (mnist28 on the
# 2,000 bundled digits) on 1, 2 and 4 MPI ranks with 1 BLAS thread each, launched by mpirun;
# writes OUT/scaling.csv and OUT/scaling.png and keeps every run under OUT/runs/.
#   bash jobs/local/scaling.sh [OUT_DIR] [bench/scaling.sh options...]
#        (default OUT_DIR: runs/scaling; about 3.5 minutes on 2 cores)
# e.g.   bash jobs/local/scaling.sh runs/faces --model faces64 --batch 16 --batch-per-rank 8
# All the logic is in bench/scaling.sh (see its --help: ranks, batch sizes, iterations, the
# checkpoint interval, MPIRUN for another launcher). With ABP=/path/to/abp set, that program is
# used and nothing is installed or built; otherwise jobs/setup.sh installs and builds build/abp,
# and gnuplot-nox (for the plot) is installed when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$here/runs/scaling
if [ $# -gt 0 ] && [[ $1 != -* ]]; then out=$1; shift; fi
[ "$(id -u)" -ne 0 ] || export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

if [ -z "${ABP:-}" ]; then
  bash "$here/jobs/setup.sh"
  # shellcheck source=jobs/packages.sh
  source "$here/jobs/packages.sh"
  ensure_packages gnuplot-nox
  export ABP=$here/build/abp
fi
exec bash "$here/bench/scaling.sh" --out "$out" --max-ranks "${MAX_RANKS:-4}" "$@"
