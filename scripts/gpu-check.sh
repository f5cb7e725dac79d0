#!/usr/bin/env bash
# scripts/gpu-check.sh OUTDIR — the GPU validation run, for a machine with an NVIDIA GPU.
# Configures and builds for the card (sm_90 for H100/H200 unless HG_GPU_ARCH says otherwise), runs
# the whole ctest suite (CPU, CUDA, install/consumer), compute-sanitizer memcheck and racecheck over
# the CUDA tests, and the CUDA benchmarks. Full logs go to OUTDIR; a short table is printed last.
# Uses .gpu-deps/usr (made by scripts/gpu-deps.sh) for Eigen/stb/doctest/benchmark when present,
# and the cuDNN of the CUDA toolkit or, failing that, of the Python wheel nvidia-cudnn.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/gpu-check.sh OUTDIR}"
mkdir -p "$out"
build="${HG_GPU_BUILD_DIR:-build-gpu}"
arch="${HG_GPU_ARCH:-90}"
jobs="$(nproc)"
declare -a rows=()
row() { rows+=("$(printf '%-28s %-6s %s' "$1" "$2" "$3")"); }
step() {  # step NAME LOGFILE command...
  local name="$1" log="$out/$2"; shift 2
  local t0=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  echo "[$name] rc=$rc ($((SECONDS - t0)) s), log $log"
  return $rc
}

{
  date -u
  nvidia-smi || true
  nvcc --version || true
  cmake --version | head -1
  (. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")
} >"$out/machine.txt" 2>&1
gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"

if [[ -d .gpu-deps/usr ]]; then
  export CMAKE_PREFIX_PATH="$PWD/.gpu-deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$PWD/.gpu-deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CPATH="$PWD/.gpu-deps/usr/include${CPATH:+:$CPATH}"
fi
cudnn_args=()
if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h >/dev/null 2>&1; then
  cudnn_root="$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null || true)"
  if [[ -n "$cudnn_root" ]]; then
    cudnn_args=(-DCUDNN_ROOT="$cudnn_root")
    export CUDNN_ROOT="$cudnn_root"
    export LD_LIBRARY_PATH="$cudnn_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

if step configure configure.log cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DHG_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" "${cudnn_args[@]}"; then
  row configure ok "sm_$arch"
else
  row configure FAIL "see configure.log"
  tail -30 "$out/configure.log"
fi

keep_going=(-k)
[[ ${#generator[@]} -gt 0 ]] && keep_going=(-k 0)
# Keep going past a failing target so every test that does build still runs.
if step build build.log cmake --build "$build" -j"$jobs" -- "${keep_going[@]}"; then
  row build ok "$(grep -c 'warning' "$out/build.log") warning lines"
else
  row build FAIL "see build.log"
  grep -E 'error|Error' "$out/build.log" | head -30
fi

step ctest ctest.log ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 240
summary="$(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
skipped="$(grep -c '(Skipped)' "$out/ctest.log")"
if grep -q '100% tests passed' "$out/ctest.log"; then row "ctest (all labels)" ok "$summary; $skipped skipped"; else row "ctest (all labels)" FAIL "$summary; $skipped skipped"; fi
ctest --test-dir "$build" -L cuda -N 2>/dev/null | tail -1 >"$out/cuda-tests.txt"
row "  of which cuda" info "$(cat "$out/cuda-tests.txt")"

cuda_tests="$build/tests/hg_test_cuda"
if command -v compute-sanitizer >/dev/null && [[ -x "$cuda_tests" ]]; then
  for tool in ${HG_SANITIZER_TOOLS:-memcheck racecheck}; do
    # The 64 px model case is left out here: under the sanitizers it runs for many minutes, and its
    # kernels are the same ones the per-op cases cover.
    # Some tests provoke CUDA API errors on purpose (an invalid device index) and check that they
    # throw; the sanitizer is told not to count those (every API call is checked by the library).
    # racecheck looks for shared-memory hazards, which only our own kernels can have: it skips the
    # cases that mostly run cuDNN/cuBLAS (whole layers and models, dense), which are slow under it.
    exclude='*64 px*'
    [[ $tool == racecheck ]] && exclude='*64 px*,cuda layers*,cuda model*,cuda dense*'
    step "sanitizer $tool" "sanitizer-$tool.log" timeout "${HG_SANITIZER_TIMEOUT:-240}" compute-sanitizer \
      --tool "$tool" --report-api-errors no --error-exitcode 1 "$cuda_tests" --test-case-exclude="$exclude"

    rc=$?
    errors="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer-$tool.log" | tail -1)"
    if [[ $rc -eq 0 ]]; then row "compute-sanitizer $tool" ok "$errors"; else row "compute-sanitizer $tool" FAIL "rc=$rc $errors"; fi
  done
else
  row compute-sanitizer SKIP "compute-sanitizer or $cuda_tests missing"
fi

shopt -s nullglob
benches=("$build"/bench/cuda/hg_bench_*cuda*)
if ((${#benches[@]})); then
  for b in "${benches[@]}"; do
    name="$(basename "$b")"
    if step "$name" "$name.log" timeout "${HG_BENCH_TIMEOUT:-120}" "$b" --benchmark_min_time=0.1 --benchmark_out="$out/$name.json" \
      --benchmark_out_format=json; then
      row "$name" ok "see $name.log"
    else
      row "$name" FAIL "see $name.log"
    fi
  done
else
  row "cuda benchmarks" none "no CUDA benchmark targets in this build yet"
fi

echo
echo "GPU check on ${gpu:-unknown GPU}, $(date -u +%Y-%m-%dT%H:%MZ), logs in $out"
printf '%s\n' "${rows[@]}"
