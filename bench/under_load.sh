#!/usr/bin/env bash
# The CPU training step beside another busy program: runs `hourglass-swap demo --profile` (the
# 'slim' model at batch 16 per side on the synthetic faces) once on an idle machine and once while
# a single-threaded busy loop holds one core, and prints the mean iteration time of each and their
# ratio (the profile's "iteration" row, so model set-up and the final save are not counted).
#
#   bench/under_load.sh [--build DIR] [--iterations N] [--threads T] [--busy K] [--rounds R]
#
# --busy K starts K busy loops (default 1); --rounds R repeats the idle/loaded pair R times
# (default 2). Extra environment (OMP_WAIT_POLICY, HG_CPU_ADAPTIVE_THREADS, ...) is passed through
# to the program, so variants can be compared in one run. Compare ratios measured in one run.
set -euo pipefail
build=build
iterations=12
threads=0
busy=1
rounds=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --busy) busy=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "under_load.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
exe=$build/examples/faceswap/hourglass-swap
if [[ ! -x "$exe" ]]; then
  echo "under_load.sh: no $exe; build first (cmake --build $build --target hourglass-swap)" >&2
  exit 1
fi
work=$(mktemp -d)
busy_pids=()
cleanup() {
  for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Mean ms per iteration from the profile table of one demo run.
step_ms() {
  local out=$work/run-$RANDOM
  "$exe" demo --device cpu --threads "$threads" --iterations "$iterations" --profile --out "$out" >"$out.log" 2>&1 || {
    cat "$out.log" >&2
    echo "under_load.sh: the demo failed" >&2
    exit 1
  }
  awk '$1 == "iteration" { print $2 }' "$out.log" | tail -1
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "demo: slim, batch 16 per side, $iterations iterations, --threads $threads; busy loops beside it: $busy"
env | grep -E '^(OMP_|GOMP_|HG_)' | sed 's/^/env: /' || true
printf '%-6s %12s %12s %8s\n' round idle_ms loaded_ms ratio
for ((r = 1; r <= rounds; ++r)); do
  idle=$(step_ms)
  for ((k = 0; k < busy; ++k)); do
    bash -c 'while :; do :; done' &
    busy_pids+=($!)
  done
  sleep 1
  loaded=$(step_ms)
  for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${busy_pids[@]}" 2>/dev/null || true
  busy_pids=()
  printf '%-6s %12s %12s %8s\n' "$r" "$idle" "$loaded" "$(awk -v a="$idle" -v b="$loaded" 'BEGIN { printf "%.2f", b / a }')"
done
