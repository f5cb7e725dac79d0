#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the minimal autoencoder
# example (trains on generated images on the CPU and prints the falling loss).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/configure.sh
cmake --build "${HG_BUILD_DIR:-build}" --target hourglass-autoencoder -j"$(nproc)"
"${HG_BUILD_DIR:-build}/examples/autoencoder/hourglass-autoencoder" "$@"
