#!/usr/bin/env bash
# scripts/gpu-check.sh OUTDIR — the GPU validation run, for a machine with an NVIDIA GPU.
#
# 1. Programs: the ones in .gpu-prebuilt/ (made by scripts/gpu-pack.sh for sm_90 on a machine with
#    the same CUDA toolkit) when every library they need resolves here; otherwise it configures and
#    builds them for sm_$HG_GPU_ARCH (default 90). HG_GPU_FULL=1 builds everything and also runs the
#    whole ctest suite (CPU, CUDA, install/consumer).
# 2. At once, side by side on the GPU: the CUDA test suite (every GPU test: backend, ops, layers,
#    models, losses, optimizers), compute-sanitizer memcheck and racecheck over it, each sanitizer in
#    two halves (losses, the rest).
# 3. Alone: a short `hourglass-swap demo --device cuda --profile` (iterations per second, where an
#    iteration's time goes, a preview), the CUDA benchmarks one after another, then the training
#    step against PyTorch on the same card (bench/peers/compare.sh: 'original' and 'dfl-h128' at
#    batch 16 and 64 per side; PyTorch eager float32, TF32 + channels_last, torch.compile).
# Full logs and benchmark JSON go to OUTDIR; a short table and the benchmark headline numbers are
# printed last. Uses .gpu-deps/usr (scripts/gpu-deps.sh) for the build's Eigen/stb/doctest/benchmark
# and the cuDNN/cuFFT of the CUDA toolkit or, failing that, of the Python wheels (nvidia-*).
#
# Knobs (seconds unless said): HG_PHASE_TIMEOUT (step 2, default 240), HG_DEMO_ITERATIONS (300),
# HG_DEMO_TIMEOUT (120), HG_BENCH_TIMEOUT (per benchmark program, 120), HG_BENCH_MIN_TIME (0.1),
# HG_SANITIZER_TOOLS ("memcheck racecheck"), HG_GPU_REBUILD=1 (ignore .gpu-prebuilt),
# HG_PEERS_TIMEOUT (the PyTorch comparison, 300), HG_PEERS_MODELS ("original,dfl-h128"),
# HG_PEERS_BATCHES ("16,64").
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/gpu-check.sh OUTDIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
build="${HG_GPU_BUILD_DIR:-build-gpu}"
arch="${HG_GPU_ARCH:-90}"
jobs="$(nproc)"
phase_timeout="${HG_PHASE_TIMEOUT:-240}"
declare -a rows=()
row() { rows+=("$(printf '%-34s %-8s %s' "$1" "$2" "$3")"); }
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

# ---- libraries -------------------------------------------------------------------------------
if [[ -d .gpu-deps/usr ]]; then
  export CMAKE_PREFIX_PATH="$PWD/.gpu-deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$PWD/.gpu-deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CPATH="$PWD/.gpu-deps/usr/include${CPATH:+:$CPATH}"
