#!/usr/bin/env bash
# scripts/gpu-pack.sh — builds the GPU programs (CUDA test suite, CUDA benchmarks, hourglass-swap)
# for sm_90 (or $HG_GPU_ARCH) on this machine and copies them, with the non-CUDA shared libraries they
# need (stb, Google Benchmark, libgomp), into .gpu-prebuilt/{bin,lib}. scripts/gpu-check.sh runs
# these instead of building on the GPU machine when the folder is there and every library resolves
# (same CUDA toolkit version on both machines); otherwise it builds there.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${HG_PACK_BUILD_DIR:-build-gpu-pack}"
arch="${HG_GPU_ARCH:-90}"
targets=(hg_test_cuda hourglass-swap)
for f in bench/cuda/*_cuda.cpp; do targets+=("hg_bench_$(basename "$f" .cpp)"); done
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DHG_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch"
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
rm -rf .gpu-prebuilt
mkdir -p .gpu-prebuilt/bin .gpu-prebuilt/lib
cp "$build/tests/hg_test_cuda" "$build/examples/faceswap/hourglass-swap" "$build"/bench/cuda/hg_bench_*_cuda .gpu-prebuilt/bin/
# Libraries the GPU machine's image may lack; the CUDA ones (cudart, cuBLAS, cuFFT, cuDNN) come from
# its toolkit or its Python wheels.
for lib in libstb.so.0 libbenchmark.so.1debian libgomp.so.1; do
  path="$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')"
  [[ -n "$path" ]] && cp -L "$path" .gpu-prebuilt/lib/
done
{
  echo "built $(date -u +%Y-%m-%dT%H:%MZ) for sm_$arch from $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted changes')"
  nvcc --version | tail -1
} >.gpu-prebuilt/BUILD.txt
du -sh .gpu-prebuilt
