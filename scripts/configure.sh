#!/usr/bin/env bash
# Configures the build folder (default: build/, or $HG_BUILD_DIR) in Release mode. Extra arguments
# go to cmake, e.g. -DHG_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${HG_BUILD_DIR:-build}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
