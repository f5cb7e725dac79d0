#!/usr/bin/env bash
# scripts/bench.sh [--quick|--full] [--build DIR] [--out DIR] [--filter REGEX] [--no-build] [-- ARGS...]
#
# Builds every benchmark program (targets hg_bench_*, in $HG_BUILD_DIR or build/, configured in
# Release first when the folder has no build yet), runs each CPU one (DIR/bench/hg_bench_*) and,
# when a GPU is present (nvidia-smi works) and the CUDA programs were built, each CUDA one
# (DIR/bench/cuda/hg_bench_*). Every program found is run, so a new bench/*_cpu.cpp or
# bench/cuda/*_cuda.cpp joins without changes here. Per program: OUT/<program>.json (Google
# Benchmark's JSON) and OUT/<program>.log (its console output); OUT/machine.txt describes the
# machine; a summary table (benchmark, time, GFLOP/s or TFLOP/s, GB/s and of_copy_bw, items/s) closes
# the run and is saved as OUT/summary.txt.
#
#   --quick      (default) HG_BENCH_QUICK=1, which the suites read to register only their smallest
#                problems (batch 16, 64 px), and a short minimum time per benchmark
#                (--benchmark_min_time=$HG_BENCH_MIN_TIME, default 0.05 s)
#   --full       every size, --benchmark_repetitions=$HG_BENCH_REPETITIONS (default 10) with random
#                interleaving and Google Benchmark's minimum time (0.5 s, or $HG_BENCH_MIN_TIME); the
#                summary shows the median of the repetitions
#   --build DIR  build folder (default $HG_BUILD_DIR, else build)
#   --out DIR    output folder (default bench-results/<date>-<mode> under the build folder)
#   --filter RE  passed as --benchmark_filter to every program
#   --no-build   run the programs already in the build folder
#   -- ARGS      passed to every program
# Environment: HG_BENCH_SKIP (an extended regex: programs whose name matches are not run, e.g.
# 'train_step|conv2d_cpu'); HG_BENCH_QUICK_SKIP (the same in quick mode only; default
# 'train_step_cpu': whole training iterations take seconds each on a small CPU; set it empty to run
# them); HG_BENCH_TIMEOUT (seconds per program; default 600 quick, 7200 full). OMP_NUM_THREADS and
# OMP_WAIT_POLICY reach the programs as set (on a machine shared with other work, OpenMP's default
# spin-waiting turns that load into long stalls of the CPU suites; OMP_WAIT_POLICY=passive avoids
# them); machine.txt records both.
# Exit status: 0 when every program that ran exited 0 and no benchmark reported an error.
set -uo pipefail
caller="$PWD"
cd "$(dirname "$0")/.."
# --build and --out are relative to where the script was called from; HG_BUILD_DIR and the default
# build/ to the repository root, as in scripts/test.sh.
from_caller() { if [[ $1 == /* ]]; then echo "$1"; else echo "$caller/$1"; fi; }

mode=quick
status=0
build_note=""
build="${HG_BUILD_DIR:-build}"
out=""
filter=""
do_build=1
extra=()
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --build) build="$(from_caller "${2:?--build needs a folder}")"; shift ;;
    --build=*) build="$(from_caller "${1#--build=}")" ;;
    --out) out="$(from_caller "${2:?--out needs a folder}")"; shift ;;
    --out=*) out="$(from_caller "${1#--out=}")" ;;
    --filter) filter="${2:?--filter needs a regex}"; shift ;;
    --filter=*) filter="${1#--filter=}" ;;
    --no-build) do_build=0 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$out" ]] || out="$build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$mode"

# ---- build ---------------------------------------------------------------------------------------
if ((do_build)); then
  if [[ ! -f "$build/CMakeCache.txt" ]]; then
    generator=()
    command -v ninja >/dev/null && generator=(-G Ninja)
    cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release || exit 1
  else
    cmake "$build" >/dev/null || exit 1  # picks up bench files added since the last configure
  fi
  # Every hg_bench_* target this configuration has (the CUDA ones only when CUDA is built).
  mapfile -t targets < <(cmake --build "$build" --target help 2>/dev/null |
    grep -oE '(^|[[:space:]])hg_bench_[A-Za-z0-9_]+' | tr -d ' .' | sort -u)
  if ((${#targets[@]} == 0)); then
    echo "bench.sh: no hg_bench_* targets in $build (Google Benchmark missing, or HG_BUILD_BENCH=OFF?)" >&2
    exit 1
  fi
  echo "== building ${#targets[@]} benchmark programs in $build"
  keep_going=(-k)
  grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$build/CMakeCache.txt" && keep_going=(-k 0)
  # Keep going past a target that fails, so every program that does build still runs.
  if ! cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" -- "${keep_going[@]}"; then
    build_note="some benchmark programs failed to build (see above); older copies of those may run"
    echo "bench.sh: $build_note" >&2
    status=1
  fi
fi

# ---- what to run ---------------------------------------------------------------------------------
shopt -s nullglob
cpu_programs=() cuda_programs=()
for p in "$build"/bench/hg_bench_*; do [[ -f $p && -x $p ]] && cpu_programs+=("$p"); done
for p in "$build"/bench/cuda/hg_bench_*; do [[ -f $p && -x $p ]] && cuda_programs+=("$p"); done
gpu_note=""
if ((${#cuda_programs[@]} == 0)); then
  gpu_note="no CUDA benchmark programs in $build/bench/cuda (a build without CUDA)"
elif ! gpu="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)" || [[ -z "$gpu" ]]; then
  gpu_note="no GPU (nvidia-smi failed)"
  cuda_programs=()
fi
programs=() skipped=()
quick_skip="${HG_BENCH_QUICK_SKIP-train_step_cpu}"
for p in "${cpu_programs[@]}" "${cuda_programs[@]}"; do
  name="$(basename "$p")"
  if [[ -n "${HG_BENCH_SKIP:-}" ]] && [[ $name =~ ${HG_BENCH_SKIP} ]]; then
    skipped+=("$name (HG_BENCH_SKIP)")
    continue
  fi
  if [[ $mode == quick && -n "$quick_skip" ]] && [[ $name =~ $quick_skip ]]; then
    skipped+=("$name (quick mode; HG_BENCH_QUICK_SKIP='$quick_skip')")
    continue
  fi
  programs+=("$p")
done
if ((${#programs[@]} == 0)); then
  echo "bench.sh: no benchmark programs to run in $build/bench" >&2
  exit 1
fi

mkdir -p "$out" || exit 1
out="$(cd "$out" && pwd)"
args=(--benchmark_color=false --benchmark_out_format=json)
if [[ $mode == quick ]]; then
  export HG_BENCH_QUICK=1
  args+=(--benchmark_min_time="${HG_BENCH_MIN_TIME:-0.05}")
  timeout_s="${HG_BENCH_TIMEOUT:-600}"
else
  unset HG_BENCH_QUICK
  args+=(--benchmark_repetitions="${HG_BENCH_REPETITIONS:-10}" --benchmark_enable_random_interleaving=true)
  [[ -n "${HG_BENCH_MIN_TIME:-}" ]] && args+=(--benchmark_min_time="$HG_BENCH_MIN_TIME")
  timeout_s="${HG_BENCH_TIMEOUT:-7200}"
fi
[[ -n "$filter" ]] && args+=(--benchmark_filter="$filter")

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode: $mode; arguments: ${args[*]} ${extra[*]}"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) threads; load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "environment: OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  [[ -n "$gpu_note" ]] && echo "cuda benchmarks: skipped, $gpu_note"
  for s in "${skipped[@]}"; do echo "not run: $s"; done
  [[ -n "$build_note" ]] && echo "build: $build_note"
} >"$out/machine.txt"
cat "$out/machine.txt"

# ---- run -----------------------------------------------------------------------------------------
declare -a rows=()
for p in "${programs[@]}"; do
  name="$(basename "$p")"
  echo "== $name"
  t0=$SECONDS
  timeout "$timeout_s" "$p" "${args[@]}" --benchmark_out="$out/$name.json" "${extra[@]}" >"$out/$name.log" 2>&1
  rc=$?
  grep -E '^skipped|ERROR OCCURRED' "$out/$name.log" | head -5
  [[ $rc -eq 124 ]] && echo "   timed out after $timeout_s s (the log holds what it finished)"
  ((rc != 0)) && status=1
  rows+=("$(printf '%-32s rc=%-3s %4d s' "$name" "$rc" $((SECONDS - t0)))")
done

# ---- summary -------------------------------------------------------------------------------------
python3 - "$out" "${programs[@]##*/}" >"$out/summary.txt" <<'EOF'
import json, math, os, sys

out, names = sys.argv[1], sys.argv[2:]

def fmt_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:8.3f} {unit}"
    return f"{seconds / 1e-9:8.1f} ns"

def fmt(v):
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"

scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
errors = 0
lines = []
for name in names:
    path = os.path.join(out, name + ".json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        try:
            log = open(os.path.join(out, name + ".log"), errors="replace").read()
        except OSError:
            log = ""
        why = "no benchmark matches the filter" if "Failed to match any benchmarks" in log else f"no JSON, see {name}.log"
        lines.append(f"{name}: {why}")
        continue
    lines.append(f"{name}  ({data.get('context', {}).get('num_cpus', '?')} cpus)")
    # Registration order (random interleaving writes them in run order).
    runs = sorted(data.get("benchmarks", []),
                  key=lambda r: (r.get("family_index", 0), r.get("per_family_instance_index", 0)))
    has_median = any(r.get("aggregate_name") == "median" for r in runs)
    for r in runs:
        if has_median and r.get("run_type") == "iteration" and not r.get("error_occurred"):
            continue  # repetitions: the median row stands for them
        if r.get("run_type") == "aggregate" and r.get("aggregate_name") != "median":
            continue
        label = r.get("run_name", r["name"]) if r.get("run_type") == "aggregate" else r["name"]
        label = label.replace("/real_time", "").replace("/manual_time", "")
        if r.get("error_occurred"):
            errors += 1
            lines.append(f"  {label:<66} ERROR: {r.get('error_message', '')}")
            continue
        t = r.get("real_time", 0.0) * scale.get(r.get("time_unit", "ns"), 1e-9)
        rates = []
        for key, shown in (("GFLOP/s", "GFLOP/s"), ("TFLOP", "TFLOP/s"), ("GB/s", "GB/s"),
                           ("of_copy_bw", "of_copy_bw"), ("items_per_second", "items/s")):
            if key in r and isinstance(r[key], (int, float)) and math.isfinite(r[key]):
                rates.append(f"{shown}={fmt(r[key])}")
        lines.append(f"  {label:<66} {fmt_time(t)}  {' '.join(rates)}")
print("\n".join(lines))
if errors:
    print(f"\n{errors} benchmark(s) reported an error (a mismatch against the CPU, or an exception)")
sys.exit(1 if errors else 0)
EOF
(($? == 0)) || status=1

echo
echo "== summary ($mode mode; JSON and logs in $out)"
printf '%s\n' "${rows[@]}"
[[ -n "$gpu_note" ]] && echo "CUDA benchmarks not run: $gpu_note"
for s in "${skipped[@]}"; do echo "not run: $s"; done
[[ -n "$build_note" ]] && echo "build: $build_note"
echo
cat "$out/summary.txt"
exit $status
