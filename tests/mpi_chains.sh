#!/usr/bin/env bash
# Per-chain state written on 3 ranks is read back on 1, 2 and 4 (DESIGN §8): each rank
# checks the rows of its shard. Usage: mpi_chains.sh ABP SRCDIR
set -euo pipefail
bin=$(dirname "$1")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mpirun --oversubscribe -np 3 "$bin/test_chains" write "$tmp/c.h5"
"$bin/test_chains" read "$tmp/c.h5"
mpirun --oversubscribe -np 2 "$bin/test_chains" read "$tmp/c.h5"
mpirun --oversubscribe -np 4 "$bin/test_chains" read "$tmp/c.h5"
echo "mpi_chains: 4 passed, 0 failed"
