#!/usr/bin/env bash
# Makes the picture grid of docs/convert.md, docs/img/convert-grid.png: the astronaut portrait of
# Debian's python3-skimage, its face extracted by the real extraction and pasted back by the real
# convert code (hg::swap::frame_converter) under every colour mode, every paste mask, seamless
# blending, sharpening, erosion and feathering (examples/faceswap/tools/convert_grid.cpp; the
# "model" is a mirrored, colour-shifted copy of the face, see that file and docs/convert.md).
# Builds the target faceswap_convert_grid in $HG_BUILD_DIR (default build/, configured if needed;
# needs the media component). Usage: scripts/convert-grid.sh [OUT.png] (default docs/img/convert-grid.png).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${HG_BUILD_DIR:-build}"
out="${1:-docs/img/convert-grid.png}"
picture="${HG_GRID_PICTURE:-/usr/lib/python3/dist-packages/skimage/data/astronaut.png}"
if [ ! -f "$picture" ]; then
  echo "convert-grid: the astronaut portrait is not at $picture (install python3-skimage, or set HG_GRID_PICTURE)" >&2
  exit 1
fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  bash scripts/configure.sh
fi
cmake --build "$build_dir" --target faceswap_convert_grid -j"${HG_JOBS:-$(nproc)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$build_dir/examples/faceswap/faceswap_convert_grid" "$picture" "$out" "$work"
