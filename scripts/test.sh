#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything (the CUDA backend too when
# nvcc and cuDNN are present) and runs every test with ctest. CUDA tests report themselves skipped
# on machines without a GPU. Extra arguments go to ctest (e.g. -L cpu, -LE slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/configure.sh
build_dir="${HG_BUILD_DIR:-build}"
cmake --build "$build_dir" -j"$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"