fi
# The toolkit's libraries first; the Python wheels' (cuDNN, cuFFT, ...) fill what it lacks.
cuda_lib=/usr/local/cuda/lib64
[[ -d $cuda_lib ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$cuda_lib"
wheel_libs="$(python3 -c 'import nvidia, os, glob; print(":".join(sorted(glob.glob(os.path.join(list(nvidia.__path__)[0], "*", "lib")))))' 2>/dev/null || true)"
[[ -n "$wheel_libs" ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$wheel_libs"
cudnn_args=()
if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h >/dev/null 2>&1; then
  cudnn_root="$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null || true)"
  if [[ -n "$cudnn_root" ]]; then
    cudnn_args=(-DCUDNN_ROOT="$cudnn_root")
    export CUDNN_ROOT="$cudnn_root"
  fi
fi

# ---- programs --------------------------------------------------------------------------------
bin=""
if [[ -z "${HG_GPU_REBUILD:-}" && -z "${HG_GPU_FULL:-}" && -x .gpu-prebuilt/bin/hg_test_cuda ]]; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD/.gpu-prebuilt/lib"
  for b in .gpu-prebuilt/bin/*; do echo "== $b"; ldd "$b"; done >"$out/prebuilt-ldd.txt" 2>&1
  if ! grep -q 'not found' "$out/prebuilt-ldd.txt" && .gpu-prebuilt/bin/hg_test_cuda --list-test-cases >/dev/null 2>&1; then
    bin="$PWD/.gpu-prebuilt/bin"
    row programs prebuilt "$(head -1 .gpu-prebuilt/BUILD.txt)"
  else
    row "prebuilt programs" unusable "$(grep 'not found' "$out/prebuilt-ldd.txt" | sort -u | tr -s ' \t' ' ' | head -3 | tr '\n' ';'); building"
  fi
fi
if [[ -z "$bin" ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if step configure configure.log cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DHG_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" "${cudnn_args[@]}"; then
    row configure ok "sm_$arch"
  else
    row configure FAIL "see configure.log"
    tail -30 "$out/configure.log"
  fi
  targets=()
  if [[ -z "${HG_GPU_FULL:-}" ]]; then
    targets=(--target hg_test_cuda hourglass-swap)
    for f in bench/cuda/*_cuda.cpp; do targets+=("hg_bench_$(basename "$f" .cpp)"); done
  fi
  keep_going=(-k)
  [[ ${#generator[@]} -gt 0 ]] && keep_going=(-k 0)
  # Keep going past a failing target so every test that does build still runs.
  if step build build.log cmake --build "$build" -j"$jobs" "${targets[@]}" -- "${keep_going[@]}"; then
    row build ok "$(grep -c 'warning' "$out/build.log") warning lines"
  else
    row build FAIL "see build.log"
    grep -E 'error|Error' "$out/build.log" | head -30
  fi
  bin="$PWD/$build/gpu-bin"
  mkdir -p "$bin"
  for p in "$build/tests/hg_test_cuda" "$build/examples/faceswap/hourglass-swap" "$build"/bench/cuda/hg_bench_*_cuda; do
    [[ -x "$p" ]] && ln -sf "$PWD/$p" "$bin/"
  done
fi

if [[ -n "${HG_GPU_FULL:-}" ]]; then
  step ctest ctest.log ctest --test-dir "$build" --output-on-failure -j"$jobs" --timeout 240
  summary="$(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
  skipped="$(grep -c '(Skipped)' "$out/ctest.log")"
  if grep -q '100% tests passed' "$out/ctest.log"; then row "ctest (all labels)" ok "$summary; $skipped skipped"; else row "ctest (all labels)" FAIL "$summary; $skipped skipped"; fi
fi

# ---- tests and sanitizers, side by side --------------------------------------------------------
tests="$bin/hg_test_cuda"
losses='cuda pointwise*,cuda ssim*,cuda image losses*,cuda focal*'
declare -A jobs_pid=() jobs_what=()
launch() {  # launch KEY LOG command...   (background, bounded by the phase timeout)
  local key="$1" log="$2"; shift 2
  jobs_what[$key]="$log"
  timeout "$phase_timeout" "$@" >"$out/$log" 2>&1 &
  jobs_pid[$key]=$!
}
doctest_summary() { grep -E '^\[doctest\] test cases' "$1" | tail -1 | sed 's/\[doctest\] //'; }
t0=$SECONDS
if [[ -x "$tests" ]]; then
  launch tests tests.log "$tests" --duration=true
  if command -v compute-sanitizer >/dev/null; then
    for tool in ${HG_SANITIZER_TOOLS:-memcheck racecheck}; do
      # The 64 px model cases are left out: under a sanitizer they run for many minutes, and their
      # kernels are the ones the per-op cases cover. racecheck looks for shared-memory hazards, which
      # only our own kernels can have: it skips the cases that mostly run cuDNN/cuBLAS (layers,
      # models, dense, conv2d; conv2d had 0 hazards on its own). Some tests provoke CUDA API errors on
      # purpose (a device that does not exist) and check that they throw: those are not counted.
      exclude='*64 px*'
      [[ $tool == racecheck ]] && exclude='*64 px*,cuda layers*,cuda model*,cuda dense*,cuda conv2d*'
      sanitizer=(compute-sanitizer --tool "$tool" --report-api-errors no --error-exitcode 1)
      launch "$tool losses" "sanitizer-$tool-losses.log" "${sanitizer[@]}" "$tests" --test-case="$losses"
      launch "$tool rest" "sanitizer-$tool-rest.log" "${sanitizer[@]}" "$tests" --test-case-exclude="$exclude,$losses"
    done
  else
    row compute-sanitizer SKIP "compute-sanitizer not on PATH"
  fi
  for key in tests memcheck\ losses memcheck\ rest racecheck\ losses racecheck\ rest; do
    [[ -n "${jobs_pid[$key]:-}" ]] || continue
    wait "${jobs_pid[$key]}"
    rc=$?
    log="$out/${jobs_what[$key]}"
    echo "[$key] rc=$rc, log $log"
    if [[ $key == tests ]]; then
      detail="$(doctest_summary "$log")"
      name="CUDA tests"
    else
      detail="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1); $(doctest_summary "$log")"
      name="compute-sanitizer $key"
    fi
    [[ $rc -eq 124 ]] && detail="timed out after $phase_timeout s; $detail"
    if [[ $rc -eq 0 ]]; then row "$name" ok "$detail"; else row "$name" FAIL "rc=$rc $detail"; fi
  done
  echo "tests and sanitizers: $((SECONDS - t0)) s"
  grep -E 'FAILED|ERROR|Error|error:' "$out/tests.log" | head -20
else
  row "CUDA tests" FAIL "$tests was not built"
fi

# ---- the demo on the GPU -----------------------------------------------------------------------
swap="$bin/hourglass-swap"
if [[ -x "$swap" ]]; then
  demo_dir="${TMPDIR:-/tmp}/hg-gpu-demo"
  rm -rf "$demo_dir"
  step demo demo.log timeout "${HG_DEMO_TIMEOUT:-120}" "$swap" demo --device cuda --profile \
    --iterations "${HG_DEMO_ITERATIONS:-300}" --out "$demo_dir"
  rc=$?
  mkdir -p "$out/demo"
  cp "$demo_dir"/*.png "$out/demo/" 2>/dev/null
  last="$(grep -E '^demo:|it/s|iterations/s' "$out/demo.log" | tail -2 | tr '\n' ' ')"
  if [[ $rc -eq 0 ]]; then row "hourglass-swap demo --device cuda" ok "$last"; else row "hourglass-swap demo --device cuda" FAIL "rc=$rc $last"; fi
fi

# ---- benchmarks ----------------------------------------------------------------------------------
shopt -s nullglob
benches=()
for name in hg_bench_ssim_cuda hg_bench_adam_cuda hg_bench_elementwise_cuda hg_bench_conv2d_cuda; do
  [[ -x "$bin/$name" ]] && benches+=("$bin/$name")
done
for b in "$bin"/hg_bench_*_cuda; do
  [[ $b == *train_step* ]] && continue  # run by the PyTorch comparison below
  [[ " ${benches[*]} " == *" $b "* ]] || benches+=("$b")
done
if ((${#benches[@]})); then
  for b in "${benches[@]}"; do
    name="$(basename "$b")"
    if step "$name" "$name.log" timeout "${HG_BENCH_TIMEOUT:-120}" "$b" --benchmark_min_time="${HG_BENCH_MIN_TIME:-0.1}" \
      --benchmark_out="$out/$name.json" --benchmark_out_format=json; then
      row "$name" ok "see $name.log"
    else
      row "$name" FAIL "rc=$? see $name.log (a timed-out program's log holds what it finished)"
    fi
  done
else
  row "cuda benchmarks" none "no CUDA benchmark programs"
fi

# ---- the training step against PyTorch on the same card ---------------------------------------
if [[ -x "$bin/hg_bench_train_step_cuda" ]] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  if step "peers compare" peers.log timeout "${HG_PEERS_TIMEOUT:-300}" bash bench/peers/compare.sh --device cuda \
    --ours-program "$bin/hg_bench_train_step_cuda" --models "${HG_PEERS_MODELS:-original,dfl-h128}" \
    --batches "${HG_PEERS_BATCHES:-16,64}" --out "$out/peers" --plot "$out/peers.png"; then
    row "training step vs PyTorch" ok "table at the end of peers.log"
  else
    row "training step vs PyTorch" FAIL "rc=$? see peers.log"
  fi
else
  row "training step vs PyTorch" SKIP "no hg_bench_train_step_cuda or no PyTorch with CUDA"
fi

# The headline numbers of every benchmark that finished (from its console log, so a program stopped
# by its timeout still reports what it measured).
python3 - "$out" >"$out/bench-summary.txt" 2>&1 <<'EOF'
import glob, os, re, sys
out = sys.argv[1]
keys = ("GB/s", "of_copy_bw", "TFLOP", "vs_best", "vs_best_conv")
for log in sorted(glob.glob(os.path.join(out, "hg_bench_*.log"))):
    print("==", os.path.basename(log))
    for line in open(log, errors="replace"):
        if not line.startswith("bm_") and "/" not in line.split(" ")[0]:
            continue
        fields = line.split()
        if len(fields) < 3 or not re.match(r"^[0-9.]+$", fields[1]):
            continue
        counters = {m.group(1): m.group(2) for m in re.finditer(r"(\S+)=([0-9.eE+-]+[kMGT]?)", line)}
        shown = " ".join(f"{k}={counters[k]}" for k in keys if k in counters)
        print(f"  {fields[0]:<58} {fields[1]:>10} {fields[2]:<3} {shown}")
    if "ERROR" in open(log, errors="replace").read():
        print("  (errors in this log: grep ERROR)")
EOF

echo
echo "GPU check on ${gpu:-unknown GPU}, $(date -u +%Y-%m-%dT%H:%MZ), logs in $out"
printf '%s\n' "${rows[@]}"
echo
cat "$out/bench-summary.txt"
[[ -f "$out/peers.log" ]] && grep -E '^\|' "$out/peers.log"
[[ -f "$out/demo.log" ]] && grep -iE 'profile|data wait|forward|backward|optimizer' "$out/demo.log" | head -12
exit 0
