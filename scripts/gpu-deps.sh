#!/usr/bin/env bash
# Copies this machine's build dependencies (Eigen, stb, doctest, Google Benchmark: headers, libraries
# and CMake package files, with their relative layout) into .gpu-deps/usr, for a GPU machine that
# has the CUDA toolkit but no Debian packages and no network. scripts/gpu-check.sh uses the folder
# when it exists (CMAKE_PREFIX_PATH and LD_LIBRARY_PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf .gpu-deps
mkdir -p .gpu-deps
files=(
  /usr/include/eigen3 /usr/share/eigen3/cmake
  /usr/include/stb /usr/lib/x86_64-linux-gnu/libstb.so /usr/lib/x86_64-linux-gnu/libstb.so.0
  /usr/include/doctest /usr/lib/cmake/doctest
  /usr/include/benchmark /usr/lib/x86_64-linux-gnu/cmake/benchmark
  /usr/lib/x86_64-linux-gnu/libbenchmark.so /usr/lib/x86_64-linux-gnu/libbenchmark.so.1debian
  /usr/lib/x86_64-linux-gnu/libbenchmark.so.1.7.1 /usr/lib/x86_64-linux-gnu/libbenchmark_main.a
)
for f in "${files[@]}"; do
  cp -rL --parents "$f" .gpu-deps/
done
du -sh .gpu-deps
