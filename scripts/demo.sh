#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the face-swap demo
# (hourglass-swap demo): trains a shared encoder and two decoders on two identities of the built-in
# synthetic faces, writes a preview grid and a loss curve, and prints the swap fidelity score.
# Extra arguments go to the demo, e.g. --out DIR, --iterations N, --seed S.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/configure.sh
cmake --build "${HG_BUILD_DIR:-build}" --target hourglass-swap -j"$(nproc)"
"${HG_BUILD_DIR:-build}/examples/faceswap/hourglass-swap" demo "$@"
